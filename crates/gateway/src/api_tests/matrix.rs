//! The access-control matrix: every endpoint that acts on something × every kind of caller
//! (each role, a bot, nobody) × the object's owner (the caller's own meeting, another member's
//! meeting of the same organisation, another organisation's object), each cell with the answer
//! the access policy says, written out here independently of the code that enforces it.
//!
//! The policy (PROTOCOL.md §4): a role gives a permission on every meeting of its organisation
//! (Admin → admin, Editor → write, Viewer → read, Guest → none) and an explicit grant on one
//! meeting can raise it; whoever creates a meeting administers it; Guests reach only meetings
//! shared with them; bots authenticate only on the ingest socket, where they write to their
//! organisation's meetings. Without the needed permission: 404 when the caller may not even
//! read the meeting (so a meeting's existence is not revealed), else 403. Another
//! organisation's objects answer exactly like missing ones — same status, same body.

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use scribe_auth::{derive_bot_key, ExposeSecret, SecretString};
use scribe_core::{MeetingId, OrgScope, UserId};
use serde_json::{json, Value};
use transcript_storage::{NewMeeting, NewUser};

use super::{call, fixture, login, Fixture, PASSWORD};

/// Who calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Caller {
    Admin,
    Editor,
    Viewer,
    Guest,
    /// A bot of the organisation, with its derived key.
    Bot,
    /// No credential.
    Nobody,
}

const CALLERS: [Caller; 6] = [
    Caller::Admin,
    Caller::Editor,
    Caller::Viewer,
    Caller::Guest,
    Caller::Bot,
    Caller::Nobody,
];

/// Whose object the request names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Target {
    /// The caller's own: a meeting they created (Admin, Editor) or one shared with them for
    /// reading (Viewer, Guest); for organisation objects, one of their organisation's.
    Own,
    /// A meeting of the caller's organisation created by someone else and not shared.
    Other,
    /// An object of another organisation.
    Foreign,
}

/// What an endpoint needs, as the policy states it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Needs {
    Read,
    Write,
    Admin,
    /// The organisation's Admin role (users, bots, policy, invitations).
    OrgAdmin,
    /// Any signed-in user (the organisation's own lists).
    SignedIn,
    /// The Editor or Admin role (creating meetings).
    Creator,
}

struct Endpoint {
    method: Method,
    /// `{m}` is the meeting, `{u}` a user, `{b}` a bot, `{i}` an invitation.
    path: &'static str,
    body: Option<Value>,
    needs: Needs,
    /// The answer when allowed.
    ok: StatusCode,
    /// Whether it names an object (else `Target` does not apply and only `Own` is run).
    targeted: bool,
    /// The credential it takes: the ingest socket takes a bot's, everything else a user's.
    bot_only: bool,
}

fn ep(method: Method, path: &'static str, body: Option<Value>, needs: Needs, ok: u16) -> Endpoint {
    let names_meeting_in_body = body.as_ref().is_some_and(|b| b.to_string().contains("{m}"));
    Endpoint {
        method,
        targeted: path.contains('{') || names_meeting_in_body,
        bot_only: path.starts_with("/ws/audio"),
        path,
        body,
        needs,
        ok: StatusCode::from_u16(ok).expect("status"),
    }
}

