//! The audit log from the use cases' side: who acts ([`Caller`]), the record each change
//! commits with, security events (written by a background writer so a flood of hostile
//! requests cannot stall changes), and the reads admins use: search, days, verification.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use deskward_core::audit::{Break, ChainCheck, Record, SYSTEM_CHAIN, clean_field, conversation_chain, conversations_of};
use deskward_core::authz::Actor;
use deskward_core::class::Features;
use deskward_core::{DomainName, Role};
use deskward_store::audit::{self as records, ChainHead, Filter, Seal};
use deskward_store::{Audit, AuditEntry, DomainRow};
use serde_json::json;
use tokio::sync::mpsc;

use crate::{App, AppError, EventLimit, Source};

/// Who performs an operation and from where: the authority checks read `actor`, the audit
/// records `name` and `source`.
#[derive(Debug, Clone)]
pub struct Caller {
    pub actor: Actor,
    /// `name@domain`, or `operator` for the host's command line.
    pub name: String,
    pub source: Source,
    /// What the caller's class lets them use; everything for the operator and the server.
    pub features: Features,
    /// The caller's group ids, for access decisions on shared items.
    pub groups: Vec<i64>,
    /// The administrator acting for this account (an impersonation session); their login is
    /// in every record the caller writes.
    pub acting: Option<String>,
}

impl Caller {
    /// The local operator at the host's command line.
    pub fn operator(host: &str) -> Caller {
        Caller {
            actor: Actor::Operator,
            name: "operator".into(),
            source: Source { ip: "local".into(), host: host.to_owned(), user_agent: String::new() },
            features: Features::ALL,
            groups: Vec::new(),
            acting: None,
        }
    }

    /// The server's own background work (retention), on this host.
    pub fn system(host: &str) -> Caller {
        Caller { name: "system".into(), ..Caller::operator(host) }
    }

    /// The chain the caller's security events go to: their domain's, or the system's.
    pub fn chain(&self) -> String {
        match self.name.rsplit_once('@') {
            Some((_, domain)) if !domain.is_empty() => domain.to_owned(),
            _ => SYSTEM_CHAIN.to_owned(),
        }
    }

    /// Nobody logged in: a login attempt, a request without a session.
    pub fn anonymous(source: Source) -> Caller {
        // The actor of an anonymous caller is never used for authority: no operation accepts it.
        Caller {
            actor: Actor::Account { account_id: 0, domain_id: 0, role: Role::User },
            name: "-".into(),
            source,
            features: Features::ALL,
            groups: Vec::new(),
            acting: None,
        }
    }
}

/// Security events waiting for the writer, the budget per source (`event_limit.rs`), and how
/// many were dropped because the writer fell behind.
#[derive(Debug)]
pub struct EventQueue {
    sender: OnceLock<mpsc::Sender<AuditEntry>>,
    dropped: AtomicU64,
    limit: EventLimit,
}

impl Default for EventQueue {
    fn default() -> Self {
        EventQueue::new(EventLimit::new(20, std::time::Duration::from_secs(60)))
    }
}

impl EventQueue {
    pub fn new(limit: EventLimit) -> EventQueue {
        EventQueue { sender: OnceLock::new(), dropped: AtomicU64::new(0), limit }
    }
}

/// Longest text a search looks for in summaries.
const MAX_SEARCH_TEXT: usize = 200;

/// Events queued before the writer falls behind; later ones are dropped and counted.
const QUEUE: usize = 4096;
/// Events written per transaction.
const BATCH: usize = 256;

impl App {
    /// The record of a change `caller` made in `chain` (a domain name).
    pub(crate) fn entry(&self, caller: &Caller, chain: &str, action: &str, target: String, summary: serde_json::Value) -> AuditEntry {
        AuditEntry {
            chain: chain.to_owned(),
            at: self.now(),
            security: false,
            action: action.to_owned(),
            actor: clean_field(&caller.name),
            source_ip: clean_field(&caller.source.ip),
            // A name resolved for an earlier request of the same client is used when the
            // caller does not carry one.
            source_host: clean_field(&match caller.source.host.is_empty() {
                true => self.host_names.cached(&caller.source.ip),
                false => caller.source.host.clone(),
            }),
            target: clean_field(&target),
            summary: summary.to_string(),
            acting: caller.acting.as_deref().map(clean_field).unwrap_or_default(),
        }
    }

