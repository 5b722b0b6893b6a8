//! Audit records leaving the store: retention archives old days to files and the chain still
//! verifies across the boundary; forwarding reaches a real rsyslog receiver over TLS, TCP and
//! UDP, and catches up after the receiver was down.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use deskward_testkit::{Backend, Server, ServerOptions, on_both_stores};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::audit::records;
use crate::support::{ADMIN, ADMIN_PW, add_account, call, login, files_under, start};

on_both_stores! {
    retention_archives_old_days_and_the_chain_still_verifies => retention_archives_old_days_and_the_chain_still_verifies;
    records_reach_a_real_syslog_receiver => records_reach_a_real_syslog_receiver;
}

/// Over TLS (RFC 5425) the receiver's certificate is verified: records reach a receiver whose
/// CA the server trusts, and none reach one it does not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_reach_a_syslog_receiver_over_tls_and_only_a_trusted_one() {
    if Rsyslog::binary().is_none() {
        return;
    }
    let dir = tempdir();
    let ca = deskward_testkit::test_certificates(dir.path(), "SIEM");
    let receiver = Rsyslog::start_tls(dir.path(), free_port());
    let url = format!("tls://127.0.0.1:{}", receiver.tcp);
    let options = ServerOptions::new(Backend::Sqlite).env("DESKWARD_AUDIT__SYSLOG", &url).env("DESKWARD_AUDIT__SYSLOG_CA_FILE", ca.to_str().unwrap());
    let (server, admin) = admin_server(options).await;
    let (s, _) = call(&admin, "POST", server.url("/api/v1/domains/example.org/groups"), Some(json!({"name": "over-tls"}))).await;
    assert_eq!(s, StatusCode::CREATED);
    let made = records(&server, &admin, "action=group.create").await;
    let hash = made[0]["hash"].as_str().unwrap().to_owned();
    let got = receiver.wait_for(std::slice::from_ref(&hash)).await;
    let m = got.iter().find(|m| m[4].contains(&hash)).unwrap_or_else(|| panic!("the record reached syslog over TLS: {got:?}"));
    assert_eq!((m[1].as_str(), m[2].as_str()), ("deskward", "group.create"));

    // Without the receiver's CA (the public roots only), the handshake fails and nothing is sent.
    let options = ServerOptions::new(Backend::Sqlite).env("DESKWARD_AUDIT__SYSLOG", &url).keep_log();
    let (other, other_admin) = admin_server(options).await;
    let (s, _) = call(&other_admin, "POST", other.url("/api/v1/domains/example.org/groups"), Some(json!({"name": "not-trusted"}))).await;
    assert_eq!(s, StatusCode::CREATED);
    let warned = Server::wait_until(Duration::from_secs(10), || other.log().contains("cannot forward audit records to syslog"));
    assert!(warned && other.log().contains("TLS handshake"), "{}", other.log());
    assert!(!receiver.received().iter().any(|m| m[4].contains("not-trusted")), "a record went to an untrusted receiver");
}


const PW: &str = "Plenty-long-secret-1";

async fn admin_server(options: ServerOptions) -> (Server, reqwest::Client) {
    let server = start(options).await;
    server.cli_ok(&["domain", "add", "example.org"], None);
    server.cli_ok(&["account", "add", ADMIN, "--role", "system-admin", "--password-stdin"], Some(ADMIN_PW));
    let admin = server.client();
    assert_eq!(login(&server, &admin, ADMIN, ADMIN_PW).await.status(), StatusCode::CREATED);
    (server, admin)
}


