//! Conversation logging end to end: a domain's switch (API and CLI, system admins only),
//! messages handed over as the messaging service hands them (through the application layer,
//! from a second process on the server's database, as the command line writes), read through
//! the API only by the admins who may, exported, verified, archived by retention, and kept out
//! of syslog forwarding.

use std::time::Duration;

use deskward_app::{App, Caller, ConversationMessage, Hasher, HasherLimits, Source};
use deskward_core::Role;
use deskward_core::authz::Actor;
use deskward_core::class::Features;
use deskward_core::password::hash::HashParams;
use deskward_store::{OpenOptions, Store};
use deskward_testkit::{Backend, Server, on_both_stores};
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};

use crate::audit::records;
use crate::support::{add_account, call, code, files_under, logged_in, with_admin};

on_both_stores! {
    conversations_are_logged_where_switched_on_and_read_by_their_admins => conversations_are_logged_where_switched_on_and_read_by_their_admins;
}

const PW: &str = "Plenty-long-secret-1";

/// The application on the server's own database, as the messaging service will use it.
async fn messaging(server: &Server) -> App {
    let url = match &server.database_url {
        Some(u) => u.clone(),
        None => format!("sqlite://{}", server.data_dir.join("deskward.db").display()),
    };
    let store = Store::open(&url, &OpenOptions { max_connections: 2, connect_timeout: Duration::from_secs(10) }).await.unwrap();
    let params = HashParams { memory_kib: 1024, iterations: 1, parallelism: 1 };
    App::new(store, Hasher::new(params, HasherLimits { max_in_flight: 1, max_queued: 1 }).unwrap())
}

fn sender(login: &str) -> Caller {
    Caller {
        actor: Actor::Account { account_id: 0, domain_id: 0, role: Role::User },
        name: login.into(),
        source: Source { ip: "192.0.2.7".into(), host: String::new(), user_agent: String::new() },
        features: Features::ALL,
        groups: Vec::new(),
        acting: None,
    }
}

async fn send(app: &App, from: &str, to: &str, text: &str) -> Vec<String> {
    let message = ConversationMessage { conversation: "direct-1".into(), to: vec![to.into()], text: text.into() };
    app.log_conversation(&sender(from), &message).await.unwrap()
}


async fn switch(server: &Server, who: &Client, domain: &str, on: bool) -> (StatusCode, Value) {
    call(who, "PATCH", server.url(&format!("/api/v1/domains/{domain}")), Some(json!({ "im_logging": on }))).await
}


