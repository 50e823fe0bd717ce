//! One WebSocket connection: the protocol state machine ([`Connection::handle`], no I/O) and the task
//! that moves frames between the socket, the registry and the timers.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use futures_util::SinkExt;
use rand::Rng;
use serde_json::Value;
use tokio::sync::mpsc;
use tokio::time::{sleep_until, Instant};
use tokio_util::sync::CancellationToken;

use super::{Relay, Subscriber};
use crate::channel::{ChannelKind, ChannelName};
use crate::protocol::{self, codes, Frame};

/// Accept the upgrade, then refuse inside the protocol when something is wrong: a close code tells a
/// Pusher client not to retry, where an HTTP error would have it reconnect forever.
pub(super) async fn upgrade(
    State(relay): State<Relay>,
    Path(key): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Response {
    let config = relay.config();
    let refusal = refusal(&relay, &key, &query, &headers);
    upgrade
        // Small buffers: an idle subscriber should cost kilobytes, not the 128 KiB default.
        .read_buffer_size(4 * 1024)
        .write_buffer_size(0)
        .max_message_size(config.max_client_message_bytes)
        .max_frame_size(config.max_client_message_bytes)
        .on_upgrade(move |socket| async move {
            match refusal {
                Some((code, message)) => refuse(socket, code, message).await,
                None => run(relay, socket).await,
            }
        })
}

fn refusal(
    relay: &Relay,
    key: &str,
    query: &HashMap<String, String>,
    headers: &HeaderMap,
) -> Option<(u16, &'static str)> {
    let config = relay.config();
    if key != config.credentials.key {
        return Some((codes::APP_DOES_NOT_EXIST, "Application does not exist"));
    }
    match query.get("protocol").map(|p| p.parse::<u8>()) {
        None => return Some((codes::NO_PROTOCOL, "No protocol version supplied")),
        Some(Err(_)) => return Some((codes::INVALID_VERSION, "Invalid version string format")),
        Some(Ok(4..=7)) => {}
        Some(Ok(_)) => return Some((codes::UNSUPPORTED_PROTOCOL, "Unsupported protocol version")),
    }
    if let Some(allowed) = &config.allowed_origins {
        let origin = headers.get(axum::http::header::ORIGIN).and_then(|o| o.to_str().ok());
        if !origin.is_some_and(|o| allowed.iter().any(|a| a == o)) {
            return Some((codes::UNAUTHORIZED, "Origin not allowed"));
        }
    }
    if relay.connection_count() >= config.max_connections {
        return Some((codes::OVER_CAPACITY, "Over capacity"));
    }
    None
}

async fn send_all(socket: &mut WebSocket, frames: Vec<Utf8Bytes>) -> Result<(), axum::Error> {
    for frame in frames {
        socket.feed(Message::Text(frame)).await?;
    }
    socket.flush().await
}

async fn refuse(mut socket: WebSocket, code: u16, message: &'static str) {
    let _ = socket.send(Message::text(protocol::error(Some(code), message))).await;
    let _ = socket.send(Message::Close(Some(CloseFrame { code, reason: message.into() }))).await;
}

/// Keeps the open-connection count honest however the task ends.
struct Counted(Relay);

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.inner.connections.fetch_sub(1, Ordering::Relaxed);
    }
}

async fn run(relay: Relay, mut socket: WebSocket) {
    relay.inner.connections.fetch_add(1, Ordering::Relaxed);
    let _counted = Counted(relay.clone());
    let activity = relay.config().activity_timeout;
    let pong_timeout = relay.config().pong_timeout;
    let shutdown = relay.inner.shutdown.clone();
    let (mut connection, mut queue) = Connection::new(relay);

    let established = protocol::connection_established(&connection.socket_id, activity.as_secs());
    let mut close = None;
    if socket.send(Message::text(established)).await.is_ok() {
        let mut deadline = Instant::now() + activity;
        let mut awaiting_pong = false;
        close = loop {
            tokio::select! {
                biased;
                _ = shutdown.cancelled() => break Some((codes::RECONNECT, "Server is restarting")),
                _ = connection.kick.cancelled() => break Some((codes::OVER_CAPACITY, "Connection fell behind")),
                Some(frame) = queue.recv() => {
                    // Write what else is already queued in the same flush: one syscall for a burst.
                    let mut burst = vec![frame];
                    while burst.len() < 64 {
                        match queue.try_recv() {
                            Ok(frame) => burst.push(frame),
                            Err(_) => break,
                        }
                    }
                    if send_all(&mut socket, burst).await.is_err() {
                        break None;
                    }
                }
                message = socket.recv() => {
                    deadline = Instant::now() + activity;
                    awaiting_pong = false;
                    let replies = match message {
                        Some(Ok(Message::Text(text))) => connection.handle(&text),
                        Some(Ok(Message::Binary(_))) => vec![protocol::error(None, "Binary frames are not supported")],
                        Some(Ok(Message::Close(_))) | None => break None,
                        Some(Ok(_)) => continue,
                        // tungstenite refuses oversize messages as a "capacity" error; anything else is
                        // a broken or malformed stream.
                        Some(Err(e)) if e.to_string().contains("too long") => break Some((1009, "Message too big")),
                        Some(Err(_)) => break Some((1002, "Protocol error")),
                    };
                    let mut failed = false;
                    for reply in replies {
                        if socket.send(Message::text(reply)).await.is_err() {
                            failed = true;
                            break;
                        }
                    }
                    if failed {
                        break None;
                    }
                }
                _ = sleep_until(deadline) => {
                    if awaiting_pong {
                        break Some((codes::PONG_NOT_RECEIVED, "Pong reply not received"));
                    }
                    if socket.send(Message::text(protocol::ping())).await.is_err() {
                        break None;
                    }
                    awaiting_pong = true;
                    deadline = Instant::now() + pong_timeout;
                }
            }
        };
    }
    connection.leave_all();
    if let Some((code, reason)) = close {
        let _ = socket.send(Message::Close(Some(CloseFrame { code, reason: reason.into() }))).await;
    }
}