/// Every endpoint, destructive ones last (each caller gets fresh objects).
fn endpoints() -> Vec<Endpoint> {
    use Needs::*;
    vec![
        ep(Method::GET, "/api/v1/meetings", None, SignedIn, 200),
        ep(Method::GET, "/api/v1/meetings/{m}", None, Read, 200),
        ep(
            Method::GET,
            "/api/v1/meetings/{m}/transcript",
            None,
            Read,
            200,
        ),
        ep(
            Method::POST,
            "/api/v1/ws-tickets",
            Some(json!({"meeting_id": "{m}"})),
            Read,
            200,
        ),
        // Not an upgrade request: allowed callers reach the handler, whose upgrade check fails.
        ep(Method::GET, "/ws/transcription/{m}", None, Read, 400),
        ep(Method::GET, "/ws/audio/{m}", None, Write, 400),
        // An empty recording: allowed callers reach the handler, which refuses it.
        ep(
            Method::POST,
            "/api/v1/meetings/{m}/recordings",
            None,
            Write,
            400,
        ),
        ep(Method::GET, "/api/v1/meetings/{m}/grants", None, Admin, 200),
        ep(
            Method::PUT,
            "/api/v1/meetings/{m}/grants/{u}",
            Some(json!({"permission": "read"})),
            Admin,
            204,
        ),
        ep(
            Method::DELETE,
            "/api/v1/meetings/{m}/grants/{u}",
            None,
            Admin,
            204,
        ),
        ep(
            Method::POST,
            "/api/v1/meetings",
            Some(json!({"title": "New"})),
            Creator,
            201,
        ),
        ep(Method::GET, "/api/v1/users", None, OrgAdmin, 200),
        ep(
            Method::PATCH,
            "/api/v1/users/{u}",
            Some(json!({"role": "viewer"})),
            OrgAdmin,
            200,
        ),
        ep(
            Method::DELETE,
            "/api/v1/users/{u}/sessions",
            None,
            OrgAdmin,
            204,
        ),
        ep(Method::GET, "/api/v1/organisation", None, OrgAdmin, 200),
        ep(
            Method::PATCH,
            "/api/v1/organisation",
            Some(json!({"invite_domains": []})),
            OrgAdmin,
            200,
        ),
        ep(
            Method::PUT,
            "/api/v1/organisation/mfa",
            Some(json!({"mfa_required": false})),
            OrgAdmin,
            204,
        ),
        ep(Method::GET, "/api/v1/invites", None, OrgAdmin, 200),
        ep(
            Method::POST,
            "/api/v1/invites",
            Some(json!({"email": "{fresh}", "role": "viewer"})),
            OrgAdmin,
            201,
        ),
        ep(Method::DELETE, "/api/v1/invites/{i}", None, OrgAdmin, 204),
        ep(
            Method::POST,
            "/api/v1/bots",
            Some(json!({"name": "matrix"})),
            OrgAdmin,
            201,
        ),
        ep(Method::DELETE, "/api/v1/bots/{b}", None, OrgAdmin, 204),
        ep(Method::DELETE, "/api/v1/meetings/{m}", None, Admin, 204),
    ]
}

/// The caller's permission on the target meeting, per the policy.
fn meeting_permission(caller: Caller, target: Target) -> Option<Needs> {
    match (caller, target) {
        (_, Target::Foreign) | (Caller::Nobody, _) => None,
        (Caller::Bot, _) => Some(Needs::Write),
        (Caller::Admin, _) | (Caller::Editor, Target::Own) => Some(Needs::Admin),
        (Caller::Editor, Target::Other) => Some(Needs::Write),
        (Caller::Viewer, _) | (Caller::Guest, Target::Own) => Some(Needs::Read),
        (Caller::Guest, Target::Other) => None,
    }
}

/// The answer the policy gives.
fn expected(e: &Endpoint, caller: Caller, target: Target) -> StatusCode {
    // Credentials first: a bot's key opens only the ingest socket, a user's everything else.
    let authenticated = match caller {
        Caller::Nobody => false,
        Caller::Bot => e.bot_only,
        _ => !e.bot_only,
    };
    if !authenticated {
        return StatusCode::UNAUTHORIZED;
    }
    let role_allows = |needs: Needs| match needs {
        Needs::OrgAdmin => caller == Caller::Admin,
        Needs::Creator => matches!(caller, Caller::Admin | Caller::Editor),
        _ => true,
    };
    match e.needs {
        Needs::SignedIn => e.ok,
        Needs::OrgAdmin | Needs::Creator if !role_allows(e.needs) => StatusCode::FORBIDDEN,
        Needs::OrgAdmin | Needs::Creator => {
            if e.targeted && target == Target::Foreign {
                StatusCode::NOT_FOUND
            } else {
                e.ok
            }
        }
        needed => match meeting_permission(caller, target) {
            None => StatusCode::NOT_FOUND,
            Some(held) if held >= needed => e.ok,
            Some(_) => StatusCode::FORBIDDEN,
        },
    }
}

