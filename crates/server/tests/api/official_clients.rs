//! The official Pusher clients against Chatstudy: pusher-js subscribes through the server's
//! `/pusher/auth` and the relay; the `pusher` Node SDK triggers through the relay's HTTP API.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use chatstudy_server::domain::Role;
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

use crate::common::*;

/// `tests/interop` with its npm packages installed, or `None` to skip outside `make test`.
fn interop_dir() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/interop");
    if dir.join("node_modules/pusher-js").is_dir() && dir.join("node_modules/pusher").is_dir() {
        return Some(dir);
    }
    if std::env::var_os("CHATSTUDY_REQUIRE_SERVICES").is_some() {
        panic!("tests/interop/node_modules is missing; run `make test`, which installs it");
    }
    eprintln!("skipped: tests/interop has no node_modules (run `make test`)");
    None
}

async fn next_line(lines: &mut tokio::io::Lines<BufReader<tokio::process::ChildStdout>>) -> Value {
    let line =
        tokio::time::timeout(Duration::from_secs(20), lines.next_line()).await.expect("pusher-js answers").unwrap();
    serde_json::from_str(&line.expect("a line from pusher-js")).unwrap()
}

#[tokio::test]
async fn pusher_js_authorizes_through_the_server_and_receives_a_message() {
    let Some(dir) = interop_dir() else { return };
    let Some(app) = spawn_app().await else { return };
    let (student, advisor, chat) = app.pair().await;
    let channel = format!("private-chat-{chat}");
    let mut node = Command::new("node")
        .arg(dir.join("pusher-js-client.mjs"))
        .env("KEY", &app.state.realtime.credentials().key)
        .env("HOST", "127.0.0.1")
        .env("PORT", app.relay_port.unwrap().to_string())
        .env("AUTH_ENDPOINT", app.url("/pusher/auth"))
        .env("TOKEN", &advisor.token)
        .env("CHANNEL", &channel)
        .env("EVENT", "nuevo-mensaje")
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("node runs");
    let mut lines = BufReader::new(node.stdout.take().unwrap()).lines();
    assert_eq!(next_line(&mut lines).await["type"], "subscribed");
    let sent: Value = app.send(&student, chat, "hola desde Rust").await.json().await.unwrap();
    let received = next_line(&mut lines).await;
    assert_eq!(received, json!({ "type": "event", "data": sent["mensaje"] }));
    assert!(node.wait().await.unwrap().success());
}

#[tokio::test]
async fn pusher_js_is_refused_a_conversation_it_is_not_in() {
    let Some(dir) = interop_dir() else { return };
    let Some(app) = spawn_app().await else { return };
    let (_student, _advisor, chat) = app.pair().await;
    let outsider = app.user(Role::Asesor, "ajena").await;
    let output = Command::new("node")
        .arg(dir.join("pusher-js-client.mjs"))
        .env("KEY", &app.state.realtime.credentials().key)
        .env("HOST", "127.0.0.1")
        .env("PORT", app.relay_port.unwrap().to_string())
        .env("AUTH_ENDPOINT", app.url("/pusher/auth"))
        .env("TOKEN", &outsider.token)
        .env("CHANNEL", format!("private-chat-{chat}"))
        .env("EVENT", "nuevo-mensaje")
        .output()
        .await
        .unwrap();
    let line: Value = serde_json::from_slice(output.stdout.split(|b| *b == b'\n').next().unwrap()).unwrap();
    assert_eq!(line, json!({ "type": "subscription_error", "status": 403 }));
}

#[tokio::test]
async fn the_official_node_sdk_triggers_through_the_relay_http_api() {
    let Some(dir) = interop_dir() else { return };
    let Some(app) = spawn_app_with(|c| {
        c.pusher_app_id = Some("sdk-app".into());
        c.pusher_key = Some("sdk-key".into());
        c.pusher_secret = Some("sdk-secret".into());
    })
    .await
    else {
        return;
    };
    let user = app.user(Role::Estudiante, "oyente").await;
    let channel = format!("private-usuario-{}", user.id);
    let (_sub, mut events) = app.subscribe(&user, &channel).await;
    let output = Command::new("node")
        .arg(dir.join("sdk-trigger.mjs"))
        .env("APP_ID", "sdk-app")
        .env("KEY", "sdk-key")
        .env("SECRET", "sdk-secret")
        .env("HOST", "127.0.0.1")
        .env("PORT", app.relay_port.unwrap().to_string())
        .env("CHANNEL", &channel)
        .output()
        .await
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stdout));
    assert_eq!(next_message(&mut events, "desde-node").await.1, json!({ "origen": "pusher sdk" }));
    assert_eq!(next_message(&mut events, "lote").await.1, json!({ "n": 1 }));
    assert_eq!(next_message(&mut events, "lote").await.1, json!({ "n": 2 }));
}
