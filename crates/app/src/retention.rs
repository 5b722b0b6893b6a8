//! Audit retention: each domain may keep its audit records in the store for a number of days;
//! older days are archived to files (by the server, which owns files) and then removed here,
//! in a transaction that records the archiving in the same chain. The chain's head keeps the
//! last archived record's hash, so the store's chain still verifies from that boundary.

use deskward_core::audit::{Record, conversation_chain, day_of};
use deskward_store::DomainRow;
use deskward_store::audit as records;
use serde_json::json;

use crate::domains::administered;
use crate::{App, AppError, Caller};

/// Longest retention accepted: 100 years.
pub const MAX_RETENTION_DAYS: u32 = 36_500;

impl App {
    /// Sets how many days `domain`'s audit records stay in the store (`None`: forever). Only
    /// a system admin may: a domain admin shortening it could hide their own tracks.
    pub async fn set_audit_retention(&self, caller: &Caller, domain: &str, days: Option<u32>) -> Result<DomainRow, AppError> {
        caller.actor.may_manage_domains("change how long audit records are kept")?;
        if let Some(d) = days
            && !(1..=MAX_RETENTION_DAYS).contains(&d)
        {
            return Err(AppError::Invalid(format!("audit retention must be 1 to {MAX_RETENTION_DAYS} days, or none to keep records forever")));
        }
        let mut tx = self.store.begin().await?;
        let mut row = administered(tx.conn(), &caller.actor, domain).await?;
        let days = days.map(i64::from);
        DomainRow::set_audit_retention(&mut tx, row.id, days).await?;
        let summary = json!({ "from": row.audit_retention_days, "to": days });
        tx.commit(self.entry(caller, &row.name, "domain.audit_retention", format!("domain:{}", row.name), summary)).await?;
        row.audit_retention_days = days;
        Ok(row)
    }

    /// The days of each chain (a domain's audit chain and its conversation log) that are older
    /// than the domain's retention, oldest first.
    pub async fn audit_due(&self) -> Result<Vec<(String, Vec<String>)>, AppError> {
        let mut c = self.store.conn().await?;
        let now = self.now();
        let mut due = Vec::new();
        for d in DomainRow::list(&mut c).await? {
            let Some(keep) = d.audit_retention_days else { continue };
            let cutoff = day_of(now - keep * 86_400);
            // The domain's conversation log is kept as long as its audit log.
            for chain in [d.name.clone(), conversation_chain(&d.name)] {
                let days: Vec<String> =
                    records::days(&mut c, &chain).await?.into_iter().map(|(day, _)| day).filter(|day| *day < cutoff).collect();
                if !days.is_empty() {
                    due.push((chain, days));
                }
            }
        }
        Ok(due)
    }

    /// Removes the records of `chain` up to `through` (whose days were written to files) and
    /// records that it did.
    pub async fn audit_archived(&self, caller: &Caller, chain: &str, through: &Record, count: usize, days: &[String]) -> Result<u64, AppError> {
        let mut tx = self.store.begin().await?;
        let removed = records::remove_archived(&mut tx, chain, through.seq, &through.hash).await?;
        let summary = json!({
            "through_seq": through.seq,
            "through_hash": through.hash,
            "records": count,
            "first_day": days.first(),
            "last_day": days.last(),
        });
        tx.commit(self.entry(caller, chain, "audit.archive", format!("audit:{chain}"), summary)).await?;
        Ok(removed)
    }
}
