//! The LDAP client of directory logins: connect (LDAPS or StartTLS; plain only when the domain
//! chose it), bind with the service account, find the one entry the login names, and bind as
//! that entry with the password the person typed. Every step runs under the directory's
//! timeout, so a slow or silent directory fails closed instead of holding a login.

use std::collections::HashMap;
use std::sync::Arc;

use ldap3::adapters::{Adapter, EntriesOnly, PagedResults};
use ldap3::{LdapConnAsync, LdapConnSettings, Scope, SearchEntry, SearchOptions, ldap_escape};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

use crate::directory::{Directory, Security};

/// What the directory says of a person whose password it accepted (or whom it found).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectoryUser {
    pub dn: String,
    /// The value of the login attribute (the name part of a login), lowercased.
    pub login: Option<String>,
    pub mail: Option<String>,
    pub name: Option<String>,
    pub groups: Vec<String>,
    /// Active Directory's "account disabled" flag (userAccountControl bit 2).
    pub disabled: bool,
}

/// Why a directory login did not succeed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DirectoryError {
    /// No entry matches the login.
    NotFound,
    /// The entry exists; the password is wrong (or the directory refuses that entry's bind).
    WrongPassword,
    /// The directory cannot answer: down, slow, TLS refused, service bind refused, ambiguous
    /// entries. The message is for administrators and the log (no password in it).
    Unavailable(String),
    /// The password is right but the directory refuses the login for a reason of its own:
    /// Active Directory's expired account or password, or a password that must be changed
    /// first (there, not in Deskward).
    Refused(Refusal),
}

/// Active Directory's "right password, but…" answers to a bind, which it gives with the same
/// result code as a wrong password and tells apart only by `data NNN` in the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// `data 533`: the account is disabled.
    Disabled,
    /// `data 701`: the account expired.
    AccountExpired,
    /// `data 532`: the password expired.
    PasswordExpired,
    /// `data 773`: the password must be changed before the next login.
    MustChangePassword,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Refusal::Disabled => "the account is disabled",
            Refusal::AccountExpired => "the account has expired",
            Refusal::PasswordExpired => "the password has expired",
            Refusal::MustChangePassword => "the password must be changed first",
        })
    }
}

impl Refusal {
    /// The refusal a bind's error message names, if any. Only these follow the right
    /// password; `data 52e` (a wrong password) and the rest are not refusals.
    pub fn of(message: &str) -> Option<Refusal> {
        let code = message.split("data ").nth(1)?.get(..3)?;
        Some(match code {
            "533" => Refusal::Disabled,
            "701" => Refusal::AccountExpired,
            "532" => Refusal::PasswordExpired,
            "773" => Refusal::MustChangePassword,
            _ => return None,
        })
    }
}

/// Result code of a wrong bind password.
const INVALID_CREDENTIALS: u32 = 49;
/// Result code of a search that matched more entries than asked for.
const SIZE_LIMIT_EXCEEDED: u32 = 4;

fn unavailable(d: &Directory, what: impl std::fmt::Display) -> DirectoryError {
    DirectoryError::Unavailable(format!("the directory at {} {what}", d.url))
}

/// The search filter for `user@domain`, each part escaped (RFC 4515), so a login can never add
/// to the filter.
pub fn user_filter(template: &str, user: &str, domain: &str) -> String {
    let login = format!("{user}@{domain}");
    template.replace("{user}", &ldap_escape(user)).replace("{domain}", &ldap_escape(domain)).replace("{login}", &ldap_escape(login.as_str()))
}

/// The TLS settings: the domain's own CA certificates when it gave some, else the system's roots.
fn settings(d: &Directory) -> Result<LdapConnSettings, DirectoryError> {
    let mut s = LdapConnSettings::new().set_starttls(d.security == Security::StartTls);
    if let Some(pem) = &d.ca_certificate {
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
            let cert = cert.map_err(|e| unavailable(d, format!("has an unreadable CA certificate in its settings: {e}")))?;
            roots.add(cert).map_err(|e| unavailable(d, format!("has a CA certificate that cannot be used: {e}")))?;
        }
        let config = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(|e| unavailable(d, format!("cannot be reached with TLS: {e}")))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        s = s.set_config(Arc::new(config));
    }
    Ok(s)
}

