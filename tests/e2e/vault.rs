//! The binary with its secrets in Vault — the in-process fake Vault of `scribe-secrets` (real
//! response shapes, HTTPS with a private CA, AppRole with a response-wrapped secret id), since no
//! Vault server can be installed here.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

use e2e_tests::ledger;
use e2e_tests::server::{http_get, http_post, scribe_on, setup_env, Server, ADMIN_PASSWORD};
use scribe_secrets::fake_vault::FakeVault;
use scribe_secrets::ExposeSecret as _;

const ROLE_ID: &str = "9a1c2f5e-e2e-role-id";
const SECRET_ID: &str = "4d7b0c3a-e2e-secret-id";

/// The fake Vault over HTTPS, on a runtime of its own that keeps serving while the test thread
/// blocks on the binary.
struct Vault {
    fake: FakeVault,
    dir: tempfile::TempDir,
    ca: PathBuf,
    _runtime: tokio::runtime::Runtime,
}

impl Vault {
    fn start() -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()]).expect("cert");
        let fake = runtime.block_on(FakeVault::start_tls(
            &cert.cert.pem(),
            &cert.signing_key.serialize_pem(),
        ));
        fake.add_approle(ROLE_ID, SECRET_ID);
        ledger::secret(SECRET_ID);
        let dir = tempfile::tempdir().expect("tempdir");
        let ca = dir.path().join("vault-ca.pem");
        std::fs::write(&ca, cert.cert.pem()).expect("ca");
        let plain = dir.path().join("secret-id");
        std::fs::write(&plain, SECRET_ID).expect("secret id");
        Self {
            fake,
            dir,
            ca,
            _runtime: runtime,
        }
    }

    /// Writes a new version with these values (recorded for the log scan); `None` leaves the
    /// key out.
    fn put(&self, values: &[(&str, Option<&str>)]) -> u64 {
        let pairs: Vec<(&str, &str)> = values
            .iter()
            .filter_map(|(k, v)| v.map(|v| (*k, v)))
            .collect();
        for (_, v) in &pairs {
            ledger::server_secret(v);
        }
        self.fake.put("secret", "nexus-scribe", &pairs)
    }

    /// The configuration of every command: production, Vault over HTTPS with the private CA,
    /// AppRole; `wrapped` hands over a fresh single-use wrapping token instead of the secret id.
    fn env(&self, wrapped: bool) -> Vec<(String, String)> {
        let secret_id_file = if wrapped {
            let token = self.fake.wrap_secret_id(SECRET_ID);
            ledger::secret(&token);
            let file = self.dir.path().join(format!("wrapped-{}", &token[..8]));
            std::fs::write(&file, token).expect("wrapping token");
            file
        } else {
            self.dir.path().join("secret-id")
        };
        [
            ("NEXUS_SCRIBE_ENV", "production".to_owned()),
            ("NEXUS_SCRIBE__VAULT__ENABLED", "true".to_owned()),
            ("NEXUS_SCRIBE__VAULT__ADDRESS", self.fake.address()),
            ("NEXUS_SCRIBE__VAULT__AUTH_METHOD", "approle".to_owned()),
            ("NEXUS_SCRIBE__VAULT__ROLE_ID", ROLE_ID.to_owned()),
            (
                "NEXUS_SCRIBE__VAULT__SECRET_ID_FILE",
                secret_id_file.display().to_string(),
            ),
            (
                "NEXUS_SCRIBE__VAULT__SECRET_ID_WRAPPED",
                wrapped.to_string(),
            ),
            (
                "NEXUS_SCRIBE__VAULT__CA_CERT",
                self.ca.display().to_string(),
            ),
            ("NEXUS_SCRIBE__VAULT__CACHE_TTL_SECS", "1".to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    }
}

fn strong() -> String {
    let value = scribe_secrets::generate_secret().expect("random");
    value.expose_secret().to_owned()
}

fn refs(env: &[(String, String)]) -> Vec<(&str, &str)> {
    env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

/// `serve` run to its end (it is expected to refuse to start).
fn serve_refused(data_dir: &Path, env: &[(String, String)]) -> Output {
    let out = scribe_on(data_dir)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .envs(env.iter().map(|(k, v)| (k, v)))
        .output()
        .expect("serve runs");
    ledger::log("serve-refused", &String::from_utf8_lossy(&out.stderr));
    assert!(!out.status.success(), "serve started");
    out
}

fn wait_until(secs: u64, what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !check() {
        assert!(Instant::now() < deadline, "{what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn sign_in(server: &Server, email: &str) -> (String, String) {
    let body = serde_json::json!({ "email": email, "password": ADMIN_PASSWORD });
    let res = http_post(server, "/api/v1/auth/login", None, &body);
    let get = |k: &str| {
        res[k]
            .as_str()
            .unwrap_or_else(|| panic!("login failed: {res}"))
            .to_owned()
    };
    (get("access_token"), get("refresh_token"))
}

fn status(server: &Server, token: &str) -> u16 {
    http_get(server, "/api/v1/meetings", Some(token)).0
}

#[test]
fn production_refuses_weak_missing_or_unavailable_secrets_in_vault_naming_them() {
    let vault = Vault::start();
    let data = tempfile::tempdir().expect("tempdir");
    let env = vault.env(false);

    vault.put(&[
        ("jwt_secret", Some("changeme")),
        ("bot_key_secret", Some(&strong())),
        ("master_key", Some(&strong())),
    ]);
    let out = serve_refused(data.path(), &env);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("refusing weak secrets") && err.contains("jwt_secret"),
        "{err}"
    );
    assert!(!err.contains("changeme"), "the value is never shown: {err}");

    vault.put(&[
        ("bot_key_secret", Some(&strong())),
        ("master_key", Some(&strong())),
    ]);
    let out = serve_refused(data.path(), &env);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("secret jwt_secret is not set"), "{err}");

    vault.put(&[
        ("jwt_secret", Some(&strong())),
        ("bot_key_secret", Some(&strong())),
        ("master_key", Some(&strong())),
    ]);
    vault.fake.seal();
    let out = serve_refused(data.path(), &env);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cannot load secrets from Vault") && err.contains("Vault is sealed"),
        "{err}"
    );
    // Nothing was generated on disk in place of the secrets Vault should have given.
    assert!(!data.path().join("secrets").exists());
}

/// The acceptance of the secrets issue in one run of the binary: AppRole (wrapped secret id)
/// over verified TLS in production; a rotation of `jwt_secret` in Vault reaches the running
/// service within the cache TTL while tokens issued before keep working; Vault sealed mid-run
/// leaves the service serving from its cache with `/readyz` not ready, until Vault returns.
#[test]
fn secrets_from_vault_rotate_without_a_restart_and_survive_a_sealed_vault() {
    let vault = Vault::start();
    let jwt_v1 = strong();
    let bot_key = strong();
    let master_key = strong();
    vault.put(&[
        ("jwt_secret", Some(&jwt_v1)),
        ("bot_key_secret", Some(&bot_key)),
        ("master_key", Some(&master_key)),
    ]);
    let data = tempfile::tempdir().expect("tempdir");
    let setup_env_vars = vault.env(false);
    let setup = setup_env(data.path(), "Vaulted", &refs(&setup_env_vars));

    // `secrets check` names Vault and the version, never a value.
    let out = scribe_on(data.path())
        .args(["secrets", "check"])
        .envs(setup_env_vars.iter().map(|(k, v)| (k, v)))
        .output()
        .expect("secrets check runs");
    let report = String::from_utf8_lossy(&out.stdout);
    ledger::log("secrets-check", &report);
    ledger::log("secrets-check-err", &String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{report}");
    assert!(
        report.contains("secret/data/nexus-scribe (version 1)") && report.contains("\"approle\""),
        "{report}"
    );
    for value in [&jwt_v1, &bot_key, &master_key] {
        assert!(!report.contains(value.as_str()));
    }
    assert!(
        !data.path().join("secrets").exists(),
        "no secrets file beside Vault"
    );

    let serve_env = vault.env(true);
    let server = Server::start(data.path(), &refs(&serve_env));
    assert_eq!(
        http_get(&server, "/readyz", None),
        (200, "ready".to_owned())
    );
    let (before, refresh_before) = sign_in(&server, &setup.admin_email);
    assert_eq!(status(&server, &before), 200);

    // Rotate jwt_secret in Vault.
    let jwt_v2 = strong();
    vault.put(&[
        ("jwt_secret", Some(&jwt_v2)),
        ("bot_key_secret", Some(&bot_key)),
        ("master_key", Some(&master_key)),
    ]);
    wait_until(15, "the rotation is applied within the cache TTL", || {
        server.log().contains("secrets from Vault version 2 in use")
    });
    let (after, _) = sign_in(&server, &setup.admin_email);
    assert_eq!(
        status(&server, &after),
        200,
        "a token signed with the new key"
    );
    assert_eq!(
        status(&server, &before),
        200,
        "a token issued before still works"
    );
    let refreshed = http_post(
        &server,
        "/api/v1/auth/refresh",
        None,
        &serde_json::json!({ "refresh_token": refresh_before }),
    );
    assert!(
        refreshed["access_token"].is_string(),
        "a refresh token issued before still works: {refreshed}"
    );

    // Destroying the superseded version withdraws the old key: this tells the two tokens apart,
    // so the new one really is signed with the rotated key.
    vault.fake.destroy_version("secret", "nexus-scribe", 1);
    wait_until(15, "the old key is withdrawn", || {
        status(&server, &before) == 401
    });
    assert_eq!(status(&server, &after), 200);

    // Vault sealed mid-run: still serving (cache), not ready; ready again once unsealed.
    vault.fake.seal();
    wait_until(15, "/readyz reports the sealed Vault", || {
        http_get(&server, "/readyz", None).0 == 503
    });
    let (code, body) = http_get(&server, "/readyz", None);
    assert_eq!(code, 503);
    assert!(body.contains("secrets"), "{body}");
    assert!(
        !body.contains("sealed"),
        "no details for anonymous callers: {body}"
    );
    assert_eq!(status(&server, &after), 200, "serving from the cache");
    let (during, _) = sign_in(&server, &setup.admin_email);
    assert_eq!(
        status(&server, &during),
        200,
        "signing in works while sealed"
    );
    vault.fake.unseal();
    wait_until(40, "ready again once Vault is back", || {
        http_get(&server, "/readyz", None).0 == 200
    });
    let log = server.log();
    assert!(log.contains("Vault is sealed"), "the log says why");
    for value in [&jwt_v1, &jwt_v2, &bot_key, &master_key] {
        assert!(!log.contains(value.as_str()), "no secret in the log");
    }
}
