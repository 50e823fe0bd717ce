//! The desktop core against the real server, PostgreSQL and relay: two profiles chatting, offline
//! reading and sending, a dropped WebSocket, and a restart with a pending outbox.

use std::net::SocketAddr;
use std::time::Duration;

use chatstudy_client::cache::Message;
use chatstudy_client::{ChatClient, ClientEvent, ConnectionState};
use chatstudy_server::domain::Role;
use chatstudy_testkit::{free_port, Server, PASSWORD};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::broadcast;

async fn profile(
    dir: &tempfile::TempDir,
    server: &Server,
    email: &str,
) -> (ChatClient, broadcast::Receiver<ClientEvent>) {
    let client = ChatClient::open(dir.path(), &server.url()).await.unwrap();
    let events = client.events();
    client.login(email, PASSWORD).await.unwrap();
    (client, events)
}

/// Wait for an event that `matches`, ignoring the others.
async fn wait_for<T>(
    events: &mut broadcast::Receiver<ClientEvent>,
    what: &str,
    mut matches: impl FnMut(&ClientEvent) -> Option<T>,
) -> T {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(40);
    loop {
        match tokio::time::timeout_at(deadline, events.recv()).await {
            Ok(Ok(event)) => {
                if std::env::var_os("DEBUG_EVENTS").is_some() {
                    eprintln!("[{what}] {event:?}");
                }
                if let Some(found) = matches(&event) {
                    return found;
                }
            }
            Ok(Err(broadcast::error::RecvError::Lagged(_))) => {}
            Ok(Err(e)) => panic!("events closed while waiting for {what}: {e}"),
            Err(_) => panic!("timed out waiting for {what}"),
        }
    }
}

async fn online(events: &mut broadcast::Receiver<ClientEvent>) {
    wait_for(events, "online", |e| matches!(e, ClientEvent::Connection(ConnectionState::Online)).then_some(())).await;
}

fn sent(content: &str) -> impl FnMut(&ClientEvent) -> Option<Message> + '_ {
    move |e| match e {
        ClientEvent::Message(m) if m.content == content && m.state == "enviado" => Some(m.clone()),
        _ => None,
    }
}

/// A student and an advisor, signed in on two profiles, with a conversation between them.
async fn pair(
    server: &Server,
    dirs: &(tempfile::TempDir, tempfile::TempDir),
) -> (ChatClient, broadcast::Receiver<ClientEvent>, ChatClient, broadcast::Receiver<ClientEvent>, i64) {
    let student_email = server.user(Role::Estudiante, "alumna").await;
    let advisor_email = server.user(Role::Asesor, "asesor").await;
    let (student, mut student_events) = profile(&dirs.0, server, &student_email).await;
    let (advisor, mut advisor_events) = profile(&dirs.1, server, &advisor_email).await;
    online(&mut student_events).await;
    online(&mut advisor_events).await;
    let contacts = student.contacts().await.unwrap();
    assert_eq!(contacts.len(), 1);
    let conversation = student.start_conversation(contacts[0].id).await.unwrap();
    assert_eq!(conversation.peer.nombre, "asesor");
    wait_for(&mut advisor_events, "the new conversation", |e| match e {
        ClientEvent::Conversations(list) => list.iter().any(|c| c.id == conversation.id).then_some(()),
        _ => None,
    })
    .await;
    (student, student_events, advisor, advisor_events, conversation.id)
}