/// The TCP connection, made here rather than by ldap3 so that it goes without Nagle's delay:
/// LDAP's small request and answer messages otherwise wait on delayed acknowledgements (about
/// 40 ms per login on Linux).
async fn connect(d: &Directory) -> Result<std::net::TcpStream, DirectoryError> {
    let rest = d.url.split_once("://").map_or(d.url.as_str(), |(_, r)| r);
    let default_port = if d.url.starts_with("ldaps://") { 636 } else { 389 };
    let has_port = rest.rsplit_once(':').is_some_and(|(h, p)| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) && (h.starts_with('[') || !h.contains(':')));
    let address = if has_port { rest.to_owned() } else { format!("{rest}:{default_port}") };
    let stream = tokio::time::timeout(d.timeout, tokio::net::TcpStream::connect(&address))
        .await
        .map_err(|_| unavailable(d, format!("did not accept a connection within {} ms", d.timeout.as_millis())))?
        .map_err(|e| unavailable(d, format!("cannot be reached: {e}")))?;
    stream.set_nodelay(true).map_err(|e| unavailable(d, format!("cannot be reached: {e}")))?;
    stream.into_std().map_err(|e| unavailable(d, format!("cannot be reached: {e}")))
}

/// An open connection, bound with the service account (or anonymous when none is set).
struct Session {
    ldap: ldap3::Ldap,
}

impl Session {
    /// Connects and binds with the service account (anonymous when none is set).
    async fn open(d: &Directory, bind_password: Option<&str>) -> Result<Session, DirectoryError> {
        let mut session = Session::connect(d).await?;
        if !d.bind_dn.is_empty() {
            let Some(pw) = bind_password else {
                return Err(unavailable(d, "needs the bind account's password, and none is stored (deskward directory password)"));
            };
            let result = session.ldap.with_timeout(d.timeout).simple_bind(&d.bind_dn, pw).await.map_err(|e| unavailable(d, format!("did not answer the bind: {e}")))?;
            if result.rc != 0 {
                return Err(unavailable(d, format!("refused the bind account {} (result {}: {}); check its DN and password", d.bind_dn, result.rc, result.text)));
            }
        }
        Ok(session)
    }

    /// Connects (TLS or StartTLS as set) without binding.
    async fn connect(d: &Directory) -> Result<Session, DirectoryError> {
        let stream = connect(d).await?;
        let settings = settings(d)?.set_std_stream(ldap3::StdStream::Tcp(stream));
        let (conn, ldap) = tokio::time::timeout(d.timeout, LdapConnAsync::with_settings(settings, &d.url))
            .await
            .map_err(|_| unavailable(d, format!("did not finish the TLS handshake within {} ms", d.timeout.as_millis())))?
            .map_err(|e| unavailable(d, format!("cannot be reached: {e}")))?;
        tokio::spawn(async move {
            if let Err(e) = conn.drive().await {
                tracing::debug!(error = %e, "directory connection ended with an error");
            }
        });
        Ok(Session { ldap })
    }

    /// The one entry the login names, searched in each base in turn.
    async fn find(&mut self, d: &Directory, user: &str, domain: &str) -> Result<DirectoryUser, DirectoryError> {
        let filter = user_filter(&d.user_filter, user, domain);
        let attrs = d.attributes();
        let mut found: Vec<DirectoryUser> = Vec::new();
        for base in &d.base_dns {
            let result = self
                .ldap
                .with_search_options(SearchOptions::new().sizelimit(2).timelimit(i32::try_from(d.timeout.as_secs().max(1)).unwrap_or(30)))
                .with_timeout(d.timeout)
                .search(base, Scope::Subtree, &filter, &attrs)
                .await
                .map_err(|e| unavailable(d, format!("did not answer the search: {e}")))?;
            match result.1.rc {
                0 => {}
                SIZE_LIMIT_EXCEEDED => return Err(unavailable(d, format!("has several entries for {user}@{domain}; make the user filter match one"))),
                // "No such object": this base does not exist (any more); others may.
                32 => continue,
                rc => return Err(unavailable(d, format!("refused the search in {base} (result {rc}: {})", result.1.text))),
            }
            for entry in result.0 {
                // ldap3 panics on a malformed entry; a directory's answer must not crash a login.
                let entry = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| SearchEntry::construct(entry)))
                    .map_err(|_| unavailable(d, "sent an entry that cannot be read"))?;
                found.push(d.user_of(entry.dn, &entry.attrs));
            }
        }
        match found.len() {
            0 => Err(DirectoryError::NotFound),
            1 => Ok(found.remove(0)),
            _ => Err(unavailable(d, format!("has several entries for {user}@{domain} in its search bases; make the user filter match one"))),
        }
    }
}

