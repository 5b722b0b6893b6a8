//! Following the directory (A1): at each directory login and at each sync, an account the
//! directory made is blocked when its entry is removed or disabled (never deleted: its data
//! stays), unblocked when the entry is back, and its kept groups follow the directory groups
//! it is a member of. A sync reads the whole directory first and changes nothing when the read
//! fails or comes back empty, so a directory outage or a wrong search base cannot block
//! everyone. The account's mail address follows the directory's too.

use std::collections::{BTreeSet, HashMap};

use deskward_core::audit::clean_field;
use deskward_store::{AccountRow, AuditEntry, DirectoryRow, DomainRow, GroupRow, Housekeeping, SessionRow, Tx};
use serde_json::json;

use crate::directory::{Directory, directory_error};
use crate::ldap::{self, DirectoryUser};
use crate::{App, AppError, Caller};

/// What a sync did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncReport {
    /// Entries the directory holds for the domain.
    pub entries: usize,
    /// Accounts the directory made.
    pub accounts: usize,
    pub blocked: Vec<String>,
    pub unblocked: Vec<String>,
    /// Accounts whose kept groups changed.
    pub regrouped: Vec<String>,
    /// Accounts whose mail address followed the directory's.
    pub remailed: Vec<String>,
}

impl SyncReport {
    pub fn changed(&self) -> bool {
        !(self.blocked.is_empty() && self.unblocked.is_empty() && self.regrouped.is_empty() && self.remailed.is_empty())
    }
}

impl App {
    /// Reads the domain's directory and makes its accounts follow it. `progress` hears
    /// (accounts done, accounts in all). Each account's change is its own transaction with its
    /// records; the run ends with one `directory.synced` record.
    pub async fn sync_directory(&self, caller: &Caller, domain: &str, progress: &(dyn Fn(usize, usize) + Sync)) -> Result<SyncReport, AppError> {
        self.sync(caller, domain, progress, true).await
    }

    /// The server's own sync of `domain` (`directory.sync_every`): a run that changed nothing
    /// leaves no record, or the log would fill with them.
    pub async fn scheduled_directory_sync(&self, caller: &Caller, domain: &str) -> Result<SyncReport, AppError> {
        self.sync(caller, domain, &|_, _| {}, false).await
    }

    async fn sync(&self, caller: &Caller, domain: &str, progress: &(dyn Fn(usize, usize) + Sync), record_quiet_run: bool) -> Result<SyncReport, AppError> {
        caller.actor.may_manage_domains("sync a directory")?;
        let dir = self.directory(caller, domain).await?;
        let password = self.directory_password(&dir).await?;
        let users = ldap::list_users(&dir, password.as_ref().map(|p| p.as_str())).await.map_err(directory_error)?;
        let mut c = self.store.conn().await?;
        let d = DomainRow::find(&mut c, &dir.domain).await?.ok_or_else(|| AppError::NotFound(format!("domain {}", dir.domain)))?;
        let accounts: Vec<AccountRow> = AccountRow::list(&mut c, d.id).await?.into_iter().filter(|a| a.directory_dn.is_some()).collect();
        drop(c);
        if users.is_empty() && !accounts.is_empty() {
            return Err(AppError::DirectoryUnavailable(format!(
                "the directory of {} returned no entries: nothing was blocked; check the search bases and the user filter",
                dir.domain
            )));
        }
        let by_dn: HashMap<String, &DirectoryUser> = users.iter().map(|u| (u.dn.to_ascii_lowercase(), u)).collect();
        let mut report = SyncReport { entries: users.len(), accounts: accounts.len(), ..SyncReport::default() };
        for (done, account) in accounts.iter().enumerate() {
            let entry = account.directory_dn.as_deref().and_then(|dn| by_dn.get(&dn.to_ascii_lowercase()).copied());
            let mut tx = self.store.begin().await?;
            let records = self.follow_directory(&mut tx, caller, &dir, account, entry, &mut report).await?;
            match deskward_store::Audit::many(records) {
                Some(records) => tx.commit(records).await?,
                None => drop(tx),
            }
            progress(done + 1, accounts.len());
        }
        let mut tx = self.store.begin().await?;
        DirectoryRow::synced(&mut tx, d.id, self.now()).await?;
        let summary = json!({
            "entries": report.entries, "accounts": report.accounts,
            "blocked": report.blocked, "unblocked": report.unblocked, "regrouped": report.regrouped, "remailed": report.remailed,
        });
        if !record_quiet_run && !report.changed() {
            tx.commit_unaudited(Housekeeping::QuietDirectorySync).await?;
        } else {
            tx.commit(self.entry(caller, &d.name, "directory.synced", format!("domain:{}", d.name), summary)).await?;
        }
        if report.changed() {
            self.auth_cache.clear();
        }
        Ok(report)
    }

