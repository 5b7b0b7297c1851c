//! From what a bot sent and what its meeting's viewer received to latencies.
//!
//! Times here are seconds since the run's epoch. Chunk `k` of a stream carries stream time
//! `[k·chunk_ms, (k+1)·chunk_ms)`, so a word's audio is complete once the chunk holding its
//! `end_ms` has been sent, and it has begun once the chunk holding its `start_ms` has.
//!
//! - **Final-word latency**: arrival at the viewer of the final holding the word − send of
//!   the chunk holding the word's end.
//! - **First-partial latency** of an utterance (cut as the server's segmenter cuts the audio,
//!   [`super::speech`]): arrival of the first non-empty partial whose first word starts in it −
//!   send of the chunk holding its speech onset (its first voiced frame: where its first word
//!   starts).
//! - **Utterance final latency**: arrival of the last final holding its words − send of the
//!   chunk holding its last voiced frame; independent of word timestamps.
//!
//! Word times: the server's own (`start_ms`/`end_ms` of the final's words) for the final-word
//! latency as specified; the same figure is also given with the word ends of offline
//! `transcribe` on the same audio (whole-file context, so better timestamps), where the two
//! transcripts align word for word: the live timestamps of a final can collapse (several words
//! with one time).
//! - **Partial lag**: for every non-empty partial, arrival − send of the chunk holding its end:
//!   how old the newest audio a viewer sees text for is.

use std::collections::HashMap;

use scribe_protocol::SegmentMessage;
use serde::Serialize;

use super::speech::{utterance_at, Span};

/// How far outside every utterance a word may start and still count for the nearest one
/// (word times are approximate).
const UTTERANCE_SLACK_MS: u64 = 1_000;

/// Percentiles of a set of latencies, seconds (nearest-rank).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Summary {
    pub n: usize,
    pub p50_s: f64,
    pub p95_s: f64,
    pub max_s: f64,
    pub mean_s: f64,
}

