//! The sign-in page's second factor in a real headless Chromium. This test turns MFA on for the
//! admin over the HTTP API and makes the organisation require it; `tests/browser/signin_mfa.mjs`
//! then drives the page: a user who must still enrol sets up an authenticator on the page (the
//! key and an `otpauth://` link shown, a wrong first code refused, the first code made here from
//! the key the page showed, ten backup codes shown once before signing in, nothing kept in the
//! browser meanwhile), the admin's password leads to
//! the code step, a wrong code is refused there, the right TOTP code (made here when the page
//! asks; double-clicked, sent once) signs in with nothing but the access token kept in the
//! browser, signing out ends the session on the server, and a backup code signs in again (the
//! used TOTP code is refused) and leads back to the live page that sent the user to sign in. No
//! CSP violation, no console error.
//!
//! Needs Debian's `chromium` and `nodejs`, and `npm ci --prefix tests/browser`, as `live_page`.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use e2e_tests::server::{
    http_json, http_post, login, scribe_on, setup, setup_json, Server, ADMIN_PASSWORD,
};
use scribe_auth::{
    totp_code_at, totp_step_of, Clock as _, SystemClock, TotpSecret, TOTP_PERIOD_SECONDS,
};
use serde_json::{json, Value};

use crate::browser::{preflight, Browser};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_with_mfa_signs_in_with_a_code_then_a_backup_code_and_sign_out_ends_the_session() {
    let script = preflight("signin_mfa.mjs");
    let started = Instant::now();
    let dir = tempfile::tempdir().expect("tempdir");
    let set = setup(dir.path(), "Signin");
    let enrol_email = "second@signin.example.org";
    setup_json(
        scribe_on(dir.path()).args(["admin", "create", "--email", enrol_email, "--org", "Signin"]),
        Some(&format!("{ADMIN_PASSWORD}\n")),
    );
    // Between them the test and the page sign in, refresh and send codes more often than the
    // default five a minute from one address allows.
    let server = Server::start(
        dir.path(),
        &[
            ("NEXUS_SCRIBE__AUTH__LOGIN_ATTEMPTS_PER_IP", "20"),
            ("NEXUS_SCRIBE__AUTH__MFA_ATTEMPTS_PER_IP", "20"),
        ],
    );
    let access = login(&server, &set.admin_email);
    let (secret, backup_codes) = enrol(&server, &access);
    let (status, body) = http_json(
        &server,
        "PUT",
        "/api/v1/organisation/mfa",
        Some(&access),
        &json!({ "mfa_required": true }),
    );
    assert_eq!(status, 204, "requiring MFA in the organisation: {body}");

    let artifacts = std::env::temp_dir().join("nexus-scribe-signin-page");
    let mut browser = Browser::start(
        &script,
        &[
            ("SIGNIN_BASE_URL", &server.http()),
            ("SIGNIN_EMAIL", &set.admin_email),
            ("SIGNIN_PASSWORD", ADMIN_PASSWORD),
            ("SIGNIN_ENROL_EMAIL", enrol_email),
            ("SIGNIN_MEETING_ID", &set.meeting_id),
            ("SIGNIN_ARTIFACTS_DIR", &artifacts.to_string_lossy()),
        ],
    );
    // The user who must enrol reads the new key off the page; their first code is made here.
    let shown = browser.expect_line("ENROL ", Duration::from_secs(30)).await;
    let enrol_secret = TotpSecret::from_base32(shown.trim()).expect("the page shows a base32 key");
    let step = totp_step_of(SystemClock.unix_seconds());
    browser.send(&json!({ "enrol": totp_code_at(&enrol_secret, step) }));
    browser.expect_line("CODES", Duration::from_secs(30)).await;
    let step = totp_step_of(SystemClock.unix_seconds());
    browser.send(&json!({
        "wrong": wrong_code(&secret, step),
        "totp": totp_code_at(&secret, step),
        "backup": backup_codes[0],
    }));
    let result = browser
        .expect_line("RESULT ", Duration::from_secs(60))
        .await;
    browser.expect_success(&server);
    let summary: Value = serde_json::from_str(&result).expect("RESULT is JSON");
    eprintln!(
        "sign-in page: {summary}; whole test {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

/// Turns MFA on for the holder of `access`: the TOTP secret and the backup codes.
///
/// The confirmation uses the code of the step before the current one (the server accepts one
/// step of clock drift either way) and spends it, so the current step's code is still unused
/// when the page asks for a code a few seconds later. Not in the last seconds of a step, where
/// the server could already be in the next one and refuse the previous step's code.
fn enrol(server: &Server, access: &str) -> (TotpSecret, Vec<String>) {
    let enrolment = http_post(server, "/api/v1/mfa/enroll", Some(access), &json!({}));
    let secret = enrolment["secret"]
        .as_str()
        .unwrap_or_else(|| panic!("no secret in the enrolment: {enrolment}"));
    let secret = TotpSecret::from_base32(secret).expect("base32 secret");
    let into_step = SystemClock.unix_seconds() % TOTP_PERIOD_SECONDS;
    if into_step >= TOTP_PERIOD_SECONDS - 2 {
        std::thread::sleep(Duration::from_secs(TOTP_PERIOD_SECONDS - into_step));
    }
    let previous = totp_step_of(SystemClock.unix_seconds()) - 1;
    let confirmed = http_post(
        server,
        "/api/v1/mfa/confirm",
        Some(access),
        &json!({ "code": totp_code_at(&secret, previous) }),
    );
    let backup_codes = confirmed["backup_codes"]
        .as_array()
        .unwrap_or_else(|| panic!("MFA not confirmed: {confirmed}"))
        .iter()
        .map(|c| c.as_str().expect("backup code").to_owned())
        .collect();
    (secret, backup_codes)
}

/// A six-digit code that is the code of no step near `step`.
fn wrong_code(secret: &TotpSecret, step: u64) -> String {
    let near: HashSet<String> = (step - 3..=step + 3)
        .map(|s| totp_code_at(secret, s))
        .collect();
    (0u64..)
        .map(|n| format!("{:06}", n * 137_911 % 1_000_000))
        .find(|c| !near.contains(c))
        .expect("some six-digit code is not among seven")
}
