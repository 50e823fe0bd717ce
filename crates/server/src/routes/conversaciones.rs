//! Conversations: the caller's list, opening one, marking one read, and whom one can write to.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{json, Value};
use sqlx::PgPool;
use uuid::Uuid;

use crate::auth::AuthUser;
use crate::domain::{channels, Role};
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::models::{ChatMessage, ConversationSummary, Participant};
use crate::startup::AppState;

/// The two participants of a conversation the caller takes part in: 404 if it does not exist, 403 if
/// the caller is not in it.
pub async fn require_participant(pool: &PgPool, conversation: i32, user: i32) -> ApiResult<(i32, i32)> {
    let row: Option<(i32, i32)> =
        sqlx::query_as("SELECT id_estudiante, id_asesor FROM chats_conversacion WHERE id = $1")
            .bind(conversation)
            .fetch_optional(pool)
            .await?;
    match row {
        None => Err(ApiError::NotFound("La conversación no existe".into())),
        Some((student, advisor)) if user == student || user == advisor => Ok((student, advisor)),
        Some(_) => Err(ApiError::Forbidden("No participas en esta conversación".into())),
    }
}

#[derive(sqlx::FromRow)]
struct SummaryRow {
    id: i32,
    id_estudiante: i32,
    id_asesor: i32,
    ultima_actividad: DateTime<Utc>,
    otro_id: i32,
    otro_nombre: String,
    otro_rol: Role,
    no_leido: bool,
    m_id: Option<i64>,
    m_contenido: Option<String>,
    m_usuario: Option<i32>,
    m_fecha: Option<DateTime<Utc>>,
    m_client_id: Option<Uuid>,
}

impl From<SummaryRow> for ConversationSummary {
    fn from(r: SummaryRow) -> Self {
        let ultimo_mensaje = match (r.m_id, r.m_contenido, r.m_usuario, r.m_fecha) {
            (Some(id), Some(contenido), Some(id_usuario), Some(fecha_envio)) => Some(ChatMessage {
                id,
                id_conversacion: r.id,
                contenido,
                id_usuario,
                fecha_envio,
                client_id: r.m_client_id,
            }),
            _ => None,
        };
        ConversationSummary {
            id: r.id,
            id_estudiante: r.id_estudiante,
            id_asesor: r.id_asesor,
            ultima_actividad: r.ultima_actividad,
            participante: Participant { id: r.otro_id, nombre: r.otro_nombre, rol: r.otro_rol },
            ultimo_mensaje,
            no_leido: r.no_leido,
        }
    }
}

/// `$1` is the caller; `$2` restricts to one conversation when not null.
const SUMMARY_SQL: &str = r#"
SELECT c.id, c.id_estudiante, c.id_asesor, c.ultima_actividad,
       o.id AS otro_id, o.nombre AS otro_nombre, o.rol AS otro_rol,
       COALESCE(NOT n.leido, false) AS no_leido,
       m.id AS m_id, m.contenido AS m_contenido, m.id_usuario AS m_usuario, m.fecha_envio AS m_fecha,
       m.client_id AS m_client_id
  FROM chats_conversacion c
  JOIN usuarios o ON o.id = CASE WHEN c.id_estudiante = $1 THEN c.id_asesor ELSE c.id_estudiante END
  LEFT JOIN chats_notificacion n ON n.id_conversacion = c.id AND n.id_receptor = $1
  LEFT JOIN LATERAL (
        SELECT id, contenido, id_usuario, fecha_envio, client_id FROM chat_mensaje
         WHERE id_conversacion = c.id ORDER BY id DESC LIMIT 1
  ) m ON true
 WHERE (c.id_estudiante = $1 OR c.id_asesor = $1) AND ($2::int IS NULL OR c.id = $2)
 ORDER BY c.ultima_actividad DESC, c.id DESC
"#;

async fn summaries(pool: &PgPool, user: i32, only: Option<i32>) -> sqlx::Result<Vec<ConversationSummary>> {
    let rows: Vec<SummaryRow> = sqlx::query_as(SUMMARY_SQL).bind(user).bind(only).fetch_all(pool).await?;
    Ok(rows.into_iter().map(Into::into).collect())
}

pub async fn list(State(state): State<AppState>, user: AuthUser) -> ApiResult<Json<Value>> {
    Ok(Json(json!({ "conversaciones": summaries(&state.pool, user.id, None).await? })))
}