    /// Blocks, unblocks and regroups one account after its entry (`None`: not in the directory),
    /// inside `tx`; the records of what changed.
    pub(crate) async fn follow_directory(&self, tx: &mut Tx, caller: &Caller, dir: &Directory, account: &AccountRow, entry: Option<&DirectoryUser>, report: &mut SyncReport) -> Result<Vec<AuditEntry>, AppError> {
        let login = account.login();
        let target = format!("account:{login}");
        let mut records = Vec::new();
        match entry {
            None | Some(DirectoryUser { disabled: true, .. }) => {
                if !account.disabled {
                    AccountRow::set_directory_blocked(tx, account.id, true).await?;
                    let ended = SessionRow::delete_for_account(tx, account.id).await?;
                    let reason = if entry.is_none() { "removed_from_directory" } else { "disabled_in_directory" };
                    records.push(self.entry(caller, &dir.domain, "account.directory_blocked", target.clone(), json!({ "reason": reason, "sessions_ended": ended })));
                    report.blocked.push(login.clone());
                }
            }
            Some(_) => {
                if account.directory_blocked {
                    AccountRow::set_directory_blocked(tx, account.id, false).await?;
                    records.push(self.entry(caller, &dir.domain, "account.directory_unblocked", target.clone(), json!({})));
                    report.unblocked.push(login.clone());
                }
            }
        }
        if let Some(entry) = entry {
            // The address Deskward mails follows the directory's, when it gives a usable one.
            let mail = entry.mail.as_deref().and_then(|m| crate::notify::parse_address(m).ok().flatten());
            if mail.is_some() && mail != account.email {
                AccountRow::set_email(tx, account.id, mail.as_deref()).await?;
                records.push(self.entry(caller, &dir.domain, "account.directory_mail", target.clone(), json!({ "from": account.email, "to": mail })));
                report.remailed.push(login.clone());
            }
            let (added, removed) = self.follow_groups(tx, dir, account, &entry.groups).await?;
            if !added.is_empty() || !removed.is_empty() {
                records.push(self.entry(caller, &dir.domain, "account.directory_groups", target, json!({ "added": added, "removed": removed })));
                report.regrouped.push(login);
            }
        }
        Ok(records)
    }

    /// Whether a directory login must change the account: lift the directory's block, or
    /// move it between kept groups. Read without a transaction, so most logins write nothing.
    pub(crate) async fn must_follow(&self, dir: &Directory, account: &AccountRow, user: &DirectoryUser) -> Result<bool, AppError> {
        let mail = user.mail.as_deref().and_then(|m| crate::notify::parse_address(m).ok().flatten());
        if account.directory_blocked || (mail.is_some() && mail != account.email) {
            return Ok(true);
        }
        if dir.group_map.is_empty() {
            return Ok(false);
        }
        let mut c = self.store.conn().await?;
        let current: BTreeSet<String> = GroupRow::of_account(&mut c, account.id).await?.into_iter().collect();
        let (kept, wanted) = kept_and_wanted(dir, &user.groups);
        Ok(kept.iter().any(|g| wanted.contains(g) != current.contains(*g)))
    }

    /// Makes the account's kept groups those whose directory group lists it; groups no
    /// directory group is kept in are left alone. Returns (added, removed) group names.
    pub(crate) async fn follow_groups(&self, tx: &mut Tx, dir: &Directory, account: &AccountRow, groups: &[String]) -> Result<(Vec<String>, Vec<String>), AppError> {
        if dir.group_map.is_empty() {
            return Ok((Vec::new(), Vec::new()));
        }
        let (kept, wanted) = kept_and_wanted(dir, groups);
        let current: BTreeSet<String> = GroupRow::of_account(tx.conn(), account.id).await?.into_iter().collect();
        let (mut added, mut removed) = (Vec::new(), Vec::new());
        for name in kept {
            let Some(group) = GroupRow::find(tx.conn(), account.domain_id, name).await? else { continue };
            match (wanted.contains(name), current.contains(name)) {
                (true, false) => {
                    GroupRow::add_member(tx, group.id, account.id).await?;
                    added.push(clean_field(name));
                }
                (false, true) => {
                    GroupRow::remove_member(tx, group.id, account.id).await?;
                    removed.push(clean_field(name));
                }
                _ => {}
            }
        }
        Ok((added, removed))
    }
}

/// The kept groups, and those of them the directory groups `member_of` call for.
fn kept_and_wanted<'a>(dir: &'a Directory, member_of: &[String]) -> (BTreeSet<&'a str>, BTreeSet<&'a str>) {
    let member_of: BTreeSet<String> = member_of.iter().map(|g| g.to_ascii_lowercase()).collect();
    let kept = dir.group_map.iter().map(|(_, g)| g.as_str()).collect();
    let wanted = dir.group_map.iter().filter(|(dn, _)| member_of.contains(&dn.to_ascii_lowercase())).map(|(_, g)| g.as_str()).collect();
    (kept, wanted)
}
