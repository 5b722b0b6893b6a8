//! Web single sign-on with Kerberos (A2): a SPNEGO token from the browser is accepted with the
//! server's keytab through the system's GSSAPI library, and the client's principal names the
//! account (`alice@CORP.EXAMPLE` is `alice@` the realm's domain). A token that is forged,
//! replayed, for another service or from a clock too far off is refused by the library; the
//! refusal is a security event and a guess the guard counts. Everything after the ticket is
//! the login path of a password login (docs/kerberos.md).

use std::net::IpAddr;

use deskward_core::DomainName;
use deskward_core::audit::clean_field;
use libgssapi::context::{SecurityContext, ServerCtx};
use libgssapi::credential::{Cred, CredUsage};
use libgssapi::name::Name;
use libgssapi::oid::GSS_NT_KRB5_PRINCIPAL;
use tokio::sync::Semaphore;

use crate::login::{Proof, failed, refused};
use crate::{App, AppError, Caller, LoginOutcome, Source};

/// The longest token accepted; real ones are a few KiB.
const MAX_TOKEN: usize = 64 * 1024;
/// Tokens checked at once (each is a blocking library call).
const MAX_IN_FLIGHT: usize = 8;

/// The server's Kerberos service.
#[derive(Debug)]
pub struct Kerberos {
    /// The service principal tickets must be for; `None`: any key in the keytab.
    service: Option<String>,
    /// (realm, Deskward domain).
    realms: Vec<(String, String)>,
    slots: Semaphore,
}

impl Kerberos {
    /// `realms` is `REALM=domain, …`. The keytab is the process's (`KRB5_KTNAME`).
    pub fn new(service: &str, realms: &str) -> Result<Kerberos, String> {
        let mut map = Vec::new();
        for pair in realms.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let Some((realm, domain)) = pair.split_once('=') else { return Err(format!("{pair:?}: write REALM=domain")) };
            let realm = realm.trim();
            if realm.is_empty() || !realm.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'.' || b == b'-') {
                return Err(format!("{realm:?} is not a realm (upper-case letters, digits, dots and dashes)"));
            }
            let domain = DomainName::parse(domain.trim()).map_err(|e| format!("{pair:?}: {e}"))?;
            map.push((realm.to_owned(), domain.to_string()));
        }
        let service = Some(service.trim().to_owned()).filter(|s| !s.is_empty());
        Ok(Kerberos { service, realms: map, slots: Semaphore::new(MAX_IN_FLIGHT) })
    }

    /// The login a principal names: `alice@REALM` is alice in the realm's domain. Principals
    /// with an instance (`alice/admin@REALM`) name no one.
    pub fn login_of(&self, principal: &str) -> Option<String> {
        let (name, realm) = principal.rsplit_once('@')?;
        if name.is_empty() || name.contains('/') {
            return None;
        }
        let domain = self.realms.iter().find(|(r, _)| r == realm).map_or_else(|| realm.to_ascii_lowercase(), |(_, d)| d.clone());
        Some(format!("{name}@{domain}"))
    }

    /// Accepts one token: the client's principal and the token to send back, if any. Only a
    /// one-round Kerberos exchange is accepted (no NTLM fallback).
    async fn accept(&self, token: &[u8]) -> Result<(String, Option<Vec<u8>>), AppError> {
        if token.is_empty() || token.len() > MAX_TOKEN {
            return Err(AppError::Invalid(format!("a token of {} bytes", token.len())));
        }
        let Ok(_slot) = self.slots.try_acquire() else { return Err(AppError::Busy) };
        let service = self.service.clone();
        let token = token.to_vec();
        let done = tokio::task::spawn_blocking(move || -> Result<(String, Option<Vec<u8>>), String> {
            let cred = match &service {
                Some(s) => {
                    let name = Name::new(s.as_bytes(), Some(GSS_NT_KRB5_PRINCIPAL)).map_err(|e| format!("service {s}: {e}"))?;
                    Some(Cred::acquire(Some(&name), None, CredUsage::Accept, None).map_err(|e| format!("the keytab has no key for {s}: {e}"))?)
                }
                None => None,
            };
            let mut ctx = ServerCtx::new(cred);
            let reply = ctx.step(&token, None).map_err(|e| e.to_string())?;
            if !ctx.is_complete() {
                return Err("the token asks for another round: only Kerberos is accepted".into());
            }
            let principal = ctx.source_name().map_err(|e| e.to_string())?.to_string();
            Ok((principal, reply.map(|r| r.to_vec())))
        })
        .await
        .map_err(|e| AppError::Internal(e.to_string()))?;
        done.map_err(|detail| AppError::Invalid(clean_field(&detail)))
    }
}

impl App {
    /// Logs in with a SPNEGO token (the `Authorization: Negotiate` header's). Returns the
    /// session and the token to answer with, if the exchange has one. A banned client is
    /// refused before the token is looked at.
    pub async fn kerberos_login(&self, token: &[u8], source: &Source) -> Result<(LoginOutcome, Option<Vec<u8>>), AppError> {
        let Some(kerberos) = self.kerberos.clone() else {
            return Err(AppError::NotFound("Kerberos single sign-on (it is not set up on this server)".into()));
        };
        let host = self.host_names.start(&source.ip);
        let mut caller = Caller::anonymous(source.clone());
        let ip = source.ip.parse::<IpAddr>().ok();
        self.refuse_guarded(&caller, ip, None).await?;
        let (principal, reply) = match kerberos.accept(token).await {
            Ok(accepted) => accepted,
            Err(AppError::Invalid(detail)) => {
                tracing::warn!(%detail, "a Kerberos token was refused");
                let f = failed(AppError::InvalidCredentials, "kerberos_rejected");
                return Err(self.login_failed(&caller, ip, "", "kerberos".into(), None, f).await);
            }
            Err(e) => return Err(e),
        };
        let Some(login) = kerberos.login_of(&principal) else {
            let f = refused(AppError::InvalidCredentials, "kerberos_unmapped");
            return Err(self.login_failed(&caller, ip, "", format!("kerberos:{}", clean_field(&principal)), None, f).await);
        };
        match self.try_login(Proof::Kerberos { login: &login }, false, &mut caller, host).await {
            Ok(outcome) => Ok((outcome, reply)),
            Err(f) => Err(self.login_failed(&caller, ip, &login, format!("account:{}", clean_field(&login)), None, f).await),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn principals_name_logins_of_their_realms_domain() {
        let k = Kerberos::new("", "CORP.EXAMPLE=example.org, LAB-2.EXAMPLE = lab.example.org").unwrap();
        assert_eq!(k.login_of("alice@CORP.EXAMPLE").as_deref(), Some("alice@example.org"));
        assert_eq!(k.login_of("bob@LAB-2.EXAMPLE").as_deref(), Some("bob@lab.example.org"));
        assert_eq!(k.login_of("carol@TEST.LOCAL").as_deref(), Some("carol@test.local"));
        assert_eq!(k.login_of("alice/admin@CORP.EXAMPLE"), None);
        assert_eq!(k.login_of("@CORP.EXAMPLE"), None);
        assert_eq!(k.login_of("nobody"), None);
        for bad in ["CORP", "corp.example=example.org", "CORP.EXAMPLE=not a domain", "=example.org"] {
            assert!(Kerberos::new("", bad).is_err(), "{bad}");
        }
    }
}
