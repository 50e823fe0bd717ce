//! Chatstudy's backend: accounts, student–advisor conversations, messages and per-receiver
//! notifications on PostgreSQL, with realtime delivery over the Pusher Channels protocol.
//!
//! `startup` builds everything from a `Config`; `routes` is the HTTP API; `realtime` publishes after
//! commit; the database keeps the original backend's Spanish table and column names.

pub mod auth;
pub mod cli;
pub mod config;
pub mod domain;
pub mod error;
pub mod extract;
pub mod models;
pub mod rate_limit;
pub mod realtime;
pub mod routes;
pub mod startup;

pub use config::Config;
pub use startup::App;
