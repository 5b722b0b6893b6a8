//! What the store's tests share.

use deskward_store::Backend;

/// A test's databases: a fresh SQLite file, and a fresh PostgreSQL database when one is
/// configured (required under `DESKWARD_REQUIRE_SERVICES=1`).
pub async fn urls(what: &str) -> Vec<(Backend, String)> {
    let dir = std::env::temp_dir().join(format!("deskward-store-{:016x}", rand::random::<u64>()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut urls = vec![(Backend::Sqlite, format!("sqlite://{}?mode=rwc", dir.join("d.db").display()))];
    if deskward_testkit::postgres_available(what) {
        urls.push((Backend::Postgres, deskward_testkit::fresh_database().await.unwrap()));
    }
    urls
}
