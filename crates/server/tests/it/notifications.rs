//! Notifications (K7) through a real SMTP relay (aiosmtpd on loopback, STARTTLS required, with
//! a login): mail on a login, on a failed login (once per interval), to the system admins on a
//! ban; per-domain switches; every delivery audited; a relay that is down, untrusted or
//! refuses the login.

use std::time::Duration;

use deskward_testkit::{Backend, Server, ServerOptions, SmtpSink, free_port, on_both_stores, smtp_available};
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};

use crate::audit::records;
use crate::support::*;

on_both_stores! {
    logins_failures_and_bans_are_mailed_over_starttls => logins_failures_and_bans_are_mailed_over_starttls;
}

const BOB_PW: &str = "Long-secret-pass-77";
pub(crate) const RELAY_USER: &str = "deskward-relay";
pub(crate) const RELAY_PW: &str = "relay-pass-4-tests";
pub(crate) const WAIT: Duration = Duration::from_secs(20);

/// Server options that send mail through `sink`; the relay password is stored with
/// [`store_relay_password`] once the server runs.
pub(crate) fn mailing(backend: Backend, sink: &SmtpSink) -> ServerOptions {
    ServerOptions::new(backend)
        .env("DESKWARD_HTTP__TRUSTED_PROXIES", "127.0.0.1")
        .env("DESKWARD_MAIL__RELAY", "localhost")
        .env("DESKWARD_MAIL__PORT", &sink.port.to_string())
        .env("DESKWARD_MAIL__CA_FILE", sink.ca_file().to_str().unwrap())
        .env("DESKWARD_MAIL__USERNAME", RELAY_USER)
        .env("DESKWARD_MAIL__FROM", "Deskward <desk@example.org>")
        .env("DESKWARD_MAIL__RETRY_DELAY", "1s")
        .env("DESKWARD_HTTP__PUBLIC_URL", "https://desk.example.org")
}

/// Stores the relay password the way an administrator does, through the secrets store.
pub(crate) fn store_relay_password(server: &Server, password: &str) {
    let out = server.cli_ok(&["mail", "password"], Some(&format!("{password}\n")));
    assert!(out.contains("the relay password is stored"), "{out}");
}

async fn outbox(server: &Server, admin: &Client, query: &str) -> Vec<Value> {
    let (s, v) = call(admin, "GET", server.url(&format!("/api/v1/mail/outbox?{query}")), None).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v.as_array().unwrap().clone()
}

