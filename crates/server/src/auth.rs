//! Passwords, sessions and the `AuthUser` extractor: the session, never the request body, says who
//! the caller is.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use argon2::password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use base64::Engine;
use chrono::{DateTime, Utc};
use rand::RngCore;
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::PgPool;

use crate::domain::Role;
use crate::error::ApiError;
use crate::startup::AppState;

/// The signed-in user, as the session names them.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct AuthUser {
    pub id: i32,
    pub nombre: String,
    pub email: String,
    pub rol: Role,
}

pub fn hash_password(password: &str) -> anyhow::Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| anyhow::anyhow!("hashing password: {e}"))
}

/// Whether `password` matches `hash`; a malformed hash matches nothing.
pub fn verify_password(hash: &str, password: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|parsed| Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
}

/// A hash to verify against when the email is unknown, so both failures take the same time.
pub fn dummy_hash() -> &'static str {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(|| hash_password("chatstudy-timing-equaliser").expect("hashing works"))
}

type TokenHash = [u8; 32];

fn token_hash(token: &str) -> TokenHash {
    Sha256::digest(token.as_bytes()).into()
}

/// Bearer sessions: opaque random tokens, stored as SHA-256 hashes with an expiry and a revocation
/// time. Recently seen sessions are cached for `cache_ttl` so that the send path makes one database
/// round trip, not two; a logout on this node drops the entry at once (another node's cache may
/// honour a revoked token for at most `cache_ttl`).
pub struct Sessions {
    ttl: Duration,
    cache_ttl: Duration,
    cache: Mutex<HashMap<TokenHash, CachedSession>>,
}

struct CachedSession {
    user: AuthUser,
    expires: DateTime<Utc>,
    seen: Instant,
}

impl Sessions {
    pub fn new(ttl: Duration) -> Self {
        Self { ttl, cache_ttl: Duration::from_secs(30), cache: Mutex::new(HashMap::new()) }
    }

    pub async fn create(&self, pool: &PgPool, user_id: i32) -> sqlx::Result<String> {
        let mut bytes = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut bytes);
        let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
        let expires = Utc::now() + chrono::Duration::from_std(self.ttl).unwrap_or(chrono::Duration::days(30));
        sqlx::query("INSERT INTO sesiones (token_hash, id_usuario, expira) VALUES ($1, $2, $3)")
            .bind(&token_hash(&token)[..])
            .bind(user_id)
            .bind(expires)
            .execute(pool)
            .await?;
        Ok(token)
    }

    pub async fn authenticate(&self, pool: &PgPool, token: &str) -> sqlx::Result<Option<AuthUser>> {
        let hash = token_hash(token);
        let now = Utc::now();
        if let Some(cached) = self.cache.lock().expect("session cache").get(&hash) {
            if cached.seen.elapsed() < self.cache_ttl && cached.expires > now {
                return Ok(Some(cached.user.clone()));
            }
        }
        let row: Option<(i32, String, String, Role, DateTime<Utc>)> = sqlx::query_as(
            "SELECT u.id, u.nombre, u.email, u.rol, s.expira
               FROM sesiones s JOIN usuarios u ON u.id = s.id_usuario
              WHERE s.token_hash = $1 AND s.revocada IS NULL AND s.expira > now()",
        )
        .bind(&hash[..])
        .fetch_optional(pool)
        .await?;
        let mut cache = self.cache.lock().expect("session cache");
        match row {
            Some((id, nombre, email, rol, expires)) => {
                let user = AuthUser { id, nombre, email, rol };
                if cache.len() > 100_000 {
                    cache.retain(|_, cached| cached.seen.elapsed() < self.cache_ttl);
                }
                cache.insert(hash, CachedSession { user: user.clone(), expires, seen: Instant::now() });
                Ok(Some(user))
            }
            None => {
                cache.remove(&hash);
                Ok(None)
            }
        }
    }

    pub async fn revoke(&self, pool: &PgPool, token: &str) -> sqlx::Result<()> {
        let hash = token_hash(token);
        self.cache.lock().expect("session cache").remove(&hash);
        sqlx::query("UPDATE sesiones SET revocada = now() WHERE token_hash = $1 AND revocada IS NULL")
            .bind(&hash[..])
            .execute(pool)
            .await?;
        Ok(())
    }
}

/// The bearer token of a request, if it has one.
pub fn bearer(parts: &Parts) -> Option<&str> {
    let value = parts.headers.get(axum::http::header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim()).filter(|t| !t.is_empty())
}

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let token = bearer(parts).ok_or_else(|| ApiError::Unauthorized("Falta el token de sesión".into()))?;
        state
            .sessions
            .authenticate(&state.pool, token)
            .await?
            .ok_or_else(|| ApiError::Unauthorized("La sesión no es válida o ha expirado".into()))
    }
}

/// Slows password guessing: after `max_failures` failed logins for one address within the lockout
/// window, that address must wait until the window has passed.
pub struct LoginThrottle {
    max_failures: u32,
    window: Duration,
    failures: Mutex<HashMap<String, (u32, Instant)>>,
}

impl LoginThrottle {
    pub fn new(max_failures: u32, window: Duration) -> Self {
        Self { max_failures, window, failures: Mutex::new(HashMap::new()) }
    }

    /// `Err(seconds to wait)` when the address is locked out.
    pub fn check(&self, email: &str) -> Result<(), u64> {
        let failures = self.failures.lock().expect("throttle lock");
        match failures.get(email) {
            Some((count, first)) if *count >= self.max_failures && first.elapsed() < self.window => {
                Err((self.window - first.elapsed()).as_secs().max(1))
            }
            _ => Ok(()),
        }
    }

    pub fn failed(&self, email: &str) {
        let mut failures = self.failures.lock().expect("throttle lock");
        if failures.len() > 100_000 {
            failures.retain(|_, (_, first)| first.elapsed() < self.window);
        }
        let entry = failures.entry(email.to_owned()).or_insert((0, Instant::now()));
        if entry.1.elapsed() >= self.window {
            *entry = (0, Instant::now());
        }
        entry.0 += 1;
    }

    pub fn succeeded(&self, email: &str) {
        self.failures.lock().expect("throttle lock").remove(email);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_verify_only_against_their_own_hash() {
        let hash = hash_password("correcta").unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password(&hash, "correcta"));
        assert!(!verify_password(&hash, "incorrecta"));
        assert!(!verify_password("not a hash", "correcta"));
    }

    #[test]
    fn login_throttle_locks_after_the_limit_and_resets_on_success() {
        let throttle = LoginThrottle::new(3, Duration::from_secs(60));
        for _ in 0..3 {
            assert!(throttle.check("a@x").is_ok());
            throttle.failed("a@x");
        }
        assert!(throttle.check("a@x").is_err());
        assert!(throttle.check("b@x").is_ok());
        throttle.succeeded("a@x");
        assert!(throttle.check("a@x").is_ok());
    }
}
