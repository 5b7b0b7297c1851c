//! Rate limits at the edge, before any handler (and so before any credential or body is read):
//! every request is counted against its client's limit for its category — sign-in, second
//! factor, WebSocket connections, everything else — and against that category's global
//! ceiling. Every answer carries `X-RateLimit-Limit`, `X-RateLimit-Remaining` and
//! `X-RateLimit-Reset` (seconds until the oldest counted request leaves the window); a refusal
//! is `429` with `Retry-After`.
//!
//! The client is the socket's peer, or — only when that peer is a configured trusted proxy —
//! the nearest address in `X-Forwarded-For` that is not itself a trusted proxy (read from the
//! right, the only entries a proxy we trust vouches for). IPv6 clients count per /64.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Extension;
use scribe_auth::{Allowance, Clock, IpNetwork, LoginThrottle, ThrottleConfig};

use crate::app::AppState;
use crate::error::ApiError;

/// The client a request is from, as the edge decided it (see the module documentation).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientIp(pub IpAddr);

/// The client of a request for handlers (loopback when a test calls the router without a
/// socket).
pub(crate) fn client_ip(ip: Option<&Extension<ClientIp>>) -> IpAddr {
    ip.map_or(IpAddr::V4(Ipv4Addr::LOCALHOST), |e| e.0 .0)
}

/// What a request is counted as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Category {
    /// Sign-in, refresh, password change and reset, accepting an invitation, first-admin setup.
    Auth,
    /// Second-factor codes and enrolment.
    Mfa,
    /// Opening a WebSocket.
    WebSocket,
    /// Everything else.
    Api,
}

impl Category {
    /// The category of a request path.
    pub fn of(path: &str) -> Self {
        const AUTH: [&str; 6] = [
            "/api/v1/auth/login",
            "/api/v1/auth/password",
            "/api/v1/auth/refresh",
            "/api/v1/auth/password/reset",
            "/api/v1/invites/accept",
            "/api/v1/setup",
        ];
        if AUTH.contains(&path) {
            Self::Auth
        } else if path.starts_with("/api/v1/mfa/") {
            Self::Mfa
        } else if path.starts_with("/ws/") {
            Self::WebSocket
        } else {
            Self::Api
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Auth => "sign-in",
            Self::Mfa => "second-factor",
            Self::WebSocket => "connection",
            Self::Api => "request",
        }
    }
}

/// The limits of each category.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimitConfig {
    pub auth: ThrottleConfig,
    pub mfa: ThrottleConfig,
    pub websocket: ThrottleConfig,
    pub api: ThrottleConfig,
}

impl Default for RateLimitConfig {
    /// Per client per 60 s: sign-in 5, second factor 5, WebSocket connections 10, other requests
    /// 100; global ceilings per 60 s: 100, 100, 1 000, 10 000.
    fn default() -> Self {
        let limit = |per_ip: u32, global: u32| {
            let minute = std::time::Duration::from_secs(60);
            ThrottleConfig {
                per_ip: scribe_auth::RateLimit {
                    attempts: per_ip,
                    window: minute,
                },
                global: scribe_auth::RateLimit {
                    attempts: global,
                    window: minute,
                },
                ..ThrottleConfig::default()
            }
        };
        Self {
            auth: limit(5, 100),
            mfa: limit(5, 100),
            websocket: limit(10, 1_000),
            api: limit(100, 10_000),
        }
    }
}

/// One throttle per category.
pub struct RateLimits {
    auth: LoginThrottle,
    mfa: LoginThrottle,
    websocket: LoginThrottle,
    api: LoginThrottle,
}

impl RateLimits {
    pub fn new(config: RateLimitConfig, clock: &Arc<dyn Clock>) -> Self {
        let throttle = |c| LoginThrottle::new(c, Arc::clone(clock));
        Self {
            auth: throttle(config.auth),
            mfa: throttle(config.mfa),
            websocket: throttle(config.websocket),
            api: throttle(config.api),
        }
    }

    fn of(&self, category: Category) -> &LoginThrottle {
        match category {
            Category::Auth => &self.auth,
            Category::Mfa => &self.mfa,
            Category::WebSocket => &self.websocket,
            Category::Api => &self.api,
        }
    }
}

/// Whether `ip` is one of the configured trusted proxies.
fn is_trusted_proxy(ip: IpAddr, trusted: &[IpNetwork]) -> bool {
    trusted.iter().any(|n| n.contains(ip))
}

