//! A real `deskward serve` process on 127.0.0.1:0 with its own data directory.

use crate::TempDir;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// How to start the server.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    pub backend: Backend,
    /// Extra environment (`DESKWARD_…` overrides).
    pub env: Vec<(String, String)>,
    /// Keep the test-cheap argon2 parameters (1 MiB, t=1); off for benchmarks and flood tests.
    pub cheap_hashing: bool,
    /// Write the server's log (stderr) to a file [`Server::log`] reads, instead of the test's.
    pub keep_log: bool,
}

impl ServerOptions {
    pub fn new(backend: Backend) -> Self {
        ServerOptions { backend, env: Vec::new(), cheap_hashing: true, keep_log: false }
    }

    /// Keeps the server's log for [`Server::log`].
    pub fn keep_log(mut self) -> Self {
        self.keep_log = true;
        self
    }

    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.to_owned(), value.to_owned()));
        self
    }
}

/// A running server; killed when dropped.
pub struct Server {
    child: Option<Child>,
    bin: PathBuf,
    pub data_dir: PathBuf,
    _tmp: TempDir,
    pub addr: std::net::SocketAddr,
    pub base: String,
    pub database_url: Option<String>,
    env: Vec<(String, String)>,
    /// Where the server's log goes when the options asked to keep it.
    log_file: Option<PathBuf>,
}

impl Server {
    /// Starts `bin serve` and waits until it listens.
    pub async fn start(bin: &Path, options: ServerOptions) -> anyhow::Result<Server> {
        let tmp = TempDir::new("test");
        let data_dir = tmp.0.join("data");
        let database_url = match options.backend {
            Backend::Sqlite => None,
            Backend::Postgres => Some(crate::fresh_database().await?),
        };
        let mut env = vec![("DESKWARD_HTTP__LISTEN".to_owned(), "127.0.0.1:0".to_owned())];
        if options.cheap_hashing {
            env.push(("DESKWARD_PASSWORD_HASH__MEMORY_KIB".into(), "1024".into()));
            env.push(("DESKWARD_PASSWORD_HASH__ITERATIONS".into(), "1".into()));
        }
        if let Some(url) = &database_url {
            env.push(("DESKWARD_DATABASE__URL".into(), url.clone()));
        }
        env.extend(options.env);
        let log_file = options.keep_log.then(|| tmp.0.join("server.log"));
        let mut server = Server {
            log_file,
            child: None,
            bin: bin.to_owned(),
            data_dir,
            _tmp: tmp,
            addr: "127.0.0.1:0".parse()?,
            base: String::new(),
            database_url,
            env,
        };
        server.spawn()?;
        Ok(server)
    }

    fn command(&self) -> Command {
        let mut cmd = Command::new(&self.bin);
        cmd.arg("--data-dir").arg(&self.data_dir);
        cmd.env_remove("DESKWARD_CONFIG").env("DESKWARD_LOG", "warn");
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        cmd
    }

