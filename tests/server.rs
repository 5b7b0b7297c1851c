//! A running `nexus-scribe serve` for end-to-end tests: its own data folder, an ephemeral port,
//! the log captured, and the set-up commands to create an organisation, admin, bot and meeting.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::{bin, models_dir, repo_root};

/// The admin password the set-up uses.
pub const ADMIN_PASSWORD: &str = "correct horse battery staple";

/// A server process; killed (SIGKILL) when dropped.
pub struct Server {
    child: Child,
    pub addr: SocketAddr,
    pub data_dir: PathBuf,
    log: Arc<Mutex<String>>,
}

/// What `setup` created.
#[derive(Clone, Debug)]
pub struct Setup {
    pub org_id: String,
    pub admin_email: String,
    pub bot_id: String,
    pub api_key: String,
    pub meeting_id: String,
}

/// A `nexus-scribe` command on `data_dir` with the test models.
pub fn scribe_on(data_dir: &Path) -> Command {
    let mut cmd = Command::new(bin());
    cmd.arg("--data-dir")
        .arg(data_dir)
        .env("NEXUS_SCRIBE__ENGINE__MODELS_DIR", models_dir())
        .env_remove("NEXUS_SCRIBE__ENGINE__MODEL")
        .env_remove("NEXUS_SCRIBE_ENV")
        .current_dir(repo_root());
    cmd
}

/// Runs a set-up command and parses the JSON it prints.
pub fn setup_json(cmd: &mut Command, stdin: Option<&str>) -> serde_json::Value {
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("set-up command runs");
    if let Some(input) = stdin {
        use std::io::Write as _;
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input.as_bytes())
            .expect("write stdin");
    } else {
        drop(child.stdin.take());
    }
    let out = child.wait_with_output().expect("set-up command ends");
    crate::ledger::log("setup", &String::from_utf8_lossy(&out.stderr));
    if let Some(input) = stdin {
        crate::ledger::secret(input);
    }
    assert!(
        out.status.success(),
        "set-up command failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("set-up command prints JSON");
    if let Some(key) = printed["api_key"].as_str() {
        crate::ledger::secret(key);
    }
    printed
}

/// Creates organisation `org` with an admin, a bot and a meeting in `data_dir`.
pub fn setup(data_dir: &Path, org: &str) -> Setup {
    setup_env(data_dir, org, &[])
}

/// [`setup`] with extra environment for the set-up commands (e.g. another storage backend).
pub fn setup_env(data_dir: &Path, org: &str, env: &[(&str, &str)]) -> Setup {
    let scribe_on = |dir: &Path| {
        let mut cmd = scribe_on(dir);
        cmd.envs(env.iter().copied());
        cmd
    };
    let admin_email = format!("admin@{}.example.org", org.to_lowercase());
    let admin = setup_json(
        scribe_on(data_dir).args(["admin", "create", "--email", &admin_email, "--org", org]),
        Some(&format!("{ADMIN_PASSWORD}\n")),
    );
    let bot = setup_json(
        scribe_on(data_dir).args(["bots", "create", "--org", org, "--name", "test bot"]),
        None,
    );
    let meeting = setup_json(
        scribe_on(data_dir).args([
            "meetings",
            "create",
            "--org",
            org,
            "--title",
            "Test meeting",
        ]),
        None,
    );
    let s = |v: &serde_json::Value, k: &str| v[k].as_str().expect(k).to_owned();
    Setup {
        org_id: s(&admin, "org_id"),
        admin_email,
        bot_id: s(&bot, "bot_id"),
        api_key: s(&bot, "api_key"),
        meeting_id: s(&meeting, "meeting_id"),
    }
}

/// Creates one more meeting in `org`.
pub fn create_meeting(data_dir: &Path, org: &str) -> String {
    create_meeting_env(data_dir, org, &[])
}

