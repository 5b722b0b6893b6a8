//! The brute-force guard end to end: bans after repeated failures (kept across a restart,
//! growing for repeat offenders, listed and lifted by hand), a throttled rather than locked
//! account under a distributed attack, forwarding headers believed only from trusted
//! proxies, and staff limited to their networks.

use std::time::Duration;

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
