//! Integration settings an Admin enters (PROTOCOL.md §4): the organisation's alert webhook.
//! The URL is checked when it is set and again on every call (`outbound`), stored sealed, and
//! never returned or logged — the API only says whether it is set.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use scribe_core::ErrorCode;
use serde::Deserialize;

use crate::api::{json_body, unix_ms};
use crate::app::AppState;
use crate::auth::{api_user, internal, store_error};
use crate::error::ApiError;
use crate::outbound::{self, OutboundError};
use crate::users::require_admin;

/// The stored name of the alert webhook.
const WEBHOOK: &str = "alert_webhook";

fn refused(e: &OutboundError) -> ApiError {
    ApiError::new(
        ErrorCode::BadRequest,
        format!("invalid JSON body at `url`: {e}"),
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WebhookRequest {
    url: String,
}

/// `PUT /api/v1/organisation/webhook {url}` (Admin) → `204`. Only public http(s) hosts: a URL
/// that names or resolves to a loopback, private, link-local or metadata address is 400.
pub async fn set_webhook(
    State(app): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let principal = api_user(&app, &headers).await?;
    let req: WebhookRequest = json_body(&headers, &body)?;
    require_admin(&principal, "setting the alert webhook")?;
    outbound::check(&req.url).await.map_err(|e| {
        tracing::info!(reason = %e, "alert webhook refused");
        refused(&e)
    })?;
    app.store
        .set_integration(&principal.scope(), WEBHOOK, Some(req.url.trim().to_owned()))
        .await
        .map_err(|e| store_error("webhook store", e))?;
    tracing::info!(by = ?principal.user_id(), "alert webhook set");
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `DELETE /api/v1/organisation/webhook` (Admin) → `204`.
pub async fn delete_webhook(
    State(app): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let principal = api_user(&app, &headers).await?;
    require_admin(&principal, "removing the alert webhook")?;
    app.store
        .set_integration(&principal.scope(), WEBHOOK, None)
        .await
        .map_err(|e| store_error("webhook remove", e))?;
    tracing::info!(by = ?principal.user_id(), "alert webhook removed");
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `GET /api/v1/organisation/integrations` (Admin) → `{"alert_webhook": {"set": bool}}`: never
/// the values.
pub async fn list(State(app): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    let principal = api_user(&app, &headers).await?;
    require_admin(&principal, "integration settings")?;
    let names = app
        .store
        .integration_names(&principal.scope())
        .await
        .map_err(|e| internal("integration list", &e))?;
    Ok(Json(serde_json::json!({
        "alert_webhook": { "set": names.iter().any(|n| n == WEBHOOK) },
    }))
    .into_response())
}

/// `POST /api/v1/organisation/webhook/test` (Admin) → `200 {"delivered":true,"status"}` once the
/// webhook answered (2xx–5xx other than a redirect), or 400/502 saying why not: no webhook set,
/// the URL now resolves to a non-public address, a redirect (not followed), a timeout.
pub async fn test_webhook(
    State(app): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let principal = api_user(&app, &headers).await?;
    require_admin(&principal, "testing the alert webhook")?;
    let scope = principal.scope();
    let url = app
        .store
        .integration(&scope, WEBHOOK)
        .await
        .map_err(|e| store_error("webhook read", e))?
        .ok_or_else(|| ApiError::new(ErrorCode::BadRequest, "no alert webhook is set"))?;
    let checked = outbound::check(&url).await.map_err(|e| refused(&e))?;
    let event = serde_json::json!({
        "type": "test",
        "organisation_id": scope.org_id().to_string(),
        "at_ms": unix_ms(app.clock.now()),
    });
    match outbound::post_json(&checked, event.to_string().as_bytes()).await {
        Ok(status) => {
            tracing::info!(status, "alert webhook test delivered");
            Ok(Json(serde_json::json!({ "delivered": true, "status": status })).into_response())
        }
        Err(e) => {
            tracing::info!(reason = %e, "alert webhook test failed");
            Err(ApiError::new(
                ErrorCode::BadGateway,
                format!("the alert webhook was not reached: {e}"),
            ))
        }
    }
}
