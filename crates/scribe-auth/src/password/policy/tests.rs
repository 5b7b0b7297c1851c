use super::*;

fn check(password: &str) -> Result<(), PasswordProblem> {
    check_with(password, &PasswordContext::default())
}

fn check_with(password: &str, context: &PasswordContext<'_>) -> Result<(), PasswordProblem> {
    match PasswordPolicy::default().check(&SecretString::from(password), context) {
        Ok(()) => Ok(()),
        Err(AuthError::WeakPassword(p)) => Err(p),
        Err(other) => panic!("unexpected {other:?}"),
    }
}

#[test]
fn the_bundled_list_is_substantial() {
    assert!(common::len() >= 1000, "{}", common::len());
    assert!(common::is_listed("password1234"));
    assert!(common::is_listed("qwertyuiop12"));
}

#[test]
fn length_limits_count_characters_after_nfc() {
    assert_eq!(
        check("short pass"),
        Err(PasswordProblem::TooShort { min: 12 })
    );
    assert_eq!(
        check(&"x7Gq".repeat(40)),
        Err(PasswordProblem::TooLong { max: 128 })
    );
    // 12 scalar values once composed: "é" typed as e + combining acute counts as one.
    let decomposed = "cafe\u{301} au lait!"; // 14 code points, 13 after NFC
    assert_eq!(decomposed.chars().count(), 14);
    assert_eq!(check(decomposed), Ok(()));
    let eleven_composed = "e\u{301}".repeat(11); // 22 code points, 11 characters
    assert_eq!(
        check(&eleven_composed),
        Err(PasswordProblem::TooShort { min: 12 })
    );
    // Non-ASCII passwords of enough length are fine; 128 characters are allowed.
    assert_eq!(check("пароль-для-встречи"), Ok(()));
    let max: String = "river otter moss ".chars().cycle().take(128).collect();
    assert_eq!(check(&max), Ok(()));
}

#[test]
fn no_composition_rules_apply() {
    // All lower-case, no digits, no symbols: fine when long and uncommon (NIST SP 800-63B).
    assert_eq!(check("correct staple orbit lantern"), Ok(()));
    assert_eq!(check("vjkqwpzmfbtr"), Ok(()));
}

#[test]
fn common_passwords_and_their_variants_are_refused() {
    for password in [
        "password1234",
        "qwertyuiop12",
        "Password1234",
        "PASSWORD1234!",
        "P@ssw0rd2024!",
        "iloveyou2024!!",
        "!!!!monkey!!!!",
        "1q2w3e4r5t6y",
        "Sunshine12345",
        "letmein123456",
        "correcthorsebatterystaple",
    ] {
        assert_eq!(check(password), Err(PasswordProblem::Common), "{password}");
    }
}

#[test]
fn repetitive_and_sequential_passwords_are_refused() {
    for password in [
        "aaaaaaaaaaaa",
        "abababababab",
        "abcabcabcabc",
        "abcdefghijklmn",
        "zyxwvutsrqponm",
        "asdfghjklzxcvb",
        "1qaz2wsx3edc4rfv",
        "123456789012",
    ] {
        assert_eq!(
            check(password),
            Err(PasswordProblem::Repetitive),
            "{password}"
        );
    }
}

#[test]
fn the_users_own_details_are_refused() {
    let context = PasswordContext {
        email: Some("Jane.Doe@clinic.example"),
        other: &["Jane Doe"],
    };
    assert_eq!(
        check_with("jane.doe-rocks-2024", &context),
        Err(PasswordProblem::ContainsUserDetails)
    );
    assert_eq!(
        check_with("JaneDoe#likes#tea", &context),
        Err(PasswordProblem::ContainsUserDetails)
    );
    let context = PasswordContext {
        email: Some("mkowalski@example.org"),
        other: &[],
    };
    assert_eq!(
        check_with("mkowalski-summer-walks", &context),
        Err(PasswordProblem::ContainsUserDetails)
    );
    assert_eq!(check_with("lighthouse orbit tea", &context), Ok(()));
    // The service's own name.
    assert_eq!(
        check("Nexus-Scribe-for-me!"),
        Err(PasswordProblem::ContainsUserDetails)
    );
    // A two-letter local part does not block every password containing those letters.
    let context = PasswordContext {
        email: Some("jo@example.org"),
        other: &[],
    };
    assert_eq!(check_with("journey over hills", &context), Ok(()));
}

#[test]
fn control_characters_are_refused() {
    assert_eq!(
        check("tab\there and more"),
        Err(PasswordProblem::ControlCharacters)
    );
    assert_eq!(
        check("nul\0inside password"),
        Err(PasswordProblem::ControlCharacters)
    );
}

#[test]
fn a_raised_minimum_applies() {
    let policy = PasswordPolicy {
        min_chars: 15,
        ..PasswordPolicy::default()
    };
    let result = policy.check(
        &SecretString::from("orbit lantern"),
        &PasswordContext::default(),
    );
    assert!(matches!(
        result,
        Err(AuthError::WeakPassword(PasswordProblem::TooShort {
            min: 15
        }))
    ));
}

#[test]
fn refusal_messages_never_contain_the_password() {
    let password = "password1234";
    let err = PasswordPolicy::default()
        .check(&SecretString::from(password), &PasswordContext::default())
        .expect_err("common");
    assert!(!format!("{err} {err:?}").contains(password));
    assert_eq!(err.code(), scribe_core::ErrorCode::BadRequest);
}
