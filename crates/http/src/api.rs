//! The routes of `/api/v1`, one module per resource.

mod accounts;
pub mod audit;
mod bans;
mod classes;
mod auth_order;
mod directory;
mod domains;
mod groups;
pub mod items;
mod mail;
pub mod me;
mod policies;
mod secrets;

use axum::Json;
use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::{get, put};
use deskward_proto::Health;

use crate::State;

/// Every (method, path) the API serves; checked against `openapi.json` by the tests.
pub const ROUTES: &[(&str, &str)] = &[
    ("GET", "/api/v1/health"),
    ("GET", "/api/v1/openapi.json"),
    ("POST", "/api/v1/session"),
    ("DELETE", "/api/v1/session"),
    ("GET", "/api/v1/me"),
    ("PUT", "/api/v1/me/password"),
    ("GET", "/api/v1/me/sessions"),
    ("GET", "/api/v1/me/logins"),
    ("DELETE", "/api/v1/me/sessions/{id}"),
    ("GET", "/api/v1/domains"),
    ("POST", "/api/v1/domains"),
    ("GET", "/api/v1/domains/{domain}"),
    ("PATCH", "/api/v1/domains/{domain}"),
    ("DELETE", "/api/v1/domains/{domain}"),
    ("GET", "/api/v1/domains/{domain}/accounts"),
    ("POST", "/api/v1/domains/{domain}/accounts"),
    ("GET", "/api/v1/domains/{domain}/accounts/{name}"),
    ("PATCH", "/api/v1/domains/{domain}/accounts/{name}"),
    ("DELETE", "/api/v1/domains/{domain}/accounts/{name}"),
    ("PUT", "/api/v1/domains/{domain}/accounts/{name}/password"),
    ("GET", "/api/v1/domains/{domain}/accounts/{name}/sessions"),
    ("DELETE", "/api/v1/domains/{domain}/accounts/{name}/sessions"),
    ("DELETE", "/api/v1/domains/{domain}/accounts/{name}/sessions/{id}"),
    ("POST", "/api/v1/domains/{domain}/accounts/{name}/impersonate"),
    ("GET", "/api/v1/domains/{domain}/groups"),
    ("POST", "/api/v1/domains/{domain}/groups"),
    ("DELETE", "/api/v1/domains/{domain}/groups/{group}"),
    ("PUT", "/api/v1/domains/{domain}/groups/{group}/members/{name}"),
    ("DELETE", "/api/v1/domains/{domain}/groups/{group}/members/{name}"),
    ("GET", "/api/v1/domains/{domain}/classes"),
    ("POST", "/api/v1/domains/{domain}/classes"),
    ("PATCH", "/api/v1/domains/{domain}/classes/{class}"),
    ("DELETE", "/api/v1/domains/{domain}/classes/{class}"),
    ("GET", "/api/v1/domains/{domain}/session-rules"),
    ("PUT", "/api/v1/domains/{domain}/session-rules"),
    ("GET", "/api/v1/domains/{domain}/notifications"),
    ("PUT", "/api/v1/domains/{domain}/notifications"),
    ("GET", "/api/v1/domains/{domain}/allow-list"),
    ("PUT", "/api/v1/domains/{domain}/allow-list"),
    ("GET", "/api/v1/domains/{domain}/directory"),
    ("PUT", "/api/v1/domains/{domain}/directory"),
    ("DELETE", "/api/v1/domains/{domain}/directory"),
    ("PUT", "/api/v1/domains/{domain}/directory/bind-password"),
    ("DELETE", "/api/v1/domains/{domain}/directory/bind-password"),
    ("POST", "/api/v1/domains/{domain}/directory/test"),
    ("POST", "/api/v1/domains/{domain}/directory/sync"),
    ("GET", "/api/v1/domains/{domain}/auth-order"),
    ("PUT", "/api/v1/domains/{domain}/auth-order"),
    ("DELETE", "/api/v1/domains/{domain}/auth-order"),
    ("GET", "/api/v1/domains/{domain}/policies/{audience}"),
    ("PUT", "/api/v1/domains/{domain}/policies/{audience}"),
    ("GET", "/api/v1/audit"),
    ("GET", "/api/v1/audit/chains"),
    ("GET", "/api/v1/audit/chains/{chain}/days"),
    ("GET", "/api/v1/audit/chains/{chain}/days/{day}"),
    ("GET", "/api/v1/bans"),
    ("POST", "/api/v1/bans"),
    ("DELETE", "/api/v1/bans/{network}"),
    ("GET", "/api/v1/mail/outbox"),
    ("POST", "/api/v1/mail/test"),
    ("PUT", "/api/v1/mail/relay-password"),
    ("DELETE", "/api/v1/mail/relay-password"),
    ("GET", "/api/v1/items"),
    ("POST", "/api/v1/items/folders"),
    ("POST", "/api/v1/items/documents"),
    ("GET", "/api/v1/items/{id}"),
    ("PATCH", "/api/v1/items/{id}"),
    ("DELETE", "/api/v1/items/{id}"),
    ("GET", "/api/v1/items/{id}/content"),
    ("PUT", "/api/v1/items/{id}/content"),
    ("GET", "/api/v1/items/{id}/acl"),
    ("PUT", "/api/v1/items/{id}/acl"),
    ("POST", "/api/v1/items/{id}/link"),
    ("DELETE", "/api/v1/items/{id}/link"),
    ("PUT", "/api/v1/items/{id}/share-password"),
    ("DELETE", "/api/v1/items/{id}/share-password"),
    ("GET", "/api/v1/items/{id}/explain"),
    ("GET", "/api/v1/me/usage"),
    ("GET", "/api/v1/domains/{domain}/items"),
    ("GET", "/api/v1/domains/{domain}/accounts/{name}/usage"),
    ("GET", "/api/v1/shared/{token}"),
    ("GET", "/api/v1/shared/{token}/content"),
    ("GET", "/api/v1/secrets"),
    ("POST", "/api/v1/secrets/enable"),
];

