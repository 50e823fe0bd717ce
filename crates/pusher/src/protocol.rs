//! WebSocket frames of protocol 7: `{"event": …, "channel": …, "data": …}`.
//!
//! Servers send `data` as a JSON-encoded string for most events, as an object for `pusher:error`, and
//! sometimes not at all; [`Frame::data`] accepts all three.

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub const PROTOCOL_VERSION: u8 = 7;

/// Close and error codes (Pusher's protocol reference).
pub mod codes {
    /// 4000–4099: the connection must not be re-established as it is.
    pub const APP_DOES_NOT_EXIST: u16 = 4001;
    pub const PATH_NOT_FOUND: u16 = 4005;
    pub const INVALID_VERSION: u16 = 4006;
    pub const UNSUPPORTED_PROTOCOL: u16 = 4007;
    pub const NO_PROTOCOL: u16 = 4008;
    pub const UNAUTHORIZED: u16 = 4009;
    /// 4100–4199: try again after backing off.
    pub const OVER_CAPACITY: u16 = 4100;
    /// 4200–4299: reconnect at once.
    pub const RECONNECT: u16 = 4200;
    pub const PONG_NOT_RECEIVED: u16 = 4201;
    pub const CLOSED_AFTER_INACTIVITY: u16 = 4202;
    /// 4300–4399: an event was refused; the connection stays.
    pub const CLIENT_EVENT_REJECTED: u16 = 4301;
}

/// What a client should do after the server closed the connection with `code`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReconnectPolicy {
    /// 4000–4099: the settings are wrong; reconnecting would fail the same way.
    Never,
    /// 4200–4299.
    Immediately,
    /// 4100–4199 and everything else (network errors, 1006, server restarts).
    Backoff,
}

impl ReconnectPolicy {
    pub fn for_close_code(code: u16) -> Self {
        match code {
            4000..=4099 => Self::Never,
            4200..=4299 => Self::Immediately,
            _ => Self::Backoff,
        }
    }
}

/// One frame, as read off the wire.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct Frame {
    pub event: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<Value>,
}

impl Frame {
    pub fn parse(text: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(text)
    }

    /// `data` decoded: a string holding JSON is parsed, any other string stays a string, an object stays
    /// an object, an absent field is `None`.
    pub fn data(&self) -> Option<Value> {
        match &self.data {
            Some(Value::String(s)) => Some(serde_json::from_str(s).unwrap_or_else(|_| Value::String(s.clone()))),
            other => other.clone(),
        }
    }

    /// `data` as the raw string an application sent, re-encoding an object when a server sent one.
    pub fn data_string(&self) -> Option<String> {
        match &self.data {
            Some(Value::String(s)) => Some(s.clone()),
            Some(other) => Some(other.to_string()),
            None => None,
        }
    }
}

fn encode(event: &str, channel: Option<&str>, data: Value) -> String {
    serde_json::to_string(&Frame { event: event.to_owned(), channel: channel.map(str::to_owned), data: Some(data) })
        .expect("frames always serialize")
}

pub fn connection_established(socket_id: &str, activity_timeout: u64) -> String {
    let data = serde_json::json!({ "socket_id": socket_id, "activity_timeout": activity_timeout });
    encode("pusher:connection_established", None, Value::String(data.to_string()))
}

/// `pusher:error`; `code` is null for errors that are not tied to a close code.
pub fn error(code: Option<u16>, message: &str) -> String {
    encode("pusher:error", None, serde_json::json!({ "code": code, "message": message }))
}

/// `pusher:subscription_error` for one channel, in the shape soketi and sockudo use.
pub fn subscription_error(channel: &str, status: u16, message: &str) -> String {
    let data = serde_json::json!({ "type": "AuthError", "error": message, "status": status });
    encode("pusher:subscription_error", Some(channel), data)
}

pub fn subscription_succeeded(channel: &str) -> String {
    encode("pusher_internal:subscription_succeeded", Some(channel), Value::String("{}".into()))
}

pub fn ping() -> String {
    encode("pusher:ping", None, Value::String("{}".into()))
}

pub fn pong() -> String {
    encode("pusher:pong", None, Value::String("{}".into()))
}

/// An application event; `data` is the application's string, sent as a JSON string.
pub fn event(channel: &str, event: &str, data: &str) -> String {
    encode(event, Some(channel), Value::String(data.to_owned()))
}

/// A client's `pusher:subscribe`.
pub fn subscribe(channel: &str, auth: Option<&str>) -> String {
    let mut data = serde_json::json!({ "channel": channel });
    if let Some(auth) = auth {
        data["auth"] = Value::String(auth.to_owned());
    }
    encode("pusher:subscribe", None, data)
}

pub fn unsubscribe(channel: &str) -> String {
    encode("pusher:unsubscribe", None, serde_json::json!({ "channel": channel }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_arrives_as_string_object_or_not_at_all() {
        let s = Frame::parse(r#"{"event":"e","channel":"c","data":"{\"a\":1}"}"#).unwrap();
        assert_eq!(s.data(), Some(serde_json::json!({"a": 1})));
        assert_eq!(s.data_string().as_deref(), Some(r#"{"a":1}"#));
        let o = Frame::parse(r#"{"event":"e","data":{"a":1}}"#).unwrap();
        assert_eq!(o.data(), Some(serde_json::json!({"a": 1})));
        assert_eq!(o.data_string().as_deref(), Some(r#"{"a":1}"#));
        let plain = Frame::parse(r#"{"event":"e","data":"hola"}"#).unwrap();
        assert_eq!(plain.data(), Some(Value::String("hola".into())));
        let none = Frame::parse(r#"{"event":"e"}"#).unwrap();
        assert_eq!((none.channel, none.data), (None, None));
    }

    #[test]
    fn malformed_frames_are_errors_not_panics() {
        for bad in ["", "{", "[]", "null", r#"{"channel":"c"}"#, r#"{"event":1}"#] {
            assert!(Frame::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn connection_established_carries_socket_id_and_timeout_in_a_string() {
        let frame = Frame::parse(&connection_established("1.2", 120)).unwrap();
        assert_eq!(frame.event, "pusher:connection_established");
        assert!(matches!(frame.data, Some(Value::String(_))));
        assert_eq!(frame.data().unwrap()["socket_id"], "1.2");
        assert_eq!(frame.data().unwrap()["activity_timeout"], 120);
    }

    #[test]
    fn close_code_ranges_decide_reconnection() {
        assert_eq!(ReconnectPolicy::for_close_code(4001), ReconnectPolicy::Never);
        assert_eq!(ReconnectPolicy::for_close_code(4100), ReconnectPolicy::Backoff);
        assert_eq!(ReconnectPolicy::for_close_code(4200), ReconnectPolicy::Immediately);
        assert_eq!(ReconnectPolicy::for_close_code(4299), ReconnectPolicy::Immediately);
        assert_eq!(ReconnectPolicy::for_close_code(1006), ReconnectPolicy::Backoff);
    }
}
