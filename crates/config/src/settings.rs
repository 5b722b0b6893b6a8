//! The settings types other crates read; their defaults live in the key table in `schema.rs`.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use deskward_core::Role;
use deskward_core::net::Networks;

/// Every setting of the server, grouped as in the TOML file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub server: ServerSettings,
    pub http: HttpSettings,
    pub database: DatabaseSettings,
    pub password_hash: PasswordHashSettings,
    pub log: LogSettings,
    pub audit: AuditSettings,
    pub dns: DnsSettings,
    pub session: SessionSettings,
    pub guard: GuardSettings,
    pub mail: MailSettings,
    pub notify: NotifySettings,
    pub directory: DirectorySettings,
    pub plugins: PluginSettings,
    pub documents: DocumentSettings,
    pub kerberos: KerberosSettings,
}

/// `[documents]`: shared folders and documents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentSettings {
    pub dir: Option<PathBuf>,
    pub max_size: u64,
    pub upload_idle_timeout: Duration,
}

/// `[kerberos]`: web single sign-on with SPNEGO.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KerberosSettings {
    pub keytab: Option<PathBuf>,
    pub service: String,
    /// `REALM=domain` pairs, comma-separated.
    pub realms: String,
}

/// `[plugins]`: authentication plugins (each defined in a file of its own in `dir`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginSettings {
    pub dir: Option<PathBuf>,
}

/// `[directory]`: domains' LDAP and Active Directory connections (their settings are per
/// domain, in the database).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectorySettings {
    /// How often each connected domain is synced; zero means never on a schedule.
    pub sync_every: Duration,
}

/// `[server]`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerSettings {
    /// Directory for the database file, the self-signed certificate and other state.
    pub data_dir: PathBuf,
    /// The key file of stored secrets; `None` means `encryption-key.bin` in `data_dir`.
    pub key_file: Option<PathBuf>,
}

/// `[http]`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpSettings {
    pub listen: SocketAddr,
    /// PEM certificate chain; `None` means a self-signed certificate made in the data dir.
    pub tls_cert: Option<PathBuf>,
    /// PEM private key; set exactly when `tls_cert` is.
    pub tls_key: Option<PathBuf>,
    pub max_body_bytes: u64,
    pub request_timeout: Duration,
    /// Peers whose forwarding headers are believed.
    pub trusted_proxies: Networks,
    /// Where administrators may work from; empty means anywhere.
    pub admin_networks: Networks,
    /// Where agents may work from; empty means anywhere.
    pub agent_networks: Networks,
    /// The address people reach the server at, for links in mail; empty means
    /// `https://` and `listen`.
    pub public_url: String,
}

/// `[database]`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatabaseSettings {
    /// `None` means the SQLite file `deskward.db` in the data dir.
    pub url: Option<String>,
    pub max_connections: u32,
    pub connect_timeout: Duration,
}

/// `[password_hash]`: argon2id cost and how many hashes may run or wait at once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordHashSettings {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
    /// 0 means the number of CPU cores.
    pub max_in_flight: u32,
    /// Logins waiting for a hashing slot beyond this are refused with 503.
    pub max_queued: u32,
}

/// `[log]`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogSettings {
    /// One of `error`, `warn`, `info`, `debug`, `trace`.
    pub level: String,
    pub format: LogFormat,
}

/// `[audit]`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditSettings {
    /// Unset means `audit-archive` in the data dir.
    pub archive_dir: Option<PathBuf>,
    pub retention_every: Duration,
    /// `udp://host:port` or `tcp://host:port`.
    pub syslog: Option<String>,
    /// The CA a `tls://` receiver's certificate must chain to; `None` means the web PKI roots.
    pub syslog_ca_file: Option<PathBuf>,
    pub events_per_window: u32,
    pub event_window: Duration,
}

/// `[dns]`: reverse lookups of clients' addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsSettings {
    /// Empty means the system's resolvers.
    pub servers: Vec<SocketAddr>,
    pub timeout: Duration,
    pub cache_ttl: Duration,
    pub enabled: bool,
}

/// `[session]`: session lifetimes, per role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionSettings {
    pub idle_timeout: Duration,
    pub absolute_timeout: Duration,
    pub staff_idle_timeout: Duration,
    pub staff_absolute_timeout: Duration,
    pub remember_me: bool,
    pub remember_me_timeout: Duration,
}

