//! The audit log's storage: appending to a domain's hash chain inside the transaction of the
//! change ([`Tx::commit`] is the only way in), and the reads that browse, search, verify,
//! export and archive it.

use deskward_core::audit::{GENESIS, Record, day_of, day_start};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{Conn, Result, StoreError, Tx, flag_of};

/// What a change or an event writes to the audit log; the store adds its place in the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub chain: String,
    pub at: i64,
    pub security: bool,
    pub action: String,
    pub actor: String,
    pub source_ip: String,
    pub source_host: String,
    pub target: String,
    pub summary: String,
    /// The administrator acting for `actor`, or empty.
    pub acting: String,
}

/// The audit records a transaction commits with: at least one.
#[derive(Debug, Clone)]
pub struct Audit(Vec<Entry>);

impl From<Entry> for Audit {
    fn from(e: Entry) -> Audit {
        Audit(vec![e])
    }
}

impl Audit {
    /// Several records for one transaction (an import writes one per account); `None` when
    /// there are none, since a change needs at least one.
    pub fn many(entries: Vec<Entry>) -> Option<Audit> {
        (!entries.is_empty()).then_some(Audit(entries))
    }
}

/// The writes that are not changes anyone made, and so commit without an audit record. Each
/// is named so a reader can find every such commit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Housekeeping {
    /// A schema migration.
    Migration,
    /// Deleting sessions that expired.
    ExpiredSessions,
    /// Forgetting bans that ended long ago.
    EndedBans,
    /// Queuing a notification about a security event, which the security log already holds.
    MailQueued,
    /// Claiming a message for delivery, or noting an attempt that will be retried; the
    /// delivery itself or the giving up is audited.
    MailAttempt,
    /// Noting when a scheduled directory sync that changed nothing finished.
    QuietDirectorySync,
    /// Only for the audit benchmark's baseline: the same change without its record.
    BenchmarkBaseline,
}

/// A chain's head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainHead {
    pub chain: String,
    pub seq: i64,
    pub hash: String,
    pub day: String,
    pub archived_seq: i64,
    pub archived_hash: String,
    pub forwarded_seq: i64,
}

/// A day's seal: its last record and how many records it has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seal {
    pub day: String,
    pub last_seq: i64,
    pub last_hash: String,
    pub records: i64,
}

/// A search; every `None` matches everything.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub chain: Option<String>,
    /// A login: records it made (also acting for another), and records about its account.
    pub user: Option<String>,
    /// An action (`account.create`) or a family (`account`).
    pub action: Option<String>,
    pub source_ip: Option<String>,
    pub target: Option<String>,
    /// Unix seconds, inclusive.
    pub since: Option<i64>,
    /// Unix seconds, exclusive.
    pub until: Option<i64>,
    pub security_only: bool,
    /// Text the summary holds (a message's words, a changed value), in any case.
    pub text: Option<String>,
    pub limit: i64,
}

macro_rules! select {
    ($tail:expr) => {
        concat!(
            "SELECT chain, seq, at, security, action, actor, source_ip, source_host, target, summary, \
             acting, prev_hash, hash FROM audit_records",
            " ",
            $tail
        )
    };
}

fn from_row(row: &AnyRow) -> Result<Record> {
    Ok(Record {
        chain: row.try_get("chain")?,
        seq: row.try_get("seq")?,
        at: row.try_get("at")?,
        security: flag_of(row, "security")?,
        action: row.try_get("action")?,
        actor: row.try_get("actor")?,
        source_ip: row.try_get("source_ip")?,
        source_host: row.try_get("source_host")?,
        target: row.try_get("target")?,
        summary: row.try_get("summary")?,
        acting: row.try_get("acting")?,
        prev_hash: row.try_get("prev_hash")?,
        hash: row.try_get("hash")?,
    })
}

fn head_from_row(row: &AnyRow) -> Result<ChainHead> {
    Ok(ChainHead {
        chain: row.try_get("chain")?,
        seq: row.try_get("seq")?,
        hash: row.try_get("hash")?,
        day: row.try_get("day")?,
        archived_seq: row.try_get("archived_seq")?,
        archived_hash: row.try_get("archived_hash")?,
        forwarded_seq: row.try_get("forwarded_seq")?,
    })
}

