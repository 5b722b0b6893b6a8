//! Delivery of the outbox through the configured SMTP relay (`[mail]`), with lettre. TLS is
//! required unless `mail.security = "none"`, which is accepted only for a relay on this host.
//! The relay password comes from the secrets store, read for each round of deliveries, so a
//! password set with `deskward mail password` applies without a restart.

use std::net::IpAddr;
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use deskward_app::{App, Caller, RetryRules, SendFailure};
use deskward_config::MailSettings;
use deskward_store::OutboxRow;
use lettre::message::{Mailbox, header::ContentType};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, CertificateStore, Tls, TlsParameters};
use lettre::transport::smtp::AsyncSmtpTransportBuilder;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

/// How often the outbox is read for due messages.
const POLL: Duration = Duration::from_secs(1);
/// Messages claimed at once.
const BATCH: i64 = 20;

/// The relay and how to reach it, checked at start.
pub struct Mailer {
    builder: AsyncSmtpTransportBuilder,
    /// `mail.username`; empty when the relay takes no login.
    username: String,
    from: Mailbox,
    retry: RetryRules,
    /// Seconds a claim holds: longer than one attempt can take.
    lease: i64,
}

/// The mailer `[mail]` describes, or `None` when no relay is set. Every mistake is reported
/// at start, naming the key.
pub fn mailer(m: &MailSettings) -> anyhow::Result<Option<Mailer>> {
    if m.relay.is_empty() {
        return Ok(None);
    }
    let from: Mailbox = m.from.parse().map_err(|e| anyhow!("mail.from {:?} is not a mail address: {e}", m.from))?;
    let port = u16::try_from(m.port).context("mail.port")?;
    let tls = match m.security.as_str() {
        "none" => {
            if !is_this_host(&m.relay) {
                bail!("mail.security = \"none\" sends mail and the relay password in the clear; it is allowed only for a relay on this host (localhost), not {:?}", m.relay);
            }
            Tls::None
        }
        mode => {
            let mut params = TlsParameters::builder(m.relay.clone());
            if let Some(file) = &m.ca_file {
                let pem = std::fs::read(file).with_context(|| format!("mail.ca_file {}: cannot read it", file.display()))?;
                let ca = Certificate::from_pem(&pem).map_err(|e| anyhow!("mail.ca_file {}: not a PEM certificate: {e}", file.display()))?;
                params = params.certificate_store(CertificateStore::None).add_root_certificate(ca);
            }
            let params = params.build_rustls().map_err(|e| anyhow!("mail: cannot set up TLS: {e}"))?;
            if mode == "tls" { Tls::Wrapper(params) } else { Tls::Required(params) }
        }
    };
    let builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&m.relay)
        .port(port)
        .tls(tls)
        .timeout(Some(m.timeout));
    let secs = |d: Duration| i64::try_from(d.as_secs()).unwrap_or(i64::MAX).max(1);
    Ok(Some(Mailer {
        builder,
        username: m.username.clone(),
        from,
        retry: RetryRules { first_delay: secs(m.retry_delay), max_attempts: i64::from(m.max_attempts) },
        lease: secs(m.timeout).saturating_mul(2).saturating_add(60),
    }))
}

fn is_this_host(relay: &str) -> bool {
    relay.eq_ignore_ascii_case("localhost") || relay.trim_matches(['[', ']']).parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

impl Mailer {
    /// The transport for one round, logged in with the stored relay password; the error says
    /// why the relay cannot be tried at all.
    async fn transport(&self, app: &App) -> Result<AsyncSmtpTransport<Tokio1Executor>, String> {
        if self.username.is_empty() {
            return Ok(self.builder.clone().build());
        }
        match app.relay_password().await {
            Ok(Some(password)) => Ok(self.builder.clone().credentials(Credentials::new(self.username.clone(), password.to_string())).build()),
            Ok(None) => Err("mail.username is set but no relay password is stored: set it with `deskward mail password`".into()),
            Err(e) => Err(format!("the relay password cannot be read: {e}")),
        }
    }

    async fn send(&self, transport: &AsyncSmtpTransport<Tokio1Executor>, row: &OutboxRow) -> Result<(), SendFailure> {
        let permanent = |message: String| SendFailure { permanent: true, message };
        let to: Mailbox = row.recipient.parse().map_err(|e| permanent(format!("recipient {:?} is not a mail address: {e}", row.recipient)))?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(row.subject.as_str())
            .header(ContentType::TEXT_PLAIN)
            .body(row.body.clone())
            .map_err(|e| permanent(format!("cannot build the message: {e}")))?;
        match transport.send(message).await {
            Ok(_) => Ok(()),
            Err(e) => Err(SendFailure { permanent: e.is_permanent(), message: describe(&e) }),
        }
    }
}

/// The error and its causes on one line (the relay's answer, the TLS problem), never a
/// credential: lettre's errors do not carry them.
fn describe(e: &lettre::transport::smtp::Error) -> String {
    let mut out = e.to_string();
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        out.push_str(": ");
        out.push_str(&c.to_string());
        cause = c.source();
    }
    out
}

/// Sends due messages every [`POLL`], one at a time, each attempt recorded.
pub fn start(app: App, mailer: Mailer) {
    let caller = Caller { name: "mailer".into(), ..Caller::system(&crate::cli::host_name()) };
    tokio::spawn(async move {
        // The last reason mail could not be tried, logged once rather than every round.
        let mut reported: Option<String> = None;
        loop {
            match app.claim_due_mail(BATCH, mailer.lease).await {
                Ok(rows) if rows.is_empty() => {}
                Ok(rows) => {
                    let transport = match mailer.transport(&app).await {
                        Ok(t) => t,
                        Err(reason) => {
                            if reported.as_deref() != Some(reason.as_str()) {
                                tracing::error!(reason = %reason, "mail waits in the outbox: the relay cannot be tried");
                                reported = Some(reason.clone());
                            }
                            if let Err(e) = app.mail_postponed(&rows, &reason, mailer.retry.first_delay).await {
                                tracing::warn!(error = %e, "cannot put messages back; they are due again when their claim ends");
                            }
                            tokio::time::sleep(POLL).await;
                            continue;
                        }
                    };
                    reported = None;
                    for row in &rows {
                        let outcome = mailer.send(&transport, row).await;
                        if let Err(e) = app.mail_attempted(&caller, row, outcome, mailer.retry).await {
                            tracing::warn!(error = %e, id = row.id, "cannot record a delivery attempt; the message will be tried again");
                        }
                    }
                    if rows.len() as i64 == BATCH {
                        continue;
                    }
                }
                Err(e) => tracing::warn!(error = %e, "cannot read the outbox"),
            }
            tokio::time::sleep(POLL).await;
        }
    });
}
