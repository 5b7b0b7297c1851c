//! Assembling the HTTP application and running it on an already-bound listener (so tests bind
//! `127.0.0.1:0`), with graceful shutdown.

use std::future::Future;
use std::sync::{Arc, PoisonError, RwLock};

use axum::routing::{get, post};
use axum::Router;
use scribe_auth::{Clock, LockoutPolicy, PasswordHasher, SecretString, TokenService};
use speech_engine::Scheduler;
use transcript_storage::Store;

use crate::config::GatewayConfig;
use crate::hub::Hub;
use crate::ws::ActiveStreams;
use crate::{
    access, api, cors, headers, invites, metrics, pages, password, ratelimit, sharing, signin,
    users, ws,
};

/// What every handler can reach. Cheap to clone (everything is shared).
#[derive(Clone)]
pub struct AppState {
    pub hub: Arc<Hub>,
    pub store: Arc<dyn Store>,
    pub scheduler: Arc<Scheduler>,
    pub tokens: Arc<TokenService>,
    /// The clock of tickets, sessions, lockouts and throttles.
    pub clock: Arc<dyn Clock>,
    pub hasher: Arc<PasswordHasher>,
    /// Requests per client address and in all, by category (sign-in, second factor, sockets,
    /// everything else).
    pub rate_limits: Arc<crate::ratelimit::RateLimits>,
    /// When failed sign-ins lock an account, and for how long.
    pub lockout: LockoutPolicy,
    /// The one-time setup code of a fresh install (armed by `serve` when no account exists).
    pub setup: Arc<crate::invites::SetupCode>,
    /// The secret bot API keys are derived from (PROTOCOL.md §1); replaced when it is rotated.
    bot_key_secret: Arc<RwLock<Arc<SecretString>>>,
    /// The checks `/readyz` runs.
    pub readiness: Arc<crate::health::Readiness>,
    pub config: Arc<GatewayConfig>,
    /// Bot streams connected to this process, for takeover on resume and shutdown.
    pub active: Arc<ActiveStreams>,
    pub counters: Arc<metrics::Counters>,
    /// Uploaded recordings waiting for the job runner.
    pub jobs: Arc<crate::jobs::JobQueue>,
    /// Set once when the server begins shutting down: live sessions close with 1012 (bots
    /// resume elsewhere or after the restart; finals are already stored).
    pub shutting_down: tokio::sync::watch::Receiver<bool>,
    shutdown_tx: Arc<tokio::sync::watch::Sender<bool>>,
}

/// The collaborators an [`AppState`] is built from.
pub struct Parts {
    pub store: Arc<dyn Store>,
    pub scheduler: Arc<Scheduler>,
    pub tokens: Arc<TokenService>,
    /// The clock of tickets, sessions, lockouts and throttles.
    pub clock: Arc<dyn Clock>,
    pub hasher: Arc<PasswordHasher>,
    pub bot_key_secret: SecretString,
    pub config: GatewayConfig,
}

impl AppState {
    pub fn new(parts: Parts) -> Self {
        let (tx, rx) = tokio::sync::watch::channel(false);
        Self {
            hub: Arc::new(Hub::default()),
            store: parts.store,
            scheduler: parts.scheduler,
            tokens: parts.tokens,
            clock: Arc::clone(&parts.clock),
            hasher: parts.hasher,
            rate_limits: Arc::new(crate::ratelimit::RateLimits::new(
                parts.config.rate_limits,
                &parts.clock,
            )),
            lockout: parts.config.lockout,
            setup: Arc::new(crate::invites::SetupCode::default()),
            bot_key_secret: Arc::new(RwLock::new(Arc::new(parts.bot_key_secret))),
            readiness: Arc::new(crate::health::Readiness::default()),
            config: Arc::new(parts.config),
            active: Arc::new(ActiveStreams::default()),
            counters: Arc::new(metrics::Counters::default()),
            jobs: Arc::new(crate::jobs::JobQueue::default()),
            shutting_down: rx,
            shutdown_tx: Arc::new(tx),
        }
    }

