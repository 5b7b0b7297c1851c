//! Logins (AppRole, Kubernetes), the token's own endpoints (`lookup-self`, `renew-self`) and
//! `sys/wrapping/unwrap`, with Vault's messages for each refusal.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::{json, Map, Value};

use super::router::{Reply, Request};
use super::state::{Expiry, State};
use super::wire::{self, Envelope, INVALID_TOKEN};

/// A string field as Vault's field parser reads it (numbers and booleans converted), trimmed.
fn field(body: &Map<String, Value>, name: &str) -> String {
    match body.get(name) {
        Some(Value::String(s)) => s.trim().to_owned(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

/// `POST /v1/auth/approle/login` `{role_id, secret_id}`.
pub(super) fn approle_login(state: &mut State, request: &Request<'_>) -> Reply {
    let body = match request.json() {
        Ok(body) => body,
        Err(reply) => return reply,
    };
    let role_id = field(&body, "role_id");
    let secret_id = field(&body, "secret_id");
    let refusal = if role_id.is_empty() {
        Some("missing role_id")
    } else {
        match state.approles.get(&role_id) {
            None => Some("invalid role or secret ID"),
            Some(_) if secret_id.is_empty() => Some("missing secret_id"),
            Some(role) if !role.secret_ids.contains(&secret_id) => {
                Some("invalid role or secret ID")
            }
            Some(_) => None,
        }
    };
    if let Some(message) = refusal {
        state.stats.failed_logins += 1;
        return Reply::errors(400, &[message]);
    }
    let role_name = state
        .approles
        .get(&role_id)
        .map(|r| r.name.clone())
        .unwrap_or_default();
    let entity_id = state.entity(&format!("approle/{role_id}"));
    let meta = BTreeMap::from([("role_name".to_owned(), role_name)]);
    let auth = state.login_token(meta, "approle".to_owned(), "auth/approle/login", entity_id);
    state.stats.approle_logins += 1;
    Reply::ok(&Envelope::auth(auth, Vec::new(), ""))
}

/// `POST /v1/auth/kubernetes/login` `{role, jwt}`.
pub(super) fn kubernetes_login(state: &mut State, request: &Request<'_>) -> Reply {
    let body = match request.json() {
        Ok(body) => body,
        Err(reply) => return reply,
    };
    let role = field(&body, "role");
    let jwt = field(&body, "jwt");
    let refusal = match state.kubernetes.get(&role) {
        _ if role.is_empty() => Some((400, "missing role".to_owned())),
        _ if jwt.is_empty() => Some((400, "missing jwt".to_owned())),
        None => Some((400, format!("invalid role name {role:?}"))),
        Some(jwts) if !jwts.contains(&jwt) => Some((403, "permission denied".to_owned())),
        Some(_) => None,
    };
    if let Some((status, message)) = refusal {
        state.stats.failed_logins += 1;
        return Reply::errors(status, &[&message]);
    }
    let account = ServiceAccount::from_jwt(&jwt);
    let entity_id = state.entity(&format!("kubernetes/{role}/{}", account.uid));
    let display_name = format!("kubernetes-{}-{}", account.namespace, account.name);
    let meta = BTreeMap::from([
        ("role".to_owned(), role),
        ("service_account_name".to_owned(), account.name),
        ("service_account_namespace".to_owned(), account.namespace),
        (
            "service_account_secret_name".to_owned(),
            account.secret_name,
        ),
        ("service_account_uid".to_owned(), account.uid),
    ]);
    let auth = state.login_token(meta, display_name, "auth/kubernetes/login", entity_id);
    state.stats.kubernetes_logins += 1;
    Reply::ok(&Envelope::auth(auth, Vec::new(), ""))
}

/// The service account a Kubernetes JWT names (projected or legacy claims); `default/default`
/// when the JWT is not a readable one (tests often pass an opaque string).
struct ServiceAccount {
    name: String,
    namespace: String,
    secret_name: String,
    uid: String,
}

impl ServiceAccount {
    fn from_jwt(jwt: &str) -> ServiceAccount {
        let claims = jwt
            .split('.')
            .nth(1)
            .and_then(|payload| URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok())
            .and_then(|bytes| serde_json::from_slice::<Value>(&bytes).ok())
            .unwrap_or(Value::Null);
        let text = |v: &Value| v.as_str().map(str::to_owned);
        let projected = &claims["kubernetes.io"];
        let legacy = |claim: &str| text(&claims[format!("kubernetes.io/serviceaccount/{claim}")]);
        ServiceAccount {
            name: text(&projected["serviceaccount"]["name"])
                .or_else(|| legacy("service-account.name"))
                .unwrap_or_else(|| "default".to_owned()),
            namespace: text(&projected["namespace"])
                .or_else(|| legacy("namespace"))
                .unwrap_or_else(|| "default".to_owned()),
            secret_name: legacy("secret.name").unwrap_or_default(),
            uid: text(&projected["serviceaccount"]["uid"])
                .or_else(|| legacy("service-account.uid"))
                .unwrap_or_default(),
        }
    }
}

/// `GET /v1/auth/token/lookup-self` (the token was checked by the router).
pub(super) fn lookup_self(state: &mut State, token: &str) -> Reply {
    let Some(t) = state.live_token(token) else {
        return Reply::errors(403, &[INVALID_TOKEN]);
    };
    let now = SystemTime::now();
    let mut data = json!({
        "accessor": t.accessor,
        "creation_time": wire::unix_secs(t.issued),
        "creation_ttl": t.creation_ttl.as_secs(),
        "display_name": t.display_name,
        "entity_id": t.entity_id,
        "expire_time": null,
        "explicit_max_ttl": 0,
        "id": t.id,
        "issue_time": wire::rfc3339_nano(t.issued),
        "meta": t.meta,
        "num_uses": 0,
        "orphan": true,
        "path": t.path,
        "policies": t.policies,
        "renewable": t.lease_renewable(),
        "ttl": 0,
        "type": "service",
    });
    if let Some(expiry) = &t.expiry {
        // Vault: ExpireTime.Sub(time.Now().Round(time.Second)), in whole seconds.
        let now_rounded = wire::unix_secs(now + Duration::from_millis(500));
        let left = wire::unix_secs(expiry.wall).saturating_sub(now_rounded);
        data["expire_time"] = json!(wire::rfc3339_nano(expiry.wall));
        data["ttl"] = json!(left);
    }
    if let Some(renewed) = t.last_renewal {
        data["last_renewal"] = json!(wire::rfc3339_nano(renewed));
        data["last_renewal_time"] = json!(wire::unix_secs(renewed));
    }
    state.stats.token_lookups += 1;
    Reply::ok(&Envelope::data(data, "token"))
}

/// `POST /v1/auth/token/renew-self` `{increment}`: extends the lease by the increment (or the
/// token's own TTL) from now, never past issue time + max TTL (Vault's `CalculateTTL`).
pub(super) fn renew_self(state: &mut State, token: &str, request: &Request<'_>) -> Reply {
    let body = match request.json() {
        Ok(body) => body,
        Err(reply) => return reply,
    };
    let raw = body.get("increment").cloned().unwrap_or(Value::Null);
    let Some(increment) = wire::parse_duration(&raw) else {
        let shown = raw.as_str().map_or_else(|| raw.to_string(), str::to_owned);
        return Reply::errors(
            400,
            &[&format!(
                "error converting input {shown} for field \"increment\": time: invalid duration {shown:?}"
            )],
        );
    };
    let Some(t) = state.live_token(token) else {
        return Reply::errors(403, &[INVALID_TOKEN]);
    };
    if !t.lease_renewable() {
        return Reply::errors(400, &["lease is not renewable"]);
    }
    let mut ttl = if increment.is_zero() {
        t.creation_ttl
    } else {
        increment
    };
    // Times truncated to the second, as Vault's CalculateTTL does.
    let now = SystemTime::now();
    let max_valid =
        (wire::unix_secs(t.issued) + t.max_ttl.as_secs()).checked_sub(wire::unix_secs(now));
    let Some(max_valid) = max_valid else {
        return Reply::errors(500, &["past the max TTL, cannot renew"]);
    };
    let mut warnings = Vec::new();
    if max_valid < ttl.as_secs() {
        warnings.push(format!(
            "TTL of {:?} exceeded the effective max_ttl of {:?}; TTL value is capped accordingly",
            wire::go_duration(ttl.as_secs()),
            wire::go_duration(max_valid)
        ));
        ttl = Duration::from_secs(max_valid);
    }
    t.expiry = Some(Expiry::after(ttl));
    t.last_renewal = Some(now);
    let auth = t.auth(ttl);
    state.stats.renewals += 1;
    Reply::ok(&Envelope::auth(auth, warnings, "token"))
}

/// `POST /v1/sys/wrapping/unwrap`: the wrapping token in `X-Vault-Token`, or in the body's
/// `token` with any valid token in the header. A wrapping token unwraps once.
pub(super) fn unwrap(state: &mut State, request: &Request<'_>) -> Reply {
    let body = match request.json() {
        Ok(body) => body,
        Err(reply) => return reply,
    };
    let in_body = field(&body, "token");
    let wrapping = if in_body.is_empty() {
        request.token.unwrap_or_default().to_owned()
    } else {
        let caller = request.token.unwrap_or_default();
        let caller_valid = state.live_token(caller).is_some() || state.live_wrapping_token(caller);
        if !caller_valid {
            return Reply::errors(403, &[INVALID_TOKEN]);
        }
        in_body
    };
    if !state.live_wrapping_token(&wrapping) {
        return Reply::errors(400, &["wrapping token is not valid or does not exist"]);
    }
    let Some(wrapped) = state.wraps.remove(&wrapping) else {
        return Reply::errors(400, &["wrapping token is not valid or does not exist"]);
    };
    state.stats.unwraps += 1;
    Reply {
        status: 200,
        body: Some(wrapped.body),
        rejected: false,
    }
}
