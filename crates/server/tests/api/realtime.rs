use std::time::Duration;

use chatstudy_pusher::relay::{Relay, RelayConfig};
use chatstudy_pusher::subscriber::SubscriberConfig;
use chatstudy_pusher::Credentials;
use chatstudy_server::domain::Role;
use serde_json::{json, Value};

use crate::common::*;

#[tokio::test]
async fn a_message_reaches_the_conversation_and_both_users_channels() {
    let Some(app) = spawn_app().await else { return };
    let (student, advisor, chat) = app.pair().await;
    let (_a, mut advisor_events) = app.subscribe(&advisor, &format!("private-usuario-{}", advisor.id)).await;
    let (_s, mut student_events) = app.subscribe(&student, &format!("private-usuario-{}", student.id)).await;
    let (_c, mut chat_events) = app.subscribe(&advisor, &format!("private-chat-{chat}")).await;

    let sent: Value = app.send(&student, chat, "¿Me confirma la tutoría?").await.json().await.unwrap();
    for events in [&mut advisor_events, &mut student_events, &mut chat_events] {
        let (_, data) = next_message(events, "nuevo-mensaje").await;
        assert_eq!(data, sent["mensaje"]);
    }
}

#[tokio::test]
async fn channel_auth_follows_the_authorization_matrix() {
    let Some(app) = spawn_app().await else { return };
    let (student, advisor, chat) = app.pair().await;
    let outsider = app.user(Role::Estudiante, "fisgon").await;
    let credentials = app.state.realtime.credentials().clone();
    let cases = [
        (&student, format!("private-usuario-{}", student.id), 200),
        (&student, format!("private-usuario-{}", advisor.id), 403),
        (&student, format!("private-chat-{chat}"), 200),
        (&advisor, format!("private-chat-{chat}"), 200),
        (&outsider, format!("private-chat-{chat}"), 403),
        (&outsider, "private-chat-999999".to_owned(), 403),
        (&student, "private-otra-cosa".to_owned(), 403),
        (&student, format!("chat-{chat}"), 403),
    ];
    for (user, channel, status) in cases {
        let response = app
            .http
            .post(app.url("/pusher/auth"))
            .bearer_auth(&user.token)
            .form(&[("socket_id", "1234.1234"), ("channel_name", channel.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), status, "{channel}");
        let body: Value = response.json().await.unwrap();
        if status == 200 {
            assert_eq!(body["auth"], credentials.channel_auth("1234.1234", &channel), "{channel}");
        } else {
            assert!(body["error"].is_string());
        }
    }
    // JSON bodies work too; bad socket ids and missing fields are 400.
    let json_body = app
        .post(
            &student,
            "/pusher/auth",
            json!({ "socket_id": "1.2", "channel_name": format!("private-usuario-{}", student.id) }),
        )
        .await;
    assert_eq!(json_body.status(), 200);
    assert_eq!(app.post(&student, "/pusher/auth", json!({ "socket_id": "1.2" })).await.status(), 400);
    let bad_socket =
        app.post(&student, "/pusher/auth", json!({ "socket_id": "x", "channel_name": "private-chat-1" })).await;
    assert_eq!(bad_socket.status(), 400);
    let anonymous = app.http.post(app.url("/pusher/auth")).form(&[("socket_id", "1.2")]).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
}

#[tokio::test]
async fn channel_auth_uses_the_configured_pusher_credentials() {
    // Pusher's documented example key and secret: the server signs exactly as Pusher specifies.
    let Some(app) = spawn_app_with(|c| {
        c.pusher_key = Some("278d425bdf160c739803".into());
        c.pusher_secret = Some("7ad3773142a6692b25b8".into());
    })
    .await
    else {
        return;
    };
    let student = app.user(Role::Estudiante, "firmante").await;
    let channel = format!("private-usuario-{}", student.id);
    let body: Value = app
        .post(&student, "/pusher/auth", json!({ "socket_id": "1234.1234", "channel_name": channel }))
        .await
        .json()
        .await
        .unwrap();
    let expected =
        Credentials::new("3", "278d425bdf160c739803", "7ad3773142a6692b25b8").channel_auth("1234.1234", &channel);
    assert_eq!(body["auth"], expected);
    let settings: Value = app.get(&student, "/chat/realtime").await.json().await.unwrap();
    assert_eq!(settings["key"], "278d425bdf160c739803");
    assert!(!settings.to_string().contains("7ad3773142a6692b25b8"), "the secret never leaves the server");
}

#[tokio::test]
async fn realtime_settings_describe_the_relay_without_the_secret() {
    let Some(app) = spawn_app().await else { return };
    let user = app.user(Role::Asesor, "ajustes").await;
    let settings: Value = app.get(&user, "/chat/realtime").await.json().await.unwrap();
    assert_eq!(settings["provider"], "relay");
    assert_eq!(settings["host"], "127.0.0.1");
    assert_eq!(settings["port"], app.relay_port.unwrap());
    assert_eq!(settings["useTLS"], false);
    assert!(settings.get("secret").is_none());
    assert!(!settings.to_string().contains(&app.state.realtime.credentials().secret));
}

#[tokio::test]
async fn new_conversations_and_read_markers_reach_the_users_channels() {
    let Some(app) = spawn_app().await else { return };
    let student = app.user(Role::Estudiante, "nora").await;
    let advisor = app.user(Role::Asesor, "oscar").await;
    let (_a, mut advisor_events) = app.subscribe(&advisor, &format!("private-usuario-{}", advisor.id)).await;
    let created: Value =
        app.post(&student, "/chat/conversaciones", json!({ "userId": advisor.id })).await.json().await.unwrap();
    let chat = created["conversacion"]["id"].as_i64().unwrap() as i32;
    let (_, data) = next_message(&mut advisor_events, "conversacion-nueva").await;
    assert_eq!((data["id"].clone(), data["id_estudiante"].clone()), (json!(chat), json!(student.id)));

    app.send(&student, chat, "hola").await;
    next_message(&mut advisor_events, "nuevo-mensaje").await;
    app.post(&advisor, &format!("/chat/conversaciones/{chat}/leido"), json!({})).await;
    let (_, data) = next_message(&mut advisor_events, "conversacion-leida").await;
    assert_eq!(data, json!({ "id_conversacion": chat, "id_usuario": advisor.id }));
}

#[tokio::test]
async fn legacy_public_channels_are_published_only_when_enabled() {
    let Some(app) = spawn_app_with(|c| c.legacy_public_channels = true).await else {
        return;
    };
    let (student, _advisor, chat) = app.pair().await;
    let (_l, mut legacy) = app.subscribe(&student, &format!("chat-{chat}")).await;
    app.send(&student, chat, "para clientes web antiguos").await;
    let (channel, data) = next_message(&mut legacy, "nuevo-mensaje").await;
    assert_eq!(channel.as_deref(), Some(format!("chat-{chat}").as_str()));
    assert_eq!(data["contenido"], "para clientes web antiguos");

    let Some(plain) = spawn_app().await else {
        return;
    };
    let (student, _advisor, chat) = plain.pair().await;
    let (_l, mut legacy) = plain.subscribe(&student, &format!("chat-{chat}")).await;
    plain.send(&student, chat, "nadie lo oye en público").await;
    assert_quiet(&mut legacy, Duration::from_millis(700)).await;
}

/// With an external Pusher-compatible server that is down, sends still succeed once, and the event is
/// delivered when the server comes back.
#[tokio::test]
async fn a_realtime_outage_neither_fails_nor_duplicates_a_send() {
    let port = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap().port()
    };
    let credentials = Credentials::new("outage", "outage-key", "outage-secret");
    let Some(app) = spawn_app_with(|c| TestApp::use_pusher_server(c, &credentials, port)).await else {
        return;
    };
    let (student, advisor, chat) = app.pair().await;
    let response = app.send(&student, chat, "aunque el tiempo real esté caído").await;
    assert_eq!(response.status(), 200);
    let sent: Value = response.json().await.unwrap();
    assert_eq!(app.count("SELECT count(*) FROM chat_mensaje").await, 1);

    // The realtime server comes back; the background retry delivers the event.
    let relay = Relay::new(RelayConfig::new(credentials));
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await.unwrap();
    tokio::spawn(relay.clone().serve(listener));
    let config = SubscriberConfig::for_host("outage-key", "127.0.0.1", port, false).unwrap();
    let (_sub, mut events) = subscribe_with(
        config,
        app.url("/pusher/auth"),
        advisor.token.clone(),
        &format!("private-usuario-{}", advisor.id),
    )
    .await;
    let (_, data) = next_message(&mut events, "nuevo-mensaje").await;
    assert_eq!(data, sent["mensaje"]);
    assert_eq!(app.count("SELECT count(*) FROM chat_mensaje").await, 1);
}