    /// The current bot-key secret.
    pub fn bot_key_secret(&self) -> Arc<SecretString> {
        Arc::clone(
            &self
                .bot_key_secret
                .read()
                .unwrap_or_else(PoisonError::into_inner),
        )
    }

    /// Swaps in a rotated bot-key secret: every key derived from the old one stops working at
    /// once (PROTOCOL.md §1); bots get their new keys from `bots create` or the API.
    pub fn replace_bot_key_secret(&self, secret: SecretString) {
        *self
            .bot_key_secret
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Arc::new(secret);
    }

    /// Tells every live session to close (1012) and waits up to `wait` for the bot sessions to
    /// have saved their position.
    pub async fn close_live_sessions(&self, wait: std::time::Duration) {
        let _ = self.shutdown_tx.send(true);
        let deadline = tokio::time::Instant::now() + wait;
        while !self.active.is_empty() && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }
}

/// The router: pages, assets, health, the API, metrics and the two WebSockets, with the
/// security headers on every answer. Everything but the pages, their assets and the health
/// probes needs a credential.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/", get(pages::index))
        .route("/meetings/{meeting_id}/live", get(pages::live))
        .route("/assets/{name}", get(pages::asset))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(crate::health::readyz))
        .route("/metrics", get(metrics::handler))
        .route("/api/v1/auth/login", post(signin::login))
        .route("/api/v1/auth/refresh", post(signin::refresh))
        .route("/api/v1/auth/logout", post(signin::logout))
        .route("/api/v1/auth/password", post(password::change))
        .route("/api/v1/auth/password/reset", post(password::reset))
        .route("/api/v1/mfa/enroll", post(signin::enroll))
        .route("/api/v1/mfa/confirm", post(signin::confirm))
        .route("/api/v1/mfa/verify", post(signin::verify))
        .route("/api/v1/users", get(users::list))
        .route(
            "/api/v1/users/{user_id}",
            axum::routing::patch(users::change),
        )
        .route(
            "/api/v1/users/{user_id}/password-reset",
            post(password::issue_reset),
        )
        .route(
            "/api/v1/users/{user_id}/sessions",
            axum::routing::delete(users::revoke_sessions),
        )
        .route(
            "/api/v1/organisation/mfa",
            axum::routing::put(users::set_mfa_policy),
        )
        .route(
            "/api/v1/organisation",
            get(users::get_policy).patch(users::change_policy),
        )
        .route(
            "/api/v1/organisation/integrations",
            get(crate::integrations::list),
        )
        .route(
            "/api/v1/organisation/webhook",
            axum::routing::put(crate::integrations::set_webhook)
                .delete(crate::integrations::delete_webhook),
        )
        .route(
            "/api/v1/organisation/webhook/test",
            post(crate::integrations::test_webhook),
        )
        .route("/api/v1/invites", get(invites::list).post(invites::create))
        .route("/api/v1/invites/accept", post(invites::accept))
        .route(
            "/api/v1/invites/{invite_id}",
            axum::routing::delete(invites::revoke),
        )
        .route("/api/v1/setup", post(invites::setup))
        .route("/api/v1/ws-tickets", post(api::ws_ticket))
        .route(
            "/api/v1/meetings",
            get(api::list_meetings).post(api::create_meeting),
        )
        .route("/api/v1/jobs/{job_id}", get(crate::recordings::get_job))
        .route("/api/v1/bots", post(crate::bots::create))
        .route(
            "/api/v1/bots/{bot_id}",
            axum::routing::delete(crate::bots::revoke),
        )
        .merge(meeting_routes(state.clone()))
        .fallback(|| async { crate::error::ApiError::not_found() })
        .with_state(state.clone())
        // Innermost first: body sizes by route, cross-origin checks, the rate limits before
        // anything reads a credential or a body, security headers on every answer.
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::bodylimit::limit,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            cors::cors,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            ratelimit::limit,
        ))
        .layer(axum::middleware::from_fn(headers::security_headers))
        // Before the headers are decided: a trusted proxy's word that the client used HTTPS.
        .layer(axum::middleware::from_fn_with_state(
            state,
            ratelimit::mark_forwarded_tls,
        ))
}

