//! Who may use an item: its grants and inheritance, its share link and share password,
//! "explain", and access through a link without logging in. Usage against quotas is here too.

use deskward_core::acl::{Decision, Principal, Rights, Source as Why};
use deskward_core::audit::clean_field;
use deskward_core::password::hash::Verification;
use deskward_core::{AccountName, Login, ObjectName};
use deskward_store::items;
use deskward_store::{AccountRow, Conn, GroupRow, ItemRow};
use serde_json::json;
use sha2::Digest;

use crate::document_access::{Access, Who, decide, principal_of, stored};
use crate::document_content::Content;
use crate::documents::{ItemDetail, audit_target};
use crate::session::token_hash;
use crate::{App, AppError, Caller};

/// Shortest share password accepted.
pub const MIN_SHARE_PASSWORD: usize = 8;

/// A grant as clients write it: `to` is `account:NAME`, `group:NAME`, `domain`,
/// `all-domains`, `public` or `password`.
#[derive(Debug, Clone)]
pub struct GrantInput {
    pub to: String,
    pub rights: Vec<String>,
}

/// A grant as clients read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantView {
    pub to: String,
    pub rights: Rights,
}

#[derive(Debug, Clone)]
pub struct AclView {
    pub inherit: bool,
    pub grants: Vec<GrantView>,
    pub has_link: bool,
    pub has_password: bool,
    /// Changes whenever the grants or inheritance do: a change made against an older version
    /// is refused instead of overwriting someone else's (HTTP `ETag` / `If-Match`).
    pub version: String,
}

/// One reason in an explanation, with names resolved.
#[derive(Debug, Clone)]
pub struct ReasonView {
    /// `admin`, `owner` or `grant`.
    pub source: &'static str,
    /// The item it sits on (id, name); `None` for the administrator's rights.
    pub item: Option<(i64, String)>,
    /// The grant's principal, as in [`GrantView::to`].
    pub principal: Option<String>,
    pub rights: Rights,
    pub inherited: bool,
}

#[derive(Debug, Clone)]
pub struct Explanation {
    pub account: String,
    pub rights: Rights,
    pub reasons: Vec<ReasonView>,
    /// The item where inheritance stops, if one on the way up breaks it.
    pub stopped_at: Option<i64>,
}

#[derive(Debug, Clone, Copy)]
pub struct UsageView {
    pub bytes: i64,
    pub documents: i64,
    pub quota_bytes: Option<i64>,
    pub quota_documents: Option<i64>,
}

/// The principal's display form, resolving ids to names.
async fn principal_name(c: &mut Conn, p: Principal) -> Result<String, AppError> {
    Ok(match p {
        Principal::Account(id) => match AccountRow::get(c, id).await? {
            Some(a) => format!("account:{}", a.login()),
            None => format!("account:#{id}"),
        },
        Principal::Group(id) => {
            let name: Option<String> = items::group_name(c, id).await?;
            format!("group:{}", name.unwrap_or_else(|| format!("#{id}")))
        }
        other => other.kind().to_owned(),
    })
}

impl App {
    async fn acl_view(&self, c: &mut Conn, item: &ItemRow) -> Result<AclView, AppError> {
        let mut grants = Vec::new();
        for g in items::grants(c, item.id).await? {
            let (Some(p), Some(rights)) = (principal_of(&g.principal, g.principal_id), u8::try_from(g.rights).ok().and_then(Rights::from_bits)) else {
                continue;
            };
            let to = match (p, g.name) {
                (Principal::Account(_) | Principal::Group(_), Some(name)) => format!("{}:{name}", p.kind()),
                (p, _) => principal_name(c, p).await?,
            };
            grants.push(GrantView { to, rights });
        }
        let mut view = AclView { inherit: item.inherit, grants, has_link: item.has_link, has_password: item.has_password, version: String::new() };
        let digest = sha2::Sha256::digest(acl_json(&view).to_string().as_bytes());
        view.version = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
        Ok(view)
    }

