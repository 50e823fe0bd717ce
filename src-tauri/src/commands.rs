//! The commands the UI calls. Each takes the calling window (which names its profile), calls the
//! core, and returns `{kind, message}` on error.

use chatstudy_client::api::{Peer, User};
use chatstudy_client::cache::{Conversation, Message};
use chatstudy_client::{ClientError, ConnectionState};
use tauri::{AppHandle, Runtime, State, WebviewWindow};

use crate::profiles::Profiles;

type Result<T> = std::result::Result<T, ClientError>;

macro_rules! client {
    ($app:expr, $window:expr, $profiles:expr) => {
        $profiles.client(&$app, $window.label()).await?
    };
}

#[tauri::command]
pub async fn profile_name<R: Runtime>(window: WebviewWindow<R>, profiles: State<'_, Profiles>) -> Result<String> {
    profiles.profile_of(window.label())
}

#[tauri::command]
pub async fn get_server_url<R: Runtime>(
    app: AppHandle<R>,
    window: WebviewWindow<R>,
    profiles: State<'_, Profiles>,
) -> Result<String> {
    Ok(client!(app, window, profiles).server_url().await)
}

#[tauri::command]
pub async fn set_server_url<R: Runtime>(
    app: AppHandle<R>,
    window: WebviewWindow<R>,
    profiles: State<'_, Profiles>,
    url: String,
) -> Result<String> {
    client!(app, window, profiles).set_server_url(&url).await
}

#[tauri::command]
pub async fn login<R: Runtime>(
    app: AppHandle<R>,
    window: WebviewWindow<R>,
    profiles: State<'_, Profiles>,
    email: String,
    password: String,
) -> Result<User> {
    client!(app, window, profiles).login(&email, &password).await
}

#[tauri::command]
pub async fn logout<R: Runtime>(
    app: AppHandle<R>,
    window: WebviewWindow<R>,
    profiles: State<'_, Profiles>,
) -> Result<()> {
    client!(app, window, profiles).logout().await
}

#[tauri::command]
pub async fn current_user<R: Runtime>(
    app: AppHandle<R>,
    window: WebviewWindow<R>,
    profiles: State<'_, Profiles>,
) -> Result<Option<User>> {
    Ok(client!(app, window, profiles).user().await)
}

#[tauri::command]
pub async fn connection_status<R: Runtime>(
    app: AppHandle<R>,
    window: WebviewWindow<R>,
    profiles: State<'_, Profiles>,
) -> Result<ConnectionState> {
    Ok(client!(app, window, profiles).connection_state())
}

/// The cached list at once; a refresh follows as `chat://conversaciones`.
#[tauri::command]
pub async fn list_conversations<R: Runtime>(
    app: AppHandle<R>,
    window: WebviewWindow<R>,
    profiles: State<'_, Profiles>,
) -> Result<Vec<Conversation>> {
    let client = client!(app, window, profiles);
    let list = client.conversations().await?;
    tauri::async_runtime::spawn(async move {
        if let Err(e) = client.refresh().await {
            tracing::debug!(error = %e, "refresh postponed");
        }
    });
    Ok(list)
}

#[tauri::command]
pub async fn open_conversation<R: Runtime>(
    app: AppHandle<R>,
    window: WebviewWindow<R>,
    profiles: State<'_, Profiles>,
    conversation_id: i64,
) -> Result<Vec<Message>> {
    client!(app, window, profiles).open_conversation(conversation_id).await
}

#[tauri::command]
pub async fn load_older<R: Runtime>(
    app: AppHandle<R>,
    window: WebviewWindow<R>,
    profiles: State<'_, Profiles>,
    conversation_id: i64,
    before: i64,
) -> Result<Vec<Message>> {
    client!(app, window, profiles).load_older(conversation_id, before).await
}

#[tauri::command]
pub async fn send_message<R: Runtime>(
    app: AppHandle<R>,
    window: WebviewWindow<R>,
    profiles: State<'_, Profiles>,
    conversation_id: i64,
    content: String,
) -> Result<Message> {
    client!(app, window, profiles).send(conversation_id, &content).await
}

#[tauri::command]
pub async fn retry_message<R: Runtime>(
    app: AppHandle<R>,
    window: WebviewWindow<R>,
    profiles: State<'_, Profiles>,
    local_id: i64,
) -> Result<Message> {
    client!(app, window, profiles).retry(local_id).await
}

#[tauri::command]
pub async fn discard_message<R: Runtime>(
    app: AppHandle<R>,
    window: WebviewWindow<R>,
    profiles: State<'_, Profiles>,
    local_id: i64,
) -> Result<()> {
    client!(app, window, profiles).discard(local_id).await
}

#[tauri::command]
pub async fn mark_read<R: Runtime>(
    app: AppHandle<R>,
    window: WebviewWindow<R>,
    profiles: State<'_, Profiles>,
    conversation_id: i64,
) -> Result<()> {
    client!(app, window, profiles).mark_read(conversation_id).await
}

#[tauri::command]
pub async fn list_contacts<R: Runtime>(
    app: AppHandle<R>,
    window: WebviewWindow<R>,
    profiles: State<'_, Profiles>,
) -> Result<Vec<Peer>> {
    client!(app, window, profiles).contacts().await
}

#[tauri::command]
pub async fn start_conversation<R: Runtime>(
    app: AppHandle<R>,
    window: WebviewWindow<R>,
    profiles: State<'_, Profiles>,
    user_id: i64,
) -> Result<Conversation> {
    client!(app, window, profiles).start_conversation(user_id).await
}

/// The "Nueva ventana" menu item, for UIs that offer it as a button too.
#[tauri::command]
pub async fn new_window<R: Runtime>(app: AppHandle<R>) -> Result<String> {
    crate::open_profile_window(&app, None)
        .map_err(|e| ClientError::new(chatstudy_client::ErrorKind::Internal, e.to_string()))
}
