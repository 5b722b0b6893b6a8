//! Accounts: create, change, set passwords, remove. Every password set here passes the
//! domain's policy for the account's audience; changing a password or disabling an account
//! ends all its sessions.

use deskward_core::authz::Actor;
use deskward_core::password::{Audience, Verification, Violation};
use deskward_core::{AccountName, Login, ObjectName, Role};
use deskward_store::{AccountRow, ClassRow, Conn, DomainRow, GroupRow, NewAccount, SessionRow, policies};

use crate::domains::administered;
use deskward_core::audit::clean_field;
use serde_json::json;

use crate::{App, AppError, Authenticated, Caller};

#[derive(Debug, Clone, Default)]
pub struct NewAccountInput {
    pub name: String,
    pub role: String,
    pub class: Option<String>,
    pub password: Option<String>,
    pub must_change_password: bool,
    /// Where Deskward's mail to the account goes; `None` means its login address.
    pub email: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct AccountChange {
    pub role: Option<String>,
    /// `Some("")` removes the class.
    pub class: Option<String>,
    pub disabled: Option<bool>,
    pub must_change_password: Option<bool>,
    /// `Some("")` removes the address, so mail goes to the login address.
    pub email: Option<String>,
}

/// A directory or plugin account's password belongs to that back end: it is changed there,
/// never here.
fn refuse_external_account(account: &AccountRow) -> Result<(), AppError> {
    match (&account.directory_dn, &account.auth_plugin) {
        (Some(dn), _) => Err(AppError::Conflict(format!("{} logs in with the directory's password ({}); change it in the directory", account.login(), clean_field(dn)))),
        (None, Some((plugin, _))) => Err(AppError::Conflict(format!("{} logs in through the authentication plugin {plugin}; change the password where it keeps it", account.login()))),
        (None, None) => Ok(()),
    }
}

pub(crate) async fn class_id(c: &mut Conn, domain_id: i64, class: Option<&str>) -> Result<Option<i64>, AppError> {
    match class.filter(|c| !c.is_empty()) {
        None => Ok(None),
        Some(name) => {
            let name = ObjectName::parse("user class name", name)?;
            let class = ClassRow::find(c, domain_id, name.as_str()).await?;
            Ok(Some(class.ok_or_else(|| AppError::NotFound(format!("user class {name}")))?.id))
        }
    }
}

/// Finds `login` (`name@domain`) in a domain `actor` administers: enough to view it.
pub(crate) async fn visible_account(c: &mut Conn, actor: &Actor, login: &str) -> Result<(DomainRow, AccountRow), AppError> {
    let login = Login::parse(login)?;
    let domain = administered(c, actor, login.domain.as_str()).await?;
    let account = AccountRow::find(c, domain.name.as_str(), login.name.as_str())
        .await?
        .ok_or_else(|| AppError::NotFound(format!("account {login}")))?;
    Ok((domain, account))
}

/// Like [`visible_account`], and checks that `actor` may change it (a domain admin may not
/// change a system admin).
pub(crate) async fn administered_account(c: &mut Conn, actor: &Actor, login: &str) -> Result<(DomainRow, AccountRow), AppError> {
    let (domain, account) = visible_account(c, actor, login).await?;
    actor.may_touch_role(account.role)?;
    Ok((domain, account))
}

impl App {
    /// Checks `password` against the policy of `account`'s domain and role, including reuse;
    /// a refusal is a security event naming the broken rules.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn check_password(
        &self,
        c: &mut Conn,
        caller: &Caller,
        domain: (i64, &str),
        role: Role,
        account: Option<&AccountRow>,
        name: &str,
        password: &str,
    ) -> Result<(), AppError> {
        let policy = policies::get(c, domain.0, Audience::of(role)).await?;
        let mut broken = policy.check(password, name);
        if let (Some(account), true, true) = (account, policy.history > 0, broken.is_empty()) {
            let mut previous: Vec<String> = account.password_hash.iter().cloned().collect();
            previous.extend(AccountRow::recent_hashes(c, account.id, policy.history.saturating_sub(1)).await?);
            for stored in previous {
                if let Ok(Verification::Match { .. }) = self.hasher.verify(password, &stored).await {
                    broken.push(Violation::Reused { history: policy.history });
                    break;
                }
            }
        }
        if broken.is_empty() {
            return Ok(());
        }
        let rules: Vec<&str> = broken.iter().map(|v| v.rule()).collect();
        let target = format!("account:{name}@{}", domain.1);
        self.security_event(caller, domain.1, "password.policy_violation", target, json!({ "rules": rules })).await;
        Err(AppError::Policy(broken))
    }

