//! `scripts/bench hasher [SECONDS]`: argon2id verifications per second through the server's
//! hasher (its own threads, fed from async tasks as logins feed them) against bare threads
//! reusing their memory (the hash limit), alternated three times: what the hasher itself
//! costs, without HTTP, TLS or the database.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use deskward_app::{Hasher, HasherLimits};
use deskward_core::password::hash;

use crate::{PARAMS, PASSWORD, hash_limit};

pub async fn run(span: Duration) -> anyhow::Result<()> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let stored = hash::hash(PASSWORD, &[9; 16], PARAMS)?;
    let hasher = Hasher::new(PARAMS, HasherLimits { max_in_flight: 0, max_queued: 64 })?;
    println!("deskward hasher benchmark: {cores} cores, {} s per round, {cores} callers", span.as_secs());
    let (mut bare, mut through) = (0.0, 0.0);
    for _ in 0..3 {
        bare += hash_limit(cores, span);
        through += verifications(&hasher, &stored, cores, span).await?;
    }
    println!("argon2id verifications/s: bare threads {:.1}, through the hasher {:.1} = {:.2} x", bare / 3.0, through / 3.0, through / bare);
    Ok(())
}

/// Verifications per second from `callers` tasks, each waiting for its answer before asking again.
async fn verifications(hasher: &Hasher, stored: &str, callers: usize, span: Duration) -> anyhow::Result<f64> {
    let done = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..callers {
        let (hasher, stored, done) = (hasher.clone(), stored.to_owned(), done.clone());
        tasks.push(tokio::spawn(async move {
            while start.elapsed() < span {
                hasher.verify(PASSWORD, &stored).await?;
                done.fetch_add(1, Ordering::Relaxed);
            }
            Ok::<_, deskward_app::AppError>(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    Ok(done.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64())
}
