//! The HMAC keys tokens are signed and verified with: the current one and, after a rotation,
//! previous ones that still verify until the tokens they signed expire.

use std::fmt;

use jsonwebtoken::{DecodingKey, EncodingKey};
use secrecy::{ExposeSecret, SecretString};

use crate::error::AuthError;

pub(crate) struct HsKey {
    pub(crate) encoding: EncodingKey,
    pub(crate) decoding: DecodingKey,
}

impl HsKey {
    fn new(secret: &SecretString) -> Result<Self, AuthError> {
        let bytes = secret.expose_secret().as_bytes();
        if bytes.is_empty() {
            return Err(AuthError::InvalidKey("empty key"));
        }
        Ok(Self {
            encoding: EncodingKey::from_secret(bytes),
            decoding: DecodingKey::from_secret(bytes),
        })
    }
}

/// Signing and verification keys from `jwt_secret`. New tokens are signed with `current`;
/// verification tries `current`, then each of `previous` in order.
///
/// Key strength is checked once, at start-up, by `scribe-secrets` (≥ 32 bytes in production,
/// RFC 7518 §3.2); this type only refuses empty keys. Note that `jsonwebtoken`'s key types keep a
/// plain copy of the bytes (not zeroized on drop); they live as long as the service.
pub struct JwtKeys {
    pub(crate) current: HsKey,
    pub(crate) previous: Vec<HsKey>,
}

impl JwtKeys {
    /// Keys from the current secret and any previous ones (newest first).
    pub fn new(current: &SecretString, previous: &[SecretString]) -> Result<Self, AuthError> {
        super::provider::install();
        Ok(Self {
            current: HsKey::new(current)?,
            previous: previous.iter().map(HsKey::new).collect::<Result<_, _>>()?,
        })
    }

    /// How many previous keys still verify.
    pub fn previous_count(&self) -> usize {
        self.previous.len()
    }
}

impl fmt::Debug for JwtKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtKeys")
            .field("current", &"<redacted>")
            .field("previous", &self.previous.len())
            .finish()
    }
}
