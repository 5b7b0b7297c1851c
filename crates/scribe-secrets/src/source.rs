//! The interface every secret source implements (environment, file, Vault).

use secrecy::SecretString;

use crate::error::SecretsError;
use crate::name::{SecretName, SecretOrigin};

/// A place secrets can come from.
///
/// Lookups are synchronous and cheap: a source reads what it needs when it is built (the Vault
/// source logs in, fetches and caches before it is handed over, and refreshes its cache in the
/// background). `Secrets::load` asks sources in precedence order and takes the first value.
pub trait SecretSource: Send + Sync {
    /// A short description for messages, e.g. `environment` or `file data/secrets/secrets.toml`.
    fn describe(&self) -> String;

    /// The value of `name`, or `None` when this source does not have it.
    fn get(&self, name: SecretName) -> Result<Option<SecretString>, SecretsError>;

    /// Where a value of `name` from this source comes from (for reports).
    fn origin(&self, name: SecretName) -> SecretOrigin;

    /// Earlier values of `name` still to be accepted for verification after a rotation (newest
    /// first). Sources without versions have none.
    fn previous(&self, _name: SecretName) -> Result<Vec<SecretString>, SecretsError> {
        Ok(Vec::new())
    }
}
