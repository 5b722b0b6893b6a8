//! Shared folders and documents (K5) over HTTPS: each access mode, inheritance and breaking
//! it, explain, roles and domain boundaries, quotas under concurrency, the class feature
//! switch, streamed content, and hostile names and cut-off uploads.

use deskward_testkit::{Backend, Server, ServerOptions, on_both_stores};
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};

use crate::audit::{events, records};
use crate::support::*;

const ALICE_PW: &str = "Folder-key-one-1";
const BOB_PW: &str = "Folder-key-two-2";
const CAROL_PW: &str = "Folder-key-three-3";
const DAVE_PW: &str = "Folder-key-four-4";
const OADMIN_PW: &str = "Folder-key-five-5";
const SHARE_PW: &str = "share-secret-77";

async fn user(server: &Server, who: &str, password: &str) -> Client {
    let c = server.client();
    let r = login(server, &c, who, password).await;
    assert_eq!(r.status(), StatusCode::CREATED, "login {who}");
    c
}

async fn folder(server: &Server, c: &Client, parent: Option<i64>, name: &str) -> i64 {
    let (s, v) = call(c, "POST", server.url("/api/v1/items/folders"), Some(json!({"name": name, "parent": parent}))).await;
    assert_eq!(s, StatusCode::CREATED, "folder {name}: {v}");
    v["id"].as_i64().unwrap()
}

/// Uploads `bytes` as a new document; status and body.
async fn upload(server: &Server, c: &Client, parent: Option<i64>, name: &str, bytes: Vec<u8>) -> (StatusCode, Value) {
    let mut q = vec![("name", name.to_owned())];
    if let Some(p) = parent {
        q.push(("parent", p.to_string()));
    }
    let r = c.post(server.url("/api/v1/items/documents")).query(&q).body(bytes).send().await.unwrap();
    let s = r.status();
    (s, r.json().await.unwrap_or(Value::Null))
}

async fn doc(server: &Server, c: &Client, parent: Option<i64>, name: &str, text: &str) -> i64 {
    let (s, v) = upload(server, c, parent, name, text.as_bytes().to_vec()).await;
    assert_eq!(s, StatusCode::CREATED, "upload {name}: {v}");
    v["item"]["id"].as_i64().unwrap()
}

async fn content(server: &Server, c: &Client, path: &str) -> (StatusCode, Vec<u8>) {
    let r = c.get(server.url(path)).send().await.unwrap();
    let s = r.status();
    (s, r.bytes().await.unwrap().to_vec())
}

async fn set_acl(server: &Server, c: &Client, id: i64, body: Value) -> (StatusCode, Value) {
    call(c, "PUT", server.url(&format!("/api/v1/items/{id}/acl")), Some(body)).await
}

fn names(v: &Value, key: &str) -> Vec<String> {
    v[key].as_array().unwrap().iter().map(|i| i["name"].as_str().unwrap().to_owned()).collect()
}

async fn people(backend: Backend) -> (Server, Client) {
    let (server, admin) = with_admin(backend).await;
    for (name, pw) in [("alice", ALICE_PW), ("bob", BOB_PW), ("carol", CAROL_PW)] {
        add_account(&server, &admin, "example.org", name, "user", pw).await;
    }
    let (s, _) = call(&admin, "POST", server.url("/api/v1/domains"), Some(json!({"name": "other.org"}))).await;
    assert_eq!(s, StatusCode::CREATED);
    add_account(&server, &admin, "other.org", "dave", "user", DAVE_PW).await;
    add_account(&server, &admin, "other.org", "oadmin", "domain-admin", OADMIN_PW).await;
    let (s, _) = call(&admin, "POST", server.url("/api/v1/domains/example.org/groups"), Some(json!({"name": "sales"}))).await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, _) = call(&admin, "PUT", server.url("/api/v1/domains/example.org/groups/sales/members/bob"), None).await;
    assert_eq!(s, StatusCode::OK);
    (server, admin)
}