    /// An item's access settings; anyone who may read the item may read them.
    pub async fn item_acl(&self, caller: &Caller, id: i64) -> Result<AclView, AppError> {
        self.documents_on(caller)?;
        let mut c = self.store.conn().await?;
        let access = self.require(&mut c, caller, id, Rights::READ).await?;
        self.acl_view(&mut c, &access.item).await
    }

    /// Replaces an item's grants (and, for its owner or an administrator, whether it inherits).
    /// Needs share on the item. Someone who is neither owner nor administrator grants only
    /// rights they hold, so sharing never raises anyone above the sharer. Widening beyond the
    /// domain (`all-domains`, `public`, `password`) is for the owner and administrators;
    /// link grants give read only.
    pub async fn set_item_acl(&self, caller: &Caller, id: i64, inherit: Option<bool>, grants: &[GrantInput], if_version: Option<&str>) -> Result<AclView, AppError> {
        self.documents_on(caller)?;
        let mut tx = self.begin_on_item(id).await?;
        let access = self.require(tx.conn(), caller, id, Rights::SHARE).await?;
        let item = access.item.clone();
        let full = owns_or_administers(&access.decision);
        if inherit.is_some_and(|i| i != item.inherit) && !full {
            return Err(AppError::Forbidden("only the owner or an administrator may change whether an item inherits".into()));
        }
        let domain = self.chain_name(tx.conn(), item.domain_id).await?;
        let mut parsed: Vec<(Principal, Rights)> = Vec::new();
        for g in grants {
            let principal = Self::parse_principal(tx.conn(), &g.to, item.domain_id, &domain).await?;
            let rights = Rights::parse(g.rights.iter().map(String::as_str)).map_err(|e| AppError::Invalid(format!("grant to {}: {e}", g.to)))?;
            if matches!(principal, Principal::Public | Principal::Password) && rights != Rights::READ {
                return Err(AppError::Invalid(format!("grant to {}: a share link gives read only", g.to)));
            }
            if matches!(principal, Principal::AllDomains | Principal::Public | Principal::Password) && !full {
                return Err(AppError::Forbidden(format!("only the owner or an administrator may grant to {}", principal.kind())));
            }
            if principal == Principal::Password && !item.has_password {
                return Err(AppError::Invalid("set a share password (PUT …/share-password) before granting to password".into()));
            }
            if !full && !access.decision.rights.contains(rights) {
                return Err(AppError::Forbidden(format!("you may grant only rights you hold ({})", access.decision.rights.names().join(", "))));
            }
            if parsed.iter().any(|(p, _)| *p == principal) {
                return Err(AppError::Invalid(format!("{} is granted twice; give each principal once", g.to)));
            }
            parsed.push((principal, rights));
        }
        let before = self.acl_view(tx.conn(), &item).await?;
        if let Some(v) = if_version
            && v != before.version
        {
            return Err(AppError::Stale(format!("the grants of {:?} changed since version {}; read them again", item.name, clean_field(v))));
        }
        let rows: Vec<(String, i64, i64)> = parsed
            .iter()
            .map(|(p, r)| {
                let (kind, pid) = stored(*p);
                (kind, pid, i64::from(r.bits()))
            })
            .collect();
        let inherit = inherit.unwrap_or(item.inherit);
        items::set_grants(&mut tx, id, inherit, &rows, self.now()).await?;
        let row = ItemRow::get(tx.conn(), id).await?.ok_or_else(|| AppError::Internal("an item vanished".into()))?;
        let after = self.acl_view(tx.conn(), &row).await?;
        let chain = self.chain_name(tx.conn(), item.domain_id).await?;
        let summary = json!({ "name": item.name, "before": acl_json(&before), "after": acl_json(&after) });
        tx.commit(self.entry(caller, &chain, "item.acl", audit_target(&item), summary)).await?;
        self.auth_cache.clear();
        Ok(after)
    }

