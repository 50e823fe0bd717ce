-- The desktop app's local cache, one database per profile. Server rows keep the server's ids; local
-- rows (messages typed before the server confirmed them) are found by their client_id.

CREATE TABLE session (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    server_url TEXT NOT NULL,
    token      TEXT,
    user_id    INTEGER,
    user_name  TEXT,
    user_email TEXT,
    user_role  TEXT
);

CREATE TABLE conversations (
    id               INTEGER PRIMARY KEY,
    student_id       INTEGER NOT NULL,
    advisor_id       INTEGER NOT NULL,
    last_activity    TEXT NOT NULL,
    peer_id          INTEGER NOT NULL,
    peer_name        TEXT NOT NULL,
    peer_role        TEXT NOT NULL,
    unread           INTEGER NOT NULL DEFAULT 0,
    -- Every server message with an id up to this one is cached: catch-up asks for what comes after.
    synced_through   INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX conversations_activity ON conversations (last_activity DESC);

CREATE TABLE messages (
    local_id        INTEGER PRIMARY KEY AUTOINCREMENT,
    server_id       INTEGER UNIQUE,
    client_id       TEXT UNIQUE,
    conversation_id INTEGER NOT NULL,
    sender_id       INTEGER NOT NULL,
    content         TEXT NOT NULL,
    sent_at         TEXT NOT NULL,
    -- pendiente: in the outbox; enviado: confirmed by the server; fallido: given up, see error.
    state           TEXT NOT NULL CHECK (state IN ('pendiente', 'enviado', 'fallido')),
    error           TEXT,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT
);
CREATE INDEX messages_page ON messages (conversation_id, server_id);
CREATE INDEX messages_outbox ON messages (state, local_id) WHERE state = 'pendiente';
