//! `[vault]`: secrets from HashiCorp Vault (PROTOCOL.md §6 names the keys). Only where Vault is
//! and how to sign in: a token, secret id or service-account JWT is read from a file, never
//! written here (so a role id and its secret id are never baked into one file).

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// `[vault]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct VaultSection {
    /// Take the secrets from Vault instead of the secrets file.
    pub enabled: bool,
    /// `https://vault.example.org:8200`; `http://` only on loopback (a Vault agent).
    pub address: String,
    /// The KV v2 engine's mount.
    pub mount: String,
    /// The secret's path in the mount; its keys are the secret names (`jwt_secret`, ...).
    pub path: String,
    /// Seconds a read is trusted; a rotation is picked up within it.
    pub cache_ttl_secs: u64,
    /// `token`, `approle` or `kubernetes`.
    pub auth_method: VaultAuthMethod,
    /// The auth method's mount; empty = the method's usual one (`approle`, `kubernetes`).
    pub auth_mount: String,
    /// AppRole: the role id.
    pub role_id: String,
    /// AppRole: the file holding the secret id (or, with `secret_id_wrapped`, a single-use
    /// response-wrapping token for it).
    pub secret_id_file: PathBuf,
    /// AppRole: `secret_id_file` holds a response-wrapping token.
    pub secret_id_wrapped: bool,
    /// Token auth: the file holding the token (e.g. the sink of a Vault agent).
    pub token_file: PathBuf,
    /// Kubernetes: the Vault role bound to the pod's service account.
    pub kubernetes_role: String,
    /// Kubernetes: the service-account token file.
    pub kubernetes_jwt_file: PathBuf,
    /// PEM CA bundle to trust for Vault's certificate, besides the system roots.
    pub ca_cert: PathBuf,
    /// Seconds per request.
    pub timeout_secs: u64,
}

/// `vault.auth_method`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VaultAuthMethod {
    Token,
    Approle,
    Kubernetes,
}

impl Default for VaultSection {
    fn default() -> Self {
        Self {
            enabled: false,
            address: "https://127.0.0.1:8200".into(),
            mount: "secret".into(),
            path: "nexus-scribe".into(),
            cache_ttl_secs: 300,
            auth_method: VaultAuthMethod::Approle,
            auth_mount: String::new(),
            role_id: String::new(),
            secret_id_file: PathBuf::new(),
            secret_id_wrapped: false,
            token_file: PathBuf::new(),
            kubernetes_role: String::new(),
            kubernetes_jwt_file: PathBuf::from(
                "/var/run/secrets/kubernetes.io/serviceaccount/token",
            ),
            ca_cert: PathBuf::new(),
            timeout_secs: 10,
        }
    }
}

impl VaultSection {
    /// The client settings; `jwt_grace` is the longest lifetime of a token signed with the JWT
    /// key (a superseded key keeps verifying that long).
    pub fn settings(&self, jwt_grace: Duration) -> scribe_secrets::VaultSettings {
        let mount = |usual: &str| {
            if self.auth_mount.is_empty() {
                usual.to_owned()
            } else {
                self.auth_mount.clone()
            }
        };
        let auth = match self.auth_method {
            VaultAuthMethod::Token => scribe_secrets::VaultAuth::Token {
                token_file: self.token_file.clone(),
            },
            VaultAuthMethod::Approle => scribe_secrets::VaultAuth::AppRole {
                mount: mount("approle"),
                role_id: self.role_id.clone(),
                secret_id_file: self.secret_id_file.clone(),
                wrapped: self.secret_id_wrapped,
            },
            VaultAuthMethod::Kubernetes => scribe_secrets::VaultAuth::Kubernetes {
                mount: mount("kubernetes"),
                role: self.kubernetes_role.clone(),
                jwt_file: self.kubernetes_jwt_file.clone(),
            },
        };
        scribe_secrets::VaultSettings {
            address: self.address.trim_end_matches('/').to_owned(),
            mount: self.mount.clone(),
            path: self.path.clone(),
            cache_ttl: Duration::from_secs(self.cache_ttl_secs),
            auth,
            ca_cert: (!self.ca_cert.as_os_str().is_empty()).then(|| self.ca_cert.clone()),
            timeout: Duration::from_secs(self.timeout_secs),
            jwt_grace,
        }
    }

    /// Whether the address is plain HTTP to somewhere other than loopback (refused in
    /// production: the secrets would cross the network in clear).
    pub fn plain_http_off_host(&self) -> bool {
        scribe_secrets::VaultSettings::plain_http_off_host(&self.address)
    }
}

