//! An in-process fake HashiCorp Vault server for tests (feature `fake-vault`).
//!
//! It listens on 127.0.0.1 (HTTP, or HTTPS with a given certificate) and answers the part of
//! Vault's HTTP API a service reading its secrets uses, with Vault's own response shapes: the
//! envelope (`request_id`, `lease_id`, `renewable`, `lease_duration`, `data`, `wrap_info`,
//! `warnings`, `auth`, `mount_type`), status codes and error messages.
//!
//! | Endpoint | Notes |
//! |---|---|
//! | `POST auth/approle/login` | `{role_id, secret_id}`; 400 `invalid role or secret ID` |
//! | `POST auth/kubernetes/login` | `{role, jwt}`; 403 `permission denied` for a wrong JWT |
//! | `POST auth/token/renew-self` | `{increment}`; capped at issue + max TTL; 400 `lease is not renewable` |
//! | `GET auth/token/lookup-self` | |
//! | `POST sys/wrapping/unwrap` | single use; 400 `wrapping token is not valid or does not exist` |
//! | `GET {mount}/data/{path}[?version=N]` | KV v2; 404 for absent, deleted, destroyed |
//! | `GET {mount}/metadata/{path}` | KV v2 |
//! | `GET sys/health`, `GET sys/seal-status` | no token; health 503 while sealed |
//!
//! Tokens expire on the wall clock. A request without a token answers 403
//! `{"errors":["permission denied"]}`; with an unknown, expired or revoked token 403 with Vault's
//! multi-error text ([`INVALID_TOKEN_ERROR`]); a valid token may only read KV paths (anything else:
//! [`POLICY_DENIED_ERROR`]). `X-Vault-Request` and `X-Vault-Namespace` are accepted and ignored.
//!
//! The server runs as a task on the runtime that started it: a test that serves another process
//! (an end-to-end test running the binary) must keep that runtime polling, with
//! `#[tokio::test(flavor = "multi_thread")]` or by awaiting the child (`tokio::process`) rather
//! than blocking on it.
//!
//! ```no_run
//! # async fn demo() {
//! use scribe_secrets::fake_vault::FakeVault;
//! let vault = FakeVault::start().await;
//! vault.put("secret", "nexus-scribe", &[("jwt_secret", "s3cr3t")]);
//! vault.add_approle("role-id", "secret-id");
//! // point the client under test at vault.address()
//! # }
//! ```
#![deny(missing_docs)]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use serde_json::json;

mod auth;
mod kv;
mod router;
mod serve;
mod state;
mod wire;

use state::{AppRole, State, Token, TokenSpec, Version, Wrapped};

/// The policy (besides `default`) on every token a login issues.
pub const LOGIN_POLICY: &str = "nexus-scribe";

/// The AppRole role name [`FakeVault::add_approle`] registers (token metadata `role_name`).
pub const APPROLE_ROLE_NAME: &str = "nexus-scribe";

/// The error Vault gives (403) for an unknown, expired or revoked token.
pub const INVALID_TOKEN_ERROR: &str = wire::INVALID_TOKEN;

/// The error Vault gives (403) for a valid token its policies do not allow the request.
pub const POLICY_DENIED_ERROR: &str = wire::POLICY_DENIED;

/// How long a wrapping token from [`FakeVault::wrap_secret_id`] can be unwrapped.
pub const DEFAULT_WRAP_TTL: Duration = Duration::from_secs(300);

/// Counters for assertions, from [`FakeVault::stats`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FakeVaultStats {
    /// Successful AppRole logins.
    pub approle_logins: u64,
    /// Successful Kubernetes logins.
    pub kubernetes_logins: u64,
    /// Logins refused (either method).
    pub failed_logins: u64,
    /// Successful `renew-self` calls.
    pub renewals: u64,
    /// Successful `lookup-self` calls.
    pub token_lookups: u64,
    /// Authorized KV v2 data reads, found or not.
    pub kv_reads: u64,
    /// Authorized KV v2 metadata reads, found or not.
    pub metadata_reads: u64,
    /// Successful unwraps.
    pub unwraps: u64,
    /// Requests answered 403 (no, bad, expired or revoked token, policy, Kubernetes login).
    pub denied: u64,
    /// Requests answered by [`FakeVault::fail_next`].
    pub injected_failures: u64,
    /// Requests refused or failed (status 400 and above, except KV "not found" answers).
    pub rejected: u64,
    /// Every `/v1/` request except `sys/health`.
    pub requests: u64,
}

/// A fake Vault server running on the current tokio runtime until dropped.
pub struct FakeVault {
    state: Arc<Mutex<State>>,
    task: tokio::task::JoinHandle<()>,
    address: String,
}

