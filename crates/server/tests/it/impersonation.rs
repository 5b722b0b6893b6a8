//! An administrator acting for an account: who may, what the session may not do, when it
//! ends, and the audit records that name both people.

use deskward_testkit::{Backend, Server, on_both_stores};
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};

use crate::audit::records;
use crate::support::{ADMIN, add_account, call, code, eventually, files_under, logged_in, login, sql, with_admin};

on_both_stores! {
    an_administrator_acts_for_a_user => an_administrator_acts_for_a_user;
    impersonation_is_refused_beyond_the_administrators_reach => impersonation_is_refused_beyond_the_administrators_reach;
}

const PW: &str = "Acting-test-pass-19";
const D: &str = "/api/v1/domains/example.org";

/// Calls with a bearer token, as an API client holding an impersonation token does.
async fn bearer(server: &Server, token: &str, method: &str, path: &str, body: Option<Value>) -> (StatusCode, Value) {
    // A client of its own: no cookie of anyone's.
    let client = server.client();
    let mut r = client.request(method.parse().unwrap(), server.url(path)).bearer_auth(token);
    if let Some(b) = body {
        r = r.json(&b);
    }
    let r = r.send().await.unwrap();
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}


/// Opens an impersonation; the status and the body.
async fn act_for(server: &Server, admin: &Client, who: &str, reason: &str) -> (StatusCode, Value) {
    let (domain, name) = who.split_once('@').map(|(n, d)| (d, n)).unwrap();
    call(admin, "POST", server.url(&format!("/api/v1/domains/{domain}/accounts/{name}/impersonate")), Some(json!({ "reason": reason }))).await
}

