//! Authentication plugins (A3): executables named in the server's configuration, started on
//! first use and spoken to over stdin/stdout with the JSON-lines protocol of
//! `deskward_proto::plugin` (docs/plugins.md).
//!
//! Each plugin has a timeout (a request unanswered by then fails closed) and a concurrency
//! limit (requests in flight at once; the others wait within their timeout). A plugin that
//! exits, writes a line that is not a reply, or answers nothing at all while a request times
//! out is stopped; the next request starts it again. Start failures back off, up to 30 s, so
//! a broken plugin is not restarted at every login. Answers that come after their request
//! timed out are ignored: ids are never reused.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use deskward_core::audit::clean_field;
use deskward_proto::plugin::{Hello, MAX_LINE, Outcome, Reply, Request, VERSIONS};
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};
use tokio::sync::{Semaphore, oneshot};
use tokio::time::{Instant, timeout_at};
use zeroize::Zeroizing;

pub use deskward_proto::plugin::{Outcome as PluginOutcome, User as PluginUser};

/// The search path a plugin gets unless its definition sets `PATH`: the server's own
/// environment (database URL, …) is never passed on.
const PATH: &str = "/usr/local/bin:/usr/bin:/bin";

/// The longest wait between start attempts of a plugin that keeps failing to start.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// A plugin as the configuration defines it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginSpec {
    /// `[a-z0-9-]`, as back-end orders name it (`plugin:<name>`).
    pub name: String,
    /// An absolute path.
    pub command: PathBuf,
    pub args: Vec<String>,
    /// The plugin's whole environment, with `PATH` added when absent.
    pub env: Vec<(String, String)>,
    pub timeout: Duration,
    pub concurrency: usize,
}

/// The configured plugins, by name.
#[derive(Debug, Default)]
pub struct Plugins {
    by_name: HashMap<String, Arc<Plugin>>,
}

impl Plugins {
    pub fn new(specs: Vec<PluginSpec>) -> Plugins {
        Plugins { by_name: specs.into_iter().map(|s| (s.name.clone(), Arc::new(Plugin::new(s)))).collect() }
    }

    pub fn get(&self, name: &str) -> Option<&Arc<Plugin>> {
        self.by_name.get(name)
    }

    /// Names, sorted.
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.by_name.keys().cloned().collect();
        names.sort();
        names
    }
}

