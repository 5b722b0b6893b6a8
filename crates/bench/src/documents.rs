//! `scripts/bench documents [MIB]`: what folders and documents cost.
//!
//! 1. Access decisions per second on the deepest folder of a 20-deep tree carrying 100,000
//!    grants (10,000 groups, the requester in 50 of them, its only grant at the top so the
//!    whole chain is walked): cold (the chain and the grants that can match the requester read
//!    from SQLite at every decision, as before the authentication cache is trusted) and warm
//!    (the decision cache on), against the pure evaluation of the whole chain, all its grants
//!    included, in memory, in the same run.
//! 2. Streaming a MIB-MiB document (default 1024) through a real server: upload and download
//!    over HTTPS, the download against a plain read of the stored file from disk in the same
//!    run (page cache warm for both), and the server's peak resident memory meanwhile.

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use deskward_app::{Actor, App, Caller, Hasher, HasherLimits};
use deskward_core::Role;
use deskward_core::acl::{self, Grant, NodeAcl, Principal, Requester, Rights};
use deskward_core::class::Features;
use deskward_core::password::hash::HashParams;
use deskward_store::items::{self, ItemKind, NewItem};
use deskward_store::{AccountRow, DomainRow, GroupRow, Housekeeping, ItemRow, NewAccount, OpenOptions, Store};
use deskward_testkit::{Backend, Server, ServerOptions};
use futures_util::StreamExt;
use serde_json::json;

const DEPTH: usize = 20;
const GROUPS: usize = 10_000;
const GRANTS: usize = 100_000;
/// Groups the requesting account belongs to.
const MEMBER_OF: usize = 50;
/// Other accounts, each granted something on every folder.
const OTHER_ACCOUNTS: usize = 500;
const MIB: usize = 1 << 20;
/// Bytes per read of the disk baseline, as the server reads a document.
const READ_CHUNK: usize = 64 * 1024;

/// One MiB of varied bytes, sent again and again as the uploaded document.
static PATTERN: LazyLock<Vec<u8>> = LazyLock::new(|| {
    let mut x: u32 = 0x9e37_79b9;
    (0..MIB)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x.to_le_bytes()[0]
        })
        .collect()
});

pub async fn run(bin: &Path, mib: usize) -> anyhow::Result<()> {
    println!("deskward documents benchmark");
    access_decisions().await?;
    transfer(bin, mib).await
}

/// The tree of part 1, in a store and in memory.
struct Tree {
    store: Store,
    domain_id: i64,
    reader: i64,
    reader_groups: Vec<i64>,
    deepest: i64,
    /// The deepest folder's chain, nearest first, as the evaluator takes it.
    chain: Vec<NodeAcl>,
    grants: usize,
}

/// Rights of the filler grants, varied.
fn filler_rights(n: usize) -> i64 {
    [1, 3, 7, 15][n % 4]
}

