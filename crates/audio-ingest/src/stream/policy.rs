//! The streaming policy (LocalAgreement-2): turns successive engine hypotheses for a growing
//! utterance into final words, which never change, and a revisable partial.
//!
//! Each hypothesis covers the utterance from its start. Words the last two hypotheses agree on
//! (compared without case and punctuation, emitted in the newest spelling) beyond what is already
//! committed become final; the rest is the partial. When the utterance ends, its final
//! hypothesis is committed whole. Committed words of finished utterances form the context the
//! engine is conditioned on.

use scribe_core::{Segment, Transcript, Word};

use super::agreement::{agreed_len, uncommitted_start};
use super::hypothesis::{clean_step_words, clean_words};
use super::segmenter::EndReason;
use super::update::{FinalSegment, PartialSegment, SegmentId, Update};
use super::SAMPLES_PER_MS;

/// Final words of a closed utterance kept to align the one that continues it: more than a
/// `max_carry_ms` of fast speech holds (its words may all be committed before the cut; with 12
/// kept, a cut on eval/long with 13 committed words after it had them committed twice).
const RECENT_WORDS: usize = 64;

/// A continuing utterance inherits the committed words ending less than this before its start
/// (word timings are rough: a word counted twice is found by alignment, a missing one is not).
const INHERIT_MARGIN_MS: u64 = 1_000;

/// Words of the committed text a resumed stream's first utterance is aligned against.
const RESUME_WORDS: usize = 3;

/// Where a stream starts: its first segment id and the text to condition on (for a stream that
/// resumes, the tail of what it already committed).
#[derive(Clone, Default)]
pub struct PolicyStart {
    pub first_id: SegmentId,
    pub context: String,
}

/// Local-agreement policy for one stream. Feed it hypotheses of the utterance it is on; tell it
/// when utterances begin, are cut, or end.
pub struct StreamingPolicy {
    context_chars: usize,
    context: String,
    next_id: u64,
    /// Id of the partial on screen (or reserved for the next one); a final takes it over.
    partial_id: Option<SegmentId>,
    /// Text of the last partial sent, to skip sending the same again; `None` when none shows.
    shown: Option<String>,
    /// End of the last final word, stream ms: finals never go back in time.
    last_end_ms: u64,
    /// The last committed words of the stream, stream-timed (resumed context: untimed).
    recent: Vec<Word>,
    utt: Option<Current>,
}

/// The utterance being transcribed.
struct Current {
    start_sample: u64,
    /// Committed words, times from the utterance start. The first `inherited` were committed
    /// before (the end of a cut utterance): hypotheses are aligned against them, they are
    /// not committed again.
    committed: Vec<Word>,
    inherited: usize,
    /// The previous hypothesis' words beyond `committed`.
    pending: Vec<Word>,
}

impl StreamingPolicy {
    /// A policy keeping `context_chars` characters of committed text as the engine prompt.
    pub fn new(context_chars: usize, start: PolicyStart) -> Self {
        let mut p = Self {
            context_chars,
            context: String::new(),
            next_id: start.first_id.0,
            partial_id: None,
            shown: None,
            last_end_ms: 0,
            recent: Vec::new(),
            utt: None,
        };
        p.extend_context(&start.context);
        let words: Vec<&str> = start.context.split_whitespace().collect();
        p.recent = words[words.len().saturating_sub(RESUME_WORDS)..]
            .iter()
            .map(|w| Word {
                word: (*w).to_owned(),
                start_ms: 0,
                end_ms: 0,
                confidence: 1.0,
            })
            .collect();
        p
    }