async fn access_modes_and_inheritance(backend: Backend) {
    let (server, admin) = people(backend).await;
    let alice = user(&server, "alice@example.org", ALICE_PW).await;
    let bob = user(&server, "bob@example.org", BOB_PW).await;
    let carol = user(&server, "carol@example.org", CAROL_PW).await;
    let dave = user(&server, "dave@other.org", DAVE_PW).await;
    let oadmin = user(&server, "oadmin@other.org", OADMIN_PW).await;
    let u = |p: &str| server.url(p);

    // Alice's folder and document; content streams back byte for byte, as an attachment.
    let plans = folder(&server, &alice, None, "Plans").await;
    let a = doc(&server, &alice, Some(plans), "Résumé 2026.txt", "first").await;
    let r = alice.get(u(&format!("/api/v1/items/{a}/content"))).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-type"], "application/octet-stream");
    let disposition = r.headers()["content-disposition"].to_str().unwrap().to_owned();
    assert!(disposition.starts_with("attachment;") && disposition.contains("UTF-8''R%C3%A9sum%C3%A9%202026.txt"), "{disposition}");
    assert_eq!(r.bytes().await.unwrap().as_ref(), b"first");
    // A second version; the first stays readable.
    let r = alice.put(u(&format!("/api/v1/items/{a}/content"))).body("second!").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.json::<Value>().await.unwrap()["version"], 2);
    assert_eq!(content(&server, &alice, &format!("/api/v1/items/{a}/content")).await.1, b"second!");
    assert_eq!(content(&server, &alice, &format!("/api/v1/items/{a}/content?version=1")).await.1, b"first");
    let (s, v) = call(&alice, "GET", u(&format!("/api/v1/items/{a}")), None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["versions"].as_array().unwrap().len(), 2);
    assert_eq!(v["path"], json!([{"id": plans, "name": "Plans"}]));
    assert_eq!(v["item"]["rights"], json!(["read", "write", "delete", "share"]));

    // Nobody else sees it: the same 404 as for an id that does not exist, and a refusal event.
    for (who, c) in [("bob", &bob), ("carol", &carol), ("dave", &dave), ("oadmin", &oadmin)] {
        let (s, v) = call(c, "GET", u(&format!("/api/v1/items/{a}")), None).await;
        assert_eq!((s, code(&v)), (StatusCode::NOT_FOUND, "not_found"), "{who}");
        let (s, _) = content(&server, c, &format!("/api/v1/items/{a}/content")).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{who}");
    }
    let (s, unknown) = call(&bob, "GET", u("/api/v1/items/4503599627370495"), None).await;
    let (_, hidden) = call(&bob, "GET", u(&format!("/api/v1/items/{a}")), None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(unknown["error"]["message"].as_str().unwrap().replace("4503599627370495", "N"), hidden["error"]["message"].as_str().unwrap().replace(&a.to_string(), "N"));
    let denied = events(&server, &admin, "action=access.denied&security=true", 1).await;
    assert!(denied.iter().any(|e| e["actor"] == "bob@example.org"), "{denied:?}");

    // Specific users and groups: sales (bob) may read Plans and what is in it.
    let (s, v) = set_acl(&server, &alice, plans, json!({"grants": [{"to": "group:sales", "rights": ["read"]}]})).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["grants"], json!([{"to": "group:sales", "rights": ["read"]}]));
    let (s, v) = call(&bob, "GET", u(&format!("/api/v1/items/{plans}")), None).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(names(&v, "children"), ["Résumé 2026.txt"]);
    assert_eq!(v["item"]["rights"], json!(["read"]));
    assert_eq!(content(&server, &bob, &format!("/api/v1/items/{a}/content")).await.1, b"second!");
    let (_, v) = call(&bob, "GET", u("/api/v1/items"), None).await;
    assert_eq!(names(&v, "shared"), ["Plans"]);
    // Read is not write, delete or share.
    let (s, v) = upload(&server, &bob, Some(plans), "bob.txt", b"x".to_vec()).await;
    assert_eq!((s, code(&v)), (StatusCode::FORBIDDEN, "forbidden"));
    let (s, _) = call(&bob, "DELETE", u(&format!("/api/v1/items/{a}")), None).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = set_acl(&server, &bob, plans, json!({"grants": []})).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let r = bob.put(u(&format!("/api/v1/items/{a}/content"))).body("bob was here").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    // A conditional change: the grants' version is their ETag; a change made against an old
    // version is refused and changes nothing.
    let r = alice.get(u(&format!("/api/v1/items/{plans}/acl"))).send().await.unwrap();
    let etag = r.headers()["etag"].to_str().unwrap().to_owned();
    let body: Value = r.json().await.unwrap();
    assert_eq!(etag, format!("\"{}\"", body["version"].as_str().unwrap()));
    let sales_read = json!({"grants": [{"to": "group:sales", "rights": ["read"]}]});
    let r = alice.put(u(&format!("/api/v1/items/{plans}/acl"))).header("if-match", &etag).json(&sales_read).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["etag"].to_str().unwrap(), etag, "the same grants are the same version");
    let more = json!({"grants": [{"to": "group:sales", "rights": ["read"]}, {"to": "account:carol", "rights": ["read"]}]});
    let r = alice.put(u(&format!("/api/v1/items/{plans}/acl"))).header("if-match", &etag).json(&more).send().await.unwrap();
    let newer = r.headers()["etag"].to_str().unwrap().to_owned();
    assert_ne!(newer, etag);
    let r = alice.put(u(&format!("/api/v1/items/{plans}/acl"))).header("if-match", &etag).json(&sales_read).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::PRECONDITION_FAILED);
    assert_eq!(code(&r.json::<Value>().await.unwrap()), "stale");
    let (_, v) = call(&alice, "GET", u(&format!("/api/v1/items/{plans}/acl")), None).await;
    assert_eq!(v["grants"].as_array().unwrap().len(), 2, "the stale change changed nothing");
    let r = alice.put(u(&format!("/api/v1/items/{plans}/acl"))).header("if-match", &newer).json(&sales_read).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);

    // Carol is not in sales.
    let (s, _) = call(&carol, "GET", u(&format!("/api/v1/items/{plans}")), None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    // Explain: why bob may read the document (inherited from Plans through sales).
    let (s, v) = call(&alice, "GET", u(&format!("/api/v1/items/{a}/explain?account=bob@example.org")), None).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["rights"], json!(["read"]));
    assert_eq!(v["reasons"], json!([{"source": "grant", "item": {"id": plans, "name": "Plans"}, "principal": "group:sales", "rights": ["read"], "inherited": true}]));
    let (_, v) = call(&bob, "GET", u(&format!("/api/v1/items/{a}/explain")), None).await;
    assert_eq!(v["account"], "bob@example.org");
    assert_eq!(v["rights"], json!(["read"]));
    let (_, v) = call(&admin, "GET", u(&format!("/api/v1/items/{a}/explain?account=alice@example.org")), None).await;
    assert_eq!(v["reasons"][0]["source"], "owner");
    assert_eq!(v["reasons"][0]["inherited"], false);
    // Bob may not ask about others (no share), Carol cannot even see the item.
    let (s, _) = call(&bob, "GET", u(&format!("/api/v1/items/{a}/explain?account=carol@example.org")), None).await;
    assert_eq!(s, StatusCode::FORBIDDEN);

    // Breaking inheritance: Plans/Secret does not take the sales grant.
    let secret = folder(&server, &alice, Some(plans), "Secret").await;
    let hidden_doc = doc(&server, &alice, Some(secret), "s.txt", "secret").await;
    let (_, v) = call(&bob, "GET", u(&format!("/api/v1/items/{hidden_doc}")), None).await;
    assert_eq!(v["item"]["name"], "s.txt", "inherited before the break");
    let (s, v) = set_acl(&server, &alice, secret, json!({"inherit": false, "grants": []})).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["inherit"], false);
    for id in [secret, hidden_doc] {
        let (s, _) = call(&bob, "GET", u(&format!("/api/v1/items/{id}")), None).await;
        assert_eq!(s, StatusCode::NOT_FOUND);
    }
    let (_, v) = call(&bob, "GET", u(&format!("/api/v1/items/{plans}")), None).await;
    assert_eq!(names(&v, "children"), ["Secret", "Résumé 2026.txt"].map(str::to_owned).into_iter().filter(|n| n != "Secret").collect::<Vec<_>>(), "Secret is not listed to bob");
    let (_, v) = call(&alice, "GET", u(&format!("/api/v1/items/{hidden_doc}/explain?account=bob@example.org")), None).await;
    assert_eq!(v["rights"], json!([]));
    assert_eq!(v["stopped_at"], secret);

    // Authenticated: any account of the domain, then of every domain when the owner says so.
    let team = folder(&server, &alice, None, "Team").await;
    let t = doc(&server, &alice, Some(team), "t.txt", "team").await;
    set_acl(&server, &alice, team, json!({"grants": [{"to": "domain", "rights": ["read"]}]})).await;
    assert_eq!(content(&server, &carol, &format!("/api/v1/items/{t}/content")).await, (StatusCode::OK, b"team".to_vec()));
    assert_eq!(content(&server, &dave, &format!("/api/v1/items/{t}/content")).await.0, StatusCode::NOT_FOUND);
    set_acl(&server, &alice, team, json!({"grants": [{"to": "all-domains", "rights": ["read"]}]})).await;
    assert_eq!(content(&server, &dave, &format!("/api/v1/items/{t}/content")).await, (StatusCode::OK, b"team".to_vec()));
    // Another domain's administrator has no administrator rights here: read as anyone, nothing more.
    let (s, _) = set_acl(&server, &oadmin, team, json!({"grants": []})).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = call(&oadmin, "DELETE", u(&format!("/api/v1/items/{t}")), None).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = call(&oadmin, "GET", u("/api/v1/domains/example.org/accounts/alice/usage"), None).await;
    assert_eq!(s, StatusCode::FORBIDDEN);

    // Public: anyone with the link, read only, and only below the link's item.
    let (s, v) = set_acl(&server, &alice, team, json!({"grants": [{"to": "public", "rights": ["read", "write"]}]})).await;
    assert_eq!((s, code(&v)), (StatusCode::BAD_REQUEST, "invalid_input"), "a link never writes");
    set_acl(&server, &alice, team, json!({"grants": [{"to": "public", "rights": ["read"]}]})).await;
    let (s, _) = call(&bob, "POST", u(&format!("/api/v1/items/{team}/link")), None).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "bob cannot see Team any more");
    let (s, link) = call(&alice, "POST", u(&format!("/api/v1/items/{team}/link")), None).await;
    assert_eq!(s, StatusCode::CREATED, "{link}");
    let token = link["token"].as_str().unwrap().to_owned();
    assert!(link["url"].as_str().unwrap().ends_with(&format!("/s/{token}")));
    let anyone = server.client();
    let (s, v) = call(&anyone, "GET", u(&format!("/api/v1/shared/{token}")), None).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(names(&v, "children"), ["t.txt"]);
    assert_eq!(content(&server, &anyone, &format!("/api/v1/shared/{token}/content?item={t}")).await, (StatusCode::OK, b"team".to_vec()));
    let (s, _) = content(&server, &anyone, &format!("/api/v1/shared/{token}/content?item={a}")).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "the link does not reach outside its folder");
    let (s, _) = call(&anyone, "GET", u(&format!("/api/v1/items/{t}")), None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "the link is the only way in without a login");
    let (s, _) = call(&anyone, "GET", u("/api/v1/shared/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"), None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    // A new link replaces the old one; removing it closes the door.
    let (_, again) = call(&alice, "POST", u(&format!("/api/v1/items/{team}/link")), None).await;
    let (s, _) = call(&anyone, "GET", u(&format!("/api/v1/shared/{token}")), None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let token = again["token"].as_str().unwrap().to_owned();
    assert_eq!(call(&anyone, "GET", u(&format!("/api/v1/shared/{token}")), None).await.0, StatusCode::OK);
    assert_eq!(call(&alice, "DELETE", u(&format!("/api/v1/items/{team}/link")), None).await.0, StatusCode::NO_CONTENT);
    assert_eq!(call(&anyone, "GET", u(&format!("/api/v1/shared/{token}")), None).await.0, StatusCode::NOT_FOUND);

    // Password-protected: the link and the share password, hashed, guarded against guessing.
    let (s, v) = set_acl(&server, &alice, plans, json!({"grants": [{"to": "group:sales", "rights": ["read"]}, {"to": "password", "rights": ["read"]}]})).await;
    assert_eq!((s, code(&v)), (StatusCode::BAD_REQUEST, "invalid_input"), "no share password yet: {v}");
    let (s, _) = call(&alice, "PUT", u(&format!("/api/v1/items/{plans}/share-password")), Some(json!({"password": "short"}))).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, _) = call(&alice, "PUT", u(&format!("/api/v1/items/{plans}/share-password")), Some(json!({"password": SHARE_PW}))).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let stored = sql_text(&server, &format!("SELECT share_password FROM items WHERE id = {plans}")).await;
    assert!(stored.starts_with("$argon2id$") && !stored.contains(SHARE_PW));
    let (s, _) = set_acl(&server, &alice, plans, json!({"grants": [{"to": "group:sales", "rights": ["read"]}, {"to": "password", "rights": ["read"]}]})).await;
    assert_eq!(s, StatusCode::OK);
    let (_, link) = call(&alice, "POST", u(&format!("/api/v1/items/{plans}/link")), None).await;
    let token = link["token"].as_str().unwrap().to_owned();
    let shared = |pw: Option<&str>| {
        let mut r = anyone.get(u(&format!("/api/v1/shared/{token}"))).header("x-forwarded-for", "203.0.113.9");
        if let Some(pw) = pw {
            r = r.header("x-deskward-share-password", pw);
        }
        r
    };
    let r = shared(None).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(code(&r.json::<Value>().await.unwrap()), "share_password");
    let r = shared(Some(SHARE_PW)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let v: Value = r.json().await.unwrap();
    assert_eq!(names(&v, "children"), ["Résumé 2026.txt"], "Secret breaks inheritance, so the link does not open it");
    let mut statuses = Vec::new();
    for _ in 0..40 {
        let s = shared(Some("wrong-password!")).send().await.unwrap().status();
        statuses.push(s);
        if s == StatusCode::TOO_MANY_REQUESTS {
            break;
        }
    }
    assert_eq!(statuses.first(), Some(&StatusCode::UNAUTHORIZED));
    assert_eq!(statuses.last(), Some(&StatusCode::TOO_MANY_REQUESTS), "the guard stops guessing: {statuses:?}");
    assert_eq!(shared(Some(SHARE_PW)).send().await.unwrap().status(), StatusCode::TOO_MANY_REQUESTS, "even the right password while refused");
    let failed = events(&server, &admin, "action=share.password_failed&security=true", 3).await;
    assert!(failed.len() >= 3, "{failed:?}");
    assert!(!failed.iter().any(|e| e.to_string().contains("wrong-password!")), "no guessed password in the log");

    // Sharing never raises the sharer: bob with read+share grants only what he holds.
    set_acl(&server, &alice, plans, json!({"grants": [{"to": "account:bob", "rights": ["read", "share"]}]})).await;
    let (s, v) = set_acl(&server, &bob, plans, json!({"grants": [{"to": "account:bob", "rights": ["read", "write", "share"]}]})).await;
    assert_eq!((s, code(&v)), (StatusCode::FORBIDDEN, "forbidden"), "{v}");
    let (s, _) = set_acl(&server, &bob, plans, json!({"inherit": false, "grants": [{"to": "account:bob", "rights": ["read", "share"]}]})).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = set_acl(&server, &bob, plans, json!({"grants": [{"to": "all-domains", "rights": ["read"]}]})).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "widening beyond the domain is the owner's call");
    let (s, v) = set_acl(&server, &bob, plans, json!({"grants": [{"to": "account:bob", "rights": ["read", "share"]}, {"to": "account:carol@example.org", "rights": ["read"]}]})).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(content(&server, &carol, &format!("/api/v1/items/{a}/content")).await.0, StatusCode::OK);
    let (s, v) = set_acl(&server, &bob, plans, json!({"grants": [{"to": "account:dave@other.org", "rights": ["read"]}]})).await;
    assert_eq!((s, code(&v)), (StatusCode::BAD_REQUEST, "invalid_input"), "{v}");
    let (s, _) = set_acl(&server, &alice, plans, json!({"grants": [{"to": "account:nobody", "rights": ["read"]}]})).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = set_acl(&server, &alice, plans, json!({"grants": [{"to": "group:sales", "rights": ["fly"]}]})).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);

    // Moving needs delete where it is and write where it goes.
    let (s, v) = call(&bob, "PATCH", u(&format!("/api/v1/items/{a}")), Some(json!({"parent": team}))).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
    let bobs = folder(&server, &bob, None, "Bob's").await;
    let (s, _) = call(&alice, "PATCH", u(&format!("/api/v1/items/{a}")), Some(json!({"parent": bobs}))).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "alice cannot see bob's folder");
    set_acl(&server, &bob, bobs, json!({"grants": [{"to": "account:alice", "rights": ["read"]}]})).await;
    let (s, v) = call(&alice, "PATCH", u(&format!("/api/v1/items/{a}")), Some(json!({"parent": bobs}))).await;
    assert_eq!((s, code(&v)), (StatusCode::FORBIDDEN, "forbidden"), "a document moved into a folder its mover cannot write");
    let (s, v) = call(&alice, "PATCH", u(&format!("/api/v1/items/{a}")), Some(json!({"parent": team, "name": "moved.txt"}))).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!((v["parent"].as_i64(), v["name"].as_str()), (Some(team), Some("moved.txt")));
    let (s, v) = call(&alice, "PATCH", u(&format!("/api/v1/items/{plans}")), Some(json!({"parent": secret}))).await;
    assert_eq!((s, code(&v)), (StatusCode::BAD_REQUEST, "invalid_input"), "into its own subfolder: {v}");
    let (s, v) = call(&alice, "PATCH", u(&format!("/api/v1/items/{t}")), Some(json!({"name": "MOVED.txt"}))).await;
    assert_eq!((s, code(&v)), (StatusCode::CONFLICT, "conflict"), "names differ only in case: {v}");

    // Administrators list every top-level item of their domain, also a removed owner's.
    let orphan = folder(&server, &carol, None, "Carol's").await;
    let (s, _) = call(&admin, "DELETE", u("/api/v1/domains/example.org/accounts/carol"), None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, v) = call(&admin, "GET", u("/api/v1/domains/example.org/items"), None).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let listed: Vec<(String, Value)> = v.as_array().unwrap().iter().map(|i| (i["name"].as_str().unwrap().to_owned(), i["owner"].clone())).collect();
    for want in ["Plans", "Team", "Bob's", "Carol's"] {
        assert!(listed.iter().any(|(n, _)| n == want), "{want} in {listed:?}");
    }
    assert!(listed.contains(&("Carol's".to_owned(), Value::Null)), "{listed:?}");
    let (s, v) = call(&admin, "GET", u(&format!("/api/v1/items/{orphan}")), None).await;
    assert_eq!((s, v["item"]["rights"].clone()), (StatusCode::OK, json!(["read", "write", "delete", "share"])));
    for (who, c) in [("oadmin", &oadmin), ("bob", &bob)] {
        let (s, _) = call(c, "GET", u("/api/v1/domains/example.org/items"), None).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{who}");
    }
    let (s, _) = call(&oadmin, "GET", u("/api/v1/domains/other.org/items"), None).await;
    assert_eq!(s, StatusCode::OK);

    // The system administrator may act on anything; the audit log has every change.
    let (s, _) = call(&admin, "DELETE", u(&format!("/api/v1/items/{plans}")), None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert_eq!(call(&alice, "GET", u(&format!("/api/v1/items/{hidden_doc}")), None).await.0, StatusCode::NOT_FOUND);
    for action in ["folder.create", "document.create", "document.version", "item.acl", "item.link", "item.share_password", "item.update", "item.delete"] {
        let found = records(&server, &admin, &format!("action={action}&domain=example.org")).await;
        assert!(!found.is_empty(), "{action} is audited");
    }
    let acl = records(&server, &admin, "action=item.acl").await;
    assert!(acl.iter().any(|r| r["summary"]["after"]["grants"] == json!([{"to": "group:sales", "rights": ["read"]}])), "{acl:?}");
    assert!(!records(&server, &admin, "").await.iter().any(|r| r.to_string().contains(SHARE_PW) || r.to_string().contains(&token)));
}

