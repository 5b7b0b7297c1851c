//! Changing and resetting passwords (PROTOCOL.md §4).
//!
//! A signed-in user changes their password by giving the current one; every session ends and the
//! caller gets a new one. Nobody resets a password by email here (the service makes no outbound
//! calls): an Admin issues a one-hour reset token for a member and hands it over, and the member
//! sets a new password with it and their address. The public reset endpoint answers every
//! failure the same way, so it says nothing about which accounts exist.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use scribe_auth::{ExposeSecret, PasswordHasher, PhcHash, Role, SecretString};
use scribe_core::{ErrorCode, OrgScope, UserId};
use serde::Deserialize;
use transcript_storage::{NewInvite, StoreError, UserChange};

use crate::api::{json_body, unix_ms};
use crate::app::AppState;
use crate::auth::{api_user, internal, store_error};
use crate::error::ApiError;
use crate::invites::{hash_for_member, open_token, TokenKind};
use crate::signin::{attempts_of, count_failure, start_session};
use crate::users::require_admin;

/// How long a reset token lasts.
pub const RESET_TTL: std::time::Duration = std::time::Duration::from_secs(3600);

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ChangeRequest {
    current_password: String,
    new_password: String,
}

/// `POST /api/v1/auth/password {current_password, new_password}` (Bearer) → a new token pair;
/// every session of the user, this one included, has ended. A wrong current password counts
/// towards lockout like a failed sign-in.
pub async fn change(
    State(app): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let principal = api_user(&app, &headers).await?;
    let req: ChangeRequest = json_body(&headers, &body)?;
    let (Some(user_id), Some(role)) = (principal.user_id(), principal.role()) else {
        return Err(crate::auth::unauthenticated());
    };
    let scope = principal.scope();
    let record = app
        .store
        .get_login(&scope, user_id)
        .await
        .map_err(|e| store_error("user read", e))?;
    let user = &record.user;
    let wrong = || {
        ApiError::new(
            ErrorCode::BadRequest,
            "invalid JSON body at `current_password`: it is not your current password",
        )
    };
    if attempts_of(record.counters)
        .locked_at(unix_ms(app.clock.now()))
        .is_some()
        || req.current_password.len() > 1024
    {
        return Err(wrong());
    }
    let current = SecretString::from(req.current_password);
    let stored = PhcHash::from_stored(record.password_hash.clone());
    let hasher: std::sync::Arc<PasswordHasher> = app.hasher.clone();
    let ok = tokio::task::spawn_blocking(move || hasher.verify(&current, &stored).unwrap_or(false))
        .await
        .map_err(|e| internal("password check", &e))?;
    if !ok {
        tracing::info!(user_id = %user_id, "password change refused: wrong current password");
        count_failure(&app, &scope, user_id, record.counters).await;
        return Err(wrong());
    }
    let hash = hash_for_member(&app, req.new_password, &user.email, user.org_id).await?;
    set_password(&app, &scope, user_id, hash).await?;
    tracing::info!(user_id = %user_id, "password changed; every session ended");
    let pair = start_session(&app, user_id, user.org_id, role).await?;
    Ok(Json(pair).into_response())
}

async fn set_password(
    app: &AppState,
    scope: &OrgScope,
    user: UserId,
    hash: String,
) -> Result<(), ApiError> {
    app.store
        .change_user(
            scope,
            user,
            UserChange {
                password_hash: Some(hash),
                ..UserChange::default()
            },
            unix_ms(app.clock.now()),
        )
        .await
        .map_err(|e| store_error("password change", e))?;
    Ok(())
}

/// `POST /api/v1/users/{id}/password-reset` (Admin) → `201 {reset_token, expires_in}`: a
/// one-hour token (shown only here) the member uses with their address to set a new password.
pub async fn issue_reset(
    State(app): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let principal = api_user(&app, &headers).await?;
    require_admin(&principal, "resetting passwords")?;
    let user_id: UserId = id.parse().map_err(|_| ApiError::not_found())?;
    let scope = principal.scope();
    let user = app
        .store
        .get_user(&scope, user_id)
        .await
        .map_err(|e| store_error("user read", e))?;
    let (token, hash) = scribe_auth::new_url_token().map_err(|e| internal("reset token", &e))?;
    app.store
        .create_invite(
            &scope,
            NewInvite {
                hash,
                email: user.email,
                role: Role::from_stored(&user.role).as_str().to_owned(),
                created_by: principal.user_id(),
                expires_at_ms: unix_ms(app.clock.now() + RESET_TTL),
                user_id: Some(user_id),
            },
        )
        .await
        .map_err(|e| store_error("reset token", e))?;
    tracing::info!(by = ?principal.user_id(), user_id = %user_id, "password reset token issued");
    Ok((
        StatusCode::CREATED,
        Json(serde_json::json!({
            "reset_token": token.expose_secret(),
            "expires_in": RESET_TTL.as_secs(),
        })),
    )
        .into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ResetRequest {
    reset_token: String,
    email: String,
    new_password: String,
}

fn invalid_reset() -> ApiError {
    ApiError::new(
        ErrorCode::BadRequest,
        "the reset token is not valid: it may have expired or been used, or be for another address",
    )
}

/// `POST /api/v1/auth/password/reset {reset_token, email, new_password}` (no credential;
/// throttled like sign-in) → `204`; every session of the account has ended.
pub async fn reset(
    State(app): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let req: ResetRequest = json_body(&headers, &body)?;
    let email = req.email.trim().to_owned();
    let Some((invite, hash, now_ms)) =
        open_token(&app, &req.reset_token, &email, TokenKind::Reset).await?
    else {
        return Err(invalid_reset());
    };
    let password_hash = hash_for_member(&app, req.new_password, &email, invite.org_id).await?;
    let user = app
        .store
        .accept_invite(&invite, &hash, &email, password_hash, now_ms)
        .await
        .map_err(|e| match e {
            StoreError::NotFound => invalid_reset(),
            other => internal("password reset", &other),
        })?;
    tracing::info!(user_id = %user.id, "password reset; every session ended");
    Ok(StatusCode::NO_CONTENT.into_response())
}
