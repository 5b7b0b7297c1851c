//! The fake over real sockets: a raw HTTP/1.1 client (plain and rustls) checks status codes and
//! the exact key sets of Vault's bodies.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, ServerName};
use serde_json::{json, Value};
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};
use tokio::net::TcpStream;

use super::*;

/// A response: status, parsed JSON body (`Null` when empty) and the raw body.
struct Answer {
    status: u16,
    body: Value,
}

impl Answer {
    fn errors(&self) -> Vec<String> {
        serde_json::from_value(self.body["errors"].clone()).expect("an errors body")
    }
}

/// One request on its own connection, as vaultrs sends them (`X-Vault-Request: true`).
async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> Answer {
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\
         X-Vault-Request: true\r\nX-Vault-Namespace: ignored/\r\nContent-Length: {}\r\n",
        body.len()
    );
    if let Some(token) = token {
        request.push_str(&format!("X-Vault-Token: {token}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(&body);
    stream.write_all(request.as_bytes()).await.expect("send");
    let mut raw = Vec::new();
    let mut buf = [0u8; 8192];
    // Until the server closes (a TLS peer may close without close_notify: keep what arrived).
    while let Ok(n) = stream.read(&mut buf).await {
        if n == 0 {
            break;
        }
        raw.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8(raw).expect("utf-8 response");
    let (head, body) = text.split_once("\r\n\r\n").expect("a complete response");
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("a status line");
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: application/json"),
        "{head}"
    );
    let body = if body.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(body).expect("a JSON body")
    };
    Answer { status, body }
}

async fn call(
    vault: &FakeVault,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> Answer {
    let address = vault.address();
    let host = address.strip_prefix("http://").expect("plain HTTP");
    let tcp = TcpStream::connect(host).await.expect("connect");
    exchange(tcp, method, path, token, body).await
}

fn keys(value: &Value) -> BTreeSet<&str> {
    value
        .as_object()
        .expect("an object")
        .keys()
        .map(String::as_str)
        .collect()
}

fn set<'a>(names: &[&'a str]) -> BTreeSet<&'a str> {
    names.iter().copied().collect()
}

const ENVELOPE: &[&str] = &[
    "request_id",
    "lease_id",
    "renewable",
    "lease_duration",
    "data",
    "wrap_info",
    "warnings",
    "auth",
    "mount_type",
];

const AUTH: &[&str] = &[
    "client_token",
    "accessor",
    "policies",
    "token_policies",
    "metadata",
    "lease_duration",
    "renewable",
    "entity_id",
    "token_type",
    "orphan",
    "mfa_requirement",
    "num_uses",
];

/// `2026-11-24T12:00:00.123456789Z`-shaped.
fn assert_rfc3339_nano(s: &str) {
    assert!(s.len() >= 20 && s.ends_with('Z'), "{s}");
    assert_eq!(&s[4..5], "-", "{s}");
    assert_eq!(&s[10..11], "T", "{s}");
}

async fn approle_token(vault: &FakeVault) -> String {
    vault.add_approle("role-1", "secret-1");
    let login = call(
        vault,
        "POST",
        "/v1/auth/approle/login",
        None,
        Some(json!({"role_id": "role-1", "secret_id": "secret-1"})),
    )
    .await;
    assert_eq!(login.status, 200, "{}", login.body);
    login.body["auth"]["client_token"]
        .as_str()
        .expect("a token")
        .to_owned()
}

