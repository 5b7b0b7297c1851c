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
        "favicon.svg",
        "image/svg+xml",
        include_str!("../assets/favicon.svg"),
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The pages must work under `headers::CSP` and never turn transcript text into markup:
    /// no HTML sinks or string evaluation in the scripts, no inline styles or handlers in the
    /// pages. (The browser test checks the same at run time: no CSP violation.)
    #[test]
    fn assets_keep_to_the_csp_and_use_text_only_sinks() {
        for (name, _, body) in ASSETS.iter().filter(|(n, _, _)| n.ends_with(".js")) {
            for sink in [
                "innerHTML",
                "outerHTML",
                "insertAdjacentHTML",
                "document.write",
                "eval(",
                "new Function",
                "setTimeout(\"",
                "setAttribute(\"style\"",
                "setAttribute(\"on",
            ] {
                assert!(!body.contains(sink), "{name} uses {sink}");
            }
        }
        for (name, html) in [("index.html", INDEX_HTML), ("live.html", LIVE_HTML)] {
            let lower = html.to_ascii_lowercase();
            assert!(!lower.contains(" style="), "{name}: inline style");
            assert!(!lower.contains("<style"), "{name}: inline style sheet");
            assert!(!lower.contains("javascript:"), "{name}: javascript: URL");
            for attr in lower.split(|c: char| c.is_whitespace()).skip(1) {
                let is_handler = attr.starts_with("on")
                    && attr
                        .split_once('=')
                        .is_some_and(|(n, _)| n.chars().all(|c| c.is_ascii_alphabetic()));
                assert!(!is_handler, "{name}: inline handler {attr}");
            }
        }
    }

    #[test]
    fn the_pages_link_only_assets_that_exist() {
        for html in [INDEX_HTML, LIVE_HTML] {
            for (i, _) in html.match_indices("/assets/") {
                let rest = &html[i + "/assets/".len()..];
                let name = &rest[..rest.find('"').expect("quoted")];
                assert!(
                    ASSETS.iter().any(|(n, _, _)| *n == name),
                    "/assets/{name} is linked but not served"
                );
            }
        }
    }
}
