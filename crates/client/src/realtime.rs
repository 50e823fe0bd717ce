//! The realtime task: one WebSocket per signed-in profile, subscribed to the user's own channel,
//! which carries every conversation's messages, new conversations and read markers. Received
//! messages go to the cache first, then to the profile's windows.

use std::sync::Arc;
use std::time::Duration;

use chatstudy_pusher::subscriber::{backoff, AuthorizeError, Subscriber, SubscriberConfig, SubscriberEvent};
use serde_json::Value;

use crate::api::ServerMessage;
use crate::client::Core;
use crate::events::{ClientEvent, ConnectionState};

/// The subscriber reconnects by itself; this loop only starts over (fetching the settings again)
/// when it gives up or the settings cannot be had, backing off until a connection comes online.
pub(crate) async fn run(core: Arc<Core>) {
    let mut attempt = 0u32;
    loop {
        if let Err(e) = connect_and_listen(&core).await {
            tracing::debug!(error = %e, "realtime unavailable");
        }
        if core.state() == ConnectionState::Online {
            attempt = 0;
        }
        core.set_state(ConnectionState::Offline);
        tokio::time::sleep(backoff(Duration::from_millis(500), Duration::from_secs(30), attempt)).await;
        attempt = attempt.saturating_add(1);
    }
}

async fn connect_and_listen(core: &Arc<Core>) -> crate::error::Result<()> {
    let api = core.api().await?;
    let user = core.user().await.ok_or_else(|| crate::error::ClientError::invalid("sin usuario"))?;
    let settings = api.realtime_settings().await?;
    let config = SubscriberConfig::for_host(settings.key, &settings.host, settings.port, settings.use_tls)
        .map_err(|e| crate::error::ClientError::invalid(e.to_string()))?;
    let auth_core = core.clone();
    let authorizer = Arc::new(move |socket_id: String, channel: String| {
        let core = auth_core.clone();
        async move {
            let api = core.api().await.map_err(|e| AuthorizeError { status: e.status, message: e.message })?;
            api.channel_auth(&socket_id, &channel)
                .await
                .map_err(|e| AuthorizeError { status: e.status, message: e.message })
        }
    });
    let (subscriber, mut events) = Subscriber::start(config, authorizer);
    subscriber.subscribe(format!("private-usuario-{}", user.id));
    while let Some(event) = events.recv().await {
        match event {
            SubscriberEvent::Subscribed { .. } => {
                core.set_state(ConnectionState::Online);
                // Whatever was sent while we were away: the outbox goes now, the cache catches up.
                core.cache.wake_outbox().await?;
                core.outbox_wake.notify_one();
                match core.sync_all().await {
                    Ok(fresh) => {
                        for message in fresh {
                            core.emit(ClientEvent::Message(message));
                        }
                        core.emit_conversations().await;
                    }
                    Err(e) => tracing::warn!(error = %e, "catch-up failed; will retry on the next subscription"),
                }
            }
            SubscriberEvent::Message { event, data, .. } => {
                handle(core, user.id, &event, data.unwrap_or(Value::Null)).await?
            }
            SubscriberEvent::Disconnected { retry_in: Some(_), .. } => core.set_state(ConnectionState::Offline),
            SubscriberEvent::Disconnected { retry_in: None, reason, .. } => {
                return Err(crate::error::ClientError::new(crate::error::ErrorKind::Offline, reason))
            }
            SubscriberEvent::SubscriptionFailed { message, status, .. } => {
                tracing::warn!(%message, ?status, "subscription refused");
                return Err(crate::error::ClientError::new(crate::error::ErrorKind::Unauthorized, message));
            }
            _ => {}
        }
    }
    Ok(())
}

async fn handle(core: &Arc<Core>, me: i64, event: &str, data: Value) -> crate::error::Result<()> {
    match event {
        "nuevo-mensaje" => {
            let Ok(message) = serde_json::from_value::<ServerMessage>(data) else {
                tracing::warn!("malformed nuevo-mensaje ignored");
                return Ok(());
            };
            if core.cache.conversation(message.id_conversacion).await?.is_none() {
                // A conversation we have not seen yet: fetch the list (and its messages).
                core.sync_all().await?;
            }
            let changed = core.cache.store_messages(std::slice::from_ref(&message)).await?;
            if message.id_usuario != me && !changed.is_empty() {
                core.cache.set_unread(message.id_conversacion, true).await?;
            }
            for message in changed {
                core.emit(ClientEvent::Message(message));
            }
            core.emit_conversations().await;
        }
        "conversacion-nueva" => {
            core.sync_all().await?;
            core.emit_conversations().await;
        }
        // Read in another window of ours: clear the badge here too.
        "conversacion-leida" if data["id_usuario"].as_i64() == Some(me) => {
            if let Some(conversation) = data["id_conversacion"].as_i64() {
                core.cache.set_unread(conversation, false).await?;
                core.emit_conversations().await;
            }
        }
        _ => {}
    }
    Ok(())
}
