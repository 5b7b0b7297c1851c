//! The HTTP API on a real embedded store: sign-in, tickets, meetings, metrics — and that none
//! of it answers without a credential.

mod joining;
mod matrix;
mod signin;

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
    fixture_with(std::sync::Arc::new(scribe_auth::SystemClock), unthrottled()).await
}

/// Rate limits out of the way (tests of other things make many requests from one address).
fn unthrottled() -> crate::GatewayConfig {
    use scribe_auth::{RateLimit, ThrottleConfig};
    use std::time::Duration;
    let wide = ThrottleConfig {
        per_ip: RateLimit {
            attempts: 100_000,
            window: Duration::from_secs(60),
        },
        global: RateLimit {
            attempts: 100_000,
            window: Duration::from_secs(60),
        },
        ..ThrottleConfig::default()
    };
    crate::GatewayConfig {
        rate_limits: crate::ratelimit::RateLimitConfig {
            auth: wide,
            mfa: wide,
            websocket: wide,
            api: wide,
        },
        ..crate::GatewayConfig::default()
    }
}

/// A fixture on this clock with these settings.
async fn fixture_with(
    clock: std::sync::Arc<dyn scribe_auth::Clock>,
    config: crate::GatewayConfig,
) -> Fixture {
    let dir = tempfile::tempdir().expect("tempdir");
    let state = testing::state_with(dir.path(), clock, config).await;
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

/// A JSON request with `method` and a bearer token.
fn with_body(method: axum::http::Method, path: &str, token: &str, body: &Value) -> Request<Body> {
    Request::builder()
        .method(method)
        .uri(path)
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::from(body.to_string()))
        .expect("request")
}

/// `req` as if it arrived from `ip` (what the accept loop puts on every request).
fn from(ip: &str, mut req: Request<Body>) -> Request<Body> {
    let ip: std::net::IpAddr = ip.parse().expect("address");
    req.extensions_mut()
        .insert(axum::extract::ConnectInfo(std::net::SocketAddr::new(
            ip, 40000,
        )));
    req
}

fn get(path: &str, token: Option<&str>) -> Request<Body> {
    bodiless(axum::http::Method::GET, path, token)
}

fn delete(path: &str, token: Option<&str>) -> Request<Body> {
    bodiless(axum::http::Method::DELETE, path, token)
}

fn bodiless(method: axum::http::Method, path: &str, token: Option<&str>) -> Request<Body> {
    let mut b = Request::builder().method(method).uri(path);
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
async fn a_socket_from_a_foreign_origin_is_refused_before_the_upgrade() {
    let f = fixture().await;
    let token = login(&f.app, "ada@example.org").await;
    let meeting = f
        .state
        .store
        .create_meeting(
            &f.scope,
            NewMeeting {
                title: "Ward".into(),
                created_by: None,
            },
        )
        .await
        .expect("meeting")
        .id;
    for path in [
        format!("/ws/transcription/{meeting}?token={token}"),
        format!("/ws/audio/{meeting}"),
    ] {
        let req = Request::get(path.as_str())
            .header(header::HOST, "scribe.example.org")
            .header(header::ORIGIN, "https://evil.example")
            .header(header::CONNECTION, "upgrade")
            .header(header::UPGRADE, "websocket")
            .header(header::SEC_WEBSOCKET_VERSION, "13")
            .header(header::SEC_WEBSOCKET_KEY, "dGhlIHNhbXBsZSBub25jZQ==")
            .body(Body::empty())
            .expect("request");
        let (status, v) = call(&f.app, req).await;
        // Only the access middleware says this: no handler (and no upgrade) happened.
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}: {v}");
        assert_eq!(v["error"]["message"], "origin not allowed", "{path}");
    }
}

#[tokio::test]
async fn an_oversized_body_is_refused_from_its_length_before_anything_reads_it() {
    let f = fixture().await;
    let big = vec![b' '; 100_000];
    let req = Request::post("/api/v1/auth/login")
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::CONTENT_LENGTH, big.len())
        .body(Body::from(big))
        .expect("request");
    let (status, v) = call(&f.app, req).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(v["error"]["code"], "payload_too_large");
    assert!(
        v["error"]["message"]
            .as_str()
            .expect("message")
            .contains("65536-byte limit"),
        "{v}"
    );
}

