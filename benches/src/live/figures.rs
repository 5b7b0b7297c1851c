//! A step's records turned into figures: per bot, over the bots under test, and the
//! scheduler's own view from `/metrics`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Serialize;

use super::client::{BotRecord, Outcome};
use super::latency::{self, Analysis, Summary, Utterance, WordLatency};
use super::promtext::Metrics;
use super::score::{Scorer, Wer};
use super::speech::Span;
use super::step::{signed_secs, Output, Usage};
use crate::wer::Errors;

/// An utterance's first partial should arrive within this of its first word, seconds.
pub const FIRST_PARTIAL_LIMIT_S: f64 = 1.0;

/// One bot.
#[derive(Debug, Serialize)]
pub struct BotFigures {
    /// 1-based.
    pub bot: usize,
    pub extra: bool,
    pub outcome: Outcome,
    /// When it started connecting, seconds since the step's epoch.
    pub start_s: f64,
    pub audio_sent_s: f64,
    /// Late sends: the largest delay of a chunk behind its schedule, seconds.
    pub send_late_max_s: f64,
    #[serde(flatten)]
    pub latency: Latencies,
    /// From `CloseStream` to the closing `metadata`.
    pub drain_s: Option<f64>,
    pub wer: Option<Wer>,
    pub viewer_error: Option<String>,
    pub final_text: String,
    pub utterance_timings: Vec<Utterance>,
    pub word_latencies: Vec<WordLatency>,
}

/// Latency figures over one bot or several (their words and utterances pooled).
#[derive(Debug, Serialize)]
pub struct Latencies {
    pub final_word: Option<Summary>,
    /// The same with offline `transcribe`'s word ends as the anchor (aligned words).
    pub final_word_offline_timing: Option<Summary>,
    /// The server's word end − offline transcribe's for the same (aligned) word, seconds:
    /// positive when the server puts words later than they are.
    pub word_end_offset: Option<Summary>,
    /// Final-word latency measured at the bot's own socket instead of the viewer's.
    pub final_word_at_bot: Option<Summary>,
    pub first_partial: Option<Summary>,
    /// First partial or final of an utterance, whichever came first.
    pub first_text: Option<Summary>,
    /// Last final of an utterance after its speech end was sent (no word timestamps involved).
    pub utterance_final: Option<Summary>,
    pub first_partial_within_1s: Option<f64>,
    pub utterances: usize,
    pub utterances_without_partial: usize,
    pub partial_lag: Option<Summary>,
}

impl Latencies {
    /// Pools the analyses of some bots: each as (viewer's view, bot's own view).
    fn over<'a, I>(bots: I) -> Self
    where
        I: Iterator<Item = (&'a Analysis, &'a Analysis)> + Clone,
    {
        let pool = |f: &dyn Fn(&Analysis, &Analysis) -> Vec<f64>| {
            let all: Vec<f64> = bots.clone().flat_map(|(v, b)| f(v, b)).collect();
            latency::summarise(&all)
        };
        let count = |f: &dyn Fn(&Analysis) -> usize| bots.clone().map(|(v, _)| f(v)).sum::<usize>();
        let utterances = count(&|v| v.spoken().count());
        let within = count(&|v| v.first_partials_within(FIRST_PARTIAL_LIMIT_S));
        Self {
            final_word: pool(&|v, _| v.word_latencies()),
            final_word_offline_timing: pool(&|v, _| v.offline_latencies()),
            word_end_offset: pool(&|v, _| end_offsets(v)),
            final_word_at_bot: pool(&|_, b| b.word_latencies()),
            first_partial: pool(&|v, _| v.first_partials()),
            first_text: pool(&|v, _| v.first_texts()),
            utterance_final: pool(&|v, _| v.spoken().filter_map(|u| u.final_s).collect()),
            first_partial_within_1s: (utterances > 0).then(|| within as f64 / utterances as f64),
            utterances,
            utterances_without_partial: count(&|v| v.spoken().filter(|u| u.partials == 0).count()),
            partial_lag: pool(&|v, _| v.partial_lags.clone()),
        }
    }
}

/// What the scheduler reported at the end of the step.
#[derive(Debug, Default, Serialize)]
pub struct SchedulerFigures {
    pub workers: Option<f64>,
    pub queue_wait_mean_s: Option<f64>,
    pub queue_wait_p50_s: Option<f64>,
    pub queue_wait_p95_s: Option<f64>,
    pub queue_wait_count: Option<f64>,
    /// Submission → result (queue wait + decode), by job kind.
    pub partial_latency_mean_s: Option<f64>,
    pub partial_latency_p95_s: Option<f64>,
    pub final_latency_mean_s: Option<f64>,
    pub final_latency_p95_s: Option<f64>,
    pub real_time_factor: Option<f64>,
    pub worker_busy_ratio: Option<f64>,
    pub decoded_audio_s: Option<f64>,
    pub decode_s: Option<f64>,
    /// `jobs_total` by `kind/outcome`.
    pub jobs: BTreeMap<String, f64>,
    /// `streams_refused_total` by reason.
    pub refused: BTreeMap<String, f64>,
}

