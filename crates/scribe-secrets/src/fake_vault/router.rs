//! One axum fallback handler routes every request the way Vault's HTTP layer does: `sys/health`
//! first (never failed, never sealed), then injected failures, `sys/seal-status`, the seal, the
//! unauthenticated paths (logins, unwrap), the token check, and the endpoints behind it.

use std::sync::{Arc, Mutex, PoisonError};

use axum::body::{Body, Bytes};
use axum::extract::State as Shared;
use axum::http::header::{AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::Response;
use axum::Router;
use serde::Serialize;
use serde_json::{json, Value};

use super::state::State;
use super::wire::{self, INVALID_TOKEN, PERMISSION_DENIED, POLICY_DENIED};
use super::{auth, kv};

/// The fake's state as the handler shares it.
pub(super) type SharedState = Arc<Mutex<State>>;

/// The fake's HTTP application.
pub(super) fn router(state: SharedState) -> Router {
    Router::new().fallback(handle).with_state(state)
}

/// An answer: status and JSON body (`None`: no body, as for `HEAD`).
pub(super) struct Reply {
    pub(super) status: u16,
    pub(super) body: Option<String>,
    /// Counted in `stats().rejected` (refusals and failures, not a KV "not found").
    pub(super) rejected: bool,
}

impl Reply {
    /// `status` with `value` as JSON (Go's encoder ends it with a newline).
    pub(super) fn json<T: Serialize>(status: u16, value: &T) -> Reply {
        let mut body = serde_json::to_string(value).unwrap_or_else(|_| "{}".to_owned());
        body.push('\n');
        Reply {
            status,
            body: Some(body),
            rejected: status >= 400,
        }
    }

    /// Vault's error body: `{"errors":[...]}`.
    pub(super) fn errors(status: u16, errors: &[&str]) -> Reply {
        Reply::json(status, &json!({ "errors": errors }))
    }

    /// A logical response envelope with 200.
    pub(super) fn ok(envelope: &wire::Envelope) -> Reply {
        Reply::json(200, envelope)
    }

    /// A 404 that answers the question (absent secret or version) rather than refusing it.
    pub(super) fn not_found(mut self) -> Reply {
        self.rejected = false;
        self
    }
}

/// The request as the endpoints see it.
pub(super) struct Request<'a> {
    pub(super) method: &'a Method,
    /// The path after `/v1/`.
    pub(super) path: &'a str,
    pub(super) query: Option<&'a str>,
    /// `X-Vault-Token` (or `Authorization: Bearer`), when present and non-empty.
    pub(super) token: Option<&'a str>,
    pub(super) body: &'a [u8],
}

impl Request<'_> {
    /// The JSON body as an object; an empty body is an empty object.
    pub(super) fn json(&self) -> Result<serde_json::Map<String, Value>, Reply> {
        if self.body.iter().all(u8::is_ascii_whitespace) {
            return Ok(serde_json::Map::new());
        }
        match serde_json::from_slice::<Value>(self.body) {
            Ok(Value::Object(map)) => Ok(map),
            Ok(_) => Err(Reply::errors(
                400,
                &["failed to parse JSON input: json: cannot unmarshal into map[string]interface {}"],
            )),
            Err(e) => Err(Reply::errors(
                400,
                &[&format!("failed to parse JSON input: {e}")],
            )),
        }
    }

    pub(super) fn is_write(&self) -> bool {
        matches!(*self.method, Method::POST | Method::PUT)
    }
}

