//! Administration through the API: domains, accounts, groups, classes, and the boundaries
//! between roles and domains (including guessed names).

use deskward_testkit::{Backend, on_both_stores};
use reqwest::StatusCode;
use serde_json::json;

use crate::support::*;

on_both_stores! {
    system_admin_manages_tenancy => system_admin_manages_tenancy;
    domain_admin_stays_in_their_domain => domain_admin_stays_in_their_domain;
    users_and_agents_administer_nothing => users_and_agents_administer_nothing;
    last_system_admin_cannot_be_removed => last_system_admin_cannot_be_removed;
}

async fn system_admin_manages_tenancy(backend: Backend) {
    let (server, admin) = with_admin(backend).await;
    let u = |p: &str| server.url(p);
    let (s, v) = call(&admin, "POST", u("/api/v1/domains"), Some(json!({"name": "Acme.test"}))).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["name"], "acme.test");
    let (s, v) = call(&admin, "POST", u("/api/v1/domains"), Some(json!({"name": "acme.test"}))).await;
    assert_eq!((s, code(&v)), (StatusCode::CONFLICT, "conflict"));

    let (s, v) = call(&admin, "POST", u("/api/v1/domains/acme.test/classes"), Some(json!({"name": "no-im", "features": {"web": true, "mail": true, "im": false, "documents": true, "helpdesk": false}, "quota_storage_bytes": 1048576}))).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["features"]["im"], false);
    let (s, v) = call(&admin, "POST", u("/api/v1/domains/acme.test/accounts"), Some(json!({"name": "dave", "role": "agent", "class": "no-im", "password": "pw11-pass-9-long!"}))).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!((v["login"].as_str(), v["class"].as_str()), (Some("dave@acme.test"), Some("no-im")));

    let (s, v) = call(&admin, "POST", u("/api/v1/domains/acme.test/groups"), Some(json!({"name": "support"}))).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let (s, v) = call(&admin, "PUT", u("/api/v1/domains/acme.test/groups/support/members/dave"), None).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["members"], json!(["dave"]));
    let (_, v) = call(&admin, "GET", u("/api/v1/domains/acme.test/accounts/dave"), None).await;
    assert_eq!(v["groups"], json!(["support"]));
    // A change made through this server applies to open sessions at once, cache or not.
    let (s, _) = call(&admin, "POST", u("/api/v1/domains/acme.test/groups"), Some(json!({"name": "alpha"}))).await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, _) = call(&admin, "PUT", u("/api/v1/domains/acme.test/groups/alpha/members/dave"), None).await;
    assert_eq!(s, StatusCode::OK);
    let dave = server.client();
    let r = login(&server, &dave, "dave@acme.test", "pw11-pass-9-long!").await;
    assert_eq!(r.status(), StatusCode::CREATED);
    // The login's answer names the groups (read with the session's insert) and the class.
    let answer: serde_json::Value = r.json().await.unwrap();
    assert_eq!((answer["groups"].clone(), answer["class"].as_str()), (json!(["alpha", "support"]), Some("no-im")), "{answer}");
    let (_, me) = call(&dave, "GET", u("/api/v1/me"), None).await;
    assert_eq!(me["groups"], json!(["alpha", "support"]));
    let (s, _) = call(&admin, "PATCH", u("/api/v1/domains/acme.test/accounts/dave"), Some(json!({"role": "user", "class": ""}))).await;
    assert_eq!(s, StatusCode::OK);
    let (_, me) = call(&dave, "GET", u("/api/v1/me"), None).await;
    assert_eq!((me["role"].as_str(), me["class"].clone()), (Some("user"), json!(null)), "{me}");
    let (s, _) = call(&admin, "DELETE", u("/api/v1/domains/acme.test/groups/alpha"), None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let r = login(&server, &server.client(), "dave@acme.test", "pw11-pass-9-long!").await;
    let answer: serde_json::Value = r.json().await.unwrap();
    assert_eq!((answer["groups"].clone(), answer["class"].clone()), (json!(["support"]), json!(null)), "{answer}");

    let (s, v) = call(&admin, "PATCH", u("/api/v1/domains/acme.test/classes/no-im"), Some(json!({"quota_storage_bytes": -1, "quota_documents": 10}))).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!((v["quota_storage_bytes"].clone(), v["quota_documents"].clone()), (json!(null), json!(10)));
    let (s, v) = call(&admin, "PATCH", u("/api/v1/domains/acme.test/classes/no-im"), Some(json!({"quota_documents": -5}))).await;
    assert_eq!((s, code(&v)), (StatusCode::BAD_REQUEST, "invalid_input"));

    let (s, v) = call(&admin, "DELETE", u("/api/v1/domains/acme.test/groups/support/members/dave"), None).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["members"], json!([]));
    let (s, _) = call(&admin, "DELETE", u("/api/v1/domains/acme.test/accounts/dave"), None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, v) = call(&admin, "GET", u("/api/v1/domains/acme.test/accounts/dave"), None).await;
    assert_eq!((s, code(&v)), (StatusCode::NOT_FOUND, "not_found"));
    let (s, _) = call(&admin, "DELETE", u("/api/v1/domains/acme.test"), None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, v) = call(&admin, "GET", u("/api/v1/domains/acme.test"), None).await;
    assert_eq!((s, code(&v)), (StatusCode::NOT_FOUND, "not_found"));
}

