use std::path::Path;

use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{CipherSuite, ClientConfig, ProtocolVersion, RootCertStore};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use super::*;

/// A fresh self-signed certificate for `localhost`: (cert PEM, key PEM).
fn generate() -> (String, String) {
    let made = rcgen::generate_simple_self_signed(vec!["localhost".into()]).expect("rcgen");
    (made.cert.pem(), made.signing_key.serialize_pem())
}

/// Writes a pair into `dir` and returns its files.
fn write_pair(dir: &Path, (cert, key): &(String, String)) -> CertFiles {
    let files = CertFiles {
        cert: dir.join("cert.pem"),
        key: dir.join("key.pem"),
    };
    std::fs::write(&files.cert, cert).expect("write cert");
    std::fs::write(&files.key, key).expect("write key");
    files
}

fn der(cert_pem: &str) -> CertificateDer<'static> {
    CertificateDer::from_pem_slice(cert_pem.as_bytes()).expect("pem")
}

fn client(cert_pem: &str, versions: &[&'static SupportedProtocolVersion]) -> Arc<ClientConfig> {
    let mut roots = RootCertStore::empty();
    roots.add(der(cert_pem)).expect("root");
    let config = ClientConfig::builder_with_provider(Arc::new(ring::default_provider()))
        .with_protocol_versions(versions)
        .expect("versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    Arc::new(config)
}

/// Handshakes a client with `config` against `tls` in memory; returns the negotiated version,
/// suite and the leaf certificate the server presented.
async fn handshake(
    tls: &Tls,
    config: Arc<ClientConfig>,
) -> Result<(ProtocolVersion, CipherSuite, CertificateDer<'static>), std::io::Error> {
    let (client_io, server_io) = tokio::io::duplex(64 * 1024);
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::clone(&tls.config));
    let server = tokio::spawn(async move {
        let mut s = acceptor.accept(server_io).await?;
        s.write_all(b"hello").await?;
        s.flush().await?;
        Ok::<_, std::io::Error>(s)
    });
    let connector = tokio_rustls::TlsConnector::from(config);
    let name = ServerName::try_from("localhost").expect("name");
    let mut c = connector.connect(name, client_io).await?;
    let mut buf = [0u8; 5];
    c.read_exact(&mut buf).await?;
    let _server = server.await.expect("join")?;
    let (_, conn) = c.get_ref();
    Ok((
        conn.protocol_version().expect("version"),
        conn.negotiated_cipher_suite().expect("suite").suite(),
        conn.peer_certificates().expect("certs")[0].clone(),
    ))
}

#[test]
fn only_tls12_and_13_with_forward_secret_aead_suites() {
    let versions: Vec<_> = PROTOCOL_VERSIONS.iter().map(|v| v.version).collect();
    assert_eq!(
        versions,
        vec![ProtocolVersion::TLSv1_3, ProtocolVersion::TLSv1_2]
    );
    let provider = provider();
    assert_eq!(provider.cipher_suites.len(), 9);
    for suite in &provider.cipher_suites {
        let name = format!("{:?}", suite.suite());
        match suite.version().version {
            // Every TLS 1.3 suite is AEAD with ephemeral key exchange.
            ProtocolVersion::TLSv1_3 => assert!(name.starts_with("TLS13_"), "{name}"),
            ProtocolVersion::TLSv1_2 => {
                assert!(name.starts_with("TLS_ECDHE_"), "{name}: not forward-secret");
                assert!(
                    name.contains("_GCM_") || name.contains("_CHACHA20_POLY1305_"),
                    "{name}: not AEAD"
                );
            }
            other => panic!("{name}: {other:?}"),
        }
        assert!(
            !name.contains("CBC") && !name.starts_with("TLS_RSA_"),
            "{name}"
        );
    }
    for group in &provider.kx_groups {
        let name = format!("{:?}", group.name());
        assert!(
            ["X25519", "secp256r1", "secp384r1"].contains(&name.as_str()),
            "{name}: not an elliptic-curve group"
        );
    }
}

#[tokio::test]
async fn clients_get_tls13_or_tls12_with_an_aead_suite() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pair = generate();
    let tls = Tls::from_files(write_pair(dir.path(), &pair)).expect("loads");
    let (v, suite, leaf) = handshake(&tls, client(&pair.0, &[&rustls::version::TLS13]))
        .await
        .expect("1.3");
    assert_eq!(v, ProtocolVersion::TLSv1_3);
    assert_eq!(suite, CipherSuite::TLS13_AES_256_GCM_SHA384);
    assert_eq!(leaf, der(&pair.0));
    let (v, suite, _) = handshake(&tls, client(&pair.0, &[&rustls::version::TLS12]))
        .await
        .expect("1.2");
    assert_eq!(v, ProtocolVersion::TLSv1_2);
    assert_eq!(suite, CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384);
}