/// The objects one caller's requests name.
struct Objects {
    own_meeting: MeetingId,
    other_meeting: MeetingId,
    foreign_meeting: MeetingId,
    own_user: UserId,
    foreign_user: UserId,
    own_invite: String,
    foreign_invite: String,
    own_bot: String,
    foreign_bot: String,
}

struct World {
    f: Fixture,
    foreign: OrgScope,
    tokens: std::collections::HashMap<&'static str, String>,
    bot_id: String,
    bot_key: SecretString,
    serial: std::sync::atomic::AtomicU32,
}

impl World {
    /// The signed-in caller's address.
    fn email(caller: Caller) -> &'static str {
        match caller {
            Caller::Admin => "ada@example.org",
            Caller::Editor => "eddie@example.org",
            Caller::Viewer => "vic@example.org",
            Caller::Guest => "gus@example.org",
            Caller::Bot | Caller::Nobody => unreachable!("{caller:?} does not sign in"),
        }
    }

    async fn user_id(&self, email: &str) -> UserId {
        self.f
            .state
            .store
            .find_login_by_email(email)
            .await
            .expect("lookup")
            .expect("user")
            .user
            .id
    }

    async fn meeting(&self, scope: &OrgScope, title: &str) -> MeetingId {
        self.f
            .state
            .store
            .create_meeting(
                scope,
                NewMeeting {
                    title: title.into(),
                    created_by: None,
                },
            )
            .await
            .expect("meeting")
            .id
    }

    fn fresh_email(&self) -> String {
        let n = self
            .serial
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        format!("invitee{n}@example.org")
    }

    async fn invite(&self, scope: &OrgScope) -> String {
        self.f
            .state
            .store
            .create_invite(
                scope,
                transcript_storage::NewInvite {
                    hash: scribe_auth::token_digest(&self.fresh_email()),
                    email: self.fresh_email(),
                    role: "viewer".into(),
                    created_by: None,
                    expires_at_ms: u64::MAX >> 2,
                    user_id: None,
                },
            )
            .await
            .expect("invite")
            .id
            .to_string()
    }

    async fn bot(&self, scope: &OrgScope) -> String {
        self.f
            .state
            .store
            .create_bot(scope, "target")
            .await
            .expect("bot")
            .id
            .to_string()
    }

    /// Fresh objects for one caller: their own meeting (created through the API by Admins and
    /// Editors, shared for reading with Viewers and Guests), another member's, a foreign one.
    async fn objects(&self, caller: Caller) -> Objects {
        let own = self.f.scope;
        let own_meeting = match caller {
            Caller::Admin | Caller::Editor => {
                let token = &self.tokens[Self::email(caller)];
                let (status, v) = call(
                    &self.f.app,
                    json_request(
                        Method::POST,
                        "/api/v1/meetings",
                        Some(token),
                        Some(&json!({"title": "Mine"})),
                    ),
                )
                .await;
                assert_eq!(status, StatusCode::CREATED, "{v}");
                v["meeting_id"].as_str().expect("id").parse().expect("id")
            }
            Caller::Viewer | Caller::Guest => {
                let m = self.meeting(&own, "Shared").await;
                let user = self.user_id(Self::email(caller)).await;
                self.f
                    .state
                    .store
                    .set_meeting_grant(&own, m, user, Some("read".into()))
                    .await
                    .expect("grant");
                m
            }
            Caller::Bot | Caller::Nobody => self.meeting(&own, "Any").await,
        };
        Objects {
            own_meeting,
            other_meeting: self.meeting(&own, "Someone else's").await,
            foreign_meeting: self.meeting(&self.foreign, "Foreign").await,
            own_user: self.user_id("sam@example.org").await,
            foreign_user: self.user_id("bea@foreign.example").await,
            own_invite: self.invite(&own).await,
            foreign_invite: self.invite(&self.foreign).await,
            own_bot: self.bot(&own).await,
            foreign_bot: self.bot(&self.foreign).await,
        }
    }

    fn request(
        &self,
        e: &Endpoint,
        caller: Caller,
        path: &str,
        body: Option<&Value>,
    ) -> Request<Body> {
        let token = match caller {
            Caller::Nobody => None,
            Caller::Bot => Some(self.bot_key.expose_secret().to_owned()),
            user => Some(self.tokens[Self::email(user)].clone()),
        };
        let mut req = json_request(e.method.clone(), path, token.as_deref(), body);
        if caller == Caller::Bot {
            req.headers_mut()
                .insert("x-bot-id", self.bot_id.parse().expect("header"));
        }
        if path.ends_with("/recordings") {
            req.headers_mut()
                .insert(header::CONTENT_TYPE, "audio/wav".parse().expect("header"));
        }
        req
    }
}

