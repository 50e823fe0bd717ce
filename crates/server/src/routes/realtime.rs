//! `POST /pusher/auth` (private-channel signatures for the channels the caller may hear) and
//! `GET /chat/realtime` (how to connect).

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::auth::AuthUser;
use crate::config::Realtime;
use crate::error::{ApiError, ApiResult};
use crate::realtime::ClientSettings;
use crate::routes::conversaciones::require_participant;
use crate::startup::AppState;

#[derive(Debug, Deserialize)]
struct AuthBody {
    socket_id: Option<String>,
    channel_name: Option<String>,
}

fn valid_socket_id(socket_id: &str) -> bool {
    socket_id.split_once('.').is_some_and(|(a, b)| {
        !a.is_empty()
            && !b.is_empty()
            && a.len() + b.len() < 40
            && a.bytes().chain(b.bytes()).all(|c| c.is_ascii_digit())
    })
}

/// pusher-js posts `socket_id` and `channel_name` form-encoded; JSON is accepted too.
pub async fn authorize(
    State(state): State<AppState>,
    user: AuthUser,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    let parsed: AuthBody = if is_json {
        serde_json::from_slice(&body).map_err(|e| ApiError::bad_request(format!("JSON inválido: {e}")))?
    } else {
        let mut form = AuthBody { socket_id: None, channel_name: None };
        for (key, value) in url::form_urlencoded::parse(&body) {
            match &*key {
                "socket_id" => form.socket_id = Some(value.into_owned()),
                "channel_name" => form.channel_name = Some(value.into_owned()),
                _ => {}
            }
        }
        form
    };
    let (Some(socket_id), Some(channel)) = (parsed.socket_id, parsed.channel_name) else {
        return Err(ApiError::BadRequest {
            message: "Faltan datos requeridos".into(),
            extra: Some(json!({ "required": ["socket_id", "channel_name"] })),
        });
    };
    if !valid_socket_id(&socket_id) {
        return Err(ApiError::bad_request("socket_id no es válido"));
    }
    let allowed = if let Some(id) = channel.strip_prefix("private-usuario-") {
        id.parse::<i32>().is_ok_and(|id| id == user.id)
    } else if let Some(id) = channel.strip_prefix("private-chat-") {
        match id.parse::<i32>() {
            Ok(conversation) => match require_participant(&state.pool, conversation, user.id).await {
                Ok(_) => true,
                Err(ApiError::Forbidden(_) | ApiError::NotFound(_)) => false,
                Err(other) => return Err(other),
            },
            Err(_) => false,
        }
    } else {
        false
    };
    if !allowed {
        return Err(ApiError::Forbidden("No puedes suscribirte a ese canal".into()));
    }
    Ok(Json(json!({ "auth": state.realtime.credentials().channel_auth(&socket_id, &channel) })))
}

/// The relay is reached by the host name the client used for this server, unless one is configured.
pub async fn settings(State(state): State<AppState>, _user: AuthUser, headers: HeaderMap) -> Json<ClientSettings> {
    let request_host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(|h| match h.rsplit_once(':') {
            Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) => host.to_owned(),
            _ => h.to_owned(),
        })
        .unwrap_or_else(|| "127.0.0.1".into());
    let settings = match &*state.realtime {
        Realtime::Embedded { credentials, public_host, public_port, public_tls } => ClientSettings {
            key: credentials.key.clone(),
            cluster: None,
            host: public_host.clone().unwrap_or(request_host),
            port: *public_port,
            use_tls: *public_tls,
            provider: "relay",
            auth_endpoint: "/pusher/auth",
        },
        Realtime::External { credentials, cluster, host, port, tls } => ClientSettings {
            key: credentials.key.clone(),
            cluster: cluster.clone(),
            host: host.clone().unwrap_or_else(|| format!("ws-{}.pusher.com", cluster.as_deref().unwrap_or("mt1"))),
            port: port.unwrap_or(if *tls { 443 } else { 80 }),
            use_tls: *tls,
            provider: "pusher",
            auth_endpoint: "/pusher/auth",
        },
    };
    Json(settings)
}

#[cfg(test)]
mod tests {
    #[test]
    fn socket_ids_are_two_digit_runs() {
        assert!(super::valid_socket_id("123.456"));
        for bad in ["", "1", "1.", ".1", "1.2.3", "a.1", "1.2\n"] {
            assert!(!super::valid_socket_id(bad), "{bad:?}");
        }
    }
}