async fn conversations_are_logged_where_switched_on_and_read_by_their_admins(backend: Backend) {
    let (server, admin) = with_admin(backend).await;
    server.cli_ok(&["domain", "add", "other.test"], None);
    add_account(&server, &admin, "example.org", "uma", "user", PW).await;
    add_account(&server, &admin, "example.org", "dora", "domain-admin", PW).await;
    add_account(&server, &admin, "other.test", "ola", "user", PW).await;
    add_account(&server, &admin, "other.test", "otto", "domain-admin", PW).await;
    let app = messaging(&server).await;

    // Off by default: nothing is logged.
    assert!(send(&app, "uma@example.org", "ola@other.test", "before the switch").await.is_empty());
    let (_, d) = call(&admin, "GET", server.url("/api/v1/domains/example.org"), None).await;
    assert_eq!(d["im_logging"], false);

    // Only a system admin switches it, and the switch is recorded in the domain's audit log.
    let dora = logged_in(&server, "dora@example.org", PW).await;
    let (s, v) = switch(&server, &dora, "example.org", true).await;
    assert_eq!((s, code(&v)), (StatusCode::FORBIDDEN, "forbidden"), "{v}");
    let (s, v) = switch(&server, &admin, "example.org", true).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["im_logging"], true);
    let switched = records(&server, &admin, "domain=example.org&action=domain.im_logging").await;
    assert_eq!(switched.len(), 1, "{switched:?}");
    assert_eq!(switched[0]["actor"], "admin@example.org");
    assert_eq!(switched[0]["summary"], json!({ "from": false, "to": true }));

    // Each domain involved logs the message in its own log, if it logs at all.
    let hostile = "first line\nsecond line \u{1b}[31m<script>alert(1)</script>\u{0}";
    assert_eq!(send(&app, "uma@example.org", "ola@other.test", hostile).await, ["example.org:im"]);
    assert_eq!(send(&app, "ola@other.test", "uma@example.org", "a reply").await, ["example.org:im"]);
    let long = "x".repeat(100_000);
    assert_eq!(send(&app, "uma@example.org", "dora@example.org", &long).await, ["example.org:im"]);
    server.cli_ok(&["domain", "set", "other.test", "--im-logging", "on"], None);
    let out = server.cli_ok(&["domain", "show", "other.test"], None);
    assert!(out.contains("im log:    on"), "{out}");
    assert_eq!(send(&app, "uma@example.org", "ola@other.test", "both logs").await, ["example.org:im", "other.test:im"]);

    // The system admin reads the log like the audit log, newest first; the text is whole.
    let log = records(&server, &admin, "domain=example.org:im").await;
    let texts: Vec<&str> = log.iter().map(|r| r["summary"]["text"].as_str().unwrap()).collect();
    assert_eq!(texts.len(), 4, "{log:?}");
    assert_eq!(texts[0], "both logs");
    assert_eq!(texts[3], hostile, "control characters and newlines survive, escaped");
    assert!(log.iter().all(|r| r["action"] == "im.message" && r["chain"] == "example.org:im"));
    assert_eq!(log[3]["actor"], "uma@example.org");
    assert_eq!(log[3]["source_ip"], "192.0.2.7");
    assert_eq!(log[3]["target"], "conversation:direct-1");
    assert_eq!(log[3]["summary"]["to"], json!(["ola@other.test"]));
    assert_eq!(log[1]["summary"]["text"].as_str().unwrap().len(), deskward_core::audit::MAX_MESSAGE);
    assert_eq!(log[1]["summary"]["cut_from_bytes"], 100_000);
    // Words are found in any case; the needle is matched as the record holds it (escaped), and
    // LIKE's wildcards in it are plain characters.
    let found = |q: &'static str| {
        let (server, admin) = (&server, &admin);
        async move { records(server, admin, &format!("domain=example.org:im&text={q}")).await }
    };
    assert_eq!(found("A%20REPLY").await.len(), 1);
    assert_eq!(found("line%0Asecond").await.len(), 1, "a newline in the text");
    assert_eq!(found("%3Cscript%3E").await.len(), 1);
    assert!(found("%25").await.is_empty(), "% is not a wildcard");
    assert!(found("_%20reply").await.is_empty(), "_ is not a wildcard");
    let out = server.cli_ok(&["audit", "list", "--domain", "example.org:im", "--text", "both LOGS"], None);
    assert_eq!(out.lines().count(), 1, "{out}");
    let (s, v) = call(&admin, "GET", server.url(&format!("/api/v1/audit?text={}", "x".repeat(201))), None).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    // The conversation log is not in the domain's audit log.
    assert!(records(&server, &admin, "domain=example.org&action=im.message").await.is_empty());

    // A domain admin reads their own domain's conversations, not another's; a user none.
    let (s, v) = call(&dora, "GET", server.url("/api/v1/audit?domain=example.org:im"), None).await;
    assert_eq!((s, v.as_array().map(Vec::len)), (StatusCode::OK, Some(4)), "{v}");
    let (s, v) = call(&dora, "GET", server.url("/api/v1/audit/chains"), None).await;
    assert_eq!(s, StatusCode::OK);
    let chains: Vec<&str> = v.as_array().unwrap().iter().map(|c| c["chain"].as_str().unwrap()).collect();
    assert_eq!(chains, ["example.org", "example.org:im"]);
    let (s, days) = call(&dora, "GET", server.url("/api/v1/audit/chains/example.org:im/days"), None).await;
    assert_eq!((s, days[0]["records"].as_i64()), (StatusCode::OK, Some(4)), "{days}");
    for path in ["/api/v1/audit?domain=other.test:im", "/api/v1/audit/chains/other.test:im/days"] {
        let (s, v) = call(&dora, "GET", server.url(path), None).await;
        assert_eq!((s, code(&v)), (StatusCode::FORBIDDEN, "forbidden"), "{path}");
    }
    let otto = logged_in(&server, "otto@other.test", PW).await;
    let (s, v) = call(&otto, "GET", server.url("/api/v1/audit?domain=other.test:im"), None).await;
    assert_eq!((s, v.as_array().map(Vec::len)), (StatusCode::OK, Some(1)), "{v}");
    let uma = logged_in(&server, "uma@example.org", PW).await;
    let (s, _) = call(&uma, "GET", server.url("/api/v1/audit?domain=example.org:im"), None).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    // A chain name that is neither a domain nor a domain's log is refused, not looked up.
    let (s, _) = call(&admin, "GET", server.url("/api/v1/audit?domain=..%2F..:im"), None).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);

    // On the web page a day of the log reads as messages, escaped, not as JSON.
    let day = days[0]["day"].as_str().unwrap();
    let r = dora.get(server.url(&format!("/admin/audit/example.org:im/{day}"))).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let html = r.text().await.unwrap();
    assert!(html.contains("to ola@other.test") && html.contains("a reply") && html.contains("[…cut; 100000 bytes in all]"), "{html}");
    assert!(html.contains("&#60;script&#62;alert(1)&#60;/script&#62;") && !html.contains("<script>alert"), "the text is escaped");
    assert!(!html.contains('\u{1b}') && !html.contains('\u{0}'), "control characters are not sent to the browser");

    // Messages are not forwarded to syslog.
    assert!(app.audit_unforwarded().await.unwrap().iter().all(|h| !h.chain.ends_with(":im")));

    // Switched off, the domain's messages are no longer logged; the other domain's still are.
    let (s, v) = switch(&server, &admin, "example.org", false).await;
    assert_eq!((s, &v["im_logging"]), (StatusCode::OK, &json!(false)), "{v}");
    assert_eq!(send(&app, "uma@example.org", "ola@other.test", "after the switch").await, ["other.test:im"]);
    assert_eq!(records(&server, &admin, "domain=example.org:im").await.len(), 4);

    // Export writes the log under the domain's folder, and verify checks both chains.
    let out_dir = server.data_dir.join("export");
    let out_arg = out_dir.to_str().unwrap();
    let out = server.cli_ok(&["audit", "export", "--domain", "example.org", "--out", out_arg], None);
    assert!(out.contains("example.org:im: wrote 4 records in 1 day files"), "{out}");
    let im_files = files_under(&out_dir.join("example.org/im"));
    assert_eq!(im_files.len(), 1, "{im_files:?}");
    let text = std::fs::read_to_string(&im_files[0]).unwrap();
    assert_eq!(text.lines().count(), 4, "one record per line, whatever the text held");
    let domain_files = files_under(&out_dir.join("example.org"));
    assert!(domain_files.iter().any(|f| !f.starts_with(out_dir.join("example.org/im"))), "{domain_files:?}");
    let out = server.cli_ok(&["audit", "verify", "--domain", "example.org", "--archive", out_arg], None);
    assert!(out.contains("example.org: intact") && out.contains("example.org:im: intact"), "{out}");
    // An edited message in the export is named.
    std::fs::write(&im_files[0], text.replacen("a reply", "a forged reply", 1)).unwrap();
    let out = server.cli(&["audit", "verify", "--domain", "example.org", "--archive", out_arg], None);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("example.org:im") && err.contains("edited"), "{err}");

    // Retention archives the log with the domain's audit log, and both still verify.
    server.cli_ok(&["domain", "set", "example.org", "--audit-retention-days", "1"], None);
    let later = (3 * 86_400).to_string();
    let out = server.cli_env(&["audit", "archive"], &[("DESKWARD_TEST_CLOCK_OFFSET", &later)]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && text.contains("example.org:im: archived 4 records"), "{text}");
    let archive = server.data_dir.join("audit-archive");
    assert_eq!(files_under(&archive.join("example.org/im")).len(), 1);
    let out = server.cli_ok(&["audit", "verify", "--domain", "example.org", "--archive", archive.to_str().unwrap()], None);
    assert!(out.contains("example.org:im: intact"), "{out}");
}
