//! The commands as the UI calls them (through Tauri's IPC, on the mock runtime), two windows on two
//! profiles against a real server: sign in, start a conversation, exchange messages, bad input.

use std::time::{Duration, Instant};

use chatstudy_app::profiles::Profiles;
use chatstudy_server::domain::Role;
use chatstudy_testkit::{Server, PASSWORD};
use serde_json::{json, Value};
use tauri::ipc::{CallbackFn, InvokeBody};
use tauri::test::{mock_context, noop_assets, MockRuntime, INVOKE_KEY};
use tauri::webview::InvokeRequest;
use tauri::{Manager, WebviewWindow, WebviewWindowBuilder};

fn invoke(window: &WebviewWindow<MockRuntime>, cmd: &str, args: Value) -> Result<Value, Value> {
    let request = InvokeRequest {
        cmd: cmd.into(),
        callback: CallbackFn(0),
        error: CallbackFn(1),
        url: "tauri://localhost".parse().unwrap(),
        body: InvokeBody::Json(args),
        headers: Default::default(),
        invoke_key: INVOKE_KEY.to_string(),
    };
    tauri::test::get_ipc_response(window, request).map(|body| body.deserialize::<Value>().expect("JSON response"))
}

/// Poll a command until `done` holds (events are covered by the core's tests; here the commands).
fn eventually(window: &WebviewWindow<MockRuntime>, cmd: &str, args: Value, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let value = invoke(window, cmd, args.clone()).expect("command succeeds");
        if done(&value) {
            return value;
        }
        assert!(Instant::now() < deadline, "{cmd} never satisfied the condition; last: {value}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn two_windows_two_users_chat_through_the_commands() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let Some(server) = runtime.block_on(Server::start_with(|_| {})) else { return };
    let student = runtime.block_on(server.user(Role::Estudiante, "alumno"));
    let advisor = runtime.block_on(server.user(Role::Asesor, "asesora"));
    let data = tempfile::tempdir().unwrap();

    let app =
        chatstudy_app::configure(tauri::test::mock_builder(), Profiles::new(data.path().to_path_buf(), server.url()))
            .build(mock_context(noop_assets()))
            .unwrap();
    let profiles = app.state::<Profiles>();
    profiles.assign("main", "principal");
    profiles.assign("w2", "ventana-2");
    let main = WebviewWindowBuilder::new(&app, "main", Default::default()).build().unwrap();
    let second = WebviewWindowBuilder::new(&app, "w2", Default::default()).build().unwrap();

    assert_eq!(invoke(&main, "profile_name", json!({})).unwrap(), "principal");
    assert_eq!(invoke(&main, "current_user", json!({})).unwrap(), Value::Null);
    let refused = invoke(&main, "list_conversations", json!({})).unwrap_err();
    assert_eq!(refused["kind"], "unauthorized");
    let wrong = invoke(&main, "login", json!({ "email": student, "password": "mal" })).unwrap_err();
    assert_eq!(wrong, json!({ "kind": "unauthorized", "message": "Correo o contraseña incorrectos", "status": 401 }));
    let bad_url = invoke(&main, "set_server_url", json!({ "url": "ftp://x" })).unwrap_err();
    assert_eq!(bad_url["kind"], "invalid");

    let me = invoke(&main, "login", json!({ "email": student, "password": PASSWORD })).unwrap();
    assert_eq!(me["rol"], "estudiante");
    let other = invoke(&second, "login", json!({ "email": advisor, "password": PASSWORD })).unwrap();
    assert_eq!(other["rol"], "asesor");
    assert_eq!(
        invoke(&second, "current_user", json!({})).unwrap()["id"],
        other["id"],
        "each window keeps its own user"
    );

    let contacts = invoke(&main, "list_contacts", json!({})).unwrap();
    assert_eq!(contacts[0]["nombre"], "asesora");
    let conversation = invoke(&main, "start_conversation", json!({ "userId": contacts[0]["id"] })).unwrap();
    let chat = conversation["id"].as_i64().unwrap();

    let sent =
        invoke(&main, "send_message", json!({ "conversationId": chat, "content": "Hola, ¿tiene tutorías hoy?" }))
            .unwrap();
    assert_eq!(sent["state"], "pendiente");
    let empty = invoke(&main, "send_message", json!({ "conversationId": chat, "content": "  " })).unwrap_err();
    assert_eq!((empty["kind"].as_str(), empty["message"].as_str()), (Some("invalid"), Some("El mensaje está vacío")));

    let received = eventually(&second, "open_conversation", json!({ "conversationId": chat }), |page| {
        page.as_array()
            .is_some_and(|p| p.iter().any(|m| m["content"] == "Hola, ¿tiene tutorías hoy?" && m["state"] == "enviado"))
    });
    assert_eq!(received.as_array().unwrap().len(), 1);
    let list = invoke(&second, "list_conversations", json!({})).unwrap();
    assert_eq!(list[0]["unread"], true);
    invoke(&second, "mark_read", json!({ "conversationId": chat })).unwrap();
    assert_eq!(invoke(&second, "list_conversations", json!({})).unwrap()[0]["unread"], false);

    invoke(&second, "send_message", json!({ "conversationId": chat, "content": "Sí, a las cinco" })).unwrap();
    eventually(&main, "open_conversation", json!({ "conversationId": chat }), |page| {
        page.as_array().is_some_and(|p| p.len() == 2 && p.iter().all(|m| m["state"] == "enviado"))
    });
    assert_eq!(runtime.block_on(server.count("Hola, ¿tiene tutorías hoy?")), 1);

    invoke(&main, "logout", json!({})).unwrap();
    assert_eq!(invoke(&main, "current_user", json!({})).unwrap(), Value::Null);
    assert_eq!(
        invoke(&second, "current_user", json!({})).unwrap()["rol"],
        "asesor",
        "the other window stays signed in"
    );
}
