//! A real SMTP relay for tests: aiosmtpd (Python) on a loopback port, with STARTTLS required,
//! a certificate from a private CA made here, an optional login, and every accepted message
//! written as a JSON file the test reads. The project's test command makes a virtual
//! environment with aiosmtpd and names its Python in `DESKWARD_TEST_PYTHON`; without it the
//! mail tests skip, unless `DESKWARD_REQUIRE_SERVICES=1`.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};


const SCRIPT: &str = include_str!("../python/smtp_sink.py");

/// A message the relay accepted.
#[derive(Debug, Clone)]
pub struct Received {
    pub mail_from: String,
    pub rcpt_tos: Vec<String>,
    /// The whole message: headers and body.
    pub data: String,
    /// The client had switched to TLS (STARTTLS) before sending.
    pub tls: bool,
    /// The login the client authenticated with, if any.
    pub login: Option<String>,
}

impl Received {
    /// The body with quoted-printable soft line breaks undone and `=3D` decoded, enough to
    /// read links and sentences.
    pub fn text(&self) -> String {
        let body = self.data.split_once("\r\n\r\n").or_else(|| self.data.split_once("\n\n")).map_or("", |(_, b)| b);
        body.replace("=\r\n", "").replace("=\n", "").replace("=3D", "=").replace("\r\n", "\n")
    }

    pub fn subject(&self) -> String {
        self.data
            .lines()
            .find_map(|l| l.strip_prefix("Subject: "))
            .unwrap_or_default()
            .trim()
            .to_owned()
    }
}

/// The running relay; stopped on drop.
pub struct SmtpSink {
    child: Option<Child>,
    dir: PathBuf,
    pub port: u16,
    user: Option<(String, String)>,
}

/// The Python with aiosmtpd, or `None` (after failing the test under
/// `DESKWARD_REQUIRE_SERVICES=1`).
pub fn smtp_available(what: &str) -> Option<PathBuf> {
    let python = std::env::var_os("DESKWARD_TEST_PYTHON").map(PathBuf::from).filter(|p| p.exists());
    crate::service_present(what, python.is_some(), "DESKWARD_TEST_PYTHON (a Python with aiosmtpd)");
    python
}

/// A free loopback port (nothing listens on it once this returns).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl SmtpSink {
    /// Makes the CA and the relay's certificate in a fresh directory; `start` runs the relay.
    /// The relay is reached as `localhost` on `port`.
    pub fn prepare(port: u16, user: Option<(&str, &str)>) -> SmtpSink {
        let dir = std::env::temp_dir().join(format!("deskward-smtp-{}", rand::random::<u64>()));
        std::fs::create_dir_all(dir.join("out")).unwrap();
        crate::test_certificates(&dir, "mail");
        std::fs::write(dir.join("smtp_sink.py"), SCRIPT).unwrap();
        SmtpSink { child: None, dir, port, user: user.map(|(u, p)| (u.to_owned(), p.to_owned())) }
    }

    /// Starts the relay and waits until it listens.
    pub fn start(&mut self, python: &Path) {
        let mut cmd = Command::new(python);
        cmd.arg(self.dir.join("smtp_sink.py"))
            .arg(self.port.to_string())
            .arg(self.dir.join("cert.pem"))
            .arg(self.dir.join("key.pem"))
            .arg(self.dir.join("out"));
        if let Some((u, p)) = &self.user {
            cmd.arg(u).arg(p);
        }
        let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::inherit()).spawn().unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        assert_eq!(line.trim(), "ready", "the SMTP relay did not start");
        self.child = Some(child);
    }

    /// Stops the relay; messages already received stay readable.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// The CA file the server must trust (`mail.ca_file`).
    pub fn ca_file(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }

    /// The messages received so far, in no particular order.
    pub fn messages(&self) -> Vec<Received> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(self.dir.join("out")).unwrap().flatten() {
            if entry.path().extension().is_some_and(|e| e == "json") {
                let v: serde_json::Value = serde_json::from_slice(&std::fs::read(entry.path()).unwrap()).unwrap();
                out.push(Received {
                    mail_from: v["mail_from"].as_str().unwrap_or_default().to_owned(),
                    rcpt_tos: v["rcpt_tos"].as_array().unwrap().iter().map(|r| r.as_str().unwrap().to_owned()).collect(),
                    data: v["data"].as_str().unwrap_or_default().to_owned(),
                    tls: v["tls"].as_bool().unwrap_or(false),
                    login: v["login"].as_str().map(str::to_owned),
                });
            }
        }
        out
    }

    /// Waits up to `limit` for messages matching `f` to number at least `n`, and returns them.
    pub fn wait_for(&self, n: usize, limit: Duration, f: impl Fn(&Received) -> bool) -> Vec<Received> {
        let start = Instant::now();
        loop {
            let found: Vec<Received> = self.messages().into_iter().filter(|m| f(m)).collect();
            if found.len() >= n || start.elapsed() > limit {
                return found;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
