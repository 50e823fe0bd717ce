//! One error type for everything the UI can be told: a `kind` it can branch on and a Spanish
//! `message` it can show.

use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The server could not be reached (or timed out): the app works from its cache.
    Offline,
    /// No session, or the server refused it: sign in again.
    Unauthorized,
    /// The server refused the request (4xx): showing the message is the fix.
    Rejected,
    /// The server failed (5xx).
    Server,
    /// Bad input caught before anything was sent.
    Invalid,
    /// The local cache failed.
    Storage,
    Internal,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{message}")]
pub struct ClientError {
    pub kind: ErrorKind,
    pub message: String,
    /// The HTTP status, when a server answered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
}

pub type Result<T> = std::result::Result<T, ClientError>;

impl ClientError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self { kind, message: message.into(), status: None }
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Invalid, message)
    }

    /// Whether sending the same request later may succeed (network or server trouble).
    pub fn is_transient(&self) -> bool {
        matches!(self.kind, ErrorKind::Offline | ErrorKind::Server) || self.status == Some(429)
    }
}

impl From<sqlx::Error> for ClientError {
    fn from(e: sqlx::Error) -> Self {
        tracing::error!(error = %e, "local cache");
        Self::new(ErrorKind::Storage, format!("Error en la caché local: {e}"))
    }
}

impl From<sqlx::migrate::MigrateError> for ClientError {
    fn from(e: sqlx::migrate::MigrateError) -> Self {
        Self::new(ErrorKind::Storage, format!("No se pudo preparar la caché local: {e}"))
    }
}

impl From<std::io::Error> for ClientError {
    fn from(e: std::io::Error) -> Self {
        Self::new(ErrorKind::Storage, format!("Error de disco: {e}"))
    }
}
