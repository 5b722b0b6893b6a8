//! Loads the settings for a command: the file named by `--config` / `DESKWARD_CONFIG`, then the
//! environment, then `--data-dir` / `DESKWARD_DATA_DIR`; and opens the store they name.

use std::path::{Path, PathBuf};

use anyhow::{Context, anyhow};
use deskward_app::{App, Secrets, EventLimit, EventQueue, Guard, GuardRules, Hasher, HasherLimits, Lifetimes, NetworkRules, NotifyRules, SessionRules};
use deskward_config::Settings;
use deskward_core::password::HashParams;
use deskward_store::{OpenOptions, Store};

use crate::cli::Global;
use crate::data_dir;
use crate::key_file::KeyFileDir;

pub fn load(global: &Global) -> anyhow::Result<Settings> {
    let mut settings = deskward_config::load(global.config.as_deref(), utf8_env())
        .map_err(|errors| anyhow!("configuration is invalid:\n{errors}"))?;
    if let Some(dir) = &global.data_dir {
        settings.server.data_dir = dir.clone();
    }
    Ok(settings)
}

/// The process environment; a variable that is not UTF-8 cannot be a setting and is skipped
/// (`std::env::vars` would panic on it).
fn utf8_env() -> impl Iterator<Item = (String, String)> {
    std::env::vars_os().filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
}

/// The database URL: the configured one, or an SQLite file in the data directory.
pub fn database_url(settings: &Settings, data_dir: &Path) -> String {
    match &settings.database.url {
        Some(url) => url.clone(),
        None => {
            let file: PathBuf = data_dir.join("deskward.db");
            // sqlx percent-decodes the path and splits at '?' and '#'.
            let path = file.to_string_lossy().replace('%', "%25").replace('?', "%3F").replace('#', "%23");
            format!("sqlite://{path}?mode=rwc")
        }
    }
}

