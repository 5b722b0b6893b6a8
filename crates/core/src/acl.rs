//! Who may do what on a folder or document. One rule, evaluated over the node and its
//! ancestors, so that sharing a folder shares everything in it unless a node below says
//! otherwise.
//!
//! # The rule
//!
//! `decide(chain, domain_id, who)` looks at `chain[0]` (the node asked about) and its
//! ancestors `chain[1]`, `chain[2]`, … up to the top-level node.
//!
//! - **Admin.** A requester who administers the resource's domain holds every right
//!   ([`Source::Admin`], listed first); the other sources are still listed after it, so an
//!   explanation shows what the requester would hold without being an administrator.
//! - **Scope.** A node is in scope when every node strictly below it on the chain inherits.
//!   `chain[0]` is always in scope; `chain[1]` only if `chain[0].inherit`; `chain[2]` only if
//!   `chain[0]` and `chain[1]` both inherit; and so on. A node that breaks inheritance keeps its
//!   own owner and grants, but nothing of its ancestors (not even their owners) reaches it or
//!   anything below it. [`Decision::stopped_at`] names that node.
//! - **Matching, on each node `n` in scope:**
//!   - the owner of `n`, when logged in, holds every right;
//!   - `Account(a)` matches the logged-in account `a`;
//!   - `Group(g)` matches a logged-in account that is a member of `g` (groups never apply
//!     without a login);
//!   - `Domain` matches any logged-in account of the resource's domain;
//!   - `AllDomains` matches any logged-in account;
//!   - `Public` matches a request that came through the share link of `n` itself; a public
//!     grant sits on the node whose link was given out and reaches down through inheritance,
//!     so a link to a child does not open a grant made on its parent;
//!   - `Password` matches a request that came through the share link of `n` and gave the share
//!     password of `n`.
//! - **Result.** The rights are the union of everything that matched; every match is one
//!   [`Reason`], nearest node first, marked `inherited` when it comes from an ancestor.
//!
//! Grants on a node are kept sorted by principal, and the evaluator looks up only the
//! principals the requester can be (its account, each of its groups, `Domain`, `AllDomains`,
//! `Public`, `Password`) by binary search, so a deep chain with thousands of grants per node
//! and a member of hundreds of groups stays cheap.

use std::ops::BitOr;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AclError {
    #[error("unknown right {0:?}; rights are read, write, delete and share")]
    UnknownRight(String),
    #[error("a grant needs at least one right")]
    NoRights,
}

/// Rights on a folder or document, as a bit set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub struct Rights(u8);

/// Each right with its name, in the order names are listed.
const NAMED: [(Rights, &str); 4] = [
    (Rights::READ, "read"),
    (Rights::WRITE, "write"),
    (Rights::DELETE, "delete"),
    (Rights::SHARE, "share"),
];

impl Rights {
    pub const NONE: Rights = Rights(0);
    pub const READ: Rights = Rights(1);
    pub const WRITE: Rights = Rights(1 << 1);
    pub const DELETE: Rights = Rights(1 << 2);
    pub const SHARE: Rights = Rights(1 << 3);
    pub const ALL: Rights = Rights(0b1111);

    pub fn bits(self) -> u8 {
        self.0
    }

    /// `None` when a bit no right stands for is set, so a stored value from a newer or
    /// damaged schema is refused instead of silently granting something.
    pub fn from_bits(b: u8) -> Option<Rights> {
        (b & !Self::ALL.0 == 0).then_some(Rights(b))
    }

    pub fn contains(self, other: Rights) -> bool {
        self.0 & other.0 == other.0
    }

    pub fn union(self, other: Rights) -> Rights {
        Rights(self.0 | other.0)
    }

    /// The rights both hold.
    pub fn intersection(self, other: Rights) -> Rights {
        Rights(self.0 & other.0)
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// "read", "write", "delete", "share" in that order.
    pub fn names(self) -> Vec<&'static str> {
        NAMED.iter().filter(|(r, _)| self.contains(*r)).map(|(_, n)| *n).collect()
    }

    /// Parses names like `["read", "write"]`. Names are exact (lowercase); a repeated name
    /// counts once.
    pub fn parse<'a>(names: impl IntoIterator<Item = &'a str>) -> Result<Rights, AclError> {
        let mut rights = Rights::NONE;
        for name in names {
            let Some((right, _)) = NAMED.iter().find(|(_, n)| *n == name) else {
                return Err(AclError::UnknownRight(name.to_owned()));
            };
            rights = rights.union(*right);
        }
        if rights.is_empty() {
            return Err(AclError::NoRights);
        }
        Ok(rights)
    }
}

