//! Transactions as Deskward runs them (its own BEGIN, COMMIT and ROLLBACK; on SQLite the last
//! audit record and the COMMIT in one command), on SQLite and on PostgreSQL: a change commits
//! with its records or not at all, an abandoned transaction leaves nothing and frees its
//! connection, and a chain head moved by another process is found and followed.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use deskward_core::audit::{ChainCheck, GENESIS};
use deskward_store::{AuditEntry, Backend, DomainRow, GroupRow, Housekeeping, OpenOptions, Store};

const CHAIN: &str = "tx.test";

fn entry(n: usize) -> AuditEntry {
    AuditEntry {
        chain: CHAIN.into(),
        at: 1_795_435_445 + i64::try_from(n).unwrap(),
        security: false,
        action: "group.create".into(),
        actor: "admin@tx.test".into(),
        source_ip: "192.0.2.1".into(),
        source_host: String::new(),
        target: format!("group:g{n}"),
        summary: "{}".into(),
        acting: String::new(),
    }
}

async fn open(url: &str, connections: u32) -> Store {
    let options = OpenOptions { max_connections: connections, connect_timeout: Duration::from_secs(5) };
    Store::open(url, &options).await.unwrap()
}

async fn domain(store: &Store) -> i64 {
    let mut tx = store.begin().await.unwrap();
    let d = DomainRow::insert(&mut tx, CHAIN, 0).await.unwrap();
    tx.commit_unaudited(Housekeeping::BenchmarkBaseline).await.unwrap();
    d.id
}

async fn groups(store: &Store, domain: i64) -> Vec<String> {
    let mut c = store.conn().await.unwrap();
    GroupRow::list(&mut c, domain).await.unwrap().into_iter().map(|g| g.name).collect()
}

/// Walks the whole chain from its genesis to its head; the targets of its records.
async fn verified_chain(store: &Store) -> Vec<String> {
    let mut c = store.conn().await.unwrap();
    let records = deskward_store::audit::after(&mut c, CHAIN, 0, 1000).await.unwrap();
    let head = deskward_store::audit::head(&mut c, CHAIN).await.unwrap().unwrap();
    let mut check = ChainCheck::from_genesis(CHAIN);
    for r in &records {
        check.push(r).unwrap();
    }
    check.finish(head.seq, &head.hash).unwrap();
    assert_ne!(head.hash, GENESIS);
    records.into_iter().map(|r| r.target).collect()
}

