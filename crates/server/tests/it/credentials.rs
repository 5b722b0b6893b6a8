//! Passwords: policy rules named on refusal, expiry forcing a change first, no reuse, re-hash
//! when parameters change, and legacy hashes imported, accepted once and upgraded.

use deskward_testkit::{Backend, on_both_stores};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::*;

on_both_stores! {
    refused_password_names_every_broken_rule => refused_password_names_every_broken_rule;
    expired_password_must_be_changed_first => expired_password_must_be_changed_first;
    previous_passwords_cannot_be_reused => previous_passwords_cannot_be_reused;
    hash_is_upgraded_when_parameters_change => hash_is_upgraded_when_parameters_change;
    legacy_hashes_are_imported_and_upgraded => legacy_hashes_are_imported_and_upgraded;
}

fn rules(v: &Value) -> Vec<String> {
    v["error"]["violations"].as_array().map_or_else(Vec::new, |a| a.iter().map(|x| x["rule"].as_str().unwrap_or("").to_owned()).collect())
}

async fn refused_password_names_every_broken_rule(backend: Backend) {
    let (server, admin) = with_admin(backend).await;
    let policy = json!({"min_length": 14, "min_non_letters": 2, "require_lowercase": true, "require_uppercase": true,
        "require_digit": true, "require_symbol": true, "reject_common": true, "max_age_days": 90, "history": 3});
    let (s, v) = call(&admin, "PUT", server.url("/api/v1/domains/example.org/policies/staff"), Some(policy.clone())).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (_, v) = call(&admin, "GET", server.url("/api/v1/domains/example.org/policies/staff"), None).await;
    assert_eq!(v, policy);

    let create = |name: &str, role: &str, pw: &str| json!({"name": name, "role": role, "password": pw});
    let url = server.url("/api/v1/domains/example.org/accounts");
    let (s, v) = call(&admin, "POST", url.clone(), Some(create("agent1", "agent", "qzvk"))).await;
    assert_eq!((s, code(&v)), (StatusCode::UNPROCESSABLE_ENTITY, "password_policy"));
    assert_eq!(rules(&v), ["min_length", "min_non_letters", "require_uppercase", "require_digit", "require_symbol"]);
    assert!(v["error"]["message"].as_str().unwrap().contains("at least 14 characters"), "{v}");
    // The shipped list is checked case-insensitively.
    let (s, v) = call(&admin, "POST", url.clone(), Some(create("agent1", "user", "SuperMan123"))).await;
    assert_eq!((s, rules(&v)), (StatusCode::UNPROCESSABLE_ENTITY, vec!["reject_common".to_owned()]));
    // Users follow the users' policy, which is different.
    let (s, v) = call(&admin, "POST", url.clone(), Some(create("user1", "user", "plain-but-long-enough"))).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let (s, v) = call(&admin, "POST", url.clone(), Some(create("agent1", "agent", "plain-but-long-enough"))).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    let (s, v) = call(&admin, "POST", url, Some(create("agent1", "agent", "Str0ng&Long#Passw"))).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    // Nothing half-written by the refusals: exactly the two accepted accounts plus the admin.
    let (_, v) = call(&admin, "GET", server.url("/api/v1/domains/example.org/accounts"), None).await;
    assert_eq!(v.as_array().unwrap().len(), 3);
    // The CLI says which rule was broken too.
    let out = server.cli(&["account", "passwd", "agent1@example.org", "--password-stdin"], Some("password"));
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("min_length") && err.contains("reject_common"), "{err}");
}

async fn expired_password_must_be_changed_first(backend: Backend) {
    let (server, admin) = with_admin(backend).await;
    server.cli_ok(&["policy", "set", "example.org", "--for", "users", "--max-age-days", "30"], None);
    add_account(&server, &admin, "example.org", "eve", "user", "pw8-first-pass-1").await;
    // Thirty-one days pass.
    sql(&server, "UPDATE accounts SET password_changed_at = password_changed_at - 31 * 86400 WHERE name = 'eve'").await;

    let eve = server.client();
    let r = login(&server, &eve, "eve@example.org", "pw8-first-pass-1").await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let me: Value = r.json().await.unwrap();
    assert_eq!(me["password_change_required"], true);
    let (s, v) = call(&eve, "GET", server.url("/api/v1/domains"), None).await;
    assert_eq!((s, code(&v)), (StatusCode::FORBIDDEN, "password_change_required"));
    let change = |cur: &str, new: &str| json!({"current_password": cur, "new_password": new});
    let (s, v) = call(&eve, "PUT", server.url("/api/v1/me/password"), Some(change("wrong-current-1", "pw8-second-pass-2"))).await;
    assert_eq!((s, code(&v)), (StatusCode::FORBIDDEN, "wrong_current_password"), "the session stays valid");
    let (s, v) = call(&eve, "PUT", server.url("/api/v1/me/password"), Some(change("pw8-first-pass-1", "pw8-second-pass-2"))).await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{v}");
    let (_, me) = call(&eve, "GET", server.url("/api/v1/me"), None).await;
    assert_eq!(me["password_change_required"], false);
    // The user is no admin, but the refusal is now about rights, not the password.
    let (s, v) = call(&eve, "GET", server.url("/api/v1/domains"), None).await;
    assert_eq!((s, code(&v)), (StatusCode::FORBIDDEN, "forbidden"));
    assert_eq!(login(&server, &server.client(), "eve@example.org", "pw8-first-pass-1").await.status(), StatusCode::UNAUTHORIZED);

    // "Must change at next login", set by an admin.
    server.cli_ok(&["account", "set", "eve@example.org", "--must-change", "true"], None);
    let r = login(&server, &server.client(), "eve@example.org", "pw8-second-pass-2").await;
    assert_eq!(r.json::<Value>().await.unwrap()["password_change_required"], true);
}