/// Every route that names a meeting in its path, behind the access middleware: nothing here
/// runs unless the caller holds the permission `access::required` names for the route.
fn meeting_routes(state: AppState) -> Router<AppState> {
    use axum::routing::put;
    Router::new()
        .route(
            "/api/v1/meetings/{meeting_id}",
            get(api::get_meeting).delete(api::delete_meeting),
        )
        .route(
            "/api/v1/meetings/{meeting_id}/transcript",
            get(crate::transcript::export),
        )
        .route(
            "/api/v1/meetings/{meeting_id}/recordings",
            post(crate::recordings::upload),
        )
        .route("/api/v1/meetings/{meeting_id}/grants", get(sharing::list))
        .route(
            "/api/v1/meetings/{meeting_id}/grants/{user_id}",
            put(sharing::put).delete(sharing::delete),
        )
        .route("/ws/audio/{meeting_id}", get(ws::bot::handler))
        .route("/ws/transcription/{meeting_id}", get(ws::viewer::handler))
        .route_layer(axum::middleware::from_fn_with_state(state, access::check))
}

/// Serves `router` over plain HTTP on `listener` until `shutdown` completes, then lets open
/// requests finish (the same accept loop as HTTPS: connection cap, header timeout).
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    limits: crate::tls::ConnLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    crate::tls::serve_with(listener, router, None, limits, shutdown).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use tower::ServiceExt;

    async fn get(path: &str) -> axum::response::Response {
        let dir = tempfile::tempdir().expect("tempdir");
        router(crate::testing::state(dir.path()).await)
            .oneshot(Request::get(path).body(Body::empty()).expect("request"))
            .await
            .expect("infallible")
    }

    #[tokio::test]
    async fn pages_carry_a_strict_csp_and_no_inline_script() {
        for path in ["/", "/meetings/abc/live"] {
            let res = get(path).await;
            assert_eq!(res.status(), StatusCode::OK, "{path}");
            let csp = res.headers()["content-security-policy"]
                .to_str()
                .expect("ascii");
            assert!(csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"));
            assert_eq!(res.headers()["x-frame-options"], "DENY");
            assert_eq!(res.headers()["x-content-type-options"], "nosniff");
            let body = axum::body::to_bytes(res.into_body(), 1 << 20)
                .await
                .expect("body");
            let html = String::from_utf8_lossy(&body);
            for tag in html.match_indices("<script") {
                let rest = &html[tag.0..];
                let end = rest.find('>').expect("tag closes");
                assert!(rest[..end].contains("src="), "{path}: inline script");
            }
            assert!(
                !html.contains(" on") || !html.contains("onclick"),
                "no inline handlers"
            );
        }
    }

    #[tokio::test]
    async fn trace_and_unknown_methods_are_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let app = router(crate::testing::state(dir.path()).await);
        for (method, path) in [
            ("TRACE", "/"),
            ("TRACE", "/api/v1/meetings"),
            ("FROB", "/api/v1/meetings"),
            ("PUT", "/api/v1/auth/login"),
        ] {
            let req = Request::builder()
                .method(method)
                .uri(path)
                .body(Body::empty())
                .expect("request");
            let res = app.clone().oneshot(req).await.expect("infallible");
            assert_eq!(
                res.status(),
                StatusCode::METHOD_NOT_ALLOWED,
                "{method} {path}"
            );
        }
    }

    #[tokio::test]
    async fn assets_have_types_and_unknown_ones_are_404_json() {
        let res = get("/assets/live.js").await;
        assert_eq!(res.status(), StatusCode::OK);
        assert!(res.headers()["content-type"]
            .to_str()
            .expect("ascii")
            .starts_with("text/javascript"));
        let res = get("/assets/../../etc/passwd").await;
        assert_eq!(res.status(), StatusCode::NOT_FOUND);
        let res = get("/assets/secret.js").await;
        assert_eq!(res.status(), StatusCode::NOT_FOUND);
        let body = axum::body::to_bytes(res.into_body(), 1 << 20)
            .await
            .expect("body");
        let v: serde_json::Value = serde_json::from_slice(&body).expect("json error");
        assert_eq!(v["error"]["code"], "not_found");
    }
}
