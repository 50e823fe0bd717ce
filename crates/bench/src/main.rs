//! `make bench` drives these; each prints Markdown table rows of what it measured.
//!
//! - `send`: `POST /chat/mensajes` throughput and latency with N concurrent senders over M
//!   conversations while a subscriber is connected; it also writes the pgbench script that runs the
//!   same SQL statement against the same database.
//! - `fanout`: hold N idle subscribers on a Pusher-compatible server, publish at a fixed rate through
//!   its HTTP API, and report trigger-to-receipt latency and the server's memory per connection.
//! - `desktop`: the app's cache with 100,000 messages: cold start to the chat list, first page.

mod desktop;
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
    Desktop(desktop::Args),
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Send(args) => send::run(args).await,
        Command::Fanout(args) => fanout::run(args).await,
        Command::Desktop(args) => desktop::run(args).await,
    }
}

/// p50 and p99 of a histogram of microseconds, in milliseconds.
pub fn percentiles(histogram: &hdrhistogram::Histogram<u64>) -> (f64, f64) {
    (histogram.value_at_quantile(0.50) as f64 / 1000.0, histogram.value_at_quantile(0.99) as f64 / 1000.0)
}

/// A loopback port nobody listens on (for "the server is unreachable").
pub fn unused_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).unwrap_or(9)
}
