//! The HTTP API on a real embedded store: sign-in, tickets, meetings, metrics — and that none
//! of it answers without a credential.

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use scribe_auth::{ExposeSecret, PasswordHasher, SecretString};
use scribe_core::OrgScope;
use serde_json::{json, Value};
use tower::ServiceExt;
use transcript_storage::{NewMeeting, NewUser};

use crate::app::{router, AppState};
use crate::testing;

const PASSWORD: &str = "correct horse battery staple";

struct Fixture {
    app: Router,
    state: AppState,
    _dir: tempfile::TempDir,
    scope: OrgScope,
}

async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().expect("tempdir");
    let state = testing::state(dir.path()).await;
    let org = state
        .store
        .create_organisation("Clinic")
        .await
        .expect("org");
    let scope = OrgScope::for_org(org.id);
    let hash = state
        .hasher
        .hash(&SecretString::from(PASSWORD))
        .expect("hash");
    for (email, role) in [("ada@example.org", "admin"), ("vic@example.org", "viewer")] {
        state
            .store
            .create_user(
                &scope,
                NewUser {
                    email: email.into(),
                    password_hash: hash.as_str().to_owned(),
                    role: role.into(),
                },
            )
            .await
            .expect("user");
    }
    let _: &PasswordHasher = &state.hasher;
    Fixture {
        app: router(state.clone()),
        state,
        _dir: dir,
        scope,
    }
}

async fn call(app: &Router, req: Request<Body>) -> (StatusCode, Value) {
    let res = app.clone().oneshot(req).await.expect("infallible");
    let status = res.status();
    let body = axum::body::to_bytes(res.into_body(), 1 << 20)
        .await
        .expect("body");
    let v = serde_json::from_slice(&body)
        .unwrap_or(Value::String(String::from_utf8_lossy(&body).into_owned()));
    (status, v)
}

fn post(path: &str, token: Option<&str>, body: &Value) -> Request<Body> {
    let mut b = Request::post(path).header(header::CONTENT_TYPE, "application/json");
    if let Some(t) = token {
        b = b.header(header::AUTHORIZATION, format!("Bearer {t}"));
    }
    b.body(Body::from(body.to_string())).expect("request")
}

fn get(path: &str, token: Option<&str>) -> Request<Body> {
    let mut b = Request::get(path);
    if let Some(t) = token {
        b = b.header(header::AUTHORIZATION, format!("Bearer {t}"));
    }
    b.body(Body::empty()).expect("request")
}

