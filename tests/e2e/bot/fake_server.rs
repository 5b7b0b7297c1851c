//! A scripted fake of the server's `/ws/audio/{meeting}` socket (plain or TLS) that records
//! everything a bot does, and test audio with known PCM.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use e2e_tests::repo_root;
use futures_util::{SinkExt as _, StreamExt as _};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;

/// The resume token the fake server hands out (with characters that need URL encoding).
pub const TOKEN: &str = "tok-1/+resume";
/// Transcript text the fake server sends: it must never reach the bot's stderr.
pub const SPOKEN: &str = "ask not what your country can do";
pub const CLOSE_STREAM: &str = r#"{"type":"CloseStream"}"#;

/// What the fake server does on one connection.
#[derive(Clone, Copy)]
pub enum Script {
    /// Opening `metadata` (after `delay`, recording anything the bot sends meanwhile) with this
    /// `acked_audio_ms`; on `CloseStream`, a segment, the final `metadata` and close 1000.
    Serve { acked_ms: u64, delay: Duration },
    /// An `error` message and close `code` straight away.
    Refuse { code: u16 },
}

#[derive(Debug, PartialEq, Eq)]
pub enum Ending {
    /// Still open.
    Open,
    /// The bot sent a close frame with this code.
    CloseFrame(u16),
    /// The socket ended without a close frame.
    Abrupt,
    /// The server closed after the final `metadata`.
    ServerClosed,
}

/// What the fake server saw on one connection.
pub struct Conn {
    pub uri: String,
    pub headers: Vec<(String, String)>,
    pub metadata_at: Option<Instant>,
    pub received: Vec<(Instant, Message)>,
    pub sent: Vec<String>,
    pub ending: Ending,
}

impl Conn {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn audio(&self) -> Vec<u8> {
        self.received
            .iter()
            .filter_map(|(_, m)| match m {
                Message::Binary(b) => Some(b.to_vec()),
                _ => None,
            })
            .flatten()
            .collect()
    }

    pub fn binaries(&self) -> Vec<(Instant, usize)> {
        self.received
            .iter()
            .filter_map(|(t, m)| match m {
                Message::Binary(b) => Some((*t, b.len())),
                _ => None,
            })
            .collect()
    }

    pub fn texts(&self) -> Vec<String> {
        self.received
            .iter()
            .filter_map(|(_, m)| match m {
                Message::Text(t) => Some(t.to_string()),
                _ => None,
            })
            .collect()
    }

    pub fn close_stream_at(&self) -> Option<Instant> {
        self.received.iter().find_map(|(t, m)| match m {
            Message::Text(s) if s.as_str() == CLOSE_STREAM => Some(*t),
            _ => None,
        })
    }
}

type Conns = Arc<Mutex<Vec<Conn>>>;

/// The upgrade request as the server saw it: path with query, and headers.
type Handshake = (String, Vec<(String, String)>);

/// A fake `/ws/audio` endpoint on 127.0.0.1, plain or TLS, following one script per connection
/// (the last script repeats).
pub struct FakeServer {
    runtime: tokio::runtime::Runtime,
    addr: SocketAddr,
    conns: Conns,
}

impl FakeServer {
    pub fn start(scripts: Vec<Script>) -> Self {
        Self::start_with(scripts, false)
    }

    pub fn start_tls(scripts: Vec<Script>) -> Self {
        Self::start_with(scripts, true)
    }

    fn start_with(scripts: Vec<Script>, tls: bool) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let listener = runtime
            .block_on(TcpListener::bind("127.0.0.1:0"))
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let conns: Conns = Arc::default();
        let acceptor = tls.then(tls_acceptor);
        let c = Arc::clone(&conns);
        runtime.spawn(async move {
            let mut n = 0;
            while let Ok((tcp, _)) = listener.accept().await {
                let script = scripts[n.min(scripts.len() - 1)];
                n += 1;
                let conns = Arc::clone(&c);
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    match acceptor {
                        Some(a) => {
                            if let Ok(tls) = a.accept(tcp).await {
                                serve(tls, script, conns).await;
                            }
                        }
                        None => serve(tcp, script, conns).await,
                    }
                });
            }
        });
        Self {
            runtime,
            addr,
            conns,
        }
    }

    pub fn url(&self, scheme: &str) -> String {
        format!("{scheme}://127.0.0.1:{}", self.addr.port())
    }

    pub fn conns(&self) -> std::sync::MutexGuard<'_, Vec<Conn>> {
        self.conns.lock().expect("lock")
    }

    /// Lets in-flight handlers finish recording.
    pub fn settle(&self) {
        self.runtime
            .block_on(async { tokio::time::sleep(Duration::from_millis(200)).await });
    }
}

fn tls_acceptor() -> tokio_rustls::TlsAcceptor {
    use rustls::pki_types::pem::PemObject as _;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let dir = repo_root().join("tests/fixtures/tls");
    let certs = CertificateDer::pem_file_iter(dir.join("server.pem"))
        .expect("server.pem")
        .collect::<Result<Vec<_>, _>>()
        .expect("certificates");
    let key = PrivateKeyDer::from_pem_file(dir.join("server.key")).expect("server.key");
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("protocol versions")
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .expect("server config");
    tokio_rustls::TlsAcceptor::from(Arc::new(config))
}

/// Text frames of the fake server, with deliberately uncommon (but valid) spacing so the test can
/// tell verbatim printing from re-serialisation.
fn opening_metadata(acked_ms: u64) -> String {
    format!(
        r#"{{"type":"metadata", "meeting_id":"m-1","stream_id":"s-1","resume_token":"{TOKEN}","duration_ms":{acked_ms},"acked_audio_ms":{acked_ms},"segments":0}}"#
    )
}

