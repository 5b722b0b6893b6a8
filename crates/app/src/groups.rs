//! Groups: create, list, remove, and membership.

use deskward_core::authz::Actor;
use deskward_core::{AccountName, ObjectName};
use deskward_store::{AccountRow, GroupRow};

use crate::domains::administered;
use crate::{App, AppError};

impl App {
    pub async fn create_group(&self, actor: &Actor, domain: &str, name: &str) -> Result<GroupRow, AppError> {
        let name = ObjectName::parse("group name", name)?;
        let mut tx = self.store.begin().await?;
        let domain = administered(tx.conn(), actor, domain).await?;
        let id = GroupRow::insert(&mut tx, domain.id, name.as_str()).await?;
        tx.commit().await?;
        Ok(GroupRow { id, domain_id: domain.id, name: name.to_string(), members: Vec::new() })
    }

    pub async fn list_groups(&self, actor: &Actor, domain: &str) -> Result<Vec<GroupRow>, AppError> {
        let mut c = self.store.conn().await?;
        let domain = administered(&mut c, actor, domain).await?;
        Ok(GroupRow::list(&mut c, domain.id).await?)
    }

    pub async fn remove_group(&self, actor: &Actor, domain: &str, name: &str) -> Result<(), AppError> {
        let mut tx = self.store.begin().await?;
        let (_, group) = find(&mut tx, actor, domain, name).await?;
        GroupRow::delete(&mut tx, group.id).await?;
        tx.commit().await?;
        self.auth_cache.clear();
        Ok(())
    }

    /// Adds (`member = true`) or removes an account of the same domain; answers the group.
    pub async fn set_member(&self, actor: &Actor, domain: &str, group: &str, account: &str, member: bool) -> Result<GroupRow, AppError> {
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
        tx.commit().await?;
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
