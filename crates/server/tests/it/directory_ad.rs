//! Directory logins (A1) against a real Active Directory: Samba's domain controller on
//! loopback, connected with the `active-directory` preset over LDAPS. People log in with their
//! AD password and their accounts are made with AD's mail; memberOf keeps a Deskward group;
//! what an AD administrator does (a password reset, a group change, disabling a user) reaches
//! Deskward at the next login or sync. Single sign-on takes a ticket from the controller's
//! KDC for a keytab an AD administrator exported. One controller serves the scenario on each
//! store.

use deskward_testkit::{AD_PEOPLE_DN, Backend, SambaDc, Server, ServerOptions, postgres_available, samba_dc_available};
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};

use crate::audit::records;
use crate::support::*;

const ALICE_PW: &str = "Alice-ad-pass-1";
const ALICE_NEW_PW: &str = "Alice-ad-pass-2";
const BOB_PW: &str = "Bob-ad-pass-3";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn active_directory_users_log_in_and_follow_the_directory() {
    if !samba_dc_available("active directory logins") {
        return;
    }
    let dc = SambaDc::start();
    let keytab = dc.http_keytab();
    people_log_in_with_their_ad_password(&dc, &keytab, Backend::Sqlite, "sq").await;
    if postgres_available("active directory logins on postgres") {
        people_log_in_with_their_ad_password(&dc, &keytab, Backend::Postgres, "pg").await;
    }
}

/// Logs in from an address of the login's own, so the guard's count per client does not add
/// up across the test's refusals.
async fn login_status(server: &Server, login_name: &str, password: &str) -> (StatusCode, Value) {
    let h = login_name.bytes().fold(11u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b)));
    let from = format!("10.{}.{}.{}", (h >> 16) as u8, (h >> 8) as u8, h as u8);
    login_answer(server, &from, login_name, password).await
}

async fn group_of(server: &Server, admin: &Client, group: &str) -> Vec<String> {
    let (s, v) = call(admin, "GET", server.url("/api/v1/domains/example.org/groups"), None).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let g = v.as_array().unwrap().iter().find(|g| g["name"] == json!(group)).cloned().unwrap_or(Value::Null);
    let mut members: Vec<String> = g["members"].as_array().map(|m| m.iter().map(|x| x.as_str().unwrap().to_owned()).collect()).unwrap_or_default();
    members.sort();
    members
}

