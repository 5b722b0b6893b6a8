//! The key table: every setting's key, default, help and rule, stated once; it drives
//! `Settings::default`, `keys()`, the file reader and the environment overrides.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use deskward_core::Role;
use deskward_core::net::Networks;

use crate::settings::{LogFormat, Settings};

/// One setting: its dotted key, its default as written in TOML, and a one-line description.
#[derive(Debug, Clone, Copy)]
pub struct KeyDoc {
    pub key: &'static str,
    /// TOML text; `""` on an optional key means unset.
    pub default: &'static str,
    pub help: &'static str,
    pub(crate) rule: Rule,
}

type Slot<T> = fn(&mut Settings) -> &mut T;

/// How a key's value is checked and where it is stored; ranges live here so messages and
/// docs quote the same bounds the check uses.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Rule {
    Path(Slot<PathBuf>),
    OptPath(Slot<Option<PathBuf>>),
    Addr(Slot<SocketAddr>),
    U64(Slot<u64>, u64, u64),
    U32(Slot<u32>, u32, u32),
    Duration(Slot<Duration>),
    DbUrl(Slot<Option<String>>),
    Level(Slot<String>),
    Format(Slot<LogFormat>),
    Syslog(Slot<Option<String>>),
    Bool(Slot<bool>),
    Networks(Slot<Networks>),
    Addrs(Slot<Vec<SocketAddr>>),
    /// Free text, trimmed.
    Text(Slot<String>),
    /// One of a fixed set of words.
    Choice(Slot<String>, &'static [&'static str]),
    /// A list of account roles.
    Roles(Slot<Vec<Role>>),
}

const MAIL_SECURITY: [&str; 3] = ["starttls", "tls", "none"];

const LEVELS: [&str; 5] = ["error", "warn", "info", "debug", "trace"];
const DB_SCHEMES: [&str; 3] = ["sqlite:", "postgres://", "postgresql://"];
const SYSLOG_SCHEMES: [&str; 3] = ["udp://", "tcp://", "tls://"];

