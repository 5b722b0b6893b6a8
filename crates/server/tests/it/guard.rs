//! The brute-force guard end to end: bans after repeated failures (kept across a restart,
//! growing for repeat offenders, listed and lifted by hand), a throttled rather than locked
//! account under a distributed attack, forwarding headers believed only from trusted
//! proxies, and staff limited to their networks.

use deskward_testkit::{Backend, ServerOptions, on_both_stores, postgres_available};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::audit::{events, records};
use crate::support::*;

on_both_stores! {
    one_address_guessing_is_banned_until_the_ban_is_lifted => one_address_guessing_is_banned_until_the_ban_is_lifted;
    guessing_one_account_from_many_addresses_throttles_it => guessing_one_account_from_many_addresses_throttles_it;
}

const BOB_PW: &str = "Long-secret-pass-77";

fn proxied(backend: Backend) -> ServerOptions {
    ServerOptions::new(backend).env("DESKWARD_HTTP__TRUSTED_PROXIES", "127.0.0.1")
}

async fn answer(r: reqwest::Response) -> (StatusCode, Option<i64>, Value) {
    let status = r.status();
    let retry = r.headers().get("retry-after").and_then(|v| v.to_str().ok()?.parse().ok());
    (status, retry, r.json().await.unwrap_or(Value::Null))
}

async fn bans(server: &deskward_testkit::Server, admin: &reqwest::Client) -> Vec<Value> {
    let (s, v) = call(admin, "GET", server.url("/api/v1/bans"), None).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v.as_array().unwrap().clone()
}

async fn one_address_guessing_is_banned_until_the_ban_is_lifted(backend: Backend) {
    let (mut server, admin) = with_admin_using(ServerOptions::new(backend).env("DESKWARD_GUARD__BAN_TIME", "1m")).await;
    add_account(&server, &admin, "example.org", "bob", "user", BOB_PW).await;
    let c = server.client();
    let mut answers = Vec::new();
    for i in 0..1000 {
        answers.push(answer(login(&server, &c, "bob@example.org", &format!("guess-{i}")).await).await);
    }
    // Five guesses (guard.max_failures) are checked; every later one is refused unchecked.
    assert!(answers[..5].iter().all(|(s, _, _)| *s == StatusCode::UNAUTHORIZED), "{:?}", &answers[..5]);
    for (s, retry, body) in &answers[5..] {
        assert_eq!(*s, StatusCode::TOO_MANY_REQUESTS, "{body}");
        assert_eq!(body["error"]["code"], "too_many_attempts");
        assert!(retry.is_some_and(|r| (1..=60).contains(&r)), "Retry-After {retry:?}");
    }
    // The right password gets the very same answer: a ban says nothing about the password.
    let (s, _, right) = answer(login(&server, &c, "bob@example.org", BOB_PW).await).await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS);
    let (_, _, wrong) = answer(login(&server, &c, "bob@example.org", "another-guess").await).await;
    assert_eq!(right["error"]["code"], wrong["error"]["code"]);
    let strip = |v: &Value| v["error"]["message"].as_str().unwrap_or("").split("; retry").next().unwrap_or("").to_owned();
    assert_eq!(strip(&right), strip(&wrong));
    // The ban is listed, recorded as the guard's, and the refusals are events (within budget).
    let list = bans(&server, &admin).await;
    assert_eq!(list.len(), 1, "{list:?}");
    assert_eq!((list[0]["network"].as_str(), list[0]["reason"].as_str(), list[0]["created_by"].as_str()), (Some("127.0.0.1"), Some("failures"), Some("guard")));
    let added = records(&server, &admin, "domain=_system&action=ban.added").await;
    assert_eq!(added.len(), 1);
    assert_eq!((added[0]["actor"].as_str(), added[0]["source_ip"].as_str()), (Some("guard"), Some("127.0.0.1")));
    assert_eq!(added[0]["summary"]["seconds"], 60);
    let refused = events(&server, &admin, "action=login.banned", 20).await;
    assert_eq!(refused.len(), 20, "one event per refusal up to audit.events_per_window, the rest counted");

    // A restart keeps the ban.
    server.restart().unwrap();
    let c = server.client();
    assert_eq!(login(&server, &c, "bob@example.org", BOB_PW).await.status(), StatusCode::TOO_MANY_REQUESTS, "the ban survives a restart");
    let out = server.cli_ok(&["ban", "list"], None);
    assert!(out.contains("127.0.0.1") && out.contains("failures by guard"), "{out}");

    // A second ban after the first ended lasts twice as long.
    sql(&server, "UPDATE bans SET until_at = until_at - 3600").await;
    server.restart().unwrap();
    let c = server.client();
    for i in 0..5 {
        assert_eq!(login(&server, &c, "bob@example.org", &format!("again-{i}")).await.status(), StatusCode::UNAUTHORIZED);
    }
    assert_eq!(login(&server, &c, "bob@example.org", BOB_PW).await.status(), StatusCode::TOO_MANY_REQUESTS);
    let added = records(&server, &admin, "domain=_system&action=ban.added").await;
    assert_eq!((added[0]["summary"]["offences"].as_i64(), added[0]["summary"]["seconds"].as_i64()), (Some(2), Some(120)));

    // Lifting it by hand lets the owner in at once.
    let out = server.cli_ok(&["ban", "remove", "127.0.0.1"], None);
    assert!(out.contains("lifted"), "{out}");
    let lifted = eventually(|| async { login(&server, &c, "bob@example.org", BOB_PW).await.status() == StatusCode::CREATED });
    assert!(lifted.await, "the server applies a lift made on the command line");
    let failed = server.cli(&["ban", "remove", "127.0.0.1"], None);
    assert!(!failed.status.success() && String::from_utf8_lossy(&failed.stderr).contains("ban of 127.0.0.1 not found"));
}

