//! Hostile and malformed requests: each gets a clear JSON error with the right status, and
//! nothing is half-written.

use deskward_testkit::{Backend, on_both_stores};
use reqwest::StatusCode;
use serde_json::json;

use crate::support::*;

on_both_stores! {
    malformed_requests_get_clear_errors => malformed_requests_get_clear_errors;
    bad_names_are_refused_and_nothing_is_written => bad_names_are_refused_and_nothing_is_written;
    cross_site_requests_cannot_change_anything => cross_site_requests_cannot_change_anything;
}

async fn malformed_requests_get_clear_errors(backend: Backend) {
    let (server, admin) = with_admin(backend).await;
    let post = |path: &str| admin.post(server.url(path));
    let cases = [
        (post("/api/v1/domains").header("content-type", "application/json").body("{\"name\": "), StatusCode::BAD_REQUEST, "malformed_json"),
        (post("/api/v1/domains").header("content-type", "text/plain").body("{\"name\":\"x.org\"}"), StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type"),
        (post("/api/v1/domains").json(&json!({"name": "x.org", "admin": true})), StatusCode::UNPROCESSABLE_ENTITY, "invalid_input"),
        (post("/api/v1/domains").json(&json!({"name": 42})), StatusCode::UNPROCESSABLE_ENTITY, "invalid_input"),
        (post("/api/v1/domains").json(&json!({"name": "a".repeat(200_000)})), StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
        (admin.get(server.url("/api/v1/no/such/thing")), StatusCode::NOT_FOUND, "no_route"),
        (admin.put(server.url("/api/v1/domains")), StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
        (admin.get(server.url("/api/v1/domains/unknown.org")), StatusCode::NOT_FOUND, "not_found"),
        (admin.get(server.url("/api/v1/domains/example.org/accounts/ghost")), StatusCode::NOT_FOUND, "not_found"),
        (admin.get(server.url("/api/v1/domains/example.org/policies/everyone")), StatusCode::BAD_REQUEST, "invalid_input"),
        (post("/api/v1/session").json(&json!({"login": ADMIN})), StatusCode::UNPROCESSABLE_ENTITY, "invalid_input"),
    ];
    for (req, status, expected) in cases {
        let r = req.send().await.unwrap();
        let got = r.status();
        assert_eq!(r.headers().get("content-type").map(|v| v.to_str().unwrap().to_owned()), Some("application/json".into()));
        let v: serde_json::Value = r.json().await.unwrap();
        assert_eq!((got, code(&v)), (status, expected), "{v}");
        assert!(v["error"]["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    // The server is still fine, and no domain was created by any of it.
    let (s, v) = call(&admin, "GET", server.url("/api/v1/domains"), None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v.as_array().unwrap().len(), 1, "{v}");
}

async fn bad_names_are_refused_and_nothing_is_written(backend: Backend) {
    let (server, admin) = with_admin(backend).await;
    let url = server.url("/api/v1/domains/example.org/accounts");
    for name in ["../etc", "/abs", "a\u{0}b", "аdmin", &"x".repeat(65), "", "a b", "admin'--", "<script>"] {
        let (s, v) = call(&admin, "POST", url.clone(), Some(json!({"name": name, "role": "user", "password": "fine-pass-9-long!"}))).await;
        assert_eq!((s, code(&v)), (StatusCode::BAD_REQUEST, "invalid_input"), "{name:?}: {v}");
    }
    for name in ["..", "a..b", "-x.org", "x_y.org", "ex%2e.org"] {
        let (s, v) = call(&admin, "POST", server.url("/api/v1/domains"), Some(json!({"name": name}))).await;
        assert_eq!((s, code(&v)), (StatusCode::BAD_REQUEST, "invalid_input"), "{name:?}: {v}");
    }
    let (s, v) = call(&admin, "POST", url.clone(), Some(json!({"name": "ok", "role": "root", "password": "fine-pass-9-long!"}))).await;
    assert_eq!((s, code(&v)), (StatusCode::BAD_REQUEST, "invalid_input"), "{v}");
    let (s, v) = call(&admin, "POST", url.clone(), Some(json!({"name": "ok", "role": "user", "class": "ghost", "password": "fine-pass-9-long!"}))).await;
    assert_eq!((s, code(&v)), (StatusCode::NOT_FOUND, "not_found"), "{v}");
    let (s, v) = call(&admin, "POST", url.clone(), Some(json!({"name": "admin", "role": "user"}))).await;
    assert_eq!((s, code(&v)), (StatusCode::CONFLICT, "conflict"), "{v}");
    let (_, v) = call(&admin, "GET", url, None).await;
    assert_eq!(v.as_array().unwrap().len(), 1, "only the admin exists: {v}");
}

async fn cross_site_requests_cannot_change_anything(backend: Backend) {
    let (server, admin) = with_admin(backend).await;
    for (header, value) in [("origin", "https://evil.example"), ("sec-fetch-site", "cross-site")] {
        let r = admin.post(server.url("/api/v1/domains")).header(header, value).json(&json!({"name": "csrf.test"})).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        assert_eq!(code(&r.json().await.unwrap()), "cross_site_request");
    }
    let same = format!("https://{}", server.addr);
    let r = admin.post(server.url("/api/v1/domains")).header("origin", same).json(&json!({"name": "same.test"})).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let (_, v) = call(&admin, "GET", server.url("/api/v1/domains/csrf.test"), None).await;
    assert_eq!(code(&v), "not_found");
}