    pub async fn create_account(&self, caller: &Caller, domain: &str, input: &NewAccountInput) -> Result<AccountRow, AppError> {
        let actor = &caller.actor;
        let name = AccountName::parse(&input.name)?;
        let role: Role = input.role.parse()?;
        actor.may_touch_role(role)?;
        let email = input.email.as_deref().map(crate::notify::parse_address).transpose()?.flatten();
        let mut c = self.store.conn().await?;
        let domain = administered(&mut c, actor, domain).await?;
        // Cheap refusals first, so a doomed request spends no password hash.
        if AccountRow::find(&mut c, &domain.name, name.as_str()).await?.is_some() {
            return Err(AppError::Conflict(format!("account {name}@{} already exists", domain.name)));
        }
        class_id(&mut c, domain.id, input.class.as_deref()).await?;
        let hash = match &input.password {
            Some(pw) => {
                self.check_password(&mut c, caller, (domain.id, &domain.name), role, None, name.as_str(), pw).await?;
                Some(self.hasher.hash(pw).await?)
            }
            None => None,
        };
        drop(c);
        let mut tx = self.store.begin().await?;
        let class_id = class_id(tx.conn(), domain.id, input.class.as_deref()).await?;
        let new = NewAccount {
            domain_id: domain.id,
            name: name.as_str(),
            role,
            class_id,
            password_hash: hash.as_deref(),
            must_change_password: input.must_change_password,
            directory_dn: None,
            auth_plugin: None,
        };
        let id = AccountRow::insert(&mut tx, &new, self.now()).await.map_err(|e| match AppError::from(e) {
            AppError::Conflict(_) => AppError::Conflict(format!("account {name}@{} already exists", domain.name)),
            other => other,
        })?;
        if email.is_some() {
            AccountRow::set_email(&mut tx, id, email.as_deref()).await?;
        }
        let row = AccountRow::get(tx.conn(), id).await?.ok_or_else(|| AppError::Internal("account vanished".into()))?;
        let summary = json!({
            "email": row.email,
            "role": row.role.as_str(),
            "class": row.class,
            "password_set": hash.is_some(),
            "must_change_password": row.must_change_password,
        });
        tx.commit(self.entry(caller, &domain.name, "account.create", format!("account:{}", row.login()), summary)).await?;
        Ok(row)
    }

    pub async fn list_accounts(&self, caller: &Caller, domain: &str) -> Result<Vec<AccountRow>, AppError> {
        let actor = &caller.actor;
        let mut c = self.store.conn().await?;
        let domain = administered(&mut c, actor, domain).await?;
        Ok(AccountRow::list(&mut c, domain.id).await?)
    }

    /// An account and its groups.
    pub async fn get_account(&self, caller: &Caller, login: &str) -> Result<(AccountRow, Vec<String>), AppError> {
        let actor = &caller.actor;
        let mut c = self.store.conn().await?;
        let (_, account) = visible_account(&mut c, actor, login).await?;
        let groups = GroupRow::of_account(&mut c, account.id).await?;
        Ok((account, groups))
    }

    pub async fn groups_of(&self, account_id: i64) -> Result<Vec<String>, AppError> {
        let mut c = self.store.conn().await?;
        Ok(GroupRow::of_account(&mut c, account_id).await?)
    }

    pub async fn update_account(&self, caller: &Caller, login: &str, change: &AccountChange) -> Result<AccountRow, AppError> {
        let actor = &caller.actor;
        let role = change.role.as_deref().map(str::parse::<Role>).transpose()?;
        let email = change.email.as_deref().map(crate::notify::parse_address).transpose()?;
        let mut tx = self.store.begin().await?;
        let (domain, account) = administered_account(tx.conn(), actor, login).await?;
        if let Some(role) = role {
            actor.may_touch_role(role)?;
            if account.role == Role::SystemAdmin && role != Role::SystemAdmin {
                self.keep_one_system_admin(tx.conn(), &account).await?;
            }
            if role != account.role {
                // Sessions opened acting for others held the old role's authority.
                SessionRow::delete_acting(&mut tx, account.id).await?;
            }
            AccountRow::set_role(&mut tx, account.id, role).await?;
        }
        if let Some(class) = &change.class {
            let id = class_id(tx.conn(), domain.id, Some(class)).await?;
            AccountRow::set_class(&mut tx, account.id, id).await?;
        }
        if let Some(disabled) = change.disabled {
            if disabled {
                self.keep_one_system_admin(tx.conn(), &account).await?;
                SessionRow::delete_for_account(&mut tx, account.id).await?;
            }
            AccountRow::set_disabled(&mut tx, account.id, disabled).await?;
        }
        if let Some(must) = change.must_change_password {
            AccountRow::set_must_change(&mut tx, account.id, must).await?;
        }
        if let Some(email) = &email {
            AccountRow::set_email(&mut tx, account.id, email.as_deref()).await?;
        }
        let row = AccountRow::get(tx.conn(), account.id).await?.ok_or_else(|| AppError::NotFound(login.to_owned()))?;
        let mut summary = serde_json::Map::new();
        let mut changed = |field: &str, from: serde_json::Value, to: serde_json::Value| {
            if from != to {
                summary.insert(field.to_owned(), json!({ "from": from, "to": to }));
            }
        };
        changed("role", json!(account.role.as_str()), json!(row.role.as_str()));
        changed("class", json!(account.class), json!(row.class));
        changed("disabled", json!(account.disabled), json!(row.disabled));
        changed("must_change_password", json!(account.must_change_password), json!(row.must_change_password));
        changed("email", json!(account.email), json!(row.email));
        let summary = serde_json::Value::Object(summary);
        tx.commit(self.entry(caller, &domain.name, "account.update", format!("account:{}", row.login()), summary)).await?;
        self.auth_cache.clear();
        Ok(row)
    }