/// A ClientHello record in `record_version` offering `client_version` and `suites`, with the
/// extensions an ECDHE handshake needs (signature algorithms, groups, point formats), as an
/// old client would send it.
fn client_hello(record_version: u16, client_version: u16, suites: &[u16]) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(&client_version.to_be_bytes());
    body.extend_from_slice(&[7u8; 32]); // random
    body.push(0); // no session id
    body.extend_from_slice(&((suites.len() * 2) as u16).to_be_bytes());
    for s in suites {
        body.extend_from_slice(&s.to_be_bytes());
    }
    body.extend_from_slice(&[1, 0]); // compression: null only
    let extensions: [(u16, &[u8]); 3] = [
        // signature_algorithms: ecdsa_secp256r1_sha256, rsa_pss_rsae_sha256, rsa_pkcs1_sha256
        (0x000d, &[0, 6, 0x04, 0x03, 0x08, 0x04, 0x04, 0x01]),
        // supported_groups: x25519, secp256r1
        (0x000a, &[0, 4, 0x00, 0x1d, 0x00, 0x17]),
        // ec_point_formats: uncompressed
        (0x000b, &[1, 0]),
    ];
    let mut ext = Vec::new();
    for (kind, data) in extensions {
        ext.extend_from_slice(&kind.to_be_bytes());
        ext.extend_from_slice(&(data.len() as u16).to_be_bytes());
        ext.extend_from_slice(data);
    }
    body.extend_from_slice(&(ext.len() as u16).to_be_bytes());
    body.extend_from_slice(&ext);
    let mut handshake = vec![1u8]; // client_hello
    handshake.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    handshake.extend_from_slice(&body);
    let mut record = vec![22u8]; // handshake
    record.extend_from_slice(&record_version.to_be_bytes());
    record.extend_from_slice(&(handshake.len() as u16).to_be_bytes());
    record.extend_from_slice(&handshake);
    record
}

/// Feeds a raw ClientHello to a server connection; returns rustls's verdict.
fn server_verdict(tls: &Tls, hello: &[u8]) -> Result<(), rustls::Error> {
    let mut conn = rustls::ServerConnection::new(Arc::clone(&tls.config)).expect("connection");
    let mut input = hello;
    conn.read_tls(&mut input).expect("read");
    conn.process_new_packets().map(|_| ())
}

#[test]
fn old_protocols_and_cbc_or_static_rsa_suites_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let tls = Tls::from_files(write_pair(dir.path(), &generate())).expect("loads");
    // TLS_RSA_WITH_AES_128_CBC_SHA, TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA,
    // TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384, TLS_RSA_WITH_AES_128_GCM_SHA256.
    let old_suites = [0x002f, 0xc009, 0xc028, 0x009c];
    for (name, version) in [("TLS 1.0", 0x0301), ("TLS 1.1", 0x0302)] {
        let err = server_verdict(&tls, &client_hello(0x0301, version, &old_suites))
            .expect_err(name)
            .to_string();
        assert!(err.contains("Tls12NotOffered"), "{name}: {err}");
    }
    // TLS 1.2, but only CBC and static-RSA suites on offer.
    let err = server_verdict(&tls, &client_hello(0x0301, 0x0303, &old_suites))
        .expect_err("no shared suite")
        .to_string();
    assert!(err.contains("NoCipherSuitesInCommon"), "{err}");
    // The same hello with one of ours added gets further (the refusal above was the suites').
    let ours = [0x002f, 0xc02c];
    let err = server_verdict(&tls, &client_hello(0x0301, 0x0303, &ours)).map_err(|e| e.to_string());
    assert!(
        err.as_ref()
            .err()
            .is_none_or(|e| !e.contains("NoCipherSuitesInCommon")),
        "{err:?}"
    );
}

