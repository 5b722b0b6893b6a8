//! Access decisions on folders and documents: the item's ancestor chain and grants read from
//! the store, decided by `core::acl`. Every document operation asks here first.

use deskward_core::acl::{self, Decision, Grant, NodeAcl, Principal, Requester, Rights};
use deskward_core::authz::Actor;
use deskward_store::items::{self, GrantRow};
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
pub(crate) async fn decide(c: &mut Conn, id: i64, who: impl FnOnce(&ItemRow) -> Requester) -> Result<Option<Access>, AppError> {
    let Some(item) = ItemRow::get(c, id).await? else { return Ok(None) };
    let chain = items::chain(c, id).await?;
    let grants = items::chain_grants(c, id).await?;
    let acls: Vec<NodeAcl> = chain
        .iter()
        .map(|link| NodeAcl::new(link.id, link.owner_id, link.inherit, grants_of(&grants, link.id)))
        .collect();
    let decision = acl::decide(&acls, item.domain_id, &who(&item));
    let ancestors = chain.iter().skip(1).map(|l| l.id).collect();
    Ok(Some(Access { item, decision, ancestors }))
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
        let access = decide(c, id, |item| requester_of(caller, item.domain_id)).await?.ok_or_else(hidden)?;
        if !access.decision.allows(Rights::READ) {
            return Err(hidden());
        }
        if !access.decision.allows(right) {
            return Err(AppError::Forbidden(format!("you may not {} {:?}", right_name(right), access.item.name)));
        }
        Ok(access)
    }
}