async fn domain_admin_stays_in_their_domain(backend: Backend) {
    let (server, admin) = with_admin(backend).await;
    let u = |p: &str| server.url(p);
    server.cli_ok(&["domain", "add", "a.test"], None);
    server.cli_ok(&["domain", "add", "b.test"], None);
    add_account(&server, &admin, "a.test", "ann", "domain-admin", "pw0-pass-9-long!").await;
    add_account(&server, &admin, "b.test", "ben", "user", "pw1-pass-9-long!").await;
    add_account(&server, &admin, "a.test", "root2", "system-admin", "pw2-pass-9-long!").await;
    let ann = server.client();
    assert_eq!(login(&server, &ann, "ann@a.test", "pw0-pass-9-long!").await.status(), StatusCode::CREATED);

    // Inside a.test: allowed.
    let (s, v) = call(&ann, "POST", u("/api/v1/domains/a.test/accounts"), Some(json!({"name": "amy", "role": "agent", "password": "pw3-pass-9-long!"}))).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let (s, v) = call(&ann, "GET", u("/api/v1/domains"), None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v.as_array().map(Vec::len), Some(1), "a domain admin lists only their domain: {v}");

    // Outside: refused, and an unknown domain looks exactly like a foreign one.
    let foreign = [
        ("GET", "/api/v1/domains/b.test", None),
        ("GET", "/api/v1/domains/b.test/accounts", None),
        ("GET", "/api/v1/domains/b.test/accounts/ben", None),
        ("PATCH", "/api/v1/domains/b.test/accounts/ben", Some(json!({"disabled": true}))),
        ("PUT", "/api/v1/domains/b.test/accounts/ben/password", Some(json!({"password": "Takeover-pass-99!"}))),
        ("DELETE", "/api/v1/domains/b.test/accounts/ben", None),
        ("POST", "/api/v1/domains/b.test/groups", Some(json!({"name": "x"}))),
        ("GET", "/api/v1/domains/b.test/policies/users", None),
        ("GET", "/api/v1/domains/no-such.test/accounts", None),
        ("POST", "/api/v1/domains", Some(json!({"name": "new.test"}))),
        ("PATCH", "/api/v1/domains/a.test", Some(json!({"disabled": true}))),
        // Raising rights: creating or touching a system admin, even in their own domain.
        ("POST", "/api/v1/domains/a.test/accounts", Some(json!({"name": "evil", "role": "system-admin", "password": "Evil-pass-99-long!"}))),
        ("PATCH", "/api/v1/domains/a.test/accounts/amy", Some(json!({"role": "system-admin"}))),
        ("PUT", "/api/v1/domains/a.test/accounts/root2/password", Some(json!({"password": "Takeover-pass-99!"}))),
        ("DELETE", "/api/v1/domains/a.test/accounts/root2", None),
    ];
    let mut answers = Vec::new();
    for (method, path, body) in foreign {
        let (s, v) = call(&ann, method, u(path), body).await;
        assert_eq!((s, code(&v)), (StatusCode::FORBIDDEN, "forbidden"), "{method} {path}: {v}");
        answers.push(v["error"]["message"].clone());
    }
    assert_eq!(answers[1], answers[8], "unknown and foreign domains answer alike");
    // A system admin of their domain is visible to the domain admin, not changeable.
    let (s, v) = call(&ann, "GET", u("/api/v1/domains/a.test/accounts/root2"), None).await;
    assert_eq!((s, v["role"].as_str()), (StatusCode::OK, Some("system-admin")), "{v}");
    // Nothing changed in b.test.
    assert_eq!(login(&server, &server.client(), "ben@b.test", "pw1-pass-9-long!").await.status(), StatusCode::CREATED);
}

