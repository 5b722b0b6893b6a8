//! Directory logins (A1) against a real OpenLDAP slapd on loopback: the settings through the
//! API and CLI, the bind password through the secrets store, the first login that makes the
//! account, and the directory failing closed when it is down, silent, or refuses the bind.

use std::time::{Duration, Instant};

use deskward_testkit::{Backend, Server, ServerOptions, Slapd, on_both_stores, slapd_available};
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};

use crate::audit::records;
use crate::support::*;

const BIND_DN: &str = "cn=deskward,ou=services,dc=test,dc=local";
const BIND_PW: &str = "Bind-secret-77";
const ALICE_PW: &str = "Directory-pass-1";
const CAROL_PW: &str = "Directory-pass-2";
const DAVE_DIR_PW: &str = "Directory-pass-3";
const DAVE_LOCAL_PW: &str = "Local-only-pass-4";

fn seed() -> String {
    let person = |uid: &str, ou: &str, pw: &str| {
        format!("dn: uid={uid},ou={ou},dc=test,dc=local\nobjectClass: inetOrgPerson\nuid: {uid}\ncn: {uid} Example\nsn: Example\nmail: {uid}@corp.example\nuserPassword: {pw}\n\n")
    };
    let ou = |name: &str| format!("dn: ou={name},dc=test,dc=local\nobjectClass: organizationalUnit\nou: {name}\n\n");
    [
        ou("people"),
        ou("staff"),
        ou("services"),
        format!("dn: {BIND_DN}\nobjectClass: person\ncn: deskward\nsn: service\nuserPassword: {BIND_PW}\n\n"),
        person("alice", "people", ALICE_PW),
        person("dave", "people", DAVE_DIR_PW),
        person("carol", "staff", CAROL_PW),
    ]
    .concat()
}

fn settings(slapd: &Slapd) -> Value {
    json!({
        "url": slapd.ldaps_url(),
        "security": "ldaps",
        "preset": "openldap",
        "bind_dn": BIND_DN,
        "base_dns": ["ou=people,dc=test,dc=local", "ou=staff,dc=test,dc=local"],
        "new_account_class": "from-directory",
        "ca_certificate": slapd.ca_pem(),
        "timeout_ms": 2000,
    })
}

async fn put_directory(server: &Server, admin: &Client, body: Value) -> (StatusCode, Value) {
    call(admin, "PUT", server.url("/api/v1/domains/example.org/directory"), Some(body)).await
}

/// Logs in from an address of the login's own, so the guard's count per client does not add
/// up across the test's many refusals, and a person's client is known once it got in.
async fn login_status(server: &Server, login_name: &str, password: &str) -> (StatusCode, Value) {
    let h = login_name.bytes().fold(7u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b)));
    let from = format!("10.{}.{}.{}", (h >> 16) as u8, (h >> 8) as u8, h as u8);
    login_answer(server, &from, login_name, password).await
}