fn segment() -> String {
    format!(
        r#"{{"type":"segment","meeting_id":"m-1","stream_id":"s-1","segment_id":"g-1","seq":1,"is_final":true,"start_ms":0,"end_ms":900,"text":"{SPOKEN}","words":[],"speaker":null,"language":"en"}}"#
    )
}

fn final_metadata() -> String {
    r#"{"type":"metadata","meeting_id":"m-1","stream_id":"s-1","duration_ms":3000,"acked_audio_ms":3000,"segments":1}"#.into()
}

async fn serve<S>(io: S, script: Script, conns: Conns)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let seen: Arc<Mutex<Handshake>> = Arc::default();
    let s = Arc::clone(&seen);
    // The error type is tungstenite's `ErrorResponse`; this callback never returns it.
    #[allow(clippy::result_large_err)]
    let callback = move |req: &Request, resp: Response| {
        let headers = req
            .headers()
            .iter()
            .map(|(n, v)| (n.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
            .collect();
        *s.lock().expect("lock") = (req.uri().to_string(), headers);
        Ok(resp)
    };
    let Ok(mut ws) = tokio_tungstenite::accept_hdr_async(io, callback).await else {
        return;
    };
    let (uri, headers) = std::mem::take(&mut *seen.lock().expect("lock"));
    let idx = {
        let mut c = conns.lock().expect("lock");
        c.push(Conn {
            uri,
            headers,
            metadata_at: None,
            received: Vec::new(),
            sent: Vec::new(),
            ending: Ending::Open,
        });
        c.len() - 1
    };
    let record = |f: &mut dyn FnMut(&mut Conn)| f(&mut conns.lock().expect("lock")[idx]);
    let (acked_ms, delay) = match script {
        Script::Refuse { code } => {
            let error = r#"{"type":"error","code":"at_capacity","message":"the server is at capacity, try again later"}"#;
            let _ = ws.send(Message::text(error)).await;
            record(&mut |c| c.sent.push(error.into()));
            let frame = CloseFrame {
                code: CloseCode::from(code),
                reason: "".into(),
            };
            let _ = ws.close(Some(frame)).await;
            while ws.next().await.is_some() {}
            return;
        }
        Script::Serve { acked_ms, delay } => (acked_ms, delay),
    };
    // Anything the bot sends before the opening metadata is recorded as such.
    let until = tokio::time::Instant::now() + delay;
    while let Ok(Some(Ok(msg))) = tokio::time::timeout_at(until, ws.next()).await {
        record(&mut |c| c.received.push((Instant::now(), msg.clone())));
    }
    let open = opening_metadata(acked_ms);
    record(&mut |c| {
        c.metadata_at = Some(Instant::now());
        c.sent.push(open.clone());
    });
    if ws.send(Message::text(open.clone())).await.is_err() {
        return;
    }
    loop {
        match ws.next().await {
            Some(Ok(Message::Close(frame))) => {
                let code = frame.map_or(1005, |f| u16::from(f.code));
                record(&mut |c| c.ending = Ending::CloseFrame(code));
                return;
            }
            Some(Ok(msg)) => {
                let is_close_stream =
                    matches!(&msg, Message::Text(t) if t.as_str() == CLOSE_STREAM);
                record(&mut |c| c.received.push((Instant::now(), msg.clone())));
                if is_close_stream {
                    break;
                }
            }
            Some(Err(_)) | None => {
                record(&mut |c| c.ending = Ending::Abrupt);
                return;
            }
        }
    }
    for text in [segment(), final_metadata()] {
        record(&mut |c| c.sent.push(text.clone()));
        if ws.send(Message::text(text)).await.is_err() {
            return;
        }
    }
    let frame = CloseFrame {
        code: CloseCode::Normal,
        reason: "".into(),
    };
    let _ = ws.close(Some(frame)).await;
    while ws.next().await.is_some() {}
    record(&mut |c| c.ending = Ending::ServerClosed);
}

/// A 16 kHz mono 16-bit WAV of `ms` milliseconds of distinct pseudo-random samples, and its PCM.
pub fn wav(dir: &Path, ms: u64) -> (PathBuf, Vec<u8>) {
    let n = ms * 16;
    let mut x: u32 = 0x2545_f491;
    let pcm: Vec<u8> = (0..n)
        .flat_map(|_| {
            x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            ((x >> 16) as i16 / 4).to_le_bytes()
        })
        .collect();
    let mut file = Vec::with_capacity(44 + pcm.len());
    let len = u32::try_from(pcm.len()).expect("small");
    file.extend_from_slice(b"RIFF");
    file.extend_from_slice(&(36 + len).to_le_bytes());
    file.extend_from_slice(b"WAVEfmt ");
    file.extend_from_slice(&16u32.to_le_bytes());
    file.extend_from_slice(&1u16.to_le_bytes()); // PCM
    file.extend_from_slice(&1u16.to_le_bytes()); // mono
    file.extend_from_slice(&16_000u32.to_le_bytes());
    file.extend_from_slice(&32_000u32.to_le_bytes());
    file.extend_from_slice(&2u16.to_le_bytes());
    file.extend_from_slice(&16u16.to_le_bytes());
    file.extend_from_slice(b"data");
    file.extend_from_slice(&len.to_le_bytes());
    file.extend_from_slice(&pcm);
    let path = dir.join(format!("tone-{ms}ms.wav"));
    std::fs::write(&path, file).expect("write wav");
    (path, pcm)
}
