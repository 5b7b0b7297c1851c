use std::collections::HashMap;

use secrecy::{ExposeSecret, SecretString};

use super::*;
use crate::generate::generate_secret;

const WEAK: &str = "changeme";

fn strong() -> String {
    generate_secret()
        .expect("os rng")
        .expose_secret()
        .to_owned()
}

fn env_with(pairs: &[(SecretName, &str)]) -> EnvSource {
    let vars: HashMap<String, String> = pairs
        .iter()
        .map(|(n, v)| (n.env_var(), (*v).to_owned()))
        .collect();
    EnvSource::from_vars(&vars)
}

/// A source with versions, standing in for Vault.
struct VersionedSource {
    current: String,
    previous: String,
}

impl SecretSource for VersionedSource {
    fn describe(&self) -> String {
        "test vault".to_owned()
    }
    fn get(&self, _name: SecretName) -> Result<Option<SecretString>, SecretsError> {
        Ok(Some(SecretString::from(self.current.as_str())))
    }
    fn origin(&self, name: SecretName) -> SecretOrigin {
        SecretOrigin::Other(format!("test vault key {name}"))
    }
    fn previous(&self, _name: SecretName) -> Result<Vec<SecretString>, SecretsError> {
        Ok(vec![SecretString::from(self.previous.as_str())])
    }
}

#[test]
fn environment_takes_precedence_over_the_file() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let env_jwt = strong();
    let env = env_with(&[(SecretName::JwtSecret, &env_jwt)]);
    let secrets = Secrets::from_env_or_file(&env, tmp.path()).expect("load");
    assert_eq!(
        secrets
            .get(SecretName::JwtSecret)
            .expect("jwt")
            .expose_secret(),
        env_jwt
    );
    assert_eq!(
        secrets.origin(SecretName::JwtSecret),
        Some(&SecretOrigin::Environment {
            variable: "NEXUS_SCRIBE_SECRET_JWT_SECRET".into()
        })
    );
    let file = FileSource::open(&tmp.path().join(SECRETS_FILE_NAME)).expect("file exists");
    let file_bot = file
        .get(SecretName::BotKeySecret)
        .expect("ok")
        .expect("present");
    assert_eq!(
        secrets
            .get(SecretName::BotKeySecret)
            .expect("bot")
            .expose_secret(),
        file_bot.expose_secret()
    );
    assert!(matches!(
        secrets.origin(SecretName::BotKeySecret),
        Some(SecretOrigin::File {
            generated: true,
            ..
        })
    ));
    // The file's own jwt_secret exists but lost to the environment.
    let file_jwt = file
        .get(SecretName::JwtSecret)
        .expect("ok")
        .expect("present");
    assert_ne!(file_jwt.expose_secret(), env_jwt);
}

#[test]
fn a_complete_environment_writes_no_file() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (a, b, c) = (strong(), strong(), strong());
    let env = env_with(&[
        (SecretName::JwtSecret, &a),
        (SecretName::BotKeySecret, &b),
        (SecretName::MasterKey, &c),
    ]);
    let dir = tmp.path().join("secrets");
    let secrets = Secrets::from_env_or_file(&env, &dir).expect("load");
    assert!(!dir.exists());
    assert_eq!(secrets.validate(Mode::Production).expect("strong"), vec![]);
}

#[test]
fn a_missing_secret_is_an_error_naming_where_to_put_it() {
    let env = env_with(&[(SecretName::JwtSecret, "x")]);
    let err = Secrets::load(&[&env]).expect_err("missing");
    assert!(matches!(
        err,
        SecretsError::Missing {
            name: SecretName::BotKeySecret,
            ..
        }
    ));
    let message = err.to_string();
    assert!(message.contains("bot_key_secret"), "{message}");
    assert!(
        message.contains("NEXUS_SCRIBE_SECRET_BOT_KEY_SECRET"),
        "{message}"
    );
}

#[test]
fn production_refuses_weak_secrets_naming_them_but_not_their_values() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let env = env_with(&[(SecretName::JwtSecret, WEAK)]);
    let secrets = Secrets::from_env_or_file(&env, tmp.path()).expect("load");
    let err = secrets.validate(Mode::Production).expect_err("weak");
    let message = err.to_string();
    assert!(message.contains("jwt_secret"), "{message}");
    assert!(
        message.contains("NEXUS_SCRIBE_SECRET_JWT_SECRET"),
        "{message}"
    );
    assert!(
        !message.contains("bot_key_secret"),
        "only the weak one: {message}"
    );
    // "changeme" is also a word in the reason text? It must not be: the value never appears.
    assert!(!message.to_lowercase().contains(WEAK), "{message}");
    assert!(!format!("{err:?}").contains(WEAK));
}