async fn quotas_and_the_feature_switch(backend: Backend) {
    // A short idle timeout: a cut-off upload whose stream the client leaves open is abandoned
    // quickly too.
    let options = ServerOptions::new(backend).env("DESKWARD_DOCUMENTS__MAX_SIZE", "5000").env("DESKWARD_DOCUMENTS__UPLOAD_IDLE_TIMEOUT", "2s");
    let (server, admin) = with_admin_using(options).await;
    let u = |p: &str| server.url(p);
    let all = json!({"web": true, "mail": true, "im": true, "documents": true, "helpdesk": true});
    let nodocs = json!({"web": true, "mail": true, "im": true, "documents": false, "helpdesk": true});
    let (s, _) = call(&admin, "POST", u("/api/v1/domains/example.org/classes"), Some(json!({"name": "small", "features": all, "quota_storage_bytes": 1000, "quota_documents": 3}))).await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, _) = call(&admin, "POST", u("/api/v1/domains/example.org/classes"), Some(json!({"name": "nodocs", "features": nodocs}))).await;
    assert_eq!(s, StatusCode::CREATED);
    add_account(&server, &admin, "example.org", "erin", "user", ALICE_PW).await;
    add_account(&server, &admin, "example.org", "frank", "user", BOB_PW).await;
    add_account(&server, &admin, "example.org", "gus", "user", CAROL_PW).await;
    for (name, class) in [("erin", "small"), ("frank", "nodocs")] {
        let (s, _) = call(&admin, "PATCH", u(&format!("/api/v1/domains/example.org/accounts/{name}")), Some(json!({"class": class}))).await;
        assert_eq!(s, StatusCode::OK);
    }
    let erin = user(&server, "erin@example.org", ALICE_PW).await;
    let frank = user(&server, "frank@example.org", BOB_PW).await;
    let gus = user(&server, "gus@example.org", CAROL_PW).await;

    // A class without documents: every path answers 403, each a security event.
    let shared_folder = folder(&server, &gus, None, "Open").await;
    set_acl(&server, &gus, shared_folder, json!({"grants": [{"to": "domain", "rights": ["read", "write"]}]})).await;
    let paths = [
        ("GET", "/api/v1/items".to_owned()),
        ("POST", "/api/v1/items/folders".to_owned()),
        ("GET", format!("/api/v1/items/{shared_folder}")),
        ("GET", format!("/api/v1/items/{shared_folder}/acl")),
        ("GET", format!("/api/v1/items/{shared_folder}/explain")),
        ("PATCH", format!("/api/v1/items/{shared_folder}")),
        ("DELETE", format!("/api/v1/items/{shared_folder}")),
    ];
    for (method, path) in &paths {
        let body = (*method != "GET" && *method != "DELETE").then(|| json!({"name": "x"}));
        let (s, v) = call(&frank, method, u(path), body).await;
        assert_eq!((s, code(&v)), (StatusCode::FORBIDDEN, "feature_disabled"), "{method} {path}: {v}");
    }
    let (s, v) = upload(&server, &frank, Some(shared_folder), "f.txt", b"data".to_vec()).await;
    assert_eq!((s, code(&v)), (StatusCode::FORBIDDEN, "feature_disabled"));
    let denied = events(&server, &admin, "action=feature.denied&security=true", paths.len() + 1).await;
    assert!(denied.len() > paths.len(), "{denied:?}");
    assert!(denied.iter().all(|e| e["actor"] == "frank@example.org"));
    // Switching the feature back on takes effect at once.
    let (s, _) = call(&admin, "PATCH", u("/api/v1/domains/example.org/classes/nodocs"), Some(json!({"features": all}))).await;
    assert_eq!(s, StatusCode::OK);
    assert!(eventually(|| async { call(&frank, "GET", u("/api/v1/items"), None).await.0 == StatusCode::OK }).await);

    // A class without the web interface: every page but logging in and out is refused, the
    // API stays.
    let noweb = json!({"web": false, "mail": true, "im": true, "documents": true, "helpdesk": true});
    let (s, _) = call(&admin, "POST", u("/api/v1/domains/example.org/classes"), Some(json!({"name": "noweb", "features": noweb}))).await;
    assert_eq!(s, StatusCode::CREATED);
    add_account(&server, &admin, "example.org", "wendy", "user", DAVE_PW).await;
    let (s, _) = call(&admin, "PATCH", u("/api/v1/domains/example.org/accounts/wendy"), Some(json!({"class": "noweb"}))).await;
    assert_eq!(s, StatusCode::OK);
    let wendy = user(&server, "wendy@example.org", DAVE_PW).await;
    for page in ["/account", "/documents", &format!("/documents/{shared_folder}"), "/admin/audit"] {
        let r = wendy.get(u(page)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{page}");
        assert!(r.text().await.unwrap().contains("does not include the web interface"), "{page}");
    }
    assert_eq!(call(&wendy, "GET", u("/api/v1/me"), None).await.0, StatusCode::OK);
    assert_eq!(call(&wendy, "GET", u("/api/v1/items"), None).await.0, StatusCode::OK);
    let web_denied = events(&server, &admin, "action=feature.denied&security=true&user=wendy@example.org", 4).await;
    assert!(web_denied.len() >= 4, "{web_denied:?}");

    // Storage quota: 1000 bytes, 3 documents.
    let (s, v) = upload(&server, &erin, None, "a", vec![b'a'; 600]).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let (s, v) = upload(&server, &erin, None, "b", vec![b'b'; 600]).await;
    assert_eq!((s, code(&v)), (StatusCode::INSUFFICIENT_STORAGE, "quota_exceeded"), "{v}");
    let (_, v) = call(&erin, "GET", u("/api/v1/me/usage"), None).await;
    assert_eq!(v, json!({"bytes": 600, "documents": 1, "quota_bytes": 1000, "quota_documents": 3}));
    // An empty document is a document.
    let (s, v) = upload(&server, &erin, None, "empty", Vec::new()).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let empty = v["item"]["id"].as_i64().unwrap();
    assert_eq!(content(&server, &erin, &format!("/api/v1/items/{empty}/content")).await, (StatusCode::OK, Vec::new()));
    // Ten parallel uploads of 100 bytes: one document and 400 bytes are left, and no
    // interleaving passes either limit.
    let tasks: Vec<_> = (0..10)
        .map(|i| {
            let (erin, url) = (erin.clone(), u("/api/v1/items/documents"));
            tokio::spawn(async move { erin.post(url).query(&[("name", format!("p{i}"))]).body(vec![b'p'; 100]).send().await.unwrap().status() })
        })
        .collect();
    let mut created = 0;
    for t in tasks {
        match t.await.unwrap() {
            StatusCode::CREATED => created += 1,
            StatusCode::INSUFFICIENT_STORAGE => {}
            other => panic!("parallel upload answered {other}"),
        }
    }
    assert_eq!(created, 1, "only one more document fits");
    let (_, v) = call(&erin, "GET", u("/api/v1/me/usage"), None).await;
    assert_eq!((v["bytes"].as_i64(), v["documents"].as_i64()), (Some(700), Some(3)));
    let (_, listing) = call(&erin, "GET", u("/api/v1/items"), None).await;
    let sizes: i64 = listing["items"].as_array().unwrap().iter().map(|i| i["size"].as_i64().unwrap()).sum();
    assert_eq!(sizes, 700, "usage matches what is stored");
    // The administrator sees it too; deleting gives it back.
    let (_, v) = call(&admin, "GET", u("/api/v1/domains/example.org/accounts/erin/usage"), None).await;
    assert_eq!(v["bytes"], 700);
    assert_eq!(call(&erin, "DELETE", u(&format!("/api/v1/items/{empty}")), None).await.0, StatusCode::NO_CONTENT);
    let (_, v) = call(&erin, "GET", u("/api/v1/me/usage"), None).await;
    assert_eq!((v["bytes"].as_i64(), v["documents"].as_i64()), (Some(700), Some(2)));
    // A new version counts against the owner's storage quota.
    let first = listing["items"].as_array().unwrap().iter().find(|i| i["name"] == "a").unwrap()["id"].as_i64().unwrap();
    let r = erin.put(u(&format!("/api/v1/items/{first}/content"))).body(vec![b'v'; 400]).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::INSUFFICIENT_STORAGE);
    let r = erin.put(u(&format!("/api/v1/items/{first}/content"))).body(vec![b'v'; 300]).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let (_, v) = call(&erin, "GET", u("/api/v1/me/usage"), None).await;
    assert_eq!(v["bytes"], 1000);

    // Past documents.max_size (5000 here): refused, nothing kept.
    let (s, v) = upload(&server, &gus, None, "big", vec![b'x'; 6000]).await;
    assert_eq!((s, code(&v)), (StatusCode::PAYLOAD_TOO_LARGE, "too_large"), "{v}");
    let (_, v) = call(&gus, "GET", u("/api/v1/me/usage"), None).await;
    assert_eq!(v["bytes"], 0);

    // An upload cut off half-way: nothing visible, no usage, no file left.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = vec![Ok(vec![b'c'; 2000]), Err(std::io::Error::other("client gone"))];
    let body = reqwest::Body::wrap_stream(futures_util::stream::iter(chunks));
    let r = gus.post(u("/api/v1/items/documents")).query(&[("name", "cut")]).body(body).send().await;
    assert!(r.is_err() || !r.unwrap().status().is_success());
    let (_, v) = call(&gus, "GET", u("/api/v1/items"), None).await;
    assert_eq!(names(&v, "items"), ["Open"]);
    let (_, v) = call(&gus, "GET", u("/api/v1/me/usage"), None).await;
    assert_eq!(v["bytes"], 0);
    let tmp = server.data_dir.join("documents/tmp");
    assert!(Server::wait_until(std::time::Duration::from_secs(10), || std::fs::read_dir(&tmp).unwrap().count() == 0), "the cut upload's file is gone: {:?}", std::fs::read_dir(&tmp).unwrap().map(|e| e.unwrap().metadata().unwrap().len()).collect::<Vec<_>>());
}

