//! The administration CLI on the same data directory as the running server.

use deskward_testkit::{Backend, ServerOptions, on_both_stores};
use reqwest::StatusCode;

use crate::support::*;

on_both_stores! {
    cli_manages_tenancy_seen_by_the_server => cli_manages_tenancy_seen_by_the_server;
    cli_errors_are_clear_and_change_nothing => cli_errors_are_clear_and_change_nothing;
}

async fn cli_manages_tenancy_seen_by_the_server(backend: Backend) {
    let server = start(ServerOptions::new(backend)).await;
    assert!(server.cli_ok(&["domain", "add", "corp.test"], None).contains("created domain corp.test"));
    server.cli_ok(&["class", "add", "corp.test", "basic", "--without", "im,helpdesk", "--quota-storage-bytes", "1000000"], None);
    let classes = server.cli_ok(&["class", "list", "corp.test"], None);
    assert!(classes.contains("features=web,mail,documents") && classes.contains("storage=1000000"), "{classes}");
    server.cli_ok(&["account", "add", "zoe@corp.test", "--role", "domain-admin", "--class", "basic", "--password-stdin"], Some("pw10-pass-9-long!\n"));
    server.cli_ok(&["group", "add", "corp.test", "staff"], None);
    assert!(server.cli_ok(&["group", "add-member", "corp.test", "staff", "zoe"], None).contains("zoe"));
    let shown = server.cli_ok(&["account", "show", "zoe@corp.test"], None);
    assert!(shown.contains("domain-admin") && shown.contains("basic") && shown.contains("staff"), "{shown}");
    let list = server.cli_ok(&["domain", "list"], None);
    assert!(list.contains("corp.test") && list.contains("1 accounts"), "{list}");

    let client = server.client();
    let r = login(&server, &client, "zoe@corp.test", "pw10-pass-9-long!").await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let me: serde_json::Value = r.json().await.unwrap();
    assert_eq!((me["class"].as_str(), me["groups"][0].as_str()), (Some("basic"), Some("staff")));

    // A change made by the CLI (or another node) reaches the server's session cache within its
    // poll interval of 250 ms; allow a generous bound.
    server.cli_ok(&["account", "set", "zoe@corp.test", "--role", "user"], None);
    let demoted = eventually(|| async { call(&client, "GET", server.url("/api/v1/domains/corp.test/accounts"), None).await.0 == StatusCode::FORBIDDEN });
    assert!(demoted.await, "a demotion from the CLI takes effect");
    server.cli_ok(&["account", "passwd", "zoe@corp.test", "--password-stdin"], Some("pw10-new-pass-9!\n"));
    let ended = eventually(|| async { call(&client, "GET", server.url("/api/v1/me"), None).await.0 == StatusCode::UNAUTHORIZED });
    assert!(ended.await, "a password change from the CLI ends the sessions");
    assert_eq!(login(&server, &client, "zoe@corp.test", "pw10-new-pass-9!").await.status(), StatusCode::CREATED);

    server.cli_ok(&["domain", "disable", "corp.test"], None);
    assert_eq!(login(&server, &client, "zoe@corp.test", "pw10-new-pass-9!").await.status(), StatusCode::FORBIDDEN);
    let policy = server.cli_ok(&["policy", "show", "corp.test", "--for", "staff"], None);
    assert!(policy.contains("min_length        12"), "{policy}");
}

async fn cli_errors_are_clear_and_change_nothing(backend: Backend) {
    let server = start(ServerOptions::new(backend)).await;
    server.cli_ok(&["domain", "add", "corp.test"], None);
    let cases: [(&[&str], Option<&str>, &str); 7] = [
        (&["domain", "add", "corp.test"], None, "domain corp.test already exists"),
        (&["domain", "add", "bad_name.test"], None, "contains '_'"),
        (&["account", "add", "x@nowhere.test", "--role", "user"], None, "domain nowhere.test not found"),
        (&["account", "add", "nologin", "--role", "user"], None, "must look like name@domain"),
        (&["account", "add", "x@corp.test", "--role", "user", "--password-stdin"], Some(""), "empty"),
        (&["account", "add", "x@corp.test", "--role", "user", "--class", "ghost", "--password-stdin"], Some("long-enough-pw-9!"), "user class ghost not found"),
        (&["class", "add", "corp.test", "c1", "--without", "telepathy"], None, "unknown feature \"telepathy\""),
    ];
    for (args, stdin, expected) in cases {
        let out = server.cli(args, stdin);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} should fail");
        assert!(err.contains(expected), "{args:?}: {err:?} lacks {expected:?}");
    }
    let accounts = server.cli_ok(&["account", "list", "corp.test"], None);
    assert!(accounts.trim().is_empty(), "no account was created: {accounts}");
}
