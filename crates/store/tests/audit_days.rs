//! A chain's days as the store finds them from its seals and head (no by-day index): the same
//! days, counts and records as the records' own day column says, across days without records,
//! an archived boundary and days after the head, on SQLite and on PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use deskward_core::audit::day_start;
use deskward_store::{Audit, AuditEntry, OpenOptions, Store, audit};
use sqlx::Row;

const CHAIN: &str = "days.test";

fn entry(day: &str, n: usize) -> AuditEntry {
    AuditEntry {
        chain: CHAIN.into(),
        at: day_start(day).unwrap() + 3600 + i64::try_from(n).unwrap(),
        security: false,
        action: "group.create".into(),
        actor: "admin@days.test".into(),
        source_ip: "192.0.2.1".into(),
        source_host: String::new(),
        target: format!("group:{day}-{n}"),
        summary: "{}".into(),
        acting: String::new(),
    }
}

/// What the records' day column says: each day with its count, and each day's targets.
async fn by_column(store: &Store) -> Vec<(String, i64, Vec<String>)> {
    let mut c = store.conn().await.unwrap();
    let rows = sqlx::query("SELECT day, target FROM audit_records WHERE chain = $1 ORDER BY seq")
        .bind(CHAIN)
        .fetch_all(&mut *c)
        .await
        .unwrap();
    let mut out: Vec<(String, i64, Vec<String>)> = Vec::new();
    for r in rows {
        let (day, target): (String, String) = (r.get("day"), r.get("target"));
        match out.last_mut() {
            Some(last) if last.0 == day => {
                last.1 += 1;
                last.2.push(target);
            }
            _ => out.push((day, 1, vec![target])),
        }
    }
    out
}

/// What `days` and `of_day` say.
async fn by_seals(store: &Store) -> Vec<(String, i64, Vec<String>)> {
    let mut c = store.conn().await.unwrap();
    let mut out = Vec::new();
    for (day, n) in audit::days(&mut c, CHAIN).await.unwrap() {
        let targets = audit::of_day(&mut c, CHAIN, &day).await.unwrap().into_iter().map(|r| r.target).collect();
        out.push((day, n, targets));
    }
    out
}

async fn commit(store: &Store, entries: Vec<AuditEntry>) {
    let tx = store.begin().await.unwrap();
    tx.commit(Audit::many(entries).unwrap()).await.unwrap();
}

#[tokio::test]
async fn days_are_found_from_the_seals_as_the_records_say() {
    let (_dir, urls) = common::urls("audit days on postgres").await;
    for (backend, url) in urls {
        let store = Store::open(&url, &OpenOptions { max_connections: 2, connect_timeout: Duration::from_secs(5) }).await.unwrap();
        // Three records on the 1st (two in one transaction), none on the 2nd, two on the 3rd,
        // one on the 5th, written by separate transactions and one spanning a day change.
        commit(&store, vec![entry("2026-03-01", 0), entry("2026-03-01", 1)]).await;
        commit(&store, vec![entry("2026-03-01", 2)]).await;
        commit(&store, vec![entry("2026-03-03", 0), entry("2026-03-03", 1), entry("2026-03-05", 0)]).await;
        let expected = by_column(&store).await;
        assert_eq!(
            expected.iter().map(|(d, n, _)| (d.as_str(), *n)).collect::<Vec<_>>(),
            [("2026-03-01", 3), ("2026-03-03", 2), ("2026-03-05", 1)],
            "{backend:?}"
        );
        assert_eq!(by_seals(&store).await, expected, "{backend:?}");

        // Days without records, before the first and after the head, have none.
        let mut c = store.conn().await.unwrap();
        for day in ["2026-02-28", "2026-03-02", "2026-03-04", "2026-03-06"] {
            assert!(audit::of_day(&mut c, CHAIN, day).await.unwrap().is_empty(), "{backend:?} {day}");
        }
        drop(c);

        // Retention removes the 1st: the store's days start at the 3rd.
        let mut c = store.conn().await.unwrap();
        let last = audit::of_day(&mut c, CHAIN, "2026-03-01").await.unwrap().pop().unwrap();
        drop(c);
        let mut tx = store.begin().await.unwrap();
        assert_eq!(audit::remove_archived(&mut tx, CHAIN, last.seq, &last.hash).await.unwrap(), 3);
        tx.commit(entry("2026-03-05", 1)).await.unwrap();
        let expected = by_column(&store).await;
        assert_eq!(expected.iter().map(|(d, n, _)| (d.as_str(), *n)).collect::<Vec<_>>(), [("2026-03-03", 2), ("2026-03-05", 2)]);
        assert_eq!(by_seals(&store).await, expected, "{backend:?}");

        // A clock set back across midnight: the record is stamped at the start of the chain's
        // day, so the day it is listed under, its seal and its own date agree.
        commit(&store, vec![entry("2026-03-04", 0)]).await;
        commit(&store, vec![entry("2026-03-06", 0)]).await;
        let mut c = store.conn().await.unwrap();
        let fifth = audit::of_day(&mut c, CHAIN, "2026-03-05").await.unwrap();
        assert_eq!(fifth.iter().map(|r| r.target.as_str()).collect::<Vec<_>>(), ["group:2026-03-05-0", "group:2026-03-05-1", "group:2026-03-04-0"], "{backend:?}");
        assert_eq!(fifth[2].at, day_start("2026-03-05").unwrap(), "{backend:?}");
        let seal = audit::seals(&mut c, CHAIN).await.unwrap().pop().unwrap();
        assert_eq!((seal.day.as_str(), seal.last_seq, seal.last_hash.as_str(), seal.records), ("2026-03-05", fifth[2].seq, fifth[2].hash.as_str(), 3));
        drop(c);
        assert_eq!(by_seals(&store).await, by_column(&store).await, "{backend:?}");

        // Every record's hash links it to the one before, from the archived boundary to the
        // head, as `deskward audit verify` checks (on PostgreSQL the database linked them).
        let mut c = store.conn().await.unwrap();
        let head = audit::head(&mut c, CHAIN).await.unwrap().unwrap();
        let mut check = deskward_core::audit::ChainCheck::after(CHAIN, head.archived_seq, &head.archived_hash);
        for r in audit::after(&mut c, CHAIN, head.archived_seq, 100).await.unwrap() {
            assert_eq!(r.hash, r.compute_hash(), "{backend:?}: {}", r.describe());
            check.push(&r).unwrap();
        }
        check.finish(head.seq, &head.hash).unwrap();
        assert_eq!(check.checked(), 6, "{backend:?}");
        drop(c);
        store.close().await;
    }
}
