//! Deskward's persistence. One SQL dialect (the part SQLite and PostgreSQL share) runs on both
//! through sqlx's `Any` driver; this crate holds the migrations and every SQL statement.
//!
//! Reads take a plain connection; writes take a [`Tx`], so every change happens inside a
//! transaction that the caller commits.

/// The groups (id, name) of the account whose id is parameter `$n`, by name.
macro_rules! memberships {
    ($param:literal) => {
        concat!(
            "SELECT g.id, g.name FROM account_groups g JOIN group_members m ON m.group_id = g.id WHERE m.account_id = ",
            $param,
            " ORDER BY g.name"
        )
    };
}

mod accounts;
pub mod allow_lists;
pub mod audit;
pub mod auth_epoch;
pub mod auth_orders;
mod bans;
mod classes;
mod directories;
mod domains;
mod groups;
pub mod items;
mod migrate;
mod notifications;
mod outbox;
pub mod policies;
pub mod secrets;
mod session_rules;
mod sessions;

pub use accounts::{AccountRow, NewAccount};
pub use allow_lists::{AllowListRow, VerificationRow};
pub use bans::BanRow;
pub use audit::{Audit, Entry as AuditEntry, Housekeeping};
pub use classes::ClassRow;
pub use directories::{DirectoryRow, GroupMapRow};
pub use domains::DomainRow;
pub use groups::GroupRow;
pub use items::{ItemKind, ItemRow};
pub use notifications::NotificationRow;
pub use outbox::{NewMail, OutboxRow};
pub use session_rules::SessionRuleRow;
pub use sessions::{Bound, SessionRow};

use std::sync::Arc;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyPool};

pub use sqlx::AnyConnection as Conn;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open database {url}: {source}")]
    Open { url: String, source: sqlx::Error },
    #[error("database migration {version} failed: {source}")]
    Migrate { version: i64, source: sqlx::Error },
    #[error("database was migrated by a newer Deskward (schema {found}, this build knows {known}); upgrade Deskward")]
    TooNew { found: i64, known: i64 },
    #[error("{what} already exists")]
    Conflict { what: String },
    #[error("an in-memory SQLite database cannot be shared by Deskward's connections; give a file")]
    InMemory,
    #[error("database error: {0}")]
    Db(sqlx::Error),
    #[error("stored {what} is corrupt: {detail}")]
    Corrupt { what: &'static str, detail: String },
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> StoreError {
        if connection_lost(&e) {
            lost_connections::noticed();
        }
        StoreError::Db(e)
    }
}