#[tokio::test]
async fn approle_login_and_kv_read_answer_in_vaults_shapes() {
    let vault = FakeVault::start().await;
    assert!(vault.address().starts_with("http://127.0.0.1:"));
    assert_eq!(vault.put("secret", "nexus/app", &[("jwt_secret", "s1")]), 1);
    vault.add_approle("role-1", "secret-1");

    let login = call(
        &vault,
        "POST",
        "/v1/auth/approle/login",
        None,
        Some(json!({"role_id": "role-1", "secret_id": "secret-1"})),
    )
    .await;
    assert_eq!(login.status, 200);
    assert_eq!(keys(&login.body), set(ENVELOPE));
    assert_eq!(login.body["data"], Value::Null);
    assert_eq!(login.body["mount_type"], "");
    let auth = &login.body["auth"];
    assert_eq!(keys(auth), set(AUTH));
    assert!(auth["client_token"]
        .as_str()
        .expect("token")
        .starts_with("hvs."));
    assert_eq!(auth["accessor"].as_str().expect("accessor").len(), 24);
    assert_eq!(auth["policies"], json!(["default", LOGIN_POLICY]));
    assert_eq!(auth["token_policies"], json!(["default", LOGIN_POLICY]));
    assert_eq!(auth["metadata"], json!({"role_name": APPROLE_ROLE_NAME}));
    assert_eq!(auth["lease_duration"], 3600);
    assert_eq!(auth["renewable"], true);
    assert_eq!(auth["token_type"], "service");
    assert_eq!(auth["orphan"], true);
    assert_eq!(auth["mfa_requirement"], Value::Null);
    assert_eq!(auth["num_uses"], 0);
    let token = auth["client_token"].as_str().expect("token");

    let read = call(
        &vault,
        "GET",
        "/v1/secret/data/nexus/app",
        Some(token),
        None,
    )
    .await;
    assert_eq!(read.status, 200);
    assert_eq!(keys(&read.body), set(ENVELOPE));
    assert_eq!(read.body["mount_type"], "kv");
    assert_eq!(read.body["auth"], Value::Null);
    assert_eq!(read.body["data"]["data"], json!({"jwt_secret": "s1"}));
    let metadata = &read.body["data"]["metadata"];
    assert_eq!(
        keys(metadata),
        set(&[
            "created_time",
            "custom_metadata",
            "deletion_time",
            "destroyed",
            "version"
        ])
    );
    assert_rfc3339_nano(metadata["created_time"].as_str().expect("time"));
    assert_eq!(metadata["deletion_time"], "");
    assert_eq!(metadata["destroyed"], false);
    assert_eq!(metadata["version"], 1);

    let wrong = call(
        &vault,
        "POST",
        "/v1/auth/approle/login",
        None,
        Some(json!({"role_id": "role-1", "secret_id": "nope"})),
    )
    .await;
    assert_eq!(
        (wrong.status, wrong.errors()),
        (400, vec!["invalid role or secret ID".to_owned()])
    );
    let missing = call(
        &vault,
        "PUT",
        "/v1/auth/approle/login",
        None,
        Some(json!({})),
    )
    .await;
    assert_eq!(
        (missing.status, missing.errors()),
        (400, vec!["missing role_id".to_owned()])
    );
    let anonymous = call(&vault, "GET", "/v1/secret/data/nexus/app", None, None).await;
    assert_eq!(
        (anonymous.status, anonymous.errors()),
        (403, vec!["permission denied".to_owned()])
    );
    let forged = call(
        &vault,
        "GET",
        "/v1/secret/data/nexus/app",
        Some("hvs.forged"),
        None,
    )
    .await;
    assert_eq!(
        (forged.status, forged.errors()),
        (403, vec![INVALID_TOKEN_ERROR.to_owned()])
    );

    let stats = vault.stats();
    assert_eq!(
        (stats.approle_logins, stats.failed_logins, stats.kv_reads),
        (1, 2, 1)
    );
    assert_eq!((stats.denied, stats.rejected, stats.requests), (2, 4, 6));
}

