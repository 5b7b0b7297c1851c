//! Calls the service makes to URLs an administrator configured (alert webhooks): only to public
//! http(s) hosts, checked after DNS resolution, to the addresses that were checked, with short
//! timeouts and without following redirects.
//!
//! Server-side request forgery is the risk: a URL that names (or resolves to) a loopback,
//! private, link-local, carrier-grade-NAT, multicast or otherwise non-public address would let
//! whoever sets it reach the machine's own services or a cloud metadata endpoint
//! (169.254.169.254, fd00:ec2::254) from inside the network. The check happens on every call,
//! and the connection goes to the very addresses checked, so a name that resolves differently
//! the second time (DNS rebinding) gains nothing. A redirect is reported, never followed.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::http::Uri;
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};

/// Connecting, sending and reading the answer each get this long.
pub const STEP_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest URL accepted.
const MAX_URL_BYTES: usize = 2048;

/// Why a URL may not be called, or a call failed. The text names the rule, never the URL's
/// query (which may carry a token).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OutboundError {
    /// Not an absolute http(s) URL with a host.
    Malformed(&'static str),
    /// The host is, or resolves to, an address that is not public.
    NotPublic(&'static str),
    /// The name did not resolve.
    Unresolved,
    /// Connecting, TLS or the exchange failed or timed out.
    Failed(&'static str),
    /// The answer was a redirect (not followed).
    Redirect(u16),
}

impl fmt::Display for OutboundError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Malformed(why) => write!(f, "not a usable URL: {why}"),
            Self::NotPublic(kind) => write!(
                f,
                "the host is or resolves to a {kind} address; only public hosts can be called"
            ),
            Self::Unresolved => f.write_str("the host name does not resolve"),
            Self::Failed(why) => write!(f, "the call failed: {why}"),
            Self::Redirect(status) => {
                write!(
                    f,
                    "the URL answered with a redirect ({status}), which is not followed"
                )
            }
        }
    }
}

impl std::error::Error for OutboundError {}

/// A URL that passed the checks, with the addresses it may be called at.
#[derive(Clone, Debug)]
pub struct Checked {
    https: bool,
    host: String,
    path: String,
    addrs: Vec<SocketAddr>,
}

/// What kind of non-public address `ip` is, or `None` for a public one.
pub fn non_public_kind(ip: IpAddr) -> Option<&'static str> {
    match ip.to_canonical() {
        IpAddr::V4(v4) => v4_kind(v4),
        IpAddr::V6(v6) => v6_kind(v6),
    }
}

fn v4_kind(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    Some(match (a, b, c) {
        _ if ip.is_loopback() => "loopback",
        _ if ip.is_private() => "private",
        _ if ip.is_link_local() => "link-local (cloud metadata)",
        _ if ip.is_unspecified() || a == 0 => "unspecified",
        _ if ip.is_broadcast() => "broadcast",
        _ if ip.is_multicast() || a >= 240 => "multicast or reserved",
        (100, 64..=127, _) => "carrier-grade NAT",
        (192, 0, 0) | (192, 0, 2) | (198, 51, 100) | (203, 0, 113) => "reserved",
        (198, 18..=19, _) => "benchmarking",
        _ => return None,
    })
}

fn v6_kind(ip: Ipv6Addr) -> Option<&'static str> {
    let first = ip.segments()[0];
    Some(match first {
        _ if ip.is_loopback() => "loopback",
        _ if ip.is_unspecified() => "unspecified",
        _ if ip.is_multicast() => "multicast",
        0xfe80..=0xfebf => "link-local",
        0xfc00..=0xfdff => "private (unique local, cloud metadata)",
        0x2001 if ip.segments()[1] == 0x0db8 => "reserved (documentation)",
        0x0064 if ip.segments()[1] == 0xff9b => "NAT64",
        _ if ip.segments()[..6] == [0, 0, 0, 0, 0, 0] => "reserved (IPv4-compatible)",
        _ => return None,
    })
}