async fn build_tree(url: &str) -> anyhow::Result<Tree> {
    let store = Store::open(url, &OpenOptions { max_connections: 4, connect_timeout: Duration::from_secs(5) }).await?;
    let now = 1_795_435_445;
    let mut tx = store.begin().await?;
    let domain_id = DomainRow::insert(&mut tx, "bench.test", now).await?.id;
    fn account(domain_id: i64, name: &str) -> NewAccount<'_> {
        NewAccount { domain_id, name, role: Role::User, class_id: None, password_hash: None, must_change_password: false, directory_dn: None, auth_plugin: None }
    }
    let owner = AccountRow::insert(&mut tx, &account(domain_id, "owner"), now).await?;
    let reader = AccountRow::insert(&mut tx, &account(domain_id, "reader"), now).await?;
    let mut others = Vec::with_capacity(OTHER_ACCOUNTS);
    for i in 0..OTHER_ACCOUNTS {
        others.push(AccountRow::insert(&mut tx, &account(domain_id, &format!("a{i}")), now).await?);
    }
    let mut groups = Vec::with_capacity(GROUPS);
    for i in 0..GROUPS {
        groups.push(GroupRow::insert(&mut tx, domain_id, &format!("g{i}")).await?);
    }
    let (mine, rest) = groups.split_at(MEMBER_OF);
    for g in mine {
        GroupRow::add_member(&mut tx, *g, reader).await?;
    }

    let mut folders = Vec::with_capacity(DEPTH);
    let mut parent_id = 0;
    for level in 0..DEPTH {
        let name = format!("level{level}");
        let new = NewItem { domain_id, parent_id, kind: ItemKind::Folder, name: &name, name_key: &name, owner_id: owner, now };
        parent_id = ItemRow::insert(&mut tx, &new).await?;
        folders.push(parent_id);
    }

    // Each folder: every other account, then groups the reader is not in; at the top, one of
    // the reader's groups gets read in place of the last filler, so only the top grants it.
    let per_folder = GRANTS / DEPTH;
    let per_folder_groups = per_folder - OTHER_ACCOUNTS;
    let mut chain = Vec::with_capacity(DEPTH);
    let mut total = 0;
    for (level, &folder) in folders.iter().enumerate() {
        let mut grants: Vec<(String, i64, i64)> = Vec::with_capacity(per_folder);
        for (k, a) in others.iter().enumerate() {
            grants.push(("account".into(), *a, filler_rights(level + k)));
        }
        for k in 0..per_folder_groups {
            let g = rest[(level * per_folder_groups + k) % rest.len()];
            grants.push(("group".into(), g, filler_rights(level + k)));
        }
        if level == 0 {
            grants.pop();
            grants.push(("group".into(), mine[MEMBER_OF / 2], i64::from(Rights::READ.bits())));
        }
        total += grants.len();
        items::set_grants(&mut tx, folder, true, &grants, now).await?;
        let in_memory = grants.iter().map(|(kind, id, rights)| {
            let principal = if kind == "group" { Principal::Group(*id) } else { Principal::Account(*id) };
            let rights = u8::try_from(*rights).ok().and_then(Rights::from_bits).unwrap_or(Rights::NONE);
            Grant { principal, rights }
        });
        chain.push(NodeAcl::new(folder, owner, true, in_memory));
    }
    tx.commit_unaudited(Housekeeping::BenchmarkBaseline).await?;
    chain.reverse();
    let deepest = *folders.last().context("no folders")?;
    Ok(Tree { store, domain_id, reader, reader_groups: mine.to_vec(), deepest, chain, grants: total })
}

/// Decisions per second of `decide` over `span`, in batches; `decide` answers the rights.
async fn rate<F, Fut>(span: Duration, batch: usize, mut decide: F) -> anyhow::Result<f64>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<Rights>>,
{
    let start = Instant::now();
    let mut done = 0usize;
    while start.elapsed() < span {
        for _ in 0..batch {
            black_box(decide().await?);
        }
        done += batch;
    }
    Ok(done as f64 / start.elapsed().as_secs_f64())
}