/// Prepares the data directory, opens the store and builds the application.
pub async fn open_app(settings: &Settings) -> anyhow::Result<(App, PathBuf)> {
    let dir = data_dir::prepare(&settings.server.data_dir)?;
    let url = database_url(settings, &dir);
    let options = OpenOptions {
        max_connections: settings.database.max_connections,
        connect_timeout: settings.database.connect_timeout,
    };
    let store = Store::open(&url, &options).await.context("database.url")?;
    let p = &settings.password_hash;
    let params = HashParams { memory_kib: p.memory_kib, iterations: p.iterations, parallelism: p.parallelism };
    let limits = HasherLimits { max_in_flight: p.max_in_flight, max_queued: p.max_queued };
    let hasher = Hasher::new(params, limits).map_err(|e| anyhow!("password_hash: {e}"))?;
    let mut app = App::new(store, hasher);
    app.guard = std::sync::Arc::new(Guard::new(guard_rules(&settings.guard)));
    if settings.dns.enabled {
        let d = &settings.dns;
        match deskward_app::HostNames::new(&d.servers, d.timeout, d.cache_ttl) {
            Ok(names) => app.host_names = names,
            // Host names are a convenience: without a resolver the server still works.
            Err(e) => tracing::warn!(error = %e, "host names of clients will not be resolved"),
        }
    }
    let t = &settings.session;
    app.sessions = SessionRules {
        users: Lifetimes { idle: seconds(t.idle_timeout), absolute: seconds(t.absolute_timeout) },
        staff: Lifetimes { idle: seconds(t.staff_idle_timeout), absolute: seconds(t.staff_absolute_timeout) },
        remember_me: t.remember_me,
        remember_me_timeout: seconds(t.remember_me_timeout),
        ..SessionRules::default()
    };
    app.networks = std::sync::Arc::new(NetworkRules {
        admins: settings.http.admin_networks.clone(),
        agents: settings.http.agent_networks.clone(),
    });
    let n = &settings.notify;
    let public_url = match settings.http.public_url.trim_end_matches('/') {
        "" => format!("https://{}", settings.http.listen),
        url if url.starts_with("https://") && !url.contains(char::is_whitespace) => url.to_owned(),
        url => anyhow::bail!("http.public_url {url:?} must start with https:// (links in mail must not lead to a page without TLS)"),
    };
    app.notify = std::sync::Arc::new(NotifyRules {
        mail: !settings.mail.relay.is_empty(),
        login_success: n.login_success.clone(),
        login_failure: n.login_failure.clone(),
        bans: n.bans,
        interval: seconds(n.interval),
        public_url,
    });
    app.addresses = deskward_app::AddressRules {
        link_timeout: seconds(settings.guard.address_link_timeout),
        trust_time: seconds(settings.guard.address_trust_time),
    };
    let key_file = settings.server.key_file.clone().unwrap_or_else(|| dir.join("encryption-key.bin"));
    app.secrets = Secrets::new(std::sync::Arc::new(KeyFileDir::new(key_file)));
    let events = EventLimit::new(settings.audit.events_per_window, settings.audit.event_window);
    app.events = std::sync::Arc::new(EventQueue::new(events));
    if let Some(keytab) = &settings.kerberos.keytab {
        app.kerberos = Some(std::sync::Arc::new(kerberos(keytab, &settings.kerberos)?));
    }
    let documents = settings.documents.dir.clone().unwrap_or_else(|| dir.join("documents"));
    let blobs = deskward_app::blobs::Blobs::open(&documents, settings.documents.upload_idle_timeout)
        .with_context(|| format!("documents.dir {}", documents.display()))?;
    app.blobs = Some(blobs);
    app.max_document_bytes = settings.documents.max_size;
    if let Some(dir) = &settings.plugins.dir {
        app.plugins = std::sync::Arc::new(deskward_app::Plugins::new(crate::plugins::load(dir)?));
    }
    if let Some(offset) = std::env::var("DESKWARD_TEST_CLOCK_OFFSET").ok().and_then(|v| v.parse::<i64>().ok()) {
        tracing::warn!(seconds = offset, "DESKWARD_TEST_CLOCK_OFFSET moves this process's clock; for tests only");
        app.clock = std::sync::Arc::new(deskward_app::ShiftedClock(offset));
    }
    Ok((app, dir))
}

/// Checks the keytab (a file only the server may read) and the realm map.
fn kerberos(keytab: &Path, k: &deskward_config::KerberosSettings) -> anyhow::Result<deskward_app::kerberos::Kerberos> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(keytab).with_context(|| format!("kerberos.keytab {}", keytab.display()))?;
    if !meta.is_file() {
        anyhow::bail!("kerberos.keytab {}: not a file", keytab.display());
    }
    if meta.permissions().mode() & 0o004 != 0 {
        anyhow::bail!("kerberos.keytab {}: anyone may read the service key; chmod o-r it", keytab.display());
    }
    deskward_app::kerberos::Kerberos::new(&k.service, &k.realms).map_err(|e| anyhow!("kerberos.realms: {e}"))
}

/// A duration in whole seconds, rounded up so "500ms" is not zero.
fn seconds(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_millis().div_ceil(1000)).unwrap_or(i64::MAX)
}

fn guard_rules(g: &deskward_config::GuardSettings) -> GuardRules {
    let secs = seconds;
    GuardRules {
        enabled: g.enabled,
        max_failures: g.max_failures,
        find_time: secs(g.find_time),
        ban_time: secs(g.ban_time),
        ban_time_max: secs(g.ban_time_max),
        ignore: g.ignore_networks.clone(),
        user_account_failures: g.user_account_failures,
        staff_account_failures: g.staff_account_failures,
        account_delay: secs(g.account_delay),
        account_delay_max: secs(g.account_delay_max),
        max_tracked: usize::try_from(g.max_tracked).unwrap_or(usize::MAX),
    }
}
