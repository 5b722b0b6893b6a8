//! Secrets at rest (K9): the relay password goes through the secrets store; once encryption is
//! on no clear text is left in the database's files, its dump, the logs or any API answer;
//! a missing, open, damaged or wrong key file locks the secrets and nothing else; tampered and
//! swapped ciphertexts are named; a rotation killed anywhere leaves every secret opening.

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use deskward_core::secret::SecretKey;
use deskward_testkit::{Backend, Browser, Server, SmtpSink, browser_available, free_port, on_both_stores, smtp_available};
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};

use crate::audit::{events, records};
use crate::notifications::{RELAY_USER, WAIT, mailing, outbox_entry};
use crate::support::*;

on_both_stores! {
    no_clear_text_is_left_once_encryption_is_on => no_clear_text_is_left_once_encryption_is_on;
    a_rotation_killed_anywhere_leaves_every_secret_opening => a_rotation_killed_anywhere_leaves_every_secret_opening;
}

/// A relay password distinctive enough to grep for.
const SECRET: &str = "Relay-Secret-7f3a91c0";
const BOB_PW: &str = "Long-secret-pass-77";

fn key_file(server: &Server) -> PathBuf {
    server.data_dir.join("encryption-key.bin")
}

/// Every file under `dir` whose bytes contain `needle`.
fn files_containing(dir: &Path, needle: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().map(Result::unwrap) {
        let path = entry.path();
        if path.is_dir() {
            found.extend(files_containing(&path, needle));
        } else if std::fs::read(&path).unwrap().windows(needle.len()).any(|w| w == needle.as_bytes()) {
            found.push(path);
        }
    }
    found
}

