use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Value};

use crate::startup::AppState;

/// 200 when the database answers, 503 when it does not.
pub async fn health(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let check =
        tokio::time::timeout(std::time::Duration::from_secs(2), sqlx::query("SELECT 1").execute(&state.pool)).await;
    match check {
        Ok(Ok(_)) => (StatusCode::OK, Json(json!({ "status": "ok", "database": "ok" }))),
        Ok(Err(e)) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "error", "database": "unavailable", "error": e.to_string() })),
        ),
        Err(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "error", "database": "unavailable", "error": "timed out" })),
        ),
    }
}
