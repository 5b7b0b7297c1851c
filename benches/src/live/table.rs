//! The human-readable report on standard output.

use std::fmt::Write as _;

use super::figures::{Latencies, StepFigures, FIRST_PARTIAL_LIMIT_S};
use super::latency::Summary;
use super::score::{Offline, Wer};

/// Other processes' CPU (cores) above which a step's figures are flagged as disturbed.
pub const OTHERS_LIMIT: f64 = 0.2;

fn s(v: Option<f64>) -> String {
    v.map_or_else(|| "-".into(), |v| format!("{v:.2}"))
}

fn pct(v: Option<f64>) -> String {
    v.map_or_else(|| "-".into(), |v| format!("{:.0}%", v * 100.0))
}

fn p(sum: Option<Summary>, f: fn(&Summary) -> f64) -> String {
    s(sum.as_ref().map(f))
}

/// One row of the step table (a bot, or all bots under test).
fn row(
    out: &mut String,
    label: &str,
    outcome: &str,
    l: &Latencies,
    wer: Option<Wer>,
    drain_s: Option<f64>,
) {
    let _ = writeln!(
        out,
        "{:>4} {:<10} {:>6} {:>6} {:>6} {:>6} | {:>6} {:>6} {:>5} {:>5} | {:>6} {:>6}",
        label,
        outcome,
        l.final_word.map_or(0, |s| s.n),
        p(l.final_word, |s| s.p50_s),
        p(l.final_word, |s| s.p95_s),
        p(l.final_word, |s| s.max_s),
        p(l.first_partial, |s| s.p50_s),
        p(l.first_partial, |s| s.p95_s),
        pct(l.first_partial_within_1s),
        format!("{}/{}", l.utterances_without_partial, l.utterances),
        wer.map_or_else(|| "-".into(), |w| format!("{:.1}", w.wer_percent)),
        s(drain_s),
    );
}

/// One step: a row per bot, then the pooled figures, resources and the scheduler's view.
pub fn step(f: &StepFigures, p95_limit_s: f64) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:>4} {:<10} {:>6} {:>6} {:>6} {:>6} | {:>6} {:>6} {:>5} {:>5} | {:>6} {:>6}",
        "bot",
        "outcome",
        "words",
        "p50 s",
        "p95 s",
        "max s",
        "1stP50",
        "1stP95",
        "≤1s",
        "noP",
        "WER %",
        "drain"
    );
    for b in &f.per_bot {
        let outcome = match &b.outcome {
            super::client::Outcome::Completed => "completed".to_owned(),
            super::client::Outcome::Refused { code, .. } => format!("refused {code}"),
            super::client::Outcome::Failed { .. } => "FAILED".to_owned(),
        };
        row(
            &mut out,
            &format!("{}{}", b.bot, if b.extra { "+" } else { "" }),
            &outcome,
            &b.latency,
            b.wer,
            b.drain_s,
        );
        if let super::client::Outcome::Failed { error } = &b.outcome {
            let _ = writeln!(out, "     bot {}: {error}", b.bot);
        }
        if let Some(e) = &b.viewer_error {
            let _ = writeln!(out, "     bot {} viewer: {e}", b.bot);
        }
    }
    row(
        &mut out,
        "all",
        &format!("{}/{} ok", f.completed, f.bots),
        &f.latency,
        f.wer,
        f.drain_max_s,
    );
    let _ = writeln!(
        out,
        "columns: final-word latency at the viewer, server word times (words, p50/p95/max); first partial of an utterance after its speech onset was sent (p50/p95, share within {FIRST_PARTIAL_LIMIT_S} s, utterances without any partial / all); WER of the finals; CloseStream → closing metadata, s"
    );
    let _ = writeln!(
        out,
        "final-word latency anchored on offline transcribe's word ends ({} aligned words): p50 {} s, p95 {} s, max {} s; server word end − offline word end p50 {} s, p95 {} s",
        f.latency.final_word_offline_timing.map_or(0, |s| s.n),
        p(f.latency.final_word_offline_timing, |s| s.p50_s),
        p(f.latency.final_word_offline_timing, |s| s.p95_s),
        p(f.latency.final_word_offline_timing, |s| s.max_s),
        p(f.latency.word_end_offset, |s| s.p50_s),
        p(f.latency.word_end_offset, |s| s.p95_s),
    );
    let _ = writeln!(
        out,
        "utterance's last final after its speech end was sent: p50 {} s, p95 {} s, max {} s\nsame at the bot's socket: final-word p50 {} s, p95 {} s; first text (partial or final) of an utterance p50 {} s, p95 {} s; partial lag (newest audio shown in a partial) p50 {} s, p95 {} s",
        p(f.latency.utterance_final, |s| s.p50_s),
        p(f.latency.utterance_final, |s| s.p95_s),
        p(f.latency.utterance_final, |s| s.max_s),
        p(f.latency.final_word_at_bot, |s| s.p50_s),
        p(f.latency.final_word_at_bot, |s| s.p95_s),
        p(f.latency.first_text, |s| s.p50_s),
        p(f.latency.first_text, |s| s.p95_s),
        p(f.latency.partial_lag, |s| s.p50_s),
        p(f.latency.partial_lag, |s| s.p95_s),
    );
    if f.overload > 0 {
        let _ = writeln!(
            out,
            "overload: {} more bots tried once the {} were streaming: {} refused with 4102, {} admitted (their final-word p95 {} s), {} failed otherwise; the running bots' p95 {} s ({} {p95_limit_s} s)",
            f.overload,
            f.bots,
            f.extra_refused_at_capacity,
            f.extra_admitted,
            p(f.extra_final_word, |s| s.p95_s),
            f.extra_failed,
            p(f.latency.final_word, |s| s.p95_s),
            if f.latency.final_word.is_some_and(|s| s.p95_s <= p95_limit_s) { "≤" } else { ">" },
        );
    }
    let u = &f.usage;
    let _ = writeln!(
        out,
        "server: CPU {:.2} cores mean ({:.2} max over 1 s), RSS {:.0} MiB mean, {:.0} MiB peak; window {:.0} s; this benchmark {} cores; other processes {} cores",
        u.server_cores_mean,
        u.server_cores_max,
        u.rss_mean_mib,
        u.rss_peak_mib,
        u.window_s,
        s(u.bench_cores),
        s(u.others_cores),
    );
    let m = &f.scheduler;
    let _ = writeln!(
        out,
        "scheduler (/metrics): {} workers; queue wait mean {} s, p50 {} s, p95 {} s; submit→result partial mean {} s (p95 {}), final mean {} s (p95 {}); RTF {}; busy {}; max stream lag seen {} s",
        s(m.workers),
        s(m.queue_wait_mean_s),
        s(m.queue_wait_p50_s),
        s(m.queue_wait_p95_s),
        s(m.partial_latency_mean_s),
        s(m.partial_latency_p95_s),
        s(m.final_latency_mean_s),
        s(m.final_latency_p95_s),
        m.real_time_factor.map_or_else(|| "-".into(), |v| format!("{v:.3}")),
        s(m.worker_busy_ratio),
        s(f.max_lag_s),
    );
    let jobs: Vec<String> = m.jobs.iter().map(|(k, v)| format!("{k} {v:.0}")).collect();
    let _ = writeln!(
        out,
        "jobs: {}; refused streams: {}",
        jobs.join(", "),
        if m.refused.is_empty() {
            "none".to_owned()
        } else {
            m.refused
                .iter()
                .map(|(k, v)| format!("{k} {v:.0}"))
                .collect::<Vec<_>>()
                .join(", ")
        }
    );
    if let Some(o) = u.others_cores.filter(|o| *o > OTHERS_LIMIT) {
        let _ = writeln!(
            out,
            "warning: other processes used {o:.2} cores on average during this step: latencies are disturbed, rerun on a quiet machine"
        );
    }
    out
}

