//! `scripts/bench guard [SECONDS]`: what the brute-force guard costs.
//!
//! 1. Memory: resident memory of this process before and after the guard tracks 1,000,000
//!    distinct client addresses (each with one failure).
//! 2. Speed: the median cost of one guard decision over those clients, against an empty loop
//!    doing the same address arithmetic, in the same run.
//! 3. HTTPS logins per second at the configured argon2id cost with the guard on and off, two
//!    servers side by side, rounds alternating so noise hits both.

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::time::{Duration, Instant};

use deskward_app::{Guard, GuardRules};
use deskward_testkit::{Backend, Server, ServerOptions};

const CLIENTS: u32 = 1_000_000;
const BATCH: u32 = 1_000;

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmRSS:")).and_then(|l| l.split_whitespace().nth(1)?.parse().ok()))
        .unwrap_or(0)
}

fn client(i: u32) -> IpAddr {
    IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + i))
}

pub async fn run(bin: &Path, span: Duration) -> anyhow::Result<()> {
    println!("deskward guard benchmark");
    let before = rss_kib();
    let rules = GuardRules { max_failures: 1_000, ..GuardRules::default() };
    let guard = Guard::new(rules);
    let now = 1_795_435_445;
    for i in 0..CLIENTS {
        guard.failure(client(i), None, now);
    }
    let grown = rss_kib().saturating_sub(before);
    println!(
        "memory for {} tracked clients: {:.1} MiB, {:.0} bytes each (target < 150 MiB)",
        guard.tracked_clients(),
        grown as f64 / 1024.0,
        grown as f64 * 1024.0 / f64::from(CLIENTS)
    );

    let account = guard.account_key("runner@bench.test");
    let mut decisions = Vec::new();
    let mut empty = Vec::new();
    let mut x: u32 = 12_345;
    for round in 0..2_000 {
        // Alternate which is measured first, so drift hits both.
        for measured in [round % 2 == 0, round % 2 == 1] {
            let start = Instant::now();
            for _ in 0..BATCH {
                x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                let ip = client(x % CLIENTS);
                if measured {
                    black_box(guard.check(black_box(ip), account, now));
                } else {
                    black_box(black_box(ip));
                }
            }
            let per = start.elapsed().as_nanos() as f64 / f64::from(BATCH);
            if measured { decisions.push(per) } else { empty.push(per) }
        }
    }
    let (d, e) = (median(&mut decisions), median(&mut empty));
    println!("guard decision: median {d:.0} ns; empty loop {e:.0} ns; the guard's own cost {:.0} ns (target < 2000 ns)", d - e);
    drop(guard);

    let on = start_server(bin, true).await?;
    let off = start_server(bin, false).await?;
    let (mut with, mut without) = (0.0, 0.0);
    let rounds = 4;
    for round in 0..rounds {
        let order = if round % 2 == 0 { [(&on, true), (&off, false)] } else { [(&off, false), (&on, true)] };
        for (server, guarded) in order {
            let rate = crate::logins_per_second(server, 2, span / 2).await?;
            if guarded { with += rate } else { without += rate }
        }
    }
    let (with, without) = (with / f64::from(rounds), without / f64::from(rounds));
    println!("HTTPS logins/s, 2 clients: guard on {with:.1}, guard off {without:.1} = {:.3} (target >= 0.95)", with / without);
    Ok(())
}

async fn start_server(bin: &Path, guard: bool) -> anyhow::Result<Server> {
    let mut options = ServerOptions::new(Backend::Sqlite).env("DESKWARD_GUARD__ENABLED", if guard { "true" } else { "false" });
    options.cheap_hashing = false;
    let server = Server::start(bin, options).await?;
    server.cli_ok(&["domain", "add", "bench.test"], None);
    server.cli_ok(&["account", "add", "runner@bench.test", "--role", "user", "--password-stdin"], Some(crate::PASSWORD));
    Ok(server)
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}
