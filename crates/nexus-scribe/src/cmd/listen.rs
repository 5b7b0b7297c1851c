//! How `serve` listens: plain HTTP, or HTTPS with the certificate of `[server.tls]` (reloaded on
//! SIGHUP and when its files change, without dropping connections) and the optional plain-HTTP
//! redirect listener. Production refuses plain HTTP on an address other machines can reach.

use std::future::Future;
use std::net::SocketAddr;

use anyhow::{bail, Context as _};
use gateway::tls::Tls;
use scribe_secrets::Mode;
use tokio::net::TcpListener;

use crate::config::Config;

/// Where and how `serve` will listen, checked and with its certificate loaded.
pub struct Edge {
    addr: SocketAddr,
    tls: Option<Tls>,
    redirect_port: u16,
    limits: gateway::tls::ConnLimits,
}

impl Edge {
    /// The address (`--listen`, else `[server] host`/`port`), the production rule, and the
    /// certificate: done before the slow part of start-up so a bad `[server.tls]` fails at once.
    pub fn prepare(config: &Config, listen: Option<SocketAddr>) -> anyhow::Result<Self> {
        let addr = match listen {
            Some(a) => a,
            None => SocketAddr::new(
                config.server.host.parse().context("server.host")?,
                config.server.port,
            ),
        };
        let files = config.server.tls.files();
        refuse_public_plain_http(addr, files.is_some(), super::run_mode())?;
        let tls = files
            .map(|f| Tls::from_files(f).context("cannot use [server.tls]"))
            .transpose()?;
        Ok(Self {
            addr,
            tls,
            redirect_port: config.server.http_redirect_port,
            limits: gateway::tls::ConnLimits {
                max_connections: config.server.max_connections,
                header_timeout: std::time::Duration::from_secs(config.server.header_timeout_secs),
            },
        })
    }

    /// Binds and serves `router` until `shutdown` completes (then lets open requests finish).
    pub async fn serve(
        self,
        router: axum::Router,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let listener = bind(self.addr).await?;
        let Some(tls) = self.tls else {
            gateway::serve(listener, router, self.limits, shutdown).await?;
            return Ok(());
        };
        reload_on_hangup(&tls)?;
        tls.spawn_watch(gateway::tls::RELOAD_POLL);
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let redirect = match self.redirect_port {
            0 => None,
            port => {
                let plain = bind(SocketAddr::new(self.addr.ip(), port)).await?;
                let https_port = listener.local_addr()?.port();
                let mut stop = stop_rx;
                let stopped = async move {
                    let _ = stop.wait_for(|s| *s).await;
                };
                Some(tokio::spawn(gateway::redirect::serve(
                    plain, https_port, stopped,
                )))
            }
        };
        let shutdown = async move {
            shutdown.await;
            let _ = stop_tx.send(true);
        };
        gateway::tls::serve_tls(listener, router, tls.config, self.limits, shutdown).await?;
        if let Some(redirect) = redirect {
            redirect.await??;
        }
        Ok(())
    }
}

async fn bind(addr: SocketAddr) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))
}

/// In production, plain HTTP only on loopback (behind a proxy on the same machine).
fn refuse_public_plain_http(addr: SocketAddr, tls: bool, mode: Mode) -> anyhow::Result<()> {
    if mode == Mode::Production && !tls && !addr.ip().to_canonical().is_loopback() {
        bail!(
            "refusing to serve plain HTTP on {addr} in production (NEXUS_SCRIBE_ENV): set \
             [server.tls] cert_path and key_path, or listen on a loopback address behind a \
             proxy that terminates TLS"
        );
    }
    Ok(())
}

/// SIGHUP re-reads the certificate (the server keeps running; a bad file keeps the old pair).
fn reload_on_hangup(tls: &Tls) -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut hangups = signal(SignalKind::hangup()).context("cannot handle SIGHUP")?;
        let tls = tls.clone();
        tokio::spawn(async move {
            while hangups.recv().await.is_some() {
                tracing::info!("SIGHUP: reloading the TLS certificate");
                tls.reload().await;
            }
        });
    }
    #[cfg(not(unix))]
    let _ = tls;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn production_refuses_plain_http_on_a_public_address_only() {
        let at = |s: &str| s.parse::<SocketAddr>().expect("addr");
        let err = refuse_public_plain_http(at("0.0.0.0:8080"), false, Mode::Production)
            .expect_err("public plain HTTP")
            .to_string();
        assert!(
            err.contains("[server.tls]") && err.contains("0.0.0.0:8080"),
            "{err}"
        );
        refuse_public_plain_http(at("192.0.2.7:80"), false, Mode::Production).expect_err("public");
        refuse_public_plain_http(at("[::]:80"), false, Mode::Production).expect_err("public");
        for ok in ["127.0.0.1:8080", "[::1]:8080", "[::ffff:127.0.0.1]:8080"] {
            refuse_public_plain_http(at(ok), false, Mode::Production).expect(ok);
        }
        refuse_public_plain_http(at("0.0.0.0:443"), true, Mode::Production).expect("with TLS");
        refuse_public_plain_http(at("0.0.0.0:8080"), false, Mode::Development)
            .expect("development");
    }
}