/// A chain's head as the append needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Head {
    chain: String,
    seq: i64,
    hash: String,
    day: String,
    day_records: i64,
}

/// The heads this process last saw, so an append can move the head with one compare-and-set
/// statement instead of reading it first. A head moved elsewhere (another node, the command
/// line) fails the comparison and the append reads the real one.
#[derive(Debug, Clone, Default)]
pub(crate) struct Heads {
    heads: std::sync::Arc<std::sync::Mutex<std::collections::HashMap<String, Head>>>,
    /// PostgreSQL: each chain's turn in this process, from a transaction's first append until
    /// its appends hold the head rows (see [`Heads::turns`]).
    turns: std::sync::Arc<std::sync::Mutex<std::collections::HashMap<String, std::sync::Arc<Turn>>>>,
    /// Appends that found the head moved and read it (see [`Store::audit_slow_appends`]).
    slow: std::sync::Arc<std::sync::atomic::AtomicU64>,
    /// PostgreSQL appends that travelled with their COMMIT (see [`Store::audit_folded_appends`]).
    folded: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

/// A chain's turn, and when a transaction last had to wait for it.
#[derive(Debug, Default)]
struct Turn {
    lock: std::sync::Arc<tokio::sync::Mutex<()>>,
    waited: std::sync::Mutex<Option<std::time::Instant>>,
}

/// How long after a transaction waited for a chain's turn its appends stop travelling with
/// their COMMIT (see [`Heads::alone`]).
const BUSY_FOR: std::time::Duration = std::time::Duration::from_secs(1);

/// How long a PostgreSQL commit waits for its chains' turns in this process before it appends
/// without them (correct, only slower: see [`Heads::turns`]).
const TURN_WAIT: std::time::Duration = std::time::Duration::from_secs(1);

impl Heads {
    fn get(&self, chain: &str) -> Option<Head> {
        self.heads.lock().ok().and_then(|m| m.get(chain).cloned())
    }

    /// On PostgreSQL, concurrent appends to one chain from this process queue here, so each
    /// finds the head the one before it committed and moves it with one compare-and-set. Left
    /// to the head row's lock instead, all but one would find the head moved and take the slow
    /// path, three more round trips with the lock held, and a domain's audited changes from a
    /// few clients at once ran at half the speed of its changes without audit. The turns are
    /// only for speed: the compare-and-set keeps the chain right without them, so a turn not
    /// given within [`TURN_WAIT`] (a transaction that already holds a head row another turn's
    /// holder waits for) is gone without. Chains are taken in name order.
    async fn turns(&self, entries: &[Entry]) -> Vec<tokio::sync::OwnedMutexGuard<()>> {
        let mut chains: Vec<&str> = entries.iter().map(|e| e.chain.as_str()).collect();
        chains.sort_unstable();
        chains.dedup();
        let mut held = Vec::new();
        for chain in chains {
            let Some(turn) = self.turns.lock().ok().map(|mut m| m.entry(chain.to_owned()).or_default().clone()) else { continue };
            if let Ok(guard) = turn.lock.clone().try_lock_owned() {
                held.push(guard);
                continue;
            }
            if let Ok(mut waited) = turn.waited.lock() {
                *waited = Some(std::time::Instant::now());
            }
            if let Ok(guard) = tokio::time::timeout(TURN_WAIT, turn.lock.clone().lock_owned()).await {
                held.push(guard);
            }
        }
        held
    }

    /// Whether no transaction of this process had to wait for `chain`'s turn in the last
    /// [`BUSY_FOR`]. Only then does a PostgreSQL append travel with its COMMIT: that saves a
    /// round trip, but holds the turn until the commit is done, where the append alone lets the
    /// next one be sent while the COMMIT is on its way (see [`Tx::commit`]). Under a stream of
    /// concurrent changes to one chain, that overlap is worth more than the round trip.
    fn alone(&self, chain: &str) -> bool {
        let waited = self.turns.lock().ok().and_then(|m| m.get(chain).and_then(|t| t.waited.lock().ok().and_then(|w| *w)));
        waited.is_none_or(|at| at.elapsed() >= BUSY_FOR)
    }

