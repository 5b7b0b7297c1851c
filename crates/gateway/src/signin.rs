//! Signing in and out (PROTOCOL.md §4): password login with lockout and the organisation's
//! address ranges, the second factor (TOTP or a backup code, behind a pre-MFA token),
//! refresh-token rotation with reuse detection, logout, and MFA enrolment. The attempt throttles
//! run before any of it, at the edge (`ratelimit`).
//!
//! Every refusal of a credential answers the same `401 invalid email or password` (login) or
//! `401 missing or invalid credentials` (tokens, codes), whatever the reason: unknown account,
//! wrong password, locked, disabled. The reason goes to the log with the user id, never with an
//! email, password, token or code.

use std::net::IpAddr;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use scribe_auth::{
    backup_code_hash, generate_backup_codes, looks_like_backup_code, otpauth_uri, token_digest,
    ExposeSecret, LoginAttempts, PhcHash, Role, SecretString, TokenClaims, TokenType, TotpSecret,
};
use scribe_core::{ErrorCode, OrgId, OrgScope, SessionId, UserId};
use serde::{Deserialize, Serialize};
use transcript_storage::{
    LoginCounters, LoginRecord, NewSession, Revocation, Rotation, RotationOutcome,
};

use crate::api::{json_body, unix_ms};
use crate::app::AppState;
use crate::auth::{bearer, internal, store_error, unauthenticated};
use crate::error::ApiError;
use crate::ratelimit::{client_ip, ClientIp};

/// Longest email and password read (longer ones are refused without hashing).
pub(crate) const MAX_EMAIL_BYTES: usize = 320;
pub(crate) const MAX_PASSWORD_BYTES: usize = 1024;

/// Whether `ip` may sign in under an organisation's `networks` (CIDR; empty = anywhere). A
/// stored range that no longer parses matches nothing (fail closed).
pub(crate) fn address_allowed(networks: &[String], ip: IpAddr) -> bool {
    networks.is_empty()
        || networks
            .iter()
            .filter_map(|n| n.parse::<scribe_auth::IpNetwork>().ok())
            .any(|n| n.contains(ip))
}

fn invalid_login() -> ApiError {
    ApiError::new(ErrorCode::Unauthenticated, "invalid email or password")
}

