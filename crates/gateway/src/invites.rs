//! Joining: registration is by invitation only (PROTOCOL.md §4), and the first administrator of
//! a fresh install is made with the one-time setup code `serve` prints on its console.
//!
//! An invitation names an address and a role; its token (256 random bits) is shown once to the
//! Admin who made it, only its SHA-256 is stored, it expires after the configured TTL and
//! makes one account. The address must be at one of the organisation's allowed domains, when
//! it has any (checked when inviting and again when accepting). Every way an acceptance can
//! fail — unknown, used, expired, withdrawn, another address — gets the same answer.

use std::sync::Mutex;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use scribe_auth::{
    backup_code_hash, ExposeSecret, PasswordContext, PasswordPolicy, Role, SecretString,
};
use scribe_core::{ErrorCode, InviteId, OrgScope};
use serde::{Deserialize, Serialize};
use transcript_storage::{Invite, NewInvite, NewUser, StoreError};

use crate::api::{json_body, unix_ms};
use crate::app::AppState;
use crate::auth::{api_user, internal, store_error};
use crate::error::ApiError;
use crate::users::require_admin;

use crate::signin::{MAX_EMAIL_BYTES, MAX_PASSWORD_BYTES};

/// The one-time setup code of a fresh install: only its hash, taken once.
#[derive(Default)]
pub struct SetupCode(Mutex<Option<[u8; 32]>>);

impl SetupCode {
    /// Arms the code whose hash is `hash` (from `scribe_auth::one_time_code`).
    pub fn arm(&self, hash: [u8; 32]) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(hash);
    }

    /// Whether a code is waiting to be used.
    pub fn is_armed(&self) -> bool {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).is_some()
    }

    /// Spends the code if `presented` is it (compared as hashes, in constant time).
    fn take(&self, presented: &str) -> bool {
        let Some(hash) = backup_code_hash(presented) else {
            return false;
        };
        let mut slot = self.0.lock().unwrap_or_else(|p| p.into_inner());
        // Hashes compared without an early exit.
        let matches = slot.is_some_and(|armed| {
            armed
                .iter()
                .zip(hash.iter())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0
        });
        if matches {
            *slot = None;
        }
        matches
    }
}

fn looks_like_email(email: &str) -> bool {
    let Some((local, domain)) = email.rsplit_once('@') else {
        return false;
    };
    !local.is_empty()
        && crate::users::normalise_domain(domain).is_ok()
        && email.len() <= MAX_EMAIL_BYTES
        && !email.contains(char::is_whitespace)
}

fn bad_request(msg: impl Into<String>) -> ApiError {
    ApiError::new(ErrorCode::BadRequest, msg)
}

/// Checks a new password against the policy (length, common passwords, the user's own
/// details); the message says what to change and never echoes the password.
pub(crate) async fn hash_new_password(
    app: &AppState,
    password: String,
    email: &str,
    org_name: &str,
) -> Result<String, ApiError> {
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(bad_request(format!(
            "invalid JSON body at `password`: longer than {MAX_PASSWORD_BYTES} bytes"
        )));
    }
    let password = SecretString::from(password);
    PasswordPolicy::default()
        .check(
            &password,
            &PasswordContext {
                email: Some(email),
                other: &[org_name],
            },
        )
        .map_err(|e| bad_request(format!("invalid JSON body at `password`: {e}")))?;
    let hasher = app.hasher.clone();
    let hash = tokio::task::spawn_blocking(move || hasher.hash(&password))
        .await
        .map_err(|e| internal("password hash", &e))?
        .map_err(|e| internal("password hash", &e))?;
    Ok(hash.into_string())
}

/// [`hash_new_password`] for a member of organisation `org` (its name is one of the personal
/// words a password may not be built from).
pub(crate) async fn hash_for_member(
    app: &AppState,
    password: String,
    email: &str,
    org: scribe_core::OrgId,
) -> Result<String, ApiError> {
    let org = app
        .store
        .get_organisation(org)
        .await
        .map_err(|e| store_error("organisation read", e))?;
    hash_new_password(app, password, email, &org.name).await
}

