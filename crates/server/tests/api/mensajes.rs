use std::time::Duration;

use chatstudy_server::domain::Role;
use serde_json::{json, Value};

use crate::common::*;

#[tokio::test]
async fn sending_stores_bumps_activity_and_marks_the_receiver_unread() {
    let Some(app) = spawn_app().await else { return };
    let (student, advisor, chat) = app.pair().await;
    let before = app.last_activity(chat).await;

    let client_id = uuid::Uuid::new_v4();
    let response = app
        .post(&student, "/chat/mensajes", json!({ "chatId": chat, "content": "  Hola, ¿tiene un momento?  ", "senderId": student.id, "clientId": client_id }))
        .await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["ok"], true);
    assert_eq!(body["message"], "Mensaje enviado exitosamente");
    let message = &body["mensaje"];
    assert_eq!(message["id_conversacion"], chat);
    assert_eq!(message["contenido"], "Hola, ¿tiene un momento?");
    assert_eq!(message["id_usuario"], student.id);
    assert_eq!(message["client_id"], client_id.to_string());
    assert!(message["id"].is_i64() && message["fecha_envio"].is_string());

    let stored: (String, i32) = sqlx::query_as("SELECT contenido, id_usuario FROM chat_mensaje WHERE id = $1")
        .bind(message["id"].as_i64().unwrap())
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(stored, ("Hola, ¿tiene un momento?".to_owned(), student.id));
    let after = app.last_activity(chat).await;
    assert!(after > before);
    let unread: Vec<(i32, bool)> =
        sqlx::query_as("SELECT id_receptor, leido FROM chats_notificacion WHERE id_conversacion = $1")
            .bind(chat)
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert_eq!(unread, vec![(advisor.id, false)]);

    // The advisor reads it; the next message makes it unread again.
    assert_eq!(app.post(&advisor, &format!("/chat/conversaciones/{chat}/leido"), json!({})).await.status(), 200);
    assert_eq!(app.count("SELECT count(*) FROM chats_notificacion WHERE leido").await, 1);
    assert_eq!(app.send(&student, chat, "¿Sigue ahí?").await.status(), 200);
    assert_eq!(app.count("SELECT count(*) FROM chats_notificacion WHERE NOT leido").await, 1);
}

#[tokio::test]
async fn sender_id_is_optional_and_string_ids_are_accepted_as_the_original_did() {
    let Some(app) = spawn_app().await else { return };
    let (student, _advisor, chat) = app.pair().await;
    let response =
        app.post(&student, "/chat/mensajes", json!({ "chatId": chat.to_string(), "content": "sin senderId" })).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["mensaje"]["id_usuario"], student.id);
    assert!(body["mensaje"]["client_id"].is_string(), "the server assigns a clientId when none is given");
    let response = app
        .post(
            &student,
            "/chat/mensajes",
            json!({ "chatId": chat, "content": "con senderId texto", "senderId": student.id.to_string() }),
        )
        .await;
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn bad_requests_get_clear_errors_and_write_nothing() {
    let Some(app) = spawn_app().await else { return };
    let (student, advisor, chat) = app.pair().await;
    let outsider = app.user(Role::Estudiante, "intruso").await;
    let cases: Vec<(&User, Value, u16, &str)> = vec![
        (&student, json!({ "content": "hola" }), 400, "Faltan datos requeridos"),
        (&student, json!({ "chatId": chat }), 400, "Faltan datos requeridos"),
        (&student, json!({ "chatId": chat, "content": "" }), 400, "Faltan datos requeridos"),
        (&student, json!({ "chatId": chat, "content": " \n\t " }), 400, "El mensaje está vacío"),
        (&student, json!({ "chatId": "abc", "content": "hola" }), 400, "chatId no es un identificador válido"),
        (&student, json!({ "chatId": chat, "content": 42 }), 400, "content debe ser texto"),
        (
            &student,
            json!({ "chatId": chat, "content": "hola", "clientId": "no-uuid" }),
            400,
            "clientId debe ser un UUID",
        ),
        (
            &student,
            json!({ "chatId": chat, "content": "x".repeat(4_001) }),
            413,
            "El mensaje supera los 4000 caracteres",
        ),
        (
            &student,
            json!({ "chatId": chat, "content": "suplantación", "senderId": advisor.id }),
            403,
            "senderId no corresponde al usuario de la sesión",
        ),
        (&outsider, json!({ "chatId": chat, "content": "me cuelo" }), 403, "No participas en esta conversación"),
        (&student, json!({ "chatId": 999_999, "content": "¿hola?" }), 404, "La conversación no existe"),
    ];
    for (user, body, status, error) in cases {
        let response = app.post(user, "/chat/mensajes", body.clone()).await;
        assert_eq!(response.status(), status, "{body}");
        let answer: Value = response.json().await.unwrap();
        assert_eq!(answer["error"], error, "{body}");
    }
    let missing: Value = app.post(&student, "/chat/mensajes", json!({})).await.json().await.unwrap();
    assert_eq!(missing["required"], json!(["chatId", "content"]));

    let malformed = app
        .http
        .post(app.url("/chat/mensajes"))
        .bearer_auth(&student.token)
        .header("content-type", "application/json")
        .body("{\"chatId\": 1, ")
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status(), 400);
    assert!(malformed.json::<Value>().await.unwrap()["error"].as_str().unwrap().starts_with("JSON inválido"));

    let huge = app
        .http
        .post(app.url("/chat/mensajes"))
        .bearer_auth(&student.token)
        .header("content-type", "application/json")
        .body(format!("{{\"chatId\":{chat},\"content\":\"{}\"}}", "a".repeat(100_000)))
        .send()
        .await
        .unwrap();
    assert_eq!(huge.status(), 413);
    assert!(huge.json::<Value>().await.unwrap()["error"].is_string());

    assert_eq!(app.count("SELECT count(*) FROM chat_mensaje").await, 0);
    assert_eq!(app.count("SELECT count(*) FROM chats_notificacion").await, 0);
}

