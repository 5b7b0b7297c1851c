//! A signed-in Vault client: login by the configured method, token renewal, and the mapping of
//! Vault's answers to [`VaultProblem`]s that name what went wrong without any token or value.

use std::fmt;
use std::path::Path;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use tokio::time::Instant;
use vaultrs::client::{Client as _, VaultClient, VaultClientSettingsBuilder};
use vaultrs::error::ClientError;

use super::settings::{VaultAuth, VaultSettings};

/// A token or secret-id file is a few hundred bytes; a Kubernetes JWT a few KiB.
const MAX_CREDENTIAL_BYTES: u64 = 64 * 1024;

/// Why a Vault request failed. Messages carry Vault's status and its own error text (which never
/// echoes a credential), never a token, secret id or secret value.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VaultProblem {
    /// Vault answered 503 "Vault is sealed".
    #[error("Vault is sealed")]
    Sealed,
    /// 403: the token is unknown, expired or revoked, or its policy does not cover the path.
    #[error("Vault refused the request (403 permission denied): the token is invalid or expired, or its policy does not allow {0}")]
    Denied(String),
    /// 404 on the secret: nothing is stored at the path.
    #[error("no secret at {0} (404)")]
    NotFound(String),
    /// Another 4xx, with Vault's error text (e.g. "invalid role or secret ID").
    #[error("Vault rejected the request ({code}): {message}")]
    Rejected {
        /// The HTTP status.
        code: u16,
        /// Vault's `errors`, joined.
        message: String,
    },
    /// A 5xx other than sealed (standby without a leader, internal error, ...).
    #[error("Vault is unavailable ({code}){message}")]
    Unavailable {
        /// The HTTP status.
        code: u16,
        /// Vault's `errors`, joined, with a leading ": ", or empty.
        message: String,
    },
    /// No answer: connection refused, TLS failure, timeout.
    #[error("cannot reach Vault: {0}")]
    Unreachable(String),
    /// A credential file, the address or an answer was unusable.
    #[error("{0}")]
    Invalid(String),
}

impl VaultProblem {
    /// Whether logging in again may help (the token expired or was revoked).
    pub(crate) fn is_denied(&self) -> bool {
        matches!(self, Self::Denied(_))
    }

    pub(crate) fn from_client(error: ClientError, what: &str) -> Self {
        match error {
            ClientError::APIError { code, errors } => {
                let message = errors
                    .iter()
                    .map(|e| e.chars().take(200).collect::<String>())
                    .collect::<Vec<_>>()
                    .join("; ");
                match code {
                    503 if message.contains("sealed") => Self::Sealed,
                    403 => Self::Denied(what.to_owned()),
                    404 => Self::NotFound(what.to_owned()),
                    400..=499 => Self::Rejected { code, message },
                    _ => Self::Unavailable {
                        code,
                        message: if message.is_empty() {
                            String::new()
                        } else {
                            format!(": {message}")
                        },
                    },
                }
            }
            ClientError::RestClientError { source } => Self::Unreachable(chain(&source)),
            other => Self::Invalid(format!("unexpected answer from Vault for {what}: {other}")),
        }
    }
}

/// An error and its causes, one line (TLS problems sit deep in the chain).
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut next = error.source();
    while let Some(cause) = next {
        let line = cause.to_string();
        if !text.contains(&line) {
            text.push_str(": ");
            text.push_str(&line);
        }
        next = cause.source();
    }
    text
}

/// The current token's lease.
#[derive(Clone, Copy, Debug)]
struct Lease {
    obtained: Instant,
    duration: Duration,
    renewable: bool,
    /// The lease the login gave: a renewal that no longer gets a third of it means the token
    /// is near its maximum TTL, and the next step is a fresh login.
    at_login: Duration,
}

/// A Vault client holding a valid token.
pub(crate) struct Session {
    client: VaultClient,
    /// The AppRole secret id, unwrapped once when it came response-wrapped (for later logins).
    secret_id: Option<SecretString>,
    /// `None`: a token without expiry (nothing to renew).
    lease: Option<Lease>,
    /// Set after a failed renewal or login: when to try again.
    retry_at: Option<Instant>,
    failures: u32,
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // VaultClient's own Debug prints its token.
        f.debug_struct("Session")
            .field("lease", &self.lease)
            .finish_non_exhaustive()
    }
}

