//! Administrative commands: `user add` and `demo`.

use sqlx::PgPool;

use crate::auth::hash_password;
use crate::domain::Role;

/// Create a user; fails if the address is taken (in any letter case).
pub async fn add_user(pool: &PgPool, rol: Role, email: &str, nombre: &str, password: &str) -> anyhow::Result<i32> {
    let email = email.trim();
    let nombre = nombre.trim();
    anyhow::ensure!(email.contains('@') && email.len() <= 254, "{email:?} no es un correo válido");
    anyhow::ensure!(!nombre.is_empty(), "el nombre está vacío");
    anyhow::ensure!(password.chars().count() >= 8, "la contraseña debe tener al menos 8 caracteres");
    let hash = hash_password(password)?;
    let id: Option<i32> = sqlx::query_scalar(
        "INSERT INTO usuarios (nombre, email, rol, password_hash) VALUES ($1, $2, $3, $4)
         ON CONFLICT ((lower(email))) DO NOTHING RETURNING id",
    )
    .bind(nombre)
    .bind(email)
    .bind(rol)
    .bind(hash)
    .fetch_optional(pool)
    .await?;
    id.ok_or_else(|| anyhow::anyhow!("ya existe un usuario con el correo {email}"))
}

/// The demo accounts; the README lists them.
pub const DEMO_PASSWORD: &str = "chatstudy";
pub const DEMO_USERS: [(&str, &str, Role); 5] = [
    ("Ana Martínez", "ana.martinez@demo.chatstudy", Role::Asesor),
    ("Luis Fernández", "luis.fernandez@demo.chatstudy", Role::Asesor),
    ("Carla Ruiz", "carla.ruiz@demo.chatstudy", Role::Estudiante),
    ("Diego Pérez", "diego.perez@demo.chatstudy", Role::Estudiante),
    ("Elena Sánchez", "elena.sanchez@demo.chatstudy", Role::Estudiante),
];

/// (student, advisor, messages alternating from the student).
const DEMO_CHATS: [(usize, usize, &[&str]); 3] = [
    (
        2,
        0,
        &[
            "Hola Ana, ¿podemos revisar mi plan de estudios?",
            "¡Claro, Carla! ¿Te va bien el jueves a las 10?",
            "Perfecto, allí estaré.",
        ],
    ),
    (
        3,
        0,
        &[
            "Buenos días, tengo dudas con la matrícula del segundo semestre.",
            "Buenos días, Diego. Cuéntame qué asignaturas te interesan.",
        ],
    ),
    (4, 1, &["Hola Luis, ¿cuándo es la fecha límite para el TFG?", "Hola Elena: el 15 de junio. Te envío la guía."]),
];

/// Idempotent demo data: two advisors, three students and three conversations with a few messages.
/// Running it again changes nothing.
pub async fn demo(pool: &PgPool) -> anyhow::Result<()> {
    let hash = hash_password(DEMO_PASSWORD)?;
    let mut ids = Vec::new();
    for (nombre, email, rol) in DEMO_USERS {
        sqlx::query(
            "INSERT INTO usuarios (nombre, email, rol, password_hash) VALUES ($1, $2, $3, $4)
             ON CONFLICT ((lower(email))) DO NOTHING",
        )
        .bind(nombre)
        .bind(email)
        .bind(rol)
        .bind(&hash)
        .execute(pool)
        .await?;
        let id: i32 = sqlx::query_scalar("SELECT id FROM usuarios WHERE lower(email) = lower($1)")
            .bind(email)
            .fetch_one(pool)
            .await?;
        ids.push(id);
    }
    for (student, advisor, messages) in DEMO_CHATS {
        let (student, advisor) = (ids[student], ids[advisor]);
        let mut tx = pool.begin().await?;
        let created: Option<i32> = sqlx::query_scalar(
            "INSERT INTO chats_conversacion (id_estudiante, id_asesor) VALUES ($1, $2)
             ON CONFLICT (id_estudiante, id_asesor) DO NOTHING RETURNING id",
        )
        .bind(student)
        .bind(advisor)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(conversation) = created {
            for (i, text) in messages.iter().enumerate() {
                let (sender, receiver) = if i % 2 == 0 { (student, advisor) } else { (advisor, student) };
                let minutes_ago = (messages.len() - i) as i32 * 7;
                sqlx::query(
                    "INSERT INTO chat_mensaje (id_conversacion, contenido, id_usuario, fecha_envio, client_id)
                     VALUES ($1, $2, $3, now() - make_interval(mins => $4), gen_random_uuid())",
                )
                .bind(conversation)
                .bind(text)
                .bind(sender)
                .bind(minutes_ago)
                .execute(&mut *tx)
                .await?;
                sqlx::query(
                    "INSERT INTO chats_notificacion (id_conversacion, id_receptor, leido) VALUES ($1, $2, $3)
                     ON CONFLICT (id_conversacion, id_receptor) DO UPDATE SET leido = EXCLUDED.leido",
                )
                .bind(conversation)
                .bind(receiver)
                .bind(i + 1 < messages.len())
                .execute(&mut *tx)
                .await?;
            }
            sqlx::query(
                "UPDATE chats_conversacion SET ultima_actividad = (SELECT max(fecha_envio) FROM chat_mensaje WHERE id_conversacion = $1) WHERE id = $1",
            )
            .bind(conversation)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
    }
    Ok(())
}
