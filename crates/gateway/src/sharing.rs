//! Who may do what with one meeting (PROTOCOL.md §4, "Meeting access"): an Admin of the
//! meeting lists, gives and takes away explicit grants. A grant to a Guest is how a meeting is
//! shared with them. The access middleware has checked Admin access before these run.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use scribe_auth::MeetingPermission;
use scribe_core::{ErrorCode, UserId};
use serde::{Deserialize, Serialize};

use crate::access::MeetingAccess;
use crate::api::json_body;
use crate::app::AppState;
use crate::auth::{internal, store_error};
use crate::error::ApiError;

#[derive(Serialize)]
struct GrantView {
    user_id: String,
    permission: &'static str,
    granted_at_ms: u64,
}

/// `GET /api/v1/meetings/{id}/grants` → `{grants: [{user_id, permission, granted_at_ms}]}`.
pub async fn list(
    State(app): State<AppState>,
    access: MeetingAccess,
) -> Result<Response, ApiError> {
    let grants = app
        .store
        .list_meeting_grants(&access.principal.scope(), access.meeting.id)
        .await
        .map_err(|e| internal("grant list", &e))?;
    let views: Vec<GrantView> = grants
        .into_iter()
        .filter_map(|g| {
            Some(GrantView {
                user_id: g.user_id.to_string(),
                permission: MeetingPermission::parse(&g.permission)?.as_str(),
                granted_at_ms: g.granted_at_ms,
            })
        })
        .collect();
    Ok(Json(serde_json::json!({ "grants": views })).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GrantRequest {
    permission: String,
}

/// `PUT /api/v1/meetings/{id}/grants/{user_id} {permission: read|write|admin}` → `204`.
/// The user must belong to the organisation (another organisation's user is not found).
pub async fn put(
    State(app): State<AppState>,
    access: MeetingAccess,
    Path((_, user)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let req: GrantRequest = json_body(&headers, &body)?;
    let user = parse_user(&user)?;
    let permission = MeetingPermission::parse(&req.permission).ok_or_else(|| {
        ApiError::new(
            ErrorCode::BadRequest,
            "invalid JSON body at `permission`: expected read, write or admin",
        )
    })?;
    set(&app, &access, user, Some(permission)).await
}

/// `DELETE /api/v1/meetings/{id}/grants/{user_id}` → `204` (also when there was none).
pub async fn delete(
    State(app): State<AppState>,
    access: MeetingAccess,
    Path((_, user)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    set(&app, &access, parse_user(&user)?, None).await
}

async fn set(
    app: &AppState,
    access: &MeetingAccess,
    user: UserId,
    permission: Option<MeetingPermission>,
) -> Result<Response, ApiError> {
    app.store
        .set_meeting_grant(
            &access.principal.scope(),
            access.meeting.id,
            user,
            permission.map(|p| p.as_str().to_owned()),
        )
        .await
        .map_err(|e| store_error("meeting grant", e))?;
    tracing::info!(by = ?access.principal.user_id(), meeting = %access.meeting.id, %user,
        permission = ?permission, "meeting grant changed");
    Ok(StatusCode::NO_CONTENT.into_response())
}

fn parse_user(raw: &str) -> Result<UserId, ApiError> {
    raw.parse().map_err(|_| ApiError::not_found())
}
