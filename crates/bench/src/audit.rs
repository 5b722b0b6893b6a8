//! `scripts/bench audit [RECORDS]`: what the audit log costs.
//!
//! 1. Audited changes per second against the same changes committed without their record, in
//!    one run, on SQLite and (when `DESKWARD_TEST_POSTGRES_ADMIN_URL` is set) PostgreSQL. The
//!    change is a group insert in its own transaction; rounds alternate so noise hits both,
//!    and the median of the paired rounds' ratios is printed beside the overall one.
//! 2. The same through the API router: an administrator's group creations, audited and not
//!    (`audit_api.rs`), on both stores. PostgreSQL is measured twice: with `fsync` off (what
//!    the engine's work costs) and on (as a server is installed: every commit waits for the
//!    disk, and the changes of one domain wait for each other's commits, see
//!    `docs/audit.md`). Beside them, one round trip to PostgreSQL is timed: an audited change
//!    makes exactly one more than the same change without its record.
//! 3. Verification speed: a chain of RECORDS records (default 1,000,000) is written to a
//!    SQLite database, then `deskward audit verify` walks it as an operator would.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context;
use deskward_store::{Audit, AuditEntry, GroupRow, Housekeeping, OpenOptions, Store};

/// Pairs of rounds, each an audited round and a plain one, in alternating order.
const ROUNDS: usize = 15;
const PER_ROUND: usize = 300;

fn entry(i: usize) -> AuditEntry {
    AuditEntry {
        chain: "bench.test".into(),
        at: 1_795_435_445 + i64::try_from(i).unwrap_or(0) / 50,
        security: false,
        action: "group.create".into(),
        actor: "admin@bench.test".into(),
        source_ip: "192.0.2.10".into(),
        source_host: String::new(),
        target: format!("group:g{i}"),
        summary: "{}".into(),
        acting: String::new(),
    }
}

async fn open(url: &str) -> anyhow::Result<(Store, i64)> {
    let store = Store::open(url, &OpenOptions { max_connections: 4, connect_timeout: Duration::from_secs(5) }).await?;
    let mut tx = store.begin().await?;
    let domain = deskward_store::DomainRow::insert(&mut tx, "bench.test", 0).await?;
    tx.commit_unaudited(Housekeeping::BenchmarkBaseline).await?;
    Ok((store, domain.id))
}

/// Changes per second with and without their audit record, and the median of the ratios of
/// each pair of neighbouring rounds: a burst of load from elsewhere on the machine then moves
/// one pair, not the figure.
async fn rates(store: &Store, domain: i64) -> anyhow::Result<(f64, f64, f64)> {
    let mut pairs = Vec::new();
    let mut n = 0;
    for round in 0..ROUNDS {
        let mut took = [Duration::ZERO; 2];
        for with_audit in [round % 2 == 0, round % 2 == 1] {
            let start = Instant::now();
            for _ in 0..PER_ROUND {
                n += 1;
                let mut tx = store.begin().await?;
                GroupRow::insert(&mut tx, domain, &format!("g{n}")).await?;
                if with_audit {
                    tx.commit(entry(n)).await?;
                } else {
                    tx.commit_unaudited(Housekeeping::BenchmarkBaseline).await?;
                }
            }
            took[usize::from(with_audit)] = start.elapsed();
        }
        pairs.push(took);
    }
    Ok(paired_rates(&pairs, PER_ROUND))
}

/// The median time of a one-row read on a pooled connection: the price of one round trip.
async fn round_trip(store: &Store) -> anyhow::Result<Duration> {
    let mut conn = store.conn().await?;
    let mut times = Vec::with_capacity(2000);
    for _ in 0..2000 {
        let start = Instant::now();
        deskward_store::auth_epoch::current(&mut conn).await?;
        times.push(start.elapsed());
    }
    times.sort();
    Ok(times.get(times.len() / 2).copied().unwrap_or_default())
}

