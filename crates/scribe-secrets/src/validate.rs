//! Start-up validation of secret values: length, known-weak values and obvious low-entropy
//! patterns. Production refuses (naming the secret and its origin, never the value); development
//! returns the same findings as warnings for the caller to log loudly.

use std::collections::BTreeSet;
use std::fmt;

use crate::name::{SecretName, SecretOrigin};

/// Minimum length of a key secret in bytes (256 bits, the HMAC-SHA256 / AES-256 key size;
/// RFC 7518 §3.2 requires HS256 keys of at least 256 bits).
pub const MIN_KEY_BYTES: usize = 32;

/// Estimated entropy below which a value is called low-entropy (bits). The estimate (length ×
/// per-character Shannon entropy of the value itself) only catches obvious patterns; it is not a
/// measure of real randomness, which is why generated values are used by default.
const MIN_ESTIMATED_BITS: f64 = 128.0;

/// Values (and words inside values) known from examples, tutorials and defaults. Compared
/// case-insensitively with punctuation removed; words shorter than six letters are matched only
/// as the whole value, so random values do not trip over them by chance.
const WEAK_WORDS: &[&str] = &[
    "changeme",
    "changethis",
    "replaceme",
    "password",
    "passw0rd",
    "secret",
    "example",
    "default",
    "letmein",
    "qwerty",
    "123456",
    "insecure",
    "notsecure",
    "yoursecret",
    "mysecret",
    "supersecret",
    "nexusscribe",
    "development",
];

/// Whether the process runs with production checks (`NEXUS_SCRIBE_ENV=production`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Weak secrets stop start-up.
    Production,
    /// Weak secrets are reported as warnings; start-up continues.
    Development,
}

impl Mode {
    /// Reads the value of `NEXUS_SCRIBE_ENV`. Unset, empty, `development`, `dev`, `test` and
    /// `local` mean development; anything else (including typos such as `prod`) means production,
    /// so a mistyped value fails closed.
    pub fn from_env_value(value: Option<&str>) -> Self {
        match value.map(|v| v.trim().to_ascii_lowercase()).as_deref() {
            None | Some("" | "development" | "dev" | "test" | "local") => Self::Development,
            Some(_) => Self::Production,
        }
    }
}

/// What is wrong with a secret's value. Describes the value without containing it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Weakness {
    /// Empty or only whitespace. Refused in every mode: it is the same as missing.
    Empty,
    /// Shorter than [`MIN_KEY_BYTES`].
    TooShort {
        /// Its length in bytes.
        bytes: usize,
    },
    /// A known default/example value, or built around one.
    KnownWeak,
    /// A short unit repeated, or very few distinct characters.
    Repetitive,
    /// A run of consecutive characters (`abcdef…`, `0123…`).
    Sequential,
    /// The per-character entropy estimate is too low.
    LowEntropy {
        /// Estimated bits (length × Shannon entropy of the character distribution).
        estimated_bits: u32,
    },
    /// The same value as another secret: one key must not serve two purposes.
    SameAs(SecretName),
}

impl fmt::Display for Weakness {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => f.write_str("is empty"),
            Self::TooShort { bytes } => {
                write!(f, "is {bytes} bytes long, needs at least {MIN_KEY_BYTES}")
            }
            Self::KnownWeak => f.write_str("is a known default or example value"),
            Self::Repetitive => f.write_str("repeats a short pattern"),
            Self::Sequential => f.write_str("is a run of consecutive characters"),
            Self::LowEntropy { estimated_bits } => write!(
                f,
                "looks low in entropy (about {estimated_bits} bits estimated, needs {MIN_ESTIMATED_BITS})"
            ),
            Self::SameAs(other) => write!(f, "has the same value as {other}"),
        }
    }
}

/// One finding: which secret, from where, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SecretProblem {
    /// The secret.
    pub name: SecretName,
    /// Where its value came from.
    pub origin: SecretOrigin,
    /// What is wrong.
    pub weakness: Weakness,
}

impl fmt::Display for SecretProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "secret {} (from {}) {}; generate one with `openssl rand -base64 32`",
            self.name, self.origin, self.weakness
        )
    }
}

/// A list of findings, displayed `; `-separated (the payload of [`crate::SecretsError::Weak`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SecretProblems(pub Vec<SecretProblem>);

impl fmt::Display for SecretProblems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, problem) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{problem}")?;
        }
        Ok(())
    }
}

/// Every weakness of one key value (empty when it passes).
pub(crate) fn key_weaknesses(value: &str) -> Vec<Weakness> {
    if value.trim().is_empty() {
        return vec![Weakness::Empty];
    }
    let mut found = Vec::new();
    if value.len() < MIN_KEY_BYTES {
        found.push(Weakness::TooShort { bytes: value.len() });
    }
    if is_known_weak(value) {
        found.push(Weakness::KnownWeak);
    }
    // Pattern checks look at a bounded prefix: a key is never kilobytes long.
    let bytes = &value.as_bytes()[..value.len().min(4096)];
    if is_repetitive(bytes) {
        found.push(Weakness::Repetitive);
    } else if is_sequential(bytes) {
        found.push(Weakness::Sequential);
    } else {
        let bits = estimated_bits(bytes);
        if bits < MIN_ESTIMATED_BITS {
            // Truncation is fine: this is a rounded estimate for a message.
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            found.push(Weakness::LowEntropy {
                estimated_bits: bits as u32,
            });
        }
    }
    found
}

fn is_known_weak(value: &str) -> bool {
    let folded: String = value
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect();
    WEAK_WORDS
        .iter()
        .any(|w| folded == *w || (w.len() >= 6 && folded.contains(w)))
}

/// A unit of up to half the length repeated throughout, or fewer than 8 distinct bytes.
fn is_repetitive(bytes: &[u8]) -> bool {
    let distinct = bytes.iter().collect::<BTreeSet<_>>().len();
    if distinct < 8 {
        return true;
    }
    (1..=bytes.len() / 2).any(|period| bytes.iter().skip(period).zip(bytes).all(|(a, b)| a == b))
}

/// At least three quarters of neighbouring bytes differ by exactly +1 or -1.
fn is_sequential(bytes: &[u8]) -> bool {
    let steps = bytes.len().saturating_sub(1);
    if steps == 0 {
        return false;
    }
    let runs = bytes
        .windows(2)
        .filter(|w| w[0].abs_diff(w[1]) == 1)
        .count();
    runs * 4 >= steps * 3
}

fn estimated_bits(bytes: &[u8]) -> f64 {
    let mut counts = [0usize; 256];
    for &b in bytes {
        counts[usize::from(b)] += 1;
    }
    #[allow(clippy::cast_precision_loss)]
    let len = bytes.len() as f64;
    let per_char: f64 = counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            #[allow(clippy::cast_precision_loss)]
            let p = c as f64 / len;
            -p * p.log2()
        })
        .sum();
    per_char * len
}

#[cfg(test)]
mod tests;