#[tokio::test]
async fn nothing_but_pages_and_probes_answers_without_a_credential() {
    let f = fixture().await;
    let m = ward_round(&f).await;
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
    let foreign = foreign_meeting(&f).await;
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

/// A meeting of the fixture's organisation.
async fn ward_round(f: &Fixture) -> transcript_storage::Meeting {
    f.state
        .store
        .create_meeting(
            &f.scope,
            NewMeeting {
                title: "Ward round".into(),
                created_by: None,
            },
        )
        .await
        .expect("meeting")
}

/// A meeting of another organisation.
async fn foreign_meeting(f: &Fixture) -> transcript_storage::Meeting {
    let other = f
        .state
        .store
        .create_organisation("Elsewhere")
        .await
        .expect("org");
    f.state
        .store
        .create_meeting(
            &OrgScope::for_org(other.id),
            NewMeeting {
                title: "Theirs".into(),
                created_by: None,
            },
        )
        .await
        .expect("meeting")
}

/// A raw GET with its status, content type, disposition and body text.
async fn fetch(app: &Router, path: &str, token: &str) -> (StatusCode, String, String, String) {
    let res = app
        .clone()
        .oneshot(get(path, Some(token)))
        .await
        .expect("ok");
    let status = res.status();
    let header_text = |name| {
        res.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let (ct, cd) = (
        header_text(header::CONTENT_TYPE),
        header_text(header::CONTENT_DISPOSITION),
    );
    let body = axum::body::to_bytes(res.into_body(), 1 << 20)
        .await
        .expect("body");
    (status, ct, cd, String::from_utf8_lossy(&body).into_owned())
}

#[tokio::test]
async fn a_meetings_transcript_comes_out_in_four_formats_to_its_organisation_only() {
    use transcript_storage::{NewFinal, NewStream};

    let f = fixture().await;
    let viewer = login(&f.app, "vic@example.org").await;
    let meeting = ward_round(&f).await;
    let stream = f
        .state
        .store
        .open_stream(
            &f.scope,
            NewStream {
                meeting_id: meeting.id,
                bot_id: None,
                resume_token_hash: transcript_storage::ResumeTokenHash(
                    scribe_auth::issue_resume_token().expect("token").1,
                ),
            },
        )
        .await
        .expect("stream");
    for (start, end, text) in [
        (0, 900, "Good morning,"),
        (900, 2_100, "this is the ward round."),
        (5_000, 6_200, "Bed four is stable."),
    ] {
        f.state
            .store
            .append_final(
                &f.scope,
                NewFinal {
                    segment_id: scribe_core::SegmentId::generate(),
                    meeting_id: meeting.id,
                    stream_id: stream.id,
                    segment: scribe_core::Segment {
                        start_ms: start,
                        end_ms: end,
                        text: text.into(),
                        words: Vec::new(),
                    },
                    speaker: None,
                    language: Some("en".into()),
                    acked_audio_ms: None,
                },
            )
            .await
            .expect("final");
    }
    let base = format!("/api/v1/meetings/{}/transcript", meeting.id);

    let (status, ct, cd, body) = fetch(&f.app, &base, &viewer).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(ct, "application/json");
    assert!(cd.contains(&format!("meeting-{}.json", meeting.id)), "{cd}");
    let v: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(v["meeting_id"], meeting.id.to_string());
    assert_eq!(v["last_seq"], 3);
    assert_eq!(
        v["text"],
        "Good morning, this is the ward round. Bed four is stable."
    );
    assert_eq!(v["segments"].as_array().map(Vec::len), Some(2));

    let (_, ct, _, txt) = fetch(&f.app, &format!("{base}?format=txt"), &viewer).await;
    assert!(ct.starts_with("text/plain"), "{ct}");
    assert!(txt.contains("Bed four is stable."), "{txt}");
    let (_, ct, _, srt) = fetch(&f.app, &format!("{base}?format=srt"), &viewer).await;
    assert!(ct.starts_with("application/x-subrip"), "{ct}");
    assert!(
        srt.starts_with("1\n00:00:00,000 --> 00:00:02,100\nGood morning, this is the ward round.\n\n2\n00:00:05,000 --> 00:00:06,200\n"),
        "{srt}"
    );
    let (_, ct, _, vtt) = fetch(&f.app, &format!("{base}?format=VTT"), &viewer).await;
    assert!(ct.starts_with("text/vtt"), "{ct}");
    assert!(
        vtt.starts_with("WEBVTT\n\n00:00:00.000 --> 00:00:02.100\n"),
        "{vtt}"
    );

    // Bad queries are named; nothing is echoed beyond the parameter's name.
    let (status, _, _, body) = fetch(&f.app, &format!("{base}?format=pdf"), &viewer).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("json, txt, srt, vtt"), "{body}");
    let (status, _, _, body) = fetch(&f.app, &format!("{base}?fromat=txt"), &viewer).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("`fromat`"), "{body}");

    // No credential: 401; another organisation's meeting or a bad id: the same 404 as a
    // missing one.
    let (status, _) = call(&f.app, get(&base, None)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let foreign = foreign_meeting(&f).await;
    let missing = call(
        &f.app,
        get(
            &format!(
                "/api/v1/meetings/{}/transcript",
                scribe_core::MeetingId::generate()
            ),
            Some(&viewer),
        ),
    )
    .await;
    assert_eq!(missing.0, StatusCode::NOT_FOUND);
    for path in [
        format!("/api/v1/meetings/{}/transcript", foreign.id),
        "/api/v1/meetings/nope/transcript?format=txt".to_owned(),
    ] {
        assert_eq!(
            call(&f.app, get(&path, Some(&viewer))).await,
            missing,
            "{path}"
        );
    }
}

#[tokio::test]
async fn a_deleted_meeting_is_gone_and_only_editors_or_admins_may_delete() {
    let f = fixture().await;
    let admin = login(&f.app, "ada@example.org").await;
    let viewer = login(&f.app, "vic@example.org").await;
    let meeting = ward_round(&f).await;
    let feed = f
        .state
        .hub
        .feed(&meeting.id.to_string(), meeting.org_id, || async {
            Ok::<_, ()>((Vec::new(), 0))
        })
        .await
        .expect("feed");
    let mut watching = feed.deleted();
    let path = format!("/api/v1/meetings/{}", meeting.id);

    let (status, _) = call(&f.app, delete(&path, None)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, v) = call(&f.app, delete(&path, Some(&viewer))).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{v}");
    assert_eq!(
        call(&f.app, get(&path, Some(&viewer))).await.0,
        StatusCode::OK
    );
    assert!(!*watching.borrow_and_update());

    let foreign = foreign_meeting(&f).await;
    let missing = call(
        &f.app,
        delete(
            &format!("/api/v1/meetings/{}", scribe_core::MeetingId::generate()),
            Some(&admin),
        ),
    )
    .await;
    assert_eq!(missing.0, StatusCode::NOT_FOUND);
    assert_eq!(
        call(
            &f.app,
            delete(&format!("/api/v1/meetings/{}", foreign.id), Some(&admin))
        )
        .await,
        missing,
        "another organisation's meeting looks missing"
    );

    let (status, _) = call(&f.app, delete(&path, Some(&admin))).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(
        *watching.borrow_and_update(),
        "the meeting's viewers are told (and closed with 4004)"
    );
    assert_eq!(f.state.hub.len(), 0);
    for p in [path.clone(), format!("{path}/transcript")] {
        assert_eq!(call(&f.app, get(&p, Some(&admin))).await, missing, "{p}");
    }
    assert_eq!(call(&f.app, delete(&path, Some(&admin))).await, missing);
}

/// Every endpoint that names an object answers for another organisation's object exactly as
/// for one that does not exist (same status, same body), and listings leave it out.
#[tokio::test]
async fn another_organisations_objects_look_exactly_like_missing_ones() {
    use scribe_core::{JobId, MeetingId};
    let f = fixture().await;
    let admin = login(&f.app, "ada@example.org").await;
    let foreign = foreign_meeting(&f).await;
    let theirs = OrgScope::for_org(foreign.org_id);
    let stream = f
        .state
        .store
        .open_stream(
            &theirs,
            transcript_storage::NewStream {
                meeting_id: foreign.id,
                bot_id: None,
                resume_token_hash: transcript_storage::ResumeTokenHash([9; 32]),
            },
        )
        .await
        .expect("their stream");
    let job = f
        .state
        .store
        .create_job(
            &theirs,
            transcript_storage::NewJob {
                meeting_id: foreign.id,
                stream_id: stream.id,
                format: "wav".into(),
                bytes: 44,
                created_by: None,
            },
        )
        .await
        .expect("their job");

    let upload = |id: String| {
        Request::post(format!("/api/v1/meetings/{id}/recordings"))
            .header(header::AUTHORIZATION, format!("Bearer {admin}"))
            .header(header::CONTENT_TYPE, "audio/wav")
            .body(Body::from(vec![0u8; 64]))
            .expect("request")
    };
    let ticket = |id: String| {
        post(
            "/api/v1/ws-tickets",
            Some(&admin),
            &json!({ "meeting_id": id }),
        )
    };
    type MakeRequest<'a> = Box<dyn Fn(String) -> Request<Body> + 'a>;
    let requests: Vec<(&str, MakeRequest, String, String)> = vec![
        (
            "meeting",
            Box::new(|id| get(&format!("/api/v1/meetings/{id}"), Some(&admin))),
            foreign.id.to_string(),
            MeetingId::generate().to_string(),
        ),
        (
            "transcript",
            Box::new(|id| {
                get(
                    &format!("/api/v1/meetings/{id}/transcript?format=txt"),
                    Some(&admin),
                )
            }),
            foreign.id.to_string(),
            MeetingId::generate().to_string(),
        ),
        (
            "delete",
            Box::new(|id| delete(&format!("/api/v1/meetings/{id}"), Some(&admin))),
            foreign.id.to_string(),
            MeetingId::generate().to_string(),
        ),
        (
            "upload",
            Box::new(upload),
            foreign.id.to_string(),
            MeetingId::generate().to_string(),
        ),
        (
            "ticket",
            Box::new(ticket),
            foreign.id.to_string(),
            MeetingId::generate().to_string(),
        ),
        (
            "job",
            Box::new(|id| get(&format!("/api/v1/jobs/{id}"), Some(&admin))),
            job.id.to_string(),
            JobId::generate().to_string(),
        ),
    ];
    for (what, request, foreign_id, missing_id) in &requests {
        let seen = call(&f.app, request(foreign_id.clone())).await;
        let missing = call(&f.app, request(missing_id.clone())).await;
        assert_eq!(seen.0, StatusCode::NOT_FOUND, "{what}: {}", seen.1);
        assert_eq!(seen, missing, "{what}: a foreign object must look missing");
    }
    let (status, list) = call(&f.app, get("/api/v1/meetings", Some(&admin))).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        !list.to_string().contains(&foreign.id.to_string()),
        "listed another organisation's meeting"
    );
    // Nothing of theirs was touched.
    f.state
        .store
        .get_meeting(&theirs, foreign.id)
        .await
        .expect("their meeting is still there");
}