/// Checks `password` for `user@domain`: finds the entry, then binds as it. An empty password
/// is refused here too: LDAP takes a bind with one as an anonymous bind that "succeeds".
/// Connections come from `pool` when it holds idle ones for these settings: a search
/// connection stays bound with the service account, a bind connection is used only to bind
/// people (never to read), so no one's rights carry over to the next login.
pub async fn authenticate(pool: &Pool, d: &Directory, bind_password: Option<&str>, user: &str, domain: &str, password: &str) -> Result<DirectoryUser, DirectoryError> {
    if password.is_empty() {
        return Err(DirectoryError::WrongPassword);
    }
    let key = pool_key(d, bind_password);
    let work = async {
        let (mut searcher, pooled) = match pool.take(&key, Use::Search) {
            Some(ldap) => (Session { ldap }, true),
            None => (Session::open(d, bind_password).await?, false),
        };
        let found = match searcher.find(d, user, domain).await {
            // A pooled connection the directory closed meanwhile: once more on a fresh one.
            Err(DirectoryError::Unavailable(_)) if pooled => {
                searcher = Session::open(d, bind_password).await?;
                searcher.find(d, user, domain).await
            }
            other => other,
        };
        if !matches!(found, Err(DirectoryError::Unavailable(_))) {
            pool.give(&key, Use::Search, searcher.ldap);
        }
        let found = found?;
        let (mut binder, pooled) = match pool.take(&key, Use::Bind) {
            Some(ldap) => (Session { ldap }, true),
            None => (Session::connect(d).await?, false),
        };
        let mut bound = binder.ldap.with_timeout(d.timeout).simple_bind(&found.dn, password).await;
        if bound.is_err() && pooled {
            binder = Session::connect(d).await?;
            bound = binder.ldap.with_timeout(d.timeout).simple_bind(&found.dn, password).await;
        }
        let bound = bound.map_err(|e| unavailable(d, format!("did not answer the bind of {}: {e}", found.dn)))?;
        match bound.rc {
            0 => {
                pool.give(&key, Use::Bind, binder.ldap);
                Ok(found)
            }
            // Active Directory refuses a disabled, expired or must-change account's bind like a
            // wrong password and says which it was only in the message (after the right
            // password only).
            INVALID_CREDENTIALS if Refusal::of(&bound.text).is_some() => {
                pool.give(&key, Use::Bind, binder.ldap);
                match Refusal::of(&bound.text) {
                    Some(Refusal::Disabled) if found.disabled => Ok(found),
                    Some(r) => Err(DirectoryError::Refused(r)),
                    None => Err(DirectoryError::WrongPassword),
                }
            }
            INVALID_CREDENTIALS => {
                pool.give(&key, Use::Bind, binder.ldap);
                Err(DirectoryError::WrongPassword)
            }
            rc => Err(unavailable(d, format!("refused the bind of {} (result {rc}: {})", found.dn, bound.text))),
        }
    };
    // The whole exchange, not only each step, is bounded: a directory answering slowly at
    // every step must not hold a login for several timeouts.
    tokio::time::timeout(d.timeout * 2, work).await.unwrap_or_else(|_| Err(unavailable(d, format!("did not answer within {} ms", (d.timeout * 2).as_millis()))))
}

/// What a pooled connection is kept for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Use {
    /// Bound with the service account; searches.
    Search,
    /// Binds people; never reads.
    Bind,
}

/// Idle connections kept per directory settings (a change of URL, TLS, bind account or its
/// password makes a new key, so old connections are never used again), at most
/// [`MAX_IDLE`] per kind, none older than [`IDLE_FOR`].
#[derive(Debug, Default)]
pub struct Pool {
    idle: std::sync::Mutex<HashMap<(String, Use), Vec<Idle>>>,
}

/// A connection and when it was given back.
type Idle = (ldap3::Ldap, std::time::Instant);

const MAX_IDLE: usize = 8;
const IDLE_FOR: std::time::Duration = std::time::Duration::from_secs(30);

