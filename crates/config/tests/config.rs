//! Behaviour of the public API: defaults, the file, environment overrides and error reports.

// Tests may unwrap and panic; the workspace denies it only in server code.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use deskward_config::*;

const NO_ENV: [(String, String); 0] = [];

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn ok(text: &str) -> Settings {
    parse(Path::new("deskward.toml"), text, NO_ENV)
        .unwrap_or_else(|e| panic!("unexpected errors:\n{e}"))
}

fn errors(text: &str, vars: &[(&str, &str)]) -> Vec<ConfigError> {
    match parse(Path::new("deskward.toml"), text, env(vars)) {
        Ok(s) => panic!("expected errors, got {s:?}"),
        Err(e) => e.0,
    }
}

fn lines(text: &str, vars: &[(&str, &str)]) -> Vec<String> {
    errors(text, vars).iter().map(ToString::to_string).collect()
}

fn with_env(vars: &[(&str, &str)]) -> Settings {
    parse(Path::new("deskward.toml"), "", env(vars))
        .unwrap_or_else(|e| panic!("unexpected errors:\n{e}"))
}

#[test]
fn defaults() {
    let s = Settings::default();
    assert_eq!(s.server.data_dir, PathBuf::from("data"));
    assert_eq!(
        s.http.listen,
        "127.0.0.1:8443".parse::<SocketAddr>().unwrap()
    );
    assert_eq!(s.http.tls_cert, None);
    assert_eq!(s.http.tls_key, None);
    assert_eq!(s.http.max_body_bytes, 65536);
    assert_eq!(s.http.request_timeout, Duration::from_secs(30));
    assert_eq!(s.database.url, None);
    assert_eq!(s.database.max_connections, 8);
    assert_eq!(s.database.connect_timeout, Duration::from_secs(5));
    assert_eq!(s.password_hash.memory_kib, 19456);
    assert_eq!(s.password_hash.iterations, 2);
    assert_eq!(s.password_hash.parallelism, 1);
    assert_eq!(s.password_hash.max_in_flight, 0);
    assert_eq!(s.password_hash.max_queued, 64);
    assert_eq!(s.log.level, "info");
    assert_eq!(s.log.format, LogFormat::Text);
}

#[test]
fn empty_file_and_no_file_give_defaults() {
    assert_eq!(ok(""), Settings::default());
    assert_eq!(ok("# only a comment\n\n"), Settings::default());
    assert_eq!(load(None, NO_ENV).unwrap(), Settings::default());
}

