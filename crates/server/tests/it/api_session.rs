//! Logging in, the session cookie, `/me`, logging out; disabled accounts and domains.

use deskward_testkit::{Backend, on_both_stores};
use reqwest::StatusCode;
use serde_json::json;

use crate::support::*;

on_both_stores! {
    session_lifecycle => session_lifecycle;
    unknown_login_and_wrong_password_look_the_same => unknown_login_and_wrong_password_look_the_same;
    disabled_account_is_refused_only_after_the_right_password => disabled_account;
    disabled_domain_stops_every_login_and_session => disabled_domain;
    bearer_token_and_garbage_tokens => bearer_token_and_garbage_tokens;
    expired_sessions_are_purged => expired_sessions_are_purged;
}

async fn expired_sessions_are_purged(backend: Backend) {
    let (mut server, _) = with_admin(backend).await;
    let _second = login(&server, &server.client(), ADMIN, ADMIN_PW).await;
    let q = "SELECT CAST(COUNT(*) AS TEXT) FROM sessions";
    assert_eq!(sql_text(&server, q).await, "2");
    // One session's lifetime runs out while the server is down.
    sql(&server, "UPDATE sessions SET expires_at = 0 WHERE token_hash = (SELECT MIN(token_hash) FROM sessions)").await;
    server.restart().expect("restart");
    let purged = eventually(|| async { sql_text(&server, q).await == "1" });
    assert!(purged.await, "the expired session is deleted at start, the live one kept");
}

async fn session_lifecycle(backend: Backend) {
    let (server, _) = with_admin(backend).await;
    let client = server.client();
    let r = login(&server, &client, "Admin@Example.org", ADMIN_PW).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let cookie = r.headers().get("set-cookie").expect("cookie").to_str().unwrap().to_owned();
    for attr in ["__Host-deskward_session=", "Secure", "HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(cookie.contains(attr), "cookie {cookie:?} lacks {attr}");
    }
    let me: serde_json::Value = r.json().await.unwrap();
    assert_eq!(me["login"], ADMIN);
    assert_eq!(me["role"], "system-admin");

    let (s, me) = call(&client, "GET", server.url("/api/v1/me"), None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(me["login"], ADMIN);
    assert_eq!(me["password_change_required"], false);
    // The login is recorded on the account, in the session's own statement.
    let (_, account) = call(&client, "GET", server.url("/api/v1/domains/example.org/accounts/admin"), None).await;
    assert!(account["last_login_at"].is_string(), "{account}");

    let (s, _) = call(&client, "DELETE", server.url("/api/v1/session"), None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, v) = call(&client, "GET", server.url("/api/v1/me"), None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_eq!(code(&v), "unauthenticated");
    // Logging out again is not an error.
    let (s, _) = call(&client, "DELETE", server.url("/api/v1/session"), None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
}

async fn unknown_login_and_wrong_password_look_the_same(backend: Backend) {
    let (server, _) = with_admin(backend).await;
    let client = server.client();
    let mut answers = Vec::new();
    for (who, pw) in [(ADMIN, "wrong-password-x"), ("nobody@example.org", ADMIN_PW), ("admin@nodomain.org", ADMIN_PW), ("not a login", "x")] {
        let r = login(&server, &client, who, pw).await;
        let status = r.status();
        let body: serde_json::Value = r.json().await.unwrap();
        answers.push((status, body));
    }
    for (status, body) in &answers {
        assert_eq!(*status, StatusCode::UNAUTHORIZED);
        assert_eq!(body, &answers[0].1, "every refusal has the same body");
    }
    assert_eq!(code(&answers[0].1), "invalid_credentials");
}

async fn disabled_account(backend: Backend) {
    let (server, admin) = with_admin(backend).await;
    add_account(&server, &admin, "example.org", "bob", "user", "pw6-pass-9-long").await;
    let bob = server.client();
    assert_eq!(login(&server, &bob, "bob@example.org", "pw6-pass-9-long").await.status(), StatusCode::CREATED);

    let (s, v) = call(&admin, "PATCH", server.url("/api/v1/domains/example.org/accounts/bob"), Some(json!({"disabled": true}))).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["disabled"], true);
    // The open session ended with the disable.
    let (s, _) = call(&bob, "GET", server.url("/api/v1/me"), None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    // Right password: told "disabled"; wrong password: told nothing more than usual.
    let r = login(&server, &bob, "bob@example.org", "pw6-pass-9-long").await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(code(&r.json().await.unwrap()), "account_disabled");
    let r = login(&server, &bob, "bob@example.org", "pw6-pass-9-wrong").await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(code(&r.json().await.unwrap()), "invalid_credentials");

    server.cli_ok(&["account", "enable", "bob@example.org"], None);
    assert_eq!(login(&server, &bob, "bob@example.org", "pw6-pass-9-long").await.status(), StatusCode::CREATED);
}

async fn disabled_domain(backend: Backend) {
    let (server, admin) = with_admin(backend).await;
    server.cli_ok(&["domain", "add", "other.org"], None);
    add_account(&server, &admin, "other.org", "carol", "domain-admin", "pw7-pass-9-long").await;
    let carol = server.client();
    assert_eq!(login(&server, &carol, "carol@other.org", "pw7-pass-9-long").await.status(), StatusCode::CREATED);

    let (s, v) = call(&admin, "PATCH", server.url("/api/v1/domains/other.org"), Some(json!({"disabled": true}))).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (s, _) = call(&carol, "GET", server.url("/api/v1/me"), None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "sessions of a disabled domain end");
    let r = login(&server, &carol, "carol@other.org", "pw7-pass-9-long").await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(code(&r.json().await.unwrap()), "domain_disabled");
    // Accounts of other domains are unaffected.
    let (s, _) = call(&admin, "GET", server.url("/api/v1/me"), None).await;
    assert_eq!(s, StatusCode::OK);

    server.cli_ok(&["domain", "enable", "other.org"], None);
    assert_eq!(login(&server, &carol, "carol@other.org", "pw7-pass-9-long").await.status(), StatusCode::CREATED);
}

async fn bearer_token_and_garbage_tokens(backend: Backend) {
    let (server, _) = with_admin(backend).await;
    let client = server.client();
    let r = login(&server, &client, ADMIN, ADMIN_PW).await;
    let cookie = r.headers().get("set-cookie").unwrap().to_str().unwrap().to_owned();
    let token = cookie.split(';').next().unwrap().split_once('=').unwrap().1.to_owned();
    let fresh = server.client();
    let r = fresh.get(server.url("/api/v1/me")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    // The auth scheme is case-insensitive (RFC 9110).
    let r = fresh.get(server.url("/api/v1/me")).header("authorization", format!("bearer {token}")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    for bad in ["", "x", &"A".repeat(43), &format!("{token}x"), "../../etc/passwd", &"é".repeat(20)] {
        let r = fresh.get(server.url("/api/v1/me")).header("authorization", format!("Bearer {bad}")).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "token {bad:?}");
        let r = fresh.get(server.url("/api/v1/me")).header("cookie", format!("__Host-deskward_session={bad}")).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "cookie {bad:?}");
    }
}