impl StoreError {
    /// The database refuses writes: its disk is full or it is read-only.
    pub fn is_unwritable(&self) -> bool {
        let StoreError::Db(e) = self else { return false };
        let Some(db) = e.as_database_error() else { return false };
        let code = db.code().unwrap_or_default();
        if code.len() == 5 {
            // A PostgreSQL SQLSTATE: read-only transaction, insufficient resources, disk full,
            // out of memory.
            return matches!(code.as_ref(), "25006" | "53000" | "53100" | "53200");
        }
        // SQLite result codes (below 8000; extended codes keep the primary one in the low
        // byte): SQLITE_READONLY 8, SQLITE_IOERR 10, SQLITE_FULL 13.
        code.parse::<i64>().is_ok_and(|n| matches!(n & 0xff, 8 | 10 | 13))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A handle on the database; cheap to clone.
#[derive(Clone, Debug)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    /// The audit chains' heads as this process last committed or read them (`audit.rs`).
    heads: audit::Heads,
    /// SQLite: the connection this process writes through (see [`Writer`]).
    writer: Option<Arc<Writer>>,
    /// How long a writer waits for its turn, as for a pooled connection.
    write_wait: Duration,
    /// Set only by [`Store::benchmark_baseline`].
    unaudited: bool,
}

/// SQLite allows one writer at a time, so this process writes through one connection of its
/// own, outside the pool, and its writers queue for it here. Contending for the write lock
/// inside SQLite instead makes all but one sleep in its busy handler (1 ms, then longer); a
/// queued writer starts the moment the one before ends. Another process (the command line)
/// still meets the busy handler.
///
/// One connection also keeps its page cache: a connection that finds the database changed by
/// another connection since its last transaction drops its cache and reads every page again,
/// and a pooled writer found that on nearly every write. Nor does it pay the pool's check of a
/// connection coming back.
#[derive(Debug)]
struct Writer {
    /// `None` until the first write, and after a failed rollback closed the connection.
    conn: Arc<tokio::sync::Mutex<Option<sqlx::AnyConnection>>>,
    connect: AnyConnectOptions,
}

/// The settings of every SQLite connection.
async fn sqlite_settings(conn: &mut sqlx::AnyConnection) -> sqlx::Result<()> {
    // In WAL mode NORMAL syncs at checkpoints, not at every commit: a committed transaction
    // survives a crash of the process (it is in the OS's cache), and only an OS crash or power
    // loss can take back the last commits. FULL cost a disk flush per login.
    sqlx::raw_sql("PRAGMA synchronous = NORMAL").execute(&mut *conn).await?;
    // Deleted and replaced content is overwritten rather than left in free space, so a secret
    // stored before encryption was on does not linger.
    sqlx::raw_sql("PRAGMA secure_delete = ON").execute(conn).await?;
    Ok(())
}

/// How long a PostgreSQL connection may sit idle before it is checked with a ping when handed out.
const CHECK_IDLE_AFTER: Duration = Duration::from_secs(2);

/// The pool's settings; on PostgreSQL with `prepared`, each new connection prepares the audit
/// append that travels with the COMMIT (`audit.rs`).
fn pool_options(backend: Backend, options: &OpenOptions, prepared: bool) -> AnyPoolOptions {
    let pool = AnyPoolOptions::new()
        .max_connections(options.max_connections)
        .acquire_timeout(options.connect_timeout)
        // sqlx pings every idle connection before handing it out: a round trip on the path
        // of every request, several for a login. A connection to a local file cannot be
        // dropped by a peer; a PostgreSQL connection is checked only after it sat idle
        // long enough for a server restart or a firewall to have ended it. The ping when
        // a connection comes back to the pool, which finds one broken in use, stays. And
        // once one connection is found ended, every connection idle since is checked.
        .test_before_acquire(false);
    match backend {
        Backend::Postgres => {
            let pool = pool.before_acquire(|conn, meta| {
                Box::pin(async move {
                    let check = meta.idle_for >= CHECK_IDLE_AFTER || lost_connections::idle_since_last(meta.idle_for);
                    if check && let Err(e) = sqlx::Connection::ping(conn).await {
                        if connection_lost(&e) {
                            lost_connections::noticed();
                        }
                        return Err(e);
                    }
                    Ok(true)
                })
            });
            if prepared {
                pool.after_connect(|conn, _| Box::pin(async move { sqlx::raw_sql(audit::PREPARE_FOLD).execute(conn).await.map(drop) }))
            } else {
                pool
            }
        }
        Backend::Sqlite => pool.after_connect(|conn, _| Box::pin(sqlite_settings(conn))),
    }
}

/// Options for [`Store::open`].
#[derive(Debug, Clone)]
pub struct OpenOptions {
    pub max_connections: u32,
    pub connect_timeout: Duration,
}

impl Store {
    /// Connects and brings the schema up to date.
    pub async fn open(url: &str, options: &OpenOptions) -> Result<Store> {
        sqlx::any::install_default_drivers();
        let open_err = |source| StoreError::Open { url: redact(url), source };
        let backend = if url.starts_with("sqlite:") { Backend::Sqlite } else { Backend::Postgres };
        if backend == Backend::Sqlite && (url.contains(":memory:") || url.contains("mode=memory")) {
            // Each connection to it would be a database of its own, and the writer is not
            // the readers' connection.
            return Err(StoreError::InMemory);
        }
        let connect: AnyConnectOptions = url.parse().map_err(open_err)?;
        let writer = (backend == Backend::Sqlite).then(|| Arc::new(Writer { conn: Arc::default(), connect: connect.clone() }));
        let pool = pool_options(backend, options, false).connect_with(connect.clone()).await.map_err(open_err)?;
        let store = Store { pool, backend, heads: audit::Heads::default(), writer, write_wait: options.connect_timeout, unaudited: false };
        if backend == Backend::Sqlite {
            // WAL lets readers proceed while one writer commits; the setting persists in the file.
            sqlx::raw_sql("PRAGMA journal_mode = WAL").execute(&store.pool).await.map_err(open_err)?;
        }
        migrate::run(&store).await?;
        if backend == Backend::Postgres {
            // Every connection of the pool that serves the server prepares the audit append
            // (`audit.rs`), which needs the schema the migrations just brought: they ran on a
            // pool of their own.
            store.pool.close().await;
            let pool = pool_options(backend, options, true).connect_with(connect).await.map_err(open_err)?;
            return Ok(Store { pool, ..store });
        }
        Ok(store)
    }

    /// The same database, whose transactions commit without their audit records: only for the
    /// audit benchmark's baseline, the same changes with auditing switched off. Nothing in the
    /// server calls it and no setting reaches it (a test holds every crate but the benchmark to
    /// that).
    #[doc(hidden)]
    pub fn benchmark_baseline(&self) -> Store {
        Store { unaudited: true, ..self.clone() }
    }

