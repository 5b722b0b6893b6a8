//! The audit retention pass: for each domain with a retention, write the days older than it to
//! the archive directory (flushed), then remove them from the store. A crash between the two
//! steps leaves the records in the store; the next pass rewrites the same files and removes
//! them.

use std::path::{Path, PathBuf};

use deskward_app::{App, Caller};
use deskward_config::Settings;

use crate::audit_files;

/// Where retention writes: `audit.archive_dir`, or `audit-archive` in the data dir.
pub fn archive_dir(settings: &Settings) -> PathBuf {
    settings.audit.archive_dir.clone().unwrap_or_else(|| settings.server.data_dir.join("audit-archive"))
}

/// Archives every due day; answers one line per chain it archived.
pub async fn run_once(app: &App, caller: &Caller, dir: &Path) -> anyhow::Result<Vec<String>> {
    let mut done = Vec::new();
    for (chain, days) in app.audit_due().await? {
        let mut last = None;
        let mut count = 0;
        for day in &days {
            let records = app.audit_day(caller, &chain, day).await?;
            audit_files::write_day(dir, &chain, day, &records)?;
            count += records.len();
            last = records.last().cloned().or(last);
        }
        let Some(last) = last else { continue };
        app.audit_archived(caller, &chain, &last, count, &days).await?;
        done.push(format!(
            "{chain}: archived {count} records of {} days ({} to {}) under {}",
            days.len(),
            days.first().map_or("", String::as_str),
            days.last().map_or("", String::as_str),
            audit_files::chain_dir(dir, &chain)?.display()
        ));
    }
    Ok(done)
}

/// Runs the pass at start and then every `audit.retention_every`.
pub fn start(app: App, settings: &Settings) {
    let dir = archive_dir(settings);
    let every = settings.audit.retention_every;
    let caller = Caller::system(&crate::cli::host_name());
    tokio::spawn(async move {
        loop {
            match run_once(&app, &caller, &dir).await {
                Ok(done) => done.iter().for_each(|line| tracing::info!("{line}")),
                Err(e) => tracing::warn!(error = %format!("{e:#}"), "audit retention failed; will retry"),
            }
            tokio::time::sleep(every).await;
        }
    });
}
