//! No secret reaches the server's log. A server logging at `debug` goes through sign-in (right
//! and wrong), refresh and refresh reuse, MFA enrolment, a second-factor sign-in with a backup
//! code and a wrong code, logout, a WebSocket ticket, and credentials in query strings; then its
//! whole log is scanned for every secret value the test handled or the server holds.

use std::time::Duration;

use e2e_tests::server::{http_get, http_post, setup, Server, ADMIN_PASSWORD};
use scribe_auth::{totp_code_at, totp_step_of, Clock as _, SystemClock, TotpSecret};
use serde_json::json;

fn text(v: &serde_json::Value, key: &str) -> String {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("no `{key}` in {v}"))
        .to_owned()
}

#[test]
fn no_password_token_key_or_totp_secret_reaches_the_log() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = setup(dir.path(), "logscan");
    // More sign-ins than the default 5 per minute from one address happen below.
    let mut server = Server::start(
        dir.path(),
        &[
            ("NEXUS_SCRIBE__LOGGING__LEVEL", "debug"),
            ("NEXUS_SCRIBE__AUTH__LOGIN_ATTEMPTS_PER_IP", "50"),
        ],
    );
    let mut secrets: Vec<String> = vec![ADMIN_PASSWORD.into(), s.api_key.clone()];
    let login = |password: &str| {
        http_post(
            &server,
            "/api/v1/auth/login",
            None,
            &json!({"email": s.admin_email, "password": password}),
        )
    };

    let wrong_password = "a wrong but long passphrase";
    secrets.push(wrong_password.into());
    assert_eq!(login(wrong_password)["error"]["code"], "unauthenticated");
    let first = login(ADMIN_PASSWORD);
    let refresh = text(&first, "refresh_token");
    let refreshed = http_post(
        &server,
        "/api/v1/auth/refresh",
        None,
        &json!({ "refresh_token": refresh }),
    );
    let access = text(&refreshed, "access_token");
    secrets.extend([
        text(&first, "access_token"),
        refresh.clone(),
        text(&refreshed, "refresh_token"),
        access.clone(),
    ]);
    // Reuse of the spent refresh token ends that session (logged as a warning, without it).
    let reused = http_post(
        &server,
        "/api/v1/auth/refresh",
        None,
        &json!({ "refresh_token": refresh }),
    );
    assert_eq!(reused["error"]["code"], "unauthenticated");

    let second = login(ADMIN_PASSWORD);
    let access = text(&second, "access_token");
    secrets.push(access.clone());
    let enrolment = http_post(&server, "/api/v1/mfa/enroll", Some(&access), &json!({}));
    let secret = text(&enrolment, "secret");
    secrets.extend([secret.clone(), text(&enrolment, "otpauth_uri")]);
    let totp = TotpSecret::from_base32(&secret).expect("base32");
    let code = totp_code_at(&totp, totp_step_of(SystemClock.unix_seconds()));
    let confirmed = http_post(
        &server,
        "/api/v1/mfa/confirm",
        Some(&access),
        &json!({ "code": code }),
    );
    let backup: Vec<String> = confirmed["backup_codes"]
        .as_array()
        .unwrap_or_else(|| panic!("no backup codes: {confirmed}"))
        .iter()
        .map(|c| c.as_str().expect("code").to_owned())
        .collect();
    secrets.extend(backup.iter().cloned());

    let challenge = login(ADMIN_PASSWORD);
    let pre = text(&challenge, "pre_mfa_token");
    secrets.push(pre.clone());
    let refused = http_post(
        &server,
        "/api/v1/mfa/verify",
        None,
        &json!({"pre_mfa_token": pre, "code": "zzzz-zzzz-zzzz-zzzz"}),
    );
    assert_eq!(refused["error"]["code"], "unauthenticated");
    let verified = http_post(
        &server,
        "/api/v1/mfa/verify",
        None,
        &json!({"pre_mfa_token": pre, "code": backup[0]}),
    );
    let access = text(&verified, "access_token");
    secrets.extend([access.clone(), text(&verified, "refresh_token")]);

    // Credentials in query strings (tickets, bot keys) must not be logged with the URL.
    let ticket = http_post(
        &server,
        "/api/v1/ws-tickets",
        Some(&access),
        &json!({ "meeting_id": s.meeting_id }),
    );
    let ticket = text(&ticket, "ticket");
    secrets.push(ticket.clone());
    let m = &s.meeting_id;
    http_get(
        &server,
        &format!("/ws/transcription/{m}?ticket={ticket}"),
        None,
    );
    http_get(
        &server,
        &format!("/ws/audio/{m}?bot_id={}&api_key={}", s.bot_id, s.api_key),
        None,
    );
    http_get(
        &server,
        &format!("/ws/transcription/{m}?token={access}"),
        None,
    );
    http_post(&server, "/api/v1/auth/logout", Some(&access), &json!({}));

    // What the server itself holds: every value of its generated secrets file.
    let file = std::fs::read_to_string(dir.path().join("secrets/secrets.toml")).expect("secrets");
    for line in file.lines() {
        if let Some((_, value)) = line.split_once('=') {
            let value = value.trim().trim_matches('"');
            if value.len() >= 16 {
                secrets.push(value.to_owned());
            }
        }
    }
    assert!(secrets.len() > 20, "the scan needs something to look for");

    assert!(server.terminate(Duration::from_secs(10)));
    let log = server.log();
    // The events happened and were logged (by ids), so the scan looked at real lines.
    for event in [
        "login failed: wrong password",
        "refresh token reused",
        "MFA enabled",
        "backup code used",
        "logout",
    ] {
        assert!(log.contains(event), "no `{event}` line in:\n{log}");
    }
    for secret in &secrets {
        assert!(
            !log.contains(secret.as_str()),
            "a secret ({} characters) appears in the server log",
            secret.len()
        );
    }
    assert!(!log.contains("Bearer ey"), "a bearer token in the log");
}
