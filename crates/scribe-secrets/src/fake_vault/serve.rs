//! Listening: 127.0.0.1 on a random port (and `[::1]` on the same port when it is free, so
//! `localhost` works whichever address a client tries first), HTTP/1.1 by hyper, optionally behind
//! rustls (ring). Dropping the returned task's handle stops every listener and connection.

use std::net::{Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;

/// Binds the listeners; returns the port and the task serving them.
pub(super) async fn spawn(
    router: Router,
    tls: Option<TlsAcceptor>,
) -> (u16, tokio::task::JoinHandle<()>) {
    let v4 = TcpListener::bind(("127.0.0.1", 0))
        .await
        .expect("the fake Vault binds 127.0.0.1");
    let port = v4.local_addr().expect("bound address").port();
    let mut listeners = vec![v4];
    if let Ok(v6) = TcpListener::bind(SocketAddr::from((Ipv6Addr::LOCALHOST, port))).await {
        listeners.push(v6);
    }
    let task = tokio::spawn(async move {
        let mut loops = JoinSet::new();
        for listener in listeners {
            loops.spawn(accept_loop(listener, router.clone(), tls.clone()));
        }
        while loops.join_next().await.is_some() {}
    });
    (port, task)
}

async fn accept_loop(listener: TcpListener, router: Router, tls: Option<TlsAcceptor>) {
    // Owned here so that aborting the server task also ends every open connection.
    let mut connections = JoinSet::new();
    loop {
        let tcp = match listener.accept().await {
            Ok((tcp, _)) => tcp,
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        while connections.try_join_next().is_some() {}
        let service = TowerToHyperService::new(router.clone());
        let tls = tls.clone();
        connections.spawn(async move {
            let _ = tcp.set_nodelay(true);
            match tls {
                Some(acceptor) => {
                    if let Ok(stream) = acceptor.accept(tcp).await {
                        let _ = http1::Builder::new()
                            .serve_connection(TokioIo::new(stream), service)
                            .await;
                    }
                }
                None => {
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(tcp), service)
                        .await;
                }
            }
        });
    }
}

/// A rustls acceptor (ring, TLS 1.2 and 1.3, `http/1.1`) for a PEM chain and PKCS#8 key.
///
/// # Panics
///
/// When the PEM does not hold a certificate and a matching private key.
pub(super) fn acceptor(cert_chain_pem: &str, key_pem: &str) -> TlsAcceptor {
    let chain: Vec<CertificateDer<'static>> =
        CertificateDer::pem_slice_iter(cert_chain_pem.as_bytes())
            .collect::<Result<_, _>>()
            .expect("the fake Vault's certificate chain is PEM");
    assert!(
        !chain.is_empty(),
        "the fake Vault needs at least one certificate"
    );
    let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes())
        .expect("the fake Vault's private key is PEM");
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("ring supports the default TLS versions")
    .with_no_client_auth()
    .with_single_cert(chain, key)
    .expect("the fake Vault's certificate and key match");
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    TlsAcceptor::from(Arc::new(config))
}
