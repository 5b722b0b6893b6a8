//! Password login. The answer never tells an unknown login from a wrong password; "disabled"
//! is said only after the password was right.

use std::net::IpAddr;

use deskward_core::password::{Audience, Policy, Verification};
use deskward_core::{Login, Role, password::policy::MAX_LENGTH};
use deskward_core::audit::{SYSTEM_CHAIN, clean_field};
use deskward_store::{AccountRow, AllowListRow, DomainRow, SessionRow, SessionRuleRow};
use serde_json::json;

use crate::auth_order::Backend;
use crate::login_settings::LoginSettings;
use crate::directory::{BindPassword, Directory};
use crate::directory_sync::SyncReport;
use crate::external::Origin;
use crate::plugin::PluginOutcome;
use crate::host_names::Pending;
use crate::ldap::{DirectoryError, Refusal};
use crate::{App, AppError, Caller, Source, Verdict};

/// A login whose password was right and which may open a session.
struct Checked {
    account: AccountRow,
    /// The domain's overrides of the session settings.
    domain_rules: SessionRuleRow,
    stored: String,
    policy: deskward_core::password::Policy,
    /// The password hashed again with the current parameters, when the stored hash is outdated.
    upgraded: Option<String>,
    /// The account is mailed about its logins.
    notify: bool,
    /// The domain's allow-list (empty when it has none).
    allow_list: AllowListRow,
    /// Proven by a Kerberos ticket rather than a password.
    kerberos: bool,
}

/// What a login proves its identity with.
pub(crate) enum Proof<'a> {
    Password { login: &'a str, password: &'a str },
    /// A Kerberos ticket the server accepted, for this login.
    Kerberos { login: &'a str },
}

#[derive(Debug, Clone)]
pub struct LoginOutcome {
    /// The session token for the cookie; shown once, stored only as a hash.
    pub token: String,
    pub session: SessionRow,
    pub account: AccountRow,
    /// The account's groups (id, name) as the session opened, when the login read them.
    pub memberships: Option<Vec<(i64, String)>>,
}

/// Why a login failed, for the security event (never the password).
pub(crate) struct Failure {
    error: AppError,
    /// `None` for failures that are not the caller's (busy, storage).
    reason: Option<&'static str>,
    /// Whether the guard counts it: a wrong password is a guess, a disabled account is not.
    guess: bool,
    /// The account is staff (agent or admin): the stricter account throttle applies.
    staff: bool,
}

pub(crate) fn failed(error: AppError, reason: &'static str) -> Failure {
    Failure { error, reason: Some(reason), guess: true, staff: false }
}

pub(crate) fn refused(error: AppError, reason: &'static str) -> Failure {
    Failure { error, reason: Some(reason), guess: false, staff: false }
}

impl From<AppError> for Failure {
    fn from(error: AppError) -> Failure {
        Failure { error, reason: None, guess: false, staff: false }
    }
}

impl From<deskward_store::StoreError> for Failure {
    fn from(e: deskward_store::StoreError) -> Failure {
        AppError::from(e).into()
    }
}

impl App {
    /// Logs in with a password. The guard decides first, before any hashing: a banned client
    /// or a throttled account is refused with the time to wait. A failure is a security event
    /// in the login's domain (or the system's chain when the domain does not exist) with its
    /// reason, and a guess is counted by the guard, which may ban the client.
    pub async fn login(&self, login: &str, password: &str, remember: bool, source: &Source) -> Result<LoginOutcome, AppError> {
        let host = self.host_names.start(&source.ip);
        let mut caller = Caller::anonymous(source.clone());
        let ip = source.ip.parse::<IpAddr>().ok();
        let account = self.guard.account_key(login);
        self.refuse_guarded(&caller, ip, Some((login, account))).await?;
        match self.try_login(Proof::Password { login, password }, remember, &mut caller, host).await {
            Ok(outcome) => {
                if let Some(ip) = ip {
                    self.guard.success(ip, account);
                }
                Ok(outcome)
            }
            Err(f) => Err(self.login_failed(&caller, ip, login, format!("account:{}", clean_field(login)), Some(account), f).await),
        }
    }