impl FakeVault {
    /// Plain HTTP on `127.0.0.1:<random port>`. A KV v2 engine is mounted at `secret`.
    pub async fn start() -> FakeVault {
        FakeVault::spawn(None, "http://127.0.0.1").await
    }

    /// HTTPS with the given PEM certificate chain and PKCS#8 key; the address names `localhost`
    /// so that a certificate for `localhost` verifies.
    ///
    /// # Panics
    ///
    /// When the PEM does not hold a certificate chain and its matching key.
    pub async fn start_tls(cert_chain_pem: &str, key_pem: &str) -> FakeVault {
        let acceptor = serve::acceptor(cert_chain_pem, key_pem);
        FakeVault::spawn(Some(acceptor), "https://localhost").await
    }

    async fn spawn(tls: Option<tokio_rustls::TlsAcceptor>, base: &str) -> FakeVault {
        let state = Arc::new(Mutex::new(State::new()));
        let (port, task) = serve::spawn(router::router(Arc::clone(&state)), tls).await;
        FakeVault {
            state,
            task,
            address: format!("{base}:{port}"),
        }
    }

    /// The base address, e.g. `http://127.0.0.1:41234` or `https://localhost:41234`.
    pub fn address(&self) -> String {
        self.address.clone()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Writes a new version of the KV v2 secret at `mount`/`path` (creating the secret, and the
    /// mount if it is new); returns its version number (1, 2, ...).
    pub fn put(&self, mount: &str, path: &str, data: &[(&str, &str)]) -> u64 {
        let mut state = self.state();
        let secret = state
            .kv
            .entry(mount.to_owned())
            .or_default()
            .entry(path.to_owned())
            .or_default();
        secret.versions.push(Version {
            data: data
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            created: SystemTime::now(),
            deleted: None,
            destroyed: false,
        });
        secret.versions.len() as u64
    }

    fn with_version(
        &self,
        mount: &str,
        path: &str,
        version: u64,
        change: impl FnOnce(&mut Version),
    ) {
        let mut state = self.state();
        let found = state
            .kv
            .get_mut(mount)
            .and_then(|m| m.get_mut(path))
            .and_then(|s| {
                let index = usize::try_from(version).ok()?.checked_sub(1)?;
                s.versions.get_mut(index)
            });
        match found {
            Some(v) => change(v),
            None => panic!("the fake Vault has no version {version} of {mount}/{path}"),
        }
    }

    /// Soft-deletes a version: reads of it answer 404 with `data: null`; its metadata gets a
    /// `deletion_time`.
    ///
    /// # Panics
    ///
    /// When the version does not exist.
    pub fn delete_version(&self, mount: &str, path: &str, version: u64) {
        self.with_version(mount, path, version, |v| {
            v.deleted.get_or_insert_with(SystemTime::now);
        });
    }

    /// Destroys a version: its data is gone, reads answer 404 with `destroyed: true`.
    ///
    /// # Panics
    ///
    /// When the version does not exist.
    pub fn destroy_version(&self, mount: &str, path: &str, version: u64) {
        self.with_version(mount, path, version, |v| {
            v.destroyed = true;
            v.data.clear();
        });
    }

    /// A token that exists from the start, as one handed to the service in a file. `ttl: None`
    /// never expires and has the `root` policy (its renewal answers `lease is not renewable`);
    /// with a TTL it has the login policies, `renewable` as given, and Vault's 32-day max TTL.
    pub fn add_token(&self, token: &str, ttl: Option<Duration>, renewable: bool) {
        let (policies, display_name, path) = match ttl {
            None => (vec!["root".to_owned()], "root", "auth/token/root"),
            Some(_) => (state::login_policies(), "token", "auth/token/create"),
        };
        let token = Token::new(TokenSpec {
            id: token.to_owned(),
            policies,
            meta: None,
            display_name: display_name.to_owned(),
            path: path.to_owned(),
            entity_id: String::new(),
            ttl,
            renewable: renewable && ttl.is_some(),
            max_ttl: state::SYSTEM_MAX_TTL,
        });
        self.state().tokens.insert(token.id.clone(), token);
    }

    /// Lets the AppRole at auth mount `approle` accept this `role_id`/`secret_id` pair (a role
    /// may accept several secret ids; its name is [`APPROLE_ROLE_NAME`]).
    pub fn add_approle(&self, role_id: &str, secret_id: &str) {
        self.state()
            .approles
            .entry(role_id.to_owned())
            .or_insert_with(|| AppRole {
                name: APPROLE_ROLE_NAME.to_owned(),
                secret_ids: Vec::new(),
            })
            .secret_ids
            .push(secret_id.to_owned());
    }

    /// Response-wraps `{secret_id, secret_id_accessor, secret_id_num_uses, secret_id_ttl}` as
    /// Vault does for `role/<name>/secret-id` with a wrap TTL of [`DEFAULT_WRAP_TTL`]; returns
    /// the single-use wrapping token. The secret id still has to be accepted by
    /// [`FakeVault::add_approle`] for a login with it to succeed.
    pub fn wrap_secret_id(&self, secret_id: &str) -> String {
        self.wrap_secret_id_with_ttl(secret_id, DEFAULT_WRAP_TTL)
    }

    /// [`FakeVault::wrap_secret_id`] with a wrapping token valid for `ttl`.
    pub fn wrap_secret_id_with_ttl(&self, secret_id: &str, ttl: Duration) -> String {
        let envelope = wire::Envelope::data(
            json!({
                "secret_id": secret_id,
                "secret_id_accessor": wire::uuid(),
                "secret_id_num_uses": 0,
                "secret_id_ttl": 0,
            }),
            "approle",
        );
        let mut body = serde_json::to_string(&envelope).unwrap_or_default();
        body.push('\n');
        let token = wire::service_token();
        let wrapped = Wrapped {
            body,
            expires: Instant::now() + ttl,
        };
        self.state().wraps.insert(token.clone(), wrapped);
        token
    }

    /// Lets the Kubernetes auth at mount `kubernetes` accept `jwt` for `role` (a role may
    /// accept several). Token metadata names the service account from the JWT's claims when it
    /// is a readable service-account JWT, else `default/default`.
    pub fn add_kubernetes_role(&self, role: &str, jwt: &str) {
        self.state()
            .kubernetes
            .entry(role.to_owned())
            .or_default()
            .push(jwt.to_owned());
    }

    /// The TTL (`lease_duration`) of tokens issued by logins from now on (default 1 h), and
    /// their max TTL (default 24 h): renewals never extend past issue time + max TTL.
    pub fn set_login_token_ttl(&self, ttl: Duration, max_ttl: Duration) {
        let mut state = self.state();
        state.login_ttl = ttl;
        state.login_max_ttl = max_ttl;
    }

    /// Seals: every `/v1/` request answers 503 `{"errors":["Vault is sealed"]}`, except
    /// `sys/health` (503, `sealed: true`) and `sys/seal-status` (200, `sealed: true`). Tokens
    /// survive, as Vault's storage does.
    pub fn seal(&self) {
        self.state().sealed = true;
    }

    /// Unseals.
    pub fn unseal(&self) {
        self.state().sealed = false;
    }

    /// Revokes every token that exists now (issued by logins, added, and wrapping tokens):
    /// requests with them answer 403 [`INVALID_TOKEN_ERROR`]. Later logins work.
    pub fn revoke_all_tokens(&self) {
        let mut state = self.state();
        state.tokens.clear();
        state.wraps.clear();
    }

    /// Revokes one token (no effect if it does not exist).
    pub fn revoke_token(&self, token: &str) {
        self.state().tokens.remove(token);
    }

    /// The next `count` API requests (any but `sys/health`) answer `status` with Vault's error
    /// body: `internal error` for 500, `Vault is sealed` for 503, `rate limit quota exceeded`
    /// for 429, else `injected failure`. Replaces any earlier injection.
    pub fn fail_next(&self, status: u16, count: usize) {
        let message = match status {
            500 => "internal error",
            503 => "Vault is sealed",
            429 => "rate limit quota exceeded",
            _ => "injected failure",
        };
        self.fail_next_with(status, count, message);
    }

    /// [`FakeVault::fail_next`] with the given error message.
    pub fn fail_next_with(&self, status: u16, count: usize, message: &str) {
        self.state().failure = (count > 0).then(|| state::Failure {
            status,
            remaining: count,
            message: message.to_owned(),
        });
    }

    /// The counters so far.
    pub fn stats(&self) -> FakeVaultStats {
        self.state().stats
    }

    /// The data of a KV v2 version as stored (`None` if absent or destroyed), for assertions.
    pub fn get(&self, mount: &str, path: &str, version: u64) -> Option<BTreeMap<String, String>> {
        let state = self.state();
        let secret = state.kv.get(mount)?.get(path)?;
        let v = secret
            .versions
            .get(usize::try_from(version).ok()?.checked_sub(1)?)?;
        (!v.destroyed).then(|| v.data.clone())
    }
}

impl Drop for FakeVault {
    /// Stops the server: listeners and open connections end.
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[cfg(test)]
mod tests;