async fn retention_archives_old_days_and_the_chain_still_verifies(backend: Backend) {
    let (server, admin) = admin_server(ServerOptions::new(backend)).await;
    for name in ["a", "b", "c"] {
        let (s, _) = call(&admin, "POST", server.url("/api/v1/domains/example.org/groups"), Some(json!({ "name": name }))).await;
        assert_eq!(s, StatusCode::CREATED);
    }
    // Only a system admin sets retention; a domain admin could otherwise hide their tracks.
    add_account(&server, &admin, "example.org", "dora", "domain-admin", PW).await;
    let dora = server.client();
    assert_eq!(login(&server, &dora, "dora@example.org", PW).await.status(), StatusCode::CREATED);
    let (s, _) = call(&dora, "PATCH", server.url("/api/v1/domains/example.org"), Some(json!({"audit_retention_days": 1}))).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, v) = call(&admin, "PATCH", server.url("/api/v1/domains/example.org"), Some(json!({"audit_retention_days": 99999}))).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    let (s, v) = call(&admin, "PATCH", server.url("/api/v1/domains/example.org"), Some(json!({"audit_retention_days": 2}))).await;
    assert_eq!((s, v["audit_retention_days"].as_i64()), (StatusCode::OK, Some(2)), "{v}");
    let stored = records(&server, &admin, "domain=example.org").await.len();
    // Today is not older than two days: nothing to do.
    let out = server.cli_ok(&["audit", "archive"], None);
    assert!(out.contains("nothing is older"), "{out}");
    // Three days later today's records are due.
    let later = (3 * 86_400).to_string();
    let out = server.cli_env(&["audit", "archive"], &[("DESKWARD_TEST_CLOCK_OFFSET", &later)]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(&format!("example.org: archived {stored} records")), "{text}");
    let archive = server.data_dir.join("audit-archive");
    let written = files_under(&archive.join("example.org"));
    assert_eq!(written.len(), 1, "{written:?}");
    let lines = std::fs::read_to_string(&written[0]).unwrap().lines().count();
    assert_eq!(lines, stored);
    // The store now holds only the record of the archiving itself, which names the boundary.
    let left = records(&server, &admin, "domain=example.org").await;
    assert_eq!(left.len(), 1, "{left:?}");
    assert_eq!(left[0]["action"], "audit.archive");
    assert_eq!(left[0]["summary"]["through_seq"].as_i64(), Some(stored as i64));
    // The store's chain verifies from the boundary, and with the archive from the start.
    let out = server.cli_ok(&["audit", "verify", "--domain", "example.org"], None);
    assert!(out.contains("archived") && out.contains("intact"), "{out}");
    let out = server.cli_ok(&["audit", "verify", "--domain", "example.org", "--archive", archive.to_str().unwrap()], None);
    assert!(out.contains(&format!("intact: records 1 to {}", stored + 1)), "{out}");
    // An archive file edited after the fact is named.
    let original = std::fs::read_to_string(&written[0]).unwrap();
    std::fs::write(&written[0], original.replacen("group:b", "group:z", 1)).unwrap();
    let out = server.cli(&["audit", "verify", "--domain", "example.org", "--archive", archive.to_str().unwrap()], None);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("edited"), "{}", String::from_utf8_lossy(&out.stderr));
    // A missing archive file is a gap, not a pass.
    std::fs::remove_file(&written[0]).unwrap();
    let out = server.cli(&["audit", "verify", "--domain", "example.org", "--archive", archive.to_str().unwrap()], None);
    assert!(!out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
    // Running again archives nothing new: the archiving record itself is not yet due.
    let out = server.cli_env(&["audit", "archive"], &[("DESKWARD_TEST_CLOCK_OFFSET", &later)]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("nothing is older"));
}

/// rsyslogd on two free loopback ports (TCP and UDP), writing each message's parsed fields.
struct Rsyslog {
    child: Child,
    dir: PathBuf,
    tcp: u16,
    udp: u16,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl Rsyslog {
    fn binary() -> Option<&'static str> {
        let found = ["/usr/sbin/rsyslogd", "/sbin/rsyslogd"].into_iter().find(|p| Path::new(p).exists());
        if found.is_none() {
            assert!(std::env::var("DESKWARD_REQUIRE_SERVICES").as_deref() != Ok("1"), "rsyslogd is required (apt-get install rsyslog)");
            eprintln!("skipping: rsyslogd is not installed");
        }
        found
    }

    fn start(dir: &Path, tcp: u16, udp: u16) -> Rsyslog {
        let inputs = format!(
            "module(load=\"imtcp\")\ninput(type=\"imtcp\" port=\"{tcp}\" address=\"127.0.0.1\")\n\
             module(load=\"imudp\")\ninput(type=\"imudp\" port=\"{udp}\" address=\"127.0.0.1\")\n"
        );
        Self::run(dir, "", &inputs, tcp, udp)
    }

    /// A TLS (RFC 5425) receiver on `port` with the certificate `test_certificates` wrote in `dir`.
    fn start_tls(dir: &Path, port: u16) -> Rsyslog {
        let d = dir.display();
        let global = format!(
            " defaultNetstreamDriver=\"gtls\" defaultNetstreamDriverCAFile=\"{d}/ca.pem\" \
             defaultNetstreamDriverCertFile=\"{d}/cert.pem\" defaultNetstreamDriverKeyFile=\"{d}/key.pem\""
        );
        let inputs = format!(
            "module(load=\"imtcp\" streamDriver.name=\"gtls\" streamDriver.mode=\"1\" streamDriver.authMode=\"anon\")\n\
             input(type=\"imtcp\" port=\"{port}\" address=\"127.0.0.1\")\n"
        );
        Self::run(dir, &global, &inputs, port, 0)
    }

