//! Behaviour of a whole stream session against a scripted engine: what a viewer would see.

use scribe_core::{Segment, Transcript};

use super::fake_engine::{script, spoken, Driver, Habits, ToneVad};
use super::{EndReason, SegmentId, SessionStart, StreamConfig, StreamSession, SAMPLES_PER_MS};

fn config() -> StreamConfig {
    StreamConfig::default()
}

#[test]
fn finals_equal_the_spoken_words_once_each_in_order() {
    let s = script(6, 8, 1_500, 700);
    for habits in [
        Habits::default(),
        Habits {
            repunctuate: true,
            garble_cut_word: true,
            ..Habits::default()
        },
    ] {
        for chunk in [160, 320, 4_000, 1] {
            let mut d = Driver::new(config(), &s.words, habits);
            d.push(&s.audio, chunk);
            d.finish();
            assert_eq!(d.final_words(), spoken(&s.words), "chunk {chunk}");
            assert!(d.partial.is_empty(), "a partial outlived the stream");
            assert_eq!(d.utterance_ends, 6);
        }
    }
}

#[test]
fn most_words_become_final_before_their_utterance_ends() {
    // LocalAgreement commits while the speaker goes on: with 8 s runs, far more than one
    // final per utterance.
    let s = script(3, 20, 1_500, 500);
    let mut d = Driver::new(config(), &s.words, Habits::default());
    d.push(&s.audio, 320);
    d.finish();
    assert_eq!(d.final_words(), spoken(&s.words));
    assert!(d.finals.len() >= 3 * 5, "{} finals", d.finals.len());
}

#[test]
fn finals_come_within_about_a_second_and_a_half_of_the_word() {
    // Engine answers at once: a word is final one or two steps after it was heard.
    let s = script(4, 12, 1_500, 500);
    let mut d = Driver::new(config(), &s.words, Habits::default());
    let mut latency = Vec::new();
    for c in s.audio.chunks(320) {
        let before = d.finals.len();
        let u = d.session.push_audio(c);
        d.record(u);
        d.drain();
        let now_ms = d.session.received_ms();
        for (_, words) in &d.finals[before..] {
            for w in words {
                latency.push(now_ms - w.end_ms);
            }
        }
    }
    d.finish();
    latency.sort_unstable();
    let p50 = latency[latency.len() / 2];
    let max = latency[latency.len() - 1];
    assert!(p50 <= 1_200, "p50 {p50} ms");
    assert!(max <= 1_600, "max {max} ms");
}

#[test]
fn partial_ids_are_stable_until_final() {
    let s = script(2, 15, 1_500, 500);
    let mut d = Driver::new(config(), &s.words, Habits::default());
    let mut current: Option<SegmentId> = None;
    let mut partial_ids = Vec::new();
    for c in s.audio.chunks(320) {
        let mut u = d.session.push_audio(c);
        while let Some(req) = d.session.take_request() {
            let t = d.engine.transcribe(&req);
            u.merge(d.session.apply(req.id, &t));
        }
        for f in &u.finals {
            if Some(f.id) == current {
                current = None;
            }
        }
        if let Some(p) = &u.partial {
            if !p.is_withdrawal() {
                if let Some(c) = current {
                    assert_eq!(p.id, c, "partial changed id before its final");
                }
                current = Some(p.id);
                partial_ids.push(p.id);
            }
        }
        d.record(u);
    }
    d.finish();
    partial_ids.dedup();
    assert!(partial_ids.len() >= 4, "{partial_ids:?}");
    // Every partial id that showed was ended by a final with that id.
    let final_ids: Vec<SegmentId> = d.finals.iter().map(|(id, _)| *id).collect();
    for id in partial_ids {
        assert!(final_ids.contains(&id), "partial {id:?} never became final");
    }
}

