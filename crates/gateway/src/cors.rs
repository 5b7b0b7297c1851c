//! Cross-origin requests from browsers (`server.allowed_origins`; empty = none but the
//! service's own pages).
//!
//! An allowed origin gets CORS headers (bearer tokens only: no cookies, so no
//! `Access-Control-Allow-Credentials`) and its preflights are answered. Any other origin gets no
//! CORS headers, its preflights are refused (403), and its requests that could change something
//! (anything but GET, HEAD, OPTIONS) are refused (403) before a handler runs — defence in depth
//! against cross-site request forgery, since a browser sends such a request before it reads the
//! CORS answer. Requests without `Origin` are not from a browser page and pass.

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use scribe_core::ErrorCode;

use crate::app::AppState;
use crate::error::ApiError;

const ALLOW_METHODS: &str = "GET, POST, PUT, PATCH, DELETE";
const ALLOW_HEADERS: &str = "authorization, content-type";
const EXPOSE_HEADERS: &str =
    "location, retry-after, x-ratelimit-limit, x-ratelimit-remaining, x-ratelimit-reset";

/// Whether a browser `Origin` is the service's own (same host as `Host`, either scheme) or one
/// of `allowed`; a request without `Origin` is a non-browser client and counts as allowed.
pub fn origin_allowed(headers: &HeaderMap, allowed: &[String]) -> bool {
    match headers.get(header::ORIGIN) {
        None => true,
        Some(origin) => match origin.to_str() {
            Ok(origin) => same_origin(headers, origin) || listed(origin, allowed),
            Err(_) => false,
        },
    }
}

fn listed(origin: &str, allowed: &[String]) -> bool {
    allowed.iter().any(|a| a.eq_ignore_ascii_case(origin))
}

fn same_origin(headers: &HeaderMap, origin: &str) -> bool {
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    let origin_host = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"));
    matches!((origin_host, host), (Some(o), Some(h)) if o.eq_ignore_ascii_case(h))
}

/// The middleware.
pub async fn cors(State(app): State<AppState>, req: Request, next: Next) -> Response {
    let Some(origin) = req
        .headers()
        .get(header::ORIGIN)
        .and_then(|o| o.to_str().ok())
        .map(str::to_owned)
    else {
        return next.run(req).await;
    };
    if same_origin(req.headers(), &origin) {
        return next.run(req).await;
    }
    let allowed = listed(&origin, &app.config.allowed_origins);
    let preflight = req.method() == Method::OPTIONS
        && req
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    if !allowed {
        let safe = matches!(*req.method(), Method::GET | Method::HEAD) && !preflight;
        if !safe {
            tracing::info!("cross-origin request refused: origin not allowed");
            return ApiError::new(ErrorCode::Forbidden, "origin not allowed").into_response();
        }
        return next.run(req).await;
    }
    let value = HeaderValue::from_str(&origin).unwrap_or(HeaderValue::from_static("null"));
    let mut res = if preflight {
        let mut res = StatusCode::NO_CONTENT.into_response();
        let h = res.headers_mut();
        h.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static(ALLOW_METHODS),
        );
        h.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static(ALLOW_HEADERS),
        );
        h.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static("600"),
        );
        res
    } else {
        let mut res = next.run(req).await;
        res.headers_mut().insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static(EXPOSE_HEADERS),
        );
        res
    };
    let h = res.headers_mut();
    h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, value);
    h.append(header::VARY, HeaderValue::from_static("origin"));
    res
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::{header, Method, Request, StatusCode};
    use tower::ServiceExt;

    async fn send(
        method: Method,
        path: &str,
        origin: Option<&str>,
        preflight: bool,
    ) -> axum::response::Response {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = crate::GatewayConfig {
            allowed_origins: vec!["https://notes.example.org".into()],
            ..crate::GatewayConfig::default()
        };
        let state = crate::testing::state_with(
            dir.path(),
            std::sync::Arc::new(scribe_auth::SystemClock),
            config,
        )
        .await;
        let mut b = Request::builder()
            .method(method)
            .uri(path)
            .header(header::HOST, "scribe.example.org");
        if let Some(o) = origin {
            b = b.header(header::ORIGIN, o);
        }
        if preflight {
            b = b
                .header(header::ACCESS_CONTROL_REQUEST_METHOD, "POST")
                .header(
                    header::ACCESS_CONTROL_REQUEST_HEADERS,
                    "authorization, content-type",
                );
        }
        crate::app::router(state)
            .oneshot(b.body(Body::empty()).expect("request"))
            .await
            .expect("infallible")
    }

    #[test]
    fn origin_must_match_the_host_or_the_allow_list() {
        use super::origin_allowed;
        use axum::http::{HeaderMap, HeaderValue};
        let mut h = HeaderMap::new();
        assert!(origin_allowed(&h, &[]), "no Origin: not a browser");
        h.insert(header::HOST, HeaderValue::from_static("127.0.0.1:8080"));
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("http://127.0.0.1:8080"),
        );
        assert!(origin_allowed(&h, &[]));
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("http://evil.example"),
        );
        assert!(!origin_allowed(&h, &[]));
        assert!(origin_allowed(&h, &["http://evil.example".to_owned()]));
        h.insert(header::ORIGIN, HeaderValue::from_static("null"));
        assert!(!origin_allowed(&h, &[]));
    }

    #[tokio::test]
    async fn an_allowed_origin_gets_cors_and_its_preflights_answered() {
        let res = send(
            Method::OPTIONS,
            "/api/v1/meetings",
            Some("https://notes.example.org"),
            true,
        )
        .await;
        assert_eq!(res.status(), StatusCode::NO_CONTENT);
        assert_eq!(
            res.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN],
            "https://notes.example.org"
        );
        assert!(res.headers()[header::ACCESS_CONTROL_ALLOW_HEADERS]
            .to_str()
            .expect("ascii")
            .contains("authorization"));
        assert!(!res
            .headers()
            .contains_key(header::ACCESS_CONTROL_ALLOW_CREDENTIALS));
        let res = send(
            Method::GET,
            "/api/v1/meetings",
            Some("https://notes.example.org"),
            false,
        )
        .await;
        assert_eq!(
            res.status(),
            StatusCode::UNAUTHORIZED,
            "CORS is not authentication"
        );
        assert_eq!(
            res.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN],
            "https://notes.example.org"
        );
        assert!(res.headers()[header::ACCESS_CONTROL_EXPOSE_HEADERS]
            .to_str()
            .expect("ascii")
            .contains("x-ratelimit-remaining"));
    }

    #[tokio::test]
    async fn any_other_origin_gets_nothing_and_cannot_send_changes() {
        let evil = Some("https://evil.example");
        let res = send(Method::OPTIONS, "/api/v1/meetings", evil, true).await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN);
        assert!(!res
            .headers()
            .contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN));
        let res = send(Method::POST, "/api/v1/auth/login", evil, false).await;
        assert_eq!(
            res.status(),
            StatusCode::FORBIDDEN,
            "refused before the handler"
        );
        let res = send(Method::GET, "/api/v1/meetings", evil, false).await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
        assert!(!res
            .headers()
            .contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN));
        // The service's own pages (same host) and non-browser clients (no Origin) pass.
        let own = send(
            Method::POST,
            "/api/v1/auth/login",
            Some("https://scribe.example.org"),
            false,
        )
        .await;
        assert_eq!(
            own.status(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "reached the handler"
        );
        let cli = send(Method::POST, "/api/v1/auth/login", None, false).await;
        assert_eq!(cli.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    }
}
