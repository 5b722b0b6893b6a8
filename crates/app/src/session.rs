//! Sessions: an opaque random token in a cookie, stored server-side under its SHA-256.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use deskward_core::Role;
use deskward_core::authz::Actor;
use deskward_core::class::Features;
use deskward_store::{AccountRow, ClassRow, GroupRow, Housekeeping, SessionRow, SessionRuleRow};
use sha2::{Digest, Sha256};

use crate::{App, AppError, Caller, Source};

/// How long sessions of one kind last, in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lifetimes {
    /// Without a request (other than background ones) the session ends after this.
    pub idle: i64,
    /// After login the session ends after this, whatever happens.
    pub absolute: i64,
}

/// Session lifetimes per role (`[session]`), which a domain may override
/// (`session_rules.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionRules {
    pub users: Lifetimes,
    /// Agents and administrators.
    pub staff: Lifetimes,
    /// Whether users may ask to be remembered.
    pub remember_me: bool,
    /// How long a remembered user session lasts.
    pub remember_me_timeout: i64,
    /// The idle deadline is moved at most this often, so reads do not write on every request.
    pub touch_interval: i64,
}

impl Default for SessionRules {
    fn default() -> Self {
        SessionRules {
            users: Lifetimes { idle: 3600, absolute: 12 * 3600 },
            staff: Lifetimes { idle: 1800, absolute: 10 * 3600 },
            remember_me: true,
            remember_me_timeout: 30 * 86_400,
            touch_interval: 60,
        }
    }
}

impl SessionRules {
    /// These rules with a domain's overrides applied.
    pub fn with(&self, d: &SessionRuleRow) -> SessionRules {
        SessionRules {
            users: Lifetimes { idle: d.users_idle.unwrap_or(self.users.idle), absolute: d.users_absolute.unwrap_or(self.users.absolute) },
            staff: Lifetimes { idle: d.staff_idle.unwrap_or(self.staff.idle), absolute: d.staff_absolute.unwrap_or(self.staff.absolute) },
            remember_me: d.remember_me.unwrap_or(self.remember_me),
            ..*self
        }
    }

    /// The lifetimes of a new session, and whether it is remembered: only users may be, and
    /// only where remembering is allowed.
    pub fn for_login(&self, role: Role, remember: bool) -> (Lifetimes, bool) {
        match role {
            Role::User if remember && self.remember_me => {
                (Lifetimes { idle: self.remember_me_timeout, absolute: self.remember_me_timeout }, true)
            }
            Role::User => (self.users, false),
            _ => (self.staff, false),
        }
    }
}

/// How often expired sessions are deleted.
pub const PURGE_EVERY: std::time::Duration = std::time::Duration::from_secs(600);

/// A request's verified identity.
#[derive(Debug, Clone)]
pub struct Authenticated {
    pub session: SessionRow,
    pub account: AccountRow,
    /// Names of the account's groups.
    pub groups: Vec<String>,
    /// Ids of the same groups, for access decisions.
    pub group_ids: Vec<i64>,
    /// What the account's class lets it use.
    pub features: Features,
}

impl Authenticated {
    /// The caller this session stands for, seen from `source`.
    pub fn caller(&self, source: Source) -> Caller {
        Caller {
            actor: self.actor(),
            name: self.account.login(),
            source,
            features: self.features,
            groups: self.group_ids.clone(),
            acting: self.session.acting_admin.as_ref().map(|a| a.1.clone()),
        }
    }

    pub fn actor(&self) -> Actor {
        Actor::Account {
            account_id: self.account.id,
            domain_id: self.account.domain_id,
            role: self.account.role,
        }
    }

    /// The token the session's forms carry against cross-site request forgery. It is derived
    /// from the session's token hash, which a page on another site cannot know.
    pub fn csrf_token(&self) -> String {
        let digest = Sha256::digest(format!("deskward-csrf-v1:{}", self.session.token_hash).as_bytes());
        digest.iter().take(16).map(|b| format!("{b:02x}")).collect()
    }

    /// Refuses everything but a password change while one is required.
    pub fn require_usable(&self) -> Result<&Self, AppError> {
        if self.session.password_change_required {
            Err(AppError::PasswordChangeRequired)
        } else {
            Ok(self)
        }
    }
}

pub(crate) fn new_token() -> (String, String) {
    let token = URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>());
    let hash = token_hash(&token);
    (token, hash)
}

