//! Turns an engine transcript of one utterance into a clean word list: flattened, words that
//! are not speech dropped (`[BLANK_AUDIO]`, `(music)`, bare punctuation), times clamped to the
//! audio, and a phrase loop cut to one period.

pub(crate) use scribe_core::phrase::comparison_form as normalize;
use scribe_core::phrase::{first_repeat, loop_period, MIN_LOOP_WORDS};
use scribe_core::{Transcript, Word};

/// Longest bracketed annotation removed (`(soft upbeat music playing)`).
const MAX_ANNOTATION_WORDS: usize = 6;

/// The words of `transcript` worth keeping, times relative to the utterance start, for audio
/// `audio_ms` long; a trailing phrase loop is cut to one occurrence.
pub(crate) fn clean_words(transcript: &Transcript, audio_ms: u64) -> Vec<Word> {
    let mut words = usable_words(transcript, audio_ms);
    strip_trailing_loop(&mut words);
    words
}

/// A step's hypothesis, cleaned: `words` as from [`clean_words`] but cut after the first period
/// of the first phrase loop, wherever it is (see [`cut_at_loop`]); only the first `trusted` of
/// them (all, or those before the loop) may become final on this hypothesis' word.
pub(crate) struct StepWords {
    pub words: Vec<Word>,
    pub trusted: usize,
}

/// Cleans a step's hypothesis (see [`StepWords`]).
pub(crate) fn clean_step_words(transcript: &Transcript, audio_ms: u64) -> StepWords {
    let mut words = usable_words(transcript, audio_ms);
    let trusted = cut_at_loop(&mut words);
    StepWords { words, trusted }
}

fn usable_words(transcript: &Transcript, audio_ms: u64) -> Vec<Word> {
    let mut words = Vec::new();
    for seg in &transcript.segments {
        if seg.words.is_empty() {
            words.extend(spread(&seg.text, seg.start_ms, seg.end_ms));
        } else {
            words.extend(seg.words.iter().cloned());
        }
    }
    let mut words = drop_annotations(words);
    words.retain(|w| !normalize(&w.word).is_empty());
    // whisper.cpp times the last words of a window at or past its end: keep them, clamped.
    for w in &mut words {
        w.word = w.word.trim().to_owned();
        w.start_ms = w.start_ms.min(audio_ms);
        w.end_ms = w.end_ms.clamp(w.start_ms, audio_ms.max(w.start_ms));
    }
    words
}

/// Words of a segment that came without word timings, spread evenly over its span.
fn spread(text: &str, start_ms: u64, end_ms: u64) -> Vec<Word> {
    let parts: Vec<&str> = text.split_whitespace().collect();
    let n = parts.len() as u64;
    let span = end_ms.saturating_sub(start_ms);
    parts
        .iter()
        .enumerate()
        .map(|(i, p)| Word {
            word: (*p).to_owned(),
            start_ms: start_ms + span * i as u64 / n.max(1),
            end_ms: start_ms + span * (i as u64 + 1) / n.max(1),
            confidence: 0.0,
        })
        .collect()
}

/// Removes bracketed non-speech annotations of up to [`MAX_ANNOTATION_WORDS`] words:
/// `[BLANK_AUDIO]`, `(upbeat music)`, `*sighs*`, `♪`.
fn drop_annotations(words: Vec<Word>) -> Vec<Word> {
    let mut out = Vec::with_capacity(words.len());
    let mut i = 0;
    while i < words.len() {
        let t = words[i].word.trim();
        let close = match t.chars().next() {
            Some('[') => Some(']'),
            Some('(') => Some(')'),
            Some('*') => Some('*'),
            _ => None,
        };
        if let Some(close) = close {
            let closes = |j: usize, s: &str| {
                let s = s
                    .trim()
                    .trim_end_matches(|c: char| c.is_ascii_punctuation() && c != close);
                s.ends_with(close) && (j > i || s.len() > 1)
            };
            let end =
                (i..words.len().min(i + MAX_ANNOTATION_WORDS)).find(|&j| closes(j, &words[j].word));
            if let Some(end) = end {
                i = end + 1;
                continue;
            }
        }
        if t.chars().any(|c| matches!(c, '♪' | '♫')) && !t.chars().any(char::is_alphanumeric) {
            i += 1;
            continue;
        }
        out.push(words[i].clone());
        i += 1;
    }
    out
}

/// Cuts repeats of a phrase of [`MIN_LOOP_WORDS`]+ words at the end of `words`, keeping one
/// period of the loop ("printing" of "printing" eight times over).
pub(crate) fn strip_trailing_loop(words: &mut Vec<Word>) {
    let norm: Vec<String> = words.iter().map(|w| normalize(&w.word)).collect();
    let mut len = norm.len();
    while let Some(n) =
        (MIN_LOOP_WORDS..=len / 2).find(|&n| norm[len - n..len] == norm[len - 2 * n..len - n])
    {
        let p = loop_period(&norm, len - 2 * n, n);
        while len >= 2 * p && norm[len - p..len] == norm[len - 2 * p..len - p] {
            len -= p;
        }
    }
    words.truncate(len);
}

