//! Domains: create, list, disable, remove. Disabling a domain ends every session in it; mail to
//! it keeps being accepted (once mail exists), so only logins stop.

use deskward_core::authz::Actor;
use deskward_core::{DomainName, Role};
use deskward_store::{AccountRow, Conn, DomainRow, SessionRow};

use serde_json::json;

use crate::{App, AppError, Caller};

/// Finds `name` and checks that `actor` may administer it. Outside their own domain a domain
/// admin is refused the same way whether the domain exists or not.
pub(crate) async fn administered(c: &mut Conn, actor: &Actor, name: &str) -> Result<DomainRow, AppError> {
    let name = DomainName::parse(name)?;
    let domain = DomainRow::find(c, name.as_str()).await?;
    match (domain, actor.role()) {
        (Some(d), _) => {
            actor.may_administer(d.id)?;
            Ok(d)
        }
        (None, Role::SystemAdmin) => Err(AppError::NotFound(format!("domain {name}"))),
        (None, _) => Err(actor.may_administer(-1).map_err(AppError::from).err().unwrap_or(AppError::Unauthenticated)),
    }
}

impl App {
    pub async fn create_domain(&self, caller: &Caller, name: &str) -> Result<DomainRow, AppError> {
        let actor = &caller.actor;
        actor.may_manage_domains("create domains")?;
        let name = DomainName::parse(name)?;
        let mut tx = self.store.begin().await?;
        let row = DomainRow::insert(&mut tx, name.as_str(), self.now()).await?;
        tx.commit(self.entry(caller, &row.name, "domain.create", format!("domain:{}", row.name), json!({}))).await?;
        Ok(row)
    }

    /// All domains for a system admin; their own for a domain admin.
    pub async fn list_domains(&self, caller: &Caller) -> Result<Vec<DomainRow>, AppError> {
        let actor = &caller.actor;
        let mut c = self.store.conn().await?;
        match actor {
            Actor::Operator | Actor::Account { role: Role::SystemAdmin, .. } => Ok(DomainRow::list(&mut c).await?),
            Actor::Account { role: Role::DomainAdmin, domain_id, .. } => {
                Ok(DomainRow::get(&mut c, *domain_id).await?.into_iter().collect())
            }
            Actor::Account { .. } => Err(actor.may_administer(-1).err().map_or(AppError::Unauthenticated, AppError::from)),
        }
    }

    pub async fn get_domain(&self, caller: &Caller, name: &str) -> Result<DomainRow, AppError> {
        let actor = &caller.actor;
        let mut c = self.store.conn().await?;
        administered(&mut c, actor, name).await
    }

    pub async fn set_domain_disabled(&self, caller: &Caller, name: &str, disabled: bool) -> Result<DomainRow, AppError> {
        let actor = &caller.actor;
        actor.may_manage_domains("disable or enable domains")?;
        let mut tx = self.store.begin().await?;
        let mut domain = administered(tx.conn(), actor, name).await?;
        if disabled {
            if let Actor::Account { domain_id, .. } = actor
                && *domain_id == domain.id
            {
                return Err(AppError::Conflict("cannot disable the domain of your own account".into()));
            }
            // Only when it would take the last working system admin away: an installation with
            // none yet is run from the host by the operator.
            let elsewhere = AccountRow::count_role_outside(tx.conn(), Role::SystemAdmin, domain.id).await?;
            if elsewhere == 0 && AccountRow::count_role(tx.conn(), Role::SystemAdmin).await? > 0 {
                return Err(AppError::Conflict(format!(
                    "disabling {} would leave no system administrator able to log in; create one in another domain first",
                    domain.name
                )));
            }
        }
        DomainRow::set_disabled(&mut tx, domain.id, disabled).await?;
        if disabled {
            SessionRow::delete_for_domain(&mut tx, domain.id).await?;
        }
        let action = if disabled { "domain.disable" } else { "domain.enable" };
        tx.commit(self.entry(caller, &domain.name, action, format!("domain:{}", domain.name), json!({ "disabled": disabled })))
            .await?;
        self.auth_cache.clear();
        domain.disabled = disabled;
        Ok(domain)
    }

    pub async fn remove_domain(&self, caller: &Caller, name: &str) -> Result<(), AppError> {
        let actor = &caller.actor;
        actor.may_manage_domains("remove domains")?;
        let mut tx = self.store.begin().await?;
        let domain = administered(tx.conn(), actor, name).await?;
        if let Actor::Account { domain_id, .. } = actor
            && *domain_id == domain.id
        {
            return Err(AppError::Conflict("cannot remove the domain of your own account".into()));
        }
        DomainRow::delete(&mut tx, domain.id).await?;
        // Its stored secrets go with it (the directory's bind password).
        let secrets = deskward_store::secrets::SecretRow::remove_owner(&mut tx, &crate::directory::secret_owner(&domain.name)).await?;
        tx.commit(self.entry(caller, &domain.name, "domain.remove", format!("domain:{}", domain.name), if secrets > 0 { json!({ "secrets_removed": secrets }) } else { json!({}) })).await?;
        if secrets > 0 {
            self.scrub().await;
        }
        self.auth_cache.clear();
        Ok(())
    }
}