static KEYS: &[KeyDoc] = &[
    KeyDoc {
        key: "server.data_dir",
        default: r#""data""#,
        help: "directory for the SQLite database, the self-signed certificate and other state",
        rule: Rule::Path(|s| &mut s.server.data_dir),
    },
    KeyDoc {
        key: "server.key_file",
        default: r#""""#,
        help: "the key file that seals stored secrets once `deskward secrets enable` ran; unset means encryption-key.bin in server.data_dir. Back it up apart from the database",
        rule: Rule::OptPath(|s| &mut s.server.key_file),
    },
    KeyDoc {
        key: "http.listen",
        default: r#""127.0.0.1:8443""#,
        help: "IP address and port the HTTPS server listens on",
        rule: Rule::Addr(|s| &mut s.http.listen),
    },
    KeyDoc {
        key: "http.tls_cert",
        default: r#""""#,
        help: "PEM certificate chain file; unset means a self-signed certificate made in the data dir; set together with http.tls_key",
        rule: Rule::OptPath(|s| &mut s.http.tls_cert),
    },
    KeyDoc {
        key: "http.tls_key",
        default: r#""""#,
        help: "PEM private key file for http.tls_cert; set both or neither",
        rule: Rule::OptPath(|s| &mut s.http.tls_key),
    },
    KeyDoc {
        key: "http.max_body_bytes",
        default: "65536",
        help: "largest request body accepted, in bytes (65536 = 64 KiB)",
        rule: Rule::U64(|s| &mut s.http.max_body_bytes, 1024, 67_108_864),
    },
    KeyDoc {
        key: "http.request_timeout",
        default: r#""30s""#,
        help: "time one request may take before it is cut off",
        rule: Rule::Duration(|s| &mut s.http.request_timeout),
    },
    KeyDoc {
        key: "http.trusted_proxies",
        default: "[]",
        help: "reverse proxies (IP addresses or CIDR ranges) whose X-Forwarded-For or Forwarded header names the client; from any other peer those headers are ignored",
        rule: Rule::Networks(|s| &mut s.http.trusted_proxies),
    },
    KeyDoc {
        key: "http.admin_networks",
        default: "[]",
        help: "networks domain and system administrators may log in and work from (web and API); empty means anywhere",
        rule: Rule::Networks(|s| &mut s.http.admin_networks),
    },
    KeyDoc {
        key: "http.agent_networks",
        default: "[]",
        help: "networks agents may log in and work from (web and API); empty means anywhere",
        rule: Rule::Networks(|s| &mut s.http.agent_networks),
    },
    KeyDoc {
        key: "http.public_url",
        default: r#""""#,
        help: "the server's address as people reach it, like \"https://desk.example.org\"; links in mail start with it; unset means https:// and http.listen",
        rule: Rule::Text(|s| &mut s.http.public_url),
    },
    KeyDoc {
        key: "database.url",
        default: r#""""#,
        help: "database URL; unset means the SQLite file deskward.db in the data dir",
        rule: Rule::DbUrl(|s| &mut s.database.url),
    },
    KeyDoc {
        key: "database.max_connections",
        default: "8",
        help: "most database connections open at once",
        rule: Rule::U32(|s| &mut s.database.max_connections, 1, 1000),
    },
    KeyDoc {
        key: "database.connect_timeout",
        default: r#""5s""#,
        help: "how long to wait for a database connection",
        rule: Rule::Duration(|s| &mut s.database.connect_timeout),
    },
    KeyDoc {
        key: "password_hash.memory_kib",
        default: "19456",
        help: "argon2id memory cost per hash, in KiB (19456 KiB = 19 MiB)",
        rule: Rule::U32(|s| &mut s.password_hash.memory_kib, 8, 4_194_304),
    },
    KeyDoc {
        key: "password_hash.iterations",
        default: "2",
        help: "argon2id time cost: passes over the memory",
        rule: Rule::U32(|s| &mut s.password_hash.iterations, 1, 100),
    },
    KeyDoc {
        key: "password_hash.parallelism",
        default: "1",
        help: "argon2id degree of parallelism (lanes)",
        rule: Rule::U32(|s| &mut s.password_hash.parallelism, 1, 64),
    },
    KeyDoc {
        key: "password_hash.max_in_flight",
        default: "0",
        help: "password hashes computed at once; 0 means the number of CPU cores",
        rule: Rule::U32(|s| &mut s.password_hash.max_in_flight, 0, 1024),
    },
    KeyDoc {
        key: "password_hash.max_queued",
        default: "64",
        help: "logins waiting for a hashing slot; beyond this they get 503 with Retry-After",
        rule: Rule::U32(|s| &mut s.password_hash.max_queued, 0, 1_000_000),
    },
    KeyDoc {
        key: "log.level",
        default: r#""info""#,
        help: "least severe level logged",
        rule: Rule::Level(|s| &mut s.log.level),
    },
    KeyDoc {
        key: "log.format",
        default: r#""text""#,
        help: "log line format: text for people, json for log collectors",
        rule: Rule::Format(|s| &mut s.log.format),
    },
    KeyDoc {
        key: "audit.archive_dir",
        default: r#""""#,
        help: "where retention archives old audit records as <domain>/<yyyy>/<mm>/<dd>.jsonl; unset means audit-archive in the data dir",
        rule: Rule::OptPath(|s| &mut s.audit.archive_dir),
    },
    KeyDoc {
        key: "audit.retention_every",
        default: r#""1h""#,
        help: "how often the server archives and removes audit records older than each domain's retention",
        rule: Rule::Duration(|s| &mut s.audit.retention_every),
    },
    KeyDoc {
        key: "audit.syslog",
        default: r#""""#,
        help: "forward every audit record to this syslog receiver (RFC 5424), tls://host:port (RFC 5425), tcp://host:port or udp://host:port; unset means off",
        rule: Rule::Syslog(|s| &mut s.audit.syslog),
    },
    KeyDoc {
        key: "audit.syslog_ca_file",
        default: r#""""#,
        help: "PEM file of the certificate authority a tls:// syslog receiver's certificate must chain to; unset means the public web PKI roots",
        rule: Rule::OptPath(|s| &mut s.audit.syslog_ca_file),
    },
    KeyDoc {
        key: "audit.events_per_window",
        default: "20",
        help: "security events recorded per source IP (IPv6: per /64) and action in one audit.event_window; further ones are counted in one events.suppressed record",
        rule: Rule::U32(|s| &mut s.audit.events_per_window, 1, 1_000_000),
    },
    KeyDoc {
        key: "audit.event_window",
        default: r#""1m""#,
        help: "the window of audit.events_per_window",
        rule: Rule::Duration(|s| &mut s.audit.event_window),
    },
    KeyDoc {
        key: "directory.sync_every",
        default: r#""15m""#,
        help: "how often each domain connected to a directory is synced (accounts removed or disabled there are blocked, groups follow)",
        rule: Rule::Duration(|s| &mut s.directory.sync_every),
    },
    KeyDoc {
        key: "plugins.dir",
        default: r#""""#,
        help: "a directory of authentication plugin definitions, one <name>.toml each (docs/plugins.md); unset means no plugins. Only the server's administrator may write there: a plugin runs with the server's rights",
        rule: Rule::OptPath(|s| &mut s.plugins.dir),
    },
    KeyDoc {
        key: "documents.dir",
        default: r#""""#,
        help: "where document content is kept, one file per version named by its id; unset means \"documents\" in server.data_dir. Created with mode 0700",
        rule: Rule::OptPath(|s| &mut s.documents.dir),
    },
    KeyDoc {
        key: "documents.max_size",
        default: "4294967296",
        help: "largest document accepted, in bytes (4294967296 = 4 GiB); uploads stream to disk, so this bounds disk, not memory",
        rule: Rule::U64(|s| &mut s.documents.max_size, 1, 1 << 40),
    },
    KeyDoc {
        key: "documents.upload_idle_timeout",
        default: r#""30s""#,
        help: "an upload that sends nothing for this long is abandoned and leaves nothing behind (uploads are not bound by http.request_timeout)",
        rule: Rule::Duration(|s| &mut s.documents.upload_idle_timeout),
    },
    KeyDoc {
        key: "kerberos.keytab",
        default: r#""""#,
        help: "the keytab with the service key for web single sign-on (SPNEGO, docs/kerberos.md); unset means no Kerberos. Readable by the server only",
        rule: Rule::OptPath(|s| &mut s.kerberos.keytab),
    },
    KeyDoc {
        key: "kerberos.service",
        default: r#""""#,
        help: "the service principal tickets must be for, like \"HTTP/desk.example.org@EXAMPLE.ORG\"; unset accepts any key in the keytab",
        rule: Rule::Text(|s| &mut s.kerberos.service),
    },
    KeyDoc {
        key: "kerberos.realms",
        default: r#""""#,
        help: "which Deskward domain each realm's principals belong to, like \"CORP.EXAMPLE=example.org, LAB.EXAMPLE=lab.example.org\"; a realm not listed maps to its own name in lower case",
        rule: Rule::Text(|s| &mut s.kerberos.realms),
    },
    KeyDoc {
        key: "dns.servers",
        default: "[]",
        help: "DNS servers (IP and port) that resolve clients' addresses to host names; empty means the system's (/etc/resolv.conf)",
        rule: Rule::Addrs(|s| &mut s.dns.servers),
    },
    KeyDoc {
        key: "dns.timeout",
        default: r#""300ms""#,
        help: "the longest a login waits for its client's host name (counted from its start, so the password check hides most of it); a late name is still cached for next time",
        rule: Rule::Duration(|s| &mut s.dns.timeout),
    },
    KeyDoc {
        key: "dns.cache_ttl",
        default: r#""1h""#,
        help: "how long a host name (or its absence) is remembered",
        rule: Rule::Duration(|s| &mut s.dns.cache_ttl),
    },
    KeyDoc {
        key: "dns.enabled",
        default: "true",
        help: "resolve clients' addresses to host names for the audit log and the account page",
        rule: Rule::Bool(|s| &mut s.dns.enabled),
    },
    KeyDoc {
        key: "session.idle_timeout",
        default: r#""1h""#,
        help: "a user's session ends after this long without a request of theirs (background requests do not count)",
        rule: Rule::Duration(|s| &mut s.session.idle_timeout),
    },
    KeyDoc {
        key: "session.absolute_timeout",
        default: r#""12h""#,
        help: "a user's session ends this long after login, whatever happens",
        rule: Rule::Duration(|s| &mut s.session.absolute_timeout),
    },
    KeyDoc {
        key: "session.staff_idle_timeout",
        default: r#""30m""#,
        help: "session.idle_timeout for agents and administrators",
        rule: Rule::Duration(|s| &mut s.session.staff_idle_timeout),
    },
    KeyDoc {
        key: "session.staff_absolute_timeout",
        default: r#""10h""#,
        help: "session.absolute_timeout for agents and administrators",
        rule: Rule::Duration(|s| &mut s.session.staff_absolute_timeout),
    },
    KeyDoc {
        key: "session.remember_me",
        default: "true",
        help: "whether users may ask to be remembered: their session then survives closing the browser and lasts session.remember_me_timeout (never for staff)",
        rule: Rule::Bool(|s| &mut s.session.remember_me),
    },
    KeyDoc {
        key: "session.remember_me_timeout",
        default: r#""30days""#,
        help: "how long a remembered session lasts, idle or not",
        rule: Rule::Duration(|s| &mut s.session.remember_me_timeout),
    },
    KeyDoc {
        key: "mail.relay",
        default: r#""""#,
        help: "host name of the SMTP relay that carries Deskward's mail (notifications, verification links); unset means no mail is sent",
        rule: Rule::Text(|s| &mut s.mail.relay),
    },
    KeyDoc {
        key: "mail.port",
        default: "587",
        help: "the relay's port (587 for starttls, 465 for tls)",
        rule: Rule::U32(|s| &mut s.mail.port, 1, 65_535),
    },
    KeyDoc {
        key: "mail.security",
        default: r#""starttls""#,
        help: "starttls (the relay must offer STARTTLS; mail is never sent in the clear), tls (TLS from the first byte), or none (plain text; only for a relay on the same host)",
        rule: Rule::Choice(|s| &mut s.mail.security, &MAIL_SECURITY),
    },
    KeyDoc {
        key: "mail.ca_file",
        default: r#""""#,
        help: "PEM file of the certificate authority the relay's certificate must chain to; unset means the public web PKI roots",
        rule: Rule::OptPath(|s| &mut s.mail.ca_file),
    },
    KeyDoc {
        key: "mail.username",
        default: r#""""#,
        help: "the account Deskward logs in to the relay with; unset means no login",
        rule: Rule::Text(|s| &mut s.mail.username),
    },
    KeyDoc {
        key: "mail.from",
        default: r#""Deskward <deskward@localhost>""#,
        help: "the sender of Deskward's mail, an address with an optional display name",
        rule: Rule::Text(|s| &mut s.mail.from),
    },
    KeyDoc {
        key: "mail.timeout",
        default: r#""30s""#,
        help: "how long one delivery attempt may take",
        rule: Rule::Duration(|s| &mut s.mail.timeout),
    },
    KeyDoc {
        key: "mail.retry_delay",
        default: r#""1m""#,
        help: "wait after a first failed delivery; it doubles after each further failure, up to 1 hour",
        rule: Rule::Duration(|s| &mut s.mail.retry_delay),
    },
    KeyDoc {
        key: "mail.max_attempts",
        default: "10",
        help: "delivery attempts before a message is given up as failed (a relay's permanent refusal gives up at once)",
        rule: Rule::U32(|s| &mut s.mail.max_attempts, 1, 100),
    },
    KeyDoc {
        key: "notify.login_success",
        default: "[]",
        help: "roles whose accounts are mailed on each successful login, unless their domain says otherwise; roles are user, agent, domain-admin, system-admin",
        rule: Rule::Roles(|s| &mut s.notify.login_success),
    },
    KeyDoc {
        key: "notify.login_failure",
        default: "[]",
        help: "roles whose accounts are mailed when a login on them fails, unless their domain says otherwise",
        rule: Rule::Roles(|s| &mut s.notify.login_failure),
    },
    KeyDoc {
        key: "notify.bans",
        default: "true",
        help: "mail every system administrator when the guard bans a client",
        rule: Rule::Bool(|s| &mut s.notify.bans),
    },
    KeyDoc {
        key: "notify.interval",
        default: r#""15m""#,
        help: "at most one failed-login mail per account, and one ban mail per administrator, in this time; the audit log keeps every event",
        rule: Rule::Duration(|s| &mut s.notify.interval),
    },
    KeyDoc {
        key: "guard.enabled",
        default: "true",
        help: "count failed logins and ban and throttle on them; turn off only behind another guard",
        rule: Rule::Bool(|s| &mut s.guard.enabled),
    },
    KeyDoc {
        key: "guard.max_failures",
        default: "5",
        help: "failed logins from one client (an IPv4 address or an IPv6 /64) within guard.find_time that get it banned",
        rule: Rule::U32(|s| &mut s.guard.max_failures, 1, 1_000_000),
    },
    KeyDoc {
        key: "guard.find_time",
        default: r#""10m""#,
        help: "the window in which failures are counted",
        rule: Rule::Duration(|s| &mut s.guard.find_time),
    },
    KeyDoc {
        key: "guard.ban_time",
        default: r#""10m""#,
        help: "length of a client's first ban; each further ban within guard.ban_time_max of the last one lasts twice as long",
        rule: Rule::Duration(|s| &mut s.guard.ban_time),
    },
    KeyDoc {
        key: "guard.ban_time_max",
        default: r#""1day""#,
        help: "the longest a ban grows to",
        rule: Rule::Duration(|s| &mut s.guard.ban_time_max),
    },
    KeyDoc {
        key: "guard.ignore_networks",
        default: "[]",
        help: "clients never counted or banned (for example a monitoring host); bans added by hand still apply",
        rule: Rule::Networks(|s| &mut s.guard.ignore_networks),
    },
    KeyDoc {
        key: "guard.user_account_failures",
        default: "10",
        help: "failed logins on one user account within guard.find_time, from any clients, after which each further attempt on it must wait (the account is throttled, never locked)",
        rule: Rule::U32(|s| &mut s.guard.user_account_failures, 1, 1_000_000),
    },
    KeyDoc {
        key: "guard.staff_account_failures",
        default: "5",
        help: "the same for agent and administrator accounts",
        rule: Rule::U32(|s| &mut s.guard.staff_account_failures, 1, 1_000_000),
    },
    KeyDoc {
        key: "guard.account_delay",
        default: r#""2s""#,
        help: "the wait of a throttled account's first extra attempt; it doubles with each further failure",
        rule: Rule::Duration(|s| &mut s.guard.account_delay),
    },
    KeyDoc {
        key: "guard.account_delay_max",
        default: r#""1m""#,
        help: "the longest wait between attempts on a throttled account",
        rule: Rule::Duration(|s| &mut s.guard.account_delay_max),
    },
    KeyDoc {
        key: "guard.address_link_timeout",
        default: r#""30m""#,
        help: "how long the link that confirms an address outside a domain's allow-list stays valid",
        rule: Rule::Duration(|s| &mut s.guard.address_link_timeout),
    },
    KeyDoc {
        key: "guard.address_trust_time",
        default: r#""30days""#,
        help: "how long an address confirmed through that link is trusted for its account, unless the domain says otherwise",
        rule: Rule::Duration(|s| &mut s.guard.address_trust_time),
    },
    KeyDoc {
        key: "guard.max_tracked",
        default: "1000000",
        help: "clients and accounts whose failures are held in memory at once (about 40 bytes each); when full, the stalest are forgotten first",
        rule: Rule::U64(|s| &mut s.guard.max_tracked, 1000, 100_000_000),
    },
];

