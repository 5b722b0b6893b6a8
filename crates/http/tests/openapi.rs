//! `openapi.json` describes the router exactly: the same (method, path) pairs as `ROUTES`, every
//! operation named once, every `$ref` resolvable, every route served, and no method served that
//! the description does not list.

// Tests may unwrap and panic; the workspace denies it only in server code.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use deskward_app::{App, Hasher, HasherLimits};
use deskward_core::password::HashParams;
use deskward_http::{HttpOptions, OPENAPI, ROUTES};
use deskward_store::{OpenOptions, Store};
use deskward_testkit::TempDir;
use serde_json::Value;
use tower::ServiceExt;

/// The methods an OpenAPI path item can hold, as HTTP spells them.
const METHODS: [&str; 8] = [
    "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE",
];

/// A concrete value for each path parameter, so a templated path becomes a request URI.
const SAMPLES: [(&str, &str); 10] = [
    ("{id}", "3f9a0c1d2e4b5a69"),
    ("{network}", "203.0.113.9"),
    ("{domain}", "example.org"),
    ("{chain}", "example.org"),
    ("{day}", "2026-11-23"),
    ("{name}", "alice"),
    ("{group}", "support"),
    ("{class}", "basic"),
    ("{audience}", "users"),
    ("{token}", "q8b3Zt0yXw5mN1rPc7dKj2hLf9vGs4aE6uQo0iRxT3w"),
];

fn spec() -> Value {
    serde_json::from_str(OPENAPI).expect("openapi.json is JSON")
}

/// (METHOD, path) for every operation in the description.
fn documented(spec: &Value) -> BTreeSet<(String, String)> {
    let paths = spec["paths"].as_object().expect("`paths` is an object");
    paths
        .iter()
        .flat_map(|(path, item)| {
            let item = item.as_object().expect("a path item is an object");
            item.keys()
                .filter(|key| METHODS.contains(&key.to_uppercase().as_str()))
                .map(move |method| (method.to_uppercase(), path.clone()))
        })
        .collect()
}

fn operations(spec: &Value) -> Vec<((String, String), &Value)> {
    documented(spec)
        .into_iter()
        .map(|(method, path)| {
            let op = &spec["paths"][&path][method.to_lowercase()];
            ((method, path), op)
        })
        .collect()
}

/// Records `problem` unless `ok`; each test fails at its end listing every problem it found.
fn check(problems: &mut Vec<String>, ok: bool, problem: impl FnOnce() -> String) {
    if !ok {
        problems.push(problem());
    }
}

fn finish(problems: &[String]) {
    assert!(
        problems.is_empty(),
        "{} problem(s):\n  {}",
        problems.len(),
        problems.join("\n  ")
    );
}

#[test]
fn described_routes_are_the_served_routes() {
    let described = documented(&spec());
    let served: BTreeSet<(String, String)> = ROUTES
        .iter()
        .map(|(m, p)| ((*m).to_owned(), (*p).to_owned()))
        .collect();
    let mut problems = Vec::new();
    for (method, path) in served.difference(&described) {
        problems.push(format!("served but not described: {method} {path}"));
    }
    for (method, path) in described.difference(&served) {
        problems.push(format!("described but not in ROUTES: {method} {path}"));
    }
    finish(&problems);
}

#[test]
fn operations_are_named_once_and_every_ref_resolves() {
    let spec = spec();
    let mut problems = Vec::new();
    let mut ids = BTreeSet::new();
    for ((method, path), op) in operations(&spec) {
        match op["operationId"].as_str() {
            Some(id) => check(&mut problems, ids.insert(id.to_owned()), || {
                format!("operationId {id} is used twice")
            }),
            None => problems.push(format!("{method} {path} has no operationId")),
        }
        check(&mut problems, op["summary"].is_string(), || {
            format!("{method} {path} has no summary")
        });
        let answers = op["responses"]
            .as_object()
            .map(|r| r.keys().collect::<Vec<_>>())
            .unwrap_or_default();
        check(
            &mut problems,
            answers.iter().any(|code| code.starts_with('2')),
            || format!("{method} {path} has no success response"),
        );
    }
    let mut refs = Vec::new();
    collect_refs(&spec, &mut refs);
    check(&mut problems, !refs.is_empty(), || {
        "no $ref at all: components are unused".to_owned()
    });
    for r in refs {
        let target = r
            .strip_prefix('#')
            .filter(|p| p.starts_with("/components/"));
        check(
            &mut problems,
            target.and_then(|p| spec.pointer(p)).is_some(),
            || format!("$ref {r} does not resolve"),
        );
    }
    finish(&problems);
}

