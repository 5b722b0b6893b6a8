//! Directory authentication (A1): a domain's LDAP or Active Directory connection, its bind
//! password in the secrets store, and the login of accounts the directory vouches for.
//!
//! Only system administrators connect, change or test a directory: its URL makes the server
//! open connections, which a domain administrator must not be able to aim at the server's own
//! network. Domain administrators see their domain's settings.
//!
//! A directory never takes over a local account: an account made by an administrator keeps
//! its own password. The directory authenticates the accounts it made at their first login
//! (`accounts.directory_dn`), and a login that names no account when the domain has one.

use std::collections::HashMap;
use std::time::Duration;

use deskward_core::audit::clean_field;
use deskward_core::Login;
use deskward_store::{AccountRow, Conn, DirectoryRow, GroupMapRow, GroupRow};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use serde_json::json;
use zeroize::Zeroizing;

use crate::accounts::class_id;
use crate::domains::administered;
use crate::ldap::{self, DirectoryError, DirectoryUser};
use crate::external::Origin;
use crate::{App, AppError, Caller};

/// How the connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// TLS from the first byte (`ldaps://`).
    Ldaps,
    /// `ldap://` upgraded with StartTLS before anything is sent.
    StartTls,
    /// No transport security: passwords cross the network in the clear. Only when chosen.
    Plain,
}

impl Security {
    pub fn as_str(self) -> &'static str {
        match self {
            Security::Ldaps => "ldaps",
            Security::StartTls => "starttls",
            Security::Plain => "plain",
        }
    }

    fn parse(s: &str) -> Result<Security, AppError> {
        match s {
            "ldaps" => Ok(Security::Ldaps),
            "starttls" => Ok(Security::StartTls),
            "plain" => Ok(Security::Plain),
            other => Err(AppError::Invalid(format!("security must be ldaps, starttls or plain, not {:?}", clean_field(other)))),
        }
    }
}

/// Attribute names of the usual directories; a domain overrides any of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Preset {
    OpenLdap,
    ActiveDirectory,
}

impl Preset {
    pub fn as_str(self) -> &'static str {
        match self {
            Preset::OpenLdap => "openldap",
            Preset::ActiveDirectory => "active-directory",
        }
    }

    fn parse(s: &str) -> Result<Preset, AppError> {
        match s {
            "openldap" => Ok(Preset::OpenLdap),
            "active-directory" => Ok(Preset::ActiveDirectory),
            other => Err(AppError::Invalid(format!("preset must be openldap or active-directory, not {:?}", clean_field(other)))),
        }
    }

    /// (user filter, login, mail, display name, groups).
    fn defaults(self) -> (&'static str, &'static str, &'static str, &'static str, &'static str) {
        match self {
            Preset::OpenLdap => ("(&(objectClass=inetOrgPerson)(uid={user}))", "uid", "mail", "cn", "memberOf"),
            Preset::ActiveDirectory => ("(&(objectClass=user)(sAMAccountName={user}))", "sAMAccountName", "mail", "displayName", "memberOf"),
        }
    }
}

/// A domain's directory, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Directory {
    pub domain: String,
    pub url: String,
    pub security: Security,
    pub preset: Preset,
    /// Empty: anonymous search.
    pub bind_dn: String,
    pub base_dns: Vec<String>,
    pub user_filter: String,
    pub login_attribute: String,
    pub mail_attribute: String,
    pub name_attribute: String,
    pub group_attribute: String,
    /// (directory group DN, Deskward group): the group's directory accounts follow the
    /// directory group's members.
    pub group_map: Vec<(String, String)>,
    pub new_account_class: Option<String>,
    pub ca_certificate: Option<String>,
    pub timeout: Duration,
    /// Whether the bind password is stored (never the password itself).
    pub bind_password_set: bool,
    pub updated_at: i64,
    pub last_sync_at: Option<i64>,
}