#[tokio::test]
async fn versions_deletion_destruction_and_metadata() {
    let vault = FakeVault::start().await;
    let token = approle_token(&vault).await;
    for value in ["one", "two", "three"] {
        vault.put("secret", "app", &[("k", value)]);
    }
    let read = |path: &'static str| call(&vault, "GET", path, Some(&token), None);

    let v1 = read("/v1/secret/data/app?version=1").await;
    assert_eq!(
        (v1.status, &v1.body["data"]["data"]["k"]),
        (200, &json!("one"))
    );
    let latest = read("/v1/secret/data/app").await;
    assert_eq!(latest.body["data"]["metadata"]["version"], 3);

    vault.delete_version("secret", "app", 2);
    let deleted = read("/v1/secret/data/app?version=2").await;
    assert_eq!(deleted.status, 404);
    assert_eq!(keys(&deleted.body), set(ENVELOPE));
    assert_eq!(deleted.body["data"]["data"], Value::Null);
    assert_rfc3339_nano(
        deleted.body["data"]["metadata"]["deletion_time"]
            .as_str()
            .expect("time"),
    );

    vault.destroy_version("secret", "app", 3);
    assert_eq!(vault.get("secret", "app", 3), None);
    let destroyed = read("/v1/secret/data/app").await;
    assert_eq!(destroyed.status, 404);
    assert_eq!(destroyed.body["data"]["metadata"]["destroyed"], true);
    assert_eq!(destroyed.body["data"]["metadata"]["version"], 3);

    for absent in ["/v1/secret/data/app?version=9", "/v1/secret/data/nothing"] {
        let answer = read(absent).await;
        assert_eq!(
            (answer.status, answer.body.clone()),
            (404, json!({"errors": []}))
        );
    }

    let meta = read("/v1/secret/metadata/app").await;
    assert_eq!(meta.status, 200);
    assert_eq!(meta.body["mount_type"], "kv");
    let data = &meta.body["data"];
    assert_eq!(
        keys(data),
        set(&[
            "cas_required",
            "created_time",
            "current_version",
            "custom_metadata",
            "delete_version_after",
            "max_versions",
            "oldest_version",
            "updated_time",
            "versions",
        ])
    );
    assert_eq!(data["current_version"], 3);
    assert_eq!(data["delete_version_after"], "0s");
    assert_eq!(data["created_time"], data["versions"]["1"]["created_time"]);
    assert_eq!(data["updated_time"], data["versions"]["3"]["created_time"]);
    assert_eq!(keys(&data["versions"]), set(&["1", "2", "3"]));
    assert_eq!(
        keys(&data["versions"]["2"]),
        set(&["created_time", "deletion_time", "destroyed"])
    );
    assert_ne!(data["versions"]["2"]["deletion_time"], "");
    assert_eq!(data["versions"]["3"]["destroyed"], true);

    // Read-only policy; an absent mount is news only to root.
    let write = call(
        &vault,
        "POST",
        "/v1/secret/data/app",
        Some(&token),
        Some(json!({"data": {}})),
    )
    .await;
    assert_eq!(
        (write.status, write.errors()),
        (403, vec![POLICY_DENIED_ERROR.to_owned()])
    );
    assert_eq!(read("/v1/nomount/data/x").await.status, 403);
    vault.add_token("root-token", None, false);
    let root = call(
        &vault,
        "GET",
        "/v1/nomount/data/x",
        Some("root-token"),
        None,
    )
    .await;
    assert_eq!(
        (root.status, root.errors()),
        (
            404,
            vec!["no handler for route \"nomount/data/x\". route entry not found.".to_owned()]
        )
    );
    let stats = vault.stats();
    assert_eq!((stats.kv_reads, stats.metadata_reads), (6, 1));
}

