//! Argon2id password hashing (RFC 9106) with parameters stored in the PHC string, so they can
//! be raised later and old hashes upgraded on the next successful login.

use std::fmt;
use std::sync::OnceLock;

use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use secrecy::SecretString;

use super::normalize;
use crate::error::AuthError;
use crate::random::random_bytes;

/// Salt length: 128 bits (RFC 9106 §3.1).
const SALT_BYTES: usize = 16;

/// Argon2id cost parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Argon2Params {
    /// Memory in KiB (`m`).
    pub memory_kib: u32,
    /// Passes (`t`).
    pub iterations: u32,
    /// Lanes (`p`).
    pub parallelism: u32,
}

impl Argon2Params {
    /// OWASP Password Storage Cheat Sheet minimum for Argon2id: m = 19 MiB, t = 2, p = 1.
    /// Also what [`PasswordHasher::new`] uses: about 30–60 ms per hash on one core here.
    pub const OWASP_MINIMUM: Self = Self {
        memory_kib: 19_456,
        iterations: 2,
        parallelism: 1,
    };

    fn meets_minimum(self) -> bool {
        let min = Self::OWASP_MINIMUM;
        self.memory_kib >= min.memory_kib
            && self.iterations >= min.iterations
            && self.parallelism >= min.parallelism
    }
}

/// A stored password hash: a PHC string such as `$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`.
/// Not a secret in the sense of a key, but it enables offline guessing, so its `Debug` shows
/// only the algorithm and parameters.
#[derive(Clone, PartialEq, Eq)]
pub struct PhcHash(String);

impl PhcHash {
    /// Wraps a PHC string read from storage (checked when verifying).
    pub fn from_stored(phc: String) -> Self {
        Self(phc)
    }

    /// The PHC string, for storage.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The PHC string, for storage.
    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Debug for PhcHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // "$argon2id$v=19$m=…,t=…,p=…" is the part before the salt.
        let head: Vec<&str> = self.0.split('$').take(4).collect();
        write!(f, "PhcHash({}$<salt>$<hash>)", head.join("$"))
    }
}

/// Hashes and verifies passwords with Argon2id. CPU- and memory-heavy by design: call from a
/// blocking thread (`tokio::task::spawn_blocking`), never directly on the async runtime.
pub struct PasswordHasher {
    params: Argon2Params,
    argon2: Argon2<'static>,
    dummy: OnceLock<Result<PhcHash, String>>,
}

impl fmt::Debug for PasswordHasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PasswordHasher")
            .field("params", &self.params)
            .finish_non_exhaustive()
    }
}

impl PasswordHasher {
    /// The production hasher: [`Argon2Params::OWASP_MINIMUM`].
    pub fn new() -> Result<Self, AuthError> {
        Self::with_params(Argon2Params::OWASP_MINIMUM)
    }

    /// A hasher with stronger parameters; anything below the OWASP minimum is refused.
    pub fn with_params(params: Argon2Params) -> Result<Self, AuthError> {
        if !params.meets_minimum() {
            return Err(AuthError::HashParams(format!(
                "{params:?} is below the minimum {:?}",
                Argon2Params::OWASP_MINIMUM
            )));
        }
        Self::build(params)
    }

    /// A hasher with any valid parameters, **for tests only** (cheap hashes keep test suites
    /// fast). Hashes made with it verify under any hasher and are flagged by
    /// [`PasswordHasher::needs_rehash`] on a production one.
    pub fn insecure_for_tests(params: Argon2Params) -> Result<Self, AuthError> {
        Self::build(params)
    }

    fn build(params: Argon2Params) -> Result<Self, AuthError> {
        let p = Params::new(
            params.memory_kib,
            params.iterations,
            params.parallelism,
            None,
        )
        .map_err(|e| AuthError::HashParams(e.to_string()))?;
        Ok(Self {
            params,
            argon2: Argon2::new(Algorithm::Argon2id, Version::V0x13, p),
            dummy: OnceLock::new(),
        })
    }

    /// The parameters new hashes use.
    pub fn params(&self) -> Argon2Params {
        self.params
    }

    /// Hashes `password` (NFC-normalised) with a fresh 128-bit random salt.
    pub fn hash(&self, password: &SecretString) -> Result<PhcHash, AuthError> {
        let salt = SaltString::encode_b64(&random_bytes::<SALT_BYTES>()?)
            .map_err(|e| AuthError::Hashing(e.to_string()))?;
        let normalized = normalize(password);
        let hash = self
            .argon2
            .hash_password(normalized.as_bytes(), &salt)
            .map_err(|e| AuthError::Hashing(e.to_string()))?;
        Ok(PhcHash(hash.to_string()))
    }

    /// Whether `password` matches `stored`, using the parameters recorded in `stored`. The
    /// final comparison is constant-time (argon2's `Output` compares with `subtle`).
    /// `Ok(false)` is a wrong password; `Err(MalformedHash)` a broken stored value.
    pub fn verify(&self, password: &SecretString, stored: &PhcHash) -> Result<bool, AuthError> {
        let parsed = PasswordHash::new(&stored.0).map_err(|_| AuthError::MalformedHash)?;
        if Algorithm::new(parsed.algorithm.as_str()).is_err() {
            return Err(AuthError::MalformedHash);
        }
        let normalized = normalize(password);
        match self.argon2.verify_password(normalized.as_bytes(), &parsed) {
            Ok(()) => Ok(true),
            Err(argon2::password_hash::Error::Password) => Ok(false),
            Err(_) => Err(AuthError::MalformedHash),
        }
    }

    /// Spends the same work as [`PasswordHasher::verify`] against a hash of a random password,
    /// and returns `false`. Call it when the account does not exist, so that the response
    /// time does not reveal which accounts exist (issue 5).
    pub fn verify_unknown_account(&self, password: &SecretString) -> bool {
        let dummy = self.dummy.get_or_init(|| {
            let random = crate::random::random_url_token(32).map_err(|e| e.to_string())?;
            self.hash(&SecretString::from(random.as_str()))
                .map_err(|e| e.to_string())
        });
        if let Ok(dummy) = dummy {
            let _ = self.verify(password, dummy);
        }
        false
    }

    /// Whether `stored` should be re-hashed with the current parameters at the next successful
    /// login: not Argon2id v1.3, or weaker memory/passes/lanes than now, or unparseable.
    pub fn needs_rehash(&self, stored: &PhcHash) -> bool {
        let Ok(parsed) = PasswordHash::new(&stored.0) else {
            return true;
        };
        let Ok(params) = Params::try_from(&parsed) else {
            return true;
        };
        parsed.algorithm != Algorithm::Argon2id.ident()
            || parsed.version != Some(Version::V0x13.into())
            || params.m_cost() < self.params.memory_kib
            || params.t_cost() < self.params.iterations
            || params.p_cost() < self.params.parallelism
    }
}

#[cfg(test)]
mod tests;
