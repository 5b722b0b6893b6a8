//! The wire types: the JSON API's, and the authentication plugin protocol's ([`plugin`]). Only
//! this crate, `deskward-http` and the plugin runner in `deskward-app` know a wire format;
//! the core model is converted to and from these types at the boundary.

pub mod documents;
pub mod plugin;

use serde::{Deserialize, Serialize};

/// The body of every error answer: `{"error": {"code": "...", "message": "..."}}`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ErrorDetail {
    /// Stable machine-readable code, e.g. `invalid_credentials`, `password_policy`.
    pub code: String,
    pub message: String,
    /// Rules a refused password broke, when `code` is `password_policy`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub violations: Vec<PolicyViolation>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PolicyViolation {
    pub rule: String,
    pub message: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub login: String,
    pub password: String,
    /// Ask for a session that outlives the browser (users only, where allowed).
    #[serde(default)]
    pub remember: bool,
}

/// Who is logged in; the answer of `POST /session` and `GET /me`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Me {
    pub login: String,
    pub domain: String,
    pub role: String,
    pub class: Option<String>,
    pub groups: Vec<String>,
    /// When true, only `GET /me`, `PUT /me/password` and `DELETE /session` work until the
    /// password is changed.
    pub password_change_required: bool,
    pub session_expires_at: String,
    /// The session was remembered: its cookie outlives the browser.
    #[serde(default)]
    pub remembered: bool,
    /// The administrator acting for this account in this session, if one opened it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acting_admin: Option<String>,
}

/// Why an administrator opens a session of an account.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImpersonateRequest {
    pub reason: String,
}

