//! Access decisions on folders and documents: the item's ancestor chain and grants read from
//! the store, decided by `core::acl`. Every document operation asks here first.

use deskward_core::acl::{self, Decision, Grant, NodeAcl, Principal, Requester, Rights};
use deskward_core::authz::Actor;
use std::sync::Arc;

use deskward_store::items::{self, GrantRow};

use crate::acl_cache::Chain;
use deskward_store::{Conn, ItemRow};

use crate::{App, AppError, Caller};

/// Folders may nest this deep; deeper trees are refused when made.
pub const MAX_DEPTH: usize = 32;

/// An item and what the requester may do on it.
#[derive(Debug, Clone)]
pub struct Access {
    pub item: ItemRow,
    pub decision: Decision,
    /// The item's ancestors, nearest first (ids), for breadcrumbs and cycle checks.
    pub ancestors: Vec<i64>,
}

impl Access {
    pub fn rights(&self) -> Rights {
        self.decision.rights
    }
}

/// The principal a stored grant names; `None` for a kind this build does not know.
pub(crate) fn principal_of(kind: &str, id: i64) -> Option<Principal> {
    Some(match kind {
        "account" => Principal::Account(id),
        "group" => Principal::Group(id),
        "domain" => Principal::Domain,
        "all-domains" => Principal::AllDomains,
        "public" => Principal::Public,
        "password" => Principal::Password,
        _ => return None,
    })
}

/// The stored form of a principal: (kind, id).
pub(crate) fn stored(p: Principal) -> (String, i64) {
    let id = match p {
        Principal::Account(id) | Principal::Group(id) => id,
        _ => 0,
    };
    (p.kind().to_owned(), id)
}

pub(crate) fn right_name(r: Rights) -> &'static str {
    r.names().first().copied().unwrap_or("use")
}

/// Who a session's caller is, for decisions on an item of `domain_id`.
pub(crate) fn requester_of(caller: &Caller, domain_id: i64) -> Requester {
    let account = match caller.actor {
        Actor::Account { account_id, domain_id, .. } if account_id != 0 => Some((account_id, domain_id)),
        _ => None,
    };
    Requester {
        account,
        groups: caller.groups.clone(),
        admin: account.is_some() && caller.actor.may_administer(domain_id).is_ok() || matches!(caller.actor, Actor::Operator),
        link: None,
        password: None,
    }
}

/// Reads an item with its chain and decides for `who`; `None` when there is no such item.
pub(crate) async fn decide(app: &App, c: &mut Conn, id: i64, who: impl FnOnce(&ItemRow) -> Requester) -> Result<Option<Access>, AppError> {
    let Some(item) = ItemRow::get(c, id).await? else { return Ok(None) };
    let chain = app.chain_of(c, id, item.domain_id).await?;
    let decision = acl::decide(&chain.acls, item.domain_id, &who(&item));
    let ancestors = chain.acls.iter().skip(1).map(|a| a.id).collect();
    Ok(Some(Access { item, decision, ancestors }))
}

impl App {
    /// An item's ancestor chain with its grants: from the cache, or read and kept.
    pub(crate) async fn chain_of(&self, c: &mut Conn, id: i64, domain_id: i64) -> Result<Arc<Chain>, AppError> {
        if let Some(chain) = self.acl_cache.get(&self.auth_cache, id) {
            return Ok(chain);
        }
        let generation = self.auth_cache.live_generation();
        let links = items::chain(c, id).await?;
        let grants = items::chain_grants(c, id).await?;
        let acls = links.iter().map(|l| NodeAcl::new(l.id, l.owner_id, l.inherit, grants_of(&grants, l.id))).collect();
        let chain = Arc::new(Chain { domain_id, acls });
        self.acl_cache.insert(&self.auth_cache, generation, id, chain.clone());
        Ok(chain)
    }

    /// What the caller may do on item `id` (no rights for an unknown item). With the chain
    /// cached this reads nothing from the database.
    pub async fn rights_on(&self, caller: &Caller, id: i64) -> Result<Rights, AppError> {
        let chain = match self.acl_cache.get(&self.auth_cache, id) {
            Some(chain) => chain,
            None => {
                let mut c = self.store.conn().await?;
                let Some(item) = ItemRow::get(&mut c, id).await? else { return Ok(Rights::NONE) };
                self.chain_of(&mut c, id, item.domain_id).await?
            }
        };
        Ok(acl::decide(&chain.acls, chain.domain_id, &requester_of(caller, chain.domain_id)).rights)
    }
}

fn grants_of(grants: &[GrantRow], item: i64) -> Vec<Grant> {
    grants
        .iter()
        .filter(|g| g.item_id == item)
        .filter_map(|g| {
            let principal = principal_of(&g.principal, g.principal_id)?;
            let rights = Rights::from_bits(u8::try_from(g.rights).ok()?)?;
            Some(Grant { principal, rights })
        })
        .collect()
}

impl App {
    /// A transaction holding the item lock of `id`'s domain, so what it reads and decides
    /// stays true until it commits. An unknown item answers like one the caller may not read.
    pub(crate) async fn begin_on_item(&self, id: i64) -> Result<deskward_store::Tx, AppError> {
        let mut tx = self.store.begin().await?;
        let domain = items::domain_of(tx.conn(), id).await?.ok_or_else(|| AppError::Hidden(format!("item {id}")))?;
        items::lock_domain(&mut tx, domain).await?;
        Ok(tx)
    }

    /// A transaction holding a domain's item lock.
    pub(crate) async fn begin_in_domain(&self, domain_id: i64) -> Result<deskward_store::Tx, AppError> {
        let mut tx = self.store.begin().await?;
        items::lock_domain(&mut tx, domain_id).await?;
        Ok(tx)
    }

    /// Refuses callers whose class switched documents off.
    pub(crate) fn documents_on(&self, caller: &Caller) -> Result<(), AppError> {
        if caller.features.documents {
            Ok(())
        } else {
            Err(AppError::FeatureDisabled("documents".into()))
        }
    }

    /// The item, if `caller` holds `right` on it. Without read the item does not exist for
    /// them (404, still a security event); with read but not `right` it is a 403.
    pub(crate) async fn require(&self, c: &mut Conn, caller: &Caller, id: i64, right: Rights) -> Result<Access, AppError> {
        let hidden = || AppError::Hidden(format!("item {id}"));
        let access = decide(self, c, id, |item| requester_of(caller, item.domain_id)).await?.ok_or_else(hidden)?;
        if !access.decision.allows(Rights::READ) {
            return Err(hidden());
        }
        if !access.decision.allows(right) {
            return Err(AppError::Forbidden(format!("you may not {} {:?}", right_name(right), access.item.name)));
        }
        Ok(access)
    }
}