#[tokio::test]
async fn two_profiles_chat_through_the_server() {
    let Some(server) = Server::start_with(|_| {}).await else { return };
    let dirs = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (student, mut student_events, advisor, mut advisor_events, chat) = pair(&server, &dirs).await;

    let pending = student.send(chat, "  ¿Podemos vernos el lunes?  ").await.unwrap();
    assert_eq!(
        (pending.state.as_str(), pending.content.as_str(), pending.server_id),
        ("pendiente", "¿Podemos vernos el lunes?", None)
    );
    let confirmed = wait_for(&mut student_events, "confirmation", sent("¿Podemos vernos el lunes?")).await;
    assert_eq!(confirmed.local_id, pending.local_id);
    let received = wait_for(&mut advisor_events, "the message", sent("¿Podemos vernos el lunes?")).await;
    assert_eq!(received.server_id, confirmed.server_id);

    let list = advisor.conversations().await.unwrap();
    assert!(list[0].unread);
    advisor.mark_read(chat).await.unwrap();
    assert!(!advisor.conversations().await.unwrap()[0].unread);

    advisor.send(chat, "Claro, a las diez").await.unwrap();
    wait_for(&mut student_events, "the reply", sent("Claro, a las diez")).await;
    let page = student.open_conversation(chat).await.unwrap();
    let contents: Vec<&str> = page.iter().map(|m| m.content.as_str()).collect();
    assert_eq!(contents, ["¿Podemos vernos el lunes?", "Claro, a las diez"]);
    assert_eq!(server.count("¿Podemos vernos el lunes?").await, 1);

    // Bad input is refused before anything is stored or sent.
    assert_eq!(student.send(chat, "   ").await.unwrap_err().kind, chatstudy_client::ErrorKind::Invalid);
    assert_eq!(student.send(chat, &"x".repeat(4_001)).await.unwrap_err().kind, chatstudy_client::ErrorKind::Invalid);
    assert_eq!(student.send(9_999, "hola").await.unwrap_err().kind, chatstudy_client::ErrorKind::Invalid);
}

#[tokio::test]
async fn offline_the_cache_still_reads_and_a_queued_message_goes_once_on_return() {
    let Some(mut server) = Server::start_with(|_| {}).await else { return };
    let dirs = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (student, mut student_events, _advisor, mut advisor_events, chat) = pair(&server, &dirs).await;
    student.send(chat, "antes del corte").await.unwrap();
    wait_for(&mut student_events, "confirmation", sent("antes del corte")).await;

    server.stop().await;
    wait_for(&mut student_events, "offline", |e| {
        matches!(e, ClientEvent::Connection(ConnectionState::Offline)).then_some(())
    })
    .await;
    let list = student.conversations().await.unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].last_message.as_ref().unwrap().content, "antes del corte");
    assert_eq!(student.open_conversation(chat).await.unwrap().len(), 1);
    let queued = student.send(chat, "escrito sin conexión").await.unwrap();
    assert_eq!(queued.state, "pendiente");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(student.open_conversation(chat).await.unwrap().last().unwrap().state, "pendiente");

    server.start().await;
    let delivered =
        wait_for(&mut student_events, "delivery after the server returns", sent("escrito sin conexión")).await;
    assert_eq!(delivered.local_id, queued.local_id);
    wait_for(&mut advisor_events, "the queued message", sent("escrito sin conexión")).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(server.count("escrito sin conexión").await, 1);
}

/// Forwards TCP connections to `target` until cut; a cut drops every open connection and refuses
/// new ones until restored.
struct Proxy {
    port: u16,
    cut: tokio::sync::watch::Sender<bool>,
}

impl Proxy {
    async fn start(target: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (cut, cut_rx) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            loop {
                let (mut inbound, _) = listener.accept().await.unwrap();
                if *cut_rx.borrow() {
                    continue; // dropped: refused
                }
                let mut connection_cut = cut_rx.clone();
                tokio::spawn(async move {
                    let Ok(mut outbound) = TcpStream::connect(target).await else { return };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = connection_cut.wait_for(|cut| *cut) => {}
                    }
                });
            }
        });
        Self { port, cut }
    }
}