    /// Keeps the later of the cached and the committed head.
    fn committed(&self, heads: Vec<Head>) {
        if let Ok(mut m) = self.heads.lock() {
            for h in heads {
                match m.get(&h.chain) {
                    Some(old) if old.seq >= h.seq => {}
                    _ => {
                        m.insert(h.chain.clone(), h);
                    }
                }
            }
        }
    }

    /// Drops cached heads that a failed commit had announced, unless a later one replaced them.
    fn retract(&self, heads: &[Head]) {
        if let Ok(mut m) = self.heads.lock() {
            for h in heads {
                if m.get(&h.chain) == Some(h) {
                    m.remove(&h.chain);
                }
            }
        }
    }

    pub(crate) fn slow_appends(&self) -> u64 {
        self.slow.load(std::sync::atomic::Ordering::Relaxed)
    }

    pub(crate) fn folded_appends(&self) -> u64 {
        self.folded.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn forget(&self, chain: &str) {
        if let Ok(mut m) = self.heads.lock() {
            m.remove(chain);
        }
    }
}

impl Tx {
    /// Commits the transaction together with its audit records: both or neither.
    pub async fn commit(mut self, audit: impl Into<Audit>) -> Result<()> {
        if self.unaudited {
            return self.commit_unaudited(Housekeeping::BenchmarkBaseline).await;
        }
        let mut entries = audit.into().0;
        let turns = match self.backend {
            crate::Backend::Postgres => self.heads.turns(&entries).await,
            // The writer connection is already every chain's turn.
            crate::Backend::Sqlite => Vec::new(),
        };
        let last = entries.pop();
        for entry in entries {
            append(&mut self, entry, false).await?;
        }
        let committed = match last {
            Some(entry) => append(&mut self, entry, true).await?,
            None => false,
        };
        let (heads, pending) = (self.heads.clone(), std::mem::take(&mut self.pending));
        if committed {
            self.committed();
        } else if self.backend == crate::Backend::Postgres {
            // This transaction holds its chains' head rows until it ends, so the next append
            // of the same chain can be sent now: it waits for the row on the server, and
            // PostgreSQL checks its compare-and-set against the row this transaction leaves.
            // The chain's turn then covers one round trip instead of two. Should the COMMIT
            // fail, that append finds the head unmoved and takes the slow path.
            heads.committed(pending.clone());
            drop(turns);
            if let Err(e) = self.commit_now().await {
                heads.retract(&pending);
                return Err(e);
            }
        } else {
            self.commit_now().await?;
        }
        // On PostgreSQL the cache has these heads already; keeping the later one is a no-op.
        heads.committed(pending);
        Ok(())
    }

