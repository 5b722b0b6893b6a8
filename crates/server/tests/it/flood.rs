//! A flood of 500 concurrent logins at the real argon2id cost: memory stays bounded, excess
//! logins get 503 with Retry-After, and the server keeps answering other requests.

use std::time::Duration;

use deskward_testkit::{Backend, ServerOptions};
use reqwest::StatusCode;
use serde_json::json;

use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_flood_keeps_memory_bounded_and_the_server_answering() {
    // The guard would refuse this flood from one address before any hashing (see guard.rs);
    // here the hasher's own limit is measured, as for a flood from many addresses.
    let mut options = ServerOptions::new(Backend::Sqlite)
        .env("DESKWARD_PASSWORD_HASH__MAX_QUEUED", "32")
        .env("DESKWARD_GUARD__ENABLED", "false");
    options.cheap_hashing = false; // OWASP parameters: 19 MiB per hash in flight
    let server = start(options).await;
    server.cli_ok(&["domain", "add", "example.org"], None);
    server.cli_ok(&["account", "add", ADMIN, "--role", "system-admin", "--password-stdin"], Some(ADMIN_PW));
    let idle_kib = server.rss_kib().unwrap_or(0);

    let sampler = server.sample_peak_memory();

    let clients: Vec<_> = (0..20).map(|_| server.client()).collect();
    let mut tasks = Vec::new();
    for i in 0..500 {
        let client = clients[i % clients.len()].clone();
        let url = server.url("/api/v1/session");
        tasks.push(tokio::spawn(async move {
            let r = client.post(url).json(&json!({"login": ADMIN, "password": format!("guess-{i}")})).send().await.unwrap();
            (r.status(), r.headers().get("retry-after").is_some())
        }));
    }
    // While the flood runs, other requests are still answered.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (s, _) = call(&server.client(), "GET", server.url("/api/v1/health"), None).await;
    assert_eq!(s, StatusCode::OK);

    let (mut refused, mut busy) = (0, 0);
    for t in tasks {
        match t.await.unwrap() {
            (StatusCode::UNAUTHORIZED, _) => refused += 1,
            (StatusCode::SERVICE_UNAVAILABLE, true) => busy += 1,
            other => panic!("unexpected answer {other:?}"),
        }
    }
    let peak_mib = sampler.stop() / 1024;
    eprintln!("flood: {refused} wrong-password answers, {busy} busy answers, idle {} MiB, peak {peak_mib} MiB", idle_kib / 1024);
    assert_eq!(refused + busy, 500);
    assert!(busy > 0, "excess logins are shed with 503");
    assert!(refused >= 34, "the admitted ones are answered");
    // Unbounded, 500 hashes in flight would need about 9.5 GiB.
    assert!(peak_mib < 200, "peak memory {peak_mib} MiB");
    // And the right password still works once the flood is over.
    assert_eq!(login(&server, &server.client(), ADMIN, ADMIN_PW).await.status(), StatusCode::CREATED);
    // Hashing ran on the hasher's own threads, one per core, below request handling's priority.
    let hashing = hashing_threads(server.pid().unwrap());
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    assert_eq!(hashing.len(), cores, "{hashing:?}");
    assert!(hashing.iter().all(|(_, nice)| *nice == 10), "{hashing:?}");
    // Pooled argon2 memory is given back after ten idle seconds.
    let settled = deskward_testkit::Server::wait_until(Duration::from_secs(30), || server.rss_kib().is_some_and(|k| k < idle_kib + 16 * 1024));
    assert!(settled, "memory returns near idle ({} MiB idle, now {:?} KiB)", idle_kib / 1024, server.rss_kib());
}

/// The hashing threads of a process: their names and nice values, from /proc.
fn hashing_threads(pid: u32) -> Vec<(String, i64)> {
    let mut found = Vec::new();
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).unwrap().flatten() {
        let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default().trim().to_owned();
        if !comm.starts_with("deskward-hash") {
            continue;
        }
        // The nice value is field 19 of stat, counted after the name in parentheses.
        let stat = std::fs::read_to_string(task.path().join("stat")).unwrap_or_default();
        let fields: Vec<&str> = stat.rsplit_once(')').map(|(_, rest)| rest.split_whitespace().collect()).unwrap_or_default();
        found.push((comm, fields.get(16).and_then(|n| n.parse().ok()).unwrap_or(i64::MIN)));
    }
    found.sort();
    found
}
