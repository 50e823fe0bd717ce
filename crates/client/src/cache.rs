//! The profile's SQLite cache: session, conversations, messages and the outbox (messages whose state
//! is `pendiente`). Everything the app shows offline comes from here.

use std::path::Path;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::SqlitePool;
use uuid::Uuid;

use crate::api::{Peer, ServerConversation, ServerMessage, User};
use crate::error::Result;

pub const PENDING: &str = "pendiente";
pub const SENT: &str = "enviado";
pub const FAILED: &str = "fallido";

/// A message as the UI shows it: confirmed (`server_id`), waiting in the outbox, or failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct Message {
    pub local_id: i64,
    pub server_id: Option<i64>,
    pub client_id: Option<String>,
    pub conversation_id: i64,
    pub sender_id: i64,
    pub content: String,
    /// RFC 3339, UTC.
    pub sent_at: String,
    pub state: String,
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Conversation {
    pub id: i64,
    pub student_id: i64,
    pub advisor_id: i64,
    pub last_activity: String,
    pub peer: Peer,
    pub unread: bool,
    pub last_message: Option<Message>,
}

/// The signed-in state kept on disk.
#[derive(Debug, Clone, Default)]
pub struct Session {
    pub server_url: Option<String>,
    pub token: Option<String>,
    pub user: Option<User>,
}

/// A message in the outbox, due to be sent.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Outgoing {
    pub local_id: i64,
    pub client_id: String,
    pub conversation_id: i64,
    pub content: String,
    pub attempts: i64,
}

const MESSAGE_COLUMNS: &str =
    "local_id, server_id, client_id, conversation_id, sender_id, content, sent_at, state, error";

#[derive(Clone)]
pub struct Cache {
    pool: SqlitePool,
}

