//! `ChatClient`: one signed-in profile — its cache, its session, and the two background tasks that
//! keep it current (the realtime task and the outbox worker). The Tauri commands are thin calls into
//! this; tests use it without a window.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{broadcast, Notify, RwLock};
use tokio::task::JoinHandle;

use crate::api::{Api, Peer, User};
use crate::cache::{Cache, Conversation, Message, Session};
use crate::error::{ClientError, ErrorKind, Result};
use crate::events::{ClientEvent, ConnectionState};
use crate::outbox::Step;

/// The longest message, as the server enforces it.
pub const MAX_MESSAGE_CHARS: usize = 4_000;
/// The first page shown when a conversation opens.
pub const PAGE: u32 = 50;

/// State shared by the client and its background tasks.
pub struct Core {
    pub(crate) cache: Cache,
    session: RwLock<Session>,
    default_server: String,
    events: broadcast::Sender<ClientEvent>,
    state: Mutex<ConnectionState>,
    pub(crate) outbox_wake: Notify,
}

impl Core {
    /// An API client with the session's token; `Unauthorized` when signed out.
    pub async fn api(&self) -> Result<Api> {
        let session = self.session.read().await;
        let token =
            session.token.clone().ok_or_else(|| ClientError::new(ErrorKind::Unauthorized, "Inicia sesión primero"))?;
        Api::new(session.server_url.as_deref().unwrap_or(&self.default_server), Some(token))
    }

    pub(crate) async fn user(&self) -> Option<User> {
        self.session.read().await.user.clone()
    }

    pub(crate) fn emit(&self, event: ClientEvent) {
        let _ = self.events.send(event);
    }

    pub(crate) fn state(&self) -> ConnectionState {
        *self.state.lock().expect("state lock")
    }

    pub(crate) fn set_state(&self, state: ConnectionState) {
        let mut current = self.state.lock().expect("state lock");
        if *current != state {
            *current = state;
            self.emit(ClientEvent::Connection(state));
        }
    }

    pub(crate) async fn emit_conversations(&self) {
        match self.cache.conversations().await {
            Ok(list) => self.emit(ClientEvent::Conversations(list)),
            Err(e) => tracing::warn!(error = %e, "reading conversations"),
        }
    }
}

pub struct ChatClient {
    core: Arc<Core>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

impl ChatClient {
    /// Open the profile in `dir`. With a saved session it starts syncing at once; its cached
    /// conversations and messages are readable whether or not the server answers.
    pub async fn open(dir: &Path, default_server: &str) -> Result<Self> {
        let cache = Cache::open(dir).await?;
        let session = cache.session().await?;
        let signed_in = session.token.is_some();
        let (events, _) = broadcast::channel(1024);
        let core = Arc::new(Core {
            cache,
            session: RwLock::new(session),
            default_server: default_server.to_owned(),
            events,
            state: Mutex::new(ConnectionState::SignedOut),
            outbox_wake: Notify::new(),
        });
        let client = Self { core, tasks: Mutex::new(Vec::new()) };
        if signed_in {
            client.start_tasks();
        }
        Ok(client)
    }

    pub fn core(&self) -> &Arc<Core> {
        &self.core
    }

    pub fn events(&self) -> broadcast::Receiver<ClientEvent> {
        self.core.events.subscribe()
    }

    pub fn connection_state(&self) -> ConnectionState {
        self.core.state()
    }

    fn start_tasks(&self) {
        let mut tasks = self.tasks.lock().expect("tasks lock");
        if !tasks.is_empty() {
            return;
        }
        self.core.set_state(ConnectionState::Connecting);
        tasks.push(tokio::spawn(crate::realtime::run(self.core.clone())));
        tasks.push(tokio::spawn(run_outbox(self.core.clone())));
    }

    fn stop_tasks(&self) {
        for task in self.tasks.lock().expect("tasks lock").drain(..) {
            task.abort();
        }
    }

