use std::sync::Arc;
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use scribe_core::{OrgId, SessionId, UserId};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{json, Value};
use sha2::{Sha256, Sha512};

use super::*;
use crate::clock::ManualClock;
use crate::error::{AuthError, TokenRejection};
use crate::principal::Principal;
use crate::role::Role;

const KEY_A: &str = "test-jwt-key-A-0123456789abcdefghijklmnop";
const KEY_B: &str = "test-jwt-key-B-zyxwvutsrqponmlkjihgfedcba";
const NOW: u64 = 1_750_000_000;

struct Fixture {
    clock: Arc<ManualClock>,
    service: TokenService,
    user: UserId,
    org: OrgId,
    session: SessionId,
}

fn keys(current: &str, previous: &[&str]) -> JwtKeys {
    let previous: Vec<SecretString> = previous.iter().map(|k| SecretString::from(*k)).collect();
    JwtKeys::new(&SecretString::from(current), &previous).expect("keys")
}

fn fixture() -> Fixture {
    let clock = Arc::new(ManualClock::at_unix_seconds(NOW));
    let service = TokenService::new(keys(KEY_A, &[]), TokenConfig::default(), clock.clone());
    Fixture {
        clock,
        service,
        user: UserId::generate(),
        org: OrgId::generate(),
        session: SessionId::generate(),
    }
}

impl Fixture {
    fn issue(&self) -> String {
        let issued = self
            .service
            .issue_access(self.user, self.org, Role::Editor, self.session)
            .expect("issue");
        issued.token.expose_secret().to_owned()
    }

    /// Claims as the service would write them, to be altered by a test.
    fn claims(&self) -> Value {
        json!({
            "iss": "nexus-scribe", "aud": "nexus-scribe-api",
            "sub": self.user.to_string(), "org": self.org.to_string(),
            "role": "editor", "typ": "access",
            "iat": NOW, "nbf": NOW, "exp": NOW + 3600, "jti": "abcdefghijklmnopqrstuv",
            "sid": self.session.to_string(),
        })
    }

