//! Host names of clients from a real DNS server (dnsmasq on loopback with PTR records), and a
//! dead resolver that must not stop a login.

use std::process::{Child, Command, Stdio};

use deskward_testkit::{Backend, ServerOptions, services_required};
use reqwest::StatusCode;

use crate::audit::{events, records};
use crate::support::*;

const PW: &str = "Long-enough-secret-8";
const DNSMASQ: &str = "/usr/sbin/dnsmasq";

/// dnsmasq answering PTR queries on a loopback port; stopped on drop.
struct Dns {
    child: Child,
    port: u16,
}

impl Drop for Dns {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_udp_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn dnsmasq(records: &[(&str, &str)]) -> Option<Dns> {
    if !std::path::Path::new(DNSMASQ).exists() {
        assert!(!services_required(), "dnsmasq is not installed but DESKWARD_REQUIRE_SERVICES=1");
        eprintln!("SKIPPED host name tests: install dnsmasq-base (the project's test command does)");
        return None;
    }
    let port = free_udp_port();
    let mut cmd = Command::new(DNSMASQ);
    cmd.args(["--keep-in-foreground", "--conf-file=/dev/null", "--no-resolv", "--no-hosts", "--bind-interfaces", "--listen-address=127.0.0.1", "--pid-file"])
        .arg(format!("--port={port}"));
    for (ip, name) in records {
        let octets: Vec<&str> = ip.split('.').rev().collect();
        cmd.arg(format!("--ptr-record={}.in-addr.arpa,{name}", octets.join(".")));
    }
    let mut child = cmd.stdout(Stdio::null()).stderr(Stdio::piped()).spawn().expect("dnsmasq starts");
    // Wait until it answers a real query (a loaded machine starts it slowly), or say why not.
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    socket.set_read_timeout(Some(std::time::Duration::from_millis(200))).unwrap();
    let query = ptr_query(records.first().map_or("127.0.0.1", |r| r.0));
    for _ in 0..50 {
        if let Ok(Some(status)) = child.try_wait() {
            let mut err = String::new();
            std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).ok();
            panic!("dnsmasq exited ({status}): {err}");
        }
        socket.send_to(&query, ("127.0.0.1", port)).unwrap();
        let mut answer = [0u8; 512];
        if matches!(socket.recv_from(&mut answer), Ok((n, _)) if n >= 12 && answer[..2] == query[..2]) {
            return Some(Dns { child, port });
        }
    }
    panic!("dnsmasq on port {port} does not answer");
}

/// A DNS query (RFC 1035) for the PTR record of an IPv4 address.
fn ptr_query(ip: &str) -> Vec<u8> {
    let mut q = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
    let mut labels: Vec<&str> = ip.split('.').rev().collect();
    labels.extend(["in-addr", "arpa"]);
    for l in labels {
        q.push(u8::try_from(l.len()).unwrap());
        q.extend_from_slice(l.as_bytes());
    }
    q.extend_from_slice(&[0, 0, 12, 0, 1]);
    q
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logins_and_failures_name_the_clients_host() {
    let Some(dns) = dnsmasq(&[("192.0.2.10", "workstation.example.test"), ("203.0.113.9", "attacker.example.test")]) else { return };
    let options = ServerOptions::new(Backend::Sqlite)
        .env("DESKWARD_DNS__SERVERS", &format!("127.0.0.1:{}", dns.port))
        // The names, not the deadline, are under test: a loaded machine can answer late.
        .env("DESKWARD_DNS__TIMEOUT", "5s")
        .env("DESKWARD_HTTP__TRUSTED_PROXIES", "127.0.0.1");
    let (server, admin) = with_admin_using(options).await;
    add_account(&server, &admin, "example.org", "ursula", "user", PW).await;
    let c = server.client();
    assert_eq!(login_from(&server, &c, "192.0.2.10", "ursula@example.org", PW).await.status(), StatusCode::CREATED);
    assert_eq!(login_from(&server, &server.client(), "203.0.113.9", "ursula@example.org", "wrong-guess").await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(login_from(&server, &server.client(), "198.51.100.1", "ursula@example.org", "wrong-guess").await.status(), StatusCode::UNAUTHORIZED);

    // Failed logins are security events, written by a background writer: wait for both.
    let logins = || async { call(&c, "GET", server.url("/api/v1/me/logins"), None).await };
    let all_written = eventually(|| async { logins().await.1.as_array().is_some_and(|a| a.len() >= 3) }).await;
    let (s, v) = logins().await;
    assert!(all_written && s == StatusCode::OK, "{s} {v}");
    let by_ip = |ip: &str| v.as_array().unwrap().iter().find(|r| r["source_ip"] == ip).map(|r| r["source_host"].as_str().unwrap_or("").to_owned());
    assert_eq!(by_ip("192.0.2.10").as_deref(), Some("workstation.example.test"), "{v}");
    assert_eq!(by_ip("203.0.113.9").as_deref(), Some("attacker.example.test"), "{v}");
    assert_eq!(by_ip("198.51.100.1").as_deref(), Some(""), "no PTR record: no name");
    // Later records of the same client reuse the cached name.
    let r = admin
        .post(server.url("/api/v1/domains/example.org/groups"))
        .header("x-forwarded-for", "192.0.2.10")
        .json(&serde_json::json!({"name": "crew"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let created = records(&server, &admin, "action=group.create").await;
    assert_eq!(created[0]["source_host"], "workstation.example.test");
    let (_, sessions) = call(&c, "GET", server.url("/api/v1/me/sessions"), None).await;
    assert_eq!(sessions[0]["source_host"], "workstation.example.test", "{sessions}");
    let failed = events(&server, &admin, "action=login.failed", 2).await;
    assert!(failed.iter().any(|r| r["source_host"] == "attacker.example.test"), "{failed:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_resolver_does_not_stop_a_login() {
    // A UDP port that receives queries and never answers.
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let options = ServerOptions::new(Backend::Sqlite)
        .env("DESKWARD_DNS__SERVERS", &format!("127.0.0.1:{port}"))
        .env("DESKWARD_HTTP__TRUSTED_PROXIES", "127.0.0.1");
    let (server, admin) = with_admin_using(options).await;
    add_account(&server, &admin, "example.org", "ursula", "user", PW).await;
    let c = server.client();
    assert_eq!(login_from(&server, &c, "192.0.2.10", "ursula@example.org", PW).await.status(), StatusCode::CREATED);
    let (_, v) = call(&c, "GET", server.url("/api/v1/me/logins"), None).await;
    assert_eq!(v[0]["source_host"], "", "no name, and the login went through");
    drop(silent);
}
