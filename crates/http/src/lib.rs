//! Deskward's HTTP layer: the JSON API under `/api/v1`. Handlers stay thin: extract, call the
//! `deskward-app` use case, convert the answer to a `deskward-proto` type. Transport (TLS,
//! sockets) belongs to the binary; this crate is a plain `Router` that tests drive directly.

mod api;
mod client;
mod convert;
mod error;
mod extract;
mod headers;
mod watch;
mod web;

pub use api::ROUTES;
pub use web::PAGES;
pub use api::audit::parse_time;
pub use convert::{audit_record, audit_record_in, time as format_time};
pub use error::ApiError;
pub use client::{ClientAddr, client_addr};
pub use extract::{PeerAddr, SESSION_COOKIE};

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use deskward_app::App;

/// The OpenAPI description of the API, served at `/api/v1/openapi.json`.
pub const OPENAPI: &str = include_str!("../openapi.json");

#[derive(Debug, Clone)]
pub struct HttpOptions {
    pub max_body_bytes: usize,
    /// A request that takes longer is answered 503 and its work abandoned.
    pub request_timeout: std::time::Duration,
    /// Peers whose forwarding headers name the client (`http.trusted_proxies`).
    pub trusted_proxies: deskward_core::net::Networks,
}

pub type State = Arc<App>;

/// The whole HTTP surface of the server.
pub fn router(app: App, options: &HttpOptions) -> Router {
    let state = Arc::new(app);
    api::routes()
        .merge(web::routes().route_layer(axum::middleware::from_fn_with_state(state.clone(), web::web_switch)))
        .fallback(error::no_route)
        .method_not_allowed_fallback(error::method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(options.request_timeout, headers::deadline))
        .layer(axum::middleware::from_fn(headers::guard_and_secure))
        .layer(axum::middleware::from_fn_with_state(state.clone(), watch::watch))
        .layer(DefaultBodyLimit::max(options.max_body_bytes))
        .layer(axum::middleware::from_fn_with_state(Arc::new(options.trusted_proxies.clone()), client::resolve))
        .with_state(state)
}
