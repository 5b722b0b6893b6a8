//! `scripts/bench directory [SECONDS]`: directory logins and sync against a real slapd.
//!
//! 1. HTTPS logins per second through Deskward for directory accounts (2 clients), against
//!    direct binds to the same slapd (2 clients, each a fresh LDAPS connection and a bind as
//!    the person, what an application without Deskward would do), rounds alternating.
//! 2. A sync of 10,000 directory users (all with accounts, made by their first logins): its
//!    time and the server's peak resident memory during it; then again after 1,000 entries
//!    were deleted (1,000 accounts blocked).

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use deskward_testkit::{Backend, Server, ServerOptions, Slapd};
use serde_json::json;

const USERS: usize = 10_000;
const DELETED: usize = 1_000;
const BIND_DN: &str = "cn=deskward,dc=test,dc=local";
const BIND_PW: &str = "Bench-bind-pass-1";

fn user_pw(i: usize) -> String {
    format!("Bench-user-pass-{i}")
}

fn seed() -> String {
    let mut s = format!("dn: ou=people,dc=test,dc=local\nobjectClass: organizationalUnit\nou: people\n\ndn: {BIND_DN}\nobjectClass: person\ncn: deskward\nsn: service\nuserPassword: {BIND_PW}\n\n");
    for i in 0..USERS {
        s.push_str(&format!("dn: uid=u{i},ou=people,dc=test,dc=local\nobjectClass: inetOrgPerson\nuid: u{i}\ncn: User {i}\nsn: {i}\nmail: u{i}@corp.example\nuserPassword: {}\n\n", user_pw(i)));
    }
    s
}

pub async fn run(bin: &Path, span: Duration) -> anyhow::Result<()> {
    println!("deskward directory benchmark: slapd with {USERS} users, LDAPS on loopback");
    let slapd = Slapd::start(&seed(), None);
    let options = ServerOptions::new(Backend::Sqlite).env("DESKWARD_GUARD__ENABLED", "false").env("DESKWARD_HTTP__REQUEST_TIMEOUT", "10m");
    let server = Server::start(bin, options).await?;
    server.cli_ok(&["domain", "add", "bench.test"], None);
    server.cli_ok(&["account", "add", ADMIN, "--role", "system-admin", "--password-stdin"], Some(ADMIN_PW));
    server.cli_ok(&["account", "add", LOCAL, "--role", "user", "--password-stdin"], Some(LOCAL_PW));
    let ca = slapd.ca_file();
    server.cli_ok(
        &["directory", "set", "bench.test", "--url", &slapd.ldaps_url(), "--bind-dn", BIND_DN, "--base-dn", "ou=people,dc=test,dc=local", "--ca-file", ca.to_str().context("CA path")?],
        None,
    );
    server.cli_ok(&["directory", "password", "bench.test"], Some(BIND_PW));

    // Every user logs in once (making the accounts), which is also the warm-up.
    let started = Instant::now();
    run_logins(&server, 0..USERS).await?;
    println!("first logins of {USERS} users (accounts made): {:.1} s, {:.0}/s", started.elapsed().as_secs_f64(), USERS as f64 / started.elapsed().as_secs_f64());

    let (mut through, mut direct, mut local) = (0.0, 0.0, 0.0);
    let rounds = 4;
    for round in 0..rounds {
        let order = if round % 2 == 0 { [0, 1, 2] } else { [2, 1, 0] };
        for which in order {
            match which {
                0 => through += crate::logins_per_second_as(&server, 2, span / 3, directory_user).await?,
                1 => direct += direct_rate(&slapd, span / 3).await?,
                _ => local += crate::logins_per_second_as(&server, 2, span / 3, local_user).await?,
            }
        }
    }
    let (through, direct, local) = (through / f64::from(rounds), direct / f64::from(rounds), local / f64::from(rounds));
    println!("directory logins/s, 2 clients: through Deskward (HTTPS) {through:.1}, direct LDAPS binds {direct:.1} = {:.3} (target >= 0.8)", through / direct);
    println!("the floor of Deskward's own login path: local logins/s with a negligible hash {local:.1}; directory logins reach {:.3} of it", through / local);

    let (took, peak) = timed_sync(&server).await?;
    println!("sync of {USERS} users, nothing to change: {:.2} s, server peak resident memory {:.1} MiB", took.as_secs_f64(), peak as f64 / 1024.0);
    let deletions: String = (0..DELETED).map(|i| format!("dn: uid=u{i},ou=people,dc=test,dc=local\nchangetype: delete\n\n")).collect();
    slapd.modify(&deletions);
    let (took, peak) = timed_sync(&server).await?;
    println!("sync of {} users blocking {DELETED}: {:.2} s, server peak resident memory {:.1} MiB", USERS - DELETED, took.as_secs_f64(), peak as f64 / 1024.0);
    Ok(())
}