/// What an administrator sets; `None` takes the preset's value.
#[derive(Debug, Clone, Default)]
pub struct DirectoryInput {
    pub url: String,
    pub security: String,
    pub preset: String,
    pub bind_dn: String,
    pub base_dns: Vec<String>,
    pub user_filter: Option<String>,
    pub login_attribute: Option<String>,
    pub mail_attribute: Option<String>,
    pub name_attribute: Option<String>,
    pub group_attribute: Option<String>,
    /// (directory group DN, Deskward group of the domain).
    pub group_map: Vec<(String, String)>,
    pub new_account_class: Option<String>,
    pub ca_certificate: Option<String>,
    pub timeout_ms: Option<i64>,
}

/// The answer of a connection test.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectoryTest {
    /// The entry found for the login asked about, if one was.
    pub entry: Option<DirectoryUser>,
}

const DEFAULT_TIMEOUT_MS: i64 = 5000;
const TIMEOUT_BOUNDS_MS: (i64, i64) = (200, 30_000);
const MAX_BASES: usize = 20;
const MAX_GROUP_MAP: usize = 500;
const MAX_TEXT: usize = 1024;
const MAX_CA_PEM: usize = 64 * 1024;
/// The bind password's field in the secrets store; its owner is `directory:<domain>`.
const BIND_FIELD: &str = "bind_password";

pub(crate) fn secret_owner(domain: &str) -> String {
    format!("directory:{domain}")
}

fn text(what: &str, value: &str, may_be_empty: bool) -> Result<String, AppError> {
    let value = value.trim();
    if value.is_empty() && !may_be_empty {
        return Err(AppError::Invalid(format!("{what} is empty")));
    }
    if value.len() > MAX_TEXT {
        return Err(AppError::Invalid(format!("{what} is longer than {MAX_TEXT} bytes")));
    }
    if value.chars().any(char::is_control) {
        return Err(AppError::Invalid(format!("{what} contains a control character")));
    }
    Ok(value.to_owned())
}

/// `ldap://host[:port]` or `ldaps://host[:port]`, nothing else (no path, query or credentials).
fn check_url(url: &str, security: Security) -> Result<String, AppError> {
    let url = url.trim_end_matches('/');
    let bad = || AppError::Invalid(format!("url must look like ldaps://host:636 or ldap://host:389, not {:?}", clean_field(url)));
    let (scheme, rest) = url.split_once("://").ok_or_else(bad)?;
    let (host, port) = match rest.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(':') && (h.starts_with('[') || !h.contains(':')) => (h, Some(p)),
        _ => (rest, None),
    };
    let host_ok = if let Some(v6) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        v6.parse::<std::net::Ipv6Addr>().is_ok()
    } else {
        !host.is_empty() && host.len() <= 253 && host.chars().all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
    };
    let port_ok = port.is_none_or(|p| p.parse::<u16>().is_ok_and(|p| p > 0));
    if !host_ok || !port_ok {
        return Err(bad());
    }
    match (scheme, security) {
        ("ldaps", Security::Ldaps) | ("ldap", Security::StartTls | Security::Plain) => Ok(url.to_owned()),
        ("ldaps", _) => Err(AppError::Invalid("an ldaps:// URL goes with security ldaps".into())),
        ("ldap", _) => Err(AppError::Invalid("an ldap:// URL goes with security starttls, or plain when you accept passwords in the clear on the network".into())),
        _ => Err(bad()),
    }
}

fn attribute(what: &str, value: &str) -> Result<String, AppError> {
    let ok = value.len() <= 128
        && (value.chars().next().is_some_and(|c| c.is_ascii_alphabetic()) && value.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            || !value.is_empty() && value.chars().all(|c| c.is_ascii_digit() || c == '.'));
    if ok { Ok(value.to_owned()) } else { Err(AppError::Invalid(format!("{what} must be an attribute name like mail or memberOf, not {:?}", clean_field(value)))) }
}

fn check_filter(template: &str) -> Result<String, AppError> {
    let template = text("user_filter", template, false)?;
    if !["{user}", "{login}"].iter().any(|p| template.contains(p)) {
        return Err(AppError::Invalid("user_filter must contain {user} or {login}, which the login's parts replace".into()));
    }
    if ldap3::parse_filter(ldap::user_filter(&template, "someone", "example.org")).is_err() {
        return Err(AppError::Invalid(format!("user_filter is not an LDAP filter: {:?}", clean_field(&template))));
    }
    Ok(template)
}

