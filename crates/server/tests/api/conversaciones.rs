use chatstudy_server::domain::Role;
use serde_json::{json, Value};

use crate::common::*;

#[tokio::test]
async fn opening_a_conversation_is_idempotent_and_pairs_students_with_advisors() {
    let Some(app) = spawn_app().await else { return };
    let student = app.user(Role::Estudiante, "alba").await;
    let advisor = app.user(Role::Asesor, "bruno").await;
    let classmate = app.user(Role::Estudiante, "ciro").await;

    let created = app.post(&student, "/chat/conversaciones", json!({ "userId": advisor.id })).await;
    assert_eq!(created.status(), 201);
    let created: Value = created.json().await.unwrap();
    assert_eq!(created["creada"], true);
    let conversation = &created["conversacion"];
    assert_eq!(conversation["participante"], json!({ "id": advisor.id, "nombre": "bruno", "rol": "asesor" }));
    assert_eq!(
        (conversation["id_estudiante"].clone(), conversation["id_asesor"].clone()),
        (json!(student.id), json!(advisor.id))
    );

    // The advisor opening the same pair gets the same conversation.
    let again = app.post(&advisor, "/chat/conversaciones", json!({ "userId": student.id })).await;
    assert_eq!(again.status(), 200);
    let again: Value = again.json().await.unwrap();
    assert_eq!(
        (again["creada"].clone(), again["conversacion"]["id"].clone()),
        (json!(false), conversation["id"].clone())
    );
    assert_eq!(app.count("SELECT count(*) FROM chats_conversacion").await, 1);

    let same_role = app.post(&student, "/chat/conversaciones", json!({ "userId": classmate.id })).await;
    assert_eq!(same_role.status(), 422);
    assert!(same_role.json::<Value>().await.unwrap()["error"].is_string());
    assert_eq!(app.post(&student, "/chat/conversaciones", json!({ "userId": student.id })).await.status(), 422);
    assert_eq!(app.post(&student, "/chat/conversaciones", json!({ "userId": 987_654 })).await.status(), 404);
    let missing = app.post(&student, "/chat/conversaciones", json!({})).await;
    assert_eq!(missing.status(), 400);
    assert_eq!(missing.json::<Value>().await.unwrap()["required"], json!(["userId"]));
}

#[tokio::test]
async fn the_database_refuses_a_conversation_with_the_roles_swapped() {
    let Some(app) = spawn_app().await else { return };
    let student = app.add_user(Role::Estudiante, "dora").await;
    let advisor = app.add_user(Role::Asesor, "eloy").await;
    let swapped = sqlx::query("INSERT INTO chats_conversacion (id_estudiante, id_asesor) VALUES ($1, $2)")
        .bind(advisor)
        .bind(student)
        .execute(&app.pool)
        .await;
    assert!(swapped.is_err());
}

#[tokio::test]
async fn the_list_is_newest_first_with_the_other_side_the_last_message_and_unread_state() {
    let Some(app) = spawn_app().await else { return };
    let advisor = app.user(Role::Asesor, "fabiola").await;
    let first = app.user(Role::Estudiante, "gael").await;
    let second = app.user(Role::Estudiante, "helena").await;
    let mut chats = Vec::new();
    for student in [&first, &second] {
        let body: Value =
            app.post(student, "/chat/conversaciones", json!({ "userId": advisor.id })).await.json().await.unwrap();
        chats.push(body["conversacion"]["id"].as_i64().unwrap() as i32);
    }
    app.send(&second, chats[1], "primero").await;
    app.send(&first, chats[0], "después").await;

    let list: Value = app.get(&advisor, "/chat/conversaciones").await.json().await.unwrap();
    let list = list["conversaciones"].as_array().unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list[0]["id"], chats[0]);
    assert_eq!(list[0]["participante"]["nombre"], "gael");
    assert_eq!(list[0]["ultimo_mensaje"]["contenido"], "después");
    assert_eq!(list[0]["no_leido"], true);
    assert_eq!(list[1]["ultimo_mensaje"]["contenido"], "primero");

    // The sender has nothing unread; reading clears it for the advisor only.
    let mine: Value = app.get(&first, "/chat/conversaciones").await.json().await.unwrap();
    assert_eq!(mine["conversaciones"].as_array().unwrap().len(), 1);
    assert_eq!(mine["conversaciones"][0]["no_leido"], false);
    app.post(&advisor, &format!("/chat/conversaciones/{}/leido", chats[0]), json!({})).await;
    let list: Value = app.get(&advisor, "/chat/conversaciones").await.json().await.unwrap();
    assert_eq!(list["conversaciones"][0]["no_leido"], false);
    assert_eq!(list["conversaciones"][1]["no_leido"], true);

    let outsider = app.user(Role::Asesor, "ivan").await;
    assert_eq!(app.post(&outsider, &format!("/chat/conversaciones/{}/leido", chats[0]), json!({})).await.status(), 403);
    assert_eq!(app.post(&outsider, "/chat/conversaciones/555/leido", json!({})).await.status(), 404);
}

#[tokio::test]
async fn users_lists_only_the_other_role() {
    let Some(app) = spawn_app().await else { return };
    let student = app.user(Role::Estudiante, "jana").await;
    app.add_user(Role::Asesor, "zoe").await;
    app.add_user(Role::Asesor, "karl").await;
    app.add_user(Role::Estudiante, "luz").await;
    let body: Value = app.get(&student, "/chat/usuarios?rol=asesor").await.json().await.unwrap();
    let names: Vec<&str> = body["usuarios"].as_array().unwrap().iter().map(|u| u["nombre"].as_str().unwrap()).collect();
    assert_eq!(names, ["karl", "zoe"]);
    assert!(body["usuarios"][0].get("email").is_none());
    let default: Value = app.get(&student, "/chat/usuarios").await.json().await.unwrap();
    assert_eq!(default, body);
    assert_eq!(app.get(&student, "/chat/usuarios?rol=estudiante").await.status(), 400);
    assert_eq!(app.get(&student, "/chat/usuarios?rol=director").await.status(), 400);
}
