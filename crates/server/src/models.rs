//! Rows as the API shows them. Field names are the database's, which the original clients read.

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use crate::domain::Role;

/// `chat_mensaje`.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct ChatMessage {
    pub id: i64,
    pub id_conversacion: i32,
    pub contenido: String,
    pub id_usuario: i32,
    pub fecha_envio: DateTime<Utc>,
    pub client_id: Option<Uuid>,
}

/// Someone a user can talk to.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Participant {
    pub id: i32,
    pub nombre: String,
    pub rol: Role,
}

/// One conversation from the caller's side.
#[derive(Debug, Clone, Serialize)]
pub struct ConversationSummary {
    pub id: i32,
    pub id_estudiante: i32,
    pub id_asesor: i32,
    pub ultima_actividad: DateTime<Utc>,
    /// The other participant.
    pub participante: Participant,
    pub ultimo_mensaje: Option<ChatMessage>,
    /// Whether the caller has unread messages here.
    pub no_leido: bool,
}