#[tokio::test]
async fn a_wrapped_secret_id_unwraps_once() {
    let vault = FakeVault::start().await;
    vault.add_approle("role-1", "secret-1");
    let wrapping = vault.wrap_secret_id("secret-1");

    let unwrap = call(
        &vault,
        "POST",
        "/v1/sys/wrapping/unwrap",
        Some(&wrapping),
        None,
    )
    .await;
    assert_eq!(unwrap.status, 200);
    assert_eq!(keys(&unwrap.body), set(ENVELOPE));
    let data = &unwrap.body["data"];
    assert_eq!(
        keys(data),
        set(&[
            "secret_id",
            "secret_id_accessor",
            "secret_id_num_uses",
            "secret_id_ttl"
        ])
    );
    assert_eq!(data["secret_id"], "secret-1");

    let again = call(
        &vault,
        "POST",
        "/v1/sys/wrapping/unwrap",
        Some(&wrapping),
        None,
    )
    .await;
    assert_eq!(
        (again.status, again.errors()),
        (
            400,
            vec!["wrapping token is not valid or does not exist".to_owned()]
        )
    );

    // The body form, with another token in the header; a wrapping token reads nothing else.
    vault.add_token("root-token", None, false);
    let second = vault.wrap_secret_id("secret-1");
    let denied = call(&vault, "GET", "/v1/secret/data/x", Some(&second), None).await;
    assert_eq!(
        (denied.status, denied.errors()),
        (403, vec![POLICY_DENIED_ERROR.to_owned()])
    );
    let by_body = call(
        &vault,
        "POST",
        "/v1/sys/wrapping/unwrap",
        Some("root-token"),
        Some(json!({"token": second})),
    )
    .await;
    assert_eq!(
        (by_body.status, &by_body.body["data"]["secret_id"]),
        (200, &json!("secret-1"))
    );
    assert_eq!(vault.stats().unwraps, 2);
}

#[tokio::test]
async fn sealed_vault_answers_503_and_health_says_so() {
    let vault = FakeVault::start().await;
    let token = approle_token(&vault).await;
    vault.put("secret", "app", &[("k", "v")]);

    let health = call(&vault, "GET", "/v1/sys/health", None, None).await;
    assert_eq!(health.status, 200);
    assert_eq!(
        keys(&health.body),
        set(&[
            "initialized",
            "sealed",
            "standby",
            "performance_standby",
            "replication_performance_mode",
            "replication_dr_mode",
            "server_time_utc",
            "version",
            "enterprise",
            "cluster_name",
            "cluster_id",
            "echo_duration_ms",
            "clock_skew_ms",
            "replication_primary_canary_age_ms",
        ])
    );
    assert_eq!(health.body["replication_dr_mode"], "disabled");

    vault.seal();
    let health = call(&vault, "GET", "/v1/sys/health", None, None).await;
    assert_eq!((health.status, &health.body["sealed"]), (503, &json!(true)));
    assert!(health.body.get("cluster_id").is_none());
    let head = call(&vault, "HEAD", "/v1/sys/health", None, None).await;
    assert_eq!((head.status, head.body), (503, Value::Null));
    let status = call(&vault, "GET", "/v1/sys/seal-status", None, None).await;
    assert_eq!((status.status, &status.body["sealed"]), (200, &json!(true)));
    for (method, path, token) in [
        ("GET", "/v1/secret/data/app", Some(token.as_str())),
        ("POST", "/v1/auth/approle/login", None),
        ("GET", "/v1/auth/token/lookup-self", Some(token.as_str())),
    ] {
        let answer = call(&vault, method, path, token, None).await;
        assert_eq!(
            (answer.status, answer.errors()),
            (503, vec!["Vault is sealed".to_owned()])
        );
    }

    vault.unseal();
    assert_eq!(
        call(&vault, "GET", "/v1/sys/health", None, None)
            .await
            .status,
        200
    );
    let read = call(&vault, "GET", "/v1/secret/data/app", Some(&token), None).await;
    assert_eq!(read.status, 200, "tokens survive a seal");
}

#[tokio::test]
async fn revoked_tokens_are_refused_and_new_logins_work() {
    let vault = FakeVault::start().await;
    let token = approle_token(&vault).await;
    vault.add_token("periodic", Some(Duration::from_secs(600)), true);
    vault.put("secret", "app", &[("k", "v")]);
    vault.revoke_all_tokens();

    for (method, path, who) in [
        ("GET", "/v1/secret/data/app", token.as_str()),
        ("POST", "/v1/auth/token/renew-self", token.as_str()),
        ("GET", "/v1/auth/token/lookup-self", "periodic"),
    ] {
        let answer = call(&vault, method, path, Some(who), None).await;
        assert_eq!(
            (answer.status, answer.errors()),
            (403, vec![INVALID_TOKEN_ERROR.to_owned()])
        );
    }
    let fresh = approle_token(&vault).await;
    let read = call(&vault, "GET", "/v1/secret/data/app", Some(&fresh), None).await;
    assert_eq!(read.status, 200);
    assert_eq!(vault.stats().denied, 3);
}