async fn hostile_names_and_content(backend: Backend) {
    let (server, admin) = with_admin(backend).await;
    add_account(&server, &admin, "example.org", "mallory", "user", ALICE_PW).await;
    let m = user(&server, "mallory@example.org", ALICE_PW).await;
    let u = |p: &str| server.url(p);
    let root = folder(&server, &m, None, "root").await;
    let long = "n".repeat(256);
    for bad in ["../etc/passwd", "/etc/passwd", "..", ".", "a\0b", "a\\b", "x/y", "a\u{2215}b", "\u{ff0e}\u{ff0e}\u{ff0f}x", "\u{2025}", "evil\u{202e}txt.exe", " padded", "line\nbreak", long.as_str(), ""] {
        let (s, v) = upload(&server, &m, Some(root), bad, b"x".to_vec()).await;
        assert_eq!((s, code(&v)), (StatusCode::BAD_REQUEST, "invalid_input"), "{bad:?}: {v}");
        let (s, v) = call(&m, "POST", u("/api/v1/items/folders"), Some(json!({"name": bad, "parent": root}))).await;
        assert_eq!((s, code(&v)), (StatusCode::BAD_REQUEST, "invalid_input"), "{bad:?}: {v}");
        let (s, _) = call(&m, "PATCH", u(&format!("/api/v1/items/{root}")), Some(json!({"name": bad}))).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{bad:?}");
    }
    let (_, v) = call(&m, "GET", u(&format!("/api/v1/items/{root}")), None).await;
    assert_eq!(v["children"], json!([]), "nothing was made");
    // Content is stored by id, never by name: the names above reached no file system path.
    let walk = walk(&server.data_dir.join("documents"));
    assert!(walk.iter().all(|p| p.file_name().unwrap().to_str().unwrap().chars().all(|c| c.is_ascii_hexdigit() || c.is_ascii_digit() || c == '-' || c == '_' || c.is_ascii_alphanumeric())), "{walk:?}");
    // A page that would run script is served as an inert attachment.
    let id = doc(&server, &m, Some(root), "<img src=x onerror=alert(1)>.html", "<script>alert(1)</script>").await;
    let r = m.get(u(&format!("/api/v1/items/{id}/content"))).send().await.unwrap();
    assert_eq!(r.headers()["content-type"], "application/octet-stream");
    assert_eq!(r.headers()["x-content-type-options"], "nosniff");
    assert!(r.headers()["content-disposition"].to_str().unwrap().starts_with("attachment;"));
    // Malformed ids and parameters.
    let (s, _) = call(&m, "GET", u("/api/v1/items/not-a-number"), None).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, _) = call(&m, "POST", u("/api/v1/items/folders"), Some(json!({"name": "x", "parent": root, "owner": "admin"}))).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "unknown fields are refused");
    let r = m.post(u("/api/v1/items/documents")).query(&[("name", "x"), ("parent", &id.to_string())]).body("x").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST, "a document is not a folder");
    // Folders nest at most 32 deep, made there or moved there with what is below them.
    let mut deepest = root;
    for level in 2..=32 {
        deepest = folder(&server, &m, Some(deepest), &format!("level{level}")).await;
    }
    let (s, v) = call(&m, "POST", u("/api/v1/items/folders"), Some(json!({"name": "too deep", "parent": deepest}))).await;
    assert_eq!((s, code(&v)), (StatusCode::BAD_REQUEST, "invalid_input"), "{v}");
    let pair = folder(&server, &m, None, "pair").await;
    folder(&server, &m, Some(pair), "inner").await;
    let parent_of_deepest = call(&m, "GET", u(&format!("/api/v1/items/{deepest}")), None).await.1["item"]["parent"].as_i64().unwrap();
    let (s, v) = call(&m, "PATCH", u(&format!("/api/v1/items/{pair}")), Some(json!({"parent": parent_of_deepest}))).await;
    assert_eq!((s, code(&v)), (StatusCode::BAD_REQUEST, "invalid_input"), "two levels under level 31: {v}");
    let grandparent = call(&m, "GET", u(&format!("/api/v1/items/{parent_of_deepest}")), None).await.1["item"]["parent"].as_i64().unwrap();
    let (s, v) = call(&m, "PATCH", u(&format!("/api/v1/items/{pair}")), Some(json!({"parent": grandparent}))).await;
    assert_eq!(s, StatusCode::OK, "two levels under level 30 fit: {v}");

    // The operator's command line has no account and makes no documents.
    let (s, _) = call(&admin, "GET", u("/api/v1/items"), None).await;
    assert_eq!(s, StatusCode::OK);
}