/// The acceptance checks of a one-bot run against offline `transcribe`.
pub fn acceptance(f: &StepFigures, offline: Option<&Offline>) -> String {
    let yes = |ok: bool| if ok { "yes" } else { "NO" };
    let mut out = String::new();
    let fw = f.latency.final_word;
    let _ = write!(
        out,
        "acceptance ({} bot(s)): final-word p50 {} s ≤ 1.5 {}; p95 {} s ≤ 3 {}; first partial within 1 s of the first word for {} of utterances (p95 {} s, max {} s) {}",
        f.bots,
        p(fw, |s| s.p50_s),
        yes(fw.is_some_and(|s| s.p50_s <= 1.5)),
        p(fw, |s| s.p95_s),
        yes(fw.is_some_and(|s| s.p95_s <= 3.0)),
        pct(f.latency.first_partial_within_1s),
        p(f.latency.first_partial, |s| s.p95_s),
        p(f.latency.first_partial, |s| s.max_s),
        yes(f.latency.first_partial_within_1s.is_some_and(|x| x >= 1.0 - 1e-9)),
    );
    if let (Some(live), Some(off)) = (f.wer, offline.and_then(|o| o.wer)) {
        // Compared as error counts per reference word, so a perfect offline transcript is no
        // division by zero.
        let ok = live.errors.total() as f64 * off.errors.reference_words as f64
            <= 1.1 * off.errors.total() as f64 * live.errors.reference_words as f64;
        let ratio = if off.errors.total() > 0 {
            format!("{:.2}", live.wer_percent / off.wer_percent)
        } else {
            "n/a (transcribe made no error)".into()
        };
        let _ = write!(
            out,
            "; WER finals {:.2} % / transcribe {:.2} % = {ratio} ≤ 1.1 {}",
            live.wer_percent,
            off.wer_percent,
            yes(ok)
        );
    }
    out.push('\n');
    out
}

/// The sweep's summary table.
pub fn sweep(steps: &[StepFigures], p95_limit_s: f64, largest: Option<usize>) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:>3} {:>5} {:>7} {:>6} {:>6} {:>6} {:>5} {:>6} {:>6} {:>6} {:>7} {:>7} {:>6}",
        "N",
        "ok",
        "refused",
        "p50 s",
        "p95 s",
        "max s",
        "≤1s",
        "WER %",
        "cores",
        "RSS MB",
        "lag s",
        "qwait95",
        "others"
    );
    for f in steps {
        let _ = writeln!(
            out,
            "{:>3} {:>5} {:>7} {:>6} {:>6} {:>6} {:>5} {:>6} {:>6} {:>6.0} {:>7} {:>7} {:>6}",
            f.bots,
            f.completed,
            f.refused_at_capacity,
            p(f.latency.final_word, |s| s.p50_s),
            p(f.latency.final_word, |s| s.p95_s),
            p(f.latency.final_word, |s| s.max_s),
            pct(f.latency.first_partial_within_1s),
            f.wer
                .map_or_else(|| "-".into(), |w| format!("{:.1}", w.wer_percent)),
            format!("{:.2}", f.usage.server_cores_mean),
            f.usage.rss_peak_mib,
            s(f.max_lag_s),
            s(f.scheduler.queue_wait_p95_s),
            s(f.usage.others_cores),
        );
    }
    let _ = writeln!(
        out,
        "largest N with every bot admitted and p95 final-word latency ≤ {p95_limit_s} s: {}",
        largest.map_or_else(|| "none".into(), |n| n.to_string())
    );
    out
}