/// [`create_meeting`] with extra environment (e.g. another storage backend).
pub fn create_meeting_env(data_dir: &Path, org: &str, env: &[(&str, &str)]) -> String {
    let m = setup_json(
        scribe_on(data_dir)
            .envs(env.iter().copied())
            .args(["meetings", "create", "--org", org, "--title", "Another"]),
        None,
    );
    m["meeting_id"].as_str().expect("meeting_id").to_owned()
}

impl Server {
    /// Starts `serve --listen 127.0.0.1:0` on `data_dir` with extra environment, and waits for
    /// its `listening on ADDR` line.
    pub fn start(data_dir: &Path, env: &[(&str, &str)]) -> Self {
        let mut cmd = scribe_on(data_dir);
        cmd.args(["serve", "--listen", "127.0.0.1:0"])
            .env("NEXUS_SCRIBE__LOGGING__LEVEL", "info")
            // Every test talks from 127.0.0.1: the shipped per-address limits (100 requests and
            // 10 sockets a minute) would throttle the suite, not what it tests. A test can set
            // them back through `env`.
            .env("NEXUS_SCRIBE__RATE_LIMITS__API_REQUESTS_PER_IP", "100000")
            .env(
                "NEXUS_SCRIBE__RATE_LIMITS__WEBSOCKET_CONNECTIONS_PER_IP",
                "100000",
            )
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("serve starts");
        let stderr = child.stderr.take().expect("stderr");
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let sink = Arc::clone(&log);
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(addr) = line.split("listening on ").nth(1) {
                    let addr = addr
                        .split_whitespace()
                        .next()
                        .unwrap_or_default()
                        .to_owned();
                    if let Some(tx) = tx.take() {
                        let _ = tx.send(addr);
                    }
                }
                let mut l = sink.lock().unwrap_or_else(|p| p.into_inner());
                l.push_str(&line);
                l.push('\n');
            }
        });
        let deadline = Instant::now() + Duration::from_secs(60);
        let addr = loop {
            if let Ok(a) = rx.recv_timeout(Duration::from_millis(100)) {
                break a;
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!(
                    "serve exited with {status} before listening:\n{}",
                    log.lock().map(|l| l.clone()).unwrap_or_default()
                );
            }
            assert!(Instant::now() < deadline, "serve did not start within 60 s");
        };
        Self {
            child,
            addr: addr.parse().expect("listening address"),
            data_dir: data_dir.to_owned(),
            log,
        }
    }

    /// `http://ADDR`.
    pub fn http(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `ws://ADDR`.
    pub fn ws(&self) -> String {
        format!("ws://{}", self.addr)
    }

    /// Everything the server logged so far.
    pub fn log(&self) -> String {
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// True while the process runs.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Sends the signal `name` (`HUP`, `TERM`, …) to the process.
    pub fn signal(&self, name: &str) {
        let _ = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .status();
    }

    /// SIGTERM (a graceful stop) and waits up to `wait` for the process to exit; true if it did.
    pub fn terminate(&mut self, wait: Duration) -> bool {
        self.signal("TERM");
        let deadline = Instant::now() + wait;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }

    /// SIGKILL, as a crash would.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
        crate::ledger::log("serve", &self.log());
        crate::ledger::server_secrets(&self.data_dir);
        if std::thread::panicking() {
            // A failing test shows what the server said (ids and codes only: no secrets or text).
            eprintln!(
                "--- server log ---\n{}--- end of server log ---",
                self.log()
            );
        }
    }
}

/// Signs in over HTTP and returns an access token.
pub fn login(server: &Server, email: &str) -> String {
    let body = serde_json::json!({ "email": email, "password": ADMIN_PASSWORD });
    let res = http_post(server, "/api/v1/auth/login", None, &body);
    res["access_token"]
        .as_str()
        .unwrap_or_else(|| panic!("login failed: {res}"))
        .to_owned()
}

