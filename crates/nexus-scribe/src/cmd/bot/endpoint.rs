//! Where the bot connects: the service base URL turned into the `/ws/audio/{meeting}` WebSocket
//! URL with the audio-format query (and the resume token when resuming).

use anyhow::{bail, Context as _};
use tokio_tungstenite::tungstenite::http::Uri;

/// The audio format the bot always sends: 16 kHz mono PCM s16le (PROTOCOL.md §1).
pub const FORMAT_QUERY: &str = "encoding=linear16&sample_rate=16000&channels=1";

/// A parsed `--url` plus meeting: everything but the per-connection query.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    /// `wss` (TLS) rather than `ws`.
    pub tls: bool,
    /// Host name or IP address, without IPv6 brackets (for the TCP connection).
    pub host: String,
    pub port: u16,
    /// `ws[s]://authority/prefix/ws/audio/<meeting>`: no query, safe to log.
    pub base: String,
}

impl Endpoint {
    /// Parses the service base URL (`http://`, `https://`, `ws://` or `wss://`, optionally with a
    /// path prefix) and the meeting id.
    pub fn parse(url: &str, meeting: &str) -> anyhow::Result<Self> {
        if meeting.is_empty() {
            bail!("--meeting is empty");
        }
        let Some((scheme, _)) = url.split_once("://") else {
            bail!("--url {url:?} has no scheme: start it with http://, https://, ws:// or wss://");
        };
        let tls = match scheme.to_ascii_lowercase().as_str() {
            "http" | "ws" => false,
            "https" | "wss" => true,
            other => bail!(
                "--url scheme {other:?} is not supported: use http://, https://, ws:// or wss://"
            ),
        };
        if url.contains(['?', '#']) {
            bail!("--url must be the service base URL, without a query or fragment");
        }
        let uri: Uri = url
            .parse()
            .with_context(|| format!("--url {url:?} is not a valid URL"))?;
        let authority = uri
            .authority()
            .with_context(|| format!("--url {url:?} has no host"))?;
        if authority.as_str().contains('@') {
            bail!(
                "--url must not carry credentials: pass the key with {}",
                super::args::API_KEY_ENV
            );
        }
        let host = authority
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        if host.is_empty() {
            bail!("--url {url:?} has no host");
        }
        let port = authority.port_u16().unwrap_or(if tls { 443 } else { 80 });
        let prefix = uri.path().trim_end_matches('/');
        let base = format!(
            "{}://{}{prefix}/ws/audio/{}",
            if tls { "wss" } else { "ws" },
            authority.as_str(),
            percent_encode(meeting)
        );
        Ok(Self {
            tls,
            host,
            port,
            base,
        })
    }

    /// The URL of one connection: a new stream, or the continuation of one. Holds the resume
    /// token, so it is never logged (log [`Endpoint::base`]).
    pub fn url(&self, resume_token: Option<&str>) -> String {
        match resume_token {
            Some(token) => format!(
                "{}?{FORMAT_QUERY}&resume_token={}",
                self.base,
                percent_encode(token)
            ),
            None => format!("{}?{FORMAT_QUERY}", self.base),
        }
    }
}

/// Percent-encodes everything but RFC 3986 unreserved characters (safe in a path segment and in a
/// query value).
fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_and_ws_bases_map_to_the_audio_socket() {
        let e = Endpoint::parse("http://127.0.0.1:8080", "m1").expect("valid");
        assert_eq!(
            e,
            Endpoint {
                tls: false,
                host: "127.0.0.1".into(),
                port: 8080,
                base: "ws://127.0.0.1:8080/ws/audio/m1".into(),
            }
        );
        assert_eq!(
            e.url(None),
            "ws://127.0.0.1:8080/ws/audio/m1?encoding=linear16&sample_rate=16000&channels=1"
        );
        let e = Endpoint::parse("ws://example.org/", "m1").expect("valid");
        assert_eq!((e.tls, e.port), (false, 80));
        assert_eq!(e.base, "ws://example.org/ws/audio/m1");
    }

    #[test]
    fn https_and_wss_use_tls_and_default_port_443() {
        for url in ["https://scribe.example.org", "WSS://scribe.example.org"] {
            let e = Endpoint::parse(url, "m").expect("valid");
            assert!(e.tls);
            assert_eq!((e.host.as_str(), e.port), ("scribe.example.org", 443));
            assert_eq!(e.base, "wss://scribe.example.org/ws/audio/m");
        }
    }

    #[test]
    fn a_path_prefix_is_kept_and_ipv6_hosts_lose_their_brackets() {
        let e = Endpoint::parse("https://[::1]:8443/scribe/", "m").expect("valid");
        assert_eq!((e.host.as_str(), e.port), ("::1", 8443));
        assert_eq!(e.base, "wss://[::1]:8443/scribe/ws/audio/m");
    }

    #[test]
    fn meeting_and_token_are_percent_encoded() {
        let e = Endpoint::parse("http://h", "a b/c?d").expect("valid");
        assert_eq!(e.base, "ws://h/ws/audio/a%20b%2Fc%3Fd");
        assert_eq!(
            e.url(Some("t+k=/&")),
            "ws://h/ws/audio/a%20b%2Fc%3Fd?encoding=linear16&sample_rate=16000&channels=1\
             &resume_token=t%2Bk%3D%2F%26"
        );
    }

    #[test]
    fn bad_urls_are_named() {
        for (url, expect) in [
            ("127.0.0.1:8080", "no scheme"),
            ("ftp://h", "not supported"),
            ("http://h/?api_key=x", "without a query"),
            ("http://user:pw@h", "credentials"),
            ("http://", "not a valid URL"),
        ] {
            let err = Endpoint::parse(url, "m").expect_err(url).to_string();
            assert!(err.contains(expect), "{url}: {err}");
        }
        assert!(Endpoint::parse("http://h", "").is_err());
    }
}
