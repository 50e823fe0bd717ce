use std::io::Read;

use anyhow::Context;
use chatstudy_server::domain::Role;
use chatstudy_server::{cli, startup, App, Config};
use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;

// Many small short-lived allocations per request (JSON, headers, frames): mimalloc serves them with
// less contention and fewer page faults than glibc's allocator (see docs/benchmarks.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(name = "chatstudy-server", version, about = "Chatstudy backend")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    config: Config,
    /// Log as JSON lines instead of text.
    #[arg(long, env = "LOG_JSON", default_value_t = false, global = true)]
    log_json: bool,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the API (the default).
    Serve,
    /// Apply the database migrations and exit.
    Migrate,
    /// Manage users.
    #[command(subcommand)]
    User(UserCommand),
    /// Load the demo users and conversations (idempotent).
    Demo,
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create a user; the password is read from standard input.
    Add {
        #[arg(long)]
        rol: Role,
        #[arg(long)]
        email: String,
        #[arg(long)]
        nombre: String,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let _ = dotenvy::dotenv();
    let cli = Cli::parse();
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,tower_http=warn"));
    if cli.log_json {
        tracing_subscriber::fmt().json().with_env_filter(filter).init();
    } else {
        tracing_subscriber::fmt().with_env_filter(filter).init();
    }

    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => App::build(cli.config).await?.run_until(startup::shutdown_signal()).await,
        Command::Migrate => {
            let pool = startup::connect(&cli.config).await?;
            startup::migrate(&pool).await?;
            println!("migraciones aplicadas");
            Ok(())
        }
        Command::User(UserCommand::Add { rol, email, nombre }) => {
            let mut password = String::new();
            std::io::stdin().read_to_string(&mut password).context("reading the password from stdin")?;
            let password = password.trim_end_matches(['\r', '\n']);
            let pool = startup::connect(&cli.config).await?;
            startup::migrate(&pool).await?;
            let id = cli::add_user(&pool, rol, &email, &nombre, password).await?;
            println!("usuario {id} creado ({}, {email})", rol.as_str());
            Ok(())
        }
        Command::Demo => {
            let pool = startup::connect(&cli.config).await?;
            startup::migrate(&pool).await?;
            cli::demo(&pool).await?;
            println!("datos de demostración cargados; contraseña de todas las cuentas: {}", cli::DEMO_PASSWORD);
            for (nombre, email, rol) in cli::DEMO_USERS {
                println!("  {:<11} {email:<34} {nombre}", rol.as_str());
            }
            Ok(())
        }
    }
}
