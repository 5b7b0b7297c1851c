//! Turning Whisper's sub-word tokens into words with timings and confidence.

use scribe_core::phrase::{comparison_form, first_repeat};
use scribe_core::{Transcript, Word};

/// One decoded text token (special tokens already removed).
#[derive(Clone)]
pub(crate) struct Token {
    pub bytes: Vec<u8>,
    /// Start and end in milliseconds from the start of the audio.
    pub start_ms: u64,
    pub end_ms: u64,
    pub probability: f32,
}

/// Groups tokens into words: a token that begins with whitespace starts a new word, others
/// continue the current one (BPE pieces, punctuation). Bytes are joined before decoding so a
/// character split across tokens comes out whole.
pub(crate) fn assemble(tokens: &[Token]) -> Vec<Word> {
    let mut words = Vec::new();
    let mut current: Option<(Vec<u8>, u64, u64, f32, u32)> = None;
    for tok in tokens {
        let starts_word = tok.bytes.first().is_some_and(u8::is_ascii_whitespace);
        match &mut current {
            Some((bytes, _, end, psum, n)) if !starts_word => {
                bytes.extend_from_slice(&tok.bytes);
                *end = (*end).max(tok.end_ms);
                *psum += tok.probability;
                *n += 1;
            }
            _ => {
                if let Some(done) = current.take() {
                    push_word(&mut words, done);
                }
                current = Some((
                    tok.bytes.clone(),
                    tok.start_ms,
                    tok.end_ms,
                    tok.probability,
                    1,
                ));
            }
        }
    }
    if let Some(done) = current {
        push_word(&mut words, done);
    }
    words
}

fn push_word(words: &mut Vec<Word>, (bytes, start, end, psum, n): (Vec<u8>, u64, u64, f32, u32)) {
    let text = String::from_utf8_lossy(&bytes).trim().to_owned();
    if text.is_empty() {
        return;
    }
    words.push(Word {
        word: text,
        start_ms: start,
        end_ms: end.max(start),
        confidence: (psum / n as f32).clamp(0.0, 1.0),
    });
}

/// True when some phrase of at least
/// [`MIN_LOOP_WORDS`](scribe_core::phrase::MIN_LOOP_WORDS) words is immediately repeated,
/// ignoring case and punctuation: "…an exact imitation, which are an exact imitation".
pub(crate) fn has_phrase_loop(t: &Transcript) -> bool {
    let words: Vec<String> = t
        .text()
        .split_whitespace()
        .map(comparison_form)
        .filter(|w| !w.is_empty())
        .collect();
    first_repeat(&words).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn transcript(text: &str) -> Transcript {
        Transcript {
            segments: vec![scribe_core::Segment {
                start_ms: 0,
                end_ms: 1,
                text: text.into(),
                words: vec![],
            }],
            language: "en".into(),
            duration_ms: 1,
        }
    }

    #[test]
    fn phrase_loops_are_detected() {
        for looped in [
            "in letters which are an exact imitation, which are an exact imitation.",
            "I'm Abigail Klafflin, you can call me Abigail Klafflin, you can call me Abigail Klafflin.",
            "by a similar process By a similar process",
        ] {
            assert!(has_phrase_loop(&transcript(looped)), "{looped}");
        }
    }

    #[test]
    fn ordinary_speech_is_not_a_loop() {
        for fine in [
            "With menus, yeah, yeah.",
            "I think I think we should go.",
            "Printing, in the only sense with which we are at present concerned.",
            "",
            "one",
        ] {
            assert!(!has_phrase_loop(&transcript(fine)), "{fine}");
        }
    }

    fn tok(s: &[u8], a: u64, b: u64, p: f32) -> Token {
        Token {
            bytes: s.to_vec(),
            start_ms: a,
            end_ms: b,
            probability: p,
        }
    }

    #[test]
    fn pieces_join_into_words() {
        let words = assemble(&[
            tok(b" Print", 0, 200, 0.9),
            tok(b"ing", 200, 400, 0.7),
            tok(b",", 400, 410, 1.0),
            tok(b" in", 500, 600, 0.8),
        ]);
        let texts: Vec<_> = words.iter().map(|w| w.word.as_str()).collect();
        assert_eq!(texts, ["Printing,", "in"]);
        assert_eq!((words[0].start_ms, words[0].end_ms), (0, 410));
        assert!((words[0].confidence - 0.8666).abs() < 1e-3);
    }

    #[test]
    fn split_utf8_character_is_rejoined() {
        // "é" is 0xC3 0xA9; BPE may put the two bytes in different tokens.
        let words = assemble(&[
            tok(b" caf", 0, 10, 1.0),
            tok(&[0xC3], 10, 20, 1.0),
            tok(&[0xA9], 20, 30, 1.0),
        ]);
        assert_eq!(words[0].word, "café");
    }

    #[test]
    fn first_token_without_space_still_starts_a_word() {
        let words = assemble(&[tok(b"Hello", 0, 10, 0.5), tok(b" world", 10, 20, 0.5)]);
        assert_eq!(words.len(), 2);
        assert_eq!(words[0].word, "Hello");
    }
}
