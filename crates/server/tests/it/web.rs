//! The web pages end to end in a real headless Chromium: log in, the account page, a password
//! change under the policy, ending a session, log out; no Content-Security-Policy violation on
//! any page. Outside the browser: the headers and cookies, CSRF refusals, escaping.

use deskward_testkit::{Backend, Browser, browser_available};
use reqwest::StatusCode;

use crate::audit::events;
use crate::support::*;

const PW: &str = "Her-secret-passphrase-1";
const NEW_PW: &str = "Brand-new-secret-pass-2";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_logs_in_sees_their_account_changes_the_password_and_logs_out() {
    if !browser_available("the web login flow in Chromium") {
        return;
    }
    let (server, admin) = with_admin(Backend::Sqlite).await;
    add_account(&server, &admin, "example.org", "ursula", "user", PW).await;
    // Another session of hers, to end from the page.
    let phone = server.client();
    assert_eq!(login(&server, &phone, "ursula@example.org", PW).await.status(), StatusCode::CREATED);

    let b = Browser::start().await.expect("chromium starts");
    b.goto(&server.url("/")).await.unwrap();
    b.wait_for_path("/login").await.unwrap();
    // A wrong password: the form says so and keeps the login.
    b.fill("input[name=login]", "ursula@example.org").await.unwrap();
    b.fill("input[name=password]", "not-her-password").await.unwrap();
    b.click("#submit").await.unwrap();
    if b.wait_for_text("#error", "Wrong login or password.").await.is_err() {
        panic!("after a wrong password the browser is at {:?} showing {:?}", b.url().await, b.text("body").await);
    }
    b.fill("input[name=password]", PW).await.unwrap();
    b.click("#submit").await.unwrap();
    b.wait_for_path("/account").await.unwrap();

    assert_eq!(b.text("h1").await.as_deref(), Some("ursula@example.org"));
    let sessions = b.text("#sessions").await.unwrap();
    assert!(sessions.contains("127.0.0.1") && sessions.contains("this one"), "{sessions}");
    let logins = b.text("#logins").await.unwrap();
    assert!(logins.contains("logged in") && logins.contains("failed (wrong password)") && logins.contains("127.0.0.1"), "{logins}");

    // End the phone's session from the page.
    b.click("#sessions form button").await.unwrap();
    b.wait_for_path("/account").await.unwrap();
    let gone = eventually(|| async { call(&phone, "GET", server.url("/api/v1/me"), None).await.0 == StatusCode::UNAUTHORIZED });
    assert!(gone.await, "the ended session no longer works");

    // A password the policy refuses, then a good one.
    b.fill("input[name=current_password]", PW).await.unwrap();
    b.fill("input[name=new_password]", "short").await.unwrap();
    b.click("#change").await.unwrap();
    b.wait_for_text("#error", "password refused").await.unwrap();
    b.fill("input[name=current_password]", PW).await.unwrap();
    b.fill("input[name=new_password]", NEW_PW).await.unwrap();
    b.click("#change").await.unwrap();
    b.wait_for_text("#notice", "Your password was changed").await.unwrap();

    b.click("#logout").await.unwrap();
    b.wait_for_path("/login").await.unwrap();
    b.goto(&server.url("/account")).await.unwrap();
    b.wait_for_path("/login").await.unwrap();
    // The same history through the API, with the failure's reason.
    let her = server.client();
    assert_eq!(login(&server, &her, "ursula@example.org", NEW_PW).await.status(), StatusCode::CREATED);
    let (s, v) = call(&her, "GET", server.url("/api/v1/me/logins"), None).await;
    assert_eq!(s, StatusCode::OK);
    let actions: Vec<&str> = v.as_array().unwrap().iter().filter_map(|r| r["action"].as_str()).collect();
    assert!(actions.iter().filter(|a| **a == "login").count() >= 3 && actions.contains(&"login.failed"), "{actions:?}");
    assert!(v.as_array().unwrap().iter().all(|r| r["source_ip"] == "127.0.0.1"));
    // The new password works; the old one does not.
    assert_eq!(login(&server, &server.client(), "ursula@example.org", PW).await.status(), StatusCode::UNAUTHORIZED);

    let console = b.console().await.unwrap();
    let violations: Vec<&String> = console.iter().filter(|m| m.contains("Content Security Policy") || m.contains("Refused to")).collect();
    assert!(violations.is_empty(), "CSP violations: {violations:?}");
    b.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_are_hardened_against_forgery_and_injection() {
    let (server, admin) = with_admin(Backend::Sqlite).await;
    add_account(&server, &admin, "example.org", "ursula", "user", PW).await;
    let c = server.client();
    let r = c.get(server.url("/login")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let csp = r.headers()["content-security-policy"].to_str().unwrap().to_owned();
    assert!(csp.contains("default-src 'none'") && csp.contains("form-action 'self'") && !csp.contains("unsafe-inline"), "{csp}");
    let cookie = r.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.starts_with("__Host-deskward_csrf=") && cookie.contains("Secure") && cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"), "{cookie}");
    let page = r.text().await.unwrap();
    assert!(!page.contains("<script") && !page.contains("style="), "no inline script or style");
    let token = page.split("name=\"csrf\" value=\"").nth(1).and_then(|s| s.split('"').next()).unwrap().to_owned();

    // No or a wrong CSRF token: refused before the password is looked at, and recorded.
    for csrf in ["", "forged-token-forged-token-forged-token-xyz"] {
        let r = c.post(server.url("/login")).form(&[("csrf", csrf), ("login", "ursula@example.org"), ("password", PW)]).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
    }
    let forged = events(&server, &admin, "action=request.csrf", 2).await;
    assert_eq!(forged.len(), 2);
    // A form posted from another site is refused whatever its token.
    let r = c.post(server.url("/login")).header("origin", "https://evil.example").form(&[("csrf", token.as_str()), ("login", "ursula@example.org"), ("password", PW)]).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    // What a visitor typed comes back escaped.
    let r = c.post(server.url("/login")).form(&[("csrf", token.as_str()), ("login", "\"><script>alert(1)</script>"), ("password", "x")]).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let page = r.text().await.unwrap();
    assert!(!page.contains("<script>alert(1)") && page.contains("&#60;script&#62;alert(1)"), "escaped");
    // The right token logs in and sets the session cookie.
    let r = c.post(server.url("/login")).form(&[("csrf", token.as_str()), ("login", "ursula@example.org"), ("password", PW)]).send().await.unwrap();
    assert_eq!((r.status(), r.url().path()), (StatusCode::OK, "/account"), "redirected to the account page");
    // Logged-in forms need the session's token.
    let r = c.post(server.url("/account/password")).form(&[("csrf", token.as_str()), ("current_password", PW), ("new_password", NEW_PW)]).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = c.post(server.url("/logout")).form(&[("csrf", "x")]).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(call(&c, "GET", server.url("/api/v1/me"), None).await.0, StatusCode::OK, "still logged in");
    assert_eq!(login(&server, &server.client(), "ursula@example.org", PW).await.status(), StatusCode::CREATED, "password unchanged");
}