fn invalid_code() -> ApiError {
    ApiError::new(ErrorCode::Unauthenticated, "invalid or expired code")
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LoginRequest {
    email: String,
    password: String,
}

/// The tokens of a signed-in session.
#[derive(Serialize)]
pub(crate) struct TokenPair {
    access_token: String,
    refresh_token: String,
    token_type: &'static str,
    expires_in: u64,
    refresh_expires_in: u64,
}

#[derive(Serialize)]
struct MfaChallenge {
    mfa_required: bool,
    /// The organisation requires MFA and the user has none yet: enrol with this token first.
    mfa_enrollment_required: bool,
    pre_mfa_token: String,
    expires_in: u64,
}

fn counters_of(a: LoginAttempts) -> LoginCounters {
    LoginCounters {
        failures: a.failures,
        lockouts: a.lockouts,
        locked_until_ms: a.locked_until_ms,
    }
}

pub(crate) fn attempts_of(c: LoginCounters) -> LoginAttempts {
    LoginAttempts {
        failures: c.failures,
        lockouts: c.lockouts,
        locked_until_ms: c.locked_until_ms,
    }
}

/// Counts a failed sign-in step (password or second factor) against the account.
pub(crate) async fn count_failure(
    app: &AppState,
    scope: &OrgScope,
    user: UserId,
    now: LoginCounters,
) {
    let now_ms = unix_ms(app.clock.now());
    let next = attempts_of(now).after_failure(&app.lockout, now_ms);
    if next.locked_until_ms != now.locked_until_ms {
        tracing::warn!(%user, lockouts = next.lockouts, "account locked after repeated failures");
    }
    if let Err(e) = app
        .store
        .set_login_counters(scope, user, counters_of(next))
        .await
    {
        tracing::error!(error = %e, "storing login failure failed");
    }
}

/// `POST /api/v1/auth/login {email, password}` → tokens, or a pre-MFA challenge.
pub async fn login(
    State(app): State<AppState>,
    client: Option<Extension<ClientIp>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let ip = client_ip(client.as_ref());
    let req: LoginRequest = json_body(&headers, &body)?;
    if req.email.len() > MAX_EMAIL_BYTES || req.password.len() > MAX_PASSWORD_BYTES {
        return Err(invalid_login());
    }
    let record = app
        .store
        .find_login_by_email(&req.email)
        .await
        .map_err(|e| internal("login lookup", &e))?;
    // The hash is verified whether or not the account exists, is locked or disabled, so the
    // answer and its timing say nothing about which.
    let password = SecretString::from(req.password);
    let hasher = app.hasher.clone();
    let stored = record.as_ref().map(|r| r.password_hash.clone());
    let password_ok = tokio::task::spawn_blocking(move || match stored {
        Some(hash) => hasher
            .verify(&password, &PhcHash::from_stored(hash))
            .unwrap_or(false),
        None => hasher.verify_unknown_account(&password),
    })
    .await
    .map_err(|e| internal("password check", &e))?;
    let Some(record) = record else {
        tracing::info!("login failed: unknown account");
        return Err(invalid_login());
    };
    let user = &record.user;
    let scope = OrgScope::for_org(user.org_id);
    if !address_allowed(&record.org_login_networks, ip) {
        // Neither counted as a failure (nobody outside the ranges can lock an account) nor
        // answered differently (the answer says nothing about the password).
        tracing::info!(user_id = %user.id, "login refused: address outside the organisation's ranges");
        return Err(invalid_login());
    }
    let now_ms = unix_ms(app.clock.now());
    if let Some(left) = attempts_of(record.counters).locked_at(now_ms) {
        tracing::info!(user_id = %user.id, remaining_s = left.as_secs(), "login refused: locked");
        return Err(invalid_login());
    }
    if !password_ok {
        tracing::info!(user_id = %user.id, "login failed: wrong password");
        count_failure(&app, &scope, user.id, record.counters).await;
        return Err(invalid_login());
    }
    if record.disabled {
        tracing::info!(user_id = %user.id, "login refused: account disabled");
        return Err(invalid_login());
    }
    reset_counters(&app, &scope, &record).await?;
    let role = Role::from_stored(&user.role);
    if record.mfa_enabled || record.org_mfa_required {
        let pre = app
            .tokens
            .issue_pre_mfa(user.id, user.org_id, role)
            .map_err(|e| internal("token issue", &e))?;
        tracing::info!(user_id = %user.id, "password accepted; second factor needed");
        return Ok(Json(MfaChallenge {
            mfa_required: true,
            mfa_enrollment_required: !record.mfa_enabled,
            pre_mfa_token: pre.token.expose_secret().to_owned(),
            expires_in: pre.expires_in,
        })
        .into_response());
    }
    let pair = start_session(&app, user.id, user.org_id, role).await?;
    tracing::info!(user_id = %user.id, "login");
    Ok(Json(pair).into_response())
}

async fn reset_counters(
    app: &AppState,
    scope: &OrgScope,
    record: &LoginRecord,
) -> Result<(), ApiError> {
    if record.counters != LoginCounters::default() {
        app.store
            .set_login_counters(scope, record.user.id, LoginCounters::default())
            .await
            .map_err(|e| internal("login counters", &e))?;
    }
    Ok(())
}

/// A new session: its first refresh token's hash stored, both tokens returned.
pub(crate) async fn start_session(
    app: &AppState,
    user: UserId,
    org: OrgId,
    role: Role,
) -> Result<TokenPair, ApiError> {
    let session = SessionId::generate();
    let refresh = app
        .tokens
        .issue_refresh(user, org, role, session)
        .map_err(|e| internal("token issue", &e))?;
    let now_ms = unix_ms(app.clock.now());
    app.store
        .create_session(
            &OrgScope::for_org(org),
            NewSession {
                id: session,
                user_id: user,
                refresh_hash: token_digest(refresh.token.expose_secret()),
                now_ms,
                expires_at_ms: refresh.expires_at.saturating_mul(1000),
            },
        )
        .await
        .map_err(|e| match e {
            // Disabled between the password check and here.
            transcript_storage::StoreError::NotFound => unauthenticated(),
            other => internal("session start", &other),
        })?;
    token_pair(app, user, org, role, session, refresh)
}

fn token_pair(
    app: &AppState,
    user: UserId,
    org: OrgId,
    role: Role,
    session: SessionId,
    refresh: scribe_auth::IssuedToken,
) -> Result<TokenPair, ApiError> {
    let access = app
        .tokens
        .issue_access(user, org, role, session)
        .map_err(|e| internal("token issue", &e))?;
    Ok(TokenPair {
        access_token: access.token.expose_secret().to_owned(),
        refresh_token: refresh.token.expose_secret().to_owned(),
        token_type: "Bearer",
        expires_in: access.expires_in,
        refresh_expires_in: refresh.expires_in,
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RefreshRequest {
    refresh_token: String,
}

/// `POST /api/v1/auth/refresh {refresh_token}` → a new pair. The presented token is spent;
/// presenting a spent one again ends the whole session (someone else holds a copy).
pub async fn refresh(
    State(app): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let req: RefreshRequest = json_body(&headers, &body)?;
    let claims = app
        .tokens
        .verify(&req.refresh_token, TokenType::Refresh)
        .map_err(|e| {
            tracing::info!(reason = %e, "refresh token rejected");
            unauthenticated()
        })?;
    let Some(session) = claims.session_id() else {
        return Err(unauthenticated());
    };
    let (user, org) = (claims.user_id(), claims.org_id());
    let scope = OrgScope::for_org(org);
    let next = app
        .tokens
        .issue_refresh(user, org, claims.role(), session)
        .map_err(|e| internal("token issue", &e))?;
    let outcome = app
        .store
        .rotate_session(
            &scope,
            Rotation {
                session_id: session,
                presented: token_digest(&req.refresh_token),
                next: token_digest(next.token.expose_secret()),
                now_ms: unix_ms(app.clock.now()),
            },
        )
        .await
        .map_err(|e| internal("session refresh", &e))?;
    match outcome {
        RotationOutcome::Rotated { role, .. } => {
            let pair = token_pair(&app, user, org, Role::from_stored(&role), session, next)?;
            Ok(Json(pair).into_response())
        }
        RotationOutcome::Reused => {
            tracing::warn!(user_id = %user, session_id = %session,
                "refresh token reused: session revoked");
            Err(unauthenticated())
        }
        RotationOutcome::Refused => {
            tracing::info!(user_id = %user, "refresh refused: session ended or token unknown");
            Err(unauthenticated())
        }
    }
}

/// `POST /api/v1/auth/logout` (access token) → `204`: the session ends (its refresh token
/// stops working) and the access token is denylisted until it would have expired.
pub async fn logout(State(app): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    let token = bearer(&headers).ok_or_else(unauthenticated)?;
    let (principal, claims) = crate::auth::checked_access(&app, token).await?;
    end_token(&app, &principal.scope(), &claims, token).await?;
    tracing::info!(user_id = %claims.user_id(), "logout");
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn end_token(
    app: &AppState,
    scope: &OrgScope,
    claims: &TokenClaims,
    token: &str,
) -> Result<(), ApiError> {
    let now_ms = unix_ms(app.clock.now());
    if let Some(session) = claims.session_id() {
        app.store
            .revoke_sessions(scope, Revocation::Session(session), now_ms)
            .await
            .map_err(|e| internal("logout", &e))?;
    }
    app.store
        .deny_token(
            scope,
            &token_digest(token),
            claims.expires_at().saturating_mul(1000),
            now_ms,
        )
        .await
        .map_err(|e| internal("logout", &e))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VerifyRequest {
    pre_mfa_token: String,
    code: String,
}

/// Verifies a pre-MFA token: the user it proves the password of.
fn pre_mfa(app: &AppState, token: &str) -> Result<TokenClaims, ApiError> {
    app.tokens.verify(token, TokenType::PreMfa).map_err(|e| {
        tracing::info!(reason = %e, "pre-MFA token rejected");
        unauthenticated()
    })
}

/// `POST /api/v1/mfa/verify {pre_mfa_token, code}` (a TOTP code or a backup code) → tokens.
/// Wrong codes count towards the account's lockout like wrong passwords; a TOTP code is
/// accepted once (a later step spends every earlier one), a backup code once.
pub async fn verify(
    State(app): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let req: VerifyRequest = json_body(&headers, &body)?;
    let claims = pre_mfa(&app, &req.pre_mfa_token)?;
    let (user, org) = (claims.user_id(), claims.org_id());
    let scope = OrgScope::for_org(org);
    let login = app
        .store
        .get_login(&scope, user)
        .await
        .map_err(|e| store_error("user lookup", e))?;
    let now_ms = unix_ms(app.clock.now());
    if login.disabled || attempts_of(login.counters).locked_at(now_ms).is_some() {
        tracing::info!(user_id = %user, "MFA refused: account locked or disabled");
        return Err(invalid_code());
    }
    let mfa = app
        .store
        .mfa_state(&scope, user)
        .await
        .map_err(|e| internal("MFA lookup", &e))?;
    let secret = match (mfa.enabled, mfa.secret.as_deref()) {
        (true, Some(s)) => TotpSecret::from_base32(s).map_err(|e| internal("MFA secret", &e))?,
        _ => return Err(invalid_code()),
    };
    let accepted = check_code(&app, &scope, user, &secret, mfa.last_step, &req.code).await?;
    if !accepted {
        count_failure(&app, &scope, user, login.counters).await;
        return Err(invalid_code());
    }
    reset_counters(&app, &scope, &login).await?;
    tracing::info!(user_id = %user, "login (second factor accepted)");
    let pair = start_session(&app, user, org, Role::from_stored(&login.user.role)).await?;
    Ok(Json(pair).into_response())
}

/// A TOTP code (spending its step in the store, so no other request or server accepts it
/// again) or a backup code (spent likewise).
async fn check_code(
    app: &AppState,
    scope: &OrgScope,
    user: UserId,
    secret: &TotpSecret,
    last_step: Option<u64>,
    code: &str,
) -> Result<bool, ApiError> {
    if looks_like_backup_code(code) {
        let Some(hash) = backup_code_hash(code) else {
            return Ok(false);
        };
        let now_ms = unix_ms(app.clock.now());
        let used = app
            .store
            .use_backup_code(scope, user, &hash, now_ms)
            .await
            .map_err(|e| internal("backup code", &e))?;
        if used {
            tracing::info!(%user, "backup code used");
        }
        return Ok(used);
    }
    match scribe_auth::verify_totp(secret, code, app.clock.unix_seconds(), last_step) {
        Ok(step) => app
            .store
            .claim_totp_step(scope, user, step)
            .await
            .map_err(|e| internal("TOTP step", &e)),
        Err(reason) => {
            tracing::info!(%user, ?reason, "TOTP code refused");
            Ok(false)
        }
    }
}

/// Who may enrol: a signed-in user (access token), or — when their organisation requires MFA
/// and they have none — the holder of a pre-MFA token.
async fn enrolling_user(
    app: &AppState,
    headers: &HeaderMap,
) -> Result<(UserId, OrgId, Role, bool), ApiError> {
    let token = bearer(headers).ok_or_else(unauthenticated)?;
    if let Ok(claims) = app.tokens.verify(token, TokenType::PreMfa) {
        return Ok((claims.user_id(), claims.org_id(), claims.role(), true));
    }
    let principal = crate::auth::user_from_token(app, token).await?;
    let user = principal.user_id().ok_or_else(unauthenticated)?;
    let role = principal.role().unwrap_or(Role::Guest);
    Ok((user, principal.org_id(), role, false))
}

#[derive(Serialize)]
struct Enrolment {
    /// Base32, for typing into an authenticator.
    secret: String,
    /// `otpauth://` URI, for a QR code.
    otpauth_uri: String,
}

/// `POST /api/v1/mfa/enroll` → a new TOTP secret, pending until confirmed with a code. Refused
/// (409) while MFA is on: an access token alone must not be able to replace the factor.
pub async fn enroll(State(app): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    let (user, org, _, _) = enrolling_user(&app, &headers).await?;
    let scope = OrgScope::for_org(org);
    let state = app
        .store
        .mfa_state(&scope, user)
        .await
        .map_err(|e| store_error("MFA lookup", e))?;
    if state.enabled {
        return Err(ApiError::new(
            ErrorCode::Conflict,
            "MFA is already on for this account",
        ));
    }
    let account = app
        .store
        .get_user(&scope, user)
        .await
        .map_err(|e| store_error("user lookup", e))?
        .email;
    let secret = TotpSecret::generate().map_err(|e| internal("TOTP secret", &e))?;
    let encoded = secret.to_base32();
    app.store
        .set_mfa_secret(&scope, user, Some(encoded.expose_secret().to_owned()))
        .await
        .map_err(|e| store_error("MFA enrolment", e))?;
    let uri = otpauth_uri(&secret, "NexusScribe", &account);
    tracing::info!(%user, "MFA enrolment started");
    Ok(Json(Enrolment {
        secret: encoded.expose_secret().to_owned(),
        otpauth_uri: uri.expose_secret().to_owned(),
    })
    .into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfirmRequest {
    code: String,
}

/// `POST /api/v1/mfa/confirm {code}` → MFA on and ten backup codes (shown once). With a
/// pre-MFA token (organisation requires MFA) the answer also carries the session's tokens.
pub async fn confirm(
    State(app): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let (user, org, role, pre) = enrolling_user(&app, &headers).await?;
    let req: ConfirmRequest = json_body(&headers, &body)?;
    let scope = OrgScope::for_org(org);
    let state = app
        .store
        .mfa_state(&scope, user)
        .await
        .map_err(|e| store_error("MFA lookup", e))?;
    let secret = match (state.enabled, state.secret.as_deref()) {
        (false, Some(s)) => TotpSecret::from_base32(s).map_err(|e| internal("MFA secret", &e))?,
        (true, _) => {
            return Err(ApiError::new(
                ErrorCode::Conflict,
                "MFA is already on for this account",
            ))
        }
        (false, None) => {
            return Err(ApiError::new(
                ErrorCode::Conflict,
                "no MFA enrolment is pending: call /api/v1/mfa/enroll first",
            ))
        }
    };
    let step = scribe_auth::verify_totp(&secret, &req.code, app.clock.unix_seconds(), None)
        .map_err(|_| invalid_code())?;
    let codes = generate_backup_codes().map_err(|e| internal("backup codes", &e))?;
    app.store
        .enable_mfa(&scope, user, step, codes.iter().map(|(_, h)| *h).collect())
        .await
        .map_err(|e| store_error("MFA enrolment", e))?;
    tracing::info!(%user, "MFA enabled");
    let backup_codes: Vec<String> = codes
        .iter()
        .map(|(c, _)| c.expose_secret().to_owned())
        .collect();
    if !pre {
        return Ok(Json(serde_json::json!({ "backup_codes": backup_codes })).into_response());
    }
    let tokens = start_session(&app, user, org, role).await?;
    Ok(Json(ConfirmedSignIn {
        tokens,
        backup_codes,
    })
    .into_response())
}

/// MFA confirmed during a sign-in the organisation required it for: the session's tokens and
/// the backup codes.
#[derive(Serialize)]
struct ConfirmedSignIn {
    #[serde(flatten)]
    tokens: TokenPair,
    backup_codes: Vec<String>,
}