    /// Starts transcribing an utterance whose audio begins at stream sample `start_sample`.
    /// `continues`: it takes over from an utterance cut at its maximum length (or is the first
    /// of a resumed stream), so its audio may repeat the last committed words; those are
    /// inherited and never committed twice.
    pub fn begin(&mut self, start_sample: u64, continues: bool) {
        self.close_current();
        let start_ms = start_sample / SAMPLES_PER_MS;
        let committed: Vec<Word> = if continues {
            self.recent
                .iter()
                .filter(|w| w.end_ms + INHERIT_MARGIN_MS > start_ms || w.end_ms == 0)
                .map(|w| Word {
                    start_ms: w.start_ms.saturating_sub(start_ms),
                    end_ms: w.end_ms.saturating_sub(start_ms),
                    ..w.clone()
                })
                .collect()
        } else {
            Vec::new()
        };
        self.utt = Some(Current {
            start_sample,
            inherited: committed.len(),
            committed,
            pending: Vec::new(),
        });
    }

    /// A hypothesis for the first `audio_samples` of the current utterance: commits what it
    /// agrees on with the previous one. A hypothesis that loops (steps are not decoded again
    /// when they do) is cut after the loop's first period, and commits nothing from the loop's
    /// start on: those words stay partial until a hypothesis without the loop agrees with
    /// them. An empty hypothesis changes nothing (the model dropped everything once; the next
    /// step decides).
    pub fn hypothesis(&mut self, transcript: &Transcript, audio_samples: usize) -> Update {
        let audio_ms = audio_samples as u64 / SAMPLES_PER_MS;
        let step = clean_step_words(transcript, audio_ms);
        if step.words.is_empty() {
            return Update::default();
        }
        let Some(start) = self.uncommitted_index(&step.words) else {
            return Update::default();
        };
        let tail = &step.words[start..];
        let agreed = self
            .utt
            .as_ref()
            .map_or(0, |u| agreed_len(&u.pending, tail))
            .min(step.trusted.saturating_sub(start));
        let mut update = Update::default();
        let (done, rest) = tail.split_at(agreed);
        self.commit(done, &mut update);
        self.show(rest, &mut update);
        if let Some(u) = &mut self.utt {
            u.pending = rest.to_vec();
        }
        update
    }

    /// The last hypothesis of the current utterance: everything beyond the committed words
    /// becomes final, and the utterance is closed. With `None` (no decode was possible, or the
    /// last hypothesis already covered all its audio), or an empty hypothesis, the previous
    /// hypothesis' pending words are committed instead. `utterance_end` is set when the
    /// utterance produced any final words.
    pub fn finish_utterance(
        &mut self,
        transcript: Option<&Transcript>,
        audio_samples: usize,
        reason: EndReason,
    ) -> Update {
        let audio_ms = audio_samples as u64 / SAMPLES_PER_MS;
        let words = transcript.map_or_else(Vec::new, |t| clean_words(t, audio_ms));
        let tail = if words.is_empty() {
            self.utt
                .as_ref()
                .map_or_else(Vec::new, |u| u.pending.clone())
        } else {
            self.uncommitted_index(&words)
                .map_or_else(Vec::new, |start| words[start..].to_vec())
        };
        let mut update = Update::default();
        self.commit(&tail, &mut update);
        self.show(&[], &mut update);
        if self
            .utt
            .as_ref()
            .is_some_and(|u| u.committed.len() > u.inherited)
        {
            update.utterance_end = Some(reason);
        }
        self.close_current();
        update
    }

    /// Text the engine is to be conditioned on: the stream's committed text before the
    /// current utterance, at most `context_chars` characters, starting at a word.
    pub fn context(&self) -> &str {
        &self.context
    }

    /// Stream sample up to which the current utterance's words are final: between the last
    /// committed word and the first pending one. `None` before the first commit.
    pub fn committed_until(&self) -> Option<u64> {
        let u = self.utt.as_ref()?;
        let last = u.committed[u.inherited.min(u.committed.len())..].last()?;
        let mut end = last.end_ms;
        if let Some(next) = u.pending.first() {
            if next.start_ms > end {
                end = (end + next.start_ms) / 2;
            }
        }
        Some(u.start_sample + end * SAMPLES_PER_MS)
    }

    /// True while an utterance is being transcribed.
    pub fn is_active(&self) -> bool {
        self.utt.is_some()
    }

    /// The next segment id this policy will hand out (for a resumed stream's bookkeeping).
    pub fn next_id(&self) -> SegmentId {
        SegmentId(self.next_id)
    }

