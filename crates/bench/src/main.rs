//! `scripts/bench`: prints the figures the foundation is measured by, each against a baseline
//! taken in the same run (the machine is shared and noisy, so ratios matter more than rates).
//!
//! 1. argon2id verifications per second on every core at the configured cost (the hash limit),
//!    and HTTPS logins per second end to end with 2 concurrent clients, as a ratio of it.
//! 2. Authenticated `GET /api/v1/me` per second over keep-alive HTTPS, as a ratio of the
//!    unauthenticated `GET /api/v1/health` of the same server.
//! 3. Idle resident memory, and the time from process start to the first HTTPS answer.
//!
//! `audit` measures the audit log instead (see `audit.rs`), `hasher` the server's hashing
//! threads against bare ones (see `hasher.rs`), `guard` the brute-force guard
//! (see `guard.rs`), `directory` directory logins and sync against a real slapd (see
//! `directory.rs`), `documents` access decisions on a deep tree and streaming a large document
//! (see `documents.rs`).

mod audit;
mod audit_api;
mod directory;
mod documents;
mod guard;
mod hasher;

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use deskward_core::password::hash::{self, HashParams};
use deskward_testkit::{Backend, Server, ServerOptions};
use serde_json::json;

const PARAMS: HashParams = HashParams::OWASP;
pub(crate) const PASSWORD: &str = "Bench-pass-for-measuring-9";

fn main() -> anyhow::Result<()> {
    let usage = "usage: deskward-bench PATH-TO-DESKWARD [SECONDS] | deskward-bench PATH-TO-DESKWARD audit [RECORDS] | deskward-bench PATH-TO-DESKWARD hasher [SECONDS] | deskward-bench PATH-TO-DESKWARD guard [SECONDS] | deskward-bench PATH-TO-DESKWARD directory [SECONDS] | deskward-bench PATH-TO-DESKWARD documents [MIB]";
    let bin = std::env::args().nth(1).map(PathBuf::from).context(usage)?;
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    if std::env::args().nth(2).as_deref() == Some("audit") {
        let records: usize = std::env::args().nth(3).and_then(|s| s.parse().ok()).unwrap_or(1_000_000);
        return runtime.block_on(audit::run(&bin, records));
    }
    if std::env::args().nth(2).as_deref() == Some("directory") {
        let secs: u64 = std::env::args().nth(3).and_then(|s| s.parse().ok()).unwrap_or(10);
        return runtime.block_on(directory::run(&bin, Duration::from_secs(secs)));
    }
    if std::env::args().nth(2).as_deref() == Some("documents") {
        let mib: usize = std::env::args().nth(3).and_then(|s| s.parse().ok()).unwrap_or(1024);
        return runtime.block_on(documents::run(&bin, mib));
    }
    if std::env::args().nth(2).as_deref() == Some("guard") {
        let secs: u64 = std::env::args().nth(3).and_then(|s| s.parse().ok()).unwrap_or(10);
        return runtime.block_on(guard::run(&bin, Duration::from_secs(secs)));
    }
    if std::env::args().nth(2).as_deref() == Some("hasher") {
        let secs: u64 = std::env::args().nth(3).and_then(|s| s.parse().ok()).unwrap_or(5);
        return runtime.block_on(hasher::run(Duration::from_secs(secs)));
    }
    let secs: u64 = std::env::args().nth(2).and_then(|s| s.parse().ok()).unwrap_or(5);
    runtime.block_on(run(bin, Duration::from_secs(secs)))
}

async fn run(bin: PathBuf, span: Duration) -> anyhow::Result<()> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!("deskward benchmark: {cores} cores, {} s per figure, argon2id m={} KiB t={} p={}", span.as_secs(), PARAMS.memory_kib, PARAMS.iterations, PARAMS.parallelism);

    let (start_ms, idle_kib) = start_time_and_idle_memory(&bin).await?;
    println!("start to first HTTPS answer (SQLite): {start_ms} ms (target < 1000 ms)");
    println!("idle resident memory: {:.1} MiB (target < 50 MiB)", idle_kib as f64 / 1024.0);

    let mut options = ServerOptions::new(Backend::Sqlite);
    options.cheap_hashing = false;
    let server = Server::start(&bin, options).await?;
    server.cli_ok(&["domain", "add", "bench.test"], None);
    server.cli_ok(&["account", "add", "runner@bench.test", "--role", "user", "--password-stdin"], Some(PASSWORD));
    // The machine is shared: the baseline is taken just before and just after, and averaged.
    let before = hash_limit(cores, span);
    let logins = logins_per_second(&server, 2, span).await?;
    let after = hash_limit(cores, span);
    let hash_limit = (before + after) / 2.0;
    println!("argon2id verifications/s on {cores} cores (hash limit): {hash_limit:.1} (before {before:.1}, after {after:.1})");
    println!("HTTPS logins/s, 2 clients: {logins:.1} = {:.2} x hash limit (target >= 0.90)", logins / hash_limit);

    let health = requests_per_second(&server, "/api/v1/health", None, span).await?;
    let token = session_token(&server).await?;
    let me = requests_per_second(&server, "/api/v1/me", Some(&token), span).await?;
    println!("GET /health/s (static baseline): {health:.0}");
    println!("GET /me/s (authenticated): {me:.0} = {:.2} x baseline (target >= 0.70)", me / health);
    Ok(())
}

