//! The test kit: boots the real `deskward` binary on 127.0.0.1 with a private data directory,
//! on SQLite or on a fresh PostgreSQL database, and gives tests an HTTPS client that verifies
//! the server's generated certificate.
//!
//! PostgreSQL comes from `DESKWARD_TEST_POSTGRES_ADMIN_URL` (the project's test command starts
//! a throw-away cluster and sets it). Without it, PostgreSQL tests skip with a message, unless
//! `DESKWARD_REQUIRE_SERVICES=1`, under which a missing service fails the test.

// Test support: failing loudly with a message is its job.
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

mod browser;
pub mod kdc;
mod postgres;
mod samba;
mod server;
mod slapd;
mod smtp;

pub use browser::{Browser, browser_available};
pub use postgres::{fresh_database, postgres_available, set_fsync};
pub use samba::{AD_BASE_DN, AD_GROUPS_DN, AD_PEOPLE_DN, SambaDc, samba_dc_available};
pub use kdc::{Kdc, kdc_available};
pub use server::{Backend, PeakMemory, Server, ServerOptions};
pub use slapd::{AD_LIKE_SCHEMA, Slapd, slapd_available};
pub use smtp::{Received, SmtpSink, free_port, smtp_available};

/// A fresh directory under the system's temporary directory, removed with what it holds on
/// drop (also when the test fails).
#[derive(Debug)]
pub struct TempDir(pub std::path::PathBuf);

impl TempDir {
    /// `deskward-<what>-<random>`.
    pub fn new(what: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("deskward-{what}-{:016x}", rand::random::<u64>()));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    pub fn path(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Writes a private CA (`ca.pem`) and a certificate it signed for `localhost` and
/// `127.0.0.1` (`cert.pem`, `key.pem`) into `dir`, for the TLS services tests start; returns
/// the CA file. `what` names the CA.
pub fn test_certificates(dir: &std::path::Path, what: &str) -> std::path::PathBuf {
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name.push(rcgen::DnType::CommonName, format!("Deskward test {what} CA"));
    let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().unwrap()).unwrap();
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).unwrap().signed_by(&key, &ca).unwrap();
    std::fs::write(dir.join("ca.pem"), ca.pem()).unwrap();
    std::fs::write(dir.join("cert.pem"), cert.pem()).unwrap();
    std::fs::write(dir.join("key.pem"), key.serialize_pem()).unwrap();
    dir.join("ca.pem")
}

/// Whether a real service a test needs is here. When it is not, the test fails under
/// `DESKWARD_REQUIRE_SERVICES=1` and otherwise says that it skips. `needs` names what to
/// install or set.
pub fn service_present(what: &str, found: bool, needs: &str) -> bool {
    if !found {
        assert!(!services_required(), "{what}: {needs} is missing but DESKWARD_REQUIRE_SERVICES=1");
        eprintln!("SKIPPED {what}: {needs} is missing (the project's test command provides it)");
    }
    found
}

/// True when the test command demands every real service.
pub fn services_required() -> bool {
    std::env::var("DESKWARD_REQUIRE_SERVICES").is_ok_and(|v| v == "1")
}

/// Runs an async test body once per store back end.
#[macro_export]
macro_rules! on_both_stores {
    ($($name:ident => $body:ident;)*) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$body($crate::Backend::Sqlite).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    if !$crate::postgres_available("postgres store test") {
                        return;
                    }
                    super::$body($crate::Backend::Postgres).await;
                }
            }
        )*
    };
}
