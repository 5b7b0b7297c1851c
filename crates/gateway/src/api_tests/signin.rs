//! Sign-in end to end over HTTP on a real store, with a controllable clock: refresh rotation
//! and reuse detection, logout and the denylist, pre-MFA tokens, TOTP enrolment, replay and
//! backup codes, organisation-wide MFA, lockout and throttle schedules, user administration.

use std::sync::Arc;
use std::time::Duration;

use axum::http::{header, Method, StatusCode};
use scribe_auth::{totp_code_at, totp_step_of, Clock, ManualClock, TotpSecret};
use serde_json::{json, Value};

use super::*;

fn clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(std::time::SystemTime::now()))
}

async fn sign_in(app: &Router, email: &str, password: &str) -> (StatusCode, Value) {
    call(
        app,
        post(
            "/api/v1/auth/login",
            None,
            &json!({"email": email, "password": password}),
        ),
    )
    .await
}

async fn pair(app: &Router, email: &str) -> (String, String) {
    let (status, v) = sign_in(app, email, PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    (
        v["access_token"].as_str().expect("access").to_owned(),
        v["refresh_token"].as_str().expect("refresh").to_owned(),
    )
}

async fn refresh(app: &Router, token: &str) -> (StatusCode, Value) {
    call(
        app,
        post(
            "/api/v1/auth/refresh",
            None,
            &json!({ "refresh_token": token }),
        ),
    )
    .await
}

async fn meetings_status(app: &Router, token: &str) -> StatusCode {
    call(app, get("/api/v1/meetings", Some(token))).await.0
}

fn patch(path: &str, token: &str, body: &Value) -> Request<Body> {
    with_body(Method::PATCH, path, token, body)
}

#[tokio::test]
async fn refresh_rotates_and_a_reused_refresh_token_ends_the_session() {
    let f = fixture_with(clock(), unthrottled()).await;
    let (access, first) = pair(&f.app, "ada@example.org").await;
    assert_eq!(meetings_status(&f.app, &access).await, StatusCode::OK);

    let (status, v) = refresh(&f.app, &first).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let second = v["refresh_token"].as_str().expect("refresh").to_owned();
    let access2 = v["access_token"].as_str().expect("access").to_owned();
    assert_ne!(second, first);
    assert_eq!(v["refresh_expires_in"], 30 * 24 * 3600);
    assert_eq!(meetings_status(&f.app, &access2).await, StatusCode::OK);

    // The spent token again: refused, and the whole session ends with it.
    let (status, v) = refresh(&f.app, &first).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{v}");
    assert_eq!(refresh(&f.app, &second).await.0, StatusCode::UNAUTHORIZED);
    for token in [&access, &access2] {
        assert_eq!(
            meetings_status(&f.app, token).await,
            StatusCode::UNAUTHORIZED
        );
    }
    // Another session of the same user is untouched.
    let (other, _) = pair(&f.app, "ada@example.org").await;
    assert_eq!(meetings_status(&f.app, &other).await, StatusCode::OK);

    // An access token is not a refresh token, nor is garbage.
    assert_eq!(refresh(&f.app, &other).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(refresh(&f.app, "x.y.z").await.0, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn logout_denylists_the_token_and_ends_the_session() {
    let f = fixture_with(clock(), unthrottled()).await;
    let (access, refresh_token) = pair(&f.app, "ada@example.org").await;
    let (keep, _) = pair(&f.app, "ada@example.org").await;
    let (status, _) = call(
        &f.app,
        post("/api/v1/auth/logout", Some(&access), &json!({})),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(
        meetings_status(&f.app, &access).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        refresh(&f.app, &refresh_token).await.0,
        StatusCode::UNAUTHORIZED
    );
    // Logging out twice: the token no longer opens anything, logout included.
    let (status, _) = call(
        &f.app,
        post("/api/v1/auth/logout", Some(&access), &json!({})),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(meetings_status(&f.app, &keep).await, StatusCode::OK);
}

#[tokio::test]
async fn totp_enrolment_sign_in_replay_and_backup_codes() {
    let clock = clock();
    let f = fixture_with(clock.clone(), unthrottled()).await;
    let (access, _) = pair(&f.app, "ada@example.org").await;

    // Enrol: a secret, pending until a code confirms it.
    let (status, v) = call(
        &f.app,
        post("/api/v1/mfa/enroll", Some(&access), &json!({})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let secret = TotpSecret::from_base32(v["secret"].as_str().expect("secret")).expect("base32");
    let uri = v["otpauth_uri"].as_str().expect("uri");
    assert!(uri.starts_with("otpauth://totp/NexusScribe:"), "{uri}");
    let code_now = |c: &ManualClock| totp_code_at(&secret, totp_step_of(c.unix_seconds()));
    let wrong = if code_now(&clock) == "000000" {
        "111111"
    } else {
        "000000"
    };
    let (status, _) = call(
        &f.app,
        post(
            "/api/v1/mfa/confirm",
            Some(&access),
            &json!({"code": wrong}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, v) = call(
        &f.app,
        post(
            "/api/v1/mfa/confirm",
            Some(&access),
            &json!({"code": code_now(&clock)}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let backup: Vec<String> = v["backup_codes"]
        .as_array()
        .expect("codes")
        .iter()
        .map(|c| c.as_str().expect("code").to_owned())
        .collect();
    assert_eq!(backup.len(), 10);
    // A second enrolment cannot replace the factor with only an access token.
    let (status, _) = call(
        &f.app,
        post("/api/v1/mfa/enroll", Some(&access), &json!({})),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);

    // Password alone now yields only a pre-MFA token, which opens nothing else.
    let (status, v) = sign_in(&f.app, "ada@example.org", PASSWORD).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(v["mfa_required"], true);
    assert!(v.get("access_token").is_none());
    let pre = v["pre_mfa_token"].as_str().expect("pre").to_owned();
    assert_eq!(v["expires_in"], 300);
    assert_eq!(
        meetings_status(&f.app, &pre).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(refresh(&f.app, &pre).await.0, StatusCode::UNAUTHORIZED);
    let (status, _) = call(
        &f.app,
        post(
            "/api/v1/ws-tickets",
            Some(&pre),
            &json!({"meeting_id": "x"}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = call(&f.app, post("/api/v1/auth/logout", Some(&pre), &json!({}))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let verify = |code: String, pre: String| {
        let app = f.app.clone();
        async move {
            call(
                &app,
                post(
                    "/api/v1/mfa/verify",
                    None,
                    &json!({"pre_mfa_token": pre, "code": code}),
                ),
            )
            .await
        }
    };
    // The confirming code's step is spent: the same code is a replay.
    let (status, _) = verify(code_now(&clock), pre.clone()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "replayed code");
    clock.advance(Duration::from_secs(30));
    let fresh = code_now(&clock);
    let (status, v) = verify(fresh.clone(), pre.clone()).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let access = v["access_token"].as_str().expect("access").to_owned();
    assert_eq!(meetings_status(&f.app, &access).await, StatusCode::OK);
    let (status, _) = verify(fresh, pre.clone()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "a code is accepted once");

    // A backup code works once, in any case and with or without hyphens.
    let (status, _) = verify(backup[0].to_uppercase(), pre.clone()).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = verify(backup[0].replace('-', ""), pre.clone()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // The pre-MFA token expires after 5 minutes.
    clock.advance(Duration::from_secs(301));
    let (status, _) = verify(backup[1].clone(), pre).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn an_organisation_requiring_mfa_makes_users_enrol_while_signing_in() {
    let clock = clock();
    let f = fixture_with(clock.clone(), unthrottled()).await;
    let (admin, _) = pair(&f.app, "ada@example.org").await;
    let (viewer, _) = pair(&f.app, "vic@example.org").await;
    let put = |token: &str, body: Value| {
        Request::builder()
            .method(Method::PUT)
            .uri("/api/v1/organisation/mfa")
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .body(Body::from(body.to_string()))
            .expect("request")
    };
    let (status, _) = call(&f.app, put(&viewer, json!({"mfa_required": true}))).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = call(&f.app, put(&admin, json!({"mfa_required": true}))).await;
    assert_eq!(status, StatusCode::NO_CONTENT);

    let (status, v) = sign_in(&f.app, "vic@example.org", PASSWORD).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (
            v["mfa_required"].clone(),
            v["mfa_enrollment_required"].clone()
        ),
        (json!(true), json!(true))
    );
    let pre = v["pre_mfa_token"].as_str().expect("pre").to_owned();
    assert_eq!(
        meetings_status(&f.app, &pre).await,
        StatusCode::UNAUTHORIZED
    );
    let (status, v) = call(&f.app, post("/api/v1/mfa/enroll", Some(&pre), &json!({}))).await;
    assert_eq!(status, StatusCode::OK);
    let secret = TotpSecret::from_base32(v["secret"].as_str().expect("secret")).expect("base32");
    let code = totp_code_at(&secret, totp_step_of(clock.unix_seconds()));
    let (status, v) = call(
        &f.app,
        post("/api/v1/mfa/confirm", Some(&pre), &json!({"code": code})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["backup_codes"].as_array().map(Vec::len), Some(10));
    let access = v["access_token"].as_str().expect("signed in");
    assert_eq!(meetings_status(&f.app, access).await, StatusCode::OK);
}

#[tokio::test]
async fn lockout_follows_its_schedule_on_a_controllable_clock() {
    let clock = clock();
    let f = fixture_with(clock.clone(), unthrottled()).await;
    let fail = || sign_in(&f.app, "vic@example.org", "not the right password");
    let locked_out = |minutes: u64| {
        let app = f.app.clone();
        async move {
            let (status, v) = sign_in(&app, "vic@example.org", PASSWORD).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{minutes} min in: {v}");
            // Exactly what a wrong password gets: the lock says nothing about the account.
            let wrong = sign_in(&app, "vic@example.org", "not the right password").await;
            assert_eq!(v, wrong.1);
        }
    };
    for _ in 0..5 {
        assert_eq!(fail().await.0, StatusCode::UNAUTHORIZED);
    }
    // First lockout: 15 minutes, even with the right password.
    locked_out(0).await;
    clock.advance(Duration::from_secs(14 * 60));
    locked_out(14).await;
    clock.advance(Duration::from_secs(60));
    // Failures while locked did not extend it; 5 more failures lock for 30 minutes.
    for _ in 0..5 {
        fail().await;
    }
    clock.advance(Duration::from_secs(29 * 60));
    locked_out(29).await;
    clock.advance(Duration::from_secs(60));
    // A success resets everything: the next lockout is 15 minutes again.
    pair(&f.app, "vic@example.org").await;
    for _ in 0..5 {
        fail().await;
    }
    clock.advance(Duration::from_secs(15 * 60));
    pair(&f.app, "vic@example.org").await;
    // Another account was never affected.
    pair(&f.app, "ada@example.org").await;
}

#[tokio::test]
async fn the_sixth_login_from_one_address_in_a_minute_is_throttled() {
    let clock = clock();
    // The shipped limits: 5 sign-ins per address per minute, 100 other requests.
    let f = fixture_with(clock.clone(), crate::GatewayConfig::default()).await;
    let attempt = |ip: &'static str| {
        let app = f.app.clone();
        async move {
            let body = json!({"email": "nobody@example.org", "password": "whatever it is"});
            let res = app
                .oneshot(from(ip, post("/api/v1/auth/login", None, &body)))
                .await
                .expect("infallible");
            let header = |name: &str| {
                res.headers()
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse::<u64>().ok())
            };
            (
                res.status(),
                header("retry-after"),
                header("x-ratelimit-limit"),
                header("x-ratelimit-remaining"),
                header("x-ratelimit-reset"),
            )
        }
    };
    // The bucket drains in the headers: 4, 3, 2, 1, 0 left.
    for left in (0..5).rev() {
        clock.advance(Duration::from_secs(1));
        let (status, retry, limit, remaining, reset) = attempt("203.0.113.7").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!((retry, limit, remaining), (None, Some(5), Some(left)));
        assert!(reset.is_some_and(|r| (1..=60).contains(&r)), "{reset:?}");
    }
    let (status, retry, limit, remaining, _) = attempt("203.0.113.7").await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!((limit, remaining), (Some(5), Some(0)));
    let retry = retry.expect("Retry-After");
    assert!(
        (55..=60).contains(&retry),
        "the first attempt leaves the window in {retry} s"
    );
    // Another address is unaffected, and other requests have their own bucket.
    let (status, _, _, remaining, _) = attempt("198.51.100.9").await;
    assert_eq!((status, remaining), (StatusCode::UNAUTHORIZED, Some(4)));
    let res = f
        .app
        .clone()
        .oneshot(from("203.0.113.7", get("/api/v1/meetings", None)))
        .await
        .expect("infallible");
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(res.headers()["x-ratelimit-limit"], "100");
    assert_eq!(res.headers()["x-ratelimit-remaining"], "99");
    // The first reopens after the window.
    clock.advance(Duration::from_secs(61));
    assert_eq!(attempt("203.0.113.7").await.0, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_trusted_proxy_names_the_client_and_anyone_else_cannot() {
    let config = crate::GatewayConfig {
        trusted_proxies: vec!["10.0.0.0/8".parse().expect("net")],
        ..crate::GatewayConfig::default()
    };
    let f = fixture_with(clock(), config).await;
    let attempt = |peer: &'static str, forwarded: &'static str| {
        let app = f.app.clone();
        async move {
            let body = json!({"email": "nobody@example.org", "password": "whatever it is"});
            let mut req = from(peer, post("/api/v1/auth/login", None, &body));
            req.headers_mut()
                .insert("x-forwarded-for", forwarded.parse().expect("header"));
            let res = app.oneshot(req).await.expect("infallible");
            res.status()
        }
    };
    // Behind the proxy, each forwarded client has its own limit...
    for _ in 0..5 {
        assert_eq!(
            attempt("10.0.0.2", "198.51.100.1").await,
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        attempt("10.0.0.2", "198.51.100.1").await,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        attempt("10.0.0.2", "198.51.100.2").await,
        StatusCode::UNAUTHORIZED
    );
    // ...and a client that writes the header itself gains nothing by it.
    for i in 0..5 {
        let forged: &'static str = ["1.1.1.1", "2.2.2.2", "3.3.3.3", "4.4.4.4", "5.5.5.5"][i];
        assert_eq!(
            attempt("203.0.113.50", forged).await,
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        attempt("203.0.113.50", "6.6.6.6").await,
        StatusCode::TOO_MANY_REQUESTS
    );
}

#[tokio::test]
async fn admins_change_roles_and_disable_users_with_immediate_effect() {
    let f = fixture_with(clock(), unthrottled()).await;
    let (admin, _) = pair(&f.app, "ada@example.org").await;
    let (viewer, viewer_refresh) = pair(&f.app, "vic@example.org").await;
    let (status, v) = call(&f.app, get("/api/v1/users", Some(&admin))).await;
    assert_eq!(status, StatusCode::OK);
    let users = v["users"].as_array().expect("users");
    assert_eq!(users.len(), 2);
    let id_of = |email: &str| {
        users
            .iter()
            .find(|u| u["email"] == email)
            .and_then(|u| u["user_id"].as_str())
            .expect("listed")
            .to_owned()
    };
    let (ada, vic) = (id_of("ada@example.org"), id_of("vic@example.org"));
    assert_eq!(
        call(&f.app, get("/api/v1/users", Some(&viewer))).await.0,
        StatusCode::FORBIDDEN
    );

    // Roles: Admins only, never on themselves, strictly parsed, effective at once.
    let create = |t: &str| post("/api/v1/meetings", Some(t), &json!({"title": "Promoted"}));
    assert_eq!(call(&f.app, create(&viewer)).await.0, StatusCode::FORBIDDEN);
    let path = format!("/api/v1/users/{vic}");
    let (status, _) = call(&f.app, patch(&path, &viewer, &json!({"role": "admin"}))).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, v) = call(&f.app, patch(&path, &admin, &json!({"role": "owner"}))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
    let own = format!("/api/v1/users/{ada}");
    let (status, _) = call(&f.app, patch(&own, &admin, &json!({"role": "viewer"}))).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = call(&f.app, patch(&own, &admin, &json!({"disabled": true}))).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, v) = call(&f.app, patch(&path, &admin, &json!({"role": "editor"}))).await;
    assert_eq!(
        (status, v["role"].clone()),
        (StatusCode::OK, json!("editor"))
    );
    assert_eq!(call(&f.app, create(&viewer)).await.0, StatusCode::CREATED);

    // Disabling ends every session at once, and sign-in answers like a wrong password.
    let (status, _) = call(&f.app, patch(&path, &admin, &json!({"disabled": true}))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        meetings_status(&f.app, &viewer).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        refresh(&f.app, &viewer_refresh).await.0,
        StatusCode::UNAUTHORIZED
    );
    let (status, v) = sign_in(&f.app, "vic@example.org", PASSWORD).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        v,
        sign_in(&f.app, "vic@example.org", "wrong password!!")
            .await
            .1
    );
    let (status, _) = call(&f.app, patch(&path, &admin, &json!({"disabled": false}))).await;
    assert_eq!(status, StatusCode::OK);
    let (again, _) = pair(&f.app, "vic@example.org").await;

    // Ending a user's sessions: Admins for anyone of theirs, users for themselves.
    let sessions = format!("/api/v1/users/{vic}/sessions");
    assert_eq!(
        call(&f.app, delete(&sessions, Some(&admin))).await.0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        meetings_status(&f.app, &again).await,
        StatusCode::UNAUTHORIZED
    );
    let missing = format!("/api/v1/users/{}/sessions", scribe_core::UserId::generate());
    assert_eq!(
        call(&f.app, delete(&missing, Some(&admin))).await.0,
        StatusCode::NOT_FOUND
    );
    // Unknown fields and foreign ids answer as everywhere else.
    let (status, v) = call(&f.app, patch(&path, &admin, &json!({"rol": "editor"}))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(v.to_string().contains("rol"));
    let foreign = format!("/api/v1/users/{}", scribe_core::UserId::generate());
    let (status, _) = call(&f.app, patch(&foreign, &admin, &json!({"role": "viewer"}))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn hsts_follows_a_trusted_proxys_word_on_https_and_nobody_elses() {
    let config = crate::GatewayConfig {
        trusted_proxies: vec!["10.0.0.0/8".parse().expect("net")],
        ..crate::GatewayConfig::default()
    };
    let f = fixture_with(clock(), config).await;
    let hsts = |peer: &'static str, proto: Option<&'static str>| {
        let app = f.app.clone();
        async move {
            let mut req = from(peer, get("/healthz", None));
            if let Some(p) = proto {
                req.headers_mut()
                    .insert("x-forwarded-proto", p.parse().expect("header"));
            }
            let res = app.oneshot(req).await.expect("infallible");
            res.headers()
                .contains_key(header::STRICT_TRANSPORT_SECURITY)
        }
    };
    assert!(
        hsts("10.0.0.2", Some("https")).await,
        "the proxy terminated TLS"
    );
    assert!(
        hsts("10.0.0.2", Some("https, http")).await,
        "the first hop counts"
    );
    assert!(!hsts("10.0.0.2", Some("http")).await);
    assert!(!hsts("10.0.0.2", None).await);
    assert!(
        !hsts("203.0.113.5", Some("https")).await,
        "anyone can write the header"
    );
}