/// The first problem of `[vault]`, as (key, message). Nothing is checked while it is disabled.
pub(super) fn validate(vault: &VaultSection) -> Result<(), (&'static str, String)> {
    if !vault.enabled {
        return Ok(());
    }
    scribe_secrets::VaultSettings::check_address(&vault.address)
        .map_err(|e| ("vault.address", e.to_string()))?;
    for (key, value) in [("vault.mount", &vault.mount), ("vault.path", &vault.path)] {
        let ok = !value.is_empty()
            && !value.starts_with('/')
            && !value.ends_with('/')
            && value
                .split('/')
                .all(|part| !part.is_empty() && part != "." && part != "..")
            && value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_./".contains(&b));
        if !ok {
            return Err((
                key,
                format!(
                    "{value:?} is not a Vault path such as \"secret\" or \"apps/nexus-scribe\""
                ),
            ));
        }
    }
    if !(1..=86_400).contains(&vault.cache_ttl_secs) {
        return Err((
            "vault.cache_ttl_secs",
            format!("{} is outside 1..=86400", vault.cache_ttl_secs),
        ));
    }
    if !(1..=300).contains(&vault.timeout_secs) {
        return Err((
            "vault.timeout_secs",
            format!("{} is outside 1..=300", vault.timeout_secs),
        ));
    }
    let set = |p: &Path| !p.as_os_str().is_empty();
    match vault.auth_method {
        VaultAuthMethod::Token if !set(&vault.token_file) => Err((
            "vault.token_file",
            "must be set when vault.auth_method = \"token\"".into(),
        )),
        VaultAuthMethod::Approle if vault.role_id.trim().is_empty() => Err((
            "vault.role_id",
            "must be set when vault.auth_method = \"approle\"".into(),
        )),
        VaultAuthMethod::Approle if !set(&vault.secret_id_file) => Err((
            "vault.secret_id_file",
            "must be set when vault.auth_method = \"approle\" (the secret id is never written in the settings)".into(),
        )),
        VaultAuthMethod::Kubernetes if vault.kubernetes_role.trim().is_empty() => Err((
            "vault.kubernetes_role",
            "must be set when vault.auth_method = \"kubernetes\"".into(),
        )),
        VaultAuthMethod::Kubernetes if !set(&vault.kubernetes_jwt_file) => Err((
            "vault.kubernetes_jwt_file",
            "must be set when vault.auth_method = \"kubernetes\"".into(),
        )),
        _ => Ok(()),
    }?;
    if set(&vault.ca_cert) {
        std::fs::File::open(&vault.ca_cert).map_err(|e| {
            (
                "vault.ca_cert",
                format!("cannot read {}: {e}", vault.ca_cert.display()),
            )
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enabled() -> VaultSection {
        VaultSection {
            enabled: true,
            role_id: "role".into(),
            secret_id_file: "/run/secret-id".into(),
            ..VaultSection::default()
        }
    }

    #[test]
    fn a_disabled_section_is_not_checked_and_an_enabled_one_is() {
        assert_eq!(validate(&VaultSection::default()), Ok(()));
        assert_eq!(validate(&enabled()), Ok(()));
        let cases: Vec<(VaultSection, &str)> = vec![
            (
                VaultSection {
                    address: "vault:8200".into(),
                    ..enabled()
                },
                "vault.address",
            ),
            (
                VaultSection {
                    mount: "/secret".into(),
                    ..enabled()
                },
                "vault.mount",
            ),
            (
                VaultSection {
                    path: "a/../b".into(),
                    ..enabled()
                },
                "vault.path",
            ),
            (
                VaultSection {
                    path: "a b".into(),
                    ..enabled()
                },
                "vault.path",
            ),
            (
                VaultSection {
                    cache_ttl_secs: 0,
                    ..enabled()
                },
                "vault.cache_ttl_secs",
            ),
            (
                VaultSection {
                    timeout_secs: 0,
                    ..enabled()
                },
                "vault.timeout_secs",
            ),
            (
                VaultSection {
                    role_id: String::new(),
                    ..enabled()
                },
                "vault.role_id",
            ),
            (
                VaultSection {
                    secret_id_file: PathBuf::new(),
                    ..enabled()
                },
                "vault.secret_id_file",
            ),
            (
                VaultSection {
                    auth_method: VaultAuthMethod::Token,
                    ..enabled()
                },
                "vault.token_file",
            ),
            (
                VaultSection {
                    auth_method: VaultAuthMethod::Kubernetes,
                    ..enabled()
                },
                "vault.kubernetes_role",
            ),
            (
                VaultSection {
                    ca_cert: "/nonexistent/ca.pem".into(),
                    ..enabled()
                },
                "vault.ca_cert",
            ),
        ];
        for (section, key) in cases {
            assert_eq!(
                validate(&section).map_err(|(k, _)| k),
                Err(key),
                "{section:?}"
            );
        }
    }

    #[test]
    fn plain_http_is_only_for_loopback() {
        for (address, off_host) in [
            ("https://vault.example.org:8200", false),
            ("http://127.0.0.1:8200", false),
            ("http://localhost:8200", false),
            ("http://[::1]:8200", false),
            ("http://vault.example.org:8200", true),
            ("http://10.0.0.5", true),
        ] {
            let section = VaultSection {
                address: address.into(),
                ..enabled()
            };
            assert_eq!(section.plain_http_off_host(), off_host, "{address}");
        }
    }

    #[test]
    fn settings_use_the_methods_usual_mounts() {
        let s = enabled().settings(Duration::from_secs(60));
        assert_eq!(s.cache_ttl, Duration::from_secs(300));
        assert!(matches!(
            s.auth,
            scribe_secrets::VaultAuth::AppRole { ref mount, .. } if mount == "approle"
        ));
        let k = VaultSection {
            auth_method: VaultAuthMethod::Kubernetes,
            kubernetes_role: "scribe".into(),
            auth_mount: "k8s-prod".into(),
            ..enabled()
        };
        assert!(matches!(
            k.settings(Duration::ZERO).auth,
            scribe_secrets::VaultAuth::Kubernetes { ref mount, .. } if mount == "k8s-prod"
        ));
    }
}
