//! Access decisions on folders and documents: the item's ancestor chain and grants read from
//! the store, decided by `core::acl`. Every document operation asks here first.

use std::sync::Arc;

use deskward_core::acl::{self, Decision, Grant, NodeAcl, Principal, Requester, Rights};
use deskward_core::authz::Actor;
use deskward_store::items::{self, GrantRow};
use deskward_store::{Conn, ItemRow};

use crate::acl_cache::Decided;
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

/// Who asks for a decision: a session's caller, another account (explain), or someone who
/// came through a share link.
#[derive(Debug, Clone)]
pub(crate) enum Who<'a> {
    Caller(&'a Caller),
    Account { actor: Actor, groups: Vec<i64> },
    Link { item: i64, unlocked: bool },
}

impl Who<'_> {
    fn account(&self) -> Option<(i64, i64)> {
        let actor = match self {
            Who::Caller(c) => c.actor,
            Who::Account { actor, .. } => *actor,
            Who::Link { .. } => return None,
        };
        match actor {
            Actor::Account { account_id, domain_id, .. } if account_id != 0 => Some((account_id, domain_id)),
            _ => None,
        }
    }

    /// What a cached decision is kept under, besides the item: the account, or the link and
    /// whether its password was given. An account's groups and role are covered by the
    /// cache's generation (changing them bumps the authentication epoch).
    fn key(&self) -> (i64, i64, bool) {
        match self {
            Who::Link { item, unlocked } => (0, *item, *unlocked),
            _ => (self.account().map_or(0, |a| a.0), 0, false),
        }
    }

    pub(crate) fn requester(&self, domain_id: i64) -> Requester {
        let (actor, groups) = match self {
            Who::Link { item, unlocked } => {
                return Requester { account: None, groups: Vec::new(), admin: false, link: Some(*item), password: unlocked.then_some(*item) };
            }
            Who::Caller(c) => (c.actor, c.groups.clone()),
            Who::Account { actor, groups } => (*actor, groups.clone()),
        };
        let account = self.account();
        let admin = matches!(actor, Actor::Operator) || account.is_some() && actor.may_administer(domain_id).is_ok();
        Requester { account, groups, admin, link: None, password: None }
    }
}

/// Reads an item and decides for `who`; `None` when there is no such item.
pub(crate) async fn decide(app: &App, c: &mut Conn, id: i64, who: &Who<'_>) -> Result<Option<Access>, AppError> {
    let Some(item) = ItemRow::get(c, id).await? else { return Ok(None) };
    let decided = app.decided(c, id, item.domain_id, who).await?;
    Ok(Some(Access { item, decision: decided.decision.clone(), ancestors: decided.ancestors.clone() }))
}

impl App {
    /// A decision on item `id` of `domain_id` for `who`: from the cache, or read and kept.
    /// Only the grants that can match `who` are read (the chain's public ones and those naming
    /// the account or one of its groups), so an item under folders with thousands of grants
    /// costs no more than one with a few.
    pub(crate) async fn decided(&self, c: &mut Conn, id: i64, domain_id: i64, who: &Who<'_>) -> Result<Arc<Decided>, AppError> {
        let key = (id, who.key());
        if let Some(hit) = self.acl_cache.get(&self.auth_cache, key) {
            return Ok(hit);
        }
        let generation = self.auth_cache.live_generation();
        let links = items::chain(c, id).await?;
        let grants = items::chain_grants_for(c, id, key.1.0).await?;
        let acls: Vec<NodeAcl> = links.iter().map(|l| NodeAcl::new(l.id, l.owner_id, l.inherit, grants_of(&grants, l.id))).collect();
        let decision = acl::decide(&acls, domain_id, &who.requester(domain_id));
        let decided = Arc::new(Decided { decision, ancestors: links.iter().skip(1).map(|l| l.id).collect() });
        self.acl_cache.insert(&self.auth_cache, generation, key, decided.clone());
        Ok(decided)
    }

    /// The children of folder `id` with `who`'s decision on each, in four queries whatever
    /// their number: the folder's chain and grants once, then every child's grants at once.
    pub(crate) async fn children_decided(&self, c: &mut Conn, id: i64, domain_id: i64, who: &Who<'_>) -> Result<Vec<(ItemRow, Decision)>, AppError> {
        let account = who.key().0;
        let links = items::chain(c, id).await?;
        let grants = items::chain_grants_for(c, id, account).await?;
        let above: Vec<NodeAcl> = links.iter().map(|l| NodeAcl::new(l.id, l.owner_id, l.inherit, grants_of(&grants, l.id))).collect();
        let own = items::children_grants_for(c, id, account).await?;
        let requester = who.requester(domain_id);
        let mut out = Vec::new();
        for child in ItemRow::children(c, id).await? {
            let mut chain = Vec::with_capacity(above.len() + 1);
            chain.push(NodeAcl::new(child.id, child.owner_id, child.inherit, grants_of(&own, child.id)));
            chain.extend(above.iter().cloned());
            let decision = acl::decide(&chain, domain_id, &requester);
            out.push((child, decision));
        }
        Ok(out)
    }

    /// What the caller may do on item `id` (no rights for an unknown item). A cached decision
    /// reads nothing from the database.
    pub async fn rights_on(&self, caller: &Caller, id: i64) -> Result<Rights, AppError> {
        let who = Who::Caller(caller);
        if let Some(hit) = self.acl_cache.get(&self.auth_cache, (id, who.key())) {
            return Ok(hit.decision.rights);
        }
        let mut c = self.store.conn().await?;
        let Some(domain) = items::domain_of(&mut c, id).await? else { return Ok(Rights::NONE) };
        Ok(self.decided(&mut c, id, domain, &who).await?.decision.rights)
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
        let access = decide(self, c, id, &Who::Caller(caller)).await?.ok_or_else(hidden)?;
        if !access.decision.allows(Rights::READ) {
            return Err(hidden());
        }
        if !access.decision.allows(right) {
            return Err(AppError::Forbidden(format!("you may not {} {:?}", right_name(right), access.item.name)));
        }
        Ok(access)
    }
}
