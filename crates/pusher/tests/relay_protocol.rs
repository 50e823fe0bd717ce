//! The relay's answers to bad input, over real sockets: each gets the protocol's error or status,
//! only the offending connection is affected, and nothing panics.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use chatstudy_pusher::relay::{Relay, RelayConfig};
use chatstudy_pusher::Credentials;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn relay(adjust: impl FnOnce(&mut RelayConfig)) -> (Relay, u16) {
    let mut config = RelayConfig::new(Credentials::new("app", "key", "secret"));
    adjust(&mut config);
    let relay = Relay::new(config);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(relay.clone().serve(listener));
    (relay, port)
}

async fn connect_to(url: &str, origin: Option<&str>) -> Ws {
    let mut request = url.into_client_request().unwrap();
    if let Some(origin) = origin {
        request.headers_mut().insert("origin", origin.parse().unwrap());
    }
    tokio_tungstenite::connect_async(request).await.expect("handshake").0
}

/// Connected and past `connection_established`; returns the socket id.
async fn connect(port: u16) -> (Ws, String) {
    let mut ws = connect_to(&format!("ws://127.0.0.1:{port}/app/key?protocol=7"), None).await;
    let established = recv(&mut ws).await;
    assert_eq!(established["event"], "pusher:connection_established");
    let data: Value = serde_json::from_str(established["data"].as_str().unwrap()).unwrap();
    (ws, data["socket_id"].as_str().unwrap().to_owned())
}

async fn recv(ws: &mut Ws) -> Value {
    loop {
        let message = tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .expect("a frame within 5 s")
            .expect("open")
            .unwrap();
        match message {
            Message::Text(text) => return serde_json::from_str(&text).unwrap(),
            Message::Close(frame) => return json!({ "close": frame.map(|f| u16::from(f.code)) }),
            _ => {}
        }
    }
}

async fn send(ws: &mut Ws, frame: Value) {
    ws.send(Message::text(frame.to_string())).await.unwrap();
}

async fn ping_pong(ws: &mut Ws) {
    send(ws, json!({ "event": "pusher:ping", "data": {} })).await;
    assert_eq!(recv(ws).await["event"], "pusher:pong");
}

#[tokio::test]
async fn malformed_binary_unknown_and_client_events_get_errors_and_the_connection_stays() {
    let (_relay, port) = relay(|_| {}).await;
    let (mut ws, _) = connect(port).await;
    for bad in [Message::text("{not json"), Message::text("[1,2]"), Message::binary(vec![1u8, 2, 3])] {
        ws.send(bad).await.unwrap();
        let reply = recv(&mut ws).await;
        assert_eq!(reply["event"], "pusher:error");
        assert!(reply["data"]["message"].is_string());
    }
    for frame in [
        json!({ "event": "pusher:desconocido" }),
        json!({ "event": "client-escribiendo", "channel": "private-x", "data": {} }),
    ] {
        send(&mut ws, frame).await;
        assert_eq!(recv(&mut ws).await["event"], "pusher:error");
    }
    ping_pong(&mut ws).await;
}

#[tokio::test]
async fn channel_rules_and_signatures_are_enforced_per_subscription() {
    let (relay, port) = relay(|c| c.max_channels_per_connection = 2).await;
    let (mut ws, socket_id) = connect(port).await;
    let (_other, other_socket) = connect(port).await;
    let credentials = relay.config().credentials.clone();
    let cases = [
        (json!({ "channel": "con espacio" }), 400),
        (json!({ "channel": "a".repeat(165) }), 400),
        (json!({ "channel": "private-chat-1" }), 401),
        (
            json!({ "channel": "private-chat-1", "auth": credentials.channel_auth(&other_socket, "private-chat-1") }),
            401,
        ),
        (json!({ "channel": "private-chat-1", "auth": "key:00" }), 401),
    ];
    for (data, status) in cases {
        send(&mut ws, json!({ "event": "pusher:subscribe", "data": data })).await;
        let reply = recv(&mut ws).await;
        assert_eq!(reply["event"], "pusher:subscription_error", "{data}");
        assert_eq!(reply["data"]["status"], status, "{data}");
    }
    let auth = credentials.channel_auth(&socket_id, "private-chat-1");
    send(&mut ws, json!({ "event": "pusher:subscribe", "data": { "channel": "private-chat-1", "auth": auth } })).await;
    assert_eq!(recv(&mut ws).await["event"], "pusher_internal:subscription_succeeded");
    // data as a JSON string, as some clients send it.
    send(&mut ws, json!({ "event": "pusher:subscribe", "data": "{\"channel\":\"publico\"}" })).await;
    assert_eq!(recv(&mut ws).await["event"], "pusher_internal:subscription_succeeded");
    send(&mut ws, json!({ "event": "pusher:subscribe", "data": { "channel": "tercero" } })).await;
    let too_many = recv(&mut ws).await;
    assert_eq!(too_many["event"], "pusher:subscription_error");
    assert_eq!(relay.subscriber_count("tercero"), 0);
}

#[tokio::test]
async fn an_oversize_frame_closes_only_that_connection_with_1009() {
    let (_relay, port) = relay(|_| {}).await;
    let (mut big, _) = connect(port).await;
    let (mut bystander, _) = connect(port).await;
    big.send(Message::text("x".repeat(20 * 1024))).await.unwrap();
    assert_eq!(recv(&mut big).await, json!({ "close": 1009 }));
    ping_pong(&mut bystander).await;
}