/// Whether a plugin name is well formed.
pub fn valid_name(name: &str) -> bool {
    (1..=32).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

#[derive(Debug)]
pub struct Plugin {
    spec: PluginSpec,
    slots: Semaphore,
    next_id: AtomicU64,
    running: tokio::sync::Mutex<Option<Arc<Process>>>,
    /// (start failures in a row, no start before).
    backoff: Mutex<(u32, Option<Instant>)>,
}

/// A running plugin process.
#[derive(Debug)]
struct Process {
    name: String,
    stdin: tokio::sync::Mutex<ChildStdin>,
    child: Mutex<Option<Child>>,
    pending: Mutex<HashMap<u64, oneshot::Sender<Outcome>>>,
    /// Replies read so far: a timed-out request with none since it was sent means a hung plugin.
    replies: AtomicU64,
    alive: AtomicBool,
}

impl Process {
    /// Stops the process; its pending requests fail at once.
    fn stop(&self, why: &str) {
        if self.alive.swap(false, Ordering::SeqCst) {
            tracing::warn!(plugin = %self.name, "authentication plugin stopped: {why}");
        }
        if let Ok(mut child) = self.child.lock()
            && let Some(mut c) = child.take()
        {
            let _ = c.start_kill();
            // tokio reaps a dropped child in the background.
        }
        if let Ok(mut pending) = self.pending.lock() {
            pending.clear();
        }
    }
}

impl Plugin {
    fn new(spec: PluginSpec) -> Plugin {
        Plugin {
            slots: Semaphore::new(spec.concurrency.max(1)),
            spec,
            next_id: AtomicU64::new(1),
            running: tokio::sync::Mutex::new(None),
            backoff: Mutex::new((0, None)),
        }
    }

    pub fn spec(&self) -> &PluginSpec {
        &self.spec
    }

    /// Starts the plugin if it is not running and checks its hello.
    pub async fn check(&self) -> Result<(), String> {
        self.process(Instant::now() + self.spec.timeout).await.map(|_| ())
    }

    /// Asks the plugin whether `password` is right for `user` of `domain`. `Err` says why
    /// the plugin could not answer (timeout, crash, garbage); the caller fails the login
    /// closed, as it does for the plugin's own `error` outcome.
    pub async fn authenticate(&self, domain: &str, user: &str, password: &str) -> Result<Outcome, String> {
        let timeout = self.spec.timeout;
        let deadline = Instant::now() + timeout;
        let Ok(Ok(_slot)) = timeout_at(deadline, self.slots.acquire()).await else {
            return Err(format!("all {} request slots stayed busy for {timeout:?}", self.spec.concurrency));
        };
        let process = self.process(deadline).await?;
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        process.pending.lock().map_err(|_| "plugin state poisoned".to_owned())?.insert(id, tx);
        let request = Request::Authenticate { id, domain: domain.to_owned(), user: user.to_owned(), password: password.to_owned() };
        let line = Zeroizing::new(serde_json::to_vec(&request).map_err(|e| e.to_string())?);
        drop(request);
        let replies_before = process.replies.load(Ordering::SeqCst);
        let sent = timeout_at(deadline, async {
            let mut stdin = process.stdin.lock().await;
            stdin.write_all(&line).await?;
            stdin.write_all(b"\n").await?;
            stdin.flush().await
        })
        .await;
        match sent {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                process.stop(&format!("cannot write to it: {e}"));
                return Err(format!("cannot write to the plugin: {e}"));
            }
            Err(_) => {
                process.stop("it reads no more requests");
                return Err(format!("the plugin took no request for {timeout:?}"));
            }
        }
        match timeout_at(deadline, rx).await {
            Ok(Ok(outcome)) => Ok(outcome),
            Ok(Err(_)) => Err("the plugin stopped before answering".into()),
            Err(_) => {
                if let Ok(mut pending) = process.pending.lock() {
                    pending.remove(&id);
                }
                if process.replies.load(Ordering::SeqCst) == replies_before {
                    process.stop(&format!("no answer at all for {timeout:?}"));
                }
                Err(format!("no answer within {timeout:?}"))
            }
        }
    }

    /// The running process, started (with its hello) when there is none.
    async fn process(&self, deadline: Instant) -> Result<Arc<Process>, String> {
        let Ok(mut running) = timeout_at(deadline, self.running.lock()).await else {
            return Err("the plugin is still starting".into());
        };
        if let Some(p) = running.as_ref().filter(|p| p.alive.load(Ordering::SeqCst)) {
            return Ok(p.clone());
        }
        *running = None;
        let now = Instant::now();
        {
            let backoff = self.backoff.lock().map_err(|_| "plugin state poisoned".to_owned())?;
            if let Some(until) = backoff.1.filter(|u| *u > now) {
                return Err(format!("the plugin failed to start; next try in {:?}", until - now));
            }
        }
        match timeout_at(deadline, self.start()).await.unwrap_or_else(|_| Err("no hello before the timeout".into())) {
            Ok(p) => {
                *self.backoff.lock().map_err(|_| "plugin state poisoned".to_owned())? = (0, None);
                *running = Some(p.clone());
                Ok(p)
            }
            Err(e) => {
                let mut backoff = self.backoff.lock().map_err(|_| "plugin state poisoned".to_owned())?;
                let wait = Duration::from_millis(500).saturating_mul(1 << backoff.0.min(6)).min(MAX_BACKOFF);
                *backoff = (backoff.0 + 1, Some(Instant::now() + wait));
                tracing::warn!(plugin = %self.spec.name, error = %e, "authentication plugin cannot start");
                Err(format!("the plugin cannot start: {e}"))
            }
        }
    }

    async fn start(&self) -> Result<Arc<Process>, String> {
        let s = &self.spec;
        let mut command = Command::new(&s.command);
        command.args(&s.args).env_clear().envs(s.env.iter().map(|(k, v)| (k, v)));
        if !s.env.iter().any(|(k, _)| k == "PATH") {
            command.env("PATH", PATH);
        }
        command.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).kill_on_drop(true);
        let mut child = command.spawn().map_err(|e| format!("{}: {e}", s.command.display()))?;
        let (Some(mut stdin), Some(stdout), Some(stderr)) = (child.stdin.take(), child.stdout.take(), child.stderr.take()) else {
            return Err("no pipes to the plugin".into());
        };
        tokio::spawn(log_stderr(s.name.clone(), BufReader::new(stderr)));
        let hello = serde_json::to_string(&Hello { versions: VERSIONS.to_vec(), version: None }).map_err(|e| e.to_string())?;
        stdin.write_all(format!("{hello}\n").as_bytes()).await.map_err(|e| format!("cannot write the hello: {e}"))?;
        stdin.flush().await.map_err(|e| format!("cannot write the hello: {e}"))?;
        let mut stdout = BufReader::new(stdout);
        let mut line = Vec::new();
        match read_line(&mut stdout, &mut line).await {
            Ok(true) => {}
            Ok(false) => return Err("it exited before its hello".into()),
            Err(e) => return Err(format!("cannot read its hello: {e}")),
        }
        let version = serde_json::from_slice::<Hello>(&line).ok().and_then(|h| h.version);
        if !version.is_some_and(|v| VERSIONS.contains(&v)) {
            return Err(format!("its first line is not a hello choosing one of the versions {VERSIONS:?}"));
        }
        let process = Arc::new(Process {
            name: s.name.clone(),
            stdin: tokio::sync::Mutex::new(stdin),
            child: Mutex::new(Some(child)),
            pending: Mutex::default(),
            replies: AtomicU64::new(0),
            alive: AtomicBool::new(true),
        });
        tracing::info!(plugin = %s.name, command = %s.command.display(), "authentication plugin started");
        tokio::spawn(read_replies(process.clone(), stdout));
        Ok(process)
    }
}