#[tokio::test]
async fn tokens_expire_on_the_wall_clock_unless_renewed() {
    let vault = FakeVault::start().await;
    vault.put("secret", "app", &[("k", "v")]);
    vault.set_login_token_ttl(Duration::from_secs(1), Duration::from_secs(10));
    let idle = approle_token(&vault).await;
    let renewed = approle_token(&vault).await;

    let lookup = call(
        &vault,
        "GET",
        "/v1/auth/token/lookup-self",
        Some(&renewed),
        None,
    )
    .await;
    assert_eq!(lookup.status, 200);
    assert_eq!(lookup.body["mount_type"], "token");
    let data = &lookup.body["data"];
    assert_eq!(
        keys(data),
        set(&[
            "accessor",
            "creation_time",
            "creation_ttl",
            "display_name",
            "entity_id",
            "expire_time",
            "explicit_max_ttl",
            "id",
            "issue_time",
            "meta",
            "num_uses",
            "orphan",
            "path",
            "policies",
            "renewable",
            "ttl",
            "type",
        ])
    );
    assert_eq!(
        (&data["id"], &data["creation_ttl"]),
        (&json!(renewed), &json!(1))
    );
    assert_eq!(
        (&data["path"], &data["display_name"]),
        (&json!("auth/approle/login"), &json!("approle"))
    );
    assert!(data["ttl"].as_u64().expect("ttl") <= 1);
    assert_rfc3339_nano(data["expire_time"].as_str().expect("expiry"));

    tokio::time::sleep(Duration::from_millis(300)).await;
    let renew = call(
        &vault,
        "POST",
        "/v1/auth/token/renew-self",
        Some(&renewed),
        Some(json!({"increment": "2s"})),
    )
    .await;
    assert_eq!(renew.status, 200, "{}", renew.body);
    assert_eq!(keys(&renew.body["auth"]), set(AUTH));
    assert_eq!(
        (
            &renew.body["auth"]["lease_duration"],
            &renew.body["mount_type"]
        ),
        (&json!(2), &json!("token"))
    );
    assert_eq!(renew.body["auth"]["client_token"], json!(renewed));

    // 1.2 s after the logins: the idle token is gone, the renewed one lives until 2.3 s.
    tokio::time::sleep(Duration::from_millis(900)).await;
    let expired = call(&vault, "GET", "/v1/secret/data/app", Some(&idle), None).await;
    assert_eq!(
        (expired.status, expired.errors()),
        (403, vec![INVALID_TOKEN_ERROR.to_owned()])
    );
    let late = call(
        &vault,
        "POST",
        "/v1/auth/token/renew-self",
        Some(&idle),
        None,
    )
    .await;
    assert_eq!(late.status, 403);
    assert_eq!(
        call(&vault, "GET", "/v1/secret/data/app", Some(&renewed), None)
            .await
            .status,
        200
    );

    tokio::time::sleep(Duration::from_millis(1200)).await;
    let over = call(&vault, "GET", "/v1/secret/data/app", Some(&renewed), None).await;
    assert_eq!(over.status, 403, "the renewed lease ended too");
    assert_eq!(vault.stats().renewals, 1);
}

