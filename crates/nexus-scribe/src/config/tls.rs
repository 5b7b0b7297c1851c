//! `[server.tls]` and the HTTPS switches of `[server]` (`https_only`, `http_redirect_port`),
//! checked together at load: half a pair, a file that cannot be read, or a switch that needs TLS
//! without it stops start-up with the key (and path) named.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::ServerConfig;

/// `[server.tls]`: the certificate chain and key `serve` presents (PEM). Both empty = plain HTTP.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TlsSection {
    /// The certificate chain, leaf first.
    pub cert_path: PathBuf,
    /// The certificate's private key (PKCS#8, PKCS#1 RSA or SEC1 EC).
    pub key_path: PathBuf,
}

impl TlsSection {
    /// The files to serve HTTPS with, or `None` for plain HTTP.
    pub fn files(&self) -> Option<gateway::tls::CertFiles> {
        (!self.cert_path.as_os_str().is_empty()).then(|| gateway::tls::CertFiles {
            cert: self.cert_path.clone(),
            key: self.key_path.clone(),
        })
    }
}

/// The first problem of the server's TLS settings, as (key, message).
pub(super) fn validate(server: &ServerConfig) -> Result<(), (&'static str, String)> {
    let tls = &server.tls;
    let set = |p: &Path| !p.as_os_str().is_empty();
    match (set(&tls.cert_path), set(&tls.key_path)) {
        (true, false) => {
            return Err((
                "server.tls.key_path",
                "must be set together with server.tls.cert_path".into(),
            ))
        }
        (false, true) => {
            return Err((
                "server.tls.cert_path",
                "must be set together with server.tls.key_path".into(),
            ))
        }
        (true, true) => {
            readable("server.tls.cert_path", &tls.cert_path)?;
            readable("server.tls.key_path", &tls.key_path)?;
        }
        (false, false) => {
            if server.https_only {
                return Err((
                    "server.https_only",
                    "is true, but [server.tls] cert_path and key_path are not set".into(),
                ));
            }
            if server.http_redirect_port != 0 {
                return Err((
                    "server.http_redirect_port",
                    "redirects to HTTPS, which needs [server.tls] cert_path and key_path".into(),
                ));
            }
        }
    }
    if server.http_redirect_port != 0 && server.http_redirect_port == server.port {
        return Err((
            "server.http_redirect_port",
            format!("{} is server.port itself", server.port),
        ));
    }
    Ok(())
}

fn readable(key: &'static str, path: &Path) -> Result<(), (&'static str, String)> {
    let cannot = |why: String| (key, format!("cannot read {}: {why}", path.display()));
    match std::fs::metadata(path) {
        Ok(m) if !m.is_file() => Err(cannot("not a file".into())),
        Ok(_) => std::fs::File::open(path)
            .map(drop)
            .map_err(|e| cannot(e.to_string())),
        Err(e) => Err(cannot(e.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use crate::config::tests::env;
    use crate::config::Config;

    fn load(pairs: &[(&str, &str)]) -> Result<Config, String> {
        Config::load(None, &env(pairs)).map_err(|e| e.to_string())
    }

    const CERT: &str = "NEXUS_SCRIBE__SERVER__TLS__CERT_PATH";
    const KEY: &str = "NEXUS_SCRIBE__SERVER__TLS__KEY_PATH";

    #[test]
    fn tls_is_off_by_default() {
        let c = load(&[]).expect("defaults");
        assert_eq!(c.server.tls.files(), None);
        assert!(!c.server.https_only);
        assert_eq!(c.server.http_redirect_port, 0);
    }

    #[test]
    fn a_readable_pair_turns_tls_on() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
        std::fs::write(&cert, "x").expect("write");
        std::fs::write(&key, "x").expect("write");
        let (cert_s, key_s) = (cert.to_str().expect("utf-8"), key.to_str().expect("utf-8"));
        let c = load(&[
            (CERT, cert_s),
            (KEY, key_s),
            ("NEXUS_SCRIBE__SERVER__HTTPS_ONLY", "true"),
            ("NEXUS_SCRIBE__SERVER__HTTP_REDIRECT_PORT", "8081"),
        ])
        .expect("valid");
        let files = c.server.tls.files().expect("on");
        assert_eq!((files.cert, files.key), (cert.clone(), key.clone()));

        let err = load(&[(CERT, cert_s)]).expect_err("no key");
        assert!(
            err.contains("server.tls.key_path") && err.contains("together"),
            "{err}"
        );
        let err = load(&[(KEY, key_s)]).expect_err("no cert");
        assert!(err.contains("server.tls.cert_path"), "{err}");

        let missing = dir.path().join("missing.pem");
        let err = load(&[(CERT, cert_s), (KEY, missing.to_str().expect("utf-8"))])
            .expect_err("missing key file");
        assert!(
            err.contains("server.tls.key_path")
                && err.contains("cannot read")
                && err.contains("missing.pem"),
            "{err}"
        );
        let err = load(&[(CERT, dir.path().to_str().expect("utf-8")), (KEY, key_s)])
            .expect_err("a folder");
        assert!(
            err.contains("server.tls.cert_path") && err.contains("not a file"),
            "{err}"
        );

        let err = load(&[
            (CERT, cert_s),
            (KEY, key_s),
            ("NEXUS_SCRIBE__SERVER__HTTP_REDIRECT_PORT", "8080"),
        ])
        .expect_err("same port");
        assert!(err.contains("server.http_redirect_port"), "{err}");
    }

    #[test]
    fn https_switches_without_tls_are_refused() {
        let err = load(&[("NEXUS_SCRIBE__SERVER__HTTPS_ONLY", "true")]).expect_err("no tls");
        assert!(
            err.contains("server.https_only") && err.contains("[server.tls]"),
            "{err}"
        );
        let err =
            load(&[("NEXUS_SCRIBE__SERVER__HTTP_REDIRECT_PORT", "8081")]).expect_err("no tls");
        assert!(err.contains("server.http_redirect_port"), "{err}");
        let err = load(&[("NEXUS_SCRIBE__SERVER__TLS__CERT", "x")]).expect_err("unknown key");
        assert!(err.contains("server.tls.cert"), "{err}");
    }
}