/// A session an administrator opened acting for an account.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Impersonation {
    /// The session's token, shown once: send it as `Authorization: Bearer`.
    pub token: String,
    pub session: Me,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChangePasswordRequest {
    pub current_password: String,
    pub new_password: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Domain {
    pub name: String,
    pub disabled: bool,
    pub created_at: String,
    pub accounts: i64,
    /// Days the domain's audit records stay in the store before they are archived to files;
    /// `null` keeps them forever.
    pub audit_retention_days: Option<i64>,
    /// Whether the domain's instant-messaging conversations are logged.
    pub im_logging: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateDomain {
    pub name: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateDomain {
    pub disabled: Option<bool>,
    /// Days to keep audit records in the store (system admins only); `0` keeps them forever.
    pub audit_retention_days: Option<u32>,
    /// Log the domain's conversations, or stop (system admins only).
    pub im_logging: Option<bool>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Account {
    pub login: String,
    pub role: String,
    pub class: Option<String>,
    pub disabled: bool,
    pub must_change_password: bool,
    pub groups: Vec<String>,
    pub created_at: String,
    pub password_changed_at: Option<String>,
    pub last_login_at: Option<String>,
    /// Where Deskward's mail to the account goes; `null` means its login address.
    #[serde(default)]
    pub email: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateAccount {
    /// The part before `@`; the domain comes from the path.
    pub name: String,
    pub role: String,
    #[serde(default)]
    pub class: Option<String>,
    /// Optional: an account without a password cannot log in until one is set.
    #[serde(default)]
    pub password: Option<String>,
    #[serde(default)]
    pub must_change_password: bool,
    /// Where Deskward's mail to the account goes; unset means its login address.
    #[serde(default)]
    pub email: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct UpdateAccount {
    pub role: Option<String>,
    /// `""` removes the class.
    pub class: Option<String>,
    pub disabled: Option<bool>,
    pub must_change_password: Option<bool>,
    /// `""` removes the address, so mail goes to the login address.
    pub email: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetPassword {
    pub password: String,
    #[serde(default)]
    pub must_change_password: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Group {
    pub name: String,
    pub members: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateGroup {
    pub name: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct Features {
    pub web: bool,
    pub mail: bool,
    pub im: bool,
    pub documents: bool,
    pub helpdesk: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct UserClass {
    pub name: String,
    pub features: Features,
    pub quota_storage_bytes: Option<i64>,
    pub quota_documents: Option<i64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateUserClass {
    pub name: String,
    #[serde(default)]
    pub features: Option<Features>,
    #[serde(default)]
    pub quota_storage_bytes: Option<i64>,
    #[serde(default)]
    pub quota_documents: Option<i64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct UpdateUserClass {
    pub features: Option<Features>,
    /// `-1` removes the quota.
    pub quota_storage_bytes: Option<i64>,
    pub quota_documents: Option<i64>,
}

/// A domain's password policy for one audience (`users`, or `staff` = agents and admins).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PasswordPolicy {
    pub min_length: u32,
    pub min_non_letters: u32,
    pub require_lowercase: bool,
    pub require_uppercase: bool,
    pub require_digit: bool,
    pub require_symbol: bool,
    pub reject_common: bool,
    /// Days after which a password expires; `null` = never.
    pub max_age_days: Option<u32>,
    /// How many previous passwords may not be reused.
    pub history: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Health {
    pub status: String,
    pub version: String,
}

/// One audit record, as the API answers it and as `deskward audit export` writes it (one per
/// line). `hash` covers every field but `time`, which repeats `at` for people.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditRecord {
    /// The domain, or `_system`.
    pub chain: String,
    pub seq: i64,
    /// UTC, RFC 3339.
    pub time: String,
    /// Unix seconds.
    pub at: i64,
    pub security: bool,
    pub action: String,
    pub actor: String,
    pub source_ip: String,
    pub source_host: String,
    pub target: String,
    pub summary: serde_json::Value,
    /// The administrator acting for `actor` (an impersonation session); absent when none.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub acting: String,
    pub prev_hash: String,
    pub hash: String,
}

/// A chain of audit records: one per domain, and `_system`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditChain {
    pub chain: String,
    /// The last record's number.
    pub records: i64,
    pub last_day: String,
    pub head_hash: String,
    /// Records up to this one were archived to files and removed.
    pub archived_through: i64,
}

/// A day of a chain that has records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditDay {
    /// `yyyy-mm-dd`, UTC.
    pub day: String,
    pub records: i64,
}

/// A ban: logins from `network` are refused until `until`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Ban {
    /// An address (`203.0.113.9`) or a CIDR range (`2001:db8:1:2::/64`).
    pub network: String,
    pub until: String,
    /// How many times the guard banned this network; each ban doubles the next.
    pub offences: i64,
    /// `failures` (the guard) or `manual`.
    pub reason: String,
    pub created_at: String,
    /// `guard`, `operator`, or the administrator's login.
    pub created_by: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateBan {
    pub network: String,
    /// Length in seconds; absent means `guard.ban_time_max`.
    #[serde(default)]
    pub seconds: Option<i64>,
}

/// A live session, as its owner or an administrator sees it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SessionInfo {
    /// The session's public id (16 hex digits); it cannot be used to log in.
    pub id: String,
    pub login: String,
    pub created_at: String,
    pub last_seen_at: String,
    /// When it ends unless a request (not a background one) comes first.
    pub idle_expires_at: String,
    /// When it ends whatever happens.
    pub expires_at: String,
    pub source_ip: String,
    /// The address's host name, when known.
    pub source_host: String,
    pub user_agent: String,
    pub remembered: bool,
    /// The session this request was made with.
    pub current: bool,
    /// The administrator who opened it acting for the account, if one did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acting_admin: Option<String>,
}

/// A domain's overrides of the server's session settings; `null` keeps the server's.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SessionRuleOverrides {
    #[serde(default)]
    pub users_idle_seconds: Option<i64>,
    #[serde(default)]
    pub users_absolute_seconds: Option<i64>,
    #[serde(default)]
    pub staff_idle_seconds: Option<i64>,
    #[serde(default)]
    pub staff_absolute_seconds: Option<i64>,
    #[serde(default)]
    pub remember_me: Option<bool>,
}

/// The session rules a domain's new sessions follow.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct EffectiveSessionRules {
    pub users_idle_seconds: i64,
    pub users_absolute_seconds: i64,
    pub staff_idle_seconds: i64,
    pub staff_absolute_seconds: i64,
    pub remember_me: bool,
    pub remember_me_seconds: i64,
}

/// `GET /domains/{domain}/session-rules`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DomainSessionRules {
    pub overrides: SessionRuleOverrides,
    pub effective: EffectiveSessionRules,
}

/// One role's login mails in a domain (`GET /domains/{domain}/notifications`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RoleNotifications {
    pub role: String,
    /// Mailed on each successful login.
    pub login_success: bool,
    /// Mailed when a login on the account fails (at most once per `notify.interval`).
    pub login_failure: bool,
    /// Set by the domain; `false` means the server's `[notify]` setting applies.
    #[serde(default)]
    pub own: bool,
}

/// `PUT /domains/{domain}/notifications`: the domain's own switches; roles left out follow
/// the server's `[notify]` settings.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SetNotifications {
    pub roles: Vec<SetRoleNotifications>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SetRoleNotifications {
    pub role: String,
    pub login_success: bool,
    pub login_failure: bool,
}

/// A message in the outbox (`GET /mail/outbox`); bodies are never shown.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct OutboxMessage {
    pub id: i64,
    /// The audit chain (domain, or `_system`) its delivery is recorded in.
    pub chain: String,
    /// `login.success`, `login.failure`, `ban`, `test`, …
    pub kind: String,
    pub recipient: String,
    pub subject: String,
    /// `queued`, `sent` or `failed`.
    pub state: String,
    pub attempts: i64,
    pub created_at: String,
    /// When it is tried next (queued messages).
    pub next_attempt_at: Option<String>,
    pub last_error: Option<String>,
    pub done_at: Option<String>,
}

/// `POST /mail/test`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TestMail {
    pub to: String,
}

/// The answer to `POST /mail/test`: the queued message's id.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Queued {
    pub id: i64,
}

/// A domain's allow-list (`GET /domains/{domain}/allow-list`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AllowList {
    /// Addresses and CIDR ranges; empty means no allow-list.
    pub networks: Vec<String>,
    /// Only domain and system administrators are held outside it.
    pub admins_only: bool,
    /// The domain's own trust time for confirmed addresses; null means the server's.
    pub trust_seconds: Option<i64>,
    pub effective_trust_seconds: i64,
}

/// `PUT /domains/{domain}/allow-list`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SetAllowList {
    pub networks: Vec<String>,
    #[serde(default)]
    pub admins_only: bool,
    #[serde(default)]
    pub trust_seconds: Option<i64>,
}

