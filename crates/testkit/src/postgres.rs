//! Fresh PostgreSQL databases for tests, each owned by a role without superuser rights (the
//! set-up the documentation recommends), created through the admin URL the test command sets.

use sqlx::Connection;

const ADMIN_URL_VAR: &str = "DESKWARD_TEST_POSTGRES_ADMIN_URL";
const ROLE: &str = "deskward_test";
const ROLE_PASSWORD: &str = "deskward-test-password";

/// Whether PostgreSQL tests can run; panics when the test command requires them and they cannot.
pub fn postgres_available(what: &str) -> bool {
    crate::service_present(what, std::env::var(ADMIN_URL_VAR).is_ok(), ADMIN_URL_VAR)
}

/// Switches the test cluster's `fsync` (off as the test command starts it, for speed; on as a
/// server is installed) for every session, through the admin URL.
pub async fn set_fsync(on: bool) -> anyhow::Result<()> {
    let mut admin = sqlx::PgConnection::connect(&std::env::var(ADMIN_URL_VAR)?).await?;
    let set = if on { "ALTER SYSTEM SET fsync = on" } else { "ALTER SYSTEM SET fsync = off" };
    sqlx::raw_sql(set).execute(&mut admin).await?;
    sqlx::raw_sql("SELECT pg_reload_conf()").execute(&mut admin).await?;
    Ok(())
}

/// Creates a new empty database and returns the URL the server should use.
pub async fn fresh_database() -> anyhow::Result<String> {
    let admin_url = std::env::var(ADMIN_URL_VAR)?;
    let mut admin = sqlx::PgConnection::connect(&admin_url).await?;
    let exists: Option<i32> = sqlx::query_scalar("SELECT 1 FROM pg_roles WHERE rolname = $1")
        .bind(ROLE)
        .fetch_optional(&mut admin)
        .await?;
    if exists.is_none() {
        // Two test processes may race to create the role; the loser's error is harmless.
        let _ = sqlx::raw_sql(
            "CREATE ROLE deskward_test LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD 'deskward-test-password'",
        )
        .execute(&mut admin)
        .await;
    }
    let name = format!("dw_test_{:016x}", rand::random::<u64>());
    let create = format!("CREATE DATABASE {name} OWNER {ROLE}");
    sqlx::raw_sql(sqlx::AssertSqlSafe(create)).execute(&mut admin).await?;
    let base = admin_url.rsplit_once('/').map_or(admin_url.as_str(), |(b, _)| b);
    let host = base.rsplit_once('@').map_or(base, |(_, h)| h).trim_start_matches("postgres://").trim_start_matches("postgresql://");
    Ok(format!("postgres://{ROLE}:{ROLE_PASSWORD}@{host}/{name}"))
}
