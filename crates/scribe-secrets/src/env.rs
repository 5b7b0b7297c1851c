//! Secrets from environment variables `NEXUS_SCRIBE_SECRET_<NAME>`, read from a map the caller
//! passes in (the binary hands over `std::env::vars()`; tests pass their own).

use std::collections::BTreeMap;
use std::fmt;

use secrecy::SecretString;

use crate::error::SecretsError;
use crate::name::{SecretName, SecretOrigin};
use crate::source::SecretSource;

/// Prefix of the variables that carry secrets (PROTOCOL.md §6).
pub const ENV_PREFIX: &str = "NEXUS_SCRIBE_SECRET_";

/// The secrets found in an environment map. Variables outside the prefix are not kept.
pub struct EnvSource {
    values: BTreeMap<SecretName, SecretString>,
    unknown: Vec<String>,
}

impl EnvSource {
    /// Takes the secrets out of `vars` (name, value pairs). A variable with the prefix but an
    /// unknown name is remembered (name only) so the caller can warn about a typo.
    pub fn from_vars<I, K, V>(vars: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let mut values = BTreeMap::new();
        let mut unknown = Vec::new();
        for (key, value) in vars {
            let key = key.as_ref();
            let Some(suffix) = key.strip_prefix(ENV_PREFIX) else {
                continue;
            };
            match suffix.to_ascii_lowercase().parse::<SecretName>() {
                Ok(name) => {
                    values.insert(name, SecretString::from(value.as_ref()));
                }
                Err(()) => unknown.push(key.to_owned()),
            }
        }
        unknown.sort();
        Self { values, unknown }
    }

    /// Whether the environment supplies `name`.
    pub fn has(&self, name: SecretName) -> bool {
        self.values.contains_key(&name)
    }

    /// Variables with the secret prefix that name no known secret (likely typos).
    pub fn unknown_variables(&self) -> &[String] {
        &self.unknown
    }
}

impl fmt::Debug for EnvSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EnvSource")
            .field("present", &self.values.keys().collect::<Vec<_>>())
            .field("unknown", &self.unknown)
            .finish()
    }
}

impl SecretSource for EnvSource {
    fn describe(&self) -> String {
        "environment".to_owned()
    }

    fn get(&self, name: SecretName) -> Result<Option<SecretString>, SecretsError> {
        Ok(self.values.get(&name).cloned())
    }

    fn origin(&self, name: SecretName) -> SecretOrigin {
        SecretOrigin::Environment {
            variable: name.env_var(),
        }
    }
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use super::*;

    #[test]
    fn picks_known_prefixed_variables_and_reports_typos() {
        let env = EnvSource::from_vars([
            ("NEXUS_SCRIBE_SECRET_JWT_SECRET", "env-jwt-value"),
            ("NEXUS_SCRIBE_SECRET_JWT_SECRTE", "typo-value"),
            ("HOME", "/root"),
        ]);
        let jwt = env
            .get(SecretName::JwtSecret)
            .expect("infallible")
            .expect("present");
        assert_eq!(jwt.expose_secret(), "env-jwt-value");
        assert!(env
            .get(SecretName::MasterKey)
            .expect("infallible")
            .is_none());
        assert_eq!(env.unknown_variables(), ["NEXUS_SCRIBE_SECRET_JWT_SECRTE"]);
        let debug = format!("{env:?}");
        assert!(
            !debug.contains("env-jwt-value") && !debug.contains("typo-value"),
            "{debug}"
        );
    }
}
