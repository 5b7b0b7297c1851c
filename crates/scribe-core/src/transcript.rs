//! Transcript segments and words. Times are audio milliseconds from the start of the stream or
//! file, never wall clock (PROTOCOL.md).

use serde::{Deserialize, Serialize};

/// One recognised word with its timing and the model's confidence in it.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct Word {
    pub word: String,
    pub start_ms: u64,
    pub end_ms: u64,
    /// Mean token probability, `0.0..=1.0`.
    pub confidence: f32,
}

/// A span of recognised speech.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct Segment {
    pub start_ms: u64,
    pub end_ms: u64,
    pub text: String,
    #[serde(default)]
    pub words: Vec<Word>,
}

/// The recognised speech of one file or stream, in time order.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Transcript {
    pub segments: Vec<Segment>,
    /// BCP-47-ish language code of the transcript, e.g. `en`.
    pub language: String,
    pub duration_ms: u64,
}

impl Transcript {
    /// All segment texts joined by single spaces.
    pub fn text(&self) -> String {
        let mut out = String::new();
        for s in &self.segments {
            let t = s.text.trim();
            if t.is_empty() {
                continue;
            }
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str(t);
        }
        out
    }
}

// Transcript text must never reach a log line, so `Debug` shows sizes and timing only.
impl std::fmt::Debug for Word {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Word")
            .field("start_ms", &self.start_ms)
            .field("end_ms", &self.end_ms)
            .field("chars", &self.word.chars().count())
            .finish()
    }
}

impl std::fmt::Debug for Segment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Segment")
            .field("start_ms", &self.start_ms)
            .field("end_ms", &self.end_ms)
            .field("chars", &self.text.chars().count())
            .field("words", &self.words.len())
            .finish()
    }
}

impl std::fmt::Debug for Transcript {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transcript")
            .field("segments", &self.segments.len())
            .field("language", &self.language)
            .field("duration_ms", &self.duration_ms)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_text() {
        let seg = Segment {
            start_ms: 0,
            end_ms: 10,
            text: "the patient said something private".into(),
            words: vec![Word {
                word: "private".into(),
                start_ms: 0,
                end_ms: 10,
                confidence: 0.9,
            }],
        };
        let t = Transcript {
            segments: vec![seg.clone()],
            language: "en".into(),
            duration_ms: 10,
        };
        for shown in [
            format!("{seg:?}"),
            format!("{t:?}"),
            format!("{:?}", seg.words[0]),
        ] {
            assert!(!shown.contains("private"), "{shown}");
        }
    }

    #[test]
    fn text_joins_trimmed_segments() {
        let seg = |s: &str| Segment {
            start_ms: 0,
            end_ms: 0,
            text: s.into(),
            words: vec![],
        };
        let t = Transcript {
            segments: vec![seg(" Hello"), seg("  "), seg("world. ")],
            language: "en".into(),
            duration_ms: 0,
        };
        assert_eq!(t.text(), "Hello world.");
    }
}