/// `[guard]`: the brute-force guard (see `docs/guard.md`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuardSettings {
    pub enabled: bool,
    pub max_failures: u32,
    pub find_time: Duration,
    pub ban_time: Duration,
    pub ban_time_max: Duration,
    pub ignore_networks: Networks,
    pub user_account_failures: u32,
    pub staff_account_failures: u32,
    pub account_delay: Duration,
    pub account_delay_max: Duration,
    pub address_link_timeout: Duration,
    pub address_trust_time: Duration,
    pub max_tracked: u64,
}

/// `[mail]`: the SMTP relay Deskward's own mail goes through (see `docs/notifications.md`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailSettings {
    /// Empty means no mail is sent.
    pub relay: String,
    pub port: u32,
    /// `starttls`, `tls` or `none`.
    pub security: String,
    pub ca_file: Option<PathBuf>,
    pub username: String,
    pub from: String,
    pub timeout: Duration,
    pub retry_delay: Duration,
    pub max_attempts: u32,
}

/// `[notify]`: who is mailed about logins and bans; domains override the login part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifySettings {
    pub login_success: Vec<Role>,
    pub login_failure: Vec<Role>,
    pub bans: bool,
    pub interval: Duration,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LogFormat {
    Text,
    Json,
}

impl LogFormat {
    /// The name as written in the file.
    pub fn as_str(self) -> &'static str {
        match self {
            LogFormat::Text => "text",
            LogFormat::Json => "json",
        }
    }
}

impl Default for Settings {
    /// The defaults from the key table (see [`crate::keys`]).
    fn default() -> Self {
        crate::schema::defaults()
    }
}

impl Settings {
    /// Placeholders only: every field is overwritten from the key table by `schema::defaults`,
    /// so the real defaults are stated once, in that table.
    pub(crate) fn blank() -> Self {
        Settings {
            server: ServerSettings {
                data_dir: PathBuf::new(),
                key_file: None,
            },
            http: HttpSettings {
                listen: SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)),
                tls_cert: None,
                tls_key: None,
                max_body_bytes: 0,
                request_timeout: Duration::ZERO,
                trusted_proxies: Networks::default(),
                admin_networks: Networks::default(),
                agent_networks: Networks::default(),
                public_url: String::new(),
            },
            database: DatabaseSettings {
                url: None,
                max_connections: 0,
                connect_timeout: Duration::ZERO,
            },
            password_hash: PasswordHashSettings {
                memory_kib: 0,
                iterations: 0,
                parallelism: 0,
                max_in_flight: 0,
                max_queued: 0,
            },
            log: LogSettings {
                level: String::new(),
                format: LogFormat::Text,
            },
            audit: AuditSettings {
                archive_dir: None,
                retention_every: Duration::ZERO,
                syslog: None,
                syslog_ca_file: None,
                events_per_window: 0,
                event_window: Duration::ZERO,
            },
            directory: DirectorySettings { sync_every: Duration::ZERO },
            plugins: PluginSettings { dir: None },
            documents: DocumentSettings { dir: None, max_size: 0, upload_idle_timeout: Duration::ZERO },
            kerberos: KerberosSettings { keytab: None, service: String::new(), realms: String::new() },
            dns: DnsSettings {
                servers: Vec::new(),
                timeout: Duration::ZERO,
                cache_ttl: Duration::ZERO,
                enabled: false,
            },
            session: SessionSettings {
                idle_timeout: Duration::ZERO,
                absolute_timeout: Duration::ZERO,
                staff_idle_timeout: Duration::ZERO,
                staff_absolute_timeout: Duration::ZERO,
                remember_me: false,
                remember_me_timeout: Duration::ZERO,
            },
            guard: GuardSettings {
                enabled: false,
                max_failures: 0,
                find_time: Duration::ZERO,
                ban_time: Duration::ZERO,
                ban_time_max: Duration::ZERO,
                ignore_networks: Networks::default(),
                user_account_failures: 0,
                staff_account_failures: 0,
                account_delay: Duration::ZERO,
                account_delay_max: Duration::ZERO,
                address_link_timeout: Duration::ZERO,
                address_trust_time: Duration::ZERO,
                max_tracked: 0,
            },
            mail: MailSettings {
                relay: String::new(),
                port: 0,
                security: String::new(),
                ca_file: None,
                username: String::new(),
                from: String::new(),
                timeout: Duration::ZERO,
                retry_delay: Duration::ZERO,
                max_attempts: 0,
            },
            notify: NotifySettings {
                login_success: Vec::new(),
                login_failure: Vec::new(),
                bans: false,
                interval: Duration::ZERO,
            },
        }
    }
}
