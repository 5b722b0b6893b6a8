//! IP allow-lists per domain (K4). A login with the right password from outside the domain's
//! list (optionally only for administrators) is held: the owner is mailed a single-use link
//! that expires; once they confirm it, the held client (an IPv4 address or an IPv6 /64) is
//! trusted for their account for a while and the login goes through.

use std::net::IpAddr;

use deskward_core::audit::{SYSTEM_CHAIN, timestamp};
use deskward_core::net::{self, Networks};
use deskward_core::Role;
use deskward_store::{AccountRow, AllowListRow, NewMail, OutboxRow, VerificationRow, allow_lists};
use serde_json::json;

use crate::domains::administered;
use crate::session::{new_token, token_hash};
use crate::{App, AppError, Caller, Source};

/// How long links live and confirmed addresses are trusted (`guard.address_*`), in seconds.
#[derive(Debug, Clone, Copy)]
pub struct AddressRules {
    pub link_timeout: i64,
    pub trust_time: i64,
}

impl Default for AddressRules {
    fn default() -> Self {
        AddressRules { link_timeout: 1800, trust_time: 30 * 86_400 }
    }
}

/// Shortest and longest trust a domain may set: an hour, a year.
const TRUST_BOUNDS: (i64, i64) = (3600, 365 * 86_400);
/// Most entries in one allow-list.
const MAX_NETWORKS: usize = 1000;

/// A domain's allow-list as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowList {
    pub networks: Vec<String>,
    pub admins_only: bool,
    /// The domain's own trust time, if it set one.
    pub trust_seconds: Option<i64>,
    /// The trust time that applies.
    pub effective_trust_seconds: i64,
}

/// What a verification link confirms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingAddress {
    pub login: String,
    pub network: String,
    pub trust_seconds: i64,
}

impl App {
    fn allow_list_out(&self, row: &AllowListRow) -> AllowList {
        AllowList {
            networks: row.networks.split(',').filter(|n| !n.is_empty()).map(str::to_owned).collect(),
            admins_only: row.admins_only,
            trust_seconds: row.trust_seconds,
            effective_trust_seconds: row.trust_seconds.unwrap_or(self.addresses.trust_time),
        }
    }

    pub async fn allow_list(&self, caller: &Caller, domain: &str) -> Result<AllowList, AppError> {
        let mut c = self.store.conn().await?;
        let d = administered(&mut c, &caller.actor, domain).await?;
        Ok(self.allow_list_out(&AllowListRow::get(&mut c, d.id).await?))
    }

    /// Replaces the domain's allow-list; an empty list lifts it.
    pub async fn set_allow_list(&self, caller: &Caller, domain: &str, networks: &[String], admins_only: bool, trust_seconds: Option<i64>) -> Result<AllowList, AppError> {
        if networks.len() > MAX_NETWORKS {
            return Err(AppError::Invalid(format!("an allow-list holds at most {MAX_NETWORKS} entries")));
        }
        let parsed = Networks::parse(networks.iter().map(String::as_str)).map_err(|e| AppError::Invalid(e.to_string()))?;
        if let Some(t) = trust_seconds
            && !(TRUST_BOUNDS.0..=TRUST_BOUNDS.1).contains(&t)
        {
            return Err(AppError::Invalid(format!("trust_seconds must be {} to {} (an hour to a year), or null for the server's setting", TRUST_BOUNDS.0, TRUST_BOUNDS.1)));
        }
        let row = AllowListRow { networks: parsed.iter().map(ToString::to_string).collect::<Vec<_>>().join(","), admins_only, trust_seconds };
        let mut tx = self.store.begin().await?;
        let d = administered(tx.conn(), &caller.actor, domain).await?;
        let before = AllowListRow::get(tx.conn(), d.id).await?;
        AllowListRow::put(&mut tx, d.id, &row).await?;
        let show = |r: &AllowListRow| json!({ "networks": r.networks, "admins_only": r.admins_only, "trust_seconds": r.trust_seconds });
        let summary = json!({ "before": show(&before), "after": show(&row) });
        tx.commit(self.entry(caller, &d.name, "domain.allow_list", format!("domain:{}", d.name), summary)).await?;
        Ok(self.allow_list_out(&row))
    }

