use std::str::FromStr;

use super::*;

/// Computed independently with Python:
/// `hmac.new(b"nexus-scribe test bot_key_secret 0123456789",
///           b"5f0c3e8a-2b7d-4c1e-9a6f-3d2b1c0e9f8a", hashlib.sha256).hexdigest()`
const SECRET: &str = "nexus-scribe test bot_key_secret 0123456789";
const BOT: &str = "5f0c3e8a-2b7d-4c1e-9a6f-3d2b1c0e9f8a";
const KEY: &str = "2805d485c1be7328fc3c30efbf01490e1277196910e6008b5404e4679677b7c1";

fn secret() -> SecretString {
    SecretString::from(SECRET)
}

fn bot() -> BotId {
    BotId::from_str(BOT).expect("uuid")
}

#[test]
fn hmac_matches_rfc_4231_test_case_2() {
    let mut mac = <HmacSha256 as Mac>::new_from_slice(b"Jefe").expect("any key length");
    mac.update(b"what do ya want for nothing?");
    assert_eq!(
        hex::encode(mac.finalize().into_bytes()),
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    );
}

#[test]
fn derived_key_matches_an_independent_computation() {
    assert_eq!(derive_bot_key(&secret(), bot()).expose_secret(), KEY);
}

#[test]
fn upper_case_bot_ids_derive_the_canonical_key() {
    let upper = BotId::from_str(&BOT.to_uppercase()).expect("uuid");
    assert_eq!(derive_bot_key(&secret(), upper).expose_secret(), KEY);
}

#[test]
fn verify_accepts_the_derived_key_in_either_case() {
    let verified = verify_bot_key(&secret(), bot(), KEY).expect("valid");
    assert_eq!(verified.bot_id(), bot());
    assert!(verify_bot_key(&secret(), bot(), &KEY.to_uppercase()).is_ok());
}

#[test]
fn verify_refuses_wrong_keys_ids_secrets_and_shapes() {
    let other_bot = BotId::generate();
    let mut flipped = KEY.as_bytes().to_vec();
    flipped[63] = if flipped[63] == b'1' { b'2' } else { b'1' };
    let flipped = String::from_utf8(flipped).expect("ascii");
    let first_differs = format!("3{}", &KEY[1..]);
    let cases: [(&SecretString, BotId, &str); 7] = [
        (&secret(), bot(), &flipped),
        (&secret(), bot(), &first_differs),
        (&secret(), other_bot, KEY),
        (
            &SecretString::from("another secret of enough length 0123456789"),
            bot(),
            KEY,
        ),
        (&secret(), bot(), &KEY[..63]),
        (&secret(), bot(), ""),
        (
            &secret(),
            bot(),
            "zz05d485c1be7328fc3c30efbf01490e1277196910e6008b5404e4679677b7c1",
        ),
    ];
    for (secret, bot_id, presented) in cases {
        let err = verify_bot_key(secret, bot_id, presented).expect_err("refused");
        assert!(matches!(err, AuthError::InvalidBotKey));
        assert_eq!(err.code(), scribe_core::ErrorCode::Unauthenticated);
    }
}

#[test]
fn verified_bot_becomes_a_principal_of_the_stored_org() {
    let org = OrgId::generate();
    let principal = verify_bot_key(&secret(), bot(), KEY)
        .expect("valid")
        .into_principal(org);
    assert_eq!(principal.org_id(), org);
    assert_eq!(principal.bot_id(), Some(bot()));
    assert_eq!(principal.role(), None);
    assert_eq!(principal.scope().org_id(), org);
}

#[test]
fn derived_key_debug_is_redacted() {
    let key = derive_bot_key(&secret(), bot());
    assert!(!format!("{key:?}").contains(&KEY[..16]));
}
