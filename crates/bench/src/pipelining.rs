//! `scripts/bench pipelining`: what the audit record would cost on PostgreSQL with a driver
//! that pipelines, measured with tokio-postgres on the benchmark's cluster, beside the way the
//! store sends it now (sqlx cannot pipeline). One client makes the smallest change, a group
//! insert in its own transaction, in rounds of each kind, alternated:
//!
//! 1. without its record, 3 round trips (BEGIN, INSERT, COMMIT);
//! 2. with its record appended as the store does it, 4 round trips;
//! 3. with the append and the COMMIT sent together, 3 round trips;
//! 4. and 5. the same two with BEGIN and the INSERT sent together too (2 round trips each).
//!
//! The tables and the append statement have the store's shape; the record is hashed as the
//! store hashes it. Both with `fsync` off and on (as a server is installed).

use std::time::{Duration, Instant};

use anyhow::Context;
use deskward_core::audit::{GENESIS, Record};
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, NoTls, Statement};

const SCHEMA: &str = "CREATE TABLE account_groups (id BIGINT PRIMARY KEY, domain_id BIGINT NOT NULL, name TEXT NOT NULL, UNIQUE (domain_id, name)); \
     CREATE TABLE audit_chains (chain TEXT PRIMARY KEY, seq BIGINT NOT NULL, hash TEXT NOT NULL); \
     CREATE TABLE audit_records (chain TEXT NOT NULL, seq BIGINT NOT NULL, at BIGINT NOT NULL, day TEXT NOT NULL, security BIGINT NOT NULL, \
     action TEXT NOT NULL, actor TEXT NOT NULL, source_ip TEXT NOT NULL, source_host TEXT NOT NULL, target TEXT NOT NULL, summary TEXT NOT NULL, \
     prev_hash TEXT NOT NULL, hash TEXT NOT NULL, acting TEXT NOT NULL, PRIMARY KEY (chain, seq)); \
     INSERT INTO audit_chains VALUES ('bench.test', 0, '0000000000000000000000000000000000000000000000000000000000000000')";

/// The store's compare-and-set append (`APPEND_POSTGRES`), without the day columns.
const APPEND: &str = "WITH moved AS (UPDATE audit_chains SET \
     seq = CASE WHEN seq = $15 AND hash = $16 THEN $2 ELSE seq END, \
     hash = CASE WHEN seq = $15 AND hash = $16 THEN $13 ELSE hash END \
     WHERE chain = $1 RETURNING seq, hash) \
     INSERT INTO audit_records (chain, seq, at, day, security, action, actor, source_ip, source_host, target, summary, prev_hash, hash, acting) \
     SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14 FROM moved WHERE moved.seq = $2 AND moved.hash = $13";

const ROUNDS: usize = 15;
const PER_ROUND: usize = 300;
const KINDS: [&str; 5] = [
    "without the record, 3 round trips",
    "with it, 4 round trips (as the store sends it)",
    "with it, the append and COMMIT together, 3",
    "without the record, BEGIN and INSERT together, 2",
    "with it, both pairs together, 2",
];

struct Chain {
    seq: i64,
    hash: String,
}

struct Statements {
    insert: Statement,
    append: Statement,
}

/// The next record of the chain for change `n`, hashed as the store hashes it.
fn record(chain: &Chain, n: i64) -> Record {
    let mut r = Record {
        chain: "bench.test".into(),
        seq: chain.seq + 1,
        at: 1_795_435_445 + n / 50,
        security: false,
        action: "group.create".into(),
        actor: "admin@bench.test".into(),
        source_ip: "192.0.2.10".into(),
        source_host: String::new(),
        target: format!("group:g{n}"),
        summary: "{}".into(),
        acting: String::new(),
        prev_hash: chain.hash.clone(),
        hash: String::new(),
    };
    r.hash = r.compute_hash();
    r
}

