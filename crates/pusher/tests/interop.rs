//! The subscriber and the trigger against real servers: the built-in relay always, and sockudo when
//! `make test` has started it (`SOCKUDO_PORT`, `SOCKUDO_APP_ID`, `SOCKUDO_KEY`, `SOCKUDO_SECRET`).

use std::sync::Arc;
use std::time::Duration;

use chatstudy_pusher::relay::{Relay, RelayConfig};
use chatstudy_pusher::subscriber::{AuthorizeError, Authorizer, Subscriber, SubscriberConfig, SubscriberEvent};
use chatstudy_pusher::trigger::{HttpTrigger, TriggerConfig};
use chatstudy_pusher::{Credentials, Event, PublishError};
use serde_json::{json, Value};
use tokio::sync::mpsc;

struct Target {
    name: &'static str,
    port: u16,
    credentials: Credentials,
    _relay: Option<Relay>,
}

impl Target {
    fn trigger(&self) -> HttpTrigger {
        self.trigger_with(self.credentials.clone())
    }

    fn trigger_with(&self, credentials: Credentials) -> HttpTrigger {
        HttpTrigger::new(TriggerConfig::for_host(credentials, "127.0.0.1", self.port, false).unwrap()).unwrap()
    }

    fn subscriber_config(&self) -> SubscriberConfig {
        let mut config =
            SubscriberConfig::for_host(self.credentials.key.clone(), "127.0.0.1", self.port, false).unwrap();
        config.min_backoff = Duration::from_millis(100);
        config.max_backoff = Duration::from_millis(500);
        config
    }

    /// Signs like an application backend would.
    fn authorizer(&self) -> Arc<dyn Authorizer> {
        signer(self.credentials.clone())
    }

    async fn subscribed(&self, channels: &[&str]) -> (Subscriber, mpsc::Receiver<SubscriberEvent>, String) {
        subscribed(self.subscriber_config(), self.authorizer(), channels).await
    }
}

fn signer(credentials: Credentials) -> Arc<dyn Authorizer> {
    Arc::new(move |socket_id: String, channel: String| {
        let auth = credentials.channel_auth(&socket_id, &channel);
        async move { Ok::<_, AuthorizeError>(auth) }
    })
}

async fn subscribed(
    config: SubscriberConfig,
    authorizer: Arc<dyn Authorizer>,
    channels: &[&str],
) -> (Subscriber, mpsc::Receiver<SubscriberEvent>, String) {
    let (subscriber, mut events) = Subscriber::start(config, authorizer);
    for channel in channels {
        subscriber.subscribe(*channel);
    }
    let mut socket_id = String::new();
    let mut pending: Vec<&str> = channels.to_vec();
    while !pending.is_empty() {
        match next(&mut events).await {
            SubscriberEvent::Connected { socket_id: id } => socket_id = id,
            SubscriberEvent::Subscribed { channel } => pending.retain(|c| *c != channel),
            other @ (SubscriberEvent::SubscriptionFailed { .. } | SubscriberEvent::ServerError { .. }) => {
                panic!("subscribing to {channels:?}: {other:?}")
            }
            _ => {}
        }
    }
    (subscriber, events, socket_id)
}

async fn next(events: &mut mpsc::Receiver<SubscriberEvent>) -> SubscriberEvent {
    tokio::time::timeout(Duration::from_secs(10), events.recv())
        .await
        .expect("an event within 10 s")
        .expect("subscriber running")
}

async fn message(events: &mut mpsc::Receiver<SubscriberEvent>) -> (String, String, Value) {
    loop {
        if let SubscriberEvent::Message { channel, event, data } = next(events).await {
            return (channel.unwrap_or_default(), event, data.unwrap_or(Value::Null));
        }
    }
}

async fn quiet(events: &mut mpsc::Receiver<SubscriberEvent>, wait: Duration) {
    let deadline = tokio::time::Instant::now() + wait;
    while let Ok(Some(event)) = tokio::time::timeout_at(deadline, events.recv()).await {
        assert!(!matches!(event, SubscriberEvent::Message { .. }), "unexpected {event:?}");
    }
}

async fn relay_target(adjust: impl FnOnce(&mut RelayConfig)) -> Target {
    let credentials = Credentials::new("relay-app", "relay-key", "relay-secret");
    let mut config = RelayConfig::new(credentials.clone());
    adjust(&mut config);
    let relay = Relay::new(config);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(relay.clone().serve(listener));
    Target { name: "relay", port, credentials, _relay: Some(relay) }
}