async fn access_decisions() -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join(format!("deskward-bench-documents-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let url = format!("sqlite://{}?mode=rwc", dir.join("deskward.db").display());
    let start = Instant::now();
    let tree = build_tree(&url).await?;
    println!(
        "tree: {DEPTH} nested folders, {GROUPS} groups, {} grants, requester in {MEMBER_OF} groups, read granted only at the top (built in {:.1} s)",
        tree.grants,
        start.elapsed().as_secs_f64()
    );

    let requester = Requester { account: Some((tree.reader, tree.domain_id)), groups: tree.reader_groups.clone(), admin: false, link: None, password: None };
    let caller = Caller {
        actor: Actor::Account { account_id: tree.reader, domain_id: tree.domain_id, role: Role::User },
        name: "reader@bench.test".into(),
        source: Default::default(),
        features: Features::ALL,
        groups: tree.reader_groups.clone(),
        acting: None,
    };
    let hasher = Hasher::new(HashParams { memory_kib: 1024, iterations: 1, parallelism: 1 }, HasherLimits { max_in_flight: 1, max_queued: 1 })?;
    let app = App::new(tree.store.clone(), hasher);

    // The answers first: read, and nothing more, through the top folder's group grant.
    let pure = acl::decide(&tree.chain, tree.domain_id, &requester);
    ensure!(pure.rights == Rights::READ, "in-memory decision answered {:?}, not read", pure.rights);
    let stored = app.rights_on(&caller, tree.deepest).await?;
    ensure!(stored == Rights::READ, "rights_on answered {stored:?}, not read");

    // Cold: the authentication cache is off until the epoch poller runs, so every decision
    // reads the item, its chain and the chain's grants.
    let mut cold_times = Vec::new();
    let cold_start = Instant::now();
    while cold_start.elapsed() < Duration::from_secs(5) || cold_times.len() < 5 {
        let t = Instant::now();
        let r = app.rights_on(&caller, tree.deepest).await?;
        cold_times.push(t.elapsed().as_secs_f64());
        ensure!(r == Rights::READ, "cold rights_on answered {r:?}");
    }
    let cold = cold_times.len() as f64 / cold_start.elapsed().as_secs_f64();

    // Warm: the poller turns the caches on; the first decision keeps the chain.
    app.start_background_tasks(deskward_app::ThreadHooks { lower_priority: || {}, give_back: || {} });
    tokio::time::sleep(Duration::from_millis(500)).await;
    let cold_each = median(&mut cold_times);
    let cached = Instant::now();
    loop {
        let t = Instant::now();
        let r = app.rights_on(&caller, tree.deepest).await?;
        ensure!(r == Rights::READ, "warm rights_on answered {r:?}");
        if t.elapsed().as_secs_f64() < cold_each / 10.0 {
            break;
        }
        if cached.elapsed() > Duration::from_secs(10) {
            bail!("the chain cache did not turn on within 10 s");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Warm and the in-memory baseline in alternating rounds, so drift hits both.
    let (mut warm, mut baseline) = (0.0, 0.0);
    let (app, caller, chain, requester, deepest, domain_id) = (&app, &caller, &tree.chain, &requester, tree.deepest, tree.domain_id);
    let rounds = 6;
    for round in 0..rounds {
        for measured in [round % 2 == 0, round % 2 == 1] {
            let span = Duration::from_millis(500);
            if measured {
                warm += rate(span, 100, move || async move { Ok(app.rights_on(caller, deepest).await?) }).await?;
            } else {
                baseline += rate(span, 100, move || async move { Ok(acl::decide(black_box(chain), domain_id, requester).rights) }).await?;
            }
        }
    }
    let (warm, baseline) = (warm / f64::from(rounds / 2), baseline / f64::from(rounds / 2));
    println!("access decisions/s, in-memory evaluation of the chain (baseline): {baseline:.0} ({:.1} us each)", 1e6 / baseline);
    println!("access decisions/s, warm (decision cached): {warm:.0} ({:.2} us each) = {:.2} x baseline", 1e6 / warm, warm / baseline);
    println!(
        "access decisions/s, cold (chain and the grants that can match read from SQLite): {cold:.1} ({:.1} ms each, median {:.1} ms) = baseline / {:.0}",
        1e3 / cold,
        cold_each * 1e3,
        baseline / cold
    );
    println!("warm / cold: {:.0} x", warm / cold);
    tree.store.close().await;
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

/// An HTTPS client trusting only the server's certificate, keeping cookies, with no overall
/// time limit (a large transfer may take minutes).
fn client(server: &Server) -> anyhow::Result<reqwest::Client> {
    let pem = std::fs::read(server.data_dir.join("tls/cert.pem")).context("server certificate")?;
    Ok(reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&pem)?)
        .tls_built_in_root_certs(false)
        .cookie_store(true)
        .connect_timeout(Duration::from_secs(10))
        .build()?)
}

/// The one stored content file of `size` bytes under the documents directory.
fn stored_file(root: &Path, size: u64) -> anyhow::Result<PathBuf> {
    let mut found = Vec::new();
    for shard in std::fs::read_dir(root)? {
        let shard = shard?;
        if !shard.file_type()?.is_dir() || shard.file_name() == "tmp" {
            continue;
        }
        for file in std::fs::read_dir(shard.path())? {
            let file = file?;
            if file.metadata()?.len() == size {
                found.push(file.path());
            }
        }
    }
    ensure!(found.len() == 1, "expected one stored file of {size} bytes under {}, found {}", root.display(), found.len());
    found.pop().context("no stored file")
}

/// Reads `path` to its end in 64 KiB steps; answers MiB/s.
async fn read_from_disk(path: &Path, size: u64) -> anyhow::Result<f64> {
    let path = path.to_owned();
    tokio::task::spawn_blocking(move || {
        use std::io::Read;
        let start = Instant::now();
        let mut file = std::fs::File::open(&path)?;
        let mut buf = vec![0u8; READ_CHUNK];
        let mut total: u64 = 0;
        loop {
            let n = file.read(&mut buf)?;
            if n == 0 {
                break;
            }
            black_box(&buf[..n]);
            total += n as u64;
        }
        ensure!(total == size, "read {total} bytes from disk, expected {size}");
        Ok(size as f64 / MIB as f64 / start.elapsed().as_secs_f64())
    })
    .await?
}

async fn transfer(bin: &Path, mib: usize) -> anyhow::Result<()> {
    let size = (mib * MIB) as u64;
    let server = Server::start(bin, ServerOptions::new(Backend::Sqlite)).await?;
    server.cli_ok(&["domain", "add", "bench.test"], None);
    server.cli_ok(&["account", "add", "runner@bench.test", "--role", "user", "--password-stdin"], Some(crate::PASSWORD));
    let http = client(&server)?;
    let r = http.post(server.url("/api/v1/session")).json(&json!({"login": "runner@bench.test", "password": crate::PASSWORD})).send().await?;
    ensure!(r.status() == reqwest::StatusCode::CREATED, "login answered {}", r.status());
    let idle = server.rss_kib().unwrap_or(0);

    let pattern: &'static [u8] = PATTERN.as_slice();
    let chunks = futures_util::stream::iter((0..mib).map(move |_| Ok::<_, std::io::Error>(pattern)));
    let peak = server.sample_peak_memory();
    let start = Instant::now();
    let r = http
        .post(server.url("/api/v1/items/documents"))
        .query(&[("name", "big")])
        .header(reqwest::header::CONTENT_LENGTH, size)
        .body(reqwest::Body::wrap_stream(chunks))
        .send()
        .await?;
    let status = r.status();
    let stored: serde_json::Value = r.json().await?;
    let up_secs = start.elapsed().as_secs_f64();
    let up_peak = peak.stop();
    ensure!(status == reqwest::StatusCode::CREATED, "upload answered {status}: {stored}");
    let id = stored["item"]["id"].as_i64().context("no item id in the upload's answer")?;

    let file = stored_file(&server.data_dir.join("documents"), size)?;
    // Both measures read from the page cache: the file is read once before either.
    read_from_disk(&file, size).await?;
    let disk_before = read_from_disk(&file, size).await?;

    let peak = server.sample_peak_memory();
    let start = Instant::now();
    let r = http.get(server.url(&format!("/api/v1/items/{id}/content"))).send().await?;
    ensure!(r.status() == reqwest::StatusCode::OK, "download answered {}", r.status());
    let mut body = r.bytes_stream();
    let mut received: u64 = 0;
    let mut first = None;
    while let Some(chunk) = body.next().await {
        let chunk = chunk?;
        if first.is_none() {
            first = chunk.get(..16).map(<[u8]>::to_vec);
        }
        received += chunk.len() as u64;
    }
    let down_secs = start.elapsed().as_secs_f64();
    let down_peak = peak.stop();
    ensure!(received == size, "downloaded {received} bytes, expected {size}");
    ensure!(first.as_deref() == pattern.get(..16), "the downloaded content does not start as uploaded");

    let disk_after = read_from_disk(&file, size).await?;
    let disk = (disk_before + disk_after) / 2.0;
    let up = mib as f64 / up_secs;
    let down = mib as f64 / down_secs;
    let in_mib = |kib: u64| kib as f64 / 1024.0;
    println!("document of {mib} MiB; server resident memory before: {:.1} MiB", in_mib(idle));
    println!("HTTPS upload: {up:.0} MiB/s ({up_secs:.1} s); server peak resident memory {:.1} MiB (target < 100 MiB)", in_mib(up_peak));
    println!("disk read of the stored file (baseline, page cache warm): {disk:.0} MiB/s (before {disk_before:.0}, after {disk_after:.0})");
    println!("HTTPS download: {down:.0} MiB/s ({down_secs:.1} s) = {:.2} x disk", down / disk);
    println!("server peak resident memory during the download: {:.1} MiB (target < 100 MiB)", in_mib(down_peak));
    Ok(())
}
