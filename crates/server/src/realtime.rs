//! Publishing after commit: the message is already stored, so a realtime failure must neither fail
//! nor repeat the request. Events are published in the background and retried with backoff while
//! the server is unavailable; clients catch up from the API whatever happens here.

use std::sync::Arc;
use std::time::Duration;

use chatstudy_pusher::subscriber::backoff;
use chatstudy_pusher::{Event, Publisher};
use serde::Serialize;
use tokio_util::task::TaskTracker;

/// How often an event is tried before it is given up (30 s to a minute of backoff in all).
const MAX_ATTEMPTS: u32 = 8;

#[derive(Clone)]
pub struct Notifier {
    publisher: Arc<dyn Publisher>,
    tracker: TaskTracker,
    first_retry: Duration,
}

impl Notifier {
    pub fn new(publisher: Arc<dyn Publisher>) -> Self {
        Self { publisher, tracker: TaskTracker::new(), first_retry: Duration::from_millis(500) }
    }

    /// Publish `data` as `event` on `channels`: at once when the publisher is in-process (the built-in
    /// relay only queues frames), otherwise in the background, retried while the server is unavailable.
    pub async fn publish(&self, event: &str, channels: Vec<String>, data: &impl Serialize) {
        let data = match serde_json::to_string(data) {
            Ok(data) => data,
            Err(e) => return tracing::error!(error = %e, event, "event data does not serialize"),
        };
        let event = Event::new(event, channels, data);
        if self.publisher.is_in_process() {
            if let Err(e) = self.publisher.publish(&event).await {
                tracing::error!(error = %e, event = %event.name, "event not published");
            }
            return;
        }
        let publisher = self.publisher.clone();
        let first_retry = self.first_retry;
        self.tracker.spawn(async move {
            for attempt in 1..=MAX_ATTEMPTS {
                match publisher.publish(&event).await {
                    Ok(()) => return,
                    Err(e) if e.is_retryable() && attempt < MAX_ATTEMPTS => {
                        tracing::warn!(error = %e, event = %event.name, attempt, "publish failed; retrying");
                        tokio::time::sleep(backoff(first_retry, Duration::from_secs(30), attempt - 1)).await;
                    }
                    Err(e) => {
                        return tracing::error!(error = %e, event = %event.name, channels = ?event.channels, "event not published");
                    }
                }
            }
        });
    }

    /// Wait (at most `grace`) for events still being published, e.g. at shutdown.
    pub async fn drain(&self, grace: Duration) {
        self.tracker.close();
        if tokio::time::timeout(grace, self.tracker.wait()).await.is_err() {
            tracing::warn!(pending = self.tracker.len(), "shutting down with events still unpublished");
        }
    }
}

/// What `GET /chat/realtime` tells a client: enough to connect, never the secret.
#[derive(Debug, Clone, Serialize)]
pub struct ClientSettings {
    pub key: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
    pub host: String,
    pub port: u16,
    #[serde(rename = "useTLS")]
    pub use_tls: bool,
    /// `pusher` (hosted or self-hosted Pusher-compatible) or `relay` (built in).
    pub provider: &'static str,
    #[serde(rename = "authEndpoint")]
    pub auth_endpoint: &'static str,
}