/// The scenario on one store; `tag` keeps its people and group apart from the other store's
/// in the one domain.
async fn people_log_in_with_their_ad_password(dc: &SambaDc, keytab: &std::path::Path, backend: Backend, tag: &str) {
    let (alice, bob) = (format!("alice-{tag}"), format!("bob-{tag}"));
    let (alice_at, bob_at) = (format!("{alice}@example.org"), format!("{bob}@example.org"));
    let alice_dn = dc.add_user(&alice, ALICE_PW, "Alice", "Example", &format!("{alice}@corp.example"));
    dc.add_user(&bob, BOB_PW, "Bob", "Example", &format!("{bob}@corp.example"));
    let sales = format!("Sales-{tag}");
    let sales_dn = dc.add_group(&sales);
    dc.add_member(&sales, &alice);

    let options = ServerOptions::new(backend)
        .env("DESKWARD_HTTP__TRUSTED_PROXIES", "127.0.0.1")
        .env("DESKWARD_KERBEROS__KEYTAB", keytab.to_str().unwrap())
        .env("DESKWARD_KERBEROS__SERVICE", "HTTP/localhost@AD.TEST")
        .env("DESKWARD_KERBEROS__REALMS", "AD.TEST=example.org")
        .env("KRB5_CONFIG", dc.krb5_config().to_str().unwrap());
    let (server, admin) = with_admin_using(options).await;
    server.cli_ok(&["group", "add", "example.org", "sales"], None);
    let ca = dc.ca_file().display().to_string();
    let keep = format!("{sales_dn}=sales");
    let bind_dn = dc.bind_dn();
    let url = dc.ldaps_url();
    let set = server.cli_ok(
        &["directory", "set", "example.org", "--url", &url, "--preset", "active-directory", "--bind-dn", &bind_dn, "--base-dn", AD_PEOPLE_DN, "--keep-group", &keep, "--ca-file", &ca],
        None,
    );
    assert!(set.contains("directory password"), "{set}");
    let (s, v) = call(&admin, "GET", server.url("/api/v1/domains/example.org/directory"), None).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(
        (v["preset"].as_str(), v["user_filter"].as_str(), v["login_attribute"].as_str(), v["name_attribute"].as_str(), v["group_attribute"].as_str()),
        (Some("active-directory"), Some("(&(objectClass=user)(sAMAccountName={user}))"), Some("sAMAccountName"), Some("displayName"), Some("memberOf")),
        "{v}"
    );
    server.cli_ok(&["directory", "password", "example.org"], Some(dc.bind_password()));
    let tested = server.cli_ok(&["directory", "test", "example.org", "--login", &alice], None);
    assert!(tested.contains(&alice_dn) && tested.contains(&format!("{alice}@corp.example")) && tested.contains("Alice Example") && tested.contains(&sales_dn), "{tested}");
    assert!(!tested.contains("disabled"), "{tested}");

    // First login with the AD password: the account is made, mailed at AD's mail, and kept
    // in sales through memberOf.
    let alice_client = server.client();
    assert_eq!(login_from(&server, &alice_client, "10.0.0.1", &alice_at, ALICE_PW).await.status(), StatusCode::CREATED);
    let (s, me) = call(&alice_client, "GET", server.url("/api/v1/me"), None).await;
    assert_eq!((s, me["login"].as_str()), (StatusCode::OK, Some(alice_at.as_str())), "{me}");
    let (_, acc) = call(&admin, "GET", server.url(&format!("/api/v1/domains/example.org/accounts/{alice}")), None).await;
    let alice_mail = format!("{alice}@corp.example");
    assert_eq!((acc["role"].as_str(), acc["email"].as_str()), (Some("user"), Some(alice_mail.as_str())), "{acc}");
    let made = records(&server, &admin, "domain=example.org&action=account.create").await;
    let made: Vec<&Value> = made.iter().filter(|r| r["target"] == json!(format!("account:{alice_at}"))).collect();
    assert_eq!(made.len(), 1);
    assert_eq!((made[0]["summary"]["source"].as_str(), made[0]["summary"]["dn"].as_str()), (Some("directory"), Some(alice_dn.as_str())), "{}", made[0]);
    assert_eq!(group_of(&server, &admin, "sales").await, [alice.as_str()]);

    // Single sign-on: a ticket from AD's KDC opens alice's session without her password,
    // through the keytab an AD administrator exported for HTTP/localhost.
    dc.kinit(&alice, ALICE_PW);
    let (jar, cert) = (server.data_dir.join("cookies.txt"), server.data_dir.join("tls/cert.pem"));
    let at = |path: &str| format!("https://localhost:{}{path}", server.addr.port());
    let out = dc.curl(&at("/login/kerberos"), server.addr, &cert, &jar);
    let verbose = String::from_utf8_lossy(&out.stderr);
    assert!(verbose.contains(" 303") && verbose.contains("location: /account"), "{verbose}");
    let out = dc.curl(&at("/api/v1/me"), server.addr, &cert, &jar);
    let me: Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    assert_eq!(me["login"].as_str(), Some(alice_at.as_str()), "{me}");
    let logins = records(&server, &admin, "domain=example.org&action=login").await;
    assert!(logins.iter().any(|r| r["target"] == json!(format!("account:{alice_at}")) && r["summary"]["method"] == "kerberos"), "{logins:?}");

    // bob is in no kept group.
    let bob_client = server.client();
    assert_eq!(login_from(&server, &bob_client, "10.0.0.2", &bob_at, BOB_PW).await.status(), StatusCode::CREATED);
    assert_eq!(group_of(&server, &admin, "sales").await, [alice.as_str()]);

    // Refusals: a wrong password and an unknown person (401, telling nothing), an empty
    // password and a filter injection (refused before any search).
    for (who, pw) in [(alice_at.as_str(), "Not-her-password-1"), ("nobody@example.org", ALICE_PW)] {
        let (s, v) = login_status(&server, who, pw).await;
        assert_eq!((s, code(&v)), (StatusCode::UNAUTHORIZED, "invalid_credentials"), "{who}: {v}");
    }
    for (who, pw) in [(alice_at.as_str(), ""), ("*)(sAMAccountName=*@example.org", ALICE_PW), ("*@example.org", ALICE_PW)] {
        let (s, v) = login_status(&server, who, pw).await;
        assert!(s == StatusCode::UNAUTHORIZED || s == StatusCode::BAD_REQUEST, "{who} {pw:?}: {s} {v}");
        if s == StatusCode::UNAUTHORIZED {
            assert_eq!(code(&v), "invalid_credentials", "{who} {pw:?}: {v}");
        }
    }
    let reasons = failure_reasons(&server, &admin, &alice_at, 2).await;
    assert!(reasons.iter().any(|r| r == "wrong_password") && reasons.iter().any(|r| r == "malformed_password"), "{reasons:?}");
    assert_eq!(failure_reasons(&server, &admin, "nobody@example.org", 1).await, ["unknown_account"]);

    // An AD administrator resets alice's password: the new one works at once, the old one
    // stops at once.
    dc.set_password(&alice, ALICE_NEW_PW);
    assert_eq!(login_status(&server, &alice_at, ALICE_PW).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(login_status(&server, &alice_at, ALICE_NEW_PW).await.0, StatusCode::CREATED);

    // Group changes in AD reach the kept group at a sync.
    dc.add_member(&sales, &bob);
    dc.remove_member(&sales, &alice);
    let out = server.cli_ok(&["directory", "sync", "--domain", "example.org"], None);
    assert!(out.contains(&alice_at) && out.contains(&bob_at) && out.contains("blocked:   -"), "{out}");
    assert_eq!(group_of(&server, &admin, "sales").await, [bob.as_str()]);

    // bob is disabled in AD: the connection test says so, a sync blocks his account and ends
    // his session; enabled again, a sync lifts the block and he logs in.
    dc.disable_user(&bob);
    let tested = server.cli_ok(&["directory", "test", "example.org", "--login", &bob], None);
    assert!(tested.contains("disabled: yes"), "{tested}");
    let (s, v) = call(&admin, "POST", server.url("/api/v1/domains/example.org/directory/sync"), None).await;
    assert_eq!((s, v["blocked"].clone()), (StatusCode::OK, json!([bob_at])), "{v}");
    let (_, acc) = call(&admin, "GET", server.url(&format!("/api/v1/domains/example.org/accounts/{bob}")), None).await;
    assert_eq!(acc["disabled"], json!(true), "{acc}");
    let (s, _) = call(&bob_client, "GET", server.url("/api/v1/me"), None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let blocked = records(&server, &admin, "domain=example.org&action=account.directory_blocked").await;
    assert_eq!(blocked[0]["summary"]["reason"], json!("disabled_in_directory"), "{}", blocked[0]);
    let (s, v) = login_status(&server, &bob_at, "Not-his-password-1").await;
    assert_eq!((s, code(&v)), (StatusCode::UNAUTHORIZED, "invalid_credentials"), "{v}");
    dc.enable_user(&bob);
    let (s, v) = call(&admin, "POST", server.url("/api/v1/domains/example.org/directory/sync"), None).await;
    assert_eq!((s, v["unblocked"].clone()), (StatusCode::OK, json!([bob_at])), "{v}");
    assert_eq!(login_status(&server, &bob_at, BOB_PW).await.0, StatusCode::CREATED);

    // The bind password reaches no audit record.
    let (_, all) = call(&admin, "GET", server.url("/api/v1/audit?limit=10000"), None).await;
    assert!(!all.to_string().contains(dc.bind_password()) && !all.to_string().contains(ALICE_PW));

    // Disabled in AD, bob is refused as disabled after the right password, and only then:
    // AD refuses a disabled user's bind (result 49, "data 533") rather than letting it succeed.
    dc.disable_user(&bob);
    let (s, v) = login_status(&server, &bob_at, BOB_PW).await;
    assert_eq!((s, code(&v)), (StatusCode::FORBIDDEN, "account_disabled"), "a user disabled in AD, with the right password: {v}");

    // AD's other "right password, but…" answers say what to do, and only after the right
    // password; none counts as a guess.
    dc.enable_user(&bob);
    let must_change = "Reset-by-admin-pass-5";
    dc.tool(&["user", "setpassword", &bob, &format!("--newpassword={must_change}"), "--must-change-at-next-login"]);
    let (s, v) = login_status(&server, &bob_at, must_change).await;
    assert_eq!((s, code(&v)), (StatusCode::FORBIDDEN, "directory_password_expired"), "must change at next login: {v}");
    assert!(v["error"]["message"].as_str().unwrap().contains("change it there"), "{v}");
    assert_eq!(login_status(&server, &bob_at, "Not-his-password-2").await.0, StatusCode::UNAUTHORIZED);
    dc.set_password(&bob, BOB_PW);
    assert_eq!(login_status(&server, &bob_at, BOB_PW).await.0, StatusCode::CREATED);
    dc.tool(&["user", "setexpiry", &bob, "--days=0"]);
    let (s, v) = login_status(&server, &bob_at, BOB_PW).await;
    assert_eq!((s, code(&v)), (StatusCode::FORBIDDEN, "account_disabled"), "an expired AD account: {v}");
    // Five failed logins of bob's so far; waiting for fewer raced the batched writer.
    let reasons = failure_reasons(&server, &admin, &bob_at, 5).await;
    for want in ["directory_password_must_change", "directory_account_expired"] {
        assert!(reasons.iter().any(|r| r == want), "{want} in {reasons:?}");
    }
}
