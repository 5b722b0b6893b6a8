//! Session lifetimes and their management: per-role lifetimes, background requests that do
//! not extend a session, "remember me", and owners, admins and the operator listing and ending
//! sessions (a stolen cookie is worthless once its session is ended).

use std::time::{Duration, SystemTime};

use deskward_testkit::{Backend, ServerOptions, on_both_stores};
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};

use crate::support::*;

on_both_stores! {
    sessions_are_listed_and_ended_by_owners_and_admins => sessions_are_listed_and_ended_by_owners_and_admins;
    background_requests_do_not_keep_a_session_alive => background_requests_do_not_keep_a_session_alive;
    a_domain_sets_its_own_session_rules => a_domain_sets_its_own_session_rules;
}

const PW: &str = "Some-long-secret-44";

fn at(v: &Value) -> SystemTime {
    humantime::parse_rfc3339(v.as_str().unwrap_or("")).unwrap_or(SystemTime::UNIX_EPOCH)
}

fn span(v: &Value, from: &str, to: &str) -> u64 {
    at(&v[to]).duration_since(at(&v[from])).map_or(0, |d| d.as_secs())
}

async fn mine(server: &deskward_testkit::Server, c: &Client) -> Vec<Value> {
    let (s, v) = call(c, "GET", server.url("/api/v1/me/sessions"), None).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v.as_array().unwrap().clone()
}

async fn login_remembered(server: &deskward_testkit::Server, c: &Client, who: &str) -> (StatusCode, Option<String>, Value) {
    let r = c.post(server.url("/api/v1/session")).json(&json!({"login": who, "password": PW, "remember": true})).send().await.unwrap();
    let cookie = r.headers().get("set-cookie").and_then(|v| v.to_str().ok()).map(str::to_owned);
    (r.status(), cookie, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lifetimes_follow_the_role_and_remember_me() {
    let (server, admin) = with_admin(Backend::Sqlite).await;
    add_account(&server, &admin, "example.org", "ursula", "user", PW).await;
    add_account(&server, &admin, "example.org", "alan", "agent", PW).await;
    let (u, a) = (server.client(), server.client());
    assert_eq!(login(&server, &u, "ursula@example.org", PW).await.status(), StatusCode::CREATED);
    assert_eq!(login(&server, &a, "alan@example.org", PW).await.status(), StatusCode::CREATED);
    let (user, agent) = (&mine(&server, &u).await[0], &mine(&server, &a).await[0]);
    // Defaults: users 1 h idle / 12 h in all; staff 30 min / 10 h.
    assert_eq!((span(user, "created_at", "idle_expires_at"), span(user, "created_at", "expires_at")), (3600, 12 * 3600));
    assert_eq!((span(agent, "created_at", "idle_expires_at"), span(agent, "created_at", "expires_at")), (1800, 10 * 3600));
    assert_eq!(user["current"], true);

    // A remembered user session lasts 30 days and its cookie outlives the browser.
    let (s, cookie, me) = login_remembered(&server, &server.client(), "ursula@example.org").await;
    assert_eq!((s, me["remembered"].as_bool()), (StatusCode::CREATED, Some(true)), "{me}");
    assert!(cookie.as_deref().is_some_and(|c| c.contains("Max-Age=259") && c.contains("HttpOnly") && c.contains("Secure")), "{cookie:?}");
    // Staff are never remembered; the login goes through as a normal session.
    let (s, cookie, me) = login_remembered(&server, &server.client(), "alan@example.org").await;
    assert_eq!((s, me["remembered"].as_bool()), (StatusCode::CREATED, Some(false)));
    assert!(cookie.is_some_and(|c| !c.contains("Max-Age")), "a session cookie dies with the browser");

    // With remember me forbidden, nobody is remembered.
    let options = ServerOptions::new(Backend::Sqlite).env("DESKWARD_SESSION__REMEMBER_ME", "false").env("DESKWARD_SESSION__IDLE_TIMEOUT", "5m");
    let (server, admin) = with_admin_using(options).await;
    add_account(&server, &admin, "example.org", "ursula", "user", PW).await;
    let c = server.client();
    let (_, cookie, me) = login_remembered(&server, &c, "ursula@example.org").await;
    assert_eq!(me["remembered"], false);
    assert!(cookie.is_some_and(|c| !c.contains("Max-Age")));
    assert_eq!(span(&mine(&server, &c).await[0], "created_at", "idle_expires_at"), 300, "session.idle_timeout applies");
}

async fn background_requests_do_not_keep_a_session_alive(backend: Backend) {
    let options = ServerOptions::new(backend).env("DESKWARD_SESSION__IDLE_TIMEOUT", "2s");
    let (server, admin) = with_admin_using(options).await;
    add_account(&server, &admin, "example.org", "ursula", "user", PW).await;
    let (active, polling) = (server.client(), server.client());
    for c in [&active, &polling] {
        assert_eq!(login(&server, c, "ursula@example.org", PW).await.status(), StatusCode::CREATED);
    }
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(900)).await;
        let r = active.get(server.url("/api/v1/me")).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK, "a request the user made keeps the session alive");
        let r = polling.get(server.url("/api/v1/me")).header("x-deskward-background", "1").send().await.unwrap();
        if r.status() == StatusCode::UNAUTHORIZED {
            break;
        }
    }
    // 2.7 s after login: the polling tab's session ended at 2 s, the active one lives on.
    let r = polling.get(server.url("/api/v1/me")).header("x-deskward-background", "1").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "background requests do not extend a session");
    assert_eq!(active.get(server.url("/api/v1/me")).send().await.unwrap().status(), StatusCode::OK);
}

