//! Accounts: create, change, set passwords, remove. Every password set here passes the
//! domain's policy for the account's audience; changing a password or disabling an account
//! ends all its sessions.

use deskward_core::authz::Actor;
use deskward_core::password::{Audience, Verification, Violation};
use deskward_core::{AccountName, Login, ObjectName, Role};
use deskward_store::{AccountRow, ClassRow, Conn, DomainRow, GroupRow, NewAccount, SessionRow, policies};

use crate::domains::administered;
use crate::{App, AppError, Authenticated};

#[derive(Debug, Clone, Default)]
pub struct NewAccountInput {
    pub name: String,
    pub role: String,
    pub class: Option<String>,
    pub password: Option<String>,
    pub must_change_password: bool,
}

#[derive(Debug, Clone, Default)]
pub struct AccountChange {
    pub role: Option<String>,
    /// `Some("")` removes the class.
    pub class: Option<String>,
    pub disabled: Option<bool>,
    pub must_change_password: Option<bool>,
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
async fn visible_account(c: &mut Conn, actor: &Actor, login: &str) -> Result<(DomainRow, AccountRow), AppError> {
    let login = Login::parse(login)?;
    let domain = administered(c, actor, login.domain.as_str()).await?;
    let account = AccountRow::find(c, domain.name.as_str(), login.name.as_str())
        .await?
        .ok_or_else(|| AppError::NotFound(format!("account {login}")))?;
    Ok((domain, account))
}

/// Like [`visible_account`], and checks that `actor` may change it (a domain admin may not
/// change a system admin).
async fn administered_account(c: &mut Conn, actor: &Actor, login: &str) -> Result<(DomainRow, AccountRow), AppError> {
    let (domain, account) = visible_account(c, actor, login).await?;
    actor.may_touch_role(account.role)?;
    Ok((domain, account))
}

impl App {
    /// Checks `password` against the policy of `account`'s domain and role, including reuse.
    pub(crate) async fn check_password(
        &self,
        c: &mut Conn,
        domain_id: i64,
        role: Role,
        account: Option<&AccountRow>,
        name: &str,
        password: &str,
    ) -> Result<(), AppError> {
        let policy = policies::get(c, domain_id, Audience::of(role)).await?;
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
        if broken.is_empty() { Ok(()) } else { Err(AppError::Policy(broken)) }
    }