/// Every key, in file order. Used to print the docs and `deskward config keys`.
pub fn keys() -> &'static [KeyDoc] {
    KEYS
}

impl KeyDoc {
    /// The section, e.g. `http` for `http.listen`.
    pub fn section(&self) -> &'static str {
        self.key.split_once('.').map_or(self.key, |(s, _)| s)
    }

    /// The key within its section, e.g. `listen` for `http.listen`.
    pub fn name(&self) -> &'static str {
        self.key.split_once('.').map_or(self.key, |(_, n)| n)
    }

    /// The environment variable overriding this key, e.g. `DESKWARD_HTTP__LISTEN`.
    pub fn env_var(&self) -> String {
        format!("DESKWARD_{}__{}", self.section(), self.name()).to_uppercase()
    }

    /// What values are accepted, for docs, e.g. `1 to 1000`.
    pub fn allowed(&self) -> String {
        match self.rule {
            Rule::Path(_) => "path".into(),
            Rule::OptPath(_) => "path, or empty for unset".into(),
            Rule::Addr(_) => "IP address and port".into(),
            Rule::U64(_, min, max) => format!("{min} to {max}"),
            Rule::U32(_, min, max) => format!("{min} to {max}"),
            Rule::Duration(_) => "duration like \"30s\" or \"1m 30s\", above zero".into(),
            Rule::DbUrl(_) => format!(
                "URL starting with {}, or empty for unset",
                DB_SCHEMES.join(", ")
            ),
            Rule::Level(_) => LEVELS.join(", "),
            Rule::Format(_) => "text, json".into(),
            Rule::Syslog(_) => "tls://host:port, tcp://host:port, udp://host:port, or empty for off".into(),
            Rule::Bool(_) => "true, false".into(),
            Rule::Networks(_) => "list of IP addresses and CIDR ranges, like [\"10.0.0.0/8\", \"2001:db8::/32\"]".into(),
            Rule::Addrs(_) => "list of IP addresses with ports, like [\"192.0.2.53:53\"]".into(),
            Rule::Text(_) => "text".into(),
            Rule::Choice(_, words) => words.join(", "),
            Rule::Roles(_) => "list of roles, like [\"user\", \"agent\"]".into(),
        }
    }
}