/// A domain's directory connection (`GET /domains/{domain}/directory`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Directory {
    pub url: String,
    /// `ldaps`, `starttls` or `plain`.
    pub security: String,
    /// `openldap` or `active-directory`: the defaults of the filter and attribute names.
    pub preset: String,
    /// Empty: the directory is searched anonymously.
    pub bind_dn: String,
    /// Whether the bind account's password is stored (it is never shown).
    pub bind_password_set: bool,
    pub base_dns: Vec<String>,
    pub user_filter: String,
    pub login_attribute: String,
    pub mail_attribute: String,
    pub name_attribute: String,
    pub group_attribute: String,
    pub group_map: Vec<GroupMapping>,
    pub new_account_class: Option<String>,
    pub ca_certificate: Option<String>,
    pub timeout_ms: u64,
    pub updated_at: String,
    pub last_sync_at: Option<String>,
}

/// A directory group whose members are kept in a Deskward group of the domain.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct GroupMapping {
    /// The directory group's DN, as the group attribute (memberOf) names it.
    pub directory_group: String,
    pub group: String,
}

/// What a sync did (`POST /domains/{domain}/directory/sync`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DirectorySync {
    pub entries: usize,
    pub accounts: usize,
    pub blocked: Vec<String>,
    pub unblocked: Vec<String>,
    pub regrouped: Vec<String>,
    /// Accounts whose mail address followed the directory's.
    pub remailed: Vec<String>,
}

/// `PUT /domains/{domain}/directory`. Left out, the filter and attribute names are the preset's.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SetDirectory {
    pub url: String,
    pub security: String,
    pub preset: String,
    #[serde(default)]
    pub bind_dn: String,
    pub base_dns: Vec<String>,
    #[serde(default)]
    pub user_filter: Option<String>,
    #[serde(default)]
    pub login_attribute: Option<String>,
    #[serde(default)]
    pub mail_attribute: Option<String>,
    #[serde(default)]
    pub name_attribute: Option<String>,
    #[serde(default)]
    pub group_attribute: Option<String>,
    #[serde(default)]
    pub group_map: Vec<GroupMapping>,
    #[serde(default)]
    pub new_account_class: Option<String>,
    #[serde(default)]
    pub ca_certificate: Option<String>,
    #[serde(default)]
    pub timeout_ms: Option<i64>,
}

/// `POST /domains/{domain}/directory/test`: connect and bind; with `login`, also look it up.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct TestDirectory {
    #[serde(default)]
    pub login: Option<String>,
}

/// What a directory says of one person.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DirectoryEntry {
    pub dn: String,
    pub mail: Option<String>,
    pub name: Option<String>,
    pub groups: Vec<String>,
    pub disabled: bool,
}

/// The answer of a connection test that succeeded.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DirectoryTestResult {
    pub connected: bool,
    pub entry: Option<DirectoryEntry>,
}

/// `PUT /domains/{domain}/directory/bind-password`, kept in the secrets store.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BindPassword {
    pub password: String,
}

impl std::fmt::Debug for BindPassword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BindPassword { .. }")
    }
}

/// `PUT /mail/relay-password`: the password of `mail.username`, kept in the secrets store.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RelayPassword {
    pub password: String,
}

impl std::fmt::Debug for RelayPassword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RelayPassword { .. }")
    }
}

/// `POST /secrets/enable`: both acknowledgements must be true.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct EnableEncryption {
    /// Losing the key file loses every encrypted secret.
    pub i_understand_key_loss: bool,
    /// A secure backup of the key file is prepared, apart from the database's backups.
    pub key_backed_up: bool,
}

/// `GET /secrets`: whether stored secrets are encrypted, the keys, and each secret's state
/// (never its value).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SecretsState {
    pub enabled: bool,
    pub key_file: String,
    /// Why the stored secrets are locked (the key file is missing, unreadable or wrong).
    pub key_problem: Option<String>,
    pub keys: Vec<SecretKeyInfo>,
    pub secrets: Vec<StoredSecret>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SecretKeyInfo {
    pub key_id: String,
    pub active: bool,
    pub created_at: String,
    pub retired_at: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct StoredSecret {
    /// What it belongs to, like `mail.relay`.
    pub owner: String,
    pub field: String,
    /// The key it is sealed with; `null` when stored in the clear.
    pub sealed_with: Option<String>,
    pub updated_at: String,
    /// Why it does not open, if it does not.
    pub problem: Option<String>,
}

/// `/domains/{domain}/auth-order`: the back ends that check the domain's logins, in order.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AuthOrder {
    pub domain: String,
    /// `local`, `directory` or `plugin:<name>`, first to last.
    pub backends: Vec<String>,
    /// The domain keeps the default order: local, then its directory if it has one.
    pub default: bool,
    /// The plugins the server's configuration defines.
    pub plugins: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetAuthOrder {
    pub backends: Vec<String>,
}