    pub async fn create_account(&self, actor: &Actor, domain: &str, input: &NewAccountInput) -> Result<AccountRow, AppError> {
        let name = AccountName::parse(&input.name)?;
        let role: Role = input.role.parse()?;
        actor.may_touch_role(role)?;
        let mut c = self.store.conn().await?;
        let domain = administered(&mut c, actor, domain).await?;
        // Cheap refusals first, so a doomed request spends no password hash.
        if AccountRow::find(&mut c, &domain.name, name.as_str()).await?.is_some() {
            return Err(AppError::Conflict(format!("account {name}@{} already exists", domain.name)));
        }
        class_id(&mut c, domain.id, input.class.as_deref()).await?;
        let hash = match &input.password {
            Some(pw) => {
                self.check_password(&mut c, domain.id, role, None, name.as_str(), pw).await?;
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
        };
        let id = AccountRow::insert(&mut tx, &new, self.now()).await.map_err(|e| match AppError::from(e) {
            AppError::Conflict(_) => AppError::Conflict(format!("account {name}@{} already exists", domain.name)),
            other => other,
        })?;
        let row = AccountRow::get(tx.conn(), id).await?.ok_or_else(|| AppError::Internal("account vanished".into()))?;
        tx.commit().await?;
        Ok(row)
    }

    pub async fn list_accounts(&self, actor: &Actor, domain: &str) -> Result<Vec<AccountRow>, AppError> {
        let mut c = self.store.conn().await?;
        let domain = administered(&mut c, actor, domain).await?;
        Ok(AccountRow::list(&mut c, domain.id).await?)
    }

    /// An account and its groups.
    pub async fn get_account(&self, actor: &Actor, login: &str) -> Result<(AccountRow, Vec<String>), AppError> {
        let mut c = self.store.conn().await?;
        let (_, account) = visible_account(&mut c, actor, login).await?;
        let groups = GroupRow::of_account(&mut c, account.id).await?;
        Ok((account, groups))
    }

    pub async fn groups_of(&self, account_id: i64) -> Result<Vec<String>, AppError> {
        let mut c = self.store.conn().await?;
        Ok(GroupRow::of_account(&mut c, account_id).await?)
    }

    pub async fn update_account(&self, actor: &Actor, login: &str, change: &AccountChange) -> Result<AccountRow, AppError> {
        let role = change.role.as_deref().map(str::parse::<Role>).transpose()?;
        let mut tx = self.store.begin().await?;
        let (domain, account) = administered_account(tx.conn(), actor, login).await?;
        if let Some(role) = role {
            actor.may_touch_role(role)?;
            if account.role == Role::SystemAdmin && role != Role::SystemAdmin {
                self.keep_one_system_admin(tx.conn(), &account).await?;
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
        let row = AccountRow::get(tx.conn(), account.id).await?.ok_or_else(|| AppError::NotFound(login.to_owned()))?;
        tx.commit().await?;
        self.auth_cache.clear();
        Ok(row)
    }

    /// An admin sets someone's password (policy applies; all their sessions end).
    pub async fn set_password(&self, actor: &Actor, login: &str, password: &str, must_change: bool) -> Result<(), AppError> {
        let mut c = self.store.conn().await?;
        let (_, account) = administered_account(&mut c, actor, login).await?;
        self.check_password(&mut c, account.domain_id, account.role, Some(&account), &account.name, password).await?;
        drop(c);
        let hash = self.hasher.hash(password).await?;
        let mut tx = self.store.begin().await?;
        AccountRow::set_password(&mut tx, account.id, &hash, must_change, true, self.now()).await?;
        SessionRow::delete_for_account(&mut tx, account.id).await?;
        tx.commit().await?;
        self.auth_cache.clear();
        Ok(())
    }

    /// The owner changes their password; other sessions end, this one carries on.
    pub async fn change_own_password(&self, auth: &Authenticated, current: &str, new: &str) -> Result<(), AppError> {
        let stored = auth.account.password_hash.as_deref().ok_or(AppError::WrongCurrentPassword)?;
        match self.hasher.verify(current, stored).await? {
            Verification::Match { .. } => {}
            Verification::Mismatch => return Err(AppError::WrongCurrentPassword),
        }
        let account = &auth.account;
        let mut c = self.store.conn().await?;
        self.check_password(&mut c, account.domain_id, account.role, Some(account), &account.name, new).await?;
        drop(c);
        let hash = self.hasher.hash(new).await?;
        let mut tx = self.store.begin().await?;
        AccountRow::set_password(&mut tx, account.id, &hash, false, true, self.now()).await?;
        SessionRow::delete_for_account(&mut tx, account.id).await?;
        let mut session = auth.session.clone();
        session.password_change_required = false;
        SessionRow::insert(&mut tx, &session).await?;
        tx.commit().await?;
        self.auth_cache.clear();
        Ok(())
    }

    pub async fn remove_account(&self, actor: &Actor, login: &str) -> Result<(), AppError> {
        let mut tx = self.store.begin().await?;
        let (_, account) = administered_account(tx.conn(), actor, login).await?;
        if let Actor::Account { account_id, .. } = actor
            && *account_id == account.id
        {
            return Err(AppError::Conflict("cannot remove your own account".into()));
        }
        self.keep_one_system_admin(tx.conn(), &account).await?;
        AccountRow::delete(&mut tx, account.id).await?;
        tx.commit().await?;
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
