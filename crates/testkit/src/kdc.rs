//! A real MIT Kerberos KDC for tests: realm `TEST.LOCAL` with its database, configuration and
//! credential caches in a fresh directory, listening on a loopback port. It makes the
//! service principal `HTTP/localhost` with a keytab for the server, and user principals whose
//! tickets `kinit` fetches; `curl --negotiate` is the real SPNEGO client. Debian's `krb5-kdc`,
//! `krb5-admin-server` and `krb5-user` provide it; the project's test command installs them.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::{TempDir, free_port};

pub const REALM: &str = "TEST.LOCAL";
/// The service principal the server's keytab holds.
pub const SERVICE: &str = "HTTP/localhost@TEST.LOCAL";

const KRB5KDC: &str = "/usr/sbin/krb5kdc";

/// Whether the KDC and the Kerberos client tools are installed; `false` (after failing the
/// test under `DESKWARD_REQUIRE_SERVICES=1`) skips the test.
pub fn kdc_available(what: &str) -> bool {
    let found = [KRB5KDC, "/usr/sbin/kadmin.local", "/usr/bin/kinit", "/usr/bin/curl"].iter().all(|p| Path::new(p).exists());
    crate::service_present(what, found, "Debian's krb5-kdc, krb5-admin-server, krb5-user or curl")
}

/// The running KDC; stopped and removed on drop.
pub struct Kdc {
    child: Option<Child>,
    dir: TempDir,
    pub port: u16,
}

impl Kdc {
    pub fn start() -> Kdc {
        let dir = TempDir::new("kdc");
        let port = free_port();
        let d = dir.path().display();
        std::fs::write(
            dir.path().join("krb5.conf"),
            format!(
                "[libdefaults]\n default_realm = {REALM}\n dns_lookup_kdc = false\n dns_lookup_realm = false\n rdns = false\n\
                 [realms]\n {REALM} = {{\n  kdc = 127.0.0.1:{port}\n }}\n"
            ),
        )
        .unwrap();
        std::fs::write(
            dir.path().join("kdc.conf"),
            format!(
                "[kdcdefaults]\n kdc_listen = 127.0.0.1:{port}\n kdc_tcp_listen = 127.0.0.1:{port}\n\
                 [realms]\n {REALM} = {{\n  database_name = {d}/principal\n  key_stash_file = {d}/stash\n  acl_file = {d}/kadm5.acl\n }}\n\
                 [logging]\n kdc = FILE:{d}/kdc.log\n"
            ),
        )
        .unwrap();
        std::fs::write(dir.path().join("kadm5.acl"), "").unwrap();
        let mut kdc = Kdc { child: None, dir, port };
        kdc.run_ok("/usr/sbin/kdb5_util", &["create", "-s", "-r", REALM, "-P", "master-secret-1"]);
        kdc.admin(&format!("addprinc -randkey {SERVICE}"));
        let keytab = kdc.keytab();
        kdc.admin(&format!("ktadd -k {} {SERVICE}", keytab.display()));
        let child = kdc.command(KRB5KDC).args(["-n", "-P"]).arg(kdc.dir.path().join("kdc.pid")).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
        kdc.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "krb5kdc did not start listening");
            std::thread::sleep(Duration::from_millis(50));
        }
        kdc
    }

    /// A command with this realm's configuration and `ccache` as its credential cache.
    fn command(&self, program: &str) -> Command {
        let mut c = Command::new(program);
        c.env_clear()
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .env("KRB5_CONFIG", self.config())
            .env("KRB5_KDC_PROFILE", self.dir.path().join("kdc.conf"))
            .env("KRB5CCNAME", format!("FILE:{}", self.dir.path().join("ccache").display()));
        c
    }

    fn run_ok(&self, program: &str, args: &[&str]) -> Output {
        let out = self.command(program).args(args).output().unwrap();
        assert!(out.status.success(), "{program} {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        out
    }

    /// Runs a `kadmin.local` query.
    pub fn admin(&self, query: &str) {
        self.run_ok("/usr/sbin/kadmin.local", &["-q", query]);
    }

    /// Adds a user principal (`alice` or `alice/admin`) with a password.
    pub fn add_user(&self, name: &str, password: &str) {
        self.admin(&format!("addprinc -pw {password} {name}"));
    }

    /// The krb5.conf of the realm, for the server's `KRB5_CONFIG`.
    pub fn config(&self) -> PathBuf {
        self.dir.path().join("krb5.conf")
    }

    /// The keytab with `HTTP/localhost`'s key.
    pub fn keytab(&self) -> PathBuf {
        self.dir.path().join("http.keytab")
    }

    /// Fetches `name`'s ticket into the shared credential cache (`kinit`).
    pub fn kinit(&self, name: &str, password: &str) {
        kinit(self.command("/usr/bin/kinit"), name, password);
    }

    /// `curl --negotiate` with the cached ticket (see [`curl_negotiate`]).
    pub fn curl(&self, url: &str, addr: std::net::SocketAddr, ca: &Path, jar: &Path) -> Output {
        curl_negotiate(self.command("/usr/bin/curl"), url, addr, ca, jar)
    }
}

/// Runs `kinit` (a command set up with a realm's configuration and credential cache) for
/// `name`, typing `password`.
pub(crate) fn kinit(mut command: Command, name: &str, password: &str) {
    let mut child = command.arg(name).stdin(Stdio::piped()).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
    child.stdin.take().unwrap().write_all(format!("{password}\n").as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "kinit {name}: {}", String::from_utf8_lossy(&out.stderr));
}

/// `curl --negotiate` (a command set up with a realm's configuration and credential cache)
/// against `url` with the cached ticket, trusting `ca` and keeping cookies in `jar`; with
/// `-v`, so the Authorization header it sent is in the output. `localhost` resolves to
/// `addr`, so the service name is `HTTP/localhost`.
pub(crate) fn curl_negotiate(mut command: Command, url: &str, addr: std::net::SocketAddr, ca: &Path, jar: &Path) -> Output {
    command
        .args(["-sv", "--negotiate", "-u", ":", "--cacert"])
        .arg(ca)
        .arg("--resolve")
        .arg(format!("localhost:{}:{}", addr.port(), addr.ip()))
        .arg("-c")
        .arg(jar)
        .arg("-b")
        .arg(jar)
        .arg(url)
        .output()
        .unwrap()
}

impl Drop for Kdc {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
