//! Native TLS on the real binary: `tls self-signed` makes the pair and `serve` presents it, with
//! HSTS over HTTPS (and none over plain HTTP); sslscan finds nothing below TLS 1.2 and no suite
//! that is not forward-secret AEAD; a SIGHUP swaps in a new pair while connections opened before
//! (a kept-alive HTTPS connection, a bot's WebSocket) keep working, a bad file keeps the pair
//! in use and a repaired one is picked up by the file poll without a signal; the redirect
//! listener answers 308; production refuses plain HTTP on a public address.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use e2e_tests::server::{scribe_on, setup, Server};
use futures_util::{SinkExt as _, StreamExt as _};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::Message;

const HSTS: &str = "strict-transport-security: max-age=31536000; includeSubDomains";

/// `nexus-scribe tls self-signed --out DIR` for localhost and 127.0.0.1; returns (cert, key).
fn self_signed(data_dir: &Path, out: &Path) -> (PathBuf, PathBuf) {
    let res = scribe_on(data_dir)
        .args(["tls", "self-signed", "--out"])
        .arg(out)
        .args(["--host", "localhost", "--host", "127.0.0.1"])
        .output()
        .expect("runs");
    let stdout = String::from_utf8_lossy(&res.stdout);
    e2e_tests::ledger::log(
        "tls-self-signed",
        &format!("{stdout}{}", String::from_utf8_lossy(&res.stderr)),
    );
    assert!(
        res.status.success(),
        "{}",
        String::from_utf8_lossy(&res.stderr)
    );
    let (cert, key) = (out.join("cert.pem"), out.join("key.pem"));
    // The suite-wide log scan looks for the private key in every log.
    let key_pem = std::fs::read_to_string(&key).expect("key");
    for line in key_pem.lines().filter(|l| !l.starts_with("-----")) {
        e2e_tests::ledger::secret(line);
    }
    let shown = |p: &Path| p.canonicalize().expect("written").display().to_string();
    assert!(
        stdout.contains("[server.tls]")
            && stdout.contains(&format!("cert_path = \"{}\"", shown(&cert)))
            && stdout.contains(&format!("key_path = \"{}\"", shown(&key))),
        "{stdout}"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&key).expect("key").permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "key.pem is private");
    }
    (cert, key)
}

fn der(cert: &Path) -> CertificateDer<'static> {
    CertificateDer::from_pem_file(cert).expect("certificate")
}

/// A TLS connection to `addr` as `localhost`, trusting only `ca`.
async fn connect(addr: SocketAddr, ca: &Path) -> std::io::Result<TlsStream<TcpStream>> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(der(ca)).expect("trust anchor");
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_root_certificates(roots)
    .with_no_client_auth();
    let tcp = TcpStream::connect(addr).await?;
    tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(ServerName::try_from("localhost").expect("name"), tcp)
        .await
}

/// One `GET` on a kept-alive HTTP/1.1 connection: the status and the lower-cased head.
async fn get<S: AsyncRead + AsyncWrite + Unpin>(s: &mut S, path: &str) -> (u16, String) {
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n").as_bytes())
        .await
        .expect("write");
    let mut raw = Vec::new();
    let mut buf = [0u8; 4096];
    let head_end = loop {
        let n = s.read(&mut buf).await.expect("read");
        assert!(n > 0, "connection closed before a response");
        raw.extend_from_slice(&buf[..n]);
        if let Some(i) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&raw[..head_end]).to_lowercase();
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .expect("content-length");
    while raw.len() < head_end + length {
        let n = s.read(&mut buf).await.expect("read body");
        assert!(n > 0, "connection closed inside the body");
        raw.extend_from_slice(&buf[..n]);
    }
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, head)
}

