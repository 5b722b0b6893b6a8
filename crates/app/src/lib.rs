//! Deskward's use cases, shared by the JSON API and the CLI: log in, check a session, manage
//! domains, accounts, groups, user classes and password policies. Each operation checks the
//! actor's authority (core rules), runs in one store transaction, and maps failures to
//! [`AppError`], which the HTTP layer turns into status codes and the CLI into messages.

mod accounts;
mod acl_cache;
mod allow_list;
mod audit;
mod auth_order;
mod auth_cache;
mod bans;
pub mod blobs;
mod classes;
mod conversations;
mod directory;
mod directory_sync;
mod document_access;
mod document_content;
mod documents;
mod domains;
mod error;
mod event_limit;
mod external;
mod groups;
mod guard;
mod hasher;
mod host_names;
mod impersonation;
mod import;
pub mod kerberos;
mod ldap;
mod login;
mod login_settings;
mod notify;
mod outbox;
pub mod plugin;
mod policy;
mod retention;
mod secrets;
mod session;
mod session_admin;
mod session_rules;
mod sharing;

pub use accounts::{AccountChange, NewAccountInput};
pub use allow_list::{AddressRules, AllowList, PendingAddress};
pub use audit::{Caller, EventQueue};
pub use auth_cache::AuthCache;
pub use auth_order::{AuthOrder, Backend};
pub use bans::MAX_BAN_SECONDS;
pub use guard::{Guard, GuardRules, Verdict};
pub use classes::{ClassChange, NewClass};
pub use conversations::ConversationMessage;
pub use directory::{Directory, DirectoryInput, DirectoryTest, Preset, Security};
pub use directory_sync::SyncReport;
pub use ldap::DirectoryUser;
pub use error::AppError;
pub use event_limit::EventLimit;
pub use hasher::{Hasher, HasherLimits, ThreadHooks};
pub use host_names::HostNames;
pub use import::{ImportRecord, ImportSummary};
pub use login::LoginOutcome;
pub use notify::{NotifyRules, RoleNotifications, address_of};
pub use plugin::{PluginSpec, Plugins};
pub use outbox::{MAX_LISTED as MAX_LISTED_MAIL, RetryRules, SendFailure};
pub use retention::MAX_RETENTION_DAYS;
pub use secrets::{Acknowledgements, KeyFiles, Rotation, RotationStage, SecretInfo, Secrets, SecretsStatus};
pub use session::{Authenticated, Lifetimes, SessionRules};
pub use session_admin::SessionEntry;
pub use document_access::{Access, MAX_DEPTH};
pub use document_content::Content;
pub use documents::{ItemDetail, ItemView, Listing};
pub use sharing::{AclView, Explanation, GrantInput, GrantView, ReasonView, UsageView, MIN_SHARE_PASSWORD};

pub use deskward_core::authz::Actor;
pub use deskward_store as store;

use std::sync::Arc;

use deskward_core::net::Networks;
use deskward_store::Store;

/// A random 256-bit value, base64url without padding (43 characters): for tokens that are
/// not sessions, such as a form's CSRF value.
pub fn random_token() -> String {
    session::new_token().0
}

/// Whether `s` has the shape of a [`random_token`]: anything else is refused unread.
pub fn is_token(s: &str) -> bool {
    s.len() == 43 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Where a request came from; recorded with sessions and audit records.
#[derive(Debug, Clone, Default)]
pub struct Source {
    pub ip: String,
    /// The host name of `ip` when it is known (the command line's host).
    pub host: String,
    pub user_agent: String,
}

/// Wall-clock time, injected so tests can move it.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// Unix seconds.
    fn now(&self) -> i64;
}

#[derive(Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
    }
}

/// The system clock moved by a fixed number of seconds: lets tests see what happens days
/// later (retention, expiry) without waiting.
#[derive(Debug)]
pub struct ShiftedClock(pub i64);

impl Clock for ShiftedClock {
    fn now(&self) -> i64 {
        SystemClock.now().saturating_add(self.0)
    }
}

/// Where staff may work from (`http.admin_networks`, `http.agent_networks`); empty means
/// anywhere.
#[derive(Debug, Clone, Default)]
pub struct NetworkRules {
    pub admins: Networks,
    pub agents: Networks,
}

/// The application: a store, a password hasher, a clock, the session rules and the guard.
#[derive(Debug, Clone)]
pub struct App {
    pub store: Store,
    pub hasher: Hasher,
    pub clock: Arc<dyn Clock>,
    pub sessions: SessionRules,
    pub auth_cache: Arc<AuthCache>,
    pub events: Arc<EventQueue>,
    pub guard: Arc<Guard>,
    pub networks: Arc<NetworkRules>,
    pub host_names: HostNames,
    pub notify: Arc<NotifyRules>,
    pub addresses: AddressRules,
    pub secrets: Secrets,
    /// Idle directory connections, reused by directory logins.
    pub directories: Arc<ldap::Pool>,
    /// The authentication plugins the configuration defines, started on first use.
    pub plugins: Arc<plugin::Plugins>,
    /// Web single sign-on, when a keytab is configured.
    pub kerberos: Option<Arc<kerberos::Kerberos>>,
    /// Items' ancestor chains, for access decisions without a database round trip.
    pub acl_cache: Arc<acl_cache::AclCache>,
    /// Domains' login settings, so a login reads only its account (`login_settings.rs`).
    pub login_settings: Arc<login_settings::LoginSettingsCache>,
    /// Where document content is kept; `None` until the server sets it up.
    pub blobs: Option<blobs::Blobs>,
    /// The largest document accepted (`documents.max_size`).
    pub max_document_bytes: u64,
}

impl App {
    pub fn new(store: Store, hasher: Hasher) -> App {
        App {
            store,
            hasher,
            clock: Arc::new(SystemClock),
            sessions: SessionRules::default(),
            auth_cache: Arc::default(),
            events: Arc::default(),
            guard: Arc::new(Guard::new(GuardRules::default())),
            networks: Arc::default(),
            host_names: HostNames::off(),
            notify: Arc::default(),
            addresses: AddressRules::default(),
            secrets: Secrets::default(),
            directories: Arc::default(),
            plugins: Arc::default(),
            kerberos: None,
            acl_cache: Arc::default(),
            login_settings: Arc::default(),
            blobs: None,
            max_document_bytes: 4 << 30,
        }
    }

    pub fn now(&self) -> i64 {
        self.clock.now()
    }

    /// Starts the server's background work: the epoch poller (authentication cache, bans), the
    /// purge of expired sessions and old bans, the writer of security events, and the closing of
    /// idle directory connections; and hands the hashing threads the server's `hooks` (a lower
    /// priority, giving freed memory back to the system). The CLI runs none.
    pub fn start_background_tasks(&self, hooks: ThreadHooks) {
        self.start_event_writer();
        self.start_epoch_poller();
        self.hasher.use_hooks(hooks);
        self.start_session_purger();
        let directories = self.directories.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(std::time::Duration::from_secs(10)).await;
                directories.trim();
            }
        });
    }

    /// True once a system administrator exists; the first start explains how to make one.
    pub async fn has_system_admin(&self) -> Result<bool, AppError> {
        let mut c = self.store.conn().await?;
        Ok(store::AccountRow::count_role(&mut c, deskward_core::Role::SystemAdmin).await? > 0)
    }
}
