//! The desktop app's core, usable without a window: the backend's API, the profile's SQLite cache,
//! the sync engine, the outbox and the realtime task. `src-tauri` exposes it as commands and events.

pub mod api;
pub mod cache;
pub mod client;
pub mod error;
pub mod events;
pub mod outbox;
mod realtime;
pub mod sync;

pub use client::ChatClient;
pub use error::{ClientError, ErrorKind};
pub use events::{ClientEvent, ConnectionState};
