//! Administering people (PROTOCOL.md §4, Admin only unless said otherwise): list the
//! organisation's users, change a role, disable or re-enable an account (ending its sessions),
//! end a user's sessions, require MFA organisation-wide. Nobody changes their own role or
//! disables themselves; another organisation's users look exactly like missing ones.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use scribe_auth::{IpNetwork, Principal, Role};
use scribe_core::{ErrorCode, UserId};
use serde::{Deserialize, Serialize};
use transcript_storage::{
    OrgPolicy, OrgPolicyChange, Revocation, User, UserChange, MAX_POLICY_ITEMS,
};

use crate::api::{json_body, unix_ms};
use crate::app::AppState;
use crate::auth::{api_user, internal, store_error};
use crate::error::ApiError;
use crate::ratelimit::{client_ip, ClientIp};

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
                password_hash: None,
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
        .set_org_policy(
            &principal.scope(),
            OrgPolicyChange {
                mfa_required: Some(req.mfa_required),
                ..OrgPolicyChange::default()
            },
        )
        .await
        .map_err(|e| store_error("MFA policy", e))?;
    tracing::info!(by = ?principal.user_id(), required = req.mfa_required, "MFA policy set");
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Serialize)]
struct PolicyView {
    mfa_required: bool,
    invite_domains: Vec<String>,
    login_networks: Vec<String>,
}

impl From<OrgPolicy> for PolicyView {
    fn from(p: OrgPolicy) -> Self {
        Self {
            mfa_required: p.mfa_required,
            invite_domains: p.invite_domains,
            login_networks: p.login_networks,
        }
    }
}

/// `GET /api/v1/organisation` (Admin) → the organisation's access policy.
pub async fn get_policy(
    State(app): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let principal = api_user(&app, &headers).await?;
    require_admin(&principal, "the organisation's policy")?;
    let policy = app
        .store
        .org_policy(&principal.scope())
        .await
        .map_err(|e| store_error("policy read", e))?;
    Ok(Json(PolicyView::from(policy)).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyChange {
    mfa_required: Option<bool>,
    invite_domains: Option<Vec<String>>,
    login_networks: Option<Vec<String>>,
}

/// `PATCH /api/v1/organisation {mfa_required?, invite_domains?, login_networks?}` (Admin) →
/// the policy as it now is. Domains are DNS names (invitations may only go to addresses at
/// them; `[]` = any); networks are CIDR ranges sign-in is allowed from (`[]` = anywhere). A
/// list of networks that leaves out the caller's own address is refused, so an administrator
/// cannot lock themselves (and everyone with them) out by mistake.
pub async fn change_policy(
    State(app): State<AppState>,
    headers: HeaderMap,
    client: Option<axum::Extension<ClientIp>>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let principal = api_user(&app, &headers).await?;
    let req: PolicyChange = json_body(&headers, &body)?;
    require_admin(&principal, "changing the organisation's policy")?;
    let invite_domains = req
        .invite_domains
        .map(|list| normalise_list(list, "invite_domains", normalise_domain))
        .transpose()?;
    let login_networks = req
        .login_networks
        .map(|list| normalise_list(list, "login_networks", normalise_network))
        .transpose()?;
    if let Some(networks) = &login_networks {
        if !crate::signin::address_allowed(networks, client_ip(client.as_ref())) {
            return Err(ApiError::new(
                ErrorCode::BadRequest,
                "invalid JSON body at `login_networks`: your own address is not in these \
                 ranges; saving them would lock you out",
            ));
        }
    }
    let policy = app
        .store
        .set_org_policy(
            &principal.scope(),
            OrgPolicyChange {
                mfa_required: req.mfa_required,
                invite_domains,
                login_networks,
            },
        )
        .await
        .map_err(|e| store_error("policy change", e))?;
    tracing::info!(by = ?principal.user_id(), mfa_required = policy.mfa_required,
        domains = policy.invite_domains.len(), networks = policy.login_networks.len(),
        "organisation policy changed");
    Ok(Json(PolicyView::from(policy)).into_response())
}

/// Checks and normalises each item of a policy list; the error names the list and the item's
/// position (never echoes more than the reason).
fn normalise_list(
    list: Vec<String>,
    field: &str,
    each: fn(&str) -> Result<String, &'static str>,
) -> Result<Vec<String>, ApiError> {
    if list.len() > MAX_POLICY_ITEMS {
        return Err(ApiError::new(
            ErrorCode::BadRequest,
            format!("invalid JSON body at `{field}`: at most {MAX_POLICY_ITEMS} items"),
        ));
    }
    let mut out: Vec<String> = Vec::with_capacity(list.len());
    for (i, item) in list.iter().enumerate() {
        let item = each(item.trim()).map_err(|why| {
            ApiError::new(
                ErrorCode::BadRequest,
                format!("invalid JSON body at `{field}[{i}]`: {why}"),
            )
        })?;
        if !out.contains(&item) {
            out.push(item);
        }
    }
    Ok(out)
}

/// A DNS name, lower-cased: labels of letters, digits and hyphens, at least two labels.
pub(crate) fn normalise_domain(raw: &str) -> Result<String, &'static str> {
    let d = raw.trim_end_matches('.').to_ascii_lowercase();
    let labels_ok = d.split('.').all(|l| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    });
    if d.len() > 253 || !labels_ok || !d.contains('.') {
        return Err("not a domain name (e.g. example.org)");
    }
    Ok(d)
}

fn normalise_network(raw: &str) -> Result<String, &'static str> {
    raw.parse::<IpNetwork>()
        .map(|n| n.to_string())
        .map_err(|_| "not an IP address or CIDR range with a zero host part (e.g. 10.0.0.0/8)")
}