#[test]
fn full_valid_file() {
    let s = ok(r#"
[server]
data_dir = "/var/lib/deskward"

[http]
listen = "[::]:443"
tls_cert = "/etc/deskward/fullchain.pem"
tls_key = "/etc/deskward/key.pem"
max_body_bytes = 1048576
request_timeout = "1m 30s"

[database]
url = "postgres://deskward@db.internal/deskward"
max_connections = 20
connect_timeout = "10s"

[password_hash]
memory_kib = 65536
iterations = 3
parallelism = 4
max_in_flight = 8
max_queued = 200

[log]
level = "debug"
format = "json"
"#);
    assert_eq!(s.server.data_dir, PathBuf::from("/var/lib/deskward"));
    assert_eq!(s.http.listen, "[::]:443".parse::<SocketAddr>().unwrap());
    assert_eq!(
        s.http.tls_cert,
        Some(PathBuf::from("/etc/deskward/fullchain.pem"))
    );
    assert_eq!(s.http.tls_key, Some(PathBuf::from("/etc/deskward/key.pem")));
    assert_eq!(s.http.max_body_bytes, 1_048_576);
    assert_eq!(s.http.request_timeout, Duration::from_secs(90));
    assert_eq!(
        s.database.url.as_deref(),
        Some("postgres://deskward@db.internal/deskward")
    );
    assert_eq!(s.database.max_connections, 20);
    assert_eq!(s.database.connect_timeout, Duration::from_secs(10));
    assert_eq!(s.password_hash.memory_kib, 65536);
    assert_eq!(s.password_hash.iterations, 3);
    assert_eq!(s.password_hash.parallelism, 4);
    assert_eq!(s.password_hash.max_in_flight, 8);
    assert_eq!(s.password_hash.max_queued, 200);
    assert_eq!(s.log.level, "debug");
    assert_eq!(s.log.format, LogFormat::Json);
}

#[test]
fn dotted_keys_and_inline_tables_are_accepted() {
    let s = ok("http.listen = \"0.0.0.0:9000\"\nlog = { level = \"warn\" }\n");
    assert_eq!(s.http.listen, "0.0.0.0:9000".parse::<SocketAddr>().unwrap());
    assert_eq!(s.log.level, "warn");
}

#[test]
fn env_overrides_each_kind() {
    let s = with_env(&[
        ("DESKWARD_SERVER__DATA_DIR", "/srv/deskward"), // path
        ("DESKWARD_HTTP__LISTEN", "127.0.0.1:9443"),    // socket address
        ("DESKWARD_HTTP__TLS_CERT", "cert.pem"),        // optional path
        ("DESKWARD_HTTP__TLS_KEY", "key.pem"),          //
        ("DESKWARD_HTTP__MAX_BODY_BYTES", "2048"),      // u64
        ("DESKWARD_HTTP__REQUEST_TIMEOUT", "2m"),       // duration
        ("DESKWARD_DATABASE__URL", "postgresql://u@h/d"), // optional url
        ("DESKWARD_PASSWORD_HASH__MEMORY_KIB", "8192"), // u32
        ("DESKWARD_LOG__LEVEL", "trace"),               // level
        ("DESKWARD_LOG__FORMAT", "json"),               // enum
    ]);
    assert_eq!(s.server.data_dir, PathBuf::from("/srv/deskward"));
    assert_eq!(
        s.http.listen,
        "127.0.0.1:9443".parse::<SocketAddr>().unwrap()
    );
    assert_eq!(s.http.tls_cert, Some(PathBuf::from("cert.pem")));
    assert_eq!(s.http.tls_key, Some(PathBuf::from("key.pem")));
    assert_eq!(s.http.max_body_bytes, 2048);
    assert_eq!(s.http.request_timeout, Duration::from_secs(120));
    assert_eq!(s.database.url.as_deref(), Some("postgresql://u@h/d"));
    assert_eq!(s.password_hash.memory_kib, 8192);
    assert_eq!(s.log.level, "trace");
    assert_eq!(s.log.format, LogFormat::Json);
}

#[test]
fn env_overrides_file_and_empty_unsets_optional() {
    let text = "[http]\nlisten = \"127.0.0.1:1\"\n[database]\nurl = \"sqlite:/tmp/x.db\"\n";
    let s = parse(
        Path::new("deskward.toml"),
        text,
        env(&[
            ("DESKWARD_HTTP__LISTEN", "127.0.0.1:2"),
            ("DESKWARD_DATABASE__URL", ""),
        ]),
    )
    .unwrap();
    assert_eq!(s.http.listen.port(), 2);
    assert_eq!(s.database.url, None);
}

#[test]
fn bad_env_values_name_the_variable() {
    assert_eq!(
        lines(
            "",
            &[
                ("DESKWARD_HTTP__LISTEN", "foo"),
                ("DESKWARD_DATABASE__MAX_CONNECTIONS", "many")
            ]
        ),
        [
            "environment DESKWARD_DATABASE__MAX_CONNECTIONS: database.max_connections: invalid integer \"many\"",
            "environment DESKWARD_HTTP__LISTEN: http.listen: invalid socket address \"foo\"",
        ]
    );
    let e = &errors("", &[("DESKWARD_PASSWORD_HASH__PARALLELISM", "-1")])[0];
    assert_eq!(
        e.origin,
        Origin::Env {
            var: "DESKWARD_PASSWORD_HASH__PARALLELISM".into()
        }
    );
    assert_eq!(e.message, "-1 is out of range (allowed 1 to 64)");
    assert_eq!(
        errors("", &[("DESKWARD_SERVER__DATA_DIR", "")])[0].message,
        "path must not be empty"
    );
}

#[test]
fn unknown_key_with_hint_and_line() {
    let errs = errors("# comment\n[http]\nlisen = \"127.0.0.1:8443\"\n", &[]);
    assert_eq!(errs.len(), 1);
    assert_eq!(
        errs[0].origin,
        Origin::File {
            path: "deskward.toml".into(),
            line: 3,
            column: 1
        }
    );
    assert_eq!(errs[0].key, "http.lisen");
    assert_eq!(
        errs[0].to_string(),
        "deskward.toml:3:1: http.lisen: unknown key; did you mean `http.listen`?"
    );
}

#[test]
fn key_in_wrong_section_gets_hint() {
    assert_eq!(
        lines("[server]\n  listen = \"127.0.0.1:1\"\n", &[]),
        ["deskward.toml:2:3: server.listen: unknown key; did you mean `http.listen`?"]
    );
    assert_eq!(
        lines("listen = 1\n", &[]),
        ["deskward.toml:1:1: listen: unknown key; did you mean `http.listen`?"]
    );
    assert_eq!(
        lines("[log]\nfrobnicate = 1\n", &[]),
        ["deskward.toml:2:1: log.frobnicate: unknown key"]
    );
}

#[test]
fn syslog_urls_are_checked() {
    for bad in ["syslog://x:514", "udp://x", "udp://:514", "tcp://x:0", "tcp://x:99999"] {
        let e = lines(&format!("[audit]\nsyslog = \"{bad}\"\n"), &[]);
        assert_eq!(e.len(), 1, "{bad}: {e:?}");
        assert!(e[0].contains("audit.syslog") && e[0].contains("syslog url"), "{bad}: {e:?}");
    }
    assert_eq!(ok("[audit]\nsyslog = \"udp://[::1]:514\"\n").audit.syslog.as_deref(), Some("udp://[::1]:514"));
    assert_eq!(ok("[audit]\nsyslog = \"tls://siem.example.org:6514\"\n").audit.syslog.as_deref(), Some("tls://siem.example.org:6514"));
}

#[test]
fn unknown_section() {
    assert_eq!(
        lines("[htp]\nlisten = \"127.0.0.1:1\"\n\n[frobnicate]\n", &[]),
        [
            "deskward.toml:1:2: htp: unknown section; did you mean `http`?",
            "deskward.toml:4:2: frobnicate: unknown section; expected one of server, http, database, password_hash, log, audit, directory, plugins, documents, kerberos, dns, session, mail, notify, guard",
        ]
    );
}

#[test]
fn several_errors_at_once() {
    let text = r#"
[http]
listen = "nowhere"
max_body_bytes = 1
request_timeout = "soon"

[database]
url = "mysql://root:hunter2@db/deskward"

[log]
level = "loud"
colour = true
"#;
    let got = lines(
        text,
        &[
            ("DESKWARD_HTTP__LISTN", "x"),
            ("DESKWARD_PASSWORD_HASH__ITERATIONS", "0"),
        ],
    );
    assert_eq!(
        got,
        [
            "deskward.toml:3:10: http.listen: invalid socket address \"nowhere\"",
            "deskward.toml:4:18: http.max_body_bytes: 1 is out of range (allowed 1024 to 67108864)",
            "deskward.toml:5:19: http.request_timeout: invalid duration \"soon\"; write it like \"30s\" or \"1m 30s\"",
            "deskward.toml:8:7: database.url: unsupported database url scheme \"mysql://\"; the url must start with sqlite:, postgres://, postgresql://",
            "deskward.toml:11:9: log.level: invalid log level \"loud\"; expected one of error, warn, info, debug, trace",
            "deskward.toml:12:1: log.colour: unknown key",
            "environment DESKWARD_HTTP__LISTN: http.listn: unknown key; did you mean `DESKWARD_HTTP__LISTEN`?",
            "environment DESKWARD_PASSWORD_HASH__ITERATIONS: password_hash.iterations: 0 is out of range (allowed 1 to 100)",
        ]
    );
    // The password in the rejected URL is not repeated.
    assert!(!got.iter().any(|l| l.contains("hunter2")));
}

#[test]
fn wrong_type() {
    assert_eq!(
        lines(
            "[http]\nlisten = 8443\nmax_body_bytes = \"64KiB\"\n[server]\ndata_dir = [\"a\"]\n[log]\nformat = true\n",
            &[]
        ),
        [
            "deskward.toml:2:10: http.listen: expected a string like \"127.0.0.1:8443\", found integer",
            "deskward.toml:3:18: http.max_body_bytes: expected an integer from 1024 to 67108864, found string",
            "deskward.toml:5:12: server.data_dir: expected a path string, found array",
            "deskward.toml:7:10: log.format: expected a string, text or json, found boolean",
        ]
    );
    assert_eq!(
        lines("http = 5\n", &[]),
        ["deskward.toml:1:1: http: expected a table, found integer"]
    );
}

#[test]
fn out_of_range() {
    assert_eq!(
        lines(
            "[password_hash]\nmemory_kib = 4\nparallelism = 65\n[database]\nmax_connections = 0\n",
            &[]
        ),
        [
            "deskward.toml:2:14: password_hash.memory_kib: 4 is out of range (allowed 8 to 4194304)",
            "deskward.toml:3:15: password_hash.parallelism: 65 is out of range (allowed 1 to 64)",
            "deskward.toml:5:19: database.max_connections: 0 is out of range (allowed 1 to 1000)",
        ]
    );
    assert_eq!(
        lines("[http]\nrequest_timeout = \"0s\"\n", &[]),
        ["deskward.toml:2:19: http.request_timeout: duration \"0s\" must be above zero"]
    );
}

#[test]
fn tls_cert_without_key_names_both() {
    assert_eq!(
        lines("[http]\ntls_cert = \"cert.pem\"\n", &[]),
        [
            "deskward.toml:2:12: http.tls_cert: http.tls_cert is set but http.tls_key is not; set both or neither"
        ]
    );
    assert_eq!(
        lines("", &[("DESKWARD_HTTP__TLS_KEY", "key.pem")]),
        [
            "environment DESKWARD_HTTP__TLS_KEY: http.tls_key: http.tls_key is set but http.tls_cert is not; set both or neither"
        ]
    );
    // The file sets both, the environment clears one.
    let errs = errors(
        "[http]\ntls_cert = \"c\"\ntls_key = \"k\"\n",
        &[("DESKWARD_HTTP__TLS_KEY", "")],
    );
    assert_eq!(errs.len(), 1);
    assert_eq!(errs[0].key, "http.tls_cert");
}

#[test]
fn argon2_memory_must_cover_every_lane() {
    assert_eq!(
        lines("[password_hash]\nmemory_kib = 64\nparallelism = 16\n", &[]),
        [
            "deskward.toml:2:14: password_hash.memory_kib: argon2 needs 8 KiB per lane: password_hash.memory_kib = 64 with password_hash.parallelism = 16 must be at least 128"
        ]
    );
    assert_eq!(
        ok("[password_hash]\nmemory_kib = 128\nparallelism = 16\n")
            .password_hash
            .parallelism,
        16
    );
}

#[test]
fn bad_database_url_scheme() {
    for url in ["mysql://u:p@h/d", "postgres:/nohost", "deskward.db"] {
        let errs = errors("", &[("DESKWARD_DATABASE__URL", url)]);
        assert_eq!(errs.len(), 1, "{url}");
        assert_eq!(errs[0].key, "database.url");
        assert!(
            errs[0]
                .message
                .starts_with("unsupported database url scheme"),
            "{}",
            errs[0].message
        );
    }
    for url in [
        "sqlite:deskward.db",
        "sqlite::memory:",
        "postgres://h/d",
        "postgresql://h/d",
    ] {
        assert_eq!(
            with_env(&[("DESKWARD_DATABASE__URL", url)])
                .database
                .url
                .as_deref(),
            Some(url)
        );
    }
}

#[test]
fn unknown_deskward_env_var() {
    assert_eq!(
        lines(
            "",
            &[
                ("DESKWARD_HTTP_LISTEN", "127.0.0.1:1"),
                ("DESKWARD_NONSENSE__XYZZY", "1")
            ]
        ),
        [
            "environment DESKWARD_HTTP_LISTEN: http_listen: unknown key; did you mean `DESKWARD_HTTP__LISTEN`?",
            "environment DESKWARD_NONSENSE__XYZZY: nonsense.xyzzy: unknown key; setting variables are named like DESKWARD_HTTP__LISTEN",
        ]
    );
    // Names are upper case.
    assert_eq!(
        lines("", &[("DESKWARD_log__level", "debug")]),
        [
            "environment DESKWARD_log__level: log.level: unknown key; did you mean `DESKWARD_LOG__LEVEL`?"
        ]
    );
}

#[test]
fn allow_listed_env_vars_are_ignored() {
    let s = with_env(&[
        ("DESKWARD_CONFIG", "/etc/deskward.toml"),
        ("DESKWARD_DATA_DIR", "/elsewhere"),
        ("DESKWARD_LOG", "debug,hyper=warn"),
        ("DESKWARD_TEST_POSTGRES_URL", "postgres://x"),
        ("DESKWARD_REQUIRE_POSTGRES", "1"),
        ("PATH", "/usr/bin"),
        ("HOME", "/home/someone"),
    ]);
    assert_eq!(s, Settings::default());
    // DESKWARD_LOG is allowed as a whole name only; DESKWARD_LOG__LEVEL is still a setting.
    assert_eq!(
        with_env(&[("DESKWARD_LOG", "x"), ("DESKWARD_LOG__LEVEL", "error")])
            .log
            .level,
        "error"
    );
    assert!(is_non_setting_var("DESKWARD_TEST_ANYTHING"));
    assert!(!is_non_setting_var("DESKWARD_LOGS"));
}

#[test]
fn toml_syntax_error_has_line() {
    let errs = errors(
        "[http]\nlisten = \"127.0.0.1:1\"\nmax_body_bytes = \n",
        &[("DESKWARD_BOGUS", "1")],
    );
    assert_eq!(errs.len(), 2, "{errs:?}");
    match &errs[0].origin {
        Origin::File { line, .. } => assert_eq!(*line, 3),
        other => panic!("unexpected origin {other:?}"),
    }
    assert_eq!(errs[0].key, "");
    let text = errs[0].to_string();
    assert!(text.starts_with("deskward.toml:3:"), "{text}");
    assert!(!text.ends_with('.'), "{text}");
    // The environment is still checked.
    assert_eq!(
        errs[1].origin,
        Origin::Env {
            var: "DESKWARD_BOGUS".into()
        }
    );
}

#[test]
fn unreadable_file_is_an_io_error() {
    let missing = Path::new("this/file/does/not/exist.toml");
    let errs = load(Some(missing), env(&[("DESKWARD_HTTP__LISTEN", "bad")])).unwrap_err();
    assert_eq!(errs.len(), 2);
    assert_eq!(
        errs.0[0].origin,
        Origin::Io {
            path: missing.into()
        }
    );
    assert!(
        errs.0[0].message.starts_with("cannot read config file: "),
        "{}",
        errs.0[0].message
    );
    assert!(errs.to_string().lines().count() == 2);
}

#[test]
fn load_reads_a_file() {
    let dir = std::env::temp_dir().join(format!("deskward-config-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("deskward.toml");
    std::fs::write(&path, "[log]\nlevel = \"warn\"\n").unwrap();
    let s = load(Some(&path), NO_ENV).unwrap();
    assert_eq!(s.log.level, "warn");
    let source = Source::read(&path).unwrap();
    assert_eq!(source.parse(NO_ENV).unwrap(), s);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn display_is_one_error_per_line() {
    let e = parse(Path::new("d.toml"), "a = 1\nb = 2\n", NO_ENV).unwrap_err();
    assert_eq!(
        e.to_string(),
        "d.toml:1:1: a: unknown key\nd.toml:2:1: b: unknown key"
    );
    let _: &dyn std::error::Error = &e;
}

/// The fields a value of `a` and `b` differ in, named as keys; the exhaustive patterns make
/// this fail to compile when a field is added to `Settings`, so `keys()` must keep up.
fn changed(a: &Settings, b: &Settings) -> Vec<&'static str> {
    let Settings {
        server: ServerSettings { data_dir, key_file },
        http:
            HttpSettings {
                listen,
                tls_cert,
                tls_key,
                max_body_bytes,
                request_timeout,
                trusted_proxies,
                admin_networks,
                agent_networks,
                public_url,
            },
        database:
            DatabaseSettings {
                url,
                max_connections,
                connect_timeout,
            },
        password_hash:
            PasswordHashSettings {
                memory_kib,
                iterations,
                parallelism,
                max_in_flight,
                max_queued,
            },
        log: LogSettings { level, format },
        audit:
            AuditSettings {
                archive_dir,
                retention_every,
                syslog,
                syslog_ca_file,
                events_per_window,
                event_window,
            },
        dns:
            DnsSettings {
                servers,
                timeout,
                cache_ttl,
                enabled: dns_enabled,
            },
        session:
            SessionSettings {
                idle_timeout,
                absolute_timeout,
                staff_idle_timeout,
                staff_absolute_timeout,
                remember_me,
                remember_me_timeout,
            },
        guard:
            GuardSettings {
                enabled,
                max_failures,
                find_time,
                ban_time,
                ban_time_max,
                ignore_networks,
                user_account_failures,
                staff_account_failures,
                account_delay,
                account_delay_max,
                address_link_timeout,
                address_trust_time,
                max_tracked,
            },
        mail:
            MailSettings {
                relay,
                port,
                security,
                ca_file,
                username,
                from,
                timeout: mail_timeout,
                retry_delay,
                max_attempts,
            },
        notify:
            NotifySettings {
                login_success,
                login_failure,
                bans,
                interval,
            },
        directory: DirectorySettings { sync_every },
        plugins: PluginSettings { dir: plugins_dir },
        documents: DocumentSettings { dir: documents_dir, max_size, upload_idle_timeout },
        kerberos: KerberosSettings { keytab, service, realms },
    } = a;
    let mut out = Vec::new();
    let mut diff = |differs: bool, key| {
        if differs {
            out.push(key)
        }
    };
    diff(*data_dir != b.server.data_dir, "server.data_dir");
    diff(*key_file != b.server.key_file, "server.key_file");
    diff(*listen != b.http.listen, "http.listen");
    diff(*tls_cert != b.http.tls_cert, "http.tls_cert");
    diff(*tls_key != b.http.tls_key, "http.tls_key");
    diff(
        *max_body_bytes != b.http.max_body_bytes,
        "http.max_body_bytes",
    );
    diff(
        *request_timeout != b.http.request_timeout,
        "http.request_timeout",
    );
    diff(*url != b.database.url, "database.url");
    diff(
        *max_connections != b.database.max_connections,
        "database.max_connections",
    );
    diff(
        *connect_timeout != b.database.connect_timeout,
        "database.connect_timeout",
    );
    diff(
        *memory_kib != b.password_hash.memory_kib,
        "password_hash.memory_kib",
    );
    diff(
        *iterations != b.password_hash.iterations,
        "password_hash.iterations",
    );
    diff(
        *parallelism != b.password_hash.parallelism,
        "password_hash.parallelism",
    );
    diff(
        *max_in_flight != b.password_hash.max_in_flight,
        "password_hash.max_in_flight",
    );
    diff(
        *max_queued != b.password_hash.max_queued,
        "password_hash.max_queued",
    );
    diff(*level != b.log.level, "log.level");
    diff(*format != b.log.format, "log.format");
    diff(*archive_dir != b.audit.archive_dir, "audit.archive_dir");
    diff(*retention_every != b.audit.retention_every, "audit.retention_every");
    diff(*syslog != b.audit.syslog, "audit.syslog");
    diff(*syslog_ca_file != b.audit.syslog_ca_file, "audit.syslog_ca_file");
    diff(*events_per_window != b.audit.events_per_window, "audit.events_per_window");
    diff(*event_window != b.audit.event_window, "audit.event_window");
    diff(*trusted_proxies != b.http.trusted_proxies, "http.trusted_proxies");
    diff(*admin_networks != b.http.admin_networks, "http.admin_networks");
    diff(*agent_networks != b.http.agent_networks, "http.agent_networks");
    diff(*servers != b.dns.servers, "dns.servers");
    diff(*sync_every != b.directory.sync_every, "directory.sync_every");
    diff(*plugins_dir != b.plugins.dir, "plugins.dir");
    diff(*documents_dir != b.documents.dir, "documents.dir");
    diff(*max_size != b.documents.max_size, "documents.max_size");
    diff(*upload_idle_timeout != b.documents.upload_idle_timeout, "documents.upload_idle_timeout");
    diff(*keytab != b.kerberos.keytab, "kerberos.keytab");
    diff(*service != b.kerberos.service, "kerberos.service");
    diff(*realms != b.kerberos.realms, "kerberos.realms");
    diff(*timeout != b.dns.timeout, "dns.timeout");
    diff(*cache_ttl != b.dns.cache_ttl, "dns.cache_ttl");
    diff(*dns_enabled != b.dns.enabled, "dns.enabled");
    let t = &b.session;
    diff(*idle_timeout != t.idle_timeout, "session.idle_timeout");
    diff(*absolute_timeout != t.absolute_timeout, "session.absolute_timeout");
    diff(*staff_idle_timeout != t.staff_idle_timeout, "session.staff_idle_timeout");
    diff(*staff_absolute_timeout != t.staff_absolute_timeout, "session.staff_absolute_timeout");
    diff(*remember_me != t.remember_me, "session.remember_me");
    diff(*remember_me_timeout != t.remember_me_timeout, "session.remember_me_timeout");
    let g = &b.guard;
    diff(*enabled != g.enabled, "guard.enabled");
    diff(*max_failures != g.max_failures, "guard.max_failures");
    diff(*find_time != g.find_time, "guard.find_time");
    diff(*ban_time != g.ban_time, "guard.ban_time");
    diff(*ban_time_max != g.ban_time_max, "guard.ban_time_max");
    diff(*ignore_networks != g.ignore_networks, "guard.ignore_networks");
    diff(*user_account_failures != g.user_account_failures, "guard.user_account_failures");
    diff(*staff_account_failures != g.staff_account_failures, "guard.staff_account_failures");
    diff(*account_delay != g.account_delay, "guard.account_delay");
    diff(*account_delay_max != g.account_delay_max, "guard.account_delay_max");
    diff(*max_tracked != g.max_tracked, "guard.max_tracked");
    diff(*address_link_timeout != g.address_link_timeout, "guard.address_link_timeout");
    diff(*address_trust_time != g.address_trust_time, "guard.address_trust_time");
    diff(*public_url != b.http.public_url, "http.public_url");
    let m = &b.mail;
    diff(*relay != m.relay, "mail.relay");
    diff(*port != m.port, "mail.port");
    diff(*security != m.security, "mail.security");
    diff(*ca_file != m.ca_file, "mail.ca_file");
    diff(*username != m.username, "mail.username");
    diff(*from != m.from, "mail.from");
    diff(*mail_timeout != m.timeout, "mail.timeout");
    diff(*retry_delay != m.retry_delay, "mail.retry_delay");
    diff(*max_attempts != m.max_attempts, "mail.max_attempts");
    let n = &b.notify;
    diff(*login_success != n.login_success, "notify.login_success");
    diff(*login_failure != n.login_failure, "notify.login_failure");
    diff(*bans != n.bans, "notify.bans");
    diff(*interval != n.interval, "notify.interval");
    out
}

/// A valid value different from the default, for every key.
fn other_value(key: &str) -> &'static str {
    match key {
        "server.data_dir" => "/srv/deskward",
        "server.key_file" => "/etc/deskward/encryption-key.bin",
        "http.listen" => "0.0.0.0:443",
        "http.tls_cert" => "cert.pem",
        "http.tls_key" => "key.pem",
        "http.max_body_bytes" => "1024",
        "http.request_timeout" => "1s",
        "database.url" => "sqlite:other.db",
        "database.max_connections" => "1",
        "database.connect_timeout" => "1m",
        "password_hash.memory_kib" => "1024",
        "password_hash.iterations" => "100",
        "password_hash.parallelism" => "64",
        "password_hash.max_in_flight" => "1",
        "password_hash.max_queued" => "0",
        "log.level" => "error",
        "log.format" => "json",
        "audit.archive_dir" => "/srv/archive",
        "audit.retention_every" => "5m",
        "audit.syslog" => "tcp://127.0.0.1:6514",
        "audit.syslog_ca_file" => "/etc/ssl/siem-ca.pem",
        "audit.events_per_window" => "1",
        "audit.event_window" => "10s",
        "http.trusted_proxies" => r#"["127.0.0.1", "10.0.0.0/8"]"#,
        "http.admin_networks" => r#"["192.168.0.0/16"]"#,
        "http.agent_networks" => r#"["2001:db8::/32"]"#,
        "dns.servers" => r#"["127.0.0.1:5353", "[::1]:53"]"#,
        "directory.sync_every" => "1h",
        "plugins.dir" => "/etc/deskward/plugins",
        "documents.dir" => "/srv/deskward/documents",
        "documents.max_size" => "1048576",
        "documents.upload_idle_timeout" => "2m",
        "kerberos.keytab" => "/etc/deskward/http.keytab",
        "kerberos.service" => "HTTP/desk.example.org@EXAMPLE.ORG",
        "kerberos.realms" => "EXAMPLE.ORG=example.org",
        "dns.timeout" => "1s",
        "dns.cache_ttl" => "5m",
        "dns.enabled" => "false",
        "session.idle_timeout" => "10m",
        "session.absolute_timeout" => "1day",
        "session.staff_idle_timeout" => "5m",
        "session.staff_absolute_timeout" => "2h",
        "session.remember_me" => "false",
        "session.remember_me_timeout" => "7days",
        "guard.enabled" => "false",
        "guard.max_failures" => "3",
        "guard.find_time" => "1h",
        "guard.ban_time" => "1m",
        "guard.ban_time_max" => "7days",
        "guard.ignore_networks" => r#"["192.0.2.1"]"#,
        "guard.user_account_failures" => "20",
        "guard.staff_account_failures" => "3",
        "guard.account_delay" => "1s",
        "guard.account_delay_max" => "5m",
        "guard.max_tracked" => "1000",
        "guard.address_link_timeout" => "10m",
        "guard.address_trust_time" => "7days",
        "http.public_url" => "https://desk.example.org",
        "mail.relay" => "smtp.example.org",
        "mail.port" => "465",
        "mail.security" => "tls",
        "mail.ca_file" => "/etc/ssl/relay-ca.pem",
        "mail.username" => "deskward",
        "mail.from" => "Help <help@example.org>",
        "mail.timeout" => "5s",
        "mail.retry_delay" => "10s",
        "mail.max_attempts" => "3",
        "notify.login_success" => r#"["user", "agent"]"#,
        "notify.login_failure" => r#"["system-admin"]"#,
        "notify.bans" => "false",
        "notify.interval" => "1h",
        other => panic!("no test value for {other}: add one"),
    }
}

#[test]
fn keys_cover_every_field_and_each_can_be_set_by_env() {
    let defaults = Settings::default();
    let mut covered = Vec::new();
    for k in keys() {
        let mut vars = vec![(k.env_var(), other_value(k.key).to_string())];
        // The TLS files are only valid as a pair.
        let partner = match k.key {
            "http.tls_cert" => Some("http.tls_key"),
            "http.tls_key" => Some("http.tls_cert"),
            _ => None,
        };
        if let Some(p) = partner {
            let p = keys().iter().find(|o| o.key == p).unwrap();
            vars.push((p.env_var(), other_value(p.key).to_string()));
        }
        let s = parse(Path::new("t.toml"), "", vars).unwrap_or_else(|e| panic!("{}: {e}", k.key));
        let mut expected = vec![k.key];
        expected.extend(partner);
        let mut got = changed(&s, &defaults);
        got.sort();
        expected.sort();
        assert_eq!(got, expected, "setting {}", k.env_var());
        covered.push(k.key);
    }
    // Every field is reachable through some key.
    let mut all = changed(&Settings { ..other_settings() }, &defaults);
    all.sort();
    covered.sort();
    assert_eq!(all, covered);
}

/// Settings with every key set to its test value, through the file this time.
fn other_settings() -> Settings {
    let mut text = String::new();
    let mut section = "";
    for k in keys() {
        if k.section() != section {
            section = k.section();
            text.push_str(&format!("[{section}]\n"));
        }
        let v = other_value(k.key);
        let toml = if k.default.starts_with('"') {
            format!("{v:?}")
        } else {
            v.to_string()
        };
        text.push_str(&format!("{} = {toml}\n", k.name()));
    }
    ok(&text)
}

#[test]
fn each_default_is_written_in_toml_and_reproduces_default() {
    let mut text = String::new();
    for k in keys() {
        text.push_str(&format!("{} = {}\n", k.key, k.default));
    }
    assert_eq!(ok(&text), Settings::default());
    for k in keys() {
        assert!(!k.help.is_empty() && !k.help.ends_with('.'), "{}", k.key);
    }
}

#[test]
fn docs_list_every_key() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/configuration.md");
    let doc = std::fs::read_to_string(&path).unwrap();
    let table = keys_markdown();
    assert!(
        doc.contains(&table),
        "docs/configuration.md key table is stale; replace it with:\n{table}"
    );
    // The example file is valid.
    let example = doc
        .split("```toml\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .unwrap();
    let s = ok(example);
    assert_eq!(s.log.format, LogFormat::Json);
    // So are the example variables.
    for line in doc
        .lines()
        .filter(|l| l.starts_with("| `DESKWARD_") && l.contains('='))
    {
        let var = line.trim_start_matches("| `").split('`').next().unwrap();
        let (name, value) = var.split_once('=').unwrap();
        with_env(&[(name, value)]);
    }
}

proptest::proptest! {
    // The file and the environment are untrusted input: any text gives settings or errors with
    // a location, never a panic.
    #[test]
    fn any_file_text_is_parsed_or_refused(text in "(\\[[a-z_]{0,12}\\]\n|[a-z_]{0,12} = (\"[^\"\n]{0,20}\"|[0-9]{0,12}|true|\\[\\]|\\{\\})\n|\\PC{0,30}\n){0,8}") {
        if let Err(errors) = deskward_config::parse(Path::new("fuzz.toml"), &text, Vec::new()) {
            proptest::prop_assert!(!errors.is_empty());
            for e in errors.iter() {
                proptest::prop_assert!(!e.to_string().is_empty());
            }
        }
    }

    #[test]
    fn any_environment_value_is_parsed_or_refused(key in "DESKWARD_[A-Z_]{0,30}", value in "\\PC{0,40}") {
        let _ = deskward_config::parse(Path::new("none.toml"), "", vec![(key, value)]);
    }
}

#[test]
fn effective_values_cover_every_key() {
    let s = ok("[database]\nurl = \"sqlite:other.db\"\n\n[audit]\nretention_every = \"5m\"\n");
    let values = effective(&s);
    assert_eq!(values.iter().map(|(k, _)| *k).collect::<Vec<_>>(), keys().iter().map(|k| k.key).collect::<Vec<_>>());
    let get = |key: &str| values.iter().find(|(k, _)| *k == key).map(|(_, v)| v.as_str());
    assert_eq!(get("database.url"), Some("sqlite:other.db"));
    assert_eq!(get("audit.retention_every"), Some("5m"));
    assert_eq!(get("http.tls_cert"), Some(""));
}

#[test]
fn networks_are_read_from_arrays_and_from_the_environment() {
    let s = ok("[http]\ntrusted_proxies = [\"10.0.0.0/8\", \"::1\"]\n");
    assert_eq!(s.http.trusted_proxies.to_string(), "10.0.0.0/8, ::1");
    let s = with_env(&[("DESKWARD_GUARD__IGNORE_NETWORKS", "192.0.2.1, 198.51.100.0/24")]);
    assert_eq!(s.guard.ignore_networks.to_string(), "192.0.2.1, 198.51.100.0/24");
    let s = with_env(&[("DESKWARD_HTTP__ADMIN_NETWORKS", "[\"fd00::/8\"]")]);
    assert_eq!(s.http.admin_networks.to_string(), "fd00::/8");
    let s = with_env(&[("DESKWARD_HTTP__ADMIN_NETWORKS", "")]);
    assert!(s.http.admin_networks.is_empty());
}

#[test]
fn bad_networks_and_booleans_are_named() {
    assert_eq!(
        lines("[http]\ntrusted_proxies = [\"10.0.0.0/8\", \"proxy.example\"]\n", &[]),
        vec![
            "deskward.toml:2:19: http.trusted_proxies: invalid network \"proxy.example\": write an IP address or a CIDR range like 10.0.0.0/8 or 2001:db8::/32"
        ]
    );
    assert_eq!(
        lines("[http]\nadmin_networks = \"10.0.0.0/8\"\n[guard]\nenabled = \"yes\"\n", &[]),
        vec![
            "deskward.toml:2:18: http.admin_networks: expected an array of strings like [\"10.0.0.0/8\"], found string",
            "deskward.toml:4:11: guard.enabled: expected true or false, found string",
        ]
    );
    assert_eq!(
        lines("", &[("DESKWARD_GUARD__ENABLED", "yes"), ("DESKWARD_GUARD__IGNORE_NETWORKS", "[1, 2]")]),
        vec![
            "environment DESKWARD_GUARD__ENABLED: guard.enabled: invalid boolean \"yes\"; expected true or false",
            "environment DESKWARD_GUARD__IGNORE_NETWORKS: guard.ignore_networks: expected an array of strings like [\"10.0.0.0/8\"], found integer",
        ]
    );
}

#[test]
fn a_ban_longer_than_its_ceiling_is_refused() {
    assert_eq!(
        lines("[guard]\nban_time = \"2days\"\n", &[]),
        vec!["deskward.toml:2:12: guard.ban_time: guard.ban_time = 2days is longer than guard.ban_time_max = 1day; it must not be"]
    );
    assert_eq!(
        lines("", &[("DESKWARD_GUARD__ACCOUNT_DELAY_MAX", "1s")]),
        vec!["environment DESKWARD_GUARD__ACCOUNT_DELAY_MAX: guard.account_delay_max: guard.account_delay = 2s is longer than guard.account_delay_max = 1s; it must not be"]
    );
}

#[test]
fn mail_settings_are_checked_and_the_relay_password_is_not_a_setting() {
    let s = ok("[mail]\nrelay = \"smtp.example.org\"\nsecurity = \"TLS\"\n\n[notify]\nlogin_failure = [\"agent\", \"user\", \"agent\"]\n");
    assert_eq!(s.mail.security, "tls");
    assert_eq!(s.notify.login_failure, vec![deskward_core::Role::User, deskward_core::Role::Agent]);
    // The password moved to the secrets store: an old configuration is told where, and the
    // value is repeated nowhere.
    let moved = "the relay password is no longer read from the configuration: store it with `deskward mail password` (it then goes through the secrets store, encrypted once `deskward secrets enable` ran), and remove this key";
    assert_eq!(lines("[mail]\npassword = \"relay-secret\"\n", &[]), vec![format!("deskward.toml:2:1: mail.password: {moved}")]);
    assert_eq!(lines("", &[("DESKWARD_MAIL__PASSWORD", "relay-secret")]), vec![format!("environment DESKWARD_MAIL__PASSWORD: mail.password: {moved}")]);
    assert_eq!(
        lines("[mail]\nsecurity = \"ssl\"\n", &[]),
        vec!["deskward.toml:2:12: mail.security: invalid value \"ssl\"; expected one of starttls, tls, none"]
    );
    assert_eq!(
        lines("", &[("DESKWARD_NOTIFY__LOGIN_SUCCESS", "user,root")]),
        vec!["environment DESKWARD_NOTIFY__LOGIN_SUCCESS: notify.login_success: unknown role \"root\"; expected user, agent, domain-admin or system-admin"]
    );
}