    /// Commits a write that is no one's change (see [`Housekeeping`]).
    pub async fn commit_unaudited(self, why: Housekeeping) -> Result<()> {
        tracing::trace!(?why, "unaudited commit");
        self.commit_now().await
    }
}

/// The compare-and-set of a known head and the record's insert, in one round trip: the head
/// moves only from the expected record, and the record is inserted only if it moved.
/// Parameters: the record's 14 columns as in [`write`], then the head's new day and day count,
/// then the expected head's seq and hash.
///
/// SQLite runs the two statements as one command. When the head did not move (`changes()`
/// counts the UPDATE's rows) the record's seq is NULL, so the INSERT fails and the command
/// stops there: a COMMIT appended to it ([`APPEND_SQLITE_COMMIT`]) runs only after the record
/// is in.
macro_rules! append_sqlite {
    ($end:literal) => {
        concat!(
            "UPDATE audit_chains SET seq = $2, hash = $13, day = $15, day_records = $16 \
             WHERE chain = $1 AND seq = $17 AND hash = $18; \
             INSERT INTO audit_records (chain, seq, at, day, security, action, actor, source_ip, source_host, \
             target, summary, prev_hash, hash, acting) \
             SELECT $1, CASE WHEN changes() = 1 THEN $2 END, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14",
            $end
        )
    };
}
const APPEND_SQLITE: &str = append_sqlite!("");
/// The append and the transaction's COMMIT in one command, which saves the commit's round trip.
const APPEND_SQLITE_COMMIT: &str = append_sqlite!("; COMMIT");
/// PostgreSQL runs the UPDATE as a data-modifying CTE; the record is inserted only if it moved.
/// The comparison is in the SET, not the WHERE: a WHERE naming the expected head would skip a
/// row still showing the head before it (the transaction that writes the expected head has
/// not committed yet) without waiting for it. Matching on the chain alone, the UPDATE waits for
/// the row's lock and compares against the row that transaction leaves. The new hash in
/// RETURNING tells whether the head moved to this record.
macro_rules! append_postgres {
    ($tail:literal) => {
        concat!(
            "WITH moved AS (UPDATE audit_chains SET \
             seq = CASE WHEN seq = $17 AND hash = $18 THEN $2 ELSE seq END, \
             hash = CASE WHEN seq = $17 AND hash = $18 THEN $13 ELSE hash END, \
             day = CASE WHEN seq = $17 AND hash = $18 THEN $15 ELSE day END, \
             day_records = CASE WHEN seq = $17 AND hash = $18 THEN $16 ELSE day_records END \
             WHERE chain = $1 RETURNING seq, hash) \
             INSERT INTO audit_records (chain, seq, at, day, security, action, actor, source_ip, source_host, \
             target, summary, prev_hash, hash, acting) ",
            $tail
        )
    };
}
/// The head did not move: no record, and the transaction goes on to the slow path.
const APPEND_POSTGRES: &str =
    append_postgres!("SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14 FROM moved WHERE moved.seq = $2 AND moved.hash = $13");

/// The append that travels with the COMMIT ([`postgres_fold`]), prepared by every connection of
/// the server's pool (`lib.rs`). The COMMIT after it must not run when the head did not move,
/// so then the record's seq is NULL and the INSERT fails (SQLSTATE 23502, the only NOT NULL
/// value that can be missing): the statements after it in the message are skipped.
pub(crate) const PREPARE_FOLD: &str = concat!(
    "PREPARE deskward_audit_append (text, bigint, bigint, text, bigint, text, text, text, text, text, text, text, text, text, \
     text, bigint, bigint, text) AS ",
    append_postgres!(
        "SELECT $1, CASE WHEN moved.seq = $2 AND moved.hash = $13 THEN $2 END, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14 \
         FROM (SELECT 1) AS one LEFT JOIN moved ON true"
    )
);

/// The transaction's last append and its COMMIT in one message, which saves the COMMIT's
/// round trip. The extended protocol that carries parameters runs one statement per message
/// (sqlx has no pipelining), so this message goes by the simple protocol, which has no
/// parameters: the values are written as literals by [`literal`], the only place where SQL
/// carries values, and run by the statement each connection prepared, so the server neither
/// parses nor plans the append again (sent as a plain statement, that cost more than the round
/// trip it saves). The savepoint lets a head that moved be rolled back and appended the slow
/// way in the same transaction. `None` when a value holds a NUL, which PostgreSQL's text
/// cannot: the parameterised append then reports it.
fn postgres_fold(r: &Record, next: &Head, head: &Head) -> Option<String> {
    // The other values are the store's own: days and hex hashes.
    let given = [&r.chain, &r.action, &r.actor, &r.source_ip, &r.source_host, &r.target, &r.summary, &r.acting];
    if given.iter().any(|t| t.contains('\0')) {
        return None;
    }
    let l = literal;
    Some(format!(
        "SAVEPOINT deskward_fold; EXECUTE deskward_audit_append({}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}); COMMIT",
        l(&r.chain),
        r.seq,
        r.at,
        l(&day_of(r.at)),
        i64::from(r.security),
        l(&r.action),
        l(&r.actor),
        l(&r.source_ip),
        l(&r.source_host),
        l(&r.target),
        l(&r.summary),
        l(&r.prev_hash),
        l(&r.hash),
        l(&r.acting),
        l(&next.day),
        next.day_records,
        head.seq,
        l(&head.hash),
    ))
}

/// A PostgreSQL string literal holding `text` exactly. The escape-string form (`E'…'`) reads
/// backslashes the same whatever `standard_conforming_strings` says; doubling every quote and
/// backslash leaves no way out of the literal. The connection's encoding is UTF-8, as `text` is.
fn literal(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 3);
    out.push_str("E'");
    for c in text.chars() {
        match c {
            '\'' => out.push_str("''"),
            '\\' => out.push_str("\\\\"),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// The SQLite append's failure when the head had moved (see [`append_sqlite`]).
fn head_moved(e: &sqlx::Error) -> bool {
    e.as_database_error()
        .is_some_and(|db| db.kind() == sqlx::error::ErrorKind::NotNullViolation && db.message().contains("audit_records.seq"))
}

/// Appends one record to its chain. With a known head (moved by this transaction, or cached
/// from an earlier commit) one round trip moves it by compare-and-set and inserts the record.
/// On PostgreSQL the head row's write lock makes a concurrent append of the same domain from
/// another process (or one past its turn, see [`Heads::turns`]) wait, then find the head
/// changed and take the slow path, which reads the real head under the lock.
///
/// With `last` set, the COMMIT goes with the append where it can (SQLite always, PostgreSQL
/// when the chain is not busy: [`append_folded`]); the answer says whether the transaction has
/// committed.
async fn append(tx: &mut Tx, e: Entry, last: bool) -> Result<bool> {
    let known = tx.pending.iter().rev().find(|h| h.chain == e.chain).cloned().or_else(|| tx.heads.get(&e.chain));
    if let Some(head) = known {
        let (record, next) = link(e.clone(), &head);
        let fold = last && !seals_day(&record, &head);
        if fold
            && tx.backend == crate::Backend::Postgres
            && tx.heads.alone(&e.chain)
            && let Some(sql) = postgres_fold(&record, &next, &head)
        {
            return append_folded(tx, e, sql, next).await;
        }
        let fold = fold && tx.backend == crate::Backend::Sqlite;
        let sql = match (tx.backend, fold) {
            (crate::Backend::Sqlite, true) => APPEND_SQLITE_COMMIT,
            (crate::Backend::Sqlite, false) => APPEND_SQLITE,
            (crate::Backend::Postgres, _) => APPEND_POSTGRES,
        };
        let done = bind_record(sqlx::query(sql), &record)
            .bind(&next.day)
            .bind(next.day_records)
            .bind(head.seq)
            .bind(&head.hash)
            .execute(tx.conn())
            .await;
        let moved = match (tx.backend, done) {
            (crate::Backend::Sqlite, Ok(_)) => true,
            (crate::Backend::Sqlite, Err(e)) if head_moved(&e) => false,
            (crate::Backend::Postgres, Ok(done)) => done.rows_affected() == 1,
            (_, Err(e)) => return Err(e.into()),
        };
        if moved {
            tx.pending.push(next);
            if !fold {
                seal(tx, &record, &head).await?;
            }
            return Ok(fold);
        }
        tx.heads.forget(&e.chain);
    }
    slow_append(tx, e).await?;
    Ok(false)
}

/// PostgreSQL: sends [`postgres_fold`]'s message, which commits. A head that moved (the
/// record's seq NULL, 23502) is rolled back to the savepoint and appended the slow way; the
/// answer says whether the transaction has committed.
async fn append_folded(tx: &mut Tx, e: Entry, sql: String, next: Head) -> Result<bool> {
    match sqlx::raw_sql(sqlx::AssertSqlSafe(sql)).execute(tx.conn()).await {
        Ok(_) => {
            tx.heads.folded.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            tx.pending.push(next);
            Ok(true)
        }
        Err(err) if err.as_database_error().and_then(|db| db.code()).as_deref() == Some("23502") => {
            sqlx::raw_sql("ROLLBACK TO SAVEPOINT deskward_fold").execute(tx.conn()).await?;
            tx.heads.forget(&e.chain);
            slow_append(tx, e).await?;
            Ok(false)
        }
        Err(err) => Err(err.into()),
    }
}

/// The record that follows `head`, and the head after it. A record of a later day starts a
/// new day count. Days only move forward in a chain: a record stamped before the head's day (a
/// clock set back across midnight, a node whose clock is behind) is stamped at the start of
/// the head's day instead. Left earlier, it would sit in one day's key range with another
/// day's date, and the day's seal, export and archive would name it as moved or deleted.
fn link(e: Entry, head: &Head) -> (Record, Head) {
    let at = match day_start(&head.day) {
        Some(start) if day_of(e.at) < head.day => start,
        _ => e.at,
    };
    let mut record = Record {
        chain: e.chain,
        seq: head.seq + 1,
        at,
        security: e.security,
        action: e.action,
        actor: e.actor,
        source_ip: e.source_ip,
        source_host: e.source_host,
        target: e.target,
        summary: e.summary,
        acting: e.acting,
        prev_hash: head.hash.clone(),
        hash: String::new(),
    };
    record.hash = record.compute_hash();
    let day = day_of(record.at);
    let (day, day_records) = if day > head.day { (day, 1) } else { (day, head.day_records + 1) };
    let next = Head { chain: record.chain.clone(), seq: record.seq, hash: record.hash.clone(), day, day_records };
    (record, next)
}

/// Binds a record's 14 columns, numbered as `audit_records` lists them (chain, seq, at, day,
/// security, action, actor, source_ip, source_host, target, summary, prev_hash, hash, acting).
fn bind_record<'q>(q: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>, record: &'q Record) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments> {
    q.bind(&record.chain)
        .bind(record.seq)
        .bind(record.at)
        .bind(day_of(record.at))
        .bind(i64::from(record.security))
        .bind(&record.action)
        .bind(&record.actor)
        .bind(&record.source_ip)
        .bind(&record.source_host)
        .bind(&record.target)
        .bind(&record.summary)
        .bind(&record.prev_hash)
        .bind(&record.hash)
        .bind(&record.acting)
}

/// Inserts `record`, and the seal of `previous`'s day when the record starts a later one.
async fn write(tx: &mut Tx, record: &Record, previous: &Head) -> Result<()> {
    let insert = "INSERT INTO audit_records (chain, seq, at, day, security, action, actor, source_ip, source_host, \
         target, summary, prev_hash, hash, acting) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)";
    bind_record(sqlx::query(insert), record).execute(tx.conn()).await?;
    seal(tx, record, previous).await
}

/// Whether `record` starts a later day than `previous`, whose day then gets its seal.
fn seals_day(record: &Record, previous: &Head) -> bool {
    day_of(record.at) > previous.day && previous.seq > 0 && !previous.day.is_empty()
}

/// Seals `previous`'s day when `record` starts a later one.
async fn seal(tx: &mut Tx, record: &Record, previous: &Head) -> Result<()> {
    if seals_day(record, previous) {
        sqlx::query("INSERT INTO audit_seals (chain, day, last_seq, last_hash, records) VALUES ($1, $2, $3, $4, $5)")
            .bind(&record.chain)
            .bind(&previous.day)
            .bind(previous.seq)
            .bind(&previous.hash)
            .bind(previous.day_records)
            .execute(tx.conn())
            .await?;
    }
    Ok(())
}

/// The append without a known head: takes the head row's lock and reads it in one statement
/// (creating the row for a new chain), then writes the record and the moved head.
async fn slow_append(tx: &mut Tx, e: Entry) -> Result<Record> {
    tx.heads.slow.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let bump = "UPDATE audit_chains SET seq = seq + 1 WHERE chain = $1 RETURNING seq, hash, day, day_records";
    let mut head = sqlx::query(bump).bind(&e.chain).fetch_optional(tx.conn()).await?;
    if head.is_none() {
        sqlx::query(
            "INSERT INTO audit_chains (chain, seq, hash, day, day_records, archived_hash) \
             VALUES ($1, 0, $2, '', 0, $2) ON CONFLICT (chain) DO NOTHING",
        )
        .bind(&e.chain)
        .bind(GENESIS)
        .execute(tx.conn())
        .await?;
        head = sqlx::query(bump).bind(&e.chain).fetch_optional(tx.conn()).await?;
    }
    let row = head.ok_or_else(|| StoreError::Corrupt { what: "audit chain head", detail: e.chain.clone() })?;
    // The bump moved seq already; the head before it is one less.
    let head = Head {
        chain: e.chain.clone(),
        seq: row.try_get::<i64, _>("seq")? - 1,
        hash: row.try_get("hash")?,
        day: row.try_get("day")?,
        day_records: row.try_get("day_records")?,
    };
    let (record, next) = link(e, &head);
    write(tx, &record, &head).await?;
    sqlx::query("UPDATE audit_chains SET hash = $2, day = $3, day_records = $4 WHERE chain = $1")
        .bind(&next.chain)
        .bind(&next.hash)
        .bind(&next.day)
        .bind(next.day_records)
        .execute(tx.conn())
        .await?;
    tx.pending.push(next);
    Ok(record)
}

/// Every chain's head, by name.
pub async fn chains(c: &mut Conn) -> Result<Vec<ChainHead>> {
    let rows = sqlx::query(
        "SELECT chain, seq, hash, day, archived_seq, archived_hash, forwarded_seq FROM audit_chains ORDER BY chain",
    )
    .fetch_all(c)
    .await?;
    rows.iter().map(head_from_row).collect()
}

pub async fn head(c: &mut Conn, chain: &str) -> Result<Option<ChainHead>> {
    let row = sqlx::query(
        "SELECT chain, seq, hash, day, archived_seq, archived_hash, forwarded_seq FROM audit_chains WHERE chain = $1",
    )
    .bind(chain)
    .fetch_optional(c)
    .await?;
    row.as_ref().map(head_from_row).transpose()
}

/// Records of `chain` after `after_seq`, in chain order, at most `limit`.
pub async fn after(c: &mut Conn, chain: &str, after_seq: i64, limit: i64) -> Result<Vec<Record>> {
    let rows = sqlx::query(select!("WHERE chain = $1 AND seq > $2 ORDER BY seq LIMIT $3"))
        .bind(chain)
        .bind(after_seq)
        .bind(limit)
        .fetch_all(c)
        .await?;
    rows.iter().map(from_row).collect()
}

/// The records of one UTC day of a chain, in chain order. A chain's days follow each other in
/// seq order and each day before the head's ends at its seal, so the day is a key range: the
/// records after the seal of the day before, through the day's seal (or the head).
pub async fn of_day(c: &mut Conn, chain: &str, day: &str) -> Result<Vec<Record>> {
    let rows = sqlx::query(select!(
        "WHERE chain = $1 AND day = $2 \
         AND seq > COALESCE((SELECT MAX(last_seq) FROM audit_seals WHERE chain = $1 AND day < $2), 0) \
         AND seq <= COALESCE((SELECT last_seq FROM audit_seals WHERE chain = $1 AND day = $2), \
                             (SELECT seq FROM audit_chains WHERE chain = $1 AND day <= $2), 0) \
         ORDER BY seq"
    ))
    .bind(chain)
    .bind(day)
    .fetch_all(c)
    .await?;
    rows.iter().map(from_row).collect()
}

/// The days of a chain that have records in the store, oldest first, with their counts: from
/// the seals and the head, as [`of_day`] finds them, without reading the records.
pub async fn days(c: &mut Conn, chain: &str) -> Result<Vec<(String, i64)>> {
    let Some(head) = head(c, chain).await? else { return Ok(Vec::new()) };
    let mut out = Vec::new();
    let mut before = 0;
    for seal in seals(c, chain).await? {
        out.push((seal.day, seal.last_seq - before.max(head.archived_seq)));
        before = seal.last_seq;
    }
    out.push((head.day, head.seq - before.max(head.archived_seq)));
    out.retain(|(_, n)| *n > 0);
    Ok(out)
}

/// The seals of a chain, oldest first.
pub async fn seals(c: &mut Conn, chain: &str) -> Result<Vec<Seal>> {
    let rows = sqlx::query("SELECT day, last_seq, last_hash, records FROM audit_seals WHERE chain = $1 ORDER BY day")
        .bind(chain)
        .fetch_all(c)
        .await?;
    rows.iter()
        .map(|r| {
            Ok(Seal {
                day: r.try_get("day")?,
                last_seq: r.try_get("last_seq")?,
                last_hash: r.try_get("last_hash")?,
                records: r.try_get("records")?,
            })
        })
        .collect()
}

/// The LIKE pattern that finds `text` in a summary: escaped as the JSON summary holds it
/// (quotes, backslashes, control characters), with LIKE's own wildcards escaped.
fn summary_pattern(text: &str) -> String {
    let json = serde_json::to_string(text).unwrap_or_default();
    let inner = json.get(1..json.len().saturating_sub(1)).unwrap_or_default();
    let mut pattern = String::from("%");
    for c in inner.chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

/// The search: one static statement per store, where a NULL parameter switches its condition
/// off. Words in the summary are matched without regard to case: ASCII letters on SQLite
/// (its LIKE), all letters on PostgreSQL (ILIKE).
macro_rules! search {
    ($like:literal) => {
        select!(concat!(
            "WHERE (CAST($1 AS TEXT) IS NULL OR chain = $1) \
             AND (CAST($2 AS TEXT) IS NULL OR actor = $2 OR acting = $2 OR target = $11) \
             AND (CAST($3 AS TEXT) IS NULL OR action = $3 OR action LIKE $4) \
             AND (CAST($5 AS TEXT) IS NULL OR source_ip = $5) \
             AND (CAST($6 AS TEXT) IS NULL OR target = $6) \
             AND (CAST($7 AS BIGINT) IS NULL OR at >= $7) \
             AND (CAST($8 AS BIGINT) IS NULL OR at < $8) \
             AND security >= $9 \
             AND (CAST($12 AS TEXT) IS NULL OR summary ",
            $like,
            " $12 ESCAPE '\\') \
             ORDER BY at DESC, chain, seq DESC LIMIT $10"
        ))
    };
}

/// Records matching `f`, newest first.
pub async fn search(c: &mut Conn, f: &Filter) -> Result<Vec<Record>> {
    let sql = match c.backend_name() {
        "PostgreSQL" => search!("ILIKE"),
        _ => search!("LIKE"),
    };
    let rows = sqlx::query(sql)
    .bind(f.chain.as_deref())
    .bind(f.user.as_deref())
    .bind(f.action.as_deref())
    .bind(f.action.as_ref().map(|a| format!("{a}.%")))
    .bind(f.source_ip.as_deref())
    .bind(f.target.as_deref())
    .bind(f.since)
    .bind(f.until)
    .bind(i64::from(f.security_only))
    .bind(f.limit)
    .bind(f.user.as_ref().map(|u| format!("account:{u}")))
    .bind(f.text.as_deref().map(summary_pattern))
    .fetch_all(c)
    .await?;
    rows.iter().map(from_row).collect()
}

/// Removes the records of `chain` up to `up_to_seq` (already archived) and moves the
/// boundary the chain resumes from. Refuses to cut at a hash that is not the record's.
pub async fn remove_archived(tx: &mut Tx, chain: &str, up_to_seq: i64, hash: &str) -> Result<u64> {
    let found: Option<String> = sqlx::query_scalar("SELECT hash FROM audit_records WHERE chain = $1 AND seq = $2")
        .bind(chain)
        .bind(up_to_seq)
        .fetch_optional(tx.conn())
        .await?;
    if found.as_deref() != Some(hash) {
        return Err(StoreError::Corrupt {
            what: "audit chain",
            detail: format!("record {up_to_seq} of {chain} is not the one that was archived"),
        });
    }
    let done = sqlx::query("DELETE FROM audit_records WHERE chain = $1 AND seq <= $2")
        .bind(chain)
        .bind(up_to_seq)
        .execute(tx.conn())
        .await?;
    sqlx::query("UPDATE audit_chains SET archived_seq = $2, archived_hash = $3 WHERE chain = $1 AND archived_seq < $2")
        .bind(chain)
        .bind(up_to_seq)
        .bind(hash)
        .execute(tx.conn())
        .await?;
    Ok(done.rows_affected())
}

/// Moves the syslog cursor of `chain` from `from` to `to`; false when another node moved it
/// first (it sent the same records).
pub async fn set_forwarded(c: &mut Conn, chain: &str, from: i64, to: i64) -> Result<bool> {
    let done = sqlx::query("UPDATE audit_chains SET forwarded_seq = $3 WHERE chain = $1 AND forwarded_seq = $2")
        .bind(chain)
        .bind(from)
        .bind(to)
        .execute(c)
        .await?;
    Ok(done.rows_affected() == 1)
}