/// Verifications per second with one thread per core, at the configured cost.
pub(crate) fn hash_limit(cores: usize, span: Duration) -> f64 {
    let stored = match hash::hash(PASSWORD, &[9; 16], PARAMS) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("cannot hash: {e}");
            return f64::NAN;
        }
    };
    let done = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let threads: Vec<_> = (0..cores)
        .map(|_| {
            let (stored, done) = (stored.clone(), done.clone());
            std::thread::spawn(move || {
                // The best case: each thread reuses its argon2 memory.
                let mut memory = Vec::new();
                while start.elapsed() < span {
                    let _ = hash::verify(PASSWORD, &stored, PARAMS, &mut memory);
                    done.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for t in threads {
        let _ = t.join();
    }
    done.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64()
}

pub(crate) async fn logins_per_second(server: &Server, clients: usize, span: Duration) -> anyhow::Result<f64> {
    logins_per_second_as(server, clients, span, |_| ("runner@bench.test".to_owned(), PASSWORD.to_owned())).await
}

/// Logins per second from `clients` clients for `span`; `credentials(n)` names the login and
/// password of each client's n-th attempt (clients count from different starts).
pub(crate) async fn logins_per_second_as(server: &Server, clients: usize, span: Duration, credentials: fn(u64) -> (String, String)) -> anyhow::Result<f64> {
    let done = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for worker in 0..clients as u64 {
        let (client, url, done) = (server.client(), server.url("/api/v1/session"), done.clone());
        tasks.push(tokio::spawn(async move {
            let mut n = worker * 1000;
            while start.elapsed() < span {
                n += 1;
                let (login, password) = credentials(n);
                let r = client.post(&url).json(&json!({"login": login, "password": password})).send().await?;
                if r.status() != reqwest::StatusCode::CREATED {
                    bail!("login of {login} answered {}", r.status());
                }
                done.fetch_add(1, Ordering::Relaxed);
            }
            Ok(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    Ok(done.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64())
}

async fn session_token(server: &Server) -> anyhow::Result<String> {
    let r = server.client().post(server.url("/api/v1/session")).json(&json!({"login": "runner@bench.test", "password": PASSWORD})).send().await?;
    let cookie = r.headers().get("set-cookie").context("no session cookie")?.to_str()?.to_owned();
    let value = cookie.split(';').next().and_then(|kv| kv.split_once('=')).map(|(_, v)| v.to_owned());
    value.context("malformed session cookie")
}

/// Requests per second from 4 keep-alive connections.
async fn requests_per_second(server: &Server, path: &str, token: Option<&str>, span: Duration) -> anyhow::Result<f64> {
    let done = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let (client, url, done) = (server.client(), server.url(path), done.clone());
        let token = token.map(str::to_owned);
        tasks.push(tokio::spawn(async move {
            while start.elapsed() < span {
                let mut req = client.get(&url);
                if let Some(t) = &token {
                    req = req.bearer_auth(t);
                }
                let r = req.send().await?;
                if !r.status().is_success() {
                    bail!("{url} answered {}", r.status());
                }
                let _ = r.bytes().await?;
                done.fetch_add(1, Ordering::Relaxed);
            }
            Ok(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    Ok(done.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64())
}

/// Starts a fresh server on an empty data directory, times its first HTTPS answer, then lets
/// it sit idle and reads its resident memory.
async fn start_time_and_idle_memory(bin: &std::path::Path) -> anyhow::Result<(u128, u64)> {
    let dir = std::env::temp_dir().join(format!("deskward-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let started = Instant::now();
    let mut child = Command::new(bin)
        .arg("--data-dir")
        .arg(&dir)
        .arg("serve")
        .env("DESKWARD_HTTP__LISTEN", "127.0.0.1:0")
        .env("DESKWARD_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    let stdout = child.stdout.take().context("no stdout")?;
    let addr = tokio::task::spawn_blocking(move || {
        use std::io::BufRead;
        std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .find_map(|l| l.strip_prefix("deskward listening on https://").and_then(|r| r.split('/').next()).map(str::to_owned))
    })
    .await?
    .context("server did not start")?;
    let url = format!("https://{addr}/api/v1/health");
    let client = reqwest::Client::builder().danger_accept_invalid_certs(true).build()?;
    let first = loop {
        if let Ok(r) = client.get(&url).send().await
            && r.status().is_success()
        {
            break started.elapsed().as_millis();
        }
        if started.elapsed() > Duration::from_secs(30) {
            bail!("no answer from {url}");
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    };
    tokio::time::sleep(Duration::from_secs(2)).await;
    let status = std::fs::read_to_string(format!("/proc/{}/status", child.id()))?;
    let kib = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        .unwrap_or(0);
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&dir);
    Ok((first, kib))
}
