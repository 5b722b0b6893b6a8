//! Folders and documents: make, list, show, rename, move and delete. Content is in
//! `document_content.rs`, access settings in `sharing.rs`; every decision in
//! `document_access.rs`.

use deskward_core::EntryName;
use deskward_core::acl::Rights;
use deskward_core::authz::Actor;
use deskward_store::items::{self, ItemKind, NewItem, VersionRow};
use deskward_store::{Conn, ItemRow};
use serde_json::json;

use crate::document_access::{Access, MAX_DEPTH, Who, decide};
use crate::{App, AppError, Caller};

/// Candidates read for "shared with me"; the rest is not listed.
const MAX_SHARED: i64 = 500;
/// Top-level items listed for a domain's administrators.
const MAX_LISTED: i64 = 10_000;

/// An item with what the caller may do on it.
#[derive(Debug, Clone)]
pub struct ItemView {
    pub item: ItemRow,
    pub rights: Rights,
}

/// One item in full: its place, content or versions, and its access settings when the caller
/// may change them.
#[derive(Debug, Clone)]
pub struct ItemDetail {
    pub item: ItemRow,
    pub rights: Rights,
    /// (id, name) of the ancestors the caller may read, top first.
    pub path: Vec<(i64, String)>,
    pub children: Vec<ItemView>,
    pub versions: Vec<VersionRow>,
}

/// The caller's top level and what others share with them.
#[derive(Debug, Clone)]
pub struct Listing {
    pub own: Vec<ItemView>,
    pub shared: Vec<ItemView>,
}

/// The account a caller acts as; the operator and anonymous callers own nothing.
pub(crate) fn account_of(caller: &Caller) -> Result<(i64, i64), AppError> {
    match caller.actor {
        Actor::Account { account_id, domain_id, .. } if account_id != 0 => Ok((account_id, domain_id)),
        _ => Err(AppError::Invalid("documents belong to accounts; log in as one to make them".into())),
    }
}

pub(crate) fn audit_target(item: &ItemRow) -> String {
    format!("{}:{}", item.kind.as_str(), item.id)
}

/// The folder new content goes into: `None` is the caller's top level. Needs write there.
pub(crate) async fn parent_for_new(app: &App, c: &mut Conn, caller: &Caller, parent: Option<i64>) -> Result<(i64, i64), AppError> {
    let (_, own_domain) = account_of(caller)?;
    let Some(parent) = parent else { return Ok((0, own_domain)) };
    let access = app.require(c, caller, parent, Rights::WRITE).await?;
    if access.item.kind != ItemKind::Folder {
        return Err(AppError::Invalid(format!("{:?} is a document, not a folder", access.item.name)));
    }
    if access.ancestors.len() + 2 > MAX_DEPTH {
        return Err(AppError::Invalid(format!("folders nest at most {MAX_DEPTH} deep")));
    }
    Ok((parent, access.item.domain_id))
}

impl App {
    pub async fn create_folder(&self, caller: &Caller, parent: Option<i64>, name: &str) -> Result<ItemRow, AppError> {
        self.documents_on(caller)?;
        let name = EntryName::parse(name)?;
        let (owner, own_domain) = account_of(caller)?;
        let mut tx = match parent {
            Some(p) => self.begin_on_item(p).await?,
            None => self.begin_in_domain(own_domain).await?,
        };
        let (parent_id, domain_id) = parent_for_new(self, tx.conn(), caller, parent).await?;
        let new = NewItem {
            domain_id,
            parent_id,
            kind: ItemKind::Folder,
            name: name.as_str(),
            name_key: &name.key(),
            owner_id: owner,
            now: self.now(),
        };
        let id = ItemRow::insert(&mut tx, &new).await?;
        let row = ItemRow::get(tx.conn(), id).await?.ok_or_else(|| AppError::Internal("a new folder vanished".into()))?;
        let chain = self.chain_name(tx.conn(), domain_id).await?;
        let summary = json!({ "name": row.name, "parent": parent_id });
        tx.commit(self.entry(caller, &chain, "folder.create", audit_target(&row), summary)).await?;
        Ok(row)
    }

