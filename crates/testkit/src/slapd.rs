//! A real OpenLDAP `slapd` for tests: its own configuration and database in a fresh
//! directory, listening on loopback with plain LDAP (StartTLS offered) and LDAPS, under a
//! certificate from a private CA made here. The memberof overlay keeps `memberOf` on the
//! members of groups added while it runs (not those loaded at start). Debian's `slapd` package provides it; the
//! project's test command installs it. Without it the directory tests skip, unless
//! `DESKWARD_REQUIRE_SERVICES=1`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};


use crate::free_port;

const SLAPD: &str = "/usr/sbin/slapd";
pub const SUFFIX: &str = "dc=test,dc=local";
pub const ROOT_DN: &str = "cn=admin,dc=test,dc=local";
pub const ROOT_PW: &str = "root-secret-1";

/// Whether slapd is installed; `false` (after failing the test under
/// `DESKWARD_REQUIRE_SERVICES=1`) skips the test.
pub fn slapd_available(what: &str) -> bool {
    let found = Path::new(SLAPD).exists() && Path::new("/usr/bin/ldapmodify").exists();
    crate::service_present(what, found, "Debian's slapd or ldap-utils")
}

/// The running directory; stopped on drop.
pub struct Slapd {
    child: Option<Child>,
    dir: PathBuf,
    /// ldap:// (StartTLS offered).
    pub port: u16,
    /// ldaps://.
    pub tls_port: u16,
}

impl Slapd {
    /// Starts slapd with the suffix's root entry and `seed` (LDIF entries under it).
    /// `schema` is extra schema text (attribute types and object classes) for the tree.
    pub fn start(seed: &str, schema: Option<&str>) -> Slapd {
        let dir = std::env::temp_dir().join(format!("deskward-slapd-{}", rand::random::<u64>()));
        std::fs::create_dir_all(dir.join("db")).unwrap();
        crate::test_certificates(&dir, "directory");
        let extra = match schema {
            Some(text) => {
                std::fs::write(dir.join("extra.schema"), text).unwrap();
                format!("include {}\n", dir.join("extra.schema").display())
            }
            None => String::new(),
        };
        let d = dir.display();
        let conf = format!(
            "include /etc/ldap/schema/core.schema\ninclude /etc/ldap/schema/cosine.schema\n\
             include /etc/ldap/schema/inetorgperson.schema\n{extra}\
             pidfile {d}/slapd.pid\nmodulepath /usr/lib/ldap\nmoduleload back_mdb\nmoduleload memberof\n\
             TLSCertificateFile {d}/cert.pem\nTLSCertificateKeyFile {d}/key.pem\n\
             database mdb\nmaxsize 104857600\nsuffix \"{SUFFIX}\"\nrootdn \"{ROOT_DN}\"\nrootpw {ROOT_PW}\n\
             directory {d}/db\nindex objectClass eq\nindex uid eq\nindex member eq\n\
             limits * size.prtotal=unlimited\noverlay memberof\n"
        );
        std::fs::write(dir.join("slapd.conf"), conf).unwrap();
        let root = format!("dn: {SUFFIX}\nobjectClass: dcObject\nobjectClass: organization\no: test\ndc: test\n\n");
        std::fs::write(dir.join("seed.ldif"), format!("{root}{seed}")).unwrap();
        let out = Command::new("/usr/sbin/slapadd").arg("-f").arg(dir.join("slapd.conf")).arg("-l").arg(dir.join("seed.ldif")).output().unwrap();
        assert!(out.status.success(), "slapadd: {}", String::from_utf8_lossy(&out.stderr));
        let mut slapd = Slapd { child: None, dir, port: free_port(), tls_port: free_port() };
        slapd.run();
        slapd
    }

    fn run(&mut self) {
        let urls = format!("ldap://127.0.0.1:{}/ ldaps://127.0.0.1:{}/", self.port, self.tls_port);
        let child = Command::new(SLAPD)
            .args(["-d", "0", "-f"])
            .arg(self.dir.join("slapd.conf"))
            .arg("-h")
            .arg(urls)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() || std::net::TcpStream::connect(("127.0.0.1", self.tls_port)).is_err() {
            assert!(Instant::now() < deadline, "slapd did not start listening");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stops slapd; its data stays for `resume`.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts slapd again on the same ports with the same data.
    pub fn resume(&mut self) {
        self.stop();
        self.run();
    }

    /// The PEM certificate of the CA that signed slapd's certificate.
    pub fn ca_pem(&self) -> String {
        std::fs::read_to_string(self.dir.join("ca.pem")).unwrap()
    }

    pub fn ca_file(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }

    pub fn ldap_url(&self) -> String {
        format!("ldap://127.0.0.1:{}", self.port)
    }

    pub fn ldaps_url(&self) -> String {
        format!("ldaps://127.0.0.1:{}", self.tls_port)
    }

    /// Applies an LDIF change (ldapmodify, as the root DN).
    pub fn modify(&self, ldif: &str) {
        let mut child = Command::new("/usr/bin/ldapmodify")
            .args(["-x", "-H", &self.ldap_url(), "-D", ROOT_DN, "-w", ROOT_PW])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(ldif.as_bytes()).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "ldapmodify: {}", String::from_utf8_lossy(&out.stderr));
    }
}

impl Drop for Slapd {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// AD's attribute names (sAMAccountName, userAccountControl, userPrincipalName) and its
/// `user` class, as schema slapd loads, for trees shaped like Active Directory's.
pub const AD_LIKE_SCHEMA: &str = "\
attributetype ( 1.3.6.1.4.1.99999.1.1 NAME 'sAMAccountName' EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE )
attributetype ( 1.3.6.1.4.1.99999.1.2 NAME 'userAccountControl' EQUALITY integerMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.27 SINGLE-VALUE )
attributetype ( 1.3.6.1.4.1.99999.1.3 NAME 'userPrincipalName' EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE )
objectclass ( 1.3.6.1.4.1.99999.2.1 NAME 'user' SUP top AUXILIARY MAY ( sAMAccountName $ userAccountControl $ userPrincipalName ) )
";