async fn previous_passwords_cannot_be_reused(backend: Backend) {
    let (server, admin) = with_admin(backend).await;
    server.cli_ok(&["policy", "set", "example.org", "--for", "users", "--history", "2"], None);
    add_account(&server, &admin, "example.org", "rex", "user", "pw9-pass-one-1").await;
    let rex = server.client();
    assert_eq!(login(&server, &rex, "rex@example.org", "pw9-pass-one-1").await.status(), StatusCode::CREATED);
    let change = |cur: &str, new: &str| Some(json!({"current_password": cur, "new_password": new}));
    let url = server.url("/api/v1/me/password");
    let (s, v) = call(&rex, "PUT", url.clone(), change("pw9-pass-one-1", "pw9-pass-one-1")).await;
    assert_eq!((s, rules(&v)), (StatusCode::UNPROCESSABLE_ENTITY, vec!["history".to_owned()]));
    let (s, _) = call(&rex, "PUT", url.clone(), change("pw9-pass-one-1", "pw9-pass-two-2")).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, v) = call(&rex, "PUT", url.clone(), change("pw9-pass-two-2", "pw9-pass-one-1")).await;
    assert_eq!((s, rules(&v)), (StatusCode::UNPROCESSABLE_ENTITY, vec!["history".to_owned()]), "last 2 includes the one before");
    let (s, _) = call(&rex, "PUT", url.clone(), change("pw9-pass-two-2", "pw9-pass-three-3")).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    // Two passwords back is outside a history of 2.
    let (s, v) = call(&rex, "PUT", url, change("pw9-pass-three-3", "pw9-pass-one-1")).await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{v}");
    // Other sessions ended with each change; this one carried on.
    let (s, _) = call(&rex, "GET", server.url("/api/v1/me"), None).await;
    assert_eq!(s, StatusCode::OK);
}

async fn hash_is_upgraded_when_parameters_change(backend: Backend) {
    let (mut server, _) = with_admin(backend).await;
    let before = sql_text(&server, "SELECT password_hash FROM accounts WHERE name = 'admin'").await;
    assert!(before.starts_with("$argon2id$v=19$m=1024,t=1,p=1$"), "{before}");
    // Same data, stronger parameters.
    server.restart_with(&[("DESKWARD_PASSWORD_HASH__MEMORY_KIB", "2048")]).expect("restart");
    assert_eq!(login(&server, &server.client(), ADMIN, ADMIN_PW).await.status(), StatusCode::CREATED);
    let after = sql_text(&server, "SELECT password_hash FROM accounts WHERE name = 'admin'").await;
    assert!(after.starts_with("$argon2id$v=19$m=2048,t=1,p=1$"), "{after}");
    assert_eq!(login(&server, &server.client(), ADMIN, ADMIN_PW).await.status(), StatusCode::CREATED);
}

async fn legacy_hashes_are_imported_and_upgraded(backend: Backend) {
    let (server, _) = with_admin(backend).await;
    let bcrypt = bcrypt::hash("legacy-bcrypt-pw", 4).unwrap();
    // glibc crypt(3) SHA-512 of "secret1" with salt "saltsalt".
    let sha512 = "$6$saltsalt$jCP90RmSIIja2o9FRs25ASQaR1lMN6uKHmNcHaoNCpAXgV3n5NfAlQdZQcvMVQO1BTCOFF0LzoHFZBt9E45NW0";
    let dir = server.data_dir.parent().unwrap().to_owned();
    let csv = dir.join("import.csv");
    std::fs::write(&csv, format!("login,role,password_hash\nlegb@example.org,user,{bcrypt}\nlegs@example.org,agent,{sha512}\n")).unwrap();
    let out = server.cli_ok(&["account", "import", csv.to_str().unwrap()], None);
    assert!(out.contains("imported 2 accounts") && out.contains("1 bcrypt") && out.contains("1 sha512-crypt"), "{out}");

    for (name, pw, scheme) in [("legb", "legacy-bcrypt-pw", "$2b$"), ("legs", "secret1", "$6$")] {
        let stored = sql_text(&server, &format!("SELECT password_hash FROM accounts WHERE name = '{name}'")).await;
        assert!(stored.starts_with(scheme), "{stored}");
        let login_name = format!("{name}@example.org");
        assert_eq!(login(&server, &server.client(), &login_name, "wrong-one").await.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(login(&server, &server.client(), &login_name, pw).await.status(), StatusCode::CREATED);
        let upgraded = sql_text(&server, &format!("SELECT password_hash FROM accounts WHERE name = '{name}'")).await;
        assert!(upgraded.starts_with("$argon2id$"), "upgraded after login: {upgraded}");
        assert_eq!(login(&server, &server.client(), &login_name, pw).await.status(), StatusCode::CREATED);
    }

    // One bad record imports nothing, and the error names it.
    let json_file = dir.join("import.json");
    std::fs::write(&json_file, format!(r#"[{{"login":"ok1@example.org","role":"user","password_hash":"{bcrypt}"}},{{"login":"bad@example.org","role":"user","password_hash":"md5:abc"}}]"#)).unwrap();
    let out = server.cli(&["account", "import", "--format", "json", json_file.to_str().unwrap()], None);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("record 2") && err.contains("unsupported password hash"), "{err}");
    let count = sql_text(&server, "SELECT CAST(COUNT(*) AS TEXT) FROM accounts WHERE name = 'ok1'").await;
    assert_eq!(count, "0");
}
