//! Values that are checked once, where they are built.

use serde::{Deserialize, Serialize};

/// The longest message, in characters.
pub const MAX_MESSAGE_CHARS: usize = 4_000;
/// The most a message may take inside the realtime payload. Pusher refuses event data over 10 KB; the
/// other fields of `nuevo-mensaje` take well under 400 bytes.
pub const MAX_MESSAGE_PAYLOAD_BYTES: usize = 9_800;

/// A message's text: trimmed, not empty, at most 4,000 characters and small enough for one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageText(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MessageTextError {
    #[error("El mensaje está vacío")]
    Empty,
    #[error("El mensaje supera los {MAX_MESSAGE_CHARS} caracteres")]
    TooLong,
}

impl MessageText {
    pub fn parse(raw: &str) -> Result<Self, MessageTextError> {
        let text = raw.trim();
        if text.is_empty() {
            return Err(MessageTextError::Empty);
        }
        // The JSON-escaped size is what travels: 4,000 emoji or control characters would not fit.
        let encoded = serde_json::to_string(text).expect("strings serialize").len();
        if text.chars().count() > MAX_MESSAGE_CHARS || encoded > MAX_MESSAGE_PAYLOAD_BYTES {
            return Err(MessageTextError::TooLong);
        }
        Ok(Self(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// `usuarios.rol`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, sqlx::Type)]
#[serde(rename_all = "lowercase")]
#[sqlx(type_name = "text", rename_all = "lowercase")]
pub enum Role {
    Estudiante,
    Asesor,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Estudiante => "estudiante",
            Role::Asesor => "asesor",
        }
    }

    /// The role a user of this role may converse with.
    pub fn counterpart(self) -> Role {
        match self {
            Role::Estudiante => Role::Asesor,
            Role::Asesor => Role::Estudiante,
        }
    }
}

impl std::str::FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "estudiante" => Ok(Role::Estudiante),
            "asesor" => Ok(Role::Asesor),
            other => Err(format!("rol desconocido {other:?}: use estudiante o asesor")),
        }
    }
}

/// Realtime channel names, in one place.
pub mod channels {
    pub fn conversation(id: i32) -> String {
        format!("private-chat-{id}")
    }
    pub fn user(id: i32) -> String {
        format!("private-usuario-{id}")
    }
    /// The original backend's public channel, for old web clients.
    pub fn legacy_conversation(id: i32) -> String {
        format!("chat-{id}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_text_is_trimmed_and_bounded() {
        assert_eq!(MessageText::parse("  hola \n").unwrap().as_str(), "hola");
        assert_eq!(MessageText::parse(" \n\t "), Err(MessageTextError::Empty));
        assert!(MessageText::parse(&"ñ".repeat(MAX_MESSAGE_CHARS)).is_ok());
        assert_eq!(MessageText::parse(&"a".repeat(MAX_MESSAGE_CHARS + 1)), Err(MessageTextError::TooLong));
        // 4,000 emoji are 16,000 bytes: too big for one realtime event.
        assert_eq!(MessageText::parse(&"😀".repeat(MAX_MESSAGE_CHARS)), Err(MessageTextError::TooLong));
        // Control characters grow sixfold when JSON-escaped.
        assert_eq!(MessageText::parse(&"a\u{1}".repeat(1_500)), Err(MessageTextError::TooLong));
    }

    #[test]
    fn roles_pair_students_with_advisors() {
        assert_eq!("asesor".parse::<Role>(), Ok(Role::Asesor));
        assert!("admin".parse::<Role>().is_err());
        assert_eq!(Role::Estudiante.counterpart(), Role::Asesor);
    }
}
