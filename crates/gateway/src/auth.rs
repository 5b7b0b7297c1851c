//! Turning request credentials into a [`Principal`]: access tokens (`Authorization: Bearer`),
//! WebSocket tickets and tokens in the query (viewers), derived bot keys (bots). Every failure
//! answers the same `unauthenticated` whatever the reason (the reason goes to the log, never a
//! credential).

use std::collections::HashMap;

use axum::http::{header, HeaderMap};
use scribe_auth::{verify_bot_key, AuthError, Principal, Role};
use scribe_core::{BotId, ErrorCode, MeetingId, OrgScope};
use transcript_storage::{AccessState, Meeting, StoreError};

use crate::app::AppState;
use crate::error::ApiError;

/// The answer to a missing or bad credential.
pub fn unauthenticated() -> ApiError {
    ApiError::new(ErrorCode::Unauthenticated, "missing or invalid credentials")
}

/// The `Authorization: Bearer …` value, if the header is there and well-formed.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// The signed-in user behind an access token: signature, kind and times first (no storage
/// touched for a forged token), then one store query — the user is active, the session open,
/// the token not denylisted — which also gives the user's role as it is now.
pub async fn user_from_token(app: &AppState, token: &str) -> Result<Principal, ApiError> {
    Ok(checked_access(app, token).await?.0)
}

/// [`user_from_token`] with the token's verified claims (for logout, which denylists it).
pub async fn checked_access(
    app: &AppState,
    token: &str,
) -> Result<(Principal, scribe_auth::TokenClaims), ApiError> {
    let verified = app.tokens.verify_access(token).map_err(|e| {
        log_rejection("access token", &e);
        unauthenticated()
    })?;
    let claims = verified.claims();
    let Some(session) = claims.session_id() else {
        return Err(unauthenticated());
    };
    let state = app
        .store
        .access_state(
            &OrgScope::for_org(claims.org_id()),
            claims.user_id(),
            session,
            &scribe_auth::token_digest(token),
            crate::api::unix_ms(app.clock.now()),
        )
        .await
        .map_err(|e| internal("access check", &e))?;
    match state {
        AccessState::Active { role } => {
            let claims = claims.clone();
            Ok((
                verified.into_principal_with_role(Role::from_stored(&role)),
                claims,
            ))
        }
        AccessState::Ended(reason) => {
            tracing::info!(user_id = %claims.user_id(), reason, "access token rejected");
            Err(unauthenticated())
        }
    }
}

/// The signed-in user of an API request (`Authorization: Bearer`).
pub async fn api_user(app: &AppState, headers: &HeaderMap) -> Result<Principal, ApiError> {
    let token = bearer(headers).ok_or_else(unauthenticated)?;
    user_from_token(app, token).await
}

/// The session behind a viewer's credential, checked again at every ping of its socket.
#[derive(Clone, Copy, Debug)]
pub struct ViewerSession {
    pub session: scribe_core::SessionId,
    /// The access token's SHA-256 when the viewer came with a token (signing out denylists it);
    /// a ticket has none.
    pub token_digest: Option<[u8; 32]>,
}

