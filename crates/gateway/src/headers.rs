//! Security headers on every response (PROTOCOL.md, DESIGN.md security model).

use axum::extract::Request;
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;

/// Content Security Policy: only our own scripts, styles and sockets; no framing.
pub const CSP: &str =
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// HTTP Strict Transport Security: one year, subdomains included.
pub const HSTS: &str = "max-age=31536000; includeSubDomains";

/// Adds the security headers to every response. Responses to authenticated requests (and all
/// API answers) are marked `no-store`. HSTS goes only on answers to requests that really came
/// over TLS (the TLS accept path marks them).
pub async fn security_headers(req: Request, next: Next) -> Response {
    let authenticated =
        req.headers().contains_key(header::AUTHORIZATION) || req.uri().path().starts_with("/api/");
    let via_tls = req.extensions().get::<crate::tls::ViaTls>().is_some();
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        "permissions-policy",
        HeaderValue::from_static("camera=(), microphone=(), geolocation=(), payment=()"),
    );
    h.insert(
        "cross-origin-opener-policy",
        HeaderValue::from_static("same-origin"),
    );
    if authenticated {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    if via_tls {
        h.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static(HSTS),
        );
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::routing::get;
    use tower::ServiceExt as _;

    async fn hsts(via_tls: bool) -> Option<HeaderValue> {
        let app = axum::Router::new()
            .route("/healthz", get(|| async { "ok" }))
            .layer(axum::middleware::from_fn(security_headers));
        let mut req = Request::get("/healthz")
            .body(Body::empty())
            .expect("request");
        if via_tls {
            req.extensions_mut().insert(crate::tls::ViaTls);
        }
        let res = app.oneshot(req).await.expect("infallible");
        res.headers()
            .get(header::STRICT_TRANSPORT_SECURITY)
            .cloned()
    }

    #[tokio::test]
    async fn hsts_only_on_requests_that_came_over_tls() {
        assert_eq!(
            hsts(true).await.as_ref().map(HeaderValue::as_bytes),
            Some(HSTS.as_bytes())
        );
        assert_eq!(hsts(false).await, None);
    }
}
