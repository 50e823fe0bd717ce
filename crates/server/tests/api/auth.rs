use chatstudy_server::domain::Role;
use serde_json::{json, Value};

use crate::common::*;

#[tokio::test]
async fn login_returns_a_token_and_the_user_and_ignores_email_case() {
    let Some(app) = spawn_app().await else { return };
    let id = app.add_user(Role::Asesor, "marta").await;
    let response = app.login("  MARTA@Test.Chatstudy ", PASSWORD).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert!(body["token"].as_str().unwrap().len() >= 40);
    assert_eq!(
        body["usuario"],
        json!({ "id": id, "nombre": "marta", "email": "marta@test.chatstudy", "rol": "asesor" })
    );
    assert!(body["usuario"].get("password_hash").is_none());
    // Only the SHA-256 of the token is stored, never the token itself.
    let token = body["token"].as_str().unwrap();
    let count = |sql: &'static str| {
        let pool = app.pool.clone();
        async move { sqlx::query_scalar::<_, i64>(sql).bind(token).fetch_one(&pool).await.unwrap() }
    };
    assert_eq!(count("SELECT count(*) FROM sesiones WHERE token_hash = sha256(convert_to($1, 'UTF8'))").await, 1);
    assert_eq!(count("SELECT count(*) FROM sesiones WHERE token_hash = convert_to($1, 'UTF8')").await, 0);
}

#[tokio::test]
async fn unknown_email_and_wrong_password_get_the_same_answer() {
    let Some(app) = spawn_app().await else { return };
    app.add_user(Role::Estudiante, "pablo").await;
    let wrong = app.login("pablo@test.chatstudy", "otra-contraseña").await;
    let unknown = app.login("nadie@test.chatstudy", PASSWORD).await;
    assert_eq!((wrong.status().as_u16(), unknown.status().as_u16()), (401, 401));
    let (wrong, unknown): (Value, Value) = (wrong.json().await.unwrap(), unknown.json().await.unwrap());
    assert_eq!(wrong, unknown);
    assert_eq!(wrong["error"], "Correo o contraseña incorrectos");
    let missing = app.http.post(app.url("/auth/login")).json(&json!({ "email": "x" })).send().await.unwrap();
    assert_eq!(missing.status(), 400);
    assert_eq!(missing.json::<Value>().await.unwrap()["required"], json!(["email", "password"]));
}

#[tokio::test]
async fn repeated_failed_logins_are_throttled_per_address() {
    let Some(app) = spawn_app_with(|c| c.login_max_failures = 3).await else {
        return;
    };
    app.add_user(Role::Estudiante, "lucia").await;
    for _ in 0..3 {
        assert_eq!(app.login("lucia@test.chatstudy", "mal").await.status(), 401);
    }
    let locked = app.login("lucia@test.chatstudy", PASSWORD).await;
    assert_eq!(locked.status(), 429);
    assert!(locked.headers()["retry-after"].to_str().unwrap().parse::<u64>().unwrap() >= 1);
    assert!(locked.json::<Value>().await.unwrap()["error"].is_string());
    // Another address is unaffected.
    app.add_user(Role::Estudiante, "mario").await;
    assert_eq!(app.login("mario@test.chatstudy", PASSWORD).await.status(), 200);
}

#[tokio::test]
async fn protected_routes_need_a_live_session() {
    let Some(app) = spawn_app().await else { return };
    let user = app.user(Role::Estudiante, "sara").await;
    for (path, token) in
        [("/chat/conversaciones", None), ("/chat/conversaciones", Some("no-es-un-token")), ("/chat/realtime", Some(""))]
    {
        let mut request = app.http.get(app.url(path));
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 401, "{path} {token:?}");
        assert!(response.json::<Value>().await.unwrap()["error"].is_string());
    }
    assert_eq!(app.get(&user, "/chat/conversaciones").await.status(), 200);

    // Logout revokes the token at once.
    let logout = app.http.post(app.url("/auth/logout")).bearer_auth(&user.token).send().await.unwrap();
    assert_eq!(logout.status(), 200);
    assert_eq!(app.get(&user, "/chat/conversaciones").await.status(), 401);
    let revoked: i64 = app.count("SELECT count(*) FROM sesiones WHERE revocada IS NOT NULL").await;
    assert_eq!(revoked, 1);
}

#[tokio::test]
async fn an_expired_session_is_refused() {
    let Some(app) = spawn_app().await else { return };
    let user = app.user(Role::Asesor, "tomas").await;
    sqlx::query("UPDATE sesiones SET expira = now() - interval '1 second'").execute(&app.pool).await.unwrap();
    assert_eq!(app.get(&user, "/chat/conversaciones").await.status(), 401);
}