    /// Refuses a banned client, and with `account` (the login's name and guard key) a
    /// throttled account, recording the refusal.
    pub(crate) async fn refuse_guarded(&self, caller: &Caller, ip: Option<IpAddr>, account: Option<(&str, u64)>) -> Result<(), AppError> {
        let now = self.now();
        let verdict = match (ip, account) {
            (None, _) => Verdict::Allowed,
            (Some(ip), Some((_, key))) => self.guard.check(ip, key, now),
            (Some(ip), None) => self.guard.banned_until(ip, now).map_or(Verdict::Allowed, |until| Verdict::Banned { until }),
        };
        let (until, banned, action) = match verdict {
            Verdict::Allowed => return Ok(()),
            Verdict::Banned { until } => (until, true, "login.banned"),
            Verdict::Throttled { until } => (until, false, "login.throttled"),
        };
        let (chain, target) = match account {
            Some((login, _)) => (self.chain_of_login(login).await?, format!("account:{}", clean_field(login))),
            None => (SYSTEM_CHAIN.to_owned(), "kerberos".to_owned()),
        };
        self.security_event(caller, &chain, action, target, json!({ "until": until })).await;
        Err(AppError::TooManyAttempts { retry_after: (until - now).max(1), banned })
    }

    /// Records a failed login: a security event with its reason in the chain of `login`'s
    /// domain, the owner's mail for a wrong password, and a guess counted by the guard (with
    /// `account`, also against the account). Returns the error to answer with.
    pub(crate) async fn login_failed(&self, caller: &Caller, ip: Option<IpAddr>, login: &str, target: String, account: Option<u64>, f: Failure) -> AppError {
        let Failure { error, reason, guess, staff } = f;
        let Some(reason) = reason else { return error };
        let chain = match self.chain_of_login(login).await {
            Ok(chain) => chain,
            Err(e) => return e,
        };
        self.security_event(caller, &chain, "login.failed", target, json!({ "reason": reason })).await;
        if reason == "wrong_password" {
            self.notify_failed_login(login, &caller.source);
        }
        if let Some(ip) = ip.filter(|_| guess)
            && let Some(client) = self.guard.failure(ip, account.map(|a| (a, staff)), self.now())
            && let Err(e) = self.ban_client(caller, client, &clean_field(login)).await
        {
            tracing::error!(error = %e, "cannot write the ban of a client that failed too often");
        }
        error
    }

    /// The chain a login's events go to: its domain's when that exists, else the system's.
    async fn chain_of_login(&self, login: &str) -> Result<String, AppError> {
        let Ok(l) = Login::parse(login) else { return Ok(SYSTEM_CHAIN.to_owned()) };
        let mut c = self.store.conn().await?;
        let known = DomainRow::find(&mut c, l.domain.as_str()).await?.is_some();
        Ok(if known { l.domain.to_string() } else { SYSTEM_CHAIN.to_owned() })
    }

    /// Refuses staff working from outside their networks (`http.admin_networks`,
    /// `http.agent_networks`).
    pub fn may_work_from(&self, role: Role, ip: &str) -> Result<(), AppError> {
        let (networks, who) = match role {
            Role::User => return Ok(()),
            Role::Agent => (&self.networks.agents, "agents"),
            Role::DomainAdmin | Role::SystemAdmin => (&self.networks.admins, "administrators"),
        };
        if networks.is_empty() || ip.parse::<IpAddr>().is_ok_and(|ip| networks.contains(ip)) {
            return Ok(());
        }
        Err(AppError::NetworkRestricted(format!("{who} may not work from {ip}; it is outside the allowed networks")))
    }

    /// `host` is the client's host name being resolved; it is awaited after the password check
    /// and put into `caller`, so every record of this login names it.
    pub(crate) async fn try_login(&self, proof: Proof<'_>, remember: bool, caller: &mut Caller, host: Pending) -> Result<LoginOutcome, Failure> {
        let checked = match proof {
            Proof::Password { login, password } => self.check_login(login, password, caller).await,
            Proof::Kerberos { login } => self.check_kerberos(login, caller).await,
        };
        caller.source.host = host.name().await;
        let checked = checked?;
        self.hold_outside_allow_list(&checked.account, &checked.allow_list, caller).await?;
        self.open_session(checked, remember, caller).await
    }