fn check_ca(pem: &str) -> Result<String, AppError> {
    if pem.len() > MAX_CA_PEM {
        return Err(AppError::Invalid(format!("ca_certificate is longer than {MAX_CA_PEM} bytes")));
    }
    let certs: Result<Vec<_>, _> = CertificateDer::pem_slice_iter(pem.as_bytes()).collect();
    match certs {
        Ok(c) if !c.is_empty() => Ok(pem.trim().to_owned()),
        Ok(_) => Err(AppError::Invalid("ca_certificate holds no PEM certificate".into())),
        Err(e) => Err(AppError::Invalid(format!("ca_certificate cannot be read: {e}"))),
    }
}

impl Directory {
    fn of_row(domain: &str, row: &DirectoryRow, map: &[GroupMapRow], bind_password_set: bool) -> Result<Directory, AppError> {
        let corrupt = |e: AppError| AppError::Internal(format!("stored directory of {domain}: {e}"));
        Ok(Directory {
            domain: domain.to_owned(),
            url: row.url.clone(),
            security: Security::parse(&row.security).map_err(corrupt)?,
            preset: Preset::parse(&row.preset).map_err(corrupt)?,
            bind_dn: row.bind_dn.clone(),
            base_dns: row.base_dns.lines().map(str::to_owned).collect(),
            user_filter: row.user_filter.clone(),
            login_attribute: row.login_attribute.clone(),
            mail_attribute: row.mail_attribute.clone(),
            name_attribute: row.name_attribute.clone(),
            group_attribute: row.group_attribute.clone(),
            group_map: map.iter().map(|m| (m.directory_group.clone(), m.group.clone())).collect(),
            new_account_class: row.new_account_class.clone(),
            ca_certificate: row.ca_certificate.clone(),
            timeout: Duration::from_millis(row.timeout_ms.clamp(TIMEOUT_BOUNDS_MS.0, TIMEOUT_BOUNDS_MS.1).unsigned_abs()),
            bind_password_set,
            updated_at: row.updated_at,
            last_sync_at: row.last_sync_at,
        })
    }

    /// The attributes a search asks for.
    pub(crate) fn attributes(&self) -> Vec<String> {
        let mut a = vec![self.login_attribute.clone(), self.mail_attribute.clone(), self.name_attribute.clone(), self.group_attribute.clone()];
        if self.preset == Preset::ActiveDirectory {
            a.push("userAccountControl".into());
        }
        a
    }

    /// The person an entry describes.
    pub(crate) fn user_of(&self, dn: String, attrs: &HashMap<String, Vec<String>>) -> DirectoryUser {
        // Active Directory's ACCOUNTDISABLE flag.
        let disabled = self.preset == Preset::ActiveDirectory && ldap::first(attrs, "userAccountControl").and_then(|v| v.parse::<u32>().ok()).is_some_and(|v| v & 2 != 0);
        DirectoryUser {
            dn,
            login: ldap::first(attrs, &self.login_attribute).map(str::to_ascii_lowercase),
            mail: ldap::first(attrs, &self.mail_attribute).map(str::to_owned),
            name: ldap::first(attrs, &self.name_attribute).map(str::to_owned),
            groups: ldap::all(attrs, &self.group_attribute).to_vec(),
            disabled,
        }
    }

    fn summary(&self) -> serde_json::Value {
        json!({
            "url": self.url, "security": self.security.as_str(), "preset": self.preset.as_str(),
            "bind_dn": clean_field(&self.bind_dn), "base_dns": self.base_dns, "user_filter": clean_field(&self.user_filter),
            "login_attribute": self.login_attribute, "mail_attribute": self.mail_attribute,
            "group_map": self.group_map.iter().map(|(d, g)| json!({"directory_group": clean_field(d), "group": g})).collect::<Vec<_>>(), "name_attribute": self.name_attribute, "group_attribute": self.group_attribute,
            "new_account_class": self.new_account_class, "ca_certificate": self.ca_certificate.is_some(),
            "timeout_ms": self.timeout.as_millis() as u64,
        })
    }
}

