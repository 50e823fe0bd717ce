//! A single-node Pusher-compatible server: WebSocket protocol 7 on `/app/{key}` and the HTTP events
//! API on `/apps/{app_id}/events` and `/batch_events`, on one port as Pusher has them.
//!
//! One node by design: subscriptions live in this process. Deployments with more than one application
//! server point them at hosted Pusher or at sockudo with its Redis or NATS adapter instead.

mod connection;
pub use connection::Connection;
mod http;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use async_trait::async_trait;
use axum::extract::ws::Utf8Bytes;
use axum::routing::{any, post};
use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::{protocol, Credentials, Event, PublishError, Publisher};

#[derive(Debug, Clone)]
pub struct RelayConfig {
    pub credentials: Credentials,
    /// Seconds of client silence before the relay pings; announced in `connection_established`.
    pub activity_timeout: Duration,
    /// How long a pinged client has to answer before it is closed with 4201.
    pub pong_timeout: Duration,
    /// The largest WebSocket message a client may send.
    pub max_client_message_bytes: usize,
    /// Events queued for one connection before it counts as too slow and is closed with 4100.
    pub outbound_queue: usize,
    pub max_connections: usize,
    pub max_channels_per_connection: usize,
    /// `Origin` values allowed to connect; `None` allows any (native clients send none).
    pub allowed_origins: Option<Vec<String>>,
    /// The largest clock difference accepted on signed HTTP requests, in seconds.
    pub max_timestamp_skew: u64,
}

impl RelayConfig {
    pub fn new(credentials: Credentials) -> Self {
        Self {
            credentials,
            activity_timeout: Duration::from_secs(120),
            pong_timeout: Duration::from_secs(30),
            max_client_message_bytes: 10 * 1024,
            outbound_queue: 256,
            max_connections: 100_000,
            max_channels_per_connection: 1_000,
            allowed_origins: None,
            max_timestamp_skew: 600,
        }
    }
}

struct Subscriber {
    socket_id: Arc<str>,
    queue: mpsc::Sender<Utf8Bytes>,
    /// Cancelled when the connection falls too far behind.
    kick: CancellationToken,
}

struct Inner {
    config: RelayConfig,
    /// channel → connection id → subscriber.
    channels: RwLock<HashMap<String, HashMap<u64, Subscriber>>>,
    next_connection: AtomicU64,
    connections: AtomicUsize,
    shutdown: CancellationToken,
}

/// The relay; clone it freely (all clones share one state).
#[derive(Clone)]
pub struct Relay {
    inner: Arc<Inner>,
}

impl Relay {
    pub fn new(config: RelayConfig) -> Self {
        Self {
            inner: Arc::new(Inner {
                config,
                channels: RwLock::new(HashMap::new()),
                next_connection: AtomicU64::new(1),
                connections: AtomicUsize::new(0),
                shutdown: CancellationToken::new(),
            }),
        }
    }

    pub fn config(&self) -> &RelayConfig {
        &self.inner.config
    }

    pub fn router(&self) -> Router {
        Router::new()
            .route("/app/{key}", any(connection::upgrade))
            .route("/apps/{app_id}/events", post(http::events))
            .route("/apps/{app_id}/batch_events", post(http::batch_events))
            .layer(axum::extract::DefaultBodyLimit::max(http::MAX_BODY_BYTES))
            .with_state(self.clone())
    }

    /// Serve until [`Relay::shutdown`]; connections are then closed with 4200 so that clients reconnect.
    pub async fn serve(self, listener: TcpListener) -> std::io::Result<()> {
        let shutdown = self.inner.shutdown.clone();
        axum::serve(listener, self.router()).with_graceful_shutdown(async move { shutdown.cancelled().await }).await
    }

    /// Stop accepting and close every connection with 4200 ("reconnect").
    pub fn shutdown(&self) {
        self.inner.shutdown.cancel();
    }

    /// Open WebSocket connections.
    pub fn connection_count(&self) -> usize {
        self.inner.connections.load(Ordering::Relaxed)
    }

    pub fn subscriber_count(&self, channel: &str) -> usize {
        self.inner.channels.read().expect("registry lock").get(channel).map_or(0, HashMap::len)
    }

    /// Deliver an event to this node's subscribers; returns how many connections it was queued for.
    pub fn deliver(&self, event: &Event) -> Result<usize, PublishError> {
        event.validate()?;
        let mut delivered = 0;
        let channels = self.inner.channels.read().expect("registry lock");
        for channel in &event.channels {
            let Some(subscribers) = channels.get(channel) else {
                continue;
            };
            let frame = Utf8Bytes::from(protocol::event(channel, &event.name, &event.data));
            for subscriber in subscribers.values() {
                if event.socket_id.as_deref() == Some(&*subscriber.socket_id) {
                    continue;
                }
                match subscriber.queue.try_send(frame.clone()) {
                    Ok(()) => delivered += 1,
                    Err(mpsc::error::TrySendError::Full(_)) => {
                        tracing::warn!(socket_id = %subscriber.socket_id, "closing a connection that fell behind");
                        subscriber.kick.cancel();
                    }
                    Err(mpsc::error::TrySendError::Closed(_)) => {}
                }
            }
        }
        Ok(delivered)
    }

    fn subscribe(&self, channel: &str, connection: u64, subscriber: Subscriber) {
        let mut channels = self.inner.channels.write().expect("registry lock");
        channels.entry(channel.to_owned()).or_default().insert(connection, subscriber);
    }

    fn unsubscribe(&self, channel: &str, connection: u64) {
        let mut channels = self.inner.channels.write().expect("registry lock");
        if let Some(subscribers) = channels.get_mut(channel) {
            subscribers.remove(&connection);
            if subscribers.is_empty() {
                channels.remove(channel);
            }
        }
    }
}

#[async_trait]
impl Publisher for Relay {
    async fn publish(&self, event: &Event) -> Result<(), PublishError> {
        self.deliver(event).map(|_| ())
    }

    fn is_in_process(&self) -> bool {
        true
    }
}