#[test]
fn reload_swaps_the_pair_and_a_bad_file_keeps_the_old_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    let first = generate();
    let files = write_pair(dir.path(), &first);
    let certs = CertResolver::load(files.clone(), provider()).expect("loads");
    assert_eq!(certs.current().cert[0], der(&first.0));
    assert!(!certs.changed_on_disk());

    let second = generate();
    write_pair(dir.path(), &second);
    assert!(certs.changed_on_disk(), "new files are noticed");
    certs.reload().expect("reloads");
    assert_eq!(certs.current().cert[0], der(&second.0));
    assert!(!certs.changed_on_disk());

    // A damaged certificate: named, and the second pair stays.
    std::fs::write(&files.cert, "-----BEGIN CERTIFICATE-----\n!!!!\n").expect("write");
    let err = certs.reload().expect_err("bad cert").to_string();
    assert!(err.contains("cert.pem"), "{err}");
    assert_eq!(certs.current().cert[0], der(&second.0));
    assert!(
        !certs.changed_on_disk(),
        "a failed reload is not retried until the files change"
    );

    // A key that is not the certificate's.
    std::fs::write(&files.cert, &first.0).expect("write");
    let err = certs.reload().expect_err("mismatch").to_string();
    assert!(
        err.contains("key.pem") && err.contains("does not belong"),
        "{err}"
    );
    assert_eq!(certs.current().cert[0], der(&second.0));

    // Missing files are named with the reason.
    std::fs::remove_file(&files.key).expect("remove");
    let err = certs.reload().expect_err("missing").to_string();
    assert!(
        err.contains("cannot read") && err.contains("key.pem"),
        "{err}"
    );
    assert!(!certs.reload_logged(), "a failed reload says so");
    assert_eq!(certs.current().cert[0], der(&second.0));
}

#[test]
fn key_errors_never_quote_the_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (cert, key) = generate();
    let files = write_pair(dir.path(), &(cert.clone(), key.clone()));
    // Damaged base64 inside a key block, and a block of the wrong kind.
    let body = key.lines().nth(1).expect("a base64 line").to_owned();
    for bad in [
        format!("-----BEGIN PRIVATE KEY-----\n{body}*\n-----END PRIVATE KEY-----\n"),
        format!("-----BEGIN PRIVATE KEY-----\n{body}\n-----END PRIVATE KEY-----\n"),
        cert.clone(),
    ] {
        std::fs::write(&files.key, &bad).expect("write");
        let err = CertResolver::load(files.clone(), provider())
            .expect_err("bad key")
            .to_string();
        assert!(err.contains("key.pem"), "{err}");
        assert!(!err.contains(&body[..16]), "key material in {err}");
    }
    std::fs::write(&files.key, "").expect("write");
    let err = CertResolver::load(files, provider())
        .expect_err("no key")
        .to_string();
    assert!(err.contains("no private key"), "{err}");
}

/// [`serve_tls`] on an ephemeral loopback port, until [`Running::stop`].
struct Running {
    addr: std::net::SocketAddr,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Running {
    async fn start(tls: &Tls, router: axum::Router) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let shutdown = async move {
            let _ = stopped.await;
        };
        let task = tokio::spawn(serve_tls(
            listener,
            router,
            Arc::clone(&tls.config),
            super::ConnLimits::default(),
            shutdown,
        ));
        Self { addr, stop, task }
    }

    async fn stop(self) {
        let _ = self.stop.send(());
        self.task.await.expect("join").expect("serves");
    }
}

#[tokio::test(start_paused = true)]
async fn a_client_that_never_finishes_its_handshake_is_dropped() {
    let dir = tempfile::tempdir().expect("tempdir");
    let tls = Tls::from_files(write_pair(dir.path(), &generate())).expect("loads");
    let server = Running::start(&tls, axum::Router::new()).await;
    let started = tokio::time::Instant::now();
    let mut tcp = tokio::net::TcpStream::connect(server.addr)
        .await
        .expect("connect");
    tcp.write_all(&[22, 3, 1])
        .await
        .expect("a third of a header");
    let mut buf = [0u8; 16];
    let n = tcp.read(&mut buf).await.unwrap_or(0);
    assert_eq!(n, 0, "dropped without an answer");
    assert!(
        started.elapsed() >= HANDSHAKE_TIMEOUT,
        "{:?}",
        started.elapsed()
    );
    server.stop().await;
}

