//! A real Active Directory for tests: Samba's domain controller, provisioned for the realm
//! `AD.TEST` (base `DC=ad,DC=test`) in a fresh directory and serving LDAP and LDAPS on
//! 127.0.0.1 under a certificate from a private CA made here, and Kerberos (its KDC, AES
//! keys only) for single sign-on with a service account's keytab.
//! Users, groups, disabling and password resets go through `samba-tool` on the controller's
//! own database, and the running controller sees them at once; an old password stops working
//! at once too (`old password allowed period = 0`: by default AD keeps accepting it for an
//! hour).
//!
//! Active Directory's ports are fixed (389, 636 and 88), so only one controller runs on a machine
//! at a time: a lock file serialises the tests that start one, across test processes. The
//! controller ends when its standard input closes, so it does not outlive a test process that
//! was killed. Debian's `samba-ad-dc` (with `samba`, `winbind` and `samba-ad-provision`) and
//! `ldap-utils` provide what it needs; the project's test command installs them. Without them the test skips, unless
//! `DESKWARD_REQUIRE_SERVICES=1`.

use std::fs::File;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::TempDir;

const SAMBA: &str = "/usr/sbin/samba";
const SAMBA_TOOL: &str = "/usr/bin/samba-tool";
const LDAPSEARCH: &str = "/usr/bin/ldapsearch";

const REALM: &str = "AD.TEST";
/// The domain's naming context.
pub const AD_BASE_DN: &str = "DC=ad,DC=test";
/// Where `add_user` puts people.
pub const AD_PEOPLE_DN: &str = "OU=People,DC=ad,DC=test";
/// Where `add_group` puts groups.
pub const AD_GROUPS_DN: &str = "OU=Groups,DC=ad,DC=test";
const ADMIN_PASSWORD: &str = "Domain-admin-pass-1";
const SERVICE_USER: &str = "deskward-svc";
const SERVICE_PASSWORD: &str = "Service-bind-pass-2";

/// Whether Samba's domain controller and the LDAP client tools are installed; `false` (after
/// failing the test under `DESKWARD_REQUIRE_SERVICES=1`) skips the test.
pub fn samba_dc_available(what: &str) -> bool {
    // The domain controller's database modules, under the architecture's library directory.
    let dsdb = std::fs::read_dir("/usr/lib").is_ok_and(|dirs| dirs.flatten().any(|d| d.path().join("samba/ldb/samba_dsdb.so").exists()));
    let found = dsdb && [SAMBA, SAMBA_TOOL, LDAPSEARCH].iter().all(|p| Path::new(p).exists()) && Path::new("/usr/share/samba/setup").is_dir();
    crate::service_present(what, found, "Debian's samba-ad-dc, samba-ad-provision or ldap-utils")
}

/// The running domain controller; stopped and removed on drop, and then the next test may
/// start one.
pub struct SambaDc {
    child: Option<Child>,
    /// Held open while the controller runs: it stops when this closes.
    stdin: Option<ChildStdin>,
    dir: TempDir,
    /// The machine-wide lock on AD's ports, released last.
    _lock: File,
}