/// Routes each reply to its request until the process ends or says something unreadable.
async fn read_replies<R: AsyncBufRead + Unpin>(process: Arc<Process>, mut stdout: R) {
    let mut line = Vec::new();
    let why = loop {
        match read_line(&mut stdout, &mut line).await {
            Ok(true) => {}
            Ok(false) => break "it exited".to_owned(),
            Err(e) => break e.to_string(),
        }
        // The content is not logged: a broken plugin might echo a password.
        let Ok(reply) = serde_json::from_slice::<Reply>(&line) else {
            break format!("it wrote a line of {} bytes that is not a reply", line.len());
        };
        process.replies.fetch_add(1, Ordering::SeqCst);
        let waiting = process.pending.lock().ok().and_then(|mut p| p.remove(&reply.id));
        match waiting {
            Some(tx) => {
                let _ = tx.send(reply.outcome);
            }
            None => tracing::warn!(plugin = %process.name, id = reply.id, "ignored a plugin's answer to a request that timed out or was never sent"),
        }
    };
    process.stop(&why);
}

/// The plugin's stderr goes to the server's log, line by line, bounded and cleaned.
async fn log_stderr<R: AsyncBufRead + Unpin>(name: String, mut stderr: R) {
    let mut line = Vec::new();
    while let Ok(true) = read_line(&mut stderr, &mut line).await {
        let text = String::from_utf8_lossy(&line);
        let text: String = clean_field(text.trim_end()).chars().take(1000).collect();
        tracing::warn!(plugin = %name, "plugin says: {text}");
    }
}

/// Reads one line (without its newline) of at most `MAX_LINE` bytes into `line`; `false` at
/// the end of the stream.
async fn read_line<R: AsyncBufRead + Unpin>(reader: &mut R, line: &mut Vec<u8>) -> std::io::Result<bool> {
    line.clear();
    loop {
        let available = reader.fill_buf().await?;
        if available.is_empty() {
            return Ok(false);
        }
        let (take, done) = match available.iter().position(|b| *b == b'\n') {
            Some(i) => (i + 1, true),
            None => (available.len(), false),
        };
        line.extend_from_slice(&available[..take]);
        reader.consume(take);
        if line.len() > MAX_LINE {
            return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, format!("a line longer than {MAX_LINE} bytes")));
        }
        if done {
            line.pop();
            return Ok(true);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn lines_are_bounded() {
        let mut line = Vec::new();
        let mut r = BufReader::new(&b"one\ntwo"[..]);
        assert!(read_line(&mut r, &mut line).await.unwrap());
        assert_eq!(line, b"one");
        assert!(!read_line(&mut r, &mut line).await.unwrap());
        let long = vec![b'x'; MAX_LINE + 10];
        let mut r = BufReader::new(&long[..]);
        assert!(read_line(&mut r, &mut line).await.is_err());
    }

    #[test]
    fn names() {
        assert!(valid_name("htpasswd") && valid_name("sql-2"));
        assert!(!valid_name("") && !valid_name("Up") && !valid_name("a/b") && !valid_name(&"a".repeat(33)));
    }
}