#[tokio::test]
async fn fifty_messages_sent_while_the_websocket_is_down_arrive_once_each() {
    // Clients reach the relay through a proxy the test can cut; HTTP goes straight to the server.
    let relay_port = free_port();
    let proxy = Proxy::start(SocketAddr::from(([127, 0, 0, 1], relay_port))).await;
    let Some(server) = Server::start_with(|c| {
        c.relay_port = relay_port;
        c.relay_public_port = Some(proxy.port);
    })
    .await
    else {
        return;
    };

    let dirs = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (student, _student_events, advisor, mut advisor_events, chat) = pair(&server, &dirs).await;
    proxy.cut.send(true).unwrap();
    wait_for(&mut advisor_events, "the advisor going offline", |e| {
        matches!(e, ClientEvent::Connection(ConnectionState::Offline)).then_some(())
    })
    .await;
    for i in 0..50 {
        student.send(chat, &format!("mensaje {i:02}")).await.unwrap();
    }
    // Wait until the server has all 50 (the student's HTTP path is not cut).
    for _ in 0..200 {
        let stored: i64 =
            sqlx::query_scalar("SELECT count(*) FROM chat_mensaje").fetch_one(&server.pool).await.unwrap();
        if stored == 50 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    proxy.cut.send(false).unwrap();
    let mut seen = std::collections::HashMap::new();
    while seen.len() < 50 {
        let message = wait_for(&mut advisor_events, "the 50 messages", |e| match e {
            ClientEvent::Message(m) if m.content.starts_with("mensaje ") => Some(m.clone()),
            _ => None,
        })
        .await;
        *seen.entry(message.server_id.unwrap()).or_insert(0) += 1;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    while let Ok(event) = advisor_events.try_recv() {
        if let ClientEvent::Message(m) = event {
            *seen.entry(m.server_id.unwrap()).or_insert(0) += 1;
        }
    }
    assert!(seen.values().all(|n| *n == 1), "each message announced once: {seen:?}");
    let cached = advisor.open_conversation(chat).await.unwrap();
    let contents: Vec<String> = cached.iter().map(|m| m.content.clone()).collect();
    let expected: Vec<String> = (0..50).map(|i| format!("mensaje {i:02}")).collect();
    assert_eq!(contents, expected, "all 50, once each, in order");
}

#[tokio::test]
async fn a_pending_outbox_survives_an_app_restart_and_is_delivered_once() {
    let Some(mut server) = Server::start_with(|_| {}).await else { return };
    let dirs = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (student, mut student_events, _advisor, _advisor_events, chat) = pair(&server, &dirs).await;
    server.stop().await;
    wait_for(&mut student_events, "offline", |e| {
        matches!(e, ClientEvent::Connection(ConnectionState::Offline)).then_some(())
    })
    .await;
    for text in ["uno", "dos", "tres"] {
        student.send(chat, text).await.unwrap();
    }
    student.shutdown().await;
    drop(student);

    server.start().await;
    let reopened = ChatClient::open(dirs.0.path(), &server.url()).await.unwrap();
    let mut events = reopened.events();
    assert_eq!(reopened.open_conversation(chat).await.unwrap().iter().filter(|m| m.state == "pendiente").count(), 3);
    for text in ["uno", "dos", "tres"] {
        wait_for(&mut events, "delivery after restart", sent(text)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    for text in ["uno", "dos", "tres"] {
        assert_eq!(server.count(text).await, 1, "{text}");
    }
    let order: Vec<i64> =
        sqlx::query_scalar("SELECT id FROM chat_mensaje ORDER BY id").fetch_all(&server.pool).await.unwrap();
    let contents: Vec<String> =
        sqlx::query_scalar("SELECT contenido FROM chat_mensaje ORDER BY id").fetch_all(&server.pool).await.unwrap();
    assert_eq!((order.len(), contents), (3, vec!["uno".to_owned(), "dos".into(), "tres".into()]), "sent in order");
}

#[tokio::test]
async fn the_token_is_stored_owner_only_and_logout_forgets_the_cache() {
    let Some(server) = Server::start_with(|_| {}).await else { return };
    let dir = tempfile::tempdir().unwrap();
    let email = server.user(Role::Estudiante, "privada").await;
    let (client, mut events) = profile(&dir, &server, &email).await;
    online(&mut events).await;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("chatstudy.db")).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(std::fs::metadata(dir.path()).unwrap().permissions().mode() & 0o777, 0o700);
    }
    assert!(client.user().await.is_some());
    client.logout().await.unwrap();
    assert!(client.user().await.is_none());
    assert_eq!(client.conversations().await.unwrap_err().kind, chatstudy_client::ErrorKind::Unauthorized);
    let wrong = client.login(&email, "mal").await.unwrap_err();
    assert_eq!(
        (wrong.kind, wrong.message.as_str()),
        (chatstudy_client::ErrorKind::Unauthorized, "Correo o contraseña incorrectos")
    );
}
