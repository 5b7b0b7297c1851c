//! Server secrets: the named keys NexusScribe runs on (`jwt_secret`, `bot_key_secret`,
//! `master_key`), where they come from (HashiCorp Vault, the environment, a generated 0600 file),
//! and the start-up check that refuses weak ones in production.
//!
//! Values are `secrecy::SecretString` from the moment they are read: no type in this crate prints
//! a secret in `Debug` or `Display`, and errors name the secret and its origin, never its value.
//!
//! ```text
//! EnvSource (NEXUS_SCRIBE_SECRET_<NAME>) ─┐ precedence: first source that has it
//! VaultSource (KV v2, cached, refreshed)  ─┤   (Vault and the file are alternatives)
//! FileSource (<data>/secrets/secrets.toml)┴─▶ Secrets ──validate(Mode)──▶ warnings | error
//! ```

mod env;
mod error;
#[cfg(feature = "fake-vault")]
pub mod fake_vault;
mod file;
mod generate;
mod name;
mod secrets;
mod source;
mod validate;
mod vault;

pub use env::{EnvSource, ENV_PREFIX};
pub use error::SecretsError;
pub use file::{FileSource, SECRETS_FILE_NAME};
pub use generate::{generate_secret, GENERATED_BYTES};
pub use name::{SecretName, SecretOrigin};
pub use secrets::{SecretReport, Secrets};
pub use source::SecretSource;
pub use validate::{Mode, SecretProblem, SecretProblems, Weakness, MIN_KEY_BYTES};
pub use vault::{VaultAuth, VaultProblem, VaultSettings, VaultSource, VaultStatus};

/// Re-exported so callers name the same secret types this crate returns.
pub use secrecy::{ExposeSecret, SecretString};

#[cfg(test)]
mod tests {
    /// The binary hands `Secrets` to tasks behind `Arc`; the Vault source refreshes in the background.
    #[test]
    fn shared_types_are_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<super::Secrets>();
        assert_send_sync::<Box<dyn super::SecretSource>>();
        assert_send_sync::<super::VaultSource>();
    }
}
