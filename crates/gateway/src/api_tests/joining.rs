//! Joining and leaving the door: invitations (bound to an address, single use, expiring, the
//! organisation's domain allow-list), the one-time setup code of a fresh install, and sign-in
//! restricted to the organisation's address ranges.

use std::sync::Arc;
use std::time::Duration;

use axum::http::{Method, StatusCode};
use scribe_auth::{Clock, ExposeSecret, ManualClock};
use serde_json::{json, Value};

use super::*;

const NEW_PASSWORD: &str = "a long and unusual passphrase 7";

#[tokio::test]
async fn an_invitation_makes_one_account_for_its_address_until_it_expires() {
    let clock = Arc::new(ManualClock::new(std::time::SystemTime::now()));
    let f = fixture_with(clock.clone(), unthrottled()).await;
    let admin = login(&f.app, "ada@example.org").await;
    let viewer = login(&f.app, "vic@example.org").await;

    // Only Admins invite; roles are parsed strictly.
    let invite = |token: &str, email: &str, role: &str| {
        post(
            "/api/v1/invites",
            Some(token),
            &json!({"email": email, "role": role}),
        )
    };
    assert_eq!(
        call(&f.app, invite(&viewer, "new@example.org", "viewer"))
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    let (status, v) = call(&f.app, invite(&admin, "new@example.org", "superuser")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(v.to_string().contains("role"), "{v}");
    let (status, _) = call(&f.app, invite(&admin, "vic@example.org", "viewer")).await;
    assert_eq!(status, StatusCode::CONFLICT, "an address with an account");

    // The organisation's allowed domains.
    let (status, _) = call(
        &f.app,
        with_body(
            Method::PATCH,
            "/api/v1/organisation",
            &admin,
            &json!({"invite_domains": ["Example.ORG."]}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, v) = call(&f.app, invite(&admin, "eve@elsewhere.example", "viewer")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(v.to_string().contains("allowed domains"), "{v}");

    let (status, v) = call(&f.app, invite(&admin, "New.Person@example.org", "editor")).await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    let token = v["invite_token"].as_str().expect("token").to_owned();
    assert_eq!(v["expires_in"], 72 * 3600);
    assert_eq!(v["role"], "editor");
    let (_, listed) = call(&f.app, get("/api/v1/invites", Some(&admin))).await;
    assert_eq!(listed["invites"].as_array().expect("list").len(), 1);
    assert!(
        !listed.to_string().contains(&token),
        "tokens are shown once"
    );
    assert!(
        !listed.to_string().contains("new.person"),
        "addresses are not kept"
    );

    let accept = |email: &str, password: &str, token: &str| {
        post(
            "/api/v1/invites/accept",
            None,
            &json!({"invite_token": token, "email": email, "password": password}),
        )
    };
    // Another address, an unknown token: the same answer.
    let other = call(&f.app, accept("someone@example.org", NEW_PASSWORD, &token)).await;
    let unknown = call(
        &f.app,
        accept("new.person@example.org", NEW_PASSWORD, "bogus"),
    )
    .await;
    assert_eq!(other.0, StatusCode::BAD_REQUEST);
    assert_eq!(other, unknown);
    // A weak password is refused by rule, and does not use the invitation up.
    let (status, v) = call(
        &f.app,
        accept("new.person@example.org", "password1234", &token),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(v.to_string().contains("password"), "{v}");
    assert!(!v.to_string().contains("password1234"), "{v}");

    let (status, v) = call(
        &f.app,
        accept("NEW.PERSON@example.org", NEW_PASSWORD, &token),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    let (status, _) = call(
        &f.app,
        post(
            "/api/v1/auth/login",
            None,
            &json!({"email": "new.person@example.org", "password": NEW_PASSWORD}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let users = call(&f.app, get("/api/v1/users", Some(&admin))).await.1;
    assert!(users.to_string().contains("\"editor\""), "{users}");
    // Used: the same answer as any invalid invitation.
    let again = call(
        &f.app,
        accept("new.person@example.org", NEW_PASSWORD, &token),
    )
    .await;
    assert_eq!(again, unknown);

    // Expiry, on the controllable clock; a withdrawn one is gone too.
    let (_, v) = call(&f.app, invite(&admin, "late@example.org", "viewer")).await;
    let late = v["invite_token"].as_str().expect("token").to_owned();
    let (_, v) = call(&f.app, invite(&admin, "gone@example.org", "viewer")).await;
    let gone = v["invite_token"].as_str().expect("token").to_owned();
    let id = v["invite_id"].as_str().expect("id").to_owned();
    assert_eq!(
        call(
            &f.app,
            delete(&format!("/api/v1/invites/{id}"), Some(&admin))
        )
        .await
        .0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        call(&f.app, accept("gone@example.org", NEW_PASSWORD, &gone)).await,
        unknown
    );
    clock.advance(Duration::from_secs(72 * 3600 + 1));
    assert_eq!(
        call(&f.app, accept("late@example.org", NEW_PASSWORD, &late)).await,
        unknown
    );
    let _ = clock.now();
}

#[tokio::test]
async fn a_fresh_install_is_claimed_once_with_the_console_code() {
    let dir = tempfile::tempdir().expect("tempdir");
    let state = testing::state_with(
        dir.path(),
        Arc::new(scribe_auth::SystemClock),
        unthrottled(),
    )
    .await;
    let app = router(state.clone());
    let setup = |code: &str, password: &str| {
        post(
            "/api/v1/setup",
            None,
            &json!({"setup_code": code, "email": "first@example.org", "password": password,
                    "organisation": "Council"}),
        )
    };
    // Not armed (serve arms it only when no account exists): closed.
    assert_eq!(
        call(&app, setup("aaaa-bbbb-cccc-dddd", NEW_PASSWORD))
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    assert!(!state.store.has_users().await.expect("has users"));
    let (code, hash) = scribe_auth::one_time_code().expect("code");
    state.setup.arm(hash);
    // A weak password costs nothing; a wrong code is refused.
    assert_eq!(
        call(&app, setup(code.expose_secret(), "short")).await.0,
        StatusCode::BAD_REQUEST
    );
    let (status, v) = call(&app, setup("aaaa-bbbb-cccc-dddd", NEW_PASSWORD)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{v}");
    assert!(!v.to_string().contains(code.expose_secret()));
    // The right code (typed in any case, without hyphens) makes the first Admin, once.
    let typed = code.expose_secret().replace('-', "").to_uppercase();
    let (status, v) = call(&app, setup(&typed, NEW_PASSWORD)).await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    assert_eq!(
        call(&app, setup(&typed, NEW_PASSWORD)).await.0,
        StatusCode::FORBIDDEN
    );
    let (status, v) = call(
        &app,
        post(
            "/api/v1/auth/login",
            None,
            &json!({"email": "first@example.org", "password": NEW_PASSWORD}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let token = v["access_token"].as_str().expect("token");
    assert_eq!(
        call(&app, get("/api/v1/users", Some(token))).await.0,
        StatusCode::OK,
        "an Admin"
    );
}

#[tokio::test]
async fn sign_in_is_limited_to_the_organisations_address_ranges() {
    let f = fixture().await;
    let admin = login(&f.app, "ada@example.org").await;
    let set = |networks: Value, ip: &str| {
        from(
            ip,
            with_body(
                Method::PATCH,
                "/api/v1/organisation",
                &admin,
                &json!({"login_networks": networks}),
            ),
        )
    };
    // Malformed ranges are refused by position; a list without the caller's address too.
    let (status, v) = call(&f.app, set(json!(["10.0.0.0/8", "10.0.0.1/8"]), "10.1.2.3")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(v.to_string().contains("login_networks[1]"), "{v}");
    let (status, v) = call(&f.app, set(json!(["10.0.0.0/8"]), "192.0.2.7")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(v.to_string().contains("lock you out"), "{v}");
    let (status, v) = call(
        &f.app,
        set(json!(["10.0.0.0/8", "2001:db8::/32"]), "10.9.9.9"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["login_networks"], json!(["10.0.0.0/8", "2001:db8::/32"]));

    let attempt = |ip: &str, password: &str| {
        from(
            ip,
            post(
                "/api/v1/auth/login",
                None,
                &json!({"email": "vic@example.org", "password": password}),
            ),
        )
    };
    let inside = call(&f.app, attempt("10.20.30.40", PASSWORD)).await;
    assert_eq!(inside.0, StatusCode::OK);
    let inside6 = call(&f.app, attempt("2001:db8::5", PASSWORD)).await;
    assert_eq!(inside6.0, StatusCode::OK);
    // From outside, the right password gets exactly a wrong password's answer...
    let outside = call(&f.app, attempt("198.51.100.1", PASSWORD)).await;
    let wrong = call(&f.app, attempt("10.20.30.40", "not the password at all")).await;
    assert_eq!(outside.0, StatusCode::UNAUTHORIZED);
    assert_eq!(outside, wrong);
    // ...and failures from outside never lock the account.
    for _ in 0..10 {
        call(&f.app, attempt("198.51.100.1", "not the password at all")).await;
    }
    assert_eq!(
        call(&f.app, attempt("10.20.30.40", PASSWORD)).await.0,
        StatusCode::OK
    );
    // Lifting the restriction.
    let (status, v) = call(&f.app, set(json!([]), "10.9.9.9")).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(
        call(&f.app, attempt("198.51.100.1", PASSWORD)).await.0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn passwords_change_with_the_current_one_and_reset_with_an_admins_token() {
    let f = fixture().await;
    let admin = login(&f.app, "ada@example.org").await;
    let (status, pair) = call(
        &f.app,
        post(
            "/api/v1/auth/login",
            None,
            &json!({"email": "vic@example.org", "password": PASSWORD}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let vic = pair["access_token"].as_str().expect("token").to_owned();
    let change = |token: &str, current: &str, new: &str| {
        post(
            "/api/v1/auth/password",
            Some(token),
            &json!({"current_password": current, "new_password": new}),
        )
    };
    let (status, v) = call(
        &f.app,
        change(&vic, "not the password at all", NEW_PASSWORD),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(v.to_string().contains("current_password"), "{v}");
    let (status, v) = call(&f.app, change(&vic, PASSWORD, "vic@example.org!!")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "the policy applies: {v}");
    let (status, fresh) = call(&f.app, change(&vic, PASSWORD, NEW_PASSWORD)).await;
    assert_eq!(status, StatusCode::OK, "{fresh}");
    // Every earlier session ended; the new one works; the old password no longer does.
    assert_eq!(
        call(&f.app, get("/api/v1/meetings", Some(&vic))).await.0,
        StatusCode::UNAUTHORIZED
    );
    let (status, _) = call(
        &f.app,
        post(
            "/api/v1/auth/refresh",
            None,
            &json!({"refresh_token": pair["refresh_token"]}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let new_token = fresh["access_token"].as_str().expect("token");
    assert_eq!(
        call(&f.app, get("/api/v1/meetings", Some(new_token)))
            .await
            .0,
        StatusCode::OK
    );
    let sign_in = |password: &str| {
        post(
            "/api/v1/auth/login",
            None,
            &json!({"email": "vic@example.org", "password": password}),
        )
    };
    assert_eq!(
        call(&f.app, sign_in(PASSWORD)).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(call(&f.app, sign_in(NEW_PASSWORD)).await.0, StatusCode::OK);

    // Reset: only an Admin issues the token; any failure of the public endpoint looks alike.
    let vic_id = f
        .state
        .store
        .find_login_by_email("vic@example.org")
        .await
        .expect("lookup")
        .expect("user")
        .user
        .id;
    let issue = format!("/api/v1/users/{vic_id}/password-reset");
    assert_eq!(
        call(&f.app, post(&issue, Some(new_token), &json!({})))
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    let (status, v) = call(&f.app, post(&issue, Some(&admin), &json!({}))).await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    assert_eq!(v["expires_in"], 3600);
    let token = v["reset_token"].as_str().expect("token").to_owned();
    let reset = |token: &str, email: &str| {
        post(
            "/api/v1/auth/password/reset",
            None,
            &json!({"reset_token": token, "email": email, "new_password": "another fine passphrase 9"}),
        )
    };
    let unknown_account = call(&f.app, reset(&token, "nobody@example.org")).await;
    let bogus_token = call(&f.app, reset("bogus", "vic@example.org")).await;
    assert_eq!(unknown_account.0, StatusCode::BAD_REQUEST);
    assert_eq!(unknown_account, bogus_token);
    // A reset token is not an invitation, and an invitation is not a reset token.
    let as_invite = call(
        &f.app,
        post(
            "/api/v1/invites/accept",
            None,
            &json!({"invite_token": token, "email": "vic@example.org", "password": NEW_PASSWORD}),
        ),
    )
    .await;
    assert_eq!(as_invite.0, StatusCode::BAD_REQUEST);
    assert_eq!(
        call(&f.app, reset(&token, "VIC@example.org")).await.0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        call(&f.app, get("/api/v1/meetings", Some(new_token)))
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        call(&f.app, sign_in("another fine passphrase 9")).await.0,
        StatusCode::OK
    );
    assert_eq!(
        call(&f.app, reset(&token, "vic@example.org")).await,
        bogus_token,
        "once"
    );
}

#[tokio::test]
async fn the_alert_webhook_must_be_public_and_is_never_shown_again() {
    let f = fixture().await;
    let admin = login(&f.app, "ada@example.org").await;
    let viewer = login(&f.app, "vic@example.org").await;
    let set = |token: &str, url: &str| {
        with_body(
            Method::PUT,
            "/api/v1/organisation/webhook",
            token,
            &json!({ "url": url }),
        )
    };
    assert_eq!(
        call(&f.app, set(&viewer, "https://93.184.216.34/hook"))
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    for url in [
        "http://127.0.0.1/hook",
        "http://10.0.0.1/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://localhost:9000/hook",
        "http://[::1]/hook",
    ] {
        let (status, v) = call(&f.app, set(&admin, url)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{url}: {v}");
        assert!(v.to_string().contains("only public hosts"), "{url}: {v}");
    }
    let (status, v) = call(&f.app, set(&admin, "gopher://example.org/")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(v.to_string().contains("http or https"), "{v}");
    let (_, v) = call(
        &f.app,
        get("/api/v1/organisation/integrations", Some(&admin)),
    )
    .await;
    assert_eq!(v["alert_webhook"]["set"], false);

    let secret_url = "https://93.184.216.34/hooks/T000/B000/very-secret-token";
    assert_eq!(
        call(&f.app, set(&admin, secret_url)).await.0,
        StatusCode::NO_CONTENT
    );
    let (status, v) = call(
        &f.app,
        get("/api/v1/organisation/integrations", Some(&admin)),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(v["alert_webhook"]["set"], true);
    assert!(
        !v.to_string().contains("very-secret-token"),
        "never returned: {v}"
    );
    let stored = f
        .state
        .store
        .integration(&f.scope, "alert_webhook")
        .await
        .expect("read");
    assert_eq!(stored.as_deref(), Some(secret_url));
    assert_eq!(
        call(&f.app, delete("/api/v1/organisation/webhook", Some(&admin)))
            .await
            .0,
        StatusCode::NO_CONTENT
    );
    let (status, v) = call(
        &f.app,
        post(
            "/api/v1/organisation/webhook/test",
            Some(&admin),
            &json!({}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(v.to_string().contains("no alert webhook"), "{v}");
}