async fn add_group(store: &Store, domain: i64, n: usize) {
    let mut tx = store.begin().await.unwrap();
    GroupRow::insert(&mut tx, domain, &format!("g{n}")).await.unwrap();
    tx.commit(entry(n)).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_head_moved_by_another_process_is_followed() {
    let (_dir, urls) = common::urls("store transactions on postgres").await;
    for (backend, url) in urls {
        // Two handles on one database are the server and the command line: each caches the
        // head it last wrote, so the first one's cached head goes stale.
        let (server, cli) = (open(&url, 2).await, open(&url, 2).await);
        let d = domain(&server).await;
        add_group(&server, d, 1).await;
        add_group(&cli, d, 2).await;
        add_group(&cli, d, 3).await;
        add_group(&server, d, 4).await;
        add_group(&server, d, 5).await;
        assert_eq!(verified_chain(&server).await, ["group:g1", "group:g2", "group:g3", "group:g4", "group:g5"], "{backend:?}");
        assert_eq!(groups(&server, d).await, ["g1", "g2", "g3", "g4", "g5"], "{backend:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_abandoned_transaction_leaves_nothing_and_frees_its_connection() {
    let (_dir, urls) = common::urls("store transactions on postgres").await;
    for (backend, url) in urls {
        // One connection: the next transaction gets the very connection the abandoned one had.
        let store = open(&url, 1).await;
        let d = domain(&store).await;
        add_group(&store, d, 1).await;
        for n in 2..5 {
            let mut tx = store.begin().await.unwrap();
            GroupRow::insert(&mut tx, d, &format!("g{n}")).await.unwrap();
            drop(tx);
        }
        // A transaction whose statement failed is abandoned too.
        let mut tx = store.begin().await.unwrap();
        GroupRow::insert(&mut tx, d, "g1").await.unwrap_err();
        drop(tx);
        add_group(&store, d, 5).await;
        assert_eq!(groups(&store, d).await, ["g1", "g5"], "{backend:?}");
        assert_eq!(verified_chain(&store).await, ["group:g1", "group:g5"], "{backend:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_whose_record_fails_does_not_commit() {
    let (_dir, urls) = common::urls("store transactions on postgres").await;
    for (backend, url) in urls {
        let store = open(&url, 2).await;
        let d = domain(&store).await;
        add_group(&store, d, 1).await;
        // The database now refuses every further record (the head is cached, so the next
        // commit takes the one-command path).
        let refuse = match backend {
            Backend::Sqlite => "CREATE TRIGGER refuse BEFORE INSERT ON audit_records BEGIN SELECT RAISE(ABORT, 'refused'); END",
            Backend::Postgres => {
                "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'refused'; END $$; \
                 CREATE TRIGGER refuse BEFORE INSERT ON audit_records FOR EACH ROW EXECUTE FUNCTION refuse()"
            }
        };
        let mut c = store.conn().await.unwrap();
        sqlx::raw_sql(refuse).execute(&mut *c).await.unwrap();
        drop(c);
        let mut tx = store.begin().await.unwrap();
        GroupRow::insert(&mut tx, d, "g2").await.unwrap();
        let err = tx.commit(entry(2)).await.unwrap_err();
        assert!(err.to_string().contains("refused"), "{backend:?}: {err}");
        assert_eq!(groups(&store, d).await, ["g1"], "{backend:?}: the change went in without its record");
        let mut c = store.conn().await.unwrap();
        sqlx::raw_sql("DROP TRIGGER refuse ON audit_records").execute(&mut *c).await.ok();
        sqlx::raw_sql("DROP TRIGGER refuse").execute(&mut *c).await.ok();
        drop(c);
        add_group(&store, d, 3).await;
        assert_eq!(verified_chain(&store).await, ["group:g1", "group:g3"], "{backend:?}");
    }
}

/// Each connection to an in-memory SQLite database is a database of its own, so the store
/// refuses one with a clear error instead of answering from an empty schema.
#[tokio::test]
async fn an_in_memory_database_is_refused_clearly() {
    let options = OpenOptions { max_connections: 1, connect_timeout: Duration::from_secs(5) };
    for url in ["sqlite::memory:", "sqlite://file:x?mode=memory&cache=shared"] {
        let err = Store::open(url, &options).await.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err.contains("in-memory SQLite database"), "{url}: {err}");
    }
}

/// Only the audit benchmark may take a store whose changes commit without their records: no
/// other crate's code or tests call it.
#[test]
fn only_the_benchmark_switches_auditing_off() {
    fn sources(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            let path = e.path();
            if path.is_dir() {
                sources(&path, out);
            } else if path.extension().is_some_and(|x| x == "rs") {
                out.push(path);
            }
        }
    }
    let crates = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut files = Vec::new();
    sources(&crates, &mut files);
    assert!(files.len() > 50, "the workspace's sources are found: {}", files.len());
    let call = concat!(".benchmark", "_baseline(");
    let callers: Vec<_> = files
        .iter()
        .filter(|f| !f.starts_with(crates.join("bench")))
        .filter(|f| std::fs::read_to_string(f).unwrap().contains(call))
        .collect();
    assert!(callers.is_empty(), "{callers:?}");
}

/// Ends every other session on the database at `url`, as a restart or an administrator does;
/// at least `at_least` were open.
async fn end_sessions(url: &str, at_least: usize) {
    let mut admin = <sqlx::PgConnection as sqlx::Connection>::connect(url).await.unwrap();
    let ended: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()",
    )
    .fetch_all(&mut admin)
    .await
    .unwrap();
    assert!(ended.len() >= at_least && ended.iter().all(|e| *e), "{ended:?}");
}

/// PostgreSQL ends the sessions of pooled connections (as a restart or an administrator does)
/// while they sit in the pool, too recently used to be pinged: the next transactions begin on
/// fresh connections, and their changes commit with their records.
#[tokio::test]
async fn connections_the_server_ended_are_replaced_when_a_transaction_begins() {
    if !deskward_testkit::postgres_available("ended connections on postgres") {
        return;
    }
    let url = deskward_testkit::fresh_database().await.unwrap();
    let store = open(&url, 3).await;
    let domain = domain(&store).await;
    // Three transactions at once leave three connections in the pool.
    let (a, b, c) = (store.begin().await.unwrap(), store.begin().await.unwrap(), store.begin().await.unwrap());
    for tx in [a, b, c] {
        tx.commit_unaudited(Housekeeping::BenchmarkBaseline).await.unwrap();
    }
    end_sessions(&url, 3).await;
    for n in 0..3 {
        let mut tx = store.begin().await.unwrap();
        GroupRow::insert(&mut tx, domain, &format!("g{n}")).await.unwrap();
        tx.commit(entry(n)).await.unwrap();
    }
    assert_eq!(groups(&store, domain).await, ["g0", "g1", "g2"]);
    assert_eq!(verified_chain(&store).await, ["group:g0", "group:g1", "group:g2"]);
}

/// PostgreSQL ends the sessions of pooled connections while they sit in the pool, too
/// recently used to be pinged. The first read that gets one fails (nothing tells a client its
/// idle connection ended before it sends on it), but the pool then checks every connection
/// that went idle before that failure, so the reads after it succeed.
#[tokio::test]
async fn after_a_read_finds_its_connection_ended_the_other_idle_ones_are_checked_first() {
    if !deskward_testkit::postgres_available("ended connections on postgres") {
        return;
    }
    let url = deskward_testkit::fresh_database().await.unwrap();
    let store = open(&url, 3).await;
    let domain = domain(&store).await;
    // Three reads at once leave three connections in the pool.
    let held = (store.conn().await.unwrap(), store.conn().await.unwrap(), store.conn().await.unwrap());
    drop(held);
    end_sessions(&url, 3).await;
    let mut failed = Vec::new();
    for n in 0..6 {
        let mut c = store.conn().await.unwrap();
        if let Err(e) = GroupRow::list(&mut c, domain).await {
            failed.push(format!("read {n}: {e}"));
        }
    }
    // At most the first: another test of this process may have noticed a loss already.
    assert!(failed.len() <= 1, "{failed:?}");
}

/// Many transactions append to one chain at once, and some fail at their COMMIT (a deferred
/// check) after their record was written: every committed change has its record, in one
/// unbroken chain, and no refused change left one. On PostgreSQL the next append of a chain is
/// sent while the one before it is still committing, so this is the failure it must survive.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_refused_at_commit_among_concurrent_ones_leave_the_chain_whole() {
    let (_dir, urls) = common::urls("store transactions on postgres").await;
    for (backend, url) in urls {
        let store = open(&url, 4).await;
        let d = domain(&store).await;
        let deferred = match backend {
            Backend::Sqlite => {
                "CREATE TABLE parents (id INTEGER PRIMARY KEY); \
                 CREATE TABLE deferred_check (n INTEGER REFERENCES parents (id) DEFERRABLE INITIALLY DEFERRED)"
            }
            Backend::Postgres => {
                "CREATE TABLE deferred_check (n BIGINT); \
                 CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'refused at commit'; END $$; \
                 CREATE CONSTRAINT TRIGGER refuse_at_commit AFTER INSERT ON deferred_check \
                 DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION refuse()"
            }
        };
        let mut c = store.conn().await.unwrap();
        sqlx::raw_sql(deferred).execute(&mut *c).await.unwrap();
        drop(c);
        let mut tasks = Vec::new();
        for t in 0..6 {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                let mut committed = Vec::new();
                for i in 0..20 {
                    let n = t * 100 + i;
                    let mut tx = store.begin().await.unwrap();
                    GroupRow::insert(&mut tx, d, &format!("g{n}")).await.unwrap();
                    let refused = n % 7 == 3;
                    if refused {
                        sqlx::query("INSERT INTO deferred_check (n) VALUES ($1)").bind(i64::try_from(n).unwrap()).execute(tx.conn()).await.unwrap();
                    }
                    match tx.commit(entry(n)).await {
                        Ok(()) => {
                            assert!(!refused, "g{n} committed despite its deferred check");
                            committed.push(format!("g{n}"));
                        }
                        Err(e) => assert!(refused, "g{n} failed: {e}"),
                    }
                }
                committed
            }));
        }
        let mut committed = Vec::new();
        for t in tasks {
            committed.extend(t.await.unwrap());
        }
        committed.sort();
        let mut stored = groups(&store, d).await;
        stored.sort();
        assert_eq!(stored, committed, "{backend:?}");
        let mut recorded: Vec<String> = verified_chain(&store).await.into_iter().map(|t| t.trim_start_matches("group:").to_owned()).collect();
        recorded.sort();
        assert_eq!(recorded, committed, "{backend:?}: records and committed changes differ");
        assert!(committed.len() > 90 && committed.len() < 120, "{backend:?}: {} committed", committed.len());
    }
}