    fn rejection(&self, token: &str) -> TokenRejection {
        match self.service.verify_access(token) {
            Err(AuthError::InvalidToken(r)) => r,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A token built by hand: any header, any claims, signed as `alg` says with `key`.
fn forge(header: &Value, claims: &Value, key: &str) -> String {
    let message = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    let signature = match header["alg"].as_str() {
        Some("HS256") => {
            let mut mac = Hmac::<Sha256>::new_from_slice(key.as_bytes()).expect("key");
            mac.update(message.as_bytes());
            mac.finalize().into_bytes().to_vec()
        }
        Some("HS512") => {
            let mut mac = Hmac::<Sha512>::new_from_slice(key.as_bytes()).expect("key");
            mac.update(message.as_bytes());
            mac.finalize().into_bytes().to_vec()
        }
        Some("none") => Vec::new(),
        _ => vec![7u8; 256],
    };
    format!("{message}.{}", b64(&signature))
}

fn hs256() -> Value {
    json!({"alg": "HS256", "typ": "JWT"})
}

#[test]
fn issued_access_token_verifies_to_the_user() {
    let f = fixture();
    let issued = f
        .service
        .issue_access(f.user, f.org, Role::Admin, f.session)
        .expect("issue");
    assert_eq!(issued.expires_in, 3600);
    assert_eq!(issued.expires_at, NOW + 3600);
    let verified = f
        .service
        .verify_access(issued.token.expose_secret())
        .expect("valid");
    let Principal::User(user) = verified.principal() else {
        panic!("a user")
    };
    assert_eq!(
        (user.user_id(), user.org_id(), user.role()),
        (f.user, f.org, Role::Admin)
    );
    assert_eq!(verified.claims().token_id(), issued.token_id);
    assert_eq!(verified.claims().token_type(), TokenType::Access);
    assert_eq!(verified.principal().scope().org_id(), f.org);
}

#[test]
fn a_hand_built_token_with_the_right_key_verifies() {
    // Guards the forging helper: every refusal below differs from this in one respect only.
    let f = fixture();
    assert!(f
        .service
        .verify_access(&forge(&hs256(), &f.claims(), KEY_A))
        .is_ok());
}

#[test]
fn jti_is_random_per_token() {
    let f = fixture();
    let a = f
        .service
        .issue_access(f.user, f.org, Role::Viewer, f.session)
        .expect("issue");
    let b = f
        .service
        .issue_access(f.user, f.org, Role::Viewer, f.session)
        .expect("issue");
    assert_ne!(a.token_id, b.token_id);
    assert!(a.token_id.len() >= 22);
}

#[test]
fn alg_none_is_refused() {
    let f = fixture();
    let token = forge(&json!({"alg": "none", "typ": "JWT"}), &f.claims(), KEY_A);
    assert_eq!(f.rejection(&token), TokenRejection::Algorithm);
    // Also with the signature part dropped entirely, and spelled differently.
    let unsigned = token.trim_end_matches('.').to_owned() + ".";
    assert_eq!(f.rejection(&unsigned), TokenRejection::Algorithm);
    let upper = forge(&json!({"alg": "NONE"}), &f.claims(), KEY_A);
    assert_eq!(f.rejection(&upper), TokenRejection::Algorithm);
}

#[test]
fn other_algorithms_are_refused_even_when_correctly_signed() {
    let f = fixture();
    let hs512 = forge(&json!({"alg": "HS512", "typ": "JWT"}), &f.claims(), KEY_A);
    assert_eq!(f.rejection(&hs512), TokenRejection::Algorithm);
    let rs256 = forge(&json!({"alg": "RS256", "typ": "JWT"}), &f.claims(), KEY_A);
    assert_eq!(f.rejection(&rs256), TokenRejection::Algorithm);
    let missing = forge(&json!({"typ": "JWT"}), &f.claims(), KEY_A);
    assert_eq!(f.rejection(&missing), TokenRejection::Malformed);
}

#[test]
fn wrong_key_is_refused() {
    let f = fixture();
    assert_eq!(
        f.rejection(&forge(&hs256(), &f.claims(), KEY_B)),
        TokenRejection::Signature
    );
}

#[test]
fn tampered_payload_is_refused() {
    let f = fixture();
    let token = f.issue();
    let parts: Vec<&str> = token.split('.').collect();
    let mut claims: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).expect("b64")).expect("json");
    claims["role"] = json!("admin");
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        b64(claims.to_string().as_bytes()),
        parts[2]
    );
    assert_eq!(f.rejection(&tampered), TokenRejection::Signature);
    // A flipped signature character too.
    let mut sig: Vec<char> = parts[2].chars().collect();
    sig[0] = if sig[0] == 'A' { 'B' } else { 'A' };
    let resigned = format!(
        "{}.{}.{}",
        parts[0],
        parts[1],
        sig.into_iter().collect::<String>()
    );
    assert_eq!(f.rejection(&resigned), TokenRejection::Signature);
}

#[test]
fn expiry_is_enforced_with_only_the_small_leeway() {
    let f = fixture();
    let token = f.issue();
    f.clock.advance(Duration::from_secs(3600 + 4));
    assert!(
        f.service.verify_access(&token).is_ok(),
        "inside the 5 s leeway"
    );
    f.clock.advance(Duration::from_secs(1));
    assert_eq!(f.rejection(&token), TokenRejection::Expired);
}

#[test]
fn not_yet_valid_and_future_iat_are_refused() {
    let f = fixture();
    let mut claims = f.claims();
    claims["nbf"] = json!(NOW + 60);
    assert_eq!(
        f.rejection(&forge(&hs256(), &claims, KEY_A)),
        TokenRejection::NotYetValid
    );
    let mut claims = f.claims();
    claims["iat"] = json!(NOW + 60);
    claims["exp"] = json!(NOW + 3600);
    assert_eq!(
        f.rejection(&forge(&hs256(), &claims, KEY_A)),
        TokenRejection::IssuedAt
    );
}