#[test]
fn repunctuation_never_re_emits_committed_words() {
    let s = script(1, 30, 1_500, 500);
    let habits = Habits {
        repunctuate: true,
        ..Habits::default()
    };
    let mut d = Driver::new(config(), &s.words, habits);
    d.push(&s.audio, 320);
    d.finish();
    assert_eq!(d.final_words(), spoken(&s.words));
    // The newest spelling is what goes out.
    assert!(d.final_word_list().iter().any(|w| w.word.ends_with(',')));
}

#[test]
fn empty_and_shrinking_hypotheses_lose_nothing() {
    let s = script(3, 12, 1_500, 500);
    let habits = Habits {
        empty_every: Some(3),
        shrink_every: Some(4),
        ..Habits::default()
    };
    let mut d = Driver::new(config(), &s.words, habits);
    d.push(&s.audio, 320);
    d.finish();
    // Shrinking final decodes drop the last two words of an utterance (the engine's word is
    // the last word): compare what is there, in order, with no repeats.
    let finals = d.final_words();
    let all = spoken(&s.words);
    let mut it = all.iter();
    for w in &finals {
        assert!(it.any(|x| x == w), "{w} out of order or repeated");
    }
    assert!(
        finals.len() >= all.len() - 3 * 2,
        "{} of {}",
        finals.len(),
        all.len()
    );
}

#[test]
fn a_trailing_phrase_loop_is_never_committed() {
    let s = script(2, 10, 1_500, 500);
    let habits = Habits {
        loop_tail: true,
        ..Habits::default()
    };
    let mut d = Driver::new(config(), &s.words, habits);
    d.push(&s.audio, 320);
    d.finish();
    let finals = d.final_words();
    // One "and so on" survives per final decode at most (the loop is cut to one copy); never
    // a repeat.
    for w in finals.windows(6) {
        assert_ne!(w[..3], w[3..], "loop committed");
    }
    let spoken_words: Vec<String> = finals
        .iter()
        .filter(|w| w.starts_with('w'))
        .cloned()
        .collect();
    assert_eq!(spoken_words, spoken(&s.words));
}

#[test]
fn silence_and_low_noise_never_reach_the_engine() {
    let mut session =
        StreamSession::with_detector(config(), Box::new(ToneVad), SessionStart::default())
            .unwrap_or_else(|e| panic!("{e}"));
    let mut state = 1u32;
    let noise: Vec<f32> = (0..16_000 * 60)
        .map(|i| {
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            if i < 16_000 * 30 {
                0.0
            } else {
                (state >> 8) as f32 / (1u32 << 24) as f32 * 0.01 - 0.005
            }
        })
        .collect();
    for c in noise.chunks(320) {
        let u = session.push_audio(c);
        assert!(u.is_empty());
        assert!(!session.wants_decode());
        assert!(session.take_request().is_none());
        assert_eq!(session.oldest_undecoded_ms(), None);
    }
    let u = session.finish();
    assert!(u.is_empty());
    assert!(session.is_done());
    assert_eq!(session.committed_ms(), 60_000);
    assert_eq!(session.received_ms(), 60_000);
}

#[test]
fn a_click_is_dropped_without_a_decode() {
    let mut audio = vec![0.0f32; 16_000];
    audio[8_000..8_000 + 1_600]
        .iter_mut()
        .for_each(|s| *s = 0.3); // 100 ms
    audio.extend(vec![0.0f32; 32_000]);
    let mut d = Driver::new(config(), &[], Habits::default());
    d.push(&audio, 320);
    d.finish();
    assert_eq!(d.requests, 0);
    assert!(d.finals.is_empty());
}

#[test]
fn max_length_cuts_lose_and_repeat_nothing() {
    // 60 s without a long pause: utterances are cut before 15 s, between two words.
    let s = script(1, 150, 1_500, 500);
    for delay in [0, 10] {
        let mut d = Driver::new(config(), &s.words, Habits::default());
        d.delay_chunks = delay;
        d.push(&s.audio, 320);
        d.finish();
        assert_eq!(d.final_words(), spoken(&s.words), "delay {delay}");
        let longest = d.engine.audio_ms.iter().copied().max().unwrap_or(0);
        assert!(longest <= 15_000, "decoded {longest} ms at once");
        // Each cut closed its utterance with a final decode (at least four pieces).
        assert!(d.utterance_ends >= 4, "{}", d.utterance_ends);
        let shorter = d.engine.audio_ms.windows(2).filter(|w| w[1] < w[0]).count();
        assert!(shorter >= 3, "{:?}", d.engine.audio_ms);
    }
}

