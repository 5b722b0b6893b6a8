//! Access decisions through the store (ancestor chains and grants read with recursive
//! queries, then decided) against an obviously correct model of the same random trees, on
//! SQLite and on PostgreSQL: the property tests in `core::acl` check the rule, this checks
//! that the database gives the rule the right chain.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use deskward_app::{App, Caller, Hasher, HasherLimits, Source};
use deskward_core::Role;
use deskward_core::acl::Rights;
use deskward_core::authz::Actor;
use deskward_core::class::Features;
use deskward_core::password::hash::HashParams;
use deskward_store::items::{self, ItemKind, NewItem};
use deskward_store::{AccountRow, DomainRow, GroupRow, Housekeeping, ItemRow, NewAccount, OpenOptions, Store};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const ITEMS: usize = 40;
const ACCOUNTS: usize = 5;
const GROUPS: usize = 4;

/// The model of one item.
#[derive(Clone)]
struct Node {
    id: i64,
    parent: Option<usize>,
    owner: usize,
    inherit: bool,
    /// (principal kind, index of the account or group, rights bits)
    grants: Vec<(&'static str, usize, u8)>,
}

struct World {
    accounts: Vec<(i64, i64)>,
    /// Group ids of each account.
    member_of: Vec<Vec<i64>>,
    groups: Vec<i64>,
    domain: i64,
    other_domain_account: (i64, i64),
}

/// What the model says account `who` (index; `None` for the other domain's account) may do.
fn model(nodes: &[Node], n: usize, world: &World, who: Option<usize>) -> u8 {
    let node = &nodes[n];
    let mut rights = 0u8;
    if who == Some(node.owner) {
        rights = Rights::ALL.bits();
    }
    for (kind, index, bits) in &node.grants {
        let matches = match (*kind, who) {
            ("account", Some(a)) => *index == a,
            ("group", Some(a)) => world.member_of[a].contains(&world.groups[*index]),
            ("domain", w) => w.is_some(),
            ("all-domains", _) => true,
            _ => false,
        };
        if matches {
            rights |= bits;
        }
    }
    match node.parent {
        Some(p) if node.inherit => rights | model(nodes, p, world, who),
        _ => rights,
    }
}

fn caller(account: (i64, i64), groups: Vec<i64>) -> Caller {
    Caller {
        actor: Actor::Account { account_id: account.0, domain_id: account.1, role: Role::User },
        name: "someone@example.org".into(),
        source: Source::default(),
        features: Features::ALL,
        groups,
        acting: None,
    }
}

async fn open(url: &str) -> Store {
    Store::open(url, &OpenOptions { max_connections: 4, connect_timeout: Duration::from_secs(10) }).await.unwrap()
}

async fn account(store: &Store, domain: i64, name: &str) -> (i64, i64) {
    let mut tx = store.begin().await.unwrap();
    let new = NewAccount { domain_id: domain, name, role: Role::User, class_id: None, password_hash: None, must_change_password: false, directory_dn: None, auth_plugin: None };
    let id = AccountRow::insert(&mut tx, &new, 0).await.unwrap();
    tx.commit_unaudited(Housekeeping::BenchmarkBaseline).await.unwrap();
    (id, domain)
}

async fn run(url: &str, seed: u64) {
    let store = open(url).await;
    let mut rng = StdRng::seed_from_u64(seed);
    let mut tx = store.begin().await.unwrap();
    let domain = DomainRow::insert(&mut tx, "example.org", 0).await.unwrap().id;
    let other = DomainRow::insert(&mut tx, "other.org", 0).await.unwrap().id;
    let mut groups = Vec::new();
    for g in 0..GROUPS {
        groups.push(GroupRow::insert(&mut tx, domain, &format!("g{g}")).await.unwrap());
    }
    tx.commit_unaudited(Housekeeping::BenchmarkBaseline).await.unwrap();
    let mut accounts = Vec::new();
    for a in 0..ACCOUNTS {
        accounts.push(account(&store, domain, &format!("a{a}")).await);
    }
    let other_domain_account = account(&store, other, "stranger").await;
    let mut member_of = vec![Vec::new(); ACCOUNTS];
    let mut tx = store.begin().await.unwrap();
    for (a, groups_of) in member_of.iter_mut().enumerate() {
        for g in &groups {
            if rng.random_bool(0.4) {
                GroupRow::add_member(&mut tx, *g, accounts[a].0).await.unwrap();
                groups_of.push(*g);
            }
        }
    }
    tx.commit_unaudited(Housekeeping::BenchmarkBaseline).await.unwrap();
    let world = World { accounts, member_of, groups, domain, other_domain_account };

    // A random forest: each item's parent is an earlier folder or none.
    let mut nodes: Vec<Node> = Vec::new();
    let kinds = ["account", "group", "domain", "all-domains"];
    for i in 0..ITEMS {
        let folders: Vec<usize> = (0..i).filter(|j| nodes[*j].grants.len() < 99 && j % 3 != 2).collect();
        let parent = if folders.is_empty() || rng.random_bool(0.2) { None } else { Some(folders[rng.random_range(0..folders.len())]) };
        let owner = rng.random_range(0..ACCOUNTS);
        let mut grants = Vec::new();
        for _ in 0..rng.random_range(0..3) {
            let kind = kinds[rng.random_range(0..kinds.len())];
            let index = if kind == "group" { rng.random_range(0..GROUPS) } else { rng.random_range(0..ACCOUNTS) };
            let bits = rng.random_range(1..16u8);
            if !grants.iter().any(|(k, ix, _): &(&str, usize, u8)| *k == kind && (*ix == index || kind == "domain" || kind == "all-domains")) {
                grants.push((kind, index, bits));
            }
        }
        let mut tx = store.begin().await.unwrap();
        let name = format!("item{i}");
        let new = NewItem {
            domain_id: world.domain,
            parent_id: parent.map_or(0, |p| nodes[p].id),
            kind: if i % 3 == 2 { ItemKind::Document } else { ItemKind::Folder },
            name: &name,
            name_key: &name,
            owner_id: world.accounts[owner].0,
            now: 0,
        };
        let id = ItemRow::insert(&mut tx, &new).await.unwrap();
        let inherit = rng.random_bool(0.75);
        let rows: Vec<(String, i64, i64)> = grants
            .iter()
            .map(|(k, ix, bits)| {
                let pid = match *k {
                    "account" => world.accounts[*ix].0,
                    "group" => world.groups[*ix],
                    _ => 0,
                };
                ((*k).to_owned(), pid, i64::from(*bits))
            })
            .collect();
        items::set_grants(&mut tx, id, inherit, &rows, 0).await.unwrap();
        tx.commit_unaudited(Housekeeping::BenchmarkBaseline).await.unwrap();
        nodes.push(Node { id, parent, owner, inherit, grants });
    }

    let hasher = Hasher::new(HashParams { memory_kib: 1024, iterations: 1, parallelism: 1 }, HasherLimits { max_in_flight: 1, max_queued: 1 }).unwrap();
    let app = App::new(store.clone(), hasher);
    let check = |nodes: Vec<Node>| {
        let app = app.clone();
        let world = &world;
        async move {
            for (n, node) in nodes.iter().enumerate() {
                for a in 0..ACCOUNTS {
                    let got = app.rights_on(&caller(world.accounts[a], world.member_of[a].clone()), node.id).await.unwrap();
                    assert_eq!(got.bits(), model(&nodes, n, world, Some(a)), "seed {seed}, item {n}, account {a}");
                }
                // A folder's listing decides its children in one go: the same answers.
                for a in 0..ACCOUNTS {
                    let who = caller(world.accounts[a], world.member_of[a].clone());
                    if n % 3 == 2 || model(&nodes, n, world, Some(a)) & Rights::READ.bits() == 0 {
                        continue;
                    }
                    let listed = app.item(&who, node.id).await.unwrap().children;
                    let want: Vec<(i64, u8)> = (0..nodes.len())
                        .filter(|c| nodes[*c].parent == Some(n))
                        .map(|c| (nodes[c].id, model(&nodes, c, world, Some(a))))
                        .filter(|(_, r)| r & Rights::READ.bits() != 0)
                        .collect();
                    let mut got: Vec<(i64, u8)> = listed.iter().map(|v| (v.item.id, v.rights.bits())).collect();
                    let mut want = want;
                    got.sort_unstable();
                    want.sort_unstable();
                    assert_eq!(got, want, "seed {seed}, listing of item {n}, account {a}");
                }
                let got = app.rights_on(&caller(world.other_domain_account, Vec::new()), node.id).await.unwrap();
                assert_eq!(got.bits(), model(&nodes, n, world, None), "seed {seed}, item {n}, the other domain's account");
            }
        }
    };
    check(nodes.clone()).await;

    // Moves change chains: move random items under random other folders (never into their own
    // subtree) and check again.
    for _ in 0..10 {
        let n = rng.random_range(0..ITEMS);
        let target = rng.random_range(0..ITEMS);
        let mut up = Some(target);
        let mut cycle = false;
        while let Some(u) = up {
            cycle |= u == n;
            up = nodes[u].parent;
        }
        if cycle || target % 3 == 2 {
            continue;
        }
        let mut tx = store.begin().await.unwrap();
        let name = format!("item{n}");
        ItemRow::place(&mut tx, nodes[n].id, world.accounts[nodes[n].owner].0, nodes[target].id, &name, &name, 0).await.unwrap();
        tx.commit_unaudited(Housekeeping::BenchmarkBaseline).await.unwrap();
        nodes[n].parent = Some(target);
    }
    check(nodes.clone()).await;
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_decisions_match_the_model_on_sqlite() {
    for seed in 0..6 {
        let dir = deskward_testkit::TempDir::new("acl-store");
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("d.db").display());
        run(&url, seed).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_decisions_match_the_model_on_postgres() {
    if !deskward_testkit::postgres_available("store decisions on postgres") {
        return;
    }
    for seed in 100..103 {
        let url = deskward_testkit::fresh_database().await.unwrap();
        run(&url, seed).await;
    }
}
