//! Loading: file then environment, then checks across keys; collects every error before failing.

use std::path::{Path, PathBuf};

use crate::errors::{ConfigError, ConfigErrors, Origin, tidy};
use crate::schema::{KeyDoc, Raw};
use crate::settings::Settings;
use crate::{env, file};

/// A configuration file's text, with the path it came from (used only in messages).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    pub path: Option<PathBuf>,
    pub text: String,
}

impl Source {
    /// Reads `path`; the only I/O this crate does.
    pub fn read(path: &Path) -> Result<Source, ConfigError> {
        std::fs::read_to_string(path)
            .map(|text| Source {
                path: Some(path.to_owned()),
                text,
            })
            .map_err(|e| io_error(path, &e))
    }

    /// Parses the text and applies the environment overrides.
    pub fn parse(
        &self,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Settings, ConfigErrors> {
        let path = self.path.as_deref().unwrap_or(Path::new("<config>"));
        parse(path, &self.text, env)
    }
}

/// Reads the file (if any) then applies environment overrides from `env` (pass the process
/// environment; tests pass their own).
pub fn load(
    file: Option<&Path>,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<Settings, ConfigErrors> {
    let mut b = Builder::new();
    if let Some(path) = file {
        match Source::read(path) {
            Ok(source) => file::read(&mut b, path, &source.text),
            // Still read the environment, so its mistakes are reported in the same run.
            Err(e) => b.errors.push(e),
        }
    }
    env::read(&mut b, env);
    b.finish()
}

/// Same as [`load`] from text already read (`path` is used only in messages).
pub fn parse(
    path: &Path,
    text: &str,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<Settings, ConfigErrors> {
    let mut b = Builder::new();
    file::read(&mut b, path, text);
    env::read(&mut b, env);
    b.finish()
}

fn io_error(path: &Path, e: &std::io::Error) -> ConfigError {
    let reason = tidy(&e.to_string());
    ConfigError {
        origin: Origin::Io {
            path: path.to_owned(),
        },
        key: String::new(),
        message: format!("cannot read config file: {reason}"),
    }
}

/// Settings being built, with where each key was last set and every error so far.
pub(crate) struct Builder {
    settings: Settings,
    set_at: Vec<(&'static str, Origin)>,
    failed: Vec<&'static str>,
    errors: Vec<ConfigError>,
}

impl Builder {
    fn new() -> Self {
        Builder {
            settings: Settings::default(),
            set_at: Vec::new(),
            failed: Vec::new(),
            errors: Vec::new(),
        }
    }

    pub(crate) fn set(&mut self, doc: &'static KeyDoc, raw: Raw<'_>, origin: Origin) {
        match doc.rule.apply(&mut self.settings, raw) {
            Ok(()) => {
                self.set_at.retain(|(k, _)| *k != doc.key);
                self.set_at.push((doc.key, origin));
            }
            Err(message) => {
                self.failed.push(doc.key);
                self.error(origin, doc.key, message);
            }
        }
    }

    pub(crate) fn error(
        &mut self,
        origin: Origin,
        key: impl Into<String>,
        message: impl Into<String>,
    ) {
        self.errors.push(ConfigError {
            origin,
            key: key.into(),
            message: message.into(),
        });
    }

    fn finish(mut self) -> Result<Settings, ConfigErrors> {
        self.check_tls_pair();
        self.check_argon2_memory();
        let g = &self.settings.guard;
        let (ban, ban_max, delay, delay_max) = (g.ban_time, g.ban_time_max, g.account_delay, g.account_delay_max);
        self.check_at_most("guard.ban_time", ban, "guard.ban_time_max", ban_max);
        self.check_at_most("guard.account_delay", delay, "guard.account_delay_max", delay_max);
        let t = &self.settings.session;
        let (idle, absolute, staff_idle, staff_absolute) = (t.idle_timeout, t.absolute_timeout, t.staff_idle_timeout, t.staff_absolute_timeout);
        self.check_at_most("session.idle_timeout", idle, "session.absolute_timeout", absolute);
        self.check_at_most("session.staff_idle_timeout", staff_idle, "session.staff_absolute_timeout", staff_absolute);
        if self.errors.is_empty() {
            Ok(self.settings)
        } else {
            Err(ConfigErrors(self.errors))
        }
    }

    /// A certificate without its key (or the reverse) cannot serve TLS; a key whose value was
    /// already rejected is not reported twice.
    fn check_tls_pair(&mut self) {
        const CERT: &str = "http.tls_cert";
        const KEY: &str = "http.tls_key";
        if self.failed.iter().any(|k| *k == CERT || *k == KEY) {
            return;
        }
        let (set, unset) = match (&self.settings.http.tls_cert, &self.settings.http.tls_key) {
            (Some(_), None) => (CERT, KEY),
            (None, Some(_)) => (KEY, CERT),
            _ => return,
        };
        let origin = self.origin_of(set);
        self.error(
            origin,
            set,
            format!("{set} is set but {unset} is not; set both or neither"),
        );
    }

    /// A starting value above its ceiling is a contradiction; report it at the starting value.
    fn check_at_most(&mut self, low: &'static str, low_v: std::time::Duration, high: &'static str, high_v: std::time::Duration) {
        if low_v <= high_v || self.failed.iter().any(|k| *k == low || *k == high) {
            return;
        }
        let key = if self.set_at.iter().any(|(k, _)| *k == low) { low } else { high };
        let origin = self.origin_of(key);
        let (a, b) = (humantime::format_duration(low_v), humantime::format_duration(high_v));
        self.error(origin, key, format!("{low} = {a} is longer than {high} = {b}; it must not be"));
    }

    /// Argon2 needs at least 8 KiB per lane; without this check the first login would fail.
    fn check_argon2_memory(&mut self) {
        const MEMORY: &str = "password_hash.memory_kib";
        const LANES: &str = "password_hash.parallelism";
        if self.failed.iter().any(|k| *k == MEMORY || *k == LANES) {
            return;
        }
        let p = &self.settings.password_hash;
        let (memory, lanes) = (p.memory_kib, p.parallelism);
        if u64::from(memory) >= 8 * u64::from(lanes) {
            return;
        }
        // Point at whichever of the two was set explicitly, preferring the memory.
        let key = if self.set_at.iter().any(|(k, _)| *k == MEMORY) {
            MEMORY
        } else {
            LANES
        };
        let origin = self.origin_of(key);
        self.error(
            origin,
            key,
            format!(
                "argon2 needs 8 KiB per lane: {MEMORY} = {memory} with {LANES} = {lanes} must be at least {}",
                8 * u64::from(lanes)
            ),
        );
    }

    /// Where `key` was last set; only asked about keys that differ from their default, so a
    /// setting place exists, but the variable name is a harmless fallback.
    fn origin_of(&self, key: &'static str) -> Origin {
        self.set_at
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, o)| o.clone())
            .unwrap_or_else(|| Origin::Env {
                var: crate::schema::find(key)
                    .map(KeyDoc::env_var)
                    .unwrap_or_default(),
            })
    }
}
