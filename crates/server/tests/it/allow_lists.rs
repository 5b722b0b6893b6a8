//! IP allow-lists per domain (K4): a right password from outside the list is held, the owner
//! gets a single-use, expiring link by mail (through the real SMTP relay), and once they
//! confirm it on the page it opens, that client is trusted and the login goes through. A
//! forged, replayed or expired link is refused and recorded.

use deskward_testkit::{Backend, Browser, Server, SmtpSink, browser_available, free_port, on_both_stores, smtp_available};
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};

use crate::audit::{events, records};
use crate::notifications::{RELAY_PW, RELAY_USER, WAIT, mailing, store_relay_password};
use crate::support::*;

on_both_stores! {
    a_login_outside_the_allow_list_waits_for_the_owners_link => a_login_outside_the_allow_list_waits_for_the_owners_link;
}

const BOB_PW: &str = "Long-secret-pass-77";
const BOB_PW2: &str = "Other-secret-pass-88";

async fn answer(r: reqwest::Response) -> (StatusCode, Value) {
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// The token of the confirmation mail for `from`.
fn link_token(sink: &SmtpSink, from: &str) -> String {
    let mails = sink.wait_for(1, WAIT, |m| m.subject() == "Confirm a new address for bob@example.org" && m.text().contains(&format!("From: {from}")));
    assert_eq!(mails.len(), 1, "{:?}", sink.messages().iter().map(|m| m.subject()).collect::<Vec<_>>());
    let text = mails[0].text();
    let start = text.find("https://desk.example.org/verify-address/").expect("a link") + "https://desk.example.org/verify-address/".len();
    text[start..start + 43].to_owned()
}

/// Opens the link's page: its status, its text, and the form's CSRF value if it has a form.
async fn open(server: &Server, client: &Client, token: &str) -> (StatusCode, String, Option<String>) {
    let r = client.get(server.url(&format!("/verify-address/{token}"))).send().await.unwrap();
    let status = r.status();
    let page = r.text().await.unwrap();
    let csrf = page.split("name=\"csrf\" value=\"").nth(1).and_then(|rest| rest.split('"').next()).map(str::to_owned);
    (status, page, csrf)
}

async fn confirm(server: &Server, client: &Client, token: &str, csrf: &str) -> (StatusCode, String) {
    let r = client.post(server.url(&format!("/verify-address/{token}"))).form(&[("csrf", csrf)]).send().await.unwrap();
    (r.status(), r.text().await.unwrap())
}

async fn a_login_outside_the_allow_list_waits_for_the_owners_link(backend: Backend) {
    let Some(python) = smtp_available("allow-lists") else { return };
    let mut sink = SmtpSink::prepare(free_port(), Some((RELAY_USER, RELAY_PW)));
    sink.start(&python);
    let (mut server, admin) = with_admin_using(mailing(backend, &sink)).await;
    store_relay_password(&server, RELAY_PW);
    let accounts = server.url("/api/v1/domains/example.org/accounts");
    let (s, v) = call(&admin, "POST", accounts, Some(json!({"name": "bob", "role": "user", "password": BOB_PW, "email": "bob@example.net"}))).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let list = server.url("/api/v1/domains/example.org/allow-list");
    let (s, v) = call(&admin, "PUT", list.clone(), Some(json!({"networks": ["192.0.2.0/24", "10.0.0.300"]}))).await;
    assert_eq!((s, code(&v)), (StatusCode::BAD_REQUEST, "invalid_input"), "{v}");
    let (s, v) = call(&admin, "PUT", list.clone(), Some(json!({"networks": ["192.0.2.0/24"]}))).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v, json!({"networks": ["192.0.2.0/24"], "admins_only": false, "trust_seconds": null, "effective_trust_seconds": 2_592_000}));

    // Inside the list: in at once. Outside with a wrong password: an ordinary failure.
    let c = server.client();
    assert_eq!(login_from(&server, &c, "192.0.2.10", "bob@example.org", BOB_PW).await.status(), StatusCode::CREATED);
    assert_eq!(login_from(&server, &c, "203.0.113.5", "bob@example.org", "wrong-guess").await.status(), StatusCode::UNAUTHORIZED);
    // Outside with the right password: held, and asked again, still one link.
    for _ in 0..2 {
        let (s, v) = answer(login_from(&server, &c, "203.0.113.5", "bob@example.org", BOB_PW).await).await;
        assert_eq!((s, code(&v)), (StatusCode::FORBIDDEN, "login_held"), "{v}");
        assert!(v["error"]["message"].as_str().unwrap().contains("valid until"), "{v}");
    }
    let token = link_token(&sink, "203.0.113.5");
    assert_eq!(sink.messages().len(), 1, "a second hold mailed a second link");
    let held = records(&server, &admin, "domain=example.org&action=login.held").await;
    assert_eq!(held.len(), 1);
    assert_eq!(held[0]["summary"]["network"], "203.0.113.5");

    // A forged link is refused and recorded; so is a malformed one.
    let visitor = server.client();
    let forged = "A".repeat(43);
    let (s, page, csrf) = open(&server, &visitor, &forged).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert!(page.contains("This link is not valid") && csrf.is_none(), "{page}");
    assert_eq!(open(&server, &visitor, "short").await.0, StatusCode::NOT_FOUND);
    let refused = events(&server, &admin, "domain=_system&action=address.link_refused", 2).await;
    assert_eq!(refused.len(), 2, "{refused:?}");

    // Opening the link uses nothing up (mail scanners open links); confirming needs the form's
    // CSRF value and its cookie.
    let (s, page, csrf) = open(&server, &visitor, &token).await;
    assert_eq!(s, StatusCode::OK, "{page}");
    assert!(page.contains("203.0.113.5") && page.contains("bob@example.org"), "{page}");
    let csrf = csrf.expect("a form");
    let (s, _) = confirm(&server, &server.client(), &token, &csrf).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "a form posted without its cookie was accepted");
    let (s, page) = confirm(&server, &visitor, &token, &csrf).await;
    assert_eq!(s, StatusCode::OK, "{page}");
    assert!(page.contains("203.0.113.5 is now trusted for bob@example.org"), "{page}");
    // A replay is refused.
    let (s, page) = confirm(&server, &visitor, &token, &csrf).await;
    assert_eq!(s, StatusCode::GONE);
    assert!(page.contains("used already"), "{page}");
    assert_eq!(open(&server, &visitor, &token).await.0, StatusCode::GONE);
    let replays = events(&server, &admin, "domain=example.org&action=address.link_refused", 2).await;
    assert!(replays.iter().all(|r| r["summary"]["reason"] == "used"), "{replays:?}");
    let trusted = records(&server, &admin, "domain=example.org&action=address.trusted").await;
    assert_eq!(trusted.len(), 1);
    assert_eq!(trusted[0]["actor"], "bob@example.org");

    // The trusted client now logs in; another outside address is still held.
    assert_eq!(login_from(&server, &c, "203.0.113.5", "bob@example.org", BOB_PW).await.status(), StatusCode::CREATED);
    let (s, v) = answer(login_from(&server, &c, "203.0.113.6", "bob@example.org", BOB_PW).await).await;
    assert_eq!((s, code(&v)), (StatusCode::FORBIDDEN, "login_held"));
    let second = link_token(&sink, "203.0.113.6");

    // A new password forgets every trusted address.
    let (s, v) = call(&admin, "PUT", server.url("/api/v1/domains/example.org/accounts/bob/password"), Some(json!({"password": BOB_PW2}))).await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{v}");
    let (s, v) = answer(login_from(&server, &c, "203.0.113.5", "bob@example.org", BOB_PW2).await).await;
    assert_eq!((s, code(&v)), (StatusCode::FORBIDDEN, "login_held"), "{v}");

    // For administrators only: users are no longer held.
    let (s, v) = call(&admin, "PUT", list.clone(), Some(json!({"networks": ["192.0.2.0/24"], "admins_only": true, "trust_seconds": 86_400}))).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(login_from(&server, &c, "203.0.113.9", "bob@example.org", BOB_PW2).await.status(), StatusCode::CREATED);
    assert_eq!(records(&server, &admin, "domain=example.org&action=domain.allow_list").await.len(), 2);
    let (s, _) = call(&c, "PUT", list, Some(json!({"networks": []}))).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "a user changed the allow-list");

    // An hour later the second link has expired.
    server.restart_with(&[("DESKWARD_TEST_CLOCK_OFFSET", "3600")]).unwrap();
    let (s, page, csrf) = open(&server, &server.client(), &second).await;
    assert_eq!(s, StatusCode::GONE);
    assert!(page.contains("expired") && csrf.is_none(), "{page}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_held_login_is_confirmed_and_completed_in_the_browser() {
    let Some(python) = smtp_available("the allow-list flow in Chromium") else { return };
    if !browser_available("the allow-list flow in Chromium") {
        return;
    }
    let mut sink = SmtpSink::prepare(free_port(), Some((RELAY_USER, RELAY_PW)));
    sink.start(&python);
    let (server, admin) = with_admin_using(mailing(Backend::Sqlite, &sink)).await;
    store_relay_password(&server, RELAY_PW);
    add_account(&server, &admin, "example.org", "bob", "user", BOB_PW).await;
    let (s, v) = call(&admin, "PUT", server.url("/api/v1/domains/example.org/allow-list"), Some(json!({"networks": ["192.0.2.0/24"]}))).await;
    assert_eq!(s, StatusCode::OK, "{v}");

    let b = Browser::start().await.expect("chromium starts");
    b.goto(&server.url("/login")).await.unwrap();
    b.fill("input[name=login]", "bob@example.org").await.unwrap();
    b.fill("input[name=password]", BOB_PW).await.unwrap();
    b.click("#submit").await.unwrap();
    let error = b.wait_for_text("#error", "outside the allow-list").await.unwrap();
    assert!(error.contains("was mailed"), "{error}");

    let token = link_token(&sink, "127.0.0.1");
    b.goto(&server.url(&format!("/verify-address/{token}"))).await.unwrap();
    b.click("#confirm").await.unwrap();
    b.wait_for_text("#notice", "127.0.0.1 is now trusted for bob@example.org").await.unwrap();

    log_in_on_page(&b, &server, "bob@example.org", BOB_PW).await;
    assert_eq!(b.text("h1").await.as_deref(), Some("bob@example.org"));
    assert_no_csp_violations(&b).await;
    b.quit().await;
}