impl Session {
    /// Builds the client and signs in.
    pub(crate) async fn login(settings: &VaultSettings) -> Result<Self, VaultProblem> {
        let client = client(settings, "")?;
        let secret_id = match &settings.auth {
            VaultAuth::AppRole {
                secret_id_file,
                wrapped,
                ..
            } => {
                let value = read_credential(secret_id_file, "secret id")?;
                Some(if *wrapped {
                    unwrap_secret_id(settings, &value, secret_id_file).await?
                } else {
                    value
                })
            }
            _ => None,
        };
        let mut session = Self {
            client,
            secret_id,
            lease: None,
            retry_at: None,
            failures: 0,
        };
        session.authenticate(settings).await?;
        Ok(session)
    }

    pub(crate) fn client(&self) -> &VaultClient {
        &self.client
    }

    /// Signs in again with the configured method (credential files are re-read).
    pub(crate) async fn authenticate(
        &mut self,
        settings: &VaultSettings,
    ) -> Result<(), VaultProblem> {
        let now = Instant::now();
        let (token, duration, renewable) = match &settings.auth {
            VaultAuth::Token { token_file } => {
                let token = read_credential(token_file, "token")?;
                self.client.set_token(token.expose_secret());
                let info = vaultrs::token::lookup_self(&self.client)
                    .await
                    .map_err(|e| VaultProblem::from_client(e, "auth/token/lookup-self"))?;
                (None, info.ttl, info.renewable.unwrap_or(false))
            }
            VaultAuth::AppRole { mount, role_id, .. } => {
                let secret_id = self.secret_id.as_ref().ok_or_else(|| {
                    VaultProblem::Invalid("no AppRole secret id was loaded".into())
                })?;
                let auth = vaultrs::auth::approle::login(
                    &self.client,
                    mount,
                    role_id,
                    secret_id.expose_secret(),
                )
                .await
                .map_err(|e| VaultProblem::from_client(e, &format!("auth/{mount}/login")))?;
                (Some(auth.client_token), auth.lease_duration, auth.renewable)
            }
            VaultAuth::Kubernetes {
                mount,
                role,
                jwt_file,
            } => {
                let jwt = read_credential(jwt_file, "service-account token")?;
                let auth = vaultrs::auth::kubernetes::login(
                    &self.client,
                    mount,
                    role,
                    jwt.expose_secret(),
                )
                .await
                .map_err(|e| VaultProblem::from_client(e, &format!("auth/{mount}/login")))?;
                (Some(auth.client_token), auth.lease_duration, auth.renewable)
            }
        };
        if let Some(token) = token {
            self.client.set_token(&token);
        }
        let duration = Duration::from_secs(duration);
        self.lease = (!duration.is_zero()).then_some(Lease {
            obtained: now,
            duration,
            renewable,
            at_login: duration,
        });
        Ok(())
    }

    /// When the token next needs attention: a retry after a failure, or 2/3 into its lease.
    pub(crate) fn renew_at(&self) -> Option<Instant> {
        if let Some(at) = self.retry_at {
            return Some(at);
        }
        self.lease
            .map(|l| l.obtained + l.duration.mul_f64(2.0 / 3.0))
    }

    /// Renews the token, or logs in again when it cannot be renewed (not renewable, renewal
    /// refused, or near its maximum TTL). On failure, schedules a retry with backoff and
    /// returns the problem; the caller keeps serving from its cache.
    pub(crate) async fn renew_or_login(
        &mut self,
        settings: &VaultSettings,
    ) -> Result<(), VaultProblem> {
        let result = self.try_renew(settings).await;
        match &result {
            Ok(()) => {
                self.retry_at = None;
                self.failures = 0;
            }
            Err(_) => {
                self.failures = self.failures.saturating_add(1);
                self.retry_at = Some(Instant::now() + backoff(self.failures));
            }
        }
        result
    }

    async fn try_renew(&mut self, settings: &VaultSettings) -> Result<(), VaultProblem> {
        let Some(lease) = self.lease else {
            return Ok(());
        };
        let worth_renewing = lease.renewable && lease.duration * 3 >= lease.at_login;
        if worth_renewing {
            let now = Instant::now();
            match vaultrs::token::renew_self(&self.client, None).await {
                Ok(auth) => {
                    let duration = Duration::from_secs(auth.lease_duration);
                    self.lease = Some(Lease {
                        obtained: now,
                        duration,
                        ..lease
                    });
                    if duration * 3 >= lease.at_login {
                        return Ok(());
                    }
                    // Capped by the token's max TTL: log in while it still works.
                }
                Err(e) => {
                    let problem = VaultProblem::from_client(e, "auth/token/renew-self");
                    if !problem.is_denied() && !matches!(problem, VaultProblem::Rejected { .. }) {
                        return Err(problem);
                    }
                    tracing::info!(target: "scribe_secrets::vault", "Vault token renewal refused ({problem}); logging in again");
                }
            }
        }
        self.authenticate(settings).await
    }
}