impl BitOr for Rights {
    type Output = Rights;

    fn bitor(self, other: Rights) -> Rights {
        self.union(other)
    }
}

/// Who a grant is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Principal {
    Account(i64),
    Group(i64),
    /// Any logged-in account of the resource's domain.
    Domain,
    /// Any logged-in account of any domain.
    AllDomains,
    /// Anyone who comes through this node's share link, without logging in.
    Public,
    /// Anyone who comes through this node's share link and gives its share password.
    Password,
}

impl Principal {
    /// "account", "group", "domain", "all-domains", "public", "password"
    pub fn kind(&self) -> &'static str {
        match self {
            Principal::Account(_) => "account",
            Principal::Group(_) => "group",
            Principal::Domain => "domain",
            Principal::AllDomains => "all-domains",
            Principal::Public => "public",
            Principal::Password => "password",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Grant {
    pub principal: Principal,
    pub rights: Rights,
}

/// One node's own access settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeAcl {
    pub id: i64,
    /// Account id of the owner.
    pub owner: i64,
    /// false = this node breaks inheritance: nothing granted on its ancestors (including their
    /// owners) applies here or below.
    pub inherit: bool,
    /// Sorted by principal, one grant per principal, none without rights: lookups are binary
    /// searches.
    grants: Vec<Grant>,
}

impl NodeAcl {
    /// Grants for the same principal are merged (their rights unioned); grants without rights
    /// are dropped, since they contribute nothing.
    pub fn new(id: i64, owner: i64, inherit: bool, grants: impl IntoIterator<Item = Grant>) -> NodeAcl {
        let mut all: Vec<Grant> = grants.into_iter().filter(|g| !g.rights.is_empty()).collect();
        all.sort_by_key(|g| g.principal);
        let mut merged: Vec<Grant> = Vec::with_capacity(all.len());
        for grant in all {
            match merged.last_mut() {
                Some(last) if last.principal == grant.principal => last.rights = last.rights.union(grant.rights),
                _ => merged.push(grant),
            }
        }
        NodeAcl { id, owner, inherit, grants: merged }
    }

    pub fn grants(&self) -> &[Grant] {
        &self.grants
    }

    pub fn rights_of(&self, p: Principal) -> Rights {
        match self.grants.binary_search_by(|g| g.principal.cmp(&p)) {
            Ok(i) => self.grants.get(i).map_or(Rights::NONE, |g| g.rights),
            Err(_) => Rights::NONE,
        }
    }
}

/// Who asks.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Requester {
    /// The logged-in account (account id, domain id); `None` when nobody is logged in.
    pub account: Option<(i64, i64)>,
    /// Ids of the account's groups, in any order.
    pub groups: Vec<i64>,
    /// The requester administers the resource's domain (a domain admin of it, a system admin,
    /// or the host operator).
    pub admin: bool,
    /// The node whose share link the request came through, if any.
    pub link: Option<i64>,
    /// The node whose share password the request gave correctly, if any.
    pub password: Option<i64>,
}

/// Why someone holds rights: one contributing source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Admin,
    Owner { node: i64 },
    Grant { node: i64, principal: Principal },
}

