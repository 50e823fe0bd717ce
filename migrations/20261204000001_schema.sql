-- Chatstudy schema. Table and column names are the original backend's, so an existing database keeps
-- working: every statement is idempotent (IF NOT EXISTS) and only adds what the original lacked
-- (password hashes, sessions, client_id for idempotent sends, the indexes and constraints below).

CREATE TABLE IF NOT EXISTS usuarios (
    id             SERIAL PRIMARY KEY,
    nombre         TEXT NOT NULL,
    email          TEXT NOT NULL,
    rol            TEXT NOT NULL CHECK (rol IN ('estudiante', 'asesor')),
    password_hash  TEXT NOT NULL,
    fecha_creacion TIMESTAMPTZ NOT NULL DEFAULT now()
);
-- One account per address, whatever its case.
CREATE UNIQUE INDEX IF NOT EXISTS usuarios_email_key ON usuarios (lower(email));

CREATE TABLE IF NOT EXISTS chats_conversacion (
    id               SERIAL PRIMARY KEY,
    id_estudiante    INTEGER NOT NULL REFERENCES usuarios (id),
    id_asesor        INTEGER NOT NULL REFERENCES usuarios (id),
    ultima_actividad TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX IF NOT EXISTS chats_conversacion_par_key ON chats_conversacion (id_estudiante, id_asesor);
CREATE INDEX IF NOT EXISTS chats_conversacion_asesor_idx ON chats_conversacion (id_asesor, ultima_actividad DESC);

-- The student side must be a student and the advisor side an advisor.
CREATE OR REPLACE FUNCTION chats_conversacion_roles() RETURNS trigger AS $$
BEGIN
    IF (SELECT rol FROM usuarios WHERE id = NEW.id_estudiante) IS DISTINCT FROM 'estudiante' THEN
        RAISE EXCEPTION 'id_estudiante % no es un estudiante', NEW.id_estudiante
            USING ERRCODE = 'check_violation', CONSTRAINT = 'chats_conversacion_roles';
    END IF;
    IF (SELECT rol FROM usuarios WHERE id = NEW.id_asesor) IS DISTINCT FROM 'asesor' THEN
        RAISE EXCEPTION 'id_asesor % no es un asesor', NEW.id_asesor
            USING ERRCODE = 'check_violation', CONSTRAINT = 'chats_conversacion_roles';
    END IF;
    RETURN NEW;
END
$$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS chats_conversacion_roles ON chats_conversacion;
CREATE TRIGGER chats_conversacion_roles BEFORE INSERT OR UPDATE OF id_estudiante, id_asesor
    ON chats_conversacion FOR EACH ROW EXECUTE FUNCTION chats_conversacion_roles();

CREATE TABLE IF NOT EXISTS chat_mensaje (
    id              BIGSERIAL PRIMARY KEY,
    id_conversacion INTEGER NOT NULL REFERENCES chats_conversacion (id) ON DELETE CASCADE,
    contenido       TEXT NOT NULL,
    id_usuario      INTEGER NOT NULL REFERENCES usuarios (id),
    fecha_envio     TIMESTAMPTZ NOT NULL DEFAULT now()
);
-- The sender's idempotency key: a retried send returns the stored message instead of a second one.
ALTER TABLE chat_mensaje ADD COLUMN IF NOT EXISTS client_id UUID;
CREATE UNIQUE INDEX IF NOT EXISTS chat_mensaje_client_id_key ON chat_mensaje (id_usuario, client_id);
-- History paging and catch-up read by (conversation, id).
CREATE INDEX IF NOT EXISTS chat_mensaje_conversacion_idx ON chat_mensaje (id_conversacion, id);

CREATE TABLE IF NOT EXISTS chats_notificacion (
    id              SERIAL PRIMARY KEY,
    id_conversacion INTEGER NOT NULL REFERENCES chats_conversacion (id) ON DELETE CASCADE,
    id_receptor     INTEGER NOT NULL REFERENCES usuarios (id),
    leido           BOOLEAN NOT NULL DEFAULT false,
    fecha_creacion  TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX IF NOT EXISTS chats_notificacion_receptor_key ON chats_notificacion (id_conversacion, id_receptor);

-- Sessions: only a hash of the bearer token is stored.
CREATE TABLE IF NOT EXISTS sesiones (
    id             BIGSERIAL PRIMARY KEY,
    token_hash     BYTEA NOT NULL UNIQUE,
    id_usuario     INTEGER NOT NULL REFERENCES usuarios (id) ON DELETE CASCADE,
    fecha_creacion TIMESTAMPTZ NOT NULL DEFAULT now(),
    expira         TIMESTAMPTZ NOT NULL,
    revocada       TIMESTAMPTZ
);
CREATE INDEX IF NOT EXISTS sesiones_usuario_idx ON sesiones (id_usuario);
