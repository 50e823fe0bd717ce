//! The HTTP events API client: `POST /apps/{app_id}/events` and `/batch_events`, signed.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use url::Url;

use crate::{Credentials, Event, PublishError, Publisher, MAX_EVENTS_PER_BATCH};

/// Where and how to reach the HTTP API.
#[derive(Debug, Clone)]
pub struct TriggerConfig {
    pub credentials: Credentials,
    /// `scheme://host:port`, no path.
    pub base_url: Url,
    /// For the whole request, connection included.
    pub timeout: Duration,
}

impl TriggerConfig {
    /// Hosted Pusher: `https://api-{cluster}.pusher.com`.
    pub fn for_cluster(credentials: Credentials, cluster: &str) -> Result<Self, url::ParseError> {
        Ok(Self::with_base(credentials, Url::parse(&format!("https://api-{cluster}.pusher.com"))?))
    }

    /// A self-hosted server (sockudo, soketi, our relay).
    pub fn for_host(credentials: Credentials, host: &str, port: u16, tls: bool) -> Result<Self, url::ParseError> {
        let scheme = if tls { "https" } else { "http" };
        Ok(Self::with_base(credentials, Url::parse(&format!("{scheme}://{host}:{port}"))?))
    }

    fn with_base(credentials: Credentials, base_url: Url) -> Self {
        Self { credentials, base_url, timeout: Duration::from_secs(5) }
    }
}

/// Signs and sends events over HTTP; keeps connections alive between requests.
#[derive(Debug, Clone)]
pub struct HttpTrigger {
    client: reqwest::Client,
    config: TriggerConfig,
}

#[derive(serde::Serialize)]
struct BatchItem<'a> {
    channel: &'a str,
    name: &'a str,
    data: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    socket_id: Option<&'a str>,
}

impl HttpTrigger {
    pub fn new(config: TriggerConfig) -> Result<Self, PublishError> {
        let client = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout.min(Duration::from_secs(3)))
            .pool_idle_timeout(Duration::from_secs(60))
            .tcp_nodelay(true)
            .build()
            .map_err(|e| PublishError::Unavailable(format!("HTTP client: {e}")))?;
        Ok(Self { client, config })
    }

    pub fn credentials(&self) -> &Credentials {
        &self.config.credentials
    }

    /// One event to 1–100 channels.
    pub async fn trigger(&self, event: &Event) -> Result<(), PublishError> {
        event.validate()?;
        let body = serde_json::to_vec(event).expect("events always serialize");
        self.post("events", body).await
    }

    /// Up to 10 single-channel events in one request; an event for several channels counts once per channel.
    pub async fn trigger_batch(&self, events: &[Event]) -> Result<(), PublishError> {
        let mut batch = Vec::new();
        for event in events {
            event.validate()?;
            for channel in &event.channels {
                batch.push(BatchItem {
                    channel,
                    name: &event.name,
                    data: &event.data,
                    socket_id: event.socket_id.as_deref(),
                });
            }
        }
        if batch.is_empty() || batch.len() > MAX_EVENTS_PER_BATCH {
            return Err(PublishError::Invalid(format!(
                "a batch holds 1 to {MAX_EVENTS_PER_BATCH} channel events, not {}",
                batch.len()
            )));
        }
        let body = serde_json::to_vec(&serde_json::json!({ "batch": batch })).expect("batches always serialize");
        self.post("batch_events", body).await
    }

    async fn post(&self, endpoint: &str, body: Vec<u8>) -> Result<(), PublishError> {
        let path = format!("/apps/{}/{endpoint}", self.config.credentials.app_id);
        let timestamp = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
        let query = self.config.credentials.signed_query("POST", &path, &[], Some(&body), timestamp);
        let mut url = self.config.base_url.clone();
        url.set_path(&path);
        url.query_pairs_mut().extend_pairs(query.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        let response = self
            .client
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body)
            .send()
            .await
            .map_err(|e| PublishError::Unavailable(e.to_string()))?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let text = response.text().await.unwrap_or_default();
        if status.is_client_error() && status != reqwest::StatusCode::TOO_MANY_REQUESTS {
            Err(PublishError::Rejected { status: status.as_u16(), body: text })
        } else {
            Err(PublishError::Unavailable(format!("{status}: {text}")))
        }
    }
}

#[async_trait]
impl Publisher for HttpTrigger {
    async fn publish(&self, event: &Event) -> Result<(), PublishError> {
        self.trigger(event).await
    }

    async fn publish_batch(&self, events: &[Event]) -> Result<(), PublishError> {
        for chunk in events.chunks(MAX_EVENTS_PER_BATCH) {
            if chunk.iter().map(|e| e.channels.len()).sum::<usize>() <= MAX_EVENTS_PER_BATCH {
                self.trigger_batch(chunk).await?;
            } else {
                for event in chunk {
                    self.trigger(event).await?;
                }
            }
        }
        Ok(())
    }
}
