//! The loaded set of secrets: lookup by name, where each came from, and start-up validation.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use secrecy::{ExposeSecret, SecretString};

use crate::env::EnvSource;
use crate::error::SecretsError;
use crate::file::{FileSource, SECRETS_FILE_NAME};
use crate::name::{SecretName, SecretOrigin};
use crate::source::SecretSource;
use crate::validate::{key_weaknesses, Mode, SecretProblem, SecretProblems, Weakness};

struct Entry {
    value: SecretString,
    previous: Vec<SecretString>,
    origin: SecretOrigin,
}

/// Every secret the service needs, each with its origin. Built at start-up, and again from the
/// same sources when a Vault source announces new keys (the holder swaps it).
pub struct Secrets {
    entries: BTreeMap<SecretName, Entry>,
}

/// One line of `secrets check`: a secret and where it came from. Holds no value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SecretReport {
    /// The secret.
    pub name: SecretName,
    /// Its origin.
    pub origin: SecretOrigin,
    /// How many earlier values are still accepted for verification.
    pub previous_versions: usize,
}

impl Secrets {
    /// Loads every secret in [`SecretName::ALL`], asking `sources` in order (first = highest
    /// precedence) and taking the first value found. A secret no source has is an error in every
    /// mode: there is never a built-in default key. [`SecretName::OPTIONAL`] ones are loaded
    /// the same way when a source has them.
    pub fn load(sources: &[&dyn SecretSource]) -> Result<Self, SecretsError> {
        let mut entries = BTreeMap::new();
        for name in SecretName::ALL {
            let mut found = None;
            for source in sources {
                if let Some(value) = source.get(name)? {
                    let previous = source.previous(name)?;
                    found = Some(Entry {
                        value,
                        previous,
                        origin: source.origin(name),
                    });
                    break;
                }
            }
            let entry = found.ok_or_else(|| SecretsError::Missing {
                name,
                hint: format!(
                    "set {} or put `{}` in one of: {}",
                    name.env_var(),
                    name.as_str(),
                    sources
                        .iter()
                        .map(|s| s.describe())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            })?;
            entries.insert(name, entry);
        }
        for name in SecretName::OPTIONAL {
            for source in sources {
                if let Some(value) = source.get(name)? {
                    let entry = Entry {
                        value,
                        previous: source.previous(name)?,
                        origin: source.origin(name),
                    };
                    entries.insert(name, entry);
                    break;
                }
            }
        }
        Ok(Self { entries })
    }

    /// The usual set-up: the environment first, then `<secrets_dir>/secrets.toml`, which is
    /// opened, or generated when missing, only if the environment lacks a secret (so a deployment
    /// that supplies every secret by environment never writes a file).
    pub fn from_env_or_file(env: &EnvSource, secrets_dir: &Path) -> Result<Self, SecretsError> {
        if SecretName::ALL.iter().all(|&n| env.has(n)) {
            return Self::load(&[env]);
        }
        let file = FileSource::open_or_generate(secrets_dir)?;
        Self::load(&[env, &file])
    }

    /// The value of an optional secret, if a source had it.
    pub fn optional(&self, name: SecretName) -> Option<&SecretString> {
        self.entries.get(&name).map(|e| &e.value)
    }

    /// The value of `name`.
    pub fn get(&self, name: SecretName) -> Result<&SecretString, SecretsError> {
        self.entries
            .get(&name)
            .map(|e| &e.value)
            .ok_or_else(|| SecretsError::Missing {
                name,
                hint: format!("set {} or add it to {SECRETS_FILE_NAME}", name.env_var()),
            })
    }

    /// Earlier values of `name` still accepted for verification (newest first; empty unless the
    /// source keeps versions).
    pub fn previous(&self, name: SecretName) -> &[SecretString] {
        self.entries
            .get(&name)
            .map_or(&[], |e| e.previous.as_slice())
    }

    /// Where `name` came from.
    pub fn origin(&self, name: SecretName) -> Option<&SecretOrigin> {
        self.entries.get(&name).map(|e| &e.origin)
    }

    /// Every secret with its origin, for `secrets check`. No values.
    pub fn report(&self) -> Vec<SecretReport> {
        self.entries
            .iter()
            .map(|(&name, e)| SecretReport {
                name,
                origin: e.origin.clone(),
                previous_versions: e.previous.len(),
            })
            .collect()
    }

    /// Checks every key secret. In [`Mode::Production`] any finding is an error naming the
    /// secrets (never their values); in [`Mode::Development`] the findings come back as warnings
    /// for the caller to log loudly, except an empty value, which is refused in every mode.
    pub fn validate(&self, mode: Mode) -> Result<Vec<SecretProblem>, SecretsError> {
        let problems = self.problems();
        let fatal =
            mode == Mode::Production || problems.iter().any(|p| p.weakness == Weakness::Empty);
        if fatal && !problems.is_empty() {
            return Err(SecretsError::Weak(SecretProblems(problems)));
        }
        Ok(problems)
    }

    fn problems(&self) -> Vec<SecretProblem> {
        let mut problems = Vec::new();
        let keys: Vec<(SecretName, &Entry)> = self
            .entries
            .iter()
            .filter(|(n, _)| n.is_key())
            .map(|(&n, e)| (n, e))
            .collect();
        for (i, &(name, entry)) in keys.iter().enumerate() {
            let value = entry.value.expose_secret();
            let mut weaknesses = key_weaknesses(value);
            if let Some(&(other, _)) = keys[..i]
                .iter()
                .find(|(_, e)| e.value.expose_secret() == value)
            {
                weaknesses.push(Weakness::SameAs(other));
            }
            problems.extend(weaknesses.into_iter().map(|weakness| SecretProblem {
                name,
                origin: entry.origin.clone(),
                weakness,
            }));
        }
        problems
    }
}

impl fmt::Debug for Secrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut map = f.debug_map();
        for (name, entry) in &self.entries {
            map.entry(
                &name.as_str(),
                &format_args!("<redacted, from {}>", entry.origin),
            );
        }
        map.finish()
    }
}

#[cfg(test)]
mod tests;
