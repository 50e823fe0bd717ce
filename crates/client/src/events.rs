//! What the core tells the windows of its profile.

use serde::Serialize;

use crate::cache::{Conversation, Message};

/// The realtime connection, as the UI shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ConnectionState {
    /// Not signed in.
    SignedOut,
    Connecting,
    /// Subscribed: messages arrive as they are sent.
    Online,
    /// The server cannot be reached; the app works from its cache and queues what is sent.
    Offline,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", content = "payload", rename_all = "snake_case")]
pub enum ClientEvent {
    /// `chat://mensaje`: a message arrived, or one of ours changed state.
    Message(Message),
    /// `chat://conversaciones`: the conversation list changed.
    Conversations(Vec<Conversation>),
    /// `chat://conexion`.
    Connection(ConnectionState),
}

impl ClientEvent {
    /// The Tauri event name.
    pub fn name(&self) -> &'static str {
        match self {
            ClientEvent::Message(_) => "chat://mensaje",
            ClientEvent::Conversations(_) => "chat://conversaciones",
            ClientEvent::Connection(_) => "chat://conexion",
        }
    }
}