/// A connection's protocol state: who it is and what it is subscribed to.
pub struct Connection {
    relay: Relay,
    id: u64,
    pub(crate) socket_id: Arc<str>,
    queue: mpsc::Sender<Utf8Bytes>,
    kick: CancellationToken,
    channels: HashSet<String>,
}

impl Connection {
    /// A connection registered with `relay`, and the queue of frames published to it.
    pub fn new(relay: Relay) -> (Self, mpsc::Receiver<Utf8Bytes>) {
        let (queue, receiver) = mpsc::channel(relay.config().outbound_queue);
        let mut rng = rand::thread_rng();
        let socket_id: Arc<str> = format!("{}.{}", rng.gen_range(1..u32::MAX), rng.gen_range(1..u32::MAX)).into();
        let id = relay.inner.next_connection.fetch_add(1, Ordering::Relaxed);
        (Self { relay, id, socket_id, queue, kick: CancellationToken::new(), channels: HashSet::new() }, receiver)
    }

    pub fn socket_id(&self) -> &str {
        &self.socket_id
    }

    /// React to one text frame from the client; returns the frames to send back, in order.
    pub fn handle(&mut self, text: &str) -> Vec<String> {
        let Ok(frame) = Frame::parse(text) else {
            return vec![protocol::error(None, "Invalid JSON frame: expected {\"event\": …, \"data\": …}")];
        };
        match frame.event.as_str() {
            "pusher:ping" => vec![protocol::pong()],
            "pusher:pong" => vec![],
            "pusher:subscribe" => vec![self.subscribe(frame.data().unwrap_or(Value::Null))],
            "pusher:unsubscribe" => {
                if let Some(channel) = frame.data().as_ref().and_then(|d| d["channel"].as_str()) {
                    if self.channels.remove(channel) {
                        self.relay.unsubscribe(channel, self.id);
                    }
                }
                vec![]
            }
            event if event.starts_with("client-") => {
                vec![protocol::error(None, "Client events are not enabled on this relay")]
            }
            _ => vec![protocol::error(None, "Unsupported event")],
        }
    }

    fn subscribe(&mut self, data: Value) -> String {
        let Some(raw) = data["channel"].as_str() else {
            return protocol::error(None, "pusher:subscribe needs data.channel");
        };
        let channel = match ChannelName::parse(raw) {
            Ok(channel) => channel,
            Err(e) => return protocol::subscription_error(raw, 400, &e.to_string()),
        };
        if self.channels.contains(raw) {
            return protocol::subscription_succeeded(raw);
        }
        if self.channels.len() >= self.relay.config().max_channels_per_connection {
            return protocol::subscription_error(raw, 400, "Too many channels on one connection");
        }
        match channel.kind() {
            ChannelKind::Public => {}
            ChannelKind::Private => {
                let auth = data["auth"].as_str().unwrap_or_default();
                if !self.relay.config().credentials.verify_channel_auth(&self.socket_id, raw, auth) {
                    return protocol::subscription_error(raw, 401, "Invalid signature");
                }
            }
            ChannelKind::Presence => {
                return protocol::subscription_error(raw, 400, "Presence channels are not supported by this relay");
            }
        }
        self.relay.subscribe(
            raw,
            self.id,
            Subscriber { socket_id: self.socket_id.clone(), queue: self.queue.clone(), kick: self.kick.clone() },
        );
        self.channels.insert(raw.to_owned());
        protocol::subscription_succeeded(raw)
    }

