//! Authentication plugins (A3) and the order of back ends: the shipped htpasswd and SQL
//! plugins (the SQL one against the store's own kind of database), the Python example of
//! docs/plugins.md, and plugins that crash, hang, print garbage or answer too late.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use deskward_testkit::{Backend, Server, ServerOptions, TempDir, on_both_stores};
use reqwest::StatusCode;
use serde_json::json;
use sqlx::Connection;

use crate::audit::records;
use crate::support::*;

const ALICE_PW: &str = "File-pass-alice-1";
const BOB_PW: &str = "Table-pass-bob-2";
const GINA_FILE_PW: &str = "File-pass-gina-3";
const GINA_TABLE_PW: &str = "Table-pass-gina-4";
const ERIN_PW: &str = "File-pass-erin-5";
const FAULT_PW: &str = "Fault-plugin-pass-1";

/// A directory of plugin definitions and their files, removed on drop.
struct PluginDir(TempDir);

impl PluginDir {
    fn new() -> PluginDir {
        let dir = TempDir::new("plugins");
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        PluginDir(dir)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.path().join(name)
    }

    fn write(&self, name: &str, text: &str, mode: u32) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, text).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        path
    }

    /// `<name>.toml`, with `command`, `args` and the rest as TOML lines.
    fn define(&self, name: &str, command: &Path, args: &[&str], rest: &str) {
        let args = serde_json::to_string(args).unwrap();
        self.write(&format!("{name}.toml"), &format!("command = {:?}\nargs = {args}\n{rest}\n", command.display().to_string()), 0o644);
    }

    fn options(&self, backend: Backend) -> ServerOptions {
        ServerOptions::new(backend).env("DESKWARD_PLUGINS__DIR", self.0.path().to_str().unwrap()).env("DESKWARD_HTTP__TRUSTED_PROXIES", "127.0.0.1")
    }
}

/// A users table for the SQL plugin in a database of the store's kind; its URL.
async fn users_table(backend: Backend, dir: &PluginDir) -> String {
    let url = match backend {
        Backend::Sqlite => format!("sqlite://{}?mode=rwc", dir.path("users.db").display()),
        Backend::Postgres => deskward_testkit::fresh_database().await.unwrap(),
    };
    sqlx::any::install_default_drivers();
    let mut c = sqlx::AnyConnection::connect(&url).await.unwrap();
    sqlx::query("CREATE TABLE staff (login TEXT NOT NULL, realm TEXT NOT NULL, id TEXT, password_hash TEXT, mail TEXT, disabled INTEGER NOT NULL)")
        .execute(&mut c)
        .await
        .unwrap();
    for (login, id, pw, mail) in [("bob", "hr-1002", BOB_PW, "bob@hr.example"), ("gina", "hr-1003", GINA_TABLE_PW, "gina@hr.example")] {
        sqlx::query("INSERT INTO staff (login, realm, id, password_hash, mail, disabled) VALUES ($1, $2, $3, $4, $5, 0)")
            .bind(login)
            .bind("example.org")
            .bind(id)
            .bind(bcrypt::hash(pw, 4).unwrap())
            .bind(mail)
            .execute(&mut c)
            .await
            .unwrap();
    }
    url
}

/// The Python plugin of docs/plugins.md, as the page shows it.
fn docs_example() -> String {
    let page = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/plugins.md")).unwrap();
    let start = page.find("<!-- plugin-example -->").unwrap();
    let end = page.find("<!-- /plugin-example -->").unwrap();
    let block = &page[start..end];
    let code = block.split_once("```python\n").unwrap().1;
    code.rsplit_once("```").unwrap().0.to_owned()
}