#[tokio::test]
async fn renewals_honour_increments_max_ttl_and_renewability() {
    let vault = FakeVault::start().await;
    vault.set_login_token_ttl(Duration::from_secs(60), Duration::from_secs(90));
    let token = approle_token(&vault).await;
    let vault = &vault;
    let renew = |body: Value, who: &'static str| {
        let token = if who.is_empty() {
            token.clone()
        } else {
            who.to_owned()
        };
        async move {
            call(
                vault,
                "POST",
                "/v1/auth/token/renew-self",
                Some(&token),
                Some(body),
            )
            .await
        }
    };

    let own = renew(json!({}), "").await;
    assert_eq!(
        (own.status, &own.body["auth"]["lease_duration"]),
        (200, &json!(60))
    );
    let thirty = renew(json!({"increment": "30s"}), "").await;
    assert_eq!(
        (thirty.status, &thirty.body["auth"]["lease_duration"]),
        (200, &json!(30))
    );
    assert_eq!(thirty.body["warnings"], Value::Null);
    let number = renew(json!({"increment": 45}), "").await;
    assert_eq!(number.body["auth"]["lease_duration"], 45);
    let capped = renew(json!({"increment": "1h"}), "").await;
    let lease = capped.body["auth"]["lease_duration"]
        .as_u64()
        .expect("lease");
    assert!((89..=90).contains(&lease), "{lease}");
    let warning = capped.body["warnings"][0].as_str().expect("a warning");
    assert!(
        warning.starts_with("TTL of \"1h0m0s\" exceeded the effective max_ttl of \"1m")
            && warning.ends_with("s\"; TTL value is capped accordingly"),
        "{warning}"
    );
    let bad = renew(json!({"increment": "soon"}), "").await;
    assert_eq!(bad.status, 400);

    vault.add_token("fixed", Some(Duration::from_secs(60)), false);
    vault.add_token("root-token", None, true);
    for who in ["fixed", "root-token"] {
        let refused = renew(json!({}), who).await;
        assert_eq!(
            (refused.status, refused.errors()),
            (400, vec!["lease is not renewable".to_owned()])
        );
    }
    let root = call(
        vault,
        "GET",
        "/v1/auth/token/lookup-self",
        Some("root-token"),
        None,
    )
    .await;
    let data = &root.body["data"];
    assert_eq!(
        (&data["expire_time"], &data["ttl"]),
        (&Value::Null, &json!(0))
    );
    assert_eq!(
        (&data["policies"], &data["renewable"]),
        (&json!(["root"]), &json!(false))
    );
}