pub(crate) fn token_hash(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// A session's identity with the account's groups and class features, which the
/// authentication epoch covers (changing either bumps it), so the cache may keep them.
/// `memberships`: the groups when the caller read them already.
async fn authenticated(c: &mut deskward_store::Conn, session: SessionRow, account: AccountRow, memberships: Option<Vec<(i64, String)>>) -> Result<Authenticated, AppError> {
    let memberships = match memberships {
        Some(m) => m,
        None => GroupRow::memberships(c, account.id).await?,
    };
    let features = match account.class_id {
        Some(id) => ClassRow::get(c, id).await?.map_or(Features::ALL, |k| k.features),
        None => Features::ALL,
    };
    Ok(identity(session, account, memberships, features))
}

fn identity(session: SessionRow, account: AccountRow, memberships: Vec<(i64, String)>, features: Features) -> Authenticated {
    let (group_ids, groups) = memberships.into_iter().unzip();
    Authenticated { session, account, groups, group_ids, features }
}

impl App {
    /// The identity a login just opened, as a session's requests will see it. A login that
    /// read the groups with its session's insert costs no further read unless the account
    /// has a class.
    pub async fn authenticated(&self, outcome: crate::LoginOutcome) -> Result<(String, Authenticated), AppError> {
        let crate::LoginOutcome { token, session, account, memberships } = outcome;
        let auth = match (memberships, account.class_id) {
            (Some(memberships), None) => identity(session, account, memberships, Features::ALL),
            (memberships, _) => authenticated(&mut *self.store.conn().await?, session, account, memberships).await?,
        };
        Ok((token, auth))
    }

    /// Checks a session token; ends the session when it expired or its account was disabled.
    /// A `background` request (one a page makes by itself) does not extend the session.
    pub async fn authenticate(&self, token: &str, background: bool) -> Result<Authenticated, AppError> {
        // A valid token is 43 base64url characters; anything else cannot match and is not looked up.
        if token.len() != 43 || !token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
            return Err(AppError::Unauthenticated);
        }
        let hash = token_hash(token);
        let now = self.now();
        if let Some(hit) = self.auth_cache.get(&hash) {
            if now < hit.session.expires_at && now < hit.session.idle_expires_at {
                return if background { Ok(hit) } else { self.touch_if_due(hit, now).await };
            }
            self.auth_cache.remove(&hash);
        }
        let generation = self.auth_cache.generation();
        let mut c = self.store.conn().await?;
        let session = SessionRow::find(&mut c, &hash).await?.ok_or(AppError::Unauthenticated)?;
        let account = AccountRow::get(&mut c, session.account_id).await?;
        let live = now < session.expires_at && now < session.idle_expires_at;
        let Some(account) = account.filter(|a| live && !a.disabled && !a.domain_disabled) else {
            drop(c);
            let mut tx = self.store.begin().await?;
            SessionRow::delete(&mut tx, &hash).await?;
            tx.commit_unaudited(Housekeeping::ExpiredSessions).await?;
            return Err(AppError::Unauthenticated);
        };
        let auth = authenticated(&mut c, session, account, None).await?;
        drop(c);
        self.auth_cache.insert(generation, hash, auth.clone());
        if background { Ok(auth) } else { self.touch_if_due(auth, now).await }
    }

    /// Moves the idle deadline, at most once per `touch_interval`.
    async fn touch_if_due(&self, mut auth: Authenticated, now: i64) -> Result<Authenticated, AppError> {
        // Short idle timeouts are moved more often, so activity always keeps a session alive.
        let interval = self.sessions.touch_interval.min(auth.session.idle_seconds / 4);
        if now - auth.session.last_seen_at < interval {
            return Ok(auth);
        }
        let generation = self.auth_cache.generation();
        let idle = (now + auth.session.idle_seconds).min(auth.session.expires_at);
        let mut c = self.store.conn().await?;
        SessionRow::touch(&mut c, &auth.session.token_hash, now, idle).await?;
        auth.session.last_seen_at = now;
        auth.session.idle_expires_at = idle;
        self.auth_cache.insert(generation, auth.session.token_hash.clone(), auth.clone());
        Ok(auth)
    }

    /// Deletes expired sessions at once and then every [`PURGE_EVERY`], so the table holds only
    /// live sessions (an expired one is also deleted when it is presented).
    pub fn start_session_purger(&self) {
        let app = self.clone();
        tokio::spawn(async move {
            loop {
                let purged = async {
                    let mut tx = app.store.begin().await?;
                    let n = SessionRow::purge_expired(&mut tx, app.now()).await?;
                    tx.commit_unaudited(Housekeeping::ExpiredSessions).await?;
                    Ok::<u64, deskward_store::StoreError>(n)
                };
                match purged.await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(sessions = n, "purged expired sessions"),
                    Err(e) => tracing::warn!(error = %e, "cannot purge expired sessions"),
                }
                if let Err(e) = app.forget_ended_bans().await {
                    tracing::warn!(error = %e, "cannot forget ended bans");
                }
                tokio::time::sleep(PURGE_EVERY).await;
            }
        });
    }

    /// Ends the session carrying `token`.
    pub async fn logout(&self, caller: &Caller, auth: &Authenticated) -> Result<(), AppError> {
        let mut tx = self.store.begin().await?;
        SessionRow::delete(&mut tx, &auth.session.token_hash).await?;
        let login = auth.account.login();
        tx.commit(self.entry(caller, &auth.account.domain, "logout", format!("account:{login}"), serde_json::json!({}))).await?;
        self.auth_cache.remove(&auth.session.token_hash);
        Ok(())
    }

    pub(crate) fn new_session(&self, account: &AccountRow, domain_rules: &SessionRuleRow, source: &Source, change_required: bool, remember: bool) -> (String, SessionRow) {
        let (token, token_hash) = new_token();
        let now = self.now();
        let (life, remembered) = self.sessions.with(domain_rules).for_login(account.role, remember);
        let expires_at = now + life.absolute;
        let row = SessionRow {
            token_hash,
            account_id: account.id,
            created_at: now,
            last_seen_at: now,
            idle_expires_at: (now + life.idle).min(expires_at),
            expires_at,
            source_ip: source.ip.clone(),
            user_agent: source.user_agent.chars().take(256).collect(),
            password_change_required: change_required,
            idle_seconds: life.idle,
            remembered,
            acting_admin: None,
        };
        (token, row)
    }
}