fn collect_refs<'a>(value: &'a Value, refs: &mut Vec<&'a str>) {
    match value {
        Value::Object(map) => {
            for (key, v) in map {
                match (key.as_str(), v) {
                    ("$ref", Value::String(r)) => refs.push(r),
                    _ => collect_refs(v, refs),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| collect_refs(v, refs)),
        _ => {}
    }
}

/// The real router over a fresh database file, whose directory goes when the test ends; no
/// socket.
async fn router() -> (Router, TempDir) {
    let options = OpenOptions {
        max_connections: 1,
        connect_timeout: Duration::from_secs(5),
    };
    let dir = TempDir::new("openapi");
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("deskward.db").display());
    let store = Store::open(&url, &options).await.expect("store opens");
    let params = HashParams {
        memory_kib: 64,
        iterations: 1,
        parallelism: 1,
    };
    let hasher = Hasher::new(
        params,
        HasherLimits {
            max_in_flight: 1,
            max_queued: 4,
        },
    )
    .expect("hasher");
    let http = HttpOptions {
        max_body_bytes: 65536,
        request_timeout: Duration::from_secs(30),
        trusted_proxies: Default::default(),
    };
    (deskward_http::router(App::new(store, hasher), &http), dir)
}

fn concrete(path: &str) -> String {
    let uri = SAMPLES
        .iter()
        .fold(path.to_owned(), |p, (param, value)| p.replace(param, value));
    assert!(
        !uri.contains('{'),
        "{path}: a path parameter has no sample value in SAMPLES"
    );
    uri
}

/// Sends a bodiless, unauthenticated request; answers the status and the error code, if any.
async fn answer(router: &Router, method: &str, path: &str) -> (StatusCode, Option<String>) {
    let request = Request::builder()
        .method(Method::from_bytes(method.as_bytes()).unwrap())
        .uri(concrete(path))
        .body(Body::empty())
        .unwrap();
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    let code = serde_json::from_slice::<Value>(&bytes)
        .ok()
        .and_then(|body| body["error"]["code"].as_str().map(str::to_owned));
    (status, code)
}

#[tokio::test]
async fn every_route_is_served() {
    let (router, _dir) = router().await;
    let mut problems = Vec::new();
    for (method, path) in ROUTES {
        let (status, code) = answer(&router, method, path).await;
        let unserved =
            status == StatusCode::METHOD_NOT_ALLOWED || code.as_deref() == Some("no_route");
        check(&mut problems, !unserved, || {
            format!("{method} {path} is not served: {status} {code:?}")
        });
    }
    finish(&problems);
}

#[tokio::test]
async fn undescribed_methods_are_refused() {
    let spec = spec();
    let described = documented(&spec);
    let (router, _dir) = router().await;
    let mut problems = Vec::new();
    let paths: BTreeSet<&String> = described.iter().map(|(_, path)| path).collect();
    for path in paths {
        let has = |m: &str| described.contains(&(m.to_owned(), path.clone()));
        for method in METHODS {
            // axum answers HEAD wherever it answers GET; the description leaves HEAD implicit.
            if has(method) || (method == "HEAD" && has("GET")) {
                continue;
            }
            let (status, code) = answer(&router, method, path).await;
            check(
                &mut problems,
                status == StatusCode::METHOD_NOT_ALLOWED,
                || format!("{method} {path} is not described but answers {status} {code:?}"),
            );
        }
    }
    finish(&problems);
}