    /// The password check and the refusals that follow it. No writes, except the account a
    /// directory vouches for at its first login.
    async fn check_login(&self, login: &str, password: &str, caller: &Caller) -> Result<Checked, Failure> {
        if password.is_empty() || password.chars().count() > MAX_LENGTH {
            return Err(failed(AppError::InvalidCredentials, "malformed_password"));
        }
        let Ok(login) = Login::parse(login) else { return Err(failed(AppError::InvalidCredentials, "malformed_login")) };
        let mut c = self.store.conn().await?;
        let (account, epoch) = AccountRow::find_at_epoch(&mut c, login.domain.as_str(), login.name.as_str()).await?;
        drop(c);
        let settings = self.login_settings(login.domain.as_str(), epoch).await?;
        let policy = account.as_ref().map(|a| settings.policy(a.role));
        let order = settings.order.clone();
        let directory = settings.directory.clone().filter(|_| order.contains(&Backend::Directory));
        let staff = account.as_ref().is_some_and(|a| a.role != Role::User);
        let failed = |error, reason| Failure { staff, ..failed(error, reason) };
        let staffed = |f: Failure| Failure { staff, ..f };
        // An account answers to the back end that made it, and only while the order lists it.
        let external = match account.as_ref().map(Backend::of) {
            Some(b) if !order.contains(&b) => {
                self.hasher.verify_dummy(password).await?;
                return Err(failed(AppError::InvalidCredentials, "backend_not_in_order"));
            }
            Some(Backend::Local) => None,
            Some(Backend::Directory) => match &directory {
                Some(dir) => self.check_with_directory(dir, &settings.bind_password, &login, account.clone(), password, caller).await.map_err(staffed)?,
                None => {
                    self.hasher.verify_dummy(password).await?;
                    return Err(failed(AppError::InvalidCredentials, "directory_removed"));
                }
            },
            Some(Backend::Plugin(name)) => self.check_with_plugin(&name, &login, account.clone(), password, caller).await.map_err(staffed)?,
            // A login that names no account: the first back end in the order that knows the
            // person makes it.
            None => {
                let mut made = None;
                for b in &order {
                    made = match (b, &directory) {
                        (Backend::Directory, Some(dir)) => self.check_with_directory(dir, &settings.bind_password, &login, None, password, caller).await?,
                        (Backend::Plugin(name), _) => self.check_with_plugin(name, &login, None, password, caller).await?,
                        _ => None,
                    };
                    if made.is_some() {
                        break;
                    }
                }
                if made.is_none() {
                    self.hasher.verify_dummy(password).await?;
                    return Err(failed(AppError::InvalidCredentials, "unknown_account"));
                }
                made
            }
        };
        let (account, stored, policy, needs_rehash) = match external {
            Some(account) => {
                // The back end owns the password: Deskward's age limit does not apply.
                let policy = Policy { max_age_days: None, ..policy.unwrap_or_else(|| Policy::default_for(Audience::of(account.role))) };
                (account, String::new(), policy, false)
            }
            None => {
                let Some((account, stored, policy)) =
                    account.zip(policy).and_then(|(a, p)| a.password_hash.clone().map(|h| (a, h, p)))
                else {
                    self.hasher.verify_dummy(password).await?;
                    return Err(failed(AppError::InvalidCredentials, "no_password"));
                };
                let needs_rehash = match self.hasher.verify(password, &stored).await {
                    Ok(Verification::Match { needs_rehash }) => needs_rehash,
                    Ok(Verification::Mismatch) => return Err(failed(AppError::InvalidCredentials, "wrong_password")),
                    Err(AppError::Internal(detail)) => {
                        tracing::warn!(login = %login, %detail, "stored password hash cannot be read");
                        return Err(failed(AppError::InvalidCredentials, "unreadable_password_hash"));
                    }
                    Err(e) => return Err(e.into()),
                };
                (account, stored, policy, needs_rehash)
            }
        };
        let rehash = needs_rehash.then_some(password);
        self.admit(account, stored, policy, rehash, &settings, caller).await
    }

    /// The refusals that follow a proven identity, and what the session needs. `rehash` is
    /// the password when its stored hash is outdated (hashed again only once admitted).
    async fn admit(&self, account: AccountRow, stored: String, policy: Policy, rehash: Option<&str>, settings: &LoginSettings, caller: &Caller) -> Result<Checked, Failure> {
        if account.domain_disabled {
            return Err(refused(AppError::DomainDisabled, "domain_disabled"));
        }
        if account.disabled {
            return Err(refused(AppError::AccountDisabled, "account_disabled"));
        }
        if let Err(e) = self.may_work_from(account.role, &caller.source.ip) {
            return Err(refused(e, "network_restricted"));
        }
        let upgraded = match rehash {
            Some(password) => Some(self.hasher.hash(password).await?),
            None => None,
        };
        let domain_rules = settings.rules;
        let notify = settings.notifications(account.role).login_success;
        let allow_list = settings.allow_list.clone();
        Ok(Checked { account, domain_rules, stored, policy, upgraded, notify, allow_list, kerberos: false })
    }

