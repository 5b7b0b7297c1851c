use super::*;
use crate::generate::generate_secret;
use secrecy::ExposeSecret;

#[test]
fn generated_and_common_tool_outputs_pass() {
    for _ in 0..500 {
        let value = generate_secret().expect("os rng");
        assert_eq!(
            key_weaknesses(value.expose_secret()),
            vec![],
            "false positive"
        );
    }
    // `openssl rand -hex 32` and `openssl rand -base64 32` shapes.
    let hex = "c0241976b3a3cda54801bd436163d17aed5f00d1118453532422c338a2e57539";
    let b64 = "49qVtcdrierhm341VZAh3Kz8uvCmrMo7SseMky+iwmg=";
    assert_eq!(key_weaknesses(hex), vec![]);
    assert_eq!(key_weaknesses(b64), vec![]);
}

#[test]
fn known_weak_values_are_caught() {
    let short = key_weaknesses("changeme");
    assert!(short.contains(&Weakness::TooShort { bytes: 8 }));
    assert!(short.contains(&Weakness::KnownWeak));
    assert!(key_weaknesses("password").contains(&Weakness::KnownWeak));
    assert!(key_weaknesses("secret").contains(&Weakness::KnownWeak));
    // Long enough, but built around a known word.
    assert!(key_weaknesses("my-super-secret-jwt-signing-key-2024!").contains(&Weakness::KnownWeak));
    assert!(key_weaknesses("Change_Me_Please_0f3a9c71b2e84d56a").contains(&Weakness::KnownWeak));
    assert!(key_weaknesses("changemechangemechangemechangeme").contains(&Weakness::Repetitive));
}

#[test]
fn low_entropy_patterns_are_caught() {
    let a40 = "a".repeat(40);
    assert_eq!(key_weaknesses(&a40), vec![Weakness::Repetitive]);
    let unit = "0123456789ab".repeat(4);
    assert!(key_weaknesses(&unit).contains(&Weakness::Repetitive));
    assert_eq!(
        key_weaknesses("abcdefghijklmnopqrstuvwxyzABCDEFGHIJ"),
        vec![Weakness::Sequential]
    );
    assert_eq!(
        key_weaknesses("98765432109876543210zyxwvutsrqpo"),
        vec![Weakness::Sequential]
    );
    let skewed = format!("{}bcdefghijk", "a".repeat(30));
    assert!(matches!(
        key_weaknesses(&skewed)[..],
        [Weakness::LowEntropy { .. }]
    ));
}

#[test]
fn empty_and_whitespace_are_empty() {
    assert_eq!(key_weaknesses(""), vec![Weakness::Empty]);
    assert_eq!(key_weaknesses("   \t"), vec![Weakness::Empty]);
}

#[test]
fn mode_fails_closed_on_unknown_values() {
    assert_eq!(Mode::from_env_value(None), Mode::Development);
    assert_eq!(Mode::from_env_value(Some("")), Mode::Development);
    assert_eq!(Mode::from_env_value(Some("development")), Mode::Development);
    assert_eq!(Mode::from_env_value(Some("production")), Mode::Production);
    assert_eq!(Mode::from_env_value(Some("Production ")), Mode::Production);
    assert_eq!(Mode::from_env_value(Some("prod")), Mode::Production);
    assert_eq!(Mode::from_env_value(Some("staging")), Mode::Production);
}
