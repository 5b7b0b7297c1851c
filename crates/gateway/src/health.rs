//! `/readyz`: whether this process should receive traffic. The binary registers checks (the
//! Vault secret source is one); the probe answers 200 `ready` when all pass and 503 naming the
//! failing checks otherwise. A failing check names itself only: the details (addresses, Vault's
//! errors) go to the log, not to an unauthenticated caller.

use std::sync::{Arc, PoisonError, RwLock};

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

use crate::app::AppState;

/// A readiness check: `true` when ready.
pub type Check = Arc<dyn Fn() -> bool + Send + Sync>;

/// The registered checks.
#[derive(Default)]
pub struct Readiness {
    checks: RwLock<Vec<(&'static str, Check)>>,
}

impl Readiness {
    /// Adds a check under `name` (e.g. `secrets`).
    pub fn add(&self, name: &'static str, check: Check) {
        self.checks
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .push((name, check));
    }

    /// The names of the checks that fail now.
    pub fn failing(&self) -> Vec<&'static str> {
        self.checks
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .filter(|(_, check)| !check())
            .map(|(name, _)| *name)
            .collect()
    }
}

/// `GET /readyz`. Shutting down counts as not ready (load balancers stop sending new work).
pub async fn readyz(State(app): State<AppState>) -> Response {
    let mut failing = app.readiness.failing();
    if *app.shutting_down.borrow() {
        failing.push("shutdown");
    }
    if failing.is_empty() {
        return "ready".into_response();
    }
    (
        StatusCode::SERVICE_UNAVAILABLE,
        Json(serde_json::json!({ "status": "not ready", "failing": failing })),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};

    use axum::body::Body;
    use axum::http::Request;
    use tower::ServiceExt as _;

    use super::*;

    #[tokio::test]
    async fn readyz_follows_the_registered_checks() {
        let dir = tempfile::tempdir().expect("tempdir");
        let app = crate::testing::state(dir.path()).await;
        let vault_up = Arc::new(AtomicBool::new(true));
        let flag = Arc::clone(&vault_up);
        app.readiness
            .add("secrets", Arc::new(move || flag.load(Ordering::SeqCst)));
        let router = crate::router(app);
        let ask = || async {
            let res = router
                .clone()
                .oneshot(
                    Request::get("/readyz")
                        .body(Body::empty())
                        .expect("request"),
                )
                .await
                .expect("answer");
            let status = res.status();
            let body = axum::body::to_bytes(res.into_body(), 4096)
                .await
                .expect("body");
            (status, String::from_utf8(body.to_vec()).expect("utf-8"))
        };
        assert_eq!(ask().await, (StatusCode::OK, "ready".to_owned()));
        vault_up.store(false, Ordering::SeqCst);
        let (status, body) = ask().await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(body, r#"{"failing":["secrets"],"status":"not ready"}"#);
        vault_up.store(true, Ordering::SeqCst);
        assert_eq!(ask().await.0, StatusCode::OK);
    }
}