/// Every key with its effective value as text, in file order, for the audit record of a start.
/// `database.url` may hold a password: hide it before the value goes anywhere.
pub fn effective(settings: &Settings) -> Vec<(&'static str, String)> {
    let mut s = settings.clone();
    KEYS.iter()
        .map(|k| {
            let v = match k.rule {
                Rule::Path(slot) => slot(&mut s).display().to_string(),
                Rule::OptPath(slot) => slot(&mut s).as_ref().map(|p| p.display().to_string()).unwrap_or_default(),
                Rule::Addr(slot) => slot(&mut s).to_string(),
                Rule::U64(slot, _, _) => slot(&mut s).to_string(),
                Rule::U32(slot, _, _) => slot(&mut s).to_string(),
                Rule::Duration(slot) => humantime::format_duration(*slot(&mut s)).to_string(),
                Rule::DbUrl(slot) => slot(&mut s).clone().unwrap_or_default(),
                Rule::Level(slot) => slot(&mut s).clone(),
                Rule::Format(slot) => slot(&mut s).as_str().to_owned(),
                Rule::Syslog(slot) => slot(&mut s).clone().unwrap_or_default(),
                Rule::Bool(slot) => slot(&mut s).to_string(),
                Rule::Networks(slot) => slot(&mut s).to_string(),
                Rule::Addrs(slot) => slot(&mut s).iter().map(ToString::to_string).collect::<Vec<_>>().join(", "),
                Rule::Text(slot) | Rule::Choice(slot, _) => slot(&mut s).clone(),
                Rule::Roles(slot) => slot(&mut s).iter().map(|r| r.as_str()).collect::<Vec<_>>().join(", "),
            };
            (k.key, v)
        })
        .collect()
}