/// A folder deleted while uploads into it commit: every upload lands before the delete (and
/// goes with it) or is refused after it; no document is left under a folder that is gone, and
/// the usage matches what is stored.
async fn deleting_a_folder_during_uploads_leaves_no_orphan(backend: Backend) {
    let (server, admin) = with_admin(backend).await;
    add_account(&server, &admin, "example.org", "ursula", "user", ALICE_PW).await;
    let c = user(&server, "ursula@example.org", ALICE_PW).await;
    for round in 0..3 {
        let f = folder(&server, &c, None, &format!("busy{round}")).await;
        let uploads: Vec<_> = (0..12)
            .map(|i| {
                let (c, url) = (c.clone(), server.url("/api/v1/items/documents"));
                tokio::spawn(async move {
                    c.post(url).query(&[("name", format!("u{i}")), ("parent", f.to_string())]).body(vec![b'u'; 1000]).send().await.unwrap().status()
                })
            })
            .collect();
        tokio::time::sleep(std::time::Duration::from_millis(5 * round)).await;
        let (s, v) = call(&c, "DELETE", server.url(&format!("/api/v1/items/{f}")), None).await;
        assert_eq!(s, StatusCode::NO_CONTENT, "{v}");
        for u in uploads {
            let s = u.await.unwrap();
            assert!(s == StatusCode::CREATED || s == StatusCode::NOT_FOUND, "{s}");
        }
    }
    let orphans = sql_text(&server, "SELECT CAST(COUNT(*) AS TEXT) FROM items WHERE parent_id <> 0 AND parent_id NOT IN (SELECT id FROM items)").await;
    assert_eq!(orphans, "0");
    let (_, v) = call(&c, "GET", server.url("/api/v1/me/usage"), None).await;
    assert_eq!((v["bytes"].as_i64(), v["documents"].as_i64()), (Some(0), Some(0)), "everything went with its folder");
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        }
        out.push(p);
    }
    out
}

