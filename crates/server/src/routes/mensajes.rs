//! `POST /chat/mensajes` (the original contract, made safe) and message history.

use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::auth::AuthUser;
use crate::domain::{channels, MessageText, MessageTextError};
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::models::ChatMessage;
use crate::routes::conversaciones::require_participant;
use crate::startup::AppState;

/// The original body, `{chatId, content, senderId}`, plus the optional idempotency key `clientId`.
/// Ids are taken as numbers or numeric strings, as the original Express backend took them.
#[derive(Debug, Deserialize)]
pub struct SendBody {
    #[serde(rename = "chatId", default)]
    chat_id: Value,
    #[serde(default)]
    content: Value,
    #[serde(rename = "senderId", default)]
    sender_id: Value,
    #[serde(rename = "clientId", default)]
    client_id: Value,
}

fn as_id(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn is_missing(value: &Value) -> bool {
    matches!(value, Value::Null) || value.as_str() == Some("")
}

/// What one send asks for, checked.
struct SendRequest {
    conversation: i32,
    text: MessageText,
    client_id: Uuid,
}

impl SendBody {
    fn parse(self, user: &AuthUser) -> ApiResult<SendRequest> {
        if is_missing(&self.chat_id) || is_missing(&self.content) {
            return Err(ApiError::BadRequest {
                message: "Faltan datos requeridos".into(),
                extra: Some(json!({ "required": ["chatId", "content"] })),
            });
        }
        let conversation = as_id(&self.chat_id)
            .and_then(|id| i32::try_from(id).ok())
            .ok_or_else(|| ApiError::bad_request("chatId no es un identificador válido"))?;
        let content = self.content.as_str().ok_or_else(|| ApiError::bad_request("content debe ser texto"))?;
        let text = MessageText::parse(content).map_err(|e| match e {
            MessageTextError::Empty => ApiError::bad_request(e.to_string()),
            MessageTextError::TooLong => ApiError::PayloadTooLarge(e.to_string()),
        })?;
        if !self.sender_id.is_null() && as_id(&self.sender_id) != Some(i64::from(user.id)) {
            return Err(ApiError::Forbidden("senderId no corresponde al usuario de la sesión".into()));
        }
        let client_id = match &self.client_id {
            Value::Null => Uuid::new_v4(),
            Value::String(s) => s.parse().map_err(|_| ApiError::bad_request("clientId debe ser un UUID"))?,
            _ => return Err(ApiError::bad_request("clientId debe ser un UUID")),
        };
        Ok(SendRequest { conversation, text, client_id })
    }
}

/// The hot path in one statement, so one round trip: check the conversation and the sender, insert
/// the message (or find that this `client_id` already was), bump `ultima_actividad`, and mark the
/// receiver's notification unread. All of it commits together or not at all.
pub const SEND_SQL: &str = r#"
WITH conv AS (
    SELECT id, id_estudiante, id_asesor FROM chats_conversacion WHERE id = $1
), allowed AS (
    SELECT id, CASE WHEN id_estudiante = $2 THEN id_asesor ELSE id_estudiante END AS receptor
      FROM conv WHERE $2 IN (id_estudiante, id_asesor)
), ins AS (
    INSERT INTO chat_mensaje (id_conversacion, contenido, id_usuario, client_id)
    SELECT id, $3, $2, $4 FROM allowed
    ON CONFLICT (id_usuario, client_id) DO NOTHING
    RETURNING id, id_conversacion, contenido, id_usuario, fecha_envio, client_id
), bump AS (
    UPDATE chats_conversacion c SET ultima_actividad = GREATEST(c.ultima_actividad, ins.fecha_envio)
      FROM ins WHERE c.id = ins.id_conversacion
), notify AS (
    INSERT INTO chats_notificacion (id_conversacion, id_receptor, leido, fecha_creacion)
    SELECT allowed.id, allowed.receptor, false, ins.fecha_envio FROM allowed, ins
    ON CONFLICT (id_conversacion, id_receptor) DO UPDATE SET leido = false, fecha_creacion = EXCLUDED.fecha_creacion
)
SELECT EXISTS (SELECT 1 FROM conv) AS conversation_exists,
       allowed.receptor,
       ins.id, ins.id_conversacion, ins.contenido, ins.id_usuario, ins.fecha_envio, ins.client_id
  FROM (SELECT 1) AS one
  LEFT JOIN allowed ON true
  LEFT JOIN ins ON true
"#;

#[derive(sqlx::FromRow)]
struct SendRow {
    conversation_exists: bool,
    receptor: Option<i32>,
    id: Option<i64>,
    id_conversacion: Option<i32>,
    contenido: Option<String>,
    id_usuario: Option<i32>,
    fecha_envio: Option<chrono::DateTime<chrono::Utc>>,
    client_id: Option<Uuid>,
}

/// The original success body, serialized straight from the message (no intermediate JSON tree).
#[derive(serde::Serialize)]
pub struct Sent {
    ok: bool,
    mensaje: ChatMessage,
    message: &'static str,
}

pub async fn send(
    State(state): State<AppState>,
    user: AuthUser,
    ApiJson(body): ApiJson<SendBody>,
) -> ApiResult<Json<Sent>> {
    let request = body.parse(&user)?;
    if let Err(retry_after_secs) = state.send_limiter.check(user.id) {
        return Err(ApiError::TooManyRequests {
            message: "Demasiados mensajes seguidos; espera un momento".into(),
            retry_after_secs,
        });
    }
    let row: SendRow = sqlx::query_as(SEND_SQL)
        .bind(request.conversation)
        .bind(user.id)
        .bind(request.text.as_str())
        .bind(request.client_id)
        .fetch_one(&state.pool)
        .await?;
    if !row.conversation_exists {
        return Err(ApiError::NotFound("La conversación no existe".into()));
    }
    let Some(receptor) = row.receptor else {
        return Err(ApiError::Forbidden("No participas en esta conversación".into()));
    };
    let message = match (row.id, row.id_conversacion, row.contenido, row.id_usuario, row.fecha_envio) {
        (Some(id), Some(id_conversacion), Some(contenido), Some(id_usuario), Some(fecha_envio)) => {
            let message =
                ChatMessage { id, id_conversacion, contenido, id_usuario, fecha_envio, client_id: row.client_id };
            let mut targets = vec![
                channels::conversation(message.id_conversacion),
                channels::user(user.id),
                channels::user(receptor),
            ];
            if state.legacy_public_channels {
                targets.push(channels::legacy_conversation(message.id_conversacion));
            }
            state.notifier.publish("nuevo-mensaje", targets, &message).await;
            message
        }
        // Nothing inserted although the sender may write here: this clientId was stored before
        // (perhaps by a concurrent request that committed first). Answer with that message.
        _ => {
            let existing: ChatMessage = sqlx::query_as(
                "SELECT id, id_conversacion, contenido, id_usuario, fecha_envio, client_id
                   FROM chat_mensaje WHERE id_usuario = $1 AND client_id = $2",
            )
            .bind(user.id)
            .bind(request.client_id)
            .fetch_one(&state.pool)
            .await?;
            if existing.id_conversacion != request.conversation {
                return Err(ApiError::Conflict("Ese clientId ya se usó en otra conversación".into()));
            }
            existing
        }
    };
    Ok(Json(Sent { ok: true, mensaje: message, message: "Mensaje enviado exitosamente" }))
}

#[derive(Debug, Deserialize)]
pub struct PageQuery {
    after: Option<i64>,
    before: Option<i64>,
    limit: Option<i64>,
}

pub const DEFAULT_PAGE: i64 = 50;
pub const MAX_PAGE: i64 = 200;

/// Messages in ascending id order. `after` pages forward (catch-up after a disconnect), `before` pages
/// back through history; with neither, the latest page. `hay_mas` says whether the page was cut.
pub async fn list(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath(conversation): ApiPath<i32>,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> ApiResult<Json<Value>> {
    let limit = query.limit.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(ApiError::bad_request(format!("limit debe estar entre 1 y {MAX_PAGE}")));
    }
    require_participant(&state.pool, conversation, user.id).await?;
    let forward = query.after.is_some();
    let sql = if forward {
        "SELECT id, id_conversacion, contenido, id_usuario, fecha_envio, client_id FROM chat_mensaje
          WHERE id_conversacion = $1 AND id > $2 AND ($3::bigint IS NULL OR id < $3)
          ORDER BY id ASC LIMIT $4"
    } else {
        "SELECT id, id_conversacion, contenido, id_usuario, fecha_envio, client_id FROM chat_mensaje
          WHERE id_conversacion = $1 AND ($2::bigint IS NULL OR id > $2) AND ($3::bigint IS NULL OR id < $3)
          ORDER BY id DESC LIMIT $4"
    };
    let mut messages: Vec<ChatMessage> = sqlx::query_as(sql)
        .bind(conversation)
        .bind(query.after)
        .bind(query.before)
        .bind(limit + 1)
        .fetch_all(&state.pool)
        .await?;
    let more = messages.len() as i64 > limit;
    messages.truncate(limit as usize);
    if !forward {
        messages.reverse();
    }
    Ok(Json(json!({ "mensajes": messages, "hay_mas": more })))
}
