//! A real server on a fresh PostgreSQL database per test, with its built-in relay, reached over HTTP
//! and WebSocket like any client.

use std::sync::Arc;
use std::time::Duration;

use chatstudy_pusher::subscriber::{AuthorizeError, Subscriber, SubscriberConfig, SubscriberEvent};
use chatstudy_server::domain::Role;
use chatstudy_server::{cli, Config};
use serde_json::{json, Value};
use sqlx::PgPool;
use tokio::sync::mpsc;

pub use chatstudy_testkit::{admin_url, fresh_database, Server, PASSWORD};

/// A running server with an HTTP client and a pool on its database.
pub struct TestApp {
    server: Server,
    pub base: String,
    pub relay_port: Option<u16>,
    pub pool: PgPool,
    pub http: reqwest::Client,
    pub state: chatstudy_server::startup::AppState,
}

/// Start a server; `None` when the test should be skipped (no database configured).
pub async fn spawn_app_with(adjust: impl FnOnce(&mut Config)) -> Option<TestApp> {
    Some(TestApp::from(Server::start_with(adjust).await?))
}

pub async fn spawn_app() -> Option<TestApp> {
    spawn_app_with(|_| {}).await
}

/// Start a server on an existing database.
pub async fn start_on(database_url: &str) -> TestApp {
    TestApp::from(Server::start_on(database_url, |_| {}).await)
}

impl From<Server> for TestApp {
    fn from(server: Server) -> Self {
        Self {
            base: server.url(),
            relay_port: server.relay_port(),
            pool: server.pool.clone(),
            http: reqwest::Client::new(),
            state: server.state().clone(),
            server,
        }
    }
}

pub struct User {
    pub id: i32,
    pub token: String,
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Stop the server and wait for its graceful shutdown to finish.
    pub async fn stop(mut self) {
        self.server.stop().await;
    }

    pub async fn add_user(&self, rol: Role, name: &str) -> i32 {
        let email = format!("{name}@test.chatstudy");
        cli::add_user(&self.pool, rol, &email, name, PASSWORD).await.expect("add user")
    }

    pub async fn login(&self, email: &str, password: &str) -> reqwest::Response {
        self.http
            .post(self.url("/auth/login"))
            .json(&json!({ "email": email, "password": password }))
            .send()
            .await
            .unwrap()
    }

    /// A user with a session.
    pub async fn user(&self, rol: Role, name: &str) -> User {
        let id = self.add_user(rol, name).await;
        let email = format!("{name}@test.chatstudy");
        let body: Value = self.login(&email, PASSWORD).await.json().await.unwrap();
        User { id, token: body["token"].as_str().expect("login gives a token").to_owned() }
    }

    /// A student, an advisor and their conversation.
    pub async fn pair(&self) -> (User, User, i32) {
        let student = self.user(Role::Estudiante, "estudiante").await;
        let advisor = self.user(Role::Asesor, "asesor").await;
        let response = self.post(&student, "/chat/conversaciones", json!({ "userId": advisor.id })).await;
        assert_eq!(response.status(), 201);
        let body: Value = response.json().await.unwrap();
        (student, advisor, body["conversacion"]["id"].as_i64().unwrap() as i32)
    }

    pub async fn get(&self, user: &User, path: &str) -> reqwest::Response {
        self.http.get(self.url(path)).bearer_auth(&user.token).send().await.unwrap()
    }

    pub async fn post(&self, user: &User, path: &str, body: Value) -> reqwest::Response {
        self.http.post(self.url(path)).bearer_auth(&user.token).json(&body).send().await.unwrap()
    }

    pub async fn send(&self, user: &User, chat: i32, content: &str) -> reqwest::Response {
        self.post(user, "/chat/mensajes", json!({ "chatId": chat, "content": content, "senderId": user.id })).await
    }

    pub async fn last_activity(&self, chat: i32) -> chrono::DateTime<chrono::Utc> {
        sqlx::query_scalar("SELECT ultima_actividad FROM chats_conversacion WHERE id = $1")
            .bind(chat)
            .fetch_one(&self.pool)
            .await
            .unwrap()
    }

    /// Point the server at an external Pusher-compatible server instead of its relay.
    pub fn use_pusher_server(config: &mut Config, credentials: &chatstudy_pusher::Credentials, port: u16) {
        config.pusher_app_id = Some(credentials.app_id.clone());
        config.pusher_key = Some(credentials.key.clone());
        config.pusher_secret = Some(credentials.secret.clone());
        config.pusher_host = Some("127.0.0.1".into());
        config.pusher_port = Some(port);
        config.pusher_use_tls = Some(false);
    }