on_both_stores! {
    documents_access => access_modes_and_inheritance;
    documents_quotas => quotas_and_the_feature_switch;
    documents_hostile => hostile_names_and_content;
    documents_delete_during_uploads => deleting_a_folder_during_uploads_leaves_no_orphan;
}

/// Content streams: 256 MiB up and down moves the server's memory by far less than the
/// document (a buffered copy would add the whole of it). The 1 GiB figure is in
/// `scripts/bench documents`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_documents_stream_with_flat_memory() {
    const MIB: usize = 1 << 20;
    const SIZE: usize = 256 * MIB;
    let (server, admin) = with_admin(Backend::Sqlite).await;
    add_account(&server, &admin, "example.org", "big", "user", ALICE_PW).await;
    let c = user(&server, "big@example.org", ALICE_PW).await;
    let before = server.rss_kib().unwrap();
    let peak = server.sample_peak_memory();
    // 4 MiB chunks of a repeating pattern, so the content can be checked on the way back.
    let chunks = futures_util::stream::iter((0..SIZE / (4 * MIB)).map(|i| Ok::<_, std::io::Error>(vec![(i % 251) as u8; 4 * MIB])));
    let r = c
        .post(server.url("/api/v1/items/documents"))
        .query(&[("name", "big.bin")])
        .header("content-length", SIZE.to_string())
        .body(reqwest::Body::wrap_stream(chunks))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let id = r.json::<Value>().await.unwrap()["item"]["id"].as_i64().unwrap();
    let mut r = c.get(server.url(&format!("/api/v1/items/{id}/content"))).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let mut received = 0usize;
    while let Some(chunk) = r.chunk().await.unwrap() {
        for (k, b) in chunk.iter().enumerate() {
            assert_eq!(*b, (((received + k) / (4 * MIB)) % 251) as u8, "byte {}", received + k);
        }
        received += chunk.len();
    }
    let peak = peak.stop();
    assert_eq!(received, SIZE);
    let grew = peak.saturating_sub(before) / 1024;
    assert!(grew < 64, "the server grew by {grew} MiB while 256 MiB went through (from {} MiB)", before / 1024);
}