#[tokio::test]
async fn a_retried_client_id_returns_the_original_message_once() {
    let Some(app) = spawn_app().await else { return };
    let (student, advisor, chat) = app.pair().await;
    let (_sub, mut events) = app.subscribe(&advisor, &format!("private-usuario-{}", advisor.id)).await;
    let body = json!({ "chatId": chat, "content": "una sola vez", "clientId": uuid::Uuid::new_v4() });
    let first: Value = app.post(&student, "/chat/mensajes", body.clone()).await.json().await.unwrap();
    let second = app.post(&student, "/chat/mensajes", body.clone()).await;
    assert_eq!(second.status(), 200);
    let second: Value = second.json().await.unwrap();
    assert_eq!(first["mensaje"], second["mensaje"]);
    assert_eq!(app.count("SELECT count(*) FROM chat_mensaje").await, 1);
    next_message(&mut events, "nuevo-mensaje").await;
    assert_quiet(&mut events, Duration::from_millis(500)).await;

    // The same key in another conversation is a conflict, not a silent success.
    let other_advisor = app.user(Role::Asesor, "otro-asesor").await;
    let other: Value =
        app.post(&student, "/chat/conversaciones", json!({ "userId": other_advisor.id })).await.json().await.unwrap();
    let mut moved = body.clone();
    moved["chatId"] = other["conversacion"]["id"].clone();
    assert_eq!(app.post(&student, "/chat/mensajes", moved).await.status(), 409);
}

#[tokio::test]
async fn concurrent_retries_of_one_client_id_store_one_row_and_publish_one_event() {
    let Some(app) = spawn_app().await else { return };
    let (student, advisor, chat) = app.pair().await;
    let (_sub, mut events) = app.subscribe(&advisor, &format!("private-usuario-{}", advisor.id)).await;
    let body = json!({ "chatId": chat, "content": "carrera", "clientId": uuid::Uuid::new_v4() });
    let requests = (0..16).map(|_| app.post(&student, "/chat/mensajes", body.clone()));
    let responses = futures_util::future::join_all(requests).await;
    let mut ids = Vec::new();
    for response in responses {
        assert_eq!(response.status(), 200);
        ids.push(response.json::<Value>().await.unwrap()["mensaje"]["id"].as_i64().unwrap());
    }
    ids.dedup();
    assert_eq!(ids.len(), 1, "every retry answers with the same message");
    assert_eq!(app.count("SELECT count(*) FROM chat_mensaje").await, 1);
    next_message(&mut events, "nuevo-mensaje").await;
    assert_quiet(&mut events, Duration::from_millis(500)).await;
}