    pub async fn count(&self, sql: &str) -> i64 {
        sqlx::query_scalar(sql).fetch_one(&self.pool).await.unwrap()
    }

    /// A subscriber on the server's realtime endpoint that authorizes through `/pusher/auth` with
    /// `user`'s session, subscribed to `channel` (waits for the confirmation).
    pub async fn subscribe(&self, user: &User, channel: &str) -> (Subscriber, mpsc::Receiver<SubscriberEvent>) {
        let settings: Value = self.get(user, "/chat/realtime").await.json().await.unwrap();
        let config = SubscriberConfig::for_host(
            settings["key"].as_str().unwrap(),
            settings["host"].as_str().unwrap(),
            settings["port"].as_u64().unwrap() as u16,
            false,
        )
        .unwrap();
        subscribe_with(config, self.url("/pusher/auth"), user.token.clone(), channel).await
    }
}

pub async fn subscribe_with(
    config: SubscriberConfig,
    auth_url: String,
    token: String,
    channel: &str,
) -> (Subscriber, mpsc::Receiver<SubscriberEvent>) {
    let http = reqwest::Client::new();
    let authorizer = Arc::new(move |socket_id: String, channel_name: String| {
        let (http, auth_url, token) = (http.clone(), auth_url.clone(), token.clone());
        async move {
            let response = http
                .post(&auth_url)
                .bearer_auth(&token)
                .form(&[("socket_id", socket_id), ("channel_name", channel_name)])
                .send()
                .await
                .map_err(|e| AuthorizeError { status: None, message: e.to_string() })?;
            let status = response.status().as_u16();
            let body: Value = response.json().await.unwrap_or_default();
            match body["auth"].as_str() {
                Some(auth) if status == 200 => Ok(auth.to_owned()),
                _ => Err(AuthorizeError { status: Some(status), message: body.to_string() }),
            }
        }
    });
    let (subscriber, mut events) = Subscriber::start(config, authorizer);
    subscriber.subscribe(channel);
    loop {
        match next_event(&mut events).await {
            SubscriberEvent::Subscribed { channel: c } if c == channel => break,
            SubscriberEvent::SubscriptionFailed { channel: c, message, .. } if c == channel => {
                panic!("subscription to {channel} refused: {message}")
            }
            _ => {}
        }
    }
    (subscriber, events)
}

pub async fn next_event(events: &mut mpsc::Receiver<SubscriberEvent>) -> SubscriberEvent {
    tokio::time::timeout(Duration::from_secs(10), events.recv())
        .await
        .expect("an event within 10 s")
        .expect("subscriber still running")
}

/// The next application event named `name`, skipping connection bookkeeping.
pub async fn next_message(events: &mut mpsc::Receiver<SubscriberEvent>, name: &str) -> (Option<String>, Value) {
    loop {
        if let SubscriberEvent::Message { channel, event, data } = next_event(events).await {
            if event == name {
                return (channel, data.unwrap_or(Value::Null));
            }
        }
    }
}

/// Asserts that no application event arrives within `wait`.
pub async fn assert_quiet(events: &mut mpsc::Receiver<SubscriberEvent>, wait: Duration) {
    let deadline = tokio::time::Instant::now() + wait;
    while let Ok(Some(event)) = tokio::time::timeout_at(deadline, events.recv()).await {
        assert!(!matches!(event, SubscriberEvent::Message { .. }), "unexpected event {event:?}");
    }
}

/// The sockudo that `make test` starts: its port and app credentials, or `None` to skip.
pub fn sockudo() -> Option<(u16, chatstudy_pusher::Credentials)> {
    let Ok(port) = std::env::var("SOCKUDO_PORT") else {
        if chatstudy_testkit::services_required() {
            panic!("SOCKUDO_PORT is not set; run `make test`, which starts sockudo");
        }
        eprintln!("skipped: SOCKUDO_PORT is not set (run `make test`)");
        return None;
    };
    let var = |name: &str| std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set"));
    let credentials =
        chatstudy_pusher::Credentials::new(var("SOCKUDO_APP_ID"), var("SOCKUDO_KEY"), var("SOCKUDO_SECRET"));
    Some((port.parse().expect("SOCKUDO_PORT is a port"), credentials))
}