    /// The audit chain of a domain, by id.
    pub(crate) async fn chain_name(&self, c: &mut Conn, domain_id: i64) -> Result<String, AppError> {
        deskward_store::DomainRow::get(c, domain_id)
            .await?
            .map(|d| d.name)
            .ok_or_else(|| AppError::NotFound(format!("domain {domain_id}")))
    }

    pub async fn list_items(&self, caller: &Caller) -> Result<Listing, AppError> {
        self.documents_on(caller)?;
        let (account, domain) = account_of(caller)?;
        let mut c = self.store.conn().await?;
        let own = ItemRow::top_level(&mut c, domain, account)
            .await?
            .into_iter()
            .map(|item| ItemView { item, rights: Rights::ALL })
            .collect();
        let mut shared = Vec::new();
        for candidate in ItemRow::granted_to(&mut c, account, domain, MAX_SHARED).await? {
            if let Some(a) = decide(self, &mut c, candidate.id, &Who::Caller(caller)).await?
                && a.decision.allows(Rights::READ)
            {
                shared.push(ItemView { item: a.item, rights: a.decision.rights });
            }
        }
        Ok(Listing { own, shared })
    }

    /// Every top-level item of a domain with its owner, for the domain's administrators (who
    /// hold every right on them), including items whose owner was removed.
    pub async fn domain_items(&self, caller: &Caller, domain: &str) -> Result<Vec<ItemView>, AppError> {
        self.documents_on(caller)?;
        let mut c = self.store.conn().await?;
        let domain = crate::domains::administered(&mut c, &caller.actor, domain).await?;
        Ok(ItemRow::top_level_of_domain(&mut c, domain.id, MAX_LISTED)
            .await?
            .into_iter()
            .map(|item| ItemView { item, rights: Rights::ALL })
            .collect())
    }

    pub async fn item(&self, caller: &Caller, id: i64) -> Result<ItemDetail, AppError> {
        self.documents_on(caller)?;
        let mut c = self.store.conn().await?;
        let access = self.require(&mut c, caller, id, Rights::READ).await?;
        self.detail(&mut c, access, &Who::Caller(caller)).await
    }

    /// Fills in an item's path, children and versions, showing only what `who` may read.
    pub(crate) async fn detail(&self, c: &mut Conn, access: Access, who: &Who<'_>) -> Result<ItemDetail, AppError> {
        let mut path = Vec::new();
        for id in access.ancestors.iter().rev() {
            if let Some(a) = decide(self, c, *id, who).await?
                && a.decision.allows(Rights::READ)
            {
                path.push((a.item.id, a.item.name));
            }
        }
        let mut children = Vec::new();
        let mut versions = Vec::new();
        match access.item.kind {
            ItemKind::Folder => {
                for (item, decision) in self.children_decided(c, access.item.id, access.item.domain_id, who).await? {
                    if decision.allows(Rights::READ) {
                        children.push(ItemView { item, rights: decision.rights });
                    }
                }
            }
            ItemKind::Document => versions = VersionRow::list(c, access.item.id).await?,
        }
        Ok(ItemDetail { rights: access.decision.rights, item: access.item, path, children, versions })
    }