    fn run(dir: &Path, global: &str, inputs: &str, tcp: u16, udp: u16) -> Rsyslog {
        std::fs::create_dir_all(dir).unwrap();
        let conf = format!(
            "global(workDirectory=\"{d}\"{global})\n{inputs}\
             template(name=\"fields\" type=\"string\" string=\"%pri%|%app-name%|%msgid%|%structured-data%|%msg%\\n\")\n\
             *.* action(type=\"omfile\" file=\"{d}/received.log\" template=\"fields\")\n",
            d = dir.display()
        );
        std::fs::write(dir.join("rsyslog.conf"), conf).unwrap();
        let child = Command::new(Self::binary().unwrap())
            .args(["-n", "-f"])
            .arg(dir.join("rsyslog.conf"))
            .arg("-i")
            .arg(dir.join("rsyslog.pid"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("rsyslogd starts");
        let up = Server::wait_until(Duration::from_secs(10), || std::net::TcpStream::connect(("127.0.0.1", tcp)).is_ok());
        assert!(up, "rsyslogd listens on {tcp}");
        Rsyslog { child, dir: dir.to_owned(), tcp, udp }
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// The received messages: priority, app name, msgid, structured data, message.
    fn received(&self) -> Vec<Vec<String>> {
        std::fs::read_to_string(self.dir.join("received.log"))
            .unwrap_or_default()
            .lines()
            .map(|l| l.splitn(5, '|').map(str::to_owned).collect())
            .collect()
    }

    async fn wait_for(&self, hashes: &[String]) -> Vec<Vec<String>> {
        let start = std::time::Instant::now();
        loop {
            let got = self.received();
            let all = hashes.iter().all(|h| got.iter().any(|m| m.get(4).is_some_and(|msg| msg.contains(h.as_str()))));
            if all || start.elapsed() > Duration::from_secs(15) {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Rsyslog {
    fn drop(&mut self) {
        self.stop();
    }
}

async fn records_reach_a_real_syslog_receiver(backend: Backend) {
    if Rsyslog::binary().is_none() {
        return;
    }
    let dir = tempdir();
    let (tcp, udp) = (free_port(), free_port());
    let mut receiver = Rsyslog::start(dir.path(), tcp, udp);
    let options = ServerOptions::new(backend).env("DESKWARD_AUDIT__SYSLOG", &format!("tcp://127.0.0.1:{}", receiver.tcp));
    let (mut server, admin) = admin_server(options).await;
    assert_eq!(login(&server, &server.client(), "nobody@example.org", "wrong-password").await.status(), StatusCode::UNAUTHORIZED);
    crate::audit::events(&server, &admin, "action=login.failed", 1).await;
    let all = records(&server, &admin, "").await;
    let hashes: Vec<String> = all.iter().map(|r| r["hash"].as_str().unwrap().to_owned()).collect();
    let got = receiver.wait_for(&hashes).await;
    for r in &all {
        let hash = r["hash"].as_str().unwrap();
        let m = got.iter().find(|m| m[4].contains(hash)).unwrap_or_else(|| panic!("record {hash} reached syslog: {got:?}"));
        // Facility "log audit" (13); notice for a change, warning for a security event.
        let pri = if r["security"] == true { "108" } else { "109" };
        assert_eq!((m[0].as_str(), m[1].as_str(), m[2].as_str()), (pri, "deskward", r["action"].as_str().unwrap()));
        assert!(m[3].contains(&format!("chain=\"{}\" seq=\"{}\"", r["chain"].as_str().unwrap(), r["seq"])), "{m:?}");
        let body: Value = serde_json::from_str(m[4].trim()).expect("the message is the record's JSON");
        assert_eq!(&body, r);
    }
    // The receiver goes down; changes made meanwhile arrive once it is back.
    receiver.stop();
    let (s, _) = call(&admin, "POST", server.url("/api/v1/domains/example.org/groups"), Some(json!({"name": "while-down"}))).await;
    assert_eq!(s, StatusCode::CREATED);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let mut receiver = Rsyslog::start(dir.path(), tcp, udp);
    let missed = records(&server, &admin, "action=group.create").await;
    let got = receiver.wait_for(&[missed[0]["hash"].as_str().unwrap().to_owned()]).await;
    assert!(got.iter().any(|m| m[4].contains("while-down")), "{got:?}");
    // UDP works too.
    server.restart_with(&[("DESKWARD_AUDIT__SYSLOG", &format!("udp://127.0.0.1:{}", receiver.udp))]).unwrap();
    let admin = server.client();
    assert_eq!(login(&server, &admin, ADMIN, ADMIN_PW).await.status(), StatusCode::CREATED);
    let logins = records(&server, &admin, "action=login").await;
    let got = receiver.wait_for(&[logins[0]["hash"].as_str().unwrap().to_owned()]).await;
    assert!(got.iter().any(|m| m[4].contains(logins[0]["hash"].as_str().unwrap())), "{got:?}");
    receiver.stop();
}

fn tempdir() -> deskward_testkit::TempDir {
    deskward_testkit::TempDir::new("rsyslog")
}