    /// How many appends of this process found their chain's head moved (by another process,
    /// or a transaction that failed) and read the real one, the slow path. Concurrent changes
    /// in this process should not need it: the benchmark prints it, and a test checks it.
    pub fn audit_slow_appends(&self) -> u64 {
        self.heads.slow_appends()
    }

    /// How many PostgreSQL appends of this process travelled in one message with their
    /// transaction's COMMIT (`audit.rs`); the benchmark prints it, and tests check the path ran.
    pub fn audit_folded_appends(&self) -> u64 {
        self.heads.folded_appends()
    }

    /// A connection for reads.
    pub async fn conn(&self) -> Result<PoolConnection<Any>> {
        Ok(self.pool.acquire().await?)
    }

    /// Starts a write transaction. On SQLite it takes the write lock at once (`BEGIN IMMEDIATE`)
    /// so two writers wait for each other instead of failing when one upgrades a read.
    pub async fn begin(&self) -> Result<Tx> {
        let begin = match self.backend {
            Backend::Sqlite => "BEGIN IMMEDIATE",
            Backend::Postgres => "BEGIN",
        };
        let mut lost = 0;
        loop {
            // The Tx exists before BEGIN runs, so a BEGIN that fails or is cancelled half-way
            // is rolled back (or its connection closed) by the Tx's drop.
            let conn = self.tx_conn().await?;
            let mut tx = Tx { conn: Some(conn), backend: self.backend, heads: self.heads.clone(), pending: Vec::new(), unaudited: self.unaudited };
            match sqlx::raw_sql(begin).execute(tx.conn()).await {
                Ok(_) => return Ok(tx),
                // A pooled PostgreSQL connection the server ended while it sat in the pool (a
                // restart, an administrator) is closed, and BEGIN goes to another: nothing ran
                // yet. Connections idle for a while are pinged before use, but a restart ends
                // the busy ones too.
                Err(e) if self.backend == Backend::Postgres && connection_lost(&e) && lost < self.pool.options().get_max_connections() => {
                    tracing::info!(error = %e, "the database server closed a pooled connection; the transaction begins on another");
                    lost_connections::noticed();
                    lost += 1;
                    if let Some(c) = tx.conn.take() {
                        c.abandon();
                    }
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// The connection a transaction runs on: the SQLite writer (opened if need be) or a pooled
    /// PostgreSQL connection.
    async fn tx_conn(&self) -> Result<TxConn> {
        Ok(match &self.writer {
            Some(writer) => {
                // A writer that never ends its transaction is answered as a busy pool is.
                let mut turn = tokio::time::timeout(self.write_wait, writer.conn.clone().lock_owned())
                    .await
                    .map_err(|_| StoreError::Db(sqlx::Error::PoolTimedOut))?;
                if turn.is_none() {
                    let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect_with(&writer.connect).await?;
                    sqlite_settings(&mut conn).await?;
                    *turn = Some(conn);
                }
                TxConn::Writer(turn)
            }
            None => TxConn::Pooled(self.pool.acquire().await?),
        })
    }

    pub async fn close(&self) {
        self.pool.close().await;
        if let Some(writer) = &self.writer {
            // A transaction still running gets the time a writer waits for its turn.
            if let Ok(mut conn) = tokio::time::timeout(self.write_wait, writer.conn.lock()).await
                && let Some(conn) = conn.take()
            {
                let _ = sqlx::Connection::close(conn).await;
            }
        }
    }
}

/// A write transaction. Dropping it without [`Tx::commit`] rolls everything back; committing
/// takes the change's audit records (`audit.rs`), or names why there are none.
///
/// Deskward runs BEGIN and COMMIT itself rather than through sqlx's transaction type, so that
/// on SQLite the last audit record and the COMMIT travel in one command (`audit.rs`).
pub struct Tx {
    /// `None` only once the transaction has ended (committed, or handed to the rollback).
    conn: Option<TxConn>,
    backend: Backend,
    heads: audit::Heads,
    /// Chain heads this transaction moved, for the cache once it commits.
    pending: Vec<audit::Head>,
    /// Begun by [`Store::benchmark_baseline`]'s store.
    unaudited: bool,
}

/// A transaction's connection.
enum TxConn {
    /// PostgreSQL: a connection from the pool.
    Pooled(PoolConnection<Any>),
    /// SQLite: the process's writer connection, held for the whole transaction, which is the
    /// write turn; [`Store::begin`] leaves it `Some`.
    Writer(tokio::sync::OwnedMutexGuard<Option<sqlx::AnyConnection>>),
}

impl TxConn {
    fn get(&mut self) -> Option<&mut Conn> {
        match self {
            TxConn::Pooled(c) => Some(c),
            TxConn::Writer(c) => c.as_mut(),
        }
    }

    /// Closes the connection, which rolls back what it had not committed; the writer is opened
    /// again by the next transaction.
    fn abandon(self) {
        match self {
            TxConn::Pooled(mut c) => c.close_on_drop(),
            TxConn::Writer(mut c) => drop(c.take()),
        }
    }
}

impl std::fmt::Debug for Tx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Tx")
    }
}

impl Tx {
    /// The connection inside the transaction, for reads that must see its writes.
    pub fn conn(&mut self) -> &mut Conn {
        match self.conn.as_mut().and_then(TxConn::get) {
            Some(c) => c,
            // Only `commit` and `drop` take the connection, and both consume the Tx; `begin`
            // opens the writer before it makes a Tx.
            None => unreachable!("a transaction's connection is used after it ended"),
        }
    }

    /// Marks the transaction committed: its connection goes back to the pool (or the writer's
    /// turn to the next writer) as it is.
    fn committed(&mut self) {
        self.conn.take();
    }

    /// Ends the transaction with a plain COMMIT.
    async fn commit_now(mut self) -> Result<()> {
        sqlx::raw_sql("COMMIT").execute(self.conn()).await?;
        self.committed();
        Ok(())
    }
}

impl Drop for Tx {
    /// Rolls back a transaction that did not commit, then returns its connection (and the
    /// write turn) — or closes the connection, which also rolls back, when that fails.
    fn drop(&mut self) {
        let Some(mut conn) = self.conn.take() else { return };
        match tokio::runtime::Handle::try_current() {
            Ok(rt) => {
                rt.spawn(async move {
                    let rolled_back = match conn.get() {
                        Some(c) => sqlx::raw_sql("ROLLBACK").execute(c).await.is_ok(),
                        None => true,
                    };
                    if !rolled_back {
                        conn.abandon();
                    }
                });
            }
            Err(_) => conn.abandon(),
        }
    }
}

/// Whether a PostgreSQL connection is gone: its socket closed, or the server ended its session
/// (SQLSTATE class 57P: shut down; 08: connection exception).
fn connection_lost(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_) | sqlx::Error::Protocol(_) => true,
        sqlx::Error::Database(db) => db.code().is_some_and(|c| c.starts_with("57P") || c.starts_with("08")),
        _ => false,
    }
}

/// When this process last found a PostgreSQL connection ended by its server. A server that
/// ended one session (a restart, a failover, an administrator) has usually ended the others
/// that sat idle in the pool: each of them is pinged before its next use, instead of failing
/// the request that gets it. Process-wide because errors are converted without their store;
/// at worst another store's pool pings once more.
mod lost_connections {
    use std::sync::OnceLock;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::time::{Duration, Instant};