/// `None` for no values.
pub fn summarise(values: &[f64]) -> Option<Summary> {
    if values.is_empty() {
        return None;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let rank = |q: f64| v[((q * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1];
    Some(Summary {
        n: v.len(),
        p50_s: rank(0.50),
        p95_s: rank(0.95),
        max_s: v[v.len() - 1],
        mean_s: v.iter().sum::<f64>() / v.len() as f64,
    })
}

/// A word with its stream time, from offline `transcribe` of the same audio.
#[derive(Clone, Debug, PartialEq)]
pub struct TimedWord {
    pub word: String,
    pub start_ms: u64,
    pub end_ms: u64,
}

/// One word of a final.
#[derive(Clone, Debug, Serialize)]
pub struct WordLatency {
    pub word: String,
    /// The end the server gave the word.
    pub end_ms: u64,
    pub latency_s: f64,
    /// The end offline transcription gives the same word, when the two transcripts align there.
    pub offline_end_ms: Option<u64>,
    pub latency_offline_s: Option<f64>,
}

/// One utterance of the audio (as the server's segmenter cuts it) as the viewer saw it.
#[derive(Clone, Debug, Serialize)]
pub struct Utterance {
    /// Where its speech starts and ends (first and last voiced frame).
    pub onset_ms: u64,
    pub voiced_end_ms: u64,
    /// It continues an utterance cut at the maximum length.
    pub carried: bool,
    /// Final words whose start falls in it.
    pub words: usize,
    /// Non-empty partials whose first word starts in it.
    pub partials: usize,
    /// First such partial − send of the chunk holding its speech onset.
    pub first_partial_s: Option<f64>,
    /// The same for the first partial or final, whichever came first.
    pub first_text_s: Option<f64>,
    /// Last final holding its words − send of the chunk holding its speech end.
    pub final_s: Option<f64>,
}

/// The figures of one viewer's messages.
#[derive(Clone, Debug, Default)]
pub struct Analysis {
    pub words: Vec<WordLatency>,
    pub utterances: Vec<Utterance>,
    pub partial_lags: Vec<f64>,
    /// The finals' texts in stream order, joined by spaces.
    pub final_text: String,
}

impl Analysis {
    /// Final-word latencies, server word times as the anchor.
    pub fn word_latencies(&self) -> Vec<f64> {
        self.words.iter().map(|w| w.latency_s).collect()
    }

    /// Final-word latencies with the offline word ends as the anchor (aligned words only).
    pub fn offline_latencies(&self) -> Vec<f64> {
        self.words
            .iter()
            .filter_map(|w| w.latency_offline_s)
            .collect()
    }

    /// Utterances that start something a viewer waits for: transcribed (final words) and not
    /// the continuation of a cut one.
    pub fn spoken(&self) -> impl Iterator<Item = &Utterance> {
        self.utterances.iter().filter(|u| u.words > 0 && !u.carried)
    }

    /// First-partial latencies of the spoken utterances that had a partial.
    pub fn first_partials(&self) -> Vec<f64> {
        self.spoken().filter_map(|u| u.first_partial_s).collect()
    }

    /// The same for the first partial or final.
    pub fn first_texts(&self) -> Vec<f64> {
        self.spoken().filter_map(|u| u.first_text_s).collect()
    }

    /// Spoken utterances whose first partial arrived within `limit_s` of their speech onset.
    pub fn first_partials_within(&self, limit_s: f64) -> usize {
        self.spoken()
            .filter(|u| u.first_partial_s.is_some_and(|l| l <= limit_s))
            .count()
    }

    /// Share of spoken utterances with a first partial within `limit_s` (one without any
    /// partial counts as a miss).
    #[cfg(test)]
    fn first_partial_within(&self, limit_s: f64) -> Option<f64> {
        let n = self.spoken().count();
        (n > 0).then(|| self.first_partials_within(limit_s) as f64 / n as f64)
    }

    #[cfg(test)]
    fn final_word_offline(&self) -> Option<Summary> {
        summarise(&self.offline_latencies())
    }
}

/// Maps stream time to the instant its chunk was sent.
struct Sends<'a> {
    at: &'a [f64],
    chunk_ms: u64,
}

impl Sends<'_> {
    /// The send of the chunk holding the sample at `ms` (a word's start).
    fn start(&self, ms: u64) -> Option<f64> {
        self.chunk(ms / self.chunk_ms.max(1))
    }

    /// The send of the chunk holding the sample just before `ms` (a word's end).
    fn end(&self, ms: u64) -> Option<f64> {
        self.chunk(ms.saturating_sub(1) / self.chunk_ms.max(1))
    }

    fn chunk(&self, k: u64) -> Option<f64> {
        let last = self.at.len().checked_sub(1)?;
        Some(self.at[usize::try_from(k).unwrap_or(usize::MAX).min(last)])
    }
}

/// Lower case, letters and digits only: how words are compared for alignment.
fn key(word: &str) -> String {
    word.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// For each word of `a`, the index of the equal word of `b` it is matched with, if any: an
/// alignment with the most matches (a longest common subsequence; a substitution costs as much
/// as a deletion and an insertion, so no match is given up for one).
pub fn align(a: &[String], b: &[String]) -> Vec<Option<usize>> {
    let (n, m) = (a.len(), b.len());
    let w = m + 1;
    let mut cost = vec![0u32; (n + 1) * w];
    for (j, c) in cost.iter_mut().take(w).enumerate() {
        *c = j as u32;
    }
    for i in 1..=n {
        cost[i * w] = i as u32;
        for j in 1..=m {
            let diag = cost[(i - 1) * w + j - 1] + 2 * u32::from(a[i - 1] != b[j - 1]);
            cost[i * w + j] = diag
                .min(cost[(i - 1) * w + j] + 1)
                .min(cost[i * w + j - 1] + 1);
        }
    }
    let mut out = vec![None; n];
    let (mut i, mut j) = (n, m);
    while i > 0 && j > 0 {
        let here = cost[i * w + j];
        let same = a[i - 1] == b[j - 1];
        if cost[(i - 1) * w + j - 1] + 2 * u32::from(!same) == here {
            if same {
                out[i - 1] = Some(j - 1);
            }
            i -= 1;
            j -= 1;
        } else if cost[(i - 1) * w + j] + 1 == here {
            i -= 1;
        } else {
            j -= 1;
        }
    }
    out
}

/// Works out the latencies from the send instants (`sends[k]`: chunk k, seconds since the
/// epoch) and the `segment` messages received (arrival, message), in arrival order. `spans` are
/// the audio's utterances; `offline` the offline transcript's words of the same audio (empty
/// when not available).
pub fn analyse(
    sends: &[f64],
    chunk_ms: u64,
    spans: &[Span],
    offline: &[TimedWord],
    seen: &[(f64, &SegmentMessage)],
) -> Analysis {
    let sends = Sends {
        at: sends,
        chunk_ms,
    };
    let mut finals: HashMap<&str, (f64, &SegmentMessage)> = HashMap::new();
    let mut partials: Vec<(f64, &SegmentMessage)> = Vec::new();
    let mut partial_lags = Vec::new();
    for &(at, msg) in seen {
        if msg.is_final {
            finals.entry(msg.segment_id.as_str()).or_insert((at, msg));
        } else if !msg.words.is_empty() {
            let end = msg.words.last().map_or(msg.end_ms, |w| w.end_ms);
            if let Some(sent) = sends.end(end) {
                partial_lags.push(at - sent);
            }
            partials.push((at, msg));
        }
    }
    let mut ordered: Vec<(f64, &SegmentMessage)> = finals.values().copied().collect();
    ordered.sort_by_key(|(_, m)| (m.start_ms, m.seq));

    let live: Vec<(f64, &scribe_protocol::WordMessage)> = ordered
        .iter()
        .flat_map(|&(at, m)| m.words.iter().map(move |word| (at, word)))
        .collect();
    let matched = align(
        &live.iter().map(|(_, w)| key(&w.word)).collect::<Vec<_>>(),
        &offline.iter().map(|w| key(&w.word)).collect::<Vec<_>>(),
    );
    let words: Vec<WordLatency> = live
        .iter()
        .zip(matched)
        .filter_map(|(&(at, w), k)| {
            let offline_end = k.map(|k| offline[k].end_ms);
            Some(WordLatency {
                word: w.word.clone(),
                end_ms: w.end_ms,
                latency_s: at - sends.end(w.end_ms)?,
                offline_end_ms: offline_end,
                latency_offline_s: offline_end.and_then(|e| sends.end(e)).map(|sent| at - sent),
            })
        })
        .collect();

    // Messages belong to the utterance their first word starts in.
    let of = |m: &SegmentMessage| {
        let start = m.words.first().map_or(m.start_ms, |w| w.start_ms);
        utterance_at(spans, start, UTTERANCE_SLACK_MS)
    };
    let mut utterances: Vec<Utterance> = spans
        .iter()
        .map(|s| Utterance {
            onset_ms: s.onset_ms,
            voiced_end_ms: s.voiced_end_ms,
            carried: s.carried,
            words: 0,
            partials: 0,
            first_partial_s: None,
            first_text_s: None,
            final_s: None,
        })
        .collect();
    let earliest = |slot: &mut Option<f64>, v: f64| {
        *slot = Some(slot.map_or(v, |x: f64| x.min(v)));
    };
    for &(at, m) in &partials {
        if let Some(u) = of(m).map(|i| &mut utterances[i]) {
            u.partials += 1;
            if let Some(sent) = sends.start(u.onset_ms) {
                earliest(&mut u.first_partial_s, at - sent);
                earliest(&mut u.first_text_s, at - sent);
            }
        }
    }
    for &(at, m) in &ordered {
        // A final's words may run into the next utterance: each word counts where it starts.
        for w in &m.words {
            if let Some(i) = utterance_at(spans, w.start_ms, UTTERANCE_SLACK_MS) {
                let u = &mut utterances[i];
                u.words += 1;
                if let Some(sent) = sends.start(u.onset_ms) {
                    earliest(&mut u.first_text_s, at - sent);
                }
                if let Some(sent) = sends.end(u.voiced_end_ms) {
                    u.final_s = Some(u.final_s.map_or(at - sent, |x| x.max(at - sent)));
                }
            }
        }
    }

    let final_text = ordered
        .iter()
        .map(|(_, m)| m.text.trim())
        .filter(|t| !t.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    Analysis {
        words,
        utterances,
        partial_lags,
        final_text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use scribe_protocol::WordMessage;

    fn seg(id: &str, seq: u64, is_final: bool, words: &[(&str, u64, u64)]) -> SegmentMessage {
        SegmentMessage {
            meeting_id: "m".into(),
            stream_id: "s".into(),
            segment_id: id.into(),
            seq,
            is_final,
            start_ms: words.first().map_or(0, |w| w.1.saturating_sub(100)),
            end_ms: words.last().map_or(0, |w| w.2 + 100),
            text: words.iter().map(|w| w.0).collect::<Vec<_>>().join(" "),
            words: words
                .iter()
                .map(|&(word, start_ms, end_ms)| WordMessage {
                    word: word.into(),
                    start_ms,
                    end_ms,
                    confidence: 0.9,
                })
                .collect(),
            speaker: None,
            language: "en".into(),
        }
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let v: Vec<f64> = (1..=20).map(f64::from).collect();
        let s = summarise(&v).expect("values");
        assert_eq!((s.n, s.p50_s, s.p95_s, s.max_s), (20, 10.0, 19.0, 20.0));
        assert!((s.mean_s - 10.5).abs() < 1e-12);
        assert_eq!(summarise(&[3.0]).map(|s| s.p95_s), Some(3.0));
        assert_eq!(summarise(&[]), None);
    }

    fn span(start_ms: u64, end_ms: u64) -> Span {
        Span {
            start_ms,
            end_ms,
            onset_ms: start_ms + 250,
            voiced_end_ms: end_ms - 200,
            carried: false,
        }
    }

    #[test]
    fn latencies_count_from_the_chunk_holding_the_audio() {
        // 100 ms chunks sent on time from t = 10 s: chunk k at 10 + k/10.
        let sends: Vec<f64> = (0..60).map(|k| 10.0 + f64::from(k) / 10.0).collect();
        // Speech 1050..2100 ms and 3000..3400 ms.
        let spans = [span(800, 2_300), span(2_750, 3_600)];
        let p1 = seg("a", 1, false, &[("hello", 1_000, 1_400)]);
        let p2 = seg("a", 2, false, &[]); // a withdrawn partial: ignored
        let f1 = seg("a", 3, true, &[("hello", 1_050, 1_400)]);
        // The rest of the utterance, committed later under a new id.
        let p3 = seg("b", 4, false, &[("there", 1_500, 2_000)]);
        let f2 = seg("b", 5, true, &[("there", 1_500, 2_000)]);
        // The next utterance, final without a partial.
        let f3 = seg("c", 6, true, &[("bye", 3_000, 3_301)]);
        let seen = [
            (11.8, &p1),
            (11.9, &p2),
            (12.0, &f1),
            (12.1, &p3),
            (12.5, &f2),
            (13.9, &f3),
        ];
        let a = analyse(&sends, 100, &spans, &[], &seen);
        // "hello" ends at 1400 ms: chunk 13 (1300..1400), sent at 11.3; "there" 2000 → chunk
        // 19 at 11.9; "bye" 3301 → chunk 33 at 13.3.
        let got: Vec<(String, f64)> = a
            .words
            .iter()
            .map(|w| (w.word.clone(), (w.latency_s * 1000.0).round() / 1000.0))
            .collect();
        assert_eq!(
            got,
            vec![
                ("hello".into(), 0.7),
                ("there".into(), 0.6),
                ("bye".into(), 0.6)
            ]
        );
        assert_eq!(a.utterances.len(), 2);
        let u = &a.utterances[0];
        // Speech onset 1050 ms: chunk 10, sent at 11.0; speech end 2100 → chunk 20 at 12.0.
        assert_eq!((u.words, u.partials), (2, 2));
        assert!((u.first_partial_s.expect("partial") - 0.8).abs() < 1e-9);
        assert!((u.first_text_s.expect("text") - 0.8).abs() < 1e-9);
        assert!((u.final_s.expect("final") - 0.5).abs() < 1e-9);
        let v = &a.utterances[1];
        assert_eq!((v.first_partial_s, v.partials, v.words), (None, 0, 1));
        // Onset 3000 → chunk 30 at 13.0.
        assert!((v.first_text_s.expect("final") - 0.9).abs() < 1e-9);
        assert_eq!(a.first_partial_within(1.0), Some(0.5));
        assert_eq!(a.first_partials().len(), 1);
        assert_eq!(a.first_texts().len(), 2);
        assert_eq!(a.partial_lags.len(), 2);
        assert!((a.partial_lags[0] - 0.5).abs() < 1e-9);
        assert_eq!(a.final_text, "hello there bye");
    }

    #[test]
    fn alignment_matches_equal_words_only() {
        let v = |s: &str| s.split(' ').map(str::to_owned).collect::<Vec<_>>();
        assert_eq!(
            align(&v("a b c d e"), &v("a x c e f")),
            vec![Some(0), None, Some(2), None, Some(3)]
        );
        assert_eq!(align(&v("a"), &[]), vec![None]);
        assert_eq!(key("Exhibition."), "exhibition");
    }

    #[test]
    fn offline_times_give_a_second_anchor_where_aligned() {
        let sends: Vec<f64> = (0..60).map(|k| f64::from(k) / 10.0).collect();
        // The server collapsed "b c" onto one time; offline has them apart.
        let f = seg(
            "a",
            1,
            true,
            &[("A", 0, 500), ("b", 3_000, 3_000), ("x", 3_000, 3_000)],
        );
        let offline = vec![
            TimedWord {
                word: "a".into(),
                start_ms: 0,
                end_ms: 400,
            },
            TimedWord {
                word: "b".into(),
                start_ms: 1_500,
                end_ms: 1_900,
            },
            TimedWord {
                word: "c".into(),
                start_ms: 2_000,
                end_ms: 2_900,
            },
        ];
        let a = analyse(&sends, 100, &[], &offline, &[(3.5, &f)]);
        let live: Vec<f64> = a
            .words
            .iter()
            .map(|w| (w.latency_s * 10.0).round() / 10.0)
            .collect();
        assert_eq!(live, vec![3.1, 0.6, 0.6]);
        let off: Vec<Option<u64>> = a.words.iter().map(|w| w.offline_end_ms).collect();
        assert_eq!(off, vec![Some(400), Some(1_900), None]);
        assert!((a.words[1].latency_offline_s.expect("aligned") - 1.7).abs() < 1e-9);
        assert_eq!(a.final_word_offline().map(|s| s.n), Some(2));
        assert!(a.utterances.is_empty());
    }

    #[test]
    fn audio_past_the_last_chunk_maps_to_the_last_send() {
        let sends = [1.0, 1.1];
        let f = seg("a", 1, true, &[("end", 150, 900)]);
        let a = analyse(&sends, 100, &[], &[], &[(2.1, &f)]);
        assert!((a.words[0].latency_s - 1.0).abs() < 1e-9);
        assert!(analyse(&[], 100, &[], &[], &[(2.1, &f)]).words.is_empty());
    }
}