pub fn routes() -> Router<State> {
    Router::new()
        .route("/api/v1/health", get(health))
        .route("/api/v1/openapi.json", get(openapi))
        .route("/api/v1/session", axum::routing::post(me::login).delete(me::logout))
        .route("/api/v1/me", get(me::me))
        .route("/api/v1/me/password", put(me::change_password))
        .route("/api/v1/me/sessions", get(me::sessions))
        .route("/api/v1/me/logins", get(me::logins))
        .route("/api/v1/me/sessions/{id}", axum::routing::delete(me::end_session))
        .route("/api/v1/domains", get(domains::list).post(domains::create))
        .route("/api/v1/domains/{domain}", get(domains::show).patch(domains::update).delete(domains::remove))
        .route("/api/v1/domains/{domain}/accounts", get(accounts::list).post(accounts::create))
        .route(
            "/api/v1/domains/{domain}/accounts/{name}",
            get(accounts::show).patch(accounts::update).delete(accounts::remove),
        )
        .route("/api/v1/domains/{domain}/accounts/{name}/password", put(accounts::set_password))
        .route("/api/v1/domains/{domain}/accounts/{name}/sessions", get(accounts::sessions).delete(accounts::revoke_sessions))
        .route("/api/v1/domains/{domain}/accounts/{name}/sessions/{id}", axum::routing::delete(accounts::revoke_session))
        .route("/api/v1/domains/{domain}/accounts/{name}/impersonate", axum::routing::post(me::impersonate))
        .route("/api/v1/domains/{domain}/groups", get(groups::list).post(groups::create))
        .route("/api/v1/domains/{domain}/groups/{group}", axum::routing::delete(groups::remove))
        .route(
            "/api/v1/domains/{domain}/groups/{group}/members/{name}",
            put(groups::add_member).delete(groups::remove_member),
        )
        .route("/api/v1/domains/{domain}/classes", get(classes::list).post(classes::create))
        .route("/api/v1/domains/{domain}/classes/{class}", axum::routing::patch(classes::update).delete(classes::remove))
        .route("/api/v1/domains/{domain}/policies/{audience}", get(policies::show).put(policies::set))
        .route("/api/v1/domains/{domain}/session-rules", get(domains::session_rules).put(domains::set_session_rules))
        .route("/api/v1/domains/{domain}/notifications", get(domains::notifications).put(domains::set_notifications))
        .route("/api/v1/domains/{domain}/allow-list", get(domains::allow_list).put(domains::set_allow_list))
        .route("/api/v1/domains/{domain}/directory", get(directory::show).put(directory::set).delete(directory::remove))
        .route("/api/v1/domains/{domain}/directory/bind-password", put(directory::set_password).delete(directory::remove_password))
        .route("/api/v1/domains/{domain}/directory/test", axum::routing::post(directory::test))
        .route("/api/v1/domains/{domain}/directory/sync", axum::routing::post(directory::sync))
        .route("/api/v1/domains/{domain}/auth-order", get(auth_order::show).put(auth_order::set).delete(auth_order::reset))
        .route("/api/v1/audit", get(audit::search))
        .route("/api/v1/audit/chains", get(audit::chains))
        .route("/api/v1/audit/chains/{chain}/days", get(audit::days))
        .route("/api/v1/audit/chains/{chain}/days/{day}", get(audit::day))
        .route("/api/v1/bans", get(bans::list).post(bans::create))
        .route("/api/v1/bans/{network}", axum::routing::delete(bans::remove))
        .route("/api/v1/mail/outbox", get(mail::outbox))
        .route("/api/v1/mail/test", axum::routing::post(mail::test))
        .route("/api/v1/mail/relay-password", put(mail::set_relay_password).delete(mail::remove_relay_password))
        .route("/api/v1/items", get(items::list))
        .route("/api/v1/items/folders", axum::routing::post(items::create_folder))
        .route("/api/v1/items/documents", axum::routing::post(items::upload))
        .route("/api/v1/items/{id}", get(items::show).patch(items::update).delete(items::remove))
        .route("/api/v1/items/{id}/content", get(items::download).put(items::new_version))
        .route("/api/v1/items/{id}/acl", get(items::acl).put(items::set_acl))
        .route("/api/v1/items/{id}/link", axum::routing::post(items::make_link).delete(items::remove_link))
        .route("/api/v1/items/{id}/share-password", put(items::set_share_password).delete(items::remove_share_password))
        .route("/api/v1/items/{id}/explain", get(items::explain))
        .route("/api/v1/me/usage", get(items::my_usage))
        .route("/api/v1/domains/{domain}/items", get(items::domain_items))
        .route("/api/v1/domains/{domain}/accounts/{name}/usage", get(items::account_usage))
        .route("/api/v1/shared/{token}", get(items::shared))
        .route("/api/v1/shared/{token}/content", get(items::shared_content))
        .route("/api/v1/secrets", get(secrets::status))
        .route("/api/v1/secrets/enable", axum::routing::post(secrets::enable))
}

/// Unauthenticated liveness answer; also the baseline of the request-rate benchmark.
async fn health() -> Json<Health> {
    Json(Health { status: "ok".into(), version: env!("CARGO_PKG_VERSION").into() })
}

async fn openapi() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], crate::OPENAPI)
}