/// Parses `raw` and checks it: http or https, a host, no user name or password, and every
/// address the host resolves to public.
pub async fn check(raw: &str) -> Result<Checked, OutboundError> {
    let (https, host, port, path) = parse(raw)?;
    let addrs: Vec<SocketAddr> = match host.parse::<IpAddr>() {
        Ok(ip) => vec![SocketAddr::new(ip, port)],
        Err(_) => {
            tokio::time::timeout(STEP_TIMEOUT, tokio::net::lookup_host((host.as_str(), port)))
                .await
                .map_err(|_| OutboundError::Unresolved)?
                .map_err(|_| OutboundError::Unresolved)?
                .collect()
        }
    };
    if addrs.is_empty() {
        return Err(OutboundError::Unresolved);
    }
    // Every address must be public: a name with one private address among public ones could
    // be connected to that one.
    if let Some(kind) = addrs.iter().find_map(|a| non_public_kind(a.ip())) {
        return Err(OutboundError::NotPublic(kind));
    }
    Ok(Checked {
        https,
        host,
        path,
        addrs,
    })
}

fn parse(raw: &str) -> Result<(bool, String, u16, String), OutboundError> {
    if raw.len() > MAX_URL_BYTES {
        return Err(OutboundError::Malformed("longer than 2048 bytes"));
    }
    let uri: Uri = raw
        .trim()
        .parse()
        .map_err(|_| OutboundError::Malformed("not an absolute URL"))?;
    let https = match uri.scheme_str().map(str::to_ascii_lowercase).as_deref() {
        Some("https") => true,
        Some("http") => false,
        _ => return Err(OutboundError::Malformed("the scheme must be http or https")),
    };
    let authority = uri.authority().ok_or(OutboundError::Malformed("no host"))?;
    if authority.as_str().contains('@') {
        return Err(OutboundError::Malformed(
            "a user name or password in the URL is not allowed",
        ));
    }
    let host = authority
        .host()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_ascii_lowercase();
    if host.is_empty() {
        return Err(OutboundError::Malformed("no host"));
    }
    let port = authority.port_u16().unwrap_or(if https { 443 } else { 80 });
    let path = uri
        .path_and_query()
        .map_or("/".to_owned(), |p| p.as_str().to_owned());
    Ok((https, host, port, path))
}

/// POSTs `body` (JSON) to a checked URL, at the addresses that were checked. The status of a
/// non-redirect answer, or why not.
pub async fn post_json(url: &Checked, body: &[u8]) -> Result<u16, OutboundError> {
    let mut last = OutboundError::Failed("no address could be reached");
    for addr in &url.addrs {
        match step(tokio::net::TcpStream::connect(addr)).await {
            Ok(tcp) => {
                return if url.https {
                    let tls = tls_connect(&url.host, tcp).await?;
                    exchange(tls, url, body).await
                } else {
                    exchange(tcp, url, body).await
                };
            }
            Err(e) => last = e,
        }
    }
    Err(last)
}

async fn step<T>(
    f: impl std::future::Future<Output = std::io::Result<T>>,
) -> Result<T, OutboundError> {
    tokio::time::timeout(STEP_TIMEOUT, f)
        .await
        .map_err(|_| OutboundError::Failed("timed out"))?
        .map_err(|_| OutboundError::Failed("connection error"))
}

async fn tls_connect(
    host: &str,
    tcp: tokio::net::TcpStream,
) -> Result<tokio_rustls::client::TlsStream<tokio::net::TcpStream>, OutboundError> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_native_certs::load_native_certs().certs {
        let _ = roots.add(cert);
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|_| OutboundError::Failed("TLS set-up"))?
    .with_root_certificates(roots)
    .with_no_client_auth();
    let name = rustls::pki_types::ServerName::try_from(host.to_owned())
        .map_err(|_| OutboundError::Malformed("the host is not a valid TLS name"))?;
    step(tokio_rustls::TlsConnector::from(Arc::new(config)).connect(name, tcp)).await
}

