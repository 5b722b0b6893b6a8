//! What a login reads about its domain besides the account: password policies, directory,
//! order of back ends, session rules, notifications and allow-list. Kept in memory per domain,
//! so a login's checks cost one database read (the account) instead of nine. Every store
//! write of these settings bumps the authentication epoch in its transaction, and the login
//! reads the epoch in the same statement as the account (`AccountRow::find_at_epoch`): an
//! entry read under another epoch is not used, so a change made anywhere (another node, the
//! command line) applies to the next login at once.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use deskward_core::Role;
use deskward_core::password::{Audience, Policy};
use deskward_store::{AllowListRow, DomainRow, SessionRuleRow, policies};

use crate::auth_order::{Backend, order_for_login};
use crate::directory::{BindPassword, Directory};
use crate::notify::{RoleNotifications, switches_of};
use crate::{App, AppError};

/// Bound on the domains kept; when full the cache starts over.
const MAX_ENTRIES: usize = 10_000;

/// A domain's settings as a login needs them.
pub(crate) struct LoginSettings {
    /// The directory that checks its logins, if any.
    pub directory: Option<Directory>,
    /// Its bind password, decrypted (secret writes bump the epoch too).
    pub bind_password: BindPassword,
    /// The back ends in order (the default when the domain chose none).
    pub order: Vec<Backend>,
    pub users_policy: Policy,
    pub staff_policy: Policy,
    pub rules: SessionRuleRow,
    /// Who is mailed about logins, per role (all off when mail is off).
    pub notifications: Vec<RoleNotifications>,
    pub allow_list: AllowListRow,
}

/// Without the bind password.
impl std::fmt::Debug for LoginSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginSettings").field("directory", &self.directory).field("order", &self.order).finish_non_exhaustive()
    }
}

impl LoginSettings {
    pub fn policy(&self, role: Role) -> Policy {
        match Audience::of(role) {
            Audience::Users => self.users_policy.clone(),
            Audience::Staff => self.staff_policy.clone(),
        }
    }

    pub fn notifications(&self, role: Role) -> RoleNotifications {
        switches_of(&self.notifications, role)
    }
}

/// The settings read under one authentication epoch, by domain name.
#[derive(Debug, Default)]
pub struct LoginSettingsCache {
    entries: Mutex<(i64, HashMap<String, Arc<LoginSettings>>)>,
}

impl App {
    /// The settings of `domain` (its name as a login gives it) under authentication epoch
    /// `epoch`, read just before: from memory when they were read under the same epoch. A
    /// domain that does not exist gets the defaults and no directory.
    pub(crate) async fn login_settings(&self, domain: &str, epoch: i64) -> Result<Arc<LoginSettings>, AppError> {
        if let Ok(entries) = self.login_settings.entries.lock()
            && entries.0 == epoch
            && let Some(hit) = entries.1.get(domain)
        {
            return Ok(hit.clone());
        }
        // Read after the epoch: a change committed meanwhile moved the epoch past `epoch`, so
        // what is kept under `epoch` is never older than a change that `epoch` includes.
        let settings = Arc::new(self.read_login_settings(domain).await?);
        if let Ok(mut entries) = self.login_settings.entries.lock() {
            if entries.0 < epoch || entries.1.len() >= MAX_ENTRIES {
                *entries = (epoch, HashMap::new());
            }
            if entries.0 == epoch {
                entries.1.insert(domain.to_owned(), settings.clone());
            }
        }
        Ok(settings)
    }

    async fn read_login_settings(&self, domain: &str) -> Result<LoginSettings, AppError> {
        let mut c = self.store.conn().await?;
        let directory = self.directory_for_login(&mut c, domain).await?;
        let order = order_for_login(&mut c, domain, directory.is_some()).await?;
        let bind_password = match &directory {
            Some(dir) => self.directory_password(dir).await.map_err(|e| e.to_string()),
            None => Ok(None),
        };
        let Some(d) = DomainRow::find(&mut c, domain).await? else {
            return Ok(LoginSettings {
                directory,
                bind_password,
                order,
                users_policy: Policy::default_for(Audience::Users),
                staff_policy: Policy::default_for(Audience::Staff),
                rules: SessionRuleRow::default(),
                notifications: Vec::new(),
                allow_list: AllowListRow::default(),
            });
        };
        Ok(LoginSettings {
            directory,
            bind_password,
            order,
            users_policy: policies::get(&mut c, d.id, Audience::Users).await?,
            staff_policy: policies::get(&mut c, d.id, Audience::Staff).await?,
            rules: SessionRuleRow::get(&mut c, d.id).await?,
            notifications: self.notifications_of(&mut c, d.id).await?,
            allow_list: AllowListRow::get(&mut c, d.id).await?,
        })
    }
}