/// What a plain-text dump of the PostgreSQL database holds (`pg_dump`, the usual backup).
fn pg_dump(server: &Server) -> String {
    let url = server.database_url.as_ref().unwrap();
    let out = std::process::Command::new("pg_dump").arg("--dbname").arg(url).output().expect("pg_dump runs");
    assert!(out.status.success(), "pg_dump: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Whether the database's files (SQLite) or its dump (PostgreSQL) contain `needle`.
fn database_holds(server: &Server, backend: Backend, needle: &str) -> bool {
    match backend {
        Backend::Sqlite => !files_containing(&server.data_dir, needle).is_empty(),
        Backend::Postgres => pg_dump(server).contains(needle),
    }
}

async fn no_clear_text_is_left_once_encryption_is_on(backend: Backend) {
    let Some(python) = smtp_available("secrets at rest") else { return };
    let mut sink = SmtpSink::prepare(free_port(), Some((RELAY_USER, SECRET)));
    sink.start(&python);
    let (server, admin) = with_admin_using(mailing(backend, &sink).keep_log().env("DESKWARD_LOG", "debug")).await;
    add_account(&server, &admin, "example.org", "bob", "user", BOB_PW).await;
    let bob = server.client();
    assert_eq!(login(&server, &bob, "bob@example.org", BOB_PW).await.status(), StatusCode::CREATED);

    // Only a system admin stores the relay password; a bad one is refused.
    let url = server.url("/api/v1/mail/relay-password");
    let (s, v) = call(&bob, "PUT", url.clone(), Some(json!({"password": SECRET}))).await;
    assert_eq!((s, code(&v)), (StatusCode::FORBIDDEN, "forbidden"), "{v}");
    for bad in ["", "line\nbreak", "nul\0byte"] {
        let (s, v) = call(&admin, "PUT", url.clone(), Some(json!({"password": bad}))).await;
        assert_eq!((s, code(&v)), (StatusCode::BAD_REQUEST, "invalid_input"), "{bad:?}: {v}");
    }
    let (s, v) = call(&admin, "PUT", url.clone(), Some(json!({"password": SECRET}))).await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{v}");
    // Before encryption the clear text is in the database: the checks below can see it.
    assert!(database_holds(&server, backend, SECRET), "the stored password is not where this test looks");

    // Turning encryption on needs both acknowledgements, and a system admin.
    let enable = server.url("/api/v1/secrets/enable");
    for body in [json!({"i_understand_key_loss": true, "key_backed_up": false}), json!({"i_understand_key_loss": false, "key_backed_up": true})] {
        let (s, v) = call(&admin, "POST", enable.clone(), Some(body)).await;
        assert_eq!((s, code(&v)), (StatusCode::BAD_REQUEST, "invalid_input"), "{v}");
    }
    let both = json!({"i_understand_key_loss": true, "key_backed_up": true});
    let (s, _) = call(&bob, "POST", enable.clone(), Some(both.clone())).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert!(!key_file(&server).exists(), "a refused request made no key file");
    let (s, state) = call(&admin, "POST", enable.clone(), Some(both.clone())).await;
    assert_eq!(s, StatusCode::OK, "{state}");
    assert_eq!(state["enabled"], true);
    let key_id = state["keys"][0]["key_id"].as_str().unwrap().to_owned();
    assert_eq!(state["secrets"], json!([{"owner": "mail.relay", "field": "password", "sealed_with": key_id, "updated_at": state["secrets"][0]["updated_at"], "problem": null}]));
    assert_eq!(std::fs::metadata(key_file(&server)).unwrap().permissions().mode() & 0o777, 0o600);
    let (s, v) = call(&admin, "POST", enable, Some(both)).await;
    assert_eq!((s, code(&v)), (StatusCode::CONFLICT, "conflict"), "{v}");
    // Turning it off or rotating is not in the API at all.
    for (method, path) in [("POST", "/api/v1/secrets/disable"), ("POST", "/api/v1/secrets/rotate"), ("DELETE", "/api/v1/secrets")] {
        let (s, _) = call(&admin, method, server.url(path), None).await;
        assert!(s == StatusCode::NOT_FOUND || s == StatusCode::METHOD_NOT_ALLOWED, "{method} {path}: {s}");
    }

    // The server opens the sealed password to log in to the relay, with no restart.
    server.cli_ok(&["mail", "test", "ops@example.net"], None);
    let got = sink.wait_for(1, WAIT, |m| m.subject() == "Deskward test message");
    assert_eq!(got[0].login.as_deref(), Some(RELAY_USER));
    // And after one.
    let mut server = server;
    server.restart().unwrap();
    let admin = server.client();
    assert_eq!(login(&server, &admin, ADMIN, ADMIN_PW).await.status(), StatusCode::CREATED);
    server.cli_ok(&["mail", "test", "ops2@example.net"], None);
    sink.wait_for(2, WAIT, |m| m.subject() == "Deskward test message");
    assert!(server.log().contains("stored secrets are encrypted and their key file is in place"));

    // No clear text anywhere: the database's files or dump, the log, the API's answers, the CLI.
    assert!(!database_holds(&server, backend, SECRET), "the relay password is in the database in the clear");
    assert!(!server.log().is_empty() && !server.log().contains(SECRET), "the relay password reached the log");
    let mut answers = String::new();
    for path in ["/api/v1/secrets", "/api/v1/audit?limit=10000", "/api/v1/mail/outbox", "/api/v1/me"] {
        let (s, v) = call(&admin, "GET", server.url(path), None).await;
        assert_eq!(s, StatusCode::OK, "{path}");
        answers.push_str(&v.to_string());
    }
    assert!(!answers.contains(SECRET), "an API answer holds the relay password");
    let out = server.cli(&["secrets", "status"], None);
    let printed = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success() && printed.contains("mail.relay/password") && !printed.contains(SECRET), "{printed}");
    // The audit log says what happened, never the value.
    let set = records(&server, &admin, "domain=_system&action=mail.relay_password").await;
    assert_eq!(set[0]["summary"], json!({"set": true, "sealed": false}));
    let on = records(&server, &admin, "domain=_system&action=secrets.enabled").await;
    assert_eq!(on[0]["summary"], json!({"key_id": key_id, "secrets": 1}));
}

/// Runs `secrets status`: whether it succeeded, and what it printed.
fn status(server: &Server) -> (bool, String) {
    let out = server.cli(&["secrets", "status"], None);
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

/// Stores `n` further secrets in the clear, as other features will, straight in the table.
async fn seed_secrets(server: &Server, n: usize) {
    let rows: Vec<String> = (0..n).map(|i| format!("('test.seed', 'n{i}', NULL, 'seed-value-{i}', 0)")).collect();
    sql(server, &format!("INSERT INTO secrets (owner, field, key_id, value, updated_at) VALUES {}", rows.join(", "))).await;
}

async fn a_rotation_killed_anywhere_leaves_every_secret_opening(backend: Backend) {
    let Some(python) = smtp_available("key rotation") else { return };
    let mut sink = SmtpSink::prepare(free_port(), Some((RELAY_USER, SECRET)));
    sink.start(&python);
    let (server, _admin) = with_admin_using(mailing(backend, &sink)).await;
    server.cli_ok(&["mail", "password"], Some(SECRET));
    seed_secrets(&server, 400).await;
    server.cli_ok(&["secrets", "enable", "--i-understand-key-loss", "--key-backed-up"], None);
    let (ok, out) = status(&server);
    assert!(ok && out.matches(" opens").count() == 401, "{out}");

    // Kill -9 when the new key is written, when the secrets are re-sealed, and at random
    // moments; after each kill every secret opens, and running the rotation again finishes it.
    let mut seed = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
    for round in 0..9 {
        let mut child = server.cli_spawn(&["secrets", "rotate"]);
        let stdout = child.stdout.take().unwrap();
        match round % 3 {
            0 | 1 => {
                let wanted = if round % 3 == 0 { "written" } else { "re-sealed" };
                let line = BufReader::new(stdout).lines().map_while(Result::ok).find(|l| l.contains(wanted));
                assert!(line.is_some(), "round {round}: the rotation never said {wanted:?}");
            }
            _ => {
                seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
                std::thread::sleep(Duration::from_millis(u64::from(seed % 400)));
            }
        }
        let _ = child.kill();
        let _ = child.wait();
        let (ok, out) = status(&server);
        assert!(ok && out.matches(" opens").count() == 401, "round {round}, right after the kill: {out}");
        let again = server.cli_ok(&["secrets", "rotate"], None);
        assert!(again.contains("rotated from key") || again.contains("finished an interrupted rotation"), "{again}");
        let (ok, out) = status(&server);
        assert!(ok && out.matches(" opens").count() == 401 && !out.contains("in the clear"), "round {round}, after running it again: {out}");
    }
    // Each finished rotation kept the key it replaced; no temporary file is left.
    let names: Vec<String> = std::fs::read_dir(&server.data_dir).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    let kept = names.iter().filter(|n| n.starts_with("encryption-key.") && n.len() == "encryption-key.0123456789abcdef.bin".len()).count();
    assert!(kept >= 9, "{names:?}");
    assert!(!names.iter().any(|n| n.contains("tmp")), "{names:?}");
    // The running server follows the rotations: it still logs in to the relay.
    server.cli_ok(&["mail", "test", "ops@example.net"], None);
    let got = sink.wait_for(1, WAIT, |m| m.subject() == "Deskward test message");
    assert_eq!(got[0].login.as_deref(), Some(RELAY_USER));
}

/// Restarts the server, logs the admin in again, and checks what still works while the
/// secrets are locked: the server answers, logins work, the relay password cannot be set,
/// and mail waits with the reason.
async fn locked_but_working(server: &mut Server, what: &str, hint: &str) -> Client {
    server.restart().unwrap();
    let log = server.log();
    let Some(last_start) = log.lines().rfind(|l| l.contains("stored secrets are locked")) else {
        panic!("{what}: the start did not say the secrets are locked:\n{log}");
    };
    assert!(last_start.contains(hint) && last_start.contains(&key_file(server).display().to_string()), "{what}: {last_start}");
    let admin = server.client();
    assert_eq!(login(server, &admin, ADMIN, ADMIN_PW).await.status(), StatusCode::CREATED, "{what}: logins keep working");
    let (s, v) = call(&admin, "PUT", server.url("/api/v1/mail/relay-password"), Some(json!({"password": "another-one-1"}))).await;
    assert_eq!((s, code(&v)), (StatusCode::SERVICE_UNAVAILABLE, "secrets_locked"), "{what}: {v}");
    assert!(v["error"]["message"].as_str().unwrap().contains(hint), "{what}: {v}");
    let (ok, out) = status(server);
    assert!(!ok && out.contains(hint), "{what}: {out}");
    admin
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_open_damaged_or_wrong_key_file_locks_only_the_secrets() {
    let Some(python) = smtp_available("locked secrets") else { return };
    let mut sink = SmtpSink::prepare(free_port(), Some((RELAY_USER, SECRET)));
    sink.start(&python);
    let (mut server, admin) = with_admin_using(mailing(Backend::Sqlite, &sink).keep_log()).await;
    server.cli_ok(&["mail", "password"], Some(SECRET));
    server.cli_ok(&["secrets", "enable", "--i-understand-key-loss", "--key-backed-up"], None);
    let stored = sql_text(&server, "SELECT key_id || ':' || value FROM secrets").await;
    let good = std::fs::read(key_file(&server)).unwrap();
    let key = SecretKey::from_file_bytes(&good).unwrap();
    let path = key_file(&server);
    let write_private = |bytes: &[u8]| {
        std::fs::write(&path, bytes).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    };

    // Missing.
    std::fs::rename(&path, server.data_dir.join("elsewhere.bin")).unwrap();
    let admin2 = locked_but_working(&mut server, "missing", "is missing").await;
    // Mail waits with the reason, without spending an attempt.
    server.cli_ok(&["mail", "test", "ops@example.net"], None);
    let waiting = outbox_entry(&server, &admin2, |m| m["last_error"].as_str().is_some_and(|e| e.contains("relay password cannot be read"))).await;
    assert_eq!((&waiting["state"], &waiting["attempts"]), (&json!("queued"), &json!(0)), "{waiting}");
    std::fs::rename(server.data_dir.join("elsewhere.bin"), &path).unwrap();
    // Readable by others.
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    locked_but_working(&mut server, "mode 0644", "chmod 600").await;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    // Cut short.
    write_private(&good[..30]);
    locked_but_working(&mut server, "truncated", "cut short").await;
    // Not a file at all.
    std::fs::remove_file(&path).unwrap();
    std::fs::create_dir(&path).unwrap();
    locked_but_working(&mut server, "a directory", "not a regular file").await;
    std::fs::remove_dir(&path).unwrap();
    // Another key.
    let other = SecretKey::from_random([7; 8], [9; 32]);
    write_private(&other.to_file_bytes());
    locked_but_working(&mut server, "another key", "holds key 0707070707070707").await;
    // Another key under the same id.
    let mut id = [0u8; 8];
    for (i, b) in id.iter_mut().enumerate() {
        *b = u8::from_str_radix(&key.id().to_string()[2 * i..2 * i + 2], 16).unwrap();
    }
    write_private(&SecretKey::from_random(id, [1; 32]).to_file_bytes());
    locked_but_working(&mut server, "same id, another key", "holds another key").await;

    // Nothing was re-sealed or deleted; with the right file back, the waiting mail goes out.
    assert_eq!(sql_text(&server, "SELECT key_id || ':' || value FROM secrets").await, stored);
    write_private(&good);
    server.restart().unwrap();
    let (ok, out) = status(&server);
    assert!(ok, "{out}");
    let got = sink.wait_for(1, WAIT, |m| m.subject() == "Deskward test message");
    assert_eq!(got.len(), 1);
    assert!(!server.log().contains(SECRET));
    drop(admin);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tampered_swapped_or_relabelled_secrets_are_named() {
    let (server, _admin) = with_admin(Backend::Sqlite).await;
    server.cli_ok(&["mail", "password"], Some(SECRET));
    seed_secrets(&server, 1).await;
    server.cli_ok(&["secrets", "enable", "--i-understand-key-loss", "--key-backed-up"], None);
    let relay = "owner = 'mail.relay'";
    let value = sql_text(&server, &format!("SELECT value FROM secrets WHERE {relay}")).await;
    let seed_value = sql_text(&server, "SELECT value FROM secrets WHERE owner = 'test.seed'").await;
    let key_id = sql_text(&server, &format!("SELECT key_id FROM secrets WHERE {relay}")).await;
    let check = |what: &'static str, expect: &'static [&'static str]| {
        let (ok, out) = status(&server);
        assert!(!ok, "{what}: status must fail:\n{out}");
        for e in expect {
            assert!(out.contains(e), "{what}: {e:?} missing from:\n{out}");
        }
    };
    // One character of the ciphertext changed.
    let last = value.chars().last().unwrap();
    let flipped = format!("{}{}", &value[..value.len() - 1], if last == '0' { '1' } else { '0' });
    sql(&server, &format!("UPDATE secrets SET value = '{flipped}' WHERE {relay}")).await;
    check("edited", &["mail.relay/password", "DOES NOT OPEN", "altered or moved"]);
    // Two ciphertexts swapped: each is valid, but not for its record.
    sql(&server, &format!("UPDATE secrets SET value = '{seed_value}' WHERE {relay}")).await;
    sql(&server, &format!("UPDATE secrets SET value = '{value}' WHERE owner = 'test.seed'")).await;
    let (_, out) = status(&server);
    assert_eq!(out.matches("altered or moved from another record").count(), 2, "{out}");
    sql(&server, &format!("UPDATE secrets SET value = '{seed_value}' WHERE owner = 'test.seed'")).await;
    // Relabelled with another key, or put back in the clear.
    sql(&server, &format!("UPDATE secrets SET value = '{value}', key_id = '0000000000000000' WHERE {relay}")).await;
    check("relabelled", &["sealed with key 0000000000000000, which is not the active key"]);
    sql(&server, &format!("UPDATE secrets SET value = 'plain-text', key_id = NULL WHERE {relay}")).await;
    check("in the clear", &["stored in the clear while encryption is on"]);
    // Damaged beyond a ciphertext.
    sql(&server, &format!("UPDATE secrets SET value = 'x1:zz', key_id = '{key_id}' WHERE {relay}")).await;
    check("garbage", &["not a sealed secret"]);
    // Storing it again repairs it.
    server.cli_ok(&["mail", "password"], Some(SECRET));
    let (ok, out) = status(&server);
    assert!(ok, "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_turns_encryption_on_from_the_page() {
    let (server, admin) = with_admin(Backend::Sqlite).await;
    server.cli_ok(&["mail", "password"], Some(SECRET));
    add_account(&server, &admin, "example.org", "bob", "user", BOB_PW).await;
    // Not for other roles: refused, and recorded.
    let bob = server.client();
    assert_eq!(login(&server, &bob, "bob@example.org", BOB_PW).await.status(), StatusCode::CREATED);
    let r = bob.get(server.url("/admin/secrets")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(r.text().await.unwrap().contains("Only a system administrator"));
    events(&server, &admin, "domain=example.org&action=access.denied", 1).await;
    // A form without its token, or without both boxes ticked, changes nothing.
    let page = admin.get(server.url("/admin/secrets")).send().await.unwrap().text().await.unwrap();
    let csrf = page.split("name=\"csrf\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_owned();
    let form = |fields: &[(&str, &str)]| admin.post(server.url("/admin/secrets/enable")).form(fields).send();
    assert_eq!(form(&[("csrf", "forged"), ("key_loss", "on"), ("key_backed_up", "on")]).await.unwrap().status(), StatusCode::FORBIDDEN);
    let r = form(&[("csrf", &csrf), ("key_loss", "on")]).await.unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(r.text().await.unwrap().contains("needs both acknowledgements"));
    assert!(!key_file(&server).exists());

    if !browser_available("turning encryption on from the page") {
        return;
    }
    let b = Browser::start().await.expect("chromium starts");
    log_in_on_page(&b, &server, ADMIN, ADMIN_PW).await;
    b.click("#admin-secrets").await.unwrap();
    b.wait_for_path("/admin/secrets").await.unwrap();
    b.wait_for_text("#state", "Encryption is off").await.unwrap();
    assert!(b.text("#secrets").await.unwrap().contains("in the clear"));
    b.click("#key_loss").await.unwrap();
    b.click("#key_backed_up").await.unwrap();
    b.click("#enable").await.unwrap();
    b.wait_for_text("#state", "Encryption is on").await.unwrap();
    let secrets = b.text("#secrets").await.unwrap();
    assert!(secrets.contains("mail.relay / password") && secrets.contains("sealed with key") && secrets.contains("opens"), "{secrets}");
    assert!(b.text("main").await.unwrap().contains("deskward secrets disable"));
    assert_no_csp_violations(&b).await;
    b.quit().await;
    let (s, v): (StatusCode, Value) = call(&admin, "GET", server.url("/api/v1/secrets"), None).await;
    assert_eq!((s, &v["enabled"]), (StatusCode::OK, &json!(true)), "{v}");
    assert_eq!(records(&server, &admin, "domain=_system&action=secrets.enabled").await[0]["actor"], ADMIN);
}