impl App {
    /// The domain's directory as its administrators see it.
    pub async fn directory(&self, caller: &Caller, domain: &str) -> Result<Directory, AppError> {
        let mut c = self.store.conn().await?;
        let d = administered(&mut c, &caller.actor, domain).await?;
        let row = DirectoryRow::get(&mut c, d.id).await?.ok_or_else(|| AppError::NotFound(format!("a directory for {}", d.name)))?;
        let set = deskward_store::secrets::SecretRow::get(&mut c, &secret_owner(&d.name), BIND_FIELD).await?.is_some();
        let map = GroupMapRow::of_domain(&mut c, d.id).await?;
        Directory::of_row(&d.name, &row, &map, set)
    }

    /// Connects the domain to a directory, or changes its settings.
    pub async fn set_directory(&self, caller: &Caller, domain: &str, input: &DirectoryInput) -> Result<Directory, AppError> {
        caller.actor.may_manage_domains("connect a domain to a directory")?;
        let security = Security::parse(input.security.trim())?;
        let preset = Preset::parse(input.preset.trim())?;
        let (filter, login, mail, name, groups) = preset.defaults();
        let url = check_url(&input.url, security)?;
        let bind_dn = text("bind_dn", &input.bind_dn, true)?;
        if input.base_dns.is_empty() || input.base_dns.len() > MAX_BASES {
            return Err(AppError::Invalid(format!("base_dns needs 1 to {MAX_BASES} search bases")));
        }
        let base_dns = input.base_dns.iter().map(|b| text("a base DN", b, false)).collect::<Result<Vec<_>, _>>()?;
        let user_filter = check_filter(input.user_filter.as_deref().unwrap_or(filter))?;
        let login_attribute = attribute("login_attribute", input.login_attribute.as_deref().unwrap_or(login))?;
        let mail_attribute = attribute("mail_attribute", input.mail_attribute.as_deref().unwrap_or(mail))?;
        let name_attribute = attribute("name_attribute", input.name_attribute.as_deref().unwrap_or(name))?;
        let group_attribute = attribute("group_attribute", input.group_attribute.as_deref().unwrap_or(groups))?;
        let ca_certificate = input.ca_certificate.as_deref().filter(|p| !p.trim().is_empty()).map(check_ca).transpose()?;
        if input.group_map.len() > MAX_GROUP_MAP {
            return Err(AppError::Invalid(format!("group_map holds at most {MAX_GROUP_MAP} entries")));
        }
        let group_map = input.group_map.iter().map(|(dn, g)| Ok((text("a directory group", dn, false)?, g.trim().to_owned()))).collect::<Result<Vec<_>, AppError>>()?;
        let timeout_ms = input.timeout_ms.unwrap_or(DEFAULT_TIMEOUT_MS);
        if !(TIMEOUT_BOUNDS_MS.0..=TIMEOUT_BOUNDS_MS.1).contains(&timeout_ms) {
            return Err(AppError::Invalid(format!("timeout_ms must be {} to {}", TIMEOUT_BOUNDS_MS.0, TIMEOUT_BOUNDS_MS.1)));
        }
        let mut tx = self.store.begin().await?;
        let d = administered(tx.conn(), &caller.actor, domain).await?;
        let new_account_class_id = class_id(tx.conn(), d.id, input.new_account_class.as_deref()).await?;
        let before = DirectoryRow::get(tx.conn(), d.id).await?;
        let before_map = GroupMapRow::of_domain(tx.conn(), d.id).await?;
        let mut map_ids = Vec::with_capacity(group_map.len());
        for (dn, group) in &group_map {
            let g = GroupRow::find(tx.conn(), d.id, group).await?.ok_or_else(|| AppError::NotFound(format!("group {}", clean_field(group))))?;
            map_ids.push((dn.clone(), g.id));
        }
        let row = DirectoryRow {
            domain_id: d.id,
            url,
            security: security.as_str().into(),
            preset: preset.as_str().into(),
            bind_dn,
            base_dns: base_dns.join("\n"),
            user_filter,
            login_attribute,
            mail_attribute,
            name_attribute,
            group_attribute,
            new_account_class_id,
            new_account_class: input.new_account_class.clone().filter(|_| new_account_class_id.is_some()),
            ca_certificate,
            timeout_ms,
            updated_at: self.now(),
            last_sync_at: before.as_ref().and_then(|b| b.last_sync_at),
        };
        DirectoryRow::put(&mut tx, &row).await?;
        GroupMapRow::replace(&mut tx, d.id, &map_ids).await?;
        let map = GroupMapRow::of_domain(tx.conn(), d.id).await?;
        let set = deskward_store::secrets::SecretRow::get(tx.conn(), &secret_owner(&d.name), BIND_FIELD).await?.is_some();
        let after = Directory::of_row(&d.name, &row, &map, set)?;
        let before = before.map(|b| Directory::of_row(&d.name, &b, &before_map, set)).transpose()?;
        let summary = json!({ "before": before.as_ref().map(Directory::summary), "after": after.summary() });
        tx.commit(self.entry(caller, &d.name, "directory.set", format!("domain:{}", d.name), summary)).await?;
        if security == Security::Plain {
            tracing::warn!(domain = %d.name, "the directory of this domain is reached without TLS: passwords cross the network in the clear");
        }
        Ok(after)
    }