    /// Where the words of `words` not yet committed begin, or `None` without a current
    /// utterance.
    fn uncommitted_index(&self, words: &[Word]) -> Option<usize> {
        let u = self.utt.as_ref()?;
        Some(uncommitted_start(words, &u.committed, u.inherited))
    }

    fn commit(&mut self, words: &[Word], update: &mut Update) {
        let Some(u) = &mut self.utt else {
            return;
        };
        if words.is_empty() {
            return;
        }
        u.committed.extend(words.iter().cloned());
        let offset = u.start_sample / SAMPLES_PER_MS;
        let mut out = Vec::with_capacity(words.len());
        for (w, word) in words.iter().zip(sentence_cased(self.recent.last(), words)) {
            let start = (offset + w.start_ms).max(self.last_end_ms);
            let end = (offset + w.end_ms).max(start);
            self.last_end_ms = end;
            out.push(Word {
                word,
                start_ms: start,
                end_ms: end,
                confidence: w.confidence,
            });
        }
        self.recent.extend(out.iter().cloned());
        if self.recent.len() > RECENT_WORDS {
            self.recent.drain(..self.recent.len() - RECENT_WORDS);
        }
        let id = self.partial_id.take().unwrap_or_else(|| self.fresh_id());
        self.shown = None;
        update.finals.push(FinalSegment {
            id,
            segment: segment(out),
        });
    }

    /// Makes `words` the partial, sending it only when its text changed.
    fn show(&mut self, words: &[Word], update: &mut Update) {
        let text = join(words);
        if words.is_empty() {
            if self.shown.is_some() {
                if let Some(id) = self.partial_id {
                    update.partial = Some(PartialSegment {
                        id,
                        segment: segment(Vec::new()),
                    });
                }
                self.shown = None;
            }
            return;
        }
        if self.shown.as_deref() == Some(text.as_str()) {
            return;
        }
        let Some(u) = &self.utt else {
            return;
        };
        let offset = u.start_sample / SAMPLES_PER_MS;
        let out: Vec<Word> = words
            .iter()
            .zip(sentence_cased(self.recent.last(), words))
            .map(|(w, word)| {
                let start = (offset + w.start_ms).max(self.last_end_ms);
                Word {
                    word,
                    start_ms: start,
                    end_ms: (offset + w.end_ms).max(start),
                    confidence: w.confidence,
                }
            })
            .collect();
        let id = match self.partial_id {
            Some(id) => id,
            None => {
                let id = self.fresh_id();
                self.partial_id = Some(id);
                id
            }
        };
        self.shown = Some(text);
        update.partial = Some(PartialSegment {
            id,
            segment: segment(out),
        });
    }

    fn fresh_id(&mut self) -> SegmentId {
        let id = SegmentId(self.next_id);
        self.next_id += 1;
        id
    }

    /// Moves the current utterance's own committed words into the context.
    fn close_current(&mut self) {
        if let Some(u) = self.utt.take() {
            let text = join(&u.committed[u.inherited.min(u.committed.len())..]);
            self.extend_context(&text);
        }
    }

    fn extend_context(&mut self, text: &str) {
        for w in text.split_whitespace() {
            if !self.context.is_empty() {
                self.context.push(' ');
            }
            self.context.push_str(w);
        }
        let chars = self.context.chars().count();
        if chars > self.context_chars {
            let drop = chars - self.context_chars;
            let cut = self
                .context
                .char_indices()
                .nth(drop)
                .map_or(self.context.len(), |(i, _)| i);
            // Start at a word: skip the rest of a word cut in half.
            let start = if self.context[..cut].ends_with(' ') {
                cut
            } else {
                self.context[cut..]
                    .find(' ')
                    .map_or(self.context.len(), |i| cut + i + 1)
            };
            self.context.drain(..start);
        }
    }
}