#[test]
fn lifetime_longer_than_the_kind_allows_is_refused() {
    let f = fixture();
    let mut claims = f.claims();
    claims["exp"] = json!(NOW + 30 * 24 * 3600);
    assert_eq!(
        f.rejection(&forge(&hs256(), &claims, KEY_A)),
        TokenRejection::IssuedAt
    );
}

#[test]
fn wrong_issuer_audience_and_type_are_refused() {
    let f = fixture();
    let cases = [
        ("iss", json!("someone-else"), TokenRejection::Issuer),
        ("aud", json!("another-api"), TokenRejection::Audience),
        ("aud", json!(["nexus-scribe-api"]), TokenRejection::Claims),
        ("typ", json!("refresh"), TokenRejection::Type),
        ("typ", json!("pre_mfa"), TokenRejection::Type),
        ("typ", json!("ACCESS"), TokenRejection::Type),
    ];
    for (claim, value, expected) in cases {
        let mut claims = f.claims();
        claims[claim] = value;
        assert_eq!(
            f.rejection(&forge(&hs256(), &claims, KEY_A)),
            expected,
            "{claim}"
        );
    }
}

#[test]
fn a_refresh_or_pre_mfa_token_is_not_an_access_token() {
    let f = fixture();
    for kind in [TokenType::Refresh, TokenType::PreMfa] {
        let issued = f
            .service
            .issue(
                kind,
                f.user,
                f.org,
                Role::Admin,
                (kind == TokenType::Refresh).then_some(f.session),
            )
            .expect("issue");
        let token = issued.token.expose_secret();
        assert!(matches!(
            f.service.verify_access(token),
            Err(AuthError::InvalidToken(TokenRejection::Type))
        ));
        assert_eq!(
            f.service
                .verify(token, kind)
                .expect("own kind")
                .token_type(),
            kind
        );
    }
}

#[test]
fn missing_or_malformed_claims_are_refused() {
    let f = fixture();
    for claim in [
        "iss", "aud", "sub", "org", "role", "typ", "iat", "nbf", "exp", "jti", "sid",
    ] {
        let mut claims = f.claims();
        claims.as_object_mut().expect("object").remove(claim);
        assert_eq!(
            f.rejection(&forge(&hs256(), &claims, KEY_A)),
            TokenRejection::Claims,
            "{claim}"
        );
    }
    let mut claims = f.claims();
    claims["sub"] = json!("not-a-uuid");
    assert_eq!(
        f.rejection(&forge(&hs256(), &claims, KEY_A)),
        TokenRejection::Claims
    );
    let mut claims = f.claims();
    claims["exp"] = json!("tomorrow");
    assert_eq!(
        f.rejection(&forge(&hs256(), &claims, KEY_A)),
        TokenRejection::Claims
    );
}

#[test]
fn session_claim_belongs_to_access_and_refresh_tokens_only() {
    let f = fixture();
    let mut claims = f.claims();
    claims["sid"] = json!("not-a-session");
    assert_eq!(
        f.rejection(&forge(&hs256(), &claims, KEY_A)),
        TokenRejection::Claims
    );
    // A pre-MFA token carrying a session is not one the service issued.
    let mut claims = f.claims();
    claims["typ"] = json!("pre_mfa");
    claims["exp"] = json!(NOW + 300);
    let forged = forge(&hs256(), &claims, KEY_A);
    assert!(matches!(
        f.service.verify(&forged, TokenType::PreMfa),
        Err(AuthError::InvalidToken(TokenRejection::Claims))
    ));
    let issued = f
        .service
        .issue_pre_mfa(f.user, f.org, Role::Admin)
        .expect("issue");
    let claims = f
        .service
        .verify(issued.token.expose_secret(), TokenType::PreMfa)
        .expect("pre-MFA");
    assert_eq!(claims.session_id(), None);
    assert_eq!(issued.expires_in, 300);
    let refresh = f
        .service
        .issue_refresh(f.user, f.org, Role::Admin, f.session)
        .expect("refresh");
    let claims = f
        .service
        .verify(refresh.token.expose_secret(), TokenType::Refresh)
        .expect("refresh verifies");
    assert_eq!(claims.session_id(), Some(f.session));
    assert_eq!(refresh.expires_in, 30 * 24 * 3600);
}