    /// Disconnects the domain from its directory; its bind password goes too. Accounts the
    /// directory made stay, and can no longer log in until an administrator gives them a
    /// password or connects a directory again.
    pub async fn remove_directory(&self, caller: &Caller, domain: &str) -> Result<(), AppError> {
        caller.actor.may_manage_domains("disconnect a domain from its directory")?;
        let key = self.active_key().await?;
        let mut tx = self.store.begin().await?;
        let d = administered(tx.conn(), &caller.actor, domain).await?;
        if !DirectoryRow::remove(&mut tx, d.id).await? {
            return Err(AppError::NotFound(format!("a directory for {}", d.name)));
        }
        self.store_secret(&mut tx, &secret_owner(&d.name), BIND_FIELD, None, key.as_ref()).await?;
        tx.commit(self.entry(caller, &d.name, "directory.removed", format!("domain:{}", d.name), json!({}))).await?;
        self.scrub().await;
        Ok(())
    }

    /// Stores (or with `None` removes) the password of the domain's bind account, through the
    /// secrets store.
    pub async fn set_directory_password(&self, caller: &Caller, domain: &str, password: Option<&str>) -> Result<(), AppError> {
        caller.actor.may_manage_domains("set a directory's bind password")?;
        if let Some(p) = password {
            crate::secrets::check_secret(p)?;
        }
        let key = self.active_key().await?;
        let mut tx = self.store.begin().await?;
        let d = administered(tx.conn(), &caller.actor, domain).await?;
        if DirectoryRow::get(tx.conn(), d.id).await?.is_none() {
            return Err(AppError::NotFound(format!("a directory for {} (connect one first)", d.name)));
        }
        let owner = secret_owner(&d.name);
        let sealed = self.store_secret(&mut tx, &owner, BIND_FIELD, password, key.as_ref()).await?;
        let summary = match password {
            Some(_) => json!({ "set": true, "sealed": sealed }),
            None => json!({ "removed": true }),
        };
        tx.commit(self.entry(caller, &d.name, "directory.bind_password", format!("secret:{owner}/{BIND_FIELD}"), summary)).await?;
        self.scrub().await;
        Ok(())
    }

    /// Connects with the stored settings and bind account; with `login`, also looks that person
    /// up (never with their password). A read: nothing is recorded.
    pub async fn test_directory(&self, caller: &Caller, domain: &str, login: Option<&str>) -> Result<DirectoryTest, AppError> {
        caller.actor.may_manage_domains("test a directory connection")?;
        let dir = self.directory(caller, domain).await?;
        let password = self.directory_password(&dir).await?;
        let entry = match login {
            None => {
                ldap::check(&dir, password.as_ref().map(|p| p.as_str())).await.map_err(directory_error)?;
                None
            }
            Some(login) => {
                let user = deskward_core::AccountName::parse(login.split('@').next().unwrap_or(login))?;
                match ldap::look_up(&dir, password.as_ref().map(|p| p.as_str()), user.as_str(), &dir.domain).await {
                    Ok(u) => Some(u),
                    Err(DirectoryError::NotFound) => return Err(AppError::NotFound(format!("{}@{} in the directory", user, dir.domain))),
                    Err(e) => return Err(directory_error(e)),
                }
            }
        };
        Ok(DirectoryTest { entry })
    }

