//! The suite-wide log scan: while the end-to-end tests run, every secret they handle (passwords,
//! bot keys, tokens, the servers' generated or Vault-held secrets) and every log a server or
//! set-up command wrote is recorded under `$NEXUS_SCRIBE_TEST_LEDGER`; `scripts/test` then checks
//! that no recorded secret appears in any recorded log, and that none of the server's own secrets
//! (`jwt_secret`, `bot_key_secret`, `master_key`, …) appears in any HTTP answer the tests got
//! (answers do carry the caller's own tokens, so those are not scanned for there). Without the
//! variable nothing is recorded.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

/// Shorter values are not secrets worth scanning for (and would match by chance).
const MIN_SECRET_CHARS: usize = 12;

fn dir() -> Option<PathBuf> {
    std::env::var_os("NEXUS_SCRIBE_TEST_LEDGER").map(PathBuf::from)
}

/// Records a secret the suite handled (one line; values with a line break are split).
pub fn secret(value: &str) {
    let lines: Vec<&str> = value
        .lines()
        .map(str::trim)
        .filter(|l| l.chars().count() >= MIN_SECRET_CHARS)
        .collect();
    if !lines.is_empty() {
        append("secrets", &format!("{}\n", lines.join("\n")));
    }
}

/// Records one of the server's own secrets (key material no answer may ever carry); it is also
/// a [`secret`] for the log scan.
pub fn server_secret(value: &str) {
    secret(value);
    let value = value.trim();
    if value.chars().count() >= MIN_SECRET_CHARS {
        append("server-secrets", &format!("{value}\n"));
    }
}

/// Records an HTTP answer (status line, headers, body) the suite received.
pub fn response(raw: &str) {
    append(
        &format!("responses/{}.log", std::process::id()),
        &format!("{raw}\n"),
    );
}

/// Appends `text` to `name` under the ledger (creating folders), in one write: appends from
/// parallel tests do not interleave within a line.
fn append(name: &str, text: &str) {
    let Some(dir) = dir() else { return };
    let path = dir.join(name);
    if let Some(parent) = path.parent() {
        let _ = std::fs::create_dir_all(parent);
    }
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
    {
        let _ = f.write_all(text.as_bytes());
    }
}

/// Records a log a process of the suite wrote.
pub fn log(label: &str, text: &str) {
    static SERIAL: AtomicU32 = AtomicU32::new(0);
    let Some(dir) = dir() else { return };
    let logs = dir.join("logs");
    let _ = std::fs::create_dir_all(&logs);
    let n = SERIAL.fetch_add(1, Ordering::Relaxed);
    let name = format!("{}-{n}-{label}.log", std::process::id());
    let _ = std::fs::write(logs.join(name), text);
}

/// Records every value of a data folder's generated secrets file.
pub fn server_secrets(data_dir: &Path) {
    let Ok(file) = std::fs::read_to_string(data_dir.join("secrets/secrets.toml")) else {
        return;
    };
    for line in file.lines() {
        if let Some((_, value)) = line.split_once('=') {
            server_secret(value.trim().trim_matches('"'));
        }
    }
}