/// Logs in users `range` from 2 clients, each once.
async fn run_logins(server: &Server, range: std::ops::Range<usize>) -> anyhow::Result<()> {
    let next = Arc::new(AtomicU64::new(range.start as u64));
    let mut tasks = Vec::new();
    for _ in 0..2 {
        let (client, url, next, end) = (server.client(), server.url("/api/v1/session"), next.clone(), range.end as u64);
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= end {
                    return Ok::<(), anyhow::Error>(());
                }
                let i = i as usize;
                let r = client.post(&url).json(&json!({"login": format!("u{i}@bench.test"), "password": user_pw(i)})).send().await?;
                if r.status() != reqwest::StatusCode::CREATED {
                    bail!("login of u{i} answered {}", r.status());
                }
            }
        }));
    }
    for t in tasks {
        t.await??;
    }
    Ok(())
}

/// A directory user who was not deleted, for the n-th login.
fn directory_user(n: u64) -> (String, String) {
    let i = DELETED + n as usize % (USERS - DELETED);
    (format!("u{i}@bench.test"), user_pw(i))
}

fn local_user(_: u64) -> (String, String) {
    (LOCAL.to_owned(), LOCAL_PW.to_owned())
}

/// Direct binds per second: a fresh LDAPS connection and a bind as the person, 2 clients.
async fn direct_rate(slapd: &Slapd, span: Duration) -> anyhow::Result<f64> {
    let done = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let config = tls_config(&slapd.ca_pem())?;
    let mut tasks = Vec::new();
    for worker in 0..2u64 {
        let (url, done, config) = (slapd.ldaps_url(), done.clone(), config.clone());
        tasks.push(tokio::spawn(async move {
            let mut i = worker as usize * 1000;
            while start.elapsed() < span {
                i = (i + 1) % USERS;
                let i = DELETED + i % (USERS - DELETED);
                // Without Nagle's delay, as Deskward connects.
                let tcp = tokio::net::TcpStream::connect(url.trim_start_matches("ldaps://")).await?;
                tcp.set_nodelay(true)?;
                let settings = ldap3::LdapConnSettings::new().set_config(config.clone()).set_std_stream(ldap3::StdStream::Tcp(tcp.into_std()?));
                let (conn, mut ldap) = ldap3::LdapConnAsync::with_settings(settings, &url).await?;
                tokio::spawn(async move {
                    let _ = conn.drive().await;
                });
                let r = ldap.simple_bind(&format!("uid=u{i},ou=people,dc=test,dc=local"), &user_pw(i)).await?;
                if r.rc != 0 {
                    bail!("direct bind answered {}", r.rc);
                }
                let _ = ldap.unbind().await;
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

fn tls_config(ca_pem: &str) -> anyhow::Result<Arc<rustls::ClientConfig>> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(cert?)?;
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// Runs a sync through the CLI; its time and the server's peak resident memory meanwhile.
async fn timed_sync(server: &Server) -> anyhow::Result<(Duration, u64)> {
    let sampler = server.sample_peak_memory();
    let started = Instant::now();
    let took = sync_in_server(server).await?;
    let elapsed = started.elapsed().min(took);
    Ok((elapsed, sampler.stop()))
}

const ADMIN: &str = "bench-admin@bench.test";
const LOCAL: &str = "runner@bench.test";
const LOCAL_PW: &str = "Local-floor-pass-5";
const ADMIN_PW: &str = "Sync-runner-pass-77";

/// Syncs through the API as a system administrator, so the sync runs inside the server whose
/// memory is sampled.
async fn sync_in_server(server: &Server) -> anyhow::Result<Duration> {
    let client = server.client();
    let r = client.post(server.url("/api/v1/session")).json(&json!({"login": ADMIN, "password": ADMIN_PW})).send().await?;
    if r.status() != reqwest::StatusCode::CREATED {
        bail!("the benchmark's admin cannot log in: {}", r.status());
    }
    let started = Instant::now();
    let r = client.post(server.url("/api/v1/domains/bench.test/directory/sync")).send().await?;
    let took = started.elapsed();
    if !r.status().is_success() {
        bail!("sync answered {}: {}", r.status(), r.text().await.unwrap_or_default());
    }
    Ok(took)
}
