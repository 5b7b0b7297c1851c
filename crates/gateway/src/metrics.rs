//! `GET /metrics`: the scheduler's measurements (lag, queue depth and wait, real-time factor,
//! decode latency, admissions) plus the gateway's connection counters, in the Prometheus text
//! format. Needs an Admin access token (`Authorization: Bearer`), like any other data.

use std::sync::atomic::{AtomicU64, Ordering};

use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use scribe_auth::Role;
use scribe_core::ErrorCode;
use speech_engine::scheduler::PROMETHEUS_CONTENT_TYPE;

use crate::app::AppState;
use crate::auth::api_user;
use crate::error::ApiError;

/// Gateway counters. Gauges go up and down; totals only up.
#[derive(Debug, Default)]
pub struct Counters {
    pub bot_sessions: AtomicU64,
    pub viewer_sessions: AtomicU64,
    pub bot_sessions_total: AtomicU64,
    pub bot_resumes_total: AtomicU64,
    pub viewer_sessions_total: AtomicU64,
    pub finals_total: AtomicU64,
    pub partials_total: AtomicU64,
    /// Connections closed by the server with a 4xxx/1011 code.
    pub refused_total: AtomicU64,
}

/// Counts a session while it lives: increments a gauge now, decrements it on drop.
pub struct Gauge<'a>(&'a AtomicU64);

impl<'a> Gauge<'a> {
    pub fn enter(gauge: &'a AtomicU64, total: &AtomicU64) -> Self {
        gauge.fetch_add(1, Ordering::Relaxed);
        total.fetch_add(1, Ordering::Relaxed);
        Self(gauge)
    }
}

impl Drop for Gauge<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Counters {
    fn to_prometheus(&self) -> String {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let mut out = String::new();
        let mut metric = |name: &str, kind: &str, help: &str, value: u64| {
            out.push_str(&format!(
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}\n"
            ));
        };
        metric(
            "nexus_scribe_bot_sessions",
            "gauge",
            "Bot audio sessions connected now.",
            get(&self.bot_sessions),
        );
        metric(
            "nexus_scribe_viewer_sessions",
            "gauge",
            "Transcript viewers connected now.",
            get(&self.viewer_sessions),
        );
        metric(
            "nexus_scribe_bot_sessions_total",
            "counter",
            "Bot audio sessions opened.",
            get(&self.bot_sessions_total),
        );
        metric(
            "nexus_scribe_bot_resumes_total",
            "counter",
            "Bot sessions that resumed an earlier stream.",
            get(&self.bot_resumes_total),
        );
        metric(
            "nexus_scribe_viewer_sessions_total",
            "counter",
            "Transcript viewer sessions opened.",
            get(&self.viewer_sessions_total),
        );
        metric(
            "nexus_scribe_finals_total",
            "counter",
            "Final segments committed and sent.",
            get(&self.finals_total),
        );
        metric(
            "nexus_scribe_partials_total",
            "counter",
            "Partial segments sent.",
            get(&self.partials_total),
        );
        metric(
            "nexus_scribe_ws_refused_total",
            "counter",
            "WebSocket sessions the server closed with an error code.",
            get(&self.refused_total),
        );
        out
    }
}

/// `GET /metrics` (Admin).
pub async fn handler(
    State(app): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let principal = api_user(&app, &headers).await?;
    if principal.role() != Some(Role::Admin) {
        return Err(ApiError::new(
            ErrorCode::Forbidden,
            "metrics need the Admin role",
        ));
    }
    let mut body = app.scheduler.metrics().to_prometheus();
    body.push_str(&app.counters.to_prometheus());
    Ok(([(header::CONTENT_TYPE, PROMETHEUS_CONTENT_TYPE)], body).into_response())
}
