//! The outbox: messages are stored as `pendiente` before anything else, then sent one at a time, in
//! order per conversation, with the clientId they were given — so a retry can never double them.

use std::time::Duration;

use chrono::Utc;

use crate::cache::Message;
use crate::client::Core;
use crate::error::Result;

/// Tries before a message that keeps meeting network or server errors is marked `fallido`.
pub const MAX_ATTEMPTS: i64 = 10;

/// What one step of the outbox did.
#[derive(Debug)]
pub enum Step {
    /// The server stored the message.
    Delivered(Message),
    /// The server refused it (4xx), or it ran out of tries: it is `fallido` with the reason.
    Failed(Message),
    /// It could not be sent now; it will be tried again.
    Postponed,
    /// Nothing is due; the next message falls due after this long, if any waits.
    Idle(Option<Duration>),
}

/// Exponential backoff: 1 s, 2 s, 4 s … at most a minute.
pub fn backoff(attempts: i64) -> Duration {
    Duration::from_secs(1u64 << attempts.clamp(0, 6) as u32).min(Duration::from_secs(60))
}

impl Core {
    /// Send the next due message, if any.
    pub async fn deliver_next(&self) -> Result<Step> {
        let now = Utc::now();
        let (next, due) = self.cache.next_outgoing(now).await?;
        let Some(outgoing) = next else {
            return Ok(Step::Idle(due.map(|d| (d - now).to_std().unwrap_or_default())));
        };
        let client_id = outgoing.client_id.parse().expect("client ids are UUIDs");
        let result = match self.api().await {
            Ok(api) => api.send(outgoing.conversation_id, &outgoing.content, client_id).await,
            Err(e) => Err(e),
        };
        match result {
            Ok(stored) => {
                let changed = self.cache.store_messages(&[stored]).await?;
                let message = match changed.into_iter().next() {
                    Some(message) => message,
                    // The realtime event confirmed it first.
                    None => self.cache.message(outgoing.local_id).await?.expect("confirmed messages stay"),
                };
                Ok(Step::Delivered(message))
            }
            Err(e) if e.is_transient() && outgoing.attempts + 1 < MAX_ATTEMPTS => {
                let attempts = outgoing.attempts + 1;
                let due = now + chrono::Duration::from_std(backoff(attempts)).expect("small");
                self.cache.postpone(outgoing.local_id, attempts, due, &e.message).await?;
                Ok(Step::Postponed)
            }
            Err(e) => {
                let reason = if e.is_transient() {
                    format!("No se pudo enviar tras {MAX_ATTEMPTS} intentos: {}", e.message)
                } else {
                    e.message
                };
                match self.cache.fail(outgoing.local_id, &reason).await? {
                    Some(message) => Ok(Step::Failed(message)),
                    None => Ok(Step::Postponed),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_a_minute() {
        assert_eq!(backoff(0), Duration::from_secs(1));
        assert_eq!(backoff(3), Duration::from_secs(8));
        assert_eq!(backoff(20), Duration::from_secs(60));
    }
}