    /// Records a security event. The server queues it for the background writer; the command
    /// line (no writer) writes it at once.
    pub async fn security_event(&self, caller: &Caller, chain: &str, action: &str, target: String, summary: serde_json::Value) {
        let mut entry = self.entry(caller, chain, action, target, summary);
        entry.security = true;
        tracing::info!(target: "deskward::security", chain = %entry.chain, action = %entry.action, actor = %entry.actor,
            ip = %entry.source_ip, subject = %entry.target, summary = %entry.summary, "security event");
        match self.events.sender.get() {
            // The server's events are budgeted per source; the command line's are not.
            Some(_) if !self.events.limit.admit(&entry.source_ip, &entry.action, &entry.chain) => {}
            Some(tx) => {
                if tx.try_send(entry).is_err() {
                    let n = self.events.dropped.fetch_add(1, Ordering::Relaxed) + 1;
                    if n.is_power_of_two() {
                        tracing::warn!(dropped = n, "security events arrive faster than they can be stored; some were dropped");
                    }
                }
            }
            None => {
                if let Err(e) = self.write_events(vec![entry]).await {
                    tracing::warn!(error = %e, "cannot store a security event");
                }
            }
        }
    }

    async fn write_events(&self, batch: Vec<AuditEntry>) -> Result<(), AppError> {
        let Some(audit) = Audit::many(batch) else { return Ok(()) };
        let tx = self.store.begin().await?;
        tx.commit(audit).await?;
        Ok(())
    }