    /// A grant's `to` as a principal of the item's domain (`domain_id`, named `domain`).
    async fn parse_principal(c: &mut Conn, to: &str, domain_id: i64, domain: &str) -> Result<Principal, AppError> {
        let bad = |why: &str| AppError::Invalid(format!("grant to {:?}: {why}", clean_field(to)));
        Ok(match to.split_once(':') {
            None => match to {
                "domain" => Principal::Domain,
                "all-domains" => Principal::AllDomains,
                "public" => Principal::Public,
                "password" => Principal::Password,
                _ => return Err(bad("use account:NAME, group:NAME, domain, all-domains, public or password")),
            },
            Some(("account", name)) => {
                let name = match name.split_once('@') {
                    Some((n, _)) if Login::parse(name).is_ok_and(|l| l.domain.as_str() == domain) => n,
                    Some(_) => return Err(bad("accounts of other domains are reached through all-domains")),
                    None => name,
                };
                let name = AccountName::parse(name)?;
                let row = AccountRow::find(c, domain, name.as_str()).await?.ok_or_else(|| AppError::NotFound(format!("account {name}@{domain}")))?;
                Principal::Account(row.id)
            }
            Some(("group", name)) => {
                let name = ObjectName::parse("group name", name)?;
                let row = GroupRow::find(c, domain_id, name.as_str()).await?.ok_or_else(|| AppError::NotFound(format!("group {name}")))?;
                Principal::Group(row.id)
            }
            Some(_) => return Err(bad("use account:NAME, group:NAME, domain, all-domains, public or password")),
        })
    }

    /// Makes a new share link for the item (replacing any earlier one) and answers its token,
    /// which is shown this once: only its hash is kept.
    pub async fn make_link(&self, caller: &Caller, id: i64) -> Result<String, AppError> {
        self.documents_on(caller)?;
        let mut tx = self.begin_on_item(id).await?;
        let access = self.require(tx.conn(), caller, id, Rights::SHARE).await?;
        if !owns_or_administers(&access.decision) {
            return Err(AppError::Forbidden("only the owner or an administrator may make a share link".into()));
        }
        let token = crate::random_token();
        items::ItemRow::set_link(&mut tx, id, Some(&token_hash(&token))).await?;
        let chain = self.chain_name(tx.conn(), access.item.domain_id).await?;
        let summary = json!({ "name": access.item.name, "link": if access.item.has_link { "replaced" } else { "made" } });
        tx.commit(self.entry(caller, &chain, "item.link", audit_target(&access.item), summary)).await?;
        Ok(token)
    }

    pub async fn remove_link(&self, caller: &Caller, id: i64) -> Result<(), AppError> {
        self.documents_on(caller)?;
        let mut tx = self.begin_on_item(id).await?;
        let access = self.require(tx.conn(), caller, id, Rights::SHARE).await?;
        if !access.item.has_link {
            return Err(AppError::NotFound(format!("share link of {:?}", access.item.name)));
        }
        items::ItemRow::set_link(&mut tx, id, None).await?;
        let chain = self.chain_name(tx.conn(), access.item.domain_id).await?;
        let summary = json!({ "name": access.item.name, "link": "removed" });
        tx.commit(self.entry(caller, &chain, "item.link", audit_target(&access.item), summary)).await?;
        Ok(())
    }

    /// Sets (`Some`) or removes the share password; it is stored as an argon2id hash.
    pub async fn set_share_password(&self, caller: &Caller, id: i64, password: Option<&str>) -> Result<(), AppError> {
        self.documents_on(caller)?;
        if let Some(p) = password
            && p.chars().count() < MIN_SHARE_PASSWORD
        {
            return Err(AppError::Invalid(format!("a share password needs at least {MIN_SHARE_PASSWORD} characters")));
        }
        let hash = match password {
            Some(p) => Some(self.hasher.hash(p).await?),
            None => None,
        };
        let mut tx = self.begin_on_item(id).await?;
        let access = self.require(tx.conn(), caller, id, Rights::SHARE).await?;
        if !owns_or_administers(&access.decision) {
            return Err(AppError::Forbidden("only the owner or an administrator may set a share password".into()));
        }
        items::ItemRow::set_share_password(&mut tx, id, hash.as_deref()).await?;
        let chain = self.chain_name(tx.conn(), access.item.domain_id).await?;
        let summary = json!({ "name": access.item.name, "share_password": if hash.is_some() { "set" } else { "removed" } });
        tx.commit(self.entry(caller, &chain, "item.share_password", audit_target(&access.item), summary)).await?;
        Ok(())
    }

