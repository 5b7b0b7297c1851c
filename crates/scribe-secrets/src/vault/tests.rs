use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use time::OffsetDateTime;

use super::kv::{snapshot, wanted_versions, Metadata, VersionData, VersionMeta};
use super::session::{backoff, VaultProblem};
use super::settings::VaultSettings;
use crate::name::SecretName;

const DAY: Duration = Duration::from_secs(24 * 60 * 60);

fn version(pairs: &[(&str, &str)]) -> Arc<VersionData> {
    Arc::new(
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), SecretString::from(*v)))
            .collect(),
    )
}

/// Versions 1..=n written `ages[i]` days before `now`, all live unless listed in `dead`.
fn metadata(now: OffsetDateTime, ages_days: &[i64], dead: &[u64]) -> Metadata {
    Metadata {
        current_version: ages_days.len() as u64,
        versions: ages_days
            .iter()
            .enumerate()
            .map(|(i, age)| {
                let v = i as u64 + 1;
                (
                    v,
                    VersionMeta {
                        created: Some(now - time::Duration::days(*age)),
                        live: !dead.contains(&v),
                    },
                )
            })
            .collect(),
    }
}

fn exposed(values: Option<&Vec<SecretString>>) -> Vec<String> {
    values
        .map(|v| v.iter().map(|s| s.expose_secret().to_owned()).collect())
        .unwrap_or_default()
}

#[test]
fn the_current_version_is_served_and_unknown_keys_are_reported() {
    let now = OffsetDateTime::now_utc();
    let meta = metadata(now, &[3], &[]);
    let data = BTreeMap::from([(
        1,
        version(&[
            ("jwt_secret", "j1"),
            ("master_key", "m1"),
            ("jwt_secert", "x"),
        ]),
    )]);
    let s = snapshot(&meta, &data, now, 30 * DAY, "kv").expect("snapshot");
    assert_eq!(s.version, 1);
    assert_eq!(s.values[&SecretName::JwtSecret].expose_secret(), "j1");
    assert_eq!(s.values[&SecretName::MasterKey].expose_secret(), "m1");
    assert!(!s.values.contains_key(&SecretName::BotKeySecret));
    assert_eq!(s.unknown_keys, vec!["jwt_secert".to_owned()]);
    assert!(s.previous.is_empty());
}

#[test]
fn a_superseded_jwt_key_verifies_for_the_grace_period_counted_from_its_successor() {
    let now = OffsetDateTime::now_utc();
    // v1 written 40 days ago, v2 (replacing it) 20 days ago, v3 (replacing v2) 1 day ago.
    let meta = metadata(now, &[40, 20, 1], &[]);
    let data = BTreeMap::from([
        (
            1,
            version(&[("jwt_secret", "j1"), ("bot_key_secret", "b1")]),
        ),
        (
            2,
            version(&[("jwt_secret", "j2"), ("bot_key_secret", "b2")]),
        ),
        (
            3,
            version(&[("jwt_secret", "j3"), ("bot_key_secret", "b3")]),
        ),
    ]);
    let s = snapshot(&meta, &data, now, 30 * DAY, "kv").expect("snapshot");
    assert_eq!(s.values[&SecretName::JwtSecret].expose_secret(), "j3");
    // v2 was superseded 1 day ago: kept. v1 was superseded 20 days ago: kept with a 30-day
    // grace, dropped with a 10-day one.
    assert_eq!(
        exposed(s.previous.get(&SecretName::JwtSecret)),
        ["j2", "j1"]
    );
    let s = snapshot(&meta, &data, now, 10 * DAY, "kv").expect("snapshot");
    assert_eq!(exposed(s.previous.get(&SecretName::JwtSecret)), ["j2"]);
    // Rotating the bot-key secret revokes every bot key: no previous value, ever.
    assert!(!s.previous.contains_key(&SecretName::BotKeySecret));
}

#[test]
fn every_live_earlier_master_key_stays_until_its_version_is_destroyed() {
    let now = OffsetDateTime::now_utc();
    let data = BTreeMap::from([
        (1, version(&[("master_key", "m1")])),
        (2, version(&[("master_key", "m2")])),
        // v3 changed another key only: its master key is the current one, not repeated.
        (3, version(&[("master_key", "m2"), ("jwt_secret", "j")])),
        (4, version(&[("master_key", "m4")])),
    ]);
    let meta = metadata(now, &[400, 300, 200, 100], &[]);
    let s = snapshot(&meta, &data, now, DAY, "kv").expect("snapshot");
    assert_eq!(
        exposed(s.previous.get(&SecretName::MasterKey)),
        ["m2", "m1"]
    );
    // Destroying version 1 (after `keys reencrypt`) retires m1.
    let meta = metadata(now, &[400, 300, 200, 100], &[1]);
    assert_eq!(wanted_versions(&meta), [4, 3, 2]);
    let s = snapshot(&meta, &data, now, DAY, "kv").expect("snapshot");
    assert_eq!(exposed(s.previous.get(&SecretName::MasterKey)), ["m2"]);
}

#[test]
fn a_deleted_current_version_is_an_error_not_an_empty_set() {
    let now = OffsetDateTime::now_utc();
    let meta = metadata(now, &[2, 1], &[2]);
    let data = BTreeMap::from([(1, version(&[("jwt_secret", "j1")]))]);
    let err = snapshot(&meta, &data, now, DAY, "secret/data/app")
        .err()
        .expect("a deleted current version is refused");
    assert!(matches!(err, VaultProblem::NotFound(_)), "{err}");
    assert!(err.to_string().contains("version 2"), "{err}");
}

#[test]
fn versions_further_back_than_the_limit_are_not_read() {
    let now = OffsetDateTime::now_utc();
    let meta = metadata(now, &[1; 40], &[]);
    let wanted = wanted_versions(&meta);
    assert_eq!(wanted.first(), Some(&40));
    assert_eq!(wanted.last(), Some(&24));
}

#[test]
fn addresses_vaultrs_would_panic_on_are_refused_with_a_message() {
    for ok in [
        "https://vault.example.org:8200",
        "http://127.0.0.1:8200",
        "https://[::1]:8200/",
    ] {
        assert!(VaultSettings::check_address(ok).is_ok(), "{ok}");
    }
    for bad in [
        "vault.example.org:8200",
        "https://",
        "https://user@vault",
        "https://vault/v1",
        "ftp://vault",
        "https://va ult",
    ] {
        let err = VaultSettings::check_address(bad).expect_err("refused");
        assert!(err.to_string().contains("Vault address"), "{bad}: {err}");
    }
}

#[test]
fn retries_back_off_to_half_a_minute() {
    let secs: Vec<u64> = (1..=8).map(|n| backoff(n).as_secs()).collect();
    assert_eq!(secs, [1, 2, 4, 8, 16, 30, 30, 30]);
}