/// A plain-TCP `GET` with `Connection: close`: the whole answer, lower-cased.
fn plain_get(addr: SocketAddr, host: &str, path: &str) -> String {
    use std::io::{Read as _, Write as _};
    let mut s = std::net::TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    // A TLS port may hang up before the request is all written: its answer still counts.
    let _ = write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    );
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    String::from_utf8_lossy(&raw).to_lowercase()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// Waits up to 10 s for `needle` in the server's log after byte `after`.
fn wait_for_log(server: &Server, needle: &str, after: usize) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !server.log()[after..].contains(needle) {
        assert!(Instant::now() < deadline, "no {needle:?} in the log");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `sslscan --no-colour` against `addr` (key exchange groups skipped: that probe waits out
/// timeouts and is not what the acceptance asks).
fn sslscan(addr: SocketAddr) -> String {
    let out = match Command::new("sslscan")
        .args(["--no-colour", "--no-groups"])
        .arg(addr.to_string())
        .output()
    {
        Ok(out) => out,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => panic!(
            "`sslscan` not found: install Debian's sslscan package (scripts/ensure-deps sslscan \
             does; scripts/test runs it)"
        ),
        Err(e) => panic!("sslscan: {e}"),
    };
    assert!(out.status.success(), "sslscan failed: {out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Checks sslscan's report: protocols TLSv1.2 and TLSv1.3 only, every accepted suite
/// forward-secret AEAD. Returns the accepted (protocol, suite) pairs.
fn assert_strong_tls_only(report: &str) -> Vec<(String, String)> {
    let mut protocols = Vec::new();
    let mut suites = Vec::new();
    for line in report.lines() {
        let cols: Vec<&str> = line.split_whitespace().collect();
        match cols.as_slice() {
            [p, state] if p.starts_with("SSLv") || p.starts_with("TLSv") => {
                protocols.push((p.to_string(), *state == "enabled"));
            }
            [verdict, proto, _bits, "bits", suite, ..]
                if *verdict == "Accepted" || *verdict == "Preferred" =>
            {
                suites.push((proto.to_string(), suite.to_string()));
            }
            _ => {}
        }
    }
    assert_eq!(protocols.len(), 6, "every protocol probed:\n{report}");
    let enabled: Vec<&str> = protocols
        .iter()
        .filter(|(_, on)| *on)
        .map(|(p, _)| p.as_str())
        .collect();
    assert_eq!(enabled, ["TLSv1.2", "TLSv1.3"], "{report}");
    for (proto, suite) in &suites {
        let aead = suite.contains("GCM") || suite.contains("CHACHA20-POLY1305");
        match proto.as_str() {
            // TLS 1.3 suites are all ephemeral key exchange; the names carry the cipher.
            "TLSv1.3" => assert!(
                suite.starts_with("TLS_") && (aead || suite.contains("CHACHA20_POLY1305")),
                "{suite}"
            ),
            "TLSv1.2" => assert!(
                suite.starts_with("ECDHE-") && aead,
                "{suite}: not forward-secret AEAD"
            ),
            other => panic!("{suite} accepted over {other}"),
        }
    }
    for proto in ["TLSv1.2", "TLSv1.3"] {
        assert!(
            suites.iter().any(|(p, _)| p == proto),
            "no suite over {proto}:\n{report}"
        );
    }
    suites
}

/// The report of a permissive server (`openssl s_server -min_protocol TLSv1 -cipher ALL`),
/// shortened: the checks above must fail on it.
const WEAK_REPORT: &str = "  SSL/TLS Protocols:
SSLv2     disabled
SSLv3     disabled
TLSv1.0   enabled
TLSv1.1   enabled
TLSv1.2   enabled
TLSv1.3   enabled

  Supported Server Cipher(s):
Preferred TLSv1.3  128 bits  TLS_AES_128_GCM_SHA256        Curve 25519 DHE 253
Preferred TLSv1.2  256 bits  ECDHE-ECDSA-AES256-GCM-SHA384 Curve 25519 DHE 253
Accepted  TLSv1.2  256 bits  ADH-AES256-GCM-SHA384         DHE 3072 bits
Accepted  TLSv1.2  256 bits  ECDHE-ECDSA-AES256-SHA384     Curve 25519 DHE 253
Accepted  TLSv1.0  256 bits  ECDHE-ECDSA-AES256-SHA        Curve 25519 DHE 253
";

#[test]
fn the_sslscan_checks_fail_on_a_weak_server() {
    let weak = |report: String| std::panic::catch_unwind(|| assert_strong_tls_only(&report));
    assert!(weak(WEAK_REPORT.into()).is_err(), "TLS 1.0/1.1 enabled");
    let no_old = WEAK_REPORT
        .replace("TLSv1.0   enabled", "TLSv1.0   disabled")
        .replace("TLSv1.1   enabled", "TLSv1.1   disabled");
    assert!(weak(no_old.clone()).is_err(), "non-FS, CBC suites");
    let bad = [
        " ADH-",
        " ECDHE-ECDSA-AES256-SHA384 ",
        " ECDHE-ECDSA-AES256-SHA ",
    ];
    let strong = no_old
        .lines()
        .filter(|l| !bad.iter().any(|b| l.contains(b)))
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        weak(strong).is_ok(),
        "a report with only strong suites passes"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_with_hsts_strong_suites_only_and_reload_keeps_connections() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let s = setup(&data, "Clinic");
    let (cert, key) = self_signed(&data, &dir.path().join("tls"));
    let (cert_s, key_s) = (cert.display().to_string(), key.display().to_string());
    let redirect_port = free_port();
    let mut server = Server::start(
        &data,
        &[
            ("NEXUS_SCRIBE__SERVER__TLS__CERT_PATH", cert_s.as_str()),
            ("NEXUS_SCRIBE__SERVER__TLS__KEY_PATH", key_s.as_str()),
            (
                "NEXUS_SCRIBE__SERVER__HTTP_REDIRECT_PORT",
                &redirect_port.to_string(),
            ),
        ],
    );
    let addr = server.addr;

    // HTTPS answers with HSTS; the connection stays open for later.
    let mut kept = connect(addr, &cert).await.expect("TLS handshake");
    let (status, head) = get(&mut kept, "/healthz").await;
    assert_eq!(status, 200, "{head}");
    assert!(head.contains(&HSTS.to_lowercase()), "{head}");
    assert_eq!(
        kept.get_ref().1.peer_certificates().expect("certs")[0],
        der(&cert)
    );

    // A bot's WebSocket over TLS (upgrades work on the TLS path).
    let mut req = format!(
        "wss://localhost:{}/ws/audio/{}?encoding=linear16&sample_rate=16000&channels=1",
        addr.port(),
        s.meeting_id
    )
    .into_client_request()
    .expect("request");
    req.headers_mut()
        .insert("x-bot-id", s.bot_id.parse().expect("header"));
    req.headers_mut().insert(
        "authorization",
        format!("Bearer {}", s.api_key).parse().expect("header"),
    );
    let tls = connect(addr, &cert).await.expect("TLS handshake");
    let (mut bot, _) = tokio_tungstenite::client_async(req, tls)
        .await
        .expect("WebSocket upgrade over TLS");
    let first = match bot.next().await {
        Some(Ok(Message::Text(t))) => t.to_string(),
        other => panic!("no metadata: {other:?}"),
    };
    assert!(first.contains("\"metadata\""), "{first}");

    // Nothing below TLS 1.2, nothing but forward-secret AEAD suites.
    let report = sslscan(addr);
    let suites = assert_strong_tls_only(&report);
    eprintln!("sslscan accepted: {suites:?}");

    // Plain HTTP on the TLS port gets no HTTP answer; the redirect port answers 308.
    let answer = plain_get(addr, "localhost", "/healthz");
    assert!(!answer.starts_with("http/"), "{answer}");
    let answer = plain_get(
        SocketAddr::from(([127, 0, 0, 1], redirect_port)),
        &format!("localhost:{redirect_port}"),
        "/meetings/m-1/live?x=1",
    );
    assert!(answer.starts_with("http/1.1 308"), "{answer}");
    assert!(
        answer.contains(&format!(
            "location: https://localhost:{}/meetings/m-1/live?x=1",
            addr.port()
        )),
        "{answer}"
    );
    assert!(!answer.contains("strict-transport-security"), "{answer}");

    // A new pair, renamed into place, then SIGHUP.
    let old = dir.path().join("old.pem");
    std::fs::copy(&cert, &old).expect("copy");
    let (new_cert, new_key) = self_signed(&data, &dir.path().join("tls-new"));
    let new_der = der(&new_cert);
    std::fs::rename(&new_key, &key).expect("replace key");
    std::fs::rename(&new_cert, &cert).expect("replace cert");
    let mark = server.log().len();
    server.signal("HUP");
    wait_for_log(&server, "SIGHUP: reloading the TLS certificate", mark);
    wait_for_log(&server, "reloaded the TLS certificate", mark);
    assert!(server.is_running(), "SIGHUP does not stop the server");

    // New connections get the new certificate (and only it).
    let fresh = connect(addr, &cert).await.expect("new pair trusted");
    assert_eq!(
        fresh.get_ref().1.peer_certificates().expect("certs")[0],
        new_der
    );
    drop(fresh);
    assert!(
        connect(addr, &old).await.is_err(),
        "the old certificate is no longer presented"
    );

    // Connections opened before keep working: the kept-alive one, and the bot's socket.
    let (status, head) = get(&mut kept, "/healthz").await;
    assert_eq!(status, 200, "kept-alive connection after reload: {head}");
    assert!(head.contains(&HSTS.to_lowercase()), "{head}");
    bot.send(Message::Binary(vec![0u8; 32_000].into()))
        .await
        .expect("audio after reload");
    bot.send(Message::Text(r#"{"type":"CloseStream"}"#.into()))
        .await
        .expect("close stream");
    let mut closed = None;
    while let Ok(Some(msg)) = tokio::time::timeout(Duration::from_secs(20), bot.next()).await {
        if let Ok(Message::Close(frame)) = msg {
            closed = frame.map(|f| u16::from(f.code));
            break;
        }
    }
    assert_eq!(closed, Some(1000), "the bot's stream ended normally");

    // A damaged certificate file: logged with its name, the current pair stays.
    let trusted = dir.path().join("trusted.pem");
    std::fs::copy(&cert, &trusted).expect("copy");
    std::fs::write(&cert, "-----BEGIN CERTIFICATE-----\nnot base64!\n").expect("write");
    let mark = server.log().len();
    server.signal("HUP");
    wait_for_log(&server, "TLS certificate not reloaded", mark);
    let log = server.log();
    assert!(log[mark..].contains(&cert_s), "the file is named:\n{log}");
    let still = connect(addr, &trusted)
        .await
        .expect("the previous pair is still served");
    assert_eq!(
        still.get_ref().1.peer_certificates().expect("certs")[0],
        new_der
    );
    // No key material in the log.
    let key_pem = std::fs::read_to_string(&key).expect("key");
    for line in key_pem.lines().filter(|l| !l.starts_with("-----")) {
        assert!(!log.contains(line), "key material in the log");
    }

    // Without a signal: the repaired file is noticed by the poll (every 5 s) and loaded.
    let mark = server.log().len();
    std::fs::copy(&trusted, &cert).expect("repair");
    wait_for_log(&server, "reloaded the TLS certificate", mark);
    assert!(
        !server.log()[mark..].contains("SIGHUP"),
        "reloaded by the poll"
    );
    let (status, _) = get(&mut kept, "/healthz").await;
    assert_eq!(status, 200, "the first connection still works");
}

#[test]
fn plain_http_has_no_hsts_and_production_refuses_it_on_a_public_address() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path(), &[]);
    let answer = plain_get(server.addr, "localhost", "/healthz");
    assert!(answer.starts_with("http/1.1 200"), "{answer}");
    assert!(answer.contains("x-frame-options: deny"), "{answer}");
    assert!(!answer.contains("strict-transport-security"), "{answer}");
    drop(server);

    // Production, plain HTTP, an address other machines reach: refused before listening.
    let mut child = scribe_on(dir.path())
        .args(["serve", "--listen", "0.0.0.0:0"])
        .env("NEXUS_SCRIBE_ENV", "production")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("serve starts");
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("production served plain HTTP on 0.0.0.0");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().expect("stderr"), &mut err)
        .expect("stderr");
    assert!(!status.success());
    assert!(
        err.contains("[server.tls]") && err.contains("production"),
        "{err}"
    );
}
