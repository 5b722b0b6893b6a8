//! The web pages end to end in a real headless Chromium: log in, the account page, a password
//! change under the policy, ending a session, log out; no Content-Security-Policy violation on
//! any page. Outside the browser: the headers and cookies, CSRF refusals, escaping.

use deskward_testkit::{Backend, Browser, browser_available};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::audit::{events, records};
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

    assert_no_csp_violations(&b).await;
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
    log_in_on_page(&b, &server, ADMIN, ADMIN_PW).await;
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
    assert_no_csp_violations(&b).await;
    b.quit().await;
}

const ALICE_PW: &str = "Desk-pass-one-31";
const BOB_PW: &str = "Desk-pass-two-42";

/// A part of a multipart form: its name, its file name, its content.
type Part<'a> = (&'a str, Option<&'a str>, &'a [u8]);

/// A `multipart/form-data` body of `parts` in order, and its type.
fn multipart(parts: &[Part<'_>]) -> (String, Vec<u8>) {
    let boundary = "deskward-test-boundary-7f3a";
    let mut body = Vec::new();
    for (name, file, content) in parts {
        body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        let head = match file {
            Some(f) => format!("Content-Disposition: form-data; name=\"{name}\"; filename=\"{f}\"\r\nContent-Type: application/octet-stream\r\n\r\n"),
            None => format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n"),
        };
        body.extend_from_slice(head.as_bytes());
        body.extend_from_slice(content);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// Posts a multipart form; the status, the final path and the page.
async fn post_multipart(server: &deskward_testkit::Server, client: &reqwest::Client, path: &str, parts: &[Part<'_>]) -> (StatusCode, String, String) {
    let (content_type, body) = multipart(parts);
    let r = client.post(server.url(path)).header("content-type", content_type).body(body).send().await.unwrap();
    (r.status(), r.url().path().to_owned(), r.text().await.unwrap())
}


#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn document_pages_refuse_forgery_hide_what_is_not_shared_and_open_share_links() {
    // Documents of up to 2 MiB, far above the 64 KiB body limit of other requests.
    let options = deskward_testkit::ServerOptions::new(Backend::Sqlite).env("DESKWARD_DOCUMENTS__MAX_SIZE", "2097152").keep_log();
    let (server, admin) = with_admin_using(options).await;
    add_account(&server, &admin, "example.org", "alice", "user", ALICE_PW).await;
    add_account(&server, &admin, "example.org", "bob", "user", BOB_PW).await;
    let alice = logged_in(&server, "alice@example.org", ALICE_PW).await;
    let bob = logged_in(&server, "bob@example.org", BOB_PW).await;
    let (s, top) = page(&server, &alice, "/documents").await;
    assert_eq!(s, StatusCode::OK);
    assert!(!top.contains("<script") && !top.contains("style="), "no inline script or style");
    let csrf = csrf_of(&top);

    // A form without the session's token is refused and recorded; nothing is made.
    for bad in ["", "0123456789abcdef0123456789abcdef"] {
        let (s, _, _) = post_form(&server, &alice, "/documents/folders", &[("csrf", bad), ("name", "Plans")]).await;
        assert_eq!(s, StatusCode::FORBIDDEN);
    }
    assert_eq!(events(&server, &admin, "action=request.csrf", 2).await.len(), 2);
    let (_, v) = call(&alice, "GET", server.url("/api/v1/items"), None).await;
    assert_eq!(v["items"], serde_json::json!([]));
    // With it, the folder is made and the listing shows it; names come back escaped.
    let (s, at, listing) = post_form(&server, &alice, "/documents/folders", &[("csrf", &csrf), ("name", "Plans")]).await;
    assert_eq!((s, at.as_str()), (StatusCode::OK, "/documents"));
    assert!(listing.contains(">Plans</a>") && listing.contains("The folder was made."), "{listing}");
    let (s, _, listing) = post_form(&server, &alice, "/documents/folders", &[("csrf", &csrf), ("name", "<img src=x onerror=alert(1)>")]).await;
    assert_eq!(s, StatusCode::OK);
    assert!(!listing.contains("<img src=x") && listing.contains("&#60;img src=x onerror=alert(1)&#62;"), "escaped: {listing}");
    // A refused name: the page again, with the reason.
    let (s, _, refused) = post_form(&server, &alice, "/documents/folders", &[("csrf", &csrf), ("name", "<script>a</script>")]).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(refused.contains("id=\"error\"") && !refused.contains("<script>a") && refused.contains("&#60;script&#62;"), "{refused}");
    let (_, v) = call(&alice, "GET", server.url("/api/v1/items"), None).await;
    let plans = v["items"].as_array().unwrap().iter().find(|i| i["name"] == "Plans").unwrap()["id"].as_i64().unwrap();

    // A multipart upload whose CSRF part is wrong, missing or not first stores nothing.
    let upload = format!("/documents/{plans}/upload");
    let forged_parts: [&[Part<'_>]; 3] = [
        &[("csrf", None, b"forged"), ("file", Some("notes.txt"), b"hello")],
        &[("file", Some("notes.txt"), b"hello")],
        &[("file", Some("notes.txt"), b"hello"), ("csrf", None, csrf.as_bytes())],
    ];
    for parts in forged_parts {
        assert_eq!(post_multipart(&server, &alice, &upload, parts).await.0, StatusCode::FORBIDDEN);
        assert_eq!(post_multipart(&server, &alice, "/documents/upload", parts).await.0, StatusCode::FORBIDDEN);
    }
    let (_, usage) = call(&alice, "GET", server.url("/api/v1/me/usage"), None).await;
    assert_eq!((usage["documents"].as_i64(), usage["bytes"].as_i64()), (Some(0), Some(0)), "{usage}");
    let (_, v) = call(&alice, "GET", server.url(&format!("/api/v1/items/{plans}")), None).await;
    assert_eq!(v["children"], serde_json::json!([]));
    // The right token first: the file streams in under the name given.
    let (s, at, folder) = post_multipart(&server, &alice, &upload, &[("csrf", None, csrf.as_bytes()), ("name", None, b"Notes.txt"), ("file", Some("x.txt"), b"hello")]).await;
    assert_eq!((s, at), (StatusCode::OK, format!("/documents/{plans}")));
    assert!(folder.contains(">Notes.txt</a>") && folder.contains("The document was stored."), "{folder}");
    let (_, v) = call(&alice, "GET", server.url(&format!("/api/v1/items/{plans}")), None).await;
    let notes = v["children"][0]["id"].as_i64().unwrap();
    let r = alice.get(server.url(&format!("/documents/{notes}/download?version=1"))).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers()["content-disposition"].to_str().unwrap().starts_with("attachment;"));
    assert_eq!(r.bytes().await.unwrap().as_ref(), b"hello");
    // A version larger than the body limit streams in; one over documents.max_size is refused
    // on the page and stores nothing.
    let big = vec![b'x'; 1 << 20];
    let version = format!("/documents/{notes}/version");
    let (s, _, shown) = post_multipart(&server, &alice, &version, &[("csrf", None, csrf.as_bytes()), ("file", Some("big.bin"), &big)]).await;
    assert_eq!(s, StatusCode::OK);
    assert!(shown.contains("The new version was stored.") && shown.contains("1.0 MB"), "{shown}");
    let r = alice.get(server.url(&format!("/documents/{notes}/download"))).send().await.unwrap();
    assert_eq!(r.bytes().await.unwrap().len(), 1 << 20);
    let huge = vec![b'y'; 3 << 20];
    let (s, _, shown) = post_multipart(&server, &alice, &version, &[("csrf", None, csrf.as_bytes()), ("file", Some("huge.bin"), &huge)]).await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(shown.contains("id=\"error\"") && shown.contains("documents.max_size"), "{shown}");
    let (_, v) = call(&alice, "GET", server.url(&format!("/api/v1/items/{notes}")), None).await;
    assert_eq!(v["versions"].as_array().unwrap().len(), 2);

    // What Bob may not read answers the not-found page, like what does not exist.
    for path in [
        format!("/documents/{plans}"),
        format!("/documents/{notes}"),
        format!("/documents/{plans}/sharing"),
        format!("/documents/{notes}/download"),
        "/documents/4503599627370000".to_owned(),
        "/documents/plans".to_owned(),
    ] {
        let (s, text) = page(&server, &bob, &path).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{path}");
        assert!(text.contains("id=\"error\"") && !text.contains("Notes.txt") && !text.contains("Plans"), "{path}: {text}");
    }
    let bob_csrf = csrf_of(&page(&server, &bob, "/documents").await.1);
    let (s, _, _) = post_form(&server, &bob, &format!("/documents/{plans}/rename"), &[("csrf", &bob_csrf), ("name", "Mine")]).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _, _) = post_multipart(&server, &bob, &upload, &[("csrf", None, bob_csrf.as_bytes()), ("file", Some("bob.txt"), b"bob")]).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert!(events(&server, &admin, "action=access.denied&user=bob@example.org", 6).await.len() >= 6);

    // Share links: an unknown token opens nothing.
    let anyone = server.client();
    for path in ["/s/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "/s/not-a-token", "/s/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA/download?item=1"] {
        let (s, text) = page(&server, &anyone, path).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{path}");
        assert!(text.contains("opens nothing"), "{text}");
    }
    // A new link is shown once, on the page that answers the form: no redirect carries it.
    let sharing = format!("/documents/{plans}/sharing");
    let (s, at, shown) = post_form(&server, &alice, &format!("{sharing}/link"), &[("csrf", &csrf)]).await;
    assert_eq!((s, at), (StatusCode::OK, format!("{sharing}/link")));
    let url = shown.split("id=\"link-url\">").nth(1).and_then(|s| s.split('<').next()).unwrap().to_owned();
    let token = url.rsplit("/s/").next().unwrap().to_owned();
    assert!(url.starts_with("https://") && token.len() == 43, "{url}");
    assert!(!page(&server, &alice, &sharing).await.1.contains(&token), "shown only once");
    // Without a grant to public it opens nothing; with one, the folder and its document.
    assert_eq!(page(&server, &anyone, &format!("/s/{token}")).await.0, StatusCode::NOT_FOUND);
    let (s, _, granted) = post_form(&server, &alice, &format!("{sharing}/grants"), &[("csrf", &csrf), ("to", "public"), ("read", "on")]).await;
    assert_eq!(s, StatusCode::OK);
    assert!(granted.contains("<code>public</code></td><td>read</td>"), "{granted}");
    let (s, opened) = page(&server, &anyone, &format!("/s/{token}")).await;
    assert_eq!(s, StatusCode::OK);
    assert!(opened.contains("Notes.txt") && opened.contains(&format!("href=\"/s/{token}/download?item={notes}\"")), "{opened}");
    let r = anyone.get(server.url(&format!("/s/{token}/download?item={notes}"))).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.bytes().await.unwrap().len(), 1 << 20, "the current version");
    let r = anyone.get(server.url(&format!("/s/{token}/download?item={notes}&version=1"))).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.bytes().await.unwrap().as_ref() == b"hello", "the first version");
    // With a share password instead: a password form, then the listing; the password travels
    // in form bodies only.
    let share_pw = "share-pass-word-9";
    assert_eq!(post_form(&server, &alice, &format!("{sharing}/password"), &[("csrf", &csrf), ("password", share_pw)]).await.0, StatusCode::OK);
    assert_eq!(post_form(&server, &alice, &format!("{sharing}/grants/remove"), &[("csrf", &csrf), ("to", "public")]).await.0, StatusCode::OK);
    assert_eq!(post_form(&server, &alice, &format!("{sharing}/grants"), &[("csrf", &csrf), ("to", "password"), ("read", "on")]).await.0, StatusCode::OK);
    let visitor = server.client();
    let (s, locked) = page(&server, &visitor, &format!("/s/{token}")).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert!(locked.contains("id=\"unlock-form\"") && !locked.contains("Notes.txt"), "{locked}");
    let visitor_csrf = csrf_of(&locked);
    let (s, _, wrong) = post_form(&server, &visitor, &format!("/s/{token}"), &[("csrf", &visitor_csrf), ("password", "not-the-password")]).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert!(wrong.contains("Wrong share password") && wrong.contains("id=\"unlock-form\""), "{wrong}");
    let (s, _, _) = post_form(&server, &visitor, &format!("/s/{token}"), &[("csrf", "forged"), ("password", share_pw)]).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _, unlocked) = post_form(&server, &visitor, &format!("/s/{token}"), &[("csrf", &visitor_csrf), ("password", share_pw)]).await;
    assert_eq!(s, StatusCode::OK);
    assert!(unlocked.contains("Notes.txt") && !unlocked.contains("download?item="), "{unlocked}");
    let r = visitor
        .post(server.url(&format!("/s/{token}/download")))
        .form(&[("csrf", visitor_csrf.as_str()), ("password", share_pw), ("item", &notes.to_string()), ("version", "1")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.bytes().await.unwrap().as_ref() == b"hello", "the first version");
    assert_eq!(page(&server, &visitor, &format!("/s/{token}/download?item={notes}")).await.0, StatusCode::UNAUTHORIZED);

    // No record names the token.
    events(&server, &admin, "action=share.password_failed", 1).await;
    let named = sql_text(&server, &format!("SELECT CAST(COUNT(*) AS TEXT) FROM audit_records WHERE target LIKE '%{token}%' OR summary LIKE '%{token}%'")).await;
    assert_eq!(named, "0");
    assert!(!server.log().contains(&token), "the server's log names no share link");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_shares_a_folder_with_a_group_on_the_document_pages() {
    if !browser_available("the document pages in Chromium") {
        return;
    }
    let (server, admin) = with_admin(Backend::Sqlite).await;
    add_account(&server, &admin, "example.org", "alice", "user", ALICE_PW).await;
    add_account(&server, &admin, "example.org", "bob", "user", BOB_PW).await;
    let (s, v) = call(&admin, "POST", server.url("/api/v1/domains/example.org/groups"), Some(serde_json::json!({"name": "sales"}))).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let (s, v) = call(&admin, "PUT", server.url("/api/v1/domains/example.org/groups/sales/members/bob"), None).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let files = deskward_testkit::TempDir::new("upload");
    let file = files.path().join("Budget 2027.txt");
    std::fs::write(&file, "forecast").unwrap();

    let b = Browser::start().await.expect("chromium starts");
    log_in_on_page(&b, &server, "alice@example.org", ALICE_PW).await;
    b.click("#documents").await.unwrap();
    b.wait_for_path("/documents").await.unwrap();
    b.wait_for_text("#own-empty", "no folders").await.unwrap();
    b.fill("#folder-name", "Plans").await.unwrap();
    b.click("#make-folder").await.unwrap();
    b.wait_for_text("#own", "Plans").await.unwrap();
    b.click("#own a").await.unwrap();
    b.wait_for_text("#name", "Plans").await.unwrap();
    b.wait_for_text("#rights", "read, write, delete, share").await.unwrap();
    b.choose_file("#file", &file).await.unwrap();
    b.click("#upload").await.unwrap();
    b.wait_for_text("#notice", "The document was stored.").await.unwrap();
    b.wait_for_text("#children", "Budget 2027.txt").await.unwrap();

    b.click("#sharing").await.unwrap();
    b.wait_for_text("h1", "Sharing Plans").await.unwrap();
    b.fill("#grant-to", "group:sales").await.unwrap();
    b.click("#grant").await.unwrap();
    b.wait_for_text("#notice", "The grant was saved.").await.unwrap();
    let grants = b.wait_for_text("#grants", "group:sales").await.unwrap();
    assert!(grants.contains("read") && !grants.contains("write"), "{grants}");
    b.fill("#explain-login", "bob@example.org").await.unwrap();
    b.click("#explain").await.unwrap();
    let why = b.wait_for_text("#explanation", "bob@example.org may: read").await.unwrap();
    assert!(why.contains("grant to group:sales") && why.contains("Plans") && why.contains("on the item itself"), "{why}");

    b.goto(&server.url("/account")).await.unwrap();
    b.click("#logout").await.unwrap();
    b.wait_for_path("/login").await.unwrap();
    b.fill("input[name=login]", "bob@example.org").await.unwrap();
    b.fill("input[name=password]", BOB_PW).await.unwrap();
    b.click("#submit").await.unwrap();
    b.wait_for_path("/account").await.unwrap();
    b.click("#documents").await.unwrap();
    b.wait_for_path("/documents").await.unwrap();
    let shared = b.wait_for_text("#shared", "Plans").await.unwrap();
    assert!(shared.contains("alice@example.org") && shared.contains("read"), "{shared}");
    b.click("#shared a").await.unwrap();
    b.wait_for_text("#name", "Plans").await.unwrap();
    b.wait_for_text("#children", "Budget 2027.txt").await.unwrap();
    assert_eq!(b.text("#rights").await.as_deref(), Some("read"));
    for form in ["#upload-form", "#folder-form", "#rename-form", "#move-form", "#delete-form"] {
        assert!(b.text(form).await.is_none(), "bob, who may only read, is shown {form}");
    }

    assert_no_csp_violations(&b).await;
    b.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_administrator_acts_for_a_user_on_the_account_page_and_comes_back() {
    let (server, admin) = with_admin(Backend::Sqlite).await;
    add_account(&server, &admin, "example.org", "ursula", "user", PW).await;
    let (s, own) = page(&server, &admin, "/account").await;
    assert_eq!(s, StatusCode::OK);
    assert!(own.contains("id=\"impersonate\""), "administrators get the form");
    let csrf = csrf_of(&own);
    // A forged form opens nothing.
    let (s, _, _) = post_form(&server, &admin, "/account/impersonate", &[("csrf", "0000"), ("login", "ursula@example.org"), ("reason", "x")]).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    // No reason, no session: the page says why.
    let (s, _, body) = post_form(&server, &admin, "/account/impersonate", &[("csrf", &csrf), ("login", "ursula@example.org"), ("reason", " ")]).await;
    assert!(s == StatusCode::BAD_REQUEST && body.contains("Say why you act"), "{s} {body}");

    let (s, path, body) = post_form(&server, &admin, "/account/impersonate", &[("csrf", &csrf), ("login", "ursula@example.org"), ("reason", "ticket 31")]).await;
    assert_eq!((s, path.as_str()), (StatusCode::OK, "/account"));
    assert!(body.contains("<h1>ursula@example.org</h1>") && body.contains("id=\"acting\"") && body.contains(ADMIN), "the page says who acts for whom");
    assert!(!body.contains("id=\"change\""), "no password form while acting");
    let (_, me) = call(&admin, "GET", server.url("/api/v1/me"), None).await;
    assert_eq!((me["login"].as_str(), me["acting_admin"].as_str()), (Some("ursula@example.org"), Some(ADMIN)));

    // Stop acting: the impersonation ends and the administrator's own session is back.
    let (s, path, body) = post_form(&server, &admin, "/logout", &[("csrf", &csrf_of(&body))]).await;
    assert_eq!((s, path.as_str()), (StatusCode::OK, "/account"), "{body}");
    assert!(body.contains(&format!("<h1>{ADMIN}</h1>")) && !body.contains("id=\"acting\""));
    let ursula = server.client();
    assert_eq!(login(&server, &ursula, "ursula@example.org", PW).await.status(), StatusCode::CREATED);
    let (_, sessions) = call(&ursula, "GET", server.url("/api/v1/me/sessions"), None).await;
    assert!(sessions.as_array().unwrap().iter().all(|s| s.get("acting_admin").is_none()), "the impersonation ended: {sessions}");
    let (_, mine) = page(&server, &ursula, "/account").await;
    assert!(mine.contains(&format!("administrator {ADMIN} acted for you: ticket 31")), "her recent logins say so");
}

/// The way back from an impersonation leads only to the acting administrator's own session:
/// a return cookie holding anyone else's token is dropped, and the browser goes to the login.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopping_an_impersonation_returns_to_no_one_else() {
    let (server, admin) = with_admin(Backend::Sqlite).await;
    add_account(&server, &admin, "example.org", "ursula", "user", PW).await;
    let (s, v) = call(&admin, "POST", server.url("/api/v1/domains/example.org/accounts/ursula/impersonate"), Some(serde_json::json!({"reason": "ticket 5"}))).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let acting = v["token"].as_str().unwrap().to_owned();
    // Ursula's own session token, which a hostile page might have planted as the return cookie.
    let r = login(&server, &server.client(), "ursula@example.org", PW).await;
    let set = r.headers().get("set-cookie").unwrap().to_str().unwrap().to_owned();
    let hers = set.split(';').next().unwrap().split_once('=').unwrap().1.to_owned();
    let cookies = format!("__Host-deskward_session={acting}; __Host-deskward_return={hers}");
    let browser = server.client();
    let page = browser.get(server.url("/account")).header("cookie", &cookies).send().await.unwrap().text().await.unwrap();
    let r = browser.post(server.url("/logout")).header("cookie", &cookies).form(&[("csrf", csrf_of(&page))]).send().await.unwrap();
    assert_eq!(r.url().path(), "/login", "not back into someone else's session");
    // The impersonation itself ended.
    let r = server.client().get(server.url("/api/v1/me")).bearer_auth(&acting).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn system_admins_set_retention_and_conversation_logging_on_the_domains_page() {
    let (server, admin) = with_admin(Backend::Sqlite).await;
    server.cli_ok(&["domain", "add", "other.test"], None);
    add_account(&server, &admin, "example.org", "dora", "domain-admin", PW).await;
    let form_of = "/admin/domains/example.org";

    // A domain admin sees their domain's settings and changes nothing.
    let dora = logged_in(&server, "dora@example.org", PW).await;
    let (s, text) = page(&server, &dora, "/admin/domains").await;
    assert_eq!(s, StatusCode::OK);
    assert!(text.contains("example.org") && !text.contains("other.test") && text.contains("forever") && text.contains("not logged"), "{text}");
    assert!(!text.contains("name=\"csrf\""), "a read-only page carries no form");
    let (_, account) = page(&server, &dora, "/account").await;
    let dora_csrf = csrf_of(&account);
    let (s, _, _) = post_form(&server, &dora, form_of, &[("csrf", &dora_csrf), ("im_logging", "on")]).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    events(&server, &admin, "domain=example.org&action=access.denied", 1).await;

    // The system admin: a forged form and a bad number change nothing.
    let (_, text) = page(&server, &admin, "/admin/domains").await;
    assert!(text.contains("other.test"), "{text}");
    let csrf = csrf_of(&text);
    let (s, _, _) = post_form(&server, &admin, form_of, &[("csrf", "forged"), ("im_logging", "on")]).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _, text) = post_form(&server, &admin, form_of, &[("csrf", &csrf), ("audit_retention_days", "a week"), ("im_logging", "on")]).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(text.contains("number of days"), "{text}");
    let (s, v) = call(&admin, "GET", server.url("/api/v1/domains/example.org"), None).await;
    assert_eq!((s, &v["im_logging"], &v["audit_retention_days"]), (StatusCode::OK, &json!(false), &Value::Null), "{v}");

    // Saved: both settings, each recorded once; saving the same again records nothing.
    for _ in 0..2 {
        let (s, path, text) = post_form(&server, &admin, form_of, &[("csrf", &csrf), ("audit_retention_days", "30"), ("im_logging", "on")]).await;
        assert_eq!((s, path.as_str()), (StatusCode::OK, "/admin/domains"), "{text}");
        assert!(text.contains("The settings of example.org are saved."), "{text}");
    }
    let (_, v) = call(&admin, "GET", server.url("/api/v1/domains/example.org"), None).await;
    assert_eq!((&v["im_logging"], &v["audit_retention_days"]), (&json!(true), &json!(30)), "{v}");
    assert_eq!(records(&server, &admin, "domain=example.org&action=domain.im_logging").await.len(), 1);
    assert_eq!(records(&server, &admin, "domain=example.org&action=domain.audit_retention").await.len(), 1);
    // An unticked box switches logging off; an empty number keeps records forever.
    let (s, _, _) = post_form(&server, &admin, form_of, &[("csrf", &csrf), ("audit_retention_days", "")]).await;
    assert_eq!(s, StatusCode::OK);
    let (_, v) = call(&admin, "GET", server.url("/api/v1/domains/example.org"), None).await;
    assert_eq!((&v["im_logging"], &v["audit_retention_days"]), (&json!(false), &Value::Null), "{v}");
    let (_, text) = page(&server, &dora, "/admin/domains").await;
    assert!(text.contains("not logged") && text.contains("forever"), "{text}");

    if !browser_available("the domains page in Chromium") {
        return;
    }
    let b = Browser::start().await.expect("chromium starts");
    log_in_on_page(&b, &server, ADMIN, ADMIN_PW).await;
    b.click("#admin-domains").await.unwrap();
    b.wait_for_path("/admin/domains").await.unwrap();
    b.fill("form[action='/admin/domains/other.test'] input[name=audit_retention_days]", "90").await.unwrap();
    b.click("form[action='/admin/domains/other.test'] input[name=im_logging]").await.unwrap();
    b.click("form[action='/admin/domains/other.test'] button").await.unwrap();
    b.wait_for_text("#notice", "settings of other.test are saved").await.unwrap();
    assert_no_csp_violations(&b).await;
    b.quit().await;
    let (_, v) = call(&admin, "GET", server.url("/api/v1/domains/other.test"), None).await;
    assert_eq!((&v["im_logging"], &v["audit_retention_days"]), (&json!(true), &json!(90)), "{v}");
}
