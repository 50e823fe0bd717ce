//! A WebSocket client for protocol 7 that stays connected.
//!
//! It reconnects with exponential backoff and jitter (or at once, or never, by the close code), keeps
//! the set of channels the caller asked for and subscribes them again on every new connection, and
//! reports each (re)subscription as [`SubscriberEvent::Subscribed`]: Pusher does not replay what was
//! published while a client was away, so that is the caller's cue to catch up from its own API.

use std::collections::BTreeSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use futures_util::stream::FuturesUnordered;
use futures_util::{SinkExt, StreamExt};
use rand::Rng;
use serde_json::Value;
use tokio::sync::mpsc;
use tokio::time::{sleep_until, timeout, Instant};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;
use url::Url;

use crate::channel::{ChannelKind, ChannelName};
use crate::protocol::{self, Frame, ReconnectPolicy, PROTOCOL_VERSION};

/// How to reach the server and how patient to be.
#[derive(Debug, Clone)]
pub struct SubscriberConfig {
    /// `ws://host:port` or `wss://host:port`; `/app/{key}?protocol=7…` is appended.
    pub base_url: Url,
    pub key: String,
    /// The longest silence before the client pings; the server's own value wins when it is lower.
    pub activity_timeout: Duration,
    /// How long to wait for `pusher:pong` before treating the connection as dead.
    pub pong_timeout: Duration,
    /// How long to wait for the TCP/TLS/WebSocket handshake and `pusher:connection_established`.
    pub connect_timeout: Duration,
    pub min_backoff: Duration,
    pub max_backoff: Duration,
}

impl SubscriberConfig {
    pub fn for_cluster(key: impl Into<String>, cluster: &str) -> Result<Self, url::ParseError> {
        Ok(Self::new(Url::parse(&format!("wss://ws-{cluster}.pusher.com:443"))?, key))
    }

    pub fn for_host(key: impl Into<String>, host: &str, port: u16, tls: bool) -> Result<Self, url::ParseError> {
        let scheme = if tls { "wss" } else { "ws" };
        Ok(Self::new(Url::parse(&format!("{scheme}://{host}:{port}"))?, key))
    }

    pub fn new(base_url: Url, key: impl Into<String>) -> Self {
        Self {
            base_url,
            key: key.into(),
            activity_timeout: Duration::from_secs(120),
            pong_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            min_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(30),
        }
    }

    fn connect_url(&self) -> Url {
        let mut url = self.base_url.clone();
        url.set_path(&format!("/app/{}", self.key));
        url.query_pairs_mut()
            .append_pair("protocol", &PROTOCOL_VERSION.to_string())
            .append_pair("client", "chatstudy-rust")
            .append_pair("version", env!("CARGO_PKG_VERSION"))
            .append_pair("flash", "false");
        url
    }

    /// The delay before reconnect attempt `attempt` (0-based); see [`backoff`].
    pub fn backoff(&self, attempt: u32) -> Duration {
        backoff(self.min_backoff, self.max_backoff, attempt)
    }
}

/// Exponential backoff with jitter: doubling from `min` up to `max`, then a random point in the upper
/// half so that many clients do not retry in step. `attempt` is 0-based.
pub fn backoff(min: Duration, max: Duration, attempt: u32) -> Duration {
    let ceiling = min.saturating_mul(1u32 << attempt.min(16)).min(max);
    ceiling.mul_f64(rand::thread_rng().gen_range(0.5..=1.0))
}

/// Why the application refused to authorize a private channel.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct AuthorizeError {
    /// The HTTP status of the application's auth endpoint, when there was one.
    pub status: Option<u16>,
    pub message: String,
}

pub type AuthorizeFuture = Pin<Box<dyn Future<Output = Result<String, AuthorizeError>> + Send>>;

/// Produces the `auth` string for `(socket_id, channel_name)`; in an application it asks its backend.
pub trait Authorizer: Send + Sync + 'static {
    fn authorize(&self, socket_id: &str, channel_name: &str) -> AuthorizeFuture;
}

impl<F, Fut> Authorizer for F
where
    F: Fn(String, String) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<String, AuthorizeError>> + Send + 'static,
{
    fn authorize(&self, socket_id: &str, channel_name: &str) -> AuthorizeFuture {
        Box::pin(self(socket_id.to_owned(), channel_name.to_owned()))
    }
}

/// An authorizer for applications that subscribe to public channels only.
pub fn no_auth() -> Arc<dyn Authorizer> {
    Arc::new(|_: String, channel: String| async move {
        Err(AuthorizeError { status: None, message: format!("no authorizer for {channel}") })
    })
}

