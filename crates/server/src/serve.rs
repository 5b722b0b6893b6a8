//! `deskward serve`: the HTTPS listener. Each connection is a TLS handshake (bounded in time)
//! followed by HTTP/1.1 or HTTP/2 served by the axum router; Ctrl-C or SIGTERM drain
//! connections gracefully.

use std::time::{Duration, Instant};

use anyhow::{Context, anyhow};
use deskward_config::Settings;
use deskward_http::{HttpOptions, PeerAddr};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

use crate::{settings, tls};

const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

pub async fn run(settings: &Settings) -> anyhow::Result<()> {
    let started = Instant::now();
    let (app, data_dir) = settings::open_app(settings).await?;
    let http = &settings.http;
    let configured = http.tls_cert.as_deref().zip(http.tls_key.as_deref());
    let files = tls::certificate(configured, &data_dir)?;
    if files.generated {
        tracing::info!(cert = %files.cert.display(), "made a self-signed certificate for localhost");
    }
    let acceptor = TlsAcceptor::from(tls::server_config(&files)?);
    let mailer = crate::mail::mailer(&settings.mail)?;
    let listener = TcpListener::bind(http.listen)
        .await
        .with_context(|| format!("http.listen {}: cannot listen (is another server using the port?)", http.listen))?;
    let local = listener.local_addr()?;
    let has_admin = app.has_system_admin().await.map_err(|e| anyhow!("{e}"))?;
    let options = HttpOptions {
        max_body_bytes: usize::try_from(http.max_body_bytes).unwrap_or(usize::MAX),
        request_timeout: http.request_timeout,
        trusted_proxies: http.trusted_proxies.clone(),
    };
    let host = crate::cli::host_name();
    let mut values = deskward_config::effective(settings);
    for (key, value) in &mut values {
        if *key == "database.url" {
            *value = deskward_store::redact(value);
        }
    }
    app.record_start(&deskward_app::Caller::system(&host), env!("CARGO_PKG_VERSION"), &values)
        .await
        .map_err(|e| anyhow!("cannot write the start's audit record: {e}"))?;
    // Bans are in force from the first request, not from the first poll.
    app.reload_bans().await.map_err(|e| anyhow!("cannot read the bans: {e}"))?;
    // A key file problem locks the stored secrets only: the server starts and says what to do.
    match app.check_secrets().await {
        Ok(Some(key)) => tracing::info!(%key, "stored secrets are encrypted and their key file is in place"),
        Ok(None) => {}
        Err(e) => tracing::error!("stored secrets are locked: {e}"),
    }
    match app.sweep_documents().await {
        Ok(0) => {}
        Ok(n) => tracing::info!(files = n, "removed document files no version refers to (unfinished uploads)"),
        Err(e) => tracing::warn!(error = %e, "cannot sweep the document files"),
    }
    app.start_background_tasks(deskward_app::ThreadHooks { lower_priority: crate::lower_thread_priority, give_back: crate::give_back_memory });
    crate::retention::start(app.clone(), settings);
    crate::directory_sync::start(app.clone(), settings);
    if let Some(url) = &settings.audit.syslog {
        crate::syslog::start(app.clone(), crate::syslog::Target { url: url.clone(), ca_file: settings.audit.syslog_ca_file.clone() });
    }
    if let Some(mailer) = mailer {
        crate::mail::start(app.clone(), mailer);
    }
    let router = deskward_http::router(app.clone(), &options);
    // Printed on stdout so scripts and tests can find the address when listening on port 0.
    println!("deskward listening on https://{local}/ (data directory {})", data_dir.display());
    tracing::info!(%local, ms = started.elapsed().as_millis() as u64, "ready");
    if !has_admin {
        print_first_admin_help(&data_dir);
    }

    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown_signal());
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (tcp, peer) = match accepted {
                    Ok(c) => c,
                    Err(e) => {
                        // Out of file descriptors and similar: wait a moment rather than spin.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = tcp.set_nodelay(true);
                let acceptor = acceptor.clone();
                let router = router.clone();
                let watcher = graceful.watcher();
                tokio::spawn(async move {
                    let tls = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                        Ok(Ok(tls)) => tls,
                        Ok(Err(e)) => {
                            tracing::debug!(%peer, error = %e, "tls handshake failed");
                            return;
                        }
                        Err(_) => {
                            tracing::debug!(%peer, "tls handshake timed out");
                            return;
                        }
                    };
                    let service = router.map_request(move |mut req: hyper::Request<hyper::body::Incoming>| {
                        req.extensions_mut().insert(PeerAddr(peer));
                        req
                    });
                    let mut builder = Builder::new(TokioExecutor::new());
                    builder.http1().timer(TokioTimer::new()).header_read_timeout(HANDSHAKE_TIMEOUT);
                    let conn = builder.serve_connection_with_upgrades(TokioIo::new(tls), TowerToHyperService::new(service));
                    if let Err(e) = watcher.watch(conn.into_owned()).await {
                        tracing::debug!(%peer, error = %e, "connection ended with an error");
                    }
                });
            }
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    tracing::info!("shutting down; waiting for open connections");
    if tokio::time::timeout(Duration::from_secs(10), graceful.shutdown()).await.is_err() {
        tracing::warn!("some connections did not close in time");
    }
    app.store.close().await;
    Ok(())
}

fn print_first_admin_help(data_dir: &std::path::Path) {
    let dir = data_dir.display();
    eprintln!(
        "\nNo system administrator exists yet. There is no default password: from this host, run\n\
         \n  deskward --data-dir {dir} domain add example.org\n  \
         deskward --data-dir {dir} account add admin@example.org --role system-admin --password-stdin\n\
         \nthen log in with POST /api/v1/session. (Use your own domain; with cargo, prefix `cargo run -p deskward --`.)\n"
    );
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => {
                let _ = ctrl_c.await;
                return;
            }
        };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
}

