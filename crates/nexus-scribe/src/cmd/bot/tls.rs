//! TLS for `wss://`/`https://`: rustls (ring), trusting the system roots plus `--ca-cert`.

use std::path::Path;
use std::sync::Arc;

use anyhow::{bail, Context as _};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::CertificateDer;
use rustls::{ClientConfig, RootCertStore};

/// A client configuration trusting the system's root certificates and those in `ca_cert`.
pub fn client_config(ca_cert: Option<&Path>) -> anyhow::Result<Arc<ClientConfig>> {
    let mut roots = RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    let (system, _) = roots.add_parsable_certificates(native.certs);
    tracing::debug!(system, "loaded system root certificates");
    if let Some(path) = ca_cert {
        let added = add_pem(&mut roots, path)?;
        tracing::debug!(added, file = %path.display(), "added trusted certificates");
    }
    if roots.is_empty() {
        bail!("no trusted root certificates: the system store is empty; pass --ca-cert FILE");
    }
    let config =
        ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .context("setting up TLS")?
            .with_root_certificates(roots)
            .with_no_client_auth();
    Ok(Arc::new(config))
}

/// Adds every certificate of a PEM file; a file with none is an error.
fn add_pem(roots: &mut RootCertStore, path: &Path) -> anyhow::Result<usize> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|iter| iter.collect::<Result<Vec<_>, _>>())
        .with_context(|| format!("--ca-cert {}: not a readable PEM file", path.display()))?;
    if certs.is_empty() {
        bail!(
            "--ca-cert {}: no CERTIFICATE block in the file",
            path.display()
        );
    }
    let n = certs.len();
    for cert in certs {
        roots
            .add(cert)
            .with_context(|| format!("--ca-cert {}: a certificate is invalid", path.display()))?;
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ca_cert_that_is_missing_or_holds_no_certificate_is_named() {
        let dir = tempfile::tempdir().expect("tempdir");
        let missing = dir.path().join("missing.pem");
        let err = format!("{:#}", client_config(Some(&missing)).expect_err("missing"));
        assert!(err.contains("missing.pem"), "{err}");
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").expect("write");
        let err = format!("{:#}", client_config(Some(&empty)).expect_err("empty"));
        assert!(err.contains("no CERTIFICATE"), "{err}");
    }
}