fn domain_allowed(domains: &[String], email: &str) -> bool {
    let domain = email
        .rsplit_once('@')
        .map(|(_, d)| d.trim_end_matches('.').to_ascii_lowercase())
        .unwrap_or_default();
    domains.is_empty() || domains.contains(&domain)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct InviteRequest {
    email: String,
    role: String,
}

#[derive(Serialize)]
struct InviteView {
    invite_id: String,
    role: String,
    created_at_ms: u64,
    expires_at_ms: u64,
}

impl From<Invite> for InviteView {
    fn from(i: Invite) -> Self {
        Self {
            invite_id: i.id.to_string(),
            role: Role::from_stored(&i.role).as_str().to_owned(),
            created_at_ms: i.created_at_ms,
            expires_at_ms: i.expires_at_ms,
        }
    }
}

/// `POST /api/v1/invites {email, role}` (Admin) → `201 {invite_id, invite_token, expires_in,
/// …}`; the token is shown only here.
pub async fn create(
    State(app): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let principal = api_user(&app, &headers).await?;
    let req: InviteRequest = json_body(&headers, &body)?;
    require_admin(&principal, "inviting people")?;
    let email = req.email.trim();
    if !looks_like_email(email) {
        return Err(bad_request(
            "invalid JSON body at `email`: not an email address",
        ));
    }
    let role: Role = req
        .role
        .parse()
        .map_err(|e| bad_request(format!("invalid JSON body at `role`: {e}")))?;
    let scope = principal.scope();
    let policy = app
        .store
        .org_policy(&scope)
        .await
        .map_err(|e| store_error("policy read", e))?;
    if !domain_allowed(&policy.invite_domains, email) {
        return Err(bad_request(
            "invalid JSON body at `email`: the organisation only invites addresses at its \
             allowed domains",
        ));
    }
    let (token, hash) = scribe_auth::new_url_token().map_err(|e| internal("invite token", &e))?;
    let ttl = app.config.invite_ttl;
    let expires_at_ms = unix_ms(app.clock.now() + ttl);
    let invite = app
        .store
        .create_invite(
            &scope,
            NewInvite {
                hash,
                email: email.to_owned(),
                role: role.as_str().to_owned(),
                created_by: principal.user_id(),
                expires_at_ms,
                user_id: None,
            },
        )
        .await
        .map_err(|e| match e {
            StoreError::Conflict(_) => {
                ApiError::new(ErrorCode::Conflict, "that address already has an account")
            }
            other => store_error("invite create", other),
        })?;
    tracing::info!(by = ?principal.user_id(), invite = %invite.id, role = %role, "invitation made");
    let mut view = serde_json::to_value(InviteView::from(invite)).unwrap_or_default();
    if let Some(obj) = view.as_object_mut() {
        obj.insert(
            "invite_token".into(),
            token.expose_secret().to_owned().into(),
        );
        obj.insert("expires_in".into(), ttl.as_secs().into());
    }
    Ok((StatusCode::CREATED, Json(view)).into_response())
}

/// `GET /api/v1/invites` (Admin): the open invitations (never their tokens or addresses).
pub async fn list(State(app): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    let principal = api_user(&app, &headers).await?;
    require_admin(&principal, "listing invitations")?;
    let invites = app
        .store
        .list_invites(&principal.scope(), unix_ms(app.clock.now()))
        .await
        .map_err(|e| internal("invite list", &e))?;
    let views: Vec<InviteView> = invites.into_iter().map(InviteView::from).collect();
    Ok(Json(serde_json::json!({ "invites": views })).into_response())
}

/// `DELETE /api/v1/invites/{id}` (Admin) → `204`: the invitation can no longer be used.
pub async fn revoke(
    State(app): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let principal = api_user(&app, &headers).await?;
    require_admin(&principal, "withdrawing invitations")?;
    let id: InviteId = id.parse().map_err(|_| ApiError::not_found())?;
    app.store
        .revoke_invite(&principal.scope(), id)
        .await
        .map_err(|e| store_error("invite revoke", e))?;
    tracing::info!(by = ?principal.user_id(), invite = %id, "invitation withdrawn");
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AcceptRequest {
    invite_token: String,
    email: String,
    password: String,
}

/// What a token stored in the invitations table is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TokenKind {
    /// Joining the organisation.
    Invitation,
    /// Setting a member's password.
    Reset,
}

/// The open token of `kind` that `token` is, for `email`, with its hash and the time of the
/// lookup: `None` for every kind of failure alike (unknown, used, expired, withdrawn, another
/// address, the other kind), logged without details.
pub(crate) async fn open_token(
    app: &AppState,
    token: &str,
    email: &str,
    kind: TokenKind,
) -> Result<Option<(Invite, [u8; 32], u64)>, ApiError> {
    if email.len() > MAX_EMAIL_BYTES || token.len() > 100 {
        return Ok(None);
    }
    let hash = scribe_auth::token_digest(token.trim());
    let now_ms = unix_ms(app.clock.now());
    let found = app
        .store
        .find_invite(&hash, email, now_ms)
        .await
        .map_err(|e| internal("invitation lookup", &e))?
        .filter(|i| (i.user_id.is_some()) == (kind == TokenKind::Reset));
    if found.is_none() {
        tracing::info!(
            ?kind,
            "token refused: unknown, used, expired or another address"
        );
    }
    Ok(found.map(|i| (i, hash, now_ms)))
}

fn invalid_invitation() -> ApiError {
    bad_request("the invitation is not valid: it may have expired, been used or withdrawn, or be for another address")
}

/// `POST /api/v1/invites/accept {invite_token, email, password}` → `201 {user_id}`; then sign
/// in as usual. Throttled like sign-in.
pub async fn accept(
    State(app): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let req: AcceptRequest = json_body(&headers, &body)?;
    let email = req.email.trim().to_owned();
    let Some((invite, hash, now_ms)) =
        open_token(&app, &req.invite_token, &email, TokenKind::Invitation).await?
    else {
        return Err(invalid_invitation());
    };
    let scope = OrgScope::for_org(invite.org_id);
    let policy = app
        .store
        .org_policy(&scope)
        .await
        .map_err(|e| store_error("policy read", e))?;
    if !domain_allowed(&policy.invite_domains, &email) {
        tracing::info!(invite = %invite.id, "invitation refused: domain no longer allowed");
        return Err(invalid_invitation());
    }
    let password_hash = hash_for_member(&app, req.password, &email, invite.org_id).await?;
    let user = app
        .store
        .accept_invite(&invite, &hash, &email, password_hash, now_ms)
        .await
        .map_err(|e| match e {
            StoreError::NotFound => invalid_invitation(),
            StoreError::Conflict(_) => {
                ApiError::new(ErrorCode::Conflict, "that address already has an account")
            }
            other => internal("invite accept", &other),
        })?;
    tracing::info!(invite = %invite.id, user_id = %user.id, "invitation accepted");
    Ok((
        StatusCode::CREATED,
        Json(serde_json::json!({ "user_id": user.id.to_string() })),
    )
        .into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SetupRequest {
    setup_code: String,
    email: String,
    password: String,
    organisation: String,
}

/// `POST /api/v1/setup {setup_code, email, password, organisation}` → `201 {user_id,
/// org_id}`: the first administrator of a fresh install. Only while no account exists and
/// only with the code `serve` printed on its console; the code works once.
pub async fn setup(
    State(app): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let req: SetupRequest = json_body(&headers, &body)?;
    let closed = || ApiError::new(ErrorCode::Forbidden, "this server is already set up");
    if !app.setup.is_armed() {
        return Err(closed());
    }
    let email = req.email.trim().to_owned();
    if !looks_like_email(&email) {
        return Err(bad_request(
            "invalid JSON body at `email`: not an email address",
        ));
    }
    let org_name = req.organisation.trim().to_owned();
    if org_name.is_empty() || org_name.chars().count() > 200 {
        return Err(bad_request(
            "invalid JSON body at `organisation`: 1 to 200 characters",
        ));
    }
    // The password is checked before the code is spent, so a weak one costs no new code.
    let password_hash = hash_new_password(&app, req.password, &email, &org_name).await?;
    if !app.setup.take(&req.setup_code) {
        tracing::info!("setup refused: wrong code");
        return Err(ApiError::new(
            ErrorCode::Forbidden,
            "wrong setup code (it is printed on the server's console)",
        ));
    }
    if app
        .store
        .has_users()
        .await
        .map_err(|e| internal("setup check", &e))?
    {
        return Err(closed());
    }
    let org = match app
        .store
        .find_organisation_by_name(&org_name)
        .await
        .map_err(|e| internal("organisation lookup", &e))?
    {
        Some(o) => o,
        None => app
            .store
            .create_organisation(&org_name)
            .await
            .map_err(|e| internal("organisation create", &e))?,
    };
    let user = app
        .store
        .create_user(
            &OrgScope::for_org(org.id),
            NewUser {
                email,
                password_hash,
                role: Role::Admin.as_str().to_owned(),
            },
        )
        .await
        .map_err(|e| internal("first admin", &e))?;
    tracing::info!(user_id = %user.id, org_id = %org.id, "first administrator created with the setup code");
    Ok((
        StatusCode::CREATED,
        Json(serde_json::json!({
            "user_id": user.id.to_string(),
            "org_id": org.id.to_string(),
        })),
    )
        .into_response())
}
