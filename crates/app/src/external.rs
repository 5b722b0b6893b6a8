//! Accounts made by an external back end (a directory or a plugin) at their first login.

use deskward_core::audit::clean_field;
use deskward_core::{Login, Role};
use deskward_store::{AccountRow, DomainRow, NewAccount};
use serde_json::json;

use crate::accounts::class_id;
use crate::{App, AppError, Caller};

/// The back end that vouched for a first login.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Origin<'a> {
    Directory { dn: &'a str, class: Option<&'a str> },
    Plugin { name: &'a str, id: &'a str },
}

impl Origin<'_> {
    /// Whether `account` is the one this back end made for the same identity.
    pub(crate) fn made(&self, account: &AccountRow) -> bool {
        match self {
            Origin::Directory { dn, .. } => account.directory_dn.as_deref() == Some(*dn),
            Origin::Plugin { name, id } => account.auth_plugin.as_ref().is_some_and(|(n, i)| n == name && i == id),
        }
    }
}

impl App {
    /// Makes the account of a person a back end vouched for at their first login: a user,
    /// mailed at the back end's address when it gave a valid one. Audited as made by that
    /// person, from where they logged in. Two first logins at once make one account.
    pub(crate) async fn create_external_account(&self, login: &Login, origin: Origin<'_>, mail: Option<&str>, caller: &Caller) -> Result<AccountRow, AppError> {
        let email = mail.and_then(|m| crate::notify::parse_address(m).ok().flatten());
        let mut tx = self.store.begin().await?;
        let Some(domain) = DomainRow::find(tx.conn(), login.domain.as_str()).await? else {
            return Err(AppError::InvalidCredentials);
        };
        let (directory_dn, auth_plugin, class) = match origin {
            Origin::Directory { dn, class } => (Some(dn), None, class),
            Origin::Plugin { name, id } => (None, Some((name, id)), None),
        };
        let class_id = class_id(tx.conn(), domain.id, class).await.unwrap_or(None);
        let new = NewAccount {
            domain_id: domain.id,
            name: login.name.as_str(),
            role: Role::User,
            class_id,
            password_hash: None,
            must_change_password: false,
            directory_dn,
            auth_plugin,
        };
        let id = match AccountRow::insert(&mut tx, &new, self.now()).await {
            Ok(id) => id,
            Err(e) => {
                drop(tx);
                let mut c = self.store.conn().await?;
                return match AccountRow::find(&mut c, &domain.name, login.name.as_str()).await? {
                    Some(a) if origin.made(&a) => Ok(a),
                    _ => Err(e.into()),
                };
            }
        };
        if email.is_some() {
            AccountRow::set_email(&mut tx, id, email.as_deref()).await?;
        }
        let row = AccountRow::get(tx.conn(), id).await?.ok_or_else(|| AppError::Internal("account vanished".into()))?;
        let me = Caller { name: row.login(), ..caller.clone() };
        let mut summary = json!({ "email": row.email, "role": row.role.as_str(), "class": row.class });
        match origin {
            Origin::Directory { dn, .. } => {
                summary["source"] = json!("directory");
                summary["dn"] = json!(clean_field(dn));
            }
            Origin::Plugin { name, id } => {
                summary["source"] = json!(format!("plugin:{name}"));
                summary["plugin_id"] = json!(clean_field(id));
            }
        }
        tx.commit(self.entry(&me, &domain.name, "account.create", format!("account:{}", row.login()), summary)).await?;
        Ok(row)
    }
}
