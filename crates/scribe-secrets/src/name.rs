//! The names of the secrets the service runs on, and where a loaded value came from.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

/// A named server secret. The spelling of [`SecretName::as_str`] is used in the secrets file, in
/// `NEXUS_SCRIBE_SECRET_<NAME>` variables (upper-cased) and in reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum SecretName {
    /// HMAC-SHA256 key for access tokens (and later refresh / pre-MFA tokens).
    JwtSecret,
    /// HMAC-SHA256 key from which bot API keys are derived (PROTOCOL.md §1).
    BotKeySecret,
    /// Root key for encryption at rest (wraps per-organisation data keys).
    MasterKey,
    /// The PostgreSQL role's password (optional: only when `storage.backend = "postgres"` and
    /// the server asks for one). Never generated, never a key.
    DatabasePassword,
}

impl SecretName {
    /// Every secret the service needs, in report order (generated on first start when absent).
    pub const ALL: [SecretName; 3] = [Self::JwtSecret, Self::BotKeySecret, Self::MasterKey];

    /// Secrets used only by some configurations: loaded when a source has them, never generated,
    /// not an error when missing.
    pub const OPTIONAL: [SecretName; 1] = [Self::DatabasePassword];

    /// The name as written in files and reports, e.g. `jwt_secret`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::JwtSecret => "jwt_secret",
            Self::BotKeySecret => "bot_key_secret",
            Self::MasterKey => "master_key",
            Self::DatabasePassword => "database_password",
        }
    }

    /// The environment variable that supplies it, e.g. `NEXUS_SCRIBE_SECRET_JWT_SECRET`.
    pub fn env_var(self) -> String {
        format!(
            "{}{}",
            crate::env::ENV_PREFIX,
            self.as_str().to_ascii_uppercase()
        )
    }

    /// Whether this secret is key material (checked for length and entropy at start-up); a
    /// database password is not (its strength is the database's policy).
    pub const fn is_key(self) -> bool {
        matches!(self, Self::JwtSecret | Self::BotKeySecret | Self::MasterKey)
    }
}

impl fmt::Display for SecretName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SecretName {
    type Err = ();

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .chain(Self::OPTIONAL)
            .find(|n| n.as_str() == s)
            .ok_or(())
    }
}

/// Where a secret's value came from, for `secrets check` and error messages. Holds no value.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SecretOrigin {
    /// An environment variable.
    Environment {
        /// The variable's name.
        variable: String,
    },
    /// The local secrets file.
    File {
        /// The file.
        path: PathBuf,
        /// Whether this process generated the file (first start).
        generated: bool,
    },
    /// Another source (Vault, a test source): its own description.
    Other(String),
}

impl fmt::Display for SecretOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Environment { variable } => write!(f, "environment variable {variable}"),
            Self::File {
                path,
                generated: false,
            } => write!(f, "file {}", path.display()),
            Self::File {
                path,
                generated: true,
            } => {
                write!(f, "file {} (generated now)", path.display())
            }
            Self::Other(what) => f.write_str(what),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_map_to_env_vars() {
        for name in SecretName::ALL {
            assert_eq!(name.as_str().parse::<SecretName>(), Ok(name));
        }
        assert_eq!(
            SecretName::JwtSecret.env_var(),
            "NEXUS_SCRIBE_SECRET_JWT_SECRET"
        );
        assert_eq!(
            SecretName::BotKeySecret.env_var(),
            "NEXUS_SCRIBE_SECRET_BOT_KEY_SECRET"
        );
        assert_eq!(
            SecretName::MasterKey.env_var(),
            "NEXUS_SCRIBE_SECRET_MASTER_KEY"
        );
        assert!("jwt-secret".parse::<SecretName>().is_err());
    }
}
