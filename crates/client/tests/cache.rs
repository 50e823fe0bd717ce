//! The cache's own rules, without a server.

use chatstudy_client::api::{Peer, ServerConversation, ServerMessage};
use chatstudy_client::cache::Cache;
use chrono::{Duration, Utc};

fn conversation(activity: chrono::DateTime<Utc>, unread: bool) -> ServerConversation {
    ServerConversation {
        id: 7,
        id_estudiante: 1,
        id_asesor: 2,
        ultima_actividad: activity,
        participante: Peer { id: 2, nombre: "Ana".into(), rol: "asesor".into() },
        ultimo_mensaje: None,
        no_leido: unread,
    }
}

fn message(id: i64, client_id: Option<uuid::Uuid>) -> ServerMessage {
    ServerMessage {
        id,
        id_conversacion: 7,
        contenido: format!("m{id}"),
        id_usuario: 2,
        fecha_envio: Utc::now(),
        client_id,
    }
}

#[tokio::test]
async fn a_stale_list_does_not_bring_back_a_read_badge_but_a_newer_message_does() {
    let dir = tempfile::tempdir().unwrap();
    let cache = Cache::open(dir.path()).await.unwrap();
    let t0 = Utc::now();
    cache.store_conversations(&[conversation(t0, true)]).await.unwrap();
    cache.set_unread(7, false).await.unwrap();
    // Fetched before the server heard of the read: same activity, still unread there.
    cache.store_conversations(&[conversation(t0, true)]).await.unwrap();
    assert!(!cache.conversations().await.unwrap()[0].unread);
    // A newer message: unread again.
    cache.store_conversations(&[conversation(t0 + Duration::seconds(5), true)]).await.unwrap();
    assert!(cache.conversations().await.unwrap()[0].unread);
}

#[tokio::test]
async fn messages_are_deduplicated_by_server_id_and_outbox_rows_confirmed_by_client_id() {
    let dir = tempfile::tempdir().unwrap();
    let cache = Cache::open(dir.path()).await.unwrap();
    cache.store_conversations(&[conversation(Utc::now(), false)]).await.unwrap();
    let pending = cache.enqueue(7, 1, "hola").await.unwrap();
    let client_id: uuid::Uuid = pending.client_id.clone().unwrap().parse().unwrap();

    let confirmed = cache.store_messages(&[message(10, Some(client_id))]).await.unwrap();
    assert_eq!(confirmed.len(), 1);
    assert_eq!(
        (confirmed[0].local_id, confirmed[0].server_id, confirmed[0].state.as_str()),
        (pending.local_id, Some(10), "enviado")
    );
    assert!(
        cache.store_messages(&[message(10, Some(client_id))]).await.unwrap().is_empty(),
        "the same message again is dropped"
    );
    assert!(cache.store_messages(&[message(10, None)]).await.unwrap().is_empty(), "so is a copy without client id");

    // A later pending message sorts after the confirmed ones, whatever their ids.
    cache.store_messages(&[message(12, None)]).await.unwrap();
    let later = cache.enqueue(7, 1, "después").await.unwrap();
    cache.store_messages(&[message(11, None)]).await.unwrap();
    let page: Vec<(Option<i64>, String)> =
        cache.page(7, None, 50).await.unwrap().into_iter().map(|m| (m.server_id, m.content)).collect();
    assert_eq!(
        page,
        vec![(Some(10), "hola".into()), (Some(11), "m11".into()), (Some(12), "m12".into()), (None, later.content)]
    );
}

#[tokio::test]
async fn the_outbox_sends_a_conversations_messages_in_order_and_failed_ones_can_be_retried_or_discarded() {
    let dir = tempfile::tempdir().unwrap();
    let cache = Cache::open(dir.path()).await.unwrap();
    cache.store_conversations(&[conversation(Utc::now(), false)]).await.unwrap();
    let first = cache.enqueue(7, 1, "primero").await.unwrap();
    let second = cache.enqueue(7, 1, "segundo").await.unwrap();
    let now = Utc::now();
    // The first is in backoff: the second must wait behind it.
    cache.postpone(first.local_id, 1, now + Duration::seconds(30), "sin conexión").await.unwrap();
    let (next, due) = cache.next_outgoing(now).await.unwrap();
    assert!(next.is_none());
    assert!(due.unwrap() > now);
    cache.wake_outbox().await.unwrap();
    assert_eq!(cache.next_outgoing(now).await.unwrap().0.unwrap().local_id, first.local_id);

    let failed = cache.fail(first.local_id, "Rechazado").await.unwrap().unwrap();
    assert_eq!((failed.state.as_str(), failed.error.as_deref()), ("fallido", Some("Rechazado")));
    assert_eq!(
        cache.next_outgoing(now).await.unwrap().0.unwrap().local_id,
        second.local_id,
        "a failed message no longer blocks"
    );
    let retried = cache.retry(first.local_id).await.unwrap().unwrap();
    assert_eq!(
        (retried.state.as_str(), retried.client_id.clone()),
        ("pendiente", first.client_id.clone()),
        "same clientId"
    );
    assert!(!cache.discard(first.local_id).await.unwrap(), "only failed messages can be discarded");
    cache.fail(first.local_id, "x").await.unwrap();
    assert!(cache.discard(first.local_id).await.unwrap());
}