    /// A login whose Kerberos ticket the server accepted: the account must exist; it is
    /// admitted like a password login, whatever back end checks its password.
    async fn check_kerberos(&self, login: &str, caller: &Caller) -> Result<Checked, Failure> {
        let Ok(login) = Login::parse(login) else { return Err(refused(AppError::InvalidCredentials, "kerberos_unmapped")) };
        let mut c = self.store.conn().await?;
        let (account, epoch) = AccountRow::find_at_epoch(&mut c, login.domain.as_str(), login.name.as_str()).await?;
        let Some(account) = account else {
            return Err(refused(AppError::InvalidCredentials, "kerberos_unknown_account"));
        };
        drop(c);
        let settings = self.login_settings(&account.domain, epoch).await?;
        let policy = settings.policy(account.role);
        // Another back end's password is not Deskward's to age.
        let policy = if Backend::of(&account) == Backend::Local { policy } else { Policy { max_age_days: None, ..policy } };
        let checked = self.admit(account, String::new(), policy, None, &settings, caller).await?;
        Ok(Checked { kerberos: true, ..checked })
    }

    /// Checks a login against its domain's directory; makes the account at its first login.
    /// A directory that cannot answer fails the login closed, and it is no guess. `None`: the
    /// directory knows no such person and there is no account.
    async fn check_with_directory(&self, dir: &Directory, bind: &BindPassword, login: &Login, account: Option<AccountRow>, password: &str, caller: &Caller) -> Result<Option<AccountRow>, Failure> {
        match self.directory_login(dir, bind, login.name.as_str(), password).await {
            Ok(user) => {
                if user.disabled {
                    return Err(refused(AppError::AccountDisabled, "directory_disabled"));
                }
                let account = match account {
                    // An entry that moved keeps its account only under the same DN.
                    Some(a) if a.directory_dn.as_deref() == Some(user.dn.as_str()) => a,
                    Some(_) => return Err(refused(AppError::InvalidCredentials, "directory_entry_changed")),
                    None => self.create_directory_account(dir, login, &user, caller).await?,
                };
                // The directory vouched for the entry just now: a block by the directory
                // lifts and the kept groups follow it, before the session opens.
                if !self.must_follow(dir, &account, &user).await? {
                    return Ok(Some(account));
                }
                let me = Caller { name: account.login(), ..caller.clone() };
                let mut tx = self.store.begin().await?;
                let records = self.follow_directory(&mut tx, &me, dir, &account, Some(&user), &mut SyncReport::default()).await?;
                let Some(records) = deskward_store::Audit::many(records) else { return Ok(Some(account)) };
                tx.commit(records).await?;
                self.auth_cache.clear();
                let mut c = self.store.conn().await?;
                Ok(Some(AccountRow::get(&mut c, account.id).await?.ok_or_else(|| AppError::Internal("account vanished".into()))?))
            }
            Err(DirectoryError::WrongPassword) => Err(failed(AppError::InvalidCredentials, "wrong_password")),
            // The right password: no guess, and the answer says what to do.
            Err(DirectoryError::Refused(r)) => Err(match r {
                Refusal::Disabled => refused(AppError::AccountDisabled, "directory_disabled"),
                Refusal::AccountExpired => refused(AppError::AccountDisabled, "directory_account_expired"),
                Refusal::PasswordExpired => refused(
                    AppError::DirectoryPasswordExpired("your password has expired in the directory: change it there, then log in".into()),
                    "directory_password_expired",
                ),
                Refusal::MustChangePassword => refused(
                    AppError::DirectoryPasswordExpired("the directory asks you to change your password first: change it there, then log in".into()),
                    "directory_password_must_change",
                ),
            }),
            Err(DirectoryError::NotFound) if account.is_none() => Ok(None),
            Err(DirectoryError::NotFound) => {
                // Costs what a wrong password costs, so the answer's time tells nothing.
                self.hasher.verify_dummy(password).await?;
                Err(failed(AppError::InvalidCredentials, "directory_entry_gone"))
            }
            Err(DirectoryError::Unavailable(detail)) => {
                tracing::warn!(domain = %dir.domain, %detail, "a directory login cannot be checked");
                let error = AppError::DirectoryUnavailable(format!("the directory that checks the passwords of {} cannot be reached; try again later", dir.domain));
                Err(Failure { error, reason: Some("directory_unavailable"), guess: false, staff: false })
            }
        }
    }

