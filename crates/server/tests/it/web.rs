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

/// The page's text at `path` for `client`, with its status.
async fn page(server: &deskward_testkit::Server, client: &reqwest::Client, path: &str) -> (StatusCode, String) {
    let r = client.get(server.url(path)).send().await.unwrap();
    (r.status(), r.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admins_search_and_browse_the_audit_log_on_pages() {
    let (server, admin) = with_admin(Backend::Sqlite).await;
    add_account(&server, &admin, "example.org", "ursula", "user", PW).await;
    server.cli_ok(&["domain", "add", "other.test"], None);
    server.cli_ok(&["account", "add", "dora@other.test", "--role", "domain-admin", "--password-stdin"], Some(PW));
    let dora = server.client();
    assert_eq!(login(&server, &dora, "dora@other.test", PW).await.status(), StatusCode::CREATED);
    let ursula = server.client();
    assert_eq!(login(&server, &ursula, "ursula@example.org", PW).await.status(), StatusCode::CREATED);
    let _ = login(&server, &server.client(), "ursula@example.org", "wrong-password-here").await;

    // Everything a system admin may read, newest first, and a search by action family.
    let (s, all) = page(&server, &admin, "/admin/audit").await;
    assert_eq!(s, StatusCode::OK);
    assert!(all.contains("account.create") && all.contains("domain.create") && all.contains("href=\"/admin/audit/_system\""), "{all}");
    let (_, found) = page(&server, &admin, "/admin/audit?domain=example.org&user=&action=account&ip=&since=1d&until=").await;
    let rows = found.split("<tbody>").nth(1).unwrap();
    assert!(rows.contains("account.create") && !rows.contains("domain.create") && !rows.contains("other.test"), "{rows}");
    assert!(events(&server, &admin, "domain=example.org&action=login.failed", 1).await.len() == 1);
    let (_, security) = page(&server, &admin, "/admin/audit?security=on&domain=example.org").await;
    let rows = security.split("<tbody>").nth(1).unwrap();
    assert!(rows.contains("login.failed") && !rows.contains("account.create"), "{rows}");
    // A bad time says so; typed values are shown back escaped.
    let (s, bad) = page(&server, &admin, "/admin/audit?since=last%20tuesday&user=%3Cscript%3Ealert(1)%3C/script%3E").await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(bad.contains("is not a time") && bad.contains("&#60;script&#62;") && !bad.contains("<script>alert"), "{bad}");

    // Browsing: a domain's years, months and days, then one day's records in order.
    let today = sql_text(&server, "SELECT MAX(day) FROM audit_records WHERE chain = 'example.org'").await;
    let (_, days) = page(&server, &admin, "/admin/audit/example.org").await;
    assert!(days.contains(&format!("<h2>{}</h2>", &today[..4])) && days.contains(&format!("href=\"/admin/audit/example.org/{today}\"")), "{days}");
    let (s, day) = page(&server, &admin, &format!("/admin/audit/example.org/{today}")).await;
    assert_eq!(s, StatusCode::OK);
    assert!(day.contains("account.create") && day.contains("<td>1</td>"), "{day}");
    let (s, _) = page(&server, &admin, "/admin/audit/example.org/2026-13-45").await;
    assert_eq!(s, StatusCode::BAD_REQUEST);

    // A domain admin reads their own domain only; asking for another is refused and recorded.
    let (s, own) = page(&server, &dora, "/admin/audit").await;
    assert_eq!(s, StatusCode::OK);
    let rows = own.split("<tbody>").nth(1).unwrap();
    assert!(rows.contains("other.test") && !rows.contains("example.org") && !own.contains("/admin/audit/_system"), "{own}");
    for path in ["/admin/audit/example.org", "/admin/audit/_system/2026-11-23", "/admin/audit?domain=example.org"] {
        let (s, _) = page(&server, &dora, path).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{path}");
    }
    events(&server, &admin, "domain=other.test&action=access.denied", 3).await;
    // A user has no audit page; no session goes to the login.
    assert_eq!(page(&server, &ursula, "/admin/audit").await.0, StatusCode::FORBIDDEN);
    let r = server.client().get(server.url("/admin/audit")).send().await.unwrap();
    assert_eq!(r.url().path(), "/login");

    if !browser_available("the audit pages in Chromium") {
        return;
    }
    let b = Browser::start().await.expect("chromium starts");
    b.goto(&server.url("/login")).await.unwrap();
    b.fill("input[name=login]", ADMIN).await.unwrap();
    b.fill("input[name=password]", ADMIN_PW).await.unwrap();
    b.click("#submit").await.unwrap();
    b.wait_for_path("/account").await.unwrap();
    b.click("#admin-audit").await.unwrap();
    b.wait_for_path("/admin/audit").await.unwrap();
    b.fill("input[name=action]", "login.failed").await.unwrap();
    b.click("#find").await.unwrap();
    b.wait_for_text("#records", "ursula@example.org").await.unwrap();
    assert!(!b.text("#records").await.unwrap().contains("account.create"));
    b.click("#chains a[href='/admin/audit/example.org']").await.unwrap();
    b.wait_for_path("/admin/audit/example.org").await.unwrap();
    b.click("#days a").await.unwrap();
    b.wait_for_text("#records", "account.create").await.unwrap();
    let console = b.console().await.unwrap();
    let violations: Vec<&String> = console.iter().filter(|m| m.contains("Content Security Policy") || m.contains("Refused to")).collect();
    assert!(violations.is_empty(), "CSP violations: {violations:?}");
    b.quit().await;
}