async fn directory_users_log_in_with_their_directory_password(backend: Backend) {
    if !slapd_available("directory logins") {
        return;
    }
    let slapd = Slapd::start(&seed(), None);
    let (server, admin) = with_admin_using(ServerOptions::new(backend).env("DESKWARD_HTTP__TRUSTED_PROXIES", "127.0.0.1")).await;
    let (s, v) = call(&admin, "POST", server.url("/api/v1/domains/example.org/classes"), Some(json!({"name": "from-directory", "features": {"web": true, "mail": true, "im": true, "documents": true, "helpdesk": false}}))).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    // dave has a local account made by an administrator: the directory never takes it over.
    add_account(&server, &admin, "example.org", "dave", "user", DAVE_LOCAL_PW).await;

    let (s, v) = put_directory(&server, &admin, settings(&slapd)).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!((v["user_filter"].as_str(), v["bind_password_set"].as_bool()), (Some("(&(objectClass=inetOrgPerson)(uid={user}))"), Some(false)), "{v}");
    // Without the bind password the directory cannot be searched: the login fails closed.
    let (s, v) = login_status(&server, "alice@example.org", ALICE_PW).await;
    assert_eq!((s, code(&v)), (StatusCode::SERVICE_UNAVAILABLE, "directory_unavailable"), "{v}");
    server.cli_ok(&["directory", "password", "example.org"], Some(BIND_PW));
    let (_, v) = call(&admin, "GET", server.url("/api/v1/domains/example.org/directory"), None).await;
    assert_eq!(v["bind_password_set"], json!(true));
    assert!(!v.to_string().contains(BIND_PW));
    let tested = server.cli_ok(&["directory", "test", "example.org", "--login", "alice"], None);
    assert!(tested.contains("uid=alice,ou=people,dc=test,dc=local") && tested.contains("alice@corp.example"), "{tested}");

    // First login: the account is made, in the class for new accounts, mailed at the directory's address.
    let alice = server.client();
    let r = login(&server, &alice, "alice@example.org", ALICE_PW).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let (s, me) = call(&alice, "GET", server.url("/api/v1/me"), None).await;
    assert_eq!((s, me["login"].as_str()), (StatusCode::OK, Some("alice@example.org")), "{me}");
    let (_, acc) = call(&admin, "GET", server.url("/api/v1/domains/example.org/accounts/alice"), None).await;
    assert_eq!((acc["role"].as_str(), acc["class"].as_str(), acc["email"].as_str()), (Some("user"), Some("from-directory"), Some("alice@corp.example")), "{acc}");
    let made = records(&server, &admin, "domain=example.org&action=account.create").await;
    let made: Vec<&Value> = made.iter().filter(|r| r["target"] == json!("account:alice@example.org")).collect();
    assert_eq!(made.len(), 1);
    assert_eq!((made[0]["actor"].as_str(), made[0]["summary"]["source"].as_str()), (Some("alice@example.org"), Some("directory")), "{}", made[0]);
    assert_eq!(made[0]["summary"]["dn"], json!("uid=alice,ou=people,dc=test,dc=local"));
    // Later logins use the same account; a second search base is searched too.
    assert_eq!(login_status(&server, "alice@example.org", ALICE_PW).await.0, StatusCode::CREATED);
    assert_eq!(login_status(&server, "carol@example.org", CAROL_PW).await.0, StatusCode::CREATED);
    // Its password is the directory's: neither its owner nor an administrator sets it here.
    let (s, v) = call(&alice, "PUT", server.url("/api/v1/me/password"), Some(json!({"current_password": ALICE_PW, "new_password": "Some-new-pass-77"}))).await;
    assert_eq!((s, code(&v)), (StatusCode::CONFLICT, "conflict"), "{v}");
    let (s, v) = call(&admin, "PUT", server.url("/api/v1/domains/example.org/accounts/alice/password"), Some(json!({"password": "Some-new-pass-77"}))).await;
    assert_eq!((s, code(&v)), (StatusCode::CONFLICT, "conflict"), "{v}");
    let (_, list) = call(&admin, "GET", server.url("/api/v1/domains/example.org/accounts"), None).await;
    assert_eq!(list.as_array().unwrap().iter().filter(|a| a["login"] == json!("alice@example.org")).count(), 1);

    // Refusals: each a 401 that tells nothing, each a security event with its reason.
    for (who, pw) in [("alice@example.org", "not-her-password"), ("nobody@example.org", "whatever-pass-1"), ("*)(uid=*@example.org", ALICE_PW), ("alice@example.org", "")] {
        let (s, v) = login_status(&server, who, pw).await;
        assert!(s == StatusCode::UNAUTHORIZED || s == StatusCode::BAD_REQUEST, "{who} {pw:?}: {s} {v}");
        if s == StatusCode::UNAUTHORIZED {
            assert_eq!(code(&v), "invalid_credentials", "{v}");
        }
    }
    let reasons = failure_reasons(&server, &admin, "alice@example.org", 3).await;
    assert!(reasons.iter().any(|r| r == "wrong_password") && reasons.iter().any(|r| r == "malformed_password"), "{reasons:?}");
    assert_eq!(failure_reasons(&server, &admin, "nobody@example.org", 1).await, ["unknown_account"]);
    // dave's local account keeps its own password; the directory's does not open it.
    assert_eq!(login_status(&server, "dave@example.org", DAVE_LOCAL_PW).await.0, StatusCode::CREATED);
    assert_eq!(login_status(&server, "dave@example.org", DAVE_DIR_PW).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(login_status(&server, "dave@example.org", DAVE_LOCAL_PW).await.0, StatusCode::CREATED);

    // A password changed in the directory works at once; the old one stops working.
    slapd.modify("dn: uid=alice,ou=people,dc=test,dc=local\nchangetype: modify\nreplace: userPassword\nuserPassword: Changed-pass-5\n");
    assert_eq!(login_status(&server, "alice@example.org", ALICE_PW).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(login_status(&server, "alice@example.org", "Changed-pass-5").await.0, StatusCode::CREATED);
    // Deskward's own block still applies, after the right password.
    let (s, _) = call(&admin, "PATCH", server.url("/api/v1/domains/example.org/accounts/alice"), Some(json!({"disabled": true}))).await;
    assert_eq!(s, StatusCode::OK);
    let (s, v) = login_status(&server, "alice@example.org", "Changed-pass-5").await;
    assert_eq!((s, code(&v)), (StatusCode::FORBIDDEN, "account_disabled"), "{v}");
    // An entry removed from the directory can no longer log in; its account stays.
    slapd.modify("dn: uid=carol,ou=staff,dc=test,dc=local\nchangetype: delete\n");
    assert_eq!(login_status(&server, "carol@example.org", CAROL_PW).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(failure_reasons(&server, &admin, "carol@example.org", 1).await, ["directory_entry_gone"]);
    let (s, _) = call(&admin, "GET", server.url("/api/v1/domains/example.org/accounts/carol"), None).await;
    assert_eq!(s, StatusCode::OK);

    // The changes are audited, the bind password never.
    let set = records(&server, &admin, "domain=example.org&action=directory.set").await;
    assert_eq!(set[0]["summary"]["after"]["bind_dn"], json!(BIND_DN));
    let pw = records(&server, &admin, "domain=example.org&action=directory.bind_password").await;
    assert_eq!(pw[0]["summary"], json!({"set": true, "sealed": false}));
    let (_, all) = call(&admin, "GET", server.url("/api/v1/audit?limit=10000"), None).await;
    assert!(!all.to_string().contains(BIND_PW) && !all.to_string().contains(ALICE_PW));
    let status = server.cli_ok(&["secrets", "status"], None);
    assert!(status.contains("directory:example.org/bind_password"), "{status}");

    // Disconnecting keeps the accounts and takes the bind password away.
    let (s, _) = call(&admin, "DELETE", server.url("/api/v1/domains/example.org/directory"), None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let status = server.cli_ok(&["secrets", "status"], None);
    assert!(!status.contains("directory:example.org"), "{status}");
    assert_eq!(login_status(&server, "alice@example.org", "Changed-pass-5").await.0, StatusCode::UNAUTHORIZED);
    let (s, _) = call(&admin, "GET", server.url("/api/v1/domains/example.org/accounts/alice"), None).await;
    assert_eq!(s, StatusCode::OK);
}

on_both_stores! {
    directory_users_log_in => directory_users_log_in_with_their_directory_password;
}

/// Logs in and says how long the answer took.
async fn timed_login(server: &Server, who: &str, pw: &str) -> (StatusCode, Value, Duration) {
    let started = Instant::now();
    let (s, v) = login_status(server, who, pw).await;
    (s, v, started.elapsed())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_directory_that_is_down_silent_or_refusing_fails_closed() {
    if !slapd_available("directory failures") {
        return;
    }
    let mut slapd = Slapd::start(&seed(), None);
    let (server, admin) = with_admin(Backend::Sqlite).await;
    let mut body = settings(&slapd);
    body["new_account_class"] = Value::Null;
    // StartTLS on the plain port.
    body["url"] = json!(slapd.ldap_url());
    body["security"] = json!("starttls");
    assert_eq!(put_directory(&server, &admin, body.clone()).await.0, StatusCode::OK);
    server.cli_ok(&["directory", "password", "example.org"], Some(BIND_PW));
    assert_eq!(login_status(&server, "alice@example.org", ALICE_PW).await.0, StatusCode::CREATED);

    // Down: a clear 503 at once, no guess counted; the local admin still logs in.
    slapd.stop();
    let (s, v, took) = timed_login(&server, "alice@example.org", ALICE_PW).await;
    assert_eq!((s, code(&v)), (StatusCode::SERVICE_UNAVAILABLE, "directory_unavailable"), "{v}");
    assert!(v["error"]["message"].as_str().unwrap().contains("cannot be reached"), "{v}");
    assert!(took < Duration::from_secs(8), "a login to a directory that is down took {took:?}");
    assert_eq!(login_status(&server, ADMIN, ADMIN_PW).await.0, StatusCode::CREATED);
    assert_eq!(failure_reasons(&server, &admin, "alice@example.org", 1).await, ["directory_unavailable"]);
    let (s, v) = call(&admin, "POST", server.url("/api/v1/domains/example.org/directory/test"), Some(json!({}))).await;
    assert_eq!((s, code(&v)), (StatusCode::SERVICE_UNAVAILABLE, "directory_unavailable"), "{v}");
    slapd.resume();
    assert_eq!(login_status(&server, "alice@example.org", ALICE_PW).await.0, StatusCode::CREATED);

    // Silent: a listener that accepts and never answers; the login ends within its timeout.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let mut quiet = body.clone();
    quiet["url"] = json!(format!("ldaps://127.0.0.1:{}", silent.local_addr().unwrap().port()));
    quiet["security"] = json!("ldaps");
    quiet["timeout_ms"] = json!(500);
    assert_eq!(put_directory(&server, &admin, quiet).await.0, StatusCode::OK);
    let (s, v, took) = timed_login(&server, "alice@example.org", ALICE_PW).await;
    assert_eq!((s, code(&v)), (StatusCode::SERVICE_UNAVAILABLE, "directory_unavailable"), "{v}");
    assert!(took < Duration::from_secs(8), "a login to a silent directory took {took:?}");
    drop(silent);

    // A certificate no trusted CA signed: refused, not used.
    let mut untrusted = body.clone();
    untrusted["url"] = json!(slapd.ldaps_url());
    untrusted["security"] = json!("ldaps");
    untrusted["ca_certificate"] = Value::Null;
    assert_eq!(put_directory(&server, &admin, untrusted).await.0, StatusCode::OK);
    let (s, v) = login_status(&server, "alice@example.org", ALICE_PW).await;
    assert_eq!((s, code(&v)), (StatusCode::SERVICE_UNAVAILABLE, "directory_unavailable"), "{v}");

    // A wrong bind password: the login fails closed and the log says why, without the password.
    assert_eq!(put_directory(&server, &admin, body.clone()).await.0, StatusCode::OK);
    server.cli_ok(&["directory", "password", "example.org"], Some("Wrong-bind-pass-1"));
    let (s, v) = login_status(&server, "alice@example.org", ALICE_PW).await;
    assert_eq!((s, code(&v)), (StatusCode::SERVICE_UNAVAILABLE, "directory_unavailable"), "{v}");
    let out = server.cli(&["directory", "test", "example.org"], None);
    let printed = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success() && printed.contains("refused the bind account") && printed.contains(BIND_DN), "{printed}");
    assert!(!printed.contains("Wrong-bind-pass-1"));
    server.cli_ok(&["directory", "password", "example.org"], Some(BIND_PW));
    assert_eq!(login_status(&server, "alice@example.org", ALICE_PW).await.0, StatusCode::CREATED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn directory_settings_are_checked_and_only_system_admins_change_them() {
    if !slapd_available("directory settings") {
        return;
    }
    let slapd = Slapd::start(&seed(), None);
    let (server, admin) = with_admin(Backend::Sqlite).await;
    server.cli_ok(&["domain", "add", "other.test"], None);
    add_account(&server, &admin, "example.org", "dora", "domain-admin", "Admin-pass-of-ex-6").await;
    let good = {
        let mut b = settings(&slapd);
        b["new_account_class"] = Value::Null;
        b
    };
    let bad = |key: &str, value: Value| {
        let mut b = good.clone();
        b[key] = value;
        b
    };
    for (what, body) in [
        ("an ldap:// URL with ldaps", bad("url", json!(slapd.ldap_url()))),
        ("a URL with credentials", bad("url", json!("ldaps://u:p@127.0.0.1:636"))),
        ("another scheme", bad("url", json!("http://127.0.0.1"))),
        ("a URL with a line break", bad("url", json!("ldaps://127.0.0.1\n"))),
        ("an unknown security", bad("security", json!("tls"))),
        ("an unknown preset", bad("preset", json!("novell"))),
        ("no search base", bad("base_dns", json!([]))),
        ("a filter without the login", bad("user_filter", json!("(uid=alice)"))),
        ("a broken filter", bad("user_filter", json!("(uid={user}"))),
        ("an attribute that is not a name", bad("mail_attribute", json!("mail)(x"))),
        ("a CA that is not PEM", bad("ca_certificate", json!("hello"))),
        ("a timeout too long", bad("timeout_ms", json!(600_000))),
    ] {
        let (s, v) = put_directory(&server, &admin, body).await;
        assert_eq!((s, code(&v)), (StatusCode::BAD_REQUEST, "invalid_input"), "{what}: {v}");
    }
    let (s, v) = put_directory(&server, &admin, bad("new_account_class", json!("nope"))).await;
    assert_eq!((s, code(&v)), (StatusCode::NOT_FOUND, "not_found"), "an unknown class: {v}");
    let (s, v) = call(&admin, "GET", server.url("/api/v1/domains/example.org/directory"), None).await;
    assert_eq!((s, code(&v)), (StatusCode::NOT_FOUND, "not_found"), "nothing was stored: {v}");
    // Plain LDAP only when chosen.
    let (s, v) = put_directory(&server, &admin, bad("url", json!(slapd.ldap_url())).as_object().cloned().map(|mut o| {
        o.insert("security".into(), json!("plain"));
        Value::Object(o)
    }).unwrap()).await;
    assert_eq!((s, v["security"].as_str()), (StatusCode::OK, Some("plain")), "{v}");
    assert_eq!(put_directory(&server, &admin, good.clone()).await.0, StatusCode::OK);

    // A domain admin sees their domain's settings and changes nothing; other domains are closed.
    let dora = server.client();
    assert_eq!(login(&server, &dora, "dora@example.org", "Admin-pass-of-ex-6").await.status(), StatusCode::CREATED);
    let (s, v) = call(&dora, "GET", server.url("/api/v1/domains/example.org/directory"), None).await;
    assert_eq!((s, v["url"].as_str()), (StatusCode::OK, Some(slapd.ldaps_url().as_str())), "{v}");
    for (method, path, body) in [
        ("PUT", "/api/v1/domains/example.org/directory", Some(good.clone())),
        ("DELETE", "/api/v1/domains/example.org/directory", None),
        ("PUT", "/api/v1/domains/example.org/directory/bind-password", Some(json!({"password": "x-pass-1"}))),
        ("DELETE", "/api/v1/domains/example.org/directory/bind-password", None),
        ("POST", "/api/v1/domains/example.org/directory/test", Some(json!({}))),
        ("GET", "/api/v1/domains/other.test/directory", None),
        ("PUT", "/api/v1/domains/other.test/directory", Some(good.clone())),
    ] {
        let (s, v) = call(&dora, method, server.url(path), body).await;
        assert_eq!((s, code(&v)), (StatusCode::FORBIDDEN, "forbidden"), "{method} {path}: {v}");
    }
    // Bad bind passwords are refused; none is stored for a domain without a directory.
    for (body, domain) in [(json!({"password": ""}), "example.org"), (json!({"password": "a\nb"}), "example.org"), (json!({"password": "fine-pass-1"}), "other.test")] {
        let (s, v) = call(&admin, "PUT", server.url(&format!("/api/v1/domains/{domain}/directory/bind-password")), Some(body.clone())).await;
        assert!(s == StatusCode::BAD_REQUEST || s == StatusCode::NOT_FOUND, "{body} {domain}: {s} {v}");
    }
    let (s, v) = call(&admin, "PUT", server.url("/api/v1/domains/example.org/directory/bind-password"), Some(json!({"password": BIND_PW}))).await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{v}");
    let (s, v) = call(&admin, "POST", server.url("/api/v1/domains/example.org/directory/test"), Some(json!({"login": "alice"}))).await;
    assert_eq!((s, v["entry"]["dn"].as_str()), (StatusCode::OK, Some("uid=alice,ou=people,dc=test,dc=local")), "{v}");
    let (s, v) = call(&admin, "POST", server.url("/api/v1/domains/example.org/directory/test"), Some(json!({"login": "nobody"}))).await;
    assert_eq!((s, code(&v)), (StatusCode::NOT_FOUND, "not_found"), "{v}");
}

const SALES_DN: &str = "cn=sales,ou=groups,dc=test,dc=local";

/// Adds the groups OU and a sales group of `members` while slapd runs, so memberOf is kept.
fn add_sales_group(slapd: &Slapd, members: &[&str]) {
    let member_lines: String = members.iter().map(|m| format!("member: uid={m},ou=people,dc=test,dc=local\n")).collect();
    slapd.modify(&format!(
        "dn: ou=groups,dc=test,dc=local\nchangetype: add\nobjectClass: organizationalUnit\nou: groups\n\n\
         dn: {SALES_DN}\nchangetype: add\nobjectClass: groupOfNames\ncn: sales\n{member_lines}"
    ));
}

async fn group_of(server: &Server, admin: &Client, group: &str) -> Vec<String> {
    let (s, v) = call(admin, "GET", server.url("/api/v1/domains/example.org/groups"), None).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let g = v.as_array().unwrap().iter().find(|g| g["name"] == json!(group)).cloned().unwrap_or(Value::Null);
    let mut members: Vec<String> = g["members"].as_array().map(|m| m.iter().map(|x| x.as_str().unwrap().to_owned()).collect()).unwrap_or_default();
    members.sort();
    members
}

async fn a_sync_blocks_what_the_directory_removed_and_groups_follow_it(backend: Backend) {
    if !slapd_available("directory sync") {
        return;
    }
    let seed = format!("{}dn: ou=empty,dc=test,dc=local\nobjectClass: organizationalUnit\nou: empty\n\n", seed());
    let slapd = Slapd::start(&seed, None);
    add_sales_group(&slapd, &["alice", "dave"]);
    let (server, admin) = with_admin_using(ServerOptions::new(backend).env("DESKWARD_HTTP__TRUSTED_PROXIES", "127.0.0.1")).await;
    server.cli_ok(&["group", "add", "example.org", "sales"], None);
    add_account(&server, &admin, "example.org", "lou", "user", "Local-only-pass-8").await;
    server.cli_ok(&["group", "add-member", "example.org", "sales", "lou"], None);
    let mut body = settings(&slapd);
    body["new_account_class"] = Value::Null;
    body["group_map"] = json!([{"directory_group": SALES_DN, "group": "sales"}]);
    let (s, v) = put_directory(&server, &admin, body.clone()).await;
    assert_eq!((s, v["group_map"][0]["group"].as_str(), v["login_attribute"].as_str()), (StatusCode::OK, Some("sales"), Some("uid")), "{v}");
    server.cli_ok(&["directory", "password", "example.org"], Some(BIND_PW));

    // At their first logins alice joins sales (her directory group); carol does not.
    let carol = server.client();
    assert_eq!(login_from(&server, &carol, "10.9.9.9", "carol@example.org", CAROL_PW).await.status(), StatusCode::CREATED);
    assert_eq!(login_status(&server, "alice@example.org", ALICE_PW).await.0, StatusCode::CREATED);
    assert_eq!(group_of(&server, &admin, "sales").await, ["alice", "lou"]);
    let regrouped = records(&server, &admin, "domain=example.org&action=account.directory_groups").await;
    assert_eq!(regrouped[0]["summary"], json!({"added": ["sales"], "removed": []}), "{}", regrouped[0]);

    // The directory changes: alice leaves sales, carol's entry is deleted.
    slapd.modify(&format!("dn: {SALES_DN}\nchangetype: modify\ndelete: member\nmember: uid=alice,ou=people,dc=test,dc=local\n"));
    slapd.modify("dn: uid=carol,ou=staff,dc=test,dc=local\nchangetype: delete\n");
    let out = server.cli_ok(&["directory", "sync", "--domain", "example.org"], None);
    assert!(out.contains("blocked:   carol@example.org") && out.contains("regrouped: alice@example.org"), "{out}");
    // carol is blocked, not deleted, and her open session ended; alice left sales, lou (local) stayed.
    let (s, acc) = call(&admin, "GET", server.url("/api/v1/domains/example.org/accounts/carol"), None).await;
    assert_eq!((s, acc["disabled"].as_bool()), (StatusCode::OK, Some(true)), "{acc}");
    let (s, _) = call(&carol, "GET", server.url("/api/v1/me"), None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_eq!(group_of(&server, &admin, "sales").await, ["lou"]);
    let blocked = records(&server, &admin, "domain=example.org&action=account.directory_blocked").await;
    assert_eq!(blocked[0]["summary"]["reason"], json!("removed_from_directory"));
    let run = records(&server, &admin, "domain=example.org&action=directory.synced").await;
    assert_eq!((run[0]["actor"].as_str(), run[0]["summary"]["blocked"].clone()), (Some("operator"), json!(["carol@example.org"])), "{}", run[0]);
    // A mail address changed in the directory is followed.
    slapd.modify("dn: uid=dave,ou=people,dc=test,dc=local\nchangetype: modify\nreplace: mail\nmail: dave.new@corp.example\n");
    slapd.modify("dn: uid=alice,ou=people,dc=test,dc=local\nchangetype: modify\nreplace: mail\nmail: alice.new@corp.example\n");
    let (_, v) = call(&admin, "POST", server.url("/api/v1/domains/example.org/directory/sync"), None).await;
    assert_eq!(v["remailed"], json!(["alice@example.org"]), "only directory accounts follow: {v}");
    let (_, acc) = call(&admin, "GET", server.url("/api/v1/domains/example.org/accounts/alice"), None).await;
    assert_eq!(acc["email"], json!("alice.new@corp.example"));
    // A second sync finds nothing to do.
    let again = server.cli_ok(&["directory", "sync", "--domain", "example.org"], None);
    assert!(again.contains("blocked:   -") && again.contains("regrouped: -"), "{again}");

    // carol's entry comes back: the sync (through the API) lifts the block it made.
    slapd.modify(&format!("dn: uid=carol,ou=staff,dc=test,dc=local\nchangetype: add\nobjectClass: inetOrgPerson\nuid: carol\ncn: carol\nsn: Example\nuserPassword: {CAROL_PW}\n"));
    let (s, v) = call(&admin, "POST", server.url("/api/v1/domains/example.org/directory/sync"), None).await;
    assert_eq!((s, v["unblocked"].clone()), (StatusCode::OK, json!(["carol@example.org"])), "{v}");
    assert_eq!(login_status(&server, "carol@example.org", CAROL_PW).await.0, StatusCode::CREATED);
    // A block an administrator made is theirs: the directory does not lift it.
    let (s, _) = call(&admin, "PATCH", server.url("/api/v1/domains/example.org/accounts/alice"), Some(json!({"disabled": true}))).await;
    assert_eq!(s, StatusCode::OK);
    let (_, v) = call(&admin, "POST", server.url("/api/v1/domains/example.org/directory/sync"), None).await;
    assert_eq!(v["unblocked"], json!([]), "{v}");
    let (_, acc) = call(&admin, "GET", server.url("/api/v1/domains/example.org/accounts/alice"), None).await;
    assert_eq!(acc["disabled"], json!(true));

    // A search base with no entry (a wrong base, an emptied directory) blocks no one.
    body["base_dns"] = json!(["ou=empty,dc=test,dc=local"]);
    assert_eq!(put_directory(&server, &admin, body.clone()).await.0, StatusCode::OK);
    let (s, v) = call(&admin, "POST", server.url("/api/v1/domains/example.org/directory/sync"), None).await;
    assert_eq!((s, code(&v)), (StatusCode::SERVICE_UNAVAILABLE, "directory_unavailable"), "{v}");
    assert!(v["error"]["message"].as_str().unwrap().contains("nothing was blocked"), "{v}");
    // So does a base that does not exist.
    body["base_dns"] = json!(["ou=people,dc=test,dc=local", "ou=gone,dc=test,dc=local"]);
    assert_eq!(put_directory(&server, &admin, body).await.0, StatusCode::OK);
    let (s, v) = call(&admin, "POST", server.url("/api/v1/domains/example.org/directory/sync"), None).await;
    assert_eq!((s, code(&v)), (StatusCode::SERVICE_UNAVAILABLE, "directory_unavailable"), "{v}");
    let (_, acc) = call(&admin, "GET", server.url("/api/v1/domains/example.org/accounts/carol"), None).await;
    assert_eq!(acc["disabled"], json!(false), "{acc}");
}

on_both_stores! {
    directory_sync => a_sync_blocks_what_the_directory_removed_and_groups_follow_it;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_active_directory_tree_is_followed_on_schedule() {
    if !slapd_available("active directory preset") {
        return;
    }
    // AD's names: sAMAccountName for the login, userAccountControl's bit 2 for "disabled".
    let seed = format!(
        "dn: ou=users,dc=test,dc=local\nobjectClass: organizationalUnit\nou: users\n\n\
         dn: {BIND_DN_AD}\nobjectClass: person\ncn: svc\nsn: service\nuserPassword: {BIND_PW}\n\n\
         dn: cn=Erin Example,ou=users,dc=test,dc=local\nobjectClass: inetOrgPerson\nobjectClass: user\ncn: Erin Example\nsn: Example\n\
         displayName: Erin Example\nsAMAccountName: erin\nuserPrincipalName: erin@corp.example\nuserAccountControl: 512\nmail: erin@corp.example\nuserPassword: {ALICE_PW}\n\n"
    );
    let slapd = Slapd::start(&seed, Some(deskward_testkit::AD_LIKE_SCHEMA));
    let options = ServerOptions::new(Backend::Sqlite).env("DESKWARD_DIRECTORY__SYNC_EVERY", "1s");
    let (server, admin) = with_admin_using(options).await;
    let body = json!({
        "url": slapd.ldaps_url(), "security": "ldaps", "preset": "active-directory", "bind_dn": BIND_DN_AD,
        "base_dns": ["ou=users,dc=test,dc=local"], "ca_certificate": slapd.ca_pem(),
    });
    let (s, v) = put_directory(&server, &admin, body).await;
    assert_eq!((s, v["user_filter"].as_str(), v["name_attribute"].as_str()), (StatusCode::OK, Some("(&(objectClass=user)(sAMAccountName={user}))"), Some("displayName")), "{v}");
    server.cli_ok(&["directory", "password", "example.org"], Some(BIND_PW));
    let tested = server.cli_ok(&["directory", "test", "example.org", "--login", "erin"], None);
    assert!(tested.contains("Erin Example") && !tested.contains("disabled"), "{tested}");
    assert_eq!(login_status(&server, "erin@example.org", ALICE_PW).await.0, StatusCode::CREATED);

    // Disabled in the directory: the scheduled sync blocks the account, and a login is refused
    // after the right password.
    slapd.modify("dn: cn=Erin Example,ou=users,dc=test,dc=local\nchangetype: modify\nreplace: userAccountControl\nuserAccountControl: 514\n");
    let blocked = eventually_for(Duration::from_secs(10), || async {
        let (_, acc) = call(&admin, "GET", server.url("/api/v1/domains/example.org/accounts/erin"), None).await;
        acc["disabled"] == json!(true)
    })
    .await;
    assert!(blocked, "the scheduled sync did not block a disabled entry");
    let (s, v) = login_status(&server, "erin@example.org", ALICE_PW).await;
    assert_eq!((s, code(&v)), (StatusCode::FORBIDDEN, "account_disabled"), "{v}");
    let b = records(&server, &admin, "domain=example.org&action=account.directory_blocked").await;
    assert_eq!((b[0]["actor"].as_str(), b[0]["summary"]["reason"].as_str()), (Some("system"), Some("disabled_in_directory")), "{}", b[0]);
    // Enabled again: unblocked on schedule, and the login works.
    slapd.modify("dn: cn=Erin Example,ou=users,dc=test,dc=local\nchangetype: modify\nreplace: userAccountControl\nuserAccountControl: 512\n");
    let unblocked = eventually_for(Duration::from_secs(10), || async {
        let (_, acc) = call(&admin, "GET", server.url("/api/v1/domains/example.org/accounts/erin"), None).await;
        acc["disabled"] == json!(false)
    })
    .await;
    assert!(unblocked, "the scheduled sync did not unblock a re-enabled entry");
    assert_eq!(login_status(&server, "erin@example.org", ALICE_PW).await.0, StatusCode::CREATED);
    // Scheduled syncs that change nothing leave no record.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let runs = records(&server, &admin, "domain=example.org&action=directory.synced").await;
    assert!(runs.iter().all(|r| r["summary"]["blocked"] != json!([]) || r["summary"]["unblocked"] != json!([])), "{runs:?}");
}

const BIND_DN_AD: &str = "cn=svc,ou=users,dc=test,dc=local";

/// True once `check` holds, trying until `limit`.
async fn eventually_for<F, Fut>(limit: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    while started.elapsed() < limit {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_connects_tests_and_syncs_a_directory_on_the_pages() {
    if !slapd_available("directory pages") {
        return;
    }
    let slapd = Slapd::start(&seed(), None);
    let (server, admin) = with_admin(Backend::Sqlite).await;
    add_account(&server, &admin, "example.org", "dora", "domain-admin", "Admin-pass-of-ex-6").await;
    // A domain administrator reads the page and changes nothing.
    let dora = server.client();
    assert_eq!(login(&server, &dora, "dora@example.org", "Admin-pass-of-ex-6").await.status(), StatusCode::CREATED);
    let r = dora.get(server.url("/admin/directories/example.org")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let page = r.text().await.unwrap();
    assert!(page.contains("is not connected to a directory") && !page.contains("settings-form"), "{page}");
    let csrf = page.split("name=\"csrf\" value=\"").nth(1).map(|c| c.split('"').next().unwrap().to_owned());
    assert!(csrf.is_none(), "a read-only page carries no form");
    let account = dora.get(server.url("/account")).send().await.unwrap().text().await.unwrap();
    let csrf = account.split("name=\"csrf\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_owned();
    let r = dora.post(server.url("/admin/directories/example.org/sync")).form(&[("csrf", csrf.as_str())]).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = dora.get(server.url("/admin/directories/other.test")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    // A forged form is refused.
    let r = admin.post(server.url("/admin/directories/example.org/sync")).form(&[("csrf", "forged")]).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);

    if !deskward_testkit::browser_available("directory pages") {
        return;
    }
    let b = deskward_testkit::Browser::start().await.expect("chromium starts");
    log_in_on_page(&b, &server, ADMIN, ADMIN_PW).await;
    b.click("#admin-directories").await.unwrap();
    b.wait_for_path("/admin/directories").await.unwrap();
    b.click("a[href='/admin/directories/example.org']").await.unwrap();
    b.wait_for_path("/admin/directories/example.org").await.unwrap();
    b.fill("#url", &slapd.ldaps_url()).await.unwrap();
    b.fill("#bind-dn", BIND_DN).await.unwrap();
    b.fill("#base-dns", "ou=people,dc=test,dc=local\nou=staff,dc=test,dc=local").await.unwrap();
    b.fill("#ca", &slapd.ca_pem()).await.unwrap();
    b.click("#save").await.unwrap();
    b.wait_for_text("#notice", "settings are saved").await.unwrap();
    assert!(b.text("#settings").await.unwrap().contains("not stored"));
    b.fill("#bind-password", BIND_PW).await.unwrap();
    b.click("#store-password").await.unwrap();
    b.wait_for_text("#notice", "bind password is stored").await.unwrap();
    b.fill("#test-login", "alice").await.unwrap();
    b.click("#test").await.unwrap();
    b.wait_for_text("#notice", "uid=alice,ou=people,dc=test,dc=local").await.unwrap();
    // alice logs in (her account is made), then the sync from the page reports it.
    assert_eq!(login_status(&server, "alice@example.org", ALICE_PW).await.0, StatusCode::CREATED);
    b.click("#sync").await.unwrap();
    b.wait_for_text("#notice", "Synced: 3 entries, 1 accounts, 0 blocked").await.unwrap();
    assert!(!b.text("#last-sync").await.unwrap().contains("never"));
    // The order of the back ends: the default names the directory now; a directory-only
    // order without local would lock the administrator out and is refused, a directory-first
    // order is saved, a made-up back end is refused, and the default comes back.
    assert!(b.text("#auth-order").await.unwrap().contains("local, then directory (the default)"));
    b.fill("#backends", "directory").await.unwrap();
    b.click("#save-order").await.unwrap();
    b.wait_for_text("#error", "lock yourself out").await.unwrap();
    b.fill("#backends", "directory local").await.unwrap();
    b.click("#save-order").await.unwrap();
    b.wait_for_text("#notice", "order of the back ends is saved").await.unwrap();
    assert!(!b.text("#auth-order").await.unwrap().contains("default"));
    b.fill("#backends", "directory plugin:none").await.unwrap();
    b.click("#save-order").await.unwrap();
    b.wait_for_text("#error", "plugin none in the server").await.unwrap();
    b.click("#reset-order").await.unwrap();
    b.wait_for_text("#auth-order", "(the default)").await.unwrap();
    // A refused setting shows the reason on the page and keeps the old settings.
    b.fill("#url", "http://elsewhere").await.unwrap();
    b.click("#save").await.unwrap();
    b.wait_for_text("#error", "must look like ldaps://host:636").await.unwrap();
    assert_no_csp_violations(&b).await;
    b.quit().await;
    let (_, v) = call(&admin, "GET", server.url("/api/v1/domains/example.org/directory"), None).await;
    assert_eq!(v["url"], json!(slapd.ldaps_url()));
    let set = records(&server, &admin, "domain=example.org&action=directory.set").await;
    assert_eq!(set.len(), 1);
    assert_eq!(records(&server, &admin, "domain=example.org&action=domain.auth_order").await.len(), 2);
}