    /// Checks a login with an authentication plugin; makes the account at its first login.
    /// A plugin that cannot answer fails the login closed, and it is no guess. `None`: the
    /// plugin knows no such person and there is no account.
    async fn check_with_plugin(&self, name: &str, login: &Login, account: Option<AccountRow>, password: &str, caller: &Caller) -> Result<Option<AccountRow>, Failure> {
        let unavailable = |detail: String| {
            tracing::warn!(plugin = %name, domain = %login.domain, %detail, "a plugin login cannot be checked");
            let error = AppError::PluginUnavailable(format!("the service that checks the passwords of {} cannot answer; try again later", login.domain));
            Failure { error, reason: Some("plugin_unavailable"), guess: false, staff: false }
        };
        let Some(plugin) = self.plugins.get(name) else {
            return Err(unavailable(format!("no plugin {name} in the configuration")));
        };
        let outcome = plugin.authenticate(login.domain.as_str(), login.name.as_str(), password).await.map_err(unavailable)?;
        match outcome {
            PluginOutcome::Accepted { user } => {
                if user.id.is_empty() || user.id.len() > 256 {
                    return Err(unavailable("an accepted user without an id of 1 to 256 bytes".into()));
                }
                let origin = Origin::Plugin { name, id: &user.id };
                match account {
                    Some(a) if origin.made(&a) => Ok(Some(a)),
                    Some(_) => Err(refused(AppError::InvalidCredentials, "plugin_user_changed")),
                    None => Ok(Some(self.create_external_account(login, origin, user.mail.as_deref(), caller).await?)),
                }
            }
            PluginOutcome::Rejected => Err(failed(AppError::InvalidCredentials, "wrong_password")),
            PluginOutcome::Disabled => Err(refused(AppError::AccountDisabled, "plugin_disabled")),
            PluginOutcome::Unknown if account.is_none() => Ok(None),
            PluginOutcome::Unknown => {
                self.hasher.verify_dummy(password).await?;
                Err(failed(AppError::InvalidCredentials, "plugin_user_gone"))
            }
            PluginOutcome::Error { message } => Err(unavailable(format!("the plugin says: {}", clean_field(&message)))),
        }
    }

    /// Opens the session of a checked login, with its audit record.
    async fn open_session(&self, checked: Checked, remember: bool, caller: &Caller) -> Result<LoginOutcome, Failure> {
        let Checked { account, domain_rules, stored, policy, upgraded, notify, kerberos, .. } = checked;
        let now = self.now();
        let expired = policy.is_expired(account.password_changed_at.unwrap_or(account.created_at), now);
        // A directory account changes its password in the directory, never here.
        let must_change = account.must_change_password && account.directory_dn.is_none();
        let (token, session) = self.new_session(&account, &domain_rules, &caller.source, expired || must_change, remember);
        let mut tx = self.store.begin().await?;
        if let Some(new_hash) = &upgraded {
            AccountRow::upgrade_hash(&mut tx, account.id, &stored, new_hash).await?;
        }
        let memberships = SessionRow::insert_for_login(&mut tx, &session, now).await?;
        if notify {
            self.queue_login_mail(&mut tx, &account, &caller.source, now).await?;
        }
        let me = Caller { name: account.login(), ..caller.clone() };
        let mut summary = json!({
            "user_agent": clean_field(&session.user_agent),
            "password_change_required": session.password_change_required,
            "remembered": session.remembered,
            "hash_upgraded": upgraded.is_some(),
        });
        if kerberos {
            summary["method"] = json!("kerberos");
        }
        tx.commit(self.entry(&me, &account.domain, "login", format!("account:{}", account.login()), summary)).await?;
        Ok(LoginOutcome { token, session, account, memberships: Some(memberships) })
    }
}
