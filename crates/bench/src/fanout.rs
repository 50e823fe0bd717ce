use std::sync::Arc;
use std::time::{Duration, Instant};

use chatstudy_pusher::trigger::{HttpTrigger, TriggerConfig};
use chatstudy_pusher::{Credentials, Event};
use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::sync::{mpsc, Semaphore};
use tokio_tungstenite::tungstenite::Message;

#[derive(clap::Args)]
pub struct Args {
    /// Label for the table row (relay, sockudo).
    #[arg(long)]
    name: String,
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    #[arg(long)]
    port: u16,
    #[arg(long)]
    app_id: String,
    #[arg(long)]
    key: String,
    #[arg(long)]
    secret: String,
    /// The server's process id, to read its resident memory.
    #[arg(long)]
    pid: u32,
    #[arg(long, default_value_t = 10_000)]
    connections: usize,
    /// Events per second, each to one subscriber's channel.
    #[arg(long, default_value_t = 200)]
    rate: u64,
    #[arg(long, default_value_t = 10)]
    seconds: u64,
}

fn rss_kib(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).ok_or_else(|| anyhow::anyhow!("no VmRSS"))?;
    Ok(line.split_whitespace().nth(1).unwrap_or("0").parse()?)
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let base_rss = rss_kib(args.pid)?;
    let started = Instant::now();
    // Publish and receipt times are both read off this clock, in microseconds since it started.
    let clock = Instant::now();
    let (deliveries, mut received) = mpsc::unbounded_channel::<u64>();
    // Each delivery reports its trigger-to-receipt latency in microseconds.
    let handshakes = Arc::new(Semaphore::new(64));
    let mut connecting = Vec::with_capacity(args.connections);
    for i in 0..args.connections {
        let url = format!("ws://{}:{}/app/{}?protocol=7&client=bench&version=1", args.host, args.port, args.key);
        let (handshakes, deliveries) = (handshakes.clone(), deliveries.clone());
        connecting.push(tokio::spawn(async move {
            let permit = handshakes.acquire_owned().await.expect("semaphore");
            let (mut ws, _) = tokio_tungstenite::connect_async(url).await?;
            // established, subscribe, succeeded
            ws.next().await.ok_or_else(|| anyhow::anyhow!("closed"))??;
            let subscribe =
                serde_json::json!({ "event": "pusher:subscribe", "data": { "channel": format!("bench-{i}") } });
            ws.send(Message::text(subscribe.to_string())).await?;
            loop {
                let Message::Text(text) = ws.next().await.ok_or_else(|| anyhow::anyhow!("closed"))?? else { continue };
                if text.contains("subscription_succeeded") {
                    break;
                }
                anyhow::ensure!(!text.contains("error"), "subscription refused: {text}");
            }
            drop(permit);
            tokio::spawn(async move {
                while let Some(Ok(message)) = ws.next().await {
                    if let Message::Text(text) = message {
                        let frame: Value = serde_json::from_str(&text).unwrap_or_default();
                        if let Some(sent) = frame["data"].as_str().and_then(|d| d.parse::<u64>().ok()) {
                            let _ = deliveries.send((clock.elapsed().as_micros() as u64).saturating_sub(sent));
                        } else if frame["event"] == "pusher:ping" {
                            let _ = ws.send(Message::text(r#"{"event":"pusher:pong","data":"{}"}"#)).await;
                        }
                    }
                }
            });
            anyhow::Ok(())
        }));
    }
    for task in connecting {
        task.await??;
    }
    let connect_secs = started.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let held_rss = rss_kib(args.pid)?;

    let credentials = Credentials::new(args.app_id.clone(), args.key.clone(), args.secret.clone());
    let trigger = HttpTrigger::new(TriggerConfig::for_host(credentials, &args.host, args.port, false)?)?;
    let total = args.rate * args.seconds;
    let interval = Duration::from_secs_f64(1.0 / args.rate as f64);
    let mut ticker = tokio::time::interval(interval);
    let mut publishes = Vec::new();
    for n in 0..total {
        ticker.tick().await;
        let channel = format!("bench-{}", (n as usize * 7919) % args.connections);
        let sent = clock.elapsed().as_micros() as u64;
        let trigger = trigger.clone();
        publishes.push(tokio::spawn(async move {
            trigger.trigger(&Event::new("bench", vec![channel], sent.to_string())).await
        }));
    }
    let mut failed = 0;
    for publish in publishes {
        if publish.await?.is_err() {
            failed += 1;
        }
    }
    let mut histogram = hdrhistogram::Histogram::<u64>::new(3)?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while histogram.len() < total - failed {
        match tokio::time::timeout_at(deadline, received.recv()).await {
            Ok(Some(latency)) => histogram.record(latency)?,
            _ => break,
        }
    }
    let (p50, p99) = crate::percentiles(&histogram);
    let per_connection = (held_rss.saturating_sub(base_rss)) as f64 / args.connections as f64;
    println!(
        "| {} | {} | {:.1} s | {} ev/s × {} s | {p50:.2} ms | {p99:.2} ms | {}/{} | {:.0} MB → {:.0} MB | {per_connection:.1} KiB |",
        args.name,
        args.connections,
        connect_secs,
        args.rate,
        args.seconds,
        histogram.len(),
        total,
        base_rss as f64 / 1024.0,
        held_rss as f64 / 1024.0,
    );
    Ok(())
}
