//! Groups: create, list, remove, and membership.

use deskward_core::authz::Actor;
use deskward_core::{AccountName, ObjectName};
use deskward_store::{AccountRow, GroupRow};

use crate::domains::administered;
use serde_json::json;

use crate::{App, AppError, Caller};

impl App {
    pub async fn create_group(&self, caller: &Caller, domain: &str, name: &str) -> Result<GroupRow, AppError> {
        let actor = &caller.actor;
        let name = ObjectName::parse("group name", name)?;
        let mut tx = self.store.begin().await?;
        let domain = administered(tx.conn(), actor, domain).await?;
        let id = GroupRow::insert(&mut tx, domain.id, name.as_str()).await?;
        tx.commit(self.entry(caller, &domain.name, "group.create", format!("group:{name}"), json!({}))).await?;
        Ok(GroupRow { id, domain_id: domain.id, name: name.to_string(), members: Vec::new() })
    }

    pub async fn list_groups(&self, caller: &Caller, domain: &str) -> Result<Vec<GroupRow>, AppError> {
        let actor = &caller.actor;
        let mut c = self.store.conn().await?;
        let domain = administered(&mut c, actor, domain).await?;
        Ok(GroupRow::list(&mut c, domain.id).await?)
    }

    pub async fn remove_group(&self, caller: &Caller, domain: &str, name: &str) -> Result<(), AppError> {
        let actor = &caller.actor;
        let mut tx = self.store.begin().await?;
        let (domain, group) = find(&mut tx, actor, domain, name).await?;
        GroupRow::delete(&mut tx, group.id).await?;
        let summary = json!({ "members": group.members });
        tx.commit(self.entry(caller, &domain, "group.remove", format!("group:{}", group.name), summary)).await?;
        self.auth_cache.clear();
        Ok(())
    }

    /// Adds (`member = true`) or removes an account of the same domain; answers the group.
    pub async fn set_member(&self, caller: &Caller, domain: &str, group: &str, account: &str, member: bool) -> Result<GroupRow, AppError> {
        let actor = &caller.actor;
        let account = AccountName::parse(account)?;
        let mut tx = self.store.begin().await?;
        let (domain_name, group) = find(&mut tx, actor, domain, group).await?;
        let row = AccountRow::find(tx.conn(), &domain_name, account.as_str())
            .await?
            .ok_or_else(|| AppError::NotFound(format!("account {account}@{domain_name}")))?;
        if member {
            GroupRow::add_member(&mut tx, group.id, row.id).await?;
        } else if !GroupRow::remove_member(&mut tx, group.id, row.id).await? {
            return Err(AppError::NotFound(format!("{account} in group {}", group.name)));
        }
        let updated = GroupRow::find(tx.conn(), group.domain_id, &group.name)
            .await?
            .ok_or_else(|| AppError::NotFound(format!("group {}", group.name)))?;
        let action = if member { "group.member_add" } else { "group.member_remove" };
        let summary = json!({ "account": format!("{account}@{domain_name}") });
        tx.commit(self.entry(caller, &domain_name, action, format!("group:{}", group.name), summary)).await?;
        self.auth_cache.clear();
        Ok(updated)
    }
}

async fn find(tx: &mut deskward_store::Tx, actor: &Actor, domain: &str, name: &str) -> Result<(String, GroupRow), AppError> {
    let name = ObjectName::parse("group name", name)?;
    let domain = administered(tx.conn(), actor, domain).await?;
    let group = GroupRow::find(tx.conn(), domain.id, name.as_str())
        .await?
        .ok_or_else(|| AppError::NotFound(format!("group {name}")))?;
    Ok((domain.name, group))
}
