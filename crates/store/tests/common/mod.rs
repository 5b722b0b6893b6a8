//! What the store's tests share.

use deskward_store::Backend;
use deskward_testkit::TempDir;

/// A test's databases: a fresh SQLite file in a directory removed when the test ends, and a
/// fresh PostgreSQL database when one is configured (required under
/// `DESKWARD_REQUIRE_SERVICES=1`).
pub async fn urls(what: &str) -> (TempDir, Vec<(Backend, String)>) {
    let dir = TempDir::new("store");
    let mut urls = vec![(Backend::Sqlite, format!("sqlite://{}?mode=rwc", dir.path().join("d.db").display()))];
    if deskward_testkit::postgres_available(what) {
        urls.push((Backend::Postgres, deskward_testkit::fresh_database().await.unwrap()));
    }
    (dir, urls)
}
