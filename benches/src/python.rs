//! The Python side: checking that the packages are there and normalising text with Whisper's
//! English normaliser (`python/score.py`).

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{bail, Context as _};

/// Versions of the Python packages, pinned to the ones the README's figures were measured with.
const PIP_PACKAGES: &str = "faster-whisper==1.2.1 whisper-normalizer==0.1.15";

/// A Python interpreter and the benchmark's scripts folder.
pub struct Python {
    pub interpreter: PathBuf,
    pub scripts: PathBuf,
}

impl Python {
    pub fn script(&self, name: &str) -> PathBuf {
        self.scripts.join(name)
    }

    /// Imports what the run needs (faster-whisper only when `peer`) and returns the package
    /// versions; fails with the `pip install` command when something is missing.
    pub fn check(&self, peer: bool) -> anyhow::Result<serde_json::Value> {
        let mut cmd = Command::new(&self.interpreter);
        cmd.arg(self.script("score.py")).arg("--check");
        if peer {
            cmd.arg("--peer");
        }
        let out = cmd
            .output()
            .with_context(|| format!("running {} (set --python)", self.interpreter.display()))?;
        if !out.status.success() {
            bail!(
                "{}the benchmark needs Python packages that are missing; install them with:\n    {} -m pip install {PIP_PACKAGES}",
                String::from_utf8_lossy(&out.stderr),
                self.interpreter.display()
            );
        }
        serde_json::from_slice(&out.stdout).context("reading the package versions")
    }

    /// Normalises each text as Whisper's English normaliser does, with `(` and `)` made spaces.
    pub fn normalise(&self, texts: &[String]) -> anyhow::Result<Vec<String>> {
        let input = serde_json::to_vec(texts).context("encoding texts")?;
        let mut child = Command::new(&self.interpreter)
            .arg(self.script("score.py"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("starting {}", self.interpreter.display()))?;
        // score.py reads all of standard input before writing, so writing first cannot deadlock.
        child
            .stdin
            .take()
            .context("score.py has no standard input")?
            .write_all(&input)
            .context("sending texts to score.py")?;
        let out = child.wait_with_output().context("waiting for score.py")?;
        if !out.status.success() {
            bail!("score.py failed: {}", String::from_utf8_lossy(&out.stderr));
        }
        let normalised: Vec<String> =
            serde_json::from_slice(&out.stdout).context("reading score.py's output")?;
        if normalised.len() != texts.len() {
            bail!(
                "score.py returned {} texts for {}",
                normalised.len(),
                texts.len()
            );
        }
        Ok(normalised)
    }
}

/// The folder holding `score.py` and `faster_whisper_run.py`.
pub fn scripts_dir(repo_root: &Path) -> PathBuf {
    repo_root.join("benches").join("python")
}