    /// Stop the background tasks and close the cache.
    pub async fn shutdown(&self) {
        self.stop_tasks();
        self.core.cache.close().await;
    }

    pub async fn server_url(&self) -> String {
        self.core.session.read().await.server_url.clone().unwrap_or_else(|| self.core.default_server.clone())
    }

    pub async fn set_server_url(&self, url: &str) -> Result<String> {
        let api = Api::new(url.trim(), None)?;
        if self.core.session.read().await.token.is_some() {
            return Err(ClientError::invalid("Cierra la sesión antes de cambiar de servidor"));
        }
        self.core.cache.set_server_url(api.base()).await?;
        self.core.session.write().await.server_url = Some(api.base().to_owned());
        Ok(api.base().to_owned())
    }

    pub async fn user(&self) -> Option<User> {
        self.core.user().await
    }

    pub async fn login(&self, email: &str, password: &str) -> Result<User> {
        if email.trim().is_empty() || password.is_empty() {
            return Err(ClientError::invalid("Escribe tu correo y tu contraseña"));
        }
        let api = Api::new(&self.server_url().await, None)?;
        let (token, user) = api.login(email.trim(), password).await?;
        let previous = self.core.session.read().await.user.clone();
        if previous.is_some_and(|p| p.id != user.id) {
            self.core.cache.clear_login().await?;
        }
        self.core.cache.save_login(&token, &user).await?;
        {
            let mut session = self.core.session.write().await;
            session.token = Some(token);
            session.user = Some(user.clone());
        }
        self.start_tasks();
        Ok(user)
    }

    /// Revoke the session (when the server answers), stop syncing and forget the cached chats.
    pub async fn logout(&self) -> Result<()> {
        if let Ok(api) = self.core.api().await {
            if let Err(e) = api.logout().await {
                tracing::info!(error = %e, "logout not confirmed by the server");
            }
        }
        self.stop_tasks();
        self.core.cache.clear_login().await?;
        {
            let mut session = self.core.session.write().await;
            session.token = None;
            session.user = None;
        }
        self.core.set_state(ConnectionState::SignedOut);
        Ok(())
    }

    async fn require_user(&self) -> Result<User> {
        self.core.user().await.ok_or_else(|| ClientError::new(ErrorKind::Unauthorized, "Inicia sesión primero"))
    }

    /// The cached list, at once; [`ChatClient::refresh`] brings it up to date.
    pub async fn conversations(&self) -> Result<Vec<Conversation>> {
        self.require_user().await?;
        self.core.cache.conversations().await
    }

    pub async fn conversation(&self, id: i64) -> Result<Option<Conversation>> {
        self.require_user().await?;
        self.core.cache.conversation(id).await
    }

    /// Fetch what the cache is missing; emits what changed.
    pub async fn refresh(&self) -> Result<Vec<Conversation>> {
        let fresh = self.core.sync_all().await?;
        for message in fresh {
            self.core.emit(ClientEvent::Message(message));
        }
        let list = self.core.cache.conversations().await?;
        self.core.emit(ClientEvent::Conversations(list.clone()));
        Ok(list)
    }

    /// The latest page from the cache, at once; newer messages from the server follow as events.
    pub async fn open_conversation(&self, conversation: i64) -> Result<Vec<Message>> {
        self.require_user().await?;
        let page = self.core.cache.page(conversation, None, PAGE).await?;
        let core = self.core.clone();
        tokio::spawn(async move {
            match core.catch_up(conversation).await {
                Ok(fresh) => {
                    for message in fresh {
                        core.emit(ClientEvent::Message(message));
                    }
                }
                Err(e) => tracing::debug!(error = %e, conversation, "catch-up postponed"),
            }
        });
        Ok(page)
    }

