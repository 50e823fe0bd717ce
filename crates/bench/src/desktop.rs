use std::time::{Duration, Instant};

use chatstudy_client::api::{Peer, ServerConversation, ServerMessage, User};
use chatstudy_client::cache::Cache;
use chatstudy_client::ChatClient;

#[derive(clap::Args)]
pub struct Args {
    /// Messages cached in the one big conversation.
    #[arg(long, default_value_t = 100_000)]
    messages: i64,
    /// Conversations in the chat list.
    #[arg(long, default_value_t = 200)]
    conversations: i64,
}

/// Fill a profile's cache, then time a cold start to the cached chat list and the first page of the
/// big conversation, with no server reachable (the app must not wait for one).
pub async fn run(args: Args) -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join(format!("chatstudy-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let nowhere = format!("http://127.0.0.1:{}", crate::unused_port());
    let me = User { id: 1, nombre: "Asesora".into(), email: "a@bench".into(), rol: "asesor".into() };
    let cache = Cache::open(&dir).await?;
    cache.set_server_url(&nowhere).await?;
    cache.save_login("token-de-prueba", &me).await?;
    let now = chrono::Utc::now();
    let conversations: Vec<ServerConversation> = (1..=args.conversations)
        .map(|id| ServerConversation {
            id,
            id_estudiante: 1000 + id,
            id_asesor: me.id,
            ultima_actividad: now - chrono::Duration::minutes(id),
            participante: Peer { id: 1000 + id, nombre: format!("Estudiante {id}"), rol: "estudiante".into() },
            ultimo_mensaje: None,
            no_leido: id % 3 == 0,
        })
        .collect();
    cache.store_conversations(&conversations).await?;
    let fill = Instant::now();
    for chunk in (1..=args.messages).collect::<Vec<_>>().chunks(5_000) {
        let batch: Vec<ServerMessage> = chunk
            .iter()
            .map(|&id| ServerMessage {
                id,
                id_conversacion: 1,
                contenido: format!("Mensaje número {id} de la conversación de prueba"),
                id_usuario: if id % 2 == 0 { me.id } else { 1001 },
                fecha_envio: now - chrono::Duration::seconds(args.messages - id),
                client_id: Some(uuid::Uuid::new_v4()),
            })
            .collect();
        cache.store_messages(&batch).await?;
    }
    let fill = fill.elapsed();
    cache.close().await;

    let cold = Instant::now();
    let client = ChatClient::open(&dir, &nowhere).await?;
    let list = client.conversations().await?;
    let cold = cold.elapsed();
    anyhow::ensure!(list.len() as i64 == args.conversations, "chat list incomplete");

    let first = Instant::now();
    let page = client.open_conversation(1).await?;
    let first = first.elapsed();
    anyhow::ensure!(
        page.len() == 50 && page.last().and_then(|m| m.server_id) == Some(args.messages),
        "wrong first page"
    );
    let mut again: Vec<Duration> = Vec::new();
    for _ in 0..50 {
        let t = Instant::now();
        client.open_conversation(1).await?;
        again.push(t.elapsed());
    }
    again.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "| cold start → cached chat list | {} conversations, {} messages cached | {:.1} ms | |",
        args.conversations,
        args.messages,
        ms(cold)
    );
    println!(
        "| open a conversation → first page (50) | {} messages in it | {:.2} ms first, {:.2} ms p50, {:.2} ms max of 50 more | filling the cache took {:.1} s |",
        args.messages,
        ms(first),
        ms(again[again.len() / 2]),
        ms(*again.last().expect("50 runs")),
        fill.as_secs_f64()
    );
    client.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