#[test]
fn max_length_without_agreement_closes_the_utterance() {
    // The engine never repeats itself: nothing commits by agreement, so the cut falls back to
    // a final decode of the whole utterance and the stream goes on.
    let s = script(1, 100, 1_500, 500);
    let habits = Habits {
        babble: true,
        ..Habits::default()
    };
    let mut d = Driver::new(config(), &s.words, habits);
    d.push(&s.audio, 320);
    d.finish();
    let longest = d.engine.audio_ms.iter().copied().max().unwrap_or(0);
    assert!(
        longest <= 15_000,
        "decoded {longest} ms at once {:?}",
        d.engine.audio_ms
    );
    assert!(d.utterance_ends >= 3, "{}", d.utterance_ends);
}

#[test]
fn finalize_makes_everything_so_far_final() {
    let s = script(1, 20, 1_500, 500);
    let mut d = Driver::new(config(), &s.words, Habits::default());
    // Half-way through the words.
    let half = (s.words[10].start_ms * SAMPLES_PER_MS) as usize;
    d.push(&s.audio[..half], 320);
    d.finalize();
    d.drain();
    assert_eq!(d.final_words(), spoken(&s.words[..10]));
    assert!(d.partial.is_empty());
    // The rest is a new utterance and still comes out, once.
    d.push(&s.audio[half..], 320);
    d.finish();
    assert_eq!(d.final_words(), spoken(&s.words));
}

#[test]
fn finish_flushes_a_stream_that_stops_mid_word() {
    let s = script(1, 10, 1_500, 500);
    let cut = (s.words[9].start_ms * SAMPLES_PER_MS) as usize + 2_000;
    let mut d = Driver::new(config(), &s.words[..9], Habits::default());
    d.push(&s.audio[..cut], 333);
    d.finish();
    assert_eq!(d.final_words(), spoken(&s.words[..9]));
    assert_eq!(d.session.committed_ms(), d.session.received_ms());
    assert_eq!(d.session.received_ms(), cut as u64 / SAMPLES_PER_MS);
}

#[test]
fn word_times_are_stream_times_from_the_origin() {
    let s = script(3, 6, 1_500, 500);
    let origin = 3_600_000; // resumed an hour in
    let start = SessionStart {
        origin_ms: origin,
        first_segment_id: SegmentId(500),
        context: "what was said before".into(),
    };
    let mut d = Driver::starting_at(config(), &s.words, Habits::default(), start);
    d.push(&s.audio, 320);
    d.finish();
    let got = d.final_word_list();
    assert_eq!(got.len(), s.words.len());
    for (g, w) in got.iter().zip(&s.words) {
        assert_eq!(g.start_ms, origin + w.start_ms);
        assert_eq!(g.end_ms, origin + w.end_ms);
    }
    assert!(d.finals.iter().all(|(id, _)| id.0 >= 500));
    assert_eq!(d.engine.prompts[0].as_deref(), Some("what was said before"));
}

#[test]
fn the_prompt_is_the_committed_text_before_the_utterance() {
    let s = script(4, 30, 1_500, 500);
    let mut d = Driver::new(config(), &s.words, Habits::default());
    d.push(&s.audio, 320);
    d.finish();
    assert_eq!(d.engine.prompts[0], None);
    let last = d
        .engine
        .prompts
        .last()
        .cloned()
        .flatten()
        .unwrap_or_default();
    assert!(
        last.chars().count() <= config().context_chars,
        "{}",
        last.len()
    );
    assert!(!last.is_empty());
    // Ends with the last word of the previous utterance (w89), starts at a whole word.
    assert!(last.ends_with("w89"), "{last}");
    assert!(last.starts_with('w'), "{last}");
    // Never contains words of the utterance being decoded.
    assert!(!last.contains("w90"), "{last}");
}