/// Changes per second with and without audit, overall, and the median of the pairs' ratios,
/// from pairs of rounds of `per_round` changes: each pair's time without audit, then with.
pub(crate) fn paired_rates(pairs: &[[Duration; 2]], per_round: usize) -> (f64, f64, f64) {
    let plain: Duration = pairs.iter().map(|p| p[0]).sum();
    let audited: Duration = pairs.iter().map(|p| p[1]).sum();
    let mut ratios: Vec<f64> = pairs.iter().map(|p| p[0].as_secs_f64() / p[1].as_secs_f64()).collect();
    ratios.sort_by(f64::total_cmp);
    let changes = (pairs.len() * per_round) as f64;
    (changes / audited.as_secs_f64(), changes / plain.as_secs_f64(), ratios.get(ratios.len() / 2).copied().unwrap_or(0.0))
}

/// Appends that had to read their chain's head: one per chain it created; more means
/// concurrent changes of one process fell off the one-statement path.
fn slow_appends(what: &str, store: &Store) {
    println!("{what}: {} appends found their chain's head moved and read it (1 per new chain is expected)", store.audit_slow_appends());
}

fn report(what: &str, (audited, plain, median): (f64, f64, f64)) {
    let added_us = (1.0 / audited - 1.0 / plain) * 1e6;
    println!(
        "{what}: audited changes/s {audited:.0}, without audit {plain:.0} = {:.2}; median of the paired rounds {median:.2} (target >= 0.80); the record adds {added_us:.0} us per change",
        audited / plain
    );
}

pub async fn run(bin: &Path, records: usize) -> anyhow::Result<()> {
    println!("deskward audit benchmark: pairs of rounds of changes, audited and not, per store: {ROUNDS} pairs of {PER_ROUND} in the store, 11 pairs of 400 through the API");
    let dir = std::env::temp_dir().join(format!("deskward-bench-audit-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("data"))?;
    let sqlite = format!("sqlite://{}?mode=rwc", dir.join("data/deskward.db").display());
    let (store, domain) = open(&sqlite).await?;
    report("SQLite, store (a group insert in its own transaction)", rates(&store, domain).await?);
    report("SQLite, API (an administrator creates a group)", crate::audit_api::rates(&store).await?);
    slow_appends("SQLite", &store);
    if std::env::var("DESKWARD_TEST_POSTGRES_ADMIN_URL").is_ok() {
        for (fsync, what) in [(false, "fsync off"), (true, "fsync on, as installed")] {
            deskward_testkit::set_fsync(fsync).await?;
            let (pg, pg_domain) = open(&deskward_testkit::fresh_database().await?).await?;
            if !fsync {
                println!("PostgreSQL: one round trip (a one-row read) takes {:.0} us", round_trip(&pg).await?.as_secs_f64() * 1e6);
            }
            report(&format!("PostgreSQL ({what}), store (a group insert in its own transaction)"), rates(&pg, pg_domain).await?);
            report(&format!("PostgreSQL ({what}), API (an administrator creates a group)"), crate::audit_api::rates(&pg).await?);
            slow_appends(&format!("PostgreSQL ({what})"), &pg);
            println!(
                "PostgreSQL ({what}): {} appends travelled with their COMMIT (the others were sent alone while another change of the domain waited)",
                pg.audit_folded_appends()
            );
            pg.close().await;
        }
        deskward_testkit::set_fsync(false).await?;
    } else {
        println!("PostgreSQL: skipped (set DESKWARD_TEST_POSTGRES_ADMIN_URL, as scripts/bench does)");
    }

    // A long chain, written in transactions of 10,000 records.
    let start = Instant::now();
    let mut written = 0;
    while written < records {
        let n = (records - written).min(10_000);
        let batch = Audit::many((written..written + n).map(entry).collect()).context("empty batch")?;
        let tx = store.begin().await?;
        tx.commit(batch).await?;
        written += n;
    }
    println!("wrote a chain of {records} records in {:.1} s ({:.0} records/s)", start.elapsed().as_secs_f64(), records as f64 / start.elapsed().as_secs_f64());
    store.close().await;
    let start = Instant::now();
    let out = std::process::Command::new(bin)
        .args(["--data-dir"])
        .arg(dir.join("data"))
        .args(["audit", "verify", "--domain", "bench.test"])
        .env("DESKWARD_LOG", "warn")
        .output()?;
    let took = start.elapsed().as_secs_f64();
    anyhow::ensure!(out.status.success(), "verify failed: {}", String::from_utf8_lossy(&out.stderr));
    let total = records + ROUNDS * PER_ROUND;
    println!("deskward audit verify of {total} records: {took:.2} s = {:.0} records/s", total as f64 / took);
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}
