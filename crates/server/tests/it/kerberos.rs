//! Kerberos single sign-on (A2) against a real MIT KDC on loopback, with `kinit` and
//! `curl --negotiate` as the client: a ticket opens a session, and forged, replayed,
//! unmapped, unknown and clock-skewed tokens fall back to the login form.

use std::path::Path;

use deskward_testkit::kdc::{Kdc, SERVICE};
use deskward_testkit::{Backend, Server, ServerOptions, kdc_available, on_both_stores};
use reqwest::StatusCode;
use serde_json::json;

use crate::audit::{events, records};
use crate::support::*;

const ALICE_PW: &str = "Kerberos-pass-1";

/// libfaketime, which moves the clock of the process it is loaded into.
const FAKETIME: &str = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1";

fn options(kdc: &Kdc, backend: Backend) -> ServerOptions {
    ServerOptions::new(backend)
        .env("DESKWARD_KERBEROS__KEYTAB", kdc.keytab().to_str().unwrap())
        .env("DESKWARD_KERBEROS__SERVICE", SERVICE)
        .env("DESKWARD_KERBEROS__REALMS", "TEST.LOCAL=example.org")
        .env("KRB5_CONFIG", kdc.config().to_str().unwrap())
        .env("DESKWARD_HTTP__TRUSTED_PROXIES", "127.0.0.1")
}

/// `curl --negotiate` on `path` with the cached ticket: its verbose output (headers both
/// ways) and body.
fn negotiate(kdc: &Kdc, server: &Server, path: &str, jar: &Path) -> (String, String) {
    let url = format!("https://localhost:{}{path}", server.addr.port());
    let out = kdc.curl(&url, server.addr, &server.data_dir.join("tls/cert.pem"), jar);
    (String::from_utf8_lossy(&out.stderr).into_owned(), String::from_utf8_lossy(&out.stdout).into_owned())
}

async fn sign_on_with(client: &reqwest::Client, server: &Server, from: &str, authorization: Option<&str>) -> (StatusCode, String) {
    let mut req = client.get(server.url("/login/kerberos")).header("x-forwarded-for", from);
    if let Some(a) = authorization {
        req = req.header("authorization", a);
    }
    let r = req.send().await.unwrap();
    let status = r.status();
    (status, r.text().await.unwrap())
}