async fn guessing_one_account_from_many_addresses_throttles_it(backend: Backend) {
    let (server, admin) = with_admin_using(proxied(backend).env("DESKWARD_GUARD__ACCOUNT_DELAY", "1s")).await;
    add_account(&server, &admin, "example.org", "bob", "user", BOB_PW).await;
    let c = server.client();
    // Bob logged in from home before the attack.
    assert_eq!(login_from(&server, &c, "198.51.100.7", "bob@example.org", BOB_PW).await.status(), StatusCode::CREATED);
    let (mut checked, mut throttled) = (0, 0);
    for i in 0..200 {
        let (s, retry, body) = answer(login_from(&server, &c, &format!("203.0.113.{i}"), "bob@example.org", &format!("guess-{i}")).await).await;
        match s {
            StatusCode::UNAUTHORIZED => checked += 1,
            StatusCode::TOO_MANY_REQUESTS => {
                assert_eq!(body["error"]["message"].as_str().map(|m| m.starts_with("too many failed logins on this account")), Some(true), "{body}");
                assert!(retry.is_some_and(|r| (1..=60).contains(&r)), "{retry:?}");
                throttled += 1;
            }
            other => panic!("unexpected {other}: {body}"),
        }
    }
    // guard.user_account_failures (10) guesses are checked, then the account takes one attempt
    // per growing delay: a couple more at most in the time the loop takes.
    assert!((10..=14).contains(&checked), "{checked} guesses were checked");
    assert_eq!(checked + throttled, 200);
    assert!(bans(&server, &admin).await.is_empty(), "no single address failed often enough to be banned");
    // Bob is not locked out: from his known address he gets in at once…
    assert_eq!(login_from(&server, &c, "198.51.100.7", "bob@example.org", BOB_PW).await.status(), StatusCode::CREATED);
    // …and his success cleared the account's count, so a new address gets in too.
    assert_eq!(login_from(&server, &c, "192.0.2.44", "bob@example.org", BOB_PW).await.status(), StatusCode::CREATED);
    let throttles = events(&server, &admin, "action=login.throttled", 1).await;
    assert_eq!(throttles[0]["target"], "account:bob@example.org");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forwarded_for_from_an_untrusted_peer_is_ignored() {
    // Proxies are configured, but the test client on loopback is not one of them.
    let options = ServerOptions::new(Backend::Sqlite).env("DESKWARD_HTTP__TRUSTED_PROXIES", "10.0.0.0/8");
    let (server, admin) = with_admin_using(options).await;
    let c = server.client();
    for i in 0..5 {
        let r = login_from(&server, &c, &format!("203.0.113.{i}"), "nobody@example.org", "guess").await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    }
    // Five fresh-looking addresses were one client: the real peer is banned.
    let r = login_from(&server, &c, "203.0.113.77", "nobody@example.org", "guess").await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    let list = bans(&server, &admin).await;
    assert_eq!(list[0]["network"], "127.0.0.1", "{list:?}");
    let failed = records(&server, &admin, "action=login.failed").await;
    assert!(failed.iter().all(|r| r["source_ip"] == "127.0.0.1"), "the forged address is never recorded as the source");
    let forged = events(&server, &admin, "action=request.forwarding_ignored", 1).await;
    assert_eq!((forged[0]["chain"].as_str(), forged[0]["source_ip"].as_str()), (Some("_system"), Some("127.0.0.1")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ban_made_on_one_node_holds_on_the_other() {
    if !postgres_available("two nodes on one database") {
        return;
    }
    let (node_a, admin_a) = with_admin_using(proxied(Backend::Postgres)).await;
    add_account(&node_a, &admin_a, "example.org", "bob", "user", BOB_PW).await;
    let url = node_a.database_url.clone().expect("postgres url");
    let node_b = start(proxied(Backend::Postgres).env("DESKWARD_DATABASE__URL", &url)).await;
    let c = node_b.client();
    // Node A's guard bans an attacker…
    for i in 0..5 {
        assert_eq!(login_from(&node_a, &node_a.client(), "203.0.113.50", "bob@example.org", &format!("g{i}")).await.status(), StatusCode::UNAUTHORIZED);
    }
    // …and node B refuses them within its poll interval.
    let refused = eventually(|| async { login_from(&node_b, &c, "203.0.113.50", "bob@example.org", BOB_PW).await.status() == StatusCode::TOO_MANY_REQUESTS });
    assert!(refused.await, "node B enforces node A's ban");
    // An admin's ban through node B holds on node A, and its lift too.
    let (s, v) = call(&admin_a, "POST", node_a.url("/api/v1/bans"), Some(json!({"network": "198.51.100.0/24", "seconds": 3600}))).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let refused = eventually(|| async { login_from(&node_b, &c, "198.51.100.9", "bob@example.org", BOB_PW).await.status() == StatusCode::TOO_MANY_REQUESTS });
    assert!(refused.await, "node B enforces a range banned on node A");
    node_b.cli_ok(&["ban", "remove", "198.51.100.0/24"], None);
    let allowed = eventually(|| async { login_from(&node_a, &node_a.client(), "198.51.100.9", "bob@example.org", BOB_PW).await.status() == StatusCode::CREATED });
    assert!(allowed.await, "node A applies the lift");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bans_are_for_system_admins_and_bad_ones_are_refused() {
    let (server, admin) = with_admin(Backend::Sqlite).await;
    add_account(&server, &admin, "example.org", "dora", "domain-admin", BOB_PW).await;
    let dora = server.client();
    assert_eq!(login(&server, &dora, "dora@example.org", BOB_PW).await.status(), StatusCode::CREATED);
    for (method, path, body) in [
        ("GET", "/api/v1/bans", None),
        ("POST", "/api/v1/bans", Some(json!({"network": "203.0.113.1"}))),
        ("DELETE", "/api/v1/bans/203.0.113.1", None),
    ] {
        let (s, v) = call(&dora, method, server.url(path), body).await;
        assert_eq!((s, code(&v)), (StatusCode::FORBIDDEN, "forbidden"), "{method} {path}");
    }
    for (body, want) in [
        (json!({"network": "10.1.2.3/8"}), "invalid network"),
        (json!({"network": "evil.example"}), "invalid network"),
        (json!({"network": "' OR 1=1 --"}), "invalid network"),
        (json!({"network": "127.0.0.0/8"}), "contains your own address"),
        (json!({"network": "::ffff:127.0.0.1"}), "contains your own address"),
        (json!({"network": "203.0.113.1", "seconds": 0}), "a ban lasts"),
        (json!({"network": "203.0.113.1", "seconds": 9_000_000_000_i64}), "a ban lasts"),
    ] {
        let (s, v) = call(&admin, "POST", server.url("/api/v1/bans"), Some(body.clone())).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{body}: {v}");
        assert!(v["error"]["message"].as_str().unwrap_or("").contains(want), "{body}: {v}");
    }
    let (s, v) = call(&admin, "DELETE", server.url("/api/v1/bans/203.0.113.1"), None).await;
    assert_eq!((s, code(&v)), (StatusCode::NOT_FOUND, "not_found"));
    assert!(bans(&server, &admin).await.is_empty(), "nothing was written by the refused requests");
    let out = server.cli(&["ban", "add", "203.0.113.1", "--for", "soon"], None);
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("invalid duration"));
    // A ban by hand with the default length, listed by the CLI.
    let (s, v) = call(&admin, "POST", server.url("/api/v1/bans"), Some(json!({"network": "2001:db8:aa::/48"}))).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!((v["reason"].as_str(), v["created_by"].as_str()), (Some("manual"), Some(ADMIN)));
    assert!(server.cli_ok(&["ban", "list"], None).contains("2001:db8:aa::/48"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_work_only_from_their_networks() {
    let options = proxied(Backend::Sqlite)
        .env("DESKWARD_HTTP__ADMIN_NETWORKS", "127.0.0.1, 10.0.0.0/8")
        .env("DESKWARD_HTTP__AGENT_NETWORKS", "10.20.0.0/16");
    let (server, admin) = with_admin_using(options).await;
    add_account(&server, &admin, "example.org", "dora", "domain-admin", BOB_PW).await;
    add_account(&server, &admin, "example.org", "alan", "agent", BOB_PW).await;
    add_account(&server, &admin, "example.org", "ursula", "user", BOB_PW).await;
    let c = server.client();
    let cases = [
        ("dora", "203.0.113.9", false),
        ("dora", "10.1.2.3", true),
        ("alan", "10.1.2.3", false),
        ("alan", "10.20.3.4", true),
        ("ursula", "203.0.113.9", true),
    ];
    for (who, from, allowed) in cases {
        let r = login_from(&server, &c, from, &format!("{who}@example.org"), BOB_PW).await;
        let (s, _, v) = answer(r).await;
        if allowed {
            assert_eq!(s, StatusCode::CREATED, "{who} from {from}: {v}");
        } else {
            assert_eq!((s, code(&v)), (StatusCode::FORBIDDEN, "network_restricted"), "{who} from {from}");
        }
    }
    // A session opened inside the network cannot be used from outside it.
    let dora = server.client();
    assert_eq!(login_from(&server, &dora, "10.1.2.3", "dora@example.org", BOB_PW).await.status(), StatusCode::CREATED);
    let inside = dora.get(server.url("/api/v1/domains/example.org/accounts")).header("x-forwarded-for", "10.1.2.3").send().await.unwrap();
    assert_eq!(inside.status(), StatusCode::OK);
    let outside = dora.get(server.url("/api/v1/domains/example.org/accounts")).header("x-forwarded-for", "203.0.113.9").send().await.unwrap();
    assert_eq!(outside.status(), StatusCode::FORBIDDEN);
    let denied = events(&server, &admin, "action=network.denied", 1).await;
    assert_eq!((denied[0]["actor"].as_str(), denied[0]["source_ip"].as_str()), (Some("dora@example.org"), Some("203.0.113.9")));
    // The refused logins were right passwords: never counted as guesses, so nobody is banned.
    assert!(bans(&server, &admin).await.is_empty());
}