async fn handle(
    Shared(state): Shared<SharedState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let token = headers
        .get("x-vault-token")
        .and_then(|v| v.to_str().ok())
        .or_else(|| {
            headers
                .get(AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "))
        })
        .map(str::trim)
        .filter(|t| !t.is_empty());
    let reply = {
        let mut state = state.lock().unwrap_or_else(PoisonError::into_inner);
        match uri.path().strip_prefix("/v1/") {
            Some(path) => {
                let request = Request {
                    method: &method,
                    path,
                    query: uri.query(),
                    token,
                    body: &body,
                };
                dispatch(&mut state, &request)
            }
            None => Reply::errors(404, &[]),
        }
    };
    into_response(reply)
}

fn into_response(reply: Reply) -> Response {
    let mut response = Response::new(reply.body.map_or_else(Body::empty, Body::from));
    *response.status_mut() =
        StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn dispatch(state: &mut State, request: &Request<'_>) -> Reply {
    if request.path == "sys/health" {
        return health(state, request);
    }
    state.stats.requests += 1;
    let reply = route(state, request);
    if reply.rejected {
        state.stats.rejected += 1;
    }
    if reply.status == 403 {
        state.stats.denied += 1;
    }
    reply
}

fn route(state: &mut State, request: &Request<'_>) -> Reply {
    if let Some(failure) = state.failure.as_mut() {
        failure.remaining -= 1;
        let reply = Reply::errors(failure.status, &[&failure.message]);
        if failure.remaining == 0 {
            state.failure = None;
        }
        state.stats.injected_failures += 1;
        return reply;
    }
    if request.path == "sys/seal-status" {
        return seal_status(state);
    }
    if state.sealed {
        return Reply::errors(503, &["Vault is sealed"]);
    }
    if request.is_write() {
        match request.path {
            "auth/approle/login" => return auth::approle_login(state, request),
            "auth/kubernetes/login" => return auth::kubernetes_login(state, request),
            "sys/wrapping/unwrap" => return auth::unwrap(state, request),
            _ => {}
        }
    }
    let Some(token) = request.token else {
        return Reply::errors(403, &[PERMISSION_DENIED]);
    };
    let Some(is_root) = state.live_token(token).map(|t| t.is_root()) else {
        // A wrapping token is a valid token whose only policy allows unwrapping.
        if state.live_wrapping_token(token) {
            return Reply::errors(403, &[POLICY_DENIED]);
        }
        return Reply::errors(403, &[INVALID_TOKEN]);
    };
    match (request.path, request.method) {
        ("auth/token/lookup-self", &Method::GET | &Method::POST) => auth::lookup_self(state, token),
        ("auth/token/renew-self", &Method::POST | &Method::PUT) => {
            auth::renew_self(state, token, request)
        }
        _ => kv::route(state, request, is_root),
    }
}

/// `GET|HEAD /v1/sys/health`: 200 active, 503 sealed (or `activecode` / `sealedcode`).
fn health(state: &State, request: &Request<'_>) -> Reply {
    if !matches!(*request.method, Method::GET | Method::HEAD) {
        return Reply::errors(405, &[]);
    }
    let mut active = 200;
    let mut sealed = 503;
    for pair in request.query.unwrap_or_default().split('&') {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let target = match key {
            "activecode" => &mut active,
            "sealedcode" => &mut sealed,
            _ => continue,
        };
        match value.parse() {
            Ok(code) => *target = code,
            Err(_) => return Reply::errors(400, &[]),
        }
    }
    let status = if state.sealed { sealed } else { active };
    let (cluster_name, cluster_id) = if state.sealed {
        (None, None)
    } else {
        (Some(&state.cluster_name), Some(&state.cluster_id))
    };
    let body = Health {
        initialized: true,
        sealed: state.sealed,
        standby: false,
        performance_standby: false,
        replication_performance_mode: "disabled",
        replication_dr_mode: "disabled",
        server_time_utc: wire::unix_secs(std::time::SystemTime::now()),
        version: wire::VAULT_VERSION,
        enterprise: false,
        cluster_name,
        cluster_id,
        echo_duration_ms: 0,
        clock_skew_ms: 0,
        replication_primary_canary_age_ms: 0,
    };
    let mut reply = Reply::json(status, &body);
    reply.rejected = false;
    if *request.method == Method::HEAD {
        reply.body = None;
    }
    reply
}

/// `http.HealthResponse`, fields in Vault's order.
#[derive(Serialize)]
struct Health<'a> {
    initialized: bool,
    sealed: bool,
    standby: bool,
    performance_standby: bool,
    replication_performance_mode: &'static str,
    replication_dr_mode: &'static str,
    server_time_utc: u64,
    version: &'static str,
    enterprise: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    cluster_name: Option<&'a String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cluster_id: Option<&'a String>,
    echo_duration_ms: u64,
    clock_skew_ms: u64,
    replication_primary_canary_age_ms: u64,
}

/// `GET /v1/sys/seal-status`: unauthenticated, answered sealed or not.
fn seal_status(state: &State) -> Reply {
    let mut body = json!({
        "type": "shamir",
        "initialized": true,
        "sealed": state.sealed,
        "t": 1,
        "n": 1,
        "progress": 0,
        "nonce": "",
        "version": wire::VAULT_VERSION,
        "build_date": "2025-01-29T13:57:54Z",
        "migration": false,
        "recovery_seal": false,
        "storage_type": "inmem",
    });
    if !state.sealed {
        body["cluster_name"] = json!(state.cluster_name);
        body["cluster_id"] = json!(state.cluster_id);
    }
    Reply::json(200, &body)
}