    /// May `login` (the caller when `None`) do what on item `id`, and why. Asking about
    /// someone else needs share on the item or administration of its domain.
    pub async fn explain(&self, caller: &Caller, id: i64, login: Option<&str>) -> Result<Explanation, AppError> {
        self.documents_on(caller)?;
        let mut c = self.store.conn().await?;
        let mine = self.require(&mut c, caller, id, Rights::READ).await?;
        let (account, who) = match login {
            None => (caller.name.clone(), Who::Caller(caller)),
            Some(login) => {
                if !mine.decision.allows(Rights::SHARE) {
                    return Err(AppError::Forbidden("explaining someone else's rights needs share on the item".into()));
                }
                let l = Login::parse(login)?;
                let row = AccountRow::find(&mut c, l.domain.as_str(), l.name.as_str())
                    .await?
                    .ok_or_else(|| AppError::NotFound(format!("account {l}")))?;
                let groups = GroupRow::memberships(&mut c, row.id).await?.into_iter().map(|(id, _)| id).collect();
                let actor = deskward_core::authz::Actor::Account { account_id: row.id, domain_id: row.domain_id, role: row.role };
                (row.login(), Who::Account { actor, groups })
            }
        };
        let access = decide(self, &mut c, id, &who).await?.ok_or_else(|| AppError::NotFound(format!("item {id}")))?;
        let mut reasons = Vec::new();
        for r in &access.decision.reasons {
            let item = match r.source.node() {
                Some(node) => ItemRow::get(&mut c, node).await?.map(|i| (i.id, i.name)),
                None => None,
            };
            let (source, principal) = match r.source {
                Why::Admin => ("admin", None),
                Why::Owner { .. } => ("owner", None),
                Why::Grant { principal, .. } => ("grant", Some(principal_name(&mut c, principal).await?)),
            };
            reasons.push(ReasonView { source, item, principal, rights: r.rights, inherited: r.inherited });
        }
        Ok(Explanation { account, rights: access.decision.rights, reasons, stopped_at: access.decision.stopped_at })
    }

    /// What an account's documents use against its class's quotas: the caller's own, or
    /// (administrators) another account's.
    pub async fn document_usage(&self, caller: &Caller, login: Option<&str>) -> Result<UsageView, AppError> {
        let mut c = self.store.conn().await?;
        let account = match login {
            None => crate::documents::account_of(caller)?.0,
            Some(login) => {
                let l = Login::parse(login)?;
                let domain = crate::domains::administered(&mut c, &caller.actor, l.domain.as_str()).await?;
                AccountRow::find(&mut c, &domain.name, l.name.as_str()).await?.ok_or_else(|| AppError::NotFound(format!("account {l}")))?.id
            }
        };
        let used = items::usage::get(&mut c, account).await?;
        let (quota_bytes, quota_documents) = items::usage::quotas(&mut c, account).await?;
        Ok(UsageView { bytes: used.bytes, documents: used.documents, quota_bytes, quota_documents })
    }

    /// What a share link opens, for someone who is not logged in: the link's item, or
    /// `id` below it. A link item with a share password needs it; wrong passwords count as
    /// guesses like failed logins.
    pub async fn shared_item(&self, caller: &Caller, token: &str, password: Option<&str>, id: Option<i64>) -> Result<ItemDetail, AppError> {
        let (access, link) = self.through_link(caller, token, password, id).await?;
        let mut c = self.store.conn().await?;
        self.detail(&mut c, access, &Who::Link { item: link.0, unlocked: link.1 }).await
    }