    /// An admin sets someone's password (policy applies; all their sessions end).
    pub async fn set_password(&self, caller: &Caller, login: &str, password: &str, must_change: bool) -> Result<(), AppError> {
        let actor = &caller.actor;
        let mut c = self.store.conn().await?;
        let (_, account) = administered_account(&mut c, actor, login).await?;
        refuse_external_account(&account)?;
        let domain = (account.domain_id, account.domain.as_str());
        self.check_password(&mut c, caller, domain, account.role, Some(&account), &account.name, password).await?;
        drop(c);
        let hash = self.hasher.hash(password).await?;
        let mut tx = self.store.begin().await?;
        AccountRow::set_password(&mut tx, account.id, &hash, must_change, true, self.now()).await?;
        SessionRow::delete_for_account(&mut tx, account.id).await?;
        let summary = json!({ "must_change_password": must_change, "sessions_ended": true });
        tx.commit(self.entry(caller, &account.domain, "account.password_set", format!("account:{}", account.login()), summary))
            .await?;
        self.auth_cache.clear();
        Ok(())
    }

    /// The owner changes their password; other sessions end, this one carries on.
    pub async fn change_own_password(&self, caller: &Caller, auth: &Authenticated, current: &str, new: &str) -> Result<(), AppError> {
        let account = &auth.account;
        if caller.acting.is_some() {
            return Err(AppError::Forbidden("an administrator acting for an account cannot change its password".into()));
        }
        refuse_external_account(account)?;
        let right = match auth.account.password_hash.as_deref() {
            Some(stored) => matches!(self.hasher.verify(current, stored).await?, Verification::Match { .. }),
            None => false,
        };
        if !right {
            let summary = json!({ "reason": "wrong_current_password" });
            self.security_event(caller, &account.domain, "password.change_failed", format!("account:{}", account.login()), summary)
                .await;
            return Err(AppError::WrongCurrentPassword);
        }
        let mut c = self.store.conn().await?;
        let domain = (account.domain_id, account.domain.as_str());
        self.check_password(&mut c, caller, domain, account.role, Some(account), &account.name, new).await?;
        drop(c);
        let hash = self.hasher.hash(new).await?;
        let mut tx = self.store.begin().await?;
        AccountRow::set_password(&mut tx, account.id, &hash, false, true, self.now()).await?;
        SessionRow::delete_for_account(&mut tx, account.id).await?;
        let mut session = auth.session.clone();
        session.password_change_required = false;
        SessionRow::insert(&mut tx, &session).await?;
        let summary = json!({ "other_sessions_ended": true });
        tx.commit(self.entry(caller, &account.domain, "account.password_change", format!("account:{}", account.login()), summary))
            .await?;
        self.auth_cache.clear();
        Ok(())
    }

    pub async fn remove_account(&self, caller: &Caller, login: &str) -> Result<(), AppError> {
        let actor = &caller.actor;
        let mut tx = self.store.begin().await?;
        let (_, account) = administered_account(tx.conn(), actor, login).await?;
        if let Actor::Account { account_id, .. } = actor
            && *account_id == account.id
        {
            return Err(AppError::Conflict("cannot remove your own account".into()));
        }
        self.keep_one_system_admin(tx.conn(), &account).await?;
        AccountRow::delete(&mut tx, account.id).await?;
        let summary = json!({ "role": account.role.as_str(), "class": account.class });
        tx.commit(self.entry(caller, &account.domain, "account.remove", format!("account:{}", account.login()), summary)).await?;
        self.auth_cache.clear();
        Ok(())
    }

    /// Refuses a change that would leave the installation without an enabled system admin.
    async fn keep_one_system_admin(&self, c: &mut Conn, account: &AccountRow) -> Result<(), AppError> {
        if account.role == Role::SystemAdmin && !account.disabled && AccountRow::count_role(c, Role::SystemAdmin).await? <= 1 {
            return Err(AppError::Conflict(format!(
                "{} is the last system administrator; create another one first",
                account.login()
            )));
        }
        Ok(())
    }
}
