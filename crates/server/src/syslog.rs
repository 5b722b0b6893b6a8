//! Forwarding of audit records to a syslog receiver (a SIEM) as RFC 5424 messages, over UDP
//! (one datagram each) or TCP (octet-counted frames, RFC 6587). Every second the forwarder
//! sends what the chains hold beyond their forwarding cursor and then moves the cursor, so a
//! receiver that is down gets the records once it is back (at least once; two nodes that race
//! may both send a record, and the receiver sees the same `seq` twice).

use std::time::Duration;

use anyhow::{Context, bail};
use deskward_app::App;
use deskward_core::audit::{Record, timestamp};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpStream, UdpSocket};

/// Facility 13 ("log audit", RFC 5424 table 1).
const FACILITY: u8 = 13;
/// The IANA private enterprise number reserved for documentation (RFC 5612).
const SD_ID: &str = "deskward@32473";
const BATCH: i64 = 500;

enum Link {
    Udp(UdpSocket),
    Tcp(TcpStream),
}

/// One record as an RFC 5424 message: notice for changes, warning for security events; the
/// message is the record's JSON (one line; control characters are escaped by JSON).
pub fn message(r: &Record, host: &str, pid: u32) -> String {
    let severity = if r.security { 4 } else { 5 };
    let msgid: String = r.action.chars().filter(|c| c.is_ascii_graphic()).take(32).collect();
    let sd = format!(
        "[{SD_ID} chain=\"{}\" seq=\"{}\" actor=\"{}\" ip=\"{}\" target=\"{}\" hash=\"{}\"]",
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

async fn connect(url: &str) -> anyhow::Result<Link> {
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
    bail!("unsupported syslog url {url}")
}

impl Link {
    /// A TCP receiver that went away has closed the connection; writing would only fill the
    /// socket buffer, so the records would count as sent and be lost. Checked before a batch.
    fn check_open(&self) -> anyhow::Result<()> {
        if let Link::Tcp(s) = self {
            let mut byte = [0u8; 1];
            match s.try_read(&mut byte) {
                Ok(0) => bail!("the syslog receiver closed the connection"),
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
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
        link.check_open()?;
        for r in &records {
            link.send(&message(r, host, pid)).await?;
        }
        if let Link::Tcp(s) = link {
            s.flush().await?;
        }
        app.audit_forwarded(&head.chain, head.forwarded_seq, last).await?;
        sent += records.len();
    }
    Ok(sent)
}

/// Starts the forwarder when `audit.syslog` is set.
pub fn start(app: App, url: String) {
    let host = crate::cli::host_name();
    tokio::spawn(async move {
        let mut link: Option<Link> = None;
        let mut failing = false;
        loop {
            let result = async {
                if link.is_none() {
                    link = Some(connect(&url).await?);
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
            prev_hash: "0".repeat(64),
            hash: "f".repeat(64),
        };
        let m = message(&r, "host one", 42);
        assert!(m.starts_with("<108>1 2026-11-23T12:04:05Z hostone deskward 42 login.failed [deskward@32473 chain=\"example.org\" seq=\"7\""), "{m}");
        assert!(m.contains(r#"target="account:a\"b\]c\\d@example.org""#), "{m}");
        assert!(!m.contains('\n'));
    }
}