/// The spellings of `words` as sent to clients: a word that starts a sentence (the stream's
/// first, or one after a word ending in `.`, `?` or `!` that is not an abbreviation such as
/// "i.e." or "Mr.") gets a capital first letter. Only what is sent changes; the engine's
/// prompt and the alignment keep the decoder's own spelling, so decoding is unaffected.
fn sentence_cased(previous: Option<&Word>, words: &[Word]) -> Vec<String> {
    let mut prev = previous.map(|w| w.word.as_str());
    words
        .iter()
        .map(|w| {
            let word = if prev.is_none_or(ends_sentence) {
                capitalised(&w.word)
            } else {
                w.word.clone()
            };
            prev = Some(&w.word);
            word
        })
        .collect()
}

fn ends_sentence(word: &str) -> bool {
    let word = word.trim_end_matches(['"', '\'', ')', '\u{201d}', '\u{2019}']);
    let body = word.trim_end_matches(['.', '?', '!', '\u{2026}']);
    body.len() != word.len()
        && !body.contains('.')
        && !matches!(
            body.to_lowercase().as_str(),
            "mr" | "mrs" | "ms" | "dr" | "st" | "vs" | "etc" | "prof" | "approx"
        )
}

fn capitalised(word: &str) -> String {
    let mut chars = word.chars();
    match chars.next() {
        Some(c) if c.is_lowercase() => c.to_uppercase().chain(chars).collect(),
        _ => word.to_owned(),
    }
}

fn join(words: &[Word]) -> String {
    let parts: Vec<&str> = words.iter().map(|w| w.word.as_str()).collect();
    parts.join(" ")
}

fn segment(words: Vec<Word>) -> Segment {
    Segment {
        start_ms: words.first().map_or(0, |w| w.start_ms),
        end_ms: words.last().map_or(0, |w| w.end_ms),
        text: join(&words),
        words,
    }
}