/// Waits until the outbox holds a message matching `f`, and returns it.
pub(crate) async fn outbox_entry(server: &Server, admin: &Client, f: impl Fn(&Value) -> bool) -> Value {
    let start = std::time::Instant::now();
    loop {
        if let Some(m) = outbox(server, admin, "").await.into_iter().find(|m| f(m)) {
            return m;
        }
        assert!(start.elapsed() < WAIT, "no such message in the outbox: {:?}", outbox(server, admin, "").await);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn logins_failures_and_bans_are_mailed_over_starttls(backend: Backend) {
    let Some(python) = smtp_available("mail notifications") else { return };
    let mut sink = SmtpSink::prepare(free_port(), Some((RELAY_USER, RELAY_PW)));
    sink.start(&python);
    let options = mailing(backend, &sink)
        .env("DESKWARD_NOTIFY__LOGIN_SUCCESS", "user")
        .env("DESKWARD_NOTIFY__LOGIN_FAILURE", "user,agent");
    let (server, admin) = with_admin_using(options).await;
    store_relay_password(&server, RELAY_PW);
    let accounts = server.url("/api/v1/domains/example.org/accounts");
    // An address that could add a recipient or a header is refused.
    for bad in ["bob@example.net, eve@evil.example", "Bob <bob@example.net>", "bob@example.net\r\nBcc: eve@evil.example"] {
        let body = json!({"name": "bob", "role": "user", "password": BOB_PW, "email": bad});
        let (s, v) = call(&admin, "POST", accounts.clone(), Some(body)).await;
        assert_eq!((s, code(&v)), (StatusCode::BAD_REQUEST, "invalid_input"), "{bad:?}: {v}");
    }
    let body = json!({"name": "bob", "role": "user", "password": BOB_PW, "email": "Bob.Owner@Example.NET"});
    let (s, v) = call(&admin, "POST", accounts.clone(), Some(body)).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["email"], "Bob.Owner@example.net");

    // A login is mailed to the account's address, through TLS, logged in to the relay.
    let c = server.client();
    let r = login_from(&server, &c, "203.0.113.7", "bob@example.org", BOB_PW).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let got = sink.wait_for(1, WAIT, |m| m.subject() == "New sign-in to bob@example.org");
    assert_eq!(got.len(), 1, "{:?}", sink.messages());
    let m = &got[0];
    assert_eq!(m.rcpt_tos, vec!["Bob.Owner@example.net".to_owned()]);
    assert_eq!(m.mail_from, "desk@example.org");
    assert!(m.tls, "the message crossed the wire in the clear");
    assert_eq!(m.login.as_deref(), Some(RELAY_USER));
    let text = m.text();
    assert!(text.contains("From: 203.0.113.7") && text.contains("https://desk.example.org/account"), "{text}");
    // The admin's own login was not mailed: system admins are not in notify.login_success.
    assert!(sink.messages().iter().all(|m| !m.rcpt_tos.contains(&ADMIN.to_owned())));

    // Failed logins: one mail, however many failures within notify.interval.
    for i in 0..3 {
        let r = login_from(&server, &c, "203.0.113.8", "bob@example.org", &format!("guess-{i}")).await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    }
    let failed = sink.wait_for(1, WAIT, |m| m.subject() == "Failed sign-in to bob@example.org");
    assert_eq!(failed.len(), 1);
    assert!(failed[0].text().contains("From: 203.0.113.8"), "{}", failed[0].text());

    // Every delivery is in the audit log, in the recipient's domain.
    let sent = outbox_entry(&server, &admin, |m| m["kind"] == "login.failure" && m["state"] == "sent").await;
    assert_eq!(sent["recipient"], "Bob.Owner@example.net");
    assert!(sent.get("body").is_none(), "the outbox never shows bodies: {sent}");
    let audited = records(&server, &admin, "domain=example.org&action=mail.sent").await;
    assert_eq!(audited.len(), 2, "{audited:?}");
    assert!(audited.iter().all(|r| r["target"] == "mail:Bob.Owner@example.net" && r["actor"] == "mailer"), "{audited:?}");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let failures = outbox(&server, &admin, "domain=example.org").await.into_iter().filter(|m| m["kind"] == "login.failure").count();
    assert_eq!(failures, 1, "failures within notify.interval are mailed once");

    // The domain turns users' login mails off: the next login queues nothing.
    let rules = server.url("/api/v1/domains/example.org/notifications");
    let (s, v) = call(&admin, "GET", rules.clone(), None).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v[0], json!({"role": "user", "login_success": true, "login_failure": true, "own": false}));
    let off = json!({"roles": [{"role": "user", "login_success": false, "login_failure": true}]});
    let (s, v) = call(&admin, "PUT", rules.clone(), Some(off)).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v[0], json!({"role": "user", "login_success": false, "login_failure": true, "own": true}));
    let twice = json!({"roles": [{"role": "user", "login_success": false, "login_failure": true}, {"role": "user", "login_success": true, "login_failure": true}]});
    let (s, _) = call(&admin, "PUT", rules.clone(), Some(twice)).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let r = login_from(&server, &c, "203.0.113.7", "bob@example.org", BOB_PW).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let logins = outbox(&server, &admin, "domain=example.org").await.into_iter().filter(|m| m["kind"] == "login.success").count();
    assert_eq!(logins, 1, "the second login was mailed although the domain turned it off");
    let changed = records(&server, &admin, "domain=example.org&action=domain.notifications").await;
    assert_eq!(changed.len(), 1);
    assert_eq!(changed[0]["summary"]["after"]["user"]["login_success"], false);

    // Bob cannot read the outbox or change the switches.
    let (s, _) = call(&c, "GET", server.url("/api/v1/mail/outbox"), None).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = call(&c, "PUT", rules, Some(json!({"roles": []}))).await;
    assert_eq!(s, StatusCode::FORBIDDEN);

    // A client the guard bans is reported to the system admins, at their login address.
    let attacker = server.client();
    for i in 0..5 {
        let r = login_from(&server, &attacker, "198.51.100.9", "nobody@example.org", &format!("guess-{i}")).await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    }
    let ban = sink.wait_for(1, WAIT, |m| m.subject() == "Deskward banned 198.51.100.9");
    assert_eq!(ban.len(), 1, "{:?}", sink.messages().iter().map(|m| m.subject()).collect::<Vec<_>>());
    assert_eq!(ban[0].rcpt_tos, vec![ADMIN.to_owned()]);
    assert!(ban[0].text().contains("deskward ban remove 198.51.100.9"), "{}", ban[0].text());
    outbox_entry(&server, &admin, |m| m["kind"] == "ban" && m["state"] == "sent").await;
    let audited = records(&server, &admin, "domain=_system&action=mail.sent").await;
    assert_eq!(audited.len(), 1, "{audited:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_waits_for_a_relay_that_is_down_and_gives_up_on_a_refused_login() {
    let Some(python) = smtp_available("mail retries") else { return };
    let mut sink = SmtpSink::prepare(free_port(), Some((RELAY_USER, RELAY_PW)));
    // The relay is down: logins still work (the admin's, mailed to them, waits in the outbox).
    let (server, admin) = with_admin_using(mailing(Backend::Sqlite, &sink).env("DESKWARD_NOTIFY__LOGIN_SUCCESS", "system-admin")).await;
    // Without a stored relay password the relay is not even tried: the message waits with
    // the reason, and no attempt is counted against it.
    let out = server.cli_ok(&["mail", "test", "ops@example.net"], None);
    assert!(out.contains("queued test message"), "{out}");
    let waiting = outbox_entry(&server, &admin, |m| m["kind"] == "test" && m["last_error"].as_str().is_some_and(|e| e.contains("no relay password is stored"))).await;
    assert_eq!((&waiting["state"], &waiting["attempts"]), (&json!("queued"), &json!(0)), "{waiting}");
    store_relay_password(&server, RELAY_PW);
    // The test message stays queued with the reason, and is retried.
    let waiting = outbox_entry(&server, &admin, |m| m["kind"] == "test" && m["attempts"].as_i64() >= Some(2)).await;
    assert_eq!(waiting["state"], "queued", "{waiting}");
    assert!(waiting["last_error"].as_str().is_some_and(|e| !e.is_empty()), "{waiting}");
    assert!(waiting["next_attempt_at"].is_string());
    // The relay comes up: the message goes through on a later attempt, once.
    sink.start(&python);
    let got = sink.wait_for(1, WAIT, |m| m.subject() == "Deskward test message");
    assert_eq!(got.len(), 1);
    assert!(got[0].tls);
    let login_mail = sink.wait_for(1, WAIT, |m| m.subject() == "New sign-in to admin@example.org");
    assert_eq!(login_mail.len(), 1);
    let sent = outbox_entry(&server, &admin, |m| m["kind"] == "test" && m["state"] == "sent").await;
    assert!(sent["attempts"].as_i64() > Some(2), "{sent}");
    assert_eq!(records(&server, &admin, "domain=_system&action=mail.test").await.len(), 1);
    assert_eq!(records(&server, &admin, "domain=_system&action=mail.sent").await.len(), 1);
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(sink.messages().len(), 2, "a delivered message was sent again");
    let queue = server.cli_ok(&["mail", "queue"], None);
    assert!(queue.contains("sent") && queue.contains("ops@example.net"), "{queue}");

    // A relay whose certificate is not from mail.ca_file: nothing is sent, the reason is kept.
    let untrusted = ServerOptions::new(Backend::Sqlite)
        .env("DESKWARD_MAIL__RELAY", "localhost")
        .env("DESKWARD_MAIL__PORT", &sink.port.to_string())
        .env("DESKWARD_MAIL__USERNAME", RELAY_USER)
        .env("DESKWARD_MAIL__RETRY_DELAY", "1s");
    let (other, other_admin) = with_admin_using(untrusted).await;
    store_relay_password(&other, RELAY_PW);
    other.cli_ok(&["mail", "test", "ops@example.net"], None);
    let waiting = outbox_entry(&other, &other_admin, |m| m["kind"] == "test" && m["attempts"].as_i64() >= Some(1)).await;
    assert_eq!(waiting["state"], "queued");
    assert!(waiting["last_error"].as_str().unwrap().to_lowercase().contains("certificate"), "{waiting}");
    drop(other);

    // The relay refuses Deskward's login for good: given up after one attempt, audited.
    let (refused, refused_admin) = with_admin_using(mailing(Backend::Sqlite, &sink)).await;
    store_relay_password(&refused, "not-the-relay-password");
    refused.cli_ok(&["mail", "test", "ops@example.net"], None);
    let failed = outbox_entry(&refused, &refused_admin, |m| m["kind"] == "test" && m["state"] == "failed").await;
    assert_eq!(failed["attempts"], 1, "{failed}");
    let audited = records(&refused, &refused_admin, "domain=_system&action=mail.failed").await;
    assert_eq!(audited.len(), 1);
    assert!(audited[0]["summary"]["error"].as_str().unwrap().contains("535"), "{audited:?}");
    let logs = records(&refused, &refused_admin, "").await;
    assert!(logs.iter().all(|r| !r.to_string().contains("not-the-relay-password")), "the relay password reached the audit log");
    assert_eq!(sink.messages().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_settings_that_would_leak_are_refused_at_start() {
    let err = crate::serve::serve_fails(&[("DESKWARD_MAIL__RELAY", "smtp.example.org"), ("DESKWARD_MAIL__SECURITY", "none")], &[]);
    assert!(err.contains("mail.security = \"none\"") && err.contains("smtp.example.org"), "{err}");
    let err = crate::serve::serve_fails(&[("DESKWARD_MAIL__RELAY", "localhost"), ("DESKWARD_MAIL__FROM", "not an address")], &[]);
    assert!(err.contains("mail.from"), "{err}");
    let err = crate::serve::serve_fails(&[("DESKWARD_MAIL__RELAY", "localhost"), ("DESKWARD_MAIL__CA_FILE", "/nonexistent/ca.pem")], &[]);
    assert!(err.contains("mail.ca_file /nonexistent/ca.pem"), "{err}");
    let err = crate::serve::serve_fails(&[("DESKWARD_HTTP__PUBLIC_URL", "http://desk.example.org")], &[]);
    assert!(err.contains("http.public_url"), "{err}");
}

/// An administrator acting for an account is mailed to its owner, where the domain mails new
/// sessions of the owner's role.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_impersonation_is_mailed_to_the_owner() {
    let Some(python) = smtp_available("the impersonation mail") else { return };
    let mut sink = SmtpSink::prepare(free_port(), Some((RELAY_USER, RELAY_PW)));
    sink.start(&python);
    let options = mailing(Backend::Sqlite, &sink).env("DESKWARD_NOTIFY__LOGIN_SUCCESS", "user");
    let (server, admin) = with_admin_using(options).await;
    store_relay_password(&server, RELAY_PW);
    for (name, email) in [("bob", "bob.owner@example.net"), ("ann", "ann.owner@example.net")] {
        let role = if name == "ann" { "agent" } else { "user" };
        let body = json!({"name": name, "role": role, "password": BOB_PW, "email": email});
        assert_eq!(call(&admin, "POST", server.url("/api/v1/domains/example.org/accounts"), Some(body)).await.0, StatusCode::CREATED);
    }
    for who in ["bob", "ann"] {
        let url = server.url(&format!("/api/v1/domains/example.org/accounts/{who}/impersonate"));
        let (s, v) = call(&admin, "POST", url, Some(json!({"reason": "ticket 12: the\r\nprinter"}))).await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
    }
    let got = sink.wait_for(1, WAIT, |m| m.subject() == "An administrator is acting for bob@example.org");
    assert_eq!(got.len(), 1, "{:?}", sink.messages());
    assert_eq!(got[0].rcpt_tos, vec!["bob.owner@example.net".to_owned()]);
    let text = got[0].text();
    assert!(text.contains(&format!("The administrator {ADMIN} opened a session")) && text.contains("https://desk.example.org/account"), "{text}");
    // The reason's line break cannot start a line of its own in the mail.
    assert!(text.contains("Reason given: ticket 12: the") && !text.lines().any(|l| l.starts_with("printer")), "{text}");
    // Agents' new sessions are not mailed in this domain: ann hears nothing.
    let delivered = outbox_entry(&server, &admin, |m| m["subject"] == "An administrator is acting for bob@example.org" && m["state"] == "sent").await;
    assert_eq!(delivered["recipient"], "bob.owner@example.net");
    assert!(sink.messages().iter().all(|m| !m.rcpt_tos.contains(&"ann.owner@example.net".to_owned())));
    assert!(outbox(&server, &admin, "").await.iter().all(|m| m["recipient"] != "ann.owner@example.net"), "nothing was queued for ann");
}
