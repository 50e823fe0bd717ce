//! What integration tests across the workspace share: a fresh database per test on the PostgreSQL
//! cluster that `make test` starts, and a real `chatstudy-server` that can be stopped and started
//! again on the same ports.

use chatstudy_server::config::Realtime;
use chatstudy_server::domain::Role;
use chatstudy_server::startup::AppState;
use chatstudy_server::{cli, App, Config};
use sqlx::PgPool;
use tokio::sync::oneshot;

pub const PASSWORD: &str = "contraseña-segura";

/// Whether a missing service is a failure (under `make test`) rather than a reason to skip.
pub fn services_required() -> bool {
    std::env::var_os("CHATSTUDY_REQUIRE_SERVICES").is_some()
}

/// The admin URL of the test cluster, or `None` (the caller skips) when a developer runs
/// `cargo test` without `make test`.
pub fn admin_url() -> Option<String> {
    match std::env::var("TEST_DATABASE_URL") {
        Ok(url) => Some(url),
        Err(_) if services_required() => {
            panic!("TEST_DATABASE_URL is not set; run `make test`, which starts PostgreSQL")
        }
        Err(_) => {
            eprintln!("skipped: TEST_DATABASE_URL is not set (run `make test`)");
            None
        }
    }
}

/// A new empty database on the test cluster; returns its URL.
pub async fn fresh_database(admin: &str) -> String {
    let name = format!("t_{}", uuid::Uuid::new_v4().simple());
    let admin_pool = PgPool::connect(admin).await.expect("connect to the test cluster");
    sqlx::query(&format!("CREATE DATABASE {name}")).execute(&admin_pool).await.expect("create database");
    admin_pool.close().await;
    let mut url = url::Url::parse(admin).expect("TEST_DATABASE_URL is a URL");
    url.set_path(&name);
    url.to_string()
}

/// Test defaults: loopback, ports picked by the OS, no send rate limit, the built-in relay.
pub fn test_config(database_url: &str) -> Config {
    let mut config = Config::from_args(["test"]).expect("defaults parse");
    config.database_url = database_url.to_owned();
    config.host = "127.0.0.1".parse().expect("an address");
    config.port = 0;
    config.relay_port = 0;
    config.send_rate_limit = 0.0;
    config.pusher_app_id = None;
    config.pusher_key = None;
    config.pusher_secret = None;
    config.pusher_cluster = None;
    config.pusher_host = None;
    config
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("a free port").local_addr().expect("an address").port()
}

/// A real server that keeps its ports across restarts, so that clients find it again.
pub struct Server {
    pub config: Config,
    pub pool: PgPool,
    state: Option<AppState>,
    running: Option<(oneshot::Sender<()>, tokio::task::JoinHandle<anyhow::Result<()>>)>,
}

impl Server {
    /// Start on a fresh database; `None` when the test should be skipped.
    pub async fn start_with(adjust: impl FnOnce(&mut Config)) -> Option<Self> {
        let admin = admin_url()?;
        Some(Self::start_on(&fresh_database(&admin).await, adjust).await)
    }

    /// Start on an existing database (e.g. one laid out like the original backend's).
    pub async fn start_on(database_url: &str, adjust: impl FnOnce(&mut Config)) -> Self {
        let mut config = test_config(database_url);
        adjust(&mut config);
        let pool = PgPool::connect(database_url).await.expect("test pool");
        let mut server = Self { config, pool, state: None, running: None };
        server.start().await;
        server
    }

    /// The running server's state (its pool, publisher and realtime settings).
    pub fn state(&self) -> &AppState {
        self.state.as_ref().expect("the server has started")
    }

    /// The built-in relay's port, when the server runs it.
    pub fn relay_port(&self) -> Option<u16> {
        matches!(*self.state().realtime, Realtime::Embedded { .. }).then_some(self.config.relay_port)
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.config.port)
    }

    pub async fn start(&mut self) {
        let app = App::build(self.config.clone()).await.expect("server starts");
        // Ports of the OS's choosing (0) are kept, so that a restart comes back where clients look.
        self.config.port = app.address().port();
        if let Some(relay) = app.relay_address() {
            self.config.relay_port = relay.port();
        }
        self.state = Some(app.state().clone());
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(app.run_until(async move {
            let _ = stopped.await;
        }));
        self.running = Some((stop, task));
    }

    /// Stop gracefully and wait until it has.
    pub async fn stop(&mut self) {
        if let Some((stop, task)) = self.running.take() {
            let _ = stop.send(());
            task.await.expect("server task").expect("server stops cleanly");
        }
    }

    /// A user with [`PASSWORD`]; returns their email.
    pub async fn user(&self, rol: Role, name: &str) -> String {
        let email = format!("{name}@test.chatstudy");
        cli::add_user(&self.pool, rol, &email, name, PASSWORD).await.expect("add user");
        email
    }

    /// How many stored messages have exactly this content.
    pub async fn count(&self, content: &str) -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM chat_mensaje WHERE contenido = $1")
            .bind(content)
            .fetch_one(&self.pool)
            .await
            .expect("count")
    }
}
