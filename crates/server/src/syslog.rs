//! Forwarding of audit records to a syslog receiver (a SIEM) as RFC 5424 messages, over TLS
//! (RFC 5425: octet-counted frames in a TLS session that verifies the receiver's certificate),
//! TCP (octet-counted frames, RFC 6587) or UDP (one datagram each). Every second the forwarder
//! sends what the chains hold beyond their forwarding cursor and then moves the cursor, so a
//! receiver that is down gets the records once it is back (at least once; two nodes that race
//! may both send a record, and the receiver sees the same `seq` twice).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use deskward_app::App;
use deskward_core::audit::{Record, timestamp};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

/// Facility 13 ("log audit", RFC 5424 table 1).
const FACILITY: u8 = 13;
/// The IANA private enterprise number reserved for documentation (RFC 5612).
const SD_ID: &str = "deskward@32473";
const BATCH: i64 = 500;

enum Link {
    Udp(UdpSocket),
    Tcp(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

/// Where the forwarder sends, and for TLS whom it trusts.
pub struct Target {
    pub url: String,
    /// The CA file of `audit.syslog_ca_file`; `None` trusts the public web PKI roots.
    pub ca_file: Option<PathBuf>,
}

/// The TLS client settings of a `tls://` receiver: its certificate must chain to the CA file
/// or, without one, to the public web PKI roots, and name the host of the URL.
fn tls_connector(ca_file: Option<&Path>) -> anyhow::Result<TlsConnector> {
    let mut roots = rustls::RootCertStore::empty();
    match ca_file {
        Some(file) => {
            for cert in CertificateDer::pem_file_iter(file).map_err(|e| anyhow!("audit.syslog_ca_file {}: {e}", file.display()))? {
                roots.add(cert.map_err(|e| anyhow!("audit.syslog_ca_file {}: {e}", file.display()))?)?;
            }
            if roots.is_empty() {
                bail!("audit.syslog_ca_file {} holds no certificate", file.display());
            }
        }
        None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(TlsConnector::from(Arc::new(config)))
}

/// One record as an RFC 5424 message: notice for changes, warning for security events; the
/// message is the record's JSON (one line; control characters are escaped by JSON).
pub fn message(r: &Record, host: &str, pid: u32) -> String {
    let severity = if r.security { 4 } else { 5 };
    let msgid: String = r.action.chars().filter(|c| c.is_ascii_graphic()).take(32).collect();
    // The administrator acting for the actor, only when there is one.
    let acting = match r.acting.is_empty() {
        true => String::new(),
        false => format!(" acting=\"{}\"", sd_escape(&r.acting)),
    };
    let sd = format!(
        "[{SD_ID} chain=\"{}\" seq=\"{}\" actor=\"{}\"{acting} ip=\"{}\" target=\"{}\" hash=\"{}\"]",
        sd_escape(&r.chain),
        r.seq,
        sd_escape(&r.actor),
        sd_escape(&r.source_ip),
        sd_escape(&r.target),
        r.hash
    );
    let body = serde_json::to_string(&deskward_http::audit_record(r)).unwrap_or_default();
    let host: String = host.chars().filter(|c| c.is_ascii_graphic()).take(255).collect();
    format!(
        "<{}>1 {} {} deskward {pid} {} {sd} {body}",
        FACILITY * 8 + severity,
        timestamp(r.at),
        if host.is_empty() { "-" } else { &host },
        if msgid.is_empty() { "-" } else { &msgid }
    )
}

/// RFC 5424 section 6.3.3: `"`, `\` and `]` are escaped in parameter values.
fn sd_escape(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        if matches!(c, '"' | '\\' | ']') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

async fn connect(target: &Target) -> anyhow::Result<Link> {
    let url = target.url.as_str();
    if let Some(addr) = url.strip_prefix("udp://") {
        let socket = UdpSocket::bind(if addr.starts_with('[') { "[::]:0" } else { "0.0.0.0:0" }).await?;
        socket.connect(addr).await.with_context(|| format!("cannot reach {addr}"))?;
        return Ok(Link::Udp(socket));
    }
    if let Some(addr) = url.strip_prefix("tcp://") {
        let stream = tokio::time::timeout(Duration::from_secs(5), TcpStream::connect(addr))
            .await
            .with_context(|| format!("connecting to {addr} timed out"))?
            .with_context(|| format!("cannot connect to {addr}"))?;
        return Ok(Link::Tcp(stream));
    }
    if let Some(addr) = url.strip_prefix("tls://") {
        let connector = tls_connector(target.ca_file.as_deref())?;
        let host = addr.rsplit_once(':').map_or(addr, |(h, _)| h).trim_start_matches('[').trim_end_matches(']');
        let name = ServerName::try_from(host.to_owned()).with_context(|| format!("{host} is not a host name or address"))?;
        let work = async {
            let stream = TcpStream::connect(addr).await.with_context(|| format!("cannot connect to {addr}"))?;
            connector.connect(name, stream).await.with_context(|| format!("the TLS handshake with {addr} failed"))
        };
        let stream = tokio::time::timeout(Duration::from_secs(5), work).await.with_context(|| format!("connecting to {addr} timed out"))??;
        return Ok(Link::Tls(Box::new(stream)));
    }
    bail!("unsupported syslog url {url}")
}

impl Link {
    /// A TCP or TLS receiver that went away has closed the connection; writing would only fill
    /// the socket buffer, so the records would count as sent and be lost. Checked before a
    /// batch, with a read that does not wait (through TLS, so a close alert is understood).
    async fn check_open(&mut self) -> anyhow::Result<()> {
        let mut byte = [0u8; 1];
        let read = match self {
            Link::Udp(_) => return Ok(()),
            Link::Tcp(s) => tokio::time::timeout(Duration::ZERO, s.read(&mut byte)).await,
            Link::Tls(s) => tokio::time::timeout(Duration::ZERO, s.read(&mut byte)).await,
        };
        match read {
            Ok(Ok(0)) => bail!("the syslog receiver closed the connection"),
            Ok(Err(e)) => Err(e.into()),
            // Nothing to read (the usual case), or a byte the receiver should not have sent.
            Ok(Ok(_)) | Err(_) => Ok(()),
        }
    }

    async fn send(&mut self, msg: &str) -> anyhow::Result<()> {
        match self {
            Link::Udp(s) => {
                s.send(msg.as_bytes()).await?;
            }
            Link::Tcp(s) => {
                let frame = format!("{} {msg}", msg.len());
                tokio::time::timeout(Duration::from_secs(5), s.write_all(frame.as_bytes())).await.context("syslog write timed out")??;
            }
            Link::Tls(s) => {
                let frame = format!("{} {msg}", msg.len());
                tokio::time::timeout(Duration::from_secs(5), s.write_all(frame.as_bytes())).await.context("syslog write timed out")??;
            }
        }
        Ok(())
    }

    async fn flush(&mut self) -> anyhow::Result<()> {
        match self {
            Link::Udp(_) => {}
            Link::Tcp(s) => s.flush().await?,
            Link::Tls(s) => tokio::time::timeout(Duration::from_secs(5), s.flush()).await.context("syslog write timed out")??,
        }
        Ok(())
    }
}

/// Sends what is pending once; answers how many records were sent.
async fn forward_once(app: &App, link: &mut Link, host: &str) -> anyhow::Result<usize> {
    let pid = std::process::id();
    let mut sent = 0;
    for head in app.audit_unforwarded().await? {
        let from = head.forwarded_seq.max(head.archived_seq);
        let records = app.audit_after(&head.chain, from, BATCH).await?;
        let Some(last) = records.last().map(|r| r.seq) else { continue };
        link.check_open().await?;
        for r in &records {
            link.send(&message(r, host, pid)).await?;
        }
        link.flush().await?;
        app.audit_forwarded(&head.chain, head.forwarded_seq, last).await?;
        sent += records.len();
    }
    Ok(sent)
}

/// Starts the forwarder when `audit.syslog` is set.
pub fn start(app: App, target: Target) {
    let url = target.url.clone();
    let host = crate::cli::host_name();
    tokio::spawn(async move {
        let mut link: Option<Link> = None;
        let mut failing = false;
        loop {
            let result = async {
                if link.is_none() {
                    link = Some(connect(&target).await?);
                }
                match link.as_mut() {
                    Some(l) => forward_once(&app, l, &host).await,
                    None => Ok(0),
                }
            }
            .await;
            match result {
                Ok(_) if failing => {
                    tracing::info!(%url, "syslog forwarding works again");
                    failing = false;
                }
                Ok(_) => {}
                Err(e) => {
                    if !failing {
                        tracing::warn!(%url, error = %format!("{e:#}"), "cannot forward audit records to syslog; retrying");
                    }
                    failing = true;
                    link = None;
                }
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_rfc5424_and_one_line() {
        let r = Record {
            chain: "example.org".into(),
            seq: 7,
            at: 1_795_435_445,
            security: true,
            action: "login.failed".into(),
            actor: "-".into(),
            source_ip: "192.0.2.1".into(),
            source_host: String::new(),
            target: "account:a\"b]c\\d@example.org".into(),
            summary: r#"{"reason":"line\nbreak"}"#.into(),
            acting: String::new(),
            prev_hash: "0".repeat(64),
            hash: "f".repeat(64),
        };
        let m = message(&r, "host one", 42);
        assert!(m.starts_with("<108>1 2026-11-23T12:04:05Z hostone deskward 42 login.failed [deskward@32473 chain=\"example.org\" seq=\"7\""), "{m}");
        assert!(m.contains(r#"target="account:a\"b\]c\\d@example.org""#), "{m}");
        assert!(!m.contains('\n'));
        assert!(!m.contains("acting="), "{m}");
        let m = message(&Record { acting: "root@example.org".into(), ..r }, "host one", 42);
        assert!(m.contains(r#"actor="-" acting="root@example.org" ip="#), "{m}");
    }
}
