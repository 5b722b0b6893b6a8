//! Schema migrations: numbered SQL files applied in order, each in its own transaction together
//! with its row in `schema_migrations`, so a crash leaves the schema at a version boundary.

use crate::{Result, Store, StoreError};

const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../migrations/0001_foundation.sql")),
    (2, include_str!("../migrations/0002_auth_epoch.sql")),
    (3, include_str!("../migrations/0003_audit.sql")),
    (4, include_str!("../migrations/0004_guard.sql")),
    (5, include_str!("../migrations/0005_session_rules.sql")),
    (6, include_str!("../migrations/0006_domain_session_rules.sql")),
    (7, include_str!("../migrations/0007_notifications.sql")),
    (8, include_str!("../migrations/0008_allow_lists.sql")),
    (9, include_str!("../migrations/0009_secrets.sql")),
    (10, include_str!("../migrations/0010_directories.sql")),
    (11, include_str!("../migrations/0011_auth_orders.sql")),
    (12, include_str!("../migrations/0012_documents.sql")),
    (13, include_str!("../migrations/0013_impersonation.sql")),
    (14, include_str!("../migrations/0014_audit_day_ranges.sql")),
    (15, include_str!("../migrations/0015_conversation_logging.sql")),
];

/// What SQLite alone runs after a migration's shared SQL, in the same transaction: its own
/// table layouts, where the dialects part.
const SQLITE_ONLY: &[(i64, &str)] = &[(14, include_str!("../migrations/0014_audit_day_ranges.sqlite.sql"))];

pub(crate) async fn run(store: &Store) -> Result<()> {
    let mut conn = store.conn().await?;
    sqlx::raw_sql(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)",
    )
    .execute(&mut *conn)
    .await?;
    drop(conn);
    let known = MIGRATIONS.last().map_or(0, |m| m.0);
    for &(version, sql) in MIGRATIONS {
        let mut tx = store.begin().await?;
        let found: Option<i64> = sqlx::query_scalar("SELECT MAX(version) FROM schema_migrations")
            .fetch_one(tx.conn())
            .await?;
        let found = found.unwrap_or(0);
        if found > known {
            return Err(StoreError::TooNew { found, known });
        }
        if found >= version {
            continue;
        }
        let fail = |source| StoreError::Migrate { version, source };
        sqlx::raw_sql(sql).execute(tx.conn()).await.map_err(fail)?;
        if store.backend == crate::Backend::Sqlite
            && let Some((_, sqlite)) = SQLITE_ONLY.iter().find(|m| m.0 == version)
        {
            sqlx::raw_sql(*sqlite).execute(tx.conn()).await.map_err(fail)?;
        }
        sqlx::query("INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)")
            .bind(version)
            .bind(unix_now())
            .execute(tx.conn())
            .await
            .map_err(fail)?;
        tx.commit_unaudited(crate::Housekeeping::Migration).await?;
        tracing::info!(version, "applied database migration");
    }
    Ok(())
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}