fn timestamp(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

impl Cache {
    /// Open (or create) the profile's database in `dir`, readable by its owner only.
    pub async fn open(dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(dir)?;
        restrict(dir, 0o700)?;
        let file = dir.join("chatstudy.db");
        let options = SqliteConnectOptions::from_str(&format!("sqlite://{}", file.display()))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(std::time::Duration::from_secs(5));
        let pool = SqlitePoolOptions::new().max_connections(4).connect_with(options).await?;
        sqlx::migrate!("../../src-tauri/migrations").run(&pool).await?;
        // The token lives here: owner-only, the WAL and shared-memory files included.
        for suffix in ["", "-wal", "-shm"] {
            let path = dir.join(format!("chatstudy.db{suffix}"));
            if path.exists() {
                restrict(&path, 0o600)?;
            }
        }
        sqlx::query("INSERT OR IGNORE INTO session (id, server_url) VALUES (1, '')").execute(&pool).await?;
        Ok(Self { pool })
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }

    pub async fn session(&self) -> Result<Session> {
        #[derive(sqlx::FromRow)]
        struct Row {
            server_url: String,
            token: Option<String>,
            user_id: Option<i64>,
            user_name: Option<String>,
            user_email: Option<String>,
            user_role: Option<String>,
        }
        let row: Row = sqlx::query_as(
            "SELECT server_url, token, user_id, user_name, user_email, user_role FROM session WHERE id = 1",
        )
        .fetch_one(&self.pool)
        .await?;
        let user = match (row.user_id, row.user_name, row.user_email, row.user_role) {
            (Some(id), Some(nombre), Some(email), Some(rol)) => Some(User { id, nombre, email, rol }),
            _ => None,
        };
        Ok(Session { server_url: Some(row.server_url).filter(|u| !u.is_empty()), token: row.token, user })
    }

    pub async fn set_server_url(&self, url: &str) -> Result<()> {
        sqlx::query("UPDATE session SET server_url = ? WHERE id = 1").bind(url).execute(&self.pool).await?;
        Ok(())
    }

    pub async fn save_login(&self, token: &str, user: &User) -> Result<()> {
        sqlx::query(
            "UPDATE session SET token = ?, user_id = ?, user_name = ?, user_email = ?, user_role = ? WHERE id = 1",
        )
        .bind(token)
        .bind(user.id)
        .bind(&user.nombre)
        .bind(&user.email)
        .bind(&user.rol)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Forget the session and everything cached for it (the computer may be shared).
    pub async fn clear_login(&self) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "UPDATE session SET token = NULL, user_id = NULL, user_name = NULL, user_email = NULL, user_role = NULL",
        )
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM messages").execute(&mut *tx).await?;
        sqlx::query("DELETE FROM conversations").execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The chat list, most recent activity first, each with its last message (pending ones count).
    pub async fn conversations(&self) -> Result<Vec<Conversation>> {
        self.conversations_where(None).await
    }

    pub async fn conversation(&self, id: i64) -> Result<Option<Conversation>> {
        Ok(self.conversations_where(Some(id)).await?.pop())
    }

    /// One statement for the whole list: it is read after every received message, and an advisor
    /// may have hundreds of conversations.
    async fn conversations_where(&self, only: Option<i64>) -> Result<Vec<Conversation>> {
        #[derive(sqlx::FromRow)]
        struct Row {
            id: i64,
            student_id: i64,
            advisor_id: i64,
            last_activity: String,
            peer_id: i64,
            peer_name: String,
            peer_role: String,
            unread: bool,
            local_id: Option<i64>,
            server_id: Option<i64>,
            client_id: Option<String>,
            sender_id: Option<i64>,
            content: Option<String>,
            sent_at: Option<String>,
            state: Option<String>,
            error: Option<String>,
        }
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT c.id, c.student_id, c.advisor_id, c.last_activity, c.peer_id, c.peer_name, c.peer_role, c.unread,
                    m.local_id, m.server_id, m.client_id, m.sender_id, m.content, m.sent_at, m.state, m.error
               FROM conversations c
               LEFT JOIN messages m ON m.local_id = (
                    SELECT local_id FROM messages WHERE conversation_id = c.id
                     ORDER BY server_id IS NULL DESC, server_id DESC, local_id DESC LIMIT 1)
              WHERE ?1 IS NULL OR c.id = ?1
              ORDER BY c.last_activity DESC, c.id DESC",
        )
        .bind(only)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| {
                let last_message = match (r.local_id, r.sender_id, r.content, r.sent_at, r.state) {
                    (Some(local_id), Some(sender_id), Some(content), Some(sent_at), Some(state)) => Some(Message {
                        local_id,
                        server_id: r.server_id,
                        client_id: r.client_id,
                        conversation_id: r.id,
                        sender_id,
                        content,
                        sent_at,
                        state,
                        error: r.error,
                    }),
                    _ => None,
                };
                Conversation {
                    id: r.id,
                    student_id: r.student_id,
                    advisor_id: r.advisor_id,
                    last_activity: r.last_activity,
                    peer: Peer { id: r.peer_id, nombre: r.peer_name, rol: r.peer_role },
                    unread: r.unread,
                    last_message,
                }
            })
            .collect())
    }

    /// Replace what is known of these conversations with the server's view, last messages included;
    /// returns the messages that were new to the cache.
    pub async fn store_conversations(&self, list: &[ServerConversation]) -> Result<Vec<Message>> {
        let mut tx = self.pool.begin().await?;
        for c in list {
            sqlx::query(
                "INSERT INTO conversations (id, student_id, advisor_id, last_activity, peer_id, peer_name, peer_role, unread)
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                 ON CONFLICT (id) DO UPDATE SET last_activity = excluded.last_activity, peer_name = excluded.peer_name,
                     unread = excluded.unread AND (read_through IS NULL OR excluded.last_activity > read_through)",
            )
            .bind(c.id)
            .bind(c.id_estudiante)
            .bind(c.id_asesor)
            .bind(timestamp(&c.ultima_actividad))
            .bind(c.participante.id)
            .bind(&c.participante.nombre)
            .bind(&c.participante.rol)
            .bind(c.no_leido)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        let last: Vec<ServerMessage> = list.iter().filter_map(|c| c.ultimo_mensaje.clone()).collect();
        self.store_messages(&last).await
    }

    /// Store confirmed messages, dropping duplicates by server id and confirming outbox rows by
    /// client id. Returns the rows that changed (new, or confirmed now).
    pub async fn store_messages(&self, messages: &[ServerMessage]) -> Result<Vec<Message>> {
        let mut changed = Vec::new();
        let mut tx = self.pool.begin().await?;
        for m in messages {
            let client_id = m.client_id.map(|c| c.to_string());
            let sent_at = timestamp(&m.fecha_envio);
            let mut row: Option<Message> = None;
            if let Some(client_id) = &client_id {
                row = sqlx::query_as(&format!(
                    "UPDATE messages SET server_id = ?, sent_at = ?, state = 'enviado', error = NULL
                      WHERE client_id = ? AND server_id IS NULL RETURNING {MESSAGE_COLUMNS}"
                ))
                .bind(m.id)
                .bind(&sent_at)
                .bind(client_id)
                .fetch_optional(&mut *tx)
                .await?;
            }
            if row.is_none() {
                row = sqlx::query_as(&format!(
                    "INSERT INTO messages (server_id, client_id, conversation_id, sender_id, content, sent_at, state)
                     VALUES (?, ?, ?, ?, ?, ?, 'enviado') ON CONFLICT DO NOTHING RETURNING {MESSAGE_COLUMNS}"
                ))
                .bind(m.id)
                .bind(&client_id)
                .bind(m.id_conversacion)
                .bind(m.id_usuario)
                .bind(&m.contenido)
                .bind(&sent_at)
                .fetch_optional(&mut *tx)
                .await?;
            }
            if let Some(row) = row {
                sqlx::query("UPDATE conversations SET last_activity = max(last_activity, ?) WHERE id = ?")
                    .bind(&sent_at)
                    .bind(m.id_conversacion)
                    .execute(&mut *tx)
                    .await?;
                changed.push(row);
            }
        }
        tx.commit().await?;
        Ok(changed)
    }

    /// Mark a conversation unread (a message arrived) or read (up to its latest activity).
    pub async fn set_unread(&self, conversation: i64, unread: bool) -> Result<()> {
        let sql = if unread {
            "UPDATE conversations SET unread = 1 WHERE id = ?"
        } else {
            "UPDATE conversations SET unread = 0, read_through = last_activity WHERE id = ?"
        };
        sqlx::query(sql).bind(conversation).execute(&self.pool).await?;
        Ok(())
    }

    pub async fn synced_through(&self, conversation: i64) -> Result<i64> {
        Ok(sqlx::query_scalar("SELECT synced_through FROM conversations WHERE id = ?")
            .bind(conversation)
            .fetch_optional(&self.pool)
            .await?
            .unwrap_or(0))
    }

    pub async fn set_synced_through(&self, conversation: i64, id: i64) -> Result<()> {
        sqlx::query("UPDATE conversations SET synced_through = max(synced_through, ?) WHERE id = ?")
            .bind(id)
            .bind(conversation)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Up to `limit` confirmed messages before `before` (or the latest), in id order; the latest page
    /// also carries the outbox's messages after them.
    pub async fn page(&self, conversation: i64, before: Option<i64>, limit: u32) -> Result<Vec<Message>> {
        let mut page: Vec<Message> = sqlx::query_as(&format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages
              WHERE conversation_id = ? AND server_id IS NOT NULL AND server_id < ?
              ORDER BY server_id DESC LIMIT ?"
        ))
        .bind(conversation)
        .bind(before.unwrap_or(i64::MAX))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        page.reverse();
        if before.is_none() {
            let local: Vec<Message> = sqlx::query_as(&format!(
                "SELECT {MESSAGE_COLUMNS} FROM messages WHERE conversation_id = ? AND server_id IS NULL ORDER BY local_id"
            ))
            .bind(conversation)
            .fetch_all(&self.pool)
            .await?;
            page.extend(local);
        }
        Ok(page)
    }

    /// Put a message in the outbox before anything else happens to it.
    pub async fn enqueue(&self, conversation: i64, sender: i64, content: &str) -> Result<Message> {
        let message = sqlx::query_as(&format!(
            "INSERT INTO messages (client_id, conversation_id, sender_id, content, sent_at, state)
             VALUES (?, ?, ?, ?, ?, 'pendiente') RETURNING {MESSAGE_COLUMNS}"
        ))
        .bind(Uuid::new_v4().to_string())
        .bind(conversation)
        .bind(sender)
        .bind(content)
        .bind(timestamp(&Utc::now()))
        .fetch_one(&self.pool)
        .await?;
        Ok(message)
    }

    /// The oldest due message among each conversation's first pending one (so that a conversation's
    /// messages go out in order), and when the next one falls due if none is due now.
    pub async fn next_outgoing(&self, now: DateTime<Utc>) -> Result<(Option<Outgoing>, Option<DateTime<Utc>>)> {
        let heads: Vec<(i64, String, i64, String, i64, Option<String>)> = sqlx::query_as(
            "SELECT m.local_id, m.client_id, m.conversation_id, m.content, m.attempts, m.next_attempt_at FROM messages m
              WHERE m.state = 'pendiente'
                AND m.local_id = (SELECT min(local_id) FROM messages p WHERE p.state = 'pendiente' AND p.conversation_id = m.conversation_id)
              ORDER BY m.local_id",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut next_due: Option<DateTime<Utc>> = None;
        for (local_id, client_id, conversation_id, content, attempts, due) in heads {
            let due = due.and_then(|d| DateTime::parse_from_rfc3339(&d).ok()).map(|d| d.with_timezone(&Utc));
            match due {
                Some(due) if due > now => next_due = Some(next_due.map_or(due, |n| n.min(due))),
                _ => return Ok((Some(Outgoing { local_id, client_id, conversation_id, content, attempts }), None)),
            }
        }
        Ok((None, next_due))
    }

    pub async fn postpone(&self, local_id: i64, attempts: i64, due: DateTime<Utc>, reason: &str) -> Result<()> {
        sqlx::query("UPDATE messages SET attempts = ?, next_attempt_at = ?, error = ? WHERE local_id = ? AND state = 'pendiente'")
            .bind(attempts)
            .bind(timestamp(&due))
            .bind(reason)
            .bind(local_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn fail(&self, local_id: i64, reason: &str) -> Result<Option<Message>> {
        Ok(sqlx::query_as(&format!(
            "UPDATE messages SET state = 'fallido', error = ? WHERE local_id = ? AND state = 'pendiente' RETURNING {MESSAGE_COLUMNS}"
        ))
        .bind(reason)
        .bind(local_id)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Put a failed message back in the outbox, with its clientId (so it can never be doubled).
    pub async fn retry(&self, local_id: i64) -> Result<Option<Message>> {
        Ok(sqlx::query_as(&format!(
            "UPDATE messages SET state = 'pendiente', error = NULL, attempts = 0, next_attempt_at = NULL
              WHERE local_id = ? AND state = 'fallido' RETURNING {MESSAGE_COLUMNS}"
        ))
        .bind(local_id)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Remove a message the server never accepted.
    pub async fn discard(&self, local_id: i64) -> Result<bool> {
        let done = sqlx::query("DELETE FROM messages WHERE local_id = ? AND server_id IS NULL AND state = 'fallido'")
            .bind(local_id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Make every waiting message due now (the network is back).
    pub async fn wake_outbox(&self) -> Result<()> {
        sqlx::query("UPDATE messages SET next_attempt_at = NULL WHERE state = 'pendiente'").execute(&self.pool).await?;
        Ok(())
    }

    pub async fn message(&self, local_id: i64) -> Result<Option<Message>> {
        Ok(sqlx::query_as(&format!("SELECT {MESSAGE_COLUMNS} FROM messages WHERE local_id = ?"))
            .bind(local_id)
            .fetch_optional(&self.pool)
            .await?)
    }

    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }
}

#[cfg(unix)]
fn restrict(path: &Path, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
fn restrict(_: &Path, _: u32) -> std::io::Result<()> {
    Ok(())
}