    /// Holds a checked login from outside its domain's allow-list, unless the client is trusted
    /// for the account. A held login mails the owner a link (one pending link per client at a
    /// time) and is recorded as `login.held` with it, in one transaction.
    /// `list` is the account's domain's, read with the login's other reads.
    pub(crate) async fn hold_outside_allow_list(&self, account: &AccountRow, list: &AllowListRow, caller: &Caller) -> Result<(), AppError> {
        let Ok(ip) = caller.source.ip.parse::<IpAddr>() else { return Ok(()) };
        if list.networks.is_empty() || (list.admins_only && account.role < Role::DomainAdmin) {
            return Ok(());
        }
        let networks = Networks::parse(list.networks.split(',')).map_err(|e| AppError::Internal(format!("stored allow-list: {e}")))?;
        if networks.contains(ip) {
            return Ok(());
        }
        let client = net::ban_network(ip).to_string();
        let now = self.now();
        let mut c = self.store.conn().await?;
        if allow_lists::is_trusted(&mut c, account.id, &client, now).await? {
            return Ok(());
        }
        let outside = format!("{client} is outside the allow-list of {}", account.domain);
        if !self.notify.mail {
            return Err(AppError::LoginHeld(format!("{outside}, and no mail can be sent to confirm it; ask an administrator")));
        }
        if let Some(until) = VerificationRow::pending(&mut c, account.id, &client, now).await? {
            return Err(AppError::LoginHeld(format!("{outside}; the link to confirm it was mailed to the account's address and is valid until {}", timestamp(until))));
        }
        drop(c);
        let (token, hash) = new_token();
        let expires_at = now + self.addresses.link_timeout;
        let trust = list.trust_seconds.unwrap_or(self.addresses.trust_time);
        let login = account.login();
        let body = format!(
            "Someone logged in to your Deskward account {login} with its password, from an address\n\
             outside your domain's allow-list. The login is held until you confirm the address.\n\n{}\n\
             If this was you, open this link and confirm; {client} will then be trusted for your\n\
             account for {} days:\n\n{}/verify-address/{token}\n\n\
             The link works once, until {}. If this was not you, do not open it: someone knows\n\
             your password. Change it at once; that also forgets every address you confirmed.\n",
            crate::notify::where_from(&caller.source, now),
            trust / 86_400,
            self.notify.public_url,
            timestamp(expires_at),
        );
        let subject = format!("Confirm a new address for {login}");
        let to = crate::address_of(account);
        let mail = NewMail { chain: &account.domain, kind: "address.verify", recipient: &to, subject: &subject, body: &body };
        let mut tx = self.store.begin().await?;
        VerificationRow::insert(&mut tx, &hash, &VerificationRow { account_id: account.id, network: client.clone(), created_at: now, expires_at, used_at: None }).await?;
        OutboxRow::queue(&mut tx, &mail, now).await?;
        let me = Caller { name: login.clone(), ..caller.clone() };
        let summary = json!({ "network": client, "link_expires": expires_at, "mailed_to": to });
        tx.commit(self.entry(&me, &account.domain, "login.held", format!("account:{login}"), summary)).await?;
        Err(AppError::LoginHeld(format!("{outside}; a link to confirm it was mailed to the account's address and is valid until {}", timestamp(expires_at))))
    }

    /// What the link `token` would confirm, if it is still good. A link that is unknown, used
    /// or expired is a security event.
    pub async fn address_link(&self, token: &str, source: &Source) -> Result<PendingAddress, AppError> {
        let (_, pending) = self.check_link(token, source).await?;
        Ok(pending)
    }

    /// Confirms the link: the held client is trusted for its account from now on, recorded as
    /// `address.trusted`. Only the first of two racing confirmations succeeds.
    pub async fn confirm_address(&self, token: &str, source: &Source) -> Result<PendingAddress, AppError> {
        let (account, pending) = self.check_link(token, source).await?;
        let now = self.now();
        let mut tx = self.store.begin().await?;
        if !VerificationRow::use_once(&mut tx, &token_hash(token), now).await? {
            drop(tx);
            return Err(self.bad_link(source, Some(&account), "used", "this link was used already").await);
        }
        let until = now + pending.trust_seconds;
        allow_lists::trust(&mut tx, account.id, &pending.network, until).await?;
        let me = Caller { actor: crate::Actor::Account { account_id: account.id, domain_id: account.domain_id, role: account.role }, name: account.login(), ..Caller::anonymous(source.clone()) };
        let summary = json!({ "network": pending.network, "until": until });
        tx.commit(self.entry(&me, &account.domain, "address.trusted", format!("account:{}", account.login()), summary)).await?;
        Ok(pending)
    }

    async fn check_link(&self, token: &str, source: &Source) -> Result<(AccountRow, PendingAddress), AppError> {
        let mut c = self.store.conn().await?;
        let found = if crate::is_token(token) { VerificationRow::find(&mut c, &token_hash(token)).await? } else { None };
        let found = match found {
            Some(v) => match AccountRow::get(&mut c, v.account_id).await? {
                Some(a) => Some((AllowListRow::get(&mut c, a.domain_id).await?, v, a)),
                None => None,
            },
            None => None,
        };
        drop(c);
        let Some((list, v, account)) = found else {
            return Err(self.bad_link(source, None, "unknown", "").await);
        };
        if v.used_at.is_some() {
            return Err(self.bad_link(source, Some(&account), "used", "this link was used already").await);
        }
        if v.expires_at <= self.now() {
            return Err(self.bad_link(source, Some(&account), "expired", "this link has expired; log in again to get a new one").await);
        }
        let trust_seconds = list.trust_seconds.unwrap_or(self.addresses.trust_time);
        let pending = PendingAddress { login: account.login(), network: v.network, trust_seconds };
        Ok((account, pending))
    }

    /// Records a link that cannot be used (`address.link_refused`) and makes its error.
    async fn bad_link(&self, source: &Source, account: Option<&AccountRow>, reason: &'static str, message: &str) -> AppError {
        let caller = Caller::anonymous(source.clone());
        let (chain, target) = match account {
            Some(a) => (a.domain.clone(), format!("account:{}", a.login())),
            None => (SYSTEM_CHAIN.to_owned(), "link".to_owned()),
        };
        self.security_event(&caller, &chain, "address.link_refused", target, json!({ "reason": reason })).await;
        match reason {
            "unknown" => AppError::NotFound("verification link".into()),
            _ => AppError::LinkGone(message.to_owned()),
        }
    }
}