async fn an_administrator_acts_for_a_user(backend: Backend) {
    let (server, admin) = with_admin(backend).await;
    add_account(&server, &admin, "example.org", "dana", "domain-admin", PW).await;
    add_account(&server, &admin, "example.org", "bob", "user", PW).await;
    add_account(&server, &admin, "example.org", "root2", "system-admin", PW).await;
    let dana = logged_in(&server, "dana@example.org", PW).await;
    let bob = logged_in(&server, "bob@example.org", PW).await;

    let (s, v) = act_for(&server, &dana, "bob@example.org", "ticket 7: cannot find the sales folder").await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!((v["session"]["login"].as_str(), v["session"]["acting_admin"].as_str()), (Some("bob@example.org"), Some("dana@example.org")));
    let token = v["token"].as_str().unwrap().to_owned();
    // Dana's own session carries on.
    let (s, me) = call(&dana, "GET", server.url("/api/v1/me"), None).await;
    assert_eq!((s, me["login"].as_str(), me.get("acting_admin")), (StatusCode::OK, Some("dana@example.org"), None));

    // The session is bob's: what it does is bob's, with dana named in every record.
    let (s, me) = bearer(&server, &token, "GET", "/api/v1/me", None).await;
    assert_eq!((s, me["login"].as_str(), me["acting_admin"].as_str()), (StatusCode::OK, Some("bob@example.org"), Some("dana@example.org")));
    let (s, v) = bearer(&server, &token, "POST", "/api/v1/items/folders", Some(json!({"name": "Found it"}))).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let made = records(&server, &admin, "action=folder.create").await;
    assert_eq!((made[0]["actor"].as_str(), made[0]["acting"].as_str()), (Some("bob@example.org"), Some("dana@example.org")), "{}", made[0]);
    let opened = &records(&server, &admin, "action=login.impersonation").await[0];
    assert_eq!((opened["actor"].as_str(), opened["target"].as_str()), (Some("dana@example.org"), Some("account:bob@example.org")), "{opened}");
    assert_eq!(opened["summary"]["reason"], "ticket 7: cannot find the sales folder");
    // It lasts an hour at most, however long bob's own sessions last.
    let expires = server.cli_ok(&["audit", "list", "--action", "login.impersonation"], None);
    assert!(expires.contains("expires_at"), "{expires}");
    // A search for dana finds what she did as bob.
    let hers = records(&server, &admin, "user=dana@example.org&action=folder.create").await;
    assert_eq!(hers.len(), 1, "{hers:?}");
    // Records written by sessions of one's own carry no `acting`.
    let own = records(&server, &admin, "action=login").await;
    assert!(own.iter().filter(|r| r["action"] == "login").all(|r| r.get("acting").is_none()), "{own:?}");

    // Not while acting: the password, or acting for someone else.
    let (s, v) = bearer(&server, &token, "PUT", "/api/v1/me/password", Some(json!({"current_password": PW, "new_password": "Whatever-new-pass-88"}))).await;
    assert_eq!((s, code(&v)), (StatusCode::FORBIDDEN, "forbidden"), "{v}");
    assert_eq!(login(&server, &server.client(), "bob@example.org", PW).await.status(), StatusCode::CREATED, "bob's password is unchanged");

    // Bob sees it among his sessions and recent logins, and may end it.
    let (_, sessions) = call(&bob, "GET", server.url("/api/v1/me/sessions"), None).await;
    let acting: Vec<&Value> = sessions.as_array().unwrap().iter().filter(|s| s["acting_admin"] == "dana@example.org").collect();
    assert_eq!(acting.len(), 1, "{sessions}");
    let (_, logins) = call(&bob, "GET", server.url("/api/v1/me/logins"), None).await;
    assert!(logins.as_array().unwrap().iter().any(|r| r["action"] == "login.impersonation"), "{logins}");
    let id = acting[0]["id"].as_str().unwrap();
    let (s, _) = call(&bob, "DELETE", server.url(&format!("/api/v1/me/sessions/{id}")), None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert!(eventually(|| async { bearer(&server, &token, "GET", "/api/v1/me", None).await.0 == StatusCode::UNAUTHORIZED }).await);

    // Logging out of an impersonation is recorded with both names.
    let (_, v) = act_for(&server, &dana, "bob@example.org", "ticket 8").await;
    let token = v["token"].as_str().unwrap().to_owned();
    assert_eq!(bearer(&server, &token, "DELETE", "/api/v1/session", None).await.0, StatusCode::NO_CONTENT);
    let out = &records(&server, &admin, "action=logout").await[0];
    assert_eq!((out["actor"].as_str(), out["acting"].as_str()), (Some("bob@example.org"), Some("dana@example.org")), "{out}");

    // The administrator's own account decides: disabled, their impersonations end.
    let (_, v) = act_for(&server, &dana, "bob@example.org", "ticket 9").await;
    let token = v["token"].as_str().unwrap().to_owned();
    let (s, _) = call(&admin, "PATCH", server.url(&format!("{D}/accounts/dana")), Some(json!({"disabled": true}))).await;
    assert_eq!(s, StatusCode::OK);
    assert!(eventually(|| async { bearer(&server, &token, "GET", "/api/v1/me", None).await.0 == StatusCode::UNAUTHORIZED }).await);
    // …and a changed role ends them too.
    let root2 = logged_in(&server, "root2@example.org", PW).await;
    let (s, v) = act_for(&server, &root2, "bob@example.org", "ticket 10").await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let token = v["token"].as_str().unwrap().to_owned();
    let (s, _) = call(&admin, "PATCH", server.url(&format!("{D}/accounts/root2")), Some(json!({"role": "domain-admin"}))).await;
    assert_eq!(s, StatusCode::OK);
    assert!(eventually(|| async { bearer(&server, &token, "GET", "/api/v1/me", None).await.0 == StatusCode::UNAUTHORIZED }).await);

    // The chain covers `acting`: it verifies, exports with it, and an edit of it is named.
    let out = server.cli_ok(&["audit", "verify", "--domain", "example.org"], None);
    assert!(out.contains("intact"), "{out}");
    let dir = server.data_dir.join("export");
    server.cli_ok(&["audit", "export", "--domain", "example.org", "--out", dir.to_str().unwrap()], None);
    let exported: String = files_under(&dir.join("example.org")).iter().map(|f| std::fs::read_to_string(f).unwrap()).collect();
    assert!(exported.contains("\"acting\":\"dana@example.org\""), "the export names the acting administrator");
    let out = server.cli_ok(&["audit", "verify", "--domain", "example.org", "--archive", dir.to_str().unwrap()], None);
    assert!(out.contains("intact"), "{out}");
    sql(&server, "UPDATE audit_records SET acting = 'someone.else@example.org' WHERE acting = 'dana@example.org' AND action = 'folder.create'").await;
    let out = server.cli(&["audit", "verify", "--domain", "example.org"], None);
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(!out.status.success() && text.contains("folder.create"), "an edited acting administrator is named: {text}");
}


async fn impersonation_is_refused_beyond_the_administrators_reach(backend: Backend) {
    let (server, admin) = with_admin(backend).await;
    server.cli_ok(&["domain", "add", "other.test"], None);
    add_account(&server, &admin, "example.org", "dana", "domain-admin", PW).await;
    add_account(&server, &admin, "example.org", "dora", "domain-admin", PW).await;
    add_account(&server, &admin, "example.org", "ann", "agent", PW).await;
    add_account(&server, &admin, "example.org", "bob", "user", PW).await;
    add_account(&server, &admin, "example.org", "gone", "user", PW).await;
    add_account(&server, &admin, "other.test", "eve", "user", PW).await;
    let dana = logged_in(&server, "dana@example.org", PW).await;
    let ann = logged_in(&server, "ann@example.org", PW).await;

    // Not above or beside one's own role, not in another domain, not oneself.
    for (who, status) in [
        (ADMIN, StatusCode::FORBIDDEN),
        ("dora@example.org", StatusCode::FORBIDDEN),
        ("eve@other.test", StatusCode::FORBIDDEN),
        ("dana@example.org", StatusCode::BAD_REQUEST),
        ("nobody@example.org", StatusCode::NOT_FOUND),
    ] {
        let (s, v) = act_for(&server, &dana, who, "a reason").await;
        assert_eq!(s, status, "dana acting for {who}: {v}");
    }
    // An agent is no administrator.
    let (s, v) = act_for(&server, &ann, "bob@example.org", "a reason").await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
    // A reason is required, and bounded.
    for reason in ["", "   ", &"x".repeat(201)] {
        let (s, v) = act_for(&server, &dana, "bob@example.org", reason).await;
        assert_eq!((s, code(&v)), (StatusCode::BAD_REQUEST, "invalid_input"), "reason {reason:?}: {v}");
    }
    // A disabled account cannot be acted for.
    let (s, _) = call(&admin, "PATCH", server.url(&format!("{D}/accounts/gone")), Some(json!({"disabled": true}))).await;
    assert_eq!(s, StatusCode::OK);
    let (s, v) = act_for(&server, &dana, "gone@example.org", "a reason").await;
    assert_eq!((s, code(&v)), (StatusCode::FORBIDDEN, "account_disabled"), "{v}");
    // An impersonation cannot open another, not even of an account below.
    let (_, v) = act_for(&server, &admin, "dana@example.org", "checking her view").await;
    let token = v["token"].as_str().unwrap().to_owned();
    let (s, v) = bearer(&server, &token, "POST", &format!("{D}/accounts/bob/impersonate"), Some(json!({"reason": "nested"}))).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
    // Refusals are security events naming the route.
    let denied = crate::audit::events(&server, &admin, "security=true&action=access.denied", 5).await;
    assert!(denied.iter().any(|r| r["target"].as_str().is_some_and(|t| t.contains("/impersonate"))), "{denied:?}");
    // Nothing was opened by the refusals: only the one impersonation above.
    assert_eq!(records(&server, &admin, "action=login.impersonation").await.len(), 1);
}