    fn leave_all(&mut self) {
        for channel in self.channels.drain() {
            self.relay.unsubscribe(&channel, self.id);
        }
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.leave_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::relay::RelayConfig;
    use crate::{Credentials, Event};

    fn relay() -> Relay {
        Relay::new(RelayConfig::new(Credentials::new("1", "key", "secret")))
    }

    fn event_of(reply: &str) -> (String, Option<String>, Value) {
        let frame = Frame::parse(reply).unwrap();
        let data = frame.data().unwrap_or(Value::Null);
        (frame.event, frame.channel, data)
    }

    #[test]
    fn public_subscription_then_delivery_then_unsubscribe() {
        let relay = relay();
        let (mut connection, mut queue) = Connection::new(relay.clone());
        let replies = connection.handle(r#"{"event":"pusher:subscribe","data":{"channel":"news"}}"#);
        assert_eq!(event_of(&replies[0]).0, "pusher_internal:subscription_succeeded");
        assert_eq!(relay.deliver(&Event::new("e", vec!["news".into()], "hola")).unwrap(), 1);
        let (event, channel, data) = event_of(&queue.try_recv().unwrap());
        assert_eq!((event.as_str(), channel.as_deref(), data), ("e", Some("news"), Value::String("hola".into())));
        connection.handle(r#"{"event":"pusher:unsubscribe","data":{"channel":"news"}}"#);
        assert_eq!(relay.deliver(&Event::new("e", vec!["news".into()], "x")).unwrap(), 0);
    }

    #[test]
    fn private_channels_need_this_sockets_signature() {
        let relay = relay();
        let (mut a, _qa) = Connection::new(relay.clone());
        let (mut b, _qb) = Connection::new(relay.clone());
        let for_b = relay.config().credentials.channel_auth(b.socket_id(), "private-chat-1");
        let stolen =
            format!(r#"{{"event":"pusher:subscribe","data":{{"channel":"private-chat-1","auth":"{for_b}"}}}}"#);
        let (event, channel, data) = event_of(&a.handle(&stolen)[0]);
        assert_eq!(
            (event.as_str(), channel.as_deref(), data["status"].as_u64()),
            ("pusher:subscription_error", Some("private-chat-1"), Some(401))
        );
        let (event, _, _) =
            event_of(&a.handle(r#"{"event":"pusher:subscribe","data":{"channel":"private-chat-1"}}"#)[0]);
        assert_eq!(event, "pusher:subscription_error");
        assert_eq!(event_of(&b.handle(&stolen)[0]).0, "pusher_internal:subscription_succeeded");
        assert_eq!(relay.subscriber_count("private-chat-1"), 1);
    }

    #[test]
    fn bad_frames_get_protocol_errors_and_change_nothing() {
        let relay = relay();
        let (mut connection, _queue) = Connection::new(relay.clone());
        for bad in [
            "not json",
            "{}",
            r#"{"event":"pusher:subscribe"}"#,
            r#"{"event":"pusher:subscribe","data":{"channel":"bad name"}}"#,
            r#"{"event":"pusher:subscribe","data":{"channel":"presence-x"}}"#,
            r#"{"event":"client-typing","channel":"private-x","data":{}}"#,
            r#"{"event":"unknown"}"#,
        ] {
            let replies = connection.handle(bad);
            assert_eq!(replies.len(), 1, "{bad}");
            assert!(event_of(&replies[0]).0.starts_with("pusher:"), "{bad}");
            assert!(!event_of(&replies[0]).0.contains("succeeded"), "{bad}");
        }
        assert_eq!(connection.handle(r#"{"event":"pusher:ping","data":{}}"#), vec![protocol::pong()]);
        assert!(connection.channels.is_empty());
    }

    #[test]
    fn the_sender_socket_is_excluded_and_closed_connections_leave_their_channels() {
        let relay = relay();
        let (mut a, mut qa) = Connection::new(relay.clone());
        let (mut b, mut qb) = Connection::new(relay.clone());
        for c in [&mut a, &mut b] {
            c.handle(r#"{"event":"pusher:subscribe","data":{"channel":"room"}}"#);
        }
        let event = Event::new("e", vec!["room".into()], "{}").excluding(a.socket_id().to_owned());
        assert_eq!(relay.deliver(&event).unwrap(), 1);
        assert!(qa.try_recv().is_err());
        assert!(qb.try_recv().is_ok());
        drop(a);
        assert_eq!(relay.subscriber_count("room"), 1);
    }

    #[test]
    fn a_subscriber_that_falls_behind_is_kicked_not_buffered() {
        let mut config = RelayConfig::new(Credentials::new("1", "key", "secret"));
        config.outbound_queue = 2;
        let relay = Relay::new(config);
        let (mut connection, _queue) = Connection::new(relay.clone());
        connection.handle(r#"{"event":"pusher:subscribe","data":{"channel":"room"}}"#);
        for _ in 0..3 {
            relay.deliver(&Event::new("e", vec!["room".into()], "{}")).unwrap();
        }
        assert!(connection.kick.is_cancelled());
    }
}
