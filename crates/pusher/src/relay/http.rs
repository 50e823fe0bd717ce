//! The HTTP events API: `POST /apps/{app_id}/events` and `/batch_events`, signed as Pusher signs them.

use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::{OriginalUri, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::Relay;
use crate::auth::verify_request;
use crate::{Event, PublishError, MAX_EVENTS_PER_BATCH};

/// 100 channel names and 10 KB of data fit with room to spare; a batch of 10 such events too.
pub(super) const MAX_BODY_BYTES: usize = 256 * 1024;

#[derive(Deserialize)]
struct EventBody {
    name: String,
    #[serde(default)]
    data: Value,
    #[serde(default)]
    channels: Option<Vec<String>>,
    #[serde(default)]
    channel: Option<String>,
    #[serde(default)]
    socket_id: Option<String>,
}

#[derive(Deserialize)]
struct BatchBody {
    batch: Vec<EventBody>,
}

/// A refused request: its status and `{"error": message}`.
struct HttpError(StatusCode, String);

impl IntoResponse for HttpError {
    fn into_response(self) -> Response {
        (self.0, Json(json!({ "error": self.1 }))).into_response()
    }
}

fn error(status: StatusCode, message: impl Into<String>) -> HttpError {
    HttpError(status, message.into())
}

impl EventBody {
    fn into_event(self) -> Result<Event, HttpError> {
        let channels = match (self.channels, self.channel) {
            (Some(channels), None) => channels,
            (None, Some(channel)) => vec![channel],
            _ => return Err(error(StatusCode::BAD_REQUEST, "give exactly one of channels or channel")),
        };
        // Pusher's SDKs send data as a string; accept an object as its JSON text.
        let data = match self.data {
            Value::String(s) => s,
            Value::Null => String::new(),
            other => other.to_string(),
        };
        if let Some(socket_id) = &self.socket_id {
            let valid = socket_id.split_once('.').is_some_and(|(a, b)| {
                !a.is_empty() && !b.is_empty() && a.bytes().chain(b.bytes()).all(|c| c.is_ascii_digit())
            });
            if !valid {
                return Err(error(StatusCode::BAD_REQUEST, "invalid socket_id"));
            }
        }
        let event = Event { name: self.name, channels, data, socket_id: self.socket_id };
        event.validate().map_err(|e| match e {
            PublishError::TooLarge { .. } => error(StatusCode::PAYLOAD_TOO_LARGE, e.to_string()),
            other => error(StatusCode::BAD_REQUEST, other.to_string()),
        })?;
        Ok(event)
    }
}

/// App id, then signature, timestamp and body checks.
fn authenticate(
    relay: &Relay,
    app_id: &str,
    uri: &axum::http::Uri,
    query: &[(String, String)],
    body: &[u8],
) -> Result<(), HttpError> {
    let credentials = &relay.config().credentials;
    if app_id != credentials.app_id {
        return Err(error(StatusCode::NOT_FOUND, "unknown app_id"));
    }
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    verify_request(credentials, "POST", uri.path(), query, body, now, relay.config().max_timestamp_skew)
        .map_err(|e| error(StatusCode::UNAUTHORIZED, e.to_string()))
}

/// Authenticate the request, then parse its body as `T`.
fn signed_body<T: serde::de::DeserializeOwned>(
    relay: &Relay,
    app_id: &str,
    uri: &axum::http::Uri,
    query: &[(String, String)],
    body: &[u8],
) -> Result<T, HttpError> {
    authenticate(relay, app_id, uri, query, body)?;
    serde_json::from_slice(body).map_err(|e| error(StatusCode::BAD_REQUEST, format!("invalid body: {e}")))
}

pub(super) async fn events(
    State(relay): State<Relay>,
    Path(app_id): Path<String>,
    OriginalUri(uri): OriginalUri,
    Query(query): Query<Vec<(String, String)>>,
    body: Bytes,
) -> Response {
    let event = match signed_body::<EventBody>(&relay, &app_id, &uri, &query, &body).and_then(EventBody::into_event) {
        Ok(event) => event,
        Err(refused) => return refused.into_response(),
    };
    match relay.deliver(&event) {
        Ok(_) => Json(json!({})).into_response(),
        Err(e) => error(StatusCode::BAD_REQUEST, e.to_string()).into_response(),
    }
}

pub(super) async fn batch_events(
    State(relay): State<Relay>,
    Path(app_id): Path<String>,
    OriginalUri(uri): OriginalUri,
    Query(query): Query<Vec<(String, String)>>,
    body: Bytes,
) -> Response {
    let batch = match signed_body::<BatchBody>(&relay, &app_id, &uri, &query, &body) {
        Ok(body) => body.batch,
        Err(refused) => return refused.into_response(),
    };
    if batch.is_empty() || batch.len() > MAX_EVENTS_PER_BATCH {
        return error(StatusCode::BAD_REQUEST, format!("a batch holds 1 to {MAX_EVENTS_PER_BATCH} events"))
            .into_response();
    }
    // Validate everything before delivering anything: a batch is accepted or refused whole.
    let mut events = Vec::with_capacity(batch.len());
    for item in batch {
        match item.into_event() {
            Ok(event) => events.push(event),
            Err(refused) => return refused.into_response(),
        }
    }
    for event in &events {
        if let Err(e) = relay.deliver(event) {
            return error(StatusCode::BAD_REQUEST, e.to_string()).into_response();
        }
    }
    Json(json!({})).into_response()
}
