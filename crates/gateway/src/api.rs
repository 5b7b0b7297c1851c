//! The HTTP API (PROTOCOL.md §4): WebSocket tickets, meetings (sign-in is in `signin`). JSON
//! bodies with unknown fields are refused with a message naming the field.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use scribe_auth::{ExposeSecret, MeetingPermission, Principal, Role};
use scribe_core::{ErrorCode, MeetingId};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use transcript_storage::{Meeting, NewMeeting};

use crate::access::{self, MeetingAccess};
use crate::app::AppState;
use crate::auth::{self, api_user, internal};
use crate::error::ApiError;

/// Largest JSON body the API reads.
pub(crate) const MAX_JSON_BYTES: usize = 64 * 1024;
/// Longest meeting title.
const MAX_TITLE_CHARS: usize = 300;

/// Parses a JSON body; the error names the problem (unknown field, missing field, type).
pub(crate) fn json_body<T: DeserializeOwned>(
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<T, ApiError> {
    let is_json = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(';')
                .next()
                .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"))
        });
    if !is_json {
        return Err(ApiError::new(
            ErrorCode::UnsupportedMediaType,
            "expected Content-Type: application/json",
        ));
    }
    if body.len() > MAX_JSON_BYTES {
        return Err(ApiError::new(
            ErrorCode::PayloadTooLarge,
            format!("JSON body larger than {MAX_JSON_BYTES} bytes"),
        ));
    }
    let de = &mut serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        // serde_json's messages name fields and types, never echo values of strings.
        let msg = if path == "." || path.is_empty() {
            format!("invalid JSON body: {inner}")
        } else {
            format!("invalid JSON body at `{path}`: {inner}")
        };
        ApiError::new(ErrorCode::BadRequest, msg)
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TicketRequest {
    meeting_id: String,
}

#[derive(Serialize)]
struct TicketResponse {
    ticket: String,
    expires_in: u64,
}

/// `POST /api/v1/ws-tickets {meeting_id}` → a single-use ticket for the meeting's transcript
/// socket, valid 30 s. Needs Read access to the meeting (checked by `access::resolve`, as
/// the middleware checks path-addressed meetings).
pub async fn ws_ticket(
    State(app): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let token = auth::bearer(&headers).ok_or_else(auth::unauthenticated)?;
    let (principal, claims) = auth::checked_access(&app, token).await?;
    let req: TicketRequest = json_body(&headers, &body)?;
    let meeting = parse_meeting_id(&req.meeting_id)?;
    let principal = access::resolve(&app, principal, meeting, MeetingPermission::Read)
        .await?
        .principal;
    let issued = scribe_auth::issue_ticket(&principal, meeting, &*app.clock).map_err(|e| {
        let code = e.code();
        if code == ErrorCode::Internal {
            internal("ticket issue", &e)
        } else {
            ApiError::new(code, e.to_string())
        }
    })?;
    // In the store, so that any server sharing it honours the ticket once.
    let grant = &issued.grant;
    let ticket = transcript_storage::NewTicket {
        hash: grant.digest,
        user_id: grant.user_id,
        meeting_id: grant.meeting,
        role: grant.role.as_str().to_owned(),
        expires_at_ms: unix_ms(grant.expires),
        session_id: claims.session_id(),
    };
    app.store
        .put_ticket(
            &principal.scope(),
            ticket,
            unix_ms(app.clock.now()),
            scribe_auth::MAX_TICKETS_PER_USER,
        )
        .await
        .map_err(|e| match e {
            transcript_storage::StoreError::Conflict(_) => ApiError::new(
                ErrorCode::RateLimited,
                "too many outstanding websocket tickets; use or let them expire (30 s)",
            ),
            other => crate::auth::store_error("ticket store", other),
        })?;
    Ok(Json(TicketResponse {
        ticket: issued.ticket.expose_secret().to_owned(),
        expires_in: issued.expires_in.as_secs(),
    })
    .into_response())
}

#[derive(Serialize)]
struct MeetingView {
    meeting_id: String,
    title: String,
    created_at_ms: u64,
    last_seq: u64,
}

