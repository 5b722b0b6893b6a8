//! The audit log's cost on a change as the product makes it: an administrator's
//! `POST /api/v1/domains/{domain}/groups` through the API router (session, permissions,
//! validation, the use case, its transaction and answer), with auditing and against the same
//! router over [`Store::benchmark_baseline`], which commits the same changes without their
//! records. The router is called in-process: the network and TLS, which cost the same either
//! way, are left out, so the ratio is the strictest the API gives.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use deskward_app::{App, Caller, Hasher, HasherLimits, NewAccountInput};
use deskward_core::password::HashParams;
use deskward_http::{HttpOptions, PeerAddr, SESSION_COOKIE};
use deskward_store::Store;
use tower::ServiceExt;

const DOMAIN: &str = "api.bench.test";
const PASSWORD: &str = "Bench-audit-Pa55word!x";
/// Pairs of rounds, each an audited round and a plain one, in alternating order.
const ROUNDS: usize = 11;
const PER_ROUND: usize = 400;
/// Requests in flight at once, as several administrators' browsers would send them.
const CLIENTS: usize = 4;

/// The use cases over `store`. One login only: the hash's cost is not what is measured.
fn use_cases(store: Store) -> anyhow::Result<App> {
    let params = HashParams { memory_kib: 64, iterations: 1, parallelism: 1 };
    Ok(App::new(store, Hasher::new(params, HasherLimits { max_in_flight: 2, max_queued: 64 })?))
}

fn app(store: Store) -> anyhow::Result<Router> {
    let http = HttpOptions { max_body_bytes: 65536, request_timeout: Duration::from_secs(30), trusted_proxies: Default::default() };
    Ok(deskward_http::router(use_cases(store)?, &http))
}

fn request(method: &str, uri: &str, token: Option<&str>, body: serde_json::Value) -> anyhow::Result<Request<Body>> {
    let mut req = Request::builder()
        .method(method)
        .uri(uri)
        .header(header::HOST, "deskward.bench.test")
        .header(header::CONTENT_TYPE, "application/json")
        .extension(PeerAddr(SocketAddr::from(([192, 0, 2, 10], 50_000))));
    if let Some(t) = token {
        req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
    }
    Ok(req.body(Body::from(serde_json::to_vec(&body)?))?)
}

/// A domain with an administrator, logged in; the session's token.
async fn admin_session(store: &Store, router: &Router) -> anyhow::Result<String> {
    let app = use_cases(store.clone())?;
    let operator = Caller::operator("bench");
    app.create_domain(&operator, DOMAIN).await?;
    let admin = NewAccountInput { name: "admin".into(), role: "domain-admin".into(), class: None, password: Some(PASSWORD.into()), must_change_password: false, email: None };
    app.create_account(&operator, DOMAIN, &admin).await?;
    let login = serde_json::json!({ "login": format!("admin@{DOMAIN}"), "password": PASSWORD });
    let answer = router.clone().oneshot(request("POST", "/api/v1/session", None, login)?).await?;
    if answer.status() != StatusCode::CREATED {
        bail!("the administrator's login answered {}", answer.status());
    }
    let cookie = answer.headers().get(header::SET_COOKIE).context("no session cookie")?.to_str()?;
    let token = cookie.split(';').next().and_then(|kv| kv.strip_prefix(&format!("{SESSION_COOKIE}="))).context("malformed session cookie")?;
    Ok(token.to_owned())
}

/// `PER_ROUND` group creations from `CLIENTS` clients; how long they took.
async fn round(router: &Router, token: &str, next: &Arc<AtomicUsize>) -> anyhow::Result<Duration> {
    let start = Instant::now();
    let left = Arc::new(AtomicUsize::new(PER_ROUND));
    let mut tasks = Vec::new();
    for _ in 0..CLIENTS {
        let (router, token, next, left) = (router.clone(), token.to_owned(), next.clone(), left.clone());
        tasks.push(tokio::spawn(async move {
            while left.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1)).is_ok() {
                let n = next.fetch_add(1, Ordering::Relaxed);
                let body = serde_json::json!({ "name": format!("g{n}") });
                let uri = format!("/api/v1/domains/{DOMAIN}/groups");
                let answer = router.clone().oneshot(request("POST", &uri, Some(&token), body)?).await?;
                if answer.status() != StatusCode::CREATED {
                    bail!("creating group g{n} answered {}", answer.status());
                }
                axum::body::to_bytes(answer.into_body(), 65536).await?;
            }
            Ok(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    Ok(start.elapsed())
}

/// Changes per second with and without their audit records, and the median of the paired
/// rounds' ratios.
pub async fn rates(store: &Store) -> anyhow::Result<(f64, f64, f64)> {
    let (audited_router, plain_router) = (app(store.clone())?, app(store.benchmark_baseline())?);
    let token = admin_session(store, &audited_router).await?;
    let next = Arc::new(AtomicUsize::new(0));
    // A first round warms both: caches, prepared statements, the session.
    round(&audited_router, &token, &next).await?;
    round(&plain_router, &token, &next).await?;
    let mut pairs = Vec::new();
    for r in 0..ROUNDS {
        let mut took = [Duration::ZERO; 2];
        for with_audit in [r % 2 == 0, r % 2 == 1] {
            let router = if with_audit { &audited_router } else { &plain_router };
            took[usize::from(with_audit)] = round(router, &token, &next).await?;
        }
        pairs.push(took);
    }
    Ok(crate::audit::paired_rates(&pairs, PER_ROUND))
}