impl Pool {
    fn take(&self, key: &str, kind: Use) -> Option<ldap3::Ldap> {
        let mut idle = self.idle.lock().ok()?;
        let list = idle.get_mut(&(key.to_owned(), kind))?;
        while let Some((mut ldap, since)) = list.pop() {
            if since.elapsed() < IDLE_FOR && !ldap.is_closed() {
                return Some(ldap);
            }
        }
        None
    }

    /// Closes the connections idle for longer than [`IDLE_FOR`], so the directory is not left
    /// holding them; the server calls this every few seconds.
    pub fn trim(&self) {
        let Ok(mut idle) = self.idle.lock() else { return };
        for list in idle.values_mut() {
            list.retain(|(_, since)| since.elapsed() < IDLE_FOR);
        }
        idle.retain(|_, list| !list.is_empty());
    }

    fn give(&self, key: &str, kind: Use, mut ldap: ldap3::Ldap) {
        if ldap.is_closed() {
            return;
        }
        let Ok(mut idle) = self.idle.lock() else { return };
        // Forget the connections of settings that changed, so the map does not grow.
        idle.retain(|(k, _), list| k == key || list.iter().any(|(_, since)| since.elapsed() < IDLE_FOR));
        let list = idle.entry((key.to_owned(), kind)).or_default();
        list.retain(|(_, since)| since.elapsed() < IDLE_FOR);
        if list.len() < MAX_IDLE {
            list.push((ldap, std::time::Instant::now()));
        }
    }
}

/// What identifies a directory's connections: everything that decides where they go, how
/// they are protected and who they are bound as (the password only as a hash).
fn pool_key(d: &Directory, bind_password: Option<&str>) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for part in [d.domain.as_str(), d.url.as_str(), d.security.as_str(), d.bind_dn.as_str(), bind_password.unwrap_or(""), d.ca_certificate.as_deref().unwrap_or("")] {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part.as_bytes());
    }
    h.update(d.timeout.as_millis().to_be_bytes());
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// Looks up `user@domain` with the service account only: the administrator's connection test.
pub async fn look_up(d: &Directory, bind_password: Option<&str>, user: &str, domain: &str) -> Result<DirectoryUser, DirectoryError> {
    let work = async {
        let mut session = Session::open(d, bind_password).await?;
        let found = session.find(d, user, domain).await;
        let _ = session.ldap.unbind().await;
        found
    };
    tokio::time::timeout(d.timeout * 2, work).await.unwrap_or_else(|_| Err(unavailable(d, format!("did not answer within {} ms", (d.timeout * 2).as_millis()))))
}

/// The filter that finds every person the user filter could name: the name part becomes `*`.
pub fn every_user_filter(template: &str, domain: &str) -> String {
    let any_login = format!("*@{}", ldap_escape(domain));
    template.replace("{user}", "*").replace("{domain}", &ldap_escape(domain)).replace("{login}", &any_login)
}

/// Entries asked for per page of a sync's search.
const PAGE_SIZE: i32 = 500;

/// Every person the directory holds for the domain, read page by page. Any failure (a base
/// that does not exist included) is an error: a sync must never take a partial answer for
/// the whole directory.
pub async fn list_users(d: &Directory, bind_password: Option<&str>) -> Result<Vec<DirectoryUser>, DirectoryError> {
    let mut session = Session::open(d, bind_password).await?;
    let filter = every_user_filter(&d.user_filter, &d.domain);
    let attrs = d.attributes();
    let mut found = Vec::new();
    for base in &d.base_dns {
        let adapters: Vec<Box<dyn Adapter<_, _>>> = vec![Box::new(EntriesOnly::new()), Box::new(PagedResults::new(PAGE_SIZE))];
        let mut stream = session
            .ldap
            .with_timeout(d.timeout)
            .streaming_search_with(adapters, base, Scope::Subtree, &filter, attrs.clone())
            .await
            .map_err(|e| unavailable(d, format!("did not answer the search in {base}: {e}")))?;
        loop {
            match tokio::time::timeout(d.timeout, stream.next()).await {
                Err(_) => return Err(unavailable(d, format!("stopped answering the search in {base}"))),
                Ok(Err(e)) => return Err(unavailable(d, format!("failed during the search in {base}: {e}"))),
                Ok(Ok(None)) => break,
                Ok(Ok(Some(entry))) => {
                    let entry = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| SearchEntry::construct(entry)))
                        .map_err(|_| unavailable(d, "sent an entry that cannot be read"))?;
                    found.push(d.user_of(entry.dn, &entry.attrs));
                }
            }
        }
        let done = stream.finish().await;
        if done.rc != 0 {
            return Err(unavailable(d, format!("refused the search in {base} (result {}: {})", done.rc, done.text)));
        }
    }
    let _ = session.ldap.unbind().await;
    Ok(found)
}

