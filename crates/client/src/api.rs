//! The backend's HTTP API, typed.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::error::{ClientError, ErrorKind, Result};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct User {
    pub id: i64,
    pub nombre: String,
    #[serde(default)]
    pub email: String,
    pub rol: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServerMessage {
    pub id: i64,
    pub id_conversacion: i64,
    pub contenido: String,
    pub id_usuario: i64,
    pub fecha_envio: DateTime<Utc>,
    pub client_id: Option<Uuid>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Peer {
    pub id: i64,
    pub nombre: String,
    pub rol: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServerConversation {
    pub id: i64,
    pub id_estudiante: i64,
    pub id_asesor: i64,
    pub ultima_actividad: DateTime<Utc>,
    pub participante: Peer,
    pub ultimo_mensaje: Option<ServerMessage>,
    pub no_leido: bool,
}

#[derive(Debug, Clone, Deserialize)]
pub struct MessagePage {
    pub mensajes: Vec<ServerMessage>,
    pub hay_mas: bool,
}

#[derive(Debug, Clone, Deserialize)]
pub struct RealtimeSettings {
    pub key: String,
    pub host: String,
    pub port: u16,
    #[serde(rename = "useTLS")]
    pub use_tls: bool,
}

/// A client for one server, with or without a session token.
#[derive(Clone)]
pub struct Api {
    http: reqwest::Client,
    base: url::Url,
    token: Option<String>,
}

impl Api {
    pub fn new(base: &str, token: Option<String>) -> Result<Self> {
        let base = url::Url::parse(base.trim_end_matches('/'))
            .map_err(|e| ClientError::invalid(format!("La dirección del servidor no es válida: {e}")))?;
        if !matches!(base.scheme(), "http" | "https") {
            return Err(ClientError::invalid("La dirección del servidor debe empezar por http:// o https://"));
        }
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(15))
            .build()
            .map_err(|e| ClientError::new(ErrorKind::Internal, e.to_string()))?;
        Ok(Self { http, base, token })
    }

    pub fn base(&self) -> &str {
        self.base.as_str().trim_end_matches('/')
    }

    pub fn with_token(&self, token: Option<String>) -> Self {
        Self { token, ..self.clone() }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base())
    }

    async fn call<T: serde::de::DeserializeOwned>(&self, request: reqwest::RequestBuilder) -> Result<T> {
        let request = match &self.token {
            Some(token) => request.bearer_auth(token),
            None => request,
        };
        let response = request.send().await.map_err(|e| {
            ClientError::new(ErrorKind::Offline, format!("No se pudo contactar con el servidor: {}", short(&e)))
        })?;
        let status = response.status();
        if status.is_success() {
            return response
                .json()
                .await
                .map_err(|e| ClientError::new(ErrorKind::Server, format!("Respuesta inesperada del servidor: {e}")));
        }
        let body: Value = response.json().await.unwrap_or(Value::Null);
        let message =
            body["error"].as_str().map(str::to_owned).unwrap_or_else(|| format!("El servidor respondió {status}"));
        let kind = match status.as_u16() {
            401 => ErrorKind::Unauthorized,
            400..=499 => ErrorKind::Rejected,
            _ => ErrorKind::Server,
        };
        Err(ClientError { kind, message, status: Some(status.as_u16()) })
    }

    pub async fn login(&self, email: &str, password: &str) -> Result<(String, User)> {
        #[derive(Deserialize)]
        struct Login {
            token: String,
            usuario: User,
        }
        let login: Login = self
            .call(self.http.post(self.url("/auth/login")).json(&json!({ "email": email, "password": password })))
            .await?;
        Ok((login.token, login.usuario))
    }

    pub async fn logout(&self) -> Result<()> {
        self.call::<Value>(self.http.post(self.url("/auth/logout"))).await.map(|_| ())
    }

    pub async fn conversations(&self) -> Result<Vec<ServerConversation>> {
        #[derive(Deserialize)]
        struct List {
            conversaciones: Vec<ServerConversation>,
        }
        Ok(self.call::<List>(self.http.get(self.url("/chat/conversaciones"))).await?.conversaciones)
    }

    pub async fn messages(
        &self,
        conversation: i64,
        after: Option<i64>,
        before: Option<i64>,
        limit: u32,
    ) -> Result<MessagePage> {
        let mut query = vec![("limit", limit.to_string())];
        query.extend(after.map(|a| ("after", a.to_string())));
        query.extend(before.map(|b| ("before", b.to_string())));
        self.call(self.http.get(self.url(&format!("/chat/conversaciones/{conversation}/mensajes"))).query(&query)).await
    }

    pub async fn send(&self, conversation: i64, content: &str, client_id: Uuid) -> Result<ServerMessage> {
        #[derive(Deserialize)]
        struct Sent {
            mensaje: ServerMessage,
        }
        let body = json!({ "chatId": conversation, "content": content, "clientId": client_id });
        Ok(self.call::<Sent>(self.http.post(self.url("/chat/mensajes")).json(&body)).await?.mensaje)
    }

    pub async fn mark_read(&self, conversation: i64) -> Result<()> {
        let url = self.url(&format!("/chat/conversaciones/{conversation}/leido"));
        self.call::<Value>(self.http.post(url).json(&json!({}))).await.map(|_| ())
    }

    pub async fn users(&self) -> Result<Vec<Peer>> {
        #[derive(Deserialize)]
        struct List {
            usuarios: Vec<Peer>,
        }
        Ok(self.call::<List>(self.http.get(self.url("/chat/usuarios"))).await?.usuarios)
    }

    pub async fn start_conversation(&self, user_id: i64) -> Result<ServerConversation> {
        #[derive(Deserialize)]
        struct Created {
            conversacion: ServerConversation,
        }
        let request = self.http.post(self.url("/chat/conversaciones")).json(&json!({ "userId": user_id }));
        Ok(self.call::<Created>(request).await?.conversacion)
    }

    pub async fn realtime_settings(&self) -> Result<RealtimeSettings> {
        self.call(self.http.get(self.url("/chat/realtime"))).await
    }

    pub async fn channel_auth(&self, socket_id: &str, channel: &str) -> Result<String> {
        let request =
            self.http.post(self.url("/pusher/auth")).form(&[("socket_id", socket_id), ("channel_name", channel)]);
        let body: Value = self.call(request).await?;
        body["auth"].as_str().map(str::to_owned).ok_or_else(|| ClientError::new(ErrorKind::Server, "auth sin firma"))
    }
}

fn short(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "tiempo de espera agotado".into()
    } else if e.is_connect() {
        "conexión rechazada".into()
    } else {
        e.to_string()
    }
}