    /// Starts the writer of security events.
    pub(crate) fn start_event_writer(&self) {
        let (tx, mut rx) = mpsc::channel::<AuditEntry>(QUEUE);
        if self.events.sender.set(tx).is_err() {
            return;
        }
        let app = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(app.events.limit.window().max(std::time::Duration::from_millis(100)));
            loop {
                let first = tokio::select! {
                    e = rx.recv() => match e {
                        Some(e) => e,
                        None => break,
                    },
                    _ = tick.tick() => {
                        app.write_suppressed().await;
                        continue;
                    }
                };
                let mut batch = vec![first];
                while batch.len() < BATCH {
                    match rx.try_recv() {
                        Ok(e) => batch.push(e),
                        Err(_) => break,
                    }
                }
                let n = batch.len();
                if let Err(e) = app.write_events(batch).await {
                    tracing::warn!(error = %e, events = n, "cannot store security events");
                }
            }
        });
    }

    /// Records, per (source, action), how many events the budget held back in the last window.
    async fn write_suppressed(&self) {
        let limit = &self.events.limit;
        let entries: Vec<AuditEntry> = limit
            .roll()
            .into_iter()
            .map(|s| {
                let caller = Caller::anonymous(Source { ip: s.source.clone(), host: String::new(), user_agent: String::new() });
                let summary = json!({
                    "action": s.action,
                    "suppressed": s.count,
                    "budget": limit.per_window(),
                    "window_seconds": limit.window().as_secs(),
                });
                let mut e = self.entry(&caller, &s.chain, "events.suppressed", format!("events:{}", s.action), summary);
                e.security = true;
                e
            })
            .collect();
        if !entries.is_empty() {
            tracing::warn!(sources = entries.len(), "security events over their budget were counted, not recorded");
            if let Err(e) = self.write_events(entries).await {
                tracing::warn!(error = %e, "cannot store the count of suppressed security events");
            }
        }
    }

    /// Records a server start with its version and effective settings in the system chain,
    /// and, as a security event, every setting that differs from the previous start.
    pub async fn record_start(&self, caller: &Caller, version: &str, settings: &[(&str, String)]) -> Result<(), AppError> {
        let mut c = self.store.conn().await?;
        let last = records::search(
            &mut c,
            &Filter { chain: Some(SYSTEM_CHAIN.into()), action: Some("server.start".into()), limit: 1, ..Filter::default() },
        )
        .await?;
        drop(c);
        let now: serde_json::Map<String, serde_json::Value> =
            settings.iter().map(|(k, v)| ((*k).to_owned(), serde_json::Value::String(v.clone()))).collect();
        let mut entries = vec![self.entry(caller, SYSTEM_CHAIN, "server.start", "server".into(), json!({ "version": version, "settings": now }))];
        let before = last.first().and_then(|r| serde_json::from_str::<serde_json::Value>(&r.summary).ok());
        if let Some(serde_json::Value::Object(before)) = before.as_ref().and_then(|b| b.get("settings")) {
            let mut changes = serde_json::Map::new();
            for key in before.keys().chain(now.keys()) {
                let (from, to) = (before.get(key), now.get(key));
                if from != to && !changes.contains_key(key) {
                    changes.insert(key.clone(), json!({ "from": from, "to": to }));
                }
            }
            if !changes.is_empty() {
                let mut e = self.entry(caller, SYSTEM_CHAIN, "settings.changed", "settings".into(), serde_json::Value::Object(changes));
                e.security = true;
                entries.push(e);
            }
        }
        let audit = Audit::many(entries).ok_or_else(|| AppError::Internal("no start record".into()))?;
        let tx = self.store.begin().await?;
        tx.commit(audit).await?;
        Ok(())
    }

    /// For the server's syslog forwarder: chains with records not yet forwarded. Conversation
    /// logs are not forwarded: a copy of users' messages in the SIEM would escape the domain's
    /// switch, its retention and its admins' access rules.
    pub async fn audit_unforwarded(&self) -> Result<Vec<ChainHead>, AppError> {
        let mut c = self.store.conn().await?;
        Ok(records::chains(&mut c)
            .await?
            .into_iter()
            .filter(|h| h.seq > h.forwarded_seq.max(h.archived_seq) && conversations_of(&h.chain).is_none())
            .collect())
    }

    /// For the forwarder: up to `limit` records of `chain` after `after`.
    pub async fn audit_after(&self, chain: &str, after: i64, limit: i64) -> Result<Vec<Record>, AppError> {
        let mut c = self.store.conn().await?;
        Ok(records::after(&mut c, chain, after, limit).await?)
    }

    /// For the forwarder: records up to `to` were sent; false when another node sent them first.
    pub async fn audit_forwarded(&self, chain: &str, from: i64, to: i64) -> Result<bool, AppError> {
        let mut c = self.store.conn().await?;
        Ok(records::set_forwarded(&mut c, chain, from, to).await?)
    }

    /// The chain `caller` may read: a system admin any (also a removed domain's or the
    /// system's); a domain admin only their own domain's. `None` means every chain the caller
    /// may read: all for a system admin, their own for a domain admin.
    async fn readable_chain(&self, caller: &Caller, chain: Option<&str>) -> Result<Option<String>, AppError> {
        let own = match caller.actor {
            Actor::Operator | Actor::Account { role: Role::SystemAdmin, .. } => {
                return match chain {
                    None => Ok(None),
                    Some(SYSTEM_CHAIN) => Ok(Some(SYSTEM_CHAIN.to_owned())),
                    Some(c) => match conversations_of(c) {
                        Some(d) => Ok(Some(conversation_chain(DomainName::parse(d)?.as_str()))),
                        None => Ok(Some(DomainName::parse(c)?.to_string())),
                    },
                };
            }
            Actor::Account { role: Role::DomainAdmin, domain_id, .. } => {
                let mut c = self.store.conn().await?;
                DomainRow::get(&mut c, domain_id).await?.ok_or(AppError::Unauthenticated)?.name
            }
            Actor::Account { .. } => return Err(AppError::Forbidden("reading the audit log requires administrator rights".into())),
        };
        match chain {
            None => Ok(Some(own)),
            Some(c) if c == own => Ok(Some(own)),
            Some(c) if conversations_of(c) == Some(own.as_str()) => Ok(Some(conversation_chain(&own))),
            Some(_) => Err(AppError::Forbidden("administrator rights for this domain are required".into())),
        }
    }

    /// Searches the records `caller` may read, newest first.
    pub async fn audit_search(&self, caller: &Caller, mut filter: Filter) -> Result<Vec<Record>, AppError> {
        filter.chain = self.readable_chain(caller, filter.chain.as_deref()).await?;
        // Logins are stored lowercased.
        filter.user = filter.user.map(|u| u.to_ascii_lowercase());
        if let Some(action) = &filter.action
            && (action.is_empty() || !action.bytes().all(|b| b.is_ascii_lowercase() || b == b'.' || b == b'_'))
        {
            return Err(AppError::Invalid(format!("action {action:?} is not an action name (like account.create, or account)")));
        }
        if let (Some(s), Some(u)) = (filter.since, filter.until)
            && s >= u
        {
            return Err(AppError::Invalid("since must be before until".into()));
        }
        if filter.text.as_ref().is_some_and(|t| t.chars().count() > MAX_SEARCH_TEXT) {
            return Err(AppError::Invalid(format!("the text to find may have at most {MAX_SEARCH_TEXT} characters")));
        }
        filter.limit = filter.limit.clamp(1, 10_000);
        let mut c = self.store.conn().await?;
        Ok(records::search(&mut c, &filter).await?)
    }

    /// The chains `caller` may read, with their heads.
    pub async fn audit_chains(&self, caller: &Caller) -> Result<Vec<ChainHead>, AppError> {
        let only = self.readable_chain(caller, None).await?;
        let mut c = self.store.conn().await?;
        let all = records::chains(&mut c).await?;
        // A domain admin's own chains: the domain's audit chain and its conversation log.
        Ok(all.into_iter().filter(|h| only.as_ref().is_none_or(|o| *o == h.chain || conversations_of(&h.chain) == Some(o))).collect())
    }

    /// A chain's days with their record counts, oldest first.
    pub async fn audit_days(&self, caller: &Caller, chain: &str) -> Result<Vec<(String, i64)>, AppError> {
        let chain = self.readable_chain(caller, Some(chain)).await?.unwrap_or_default();
        let mut c = self.store.conn().await?;
        Ok(records::days(&mut c, &chain).await?)
    }

    /// The records of one day of a chain, in order.
    pub async fn audit_day(&self, caller: &Caller, chain: &str, day: &str) -> Result<Vec<Record>, AppError> {
        if deskward_core::audit::day_start(day).is_none() {
            return Err(AppError::Invalid(format!("{day:?} is not a day (yyyy-mm-dd)")));
        }
        let chain = self.readable_chain(caller, Some(chain)).await?.unwrap_or_default();
        let mut c = self.store.conn().await?;
        Ok(records::of_day(&mut c, &chain, day).await?)
    }

    /// A chain's head and seals.
    pub async fn audit_head(&self, caller: &Caller, chain: &str) -> Result<(ChainHead, Vec<Seal>), AppError> {
        let chain = self.readable_chain(caller, Some(chain)).await?.unwrap_or_default();
        let mut c = self.store.conn().await?;
        let head = records::head(&mut c, &chain).await?.ok_or_else(|| AppError::NotFound(format!("audit records of {chain}")))?;
        let seals = records::seals(&mut c, &chain).await?;
        Ok((head, seals))
    }

    /// Walks the records of `chain` in the store in order, in pages so a long chain needs
    /// little memory. `archive` is the state after walking archived records, if any; the
    /// store's records must continue it.
    pub async fn audit_verify(
        &self,
        caller: &Caller,
        chain: &str,
        archive: Option<ChainCheck>,
    ) -> Result<Result<ChainCheck, Break>, AppError> {
        let (head, seals) = self.audit_head(caller, chain).await?;
        let mut check = ChainCheck::after(&head.chain, head.archived_seq, &head.archived_hash);
        // Records the archive holds beyond the store's boundary must be the store's records.
        let overlap = archive.as_ref().filter(|a| a.last_seq() > head.archived_seq).map(|a| (a.last_seq(), a.last_hash().to_owned()));
        if let Some(a) = &archive
            && a.last_seq() < head.archived_seq
        {
            return Ok(Err(Break::Missing { first: a.last_seq() + 1, last: head.archived_seq }));
        }
        let mut c = self.store.conn().await?;
        let mut seals = seals.into_iter().filter(|s| s.last_seq > head.archived_seq).peekable();
        loop {
            let page = records::after(&mut c, &head.chain, check.last_seq(), 5000).await?;
            if page.is_empty() {
                break;
            }
            for r in &page {
                if r.seq > head.seq {
                    return Ok(Err(Break::BeyondHead { seq: r.seq, head: head.seq, record: r.describe() }));
                }
                if let Err(b) = check.push(r) {
                    return Ok(Err(b));
                }
                if let Some((seq, hash)) = &overlap
                    && r.seq == *seq
                    && r.hash != *hash
                {
                    return Ok(Err(Break::Relinked { seq: r.seq, previous: r.seq - 1, record: format!("archived {}", r.describe()) }));
                }
                while let Some(seal) = seals.next_if(|s| s.last_seq <= r.seq) {
                    if seal.last_seq == r.seq && (seal.last_hash != r.hash || seal.day != r.day()) {
                        return Ok(Err(Break::Seal { day: seal.day, seq: seal.last_seq }));
                    }
                }
            }
        }
        Ok(check.finish(head.seq, &head.hash).map(|()| check))
    }
}