fn sockudo_target() -> Option<Target> {
    let port = match std::env::var("SOCKUDO_PORT") {
        Ok(port) => port.parse().expect("SOCKUDO_PORT is a port"),
        Err(_) if std::env::var_os("CHATSTUDY_REQUIRE_SERVICES").is_some() => {
            panic!("SOCKUDO_PORT is not set; run `make test`")
        }
        Err(_) => {
            eprintln!("sockudo part skipped: SOCKUDO_PORT is not set (run `make test`)");
            return None;
        }
    };
    let var = |name: &str| std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set"));
    let credentials = Credentials::new(var("SOCKUDO_APP_ID"), var("SOCKUDO_KEY"), var("SOCKUDO_SECRET"));
    Some(Target { name: "sockudo", port, credentials, _relay: None })
}

async fn targets() -> Vec<Target> {
    let mut targets = vec![relay_target(|_| {}).await];
    targets.extend(sockudo_target());
    targets
}

fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", rand_suffix())
}

fn rand_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos() as u64;
    nanos * 1000 + COUNTER.fetch_add(1, Ordering::Relaxed)
}

#[tokio::test]
async fn public_and_private_channels_deliver_events() {
    for target in targets().await {
        let (public, private) = (unique("noticias"), unique("private-chat"));
        let (_sub, mut events, _) = target.subscribed(&[&public, &private]).await;
        let trigger = target.trigger();
        trigger.trigger(&Event::new("aviso", vec![public.clone()], r#"{"n":1}"#)).await.unwrap();
        assert_eq!(message(&mut events).await, (public.clone(), "aviso".into(), json!({ "n": 1 })), "{}", target.name);
        trigger.trigger(&Event::new("nuevo-mensaje", vec![private.clone()], r#"{"contenido":"hola"}"#)).await.unwrap();
        assert_eq!(
            message(&mut events).await,
            (private.clone(), "nuevo-mensaje".into(), json!({ "contenido": "hola" })),
            "{}",
            target.name
        );
    }
}

#[tokio::test]
async fn the_excluded_socket_does_not_receive_its_own_event() {
    for target in targets().await {
        let channel = unique("sala");
        let (_a, mut a_events, a_socket) = target.subscribed(&[&channel]).await;
        let (_b, mut b_events, _) = target.subscribed(&[&channel]).await;
        target.trigger().trigger(&Event::new("e", vec![channel.clone()], "{}").excluding(a_socket)).await.unwrap();
        assert_eq!(message(&mut b_events).await.1, "e", "{}", target.name);
        quiet(&mut a_events, Duration::from_millis(500)).await;
    }
}

#[tokio::test]
async fn a_batch_reaches_every_channel() {
    for target in targets().await {
        let (one, two) = (unique("uno"), unique("private-dos"));
        let (_sub, mut events, _) = target.subscribed(&[&one, &two]).await;
        let batch = [Event::new("a", vec![one.clone()], "1"), Event::new("b", vec![two.clone()], "2")];
        target.trigger().trigger_batch(&batch).await.unwrap();
        let mut got = vec![message(&mut events).await, message(&mut events).await];
        got.sort_by(|x, y| x.1.cmp(&y.1));
        assert_eq!(
            got,
            vec![(one.clone(), "a".into(), json!(1)), (two.clone(), "b".into(), json!(2))],
            "{}",
            target.name
        );
    }
}

#[tokio::test]
async fn a_forged_channel_signature_is_refused_and_hears_nothing() {
    for target in targets().await {
        let channel = unique("private-ajeno");
        let forged = signer(Credentials::new(
            target.credentials.app_id.clone(),
            target.credentials.key.clone(),
            "not-the-secret",
        ));
        let (subscriber, mut events) = Subscriber::start(target.subscriber_config(), forged);
        subscriber.subscribe(channel.clone());
        loop {
            match next(&mut events).await {
                SubscriberEvent::SubscriptionFailed { channel: c, .. } if c == channel => break,
                // Some servers answer with pusher:error and close; that is a refusal too.
                SubscriberEvent::ServerError { .. } => break,
                SubscriberEvent::Subscribed { channel: c } if c == channel => {
                    panic!("{}: forged signature accepted", target.name)
                }
                _ => {}
            }
        }
        target.trigger().trigger(&Event::new("secreto", vec![channel.clone()], "{}")).await.unwrap();
        quiet(&mut events, Duration::from_millis(500)).await;
    }
}

#[tokio::test]
async fn trigger_errors_tell_rejection_from_unavailability() {
    for target in targets().await {
        let wrong = Credentials::new(target.credentials.app_id.clone(), target.credentials.key.clone(), "wrong-secret");
        let error = target.trigger_with(wrong).trigger(&Event::new("e", vec!["c".into()], "{}")).await.unwrap_err();
        assert!(matches!(error, PublishError::Rejected { status: 401 | 403, .. }), "{}: {error:?}", target.name);
        assert!(!error.is_retryable());
    }
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let nowhere =
        HttpTrigger::new(TriggerConfig::for_host(Credentials::new("a", "k", "s"), "127.0.0.1", closed, false).unwrap())
            .unwrap();
    let error = nowhere.trigger(&Event::new("e", vec!["c".into()], "{}")).await.unwrap_err();
    assert!(matches!(error, PublishError::Unavailable(_)) && error.is_retryable(), "{error:?}");
    // Limits are checked before anything is sent.
    let too_big = Event::new("e", vec!["c".into()], "x".repeat(10 * 1024 + 1));
    assert!(matches!(nowhere.trigger(&too_big).await, Err(PublishError::TooLarge { .. })));
    let too_many = Event::new("e", (0..101).map(|i| format!("c{i}")).collect(), "{}");
    assert!(matches!(nowhere.trigger(&too_many).await, Err(PublishError::Invalid(_))));
}

#[tokio::test]
async fn shutdown_closes_with_4200_and_the_subscriber_reconnects_at_once() {
    let target = relay_target(|_| {}).await;
    let (_sub, mut events, _) = target.subscribed(&["sala"]).await;
    target._relay.as_ref().unwrap().shutdown();
    loop {
        if let SubscriberEvent::Disconnected { code, retry_in, .. } = next(&mut events).await {
            assert_eq!((code, retry_in), (Some(4200), Some(Duration::ZERO)));
            break;
        }
    }
}

#[tokio::test]
async fn a_wrong_app_key_is_final() {
    let target = relay_target(|_| {}).await;
    let mut config = target.subscriber_config();
    config.key = "otra-clave".into();
    let (_sub, mut events) = Subscriber::start(config, target.authorizer());
    loop {
        if let SubscriberEvent::Disconnected { code, retry_in, .. } = next(&mut events).await {
            assert_eq!((code, retry_in), (Some(4001), None), "4000–4099 must not reconnect");
            break;
        }
    }
}

#[tokio::test]
async fn the_subscriber_answers_pings_and_stays_connected() {
    let target = relay_target(|c| {
        c.activity_timeout = Duration::from_secs(1);
        c.pong_timeout = Duration::from_secs(1);
    })
    .await;
    let mut config = target.subscriber_config();
    config.activity_timeout = Duration::from_secs(1);
    let (_sub, mut events, _) = subscribed(config, target.authorizer(), &["latido"]).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
    while let Ok(Some(event)) = tokio::time::timeout_at(deadline, events.recv()).await {
        assert!(!matches!(event, SubscriberEvent::Disconnected { .. }), "{event:?}");
    }
    target.trigger().trigger(&Event::new("sigue", vec!["latido".into()], "{}")).await.unwrap();
    assert_eq!(message(&mut events).await.1, "sigue");
}

/// Kill the relay process outright, start it again: the subscriber notices, reconnects, resubscribes
/// and says so, and hears what is published afterwards.
#[tokio::test]
async fn killing_and_restarting_the_relay_process_resubscribes() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let spawn = || {
        tokio::process::Command::new(env!("CARGO_BIN_EXE_chatstudy-relay"))
            .env("RELAY_APP_ID", "app")
            .env("RELAY_KEY", "key")
            .env("RELAY_SECRET", "secret")
            .env("RELAY_PORT", port.to_string())
            .kill_on_drop(true)
            .spawn()
            .expect("relay binary starts")
    };
    let wait_listening = || async {
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("relay did not listen");
    };
    let credentials = Credentials::new("app", "key", "secret");
    let mut relay = spawn();
    wait_listening().await;
    let mut config = SubscriberConfig::for_host("key", "127.0.0.1", port, false).unwrap();
    config.min_backoff = Duration::from_millis(100);
    config.max_backoff = Duration::from_millis(400);
    let (_sub, mut events, first_socket) = subscribed(config, signer(credentials.clone()), &["private-chat-7"]).await;

    relay.kill().await.unwrap();
    let mut relay = spawn();
    wait_listening().await;
    let (mut disconnected, mut new_socket) = (false, None);
    loop {
        match next(&mut events).await {
            SubscriberEvent::Disconnected { retry_in, .. } => {
                assert!(retry_in.is_some(), "an abrupt loss is retried");
                disconnected = true;
            }
            SubscriberEvent::Connected { socket_id } => new_socket = Some(socket_id),
            SubscriberEvent::Subscribed { channel } => {
                assert_eq!(channel, "private-chat-7");
                break;
            }
            _ => {}
        }
    }
    assert!(disconnected);
    assert_ne!(new_socket.expect("connected again"), first_socket);
    let trigger = HttpTrigger::new(TriggerConfig::for_host(credentials, "127.0.0.1", port, false).unwrap()).unwrap();
    trigger.trigger(&Event::new("despues", vec!["private-chat-7".into()], "{}")).await.unwrap();
    assert_eq!(message(&mut events).await.1, "despues");
    relay.kill().await.unwrap();
}
