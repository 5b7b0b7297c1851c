//! The certificate chain and private key from PEM files, held behind a lock that a reload swaps:
//! handshakes already done keep their keys, new ones get the new pair, and a pair that does not
//! load leaves the old one in place.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::SystemTime;

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

/// Where the certificate chain (leaf first) and its private key live, both PEM.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// A certificate or key that cannot be used. Messages name the file and the problem; none
/// carries key material or the parser's view of the file's contents.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// The file cannot be read.
    #[error("cannot read {}: {source}", file.display())]
    Read {
        file: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The certificate file holds no certificate.
    #[error("{}: no CERTIFICATE block in the file", file.display())]
    NoCertificate { file: PathBuf },
    /// The certificate file is not valid PEM.
    #[error("{}: not a PEM certificate chain", file.display())]
    CertificatePem { file: PathBuf },
    /// The leaf certificate does not parse.
    #[error("{}: the first certificate is not a valid X.509 certificate", file.display())]
    Certificate { file: PathBuf },
    /// The key file holds no private key.
    #[error(
        "{}: no private key in the file (PEM PKCS#8, PKCS#1 RSA or SEC1 EC key expected)",
        file.display()
    )]
    NoKey { file: PathBuf },
    /// The key is damaged or of a type the provider does not support.
    #[error("{}: the private key is damaged or of an unsupported type", file.display())]
    Key { file: PathBuf },
    /// The key is not the certificate's.
    #[error("{}: the private key does not belong to the certificate in {}", key.display(), cert.display())]
    Mismatch { cert: PathBuf, key: PathBuf },
    /// rustls refused the configuration.
    #[error("TLS configuration: {0}")]
    Config(#[source] rustls::Error),
}

/// What the files looked like when last read: modification time and length of each.
type Stamp = [Option<(SystemTime, u64)>; 2];

/// The certificate every handshake presents, re-read from its files on demand.
pub struct CertResolver {
    files: CertFiles,
    provider: Arc<CryptoProvider>,
    current: RwLock<Arc<CertifiedKey>>,
    seen: Mutex<Stamp>,
}

impl std::fmt::Debug for CertResolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertResolver")
            .field("files", &self.files)
            .finish_non_exhaustive()
    }
}

impl CertResolver {
    /// Reads both files; an error names the file.
    pub fn load(files: CertFiles, provider: Arc<CryptoProvider>) -> Result<Self, TlsError> {
        let seen = stamp(&files);
        let key = certified_key(&files, &provider)?;
        Ok(Self {
            files,
            provider,
            current: RwLock::new(Arc::new(key)),
            seen: Mutex::new(seen),
        })
    }

    /// The pair new handshakes get.
    pub fn current(&self) -> Arc<CertifiedKey> {
        Arc::clone(&self.current.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// Reads the files again and, if they make a usable pair, swaps it in; otherwise keeps the
    /// current pair and returns why.
    pub fn reload(&self) -> Result<(), TlsError> {
        *self.seen.lock().unwrap_or_else(PoisonError::into_inner) = stamp(&self.files);
        let key = certified_key(&self.files, &self.provider)?;
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(key);
        Ok(())
    }

    /// [`reload`](Self::reload), logged: info on success, an error naming the file otherwise.
    pub fn reload_logged(&self) -> bool {
        match self.reload() {
            Ok(()) => {
                tracing::info!(
                    cert = %self.files.cert.display(),
                    key = %self.files.key.display(),
                    "reloaded the TLS certificate; new connections use it"
                );
                true
            }
            Err(e) => {
                tracing::error!(
                    error = %e,
                    "TLS certificate not reloaded: still serving the previous one"
                );
                false
            }
        }
    }

    /// True when either file's time or length differs from the last read.
    pub fn changed_on_disk(&self) -> bool {
        *self.seen.lock().unwrap_or_else(PoisonError::into_inner) != stamp(&self.files)
    }
}

impl ResolvesServerCert for CertResolver {
    fn resolve(&self, _client_hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current())
    }
}

fn stamp(files: &CertFiles) -> Stamp {
    let one = |p: &Path| {
        let m = std::fs::metadata(p).ok()?;
        Some((m.modified().ok()?, m.len()))
    };
    [one(&files.cert), one(&files.key)]
}

fn read(file: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(file).map_err(|source| TlsError::Read {
        file: file.to_owned(),
        source,
    })
}

/// The chain and key of `files`, checked to belong together.
fn certified_key(files: &CertFiles, provider: &CryptoProvider) -> Result<CertifiedKey, TlsError> {
    let cert_file = || files.cert.clone();
    let key_file = || files.key.clone();
    let chain = CertificateDer::pem_slice_iter(&read(&files.cert)?)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| TlsError::CertificatePem { file: cert_file() })?;
    if chain.is_empty() {
        return Err(TlsError::NoCertificate { file: cert_file() });
    }
    warn_if_key_is_shared(&files.key);
    let key = {
        let pem = read(&files.key)?;
        // The parser's own errors can quote the file; they are replaced, never shown.
        PrivateKeyDer::from_pem_slice(&pem).map_err(|e| match e {
            rustls::pki_types::pem::Error::NoItemsFound => TlsError::NoKey { file: key_file() },
            _ => TlsError::Key { file: key_file() },
        })?
    };
    let signing = provider
        .key_provider
        .load_private_key(key)
        .map_err(|_| TlsError::Key { file: key_file() })?;
    let certified = CertifiedKey::new(chain, signing);
    match certified.keys_match() {
        Ok(()) | Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::Unknown)) => {
            Ok(certified)
        }
        Err(rustls::Error::InconsistentKeys(_)) => Err(TlsError::Mismatch {
            cert: cert_file(),
            key: key_file(),
        }),
        Err(_) => Err(TlsError::Certificate { file: cert_file() }),
    }
}

/// A private key others can read is still used (the operator decides), with a warning.
fn warn_if_key_is_shared(file: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        if let Ok(meta) = std::fs::metadata(file) {
            if meta.permissions().mode() & 0o077 != 0 {
                tracing::warn!(
                    file = %file.display(),
                    "the TLS private key is readable by other users: chmod 600 it"
                );
            }
        }
    }
    #[cfg(not(unix))]
    let _ = file;
}