async fn plugins_log_people_in_through_the_order(backend: Backend) {
    let dir = PluginDir::new();
    let argon = deskward_core::password::hash::hash(ERIN_PW, &[7; 16], deskward_core::password::HashParams::OWASP).unwrap();
    let users = dir.write(
        "users.htpasswd",
        &format!(
            "# people of the file\nalice:{}:alice@files.example\ngina:{}\nerin@example.org:!{argon}\n",
            bcrypt::hash(ALICE_PW, 4).unwrap(),
            bcrypt::hash(GINA_FILE_PW, 4).unwrap()
        ),
        0o600,
    );
    let url = users_table(backend, &dir).await;
    dir.define("files", Path::new(BIN), &["plugin", "htpasswd", users.to_str().unwrap()], "timeout = \"3s\"");
    let query = "SELECT id, password_hash, mail, disabled FROM staff WHERE login = $1 AND realm = $2";
    dir.define("table", Path::new(BIN), &["plugin", "sql", "--query", query], &format!("[env]\nDESKWARD_SQL_URL = {url:?}"));
    let example = dir.write("example.py", &docs_example(), 0o755);
    dir.define("docs", &example, &[], "");
    let (server, admin) = with_admin_using(dir.options(backend)).await;
    add_account(&server, &admin, "example.org", "dave", "user", "Local-only-pass-66").await;

    let checked = server.cli_ok(&["plugin", "check"], None);
    for name in ["docs: ok", "files: ok", "table: ok"] {
        assert!(checked.contains(name), "{checked}");
    }
    // The default order knows no plugin: nobody but local accounts gets in.
    let (_, v) = call(&admin, "GET", server.url("/api/v1/domains/example.org/auth-order"), None).await;
    assert_eq!(v, json!({"domain": "example.org", "backends": ["local"], "default": true, "plugins": ["docs", "files", "table"]}));
    assert_eq!(login_answer(&server, "10.0.0.1", "alice@example.org", ALICE_PW).await.0, StatusCode::UNAUTHORIZED);

    // Orders are checked: known plugins, no repeats, a directory only when there is one.
    let order = server.url("/api/v1/domains/example.org/auth-order");
    for bad in [json!([]), json!(["local", "local"]), json!(["plugin:nope"]), json!(["directory"]), json!(["ldap"]), json!(["plugin:../x"])] {
        let (s, v) = call(&admin, "PUT", order.clone(), Some(json!({ "backends": bad }))).await;
        assert_eq!((s, code(&v)), (StatusCode::BAD_REQUEST, "invalid_input"), "{bad}: {v}");
    }
    let shown = server.cli_ok(&["auth-order", "set", "example.org", "local", "plugin:files", "plugin:table", "plugin:docs"], None);
    assert!(shown.contains("order:    local, plugin:files, plugin:table, plugin:docs"), "{shown}");

    // alice is in the file: her first login makes her account, mailed at the file's address.
    let alice = server.client();
    let r = login_from(&server, &alice, "10.0.0.2", "alice@example.org", ALICE_PW).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let (_, me) = call(&alice, "GET", server.url("/api/v1/me"), None).await;
    assert_eq!(me["login"], json!("alice@example.org"));
    let (_, acc) = call(&admin, "GET", server.url("/api/v1/domains/example.org/accounts/alice"), None).await;
    assert_eq!((acc["role"].as_str(), acc["email"].as_str()), (Some("user"), Some("alice@files.example")), "{acc}");
    let made = records(&server, &admin, "domain=example.org&action=account.create").await;
    let made = made.iter().find(|r| r["target"] == json!("account:alice@example.org")).unwrap();
    assert_eq!((made["summary"]["source"].as_str(), made["summary"]["plugin_id"].as_str()), (Some("plugin:files"), Some("alice")), "{made}");
    assert_eq!(made["actor"], json!("alice@example.org"));
    // Her password is the plugin's.
    let (s, _) = call(&alice, "PUT", server.url("/api/v1/me/password"), Some(json!({"current_password": ALICE_PW, "new_password": "Other-pass-alice-7"}))).await;
    assert_eq!(s, StatusCode::CONFLICT);

    // bob is only in the table, whose plugin comes next.
    assert_eq!(login_answer(&server, "10.0.0.3", "bob@example.org", BOB_PW).await.0, StatusCode::CREATED);
    let (_, acc) = call(&admin, "GET", server.url("/api/v1/domains/example.org/accounts/bob"), None).await;
    assert_eq!(acc["email"], json!("bob@hr.example"));
    // gina is in both: the file comes first and decides, and its "wrong password" ends the search.
    assert_eq!(login_answer(&server, "10.0.0.4", "gina@example.org", GINA_TABLE_PW).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(login_answer(&server, "10.0.0.4", "gina@example.org", GINA_FILE_PW).await.0, StatusCode::CREATED);
    // The docs' example plugin works as printed.
    assert_eq!(login_answer(&server, "10.0.0.5", "ivy@example.org", "Ivy-plugin-pass-9").await.0, StatusCode::CREATED);
    assert_eq!(login_answer(&server, "10.0.0.5", "ivy@example.org", "Not-ivys-pass-9").await.0, StatusCode::UNAUTHORIZED);
    // erin's line is disabled (an argon2id hash): refused after the right password only.
    let (s, v) = login_answer(&server, "10.0.0.6", "erin@example.org", ERIN_PW).await;
    assert_eq!((s, code(&v)), (StatusCode::FORBIDDEN, "account_disabled"), "{v}");
    assert_eq!(login_answer(&server, "10.0.0.6", "erin@example.org", "Wrong-pass-erin").await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(login_answer(&server, "10.0.0.7", "nobody@example.org", "Whatever-pass-8").await.0, StatusCode::UNAUTHORIZED);
    // A local account keeps its own password.
    assert_eq!(login_answer(&server, "10.0.0.8", "dave@example.org", "Local-only-pass-66").await.0, StatusCode::CREATED);

    // A password changed in the file works at once.
    std::fs::write(&users, format!("alice:{}\n", bcrypt::hash("New-file-pass-alice", 4).unwrap())).unwrap();
    assert_eq!(login_answer(&server, "10.0.0.2", "alice@example.org", ALICE_PW).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(login_answer(&server, "10.0.0.2", "alice@example.org", "New-file-pass-alice").await.0, StatusCode::CREATED);
    // gina left the file: the table does not take over the account the file made.
    assert_eq!(login_answer(&server, "10.0.0.4", "gina@example.org", GINA_TABLE_PW).await.0, StatusCode::UNAUTHORIZED);

    // Leaving a back end out of the order switches its accounts off, their open sessions
    // included; leaving local out, local ones. An administrator cannot lock themselves out.
    let (s, v) = call(&admin, "PUT", order.clone(), Some(json!({"backends": ["plugin:table"]}))).await;
    assert_eq!((s, code(&v)), (StatusCode::CONFLICT, "conflict"), "{v}");
    assert!(v["error"]["message"].as_str().unwrap().contains("lock yourself out"), "{v}");
    let bob = server.client();
    assert_eq!(login_from(&server, &bob, "10.0.0.3", "bob@example.org", BOB_PW).await.status(), StatusCode::CREATED);
    let me = server.url("/api/v1/me");
    assert_eq!(call(&alice, "GET", me.clone(), None).await.0, StatusCode::OK);
    let shown = server.cli_ok(&["auth-order", "set", "example.org", "plugin:table"], None);
    assert!(shown.contains("order:    plugin:table"), "{shown}");
    // The command line's change reaches the server's session cache within its poll.
    assert!(eventually(|| async { call(&alice, "GET", me.clone(), None).await.0 == StatusCode::UNAUTHORIZED }).await, "the file plugin left the order");
    assert_eq!(call(&admin, "GET", me.clone(), None).await.0, StatusCode::UNAUTHORIZED, "local left the order");
    assert_eq!(call(&bob, "GET", me.clone(), None).await.0, StatusCode::OK, "the table plugin stayed");
    assert_eq!(login_answer(&server, "10.0.0.2", "alice@example.org", "New-file-pass-alice").await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(login_answer(&server, "10.0.0.8", "dave@example.org", "Local-only-pass-66").await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(login_answer(&server, "10.0.0.3", "bob@example.org", BOB_PW).await.0, StatusCode::CREATED);
    // The CLI, which needs no login, puts the default back.
    let shown = server.cli_ok(&["auth-order", "reset", "example.org"], None);
    assert!(shown.contains("order:    local (default)"), "{shown}");
    assert_eq!(login(&server, &admin, ADMIN, ADMIN_PW).await.status(), StatusCode::CREATED);

    assert_eq!(failure_reasons(&server, &admin, "gina@example.org", 2).await, ["wrong_password", "plugin_user_gone"]);
    assert_eq!(failure_reasons(&server, &admin, "erin@example.org", 2).await, ["plugin_disabled", "wrong_password"]);
    assert_eq!(failure_reasons(&server, &admin, "nobody@example.org", 1).await, ["unknown_account"]);
    assert_eq!(failure_reasons(&server, &admin, "dave@example.org", 1).await, ["backend_not_in_order"]);
    let changes = records(&server, &admin, "domain=example.org&action=domain.auth_order").await;
    assert_eq!(changes.len(), 3, "{changes:?}");
    assert_eq!(changes[1]["summary"]["after"], json!(["plugin:table"]));
    assert!(changes[1]["summary"]["sessions_ended"].as_u64().unwrap() >= 2, "{}", changes[1]);
    let (_, all) = call(&admin, "GET", server.url("/api/v1/audit?limit=10000"), None).await;
    for secret in [ALICE_PW, BOB_PW, GINA_TABLE_PW, "New-file-pass-alice", url.as_str()] {
        assert!(!all.to_string().contains(secret), "{secret} is in the audit log");
    }

    // A domain administrator reads the order but does not change it.
    add_account(&server, &admin, "example.org", "dadmin", "domain-admin", "Domain-admin-pass-1").await;
    let da = server.client();
    assert_eq!(login(&server, &da, "dadmin@example.org", "Domain-admin-pass-1").await.status(), StatusCode::CREATED);
    assert_eq!(call(&da, "GET", order.clone(), None).await.0, StatusCode::OK);
    let (s, v) = call(&da, "PUT", order.clone(), Some(json!({"backends": ["local", "plugin:files"]}))).await;
    assert_eq!((s, code(&v)), (StatusCode::FORBIDDEN, "forbidden"), "{v}");
    assert_eq!(call(&da, "DELETE", order.clone(), None).await.0, StatusCode::FORBIDDEN);
    assert_eq!(call(&da, "GET", server.url("/api/v1/domains/other.example/auth-order"), None).await.0, StatusCode::FORBIDDEN);
}

on_both_stores! {
    plugins_log_people_in => plugins_log_people_in_through_the_order;
}

/// A plugin for the faults: what it does depends on the user's name.
const FAULTY: &str = r#"#!/usr/bin/python3
import json, os, sys, threading, time
lock = threading.Lock()
def send(obj):
    with lock:
        sys.stdout.write(json.dumps(obj) + "\n")
        sys.stdout.flush()
hello = json.loads(sys.stdin.readline())
sys.stderr.write("faulty plugin ready\n")
sys.stderr.flush()
with open(os.environ["ENV_DUMP"], "w") as f:
    f.write("\n".join(sorted(os.environ)))
mode = sys.argv[1]
send({"type": "hello", "version": 1})
inflight, most = 0, 0
def slow(req):
    global inflight, most
    with lock:
        inflight += 1
        most = max(most, inflight)
        with open(os.environ["MOST_DUMP"], "w") as f:
            f.write(str(most))
    time.sleep(0.4)
    with lock:
        inflight -= 1
    send({"type": "reply", "id": req["id"], "outcome": "accepted", "user": {"id": req["user"]}})
for line in sys.stdin:
    req = json.loads(line)
    u, rid = req["user"], req["id"]
    ok = {"type": "reply", "id": rid, "outcome": "accepted", "user": {"id": u}}
    if mode == "slow":
        threading.Thread(target=slow, args=(req,)).start()
    elif u == "crash":
        sys.exit(3)
    elif u == "hang":
        continue
    elif u == "garbage":
        with lock:
            sys.stdout.write("this is not json\n")
            sys.stdout.flush()
    elif u == "huge":
        with lock:
            sys.stdout.write("x" * 100000 + "\n")
            sys.stdout.flush()
    elif u == "late":
        threading.Timer(3.0, send, [ok]).start()
    elif u == "error":
        send({"type": "reply", "id": rid, "outcome": "error", "message": "the user database is down"})
    elif u == "noid":
        send({"type": "reply", "id": rid, "outcome": "accepted", "user": {"id": ""}})
    elif req["password"] == "Fault-plugin-pass-1":
        send(ok)
    else:
        send({"type": "reply", "id": rid, "outcome": "rejected"})
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plugins_that_crash_hang_babble_or_answer_late_fail_closed() {
    let dir = PluginDir::new();
    let script = dir.write("faulty.py", FAULTY, 0o755);
    let dump = |n: &str| dir.path(n).to_str().unwrap().to_owned();
    let env = format!("[env]\nENV_DUMP = {:?}\nMOST_DUMP = {:?}", dump("env.txt"), dump("most.txt"));
    dir.define("faulty", &script, &["faults"], &format!("timeout = \"2s\"\n{env}"));
    dir.define("slow", &script, &["slow"], &format!("timeout = \"5s\"\nconcurrency = 2\n{env}"));
    dir.define("broken", Path::new("/bin/false"), &[], "");
    let (server, admin) = with_admin_using(dir.options(Backend::Sqlite).keep_log()).await;
    server.cli_ok(&["domain", "add", "slow.example"], None);
    server.cli_ok(&["domain", "add", "broken.example"], None);
    server.cli_ok(&["auth-order", "set", "example.org", "local", "plugin:faulty"], None);
    server.cli_ok(&["auth-order", "set", "slow.example", "plugin:slow"], None);
    server.cli_ok(&["auth-order", "set", "broken.example", "plugin:broken"], None);

    assert_eq!(login_answer(&server, "10.1.0.1", "okay@example.org", FAULT_PW).await.0, StatusCode::CREATED);
    // The plugin got none of the server's environment (its database URL, its settings).
    let env = std::fs::read_to_string(dir.path("env.txt")).unwrap();
    let mut names: Vec<&str> = env.lines().filter(|n| *n != "LC_CTYPE").collect();
    names.sort_unstable();
    assert_eq!(names, ["ENV_DUMP", "MOST_DUMP", "PATH"], "{env}");

    // Each fault: a quick 503, and the next login works (the plugin is started again). From
    // one client, more often than the guard allows guesses: these are no guesses.
    for who in ["crash", "hang", "garbage", "huge", "error", "noid", "crash", "crash"] {
        let started = Instant::now();
        let (s, v) = login_answer(&server, "10.1.0.2", &format!("{who}@example.org"), FAULT_PW).await;
        assert_eq!((s, code(&v)), (StatusCode::SERVICE_UNAVAILABLE, "authentication_unavailable"), "{who}: {v}");
        assert!(started.elapsed() < Duration::from_secs(5), "{who} took {:?}", started.elapsed());
        assert!(!v.to_string().contains("database is down"), "the plugin's own message is for the log: {v}");
        let (s, v) = login_answer(&server, "10.1.0.2", "okay@example.org", FAULT_PW).await;
        assert_eq!(s, StatusCode::CREATED, "after {who}: {v}");
    }
    assert_eq!(failure_reasons(&server, &admin, "hang@example.org", 1).await, ["plugin_unavailable"]);

    // A late answer is never taken for another request's: "late" times out although its
    // answer comes later, while "okay" asked meanwhile gets its own.
    let late = tokio::spawn({
        let client = server.client();
        let url = server.url("/api/v1/session");
        async move { client.post(url).header("x-forwarded-for", "10.1.0.3").json(&json!({"login": "late@example.org", "password": FAULT_PW})).send().await.unwrap().status() }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(login_answer(&server, "10.1.0.4", "okay@example.org", "Not-the-fault-pass").await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(late.await.unwrap(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(eventually(|| async { server.log().contains("ignored a plugin's answer") }).await, "{}", server.log());
    assert_eq!(call(&admin, "GET", server.url("/api/v1/domains/example.org/accounts/late"), None).await.0, StatusCode::NOT_FOUND);
    assert!(server.log().contains("plugin says: faulty plugin ready"), "stderr goes to the log");
    assert!(!server.log().contains(FAULT_PW), "no password in the log");

    // A plugin that cannot start fails closed too, and is not started at every login: in two
    // seconds of logins, the back-off (0.5 s, then 1 s, 2 s, …) allows three starts at most.
    let started = Instant::now();
    let mut tries = 0;
    while started.elapsed() < Duration::from_secs(2) {
        let (s, v) = login_answer(&server, "10.1.0.5", "anyone@broken.example", FAULT_PW).await;
        assert_eq!((s, code(&v)), (StatusCode::SERVICE_UNAVAILABLE, "authentication_unavailable"), "{v}");
        tries += 1;
    }
    let starts = server.log().matches("authentication plugin cannot start").count();
    assert!((1..=3).contains(&starts) && tries > starts, "started {starts} times for {tries} logins: {}", server.log());

    // The concurrency limit holds: six logins at once, two in the plugin at a time.
    let logins: Vec<_> = (0..6)
        .map(|i| {
            let client = server.client();
            let url = server.url("/api/v1/session");
            tokio::spawn(async move {
                let body = json!({"login": format!("s{i}@slow.example"), "password": FAULT_PW});
                client.post(url).header("x-forwarded-for", format!("10.2.0.{i}")).json(&body).send().await.unwrap().status()
            })
        })
        .collect();
    for l in logins {
        assert_eq!(l.await.unwrap(), StatusCode::CREATED);
    }
    assert_eq!(std::fs::read_to_string(dir.path("most.txt")).unwrap(), "2");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plugin_definitions_with_problems_stop_the_start() {
    let dir = PluginDir::new();
    let (server, _admin) = with_admin(Backend::Sqlite).await;
    let plugins = ("DESKWARD_PLUGINS__DIR", dir.0.path().to_str().unwrap());
    let check = |what: &str| {
        let out = server.cli_env(&["plugin", "check"], &[plugins]);
        assert!(!out.status.success(), "{what}");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    dir.write("one.toml", "command = \"/bin/true\"\n\ncomand = \"x\"\n", 0o644);
    let err = check("unknown key");
    assert!(err.contains("one.toml:3: comand: unknown key"), "{err}");
    dir.write("one.toml", "command = \"bin/true\"\n", 0o644);
    assert!(check("relative command").contains("must be an absolute path"));
    dir.write("one.toml", "command = \"/bin/true\"\n", 0o646);
    assert!(check("world-writable definition").contains("anyone may write it"));
    dir.write("one.toml", "command = \"/bin/true\"\n", 0o644);
    dir.write("Bad Name.toml", "command = \"/bin/true\"\n", 0o644);
    assert!(check("bad name").contains("a plugin's name"));
    std::fs::remove_file(dir.path("Bad Name.toml")).unwrap();
    // /bin/true exits without a hello: listed as failed.
    let out = server.cli_env(&["plugin", "check"], &[plugins]);
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stdout).contains("one: FAILED"), "{out:?}");
    // The server itself does not start on a bad definition.
    dir.write("one.toml", "command = 7\n", 0o644);
    let mut opts = ServerOptions::new(Backend::Sqlite).env(plugins.0, plugins.1);
    opts.keep_log = true;
    assert!(Server::start(Path::new(BIN), opts).await.is_err());
}
