//! `POST /auth/login` and `POST /auth/logout`.

use axum::extract::State;
use axum::http::request::Parts;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::auth::{bearer, dummy_hash, verify_password, AuthUser};
use crate::error::{ApiError, ApiResult};
use crate::extract::ApiJson;
use crate::startup::AppState;

#[derive(Debug, Deserialize)]
pub struct LoginBody {
    email: Option<String>,
    password: Option<String>,
}

const BAD_CREDENTIALS: &str = "Correo o contraseña incorrectos";

pub async fn login(State(state): State<AppState>, ApiJson(body): ApiJson<LoginBody>) -> ApiResult<Json<Value>> {
    let (Some(email), Some(password)) = (body.email, body.password) else {
        return Err(ApiError::BadRequest {
            message: "Faltan datos requeridos".into(),
            extra: Some(json!({ "required": ["email", "password"] })),
        });
    };
    let email = email.trim().to_lowercase();
    if let Err(retry_after_secs) = state.login_throttle.check(&email) {
        return Err(ApiError::TooManyRequests {
            message: "Demasiados intentos fallidos; espera antes de volver a intentarlo".into(),
            retry_after_secs,
        });
    }
    let row: Option<(AuthUser, String)> = sqlx::query_as::<_, (i32, String, String, crate::domain::Role, String)>(
        "SELECT id, nombre, email, rol, password_hash FROM usuarios WHERE lower(email) = $1",
    )
    .bind(&email)
    .fetch_optional(&state.pool)
    .await?
    .map(|(id, nombre, email, rol, hash)| (AuthUser { id, nombre, email, rol }, hash));
    // Unknown address and wrong password take the same time and get the same answer.
    let hash = row.as_ref().map_or_else(|| dummy_hash().to_owned(), |(_, hash)| hash.clone());
    let matches =
        tokio::task::spawn_blocking(move || verify_password(&hash, &password)).await.map_err(anyhow::Error::from)?;
    let user = match row {
        Some((user, _)) if matches => user,
        _ => {
            state.login_throttle.failed(&email);
            return Err(ApiError::Unauthorized(BAD_CREDENTIALS.into()));
        }
    };
    state.login_throttle.succeeded(&email);
    let token = state.sessions.create(&state.pool, user.id).await?;
    tracing::info!(user = user.id, "signed in");
    Ok(Json(json!({ "token": token, "usuario": user })))
}

/// Revoke the presented token. Idempotent: an unknown or revoked token is still 401, as everywhere.
pub async fn logout(State(state): State<AppState>, user: AuthUser, parts: Parts) -> ApiResult<Json<Value>> {
    let token = bearer(&parts).ok_or_else(|| ApiError::Unauthorized("Falta el token de sesión".into()))?;
    state.sessions.revoke(&state.pool, token).await?;
    tracing::info!(user = user.id, "signed out");
    Ok(Json(json!({ "ok": true })))
}
