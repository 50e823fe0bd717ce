//! Windows and profiles: each window belongs to one profile (its own cache, session and realtime
//! connection), so two windows can be two different users.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use chatstudy_client::{ChatClient, ClientError, ClientEvent, ErrorKind};
use tauri::{AppHandle, Emitter, EventTarget, Manager, Runtime};
use tauri_plugin_notification::NotificationExt;

pub struct Profiles {
    /// Where profile folders live; set once the app knows its data folder.
    root: Mutex<PathBuf>,
    default_server: String,
    /// window label → profile name
    windows: Mutex<HashMap<String, String>>,
    /// profile name → its open client
    clients: tokio::sync::Mutex<HashMap<String, Arc<ChatClient>>>,
}

impl Profiles {
    pub fn new(root: PathBuf, default_server: String) -> Self {
        Self {
            root: Mutex::new(root),
            default_server,
            windows: Mutex::new(HashMap::new()),
            clients: tokio::sync::Mutex::new(HashMap::new()),
        }
    }

    pub fn set_root(&self, root: PathBuf) {
        *self.root.lock().expect("root lock") = root;
    }

    pub fn assign(&self, window: &str, profile: &str) {
        self.windows.lock().expect("windows lock").insert(window.to_owned(), profile.to_owned());
    }

    pub fn forget_window(&self, window: &str) {
        self.windows.lock().expect("windows lock").remove(window);
    }

    pub fn profile_of(&self, window: &str) -> Result<String, ClientError> {
        self.windows
            .lock()
            .expect("windows lock")
            .get(window)
            .cloned()
            .ok_or_else(|| ClientError::new(ErrorKind::Internal, format!("la ventana {window} no tiene perfil")))
    }

    fn windows_of(&self, profile: &str) -> Vec<String> {
        self.windows
            .lock()
            .expect("windows lock")
            .iter()
            .filter(|(_, p)| *p == profile)
            .map(|(w, _)| w.clone())
            .collect()
    }

    /// The client of a window's profile, opened on first use; its events go to that profile's windows.
    pub async fn client<R: Runtime>(&self, app: &AppHandle<R>, window: &str) -> Result<Arc<ChatClient>, ClientError> {
        let profile = self.profile_of(window)?;
        let mut clients = self.clients.lock().await;
        if let Some(client) = clients.get(&profile) {
            return Ok(client.clone());
        }
        let dir = self.root.lock().expect("root lock").join(sanitize(&profile));
        let client = Arc::new(ChatClient::open(&dir, &self.default_server).await?);
        tauri::async_runtime::spawn(forward_events(app.clone(), profile.clone(), client.clone()));
        clients.insert(profile, client.clone());
        Ok(client)
    }

    /// The next profile name not used by an open window: `ventana-2`, `ventana-3`, …
    pub fn next_profile(&self) -> (String, String) {
        let windows = self.windows.lock().expect("windows lock");
        (2..)
            .map(|n| (format!("w{n}"), format!("ventana-{n}")))
            .find(|(label, _)| !windows.contains_key(label))
            .expect("unbounded")
    }

    pub async fn shutdown(&self) {
        for client in self.clients.lock().await.values() {
            client.shutdown().await;
        }
    }
}

/// Profile names become folder names: keep them to a safe alphabet.
fn sanitize(profile: &str) -> String {
    let clean: String =
        profile.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' }).collect();
    if clean.is_empty() {
        "principal".into()
    } else {
        clean
    }
}

/// Emit a profile's events to its windows only; a message from someone else raises an OS
/// notification when none of those windows has the focus.
async fn forward_events<R: Runtime>(app: AppHandle<R>, profile: String, client: Arc<ChatClient>) {
    let mut events = client.events();
    loop {
        let event = match events.recv().await {
            Ok(event) => event,
            Err(tokio::sync::broadcast::error::RecvError::Lagged(skipped)) => {
                tracing::warn!(skipped, "window events lagged; the UI will refresh");
                continue;
            }
            Err(_) => return,
        };
        let profiles = app.state::<Profiles>();
        let labels = profiles.windows_of(&profile);
        let payload = match &event {
            ClientEvent::Message(m) => serde_json::to_value(m),
            ClientEvent::Conversations(list) => serde_json::to_value(list),
            ClientEvent::Connection(state) => serde_json::to_value(state),
        }
        .unwrap_or_default();
        for label in &labels {
            if let Err(e) = app.emit_to(EventTarget::webview_window(label.clone()), event.name(), payload.clone()) {
                tracing::warn!(error = %e, label, "emitting to a window");
            }
        }
        if let ClientEvent::Message(message) = &event {
            let mine = client.user().await.is_some_and(|u| u.id == message.sender_id);
            let focused =
                labels.iter().any(|l| app.get_webview_window(l).and_then(|w| w.is_focused().ok()).unwrap_or(false));
            if !mine && !focused && message.state == "enviado" {
                let title = client
                    .conversation(message.conversation_id)
                    .await
                    .ok()
                    .flatten()
                    .map_or_else(|| "Nuevo mensaje".to_owned(), |c| c.peer.nombre);
                let body: String = message.content.chars().take(140).collect();
                if let Err(e) = app.notification().builder().title(title).body(body).show() {
                    tracing::debug!(error = %e, "notification not shown");
                }
            }
        }
    }
}