/// Deployments with more than one server point at sockudo: configured by `PUSHER_HOST`/`PUSHER_PORT`,
/// the server triggers there and authorizes clients for it.
#[tokio::test]
async fn the_server_works_against_sockudo() {
    let Some((port, credentials)) = sockudo() else { return };
    let Some(app) = spawn_app_with(|c| TestApp::use_pusher_server(c, &credentials, port)).await else {
        return;
    };
    assert!(app.relay_port.is_none(), "no built-in relay when a Pusher server is configured");
    let (student, advisor, chat) = app.pair().await;
    let settings: Value = app.get(&student, "/chat/realtime").await.json().await.unwrap();
    assert_eq!((settings["provider"].as_str(), settings["port"].as_u64()), (Some("pusher"), Some(port as u64)));
    let (_a, mut advisor_events) = app.subscribe(&advisor, &format!("private-usuario-{}", advisor.id)).await;
    let (_c, mut chat_events) = app.subscribe(&student, &format!("private-chat-{chat}")).await;
    let sent: Value = app.send(&student, chat, "a través de sockudo").await.json().await.unwrap();
    assert_eq!(next_message(&mut advisor_events, "nuevo-mensaje").await.1, sent["mensaje"]);
    assert_eq!(next_message(&mut chat_events, "nuevo-mensaje").await.1, sent["mensaje"]);
}