#[tokio::test]
async fn kubernetes_login_names_the_service_account() {
    let vault = FakeVault::start().await;
    let claims = json!({
        "iss": "https://kubernetes.default.svc",
        "kubernetes.io": {
            "namespace": "scribe",
            "serviceaccount": {"name": "nexus", "uid": "0b9e7b6c-1111-2222-3333-444455556666"}
        }
    });
    let jwt = format!(
        "eyJhbGciOiJSUzI1NiJ9.{}.c2ln",
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    vault.add_kubernetes_role("scribe", &jwt);

    let login = call(
        &vault,
        "POST",
        "/v1/auth/kubernetes/login",
        None,
        Some(json!({"role": "scribe", "jwt": jwt})),
    )
    .await;
    assert_eq!(login.status, 200);
    assert_eq!(keys(&login.body["auth"]), set(AUTH));
    assert_eq!(
        login.body["auth"]["metadata"],
        json!({
            "role": "scribe",
            "service_account_name": "nexus",
            "service_account_namespace": "scribe",
            "service_account_secret_name": "",
            "service_account_uid": "0b9e7b6c-1111-2222-3333-444455556666",
        })
    );
    let wrong = call(
        &vault,
        "POST",
        "/v1/auth/kubernetes/login",
        None,
        Some(json!({"role": "scribe", "jwt": "x.y.z"})),
    )
    .await;
    assert_eq!(
        (wrong.status, wrong.errors()),
        (403, vec!["permission denied".to_owned()])
    );
    let unknown = call(
        &vault,
        "POST",
        "/v1/auth/kubernetes/login",
        None,
        Some(json!({"role": "other", "jwt": jwt})),
    )
    .await;
    assert_eq!(
        (unknown.status, unknown.errors()),
        (400, vec!["invalid role name \"other\"".to_owned()])
    );
    let stats = vault.stats();
    assert_eq!((stats.kubernetes_logins, stats.failed_logins), (1, 2));
}

#[tokio::test]
async fn injected_failures_answer_the_next_requests() {
    let vault = FakeVault::start().await;
    let token = approle_token(&vault).await;
    vault.put("secret", "app", &[("k", "v")]);
    vault.fail_next(500, 2);

    let first = call(&vault, "GET", "/v1/secret/data/app", Some(&token), None).await;
    assert_eq!(
        (first.status, first.errors()),
        (500, vec!["internal error".to_owned()])
    );
    assert_eq!(
        call(&vault, "GET", "/v1/sys/health", None, None)
            .await
            .status,
        200,
        "health is never failed"
    );
    let second = call(&vault, "POST", "/v1/auth/approle/login", None, None).await;
    assert_eq!(second.status, 500);
    assert_eq!(
        call(&vault, "GET", "/v1/secret/data/app", Some(&token), None)
            .await
            .status,
        200
    );

    vault.fail_next_with(503, 1, "Vault is in standby mode");
    let third = call(&vault, "GET", "/v1/secret/data/app", Some(&token), None).await;
    assert_eq!(
        (third.status, third.errors()),
        (503, vec!["Vault is in standby mode".to_owned()])
    );
    assert_eq!(vault.stats().injected_failures, 3);
}

#[tokio::test]
async fn serves_https_for_localhost() {
    let made = rcgen::generate_simple_self_signed(vec!["localhost".into()]).expect("rcgen");
    let (cert, key) = (made.cert.pem(), made.signing_key.serialize_pem());
    let vault = FakeVault::start_tls(&cert, &key).await;
    let address = vault.address();
    let port = address
        .strip_prefix("https://localhost:")
        .expect("an https://localhost address");

    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(cert.as_bytes()).expect("pem"))
        .expect("root");
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_root_certificates(roots)
    .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let connect = || async {
        let tcp = TcpStream::connect(format!("127.0.0.1:{port}"))
            .await
            .expect("connect");
        let name = ServerName::try_from("localhost").expect("name");
        connector.connect(name, tcp).await.expect("handshake")
    };

    let health = exchange(connect().await, "GET", "/v1/sys/health", None, None).await;
    assert_eq!(
        (health.status, &health.body["sealed"]),
        (200, &json!(false))
    );
    vault.add_approle("role-1", "secret-1");
    let login = exchange(
        connect().await,
        "POST",
        "/v1/auth/approle/login",
        None,
        Some(json!({"role_id": "role-1", "secret_id": "secret-1"})),
    )
    .await;
    assert_eq!(login.status, 200);
}

#[test]
fn times_and_durations_are_printed_as_go_prints_them() {
    let at = UNIX_EPOCH + Duration::new(1_795_521_600, 123_456_789);
    assert_eq!(wire::rfc3339_nano(at), "2026-11-24T12:00:00.123456789Z");
    let at = UNIX_EPOCH + Duration::new(951_868_799, 500_000_000);
    assert_eq!(wire::rfc3339_nano(at), "2000-02-29T23:59:59.5Z");
    assert_eq!(wire::rfc3339_nano(UNIX_EPOCH), "1970-01-01T00:00:00Z");
    assert_eq!(wire::go_duration(0), "0s");
    assert_eq!(wire::go_duration(125), "2m5s");
    assert_eq!(wire::go_duration(3600), "1h0m0s");
    let secs = |v: Value| wire::parse_duration(&v).map(|d| d.as_secs_f64());
    assert_eq!(secs(json!("3600s")), Some(3600.0));
    assert_eq!(secs(json!("1h30m")), Some(5400.0));
    assert_eq!(secs(json!("1.5h")), Some(5400.0));
    assert_eq!(secs(json!("120")), Some(120.0));
    assert_eq!(secs(json!(90)), Some(90.0));
    assert_eq!(secs(json!("2d")), Some(172_800.0));
    assert_eq!(secs(json!("soon")), None);
    assert_eq!(secs(json!("10x")), None);
}
