//! The optional plain-HTTP listener beside HTTPS: every request is answered `308 Permanent
//! Redirect` to the same host, path and query on the HTTPS port. It never serves the
//! application, and sends no HSTS (a browser ignores HSTS received over plain HTTP anyway).

use axum::extract::Request;
use axum::http::{header, uri::Authority, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use scribe_core::ErrorCode;

use crate::error::ApiError;

/// Serves the redirect on `listener` until `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    https_port: u16,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let addr = listener.local_addr()?;
    tracing::info!(%addr, https_port, "redirecting plain HTTP on {addr} to HTTPS");
    axum::serve(listener, router(https_port))
        .with_graceful_shutdown(shutdown)
        .await
}

/// The redirecting application for a listener whose HTTPS sibling listens on `https_port`.
pub fn router(https_port: u16) -> Router {
    Router::new().fallback(move |req: Request| async move { redirect(&req, https_port) })
}

/// `308` to `https://HOST[:https_port]/path?query`, the host taken from the request with any
/// port it named replaced.
fn redirect(req: &Request, https_port: u16) -> Response {
    let Some(host) = host(req) else {
        return ApiError::new(
            ErrorCode::BadRequest,
            "use https (this request named no host)",
        )
        .into_response();
    };
    let port = match https_port {
        443 => String::new(),
        p => format!(":{p}"),
    };
    let path = req.uri().path_and_query().map_or("/", |p| p.as_str());
    match HeaderValue::from_str(&format!("https://{host}{port}{path}")) {
        Ok(location) => (
            StatusCode::PERMANENT_REDIRECT,
            [(header::LOCATION, location)],
            "use https\n",
        )
            .into_response(),
        Err(_) => ApiError::new(ErrorCode::BadRequest, "use https").into_response(),
    }
}

/// The host the client asked for (absolute-form target first, else `Host`), without port or
/// user information; `None` when there is none or it is not a host name or address.
fn host(req: &Request) -> Option<String> {
    let authority = match req.uri().authority() {
        Some(a) => a.clone(),
        None => req
            .headers()
            .get(header::HOST)?
            .to_str()
            .ok()?
            .parse::<Authority>()
            .ok()?,
    };
    let host = authority.host();
    let plain = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']');
    (!authority.as_str().contains('@') && !host.is_empty() && host.chars().all(plain))
        .then(|| host.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use tower::ServiceExt as _;

    async fn get(target: &str, host: Option<&str>) -> Response {
        let mut req = Request::get(target);
        if let Some(h) = host {
            req = req.header(header::HOST, h);
        }
        router(8443)
            .oneshot(req.body(Body::empty()).expect("request"))
            .await
            .expect("infallible")
    }

    fn location(res: &Response) -> &str {
        res.headers()[header::LOCATION].to_str().expect("ascii")
    }

    #[tokio::test]
    async fn every_request_is_sent_to_the_same_place_over_https() {
        let res = get("/meetings/abc/live?x=1&y=2", Some("notes.example.org:8080")).await;
        assert_eq!(res.status(), StatusCode::PERMANENT_REDIRECT);
        assert_eq!(
            location(&res),
            "https://notes.example.org:8443/meetings/abc/live?x=1&y=2"
        );
        assert!(res.headers().get("strict-transport-security").is_none());
        let res = get("/api/v1/meetings", Some("[::1]:80")).await;
        assert_eq!(location(&res), "https://[::1]:8443/api/v1/meetings");
        let res = router(443)
            .oneshot(
                Request::post("/api/v1/auth/login")
                    .header(header::HOST, "notes.example.org")
                    .body(Body::from("{}"))
                    .expect("request"),
            )
            .await
            .expect("infallible");
        assert_eq!(res.status(), StatusCode::PERMANENT_REDIRECT);
        assert_eq!(
            location(&res),
            "https://notes.example.org/api/v1/auth/login"
        );
    }

    #[tokio::test]
    async fn a_request_without_a_usable_host_is_refused_not_redirected() {
        for host in [None, Some("evil.example@notes.example.org"), Some("a b")] {
            let res = get("/", host).await;
            assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{host:?}");
            assert!(res.headers().get(header::LOCATION).is_none());
        }
    }
}
