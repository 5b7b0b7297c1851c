//! Meeting access, decided in one place before any meeting handler runs.
//!
//! Every route with `{meeting_id}` in its path (the meeting API and both WebSockets) goes
//! through [`check`], a middleware that authenticates the caller with the credential the route
//! takes (access token; viewer ticket or token; bot key), loads the meeting and the caller's
//! grant on it in one query, works out the caller's permission and compares it with what the
//! route needs ([`required`]). Only then does the handler run, with the [`MeetingAccess`] in the
//! request's extensions. Routes that name a meeting elsewhere (the ticket's body, a job's
//! meeting) use the same [`resolve`].
//!
//! What a caller holds on a meeting of their organisation is the more of their role's default
//! (Admin → admin, Editor → write, Viewer → read, Guest → nothing) and their explicit grant on
//! it; bots hold write on their organisation's meetings. A meeting the caller may not read —
//! missing, another organisation's, or not shared with a Guest — answers exactly like a missing
//! one (404 / 4004); one they may read but not change answers 403 / 4003 naming what is needed.

use std::collections::HashMap;

use axum::extract::{FromRequestParts, MatchedPath, Path, Query, Request, State};
use axum::http::request::Parts;
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use scribe_auth::{MeetingPermission, Principal};
use scribe_core::{ErrorCode, MeetingId};
use transcript_storage::Meeting;

use crate::app::AppState;
use crate::auth::{self, store_error};
use crate::error::ApiError;

/// The caller of a meeting route and what they may do with the meeting.
#[derive(Clone, Debug)]
pub struct MeetingAccess {
    pub principal: Principal,
    pub meeting: Meeting,
    pub permission: MeetingPermission,
}

/// Which credential a meeting route takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Credential {
    /// `Authorization: Bearer` access token.
    Api,
    /// A viewer: ticket, token in the query, or bearer.
    Viewer,
    /// A bot's derived key.
    Bot,
}

/// The permission a meeting route needs, by method and route pattern. A route missing here
/// needs Admin (fail closed), and a test checks every routed meeting path is listed.
pub fn required(method: &Method, route: &str) -> MeetingPermission {
    use MeetingPermission::{Admin, Read, Write};
    match (method.as_str(), route) {
        ("GET", "/api/v1/meetings/{meeting_id}")
        | ("GET", "/api/v1/meetings/{meeting_id}/transcript")
        | ("GET", "/ws/transcription/{meeting_id}") => Read,
        ("POST", "/api/v1/meetings/{meeting_id}/recordings")
        | ("GET", "/ws/audio/{meeting_id}") => Write,
        _ => Admin,
    }
}

fn credential_of(route: &str) -> Credential {
    if route.starts_with("/ws/audio/") {
        Credential::Bot
    } else if route.starts_with("/ws/transcription/") {
        Credential::Viewer
    } else {
        Credential::Api
    }
}

/// The middleware on every `{meeting_id}` route.
pub async fn check(State(app): State<AppState>, req: Request, next: Next) -> Response {
    let (mut parts, body) = req.into_parts();
    let route = parts
        .extensions
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_default();
    let credential = credential_of(&route);
    if credential != Credential::Api
        && !crate::cors::origin_allowed(&parts.headers, &app.config.allowed_origins)
    {
        // A browser origin that is not allowed is refused before the upgrade.
        tracing::info!("socket refused before the upgrade: origin not allowed");
        return ApiError::new(ErrorCode::Forbidden, "origin not allowed").into_response();
    }
    let needed = required(&parts.method, &route);
    let err = match authorise(&app, &mut parts, credential, needed).await {
        Ok(access) => {
            parts.extensions.insert(access);
            return next.run(Request::from_parts(parts, body)).await;
        }
        Err(err) => err,
    };
    if credential == Credential::Api {
        return err.into_response();
    }
    // A WebSocket route: the refusal goes on the socket as a close code (PROTOCOL.md §1–2).
    match axum::extract::ws::WebSocketUpgrade::from_request_parts(&mut parts, &app).await {
        Ok(upgrade) => {
            app.counters
                .refused_total
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let timeout = app.config.ws.send_timeout;
            upgrade
                .on_upgrade(move |mut socket| async move {
                    crate::ws::refuse(&mut socket, &err, timeout).await;
                })
                .into_response()
        }
        // Not an upgrade request: the refusal as plain HTTP.
        Err(_) => err.into_response(),
    }
}

async fn authorise(
    app: &AppState,
    parts: &mut Parts,
    credential: Credential,
    needed: MeetingPermission,
) -> Result<MeetingAccess, ApiError> {
    let Path(params) = Path::<HashMap<String, String>>::from_request_parts(parts, app)
        .await
        .map_err(|_| ApiError::not_found())?;
    let raw = params.get("meeting_id").ok_or_else(ApiError::not_found)?;
    let Query(query) = Query::<HashMap<String, String>>::from_request_parts(parts, app)
        .await
        .map_err(|_| ApiError::new(ErrorCode::BadRequest, "malformed query string"))?;
    let principal = match credential {
        Credential::Api => auth::api_user(app, &parts.headers).await?,
        Credential::Bot => auth::bot(app, &query, &parts.headers).await?,
        Credential::Viewer => {
            // A ticket names its meeting: a malformed id is simply not found.
            let meeting: MeetingId = raw.parse().map_err(|_| ApiError::not_found())?;
            let (principal, session) = auth::viewer(app, &query, &parts.headers, meeting).await?;
            if let Some(session) = session {
                // For the viewer socket's re-check at every ping.
                parts.extensions.insert(session);
            }
            principal
        }
    };
    let meeting = crate::api::parse_meeting_id(raw)?;
    resolve(app, principal, meeting, needed).await
}

/// What `principal` may do with meeting `id`, if at least `needed`.
pub async fn resolve(
    app: &AppState,
    principal: Principal,
    id: MeetingId,
    needed: MeetingPermission,
) -> Result<MeetingAccess, ApiError> {
    let scope = principal.scope();
    let (meeting, permission) = match (&principal, principal.role()) {
        (Principal::User(user), Some(role)) => {
            let (meeting, grant) = app
                .store
                .meeting_access(&scope, id, user.user_id())
                .await
                .map_err(|e| store_error("meeting access", e))?;
            (
                meeting,
                MeetingPermission::effective(role, grant.as_deref()),
            )
        }
        _ => {
            // A bot streams into (and so writes) its organisation's meetings.
            let meeting = auth::get_meeting(app, &scope, id).await?;
            (meeting, Some(MeetingPermission::Write))
        }
    };
    match permission {
        None => Err(ApiError::not_found()),
        Some(held) if held >= needed => Ok(MeetingAccess {
            principal,
            meeting,
            permission: held,
        }),
        Some(held) => Err(ApiError::new(
            ErrorCode::Forbidden,
            format!("this needs {needed} access to the meeting; you have {held}"),
        )),
    }
}

/// The [`MeetingAccess`] the middleware attached (every `{meeting_id}` route has one).
impl<S: Send + Sync> FromRequestParts<S> for MeetingAccess {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts.extensions.remove::<MeetingAccess>().ok_or_else(|| {
            tracing::error!("a meeting route ran without the access middleware");
            ApiError::new(ErrorCode::Internal, "internal error")
        })
    }
}
