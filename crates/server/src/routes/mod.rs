//! The HTTP API. Each file holds one resource; this one only wires paths to handlers.

pub mod auth;
pub mod conversaciones;
pub mod health;
pub mod mensajes;
pub mod realtime;

use axum::routing::{get, post};
use axum::Router;

use crate::error::ApiError;
use crate::startup::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/health", get(health::health))
        .route("/auth/login", post(auth::login))
        .route("/auth/logout", post(auth::logout))
        .route("/chat/conversaciones", get(conversaciones::list).post(conversaciones::create))
        .route("/chat/conversaciones/{id}/mensajes", get(mensajes::list))
        .route("/chat/conversaciones/{id}/leido", post(conversaciones::mark_read))
        .route("/chat/usuarios", get(conversaciones::users))
        .route("/chat/mensajes", post(mensajes::send))
        .route("/chat/realtime", get(realtime::settings))
        .route("/pusher/auth", post(realtime::authorize))
        .fallback(|| async { ApiError::NotFound("Ruta no encontrada".into()) })
        .method_not_allowed_fallback(|| async {
            (
                axum::http::StatusCode::METHOD_NOT_ALLOWED,
                axum::Json(serde_json::json!({ "error": "Método no permitido" })),
            )
        })
}
