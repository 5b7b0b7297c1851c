//! Opening one WebSocket connection: TCP, TLS when asked, and the handshake with the bot's
//! credentials in headers (never in the URL).

use std::sync::Arc;
use std::time::Duration;

use anyhow::anyhow;
use rustls::ClientConfig;
use secrecy::{ExposeSecret as _, SecretString};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::http::{HeaderValue, Request};
use tokio_tungstenite::tungstenite::Error as WsError;
use tokio_tungstenite::{Connector, MaybeTlsStream, WebSocketStream};

use super::endpoint::Endpoint;

/// An open bot socket.
pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// How long TCP, TLS and the handshake may take together.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);

/// The bot's identity on every connection.
pub struct Credentials {
    pub bot_id: String,
    pub api_key: SecretString,
}

/// Why a connection could not be opened.
#[derive(Debug)]
pub enum ConnectError {
    /// The server answered the upgrade with a client-error status (401, 403, 404, …): asking
    /// again will not help.
    Refused(String),
    /// Network, TLS, timeout or a server-side status: worth retrying when resuming.
    Failed(anyhow::Error),
}

/// Connects to `endpoint`, starting a new stream or continuing the one `resume_token` names.
pub async fn connect(
    endpoint: &Endpoint,
    tls: Option<&Arc<ClientConfig>>,
    creds: &Credentials,
    resume_token: Option<&str>,
) -> Result<Ws, ConnectError> {
    let request = request(endpoint, creds, resume_token).map_err(ConnectError::Failed)?;
    let attempt = async {
        let tcp = TcpStream::connect((endpoint.host.as_str(), endpoint.port))
            .await
            .map_err(|e| {
                ConnectError::Failed(anyhow!(
                    "cannot connect to {}:{}: {e}",
                    endpoint.host,
                    endpoint.port
                ))
            })?;
        // Small audio messages go out at once.
        let _ = tcp.set_nodelay(true);
        let connector = match tls {
            Some(config) => Connector::Rustls(Arc::clone(config)),
            None => Connector::Plain,
        };
        tokio_tungstenite::client_async_tls_with_config(request, tcp, None, Some(connector))
            .await
            .map(|(ws, _response)| ws)
            .map_err(|e| handshake_error(endpoint, e))
    };
    tokio::time::timeout(CONNECT_TIMEOUT, attempt)
        .await
        .unwrap_or_else(|_| {
            Err(ConnectError::Failed(anyhow!(
                "no answer from {} within {} s",
                endpoint.base,
                CONNECT_TIMEOUT.as_secs()
            )))
        })
}

/// The upgrade request: the URL carries the audio format (and resume token); the bot id and key go
/// in headers so the key stays out of URLs and access logs.
fn request(
    endpoint: &Endpoint,
    creds: &Credentials,
    resume_token: Option<&str>,
) -> anyhow::Result<Request<()>> {
    let mut req = endpoint
        .url(resume_token)
        .into_client_request()
        .map_err(|_| anyhow!("cannot build a WebSocket request for {}", endpoint.base))?;
    let bot_id = HeaderValue::from_str(&creds.bot_id)
        .map_err(|_| anyhow!("--bot-id must be printable ASCII"))?;
    let mut auth = HeaderValue::from_str(&format!("Bearer {}", creds.api_key.expose_secret()))
        .map_err(|_| anyhow!("the API key must be printable ASCII"))?;
    auth.set_sensitive(true);
    let headers = req.headers_mut();
    headers.insert("x-bot-id", bot_id);
    headers.insert("authorization", auth);
    headers.insert(
        "user-agent",
        HeaderValue::from_static(concat!("nexus-scribe-bot/", env!("CARGO_PKG_VERSION"))),
    );
    Ok(req)
}

fn handshake_error(endpoint: &Endpoint, e: WsError) -> ConnectError {
    match e {
        WsError::Http(response) => {
            let status = response.status();
            let what = format!(
                "{} answered HTTP {status} instead of opening the WebSocket",
                endpoint.base
            );
            // 408 and 429 are worth another try; other client errors are a refusal.
            if status.is_client_error() && status.as_u16() != 408 && status.as_u16() != 429 {
                ConnectError::Refused(what)
            } else {
                ConnectError::Failed(anyhow!(what))
            }
        }
        WsError::Io(io) => ConnectError::Failed(anyhow!("connecting to {}: {io}", endpoint.base)),
        other => ConnectError::Failed(anyhow!("handshake with {} failed: {other}", endpoint.base)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_travel_in_headers_and_never_in_the_url() {
        let endpoint = Endpoint::parse("http://127.0.0.1:1", "m").expect("valid");
        let creds = Credentials {
            bot_id: "bot-1".into(),
            api_key: "k3y".to_owned().into(),
        };
        let req = request(&endpoint, &creds, Some("tok")).expect("request");
        assert_eq!(req.headers()["x-bot-id"], "bot-1");
        assert_eq!(req.headers()["authorization"], "Bearer k3y");
        assert!(req.headers()["authorization"].is_sensitive());
        let uri = req.uri().to_string();
        assert!(!uri.contains("k3y") && !uri.contains("bot-1"), "{uri}");
        assert!(uri.ends_with("channels=1&resume_token=tok"), "{uri}");
    }

    #[test]
    fn header_unsafe_bot_id_is_refused() {
        let endpoint = Endpoint::parse("http://h", "m").expect("valid");
        let creds = Credentials {
            bot_id: "a\nb".into(),
            api_key: "k".to_owned().into(),
        };
        assert!(request(&endpoint, &creds, None).is_err());
    }
}