async fn append(c: &Client, s: &Statements, chain: &Chain, n: i64) -> anyhow::Result<Record> {
    let r = record(chain, n);
    let day = deskward_core::audit::day_of(r.at);
    let security = i64::from(r.security);
    let p: [&(dyn ToSql + Sync); 16] =
        [&r.chain, &r.seq, &r.at, &day, &security, &r.action, &r.actor, &r.source_ip, &r.source_host, &r.target, &r.summary, &r.prev_hash, &r.hash, &r.acting, &chain.seq, &chain.hash];
    anyhow::ensure!(c.execute(&s.append, &p).await? == 1, "the chain's head moved");
    Ok(r)
}

/// One change of `kind` (an index into [`KINDS`]); the chain's new head when it has a record.
async fn change(c: &Client, s: &Statements, chain: &Chain, n: i64, kind: usize) -> anyhow::Result<Option<Record>> {
    let name = format!("g{n}");
    let insert: [&(dyn ToSql + Sync); 3] = [&n, &1_i64, &name];
    if kind >= 3 {
        let (begun, inserted) = futures_util::join!(c.batch_execute("BEGIN"), c.execute(&s.insert, &insert));
        begun?;
        inserted?;
    } else {
        c.batch_execute("BEGIN").await?;
        c.execute(&s.insert, &insert).await?;
    }
    Ok(match kind {
        0 | 3 => {
            c.batch_execute("COMMIT").await?;
            None
        }
        1 => {
            let r = append(c, s, chain, n).await?;
            c.batch_execute("COMMIT").await?;
            Some(r)
        }
        _ => {
            let (r, committed) = futures_util::join!(append(c, s, chain, n), c.batch_execute("COMMIT"));
            committed?;
            Some(r?)
        }
    })
}

/// Changes per second of each kind on a fresh database at `url`.
async fn rates(url: &str) -> anyhow::Result<[f64; 5]> {
    let (c, connection) = tokio_postgres::connect(url, NoTls).await?;
    tokio::spawn(connection);
    c.batch_execute(SCHEMA).await?;
    let s = Statements { insert: c.prepare("INSERT INTO account_groups (id, domain_id, name) VALUES ($1, $2, $3)").await?, append: c.prepare(APPEND).await? };
    let mut chain = Chain { seq: 0, hash: GENESIS.into() };
    let mut took = [Duration::ZERO; 5];
    let mut n = 0_i64;
    for _ in 0..ROUNDS {
        for (kind, total) in took.iter_mut().enumerate() {
            let start = Instant::now();
            for _ in 0..PER_ROUND {
                n += 1;
                if let Some(r) = change(&c, &s, &chain, n, kind).await? {
                    chain = Chain { seq: r.seq, hash: r.hash };
                }
            }
            *total += start.elapsed();
        }
    }
    Ok(took.map(|t| (ROUNDS * PER_ROUND) as f64 / t.as_secs_f64()))
}

pub async fn run() -> anyhow::Result<()> {
    std::env::var("DESKWARD_TEST_POSTGRES_ADMIN_URL").context("set DESKWARD_TEST_POSTGRES_ADMIN_URL, as scripts/bench does")?;
    println!("deskward pipelining benchmark: the smallest change on PostgreSQL through tokio-postgres, {ROUNDS} rounds of {PER_ROUND} of each kind, one client");
    for (fsync, what) in [(false, "fsync off"), (true, "fsync on, as installed")] {
        deskward_testkit::set_fsync(fsync).await?;
        let r = rates(&deskward_testkit::fresh_database().await?).await?;
        for (kind, rate) in KINDS.iter().zip(r) {
            println!("{what}: {kind}: {rate:.0} changes/s");
        }
        println!("{what}: audited/unaudited as the store sends them {:.2}; with the append and COMMIT together {:.2}; with both pairs together {:.2} (target >= 0.80)", r[1] / r[0], r[2] / r[0], r[4] / r[3]);
    }
    deskward_testkit::set_fsync(false).await?;
    Ok(())
}
