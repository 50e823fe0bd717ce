use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chatstudy_pusher::subscriber::{AuthorizeError, Subscriber, SubscriberConfig, SubscriberEvent};
use chatstudy_server::cli::add_user;
use chatstudy_server::domain::Role;
use serde_json::{json, Value};

#[derive(clap::Args)]
pub struct Args {
    /// The running server, e.g. http://127.0.0.1:3001.
    #[arg(long)]
    base: String,
    /// Its (empty) database, to create the users.
    #[arg(long)]
    database_url: String,
    #[arg(long, default_value_t = 32)]
    senders: usize,
    #[arg(long, default_value_t = 100)]
    conversations: usize,
    #[arg(long, default_value_t = 20)]
    seconds: u64,
    /// Where to write the pgbench script that runs the same statement.
    #[arg(long)]
    pgbench_script: std::path::PathBuf,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let pool = sqlx::PgPool::connect(&args.database_url).await?;
    let http = reqwest::Client::builder().pool_max_idle_per_host(args.senders * 2).build()?;
    let password = "benchmark-password";
    let advisor_id = add_user(&pool, Role::Asesor, "asesor@bench", "Asesor", password).await?;
    let advisor_token = login(&http, &args.base, "asesor@bench", password).await?;

    // One student per conversation, created in the same order so that the pgbench script can map a
    // conversation id to its student.
    let mut chats = Vec::new();
    for i in 0..args.conversations {
        let email = format!("estudiante{i}@bench");
        let student = add_user(&pool, Role::Estudiante, &email, &format!("Estudiante {i}"), password).await?;
        let token = login(&http, &args.base, &email, password).await?;
        let body: Value = http
            .post(format!("{}/chat/conversaciones", args.base))
            .bearer_auth(&token)
            .json(&json!({ "userId": advisor_id }))
            .send()
            .await?
            .json()
            .await?;
        let chat = body["conversacion"]["id"].as_i64().ok_or_else(|| anyhow::anyhow!("no conversation: {body}"))?;
        chats.push((chat, student, token));
    }
    let (first_chat, first_student, _) = chats[0].clone();
    anyhow::ensure!(
        chats.iter().enumerate().all(|(i, (c, s, _))| *c == first_chat + i as i64 && *s == first_student + i as i32),
        "conversation and student ids are not contiguous; run against a fresh database"
    );
    write_pgbench_script(&args.pgbench_script, first_chat, first_student as i64 - first_chat, args.conversations)?;

    // The advisor's subscriber: every message of every conversation reaches it.
    let received = Arc::new(AtomicU64::new(0));
    let _subscriber =
        subscribe(&http, &args.base, &advisor_token, &format!("private-usuario-{advisor_id}"), received.clone())
            .await?;

    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let warmup = Duration::from_secs(2);
    let mut tasks = Vec::new();
    let chats = Arc::new(chats);
    // One keep-alive HTTP/1 connection per sender on a bare hyper client, as pgbench keeps one
    // connection per client: the load generator should spend as little of the two cores as it can.
    let address = args.base.trim_start_matches("http://").to_owned();
    for sender in 0..args.senders {
        let (address, chats, stop) = (address.clone(), chats.clone(), stop.clone());
        tasks.push(tokio::spawn(async move {
            let mut histogram = hdrhistogram::Histogram::<u64>::new(3).expect("histogram");
            let (mut sent, mut failed) = (0u64, 0u64);
            let stream = tokio::net::TcpStream::connect(&address).await.expect("server reachable");
            stream.set_nodelay(true).expect("nodelay");
            let (mut http, connection) =
                hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await.expect("handshake");
            tokio::spawn(connection);
            let mut k = 0;
            while !stop.load(Ordering::Relaxed) {
                let (chat, student, token) = &chats[(sender + k * 32) % chats.len()];
                k += 1;
                let body = format!(
                    r#"{{"chatId":{chat},"content":"Mensaje de prueba de rendimiento","senderId":{student},"clientId":"{}"}}"#,
                    uuid::Uuid::new_v4()
                );
                let request = hyper::Request::post("/chat/mensajes")
                    .header("host", &address)
                    .header("authorization", format!("Bearer {token}"))
                    .header("content-type", "application/json")
                    .body(http_body_util::Full::new(hyper::body::Bytes::from(body)))
                    .expect("request");
                let begin = Instant::now();
                let ok = match http.send_request(request).await {
                    Ok(response) => {
                        let ok = response.status().is_success();
                        let _ = http_body_util::BodyExt::collect(response.into_body()).await;
                        ok
                    }
                    Err(_) => false,
                };
                if begin.duration_since(started) >= warmup {
                    if ok {
                        sent += 1;
                        histogram.record(begin.elapsed().as_micros() as u64).expect("in range");
                    } else {
                        failed += 1;
                    }
                }
            }
            (histogram, sent, failed)
        }));
    }
    tokio::time::sleep(warmup + Duration::from_secs(args.seconds)).await;
    stop.store(true, Ordering::Relaxed);
    let mut histogram = hdrhistogram::Histogram::<u64>::new(3)?;
    let (mut sent, mut failed) = (0, 0);
    for task in tasks {
        let (h, s, f) = task.await?;
        histogram.add(h)?;
        sent += s;
        failed += f;
    }
    let measured = started.elapsed().saturating_sub(warmup).as_secs_f64();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM chat_mensaje").fetch_one(&pool).await?;
    let (p50, p99) = crate::percentiles(&histogram);
    println!(
        "| POST /chat/mensajes | {} senders, {} conversations, 1 subscriber | {:.0} req/s | {p50:.2} ms | {p99:.2} ms | {failed} failed; {} stored, {} events received |",
        args.senders,
        args.conversations,
        sent as f64 / measured,
        stored,
        received.load(Ordering::Relaxed)
    );
    Ok(())
}