/// What the subscriber tells its owner.
#[derive(Debug, Clone, PartialEq)]
pub enum SubscriberEvent {
    /// A connection is established (first or again).
    Connected { socket_id: String },
    /// The server confirmed a subscription: after a reconnect, catch up on what was missed.
    Subscribed { channel: String },
    /// A subscription was refused, by the application's authorizer or by the server.
    SubscriptionFailed { channel: String, status: Option<u16>, message: String },
    /// An application event.
    Message { channel: Option<String>, event: String, data: Option<Value> },
    /// `pusher:error` from the server.
    ServerError { code: Option<u16>, message: String },
    /// The connection is gone; `retry_in` is `None` when the subscriber gave up (4000–4099 or
    /// [`Subscriber::close`]).
    Disconnected { code: Option<u16>, reason: String, retry_in: Option<Duration> },
}

enum Command {
    Subscribe(String),
    Unsubscribe(String),
    Close,
}

/// A handle on the background connection; dropping it closes the connection.
pub struct Subscriber {
    commands: mpsc::UnboundedSender<Command>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Subscriber {
    /// Start connecting. Events arrive on the returned receiver until the subscriber stops.
    pub fn start(config: SubscriberConfig, authorizer: Arc<dyn Authorizer>) -> (Self, mpsc::Receiver<SubscriberEvent>) {
        let (commands, command_rx) = mpsc::unbounded_channel();
        let (events, event_rx) = mpsc::channel(1024);
        let task =
            tokio::spawn(Worker { config, authorizer, events, commands: command_rx, channels: BTreeSet::new() }.run());
        (Self { commands, task: Some(task) }, event_rx)
    }

    /// Subscribe now (if connected) and after every reconnect. Invalid names are reported as
    /// [`SubscriberEvent::SubscriptionFailed`].
    pub fn subscribe(&self, channel: impl Into<String>) {
        let _ = self.commands.send(Command::Subscribe(channel.into()));
    }

    pub fn unsubscribe(&self, channel: impl Into<String>) {
        let _ = self.commands.send(Command::Unsubscribe(channel.into()));
    }

    /// Close the connection with 1000 and stop reconnecting; waits for the task to end.
    pub async fn close(mut self) {
        let _ = self.commands.send(Command::Close);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Subscriber {
    fn drop(&mut self) {
        let _ = self.commands.send(Command::Close);
    }
}

/// Private-channel authorizations under way: (channel, outcome).
type PendingAuth = FuturesUnordered<Pin<Box<dyn Future<Output = (String, Result<String, AuthorizeError>)> + Send>>>;

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// How one connection ended.
enum Ended {
    /// The owner asked to stop, or dropped every handle.
    ByOwner,
    Lost {
        code: Option<u16>,
        reason: String,
    },
}

struct Worker {
    config: SubscriberConfig,
    authorizer: Arc<dyn Authorizer>,
    events: mpsc::Sender<SubscriberEvent>,
    commands: mpsc::UnboundedReceiver<Command>,
    /// The channels the owner wants, kept across connections.
    channels: BTreeSet<String>,
}

impl Worker {
    async fn run(mut self) {
        let mut attempt: u32 = 0;
        loop {
            let (code, reason) = match self.connect().await {
                Ok((socket, socket_id, server_timeout)) => {
                    attempt = 0;
                    match self.serve(socket, socket_id, server_timeout).await {
                        Ended::ByOwner => return,
                        Ended::Lost { code, reason } => (code, reason),
                    }
                }
                Err(Ended::ByOwner) => return,
                Err(Ended::Lost { code, reason }) => (code, reason),
            };
            let delay = match code.map(ReconnectPolicy::for_close_code).unwrap_or(ReconnectPolicy::Backoff) {
                ReconnectPolicy::Never => None,
                ReconnectPolicy::Immediately => Some(Duration::ZERO),
                ReconnectPolicy::Backoff => {
                    attempt = attempt.saturating_add(1);
                    Some(self.config.backoff(attempt - 1))
                }
            };
            let gave_up = delay.is_none();
            if !self.emit(SubscriberEvent::Disconnected { code, reason, retry_in: delay }).await || gave_up {
                return;
            }
            if !self.wait(delay.unwrap_or_default()).await {
                return;
            }
        }
    }

    /// Sleep while still taking commands; false when the owner wants the subscriber to stop.
    async fn wait(&mut self, delay: Duration) -> bool {
        let deadline = Instant::now() + delay;
        loop {
            tokio::select! {
                _ = sleep_until(deadline) => return true,
                command = self.commands.recv() => if !self.remember(command) { return false },
            }
        }
    }

    /// Between connections, a command only changes the wanted channels (they are subscribed when the
    /// connection is up); false when the owner wants the subscriber to stop.
    fn remember(&mut self, command: Option<Command>) -> bool {
        match command {
            None | Some(Command::Close) => return false,
            Some(Command::Subscribe(channel)) => self.channels.insert(channel),
            Some(Command::Unsubscribe(channel)) => self.channels.remove(&channel),
        };
        true
    }

    async fn emit(&self, event: SubscriberEvent) -> bool {
        self.events.send(event).await.is_ok()
    }

    async fn connect(&mut self) -> Result<(Socket, String, Option<u64>), Ended> {
        let lost = |reason: String| Ended::Lost { code: None, reason };
        let url = self.config.connect_url();
        let handshake = async {
            let (mut socket, _) =
                tokio_tungstenite::connect_async(url.as_str()).await.map_err(|e| lost(e.to_string()))?;
            while let Some(message) = socket.next().await {
                match message.map_err(|e| lost(e.to_string()))? {
                    Message::Text(text) => {
                        let frame = Frame::parse(&text).map_err(|e| lost(format!("invalid frame: {e}")))?;
                        match frame.event.as_str() {
                            "pusher:connection_established" => {
                                let data = frame.data().unwrap_or(Value::Null);
                                let socket_id = data["socket_id"]
                                    .as_str()
                                    .ok_or_else(|| lost("connection_established without socket_id".into()))?
                                    .to_owned();
                                return Ok((socket, socket_id, data["activity_timeout"].as_u64()));
                            }
                            "pusher:error" => {
                                let data = frame.data().unwrap_or(Value::Null);
                                return Err(Ended::Lost {
                                    code: data["code"].as_u64().map(|c| c as u16),
                                    reason: data["message"].as_str().unwrap_or("pusher:error").to_owned(),
                                });
                            }
                            _ => {}
                        }
                    }
                    Message::Close(frame) => {
                        return Err(Ended::Lost {
                            code: frame.as_ref().map(|f| u16::from(f.code)),
                            reason: frame.map(|f| f.reason.to_string()).unwrap_or_default(),
                        })
                    }
                    _ => {}
                }
            }
            Err(lost("closed before connection_established".into()))
        };
        let handshake = timeout(self.config.connect_timeout, handshake);
        tokio::pin!(handshake);
        loop {
            tokio::select! {
                result = &mut handshake => return result.unwrap_or_else(|_| Err(lost("timed out connecting".into()))),
                // The handshake goes on; subscriptions wait for the connection.
                command = self.commands.recv() => if !self.remember(command) { return Err(Ended::ByOwner) },
            }
        }
    }

    async fn serve(&mut self, mut socket: Socket, socket_id: String, server_timeout: Option<u64>) -> Ended {
        if !self.emit(SubscriberEvent::Connected { socket_id: socket_id.clone() }).await {
            return Ended::ByOwner;
        }
        let activity = server_timeout
            .map(Duration::from_secs)
            .map_or(self.config.activity_timeout, |server| server.min(self.config.activity_timeout));
        let mut pending_auth = PendingAuth::new();

        for channel in self.channels.clone() {
            if let Some(failed) = self.begin_subscribe(&mut socket, &socket_id, &channel, &mut pending_auth).await {
                return failed;
            }
        }

        let mut deadline = Instant::now() + activity;
        let mut awaiting_pong = false;
        loop {
            tokio::select! {
                message = socket.next() => {
                    deadline = Instant::now() + activity;
                    awaiting_pong = false;
                    let text = match message {
                        None => return Ended::Lost { code: None, reason: "connection closed".into() },
                        Some(Err(e)) => return Ended::Lost { code: None, reason: e.to_string() },
                        Some(Ok(Message::Close(frame))) => return Ended::Lost {
                            code: frame.as_ref().map(|f| u16::from(f.code)),
                            reason: frame.map(|f| f.reason.to_string()).unwrap_or_default(),
                        },
                        Some(Ok(Message::Text(text))) => text,
                        Some(Ok(_)) => continue,
                    };
                    let Ok(frame) = Frame::parse(&text) else {
                        tracing::warn!(frame = %text, "ignoring a malformed frame");
                        continue;
                    };
                    if frame.event == "pusher:ping" {
                        if let Err(e) = socket.send(Message::text(protocol::pong())).await {
                            return Ended::Lost { code: None, reason: e.to_string() };
                        }
                        continue;
                    }
                    if let Some(event) = Self::translate(frame) {
                        if !self.emit(event).await {
                            return self.close(socket).await;
                        }
                    }
                }
                Some((channel, result)) = pending_auth.next(), if !pending_auth.is_empty() => {
                    if !self.channels.contains(&channel) {
                        continue;
                    }
                    match result {
                        Ok(auth) => {
                            if let Err(e) = socket.send(Message::text(protocol::subscribe(&channel, Some(&auth)))).await {
                                return Ended::Lost { code: None, reason: e.to_string() };
                            }
                        }
                        Err(e) => {
                            let event = SubscriberEvent::SubscriptionFailed { channel, status: e.status, message: e.message };
                            if !self.emit(event).await {
                                return self.close(socket).await;
                            }
                        }
                    }
                }
                command = self.commands.recv() => match command {
                    None | Some(Command::Close) => return self.close(socket).await,
                    Some(Command::Subscribe(channel)) => {
                        if self.channels.insert(channel.clone()) {
                            if let Some(failed) = self.begin_subscribe(&mut socket, &socket_id, &channel, &mut pending_auth).await {
                                return failed;
                            }
                        }
                    }
                    Some(Command::Unsubscribe(channel)) => {
                        if self.channels.remove(&channel) {
                            if let Err(e) = socket.send(Message::text(protocol::unsubscribe(&channel))).await {
                                return Ended::Lost { code: None, reason: e.to_string() };
                            }
                        }
                    }
                },
                _ = sleep_until(deadline) => {
                    if awaiting_pong {
                        let _ = socket.close(None).await;
                        return Ended::Lost { code: None, reason: "no pong from the server".into() };
                    }
                    if let Err(e) = socket.send(Message::text(protocol::ping())).await {
                        return Ended::Lost { code: None, reason: e.to_string() };
                    }
                    awaiting_pong = true;
                    deadline = Instant::now() + self.config.pong_timeout;
                }
            }
        }
    }

    /// Send `pusher:subscribe` for a public channel, or start authorizing a private one.
    async fn begin_subscribe(
        &mut self,
        socket: &mut Socket,
        socket_id: &str,
        channel: &str,
        pending_auth: &mut PendingAuth,
    ) -> Option<Ended> {
        match ChannelName::parse(channel) {
            Err(e) => {
                self.channels.remove(channel);
                let event = SubscriberEvent::SubscriptionFailed {
                    channel: channel.to_owned(),
                    status: None,
                    message: e.to_string(),
                };
                (!self.emit(event).await).then_some(Ended::ByOwner)
            }
            Ok(name) if name.kind() == ChannelKind::Public => socket
                .send(Message::text(protocol::subscribe(channel, None)))
                .await
                .err()
                .map(|e| Ended::Lost { code: None, reason: e.to_string() }),
            Ok(_) => {
                let future = self.authorizer.authorize(socket_id, channel);
                let channel = channel.to_owned();
                pending_auth.push(Box::pin(async move { (channel, future.await) }));
                None
            }
        }
    }

    fn translate(frame: Frame) -> Option<SubscriberEvent> {
        let data = frame.data();
        let field = |name: &str| data.as_ref().and_then(|d| d.get(name)).cloned().unwrap_or(Value::Null);
        Some(match frame.event.as_str() {
            "pusher:pong" => return None,
            "pusher_internal:subscription_succeeded" => SubscriberEvent::Subscribed { channel: frame.channel? },
            "pusher:subscription_error" => SubscriberEvent::SubscriptionFailed {
                channel: frame.channel.unwrap_or_default(),
                status: field("status").as_u64().map(|s| s as u16),
                message: field("error")
                    .as_str()
                    .or(field("message").as_str())
                    .unwrap_or("subscription refused")
                    .to_owned(),
            },
            "pusher:error" => SubscriberEvent::ServerError {
                code: field("code").as_u64().map(|c| c as u16),
                message: field("message").as_str().unwrap_or_default().to_owned(),
            },
            _ => SubscriberEvent::Message { channel: frame.channel, event: frame.event, data },
        })
    }

    async fn close(&self, mut socket: Socket) -> Ended {
        let _ = socket.close(Some(CloseFrame { code: CloseCode::Normal, reason: "".into() })).await;
        let _ = self.events.try_send(SubscriberEvent::Disconnected {
            code: Some(1000),
            reason: "closed by the application".into(),
            retry_in: None,
        });
        Ended::ByOwner
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_ceiling_with_jitter() {
        let config = SubscriberConfig::for_host("k", "127.0.0.1", 1, false).unwrap();
        for attempt in 0..20 {
            let ceiling = config.min_backoff.saturating_mul(1 << attempt.min(16)).min(config.max_backoff);
            let delay = config.backoff(attempt);
            assert!(delay <= ceiling && delay >= ceiling / 2, "attempt {attempt}: {delay:?} vs {ceiling:?}");
        }
    }

    #[test]
    fn connect_url_names_key_and_protocol() {
        let config = SubscriberConfig::for_host("app-key", "localhost", 6001, false).unwrap();
        let url = config.connect_url();
        assert_eq!(url.path(), "/app/app-key");
        assert!(url.query().unwrap().contains("protocol=7"));
        let hosted = SubscriberConfig::for_cluster("k", "us2").unwrap();
        assert_eq!(hosted.base_url.as_str(), "wss://ws-us2.pusher.com/");
    }
}
