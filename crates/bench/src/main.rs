//! `make bench` drives these; each prints Markdown table rows of what it measured.
//!
//! - `send`: `POST /chat/mensajes` throughput and latency with N concurrent senders over M
//!   conversations while a subscriber is connected; it also writes the pgbench script that runs the
//!   same SQL statement against the same database.
//! - `fanout`: hold N idle subscribers on a Pusher-compatible server, publish at a fixed rate through
//!   its HTTP API, and report trigger-to-receipt latency and the server's memory per connection.

mod fanout;
mod send;

use clap::{Parser, Subcommand};

#[derive(Parser)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    Send(send::Args),
    Fanout(fanout::Args),
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Send(args) => send::run(args).await,
        Command::Fanout(args) => fanout::run(args).await,
    }
}

/// p50 and p99 of a histogram of microseconds, in milliseconds.
pub fn percentiles(histogram: &hdrhistogram::Histogram<u64>) -> (f64, f64) {
    (histogram.value_at_quantile(0.50) as f64 / 1000.0, histogram.value_at_quantile(0.99) as f64 / 1000.0)
}