impl SambaDc {
    /// Provisions a domain (about 7 s), starts the controller, waits until LDAPS answers a
    /// bind, and adds the OUs `People`, `Groups` and `Services` and the service account.
    pub fn start() -> SambaDc {
        let lock = File::create(std::env::temp_dir().join("deskward-samba-dc.lock")).unwrap();
        lock.lock().unwrap();
        wait_ports_free();
        let dir = TempDir::new("samba");
        let tls = dir.path().join("tls");
        std::fs::create_dir_all(&tls).unwrap();
        crate::test_certificates(&tls, "active directory");
        // Samba refuses a key file others can read.
        std::fs::set_permissions(tls.join("key.pem"), std::fs::Permissions::from_mode(0o600)).unwrap();
        let dc = dir.path().join("dc");
        let d = dc.display();
        let t = tls.display();
        let options = [
            "interfaces=127.0.0.1".to_owned(),
            "bind interfaces only=yes".to_owned(),
            "server services=ldap kdc".to_owned(),
            // Service tickets for accounts that name no encryption types are AES, as current
            // Windows domains issue them (RC4 otherwise).
            "kdc default domain supported enctypes=aes256-cts-hmac-sha1-96 aes128-cts-hmac-sha1-96".to_owned(),
            format!("log file={d}/log.%m"),
            format!("pid directory={d}/run"),
            format!("ncalrpc dir={d}/run/ncalrpc"),
            format!("winbindd socket directory={d}/run/winbindd"),
            format!("ntp signd socket directory={d}/run/ntp_signd"),
            "tls enabled=yes".to_owned(),
            format!("tls keyfile={t}/key.pem"),
            format!("tls certfile={t}/cert.pem"),
            format!("tls cafile={t}/ca.pem"),
        ];
        let mut provision = command(SAMBA_TOOL);
        provision.args(["domain", "provision", "--realm", REALM, "--domain", "ADTEST", "--server-role", "dc", "--dns-backend", "NONE", "--host-name", "dc1"]);
        provision.arg(format!("--adminpass={ADMIN_PASSWORD}")).arg(format!("--targetdir={d}"));
        for option in &options {
            provision.arg(format!("--option={option}"));
        }
        ok("samba-tool domain provision", &provision.output().unwrap());

        let log = File::create(dir.path().join("samba.log")).unwrap();
        let mut child = command(SAMBA)
            // In the foreground, ending by itself after an hour at the latest. Provisioning does
            // not write the old-password setting into the configuration, so it is given here.
            .args(["-i", "-M", "single", "--maximum-runtime=3600", "--option=old password allowed period=0", "-s"])
            .arg(dc.join("etc/smb.conf"))
            .stdin(Stdio::piped())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .process_group(0)
            .spawn()
            .unwrap();
        let stdin = child.stdin.take();
        let mut samba = SambaDc { child: Some(child), stdin, dir, _lock: lock };
        samba.wait_ready();
        for ou in ["People", "Groups", "Services"] {
            samba.tool(&["ou", "add", &format!("OU={ou}")]);
        }
        samba.tool(&["user", "create", SERVICE_USER, SERVICE_PASSWORD, "--userou=OU=Services", "--use-username-as-cn"]);
        samba
    }

