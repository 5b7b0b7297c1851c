//! `POST /api/v1/bots {name}` and `DELETE /api/v1/bots/{id}` (PROTOCOL.md §4, Admin only):
//! registering a meeting bot (its API key, derived from its id, is shown once and never stored)
//! and revoking it. Another organisation's bot is the same 404 as a missing one.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use scribe_auth::{derive_bot_key, ExposeSecret, Principal, Role};
use scribe_core::{BotId, ErrorCode};
use serde::Deserialize;

use crate::api::json_body;
use crate::app::AppState;
use crate::auth::{api_user, internal, store_error};
use crate::error::ApiError;

const MAX_NAME_CHARS: usize = 200;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateBot {
    name: String,
}

fn require_admin(principal: &Principal, what: &str) -> Result<(), ApiError> {
    if principal.role() == Some(Role::Admin) {
        return Ok(());
    }
    Err(ApiError::new(
        ErrorCode::Forbidden,
        format!("{what} needs the Admin role"),
    ))
}

/// `POST /api/v1/bots {name}` → `201 {bot_id, name, api_key, created_at_ms}`. The key is in this
/// answer only: it is derived from the bot id with the server's `bot_key_secret`, never stored.
pub async fn create(
    State(app): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let principal = api_user(&app, &headers).await?;
    let req: CreateBot = json_body(&headers, &body)?;
    require_admin(&principal, "registering bots")?;
    let name = req.name.trim();
    if name.is_empty()
        || name.chars().count() > MAX_NAME_CHARS
        || name.chars().any(char::is_control)
    {
        return Err(ApiError::new(
            ErrorCode::BadRequest,
            format!("`name` must be 1 to {MAX_NAME_CHARS} characters, without control characters"),
        ));
    }
    let bot = app
        .store
        .create_bot(&principal.scope(), name)
        .await
        .map_err(|e| internal("bot create", &e))?;
    let key = derive_bot_key(&app.bot_key_secret(), bot.id);
    tracing::info!(bot_id = %bot.id, "bot registered");
    Ok((
        StatusCode::CREATED,
        Json(serde_json::json!({
            "bot_id": bot.id.to_string(),
            "name": bot.name,
            "api_key": key.expose_secret(),
            "created_at_ms": bot.created_at_ms,
        })),
    )
        .into_response())
}

/// `DELETE /api/v1/bots/{id}` → `204`: the bot's key no longer connects or resumes (revoking
/// twice is fine).
pub async fn revoke(
    State(app): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let principal = api_user(&app, &headers).await?;
    let bot: BotId = id.parse().map_err(|_| ApiError::not_found())?;
    require_admin(&principal, "revoking bots")?;
    app.store
        .revoke_bot(&principal.scope(), bot)
        .await
        .map_err(|e| store_error("bot revoke", e))?;
    tracing::info!(bot_id = %bot, "bot revoked");
    Ok(StatusCode::NO_CONTENT.into_response())
}