/// 1 s, 2 s, 4 s, ... up to 30 s.
pub(crate) fn backoff(failures: u32) -> Duration {
    Duration::from_secs(1u64 << failures.saturating_sub(1).min(5)).min(Duration::from_secs(30))
}

/// A vaultrs client for `settings.address` with `token`, trusting the system roots plus
/// `ca_cert`. TLS verification is never switched off (vaultrs would otherwise honour
/// `VAULT_SKIP_VERIFY` and the other `VAULT_*` variables; every setting is given explicitly).
fn client(settings: &VaultSettings, token: &str) -> Result<VaultClient, VaultProblem> {
    // reqwest's rustls backend uses the process's default provider: ring, as everywhere else.
    let _ = rustls::crypto::ring::default_provider().install_default();
    VaultSettings::check_address(&settings.address)?;
    let ca_certs = match &settings.ca_cert {
        Some(path) => vec![path.to_str().map(str::to_owned).ok_or_else(|| {
            VaultProblem::Invalid(format!("{} is not a UTF-8 path", path.display()))
        })?],
        None => Vec::new(),
    };
    let built = VaultClientSettingsBuilder::default()
        .address(&settings.address)
        .token(token)
        .ca_certs(ca_certs)
        .identity(None)
        .verify(true)
        .timeout(Some(settings.timeout))
        .namespace(None)
        .build()
        .map_err(|e| VaultProblem::Invalid(format!("Vault settings: {e}")))?;
    VaultClient::new(built).map_err(|e| match e {
        ClientError::FileReadError { .. } | ClientError::ParseCertificateError { .. } => {
            VaultProblem::Invalid(format!("cannot use the CA certificate: {}", chain(&e)))
        }
        other => VaultProblem::Invalid(format!("cannot build the Vault client: {other}")),
    })
}

/// Reads a one-line credential (token, secret id, JWT) from a file: private to the service,
/// small, not empty. The error names the file, never its content.
fn read_credential(path: &Path, what: &str) -> Result<SecretString, VaultProblem> {
    use std::io::Read as _;
    let cannot = |why: String| {
        VaultProblem::Invalid(format!(
            "cannot read the Vault {what} from {}: {why}",
            path.display()
        ))
    };
    let file = std::fs::File::open(path).map_err(|e| cannot(e.to_string()))?;
    let mut text = String::new();
    file.take(MAX_CREDENTIAL_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(|e| cannot(e.to_string()))?;
    let text = secrecy::zeroize::Zeroizing::new(text);
    if text.len() as u64 > MAX_CREDENTIAL_BYTES {
        return Err(cannot(format!("larger than {MAX_CREDENTIAL_BYTES} bytes")));
    }
    let value = text.trim();
    if value.is_empty() {
        return Err(cannot("the file is empty".into()));
    }
    if value.contains(char::is_whitespace) {
        return Err(cannot("expected one value on one line".into()));
    }
    Ok(SecretString::from(value))
}

/// The unwrapped AppRole secret id.
#[derive(serde::Deserialize)]
struct WrappedSecretId {
    secret_id: String,
}

/// Unwraps a response-wrapped secret id: the wrapping token authenticates the unwrap call
/// itself, and works exactly once. A token that was already used means someone else unwrapped
/// it first.
async fn unwrap_secret_id(
    settings: &VaultSettings,
    wrapping_token: &SecretString,
    file: &Path,
) -> Result<SecretString, VaultProblem> {
    let client = client(settings, wrapping_token.expose_secret())?;
    match vaultrs::sys::wrapping::unwrap::<WrappedSecretId>(&client, None).await {
        Ok(unwrapped) => Ok(SecretString::from(unwrapped.secret_id)),
        Err(e) => match VaultProblem::from_client(e, "sys/wrapping/unwrap") {
            VaultProblem::Rejected { .. } | VaultProblem::Denied(_) => Err(VaultProblem::Invalid(format!(
                "the response-wrapping token in {} is not valid: it expired or was already unwrapped \
                 (if this service did not unwrap it, someone else may have the secret id: revoke it) \
                 — put a fresh wrapping token there",
                file.display()
            ))),
            other => Err(other),
        },
    }
}
