//! The Pusher Channels protocol, version 7.
//!
//! - [`auth`]: HMAC-SHA256 signatures for the HTTP events API and for private-channel authorization.
//! - [`channel`]: channel-name rules.
//! - [`protocol`]: WebSocket frames and `pusher:error` codes.
//! - [`Publisher`]: "send this event to these channels", implemented by the HTTP [`trigger`] client and by
//!   the in-process [`relay`], so an application does not care which one it holds.
//! - [`subscriber`]: a WebSocket client that reconnects, resubscribes and says so.
//! - [`relay`]: a single-node Pusher-compatible server (feature `relay`).

pub mod auth;
pub mod channel;
pub mod protocol;
mod publisher;
#[cfg(feature = "relay")]
pub mod relay;
#[cfg(feature = "subscriber")]
pub mod subscriber;
#[cfg(feature = "trigger")]
pub mod trigger;

pub use auth::Credentials;
pub use channel::{ChannelName, InvalidChannel};
pub use publisher::{
    Event, PublishError, Publisher, MAX_CHANNELS_PER_EVENT, MAX_EVENTS_PER_BATCH, MAX_EVENT_DATA_BYTES,
};
