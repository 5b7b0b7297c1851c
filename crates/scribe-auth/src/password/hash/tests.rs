use secrecy::SecretString;

use super::*;

/// Cheap parameters so the suite stays fast; production code cannot use them (see below).
const FAST: Argon2Params = Argon2Params {
    memory_kib: 64,
    iterations: 1,
    parallelism: 1,
};

fn fast() -> PasswordHasher {
    PasswordHasher::insecure_for_tests(FAST).expect("valid params")
}

fn pw(s: &str) -> SecretString {
    SecretString::from(s)
}

#[test]
fn production_parameters_meet_the_owasp_minimum() {
    let min = Argon2Params::OWASP_MINIMUM;
    assert!(min.memory_kib >= 19_456 && min.iterations >= 2 && min.parallelism >= 1);
    let hasher = PasswordHasher::new().expect("production hasher");
    assert_eq!(hasher.params(), min);
    let err = PasswordHasher::with_params(FAST).expect_err("below minimum");
    assert!(matches!(err, AuthError::HashParams(_)));
    let weaker_memory = Argon2Params {
        memory_kib: 19_455,
        ..min
    };
    assert!(PasswordHasher::with_params(weaker_memory).is_err());
}

#[test]
fn production_hash_is_argon2id_with_its_parameters_in_the_phc_string() {
    // One real-cost hash, to prove the production path (≈ 50 ms).
    let hasher = PasswordHasher::new().expect("hasher");
    let hash = hasher.hash(&pw("lantern orbit staple")).expect("hash");
    assert!(
        hash.as_str().starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{:?}",
        hash
    );
    assert!(hasher
        .verify(&pw("lantern orbit staple"), &hash)
        .expect("verify"));
    assert!(!hasher.needs_rehash(&hash));
}

#[test]
fn hash_verify_round_trip() {
    let hasher = fast();
    let hash = hasher
        .hash(&pw("correct staple orbit lantern"))
        .expect("hash");
    assert!(hasher
        .verify(&pw("correct staple orbit lantern"), &hash)
        .expect("verify"));
    assert!(!hasher
        .verify(&pw("correct staple orbit lanterN"), &hash)
        .expect("verify"));
    assert!(!hasher.verify(&pw(""), &hash).expect("verify"));
}

#[test]
fn salts_differ_per_hash() {
    let hasher = fast();
    let a = hasher.hash(&pw("same password here")).expect("hash");
    let b = hasher.hash(&pw("same password here")).expect("hash");
    assert_ne!(a, b);
}

#[test]
fn composed_and_decomposed_forms_verify_alike() {
    let hasher = fast();
    let hash = hasher
        .hash(&pw("caf\u{e9} au lait s'il vous pla\u{ee}t"))
        .expect("hash");
    assert!(hasher
        .verify(&pw("cafe\u{301} au lait s'il vous plai\u{302}t"), &hash)
        .expect("verify"));
}

#[test]
fn verification_uses_the_parameters_stored_in_the_hash() {
    // A cheap old hash still verifies under the production hasher, which asks for a rehash.
    let old = fast().hash(&pw("an older password hash")).expect("hash");
    let production = PasswordHasher::new().expect("hasher");
    assert!(production
        .verify(&pw("an older password hash"), &old)
        .expect("verify"));
    assert!(production.needs_rehash(&old));
    assert!(!fast().needs_rehash(&old));
}

#[test]
fn malformed_or_foreign_hashes_are_errors_not_matches() {
    let hasher = fast();
    for stored in [
        "",
        "plaintext",
        "$argon2id$v=19$m=64,t=1,p=1$bad",
        "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW",
        "$pbkdf2-sha256$29000$N2ZMKSUkpHQuZWzt3Xvv3Q$3MhXm0LKrr9DMQlCuiYjUF9AAKVjFTsQVOGs0sVUMis",
    ] {
        let result = hasher.verify(
            &pw("whatever password"),
            &PhcHash::from_stored(stored.into()),
        );
        assert!(
            matches!(result, Err(AuthError::MalformedHash)),
            "{stored}: {result:?}"
        );
        assert!(hasher.needs_rehash(&PhcHash::from_stored(stored.into())));
    }
}

#[test]
fn unknown_accounts_cost_a_verification_and_never_match() {
    let hasher = fast();
    assert!(!hasher.verify_unknown_account(&pw("anything at all")));
    assert!(!hasher.verify_unknown_account(&pw("")));
}

#[test]
fn debug_hides_salt_and_hash() {
    let hasher = fast();
    let hash = hasher.hash(&pw("debug me if you can")).expect("hash");
    let parts: Vec<&str> = hash.as_str().split('$').collect();
    let debug = format!("{hash:?} {hasher:?}");
    assert!(debug.contains("argon2id"), "{debug}");
    assert!(
        !debug.contains(parts[4]) && !debug.contains(parts[5]),
        "{debug}"
    );
}