async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(
    mut io: S,
    url: &Checked,
    body: &[u8],
) -> Result<u16, OutboundError> {
    let head = format!(
        "POST {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: NexusScribe\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        url.path,
        url.host,
        body.len()
    );
    step(async {
        io.write_all(head.as_bytes()).await?;
        io.write_all(body).await?;
        io.flush().await
    })
    .await?;
    // Only the status line is needed; read at most 1 KiB of the answer.
    let mut buf = vec![0u8; 1024];
    let mut n = 0;
    while n < buf.len() && !buf[..n].windows(2).any(|w| w == b"\r\n") {
        let read = step(io.read(&mut buf[n..])).await?;
        if read == 0 {
            break;
        }
        n += read;
    }
    let line = String::from_utf8_lossy(&buf[..n]);
    let status = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse::<u16>().ok())
        .filter(|_| line.starts_with("HTTP/1."))
        .ok_or(OutboundError::Failed("not an HTTP answer"))?;
    if (300..400).contains(&status) {
        return Err(OutboundError::Redirect(status));
    }
    Ok(status)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    #[test]
    fn only_public_addresses_pass() {
        for private in [
            "127.0.0.1",
            "10.0.0.1",
            "172.16.5.4",
            "192.168.1.1",
            "169.254.169.254",
            "100.100.100.200",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "::1",
            "::",
            "fe80::1",
            "fd00:ec2::254",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::a00:1",
        ] {
            assert!(non_public_kind(ip(private)).is_some(), "{private}");
        }
        for public in [
            "93.184.216.34",
            "8.8.8.8",
            "2606:4700:4700::1111",
            "::ffff:1.1.1.1",
        ] {
            assert_eq!(non_public_kind(ip(public)), None, "{public}");
        }
    }

    #[tokio::test]
    async fn loopback_private_metadata_and_names_resolving_to_them_are_refused() {
        for url in [
            "http://127.0.0.1/hook",
            "http://10.0.0.1/hook",
            "http://169.254.169.254/latest/meta-data/",
            "http://[::1]:8080/",
            "http://[fd00:ec2::254]/",
            "http://localhost/hook",
            "https://LOCALHOST:8443/hook",
        ] {
            let err = check(url).await.expect_err(url);
            assert!(matches!(err, OutboundError::NotPublic(_)), "{url}: {err}");
            assert!(err.to_string().contains("only public hosts"), "{err}");
        }
        for (url, why) in [
            ("ftp://example.org/x", "scheme"),
            ("file:///etc/passwd", "URL"),
            ("http://user:secret@example.org/", "password"),
            ("example.org/hook", "absolute"),
            ("http://", "URL"),
        ] {
            let err = check(url).await.expect_err(url);
            assert!(err.to_string().contains(why), "{url}: {err}");
            assert!(!err.to_string().contains("secret"), "{err}");
        }
    }

    #[tokio::test]
    async fn redirects_are_reported_not_followed() {
        use tokio::io::AsyncWriteExt as _;
        // A server that redirects to the metadata address; reached directly here (a test cannot
        // own a public address), as a checked URL would be.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let server = tokio::spawn(async move {
            let mut served = 0;
            while let Ok((mut s, _)) = listener.accept().await {
                let mut buf = [0u8; 2048];
                let _ = s.read(&mut buf).await;
                served += 1;
                let _ = s
                    .write_all(b"HTTP/1.1 302 Found\r\nLocation: http://169.254.169.254/\r\nContent-Length: 0\r\n\r\n")
                    .await;
                if served == 1 {
                    break;
                }
            }
            served
        });
        let url = Checked {
            https: false,
            host: "hooks.example.org".into(),
            path: "/hook".into(),
            addrs: vec![addr],
        };
        assert_eq!(
            post_json(&url, b"{}").await,
            Err(OutboundError::Redirect(302))
        );
        assert_eq!(
            server.await.expect("server"),
            1,
            "one request, nothing followed"
        );
    }

    #[tokio::test]
    async fn a_silent_server_times_out_instead_of_hanging() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let _held = tokio::spawn(async move {
            let conn = listener.accept().await;
            tokio::time::sleep(Duration::from_secs(60)).await;
            drop(conn);
        });
        let url = Checked {
            https: false,
            host: "hooks.example.org".into(),
            path: "/".into(),
            addrs: vec![addr],
        };
        let started = std::time::Instant::now();
        assert_eq!(
            post_json(&url, b"{}").await,
            Err(OutboundError::Failed("timed out"))
        );
        assert!(started.elapsed() < STEP_TIMEOUT + Duration::from_secs(2));
    }
}