impl std::fmt::Debug for StreamingPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamingPolicy")
            .field("next_id", &self.next_id)
            .field("partial_id", &self.partial_id)
            .field("context_chars", &self.context.chars().count())
            .field("active", &self.utt.is_some())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hyp(text: &str) -> Transcript {
        let words = text
            .split_whitespace()
            .enumerate()
            .map(|(i, w)| Word {
                word: w.into(),
                start_ms: i as u64 * 400,
                end_ms: i as u64 * 400 + 300,
                confidence: 0.9,
            })
            .collect();
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

    const SECOND: usize = 16_000;

    #[test]
    fn the_agreed_prefix_becomes_final_in_the_newest_spelling() {
        let mut p = StreamingPolicy::new(200, PolicyStart::default());
        p.begin(16_000, false);
        let u = p.hypothesis(&hyp("ask not what"), SECOND);
        assert!(u.finals.is_empty());
        let first = u.partial.as_ref().map(|x| x.id);
        let u = p.hypothesis(&hyp("Ask not, what your"), 2 * SECOND);
        assert_eq!(u.final_text(), "Ask not, what");
        // The final takes over the partial's id; the rest is a new partial.
        assert_eq!(u.finals[0].id, first.unwrap_or(SegmentId(99)));
        let rest = u.partial.as_ref().map(|x| (x.id, x.segment.text.clone()));
        assert_eq!(rest, Some((SegmentId(1), "your".to_owned())));
        // Stream times: the utterance starts at 1 s.
        assert_eq!(u.finals[0].segment.start_ms, 1_000);
        // Re-punctuated committed words are not committed again.
        let u = p.hypothesis(&hyp("ask not what your country"), 3 * SECOND);
        assert_eq!(u.final_text(), "your");
        let u = p.finish_utterance(
            Some(&hyp("ask not what your country can")),
            3 * SECOND,
            EndReason::Silence,
        );
        assert_eq!(u.final_text(), "country can");
        assert_eq!(u.utterance_end, Some(EndReason::Silence));
        assert_eq!(p.context(), "Ask not, what your country can");
    }

    #[test]
    fn sentence_starts_are_sent_with_a_capital_and_the_prompt_keeps_the_decoders_spelling() {
        let mut p = StreamingPolicy::new(200, PolicyStart::default());
        p.begin(0, false);
        p.hypothesis(&hyp("printing in the only sense."), 3 * SECOND);
        let u = p.hypothesis(
            &hyp("printing in the only sense. now as i.e. the"),
            4 * SECOND,
        );
        assert_eq!(u.final_text(), "Printing in the only sense.");
        let partial = u.partial.map(|x| x.segment.text);
        assert_eq!(partial.as_deref(), Some("Now as i.e. the"));
        let u = p.finish_utterance(
            Some(&hyp(
                "printing in the only sense. now as i.e. the end? yes, Mr. smith",
            )),
            5 * SECOND,
            EndReason::Silence,
        );
        assert_eq!(u.final_text(), "Now as i.e. the end? Yes, Mr. smith");
        assert_eq!(
            p.context(),
            "printing in the only sense. now as i.e. the end? yes, Mr. smith"
        );
        // A resumed stream goes on from its stored text.
        let mut p = StreamingPolicy::new(
            200,
            PolicyStart {
                first_id: SegmentId(7),
                context: "It was late.\u{201d}".into(),
            },
        );
        p.begin(0, false);
        let u = p.finish_utterance(Some(&hyp("so we left")), SECOND, EndReason::Silence);
        assert_eq!(u.final_text(), "So we left");
        let ends: Vec<bool> = [
            "end.", "why?\"", "wait...", "etc.", "Mr.", "i.e.", "U.S.", "on",
        ]
        .into_iter()
        .map(ends_sentence)
        .collect();
        assert_eq!(ends, [true, true, true, false, false, false, false, false]);
    }

    #[test]
    fn an_unchanged_partial_is_not_sent_again_and_a_vanished_one_is_withdrawn() {
        let mut p = StreamingPolicy::new(200, PolicyStart::default());
        p.begin(0, false);
        let u = p.hypothesis(&hyp("one two"), SECOND);
        let id = u.partial.as_ref().map(|x| x.id);
        let u = p.hypothesis(&hyp("uno dos"), SECOND);
        assert_eq!(u.partial.as_ref().map(|x| x.id), id);
        let u = p.hypothesis(&hyp("uno dos"), SECOND);
        assert_eq!(u.final_text(), "Uno dos");
        let u = p.finish_utterance(Some(&hyp("uno dos")), SECOND, EndReason::Finalize);
        assert!(u.finals.is_empty() && u.partial.is_none());
        // A partial the final decode does not confirm is withdrawn under its id.
        p.begin(10 * SECOND as u64, false);
        let u = p.hypothesis(&hyp("thank you"), SECOND);
        let id = u.partial.as_ref().map(|x| x.id);
        let u = p.finish_utterance(Some(&hyp("")), SECOND, EndReason::Silence);
        // An empty final hypothesis falls back to the last pending words.
        assert_eq!(u.final_text(), "thank you");
        assert_eq!(u.finals[0].id, id.unwrap_or(SegmentId(99)));
    }

    #[test]
    fn the_context_keeps_the_last_words_within_the_limit() {
        let start = PolicyStart {
            first_id: SegmentId(7),
            context: "alpha beta gamma delta".into(),
        };
        let mut p = StreamingPolicy::new(12, start);
        assert_eq!(p.context(), "gamma delta");
        assert_eq!(p.next_id(), SegmentId(7));
        p.begin(0, false);
        p.finish_utterance(Some(&hyp("epsilon zeta")), SECOND, EndReason::Silence);
        assert_eq!(p.context(), "epsilon zeta");
    }

    #[test]
    fn a_continuing_utterance_does_not_commit_inherited_words_again() {
        let mut p = StreamingPolicy::new(200, PolicyStart::default());
        p.begin(0, false);
        p.hypothesis(&hyp("one two three four"), 2 * SECOND);
        let u = p.hypothesis(&hyp("one two three four five"), 2 * SECOND);
        assert_eq!(u.final_text(), "One two three four");
        // Cut at 1.0 s (words end at 0.3, 0.7, 1.1, 1.5 s): "three four" are in the next
        // utterance's audio too.
        let u = p.finish_utterance(Some(&hyp("one two")), SECOND, EndReason::MaxLength);
        assert!(u.finals.is_empty());
        p.begin(SECOND as u64, true);
        p.hypothesis(&hyp("three four five"), SECOND);
        let u = p.hypothesis(&hyp("three four five six"), 2 * SECOND);
        assert_eq!(u.final_text(), "five");
        assert_eq!(p.context(), "one two three four");
    }

    #[test]
    fn a_cut_after_many_committed_words_repeats_none_of_them() {
        let mut p = StreamingPolicy::new(200, PolicyStart::default());
        p.begin(0, false);
        let text: Vec<String> = (0..30).map(|i| format!("w{i}")).collect();
        let all = text.join(" ");
        p.hypothesis(&hyp(&all), 12 * SECOND);
        let u = p.hypothesis(&hyp(&format!("{all} w30")), 13 * SECOND);
        assert_eq!(u.final_text(), format!("W{}", &all[1..]));
        // Cut at 4 s (ten words in): twenty committed words are in the carried audio.
        let u = p.finish_utterance(
            Some(&hyp(&text[..10].join(" "))),
            4 * SECOND,
            EndReason::MaxLength,
        );
        assert!(u.finals.is_empty());
        p.begin(4 * SECOND as u64, true);
        let again = format!("{} w30 w31", text[10..].join(" "));
        p.hypothesis(&hyp(&again), 9 * SECOND);
        let u = p.hypothesis(&hyp(&format!("{again} w32")), 10 * SECOND);
        assert_eq!(u.final_text(), "w30 w31");
    }

    #[test]
    fn a_step_that_loops_commits_nothing_from_the_loop_on() {
        let mut p = StreamingPolicy::new(200, PolicyStart::default());
        p.begin(0, false);
        // Two steps that both repeat "printed book the" (the engine does not re-decode a
        // step that loops): neither the loop nor what follows it is trusted, so only the
        // words before it become final; the loop's first period stays partial.
        p.hypothesis(
            &hyp("the true printed book the printed book the printed"),
            3 * SECOND,
        );
        let u = p.hypothesis(
            &hyp("the true printed book the printed book the printed book"),
            4 * SECOND,
        );
        assert_eq!(u.final_text(), "The true");
        assert_eq!(
            u.partial.map(|s| s.segment.text).as_deref(),
            Some("printed book the")
        );
        // A step without the loop confirms what it agrees on.
        let u = p.hypothesis(&hyp("the true printed book, the invention"), 5 * SECOND);
        assert_eq!(u.final_text(), "printed book, the");
        let u = p.finish_utterance(
            Some(&hyp("the true printed book, the invention")),
            5 * SECOND,
            EndReason::Silence,
        );
        assert_eq!(u.final_text(), "invention");
    }

    #[test]
    fn a_loop_back_into_committed_words_is_not_committed() {
        // eval/long, padded by 0.5 s: after a cut, the continuing utterance's steps heard
        // "intended as picture books" and ran back into the committed words before it. Two
        // such steps agreed on the echo; it must not become final.
        let mut p = StreamingPolicy::new(200, PolicyStart::default());
        p.begin(0, false);
        p.hypothesis(&hyp("now as all books not primarily"), 3 * SECOND);
        let u = p.hypothesis(&hyp("now as all books not primarily intended"), 4 * SECOND);
        assert_eq!(u.final_text(), "Now as all books not primarily");
        let cut = hyp("now as all books not primarily");
        p.finish_utterance(Some(&cut), 4 * SECOND, EndReason::MaxLength);
        p.begin(3 * SECOND as u64, true);
        let echo = "intended as picture books, as all books not primarily";
        p.hypothesis(
            &hyp(&format!("{echo} intended as picture books, not primarily intended as picture books, not primarily intended as picture books,")),
            2 * SECOND,
        );
        let u = p.hypothesis(&hyp(&format!("{echo} {echo} {echo}")), 3 * SECOND);
        assert_eq!(u.final_text(), "");
        let u = p.hypothesis(
            &hyp("intended as picture books consist principally of types"),
            4 * SECOND,
        );
        assert_eq!(u.final_text(), "intended as picture books");
    }
}
