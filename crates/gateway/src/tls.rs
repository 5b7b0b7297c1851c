//! Native TLS (rustls with ring, no OpenSSL): which protocol versions and cipher suites the
//! service offers, the certificate and key from PEM files (swapped in place on reload, so open
//! connections keep going and new handshakes get the new pair), the HTTPS accept loop, and
//! [`ViaTls`], the mark of a request that really came over TLS (HSTS is sent only then).
//!
//! Only TLS 1.2 and 1.3, and only forward-secret AEAD suites: the TLS 1.3 suites and, for 1.2,
//! ECDHE with AES-GCM or ChaCha20-Poly1305 (no CBC, no static-RSA key exchange; rustls has
//! neither, and the list below is an allow-list all the same, so a new provider default cannot
//! widen it).

mod certs;
mod serve;

use std::sync::Arc;

use rustls::crypto::{ring, CryptoProvider, SupportedKxGroup};
use rustls::{ServerConfig, SupportedCipherSuite, SupportedProtocolVersion};

pub use certs::{CertFiles, CertResolver, TlsError};
pub use serve::{serve_tls, serve_with, ConnLimits, HANDSHAKE_TIMEOUT};

/// How often the certificate files are checked for a change (SIGHUP reloads at once).
pub const RELOAD_POLL: std::time::Duration = std::time::Duration::from_secs(5);

/// Request extension inserted by the TLS accept path on every request of a TLS connection; the
/// security-headers middleware adds `Strict-Transport-Security` only when it is present.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ViaTls;

/// TLS 1.3 and 1.2; nothing older.
pub static PROTOCOL_VERSIONS: &[&SupportedProtocolVersion] =
    &[&rustls::version::TLS13, &rustls::version::TLS12];

/// Forward-secret AEAD suites, strongest first (the server's order wins).
pub static CIPHER_SUITES: &[SupportedCipherSuite] = &[
    ring::cipher_suite::TLS13_AES_256_GCM_SHA384,
    ring::cipher_suite::TLS13_AES_128_GCM_SHA256,
    ring::cipher_suite::TLS13_CHACHA20_POLY1305_SHA256,
    ring::cipher_suite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
    ring::cipher_suite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
    ring::cipher_suite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
    ring::cipher_suite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
    ring::cipher_suite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
    ring::cipher_suite::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
];

/// Ephemeral key exchange groups (all elliptic-curve Diffie-Hellman).
pub static KX_GROUPS: &[&dyn SupportedKxGroup] = &[
    ring::kx_group::X25519,
    ring::kx_group::SECP256R1,
    ring::kx_group::SECP384R1,
];

/// The ring provider narrowed to [`CIPHER_SUITES`] and [`KX_GROUPS`].
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(CryptoProvider {
        cipher_suites: CIPHER_SUITES.to_vec(),
        kx_groups: KX_GROUPS.to_vec(),
        ..ring::default_provider()
    })
}

/// The certificate in use and the server configuration that presents it.
#[derive(Clone, Debug)]
pub struct Tls {
    pub certs: Arc<CertResolver>,
    pub config: Arc<ServerConfig>,
}

impl Tls {
    /// Loads the certificate chain and key (an error names the file and the problem, never key
    /// material) and builds the server configuration around them.
    pub fn from_files(files: CertFiles) -> Result<Self, TlsError> {
        let provider = provider();
        let certs = Arc::new(CertResolver::load(files, Arc::clone(&provider))?);
        let mut config = ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(PROTOCOL_VERSIONS)
            .map_err(TlsError::Config)?
            .with_no_client_auth()
            .with_cert_resolver(certs.clone());
        // HTTP/1.1 only, like the plain listener (WebSockets upgrade over it).
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        config.ignore_client_order = true;
        Ok(Self {
            certs,
            config: Arc::new(config),
        })
    }

    /// Re-reads the files now (SIGHUP), off the async runtime; on failure the previous pair
    /// stays and the error is logged, naming the file.
    pub async fn reload(&self) -> bool {
        let certs = Arc::clone(&self.certs);
        tokio::task::spawn_blocking(move || certs.reload_logged())
            .await
            .unwrap_or(false)
    }

    /// Checks the files every `poll` and reloads when either changed, until the runtime ends.
    pub fn spawn_watch(&self, poll: std::time::Duration) {
        let tls = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(poll);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                if tls.certs.changed_on_disk() {
                    tls.reload().await;
                }
            }
        });
    }
}

#[cfg(test)]
mod tests;
