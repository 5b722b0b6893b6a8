//! `deskward plugin …`: checks the configured authentication plugins, and the two plugins
//! Deskward ships (docs/plugins.md): a text file of users and a database table of users.
//! The shipped plugins speak the plugin protocol on stdin/stdout and read no configuration.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use anyhow::anyhow;
use clap::Subcommand;
use deskward_app::App;
use deskward_core::password::{HashParams, Verification, hash::Block, hash::verify};
use deskward_proto::plugin::{Outcome, User, serve};
use sqlx::Row;

/// The environment variable the SQL plugin reads its database URL from: a URL in the
/// arguments would be readable by every local user in the process list.
const SQL_URL: &str = "DESKWARD_SQL_URL";

#[derive(Subcommand, Debug)]
pub enum Cmd {
    /// Start each configured plugin, check its hello, and list it
    Check,
    /// The text-file plugin: FILE holds `login:hash[:mail]` lines (bcrypt, argon2id or SHA-crypt hashes; `!` before a hash disables the user)
    Htpasswd { file: PathBuf },
    /// The database plugin: QUERY selects password_hash (and optionally id, mail, disabled) with $1 = user and $2 = domain, from the database at $DESKWARD_SQL_URL
    Sql {
        #[arg(long)]
        query: String,
    },
}

/// The shipped plugins, which need no settings.
pub async fn run_shipped(cmd: Cmd) -> anyhow::Result<()> {
    match cmd {
        Cmd::Htpasswd { file } => tokio::task::spawn_blocking(move || htpasswd(&file)).await?,
        Cmd::Sql { query } => sql(query).await,
        Cmd::Check => Err(anyhow!("not a shipped plugin")),
    }
}

pub async fn run(app: &App, cmd: Cmd) -> anyhow::Result<()> {
    let Cmd::Check = cmd else { return run_shipped(cmd).await };
    let names = app.plugins.names();
    if names.is_empty() {
        println!("no plugins are configured (plugins.dir)");
        return Ok(());
    }
    let mut broken = 0;
    for name in names {
        let Some(plugin) = app.plugins.get(&name) else { continue };
        let spec = plugin.spec();
        match plugin.check().await {
            Ok(()) => println!("{name}: ok ({}; timeout {:?}, {} at once)", spec.command.display(), spec.timeout, spec.concurrency),
            Err(e) => {
                broken += 1;
                println!("{name}: FAILED: {e}");
            }
        }
    }
    match broken {
        0 => Ok(()),
        n => Err(anyhow!("{n} plugin(s) do not start")),
    }
}

/// The outcome for a user found with `stored` (a hash, `!` first when disabled).
fn verdict(id: &str, stored: &str, disabled: bool, mail: Option<String>, password: &str, memory: &mut Vec<Block>) -> Outcome {
    let (stored, disabled) = match stored.strip_prefix('!') {
        Some(s) => (s, true),
        None => (stored, disabled),
    };
    // Re-hashing is the back end's business; the parameters only tell when it is due.
    match verify(password, stored, HashParams::OWASP, memory) {
        Ok(Verification::Mismatch) => Outcome::Rejected,
        Ok(Verification::Match { .. }) if disabled => Outcome::Disabled,
        Ok(Verification::Match { .. }) => Outcome::Accepted { user: User { id: id.to_owned(), mail, name: None } },
        Err(e) => Outcome::Error { message: format!("the password hash of {id} cannot be read: {e}") },
    }
}

/// The users of an htpasswd-style file, read again whenever it changes.
#[derive(Default)]
struct UserFile {
    stamp: Option<(SystemTime, u64)>,
    /// (login as written, hash, mail).
    users: Vec<(String, String, Option<String>)>,
}

impl UserFile {
    fn refresh(&mut self, path: &Path) -> Result<(), String> {
        let meta = std::fs::metadata(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let stamp = (meta.modified().map_err(|e| e.to_string())?, meta.len());
        if self.stamp == Some(stamp) {
            return Ok(());
        }
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let mut users = Vec::new();
        for line in text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')) {
            let mut fields = line.splitn(3, ':');
            let (Some(login), Some(hash)) = (fields.next(), fields.next()) else { continue };
            let mail = fields.next().map(str::trim).filter(|m| !m.is_empty()).map(str::to_owned);
            users.push((login.trim().to_owned(), hash.trim().to_owned(), mail));
        }
        *self = UserFile { stamp: Some(stamp), users };
        Ok(())
    }