/// Concurrent changes of one process in one chain each move the head with one compare-and-set:
/// on PostgreSQL the next append is sent while the one before it commits and waits for the
/// head row, so none should find the head moved and take the slow path (three more round
/// trips). Only the chain's very first append, which creates the head, reads it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_changes_of_one_process_need_no_slow_append() {
    let (_dir, urls) = common::urls("store transactions on postgres").await;
    for (backend, url) in urls {
        let store = open(&url, 5).await;
        let d = domain(&store).await;
        add_group(&store, d, 0).await;
        let before = store.audit_slow_appends();
        let mut tasks = Vec::new();
        for t in 1..=4 {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                for i in 0..50 {
                    add_group(&store, d, t * 100 + i).await;
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        // A turn not given within a second is skipped (correct, only slower), which a loaded
        // machine may cause once or twice; the bug this guards against made a sixth of them slow.
        let slow = store.audit_slow_appends() - before;
        assert!(slow <= 2, "{backend:?}: {slow} of 200 appends found the head moved");
        assert_eq!(verified_chain(&store).await.len(), 201, "{backend:?}");
    }
}

/// On PostgreSQL the last record travels with the COMMIT in a simple-protocol message, where
/// its values are literals (`audit.rs`): every value must arrive exactly as given, however it
/// is quoted, and must not end the literal early. Checked with `standard_conforming_strings`
/// both on and off, which changes how PostgreSQL reads backslashes in plain literals.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn record_values_arrive_exactly_however_they_are_quoted() {
    let hostile = [
        "'",
        "''",
        "\\",
        "\\'",
        "'\\",
        "E'x'",
        "$$; COMMIT; $$",
        "'); DELETE FROM audit_records; --",
        "\\'); DROP TABLE audit_chains; --",
        "line\nbreak\r\ttab",
        "\u{7f}\u{1b}[31m",
        "ünïcödé ✓ 日本語 👩‍💻 \u{202e}",
        "",
    ];
    let mut values: Vec<String> = hostile.iter().map(|s| (*s).to_owned()).collect();
    // And random mixes of what quoting cares about.
    let alphabet: Vec<char> = "'\\\"$;E x\n\u{e9}\u{1f600}".chars().collect();
    for _ in 0..40 {
        let len = rand::random_range(1..30);
        values.push((0..len).map(|_| alphabet[rand::random_range(0..alphabet.len())]).collect());
    }
    let (_dir, urls) = common::urls("store transactions on postgres").await;
    for (backend, url) in urls {
        for conforming in [true, false] {
            if backend == Backend::Sqlite && !conforming {
                continue;
            }
            if backend == Backend::Postgres {
                let name = url.rsplit('/').next().unwrap();
                let set = format!("ALTER DATABASE {name} SET standard_conforming_strings = {}", if conforming { "on" } else { "off" });
                let mut c = <sqlx::AnyConnection as sqlx::Connection>::connect(&url).await.unwrap();
                sqlx::raw_sql(sqlx::AssertSqlSafe(set)).execute(&mut c).await.unwrap();
            }
            let store = open(&url, 2).await;
            let found = DomainRow::find(&mut store.conn().await.unwrap(), CHAIN).await.unwrap();
            let d = match found {
                Some(d) => d.id,
                None => domain(&store).await,
            };
            let folded = store.audit_folded_appends();
            for (i, v) in values.iter().enumerate() {
                let mut tx = store.begin().await.unwrap();
                let n = if conforming { i } else { 1000 + i };
                GroupRow::insert(&mut tx, d, &format!("g{n}")).await.unwrap();
                let mut e = entry(n);
                (e.actor, e.source_host, e.target, e.summary, e.acting) = (v.clone(), v.clone(), format!("group:g{n}"), v.clone(), v.clone());
                tx.commit(e).await.unwrap();
            }
            if backend == Backend::Postgres {
                // The first commit of a store reads the chain's head; every later one folds.
                assert!(store.audit_folded_appends() - folded >= values.len() as u64 - 1, "the records did not travel with their COMMIT");
            }
            let mut c = store.conn().await.unwrap();
            let records = deskward_store::audit::after(&mut c, CHAIN, 0, 1000).await.unwrap();
            let offset = if conforming { 0 } else { values.len() };
            for (i, v) in values.iter().enumerate() {
                let r = &records[offset + i];
                assert_eq!((&r.actor, &r.source_host, &r.summary, &r.acting), (v, v, v, v), "{backend:?}, conforming strings {conforming}");
            }
            drop(c);
            assert_eq!(verified_chain(&store).await.len(), offset + values.len(), "{backend:?}");
            store.close().await;
        }
    }
}