    /// Messages before `before` (a server id): from the cache, completed from the server if needed.
    pub async fn load_older(&self, conversation: i64, before: i64) -> Result<Vec<Message>> {
        self.require_user().await?;
        let page = self.core.cache.page(conversation, Some(before), PAGE).await?;
        if page.len() as u32 >= PAGE {
            return Ok(page);
        }
        let oldest = page.first().and_then(|m| m.server_id).unwrap_or(before);
        match self.core.api().await?.messages(conversation, None, Some(oldest), PAGE).await {
            Ok(older) => {
                self.core.cache.store_messages(&older.mensajes).await?;
                self.core.cache.page(conversation, Some(before), PAGE).await
            }
            Err(e) if e.kind == ErrorKind::Offline => Ok(page),
            Err(e) => Err(e),
        }
    }

    /// Store the message in the outbox and return it at once (`pendiente`); the outbox sends it.
    pub async fn send(&self, conversation: i64, content: &str) -> Result<Message> {
        let user = self.require_user().await?;
        let content = content.trim();
        if content.is_empty() {
            return Err(ClientError::invalid("El mensaje está vacío"));
        }
        if content.chars().count() > MAX_MESSAGE_CHARS {
            return Err(ClientError::invalid(format!("El mensaje supera los {MAX_MESSAGE_CHARS} caracteres")));
        }
        if self.core.cache.conversation(conversation).await?.is_none() {
            return Err(ClientError::invalid("Esa conversación no está en tu lista"));
        }
        let message = self.core.cache.enqueue(conversation, user.id, content).await?;
        self.core.outbox_wake.notify_one();
        self.core.emit(ClientEvent::Message(message.clone()));
        Ok(message)
    }

    pub async fn retry(&self, local_id: i64) -> Result<Message> {
        let message = self
            .core
            .cache
            .retry(local_id)
            .await?
            .ok_or_else(|| ClientError::invalid("Solo se pueden reintentar mensajes fallidos"))?;
        self.core.outbox_wake.notify_one();
        self.core.emit(ClientEvent::Message(message.clone()));
        Ok(message)
    }

    pub async fn discard(&self, local_id: i64) -> Result<()> {
        if self.core.cache.discard(local_id).await? {
            Ok(())
        } else {
            Err(ClientError::invalid("Solo se pueden descartar mensajes fallidos"))
        }
    }

    /// Mark read here at once and on the server when it answers.
    pub async fn mark_read(&self, conversation: i64) -> Result<()> {
        self.core.cache.set_unread(conversation, false).await?;
        self.core.emit_conversations().await;
        match self.core.api().await?.mark_read(conversation).await {
            Err(e) if e.kind != ErrorKind::Offline => Err(e),
            _ => Ok(()),
        }
    }

    /// Whom one can start a conversation with (advisors for a student, students for an advisor).
    pub async fn contacts(&self) -> Result<Vec<Peer>> {
        self.core.api().await?.users().await
    }

    pub async fn start_conversation(&self, user_id: i64) -> Result<Conversation> {
        let created = self.core.api().await?.start_conversation(user_id).await?;
        self.core.cache.store_conversations(std::slice::from_ref(&created)).await?;
        self.core.emit_conversations().await;
        self.core
            .cache
            .conversation(created.id)
            .await?
            .ok_or_else(|| ClientError::new(ErrorKind::Internal, "conversación perdida"))
    }
}

impl Drop for ChatClient {
    fn drop(&mut self) {
        self.stop_tasks();
    }
}

/// Deliver due messages one at a time; sleep until the next is due or the outbox is woken.
async fn run_outbox(core: Arc<Core>) {
    loop {
        match core.deliver_next().await {
            Ok(Step::Delivered(message) | Step::Failed(message)) => {
                core.emit(ClientEvent::Message(message));
                core.emit_conversations().await;
            }
            Ok(Step::Postponed) => {}
            Ok(Step::Idle(due)) => {
                let wait = due.unwrap_or(Duration::from_secs(300));
                tokio::select! {
                    _ = core.outbox_wake.notified() => {}
                    _ = tokio::time::sleep(wait) => {}
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "outbox");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}