async fn login(http: &reqwest::Client, base: &str, email: &str, password: &str) -> anyhow::Result<String> {
    let body: Value = http
        .post(format!("{base}/auth/login"))
        .json(&json!({ "email": email, "password": password }))
        .send()
        .await?
        .json()
        .await?;
    Ok(body["token"].as_str().ok_or_else(|| anyhow::anyhow!("login failed: {body}"))?.to_owned())
}

async fn subscribe(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    channel: &str,
    received: Arc<AtomicU64>,
) -> anyhow::Result<Subscriber> {
    let settings: Value = http.get(format!("{base}/chat/realtime")).bearer_auth(token).send().await?.json().await?;
    let config = SubscriberConfig::for_host(
        settings["key"].as_str().unwrap_or_default(),
        settings["host"].as_str().unwrap_or("127.0.0.1"),
        settings["port"].as_u64().unwrap_or(6001) as u16,
        settings["useTLS"].as_bool().unwrap_or(false),
    )?;
    let (auth_http, auth_url, auth_token) = (http.clone(), format!("{base}/pusher/auth"), token.to_owned());
    let authorizer = Arc::new(move |socket_id: String, channel_name: String| {
        let (http, url, token) = (auth_http.clone(), auth_url.clone(), auth_token.clone());
        async move {
            let body: Value = http
                .post(url)
                .bearer_auth(token)
                .form(&[("socket_id", socket_id), ("channel_name", channel_name)])
                .send()
                .await
                .and_then(|r| r.error_for_status())
                .map_err(|e| AuthorizeError { status: e.status().map(|s| s.as_u16()), message: e.to_string() })?
                .json()
                .await
                .map_err(|e| AuthorizeError { status: None, message: e.to_string() })?;
            Ok(body["auth"].as_str().unwrap_or_default().to_owned())
        }
    });
    let (subscriber, mut events) = Subscriber::start(config, authorizer);
    subscriber.subscribe(channel);
    loop {
        match tokio::time::timeout(Duration::from_secs(10), events.recv()).await? {
            Some(SubscriberEvent::Subscribed { .. }) => break,
            Some(SubscriberEvent::SubscriptionFailed { message, .. }) => {
                anyhow::bail!("subscription failed: {message}")
            }
            Some(_) => {}
            None => anyhow::bail!("subscriber stopped"),
        }
    }
    tokio::spawn(async move {
        while let Some(event) = events.recv().await {
            if matches!(event, SubscriberEvent::Message { .. }) {
                received.fetch_add(1, Ordering::Relaxed);
            }
        }
    });
    Ok(subscriber)
}

/// The server's statement with pgbench variables: conversation `:c`, its student `:s`.
fn write_pgbench_script(
    path: &std::path::Path,
    first_chat: i64,
    student_offset: i64,
    conversations: usize,
) -> anyhow::Result<()> {
    let sql = chatstudy_server::routes::mensajes::SEND_SQL
        .replace("$1", ":c")
        .replace("$2", ":s")
        .replace("$3", "'Mensaje de prueba de rendimiento'")
        .replace("$4", "gen_random_uuid()");
    let script = format!(
        "\\set c random({first_chat}, {})\n\\set s :c + {student_offset}\n{};\n",
        first_chat + conversations as i64 - 1,
        sql.trim()
    );
    std::fs::write(path, script)?;
    Ok(())
}
