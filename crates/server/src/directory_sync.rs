//! The scheduled directory sync: every `directory.sync_every`, each domain connected to a
//! directory is synced as the server's own work (`Caller::system`).

use deskward_app::{App, Caller};
use deskward_config::Settings;

pub fn start(app: App, settings: &Settings) {
    let every = settings.directory.sync_every;
    let caller = Caller::system(&crate::cli::host_name());
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(every).await;
            let domains = match app.directory_domains().await {
                Ok(d) => d,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot list the domains to sync with their directories; will retry");
                    continue;
                }
            };
            for domain in domains {
                match app.scheduled_directory_sync(&caller, &domain).await {
                    Ok(r) if r.changed() => tracing::info!(%domain, blocked = r.blocked.len(), unblocked = r.unblocked.len(), regrouped = r.regrouped.len(), "directory sync changed accounts"),
                    Ok(_) => tracing::debug!(%domain, "directory sync found nothing to change"),
                    Err(e) => tracing::warn!(%domain, error = %e, "directory sync failed; nothing was changed, will retry"),
                }
            }
        }
    });
}
