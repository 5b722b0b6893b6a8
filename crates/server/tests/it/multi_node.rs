//! Two servers on one PostgreSQL database, as several nodes would run: a change made on one
//! reaches the sessions held by the other.

use deskward_testkit::{Backend, ServerOptions, postgres_available};
use reqwest::StatusCode;
use serde_json::json;

use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_on_one_node_ends_sessions_on_the_other() {
    if !postgres_available("two nodes on one database") {
        return;
    }
    let (node_a, admin_a) = with_admin(Backend::Postgres).await;
    let url = node_a.database_url.clone().expect("postgres url");
    let node_b = start(ServerOptions::new(Backend::Postgres).env("DESKWARD_DATABASE__URL", &url)).await;
    let admin_b = node_b.client();
    assert_eq!(login(&node_b, &admin_b, ADMIN, ADMIN_PW).await.status(), StatusCode::CREATED, "node B sees node A's accounts");

    add_account(&node_a, &admin_a, "example.org", "nina", "domain-admin", "pw-n1-long-9!x").await;
    let nina = node_a.client();
    assert_eq!(login(&node_a, &nina, "nina@example.org", "pw-n1-long-9!x").await.status(), StatusCode::CREATED);
    let (s, _) = call(&nina, "GET", node_a.url("/api/v1/domains/example.org/accounts"), None).await;
    assert_eq!(s, StatusCode::OK, "cached on node A");

    // Demoted on node B: node A stops honouring the admin rights.
    let (s, v) = call(&admin_b, "PATCH", node_b.url("/api/v1/domains/example.org/accounts/nina"), Some(json!({"role": "user"}))).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let demoted = eventually(|| async { call(&nina, "GET", node_a.url("/api/v1/domains/example.org/accounts"), None).await.0 == StatusCode::FORBIDDEN });
    assert!(demoted.await, "node A applies node B's demotion");

    // Disabled on node B: the session on node A ends.
    let (s, _) = call(&admin_b, "PATCH", node_b.url("/api/v1/domains/example.org/accounts/nina"), Some(json!({"disabled": true}))).await;
    assert_eq!(s, StatusCode::OK);
    let ended = eventually(|| async { call(&nina, "GET", node_a.url("/api/v1/me"), None).await.0 == StatusCode::UNAUTHORIZED });
    assert!(ended.await, "node A ends the session disabled on node B");
}