    /// `user@domain` first, then a bare `user`, which stands in every domain.
    fn find(&self, domain: &str, user: &str) -> Option<&(String, String, Option<String>)> {
        let full = format!("{user}@{domain}");
        self.users.iter().find(|u| u.0 == full).or_else(|| self.users.iter().find(|u| u.0 == user))
    }
}

fn htpasswd(path: &Path) -> anyhow::Result<()> {
    let mut file = UserFile::default();
    let mut memory = Vec::new();
    serve(|domain, user, password| {
        if let Err(e) = file.refresh(path) {
            return Outcome::Error { message: e };
        }
        match file.find(domain, user) {
            None => Outcome::Unknown,
            Some((id, hash, mail)) => verdict(id, hash, false, mail.clone(), password, &mut memory),
        }
    })?;
    Ok(())
}

async fn sql(query: String) -> anyhow::Result<()> {
    let url = std::env::var(SQL_URL).map_err(|_| anyhow!("set {SQL_URL} to the database's URL in the plugin's env"))?;
    sqlx::any::install_default_drivers();
    let pool = sqlx::any::AnyPoolOptions::new()
        .max_connections(2)
        .acquire_timeout(std::time::Duration::from_secs(3))
        .connect_lazy(&url)
        .map_err(|e| anyhow!("{SQL_URL}: {e}"))?;
    let runtime = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || {
        let mut memory = Vec::new();
        serve(|domain, user, password| {
            // The administrator's own query; the login's parts are bound as parameters only.
            let row = runtime.block_on(sqlx::query(sqlx::AssertSqlSafe(query.as_str())).bind(user).bind(domain).fetch_all(&pool));
            let rows = match row {
                Ok(rows) => rows,
                Err(e) => return Outcome::Error { message: format!("the query failed: {e}") },
            };
            let row = match rows.as_slice() {
                [] => return Outcome::Unknown,
                [row] => row,
                _ => return Outcome::Error { message: format!("the query found {} rows for {user}@{domain}; it must find at most one", rows.len()) },
            };
            let text = |c: &str| row.try_get::<Option<String>, _>(c).ok().flatten();
            let Some(hash) = text("password_hash") else { return Outcome::Rejected };
            let disabled = row.try_get::<bool, _>("disabled").or_else(|_| row.try_get::<i64, _>("disabled").map(|d| d != 0)).unwrap_or(false);
            let id = text("id").or_else(|| row.try_get::<i64, _>("id").ok().map(|i| i.to_string())).unwrap_or_else(|| format!("{user}@{domain}"));
            verdict(&id, &hash, disabled, text("mail"), password, &mut memory)
        })
    })
    .await??;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_files_find_domain_entries_first() {
        let dir = std::env::temp_dir().join(format!("deskward-htpasswd-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("users");
        let hash = bcrypt::hash("right-pw", 4).unwrap();
        std::fs::write(&path, format!("# users\nalice:{hash}\nalice@b.example:!{hash}:a@b.example\nbroken\n")).unwrap();
        let mut f = UserFile::default();
        f.refresh(&path).unwrap();
        let mut memory = Vec::new();
        let (id, h, mail) = f.find("a.example", "alice").unwrap().clone();
        assert_eq!(id, "alice");
        assert!(matches!(verdict(&id, &h, false, mail, "right-pw", &mut memory), Outcome::Accepted { .. }));
        let (id, h, mail) = f.find("b.example", "alice").unwrap().clone();
        assert_eq!((id.as_str(), mail.as_deref()), ("alice@b.example", Some("a@b.example")));
        assert_eq!(verdict(&id, &h, false, mail.clone(), "right-pw", &mut memory), Outcome::Disabled);
        assert_eq!(verdict(&id, &h, false, mail, "wrong-pw", &mut memory), Outcome::Rejected);
        assert!(f.find("a.example", "broken").is_none() && f.find("a.example", "bob").is_none());
        assert!(matches!(verdict("x", "plain", false, None, "p", &mut memory), Outcome::Error { .. }));
        std::fs::remove_dir_all(dir).unwrap();
    }
}