/// A viewer of `meeting`: `?ticket=` (single use, on any server sharing the store), `?token=`,
/// or `Authorization: Bearer`; with the session the credential belongs to (`None` only for a
/// ticket issued before tickets recorded it).
pub async fn viewer(
    app: &AppState,
    query: &HashMap<String, String>,
    headers: &HeaderMap,
    meeting: MeetingId,
) -> Result<(Principal, Option<ViewerSession>), ApiError> {
    if let Some(ticket) = query.get("ticket") {
        let refuse = |e: scribe_auth::AuthError| {
            log_rejection("ws ticket", &e);
            unauthenticated()
        };
        let digest = scribe_auth::ticket_digest(ticket).map_err(refuse)?;
        // Taking it consumes it, whatever the checks below decide.
        let taken = app
            .store
            .take_ticket(&digest)
            .await
            .map_err(|e| internal("ticket lookup", &e))?;
        let Some(t) = taken else {
            return Err(refuse(scribe_auth::AuthError::InvalidTicket(
                scribe_auth::TicketRejection::Unknown,
            )));
        };
        let grant = scribe_auth::TicketGrant {
            digest,
            user_id: t.user_id,
            org_id: t.org_id,
            role: scribe_auth::Role::from_stored(&t.role),
            meeting: t.meeting_id,
            expires: std::time::UNIX_EPOCH + std::time::Duration::from_millis(t.expires_at_ms),
        };
        let principal = scribe_auth::redeem_grant(grant, meeting, &*app.clock).map_err(refuse)?;
        let session = t.session_id.map(|session| ViewerSession {
            session,
            token_digest: None,
        });
        return Ok((principal, session));
    }
    let token = match query.get("token") {
        Some(token) => token.as_str(),
        None => bearer(headers).ok_or_else(unauthenticated)?,
    };
    let (principal, claims) = checked_access(app, token).await?;
    let session = claims.session_id().map(|session| ViewerSession {
        session,
        token_digest: Some(scribe_auth::token_digest(token)),
    });
    Ok((principal, session))
}

/// A bot: `X-Bot-Id` + `Authorization: Bearer KEY`, or `?bot_id=&api_key=`. The key is checked
/// (constant time) before storage is asked anything; a revoked or unknown bot is refused the
/// same way as a wrong key.
pub async fn bot(
    app: &AppState,
    query: &HashMap<String, String>,
    headers: &HeaderMap,
) -> Result<Principal, ApiError> {
    let header_id = headers.get("x-bot-id").and_then(|v| v.to_str().ok());
    let (id, key) = match (header_id, bearer(headers)) {
        (Some(id), Some(key)) => (id, key),
        _ => match (query.get("bot_id"), query.get("api_key")) {
            (Some(id), Some(key)) => (id.as_str(), key.as_str()),
            _ => return Err(unauthenticated()),
        },
    };
    let bot_id: BotId = id.trim().parse().map_err(|_| unauthenticated())?;
    let verified = verify_bot_key(&app.bot_key_secret(), bot_id, key).map_err(|e| {
        log_rejection("bot key", &e);
        unauthenticated()
    })?;
    let stored = app
        .store
        .find_bot_for_auth(bot_id)
        .await
        .map_err(|e| internal("bot lookup", &e))?;
    match stored {
        Some(bot) if !bot.is_revoked() => Ok(verified.into_principal(bot.org_id)),
        _ => {
            tracing::info!(%bot_id, "bot refused: unknown or revoked");
            Err(unauthenticated())
        }
    }
}

/// The meeting `id` of `scope`'s organisation, or `not_found`.
pub async fn get_meeting(
    app: &AppState,
    scope: &OrgScope,
    id: MeetingId,
) -> Result<Meeting, ApiError> {
    app.store
        .get_meeting(scope, id)
        .await
        .map_err(|e| store_error("meeting lookup", e))
}

/// A storage failure as the client sees it: a missing (or foreign) row is `not_found`,
/// anything else an internal error logged as `what`.
pub fn store_error(what: &str, e: StoreError) -> ApiError {
    match e {
        StoreError::NotFound => ApiError::not_found(),
        other => internal(what, &other),
    }
}

/// An internal failure: logged with its cause, answered without it.
pub fn internal(what: &str, err: &dyn std::fmt::Display) -> ApiError {
    tracing::error!(error = %err, "{what} failed");
    ApiError::new(ErrorCode::Internal, "internal error")
}

fn log_rejection(what: &str, err: &AuthError) {
    // AuthError's Display never contains the credential.
    tracing::info!(reason = %err, "{what} rejected");
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn bearer_needs_the_scheme_and_a_value() {
        let mut h = HeaderMap::new();
        assert_eq!(bearer(&h), None);
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer abc"),
        );
        assert_eq!(bearer(&h), Some("abc"));
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("bearer  x "),
        );
        assert_eq!(bearer(&h), Some("x"));
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic abc"));
        assert_eq!(bearer(&h), None);
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer "));
        assert_eq!(bearer(&h), None);
    }
}