    fn spawn(&mut self) -> anyhow::Result<()> {
        let stderr = match &self.log_file {
            Some(path) => Stdio::from(std::fs::OpenOptions::new().create(true).append(true).open(path)?),
            None => Stdio::inherit(),
        };
        let mut child = self.command().arg("serve").stdout(Stdio::piped()).stderr(stderr).spawn()?;
        let stdout = child.stdout.take().context("no stdout")?;
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(rest) = line.strip_prefix("deskward listening on https://") {
                    let _ = tx.send(rest.split('/').next().unwrap_or("").to_owned());
                }
            }
        });
        let addr = match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(addr) => addr,
            Err(_) => {
                let _ = child.kill();
                let status = child.wait()?;
                bail!("server did not start: {status}");
            }
        };
        self.addr = addr.parse()?;
        self.base = format!("https://{addr}");
        self.child = Some(child);
        Ok(())
    }

    /// Stops the server as `kill -9` would and starts it again on the same data and port 0.
    pub fn restart(&mut self) -> anyhow::Result<()> {
        self.kill();
        self.spawn()
    }

    /// Restarts with some environment variables changed (for example stronger hash parameters).
    pub fn restart_with(&mut self, env: &[(&str, &str)]) -> anyhow::Result<()> {
        for (k, v) in env {
            self.env.retain(|(key, _)| key != k);
            self.env.push(((*k).to_owned(), (*v).to_owned()));
        }
        self.restart()
    }

    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Everything the server logged so far, across restarts (with [`ServerOptions::keep_log`]).
    pub fn log(&self) -> String {
        self.log_file.as_ref().and_then(|p| std::fs::read(p).ok()).map(|b| String::from_utf8_lossy(&b).into_owned()).unwrap_or_default()
    }

    /// Starts a CLI command without waiting for it, its standard output piped.
    pub fn cli_spawn(&self, args: &[&str]) -> Child {
        let mut cmd = self.command();
        cmd.args(args).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
        match cmd.spawn() {
            Ok(c) => c,
            Err(e) => panic!("cannot run deskward {args:?}: {e}"),
        }
    }

    /// Process id of the running server.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Runs a CLI command against the same data directory and database.
    pub fn cli(&self, args: &[&str], stdin: Option<&str>) -> Output {
        let mut cmd = self.command();
        cmd.args(args).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = match cmd.spawn() {
            Ok(c) => c,
            Err(e) => panic!("cannot run deskward {args:?}: {e}"),
        };
        if let Some(mut input) = child.stdin.take() {
            use std::io::Write;
            let _ = input.write_all(stdin.unwrap_or("").as_bytes());
        }
        match child.wait_with_output() {
            Ok(o) => o,
            Err(e) => panic!("deskward {args:?}: {e}"),
        }
    }

    /// Like [`Server::cli`] with extra environment variables.
    pub fn cli_env(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut cmd = self.command();
        cmd.args(args).envs(env.iter().copied()).stdin(Stdio::null());
        match cmd.output() {
            Ok(o) => o,
            Err(e) => panic!("deskward {args:?}: {e}"),
        }
    }

    /// Runs a CLI command and panics with its stderr when it fails.
    pub fn cli_ok(&self, args: &[&str], stdin: Option<&str>) -> String {
        let out = self.cli(args, stdin);
        assert!(out.status.success(), "deskward {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// An HTTPS client that trusts only this server's certificate and keeps cookies.
    pub fn client(&self) -> reqwest::Client {
        let pem = match std::fs::read(self.data_dir.join("tls/cert.pem")) {
            Ok(p) => p,
            Err(e) => panic!("server certificate: {e}"),
        };
        let cert = match reqwest::Certificate::from_pem(&pem) {
            Ok(c) => c,
            Err(e) => panic!("server certificate: {e}"),
        };
        match reqwest::Client::builder()
            .add_root_certificate(cert)
            .tls_built_in_root_certs(false)
            .cookie_store(true)
            .timeout(Duration::from_secs(60))
            .build()
        {
            Ok(c) => c,
            Err(e) => panic!("client: {e}"),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Resident memory of the server process in KiB (Linux).
    pub fn rss_kib(&self) -> Option<u64> {
        rss_of(self.pid()?)
    }

    /// Samples the server's resident memory every 5 ms until the sampler is stopped.
    pub fn sample_peak_memory(&self) -> PeakMemory {
        let (peak, running) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicBool::new(true)));
        let pid = self.pid();
        let thread = {
            let (peak, running) = (peak.clone(), running.clone());
            std::thread::spawn(move || {
                while running.load(Ordering::Relaxed) {
                    if let Some(kib) = pid.and_then(rss_of) {
                        peak.fetch_max(kib, Ordering::Relaxed);
                    }
                    std::thread::sleep(Duration::from_millis(5));
                }
            })
        };
        PeakMemory { peak, running, thread: Some(thread) }
    }

    /// Waits until `f` holds or `limit` passes.
    pub fn wait_until(limit: Duration, mut f: impl FnMut() -> bool) -> bool {
        let start = Instant::now();
        while start.elapsed() < limit {
            if f() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Resident memory of process `pid` in KiB (Linux).
fn rss_of(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// A running sample of a server's peak resident memory.
pub struct PeakMemory {
    peak: Arc<AtomicU64>,
    running: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl PeakMemory {
    /// Stops sampling; the highest resident memory seen, in KiB.
    pub fn stop(mut self) -> u64 {
        self.running.store(false, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        self.peak.load(Ordering::Relaxed)
    }
}