/// A minimal blocking HTTP/1.1 JSON POST (tests only talk to a local server).
pub fn http_post(
    server: &Server,
    path: &str,
    token: Option<&str>,
    body: &serde_json::Value,
) -> serde_json::Value {
    let (_, json) = http_json(server, "POST", path, token, body);
    // Bodies here are small and not chunked-encoded by axum when the length is known.
    serde_json::from_str(json.trim()).unwrap_or(serde_json::Value::Null)
}

/// A request with a JSON body (`method` POST, PUT, PATCH …): the status code and the body as
/// text.
pub fn http_json(
    server: &Server,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: &serde_json::Value,
) -> (u16, String) {
    use std::io::{Read as _, Write as _};
    let mut s = std::net::TcpStream::connect(server.addr).expect("connect");
    let body = body.to_string();
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\n{auth}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        server.addr,
        body.len()
    )
    .expect("write");
    let mut raw = String::new();
    s.read_to_string(&mut raw).expect("read");
    let (status, body) = status_and_body(&raw);
    remember_tokens(&body);
    (status, body)
}

/// Records the credentials an answer carries (tokens, keys, codes, tickets) for the log scan.
fn remember_tokens(body: &str) {
    let Ok(v) = serde_json::from_str::<serde_json::Value>(body.trim()) else {
        return;
    };
    for key in [
        "access_token",
        "refresh_token",
        "pre_mfa_token",
        "ticket",
        "api_key",
        "secret",
        "otpauth_uri",
        "invite_token",
        "reset_token",
    ] {
        if let Some(value) = v[key].as_str() {
            crate::ledger::secret(value);
        }
    }
    for code in v["backup_codes"].as_array().into_iter().flatten() {
        if let Some(code) = code.as_str() {
            crate::ledger::secret(code);
        }
    }
}

/// A minimal blocking HTTP/1.1 GET: the status code and the body as text.
pub fn http_get(server: &Server, path: &str, token: Option<&str>) -> (u16, String) {
    use std::io::{Read as _, Write as _};
    let mut s = std::net::TcpStream::connect(server.addr).expect("connect");
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {}\r\n{auth}Connection: close\r\n\r\n",
        server.addr
    )
    .expect("write");
    let mut raw = String::new();
    s.read_to_string(&mut raw).expect("read");
    status_and_body(&raw)
}

/// A raw-body POST (an upload): `content_type` as given (or none), the body streamed; the
/// server may answer (413, 415) before taking it all, so write errors are not failures.
pub fn http_upload(
    server: &Server,
    path: &str,
    token: Option<&str>,
    content_type: Option<&str>,
    body: &[u8],
) -> (u16, String) {
    use std::io::{Read as _, Write as _};
    let mut s = std::net::TcpStream::connect(server.addr).expect("connect");
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let ctype = content_type
        .map(|c| format!("Content-Type: {c}\r\n"))
        .unwrap_or_default();
    write!(
        s,
        "POST {path} HTTP/1.1\r\nHost: {}\r\n{auth}{ctype}Content-Length: {}\r\nConnection: close\r\n\r\n",
        server.addr,
        body.len()
    )
    .expect("write head");
    let _ = s.write_all(body);
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    let raw = String::from_utf8_lossy(&raw).into_owned();
    status_and_body(&raw)
}

/// The status code and body of a raw HTTP/1.1 response (0 when there was none).
fn status_and_body(raw: &str) -> (u16, String) {
    // Every answer (headers and body) is checked afterwards for the server's own secrets.
    crate::ledger::response(raw);
    let status = raw
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = raw.split_once("\r\n\r\n").map_or("", |(_, b)| b).to_owned();
    (status, body)
}

/// A DELETE with a bearer token; returns the status code.
pub fn http_delete(server: &Server, path: &str, token: &str) -> u16 {
    use std::io::{Read as _, Write as _};
    let mut s = std::net::TcpStream::connect(server.addr).expect("connect");
    write!(
        s,
        "DELETE {path} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n",
        server.addr
    )
    .expect("write");
    let mut raw = String::new();
    s.read_to_string(&mut raw).expect("read");
    status_and_body(&raw).0
}