#[test]
fn unknown_role_in_a_valid_token_fails_closed() {
    let f = fixture();
    let mut claims = f.claims();
    claims["role"] = json!("owner");
    let verified = f
        .service
        .verify_access(&forge(&hs256(), &claims, KEY_A))
        .expect("valid");
    assert_eq!(verified.principal().role(), Some(Role::Guest));
}

#[test]
fn garbage_oversize_and_critical_headers_are_refused() {
    let f = fixture();
    for token in ["", "a.b", "a.b.c", "....", "not a token at all"] {
        assert_eq!(f.rejection(token), TokenRejection::Malformed, "{token:?}");
    }
    assert!(f
        .service
        .verify_access("eyJhbGciOiJIUzI1NiJ9.!!!.xx")
        .is_err());
    let mut claims = f.claims();
    claims["pad"] = json!("x".repeat(MAX_TOKEN_BYTES));
    assert_eq!(
        f.rejection(&forge(&hs256(), &claims, KEY_A)),
        TokenRejection::Malformed
    );
    let crit = json!({"alg": "HS256", "crit": ["exp"]});
    assert_eq!(
        f.rejection(&forge(&crit, &f.claims(), KEY_A)),
        TokenRejection::Malformed
    );
}

#[test]
fn rotation_keeps_old_tokens_valid_and_signs_with_the_new_key() {
    let f = fixture();
    let old = f.issue();
    f.service.replace_keys(keys(KEY_B, &[KEY_A]));
    assert!(
        f.service.verify_access(&old).is_ok(),
        "previous key still verifies"
    );
    let new = f.issue();
    let only_a = TokenService::new(keys(KEY_A, &[]), TokenConfig::default(), f.clock.clone());
    let only_b = TokenService::new(keys(KEY_B, &[]), TokenConfig::default(), f.clock.clone());
    assert!(
        only_b.verify_access(&new).is_ok(),
        "new tokens are signed with the current key"
    );
    assert!(only_a.verify_access(&new).is_err());
    // Once the old key is retired, its tokens stop verifying.
    f.service.replace_keys(keys(KEY_B, &[]));
    assert_eq!(f.rejection(&old), TokenRejection::Signature);
    // An expired token signed with a previous key is still expired, not a signature problem.
    f.service.replace_keys(keys(KEY_B, &[KEY_A]));
    f.clock.advance(Duration::from_secs(2 * 3600));
    assert_eq!(f.rejection(&old), TokenRejection::Expired);
}

#[test]
fn empty_keys_are_refused() {
    assert!(matches!(
        JwtKeys::new(&SecretString::from(""), &[]),
        Err(AuthError::InvalidKey(_))
    ));
    assert!(JwtKeys::new(&SecretString::from(KEY_A), &[SecretString::from("")]).is_err());
}

#[test]
fn debug_output_holds_no_key_or_token() {
    let f = fixture();
    let issued = f
        .service
        .issue_access(f.user, f.org, Role::Viewer, f.session)
        .expect("issue");
    let token = issued.token.expose_secret().to_owned();
    let verified = f.service.verify_access(&token).expect("valid");
    let debug = format!(
        "{:?} {:?} {issued:?} {verified:?}",
        f.service,
        keys(KEY_A, &[KEY_B])
    );
    let signature = token.rsplit('.').next().expect("three parts");
    for needle in [KEY_A, KEY_B, &token, signature] {
        assert!(!debug.contains(needle), "leak of {needle} in {debug}");
    }
}

#[test]
fn refusals_map_to_unauthenticated() {
    let f = fixture();
    let err = f.service.verify_access("nope").expect_err("refused");
    assert_eq!(err.code(), scribe_core::ErrorCode::Unauthenticated);
}