#[test]
fn development_returns_warnings_instead() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let env = env_with(&[(SecretName::BotKeySecret, "password")]);
    let secrets = Secrets::from_env_or_file(&env, tmp.path()).expect("load");
    let warnings = secrets.validate(Mode::Development).expect("dev continues");
    assert!(!warnings.is_empty());
    assert!(warnings.iter().all(|w| w.name == SecretName::BotKeySecret));
    assert!(warnings.iter().any(|w| w.weakness == Weakness::KnownWeak));
    let shown: String = warnings.iter().map(ToString::to_string).collect();
    assert!(!shown.contains("password"), "{shown}");
}

#[test]
fn an_empty_secret_is_refused_even_in_development() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let env = env_with(&[(SecretName::JwtSecret, "")]);
    let secrets = Secrets::from_env_or_file(&env, tmp.path()).expect("load");
    let err = secrets.validate(Mode::Development).expect_err("empty");
    assert!(err.to_string().contains("jwt_secret"));
}

#[test]
fn reusing_one_value_for_two_secrets_is_flagged() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let shared = strong();
    let env = env_with(&[
        (SecretName::JwtSecret, &shared),
        (SecretName::BotKeySecret, &shared),
    ]);
    let secrets = Secrets::from_env_or_file(&env, tmp.path()).expect("load");
    let err = secrets.validate(Mode::Production).expect_err("reused");
    assert!(
        err.to_string().contains("same value as jwt_secret"),
        "{err}"
    );
}

#[test]
fn generated_secrets_pass_production_validation() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let secrets = Secrets::from_env_or_file(&env_with(&[]), tmp.path()).expect("load");
    assert_eq!(secrets.validate(Mode::Production).expect("strong"), vec![]);
}

#[test]
fn report_names_every_origin_without_values() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let jwt = strong();
    let env = env_with(&[(SecretName::JwtSecret, &jwt)]);
    let secrets = Secrets::from_env_or_file(&env, tmp.path()).expect("load");
    let report = secrets.report();
    assert_eq!(
        report.iter().map(|r| r.name).collect::<Vec<_>>(),
        SecretName::ALL.to_vec()
    );
    let shown = format!("{report:?}");
    for name in SecretName::ALL {
        assert!(!shown.contains(secrets.get(name).expect("present").expose_secret()));
    }
}

#[test]
fn sources_with_versions_expose_previous_values() {
    let vault = VersionedSource {
        current: strong(),
        previous: strong(),
    };
    let secrets = Secrets::load(&[&vault]).expect("load");
    let previous = secrets.previous(SecretName::JwtSecret);
    assert_eq!(previous.len(), 1);
    assert_eq!(previous[0].expose_secret(), vault.previous);
    assert_eq!(secrets.report()[0].previous_versions, 1);
}

#[test]
fn debug_of_every_secret_holding_type_leaks_nothing() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let jwt = strong();
    let env = env_with(&[(SecretName::JwtSecret, &jwt)]);
    let secrets = Secrets::from_env_or_file(&env, tmp.path()).expect("load");
    let file = FileSource::open(&tmp.path().join(SECRETS_FILE_NAME)).expect("file");
    let values: Vec<String> = SecretName::ALL
        .iter()
        .flat_map(|&n| {
            let from_file = file.get(n).expect("ok").expect("present");
            [
                secrets.get(n).expect("present").expose_secret().to_owned(),
                from_file.expose_secret().to_owned(),
            ]
        })
        .collect();
    let debug = format!(
        "{secrets:?} {env:?} {file:?} {:?} {:?}",
        secrets.get(SecretName::JwtSecret),
        secrets.report()
    );
    for value in &values {
        assert!(!debug.contains(value.as_str()), "leak in {debug}");
        // Not even a prefix long enough to matter.
        assert!(!debug.contains(&value[..12]), "partial leak in {debug}");
    }
}

#[test]
fn the_database_password_is_optional_and_never_generated() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let secrets = Secrets::from_env_or_file(&env_with(&[]), tmp.path()).expect("load");
    assert!(secrets.optional(SecretName::DatabasePassword).is_none());
    let file = std::fs::read_to_string(tmp.path().join(SECRETS_FILE_NAME)).expect("file");
    assert!(!file.contains("database_password"), "{file}");

    let env = env_with(&[(SecretName::DatabasePassword, "pg-role-password")]);
    let secrets = Secrets::from_env_or_file(&env, tmp.path()).expect("load");
    let password = secrets
        .optional(SecretName::DatabasePassword)
        .expect("from the environment");
    assert_eq!(password.expose_secret(), "pg-role-password");
    // Not key material: a short password is not a start-up weakness.
    assert!(secrets.validate(Mode::Production).is_ok());
    assert!(env.unknown_variables().is_empty());
}
