//! The server under test: `nexus-scribe serve` on a temporary data folder and an ephemeral
//! port, set up with the CLI (organisation, admin, one bot and one meeting per streaming bot),
//! its log kept in a file, signed in to as the admin.

use std::io::{BufRead as _, BufReader, Write as _};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};

use super::http;

const ORG: &str = "LiveBench";
const ADMIN_EMAIL: &str = "admin@livebench.example.org";
/// Only ever used against the throw-away server the benchmark starts.
const ADMIN_PASSWORD: &str = "correct horse battery staple";

/// How the `nexus-scribe` binary is run.
#[derive(Clone)]
pub struct Binary {
    pub path: PathBuf,
    /// Working directory: the repository root, so the shipped `config.toml` applies.
    pub cwd: PathBuf,
    /// `engine.models_dir` (holding `tiny.en/`).
    pub models_dir: PathBuf,
    pub model: String,
}

impl Binary {
    /// A command on `data_dir`, configured only by the shipped file and these variables.
    pub fn command(&self, data_dir: Option<&Path>) -> Command {
        let mut cmd = Command::new(&self.path);
        if let Some(d) = data_dir {
            cmd.arg("--data-dir").arg(d);
        }
        cmd.current_dir(&self.cwd)
            .env("NEXUS_SCRIBE__ENGINE__MODELS_DIR", &self.models_dir)
            .env("NEXUS_SCRIBE__ENGINE__MODEL", &self.model)
            .env_remove("NEXUS_SCRIBE_ENV");
        cmd
    }
}

/// A bot and its meeting.
#[derive(Clone)]
pub struct BotAccount {
    pub bot_id: String,
    pub api_key: String,
    pub meeting_id: String,
}

/// A running server; killed when dropped.
pub struct Server {
    child: Child,
    pub addr: SocketAddr,
    pub log_path: PathBuf,
    /// Keeps the data folder until the server is gone.
    _data: tempfile::TempDir,
}

impl Server {
    /// Creates the accounts for `bots` bots in a fresh data folder, then starts `serve` and
    /// waits for its `listening on ADDR` line. The log goes to `log_path`.
    pub fn start(
        bin: &Binary,
        bots: usize,
        log_path: &Path,
    ) -> anyhow::Result<(Self, Vec<BotAccount>)> {
        let data = tempfile::Builder::new()
            .prefix("live-bench-")
            .tempdir()
            .context("creating a data folder")?;
        let dir = data.path();
        setup_json(
            bin.command(Some(dir))
                .args(["admin", "create", "--email", ADMIN_EMAIL, "--org", ORG]),
            Some(&format!("{ADMIN_PASSWORD}\n")),
        )?;
        let mut accounts = Vec::with_capacity(bots);
        for i in 0..bots {
            let name = format!("live bench bot {}", i + 1);
            let bot = setup_json(
                bin.command(Some(dir))
                    .args(["bots", "create", "--org", ORG, "--name", &name]),
                None,
            )?;
            let meeting = setup_json(
                bin.command(Some(dir))
                    .args(["meetings", "create", "--org", ORG, "--title", &name]),
                None,
            )?;
            let field = |v: &serde_json::Value, k: &str| {
                v[k].as_str()
                    .map(str::to_owned)
                    .with_context(|| format!("the set-up output has no {k}: {v}"))
            };
            accounts.push(BotAccount {
                bot_id: field(&bot, "bot_id")?,
                api_key: field(&bot, "api_key")?,
                meeting_id: field(&meeting, "meeting_id")?,
            });
        }

        let log = std::fs::File::create(log_path)
            .with_context(|| format!("creating {}", log_path.display()))?;
        let mut child = bin
            .command(Some(dir))
            .args(["serve", "--listen", "127.0.0.1:0"])
            .env("NEXUS_SCRIBE__LOGGING__LEVEL", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("starting {} serve", bin.path.display()))?;
        let stderr = child.stderr.take().context("no stderr pipe")?;
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut log = std::io::BufWriter::new(log);
            let mut tx = Some(tx);
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(rest) = line.split("listening on ").nth(1) {
                    if let Some(tx) = tx.take() {
                        let addr = rest.split_whitespace().next().unwrap_or("").to_owned();
                        let _ = tx.send(addr);
                    }
                }
                let _ = writeln!(log, "{line}");
                let _ = log.flush();
            }
        });
        let deadline = Instant::now() + Duration::from_secs(120);
        let addr = loop {
            if let Ok(a) = rx.recv_timeout(Duration::from_millis(100)) {
                break a;
            }
            if let Ok(Some(status)) = child.try_wait() {
                bail!(
                    "serve exited with {status} before listening; see {}",
                    log_path.display()
                );
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                bail!(
                    "serve did not start within 120 s; see {}",
                    log_path.display()
                );
            }
        };
        let addr = addr
            .parse()
            .with_context(|| format!("serve's listening address {addr:?}"))?;
        Ok((
            Self {
                child,
                addr,
                log_path: log_path.to_owned(),
                _data: data,
            },
            accounts,
        ))
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Signs in as the admin; returns an access token.
    pub async fn login(&self) -> anyhow::Result<String> {
        let body = serde_json::json!({ "email": ADMIN_EMAIL, "password": ADMIN_PASSWORD });
        let res = http::request(self.addr, "POST", "/api/v1/auth/login", None, Some(&body)).await?;
        let v: serde_json::Value = serde_json::from_str(&res.body).unwrap_or_default();
        match v["access_token"].as_str() {
            Some(t) if res.status == 200 => Ok(t.to_owned()),
            _ => bail!("login answered {}: {}", res.status, res.body),
        }
    }

    /// `GET /metrics` (Prometheus text).
    pub async fn metrics(&self, token: &str) -> anyhow::Result<String> {
        let res = http::request(self.addr, "GET", "/metrics", Some(token), None).await?;
        if res.status != 200 {
            bail!("/metrics answered {}: {}", res.status, res.body);
        }
        Ok(res.body)
    }

    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs a set-up command and parses the JSON it prints.
fn setup_json(cmd: &mut Command, stdin: Option<&str>) -> anyhow::Result<serde_json::Value> {
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().context("starting a set-up command")?;
    let mut input = child.stdin.take().context("no stdin pipe")?;
    if let Some(text) = stdin {
        input
            .write_all(text.as_bytes())
            .context("writing the set-up command's input")?;
    }
    drop(input);
    let out = child
        .wait_with_output()
        .context("waiting for a set-up command")?;
    if !out.status.success() {
        bail!(
            "set-up command {:?} failed: {}",
            cmd.get_args().collect::<Vec<_>>(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    serde_json::from_slice(&out.stdout).with_context(|| {
        format!(
            "set-up command printed no JSON: {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}
