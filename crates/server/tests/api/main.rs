//! Integration tests: the real server, a real PostgreSQL (started by `make test`), real HTTP and
//! WebSocket connections to the built-in relay.

mod auth;
mod common;
mod conversaciones;
mod mensajes;
mod official_clients;
mod ops;
mod realtime;
