//! Starting the server: first start with no configuration, TLS versions, and clear errors for
//! a bad configuration, a port in use, an unusable data directory or database.

use std::process::Command;
use std::time::{Duration, Instant};

use deskward_testkit::{Backend, ServerOptions};
use reqwest::StatusCode;

use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_start_makes_a_private_data_dir_a_certificate_and_explains_the_first_admin() {
    let server = start(ServerOptions::new(Backend::Sqlite)).await;
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&server.data_dir), 0o700);
    assert_eq!(mode(&server.data_dir.join("tls/key.pem")), 0o600);
    assert!(server.data_dir.join("deskward.db").exists());
    // The client trusts only the generated certificate: this request proves it is served.
    let r = server.client().get(server.url("/api/v1/health")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    for h in ["strict-transport-security", "content-security-policy", "x-content-type-options"] {
        assert!(r.headers().contains_key(h), "missing {h}");
    }
    // No default account: there is not even a domain yet.
    assert_eq!(server.cli_ok(&["domain", "list"], None).trim(), "");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_start_prints_how_to_create_the_first_admin() {
    let dir = std::env::temp_dir().join(format!("deskward-first-{}", std::process::id()));
    let mut child = Command::new(BIN)
        .arg("--data-dir")
        .arg(&dir)
        .arg("serve")
        .env("DESKWARD_HTTP__LISTEN", "127.0.0.1:0")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = std::io::Read::read_to_string(&mut stderr, &mut text);
        text
    });
    std::thread::sleep(Duration::from_millis(1500));
    child.kill().unwrap();
    child.wait().unwrap();
    let text = reader.join().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(text.contains("No system administrator exists yet"), "{text}");
    assert!(text.contains("account add admin@example.org --role system-admin --password-stdin"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_tls_1_2_and_1_3_are_offered() {
    let server = start(ServerOptions::new(Backend::Sqlite)).await;
    let addr = server.addr.to_string();
    let handshake = |flag: &str| {
        Command::new("openssl")
            .args(["s_client", "-connect", &addr, flag, "-servername", "localhost"])
            .stdin(std::process::Stdio::null())
            .output()
            .map(|o| o.status.success() && String::from_utf8_lossy(&o.stdout).contains("BEGIN CERTIFICATE"))
    };
    match handshake("-tls1_2") {
        Ok(ok) => {
            assert!(ok, "TLS 1.2 works");
            assert!(handshake("-tls1_3").unwrap(), "TLS 1.3 works");
            assert!(!handshake("-tls1_1").unwrap(), "TLS 1.1 is refused");
            assert!(!handshake("-tls1").unwrap(), "TLS 1.0 is refused");
        }
        Err(e) => assert!(!deskward_testkit::services_required(), "openssl is needed for this test: {e}"),
    }
    // Plain HTTP on the TLS port gets nothing useful.
    let plain = reqwest::Client::new().get(format!("http://{addr}/api/v1/health")).send().await;
    assert!(plain.is_err() || !plain.unwrap().status().is_success());
}

pub(crate) fn serve_fails(env: &[(&str, &str)], extra_args: &[&str]) -> String {
    let dir = std::env::temp_dir().join(format!("deskward-fail-{:x}", rand_suffix()));
    let started = Instant::now();
    let out = Command::new(BIN)
        .arg("--data-dir")
        .arg(&dir)
        .args(extra_args)
        .arg("serve")
        .env("DESKWARD_HTTP__LISTEN", "127.0.0.1:0")
        .envs(env.iter().copied())
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(!out.status.success(), "serve should fail");
    assert!(started.elapsed() < Duration::from_secs(30), "and fail quickly");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn rand_suffix() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_up_problems_get_clear_errors() {
    // A port in use.
    let server = start(ServerOptions::new(Backend::Sqlite)).await;
    let busy = server.addr.to_string();
    let err = serve_fails(&[("DESKWARD_HTTP__LISTEN", &busy)], &[]);
    assert!(err.contains(&format!("http.listen {busy}: cannot listen")), "{err}");

    // A config file with mistakes: every one named with file, line and key.
    let file = std::env::temp_dir().join(format!("deskward-{:x}.toml", rand_suffix()));
    std::fs::write(&file, "[http]\nlisten = \"127.0.0.1:0\"\nlisen = \"x\"\n\n[database]\nmax_connections = \"eight\"\n").unwrap();
    let err = serve_fails(&[], &["--config", file.to_str().unwrap()]);
    let _ = std::fs::remove_file(&file);
    assert!(err.contains(":3:1: http.lisen: unknown key") && err.contains("did you mean `http.listen`"), "{err}");
    assert!(err.contains(":6:") && err.contains("database.max_connections"), "{err}");
    let err = serve_fails(&[("DESKWARD_HTTP__LISTN", "x")], &[]);
    assert!(err.contains("DESKWARD_HTTP__LISTN") && err.contains("DESKWARD_HTTP__LISTEN"), "{err}");

    // The data directory is a file.
    let not_dir = std::env::temp_dir().join(format!("deskward-file-{:x}", rand_suffix()));
    std::fs::write(&not_dir, "x").unwrap();
    let out = Command::new(BIN).arg("--data-dir").arg(&not_dir).arg("serve").env("DESKWARD_HTTP__LISTEN", "127.0.0.1:0").output().unwrap();
    let _ = std::fs::remove_file(&not_dir);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("is not a directory"), "{err}");

    // A data directory that cannot be created (even root cannot write under /proc).
    let out = Command::new(BIN).args(["--data-dir", "/proc/deskward-data", "serve"]).env("DESKWARD_HTTP__LISTEN", "127.0.0.1:0").output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("data directory /proc/deskward-data: cannot create it"), "{err}");

    // A database that cannot be reached: named, password hidden, no long hang.
    let err = serve_fails(
        &[("DESKWARD_DATABASE__URL", "postgres://dw:topsecret@127.0.0.1:1/deskward"), ("DESKWARD_DATABASE__CONNECT_TIMEOUT", "2s")],
        &[],
    );
    assert!(err.contains("database.url") && err.contains("cannot open database postgres://dw:***@127.0.0.1:1/deskward"), "{err}");
    assert!(!err.contains("topsecret"), "{err}");
}