async fn login(app: &Router, email: &str) -> String {
    let (status, v) = call(
        app,
        post(
            "/api/v1/auth/login",
            None,
            &json!({"email": email, "password": PASSWORD}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["token_type"], "Bearer");
    assert_eq!(v["expires_in"], 3600);
    v["access_token"].as_str().expect("token").to_owned()
}

#[tokio::test]
async fn login_gives_a_token_and_wrong_or_unknown_credentials_look_alike() {
    let f = fixture().await;
    login(&f.app, "ada@example.org").await;
    let wrong = call(
        &f.app,
        post(
            "/api/v1/auth/login",
            None,
            &json!({"email": "ada@example.org", "password": "not the password at all"}),
        ),
    )
    .await;
    let unknown = call(
        &f.app,
        post(
            "/api/v1/auth/login",
            None,
            &json!({"email": "nobody@example.org", "password": PASSWORD}),
        ),
    )
    .await;
    assert_eq!(wrong.0, StatusCode::UNAUTHORIZED);
    assert_eq!(wrong, unknown);
    assert_eq!(wrong.1["error"]["code"], "unauthenticated");
    assert!(!wrong.1.to_string().contains(PASSWORD));
}

#[tokio::test]
async fn bodies_with_unknown_fields_or_the_wrong_type_are_refused_by_name() {
    let f = fixture().await;
    let (status, v) = call(
        &f.app,
        post(
            "/api/v1/auth/login",
            None,
            &json!({"email": "ada@example.org", "password": PASSWORD, "admin": true}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let msg = v["error"]["message"].as_str().expect("message");
    assert!(msg.contains("admin"), "{msg}");
    assert!(!msg.contains(PASSWORD), "{msg}");
    let req = Request::post("/api/v1/auth/login")
        .header(header::CONTENT_TYPE, "text/plain")
        .body(Body::from("{}"))
        .expect("request");
    assert_eq!(
        call(&f.app, req).await.0,
        StatusCode::UNSUPPORTED_MEDIA_TYPE
    );
}

#[tokio::test]
async fn nothing_but_pages_and_probes_answers_without_a_credential() {
    let f = fixture().await;
    let m = f
        .state
        .store
        .create_meeting(
            &f.scope,
            NewMeeting {
                title: "Ward round".into(),
                created_by: None,
            },
        )
        .await
        .expect("meeting");
    let mid = m.id.to_string();
    for req in [
        get("/api/v1/meetings", None),
        get(&format!("/api/v1/meetings/{mid}"), None),
        post("/api/v1/meetings", None, &json!({"title": "x"})),
        post("/api/v1/ws-tickets", None, &json!({"meeting_id": mid})),
        get("/metrics", None),
        get("/api/v1/meetings", Some("not-a-token")),
    ] {
        let path = req.uri().to_string();
        let (status, v) = call(&f.app, req).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}: {v}");
        assert_eq!(v["error"]["code"], "unauthenticated", "{path}");
    }
    for path in ["/", "/healthz", "/readyz", "/assets/live.js"] {
        assert_eq!(
            call(&f.app, get(path, None)).await.0,
            StatusCode::OK,
            "{path}"
        );
    }
}

#[tokio::test]
async fn meetings_tickets_and_metrics_follow_roles_and_organisations() {
    let f = fixture().await;
    let admin = login(&f.app, "ada@example.org").await;
    let viewer = login(&f.app, "vic@example.org").await;

    let (status, created) = call(
        &f.app,
        post(
            "/api/v1/meetings",
            Some(&admin),
            &json!({"title": "Council"}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let mid = created["meeting_id"].as_str().expect("id").to_owned();
    let (status, _) = call(
        &f.app,
        post("/api/v1/meetings", Some(&viewer), &json!({"title": "No"})),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    let (status, list) = call(&f.app, get("/api/v1/meetings", Some(&viewer))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["meetings"][0]["title"], "Council");

    let (status, t) = call(
        &f.app,
        post(
            "/api/v1/ws-tickets",
            Some(&viewer),
            &json!({"meeting_id": mid}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{t}");
    assert_eq!(t["expires_in"], 30);
    assert!(t["ticket"].as_str().is_some_and(|s| s.len() > 20));

    // Another organisation's meeting and a malformed id look like a missing one.
    let other = f
        .state
        .store
        .create_organisation("Other")
        .await
        .expect("org");
    let foreign = f
        .state
        .store
        .create_meeting(
            &OrgScope::for_org(other.id),
            NewMeeting {
                title: "Secret".into(),
                created_by: None,
            },
        )
        .await
        .expect("meeting");
    let missing = call(
        &f.app,
        get(
            &format!("/api/v1/meetings/{}", scribe_core::MeetingId::generate()),
            Some(&viewer),
        ),
    )
    .await;
    for path in [
        format!("/api/v1/meetings/{}", foreign.id),
        "/api/v1/meetings/not-an-id".to_owned(),
    ] {
        assert_eq!(
            call(&f.app, get(&path, Some(&viewer))).await,
            missing,
            "{path}"
        );
    }
    assert_eq!(missing.0, StatusCode::NOT_FOUND);
    let (status, _) = call(
        &f.app,
        post(
            "/api/v1/ws-tickets",
            Some(&viewer),
            &json!({"meeting_id": foreign.id.to_string()}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    assert_eq!(
        call(&f.app, get("/metrics", Some(&viewer))).await.0,
        StatusCode::FORBIDDEN
    );
    let res = f
        .app
        .clone()
        .oneshot(get("/metrics", Some(&admin)))
        .await
        .expect("ok");
    assert_eq!(res.status(), StatusCode::OK);
    let body = axum::body::to_bytes(res.into_body(), 1 << 20)
        .await
        .expect("body");
    let text = String::from_utf8_lossy(&body);
    assert!(text.contains("nexus_scribe_bot_sessions "), "{text}");
    assert!(text.contains("# TYPE"), "{text}");
    let _ = SecretString::from(admin).expose_secret().len();
}
