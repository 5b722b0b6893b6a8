//! `deskward audit …`: browse, search, export and verify the audit log.

use std::path::PathBuf;

use anyhow::bail;
use clap::Subcommand;
use deskward_app::App;
use deskward_core::audit::{ChainCheck, Record, SYSTEM_CHAIN, conversation_chain, conversations_of, timestamp};
use deskward_store::audit::Filter;

use super::fail;
use crate::audit_files;

#[derive(Subcommand, Debug)]
pub enum Cmd {
    /// Search records, newest first
    List {
        #[arg(long)]
        domain: Option<String>,
        /// A login: records it made and records about its account
        #[arg(long)]
        user: Option<String>,
        /// An action (account.create) or a family of actions (account)
        #[arg(long)]
        action: Option<String>,
        #[arg(long)]
        ip: Option<String>,
        /// What a record is about (account:bob@example.org, group:sales)
        #[arg(long)]
        target: Option<String>,
        /// yyyy-mm-dd, an RFC 3339 time, Unix seconds, or a duration ago (2h, 7d)
        #[arg(long)]
        since: Option<String>,
        #[arg(long)]
        until: Option<String>,
        /// Only security events
        #[arg(long)]
        security: bool,
        /// Records whose summary holds this text (a message's words, a changed value), in any case
        #[arg(long)]
        text: Option<String>,
        #[arg(long, default_value_t = 100)]
        limit: i64,
        /// One JSON record per line, as exported
        #[arg(long)]
        json: bool,
    },
    /// The chains (one per domain, a domain's conversation log <domain>:im, and _system) with their last record
    Chains,
    /// The days of a domain's log, with their record counts
    Days {
        #[arg(long)]
        domain: String,
    },
    /// Write a domain's records (every domain's without --domain) as OUT/<domain>/<yyyy>/<mm>/<dd>.jsonl,
    /// and its conversation log's as OUT/<domain>/im/<yyyy>/<mm>/<dd>.jsonl
    Export {
        #[arg(long)]
        domain: Option<String>,
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
    },
    /// Archive now the records older than each domain's retention and remove them from the store
    Archive {
        /// Archive directory; default audit.archive_dir
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
    /// Check a domain's hash chains (audit and conversation log) in the store and in archive files; exits non-zero naming the first bad record
    Verify {
        #[arg(long)]
        domain: String,
        /// Archive directory (as written by export or retention) to check before the store
        #[arg(long, value_name = "DIR")]
        archive: Option<PathBuf>,
    },
}

pub async fn run(app: &App, settings: &deskward_config::Settings, cmd: Cmd) -> anyhow::Result<()> {
    let op = crate::cli::operator();
    match cmd {
        Cmd::List { domain, user, action, ip, target, since, until, security, text, limit, json } => {
            let now = app.now();
            let time = |t: Option<String>| t.map(|t| deskward_http::parse_time(&t, now)).transpose().map_err(fail);
            let filter = Filter {
                chain: domain,
                user,
                action,
                source_ip: ip,
                target,
                since: time(since)?,
                until: time(until)?,
                security_only: security,
                text,
                limit,
            };
            for r in app.audit_search(&op, filter).await.map_err(fail)? {
                if json {
                    println!("{}", serde_json::to_string(&deskward_http::audit_record(&r))?);
                } else {
                    print_record(&r);
                }
            }
        }
        Cmd::Chains => {
            for h in app.audit_chains(&op).await.map_err(fail)? {
                let archived = if h.archived_seq > 0 { format!(" (1-{} archived)", h.archived_seq) } else { String::new() };
                println!("{:<40} {:>8} records  last day {}{archived}", h.chain, h.seq, h.day);
            }
        }
        Cmd::Days { domain } => {
            let mut year = String::new();
            for (day, n) in app.audit_days(&op, &domain).await.map_err(fail)? {
                if !day.starts_with(&year) || year.is_empty() {
                    year = day[..4].to_owned();
                    println!("{year}");
                }
                println!("  {}  {n:>7} records", &day[5..]);
            }
        }
        Cmd::Export { domain, out } => {
            let chains = match domain {
                Some(d) => domain_chains(app, &d).await?,
                None => app.audit_chains(&op).await.map_err(fail)?.into_iter().map(|h| h.chain).collect(),
            };
            for chain in chains {
                let (mut files, mut records) = (0, 0);
                for (day, _) in app.audit_days(&op, &chain).await.map_err(fail)? {
                    let day_records = app.audit_day(&op, &chain, &day).await.map_err(fail)?;
                    audit_files::write_day(&out, &chain, &day, &day_records)?;
                    files += 1;
                    records += day_records.len();
                }
                println!("{chain}: wrote {records} records in {files} day files under {}", audit_files::chain_dir(&out, &chain)?.display());
            }
        }
        Cmd::Verify { domain, archive } => {
            for chain in domain_chains(app, &domain).await? {
                verify(app, &chain, archive.clone()).await?;
            }
        }
        Cmd::Archive { out } => {
            let dir = out.unwrap_or_else(|| crate::retention::archive_dir(settings));
            let done = crate::retention::run_once(app, &op, &dir).await?;
            if done.is_empty() {
                println!("nothing is older than its domain's audit retention");
            }
            done.iter().for_each(|line| println!("{line}"));
        }
    }
    Ok(())
}

/// The chains `--domain` names: the domain's audit chain and, once a message was logged, its
/// conversation log. A chain's own name (`example.org:im`, `_system`) names just that chain.
async fn domain_chains(app: &App, domain: &str) -> anyhow::Result<Vec<String>> {
    if conversations_of(domain).is_some() || domain == SYSTEM_CHAIN {
        return Ok(vec![domain.to_owned()]);
    }
    let conversations = conversation_chain(domain);
    let logged = app.audit_chains(&crate::cli::operator()).await.map_err(fail)?.iter().any(|h| h.chain == conversations);
    Ok(if logged { vec![domain.to_owned(), conversations] } else { vec![domain.to_owned()] })
}

async fn verify(app: &App, domain: &str, archive: Option<PathBuf>) -> anyhow::Result<()> {
    let op = crate::cli::operator();
    let (head, _) = app.audit_head(&op, domain).await.map_err(fail)?;
    let chain = head.chain.clone();
    let broken = |what: String| anyhow::anyhow!("{chain}: the audit chain is broken: {what}");
    let mut archived = 0u64;
    let start = match &archive {
        Some(dir) => {
            let mut check = ChainCheck::from_genesis(&chain);
            let mut boundary = None;
            audit_files::walk(dir, &chain, &mut check, |r| {
                if r.seq == head.archived_seq {
                    boundary = Some(r.hash.clone());
                }
            })
            .map_err(|e| broken(format!("{e:#}")))?;
            if head.archived_seq > 0 && boundary.is_some_and(|h| h != head.archived_hash) {
                return Err(broken(format!(
                    "archived record {} is not the one the store's chain continues from: it was replaced",
                    head.archived_seq
                )));
            }
            archived = check.checked();
            Some(check)
        }
        None => None,
    };
    let check = app.audit_verify(&op, &chain, start).await.map_err(fail)?.map_err(|b| broken(b.to_string()))?;
    let stored = check.checked();
    if archive.is_none() && head.archived_seq > 0 {
        println!("{chain}: records 1 to {} are archived; pass --archive DIR to check them too", head.archived_seq);
    }
    if archive.is_some() && archived == 0 && head.archived_seq > 0 {
        bail!("{chain}: the archive holds none of records 1 to {}", head.archived_seq);
    }
    let first = if archive.is_some() { 1 } else { head.archived_seq + 1 };
    println!(
        "{chain}: intact: records {first} to {} ({archived} checked in the archive, {stored} in the store), last hash {}",
        check.last_seq(),
        check.last_hash()
    );
    Ok(())
}

fn print_record(r: &Record) {
    // An administrator acting for the actor is named with them.
    let actor = if r.acting.is_empty() { r.actor.clone() } else { format!("{} (acting: {})", r.actor, r.acting) };
    println!(
        "{}  {:<20} {:>6} {} {:<26} {:<28} {:<15} {:<32} {}",
        timestamp(r.at),
        r.chain,
        r.seq,
        if r.security { "!" } else { " " },
        r.action,
        actor,
        r.source_ip,
        r.target,
        r.summary
    );
}
