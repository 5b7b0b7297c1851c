//! Word error rate of the live finals and of offline `nexus-scribe transcribe` on the same audio,
//! both normalised with Whisper's English normaliser (`python/score.py`) when Python has it.

use std::path::Path;
use std::time::Instant;

use anyhow::{bail, Context as _};
use serde::{Deserialize, Serialize};

use super::latency::TimedWord;
use super::server::Binary;
use crate::python::Python;
use crate::wer::{self, Errors};

/// Normalises texts for scoring.
pub struct Scorer {
    python: Option<Python>,
}

impl Scorer {
    /// Whisper's normaliser through `python`, or (with a warning) a plain lower-case,
    /// punctuation-free one when Python lacks `whisper-normalizer`.
    pub fn new(python: Python) -> Self {
        match python.check(false) {
            Ok(_) => Self {
                python: Some(python),
            },
            Err(e) => {
                eprintln!(
                    "warning: {e:#}\nwarning: scoring with a plain lower-case normaliser instead; WERs are not comparable with the accuracy benchmark's"
                );
                Self { python: None }
            }
        }
    }

    pub fn name(&self) -> &'static str {
        match self.python {
            Some(_) => "whisper-normalizer (python/score.py)",
            None => "plain: lower case, punctuation removed",
        }
    }

    pub fn normalise(&self, texts: &[String]) -> anyhow::Result<Vec<String>> {
        match &self.python {
            Some(py) => py.normalise(texts),
            None => Ok(texts.iter().map(|t| plain(t)).collect()),
        }
    }
}

fn plain(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_alphanumeric() || c == '\'' {
                c.to_ascii_lowercase()
            } else {
                ' '
            }
        })
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// A WER figure.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Wer {
    pub wer_percent: f64,
    #[serde(flatten)]
    pub errors: Errors,
}

impl Wer {
    pub fn of(reference_normalised: &str, hypothesis_normalised: &str) -> Self {
        Self::from_errors(wer::score(reference_normalised, hypothesis_normalised))
    }

    pub fn from_errors(errors: Errors) -> Self {
        Self {
            wer_percent: errors.rate() * 100.0,
            errors,
        }
    }
}

/// Offline transcription of the streamed audio, for comparison.
#[derive(Clone, Debug, Serialize)]
pub struct Offline {
    /// `None`: the configured default (`engine.beam_size`).
    pub beam_size: Option<u32>,
    pub wall_s: f64,
    pub text: String,
    pub wer: Option<Wer>,
    /// The words with their stream times.
    #[serde(skip)]
    pub words: Vec<TimedWord>,
}

/// Runs `nexus-scribe transcribe WAV --format json` (with `--beam-size` when given).
pub fn transcribe(bin: &Binary, wav: &Path, beam_size: Option<u32>) -> anyhow::Result<Offline> {
    let file = wav
        .to_str()
        .context("the audio path must be UTF-8")?
        .to_owned();
    let mut cmd = bin.command(None);
    cmd.arg("transcribe")
        .arg(&file)
        .args(["--format", "json", "--no-progress"]);
    if let Some(b) = beam_size {
        cmd.args(["--beam-size", &b.to_string()]);
    }
    let start = Instant::now();
    let out = cmd
        .output()
        .with_context(|| format!("running {} transcribe", bin.path.display()))?;
    let wall_s = start.elapsed().as_secs_f64();
    if !out.status.success() {
        bail!(
            "transcribe failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let stdout = String::from_utf8(out.stdout).context("transcribe's output is not UTF-8")?;
    let texts = crate::jsonl::texts_for(std::slice::from_ref(&file), &stdout)?;
    let text = texts
        .into_iter()
        .next()
        .flatten()
        .context("transcribe printed no transcript")?;
    Ok(Offline {
        beam_size,
        wall_s,
        text,
        wer: None,
        words: timed_words(&stdout)?,
    })
}

/// The words of `transcribe --format json` output, in order, with their times.
fn timed_words(stdout: &str) -> anyhow::Result<Vec<TimedWord>> {
    #[derive(Deserialize)]
    struct Line {
        #[serde(default)]
        segments: Vec<Seg>,
    }
    #[derive(Deserialize)]
    struct Seg {
        #[serde(default)]
        words: Vec<W>,
    }
    #[derive(Deserialize)]
    struct W {
        word: String,
        start_ms: u64,
        end_ms: u64,
    }
    let mut out = Vec::new();
    for raw in stdout.lines().filter(|l| !l.trim().is_empty()) {
        let line: Line = serde_json::from_str(raw).context("reading transcribe's JSON")?;
        for w in line.segments.into_iter().flat_map(|s| s.words) {
            out.push(TimedWord {
                word: w.word.trim().to_owned(),
                start_ms: w.start_ms,
                end_ms: w.end_ms,
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_normaliser_drops_case_and_punctuation() {
        assert_eq!(
            plain("Hello, World!  It's (here)."),
            "hello world it's here"
        );
        let w = Wer::of("a b c d", "a x c d");
        assert!((w.wer_percent - 25.0).abs() < 1e-12);
    }

    #[test]
    fn reads_word_times_from_transcribe_json() {
        let out = r#"{"file":"x.wav","text":"Hi there.","segments":[{"start_ms":0,"end_ms":900,"text":" Hi there.","words":[{"word":" Hi","start_ms":10,"end_ms":300,"confidence":0.9},{"word":" there.","start_ms":320,"end_ms":880,"confidence":0.8}]}]}"#;
        let words = timed_words(out).expect("parses");
        assert_eq!(
            words,
            vec![
                TimedWord {
                    word: "Hi".into(),
                    start_ms: 10,
                    end_ms: 300
                },
                TimedWord {
                    word: "there.".into(),
                    start_ms: 320,
                    end_ms: 880
                },
            ]
        );
    }
}
