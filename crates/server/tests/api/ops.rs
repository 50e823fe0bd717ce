use chatstudy_server::cli;
use chatstudy_server::domain::Role;
use serde_json::Value;

use crate::common::*;

#[tokio::test]
async fn health_reports_the_database() {
    let Some(app) = spawn_app().await else { return };
    let response = app.http.get(app.url("/health")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.json::<Value>().await.unwrap()["database"], "ok");
    // With the pool closed the database no longer answers.
    app.state.pool.close().await;
    let response = app.http.get(app.url("/health")).send().await.unwrap();
    assert_eq!(response.status(), 503);
    assert_eq!(response.json::<Value>().await.unwrap()["database"], "unavailable");
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_in_json() {
    let Some(app) = spawn_app().await else { return };
    let missing = app.http.get(app.url("/no/existe")).send().await.unwrap();
    assert_eq!(missing.status(), 404);
    assert_eq!(missing.json::<Value>().await.unwrap()["error"], "Ruta no encontrada");
    let wrong = app.http.get(app.url("/chat/mensajes")).send().await.unwrap();
    assert_eq!(wrong.status(), 405);
    assert!(wrong.json::<Value>().await.unwrap()["error"].is_string());
}

#[tokio::test]
async fn the_demo_is_idempotent_and_its_logins_work() {
    let Some(app) = spawn_app().await else { return };
    cli::demo(&app.pool).await.unwrap();
    let counts = (
        app.count("SELECT count(*) FROM usuarios").await,
        app.count("SELECT count(*) FROM chats_conversacion").await,
        app.count("SELECT count(*) FROM chat_mensaje").await,
    );
    cli::demo(&app.pool).await.unwrap();
    let again = (
        app.count("SELECT count(*) FROM usuarios").await,
        app.count("SELECT count(*) FROM chats_conversacion").await,
        app.count("SELECT count(*) FROM chat_mensaje").await,
    );
    assert_eq!(counts, again);
    assert_eq!(counts.0, 5);
    assert!(counts.2 >= 6);
    for (_, email, _) in cli::DEMO_USERS {
        assert_eq!(app.login(email, cli::DEMO_PASSWORD).await.status(), 200, "{email}");
    }
}

#[tokio::test]
async fn user_add_refuses_a_taken_address_in_any_case_and_short_passwords() {
    let Some(app) = spawn_app().await else { return };
    cli::add_user(&app.pool, Role::Asesor, "Rosa@Test.Chatstudy", "Rosa", "suficiente").await.unwrap();
    assert!(cli::add_user(&app.pool, Role::Estudiante, "rosa@test.chatstudy", "Otra", "suficiente").await.is_err());
    assert!(cli::add_user(&app.pool, Role::Estudiante, "corta@test.chatstudy", "Corta", "1234").await.is_err());
    assert!(cli::add_user(&app.pool, Role::Estudiante, "sin-arroba", "X", "suficiente").await.is_err());
    assert_eq!(app.count("SELECT count(*) FROM usuarios").await, 1);
}

#[tokio::test]
async fn migrations_apply_over_an_existing_original_schema() {
    // The original backend's tables, without what Chatstudy adds (client_id, sessions, constraints).
    let Some(admin) = admin_url() else { return };
    let url = fresh_database(&admin).await;
    let pool = sqlx::PgPool::connect(&url).await.unwrap();
    sqlx::raw_sql(
        "CREATE TABLE usuarios (id SERIAL PRIMARY KEY, nombre TEXT NOT NULL, email TEXT NOT NULL, rol TEXT NOT NULL,
                                password_hash TEXT NOT NULL, fecha_creacion TIMESTAMPTZ NOT NULL DEFAULT now());
         CREATE TABLE chats_conversacion (id SERIAL PRIMARY KEY, id_estudiante INTEGER NOT NULL REFERENCES usuarios(id),
                                          id_asesor INTEGER NOT NULL REFERENCES usuarios(id), ultima_actividad TIMESTAMPTZ NOT NULL DEFAULT now());
         CREATE TABLE chat_mensaje (id BIGSERIAL PRIMARY KEY, id_conversacion INTEGER NOT NULL REFERENCES chats_conversacion(id),
                                    contenido TEXT NOT NULL, id_usuario INTEGER NOT NULL REFERENCES usuarios(id), fecha_envio TIMESTAMPTZ NOT NULL DEFAULT now());
         CREATE TABLE chats_notificacion (id SERIAL PRIMARY KEY, id_conversacion INTEGER NOT NULL REFERENCES chats_conversacion(id),
                                          id_receptor INTEGER NOT NULL REFERENCES usuarios(id), leido BOOLEAN NOT NULL DEFAULT false,
                                          fecha_creacion TIMESTAMPTZ NOT NULL DEFAULT now());
         INSERT INTO usuarios (nombre, email, rol, password_hash) VALUES ('Vieja', 'vieja@x', 'estudiante', 'x'), ('Asesora', 'asesora@x', 'asesor', 'x');
         INSERT INTO chats_conversacion (id_estudiante, id_asesor) VALUES (1, 2);
         INSERT INTO chat_mensaje (id_conversacion, contenido, id_usuario) VALUES (1, 'mensaje de antes', 1);",
    )
    .execute(&pool)
    .await
    .unwrap();
    let app = start_on(&url).await;
    assert_eq!(app.count("SELECT count(*) FROM chat_mensaje WHERE client_id IS NULL").await, 1);
    assert_eq!(app.count("SELECT count(*) FROM sesiones").await, 0);
    app.stop().await;
}

/// A shutdown requested while a send is in flight lets it finish: the client gets its 200 and the
/// message is stored.
#[tokio::test]
async fn graceful_shutdown_lets_an_in_flight_send_finish() {
    let Some(app) = spawn_app().await else { return };
    let (student, _advisor, chat) = app.pair().await;
    // Hold the conversation row so that the send blocks inside its statement.
    let mut blocker = app.pool.begin().await.unwrap();
    sqlx::query("SELECT 1 FROM chats_conversacion WHERE id = $1 FOR UPDATE")
        .bind(chat)
        .execute(&mut *blocker)
        .await
        .unwrap();
    let request = app
        .http
        .post(app.url("/chat/mensajes"))
        .bearer_auth(&student.token)
        .json(&serde_json::json!({ "chatId": chat, "content": "a punto de cerrar" }));
    let in_flight = tokio::spawn(request.send());
    // Wait until the send is waiting on the lock.
    for _ in 0..200 {
        let waiting: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()",
        )
        .fetch_one(&app.pool)
        .await
        .unwrap();
        if waiting > 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let pool = app.pool.clone();
    let stopping = tokio::spawn(app.stop());
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert!(!stopping.is_finished(), "shutdown waits for the in-flight send");
    blocker.commit().await.unwrap();
    let response = in_flight.await.unwrap().unwrap();
    assert_eq!(response.status(), 200);
    stopping.await.unwrap();
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM chat_mensaje").fetch_one(&pool).await.unwrap();
    assert_eq!(stored, 1);
}
