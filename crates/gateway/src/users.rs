//! Administering people (PROTOCOL.md §4, Admin only unless said otherwise): list the
//! organisation's users, change a role, disable or re-enable an account (ending its sessions),
//! end a user's sessions, require MFA organisation-wide. Nobody changes their own role or
//! disables themselves; another organisation's users look exactly like missing ones.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use scribe_auth::{Principal, Role};
use scribe_core::{ErrorCode, UserId};
use serde::{Deserialize, Serialize};
use transcript_storage::{Revocation, User, UserChange};

use crate::api::{json_body, unix_ms};
use crate::app::AppState;
use crate::auth::{api_user, internal, store_error};
use crate::error::ApiError;

#[derive(Serialize)]
struct UserView {
    user_id: String,
    email: String,
    role: String,
    created_at_ms: u64,
}

impl From<User> for UserView {
    fn from(u: User) -> Self {
        Self {
            user_id: u.id.to_string(),
            email: u.email,
            role: Role::from_stored(&u.role).as_str().to_owned(),
            created_at_ms: u.created_at_ms,
        }
    }
}

/// Refuses (403) a caller who is not an Admin; `what` names the action.
pub(crate) fn require_admin(principal: &Principal, what: &str) -> Result<(), ApiError> {
    if principal.role().is_some_and(Role::is_admin) {
        return Ok(());
    }
    Err(ApiError::new(
        ErrorCode::Forbidden,
        format!("{what} needs the Admin role"),
    ))
}

fn user_in_path(raw: &str) -> Result<UserId, ApiError> {
    raw.parse().map_err(|_| ApiError::not_found())
}

/// `GET /api/v1/users` (Admin).
pub async fn list(State(app): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    let principal = api_user(&app, &headers).await?;
    require_admin(&principal, "listing users")?;
    let users = app
        .store
        .list_users(&principal.scope())
        .await
        .map_err(|e| internal("user list", &e))?;
    let views: Vec<UserView> = users.into_iter().map(UserView::from).collect();
    Ok(Json(serde_json::json!({ "users": views })).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ChangeRequest {
    role: Option<String>,
    disabled: Option<bool>,
}

/// `PATCH /api/v1/users/{id} {role?, disabled?}` (Admin, not on themselves) → the user.
/// Disabling ends every session of the user at once.
pub async fn change(
    State(app): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let principal = api_user(&app, &headers).await?;
    let req: ChangeRequest = json_body(&headers, &body)?;
    let user = user_in_path(&id)?;
    require_admin(&principal, "changing users")?;
    if principal.user_id() == Some(user) {
        return Err(ApiError::new(
            ErrorCode::Forbidden,
            "you cannot change your own role or disable yourself",
        ));
    }
    let role = req
        .role
        .as_deref()
        .map(|r| {
            r.parse::<Role>().map_err(|e| {
                ApiError::new(
                    ErrorCode::BadRequest,
                    format!("invalid JSON body at `role`: {e}"),
                )
            })
        })
        .transpose()?;
    let changed = app
        .store
        .change_user(
            &principal.scope(),
            user,
            UserChange {
                role: role.map(|r| r.as_str().to_owned()),
                disabled: req.disabled,
            },
            unix_ms(app.clock.now()),
        )
        .await
        .map_err(|e| store_error("user change", e))?;
    tracing::info!(admin = ?principal.user_id(), %user, role = ?role, disabled = ?req.disabled,
        "user changed");
    Ok(Json(UserView::from(changed)).into_response())
}

/// `DELETE /api/v1/users/{id}/sessions` (Admin, or the user themselves) → `204`: every
/// session of the user ends (refresh tokens stop working; access tokens at their next use).
pub async fn revoke_sessions(
    State(app): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let principal = api_user(&app, &headers).await?;
    let user = user_in_path(&id)?;
    if principal.user_id() != Some(user) {
        require_admin(&principal, "ending another user's sessions")?;
        // A foreign or missing user answers 404, as everywhere.
        app.store
            .get_user(&principal.scope(), user)
            .await
            .map_err(|e| store_error("user lookup", e))?;
    }
    let ended = app
        .store
        .revoke_sessions(
            &principal.scope(),
            Revocation::User(user),
            unix_ms(app.clock.now()),
        )
        .await
        .map_err(|e| internal("session revocation", &e))?;
    tracing::info!(by = ?principal.user_id(), %user, ended, "sessions revoked");
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MfaPolicy {
    mfa_required: bool,
}

/// `PUT /api/v1/organisation/mfa {mfa_required}` (Admin) → `204`. Required: every sign-in of
/// the organisation needs a second factor (users without one enrol during sign-in).
pub async fn set_mfa_policy(
    State(app): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let principal = api_user(&app, &headers).await?;
    let req: MfaPolicy = json_body(&headers, &body)?;
    require_admin(&principal, "the MFA policy")?;
    app.store
        .set_org_mfa_required(&principal.scope(), req.mfa_required)
        .await
        .map_err(|e| store_error("MFA policy", e))?;
    tracing::info!(by = ?principal.user_id(), required = req.mfa_required, "MFA policy set");
    Ok(StatusCode::NO_CONTENT.into_response())
}