#[tokio::test]
async fn admins_register_and_revoke_bots_and_nobody_else_does() {
    let f = fixture().await;
    let admin = login(&f.app, "ada@example.org").await;
    let viewer = login(&f.app, "vic@example.org").await;

    let (status, bot) = call(
        &f.app,
        post("/api/v1/bots", Some(&admin), &json!({"name": "Ward bot"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{bot}");
    let id = bot["bot_id"].as_str().expect("id").to_owned();
    let key = bot["api_key"].as_str().expect("key");
    assert_eq!(key.len(), 64);
    assert!(key.bytes().all(|b| b.is_ascii_hexdigit()));
    assert_eq!(bot["name"], "Ward bot");

    for (token, body, status) in [
        (&viewer, json!({"name": "Mine"}), StatusCode::FORBIDDEN),
        (&admin, json!({"name": "  "}), StatusCode::BAD_REQUEST),
        (
            &admin,
            json!({"name": "x", "role": "admin"}),
            StatusCode::BAD_REQUEST,
        ),
    ] {
        let (got, v) = call(&f.app, post("/api/v1/bots", Some(token), &body)).await;
        assert_eq!(got, status, "{body}: {v}");
    }
    let (got, _) = call(&f.app, delete(&format!("/api/v1/bots/{id}"), Some(&viewer))).await;
    assert_eq!(got, StatusCode::FORBIDDEN);

    // Revoking works once and again (idempotent); the store agrees.
    for _ in 0..2 {
        let (got, v) = call(&f.app, delete(&format!("/api/v1/bots/{id}"), Some(&admin))).await;
        assert_eq!(got, StatusCode::NO_CONTENT, "{v}");
    }
    let bot_id: scribe_core::BotId = id.parse().expect("id");
    assert!(f
        .state
        .store
        .is_bot_revoked(&f.scope, bot_id)
        .await
        .expect("revoked"));

    // Another organisation's bot, a missing one and a malformed id answer alike.
    let other = f
        .state
        .store
        .create_organisation("Elsewhere bots")
        .await
        .expect("org");
    let theirs = f
        .state
        .store
        .create_bot(&OrgScope::for_org(other.id), "Their bot")
        .await
        .expect("bot");
    let missing = call(
        &f.app,
        delete(
            &format!("/api/v1/bots/{}", scribe_core::BotId::generate()),
            Some(&admin),
        ),
    )
    .await;
    assert_eq!(missing.0, StatusCode::NOT_FOUND);
    for path in [
        format!("/api/v1/bots/{}", theirs.id),
        "/api/v1/bots/nope".into(),
    ] {
        assert_eq!(
            call(&f.app, delete(&path, Some(&admin))).await,
            missing,
            "{path}"
        );
    }
    assert!(!f
        .state
        .store
        .is_bot_revoked(&OrgScope::for_org(other.id), theirs.id)
        .await
        .expect("theirs untouched"));
}
