//! The one thing an application needs from a realtime backend: put an event on some channels.

use async_trait::async_trait;

/// Pusher's limit on the `data` of one event.
pub const MAX_EVENT_DATA_BYTES: usize = 10 * 1024;
/// Pusher's limit on the channels of one trigger.
pub const MAX_CHANNELS_PER_EVENT: usize = 100;
/// Pusher's limit on the events of one batch trigger.
pub const MAX_EVENTS_PER_BATCH: usize = 10;

/// One event for one or more channels.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Event {
    pub name: String,
    pub channels: Vec<String>,
    /// The application's payload, usually JSON, delivered to subscribers as a string.
    pub data: String,
    /// A socket that must not receive the event (the sender's own connection).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub socket_id: Option<String>,
}

impl Event {
    pub fn new(name: impl Into<String>, channels: Vec<String>, data: impl Into<String>) -> Self {
        Self { name: name.into(), channels, data: data.into(), socket_id: None }
    }

    pub fn excluding(mut self, socket_id: impl Into<String>) -> Self {
        self.socket_id = Some(socket_id.into());
        self
    }

    /// The checks every Pusher-compatible server makes, done before anything is sent.
    pub fn validate(&self) -> Result<(), PublishError> {
        if self.channels.is_empty() || self.channels.len() > MAX_CHANNELS_PER_EVENT {
            return Err(PublishError::Invalid(format!(
                "an event goes to 1 to {MAX_CHANNELS_PER_EVENT} channels, not {}",
                self.channels.len()
            )));
        }
        for channel in &self.channels {
            crate::ChannelName::parse(channel.as_str())
                .map_err(|e| PublishError::Invalid(format!("channel {channel:?}: {e}")))?;
        }
        if self.name.is_empty() || self.name.len() > 200 {
            return Err(PublishError::Invalid("event names have 1 to 200 characters".into()));
        }
        if self.data.len() > MAX_EVENT_DATA_BYTES {
            return Err(PublishError::TooLarge { bytes: self.data.len() });
        }
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// The event breaks a protocol rule; sending it again will not help.
    #[error("invalid event: {0}")]
    Invalid(String),
    #[error("event data is {bytes} bytes; the limit is {MAX_EVENT_DATA_BYTES}")]
    TooLarge { bytes: usize },
    /// The server answered 4xx: credentials, app id or payload are wrong. Do not retry.
    #[error("rejected by the server ({status}): {body}")]
    Rejected { status: u16, body: String },
    /// The server could not be reached, timed out or answered 5xx. Retry with backoff.
    #[error("realtime server unavailable: {0}")]
    Unavailable(String),
}

impl PublishError {
    /// Whether sending the same event again later may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Unavailable(_))
    }
}

/// Puts events on channels: the HTTP [`crate::trigger::HttpTrigger`] or the in-process relay.
#[async_trait]
pub trait Publisher: Send + Sync + 'static {
    async fn publish(&self, event: &Event) -> Result<(), PublishError>;

    /// Whether `publish` only queues frames in this process and never waits on the network, so a
    /// caller may await it on its hot path instead of handing it to a background task.
    fn is_in_process(&self) -> bool {
        false
    }

    /// Several events in one request where the backend supports it.
    async fn publish_batch(&self, events: &[Event]) -> Result<(), PublishError> {
        for event in events {
            self.publish(event).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_enforces_the_protocol_limits() {
        let ok = Event::new("nuevo-mensaje", vec!["private-chat-1".into()], "{}");
        assert!(ok.validate().is_ok());
        let none = Event::new("e", vec![], "{}");
        assert!(matches!(none.validate(), Err(PublishError::Invalid(_))));
        let many = Event::new("e", (0..101).map(|i| format!("c{i}")).collect(), "{}");
        assert!(matches!(many.validate(), Err(PublishError::Invalid(_))));
        let bad_name = Event::new("e", vec!["chat 1".into()], "{}");
        assert!(matches!(bad_name.validate(), Err(PublishError::Invalid(_))));
        let big = Event::new("e", vec!["c".into()], "x".repeat(MAX_EVENT_DATA_BYTES + 1));
        assert!(matches!(big.validate(), Err(PublishError::TooLarge { .. })));
        assert!(!PublishError::TooLarge { bytes: 1 }.is_retryable());
        assert!(PublishError::Unavailable("x".into()).is_retryable());
    }
}