impl SchedulerFigures {
    pub fn from_metrics(m: &Metrics) -> Self {
        let p = |n: &str| format!("nexus_scribe_{n}");
        let q = |n: &str, l: &[(&str, &str)], q: f64| m.histogram_quantile(&p(n), l, q);
        let partial = [("kind", "partial")];
        let fin = [("kind", "final")];
        let mut jobs = BTreeMap::new();
        for s in m.find(&p("jobs_total"), &[]) {
            let get = |k: &str| s.labels.get(k).map_or("?", String::as_str);
            jobs.insert(format!("{}/{}", get("kind"), get("outcome")), s.value);
        }
        let refused = m
            .find(&p("streams_refused_total"), &[])
            .filter(|s| s.value > 0.0)
            .map(|s| {
                let reason = s.labels.get("reason").cloned().unwrap_or_default();
                (reason, s.value)
            })
            .collect();
        Self {
            workers: m.value(&p("scheduler_workers"), &[]),
            queue_wait_mean_s: m.histogram_mean(&p("queue_wait_seconds"), &[]),
            queue_wait_p50_s: q("queue_wait_seconds", &[], 0.5),
            queue_wait_p95_s: q("queue_wait_seconds", &[], 0.95),
            queue_wait_count: m.value(&p("queue_wait_seconds_count"), &[]),
            partial_latency_mean_s: m.histogram_mean(&p("decode_latency_seconds"), &partial),
            partial_latency_p95_s: q("decode_latency_seconds", &partial, 0.95),
            final_latency_mean_s: m.histogram_mean(&p("decode_latency_seconds"), &fin),
            final_latency_p95_s: q("decode_latency_seconds", &fin, 0.95),
            real_time_factor: m.value(&p("real_time_factor"), &[]),
            worker_busy_ratio: m.value(&p("worker_busy_ratio"), &[]),
            decoded_audio_s: m.value(&p("decoded_audio_seconds_total"), &[]),
            decode_s: m.value(&p("decode_seconds_total"), &[]),
            jobs,
            refused,
        }
    }
}

/// One step.
#[derive(Debug, Serialize)]
pub struct StepFigures {
    pub bots: usize,
    pub overload: usize,
    /// Bots under test that streamed to the end.
    pub completed: usize,
    /// Bots under test refused with 4102.
    pub refused_at_capacity: usize,
    /// Bots under test that failed or were refused otherwise.
    pub failed: usize,
    /// Extra bots: refused with 4102, admitted (and streamed), failed otherwise.
    pub extra_refused_at_capacity: usize,
    pub extra_admitted: usize,
    pub extra_failed: usize,
    /// Over the bots under test that completed.
    #[serde(flatten)]
    pub latency: Latencies,
    pub drain_max_s: Option<f64>,
    /// Corpus WER over the bots under test (all their finals against as many references).
    pub wer: Option<Wer>,
    /// Over the extra bots that were admitted.
    pub extra_final_word: Option<Summary>,
    /// p95 final-word latency within the limit, every bot under test completed.
    pub within_limit: bool,
    pub usage: Usage,
    pub scheduler: SchedulerFigures,
    /// Largest stream lag in any scrape during the run.
    pub max_lag_s: Option<f64>,
    pub server_log: PathBuf,
    pub per_bot: Vec<BotFigures>,
}

fn secs(records: &[std::time::Instant], epoch: std::time::Instant) -> Vec<f64> {
    records.iter().map(|t| signed_secs(*t, epoch)).collect()
}

fn analyse_seen(
    rec: &BotRecord,
    epoch: std::time::Instant,
    chunk_ms: u64,
    spans: &[Span],
    offline: &[latency::TimedWord],
    viewer: bool,
) -> Analysis {
    let sends = secs(&rec.sends, epoch);
    let list = if viewer {
        &rec.viewer_segments
    } else {
        &rec.bot_segments
    };
    let seen: Vec<(f64, &scribe_protocol::SegmentMessage)> = list
        .iter()
        .map(|s| (signed_secs(s.at, epoch), &s.msg))
        .collect();
    latency::analyse(&sends, chunk_ms, spans, offline, &seen)
}

/// What a step's figures are judged against.
pub struct Context<'a> {
    pub bots: usize,
    pub overload: usize,
    pub chunk_ms: u64,
    /// The utterances of the audio.
    pub spans: &'a [Span],
    /// What each bot's audio says.
    pub reference: &'a str,
    /// Offline `transcribe`'s words of the same audio with their times (may be empty).
    pub offline_words: &'a [latency::TimedWord],
    pub scorer: &'a Scorer,
    /// The p95 final-word latency a step must keep, seconds.
    pub p95_limit_s: f64,
    pub server_log: PathBuf,
}