/// Looks up a key by its dotted name.
/// Keys that were settings once and moved elsewhere, with where they went: reported instead
/// of "unknown key" so an old configuration gets told what to do.
const MOVED: &[(&str, &str)] = &[(
    "mail.password",
    "the relay password is no longer read from the configuration: store it with `deskward mail password` (it then goes through the secrets store, encrypted once `deskward secrets enable` ran), and remove this key",
)];

/// Where a key that no longer exists went, if it moved.
pub(crate) fn moved(key: &str) -> Option<&'static str> {
    MOVED.iter().find(|(k, _)| *k == key).map(|(_, why)| *why)
}

pub(crate) fn find(key: &str) -> Option<&'static KeyDoc> {
    KEYS.iter().find(|k| k.key == key)
}

/// Section names in file order, without repeats.
pub(crate) fn sections() -> Vec<&'static str> {
    let mut out: Vec<&'static str> = Vec::new();
    for k in KEYS {
        if !out.contains(&k.section()) {
            out.push(k.section());
        }
    }
    out
}

/// A value as found in the file or the environment, before it is checked.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Raw<'a> {
    Str(&'a str),
    Int(i64),
    Bool(bool),
    List(&'a toml_edit::Array),
    /// Any other TOML type, by its name.
    Other(&'static str),
    /// An environment variable's text, parsed as whatever the key needs.
    Env(&'a str),
}

impl<'a> Raw<'a> {
    pub(crate) fn from_toml(value: &'a toml_edit::Value) -> Self {
        match value {
            toml_edit::Value::String(s) => Raw::Str(s.value()),
            toml_edit::Value::Integer(i) => Raw::Int(*i.value()),
            toml_edit::Value::Boolean(b) => Raw::Bool(*b.value()),
            toml_edit::Value::Array(a) => Raw::List(a),
            other => Raw::Other(other.type_name()),
        }
    }

    fn type_name(self) -> &'static str {
        match self {
            Raw::Str(_) | Raw::Env(_) => "string",
            Raw::Int(_) => "integer",
            Raw::Bool(_) => "boolean",
            Raw::List(_) => "array",
            Raw::Other(t) => t,
        }
    }
}

impl Rule {
    /// Checks `raw` and stores it; the error is the message for a `ConfigError`.
    pub(crate) fn apply(self, s: &mut Settings, raw: Raw<'_>) -> Result<(), String> {
        match self {
            Rule::Path(slot) => {
                let v = self.text(raw)?;
                if v.is_empty() {
                    return Err("path must not be empty".into());
                }
                *slot(s) = PathBuf::from(v);
            }
            Rule::OptPath(slot) => {
                let v = self.text(raw)?;
                *slot(s) = (!v.is_empty()).then(|| PathBuf::from(v));
            }
            Rule::Addr(slot) => {
                let v = self.text(raw)?;
                *slot(s) = v
                    .parse()
                    .map_err(|_| format!("invalid socket address {v:?}"))?;
            }
            Rule::U64(slot, min, max) => *slot(s) = self.integer(raw, min, max)?,
            Rule::U32(slot, min, max) => {
                let v = self.integer(raw, min.into(), max.into())?;
                *slot(s) = u32::try_from(v).map_err(|_| format!("{v} is out of range"))?;
            }
            Rule::Duration(slot) => {
                let v = self.text(raw)?;
                let d = humantime::parse_duration(v).map_err(|_| {
                    format!("invalid duration {v:?}; write it like \"30s\" or \"1m 30s\"")
                })?;
                if d.is_zero() {
                    return Err(format!("duration {v:?} must be above zero"));
                }
                *slot(s) = d;
            }
            Rule::DbUrl(slot) => {
                let v = self.text(raw)?;
                if !v.is_empty() && !DB_SCHEMES.iter().any(|p| v.starts_with(p)) {
                    return Err(format!(
                        "unsupported database url scheme {:?}; the url must start with {}",
                        url_scheme(v),
                        DB_SCHEMES.join(", ")
                    ));
                }
                *slot(s) = (!v.is_empty()).then(|| v.to_owned());
            }
            Rule::Level(slot) => {
                let v = self.text(raw)?;
                let lower = v.to_ascii_lowercase();
                if !LEVELS.contains(&lower.as_str()) {
                    return Err(format!(
                        "invalid log level {v:?}; expected one of {}",
                        LEVELS.join(", ")
                    ));
                }
                *slot(s) = lower;
            }
            Rule::Format(slot) => {
                let v = self.text(raw)?;
                *slot(s) = match v.to_ascii_lowercase().as_str() {
                    "text" => LogFormat::Text,
                    "json" => LogFormat::Json,
                    _ => return Err(format!("invalid log format {v:?}; expected text or json")),
                };
            }
            Rule::Syslog(slot) => {
                let v = self.text(raw)?;
                if !v.is_empty() {
                    let Some(addr) = SYSLOG_SCHEMES.iter().find_map(|p| v.strip_prefix(p)) else {
                        return Err(format!("unsupported syslog url {v:?}; it must start with {}", SYSLOG_SCHEMES.join(" or ")));
                    };
                    match addr.rsplit_once(':') {
                        Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok_and(|p| p > 0) => {}
                        _ => return Err(format!("syslog url {v:?} needs a host and a port, like udp://127.0.0.1:514")),
                    }
                }
                *slot(s) = (!v.is_empty()).then(|| v.to_owned());
            }
            Rule::Bool(slot) => {
                *slot(s) = match raw {
                    Raw::Bool(b) => b,
                    Raw::Env("true") => true,
                    Raw::Env("false") => false,
                    Raw::Env(v) => return Err(format!("invalid boolean {v:?}; expected true or false")),
                    other => return Err(self.type_error(other)),
                };
            }
            Rule::Networks(slot) => {
                let items = self.list(raw)?;
                *slot(s) = Networks::parse(items.iter().map(String::as_str)).map_err(|e| e.to_string())?;
            }
            Rule::Addrs(slot) => {
                let items = self.list(raw)?;
                *slot(s) = items
                    .iter()
                    .map(|i| i.trim())
                    .filter(|i| !i.is_empty())
                    .map(|i| i.parse().map_err(|_| format!("invalid address {i:?}; write an IP address and a port, like 192.0.2.53:53")))
                    .collect::<Result<_, _>>()?;
            }
            Rule::Text(slot) => *slot(s) = self.text(raw)?.trim().to_owned(),
            Rule::Choice(slot, words) => {
                let v = self.text(raw)?.to_ascii_lowercase();
                if !words.contains(&v.as_str()) {
                    return Err(format!("invalid value {v:?}; expected one of {}", words.join(", ")));
                }
                *slot(s) = v;
            }
            Rule::Roles(slot) => {
                let mut roles = Vec::new();
                for item in self.list(raw)? {
                    let item = item.trim();
                    if item.is_empty() {
                        continue;
                    }
                    let role: Role = item.parse().map_err(|e: deskward_core::role::UnknownRole| e.to_string())?;
                    if !roles.contains(&role) {
                        roles.push(role);
                    }
                }
                roles.sort();
                *slot(s) = roles;
            }
        }
        Ok(())
    }

    /// How the value should be written, for "expected …, found …".
    fn expected(self) -> String {
        match self {
            Rule::Path(_) | Rule::OptPath(_) => "a path string".into(),
            Rule::Addr(_) => "a string like \"127.0.0.1:8443\"".into(),
            Rule::U64(_, min, max) => format!("an integer from {min} to {max}"),
            Rule::U32(_, min, max) => format!("an integer from {min} to {max}"),
            Rule::Duration(_) => "a string like \"30s\"".into(),
            Rule::DbUrl(_) => "a string like \"postgres://host/deskward\"".into(),
            Rule::Level(_) => format!("a string, one of {}", LEVELS.join(", ")),
            Rule::Format(_) => "a string, text or json".into(),
            Rule::Syslog(_) => "a string like \"udp://127.0.0.1:514\"".into(),
            Rule::Bool(_) => "true or false".into(),
            Rule::Networks(_) => "an array of strings like [\"10.0.0.0/8\"]".into(),
            Rule::Addrs(_) => "an array of strings like [\"192.0.2.53:53\"]".into(),
            Rule::Text(_) => "a string".into(),
            Rule::Choice(_, words) => format!("a string, one of {}", words.join(", ")),
            Rule::Roles(_) => "an array of strings like [\"user\"]".into(),
        }
    }

    /// A list: a TOML array of strings, or from the environment the array's text or a
    /// comma-separated list.
    fn list(self, raw: Raw<'_>) -> Result<Vec<String>, String> {
        match raw {
            Raw::List(a) => a
                .iter()
                .map(|v| v.as_str().map(str::to_owned).ok_or_else(|| self.type_error(Raw::Other(v.type_name()))))
                .collect(),
            Raw::Env(v) if v.trim_start().starts_with('[') => match v.parse::<toml_edit::Value>() {
                Ok(toml_edit::Value::Array(a)) => self.list(Raw::List(&a)),
                _ => Err(format!("invalid list {v:?}; write it like [\"a\", \"b\"] or a,b")),
            },
            Raw::Env(v) => Ok(v.split(',').map(str::to_owned).collect()),
            other => Err(self.type_error(other)),
        }
    }

    fn type_error(self, raw: Raw<'_>) -> String {
        format!("expected {}, found {}", self.expected(), raw.type_name())
    }

    fn text<'a>(self, raw: Raw<'a>) -> Result<&'a str, String> {
        match raw {
            Raw::Str(s) | Raw::Env(s) => Ok(s),
            other => Err(self.type_error(other)),
        }
    }

    fn integer(self, raw: Raw<'_>, min: u64, max: u64) -> Result<u64, String> {
        let v: i128 = match raw {
            Raw::Int(i) => i.into(),
            Raw::Env(s) => s.parse().map_err(|_| format!("invalid integer {s:?}"))?,
            other => return Err(self.type_error(other)),
        };
        match u64::try_from(v) {
            Ok(n) if (min..=max).contains(&n) => Ok(n),
            _ => Err(format!("{v} is out of range (allowed {min} to {max})")),
        }
    }
}

