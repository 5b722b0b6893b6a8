//! Bans: written by the guard when a client fails too often, or by an administrator; stored so
//! they survive a restart and hold on every server sharing the database (each reloads its
//! in-memory list when the bans' epoch moves, see [`App::start_epoch_poller`]).

use std::net::IpAddr;
use std::time::Duration;

use deskward_core::audit::SYSTEM_CHAIN;
use deskward_core::net::{self, Network};
use deskward_store::{BanRow, Housekeeping, auth_epoch};
use serde_json::json;

use crate::{App, AppError, Caller};

/// How often the epochs are read from the database.
const POLL: Duration = Duration::from_millis(250);
/// Longest ban written by hand: ten years.
pub const MAX_BAN_SECONDS: i64 = 10 * 365 * 86_400;

impl App {
    /// Bans in force, soonest end first. System administrators and the operator only: bans
    /// hold for every domain.
    pub async fn bans(&self, caller: &Caller) -> Result<Vec<BanRow>, AppError> {
        caller.actor.may_manage_domains("see bans")?;
        let mut c = self.store.conn().await?;
        Ok(BanRow::active(&mut c, self.now()).await?)
    }

    /// Bans `network` (an address or a CIDR range) for `seconds`, or for the guard's longest
    /// ban (`guard.ban_time_max`) when not given.
    pub async fn ban(&self, caller: &Caller, network: &str, seconds: Option<i64>) -> Result<BanRow, AppError> {
        caller.actor.may_manage_domains("ban clients")?;
        let network: Network = network.parse().map_err(|e: net::BadNetwork| AppError::Invalid(e.to_string()))?;
        let seconds = seconds.unwrap_or(self.guard.rules().ban_time_max);
        if !(1..=MAX_BAN_SECONDS).contains(&seconds) {
            return Err(AppError::Invalid(format!("a ban lasts 1 second to {} days", MAX_BAN_SECONDS / 86_400)));
        }
        if let Ok(me) = caller.source.ip.parse::<IpAddr>()
            && network.contains(me)
        {
            return Err(AppError::Invalid(format!("{network} contains your own address {me}; refusing to lock you out")));
        }
        let now = self.now();
        let mut tx = self.store.begin().await?;
        let offences = BanRow::find(&mut tx, &network.to_string()).await?.map_or(0, |b| b.offences);
        let row = BanRow {
            network: network.to_string(),
            until_at: now + seconds,
            offences,
            reason: "manual".into(),
            created_at: now,
            created_by: caller.name.clone(),
        };
        BanRow::put(&mut tx, &row).await?;
        let summary = json!({ "seconds": seconds, "until": row.until_at });
        tx.commit(self.entry(caller, SYSTEM_CHAIN, "ban.added", format!("network:{network}"), summary)).await?;
        self.guard.add_ban(network, row.until_at);
        Ok(row)
    }

    /// Lifts the ban of `network`, written exactly as listed.
    pub async fn unban(&self, caller: &Caller, network: &str) -> Result<(), AppError> {
        caller.actor.may_manage_domains("lift bans")?;
        let network: Network = network.parse().map_err(|e: net::BadNetwork| AppError::Invalid(e.to_string()))?;
        let mut tx = self.store.begin().await?;
        if !BanRow::lift(&mut tx, &network.to_string(), self.now()).await? {
            return Err(AppError::NotFound(format!("ban of {network}")));
        }
        tx.commit(self.entry(caller, SYSTEM_CHAIN, "ban.lifted", format!("network:{network}"), json!({}))).await?;
        self.reload_bans().await?;
        Ok(())
    }

    /// The guard's ban of a client that reached `guard.max_failures`: the first lasts
    /// `guard.ban_time`, each further one within `guard.ban_time_max` of the last twice as long.
    /// `attacker` is the request that tipped it; the record names the guard as the actor.
    pub(crate) async fn ban_client(&self, attacker: &Caller, client: u64, tried: &str) -> Result<BanRow, AppError> {
        let network = net::key_network(client);
        let rules = self.guard.rules();
        let recipients = self.ban_recipients().await?;
        let now = self.now();
        let mut tx = self.store.begin().await?;
        let earlier = BanRow::find(&mut tx, &network.to_string()).await?;
        let offences = match earlier {
            Some(b) if b.until_at + rules.ban_time_max >= now => b.offences + 1,
            _ => 1,
        };
        let seconds = rules.ban_length(offences);
        let row = BanRow {
            network: network.to_string(),
            until_at: now + seconds,
            offences,
            reason: "failures".into(),
            created_at: now,
            created_by: "guard".into(),
        };
        BanRow::put(&mut tx, &row).await?;
        self.queue_ban_mail(&mut tx, &recipients, &row, &attacker.source, tried).await?;
        let guard = Caller { name: "guard".into(), source: attacker.source.clone(), ..Caller::operator("") };
        let summary = json!({
            "seconds": seconds,
            "until": row.until_at,
            "offences": offences,
            "failures": rules.max_failures,
            "find_time": rules.find_time,
            "last_login_tried": tried,
        });
        tx.commit(self.entry(&guard, SYSTEM_CHAIN, "ban.added", format!("network:{network}"), summary)).await?;
        self.guard.add_ban(network, row.until_at);
        tracing::warn!(%network, seconds, offences, "banned a client after repeated failed logins");
        Ok(row)
    }

    /// Loads the bans in force into the guard.
    pub async fn reload_bans(&self) -> Result<(), AppError> {
        let mut c = self.store.conn().await?;
        let rows = BanRow::active(&mut c, self.now()).await?;
        drop(c);
        self.guard.set_bans(rows.iter().filter_map(|b| Some((b.network.parse::<Network>().ok()?, b.until_at))));
        Ok(())
    }

    /// Forgets bans that ended longer ago than `guard.ban_time_max` (their offences no longer
    /// grow the next ban).
    pub(crate) async fn forget_ended_bans(&self) -> Result<u64, AppError> {
        let mut tx = self.store.begin().await?;
        let n = BanRow::forget_ended(&mut tx, self.now() - self.guard.rules().ban_time_max).await?;
        tx.commit_unaudited(Housekeeping::EndedBans).await?;
        Ok(n)
    }

    /// Reads the epochs every [`POLL`]: the authentication cache follows the first, the ban
    /// list is reloaded when the second moves (a ban written by another server or the CLI).
    pub(crate) fn start_epoch_poller(&self) {
        let app = self.clone();
        tokio::spawn(async move {
            let (mut auth, mut bans) = (None, None);
            loop {
                let epochs = match app.store.conn().await {
                    Ok(mut c) => auth_epoch::current(&mut c).await.ok(),
                    Err(_) => None,
                };
                app.auth_cache.follow(epochs.map(|e| e.auth), &mut auth);
                if let Some(e) = epochs
                    && bans != Some(e.bans)
                {
                    match app.reload_bans().await {
                        Ok(()) => bans = Some(e.bans),
                        Err(e) => tracing::warn!(error = %e, "cannot reload bans"),
                    }
                }
                tokio::time::sleep(POLL).await;
            }
        });
    }
}