fn json_request(
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<&Value>,
) -> Request<Body> {
    let mut b = Request::builder().method(method).uri(path);
    if let Some(t) = token {
        b = b.header(header::AUTHORIZATION, format!("Bearer {t}"));
    }
    match body {
        Some(v) => b
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(v.to_string())),
        None => b.body(Body::empty()),
    }
    .expect("request")
}

/// Fills an endpoint's path and body for one target.
fn fill(e: &Endpoint, o: &Objects, target: Target, fresh: String) -> (String, Option<Value>) {
    let (m, u, i, b) = match target {
        Target::Own => (o.own_meeting, o.own_user, &o.own_invite, &o.own_bot),
        Target::Other => (o.other_meeting, o.own_user, &o.own_invite, &o.own_bot),
        Target::Foreign => (
            o.foreign_meeting,
            o.foreign_user,
            &o.foreign_invite,
            &o.foreign_bot,
        ),
    };
    let sub = |s: &str| {
        s.replace("{m}", &m.to_string())
            .replace("{u}", &u.to_string())
            .replace("{i}", i)
            .replace("{b}", b)
            .replace("{fresh}", &fresh)
    };
    let body = e
        .body
        .as_ref()
        .map(|v| serde_json::from_str(&sub(&v.to_string())).expect("json"));
    (sub(e.path), body)
}

/// Objects that do not exist: the "missing" twins of foreign ones.
fn missing_objects() -> Objects {
    let random = || uuid::Uuid::new_v4().to_string();
    Objects {
        own_meeting: MeetingId::generate(),
        other_meeting: MeetingId::generate(),
        foreign_meeting: MeetingId::generate(),
        own_user: UserId::generate(),
        foreign_user: UserId::generate(),
        own_invite: random(),
        foreign_invite: random(),
        own_bot: random(),
        foreign_bot: random(),
    }
}

async fn world() -> World {
    let f = fixture().await;
    let store = &f.state.store;
    let hash = f
        .state
        .hasher
        .hash(&SecretString::from(PASSWORD))
        .expect("hash");
    let user = |email: &str, role: &str| NewUser {
        email: email.into(),
        password_hash: hash.as_str().to_owned(),
        role: role.into(),
    };
    for (email, role) in [
        ("eddie@example.org", "editor"),
        ("gus@example.org", "guest"),
        ("sam@example.org", "viewer"),
    ] {
        store
            .create_user(&f.scope, user(email, role))
            .await
            .expect("user");
    }
    let other = store.create_organisation("Foreign").await.expect("org");
    let foreign = OrgScope::for_org(other.id);
    store
        .create_user(&foreign, user("bea@foreign.example", "admin"))
        .await
        .expect("user");
    let bot = store.create_bot(&f.scope, "ingest").await.expect("bot");
    let bot_key = derive_bot_key(&SecretString::from(crate::testing::BOT_KEY_SECRET), bot.id);
    let mut tokens = std::collections::HashMap::new();
    for email in [
        "ada@example.org",
        "eddie@example.org",
        "vic@example.org",
        "gus@example.org",
    ] {
        tokens.insert(email, login(&f.app, email).await);
    }
    World {
        f,
        foreign,
        tokens,
        bot_id: bot.id.to_string(),
        bot_key,
        serial: std::sync::atomic::AtomicU32::new(0),
    }
}