#[tokio::test]
async fn https_requests_carry_the_peer_address_and_the_tls_mark() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pair = generate();
    let tls = Tls::from_files(write_pair(dir.path(), &pair)).expect("loads");
    let router = axum::Router::new().route(
        "/who",
        axum::routing::get(
            |axum::extract::ConnectInfo(peer): axum::extract::ConnectInfo<std::net::SocketAddr>,
             tls: Option<axum::Extension<ViaTls>>| async move {
                format!("{} {}", peer.ip(), tls.is_some())
            },
        ),
    );
    let server = Running::start(&tls, router).await;
    let connector = tokio_rustls::TlsConnector::from(client(&pair.0, PROTOCOL_VERSIONS));
    let tcp = tokio::net::TcpStream::connect(server.addr)
        .await
        .expect("connect");
    let mut s = connector
        .connect(ServerName::try_from("localhost").expect("name"), tcp)
        .await
        .expect("handshake");
    s.write_all(b"GET /who HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .expect("write");
    let mut raw = String::new();
    s.read_to_string(&mut raw).await.expect("read");
    assert!(raw.starts_with("HTTP/1.1 200"), "{raw}");
    assert!(raw.ends_with("127.0.0.1 true"), "{raw}");
    server.stop().await;
}

/// A plain-HTTP server on the shared accept loop with `limits`, answering `ok` on `/`.
async fn plain_with(
    limits: super::ConnLimits,
) -> (std::net::SocketAddr, tokio::sync::oneshot::Sender<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let router = axum::Router::new().route("/", axum::routing::get(|| async { "ok" }));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(super::serve_with(
        listener,
        router,
        None,
        limits,
        async move {
            let _ = stopped.await;
        },
    ));
    (addr, stop)
}

/// Sends a whole GET on `s` and reads the answer's first bytes (empty if the server closed).
async fn get_on(s: &mut tokio::net::TcpStream) -> String {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("write");
    let mut buf = [0u8; 256];
    let n = tokio::time::timeout(std::time::Duration::from_secs(5), s.read(&mut buf))
        .await
        .map_or(0, |r| r.unwrap_or(0));
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

#[tokio::test]
async fn a_client_that_never_finishes_its_headers_is_cut_off() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let limits = super::ConnLimits {
        header_timeout: std::time::Duration::from_millis(500),
        ..super::ConnLimits::default()
    };
    let (addr, _stop) = plain_with(limits).await;
    let mut slow = tokio::net::TcpStream::connect(addr).await.expect("connect");
    slow.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n")
        .await
        .expect("write");
    let started = std::time::Instant::now();
    let mut buf = [0u8; 256];
    // The server gives up on the headers and closes (possibly after a 408).
    let closed = tokio::time::timeout(std::time::Duration::from_secs(5), async {
        loop {
            match slow.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "the slow client was not cut off");
    assert!(started.elapsed() < std::time::Duration::from_secs(3));
    // A prompt client is served as ever.
    let mut quick = tokio::net::TcpStream::connect(addr).await.expect("connect");
    assert!(get_on(&mut quick).await.starts_with("HTTP/1.1 200"));
}

#[tokio::test]
async fn connections_beyond_the_cap_wait_until_one_ends() {
    let limits = super::ConnLimits {
        max_connections: 2,
        ..super::ConnLimits::default()
    };
    let (addr, _stop) = plain_with(limits).await;
    let mut a = tokio::net::TcpStream::connect(addr).await.expect("a");
    let mut b = tokio::net::TcpStream::connect(addr).await.expect("b");
    assert!(get_on(&mut a).await.starts_with("HTTP/1.1 200"));
    assert!(get_on(&mut b).await.starts_with("HTTP/1.1 200"));
    // Both are kept alive: a third connection is not served...
    let mut c = tokio::net::TcpStream::connect(addr)
        .await
        .expect("c (in the backlog)");
    let waiting = tokio::spawn(async move { (get_on(&mut c).await, c) });
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert!(
        !waiting.is_finished(),
        "a third connection was served beyond the cap"
    );
    // ...until one of the others ends.
    drop(a);
    let (answer, _c) = waiting.await.expect("join");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer:?}");
    drop(b);
}
