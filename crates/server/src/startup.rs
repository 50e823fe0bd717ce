//! Builds the whole application from a [`Config`]: the pool, the migrations, the realtime publisher
//! (built-in relay or an external Pusher-compatible server) and the HTTP server. Tests build it the
//! same way on port 0.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::http::{header, HeaderValue, Method};
use axum::Router;
use chatstudy_pusher::relay::{Relay, RelayConfig};
use chatstudy_pusher::trigger::{HttpTrigger, TriggerConfig};
use chatstudy_pusher::Publisher;
use sqlx::postgres::PgPoolOptions;
use sqlx::PgPool;
use tokio::net::TcpListener;
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::auth::{LoginThrottle, Sessions};
use crate::config::{Config, Realtime};
use crate::rate_limit::RateLimiter;
use crate::realtime::Notifier;

/// The largest request body: a 4,000-character message is at most 16 KB of UTF-8.
const MAX_BODY_BYTES: usize = 64 * 1024;

#[derive(Clone)]
pub struct AppState {
    pub pool: PgPool,
    pub sessions: Arc<Sessions>,
    pub login_throttle: Arc<LoginThrottle>,
    pub send_limiter: Arc<RateLimiter>,
    pub notifier: Notifier,
    pub realtime: Arc<Realtime>,
    pub legacy_public_channels: bool,
}

pub async fn connect(config: &Config) -> anyhow::Result<PgPool> {
    PgPoolOptions::new()
        .max_connections(config.database_max_connections)
        .acquire_timeout(Duration::from_secs(5))
        // sqlx pings every connection it hands out by default: a second round trip on every send.
        // Ping only connections that sat idle long enough to have been dropped by a firewall or a
        // database restart; a busy connection proves itself on use.
        .test_before_acquire(false)
        .before_acquire(|conn, meta| {
            Box::pin(async move {
                if meta.idle_for > Duration::from_secs(30) {
                    sqlx::Connection::ping(conn).await?;
                }
                Ok(true)
            })
        })
        .connect(&config.database_url)
        .await
        .with_context(|| format!("connecting to PostgreSQL ({})", redact(&config.database_url)))
}

pub async fn migrate(pool: &PgPool) -> anyhow::Result<()> {
    sqlx::migrate!("../../migrations").run(pool).await.context("applying migrations")
}

/// `postgres://user:secret@host/db` without the secret, for messages.
fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        _ => url.to_owned(),
    }
}

pub struct App {
    listener: TcpListener,
    relay: Option<(Relay, TcpListener)>,
    state: AppState,
    router: Router,
}

impl App {
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let pool = connect(&config).await?;
        migrate(&pool).await?;
        let listener = TcpListener::bind((config.host, config.port))
            .await
            .with_context(|| format!("binding HTTP port {}:{}", config.host, config.port))?;

        let mut realtime = config.realtime()?;
        let (publisher, relay): (Arc<dyn Publisher>, _) = match &mut realtime {
            Realtime::Embedded { credentials, public_port, .. } => {
                let relay_listener = TcpListener::bind((config.host, config.relay_port))
                    .await
                    .with_context(|| format!("binding relay port {}:{}", config.host, config.relay_port))?;
                if config.relay_public_port.is_none() {
                    // RELAY_PORT=0 (tests) binds a port of the OS's choosing: tell clients that one.
                    *public_port = relay_listener.local_addr()?.port();
                }
                let mut relay_config = RelayConfig::new(credentials.clone());
                if !config.relay_allowed_origins.is_empty() {
                    relay_config.allowed_origins = Some(config.relay_allowed_origins.clone());
                }
                let relay = Relay::new(relay_config);
                (Arc::new(relay.clone()), Some((relay, relay_listener)))
            }
            Realtime::External { credentials, cluster, host, port, tls } => {
                let trigger_config = match (host.as_deref(), cluster.as_deref()) {
                    (Some(host), _) => TriggerConfig::for_host(
                        credentials.clone(),
                        host,
                        port.unwrap_or(if *tls { 443 } else { 80 }),
                        *tls,
                    )?,
                    (None, Some(cluster)) => TriggerConfig::for_cluster(credentials.clone(), cluster)?,
                    (None, None) => unreachable!("Config::realtime requires a host or a cluster"),
                };
                (Arc::new(HttpTrigger::new(trigger_config)?), None)
            }
        };

        let state = AppState {
            pool,
            sessions: Arc::new(Sessions::new(config.session_ttl())),
            login_throttle: Arc::new(LoginThrottle::new(
                config.login_max_failures,
                Duration::from_secs(config.login_lockout_seconds),
            )),
            send_limiter: Arc::new(RateLimiter::new(config.send_rate_limit, config.send_rate_burst)),
            notifier: Notifier::new(publisher),
            realtime: Arc::new(realtime),
            legacy_public_channels: config.legacy_public_channels,
        };
        let router = crate::routes::router()
            .with_state(state.clone())
            .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY_BYTES))
            .layer(cors(&config.cors_origins)?);
        Ok(Self { listener, relay, state, router })
    }

    pub fn address(&self) -> SocketAddr {
        self.listener.local_addr().expect("bound listener has an address")
    }

    /// The built-in relay's address, when it runs.
    pub fn relay_address(&self) -> Option<SocketAddr> {
        self.relay.as_ref().map(|(_, l)| l.local_addr().expect("bound listener has an address"))
    }

    pub fn relay(&self) -> Option<Relay> {
        self.relay.as_ref().map(|(relay, _)| relay.clone())
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serve until `shutdown` resolves; then finish in-flight requests, publish what is pending (for at
    /// most ten seconds), and close relay connections with a code that makes clients reconnect.
    pub async fn run_until(self, shutdown: impl Future<Output = ()> + Send + 'static) -> anyhow::Result<()> {
        tracing::info!(address = %self.address(), relay = ?self.relay_address(), "serving");
        let relay = self.relay.map(|(relay, listener)| {
            let task = tokio::spawn(relay.clone().serve(listener));
            (relay, task)
        });
        axum::serve(self.listener, self.router).with_graceful_shutdown(shutdown).await?;
        self.state.notifier.drain(Duration::from_secs(10)).await;
        if let Some((relay, task)) = relay {
            relay.shutdown();
            let _ = task.await;
        }
        self.state.pool.close().await;
        tracing::info!("stopped");
        Ok(())
    }
}

fn cors(origins: &[String]) -> anyhow::Result<CorsLayer> {
    let allow = if origins.iter().any(|o| o == "*") || origins.is_empty() {
        AllowOrigin::any()
    } else {
        let values = origins
            .iter()
            .map(|o| HeaderValue::from_str(o.trim()).with_context(|| format!("CORS_ORIGINS entry {o:?}")))
            .collect::<anyhow::Result<Vec<_>>>()?;
        AllowOrigin::list(values)
    };
    Ok(CorsLayer::new()
        .allow_origin(allow)
        .allow_methods([Method::GET, Method::POST, Method::OPTIONS])
        .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE]))
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = terminate => {} }
    tracing::info!("shutdown requested");
}