impl Source {
    /// The node the source sits on; `None` for [`Source::Admin`].
    pub fn node(&self) -> Option<i64> {
        match self {
            Source::Admin => None,
            Source::Owner { node } | Source::Grant { node, .. } => Some(*node),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reason {
    pub source: Source,
    pub rights: Rights,
    /// true when it comes from an ancestor, not the node itself.
    pub inherited: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub rights: Rights,
    /// Every source that contributed rights, nearest node first, Admin first of all.
    pub reasons: Vec<Reason>,
    /// The node at which inheritance stopped (the nearest node with `inherit == false` on the
    /// chain), if any.
    pub stopped_at: Option<i64>,
}

impl Decision {
    pub fn allows(&self, r: Rights) -> bool {
        self.rights.contains(r)
    }

    /// The reasons that contribute any part of `r` (for "explain": may X do R on Y, and why).
    pub fn why(&self, r: Rights) -> Vec<&Reason> {
        self.reasons.iter().filter(|reason| !reason.rights.intersection(r).is_empty()).collect()
    }
}

/// Decides what `who` may do on `chain[0]`. `chain` is the node followed by its parent,
/// grandparent, … up to the top-level node; `domain_id` is the domain the resource belongs to.
/// An empty chain gives no rights except an administrator's.
pub fn decide(chain: &[NodeAcl], domain_id: i64, who: &Requester) -> Decision {
    let mut reasons = Vec::new();
    if who.admin {
        reasons.push(Reason { source: Source::Admin, rights: Rights::ALL, inherited: false });
    }

    // The principals this requester can be, looked up on every node in scope. Groups are
    // sorted and deduplicated once, so a group listed twice is one reason, not two.
    let mut principals: Vec<Principal> = Vec::new();
    if let Some((account, account_domain)) = who.account {
        principals.push(Principal::Account(account));
        let mut groups = who.groups.clone();
        groups.sort_unstable();
        groups.dedup();
        principals.extend(groups.into_iter().map(Principal::Group));
        if account_domain == domain_id {
            principals.push(Principal::Domain);
        }
        principals.push(Principal::AllDomains);
    }

    let mut stopped_at = None;
    for (depth, node) in chain.iter().enumerate() {
        let inherited = depth > 0;
        if let Some((account, _)) = who.account
            && account == node.owner
        {
            reasons.push(Reason { source: Source::Owner { node: node.id }, rights: Rights::ALL, inherited });
        }
        let through_link = who.link == Some(node.id);
        let with_password = through_link && who.password == Some(node.id);
        let link_principals = [(through_link, Principal::Public), (with_password, Principal::Password)];
        let lookups = principals
            .iter()
            .copied()
            .chain(link_principals.into_iter().filter(|(applies, _)| *applies).map(|(_, p)| p));
        for principal in lookups {
            let rights = node.rights_of(principal);
            if !rights.is_empty() {
                reasons.push(Reason { source: Source::Grant { node: node.id, principal }, rights, inherited });
            }
        }
        if !node.inherit {
            stopped_at = Some(node.id);
            break;
        }
    }

    let rights = reasons.iter().fold(Rights::NONE, |acc, r| acc.union(r.rights));
    Decision { rights, reasons, stopped_at }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const DOMAIN: i64 = 7;

    fn grant(principal: Principal, rights: Rights) -> Grant {
        Grant { principal, rights }
    }

    fn node(id: i64, owner: i64, inherit: bool, grants: Vec<Grant>) -> NodeAcl {
        NodeAcl::new(id, owner, inherit, grants)
    }

    fn account(id: i64, domain: i64) -> Requester {
        Requester { account: Some((id, domain)), ..Requester::default() }
    }

    fn rights_on(chain: &[NodeAcl], who: &Requester) -> Rights {
        decide(chain, DOMAIN, who).rights
    }

    #[test]
    fn rights_parse_and_names_round_trip() {
        for bits in 1..=Rights::ALL.bits() {
            let rights = Rights::from_bits(bits).unwrap();
            assert_eq!(Rights::parse(rights.names()).unwrap(), rights);
        }
        assert_eq!(Rights::ALL.names(), ["read", "write", "delete", "share"]);
        assert_eq!(Rights::NONE.names(), Vec::<&str>::new());
        assert_eq!(Rights::parse(["share", "read", "read"]).unwrap(), Rights::READ | Rights::SHARE);
    }

    #[test]
    fn rights_parse_names_what_is_wrong() {
        let err = Rights::parse(["read", "admin"]).unwrap_err();
        assert_eq!(err, AclError::UnknownRight("admin".to_owned()));
        assert!(err.to_string().contains("\"admin\""), "{err}");
        assert_eq!(Rights::parse(["Read"]), Err(AclError::UnknownRight("Read".to_owned())));
        assert_eq!(Rights::parse([]), Err(AclError::NoRights));
        assert_eq!(AclError::NoRights.to_string(), "a grant needs at least one right");
    }

    #[test]
    fn from_bits_refuses_unknown_bits() {
        assert_eq!(Rights::from_bits(0), Some(Rights::NONE));
        assert_eq!(Rights::from_bits(0b1111), Some(Rights::ALL));
        for bits in 0b1_0000..=u8::MAX {
            assert_eq!(Rights::from_bits(bits), None, "{bits:#b}");
        }
    }

    #[test]
    fn rights_set_operations() {
        let rw = Rights::READ | Rights::WRITE;
        assert!(rw.contains(Rights::READ) && rw.contains(rw) && rw.contains(Rights::NONE));
        assert!(!rw.contains(Rights::DELETE) && !rw.contains(Rights::ALL));
        assert!(Rights::NONE.is_empty() && Rights::default().is_empty() && !rw.is_empty());
        assert_eq!(rw.intersection(Rights::WRITE | Rights::SHARE), Rights::WRITE);
    }

    #[test]
    fn principal_kinds() {
        let kinds = [
            Principal::Account(1),
            Principal::Group(1),
            Principal::Domain,
            Principal::AllDomains,
            Principal::Public,
            Principal::Password,
        ]
        .map(|p| p.kind());
        assert_eq!(kinds, ["account", "group", "domain", "all-domains", "public", "password"]);
    }

    #[test]
    fn node_grants_are_sorted_and_merged() {
        let n = node(
            1,
            9,
            true,
            vec![
                grant(Principal::Public, Rights::READ),
                grant(Principal::Group(3), Rights::WRITE),
                grant(Principal::Account(5), Rights::READ),
                grant(Principal::Group(3), Rights::READ),
                grant(Principal::Account(2), Rights::NONE),
            ],
        );
        let principals: Vec<Principal> = n.grants().iter().map(|g| g.principal).collect();
        assert_eq!(principals, [Principal::Account(5), Principal::Group(3), Principal::Public]);
        assert_eq!(n.rights_of(Principal::Group(3)), Rights::READ | Rights::WRITE);
        assert_eq!(n.rights_of(Principal::Account(2)), Rights::NONE);
        assert_eq!(n.rights_of(Principal::Domain), Rights::NONE);
    }

    #[test]
    fn account_grant_matches_only_that_account() {
        let chain = [node(1, 9, true, vec![grant(Principal::Account(5), Rights::READ)])];
        assert_eq!(rights_on(&chain, &account(5, DOMAIN)), Rights::READ);
        assert_eq!(rights_on(&chain, &account(5, 99)), Rights::READ);
        assert_eq!(rights_on(&chain, &account(6, DOMAIN)), Rights::NONE);
        assert_eq!(rights_on(&chain, &Requester::default()), Rights::NONE);
    }

    #[test]
    fn group_grant_needs_membership_and_a_login() {
        let chain = [node(1, 9, true, vec![grant(Principal::Group(3), Rights::WRITE)])];
        let member = Requester { groups: vec![8, 3, 3], ..account(5, DOMAIN) };
        let decision = decide(&chain, DOMAIN, &member);
        assert_eq!(decision.rights, Rights::WRITE);
        assert_eq!(decision.reasons.len(), 1, "a group listed twice is one reason");
        let outsider = Requester { groups: vec![4], ..account(5, DOMAIN) };
        assert_eq!(rights_on(&chain, &outsider), Rights::NONE);
        let anonymous = Requester { groups: vec![3], ..Requester::default() };
        assert_eq!(rights_on(&chain, &anonymous), Rights::NONE);
    }

    #[test]
    fn domain_grant_matches_the_resource_domain_only() {
        let chain = [node(1, 9, true, vec![grant(Principal::Domain, Rights::READ)])];
        assert_eq!(rights_on(&chain, &account(5, DOMAIN)), Rights::READ);
        assert_eq!(rights_on(&chain, &account(5, DOMAIN + 1)), Rights::NONE);
        assert_eq!(rights_on(&chain, &Requester::default()), Rights::NONE);
    }

    #[test]
    fn all_domains_grant_matches_any_login() {
        let chain = [node(1, 9, true, vec![grant(Principal::AllDomains, Rights::READ)])];
        assert_eq!(rights_on(&chain, &account(5, DOMAIN)), Rights::READ);
        assert_eq!(rights_on(&chain, &account(5, DOMAIN + 1)), Rights::READ);
        assert_eq!(rights_on(&chain, &Requester { link: Some(1), ..Requester::default() }), Rights::NONE);
    }

    #[test]
    fn owner_holds_everything_on_their_node() {
        let chain = [node(1, 5, true, vec![])];
        let decision = decide(&chain, DOMAIN, &account(5, DOMAIN + 1));
        assert_eq!(decision.rights, Rights::ALL);
        assert_eq!(
            decision.reasons,
            [Reason { source: Source::Owner { node: 1 }, rights: Rights::ALL, inherited: false }]
        );
        assert_eq!(rights_on(&chain, &account(6, DOMAIN)), Rights::NONE);
        assert_eq!(rights_on(&chain, &Requester::default()), Rights::NONE);
    }

    #[test]
    fn admin_holds_everything_and_still_sees_other_reasons() {
        let chain = [node(2, 9, true, vec![]), node(1, 9, true, vec![grant(Principal::Domain, Rights::READ)])];
        let decision = decide(&chain, DOMAIN, &Requester { admin: true, ..account(5, DOMAIN) });
        assert_eq!(decision.rights, Rights::ALL);
        assert_eq!(
            decision.reasons,
            [
                Reason { source: Source::Admin, rights: Rights::ALL, inherited: false },
                Reason {
                    source: Source::Grant { node: 1, principal: Principal::Domain },
                    rights: Rights::READ,
                    inherited: true
                },
            ]
        );
        assert_eq!(decision.why(Rights::WRITE), [&decision.reasons[0]]);
        let anonymous_admin = Requester { admin: true, ..Requester::default() };
        assert_eq!(decide(&[], DOMAIN, &anonymous_admin).rights, Rights::ALL);
        assert_eq!(decide(&[], DOMAIN, &account(5, DOMAIN)).rights, Rights::NONE);
    }

    #[test]
    fn grants_are_inherited_and_explained_nearest_first() {
        let chain = [
            node(3, 9, true, vec![grant(Principal::Account(5), Rights::WRITE)]),
            node(2, 9, true, vec![]),
            node(1, 5, true, vec![grant(Principal::AllDomains, Rights::READ)]),
        ];
        let decision = decide(&chain, DOMAIN, &account(5, DOMAIN));
        assert_eq!(decision.rights, Rights::ALL);
        assert_eq!(decision.stopped_at, None);
        let sources: Vec<(&Source, bool)> = decision.reasons.iter().map(|r| (&r.source, r.inherited)).collect();
        assert_eq!(
            sources,
            [
                (&Source::Grant { node: 3, principal: Principal::Account(5) }, false),
                (&Source::Owner { node: 1 }, true),
                (&Source::Grant { node: 1, principal: Principal::AllDomains }, true),
            ]
        );
        let why_write: Vec<&Source> = decision.why(Rights::WRITE).iter().map(|r| &r.source).collect();
        assert_eq!(why_write, [&Source::Grant { node: 3, principal: Principal::Account(5) }, &Source::Owner { node: 1 }]);
        assert!(decision.allows(Rights::READ | Rights::SHARE));
    }

    #[test]
    fn breaking_inheritance_keeps_own_grants_and_drops_the_ancestors() {
        // Folder 1 (owned by 5, readable by the domain) > folder 2 (breaks, owned by 6,
        // writable by account 7) > document 3.
        let top = node(1, 5, true, vec![grant(Principal::Domain, Rights::READ)]);
        let breaking = node(2, 6, false, vec![grant(Principal::Account(7), Rights::WRITE)]);
        let doc = node(3, 9, true, vec![]);
        let chain = [doc, breaking, top.clone()];

        let parent_owner = decide(&chain, DOMAIN, &account(5, DOMAIN));
        assert_eq!(parent_owner.rights, Rights::NONE, "the parent's owner loses rights below the break");
        assert_eq!(parent_owner.stopped_at, Some(2));
        assert_eq!(rights_on(&chain[1..], &account(5, DOMAIN)), Rights::NONE);
        assert_eq!(rights_on(&[top], &account(5, DOMAIN)), Rights::ALL);

        assert_eq!(rights_on(&chain, &account(6, DOMAIN)), Rights::ALL, "the breaking node's owner keeps it");
        assert_eq!(rights_on(&chain, &account(7, DOMAIN)), Rights::WRITE, "its own grants still apply");
        assert_eq!(rights_on(&chain[1..], &account(7, DOMAIN)), Rights::WRITE);

        let decision = decide(&chain[1..], DOMAIN, &account(6, DOMAIN));
        assert_eq!(decision.stopped_at, Some(2));
        assert_eq!(decision.reasons, [Reason { source: Source::Owner { node: 2 }, rights: Rights::ALL, inherited: false }]);
    }

    #[test]
    fn only_the_nearest_break_counts() {
        let chain = [
            node(3, 9, false, vec![grant(Principal::Account(5), Rights::READ)]),
            node(2, 9, false, vec![grant(Principal::Account(5), Rights::WRITE)]),
            node(1, 9, true, vec![]),
        ];
        let decision = decide(&chain, DOMAIN, &account(5, DOMAIN));
        assert_eq!(decision.rights, Rights::READ);
        assert_eq!(decision.stopped_at, Some(3));
    }

    #[test]
    fn public_grant_applies_through_the_link_of_its_own_node() {
        // Folder 1 shares read publicly; document 2 is inside it; 3 is elsewhere.
        let folder = node(1, 9, true, vec![grant(Principal::Public, Rights::READ)]);
        let child = node(2, 9, true, vec![]);
        let chain = [child, folder.clone()];
        let via = |link: i64| Requester { link: Some(link), ..Requester::default() };

        assert_eq!(rights_on(&[folder], &via(1)), Rights::READ);
        let decision = decide(&chain, DOMAIN, &via(1));
        assert_eq!(decision.rights, Rights::READ, "the folder's link opens its child");
        assert_eq!(
            decision.reasons,
            [Reason {
                source: Source::Grant { node: 1, principal: Principal::Public },
                rights: Rights::READ,
                inherited: true
            }]
        );
        assert_eq!(rights_on(&chain, &via(2)), Rights::NONE, "the child's own link does not open the folder's grant");
        assert_eq!(rights_on(&chain, &via(3)), Rights::NONE);
        assert_eq!(rights_on(&chain, &Requester::default()), Rights::NONE);
        let logged_in = Requester { link: Some(1), ..account(5, DOMAIN) };
        assert_eq!(rights_on(&chain, &logged_in), Rights::READ, "a login does not hide the link");
    }

    #[test]
    fn password_grant_needs_the_link_and_the_password_of_its_node() {
        let folder = node(
            1,
            9,
            true,
            vec![grant(Principal::Public, Rights::READ), grant(Principal::Password, Rights::WRITE)],
        );
        let chain = [node(2, 9, true, vec![]), folder];
        let req = |link: Option<i64>, password: Option<i64>| Requester { link, password, ..Requester::default() };

        assert_eq!(rights_on(&chain, &req(Some(1), Some(1))), Rights::READ | Rights::WRITE);
        assert_eq!(rights_on(&chain, &req(Some(1), None)), Rights::READ);
        assert_eq!(rights_on(&chain, &req(Some(1), Some(2))), Rights::READ);
        assert_eq!(rights_on(&chain, &req(Some(2), Some(1))), Rights::NONE);
        assert_eq!(rights_on(&chain, &req(None, Some(1))), Rights::NONE);
    }

    #[test]
    fn deep_chains_with_many_grants_and_groups() {
        let chain: Vec<NodeAcl> = (0..20)
            .map(|depth| {
                let grants = (0..3000).map(|i| {
                    let principal = if i % 2 == 0 { Principal::Group(i) } else { Principal::Account(i) };
                    grant(principal, Rights::READ)
                });
                let extra = (depth == 19).then(|| grant(Principal::Group(4001), Rights::SHARE));
                NodeAcl::new(100 - depth, 1, true, grants.chain(extra))
            })
            .collect();
        let who = Requester { groups: (1000..1300).rev().chain([4001]).collect(), ..account(2_000_001, DOMAIN) };
        let decision = decide(&chain, DOMAIN, &who);
        assert_eq!(decision.rights, Rights::READ | Rights::SHARE);
        assert_eq!(decision.reasons.len(), 20 * 150 + 1);
    }

    // A plain model of the rule over a forest with parent pointers, by linear scans.
    #[derive(Debug, Clone)]
    struct Model {
        parent: Option<usize>,
        inherit: bool,
        owner: i64,
        grants: Vec<Grant>,
    }

    fn model_id(index: usize) -> i64 {
        1000 + index as i64
    }

    fn model_own(forest: &[Model], n: usize, who: &Requester) -> Rights {
        let id = model_id(n);
        let logged_in = who.account.is_some();
        let mut rights = Rights::NONE;
        if who.account.map(|(a, _)| a) == Some(forest[n].owner) {
            rights = Rights::ALL;
        }
        for g in &forest[n].grants {
            let matches = match g.principal {
                Principal::Account(a) => who.account.map(|(me, _)| me) == Some(a),
                Principal::Group(group) => logged_in && who.groups.contains(&group),
                Principal::Domain => who.account.map(|(_, d)| d) == Some(DOMAIN),
                Principal::AllDomains => logged_in,
                Principal::Public => who.link == Some(id),
                Principal::Password => who.link == Some(id) && who.password == Some(id),
            };
            if matches {
                rights = rights.union(g.rights);
            }
        }
        rights
    }

    fn model_rights(forest: &[Model], n: usize, who: &Requester) -> Rights {
        if who.admin {
            return Rights::ALL;
        }
        let inherited = match forest[n].parent {
            Some(parent) if forest[n].inherit => model_rights(forest, parent, who),
            _ => Rights::NONE,
        };
        model_own(forest, n, who).union(inherited)
    }

    fn chain_of(forest: &[Model], n: usize) -> Vec<NodeAcl> {
        let mut chain = Vec::new();
        let mut at = Some(n);
        while let Some(i) = at {
            let m = &forest[i];
            chain.push(NodeAcl::new(model_id(i), m.owner, m.inherit, m.grants.clone()));
            at = m.parent;
        }
        chain
    }

    fn principal_strategy() -> impl Strategy<Value = Principal> {
        prop_oneof![
            (1i64..=4).prop_map(Principal::Account),
            (1i64..=4).prop_map(Principal::Group),
            Just(Principal::Domain),
            Just(Principal::AllDomains),
            Just(Principal::Public),
            Just(Principal::Password),
        ]
    }

    fn forest_strategy() -> impl Strategy<Value = Vec<Model>> {
        let grant = (principal_strategy(), 1u8..=Rights::ALL.bits())
            .prop_map(|(principal, bits)| Grant { principal, rights: Rights(bits) });
        let node = (any::<prop::sample::Index>(), any::<bool>(), any::<bool>(), 1i64..=4, prop::collection::vec(grant, 0..5));
        prop::collection::vec(node, 1..30).prop_map(|nodes| {
            nodes
                .into_iter()
                .enumerate()
                .map(|(i, (parent, is_child, inherit, owner, grants))| Model {
                    parent: (i > 0 && is_child).then(|| parent.index(i)),
                    inherit,
                    owner,
                    grants,
                })
                .collect()
        })
    }

    fn requester_strategy() -> impl Strategy<Value = Requester> {
        let account = prop::option::of((1i64..=5, prop_oneof![Just(DOMAIN), Just(DOMAIN + 1)]));
        let groups = prop::collection::vec(1i64..=5, 0..5);
        let node = prop::option::weighted(0.7, (0usize..30).prop_map(model_id));
        (account, groups, prop::bool::weighted(0.1), node.clone(), node).prop_map(
            |(account, groups, admin, link, password)| Requester { account, groups, admin, link, password },
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn decide_agrees_with_the_model(forest in forest_strategy(), who in requester_strategy()) {
            for n in 0..forest.len() {
                let chain = chain_of(&forest, n);
                let decision = decide(&chain, DOMAIN, &who);
                prop_assert_eq!(decision.rights, model_rights(&forest, n, &who), "node {}", n);

                let from_reasons = decision.reasons.iter().fold(Rights::NONE, |acc, r| acc.union(r.rights));
                prop_assert_eq!(from_reasons, decision.rights);

                let in_scope = chain.iter().position(|c| !c.inherit).map_or(chain.len(), |i| i + 1);
                let scope: Vec<i64> = chain[..in_scope].iter().map(|c| c.id).collect();
                prop_assert_eq!(decision.stopped_at, chain[..in_scope].last().filter(|c| !c.inherit).map(|c| c.id));
                let mut depth = 0;
                for reason in &decision.reasons {
                    prop_assert!(!reason.rights.is_empty());
                    if let Some(node) = reason.source.node() {
                        let at = chain.iter().position(|c| c.id == node).unwrap_or(usize::MAX);
                        prop_assert!(at >= depth, "reasons are nearest node first: {:?}", decision.reasons);
                        depth = at;
                    }
                    match reason.source.node() {
                        None => prop_assert!(who.admin && !reason.inherited && std::ptr::eq(reason, &decision.reasons[0])),
                        Some(node) => {
                            prop_assert!(scope.contains(&node), "{:?} outside {:?}", reason, scope);
                            prop_assert_eq!(reason.inherited, node != chain[0].id);
                        }
                    }
                }
            }
        }
    }
}
