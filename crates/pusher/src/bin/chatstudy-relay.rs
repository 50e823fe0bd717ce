//! The relay on its own: `RELAY_APP_ID`, `RELAY_KEY`, `RELAY_SECRET`, `RELAY_HOST` (127.0.0.1) and
//! `RELAY_PORT` (6001) from the environment. Stops on Ctrl-C or SIGTERM, closing connections with 4200.

use chatstudy_pusher::relay::{Relay, RelayConfig};
use chatstudy_pusher::Credentials;

fn var(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt().with_env_filter(tracing_subscriber::EnvFilter::from_default_env()).init();
    let Ok(secret) = std::env::var("RELAY_SECRET") else {
        eprintln!("RELAY_SECRET is required (RELAY_APP_ID and RELAY_KEY default to \"app\" and \"key\")");
        std::process::exit(2);
    };
    let credentials = Credentials::new(var("RELAY_APP_ID", "app"), var("RELAY_KEY", "key"), secret);
    let mut config = RelayConfig::new(credentials);
    if let Ok(origins) = std::env::var("RELAY_ALLOWED_ORIGINS") {
        config.allowed_origins = Some(origins.split(',').map(|o| o.trim().to_owned()).collect());
    }
    let address = format!("{}:{}", var("RELAY_HOST", "127.0.0.1"), var("RELAY_PORT", "6001"));
    let listener = tokio::net::TcpListener::bind(&address).await?;
    let relay = Relay::new(config);
    let stopper = relay.clone();
    tokio::spawn(async move {
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("SIGTERM handler");
        tokio::select! { _ = tokio::signal::ctrl_c() => {}, _ = term.recv() => {} }
        stopper.shutdown();
    });
    eprintln!("relay listening on {address}");
    relay.serve(listener).await
}