#[test]
fn results_for_old_or_unknown_requests_change_nothing() {
    let s = script(1, 10, 1_500, 500);
    let mut d = Driver::new(config(), &s.words, Habits::default());
    let mid = (s.words[5].start_ms * SAMPLES_PER_MS) as usize;
    for c in s.audio[..mid].chunks(320) {
        let u = d.session.push_audio(c);
        d.record(u);
    }
    let Some(req) = d.session.take_request() else {
        panic!("a decode is due");
    };
    let t = d.engine.transcribe(&req);
    let u = d.apply_now(super::RequestId(req.id.0 + 7), &t);
    assert!(u.is_empty());
    let u = d.apply_now(req.id, &t);
    d.record(u);
    // The same result again is stale.
    let u = d.apply_now(req.id, &t);
    assert!(u.is_empty());
    d.push(&s.audio[mid..], 320);
    d.finish();
    assert_eq!(d.final_words(), spoken(&s.words));
}

#[test]
fn decodes_coalesce_when_the_engine_is_slow() {
    let s = script(1, 40, 1_500, 500);
    let mut fast = Driver::new(config(), &s.words, Habits::default());
    fast.push(&s.audio, 320);
    fast.finish();
    let mut slow = Driver::new(config(), &s.words, Habits::default());
    slow.delay_chunks = 100; // each decode takes 2 s of audio time
    slow.push(&s.audio, 320);
    slow.finish();
    assert_eq!(slow.final_words(), spoken(&s.words));
    assert!(
        slow.requests * 3 < fast.requests,
        "slow {} fast {}",
        slow.requests,
        fast.requests
    );
    // Each slow request covers the newest audio: lengths keep growing by more than a step.
    let lens = &slow.engine.audio_ms;
    assert!(lens
        .windows(2)
        .filter(|w| w[1] > w[0])
        .all(|w| w[1] - w[0] >= 1_500));
}

#[test]
fn a_final_decode_that_fails_commits_the_last_hypothesis() {
    let s = script(1, 10, 1_500, 500);
    let mut d = Driver::new(config(), &s.words, Habits::default());
    let mid = (s.words[6].end_ms * SAMPLES_PER_MS) as usize;
    let end = (s.words[9].end_ms * SAMPLES_PER_MS) as usize;
    d.push(&s.audio[..mid], 320);
    // The engine hears nothing more before the stream closes.
    for c in s.audio[mid..end].chunks(320) {
        let u = d.session.push_audio(c);
        d.record(u);
    }
    let u = d.session.finish();
    d.record(u);
    let Some(req) = d.session.take_request() else {
        panic!("a final decode is due");
    };
    assert!(req.is_final);
    let u = d.session.decode_failed(req.id);
    assert_eq!(u.utterance_end, Some(EndReason::Finish));
    d.record(u);
    assert!(d.session.is_done());
    // What the last hypothesis heard is final; the words after it were never decoded.
    assert_eq!(d.final_words(), spoken(&s.words[..6]));
}

#[test]
fn metrics_follow_the_stream() {
    let s = script(1, 10, 1_500, 1_000);
    let mut session =
        StreamSession::with_detector(config(), Box::new(ToneVad), SessionStart::default())
            .unwrap_or_else(|e| panic!("{e}"));
    let first = (s.words[0].start_ms * SAMPLES_PER_MS) as usize;
    session.push_audio(&s.audio[..first + 16_000]);
    assert_eq!(session.received_ms(), 2_000);
    // Nothing decoded yet: the oldest undecoded audio is the utterance start, a pre-roll
    // (250 ms) before the first speech frame (frames are 16 ms).
    let oldest = session.oldest_undecoded_ms().unwrap_or(0);
    assert!(
        (1_000 - 250 - 16..=1_000 - 250).contains(&oldest),
        "{oldest}"
    );
    assert!(session.committed_ms() <= oldest);
    assert!(session.backlog_ms() >= 1_000);
    let Some(req) = session.take_request() else {
        panic!("a decode is due");
    };
    assert_eq!(req.start_ms, oldest);
    let empty = Transcript {
        segments: vec![Segment {
            start_ms: 0,
            end_ms: 0,
            text: String::new(),
            words: vec![],
        }],
        language: "en".into(),
        duration_ms: 0,
    };
    session.apply(req.id, &empty);
    assert_eq!(session.oldest_undecoded_ms(), None);
}