    /// Waits until the controller answers a bind over LDAPS with the CA made here.
    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                panic!("samba ended at its start ({status}): {}", self.log());
            }
            let answered = std::net::TcpStream::connect(("127.0.0.1", 636)).is_ok()
                && self.search(&format!("Administrator@{}", REALM.to_ascii_lowercase()), ADMIN_PASSWORD, "", "(objectClass=*)").status.success();
            if answered {
                return;
            }
            assert!(Instant::now() < deadline, "samba did not answer LDAPS within 30 s: {}", self.log());
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// A base-scope search as `bind` over LDAPS (`ldapsearch`).
    fn search(&self, bind: &str, password: &str, base: &str, filter: &str) -> Output {
        command(LDAPSEARCH)
            .env("LDAPTLS_CACERT", self.ca_file())
            .args(["-x", "-LLL", "-o", "nettimeout=5", "-H", &self.ldaps_url(), "-D", bind, "-w", password, "-s", "base", "-b", base, filter])
            .output()
            .unwrap()
    }

    fn log(&self) -> String {
        let mut bytes = Vec::new();
        let _ = File::open(self.dir.path().join("samba.log")).and_then(|mut f| f.read_to_end(&mut bytes));
        String::from_utf8_lossy(&bytes[bytes.len().saturating_sub(4000)..]).into_owned()
    }

    /// Runs `samba-tool` on this controller's database; returns what it printed.
    pub fn tool(&self, args: &[&str]) -> String {
        let out = command(SAMBA_TOOL).args(args).arg("-s").arg(self.dir.path().join("dc/etc/smb.conf")).output().unwrap();
        ok(&format!("samba-tool {args:?}"), &out);
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Adds a person in `OU=People` (its CN is `name`, its displayName "given surname");
    /// returns its DN.
    pub fn add_user(&self, name: &str, password: &str, given: &str, surname: &str, mail: &str) -> String {
        self.tool(&["user", "create", name, password, "--userou=OU=People", "--use-username-as-cn", &format!("--given-name={given}"), &format!("--surname={surname}"), &format!("--mail-address={mail}")]);
        self.user_dn(name)
    }

    pub fn user_dn(&self, name: &str) -> String {
        format!("CN={name},{AD_PEOPLE_DN}")
    }

    /// Adds a security group in `OU=Groups`; returns its DN.
    pub fn add_group(&self, name: &str) -> String {
        self.tool(&["group", "add", name, "--groupou=OU=Groups"]);
        format!("CN={name},{AD_GROUPS_DN}")
    }

    pub fn add_member(&self, group: &str, user: &str) {
        self.tool(&["group", "addmembers", group, user]);
    }

    pub fn remove_member(&self, group: &str, user: &str) {
        self.tool(&["group", "removemembers", group, user]);
    }

    /// Sets userAccountControl's "disabled" flag: the controller refuses the user's binds.
    pub fn disable_user(&self, name: &str) {
        self.tool(&["user", "disable", name]);
    }

    pub fn enable_user(&self, name: &str) {
        self.tool(&["user", "enable", name]);
    }

    /// An administrator's reset of the user's password.
    pub fn set_password(&self, name: &str, password: &str) {
        self.tool(&["user", "setpassword", name, &format!("--newpassword={password}")]);
    }

    pub fn ldaps_url(&self) -> String {
        "ldaps://127.0.0.1:636".to_owned()
    }

    /// The PEM file of the CA that signed the controller's certificate.
    pub fn ca_file(&self) -> PathBuf {
        self.dir.path().join("tls/ca.pem")
    }

    pub fn ca_pem(&self) -> String {
        std::fs::read_to_string(self.ca_file()).unwrap()
    }

    pub fn base_dn(&self) -> &'static str {
        AD_BASE_DN
    }

    /// The service account Deskward searches with (an ordinary domain user).
    pub fn bind_dn(&self) -> String {
        format!("CN={SERVICE_USER},OU=Services,{AD_BASE_DN}")
    }

    pub fn bind_password(&self) -> &'static str {
        SERVICE_PASSWORD
    }

    /// A krb5.conf for the domain's realm, whose KDC is this controller.
    pub fn krb5_config(&self) -> PathBuf {
        let path = self.dir.path().join("krb5.conf");
        let conf = format!(
            "[libdefaults]\n default_realm = {REALM}\n dns_lookup_kdc = false\n dns_lookup_realm = false\n rdns = false\n\
             [realms]\n {REALM} = {{\n  kdc = 127.0.0.1:88\n }}\n"
        );
        std::fs::write(&path, conf).unwrap();
        path
    }

    /// Gives `HTTP/localhost` to a new service account, as an AD administrator does for a web
    /// server, and exports its keys to a keytab; returns the keytab's path.
    pub fn http_keytab(&self) -> PathBuf {
        self.tool(&["user", "create", "deskward-http", "Http-service-pass-3", "--userou=OU=Services", "--use-username-as-cn"]);
        self.tool(&["spn", "add", "HTTP/localhost", "deskward-http"]);
        let keytab = self.dir.path().join("http.keytab");
        self.tool(&["domain", "exportkeytab", keytab.to_str().unwrap(), "--principal=HTTP/localhost"]);
        keytab
    }

    /// A client command with the realm's configuration and this controller's credential cache.
    fn client(&self, program: &str) -> Command {
        let mut c = command(program);
        c.env("KRB5_CONFIG", self.krb5_config()).env("KRB5CCNAME", format!("FILE:{}", self.dir.path().join("ccache").display()));
        c
    }

    /// Fetches `name@AD.TEST`'s ticket from the controller (`kinit`).
    pub fn kinit(&self, name: &str, password: &str) {
        crate::kdc::kinit(self.client("/usr/bin/kinit"), &format!("{name}@{REALM}"), password);
    }

    /// `curl --negotiate` with the ticket `kinit` fetched.
    pub fn curl(&self, url: &str, addr: std::net::SocketAddr, ca: &Path, jar: &Path) -> Output {
        crate::kdc::curl_negotiate(self.client("/usr/bin/curl"), url, addr, ca, jar)
    }
}

impl Drop for SambaDc {
    fn drop(&mut self) {
        // Closing its standard input ends the controller and its process group.
        drop(self.stdin.take());
        let Some(mut child) = self.child.take() else { return };
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            match child.try_wait() {
                Ok(Some(_)) => return,
                Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
                _ => break,
            }
        }
        // Still running: kill its process group (it leads one).
        let _ = Command::new("kill").args(["-KILL", "--", &format!("-{}", child.id())]).stderr(Stdio::null()).status();
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// A command with an emptied environment, so nothing of the caller's Kerberos or LDAP
/// settings reaches the tools.
fn command(program: &str) -> Command {
    let mut c = Command::new(program);
    c.env_clear().env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin");
    c
}

fn ok(what: &str, out: &Output) {
    assert!(out.status.success(), "{what}: {}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
}

/// Waits until nothing listens on AD's ports any more (a controller that just stopped).
fn wait_ports_free() {
    let deadline = Instant::now() + Duration::from_secs(15);
    while [389, 636, 88].iter().any(|&port| std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()) {
        assert!(Instant::now() < deadline, "another server listens on 127.0.0.1:389, 636 or 88; a domain controller needs those ports");
        std::thread::sleep(Duration::from_millis(100));
    }
}