/// Cuts `words` after the first period of the first phrase of [`MIN_LOOP_WORDS`]+ words that
/// is immediately repeated, wherever it is: "a b c d e c d e f" keeps "a b c d e", a word
/// repeated eight times is kept once. Returns where the loop starts (`words.len()` without
/// one). For a step's hypothesis, whose loop the engine does not decode again: what follows a
/// loop is not to be trusted, and the next step hears that audio again. The loop's own first
/// period is not to be trusted either: a decoder that lost track of the audio's end often
/// runs back into the prompt ("…intended as picture books, as all books not primarily
/// intended as picture books, …", where "as all books not primarily" was committed before).
fn cut_at_loop(words: &mut Vec<Word>) -> usize {
    let norm: Vec<String> = words.iter().map(|w| normalize(&w.word)).collect();
    match first_repeat(&norm) {
        Some((start, len)) => {
            words.truncate(start + loop_period(&norm, start, len));
            start
        }
        None => words.len(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use scribe_core::Segment;

    fn w(text: &str, start: u64) -> Word {
        Word {
            word: text.into(),
            start_ms: start,
            end_ms: start + 200,
            confidence: 0.9,
        }
    }

    fn t(words: Vec<Word>) -> Transcript {
        Transcript {
            segments: vec![Segment {
                start_ms: 0,
                end_ms: 0,
                text: String::new(),
                words,
            }],
            language: "en".into(),
            duration_ms: 0,
        }
    }

    fn texts(words: &[Word]) -> Vec<&str> {
        words.iter().map(|w| w.word.as_str()).collect()
    }

    #[test]
    fn normalizing_ignores_case_and_punctuation() {
        assert_eq!(normalize("Hello,"), "hello");
        assert_eq!(normalize("don't"), "dont");
        assert_eq!(normalize("—"), "");
    }

    #[test]
    fn annotations_and_bare_punctuation_are_not_words() {
        let words = vec![
            w("[BLANK_AUDIO]", 0),
            w("So", 100),
            w("(upbeat", 200),
            w("music)", 300),
            w("-", 400),
            w("it", 500),
            w("♪", 600),
            w("works.", 700),
            w("(unclosed", 800),
            w("stays", 900),
        ];
        assert_eq!(
            texts(&clean_words(&t(words), 5_000)),
            ["So", "it", "works.", "(unclosed", "stays"]
        );
    }

    #[test]
    fn times_are_clamped_to_the_audio() {
        let words = vec![
            w("one", 0),
            w("two", 900),
            w("three", 1_000),
            w("four", 1_200),
        ];
        let got = clean_words(&t(words), 1_000);
        assert_eq!(texts(&got), ["one", "two", "three", "four"]);
        assert_eq!(
            (got[1].end_ms, got[3].start_ms, got[3].end_ms),
            (1_000, 1_000, 1_000)
        );
    }

    /// Words of `text` split at spaces, 100 ms apart.
    fn spoken(text: &str) -> Vec<Word> {
        text.split(' ')
            .enumerate()
            .map(|(i, s)| w(s, i as u64 * 100))
            .collect()
    }

    #[test]
    fn trailing_phrase_loops_are_cut_to_one() {
        let got = clean_words(
            &t(spoken("we went to the shop to the shop to the shop")),
            10_000,
        );
        assert_eq!(texts(&got).join(" "), "we went to the shop");
        // Two-word repeats are speech.
        let got = clean_words(&t(spoken("yeah yeah I know I know")), 10_000);
        assert_eq!(got.len(), 6);
        // A one-word loop keeps the word once.
        let text = "it said printing printing printing printing printing printing";
        let got = clean_words(&t(spoken(text)), 10_000);
        assert_eq!(texts(&got).join(" "), "it said printing");
    }

    #[test]
    fn a_step_is_cut_after_its_first_phrase_loop() {
        for (text, kept, trusted) in [
            ("a b c d e c d e f g", "a b c d e", 2),
            (
                "we went to the shop, to the shop to the shop",
                "we went to the shop,",
                2,
            ),
            ("no loop here at all", "no loop here at all", 5),
            ("yeah yeah I know I know", "yeah yeah I know I know", 6),
            (
                "printing, printing, printing, printing, printing, printing,",
                "printing,",
                0,
            ),
            ("", "", 0),
        ] {
            let mut got = if text.is_empty() {
                vec![]
            } else {
                spoken(text)
            };
            assert_eq!(cut_at_loop(&mut got), trusted, "{text}");
            assert_eq!(texts(&got).join(" "), kept, "{text}");
        }
    }

    #[test]
    fn segments_without_word_timings_are_spread() {
        let tr = Transcript {
            segments: vec![Segment {
                start_ms: 1_000,
                end_ms: 2_000,
                text: " Hello there world".into(),
                words: vec![],
            }],
            language: "en".into(),
            duration_ms: 2_000,
        };
        let got = clean_words(&tr, 3_000);
        assert_eq!(texts(&got), ["Hello", "there", "world"]);
        assert_eq!((got[1].start_ms, got[2].end_ms), (1_333, 2_000));
    }
}