#[test]
fn hours_of_audio_neither_drift_nor_grow() {
    // Two hours of 2 s speech runs every 5 s, pushed in 20 ms chunks.
    let run = script(1, 5, 3_000, 500); // 0.5 s lead, 2 s of words, 3 s pause: 5 s + tail
    let period = 5_000u64;
    let one: Vec<f32> = run.audio[..(period * SAMPLES_PER_MS) as usize].to_vec();
    let hours = 2;
    let n = (hours * 3_600_000 / period) as usize;
    let mut words = Vec::new();
    for k in 0..n as u64 {
        for w in &run.words {
            let mut w = w.clone();
            w.word = format!("{}_{k}", w.word);
            w.start_ms += k * period;
            w.end_ms += k * period;
            words.push(w);
        }
    }
    let mut d = Driver::new(config(), &words, Habits::default());
    let mut max_backlog = 0;
    for _ in 0..n {
        d.push(&one, 320);
        max_backlog = max_backlog.max(d.session.backlog_ms());
        let held = d
            .session
            .oldest_undecoded_ms()
            .unwrap_or(d.session.received_ms());
        assert!(d.session.received_ms() - held <= 5_000);
    }
    d.finish();
    assert_eq!(d.session.received_ms(), hours * 3_600_000);
    assert_eq!(d.session.committed_ms(), hours * 3_600_000);
    assert!(max_backlog <= 2_500, "backlog {max_backlog} ms");
    let got = d.final_word_list();
    assert_eq!(got.len(), words.len());
    let (last_got, last_want) = (&got[got.len() - 1], &words[words.len() - 1]);
    assert_eq!(
        (last_got.start_ms, last_got.end_ms),
        (last_want.start_ms, last_want.end_ms)
    );
    // The prompt stays bounded however long the stream runs.
    assert!(d.session.context().chars().count() <= config().context_chars);
}

#[test]
fn a_result_that_arrives_after_its_utterance_ended_is_used_then_finished() {
    let s = script(1, 10, 1_500, 500);
    let mut d = Driver::new(config(), &s.words, Habits::default());
    let mid = (s.words[6].end_ms * SAMPLES_PER_MS) as usize;
    for c in s.audio[..mid].chunks(320) {
        let u = d.session.push_audio(c);
        d.record(u);
    }
    let Some(req) = d.session.take_request() else {
        panic!("a decode is due");
    };
    assert!(!req.is_final);
    // More speech arrives and the client finalizes while the engine works.
    let end = (s.words[9].end_ms * SAMPLES_PER_MS) as usize;
    for c in s.audio[mid..end].chunks(320) {
        let u = d.session.push_audio(c);
        d.record(u);
    }
    let u = d.session.finalize();
    d.record(u);
    assert!(!d.session.wants_decode(), "one request at a time");
    let t = d.engine.transcribe(&req);
    let u = d.session.apply(req.id, &t);
    d.record(u);
    // Now the final decode of the whole utterance is due.
    let Some(last) = d.session.take_request() else {
        panic!("a final decode is due");
    };
    assert!(last.is_final);
    assert!(last.audio.samples.len() > req.audio.samples.len());
    let t = d.engine.transcribe(&last);
    let u = d.session.apply(last.id, &t);
    assert_eq!(u.utterance_end, Some(EndReason::Finalize));
    d.record(u);
    assert_eq!(d.final_words(), spoken(&s.words));
}