    /// Renames and/or moves an item. Renaming needs write on it; moving needs delete on it
    /// (it leaves its folder) and write on the destination (`Some(0)`: the owner's top level,
    /// for the owner or an administrator).
    pub async fn update_item(&self, caller: &Caller, id: i64, name: Option<&str>, parent: Option<i64>) -> Result<ItemRow, AppError> {
        self.documents_on(caller)?;
        let name = name.map(EntryName::parse).transpose()?;
        let mut tx = self.begin_on_item(id).await?;
        let need = match (&name, parent) {
            (_, Some(_)) => Rights::DELETE,
            (Some(_), None) => Rights::WRITE,
            (None, None) => return Err(AppError::Invalid("nothing to change: give a name or a parent".into())),
        };
        let access = self.require(tx.conn(), caller, id, need).await?;
        if name.is_some() && !access.decision.allows(Rights::WRITE) {
            return Err(AppError::Forbidden(format!("you may not rename {:?}", access.item.name)));
        }
        let item = access.item.clone();
        let to = match parent {
            None => item.parent_id,
            Some(0) => {
                let own = matches!(caller.actor, Actor::Account { account_id, .. } if account_id == item.owner_id);
                if !own && !access.decision.why(Rights::ALL).iter().any(|r| r.source == deskward_core::acl::Source::Admin) {
                    return Err(AppError::Forbidden("only the owner or an administrator may move an item to the owner's top level".into()));
                }
                0
            }
            Some(p) => {
                let dest = self.require(tx.conn(), caller, p, Rights::WRITE).await.map_err(|e| match e {
                    AppError::Forbidden(_) => AppError::Forbidden(format!("you may not write into folder {p}")),
                    other => other,
                })?;
                if dest.item.kind != ItemKind::Folder {
                    return Err(AppError::Invalid(format!("{:?} is a document, not a folder", dest.item.name)));
                }
                if dest.item.domain_id != item.domain_id {
                    return Err(AppError::Invalid("items move only within their domain".into()));
                }
                if p == id || dest.ancestors.contains(&id) {
                    return Err(AppError::Invalid(format!("{:?} cannot move into itself or its own subfolder", item.name)));
                }
                // How many levels the item takes, itself included.
                let below = items::subtree(tx.conn(), id).await?.iter().map(|m| m.depth).max().map_or(1, |d| usize::try_from(d).unwrap_or(MAX_DEPTH) + 1);
                if dest.ancestors.len() + 1 + below > MAX_DEPTH {
                    return Err(AppError::Invalid(format!("folders nest at most {MAX_DEPTH} deep")));
                }
                p
            }
        };
        let new_name = name.as_ref().map_or(item.name.clone(), |n| n.as_str().to_owned());
        let key = EntryName::parse(&new_name)?.key();
        ItemRow::place(&mut tx, id, item.owner_id, to, &new_name, &key, self.now()).await?;
        let row = ItemRow::get(tx.conn(), id).await?.ok_or_else(|| AppError::Internal("a moved item vanished".into()))?;
        let chain = self.chain_name(tx.conn(), item.domain_id).await?;
        let summary = json!({
            "before": { "name": item.name, "parent": item.parent_id },
            "after": { "name": row.name, "parent": row.parent_id },
        });
        tx.commit(self.entry(caller, &chain, "item.update", audit_target(&row), summary)).await?;
        self.auth_cache.clear();
        Ok(row)
    }

    /// Deletes an item and everything below it; needs delete on each of them. The content
    /// files go after the records, so a crash leaves at most files the next start sweeps.
    pub async fn delete_item(&self, caller: &Caller, id: i64) -> Result<(), AppError> {
        self.documents_on(caller)?;
        let mut tx = self.begin_on_item(id).await?;
        let access = self.require(tx.conn(), caller, id, Rights::DELETE).await?;
        let subtree = items::subtree(tx.conn(), id).await?;
        for member in subtree.iter().filter(|m| m.id != id) {
            let allowed = decide(self, tx.conn(), member.id, &Who::Caller(caller))
                .await?
                .is_some_and(|a| a.decision.allows(Rights::DELETE));
            if !allowed {
                return Err(AppError::Forbidden(format!("{:?} holds items you may not delete", access.item.name)));
            }
        }
        let mut files = Vec::new();
        let (mut documents, mut bytes) = (0, 0);
        for member in &subtree {
            ItemRow::delete(&mut tx, member.id).await?;
            if member.kind == ItemKind::Document {
                items::usage::release(&mut tx, member.owner_id, member.bytes, 1).await?;
                documents += 1;
                bytes += member.bytes;
            }
            files.extend_from_slice(&member.version_ids);
        }
        let chain = self.chain_name(tx.conn(), access.item.domain_id).await?;
        let summary = json!({ "name": access.item.name, "parent": access.item.parent_id, "items": subtree.len(), "documents": documents, "bytes": bytes });
        tx.commit(self.entry(caller, &chain, "item.delete", audit_target(&access.item), summary)).await?;
        self.auth_cache.clear();
        if let Some(blobs) = &self.blobs {
            blobs.remove(&files).await;
        }
        Ok(())
    }
}
