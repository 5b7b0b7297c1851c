//! Helpers for the end-to-end tests: locating the built `nexus-scribe` binary, the test models
//! folder and the evaluation audio, and scoring transcripts.

use std::path::PathBuf;
use std::process::{Command, Output};

pub mod ledger;
pub mod server;

/// The `nexus-scribe` binary under test: `$NEXUS_SCRIBE_BIN`, else the one built next to
/// this test executable (`cargo build --workspace --bins` puts it there).
pub fn bin() -> PathBuf {
    if let Some(p) = std::env::var_os("NEXUS_SCRIBE_BIN") {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().expect("test executable path");
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("test executable lives in <target>/<profile>/deps");
    let bin = profile_dir.join("nexus-scribe");
    assert!(
        bin.is_file(),
        "{} is missing: run `cargo build --workspace --bins` first (scripts/test does)",
        bin.display()
    );
    bin
}

/// Folder holding fetched models (`<dir>/tiny.en/ggml-*.bin`).
pub fn models_dir() -> PathBuf {
    let dir = std::env::var_os("NEXUS_SCRIBE_TEST_MODELS_DIR")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/nexus-scribe/models"))
        })
        .expect("NEXUS_SCRIBE_TEST_MODELS_DIR or HOME must be set");
    assert!(
        dir.join("tiny.en").join("ggml-q8_0.bin").is_file(),
        "no model in {}: run `nexus-scribe models fetch --models-dir {}` (scripts/test does)",
        dir.display(),
        dir.display()
    );
    dir
}

/// The repository root.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits in the repository root")
        .to_owned()
}

/// `../shared/eval` beside the repository, where the evaluation audio lives.
pub fn eval_dir() -> PathBuf {
    let dir = repo_root().join("../shared/eval");
    assert!(
        dir.is_dir(),
        "evaluation audio not found at {}",
        dir.display()
    );
    dir
}

/// Reference transcript of a dev clip from `manifest.tsv`.
pub fn reference(file_name: &str) -> String {
    let manifest = std::fs::read_to_string(eval_dir().join("dev/manifest.tsv")).expect("manifest");
    manifest
        .lines()
        .skip(1)
        .find_map(|line| {
            let mut cols = line.split('\t');
            (cols.next() == Some(file_name)).then(|| cols.nth(1).unwrap_or_default().to_owned())
        })
        .unwrap_or_else(|| panic!("{file_name} not in manifest"))
}

/// A `nexus-scribe` command with the test models folder configured and a quiet log.
pub fn scribe() -> Command {
    let mut cmd = Command::new(bin());
    cmd.env("NEXUS_SCRIBE__ENGINE__MODELS_DIR", models_dir())
        .env("NEXUS_SCRIBE__LOGGING__LEVEL", "warn")
        .env_remove("NEXUS_SCRIBE__ENGINE__MODEL")
        .current_dir(repo_root());
    cmd
}

/// Runs a command and returns its output.
pub fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("runs")
}

/// Lower-case words with punctuation removed: a crude normaliser, enough for test thresholds
/// (the benchmark uses Whisper's real English normaliser).
pub fn words(text: &str) -> Vec<String> {
    text.split(|c: char| c.is_whitespace() || c == '-')
        .map(|w| {
            w.chars()
                .filter(|c| c.is_alphanumeric() || *c == '\'')
                .collect::<String>()
                .to_lowercase()
        })
        .filter(|w| !w.is_empty())
        .collect()
}

/// Word error rate of `hyp` against `reference` (Levenshtein over words / reference words).
pub fn wer(reference: &str, hyp: &str) -> f64 {
    let r = words(reference);
    let h = words(hyp);
    let mut prev: Vec<usize> = (0..=h.len()).collect();
    for (i, rw) in r.iter().enumerate() {
        let mut cur = vec![i + 1; h.len() + 1];
        for (j, hw) in h.iter().enumerate() {
            let sub = prev[j] + usize::from(rw != hw);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[h.len()] as f64 / r.len().max(1) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wer_counts_edits() {
        assert_eq!(wer("a b c d", "a b c d"), 0.0);
        assert_eq!(wer("a b c d", "a x c d"), 0.25);
        assert_eq!(wer("a b c d", "a b c"), 0.25);
        assert_eq!(wer("a b", "a b c d"), 1.0);
        assert_eq!(wer("Hello, World!", "hello world"), 0.0);
    }
}