impl From<Meeting> for MeetingView {
    fn from(m: Meeting) -> Self {
        Self {
            meeting_id: m.id.to_string(),
            title: m.title,
            created_at_ms: m.created_at_ms,
            last_seq: m.last_seq,
        }
    }
}

/// `GET /api/v1/meetings`: the caller's organisation's meetings.
pub async fn list_meetings(
    State(app): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let principal = api_user(&app, &headers).await?;
    let meetings = match (principal.role(), principal.user_id()) {
        // Guests see the meetings shared with them, everyone else the organisation's.
        (Some(Role::Guest), Some(user)) => {
            app.store
                .list_granted_meetings(&principal.scope(), user)
                .await
        }
        _ => app.store.list_meetings(&principal.scope()).await,
    }
    .map_err(|e| internal("meeting list", &e))?;
    let views: Vec<MeetingView> = meetings.into_iter().map(MeetingView::from).collect();
    Ok(Json(serde_json::json!({ "meetings": views })).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateMeeting {
    title: String,
}

/// `POST /api/v1/meetings {title}` (Editor or Admin) → `201` with the meeting.
pub async fn create_meeting(
    State(app): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let principal = api_user(&app, &headers).await?;
    let req: CreateMeeting = json_body(&headers, &body)?;
    require_editor(&principal, "creating meetings")?;
    let title = req.title.trim();
    if title.is_empty() || title.chars().count() > MAX_TITLE_CHARS {
        return Err(ApiError::new(
            ErrorCode::BadRequest,
            format!("`title` must be 1 to {MAX_TITLE_CHARS} characters"),
        ));
    }
    let meeting = app
        .store
        .create_meeting(
            &principal.scope(),
            NewMeeting {
                title: title.to_owned(),
                created_by: principal.user_id(),
            },
        )
        .await
        .map_err(|e| internal("meeting create", &e))?;
    // Whoever creates a meeting administers it (an Editor may delete and share their own).
    if let (Some(role), Some(user)) = (principal.role(), principal.user_id()) {
        if role.default_meeting_permission() < Some(MeetingPermission::Admin) {
            app.store
                .set_meeting_grant(
                    &principal.scope(),
                    meeting.id,
                    user,
                    Some(MeetingPermission::Admin.as_str().to_owned()),
                )
                .await
                .map_err(|e| internal("meeting grant", &e))?;
        }
    }
    Ok((StatusCode::CREATED, Json(MeetingView::from(meeting))).into_response())
}

/// `GET /api/v1/meetings/{id}` (Read).
pub async fn get_meeting(access: MeetingAccess) -> Response {
    Json(MeetingView::from(access.meeting)).into_response()
}

/// `DELETE /api/v1/meetings/{id}` (Admin of the meeting) → `204`: the meeting, its streams,
/// grants and transcript are gone. Viewers watching it here are closed with 4004; a bot still
/// streaming into it is closed with 4004 at its next final (on any node sharing the store).
pub async fn delete_meeting(
    State(app): State<AppState>,
    access: MeetingAccess,
) -> Result<Response, ApiError> {
    let meeting = access.meeting.id;
    app.store
        .delete_meeting(&access.principal.scope(), meeting)
        .await
        .map_err(|e| auth::store_error("meeting delete", e))?;
    app.hub.remove(&meeting.to_string());
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Refuses (403) a caller who is neither Editor nor Admin; `what` names the action.
pub(crate) fn require_editor(principal: &Principal, what: &str) -> Result<(), ApiError> {
    if matches!(principal.role(), Some(Role::Admin | Role::Editor)) {
        return Ok(());
    }
    Err(ApiError::new(
        ErrorCode::Forbidden,
        format!("{what} needs the Editor or Admin role"),
    ))
}

/// A meeting id from a path or body: a malformed one is simply not found (ids are not
/// guessable, and a distinct error would say nothing useful).
pub fn parse_meeting_id(raw: &str) -> Result<MeetingId, ApiError> {
    raw.parse().map_err(|_| ApiError::not_found())
}

/// Unix milliseconds of a clock reading (0 before 1970, which a real clock never gives).
pub(crate) fn unix_ms(t: std::time::SystemTime) -> u64 {
    t.duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}