fn end_offsets(a: &Analysis) -> Vec<f64> {
    a.words
        .iter()
        .filter_map(|w| Some((w.end_ms as f64 - w.offline_end_ms? as f64) / 1000.0))
        .collect()
}

/// Works out a step's figures.
pub fn step(out: Output, cx: Context<'_>) -> anyhow::Result<StepFigures> {
    let Context {
        bots,
        overload,
        chunk_ms,
        spans,
        reference,
        offline_words,
        scorer,
        p95_limit_s,
        server_log,
    } = cx;
    let epoch = out.epoch;
    let analyses: Vec<(Analysis, Analysis)> = out
        .records
        .iter()
        .map(|r| {
            (
                analyse_seen(r, epoch, chunk_ms, spans, offline_words, true),
                analyse_seen(r, epoch, chunk_ms, spans, offline_words, false),
            )
        })
        .collect();
    let mut texts = vec![reference.to_owned()];
    texts.extend(analyses.iter().map(|(a, _)| a.final_text.clone()));
    let normalised = scorer.normalise(&texts)?;

    let mut per_bot = Vec::new();
    for (i, (rec, (view, at_bot))) in out.records.iter().zip(&analyses).enumerate() {
        let completed = matches!(rec.outcome, Outcome::Completed);
        let late = rec.sends.first().map_or(0.0, |&first| {
            rec.sends
                .iter()
                .enumerate()
                .map(|(k, t)| {
                    let due = first + std::time::Duration::from_millis(k as u64 * chunk_ms);
                    t.saturating_duration_since(due).as_secs_f64()
                })
                .fold(0.0, f64::max)
        });
        per_bot.push(BotFigures {
            bot: rec.index + 1,
            extra: rec.extra,
            outcome: rec.outcome.clone(),
            start_s: signed_secs(rec.started_at, epoch),
            audio_sent_s: (rec.sends.len() as u64 * chunk_ms) as f64 / 1000.0,
            send_late_max_s: late,
            latency: Latencies::over(std::iter::once((view, at_bot))),
            drain_s: rec
                .close_sent_at
                .zip(rec.closing.as_ref().map(|(t, _)| *t))
                .map(|(sent, got)| got.saturating_duration_since(sent).as_secs_f64()),
            wer: completed.then(|| Wer::of(&normalised[0], &normalised[i + 1])),
            viewer_error: rec.viewer_error.clone(),
            final_text: view.final_text.clone(),
            utterance_timings: view.utterances.clone(),
            word_latencies: view.words.clone(),
        });
    }

    let completed_bots = |extra: bool| {
        out.records
            .iter()
            .zip(&analyses)
            .filter(move |(r, _)| r.extra == extra && matches!(r.outcome, Outcome::Completed))
            .map(|(_, (v, b))| (v, b))
    };
    let latency = Latencies::over(completed_bots(false));
    let extra_final_word = Latencies::over(completed_bots(true)).final_word;
    let mut corpus = Errors::default();
    for b in per_bot.iter().filter(|b| !b.extra) {
        if let Some(w) = b.wer {
            corpus.add(w.errors);
        }
    }
    let count = |extra: bool, f: &dyn Fn(&Outcome) -> bool| {
        out.records
            .iter()
            .filter(|r| r.extra == extra && f(&r.outcome))
            .count()
    };
    let at_capacity = |o: &Outcome| matches!(o, Outcome::Refused { code: 4102, .. });
    let done = |o: &Outcome| matches!(o, Outcome::Completed);
    let completed = count(false, &done);
    let refused_at_capacity = count(false, &at_capacity);
    Ok(StepFigures {
        bots,
        overload,
        completed,
        refused_at_capacity,
        failed: bots - completed - refused_at_capacity,
        extra_refused_at_capacity: count(true, &at_capacity),
        extra_admitted: count(true, &done),
        extra_failed: count(true, &|o| !done(o) && !at_capacity(o)),
        within_limit: completed == bots
            && latency.final_word.is_some_and(|s| s.p95_s <= p95_limit_s),
        latency,
        drain_max_s: per_bot
            .iter()
            .filter(|b| !b.extra)
            .filter_map(|b| b.drain_s)
            .reduce(f64::max),
        wer: (corpus.reference_words > 0).then(|| Wer::from_errors(corpus)),
        extra_final_word,
        max_lag_s: out.usage.max_lag_s,
        usage: out.usage,
        scheduler: SchedulerFigures::from_metrics(&out.metrics),
        server_log,
        per_bot,
    })
}
