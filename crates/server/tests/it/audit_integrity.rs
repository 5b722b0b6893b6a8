//! The audit log under attack and failure: tampering in the database and in exported files,
//! a crash in the middle of audited changes, a store that refuses writes, hostile values.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use deskward_testkit::{Backend, Server, on_both_stores};
use reqwest::StatusCode;
use serde_json::json;

use crate::audit::{events, records};
use crate::support::{call, code, files_under, login, sql, sql_text, with_admin};

on_both_stores! {
    tampering_in_the_store_is_named => tampering_in_the_store_is_named;
    tampering_in_an_export_is_named => tampering_in_an_export_is_named;
    a_crash_loses_no_record_and_leaves_none_alone => a_crash_loses_no_record_and_leaves_none_alone;
    a_store_refusing_the_record_refuses_the_change => a_store_refusing_the_record_refuses_the_change;
    hostile_values_cannot_break_records => hostile_values_cannot_break_records;
}

fn verify(server: &Server, args: &[&str]) -> (bool, String) {
    let mut all = vec!["audit", "verify"];
    all.extend_from_slice(args);
    let out = server.cli(&all, None);
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

async fn some_changes(server: &Server, admin: &reqwest::Client, n: usize) {
    for i in 0..n {
        let (s, v) = call(admin, "POST", server.url("/api/v1/domains/example.org/groups"), Some(json!({"name": format!("g{i}")}))).await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
    }
}

async fn tampering_in_the_store_is_named(backend: Backend) {
    let (server, admin) = with_admin(backend).await;
    some_changes(&server, &admin, 6).await;
    let (ok, out) = verify(&server, &["--domain", "example.org"]);
    assert!(ok, "{out}");
    let head: i64 = sql_text(&server, "SELECT CAST(seq AS TEXT) FROM audit_chains WHERE chain = 'example.org'").await.parse().unwrap();
    sql(&server, "CREATE TABLE audit_backup AS SELECT * FROM audit_records").await;
    let restore = "DELETE FROM audit_records; INSERT INTO audit_records SELECT * FROM audit_backup";
    let cases = [
        ("edit", "UPDATE audit_records SET target = 'group:innocent' WHERE chain = 'example.org' AND seq = 4".to_owned(), "record 4 (", "edited"),
        ("edit and re-hash", "UPDATE audit_records SET hash = prev_hash WHERE chain = 'example.org' AND seq = 4".to_owned(), "record 4 (", "edited"),
        ("delete", "DELETE FROM audit_records WHERE chain = 'example.org' AND seq = 5".to_owned(), "records 5 to 5", "deleted"),
        ("delete the newest", format!("DELETE FROM audit_records WHERE chain = 'example.org' AND seq = {head}"), "last records", "deleted"),
        (
            "insert",
            format!(
                "INSERT INTO audit_records SELECT chain, seq + {head}, at, day, security, action, actor, source_ip, source_host, \
                 target, summary, prev_hash, hash, acting FROM audit_backup WHERE chain = 'example.org' AND seq = 2"
            ),
            "beyond the chain's head",
            "inserted",
        ),
        (
            "reorder",
            "UPDATE audit_records SET target = CASE seq WHEN 3 THEN (SELECT target FROM audit_backup WHERE chain = 'example.org' AND seq = 4) \
             ELSE (SELECT target FROM audit_backup WHERE chain = 'example.org' AND seq = 3) END, \
             hash = CASE seq WHEN 3 THEN (SELECT hash FROM audit_backup WHERE chain = 'example.org' AND seq = 4) \
             ELSE (SELECT hash FROM audit_backup WHERE chain = 'example.org' AND seq = 3) END \
             WHERE chain = 'example.org' AND seq IN (3, 4)"
                .to_owned(),
            "record 3 (",
            "edited",
        ),
    ];
    for (name, attack, names, says) in cases {
        sql(&server, &attack).await;
        let (ok, out) = verify(&server, &["--domain", "example.org"]);
        assert!(!ok, "{name}: verify passed: {out}");
        assert!(out.contains(names) && out.contains(says), "{name}: {out}");
        sql(&server, restore).await;
        let (ok, out) = verify(&server, &["--domain", "example.org"]);
        assert!(ok, "{name}: restored chain: {out}");
    }
    // The API's search shows the same records the chain holds.
    assert_eq!(records(&server, &admin, "domain=example.org").await.len() as i64, head);
    // A record of the next day seals today; a seal changed afterwards is named.
    let out = server.cli_env(&["group", "add", "example.org", "tomorrow"], &[("DESKWARD_TEST_CLOCK_OFFSET", "86400")]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let sealed = sql_text(&server, "SELECT CAST(last_seq AS TEXT) FROM audit_seals WHERE chain = 'example.org'").await;
    assert_eq!(sealed, head.to_string(), "today's seal names its last record");
    assert!(verify(&server, &["--domain", "example.org"]).0);
    sql(&server, &format!("UPDATE audit_seals SET last_hash = '{}' WHERE chain = 'example.org'", "0".repeat(64))).await;
    let (ok, out) = verify(&server, &["--domain", "example.org"]);
    assert!(!ok && out.contains("seal of"), "{out}");
}

async fn tampering_in_an_export_is_named(backend: Backend) {
    let (server, admin) = with_admin(backend).await;
    some_changes(&server, &admin, 5).await;
    let out_dir = server.data_dir.join("export");
    let out = server.cli_ok(&["audit", "export", "--domain", "example.org", "--out", out_dir.to_str().unwrap()], None);
    assert!(out.contains("example.org: wrote"), "{out}");
    let files: Vec<_> = files_under(&out_dir.join("example.org"));
    assert_eq!(files.len(), 1, "one day of records: {files:?}");
    let file = &files[0];
    // The layout is <domain>/<yyyy>/<mm>/<dd>.jsonl.
    let rel = file.strip_prefix(&out_dir).unwrap().to_string_lossy().into_owned();
    let day = sql_text(&server, "SELECT MIN(day) FROM audit_records WHERE chain = 'example.org'").await;
    assert_eq!(rel, format!("example.org/{}/{}/{}.jsonl", &day[..4], &day[5..7], &day[8..]));
    let original = std::fs::read_to_string(file).unwrap();
    let lines: Vec<&str> = original.lines().collect();
    let archive = ["--domain", "example.org", "--archive", out_dir.to_str().unwrap()];
    let (ok, text) = verify(&server, &archive);
    assert!(ok, "{text}");
    let edit = |i: usize, from: &str, to: &str| {
        let mut l: Vec<String> = lines.iter().map(|s| (*s).to_owned()).collect();
        assert!(l[i].contains(from), "{}", l[i]);
        l[i] = l[i].replacen(from, to, 1);
        l.join("\n") + "\n"
    };
    let without = |i: usize| lines.iter().enumerate().filter(|(j, _)| *j != i).map(|(_, l)| format!("{l}\n")).collect::<String>();
    let mut swapped: Vec<&str> = lines.clone();
    swapped.swap(3, 4);
    let mut doubled: Vec<&str> = lines.clone();
    doubled.insert(5, lines[2]);
    let time_field = lines[3].split("\"time\":\"").nth(1).unwrap().split('"').next().unwrap().to_owned();
    let cases = [
        ("edit", edit(3, "group:g", "group:x"), "line 4", "edited"),
        ("edit the time", edit(3, &time_field, "1999-01-01T00:00:00Z"), "line 4", "edited"),
        ("delete", without(3), "records 4 to 4", "deleted"),
        ("reorder", swapped.join("\n") + "\n", "line 4", "missing"),
        ("insert", doubled.join("\n") + "\n", "line 6", "inserted"),
        ("garbage", edit(1, "{", "{{"), "line 2", "not an audit record"),
    ];
    for (name, content, names, says) in cases {
        std::fs::write(file, content).unwrap();
        let (ok, text) = verify(&server, &archive);
        assert!(!ok, "{name}: verify passed: {text}");
        assert!(text.contains(names) && text.contains(says), "{name}: {text}");
    }
    std::fs::write(file, original).unwrap();
    assert!(verify(&server, &archive).0);
}


async fn a_crash_loses_no_record_and_leaves_none_alone(backend: Backend) {
    let (mut server, admin) = with_admin(backend).await;
    let acknowledged = Arc::new(Mutex::new(BTreeSet::new()));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut clients = Vec::new();
    for c in 0..20 {
        let (admin, url, acked, stop) = (admin.clone(), server.url("/api/v1/domains/example.org/groups"), acknowledged.clone(), stop.clone());
        clients.push(tokio::spawn(async move {
            let mut i = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let name = format!("c{c}-{i}");
                i += 1;
                let sent = admin.post(&url).json(&json!({ "name": name })).send().await;
                match sent {
                    Ok(r) if r.status() == StatusCode::CREATED => {
                        acked.lock().unwrap().insert(name);
                    }
                    Ok(_) => {}
                    Err(_) => break,
                }
            }
        }));
    }
    // Let the clients get going, then kill the server mid-flight.
    let start = std::time::Instant::now();
    while acknowledged.lock().unwrap().len() < 100 && start.elapsed() < std::time::Duration::from_secs(20) {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    server.kill();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for c in clients {
        let _ = c.await;
    }
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(acknowledged.len() >= 100, "only {} changes acknowledged before the kill", acknowledged.len());
    server.restart().unwrap();
    let admin = server.client();
    assert_eq!(login(&server, &admin, crate::support::ADMIN, crate::support::ADMIN_PW).await.status(), StatusCode::CREATED);
    let recorded = records(&server, &admin, "domain=example.org&action=group.create").await;
    let mut per_group = std::collections::BTreeMap::<String, usize>::new();
    for r in &recorded {
        *per_group.entry(r["target"].as_str().unwrap().trim_start_matches("group:").to_owned()).or_default() += 1;
    }
    let (s, groups) = call(&admin, "GET", server.url("/api/v1/domains/example.org/groups"), None).await;
    assert_eq!(s, StatusCode::OK);
    let existing: BTreeSet<String> = groups.as_array().unwrap().iter().map(|g| g["name"].as_str().unwrap().to_owned()).collect();
    for name in &acknowledged {
        assert_eq!(per_group.get(name), Some(&1), "acknowledged change {name} has exactly one record");
    }
    // No record without its change, and no change without its record.
    assert_eq!(per_group.keys().cloned().collect::<BTreeSet<_>>(), existing);
    assert!(per_group.values().all(|n| *n == 1));
    let (ok, out) = verify(&server, &["--domain", "example.org"]);
    assert!(ok, "{out}");
}

async fn a_store_refusing_the_record_refuses_the_change(backend: Backend) {
    let (server, admin) = with_admin(backend).await;
    // The store refuses any new audit record, as a full disk or a read-only database would.
    match backend {
        Backend::Sqlite => {
            sql(&server, "CREATE TRIGGER refuse BEFORE INSERT ON audit_records BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END").await;
        }
        Backend::Postgres => {
            sql(
                &server,
                "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS \
                 $$ BEGIN RAISE EXCEPTION 'could not extend file: No space left on device' USING ERRCODE = 'disk_full'; END $$; \
                 CREATE TRIGGER refuse BEFORE INSERT ON audit_records FOR EACH ROW EXECUTE FUNCTION refuse()",
            )
            .await;
        }
    }
    let before = records(&server, &admin, "domain=example.org").await.len();
    let (s, v) = call(&admin, "POST", server.url("/api/v1/domains/example.org/groups"), Some(json!({"name": "doomed"}))).await;
    assert!(s.is_server_error(), "{s} {v}");
    if backend == Backend::Postgres {
        assert_eq!((s, code(&v)), (StatusCode::SERVICE_UNAVAILABLE, "storage_unwritable"), "{v}");
        assert!(v["error"]["message"].as_str().unwrap().contains("nothing was changed"), "{v}");
    }
    let out = server.cli(&["group", "add", "example.org", "doomed-too"], None);
    assert!(!out.status.success());
    // Nothing half-written: neither group exists, no record was added, the chain is intact.
    let (_, groups) = call(&admin, "GET", server.url("/api/v1/domains/example.org/groups"), None).await;
    assert_eq!(groups, json!([]));
    assert_eq!(records(&server, &admin, "domain=example.org").await.len(), before);
    let drop = if backend == Backend::Sqlite { "DROP TRIGGER refuse" } else { "DROP TRIGGER refuse ON audit_records" };
    sql(&server, drop).await;
    let (s, _) = call(&admin, "POST", server.url("/api/v1/domains/example.org/groups"), Some(json!({"name": "works-again"}))).await;
    assert_eq!(s, StatusCode::CREATED);
    assert!(verify(&server, &["--domain", "example.org"]).0);
}

async fn hostile_values_cannot_break_records(backend: Backend) {
    let (server, admin) = with_admin(backend).await;
    let c = server.client();
    let huge = "A".repeat(200_000);
    let nasty = "evil\n2026-01-01T00:00:00Z example.org 1 login admin@example.org\r\n{\"seq\":1}\u{1b}[2J\u{0}";
    for who in [format!("{nasty}@example.org"), format!("{huge}@example.org"), "x@example.org\u{202e}gro".to_owned()] {
        let r = login(&server, &c, &who, "whatever-password").await;
        assert!(r.status() == StatusCode::UNAUTHORIZED || r.status() == StatusCode::PAYLOAD_TOO_LARGE, "{}", r.status());
    }
    let failed = events(&server, &admin, "action=login.failed", 2).await;
    assert!(failed.len() >= 2, "{failed:?}");
    for r in &failed {
        let target = r["target"].as_str().unwrap();
        assert!(target.len() <= 600, "a huge value was cut: {} bytes", target.len());
        assert!(!target.chars().any(char::is_control), "control characters were replaced: {target:?}");
    }
    // An export has one line per record, and each line reads back.
    let out_dir = server.data_dir.join("export");
    server.cli_ok(&["audit", "export", "--out", out_dir.to_str().unwrap()], None);
    let mut lines = 0;
    for file in files_under(&out_dir) {
        for line in std::fs::read_to_string(&file).unwrap().lines() {
            let v: serde_json::Value = serde_json::from_str(line).expect("each line is one record");
            assert!(v["seq"].as_i64().is_some());
            lines += 1;
        }
    }
    assert_eq!(lines, records(&server, &admin, "").await.len());
    // The CLI listing prints one line per record too.
    let listing = server.cli_ok(&["audit", "list", "--action", "login.failed"], None);
    assert_eq!(listing.lines().count(), failed.len(), "{listing}");
    for chain in ["example.org", "_system"] {
        assert!(verify(&server, &["--domain", chain]).0);
    }
}