/// Checks that the directory can be reached and the bind account is accepted.
pub async fn check(d: &Directory, bind_password: Option<&str>) -> Result<(), DirectoryError> {
    let work = async {
        let mut session = Session::open(d, bind_password).await?;
        let _ = session.ldap.unbind().await;
        Ok(())
    };
    tokio::time::timeout(d.timeout * 2, work).await.unwrap_or_else(|_| Err(unavailable(d, format!("did not answer within {} ms", (d.timeout * 2).as_millis()))))
}

/// The first value of `name` (attribute names are matched without regard to case).
pub(crate) fn first<'a>(attrs: &'a HashMap<String, Vec<String>>, name: &str) -> Option<&'a str> {
    attrs.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).and_then(|(_, v)| v.first()).map(String::as_str)
}

/// Every value of `name`.
pub(crate) fn all<'a>(attrs: &'a HashMap<String, Vec<String>>, name: &str) -> &'a [String] {
    attrs.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map_or(&[], |(_, v)| v.as_slice())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn active_directory_refusals_are_read_from_the_message() {
        let ad = |code: &str| format!("80090308: LdapErr: DSID-0C09044E, comment: AcceptSecurityContext error, data {code}, v4563");
        assert_eq!(Refusal::of(&ad("533")), Some(Refusal::Disabled));
        assert_eq!(Refusal::of(&ad("701")), Some(Refusal::AccountExpired));
        assert_eq!(Refusal::of(&ad("532")), Some(Refusal::PasswordExpired));
        assert_eq!(Refusal::of(&ad("773")), Some(Refusal::MustChangePassword));
        for wrong in [ad("52e"), ad("775"), "Invalid credentials".to_owned(), "data".to_owned(), "data 5".to_owned(), String::new()] {
            assert_eq!(Refusal::of(&wrong), None, "{wrong}");
        }
    }

    #[test]
    fn a_login_cannot_add_to_the_filter() {
        let f = user_filter("(&(objectClass=inetOrgPerson)(uid={user}))", "*)(uid=*", "example.org");
        assert_eq!(f, "(&(objectClass=inetOrgPerson)(uid=\\2a\\29\\28uid=\\2a))");
        let f = user_filter("(userPrincipalName={login})", "a\\b", "ex(a)mple.org");
        assert_eq!(f, "(userPrincipalName=a\\5cb@ex\\28a\\29mple.org)");
        assert!(ldap3::parse_filter(&f).is_ok());
    }

    proptest::proptest! {
        /// Whatever a login holds, the filter stays one well-formed filter whose only
        /// equality value is the login, and no wildcard or parenthesis gets through unescaped.
        #[test]
        fn any_login_stays_a_value(user in "\\PC{0,40}", domain in "[a-z0-9.()*\\\\-]{1,20}") {
            let f = user_filter("(&(objectClass=person)(uid={user})(o={domain}))", &user, &domain);
            proptest::prop_assert!(ldap3::parse_filter(&f).is_ok(), "{f}");
            let escaped = ldap_escape(user.as_str());
            proptest::prop_assert!(!escaped.contains('*') && !escaped.contains('(') && !escaped.contains(')'));
            proptest::prop_assert_eq!(f.matches('(').count(), 4);
            let every = every_user_filter("(&(objectClass=person)(mail={login}))", &domain);
            proptest::prop_assert!(ldap3::parse_filter(&every).is_ok(), "{every}");
        }
    }

    #[test]
    fn attributes_are_found_whatever_their_case() {
        let attrs = HashMap::from([("sAMAccountName".to_owned(), vec!["alice".to_owned()]), ("memberOf".to_owned(), vec!["cn=a".into(), "cn=b".into()])]);
        assert_eq!(first(&attrs, "samaccountname"), Some("alice"));
        assert_eq!(all(&attrs, "MEMBEROF").len(), 2);
        assert_eq!(first(&attrs, "mail"), None);
    }
}
