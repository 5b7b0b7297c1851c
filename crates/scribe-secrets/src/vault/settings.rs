//! Where Vault is and how the service signs in to it. Holds no secret: tokens, secret ids and
//! service-account JWTs are read from files when needed, never baked into the settings.

use std::path::PathBuf;
use std::time::Duration;

use super::session::VaultProblem;

/// The Vault connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VaultSettings {
    /// `https://vault.example.org:8200` (`http://` only for a Vault agent on loopback).
    pub address: String,
    /// The KV v2 engine's mount, e.g. `secret`.
    pub mount: String,
    /// The secret's path inside the mount, e.g. `nexus-scribe`.
    pub path: String,
    /// How long a read is trusted before the secret is read again (rotation shows up within it).
    pub cache_ttl: Duration,
    /// How the service signs in.
    pub auth: VaultAuth,
    /// A PEM bundle of CA certificates to trust for Vault's TLS certificate, in addition to the
    /// system's roots.
    pub ca_cert: Option<PathBuf>,
    /// Per-request timeout.
    pub timeout: Duration,
    /// How long a superseded `jwt_secret` keeps verifying after the version replacing it was
    /// written: the longest lifetime of a token signed with it.
    pub jwt_grace: Duration,
}

impl VaultSettings {
    /// Refuses an address that is not `scheme://host[:port]` with scheme `https` or `http`, with
    /// a message naming the problem (vaultrs itself panics on an address it cannot parse).
    pub fn check_address(address: &str) -> Result<(), VaultProblem> {
        let bad = |why: &str| VaultProblem::Invalid(format!("Vault address {address:?} {why}"));
        let rest = address
            .strip_prefix("https://")
            .or_else(|| address.strip_prefix("http://"))
            .ok_or_else(|| bad("must start with https:// (or http:// for an agent on loopback)"))?;
        let host = rest.trim_end_matches('/');
        if host.is_empty() || host.contains(['/', '?', '#', '@', ' ']) {
            return Err(bad(
                "must be scheme://host[:port] with no path, query or user",
            ));
        }
        url::Url::parse(address).map_err(|e| bad(&format!("is not a URL: {e}")))?;
        Ok(())
    }

    /// Whether `address` is plain HTTP to a host other than loopback (the secrets would cross
    /// the network in clear; production refuses it).
    pub fn plain_http_off_host(address: &str) -> bool {
        let Ok(url) = url::Url::parse(address) else {
            return false;
        };
        if url.scheme() != "http" {
            return false;
        }
        !match url.host() {
            Some(url::Host::Domain(name)) => name == "localhost",
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            None => false,
        }
    }

    /// `<mount>/<path>` for messages.
    pub fn describe(&self) -> String {
        format!("{} {}/data/{}", self.address, self.mount, self.path)
    }
}

/// How the service authenticates to Vault.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VaultAuth {
    /// A token read from a file (e.g. written by a Vault agent); re-read when the token stops
    /// working, so an agent that replaces it is followed.
    Token {
        /// The file holding the token.
        token_file: PathBuf,
    },
    /// AppRole: the role id is configuration, the secret id comes from a file, either as is or
    /// response-wrapped (the file then holds a single-use wrapping token, unwrapped once at
    /// start-up; a token someone else already unwrapped is refused loudly).
    AppRole {
        /// The auth mount, usually `approle`.
        mount: String,
        /// The role id.
        role_id: String,
        /// The file holding the secret id or its wrapping token.
        secret_id_file: PathBuf,
        /// Whether `secret_id_file` holds a response-wrapping token.
        wrapped: bool,
    },
    /// Kubernetes: the pod's service-account JWT, exchanged for a token of `role`.
    Kubernetes {
        /// The auth mount, usually `kubernetes`.
        mount: String,
        /// The Vault role bound to the service account.
        role: String,
        /// The projected service-account token (re-read at every login: kubelet rotates it).
        jwt_file: PathBuf,
    },
}

impl VaultAuth {
    /// `token`, `approle` or `kubernetes`.
    pub fn method(&self) -> &'static str {
        match self {
            Self::Token { .. } => "token",
            Self::AppRole { .. } => "approle",
            Self::Kubernetes { .. } => "kubernetes",
        }
    }
}
