//! Settings from flags, the environment and `.env`, with the original backend's variable names.

use std::net::IpAddr;
use std::time::Duration;

use chatstudy_pusher::Credentials;
use clap::Args;

#[derive(Debug, Clone, Args)]
pub struct Config {
    /// PostgreSQL connection string.
    #[arg(long, env = "DATABASE_URL", default_value = "postgres://chatstudy@127.0.0.1:5432/chatstudy")]
    pub database_url: String,
    #[arg(long, env = "DATABASE_MAX_CONNECTIONS", default_value_t = 16)]
    pub database_max_connections: u32,
    /// Address to listen on.
    #[arg(long, env = "HOST", default_value = "0.0.0.0")]
    pub host: IpAddr,
    /// HTTP port (the original backend's default).
    #[arg(long, env = "PORT", default_value_t = 3001)]
    pub port: u16,

    #[arg(long, env = "PUSHER_APP_ID")]
    pub pusher_app_id: Option<String>,
    #[arg(long, env = "PUSHER_KEY")]
    pub pusher_key: Option<String>,
    #[arg(long, env = "PUSHER_SECRET", hide_env_values = true)]
    pub pusher_secret: Option<String>,
    /// Hosted Pusher's cluster (e.g. `us2`).
    #[arg(long, env = "PUSHER_CLUSTER")]
    pub pusher_cluster: Option<String>,
    /// A self-hosted Pusher-compatible server (sockudo, soketi): its host, port and scheme.
    #[arg(long, env = "PUSHER_HOST")]
    pub pusher_host: Option<String>,
    #[arg(long, env = "PUSHER_PORT")]
    pub pusher_port: Option<u16>,
    #[arg(long, env = "PUSHER_USE_TLS")]
    pub pusher_use_tls: Option<bool>,

    /// Port of the built-in relay, used when no Pusher server is configured.
    #[arg(long, env = "RELAY_PORT", default_value_t = 6001)]
    pub relay_port: u16,
    /// Host clients should use to reach the relay; by default the host they reached this server by.
    #[arg(long, env = "RELAY_PUBLIC_HOST")]
    pub relay_public_host: Option<String>,
    /// Port clients should use to reach the relay (behind a proxy); by default `RELAY_PORT`.
    #[arg(long, env = "RELAY_PUBLIC_PORT")]
    pub relay_public_port: Option<u16>,
    #[arg(long, env = "RELAY_PUBLIC_TLS", default_value_t = false)]
    pub relay_public_tls: bool,
    /// Comma-separated `Origin`s allowed on the relay's WebSocket; empty allows any.
    #[arg(long, env = "RELAY_ALLOWED_ORIGINS", value_delimiter = ',')]
    pub relay_allowed_origins: Vec<String>,

    /// Also publish to the original public `chat-{id}` channels for old web clients.
    #[arg(long, env = "LEGACY_PUBLIC_CHANNELS", default_value_t = false)]
    pub legacy_public_channels: bool,

    /// Messages per second one user may send; 0 turns the limit off.
    #[arg(long, env = "SEND_RATE_LIMIT", default_value_t = 5.0)]
    pub send_rate_limit: f64,
    /// How many messages a user may send at once before the rate applies.
    #[arg(long, env = "SEND_RATE_BURST", default_value_t = 20)]
    pub send_rate_burst: u32,
    /// Failed logins for one address before it must wait.
    #[arg(long, env = "LOGIN_MAX_FAILURES", default_value_t = 5)]
    pub login_max_failures: u32,
    #[arg(long, env = "LOGIN_LOCKOUT_SECONDS", default_value_t = 300)]
    pub login_lockout_seconds: u64,
    /// Comma-separated origins allowed by CORS; `*` (the default) allows any, which is safe because
    /// credentials travel in the Authorization header, never in cookies.
    #[arg(long, env = "CORS_ORIGINS", value_delimiter = ',', default_value = "*")]
    pub cors_origins: Vec<String>,
    #[arg(long, env = "SESSION_TTL_HOURS", default_value_t = 24 * 30)]
    pub session_ttl_hours: u64,
}

/// Where realtime events go, and what clients are told about it.
#[derive(Debug, Clone)]
pub enum Realtime {
    /// The built-in relay, on its own port; clients reach it at `public_host` (by default the host
    /// they reached this server by) and `public_port`.
    Embedded { credentials: Credentials, public_host: Option<String>, public_port: u16, public_tls: bool },
    /// Hosted Pusher (`cluster`) or a self-hosted server (`host`).
    External { credentials: Credentials, cluster: Option<String>, host: Option<String>, port: Option<u16>, tls: bool },
}

impl Realtime {
    pub fn credentials(&self) -> &Credentials {
        match self {
            Self::Embedded { credentials, .. } | Self::External { credentials, .. } => credentials,
        }
    }
}

impl Config {
    /// An external Pusher-compatible server when app id, key, secret and a cluster or host are all set;
    /// otherwise the built-in relay, with `PUSHER_KEY`/`PUSHER_SECRET` if given or a random secret.
    pub fn realtime(&self) -> anyhow::Result<Realtime> {
        let (id, key, secret) = (&self.pusher_app_id, &self.pusher_key, &self.pusher_secret);
        let located = self.pusher_cluster.is_some() || self.pusher_host.is_some();
        match (id, key, secret) {
            (Some(id), Some(key), Some(secret)) if located => Ok(Realtime::External {
                credentials: Credentials::new(id, key, secret),
                cluster: self.pusher_cluster.clone(),
                host: self.pusher_host.clone(),
                port: self.pusher_port,
                tls: self.pusher_use_tls.unwrap_or(self.pusher_host.is_none()),
            }),
            _ if located => anyhow::bail!(
                "PUSHER_CLUSTER or PUSHER_HOST is set, so PUSHER_APP_ID, PUSHER_KEY and PUSHER_SECRET are needed too"
            ),
            _ => {
                use rand::Rng;
                let secret = secret.clone().unwrap_or_else(|| hex::encode(rand::thread_rng().gen::<[u8; 24]>()));
                Ok(Realtime::Embedded {
                    credentials: Credentials::new(
                        id.clone().unwrap_or_else(|| "chatstudy".into()),
                        key.clone().unwrap_or_else(|| "chatstudy".into()),
                        secret,
                    ),
                    public_host: self.relay_public_host.clone(),
                    public_port: self.relay_public_port.unwrap_or(self.relay_port),
                    public_tls: self.relay_public_tls,
                })
            }
        }
    }

    pub fn session_ttl(&self) -> Duration {
        Duration::from_secs(self.session_ttl_hours * 3600)
    }
}

#[derive(clap::Parser)]
struct ConfigOnly {
    #[command(flatten)]
    config: Config,
}

impl Config {
    /// Parse settings from an argument list (and the environment), as the binary does.
    pub fn from_args<I, T>(args: I) -> Result<Self, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        use clap::Parser;
        ConfigOnly::try_parse_from(args).map(|c| c.config)
    }
}