/// The client of a request arriving from `peer`: `peer` itself unless it is a trusted proxy, in
/// which case the right-most `X-Forwarded-For` address that is not a trusted proxy (or, if all
/// are, the left-most). A malformed header is ignored (the peer counts).
pub fn client_of(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNetwork]) -> IpAddr {
    let is_trusted = |ip: IpAddr| is_trusted_proxy(ip, trusted);
    if !is_trusted(peer) {
        return peer;
    }
    let mut hops: Vec<IpAddr> = Vec::new();
    for value in headers.get_all("x-forwarded-for") {
        let Ok(value) = value.to_str() else {
            return peer;
        };
        for part in value.split(',') {
            match part.trim().parse::<IpAddr>() {
                Ok(ip) => hops.push(ip),
                Err(_) => return peer,
            }
        }
    }
    hops.iter()
        .rev()
        .copied()
        .find(|ip| !is_trusted(*ip))
        .or_else(|| hops.first().copied())
        .unwrap_or(peer)
}

/// Marks a request that a trusted proxy says came over HTTPS (`X-Forwarded-Proto: https`, the
/// first value when proxies are chained), so its answer gets HSTS like one that came over this
/// server's own TLS. From anyone else the header means nothing.
pub async fn mark_forwarded_tls(
    State(app): State<AppState>,
    mut req: Request,
    next: Next,
) -> Response {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let trusted = peer.is_some_and(|ip| is_trusted_proxy(ip, &app.config.trusted_proxies));
    let forwarded_https = req
        .headers()
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("https"));
    if trusted && forwarded_https {
        req.extensions_mut().insert(crate::tls::ViaTls);
    }
    next.run(req).await
}

/// The middleware in front of every route.
pub async fn limit(State(app): State<AppState>, mut req: Request, next: Next) -> Response {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::V4(Ipv4Addr::LOCALHOST), |c| c.0.ip());
    let client = client_of(peer, req.headers(), &app.config.trusted_proxies);
    req.extensions_mut().insert(ClientIp(client));
    let category = Category::of(req.uri().path());
    match app.rate_limits.of(category).check(client) {
        Ok(allowance) => {
            let mut res = next.run(req).await;
            set_headers(res.headers_mut(), allowance);
            res
        }
        Err(refused) => {
            tracing::warn!(scope = %refused.scope, category = category.name(), "request throttled");
            let mut res = ApiError::rate_limited(
                format!("too many {} attempts; retry later", category.name()),
                refused.retry_after,
            )
            .into_response();
            set_headers(
                res.headers_mut(),
                Allowance {
                    limit: refused.limit,
                    remaining: 0,
                    reset: refused.retry_after,
                },
            );
            res
        }
    }
}

fn set_headers(headers: &mut HeaderMap, a: Allowance) {
    let reset = a.reset.as_secs() + u64::from(a.reset.subsec_nanos() > 0);
    for (name, value) in [
        ("x-ratelimit-limit", u64::from(a.limit)),
        ("x-ratelimit-remaining", u64::from(a.remaining)),
        ("x-ratelimit-reset", reset),
    ] {
        headers.insert(name, HeaderValue::from(value));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(xff: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in xff {
            h.append("x-forwarded-for", v.parse().expect("header"));
        }
        h
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    #[test]
    fn forwarded_for_counts_only_behind_a_trusted_proxy() {
        let trusted: Vec<IpNetwork> = vec!["10.0.0.0/8".parse().expect("net")];
        // An untrusted peer's header is ignored: anyone can write one.
        assert_eq!(
            client_of(ip("203.0.113.5"), &headers(&["198.51.100.1"]), &trusted),
            ip("203.0.113.5")
        );
        // Behind the proxy: the right-most address the proxies did not add themselves.
        assert_eq!(
            client_of(
                ip("10.0.0.2"),
                &headers(&["1.2.3.4, 198.51.100.7, 10.0.0.9"]),
                &trusted
            ),
            ip("198.51.100.7"),
            "a spoofed left-most entry does not win"
        );
        assert_eq!(
            client_of(
                ip("10.0.0.2"),
                &headers(&["1.2.3.4", "198.51.100.7"]),
                &trusted
            ),
            ip("198.51.100.7"),
            "several header lines read as one list"
        );
        assert_eq!(
            client_of(ip("10.0.0.2"), &headers(&[]), &trusted),
            ip("10.0.0.2")
        );
        assert_eq!(
            client_of(ip("10.0.0.2"), &headers(&["not an address"]), &trusted),
            ip("10.0.0.2")
        );
        assert_eq!(
            client_of(ip("10.0.0.2"), &headers(&["198.51.100.7"]), &[]),
            ip("10.0.0.2"),
            "no trusted proxies: the peer"
        );
    }

    #[test]
    fn paths_fall_into_their_categories() {
        assert_eq!(Category::of("/api/v1/auth/login"), Category::Auth);
        assert_eq!(Category::of("/api/v1/invites/accept"), Category::Auth);
        assert_eq!(Category::of("/api/v1/mfa/verify"), Category::Mfa);
        assert_eq!(Category::of("/ws/audio/x"), Category::WebSocket);
        assert_eq!(Category::of("/api/v1/meetings"), Category::Api);
        assert_eq!(Category::of("/api/v1/auth/logout"), Category::Api);
        assert_eq!(Category::of("/"), Category::Api);
    }
}
