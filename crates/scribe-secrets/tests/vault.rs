//! The Vault source against the in-process fake Vault (real response shapes, real HTTP and
//! TLS, wall-clock token expiry): each sign-in method, the cache and its refresh, token renewal
//! and re-login, rotation, and the failures Vault really has (sealed, 403, 5xx, spent wrapping
//! tokens, an untrusted certificate).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use scribe_secrets::fake_vault::FakeVault;
use scribe_secrets::{
    ExposeSecret as _, SecretName, SecretSource as _, Secrets, SecretsError, VaultAuth,
    VaultSettings, VaultSource,
};

const MOUNT: &str = "secret";
const PATH: &str = "nexus-scribe";
const ROLE_ID: &str = "5f2d6a6e-role";
const SECRET_ID: &str = "b7c1e0f4-secret-id";

/// The three key secrets of version `tag`: strong random values, the same for a tag throughout
/// a test run.
fn keys(tag: &str) -> Vec<(String, String)> {
    static VALUES: Mutex<BTreeMap<String, String>> = Mutex::new(BTreeMap::new());
    let mut values = VALUES.lock().expect("values");
    ["jwt_secret", "bot_key_secret", "master_key"]
        .iter()
        .map(|k| {
            let value = values.entry(format!("{tag}/{k}")).or_insert_with(|| {
                scribe_secrets::generate_secret()
                    .expect("random")
                    .expose_secret()
                    .to_owned()
            });
            ((*k).to_owned(), value.clone())
        })
        .collect()
}

fn put(vault: &FakeVault, tag: &str) -> u64 {
    let pairs = keys(tag);
    let refs: Vec<(&str, &str)> = pairs
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    vault.put(MOUNT, PATH, &refs)
}

fn write(dir: &Path, name: &str, content: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, content).expect("write");
    path
}

fn settings(vault: &FakeVault, auth: VaultAuth) -> VaultSettings {
    VaultSettings {
        address: vault.address(),
        mount: MOUNT.into(),
        path: PATH.into(),
        cache_ttl: Duration::from_secs(1),
        auth,
        ca_cert: None,
        timeout: Duration::from_secs(5),
        jwt_grace: Duration::from_secs(3600),
    }
}

fn approle(dir: &Path, vault: &FakeVault, wrapped: bool) -> VaultAuth {
    vault.add_approle(ROLE_ID, SECRET_ID);
    let content = if wrapped {
        vault.wrap_secret_id(SECRET_ID)
    } else {
        SECRET_ID.to_owned()
    };
    VaultAuth::AppRole {
        mount: "approle".into(),
        role_id: ROLE_ID.into(),
        secret_id_file: write(dir, "secret-id", &content),
        wrapped,
    }
}

fn value(source: &VaultSource, name: SecretName) -> String {
    source
        .get(name)
        .expect("a cached lookup")
        .expect("the secret is there")
        .expose_secret()
        .to_owned()
}

/// Why connecting with `settings` fails (it must).
async fn refusal(settings: VaultSettings) -> String {
    VaultSource::connect(settings)
        .await
        .expect_err("refused")
        .to_string()
}