#[tokio::test]
async fn every_endpoint_role_and_owner_gets_the_answer_the_policy_gives() {
    let w = world().await;
    let endpoints = endpoints();
    let mut failures: Vec<String> = Vec::new();
    let mut cells = 0;
    for caller in CALLERS {
        // Fresh objects per caller and target: the destructive endpoints come last and act on
        // what this caller's cell created.
        for target in [Target::Own, Target::Other, Target::Foreign] {
            let objects = w.objects(caller).await;
            for e in &endpoints {
                if !e.targeted && target != Target::Own {
                    continue;
                }
                let (path, body) = fill(e, &objects, target, w.fresh_email());
                let want = expected(e, caller, target);
                let (got, v) = call(&w.f.app, w.request(e, caller, &path, body.as_ref())).await;
                cells += 1;
                if got != want {
                    failures.push(format!(
                        "{caller:?} {target:?} {} {}: want {want}, got {got} {v}",
                        e.method, e.path
                    ));
                    continue;
                }
                if target == Target::Foreign && got == StatusCode::NOT_FOUND {
                    // Exactly like a missing object: same status and body.
                    let (twin, twin_body) = fill(e, &missing_objects(), target, w.fresh_email());
                    let missing =
                        call(&w.f.app, w.request(e, caller, &twin, twin_body.as_ref())).await;
                    if missing != (got, v.clone()) {
                        failures.push(format!(
                            "{caller:?} {} {}: foreign answers {got} {v}, missing answers {} {}",
                            e.method, e.path, missing.0, missing.1
                        ));
                    }
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {cells} cells differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
    // 23 endpoints; 14 name an object (3 owners each), 9 do not: per caller 14×3 + 9 = 51.
    assert_eq!(cells, 6 * 51, "the matrix shrank");
}

#[tokio::test]
async fn guests_list_only_what_is_shared_with_them_and_grants_can_be_taken_back() {
    let w = world().await;
    let objects = w.objects(Caller::Guest).await;
    let token = &w.tokens["gus@example.org"];
    let (status, v) = call(
        &w.f.app,
        json_request(Method::GET, "/api/v1/meetings", Some(token), None),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let listed: Vec<&str> = v["meetings"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|m| m["meeting_id"].as_str())
        .collect();
    assert_eq!(listed, vec![objects.own_meeting.to_string().as_str()]);
    // The admin takes the share back: the meeting is gone for the guest at once.
    let gus = w.user_id("gus@example.org").await;
    let admin = &w.tokens["ada@example.org"];
    let path = format!("/api/v1/meetings/{}/grants/{gus}", objects.own_meeting);
    assert_eq!(
        call(
            &w.f.app,
            json_request(Method::DELETE, &path, Some(admin), None)
        )
        .await
        .0,
        StatusCode::NO_CONTENT
    );
    let get = format!("/api/v1/meetings/{}", objects.own_meeting);
    assert_eq!(
        call(&w.f.app, json_request(Method::GET, &get, Some(token), None))
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    // A grant of an unknown permission is refused by name; one to a foreign user is not found.
    let (status, v) = call(
        &w.f.app,
        json_request(
            Method::PUT,
            &path,
            Some(admin),
            Some(&json!({"permission": "owner"})),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(v.to_string().contains("permission"), "{v}");
    let bea = w.user_id("bea@foreign.example").await;
    let foreign = format!("/api/v1/meetings/{}/grants/{bea}", objects.own_meeting);
    assert_eq!(
        call(
            &w.f.app,
            json_request(
                Method::PUT,
                &foreign,
                Some(admin),
                Some(&json!({"permission": "read"}))
            )
        )
        .await
        .0,
        StatusCode::NOT_FOUND
    );
}