async fn a_kerberos_ticket_opens_a_session(backend: Backend) {
    if !kdc_available("kerberos sign-on") {
        return;
    }
    let kdc = Kdc::start();
    kdc.add_user("alice", ALICE_PW);
    kdc.add_user("nobody", "Kerberos-pass-2");
    kdc.add_user("alice/admin", "Kerberos-pass-3");
    let (server, admin) = with_admin_using(options(&kdc, backend)).await;
    add_account(&server, &admin, "example.org", "alice", "user", "Local-pass-of-her-1").await;
    let jar = server.data_dir.join("cookies.txt");

    // Without a ticket: the challenge, and the login form to fall back on.
    let (s, body) = sign_on_with(&server.client(), &server, "10.3.0.1", None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert!(body.contains("name=\"password\""), "{body}");
    let page = server.client().get(server.url("/login")).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("href=\"/login/kerberos\""), "the login page links to single sign-on");

    // With alice's ticket, curl negotiates and gets her session; the API knows her by it.
    kdc.kinit("alice", ALICE_PW);
    let (verbose, _) = negotiate(&kdc, &server, "/login/kerberos", &jar);
    assert!(verbose.contains("www-authenticate: Negotiate") || verbose.contains("WWW-Authenticate: Negotiate"), "{verbose}");
    assert!(verbose.contains(" 303") && verbose.contains("location: /account"), "{verbose}");
    let sent = verbose.lines().find(|l| l.to_ascii_lowercase().starts_with("> authorization: negotiate ")).unwrap_or_else(|| panic!("curl sent no token: {verbose}"));
    let token = sent["> authorization: negotiate ".len()..].trim().to_owned();
    let (_, me) = negotiate(&kdc, &server, "/api/v1/me", &jar);
    let me: serde_json::Value = serde_json::from_str(&me).unwrap_or_default();
    assert_eq!(me["login"], json!("alice@example.org"), "{me}");
    let logins = records(&server, &admin, "domain=example.org&action=login").await;
    let sso = logins.iter().find(|r| r["target"] == json!("account:alice@example.org")).unwrap();
    assert_eq!(sso["summary"]["method"], json!("kerberos"), "{sso}");

    // The same token again is a replay; a forged one and one that is not even base64 are
    // refused alike. Each falls back to the form without a new challenge.
    let c = server.client();
    for (from, auth) in [("10.3.0.2", format!("Negotiate {token}")), ("10.3.0.3", "Negotiate YIIBhgYGKwYBBQUCoIIBejCCAXagDTALBgkqhkiG9xIBAgI=".to_owned()), ("10.3.0.4", "Negotiate %%%".to_owned())] {
        let r = c.get(server.url("/login/kerberos")).header("x-forwarded-for", from).header("authorization", &auth).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{auth}");
        assert!(r.headers().get("www-authenticate").is_none());
        assert!(r.text().await.unwrap().contains("Single sign-on did not work"));
    }
    let rejected = events(&server, &admin, "domain=_system&action=login.failed&security=true", 3).await;
    let rejected: Vec<_> = rejected.iter().filter(|r| r["target"] == json!("kerberos")).collect();
    assert_eq!(rejected.len(), 3, "{rejected:?}");
    assert!(rejected.iter().all(|r| r["summary"]["reason"] == json!("kerberos_rejected")));

    // A principal without an account, and one with an instance, name no one here.
    kdc.kinit("nobody", "Kerberos-pass-2");
    let (verbose, body) = negotiate(&kdc, &server, "/login/kerberos", &server.data_dir.join("other.txt"));
    assert!(verbose.contains(" 401") && body.contains("names no account"), "{verbose}");
    assert_eq!(failure_reasons(&server, &admin, "nobody@example.org", 1).await, ["kerberos_unknown_account"]);
    kdc.kinit("alice/admin", "Kerberos-pass-3");
    let (verbose, _) = negotiate(&kdc, &server, "/login/kerberos", &server.data_dir.join("other.txt"));
    assert!(verbose.contains(" 401"), "{verbose}");
    let unmapped = events(&server, &admin, "domain=_system&action=login.failed&security=true", 4).await;
    assert!(unmapped.iter().any(|r| r["target"] == json!("kerberos:alice/admin@TEST.LOCAL") && r["summary"]["reason"] == json!("kerberos_unmapped")), "{unmapped:?}");

    // A disabled account is refused after its ticket, like after its password.
    let (s, _) = call(&admin, "PATCH", server.url("/api/v1/domains/example.org/accounts/alice"), Some(json!({"disabled": true}))).await;
    assert_eq!(s, StatusCode::OK);
    kdc.kinit("alice", ALICE_PW);
    let (verbose, _) = negotiate(&kdc, &server, "/login/kerberos", &server.data_dir.join("third.txt"));
    assert!(verbose.contains(" 403"), "{verbose}");

    // Forged tokens are guesses: a client that keeps sending them is banned, and then not heard.
    for _ in 0..5 {
        assert_eq!(sign_on_with(&c, &server, "10.3.0.9", Some("Negotiate AAAA")).await.0, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(sign_on_with(&c, &server, "10.3.0.9", Some("Negotiate AAAA")).await.0, StatusCode::TOO_MANY_REQUESTS);
}

on_both_stores! {
    kerberos_sign_on => a_kerberos_ticket_opens_a_session;
}

/// A server whose clock is two hours ahead of the KDC's and the client's refuses the ticket
/// as skewed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clock_skewed_ticket_is_refused() {
    if !kdc_available("kerberos clock skew") {
        return;
    }
    if !deskward_testkit::service_present("kerberos clock skew", Path::new(FAKETIME).exists(), "libfaketime (Debian's faketime)") {
        return;
    }
    let kdc = Kdc::start();
    kdc.add_user("alice", ALICE_PW);
    let options = options(&kdc, Backend::Sqlite)
        .env("LD_PRELOAD", FAKETIME)
        .env("FAKETIME", "+2h")
        .env("FAKETIME_DONT_FAKE_MONOTONIC", "1")
        .keep_log();
    let (server, admin) = with_admin_using(options).await;
    add_account(&server, &admin, "example.org", "alice", "user", "Local-pass-of-her-1").await;
    kdc.kinit("alice", ALICE_PW);
    let (verbose, body) = negotiate(&kdc, &server, "/login/kerberos", &server.data_dir.join("cookies.txt"));
    assert!(verbose.contains(" 401") && body.contains("Single sign-on did not work"), "{verbose}");
    assert!(server.log().to_lowercase().contains("skew"), "{}", server.log());
    let rejected = events(&server, &admin, "domain=_system&action=login.failed&security=true", 1).await;
    assert!(rejected.iter().any(|r| r["target"] == json!("kerberos") && r["summary"]["reason"] == json!("kerberos_rejected")), "{rejected:?}");
}