async fn sessions_are_listed_and_ended_by_owners_and_admins(backend: Backend) {
    let (server, admin) = with_admin(backend).await;
    add_account(&server, &admin, "example.org", "ursula", "user", PW).await;
    add_account(&server, &admin, "example.org", "dora", "domain-admin", PW).await;
    server.cli_ok(&["domain", "add", "other.test"], None);
    server.cli_ok(&["account", "add", "oscar@other.test", "--role", "domain-admin", "--password-stdin"], Some(PW));
    let (laptop, phone, tablet) = (server.client(), server.client(), server.client());
    for c in [&laptop, &phone, &tablet] {
        assert_eq!(login(&server, c, "ursula@example.org", PW).await.status(), StatusCode::CREATED);
    }
    let list = mine(&server, &laptop).await;
    assert_eq!(list.len(), 3);
    assert_eq!(list.iter().filter(|s| s["current"] == true).count(), 1);
    assert!(list.iter().all(|s| s["source_ip"] == "127.0.0.1" && s["login"] == "ursula@example.org"));
    // The owner ends the phone's session from the laptop: the phone's cookie is worthless.
    let phone_id = mine(&server, &phone).await.into_iter().find(|s| s["current"] == true).unwrap()["id"].as_str().unwrap().to_owned();
    let (s, v) = call(&laptop, "DELETE", server.url(&format!("/api/v1/me/sessions/{phone_id}")), None).await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{v}");
    assert_eq!(call(&phone, "GET", server.url("/api/v1/me"), None).await.0, StatusCode::UNAUTHORIZED);
    for (bad, want) in [("nothex-nothex-00", StatusCode::BAD_REQUEST), ("1' OR '1'='1", StatusCode::BAD_REQUEST), (phone_id.as_str(), StatusCode::NOT_FOUND)] {
        let (s, v) = call(&laptop, "DELETE", server.url(&format!("/api/v1/me/sessions/{}", bad.replace(' ', "%20"))), None).await;
        assert_eq!(s, want, "{bad}: {v}");
    }
    // Another account's session id cannot be ended through /me.
    let admin_id = mine(&server, &admin).await[0]["id"].as_str().unwrap().to_owned();
    let (s, _) = call(&laptop, "DELETE", server.url(&format!("/api/v1/me/sessions/{admin_id}")), None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(call(&admin, "GET", server.url("/api/v1/me"), None).await.0, StatusCode::OK);

    // Admins: their domain's accounts only; users not at all.
    let (dora, oscar) = (server.client(), server.client());
    assert_eq!(login(&server, &dora, "dora@example.org", PW).await.status(), StatusCode::CREATED);
    assert_eq!(login(&server, &oscar, "oscar@other.test", PW).await.status(), StatusCode::CREATED);
    let path = "/api/v1/domains/example.org/accounts/ursula/sessions";
    let (s, v) = call(&dora, "GET", server.url(path), None).await;
    assert_eq!((s, v.as_array().map(Vec::len)), (StatusCode::OK, Some(2)));
    for (who, method) in [(&oscar, "GET"), (&oscar, "DELETE"), (&laptop, "GET"), (&laptop, "DELETE")] {
        let (s, v) = call(who, method, server.url(path), None).await;
        assert_eq!((s, code(&v)), (StatusCode::FORBIDDEN, "forbidden"), "{method}");
    }
    let (s, _) = call(&dora, "GET", server.url("/api/v1/domains/example.org/accounts/admin/sessions"), None).await;
    assert_eq!(s, StatusCode::OK, "a domain admin may look");
    let (s, _) = call(&dora, "DELETE", server.url("/api/v1/domains/example.org/accounts/admin/sessions"), None).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "but not end a system admin's sessions");
    // Dora ends all of Ursula's sessions at once.
    let (s, _) = call(&dora, "DELETE", server.url(path), None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    for c in [&laptop, &tablet] {
        assert_eq!(call(c, "GET", server.url("/api/v1/me"), None).await.0, StatusCode::UNAUTHORIZED);
    }
    let revoke = crate::audit::records(&server, &admin, "action=session.revoke").await;
    assert_eq!((revoke[0]["actor"].as_str(), revoke[0]["summary"]["ended"].as_i64()), (Some("dora@example.org"), Some(2)));

    // The operator: every session, by id or by login.
    let out = server.cli_ok(&["session", "list"], None);
    assert!(out.contains("dora@example.org") && out.contains("oscar@other.test") && !out.contains("ursula@"), "{out}");
    let oscar_id = mine(&server, &oscar).await[0]["id"].as_str().unwrap().to_owned();
    assert!(server.cli_ok(&["session", "revoke", &oscar_id], None).contains("oscar@other.test"));
    let gone = eventually(|| async { call(&oscar, "GET", server.url("/api/v1/me"), None).await.0 == StatusCode::UNAUTHORIZED });
    assert!(gone.await, "a revocation by id on the command line reaches the server");
    assert!(server.cli_ok(&["session", "revoke", "dora@example.org"], None).contains("ended 1 session"));
    let gone = eventually(|| async { call(&dora, "GET", server.url("/api/v1/me"), None).await.0 == StatusCode::UNAUTHORIZED });
    assert!(gone.await, "a revocation on the command line reaches the server");
    let out = server.cli(&["session", "revoke", "0123456789abcdef"], None);
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("session 0123456789abcdef not found"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stolen_cookie_is_worthless_after_a_password_change() {
    let (server, admin) = with_admin(Backend::Sqlite).await;
    add_account(&server, &admin, "example.org", "ursula", "user", PW).await;
    let (owner, thief) = (server.client(), server.client());
    let r = login(&server, &owner, "ursula@example.org", PW).await;
    let token = r.headers().get("set-cookie").and_then(|v| v.to_str().ok()).and_then(|c| c.split(';').next()).and_then(|kv| kv.split_once('=')).map(|(_, v)| v.to_owned()).unwrap();
    let stolen = login(&server, &server.client(), "ursula@example.org", PW).await;
    let stolen = stolen.headers().get("set-cookie").and_then(|v| v.to_str().ok()).and_then(|c| c.split(';').next()).and_then(|kv| kv.split_once('=')).map(|(_, v)| v.to_owned()).unwrap();
    assert_eq!(thief.get(server.url("/api/v1/me")).bearer_auth(&stolen).send().await.unwrap().status(), StatusCode::OK);
    let (s, v) = call(&owner, "PUT", server.url("/api/v1/me/password"), Some(json!({"current_password": PW, "new_password": "Brand-new-secret-55"}))).await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{v}");
    assert_eq!(thief.get(server.url("/api/v1/me")).bearer_auth(&stolen).send().await.unwrap().status(), StatusCode::UNAUTHORIZED);
    assert_eq!(owner.get(server.url("/api/v1/me")).bearer_auth(&token).send().await.unwrap().status(), StatusCode::OK, "the changing session carries on");
}

async fn a_domain_sets_its_own_session_rules(backend: Backend) {
    let (server, admin) = with_admin(backend).await;
    add_account(&server, &admin, "example.org", "ursula", "user", PW).await;
    add_account(&server, &admin, "example.org", "dora", "domain-admin", PW).await;
    server.cli_ok(&["domain", "add", "other.test"], None);
    server.cli_ok(&["account", "add", "olga@other.test", "--role", "user", "--password-stdin"], Some(PW));
    server.cli_ok(&["account", "add", "oscar@other.test", "--role", "domain-admin", "--password-stdin"], Some(PW));
    let (dora, oscar) = (server.client(), server.client());
    assert_eq!(login(&server, &dora, "dora@example.org", PW).await.status(), StatusCode::CREATED);
    assert_eq!(login(&server, &oscar, "oscar@other.test", PW).await.status(), StatusCode::CREATED);
    let path = "/api/v1/domains/example.org/session-rules";

    // Dora shortens her domain's user sessions and forbids remember me.
    let (s, v) = call(&dora, "PUT", server.url(path), Some(json!({"users_idle_seconds": 600, "remember_me": false}))).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["effective"]["users_idle_seconds"], 600);
    assert_eq!(v["effective"]["users_absolute_seconds"], 12 * 3600, "unnamed: the server's");
    assert_eq!((v["overrides"]["remember_me"].as_bool(), v["effective"]["remember_me"].as_bool()), (Some(false), Some(false)));
    let (_, _, me) = login_remembered(&server, &server.client(), "ursula@example.org").await;
    assert_eq!(me["remembered"], false, "remember me is forbidden in example.org");
    let u = server.client();
    assert_eq!(login(&server, &u, "ursula@example.org", PW).await.status(), StatusCode::CREATED);
    assert_eq!(span(&mine(&server, &u).await[0], "created_at", "idle_expires_at"), 600);
    // Another domain keeps the server's rules.
    let (_, _, me) = login_remembered(&server, &server.client(), "olga@other.test").await;
    assert_eq!(me["remembered"], true);

    // Boundaries and bad values; nothing changes.
    let (s, v) = call(&oscar, "PUT", server.url(path), Some(json!({"users_idle_seconds": 60}))).await;
    assert_eq!((s, code(&v)), (StatusCode::FORBIDDEN, "forbidden"));
    let (s, _) = call(&oscar, "GET", server.url(path), None).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = call(&u, "GET", server.url(path), None).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    for (body, want) in [
        (json!({"users_idle_seconds": 10}), "users_idle must be 60 to"),
        (json!({"staff_absolute_seconds": 999_999_999}), "staff_absolute must be 60 to"),
        (json!({"users_idle_seconds": 7200, "users_absolute_seconds": 3600}), "would be longer than the absolute one"),
    ] {
        let (s, v) = call(&dora, "PUT", server.url(path), Some(body.clone())).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{body}: {v}");
        assert!(v["error"]["message"].as_str().unwrap_or("").contains(want), "{body}: {v}");
    }
    let (s, v) = call(&dora, "PUT", server.url(path), Some(json!({"idle": 60}))).await;
    assert_eq!((s, code(&v)), (StatusCode::UNPROCESSABLE_ENTITY, "invalid_input"));
    let (_, v) = call(&dora, "GET", server.url(path), None).await;
    assert_eq!(v["overrides"]["users_idle_seconds"], 600, "the refused changes left the rules alone");

    // The operator sees and changes them too; `default` goes back to the server's setting.
    let out = server.cli_ok(&["session", "rules", "example.org"], None);
    assert!(out.contains("users idle:      10m (this domain)") && out.contains("remember me:     forbidden (this domain)"), "{out}");
    let out = server.cli_ok(&["session", "set-rules", "example.org", "--idle", "default", "--remember-me", "default"], None);
    assert!(out.contains("users idle:      1h (server)") && out.contains("remember me:     allowed (server)"), "{out}");
    let changes = crate::audit::records(&server, &admin, "action=domain.session_rules").await;
    assert_eq!(changes.len(), 2);
    assert_eq!(changes[1]["actor"], "dora@example.org");
    assert_eq!(changes[0]["summary"]["before"]["users_idle"], 600);
}