/// Polls `check` every 100 ms for up to `secs` seconds.
async fn eventually(secs: u64, what: &str, mut check: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    while !check() {
        assert!(tokio::time::Instant::now() < deadline, "{what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn approle_with_a_wrapped_secret_id_loads_every_secret() {
    let vault = FakeVault::start().await;
    put(&vault, "v1");
    let dir = tempfile::tempdir().expect("tempdir");
    let source = VaultSource::connect(settings(&vault, approle(dir.path(), &vault, true)))
        .await
        .expect("connects");
    let secrets = Secrets::load(&[&source]).expect("every secret is in Vault");
    assert_eq!(
        secrets
            .get(SecretName::JwtSecret)
            .expect("loaded")
            .expose_secret(),
        keys("v1")[0].1
    );
    let origin = secrets
        .origin(SecretName::MasterKey)
        .expect("loaded")
        .to_string();
    assert!(
        origin.contains("secret/data/nexus-scribe") && origin.contains("version 1"),
        "{origin}"
    );
    assert_eq!(
        secrets
            .validate(scribe_secrets::Mode::Production)
            .expect("strong"),
        []
    );
    assert!(source.status().ready);
    assert_eq!(vault.stats().unwraps, 1);
}

#[tokio::test]
async fn a_wrapping_token_someone_already_unwrapped_is_refused_loudly() {
    let vault = FakeVault::start().await;
    put(&vault, "v1");
    let dir = tempfile::tempdir().expect("tempdir");
    let auth = approle(dir.path(), &vault, true);
    VaultSource::connect(settings(&vault, auth.clone()))
        .await
        .expect("first use");
    // A restart (or an attacker who got there first) finds the token spent.
    let err = refusal(settings(&vault, auth)).await;
    assert!(
        err.contains("already unwrapped") && err.contains("secret-id"),
        "{err}"
    );
    assert!(!err.contains(SECRET_ID), "{err}");
}

#[tokio::test]
async fn token_and_kubernetes_sign_in_work_and_bad_credentials_are_named_not_shown() {
    let vault = FakeVault::start().await;
    put(&vault, "v1");
    let dir = tempfile::tempdir().expect("tempdir");

    vault.add_token("s.service-token", Some(Duration::from_secs(600)), true);
    let token = VaultAuth::Token {
        token_file: write(dir.path(), "token", "s.service-token\n"),
    };
    let source = VaultSource::connect(settings(&vault, token))
        .await
        .expect("token");
    assert_eq!(value(&source, SecretName::BotKeySecret), keys("v1")[1].1);

    vault.add_kubernetes_role("scribe", "eyJhbGciOiJSUzI1NiJ9.sa.sig");
    let k8s = |jwt: &str| VaultAuth::Kubernetes {
        mount: "kubernetes".into(),
        role: "scribe".into(),
        jwt_file: write(dir.path(), "sa-token", jwt),
    };
    VaultSource::connect(settings(&vault, k8s("eyJhbGciOiJSUzI1NiJ9.sa.sig")))
        .await
        .expect("kubernetes");
    let err = refusal(settings(&vault, k8s("eyJhbGciOiJSUzI1NiJ9.other.sig"))).await;
    assert!(
        err.contains("403") && err.contains("auth/kubernetes/login"),
        "{err}"
    );
    assert!(!err.contains("other.sig"), "{err}");

    vault.add_approle(ROLE_ID, SECRET_ID);
    let wrong = VaultAuth::AppRole {
        mount: "approle".into(),
        role_id: ROLE_ID.into(),
        secret_id_file: write(dir.path(), "wrong-id", "not-the-secret-id"),
        wrapped: false,
    };
    let err = refusal(settings(&vault, wrong)).await;
    assert!(err.contains("Vault rejected the request (400)"), "{err}");
    assert!(!err.contains("not-the-secret-id"), "{err}");

    let missing = VaultAuth::Token {
        token_file: dir.path().join("no-such-file"),
    };
    let err = refusal(settings(&vault, missing)).await;
    assert!(err.contains("no-such-file"), "{err}");
}

#[tokio::test]
async fn unreachable_sealed_or_empty_vault_at_start_up_is_an_error() {
    let vault = FakeVault::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let auth = approle(dir.path(), &vault, false);
    // Nothing at the path yet.
    let err = VaultSource::connect(settings(&vault, auth.clone()))
        .await
        .expect_err("refused");
    assert!(matches!(err, SecretsError::Vault { .. }), "{err}");
    assert!(
        err.to_string()
            .contains("no secret at secret/metadata/nexus-scribe"),
        "{err}"
    );
    put(&vault, "v1");
    vault.seal();
    let err = refusal(settings(&vault, auth.clone())).await;
    assert!(err.ends_with("Vault is sealed"), "{err}");
    vault.unseal();
    let mut elsewhere = settings(&vault, auth);
    elsewhere.address = "http://127.0.0.1:9".into();
    let err = refusal(elsewhere).await;
    assert!(err.contains("cannot reach Vault"), "{err}");
}

#[tokio::test]
async fn a_rotation_is_served_within_the_cache_ttl_and_the_old_jwt_key_stays_valid() {
    let vault = FakeVault::start().await;
    put(&vault, "v1");
    let dir = tempfile::tempdir().expect("tempdir");
    let source = VaultSource::connect(settings(&vault, approle(dir.path(), &vault, false)))
        .await
        .expect("connects");
    let task = source.spawn_refresh();
    let mut changes = source.subscribe();
    put(&vault, "v2");
    tokio::time::timeout(Duration::from_secs(5), changes.changed())
        .await
        .expect("the new version is announced within the TTL")
        .expect("the source is alive");
    assert_eq!(*changes.borrow(), 2);
    assert_eq!(value(&source, SecretName::JwtSecret), keys("v2")[0].1);
    let previous: Vec<String> = source
        .previous(SecretName::JwtSecret)
        .expect("cached")
        .iter()
        .map(|s| s.expose_secret().to_owned())
        .collect();
    assert_eq!(previous, [keys("v1")[0].1.clone()]);
    assert!(source
        .previous(SecretName::BotKeySecret)
        .expect("cached")
        .is_empty());
    // Destroying the old version withdraws the old key at the next read.
    vault.destroy_version(MOUNT, PATH, 1);
    eventually(5, "the destroyed key is withdrawn", || {
        source
            .previous(SecretName::JwtSecret)
            .expect("cached")
            .is_empty()
    })
    .await;
    task.abort();
}

#[tokio::test]
async fn sealed_mid_run_keeps_the_cache_reports_not_ready_and_recovers() {
    let vault = FakeVault::start().await;
    put(&vault, "v1");
    let dir = tempfile::tempdir().expect("tempdir");
    let source = VaultSource::connect(settings(&vault, approle(dir.path(), &vault, false)))
        .await
        .expect("connects");
    let task = source.spawn_refresh();
    vault.seal();
    eventually(5, "not ready while sealed", || !source.status().ready).await;
    assert_eq!(source.status().problem.as_deref(), Some("Vault is sealed"));
    assert_eq!(
        value(&source, SecretName::JwtSecret),
        keys("v1")[0].1,
        "cache kept"
    );
    vault.unseal();
    eventually(10, "ready again once unsealed", || source.status().ready).await;

    vault.fail_next(500, 3);
    eventually(5, "not ready on 5xx", || !source.status().ready).await;
    assert!(source.status().problem.expect("a problem").contains("500"));
    eventually(15, "ready again after the errors", || source.status().ready).await;
    task.abort();
}

/// A refreshing AppRole source whose logins get `ttl`-second tokens renewable up to `max_ttl`
/// seconds; reads are a minute apart, so what happens to the token is the token renewal's doing.
async fn renewing(
    vault: &FakeVault,
    dir: &Path,
    ttl: u64,
    max_ttl: u64,
) -> (VaultSource, tokio::task::JoinHandle<()>) {
    vault.set_login_token_ttl(Duration::from_secs(ttl), Duration::from_secs(max_ttl));
    let mut s = settings(vault, approle(dir, vault, false));
    s.cache_ttl = Duration::from_secs(60);
    let source = VaultSource::connect(s).await.expect("connects");
    let task = source.spawn_refresh();
    (source, task)
}

#[tokio::test]
async fn short_lived_tokens_are_renewed_and_a_revoked_one_leads_to_a_fresh_login() {
    let vault = FakeVault::start().await;
    put(&vault, "v1");
    let dir = tempfile::tempdir().expect("tempdir");
    let (source, task) = renewing(&vault, dir.path(), 3, 3600).await;
    // Renewed at 2/3 of each 3 s lease: after 5 s, at least two renewals, still one login.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let stats = vault.stats();
    assert!(stats.renewals >= 2, "{stats:?}");
    assert_eq!(stats.approle_logins, 1, "{stats:?}");
    // Every token revoked: the next renewal is refused and the source signs in again.
    vault.revoke_all_tokens();
    eventually(5, "a fresh login", || vault.stats().approle_logins >= 2).await;
    source.refresh().await.expect("reads with the new token");
    assert!(source.status().ready);
    task.abort();
}

#[tokio::test]
async fn a_token_at_its_max_ttl_is_replaced_by_a_login() {
    let vault = FakeVault::start().await;
    put(&vault, "v1");
    // Renewals cannot go past 4 s: near the cap the source logs in again instead.
    let dir = tempfile::tempdir().expect("tempdir");
    let (source, task) = renewing(&vault, dir.path(), 3, 4).await;
    eventually(8, "a login before the max TTL", || {
        vault.stats().approle_logins >= 2
    })
    .await;
    source.refresh().await.expect("the token in use works");
    task.abort();
}

#[tokio::test]
async fn tls_needs_the_configured_ca() {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()]).expect("cert");
    let vault = FakeVault::start_tls(&cert.cert.pem(), &cert.signing_key.serialize_pem()).await;
    put(&vault, "v1");
    let dir = tempfile::tempdir().expect("tempdir");
    let auth = approle(dir.path(), &vault, false);
    let err = refusal(settings(&vault, auth.clone())).await;
    assert!(
        err.contains("cannot reach Vault") && err.to_lowercase().contains("certificate"),
        "{err}"
    );
    let mut trusted = settings(&vault, auth);
    trusted.ca_cert = Some(write(dir.path(), "ca.pem", &cert.cert.pem()));
    let source = VaultSource::connect(trusted).await.expect("verified TLS");
    assert_eq!(value(&source, SecretName::JwtSecret), keys("v1")[0].1);
}