async fn users_and_agents_administer_nothing(backend: Backend) {
    let (server, admin) = with_admin(backend).await;
    add_account(&server, &admin, "example.org", "uma", "user", "pw4-pass-9-long!").await;
    add_account(&server, &admin, "example.org", "alf", "agent", "pw5-pass-9-long!!").await;
    for (who, pw) in [("uma@example.org", "pw4-pass-9-long!"), ("alf@example.org", "pw5-pass-9-long!!")] {
        let c = server.client();
        assert_eq!(login(&server, &c, who, pw).await.status(), StatusCode::CREATED);
        for (method, path, body) in [
            ("GET", "/api/v1/domains", None),
            ("GET", "/api/v1/domains/example.org/accounts", None),
            ("PATCH", "/api/v1/domains/example.org/accounts/uma", Some(json!({"role": "domain-admin"}))),
            ("PATCH", "/api/v1/domains/example.org/accounts/alf", Some(json!({"role": "system-admin"}))),
            ("PUT", "/api/v1/domains/example.org/policies/users", Some(json!({"min_length": 1, "min_non_letters": 0, "require_lowercase": false, "require_uppercase": false, "require_digit": false, "require_symbol": false, "reject_common": false, "max_age_days": null, "history": 0}))),
        ] {
            let (s, v) = call(&c, method, server.url(path), body).await;
            assert_eq!(s, StatusCode::FORBIDDEN, "{who} {method} {path}: {v}");
        }
        let (_, me) = call(&c, "GET", server.url("/api/v1/me"), None).await;
        assert!(me["role"] == "user" || me["role"] == "agent", "role unchanged: {me}");
    }
}

async fn last_system_admin_cannot_be_removed(backend: Backend) {
    let (server, admin) = with_admin(backend).await;
    let out = server.cli(&["account", "remove", ADMIN], None);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("last system administrator"));
    let out = server.cli(&["account", "disable", ADMIN], None);
    assert!(!out.status.success());
    let (s, v) = call(&admin, "PATCH", server.url("/api/v1/domains/example.org/accounts/admin"), Some(json!({"role": "user"}))).await;
    assert_eq!((s, code(&v)), (StatusCode::CONFLICT, "conflict"), "{v}");
    // Nobody can lock every system admin out by disabling their domain.
    let (s, v) = call(&admin, "PATCH", server.url("/api/v1/domains/example.org"), Some(json!({"disabled": true}))).await;
    assert_eq!((s, code(&v)), (StatusCode::CONFLICT, "conflict"), "{v}");
    let out = server.cli(&["domain", "disable", "example.org"], None);
    assert!(String::from_utf8_lossy(&out.stderr).contains("no system administrator able to log in"));
    // With a second one elsewhere, the first can go, but still not their own domain by API.
    server.cli_ok(&["domain", "add", "ops.test"], None);
    server.cli_ok(&["account", "add", "root2@ops.test", "--role", "system-admin"], None);
    let (s, v) = call(&admin, "PATCH", server.url("/api/v1/domains/example.org"), Some(json!({"disabled": true}))).await;
    assert_eq!((s, code(&v)), (StatusCode::CONFLICT, "conflict"), "{v}");
    assert!(v["error"]["message"].as_str().unwrap().contains("your own account"), "{v}");
    server.cli_ok(&["domain", "disable", "example.org"], None);
    server.cli_ok(&["domain", "enable", "example.org"], None);
    server.cli_ok(&["account", "disable", ADMIN], None);
    // The remaining one's domain cannot be disabled now.
    assert!(!server.cli(&["domain", "disable", "ops.test"], None).status.success());
}