/// The part of a URL before any credentials, so a rejected URL's password never reaches a log.
fn url_scheme(url: &str) -> &str {
    let end = url
        .find("://")
        .map(|i| i + 3)
        .or_else(|| url.find(':').map(|i| i + 1));
    end.and_then(|e| url.get(..e)).unwrap_or(url)
}

/// The defaults, made by applying each key's default text through its own rule.
pub(crate) fn defaults() -> Settings {
    let mut s = Settings::blank();
    for k in KEYS {
        // A default that fails here is caught by the `every_default_is_valid` test.
        let _ = apply_default(k, &mut s);
    }
    s
}

fn apply_default(k: &KeyDoc, s: &mut Settings) -> Result<(), String> {
    let value: toml_edit::Value = k.default.parse().map_err(|e| format!("{e:?}"))?;
    k.rule.apply(s, Raw::from_toml(&value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_default_is_valid() {
        let mut s = Settings::blank();
        for k in keys() {
            assert_eq!(apply_default(k, &mut s), Ok(()), "default of {}", k.key);
        }
    }

    #[test]
    fn keys_are_unique_and_dotted_once() {
        for (i, k) in keys().iter().enumerate() {
            assert_eq!(k.key.matches('.').count(), 1, "{}", k.key);
            assert!(
                keys()[i + 1..].iter().all(|o| o.key != k.key),
                "duplicate {}",
                k.key
            );
        }
    }

    #[test]
    fn url_scheme_hides_credentials() {
        assert_eq!(url_scheme("mysql://root:secret@db/x"), "mysql://");
        assert_eq!(url_scheme("mysql:x"), "mysql:");
        assert_eq!(url_scheme("nothing"), "nothing");
    }
}