#[tokio::test]
async fn connection_refusals_use_final_close_codes() {
    let (_relay, port) = relay(|c| c.allowed_origins = Some(vec!["https://chatstudy.example".into()])).await;
    for (url, origin, code) in [
        (format!("ws://127.0.0.1:{port}/app/otra?protocol=7"), Some("https://chatstudy.example"), 4001),
        (format!("ws://127.0.0.1:{port}/app/key"), Some("https://chatstudy.example"), 4008),
        (format!("ws://127.0.0.1:{port}/app/key?protocol=9"), Some("https://chatstudy.example"), 4007),
        (format!("ws://127.0.0.1:{port}/app/key?protocol=7"), Some("https://evil.example"), 4009),
        (format!("ws://127.0.0.1:{port}/app/key?protocol=7"), None, 4009),
    ] {
        let mut ws = connect_to(&url, origin).await;
        let error = recv(&mut ws).await;
        assert_eq!(
            (error["event"].as_str(), error["data"]["code"].as_u64()),
            (Some("pusher:error"), Some(code as u64)),
            "{url}"
        );
        assert_eq!(recv(&mut ws).await, json!({ "close": code }), "{url}");
    }
    let mut allowed =
        connect_to(&format!("ws://127.0.0.1:{port}/app/key?protocol=7"), Some("https://chatstudy.example")).await;
    assert_eq!(recv(&mut allowed).await["event"], "pusher:connection_established");
}

#[tokio::test]
async fn a_client_that_stops_answering_is_pinged_then_closed_with_4201() {
    let (_relay, port) = relay(|c| {
        c.activity_timeout = Duration::from_millis(300);
        c.pong_timeout = Duration::from_millis(300);
    })
    .await;
    let (mut ws, _) = connect(port).await;
    assert_eq!(recv(&mut ws).await["event"], "pusher:ping");
    assert_eq!(recv(&mut ws).await, json!({ "close": 4201 }));
}

fn signed_url(port: u16, credentials: &Credentials, path: &str, body: &str, timestamp: u64) -> String {
    let query = credentials.signed_query("POST", path, &[], Some(body.as_bytes()), timestamp);
    let query: Vec<String> = query.iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!("http://127.0.0.1:{port}{path}?{}", query.join("&"))
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

#[tokio::test]
async fn the_http_api_checks_signature_time_body_and_limits() {
    let (relay, port) = relay(|_| {}).await;
    let credentials = relay.config().credentials.clone();
    let http = reqwest::Client::new();
    let post = |url: String, body: String| {
        let http = http.clone();
        async move {
            let response = http.post(url).header("content-type", "application/json").body(body).send().await.unwrap();
            let status = response.status().as_u16();
            let body: Value = response.json().await.unwrap_or(Value::Null);
            (status, body)
        }
    };
    let good = json!({ "name": "e", "channels": ["c"], "data": "{}" }).to_string();
    assert_eq!(post(signed_url(port, &credentials, "/apps/app/events", &good, now()), good.clone()).await.0, 200);

    let wrong_secret = Credentials::new("app", "key", "nope");
    let other_app = Credentials::new("otra", "key", "secret");
    let cases = [
        (signed_url(port, &wrong_secret, "/apps/app/events", &good, now()), good.clone(), 401),
        (signed_url(port, &credentials, "/apps/app/events", &good, now() - 601), good.clone(), 401),
        (signed_url(port, &credentials, "/apps/app/events", &good, now()), good.replace("\"e\"", "\"f\""), 401),
        (signed_url(port, &other_app, "/apps/otra/events", &good, now()), good.clone(), 404),
        (format!("http://127.0.0.1:{port}/apps/app/events"), good.clone(), 401),
    ];
    for (url, body, status) in cases {
        let (got, answer) = post(url.clone(), body).await;
        assert_eq!(got, status, "{url}");
        assert!(answer["error"].is_string(), "{url}");
    }

    let channels: Vec<String> = (0..101).map(|i| format!("c{i}")).collect();
    let bodies = [
        (json!({ "name": "e", "channels": channels, "data": "{}" }).to_string(), 400),
        (json!({ "name": "e", "channels": ["c"], "data": "x".repeat(10 * 1024 + 1) }).to_string(), 413),
        (json!({ "name": "e", "channels": ["mal nombre"], "data": "{}" }).to_string(), 400),
        (json!({ "name": "e", "channels": ["c"], "data": "{}", "socket_id": "abc" }).to_string(), 400),
        ("{roto".to_owned(), 400),
    ];
    for (body, status) in bodies {
        let (got, answer) = post(signed_url(port, &credentials, "/apps/app/events", &body, now()), body.clone()).await;
        assert_eq!(got, status, "{}", &body[..body.len().min(80)]);
        assert!(answer["error"].is_string());
    }
    let batch: Vec<Value> = (0..11).map(|i| json!({ "name": "e", "channel": format!("c{i}"), "data": "{}" })).collect();
    let body = json!({ "batch": batch }).to_string();
    assert_eq!(post(signed_url(port, &credentials, "/apps/app/batch_events", &body, now()), body).await.0, 400);
}