#[derive(Debug, Deserialize)]
pub struct CreateBody {
    /// The other participant: an advisor when the caller is a student, and the reverse.
    #[serde(rename = "userId")]
    user_id: Option<i32>,
}

/// Open (or find) the conversation between the caller and `userId`: 201 when it is new, 200 when it
/// already existed.
pub async fn create(
    State(state): State<AppState>,
    user: AuthUser,
    ApiJson(body): ApiJson<CreateBody>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let other_id = body.user_id.ok_or_else(|| ApiError::BadRequest {
        message: "Faltan datos requeridos".into(),
        extra: Some(json!({ "required": ["userId"] })),
    })?;
    let other: Participant = sqlx::query_as("SELECT id, nombre, rol FROM usuarios WHERE id = $1")
        .bind(other_id)
        .fetch_optional(&state.pool)
        .await?
        .ok_or_else(|| ApiError::NotFound("El usuario no existe".into()))?;
    if other.rol != user.rol.counterpart() {
        return Err(ApiError::Unprocessable("Las conversaciones son entre un estudiante y un asesor".into()));
    }
    let (student, advisor) = match user.rol {
        Role::Estudiante => (user.id, other.id),
        Role::Asesor => (other.id, user.id),
    };
    let created: Option<(i32,)> = sqlx::query_as(
        "INSERT INTO chats_conversacion (id_estudiante, id_asesor) VALUES ($1, $2)
         ON CONFLICT (id_estudiante, id_asesor) DO NOTHING RETURNING id",
    )
    .bind(student)
    .bind(advisor)
    .fetch_optional(&state.pool)
    .await?;
    let id: i32 = match created {
        Some((id,)) => id,
        None => {
            sqlx::query_scalar("SELECT id FROM chats_conversacion WHERE id_estudiante = $1 AND id_asesor = $2")
                .bind(student)
                .bind(advisor)
                .fetch_one(&state.pool)
                .await?
        }
    };
    let summary = summaries(&state.pool, user.id, Some(id))
        .await?
        .pop()
        .ok_or_else(|| anyhow::anyhow!("conversation {id} vanished after it was opened"))?;
    if created.is_some() {
        let data = json!({ "id": id, "id_estudiante": student, "id_asesor": advisor, "ultima_actividad": summary.ultima_actividad });
        state
            .notifier
            .publish("conversacion-nueva", vec![channels::user(student), channels::user(advisor)], &data)
            .await;
    }
    let status = if created.is_some() { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, Json(json!({ "conversacion": summary, "creada": created.is_some() }))))
}

/// Mark the caller's notification for a conversation read; both participants' other windows hear it.
pub async fn mark_read(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath(conversation): ApiPath<i32>,
) -> ApiResult<Json<Value>> {
    let (student, advisor) = require_participant(&state.pool, conversation, user.id).await?;
    let changed = sqlx::query(
        "UPDATE chats_notificacion SET leido = true WHERE id_conversacion = $1 AND id_receptor = $2 AND NOT leido",
    )
    .bind(conversation)
    .bind(user.id)
    .execute(&state.pool)
    .await?
    .rows_affected();
    if changed > 0 {
        let data = json!({ "id_conversacion": conversation, "id_usuario": user.id });
        state
            .notifier
            .publish("conversacion-leida", vec![channels::user(student), channels::user(advisor)], &data)
            .await;
    }
    Ok(Json(json!({ "ok": true })))
}

#[derive(Debug, Deserialize)]
pub struct UsersQuery {
    rol: Option<String>,
}

/// Whom the caller can write to: users of the other role (`rol` may name it; the caller's own is refused).
pub async fn users(
    State(state): State<AppState>,
    user: AuthUser,
    ApiQuery(query): ApiQuery<UsersQuery>,
) -> ApiResult<Json<Value>> {
    let wanted = match query.rol.as_deref() {
        None | Some("") => user.rol.counterpart(),
        Some(raw) => raw.parse::<Role>().map_err(ApiError::bad_request)?,
    };
    if wanted != user.rol.counterpart() {
        return Err(ApiError::bad_request(format!(
            "Un {} solo puede escribir a usuarios con rol {}",
            user.rol.as_str(),
            user.rol.counterpart().as_str()
        )));
    }
    let users: Vec<Participant> =
        sqlx::query_as("SELECT id, nombre, rol FROM usuarios WHERE rol = $1 ORDER BY nombre, id")
            .bind(wanted)
            .fetch_all(&state.pool)
            .await?;
    Ok(Json(json!({ "usuarios": users })))
}