    pub(crate) async fn directory_password(&self, dir: &Directory) -> Result<Option<Zeroizing<String>>, AppError> {
        if dir.bind_dn.is_empty() {
            return Ok(None);
        }
        self.secret(&secret_owner(&dir.domain), BIND_FIELD).await
    }

    /// The directory a login of `domain` goes to, if the domain has one.
    pub(crate) async fn directory_for_login(&self, c: &mut Conn, domain: &str) -> Result<Option<Directory>, AppError> {
        let Some(row) = DirectoryRow::of_domain(c, domain).await? else { return Ok(None) };
        let map = GroupMapRow::of_domain(c, row.domain_id).await?;
        Directory::of_row(domain, &row, &map, true).map(Some)
    }

    /// Makes the account of a person the directory vouched for at their first login, in the
    /// directory's class for new accounts.
    pub(crate) async fn create_directory_account(&self, dir: &Directory, login: &Login, user: &DirectoryUser, caller: &Caller) -> Result<AccountRow, AppError> {
        let origin = Origin::Directory { dn: &user.dn, class: dir.new_account_class.as_deref() };
        self.create_external_account(login, origin, user.mail.as_deref(), caller).await
    }

    /// The domains connected to a directory, for the scheduled sync.
    pub async fn directory_domains(&self) -> Result<Vec<String>, AppError> {
        let mut c = self.store.conn().await?;
        Ok(DirectoryRow::domains(&mut c).await?)
    }

    /// Checks a password against the directory, searching with `bind` (the bind password as
    /// the login settings read it).
    pub(crate) async fn directory_login(&self, dir: &Directory, bind: &BindPassword, user: &str, password: &str) -> Result<DirectoryUser, DirectoryError> {
        let bind = match bind {
            Ok(p) => p,
            Err(e) => return Err(DirectoryError::Unavailable(format!("the bind password of the directory of {} cannot be read: {e}", dir.domain))),
        };
        ldap::authenticate(&self.directories, dir, bind.as_ref().map(|p| p.as_str()), user, &dir.domain, password).await
    }
}

/// A directory's bind password as logins use it: `None` without a bind account, `Err` with why
/// it cannot be read (the login then fails closed as for an unreachable directory).
pub(crate) type BindPassword = Result<Option<Zeroizing<String>>, String>;

pub(crate) fn directory_error(e: DirectoryError) -> AppError {
    match e {
        DirectoryError::NotFound => AppError::NotFound("the entry in the directory".into()),
        DirectoryError::WrongPassword => AppError::InvalidCredentials,
        DirectoryError::Unavailable(m) => AppError::DirectoryUnavailable(m),
        DirectoryError::Refused(r) => AppError::Invalid(format!("the directory accepts the password but refuses the login: {r}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_go_with_their_security() {
        assert!(check_url("ldaps://dir.example.org:636", Security::Ldaps).is_ok());
        assert!(check_url("ldap://127.0.0.1:3891/", Security::StartTls).is_ok());
        assert!(check_url("ldap://[::1]:389", Security::Plain).is_ok());
        assert!(check_url("ldap://dir.example.org", Security::Ldaps).is_err());
        assert!(check_url("ldaps://dir.example.org", Security::StartTls).is_err());
        for bad in ["http://x", "ldap://", "ldap://a b", "ldap://u:p@host", "ldap://host/dc=x?uid", "ldap://host:99999", "ldap://host:0", "ldapi://%2fsock", "ldap://host\n"] {
            assert!(check_url(bad, Security::StartTls).is_err(), "{bad}");
        }
    }

    #[test]
    fn filters_and_attributes_are_checked() {
        assert!(check_filter("(uid={user})").is_ok());
        assert!(check_filter("(&(objectClass=person)(mail={login}))").is_ok());
        assert!(check_filter("(uid=alice)").is_err(), "no placeholder");
        assert!(check_filter("(uid={user}").is_err(), "unbalanced");
        assert!(attribute("a", "memberOf").is_ok() && attribute("a", "1.2.840.113556.1.4.8").is_ok());
        assert!(attribute("a", "mail)(x").is_err() && attribute("a", "").is_err() && attribute("a", "-x").is_err());
    }
}