/// At start, files no version refers to (a crash between placing a file and committing its
/// version, an unfinished upload) are removed once they are an hour old; younger ones may
/// belong to another server's commit in progress, and every stored version stays.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_start_sweeps_old_files_without_a_version() {
    let (mut server, admin) = with_admin(Backend::Sqlite).await;
    add_account(&server, &admin, "example.org", "sam", "user", ALICE_PW).await;
    let c = user(&server, "sam@example.org", ALICE_PW).await;
    let kept = doc(&server, &c, None, "kept.txt", "still here").await;
    let root = server.data_dir.join("documents");
    let old = [root.join("tmp/unfinished-upload"), root.join("0f/987654321")];
    let young = root.join("1e/123456789");
    for p in old.iter().chain([&young]) {
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, "orphan").unwrap();
    }
    // Everything but the young orphan is made two hours old, the stored version included.
    for p in walk(&root).iter().filter(|p| p.is_file() && **p != young) {
        let status = std::process::Command::new("touch").arg("-d").arg("2 hours ago").arg(p).status().unwrap();
        assert!(status.success());
    }
    server.restart().unwrap();
    for p in &old {
        assert!(!p.exists(), "{} was swept", p.display());
    }
    assert!(young.exists(), "a young file may be another server's commit in progress");
    let c = user(&server, "sam@example.org", ALICE_PW).await;
    assert_eq!(content(&server, &c, &format!("/api/v1/items/{kept}/content")).await, (StatusCode::OK, b"still here".to_vec()));
}
