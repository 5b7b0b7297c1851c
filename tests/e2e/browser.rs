//! The browser tests' driver side: checks that Chromium, node and playwright-core are there,
//! and runs one of the `tests/browser/*.mjs` scripts, talking to it in lines (stdout from the
//! script, stdin to it) and showing its stderr.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use e2e_tests::repo_root;
use e2e_tests::server::Server;
use serde_json::Value;
use tokio::sync::mpsc;

const CHROMIUM: &str = "/usr/bin/chromium";

/// The script `tests/browser/{name}`, after checking that Chromium, node and playwright-core
/// are there.
pub fn preflight(name: &str) -> PathBuf {
    assert!(
        Path::new(CHROMIUM).is_file(),
        "{CHROMIUM} not found: this test drives a real headless Chromium; install Debian's \
         `chromium` (scripts/ensure-deps does)"
    );
    let node = Command::new("node").arg("--version").output();
    let version = match &node {
        Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout).trim().to_owned(),
        _ => panic!("`node` not found: install `nodejs` and `npm` (scripts/ensure-deps does)"),
    };
    let major: u32 = version
        .trim_start_matches('v')
        .split('.')
        .next()
        .and_then(|m| m.parse().ok())
        .unwrap_or(0);
    assert!(
        major >= 20,
        "node {version} is too old: playwright-core needs node 20 or newer"
    );
    let browser_dir = repo_root().join("tests/browser");
    assert!(
        browser_dir.join("node_modules/playwright-core").is_dir(),
        "playwright-core is not installed: run `npm ci --prefix tests/browser` (scripts/test does)"
    );
    browser_dir.join(name)
}

/// A node script and its Chromium; killed when dropped.
pub struct Browser {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: mpsc::UnboundedReceiver<String>,
    stderr: Arc<Mutex<String>>,
}

impl Browser {
    /// Starts `node script` in the repository root with `env` added.
    pub fn start(script: &Path, env: &[(&str, &str)]) -> Self {
        let mut child = Command::new("node")
            .arg(script)
            .envs(env.iter().copied())
            .current_dir(repo_root())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("node starts");
        let (tx, lines) = mpsc::unbounded_channel();
        let stdout = child.stdout.take().expect("stdout");
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let stderr = Arc::new(Mutex::new(String::new()));
        let sink = Arc::clone(&stderr);
        let mut err = child.stderr.take().expect("stderr");
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = err.read(&mut buf) {
                if n == 0 {
                    break;
                }
                let text = String::from_utf8_lossy(&buf[..n]);
                eprint!("{text}");
                sink.lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push_str(&text);
            }
        });
        Self {
            stdin: child.stdin.take(),
            child,
            lines,
            stderr,
        }
    }

    /// Everything the script wrote to stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Waits for a stdout line starting with `prefix` and returns the rest of it.
    pub async fn expect_line(&mut self, prefix: &str, within: Duration) -> String {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            match tokio::time::timeout_at(deadline, self.lines.recv()).await {
                Ok(Some(line)) => {
                    if let Some(rest) = line.strip_prefix(prefix) {
                        return rest.to_owned();
                    }
                }
                Ok(None) => {
                    let status = self.child.wait().map(|s| s.to_string());
                    // Let the stderr thread catch up with the last words.
                    std::thread::sleep(Duration::from_millis(200));
                    panic!(
                        "the browser script ended ({status:?}) before printing {prefix:?}:\n{}",
                        self.stderr()
                    );
                }
                Err(_) => panic!(
                    "no {prefix:?} from the browser script within {within:?}:\n{}",
                    self.stderr()
                ),
            }
        }
    }

    /// Writes one line to the script. A script that already failed is reported by the next
    /// `expect_line`, with its own words.
    pub fn send(&mut self, msg: &Value) {
        if let Some(stdin) = self.stdin.as_mut() {
            let _ = writeln!(stdin, "{msg}").and_then(|()| stdin.flush());
        }
    }

    /// Closes the script's stdin and waits for it to exit successfully.
    pub fn expect_success(&mut self, server: &Server) {
        drop(self.stdin.take());
        let status = self.child.wait().expect("browser script ends");
        assert!(
            status.success(),
            "browser script failed ({status}):\n{}\nserver log:\n{}",
            self.stderr(),
            server.log()
        );
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
