//! Passwords: Argon2id hashing in PHC strings, and the policy for choosing one.

mod common;
mod hash;
mod policy;

pub use hash::{Argon2Params, PasswordHasher, PhcHash};
pub use policy::{PasswordContext, PasswordPolicy};

use secrecy::zeroize::Zeroizing;
use secrecy::{ExposeSecret, SecretString};
use unicode_normalization::UnicodeNormalization;

/// The password in Unicode Normalization Form C, so the same password typed on systems that
/// compose characters differently hashes the same (NIST SP 800-63B §3.1.1.2 asks for RFC 8265
/// normalisation; RFC 8265's OpaqueString profile for passwords uses NFC). Applied identically
/// before policy checks, hashing and verification; changing it would break stored hashes.
pub(crate) fn normalize(password: &SecretString) -> Zeroizing<String> {
    Zeroizing::new(password.expose_secret().nfc().collect())
}