    pub async fn shared_content(&self, caller: &Caller, token: &str, password: Option<&str>, id: Option<i64>, number: Option<i64>) -> Result<Content, AppError> {
        let (access, _) = self.through_link(caller, token, password, id).await?;
        let mut c = self.store.conn().await?;
        self.content_of(&mut c, access.item, number).await
    }

    /// Resolves a link and decides read on the target; answers the access and (link item,
    /// password accepted).
    async fn through_link(&self, caller: &Caller, token: &str, password: Option<&str>, id: Option<i64>) -> Result<(Access, (i64, bool)), AppError> {
        let gone = || AppError::NotFound("share link".into());
        if !crate::is_token(token) {
            return Err(gone());
        }
        let mut c = self.store.conn().await?;
        let Some(link) = ItemRow::by_link(&mut c, &token_hash(token)).await? else {
            drop(c);
            let chain = deskward_core::audit::SYSTEM_CHAIN;
            self.security_event(caller, chain, "share.unknown_link", "link".into(), json!({})).await;
            return Err(gone());
        };
        let mut unlocked = false;
        if let Some(p) = password {
            let hash = ItemRow::share_password(&mut c, link.id).await?;
            drop(c);
            unlocked = self.check_share_password(caller, &link, p, hash.as_deref()).await?;
            c = self.store.conn().await?;
        }
        let target = id.unwrap_or(link.id);
        let who = Who::Link { item: link.id, unlocked };
        let hidden = || AppError::Hidden(format!("item {target}"));
        let access = decide(self, &mut c, target, &who).await?.ok_or_else(hidden)?;
        if !access.decision.allows(Rights::READ) {
            if link.has_password && !unlocked && items::grants(&mut c, link.id).await?.iter().any(|g| g.principal == "password") {
                return Err(AppError::SharePassword("this link needs its share password".into()));
            }
            return Err(hidden());
        }
        Ok((access, (link.id, unlocked)))
    }

    /// Checks a share password under the guard: a banned client or a throttled link is
    /// refused before the hash is looked at; a wrong password is a security event and a guess.
    async fn check_share_password(&self, caller: &Caller, link: &ItemRow, password: &str, hash: Option<&str>) -> Result<bool, AppError> {
        let key = self.guard.account_key(&format!("share:{}", link.id));
        let ip = caller.source.ip.parse::<std::net::IpAddr>().ok();
        let login = format!("share:{}", link.id);
        self.refuse_guarded(caller, ip, Some((&login, key))).await?;
        let Some(hash) = hash else { return Ok(false) };
        if matches!(self.hasher.verify(password, hash).await?, Verification::Match { .. }) {
            if let Some(ip) = ip {
                self.guard.success(ip, key);
            }
            return Ok(true);
        }
        let chain = {
            let mut c = self.store.conn().await?;
            self.chain_name(&mut c, link.domain_id).await?
        };
        self.security_event(caller, &chain, "share.password_failed", audit_target(link), json!({ "name": link.name })).await;
        if let Some(ip) = ip
            && let Some(client) = self.guard.failure(ip, Some((key, false)), self.now())
            && let Err(e) = self.ban_client(caller, client, &login).await
        {
            tracing::error!(error = %e, "cannot write the ban of a client that guessed share passwords");
        }
        Err(AppError::SharePassword("wrong share password".into()))
    }
}

/// Whether the decision comes with the owner's or an administrator's full rights on the item.
pub(crate) fn owns_or_administers(d: &Decision) -> bool {
    d.reasons.iter().any(|r| matches!(r.source, Why::Admin | Why::Owner { .. }))
}

fn acl_json(v: &AclView) -> serde_json::Value {
    json!({
        "inherit": v.inherit,
        "grants": v.grants.iter().map(|g| json!({ "to": g.to, "rights": g.rights.names() })).collect::<Vec<_>>(),
    })
}