#[tokio::test]
async fn a_failing_notification_write_rolls_back_the_message_and_the_activity() {
    let Some(app) = spawn_app().await else { return };
    let (student, _advisor, chat) = app.pair().await;
    let before = app.last_activity(chat).await;
    // Make the last of the three writes fail.
    sqlx::raw_sql(
        "CREATE FUNCTION fail() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'notificaciones rotas'; END $$ LANGUAGE plpgsql;
         CREATE TRIGGER fail BEFORE INSERT OR UPDATE ON chats_notificacion FOR EACH ROW EXECUTE FUNCTION fail();",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    let response = app.send(&student, chat, "no debe quedar a medias").await;
    assert_eq!(response.status(), 500);
    assert_eq!(response.json::<Value>().await.unwrap()["error"], "Error interno del servidor");
    assert_eq!(app.count("SELECT count(*) FROM chat_mensaje").await, 0);
    let after = app.last_activity(chat).await;
    assert_eq!(before, after);
}

#[tokio::test]
async fn history_pages_backwards_and_catch_up_pages_forwards_in_id_order() {
    let Some(app) = spawn_app().await else { return };
    let (student, advisor, chat) = app.pair().await;
    let mut ids = Vec::new();
    for i in 0..7 {
        let sender = if i % 2 == 0 { &student } else { &advisor };
        let body: Value = app.send(sender, chat, &format!("m{i}")).await.json().await.unwrap();
        ids.push(body["mensaje"]["id"].as_i64().unwrap());
    }
    let page = |query: String| {
        let app = &app;
        let student = &student;
        async move {
            let body: Value =
                app.get(student, &format!("/chat/conversaciones/{chat}/mensajes{query}")).await.json().await.unwrap();
            let ids: Vec<i64> =
                body["mensajes"].as_array().unwrap().iter().map(|m| m["id"].as_i64().unwrap()).collect();
            (ids, body["hay_mas"].as_bool().unwrap())
        }
    };
    assert_eq!(page(String::new()).await, (ids.clone(), false));
    assert_eq!(page("?limit=3".into()).await, (ids[4..].to_vec(), true));
    assert_eq!(page(format!("?limit=3&before={}", ids[4])).await, (ids[1..4].to_vec(), true));
    assert_eq!(page(format!("?limit=3&before={}", ids[1])).await, (ids[..1].to_vec(), false));
    assert_eq!(page(format!("?after={}&limit=2", ids[2])).await, (ids[3..5].to_vec(), true));
    assert_eq!(page(format!("?after={}", ids[6])).await, (vec![], false));

    for bad in ["?limit=0", "?limit=201", "?after=abc"] {
        let response = app.get(&student, &format!("/chat/conversaciones/{chat}/mensajes{bad}")).await;
        assert_eq!(response.status(), 400, "{bad}");
        assert!(response.json::<Value>().await.unwrap()["error"].is_string());
    }
    let outsider = app.user(Role::Asesor, "curioso").await;
    assert_eq!(app.get(&outsider, &format!("/chat/conversaciones/{chat}/mensajes")).await.status(), 403);
    assert_eq!(app.get(&student, "/chat/conversaciones/424242/mensajes").await.status(), 404);
    let malformed = app.get(&student, "/chat/conversaciones/abc/mensajes").await;
    assert_eq!(malformed.status(), 400);
    assert!(malformed.json::<Value>().await.unwrap()["error"].is_string());
}

#[tokio::test]
async fn the_send_rate_limit_answers_429_with_retry_after() {
    let Some(app) = spawn_app_with(|c| {
        c.send_rate_limit = 1.0;
        c.send_rate_burst = 2;
    })
    .await
    else {
        return;
    };
    let (student, advisor, chat) = app.pair().await;
    assert_eq!(app.send(&student, chat, "1").await.status(), 200);
    assert_eq!(app.send(&student, chat, "2").await.status(), 200);
    let limited = app.send(&student, chat, "3").await;
    assert_eq!(limited.status(), 429);
    assert_eq!(limited.headers()["retry-after"], "1");
    assert_eq!(app.count("SELECT count(*) FROM chat_mensaje").await, 2);
    // Per user: the advisor still has a full bucket.
    assert_eq!(app.send(&advisor, chat, "hola").await.status(), 200);
}
