//! A running server whose PostgreSQL sessions end under it, as a database restart, a failover
//! or an administrator ends them.

use deskward_testkit::{Backend, postgres_available};
use reqwest::StatusCode;

use crate::support::*;

/// The server's pooled connections are ended while they sit idle, too recently used to be
/// pinged. The server's own background reads (it polls the authentication epochs every 250 ms)
/// find the loss first, and the pool then checks each connection before a request gets it:
/// every request after that answers normally.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_after_the_database_ended_the_servers_sessions_answer_normally() {
    if !postgres_available("ended database sessions") {
        return;
    }
    let (server, admin) = with_admin(Backend::Postgres).await;
    let accounts = || call(&admin, "GET", server.url("/api/v1/domains/example.org/accounts"), None);
    // Requests at once leave several connections in the pool.
    let answers = futures_util::future::join_all((0..6).map(|_| accounts())).await;
    assert!(answers.iter().all(|(s, _)| *s == StatusCode::OK), "{answers:?}");

    let url = server.database_url.clone().expect("postgres url");
    let mut db = <sqlx::PgConnection as sqlx::Connection>::connect(&url).await.unwrap();
    let ended: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()",
    )
    .fetch_all(&mut db)
    .await
    .unwrap();
    assert!(ended.len() >= 2 && ended.iter().all(|e| *e), "{ended:?}");

    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    for n in 0..8 {
        let (s, v) = accounts().await;
        assert_eq!(s, StatusCode::OK, "request {n} after the sessions ended: {v}");
    }
    let answers = futures_util::future::join_all((0..6).map(|_| accounts())).await;
    assert!(answers.iter().all(|(s, _)| *s == StatusCode::OK), "{answers:?}");
}
