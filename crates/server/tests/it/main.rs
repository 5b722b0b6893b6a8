//! End-to-end tests: the real `deskward` binary over HTTPS and its CLI, on SQLite and on
//! PostgreSQL. One test binary for the crate (each extra binary costs link time).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod allow_lists;
mod api_admin;
mod api_session;
mod audit;
mod audit_forwarding;
mod audit_integrity;
mod bad_input;
mod conversations;
mod cli;
mod credentials;
mod database_sessions;
mod directory;
mod directory_ad;
mod documents;
mod flood;
mod guard;
mod host_names;
mod impersonation;
mod kerberos;
mod multi_node;
mod notifications;
mod plugins;
mod secrets;
mod serve;
mod sessions;
mod support;
mod web;
mod web_admin;
