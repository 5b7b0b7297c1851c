//! The web pages and their static assets, embedded in the binary. Scripts are separate files so
//! the pages work under `script-src 'self'` (no inline script).

use axum::extract::Path;
use axum::http::header;
use axum::response::{Html, IntoResponse, Response};

use crate::error::ApiError;

const INDEX_HTML: &str = include_str!("../assets/index.html");
const LIVE_HTML: &str = include_str!("../assets/live.html");

/// `(name, content type, body)` of every asset under `/assets/`.
const ASSETS: &[(&str, &str, &str)] = &[
    (
        "app.css",
        "text/css; charset=utf-8",
        include_str!("../assets/app.css"),
    ),
    (
        "index.js",
        "text/javascript; charset=utf-8",
        include_str!("../assets/index.js"),
    ),
    (
        "live.js",
        "text/javascript; charset=utf-8",
        include_str!("../assets/live.js"),
    ),
];

/// `GET /`: sign-in and meeting list.
pub async fn index() -> Html<&'static str> {
    Html(INDEX_HTML)
}

/// `GET /meetings/{id}/live`: the live transcript of one meeting. The page itself holds no
/// data; it authenticates its WebSocket with a ticket.
pub async fn live(Path(_meeting_id): Path<String>) -> Html<&'static str> {
    Html(LIVE_HTML)
}

/// `GET /assets/{name}`.
pub async fn asset(Path(name): Path<String>) -> Response {
    match ASSETS.iter().find(|(n, _, _)| *n == name) {
        Some((_, content_type, body)) => (
            [
                (header::CONTENT_TYPE, *content_type),
                (header::CACHE_CONTROL, "no-cache"),
            ],
            *body,
        )
            .into_response(),
        None => ApiError::not_found().into_response(),
    }
}
