//! Shared set-up: a server with a domain and a logged-in system admin, and JSON helpers.

use std::path::Path;

use deskward_testkit::{Backend, Server, ServerOptions};
use reqwest::{Client, Response, StatusCode};
use serde_json::{Value, json};

pub const BIN: &str = env!("CARGO_BIN_EXE_deskward");
pub const ADMIN: &str = "admin@example.org";
pub const ADMIN_PW: &str = "Root-pass-4-tests!";

pub async fn start(options: ServerOptions) -> Server {
    Server::start(Path::new(BIN), options).await.expect("server starts")
}

/// A server with domain example.org and a system admin logged in on the returned client.
pub async fn with_admin(backend: Backend) -> (Server, Client) {
    with_admin_using(ServerOptions::new(backend)).await
}

/// [`with_admin`] with the given server options.
pub async fn with_admin_using(options: ServerOptions) -> (Server, Client) {
    let server = start(options).await;
    server.cli_ok(&["domain", "add", "example.org"], None);
    server.cli_ok(&["account", "add", ADMIN, "--role", "system-admin", "--password-stdin"], Some(ADMIN_PW));
    let client = server.client();
    let r = login(&server, &client, ADMIN, ADMIN_PW).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    (server, client)
}

pub async fn login(server: &Server, client: &Client, login: &str, password: &str) -> Response {
    client
        .post(server.url("/api/v1/session"))
        .json(&json!({"login": login, "password": password}))
        .send()
        .await
        .expect("request")
}

/// A login sent through a trusted proxy on loopback that names `from` as the client.
pub async fn login_from(server: &Server, client: &Client, from: &str, login: &str, password: &str) -> Response {
    client
        .post(server.url("/api/v1/session"))
        .header("x-forwarded-for", from)
        .json(&json!({"login": login, "password": password}))
        .send()
        .await
        .expect("request")
}

/// Logs in from `from` on a fresh client; the answer's status and JSON body (Null when empty).
pub async fn login_answer(server: &Server, from: &str, login: &str, password: &str) -> (StatusCode, Value) {
    let r = login_from(server, &server.client(), from, login, password).await;
    let status = r.status();
    let text = r.text().await.expect("body");
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// The reasons of the failed-login events of `who`, oldest first, once there are `want`
/// (security events are written in batches; after 5 seconds, whatever there is).
pub async fn failure_reasons(server: &Server, admin: &Client, who: &str, want: usize) -> Vec<String> {
    let started = std::time::Instant::now();
    loop {
        let found = crate::audit::records(server, admin, "action=login.failed&security=true").await;
        let mut reasons: Vec<String> = found
            .iter()
            .filter(|r| r["target"] == json!(format!("account:{who}")))
            .map(|r| r["summary"]["reason"].as_str().unwrap_or_default().to_owned())
            .collect();
        if reasons.len() >= want || started.elapsed() > std::time::Duration::from_secs(5) {
            reasons.reverse();
            return reasons;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// Sends and returns status and JSON body (Null when empty).
pub async fn call(client: &Client, method: &str, url: String, body: Option<Value>) -> (StatusCode, Value) {
    let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
    let mut req = client.request(method, url);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let r = req.send().await.expect("request");
    let status = r.status();
    let text = r.text().await.expect("body");
    let value = if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap_or(Value::String(text)) };
    (status, value)
}

pub fn code(v: &Value) -> &str {
    v["error"]["code"].as_str().unwrap_or("<no error code>")
}

/// Creates an account through the API as the logged-in admin.
pub async fn add_account(server: &Server, admin: &Client, domain: &str, name: &str, role: &str, password: &str) {
    let (s, v) = call(
        admin,
        "POST",
        server.url(&format!("/api/v1/domains/{domain}/accounts")),
        Some(json!({"name": name, "role": role, "password": password})),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "create {name}@{domain}: {v}");
}

/// A direct connection to the server's database, to simulate what only time or an attacker does.
async fn database(server: &Server) -> sqlx::AnyConnection {
    use sqlx::Connection;
    sqlx::any::install_default_drivers();
    let url = match &server.database_url {
        Some(u) => u.clone(),
        None => format!("sqlite://{}", server.data_dir.join("deskward.db").display()),
    };
    sqlx::AnyConnection::connect(&url).await.expect("connect to the test database")
}

/// Runs SQL directly on the server's database.
pub async fn sql(server: &Server, statement: &str) {
    let mut c = database(server).await;
    sqlx::raw_sql(sqlx::AssertSqlSafe(statement.to_owned())).execute(&mut c).await.expect("sql");
}

/// Reads one text value from the server's database.
pub async fn sql_text(server: &Server, query: &str) -> String {
    let mut c = database(server).await;
    sqlx::query_scalar(sqlx::AssertSqlSafe(query.to_owned())).fetch_one(&mut c).await.expect("sql")
}

/// True once `check` holds, trying for two seconds (eight times the session cache's poll interval).
pub async fn eventually<F, Fut>(mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = std::time::Instant::now();
    while start.elapsed() < std::time::Duration::from_secs(2) {
        if check().await {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    false
}

/// Every file under `dir` (none when it does not exist), in path order.
pub fn files_under(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = e.path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            out.push(path);
        }
    }
    out.sort();
    out
}

/// A client logged in as `who`.
pub async fn logged_in(server: &Server, who: &str, password: &str) -> Client {
    let c = server.client();
    assert_eq!(login(server, &c, who, password).await.status(), StatusCode::CREATED, "{who} logs in");
    c
}

/// Logs `who` in through the login page in the browser and waits for the account page.
pub async fn log_in_on_page(b: &deskward_testkit::Browser, server: &Server, who: &str, password: &str) {
    b.goto(&server.url("/login")).await.unwrap();
    b.fill("input[name=login]", who).await.unwrap();
    b.fill("input[name=password]", password).await.unwrap();
    b.click("#submit").await.unwrap();
    b.wait_for_path("/account").await.unwrap();
}

/// Fails if the browser's console reported a Content-Security-Policy violation.
pub async fn assert_no_csp_violations(b: &deskward_testkit::Browser) {
    let console = b.console().await.unwrap();
    let violations: Vec<&String> = console.iter().filter(|m| m.contains("Content Security Policy") || m.contains("Refused to")).collect();
    assert!(violations.is_empty(), "CSP violations: {violations:?}");
}

/// The page's text at `path` for `client`, with its status.
pub async fn page(server: &deskward_testkit::Server, client: &reqwest::Client, path: &str) -> (StatusCode, String) {
    let r = client.get(server.url(path)).send().await.unwrap();
    (r.status(), r.text().await.unwrap())
}

/// The CSRF token of the first form on a page.
pub fn csrf_of(page: &str) -> String {
    page.split("name=\"csrf\" value=\"").nth(1).and_then(|s| s.split('"').next()).expect("a form with a CSRF token").to_owned()
}

/// Posts a form; the status, the final path (after redirects) and the page.
pub async fn post_form(server: &deskward_testkit::Server, client: &reqwest::Client, path: &str, form: &[(&str, &str)]) -> (StatusCode, String, String) {
    let r = client.post(server.url(path)).form(form).send().await.unwrap();
    (r.status(), r.url().path().to_owned(), r.text().await.unwrap())
}