    /// Milliseconds since [`CLOCK`]'s start, plus one; 0: never.
    static LAST: AtomicU64 = AtomicU64::new(0);
    static CLOCK: OnceLock<Instant> = OnceLock::new();

    fn now_ms() -> u64 {
        u64::try_from(CLOCK.get_or_init(Instant::now).elapsed().as_millis()).unwrap_or(u64::MAX - 1) + 1
    }

    pub(crate) fn noticed() {
        LAST.fetch_max(now_ms(), Ordering::Relaxed);
    }

    /// Whether a connection idle for `idle_for` went idle before the last loss was noticed.
    pub(crate) fn idle_since_last(idle_for: Duration) -> bool {
        let last = LAST.load(Ordering::Relaxed);
        let idle_ms = u64::try_from(idle_for.as_millis()).unwrap_or(u64::MAX);
        last != 0 && now_ms().saturating_sub(idle_ms) <= last
    }
}

/// A fresh random id: positive and below 2^53 so that JSON clients keep it exact.
pub(crate) fn new_id() -> i64 {
    let bits: u64 = rand::random::<u64>() >> 11;
    i64::try_from(bits.max(1)).unwrap_or(1)
}

/// Turns a unique-constraint failure into [`StoreError::Conflict`].
pub(crate) fn conflict(what: impl Into<String>) -> impl FnOnce(sqlx::Error) -> StoreError {
    move |e| match e.as_database_error() {
        Some(db) if db.is_unique_violation() => StoreError::Conflict { what: what.into() },
        _ => e.into(),
    }
}

/// Hides a password in a database URL before it reaches a message.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let creds = &url[scheme + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{}:***{}", &url[..scheme + 3], user, &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

/// Reads a 0/1 flag column.
pub(crate) fn flag_of(row: &sqlx::any::AnyRow, column: &str) -> Result<bool> {
    use sqlx::Row;
    Ok(row.try_get::<i64, _>(column)? != 0)
}

#[cfg(test)]
mod tests {
    #[test]
    fn redact_hides_only_the_password() {
        assert_eq!(super::redact("postgres://dw:s3cret@db:5432/x"), "postgres://dw:***@db:5432/x");
        assert_eq!(super::redact("sqlite:///data/x.db"), "sqlite:///data/x.db");
    }
}
