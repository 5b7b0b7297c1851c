//! The Prometheus text is well formed and carries what the dashboards need; the timings
//! come from the injected clock.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use super::fake::{audio, config, final_, outcome, settled, start, submit, FakeEngine};
use crate::scheduler::{Job, ManualClock};
use crate::DecodeOptions;

/// One parsed sample line: name, labels, value.
type Sample = (String, Vec<(String, String)>, f64);

fn is_metric_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// Parses `name{k="v",...} value` with the exposition format's label escapes.
fn parse_sample(line: &str) -> Sample {
    let name_end = line.find(['{', ' ']).expect("name ends");
    let name = &line[..name_end];
    assert!(is_metric_name(name), "bad metric name in {line:?}");
    let mut labels = Vec::new();
    let mut rest = &line[name_end..];
    if let Some(body) = rest.strip_prefix('{') {
        let mut chars = body.char_indices().peekable();
        loop {
            let (start, c) = chars.next().expect("label or }");
            if c == '}' {
                rest = &body[start + 1..];
                break;
            }
            let eq = body[start..].find('=').expect("label =") + start;
            let key = &body[start..eq];
            assert!(is_metric_name(key), "bad label name {key:?}");
            while chars.peek().is_some_and(|(i, _)| *i <= eq) {
                chars.next();
            }
            assert_eq!(chars.next().map(|(_, c)| c), Some('"'), "{line}");
            let mut value = String::new();
            loop {
                match chars.next().expect("closing quote") {
                    (_, '"') => break,
                    (_, '\\') => match chars.next().expect("escape").1 {
                        'n' => value.push('\n'),
                        c @ ('\\' | '"') => value.push(c),
                        c => panic!("bad escape \\{c} in {line:?}"),
                    },
                    (_, c) => {
                        assert_ne!(c, '\n');
                        value.push(c);
                    }
                }
            }
            labels.push((key.to_owned(), value));
            if chars.peek().is_some_and(|(_, c)| *c == ',') {
                chars.next();
            }
        }
    }
    let value = rest.strip_prefix(' ').expect("space before value");
    let value = match value {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        v => v.parse().unwrap_or_else(|_| panic!("bad value {v:?}")),
    };
    (name.to_owned(), labels, value)
}

/// Checks the text line by line; returns the samples.
fn parse(text: &str) -> Vec<Sample> {
    let mut helped = HashSet::new();
    let mut types: HashMap<String, String> = HashMap::new();
    let mut samples = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let name = rest.split(' ').next().expect("name");
            assert!(helped.insert(name.to_owned()), "HELP twice for {name}");
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').expect("name and type");
            assert!(helped.contains(name), "TYPE before HELP for {name}");
            assert!(["counter", "gauge", "histogram"].contains(&kind), "{line}");
            if kind == "counter" {
                assert!(name.ends_with("_total"), "counter {name} ends in _total");
            }
            assert!(types.insert(name.to_owned(), kind.to_owned()).is_none());
        } else {
            assert!(!line.starts_with('#') && !line.is_empty(), "{line:?}");
            let sample = parse_sample(line);
            assert!(sample.0.starts_with("nexus_scribe_"), "{line}");
            let family = ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|s| {
                    sample
                        .0
                        .strip_suffix(s)
                        .filter(|f| types.get(*f).is_some_and(|t| t == "histogram"))
                })
                .unwrap_or(&sample.0);
            assert!(types.contains_key(family), "sample before its TYPE: {line}");
            samples.push(sample);
        }
    }
    samples
}

fn label<'a>(s: &'a Sample, key: &str) -> Option<&'a str> {
    s.1.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

/// Buckets of one histogram series rise with `le` and end at `+Inf` = `_count`.
fn check_histogram(samples: &[Sample], name: &str, kind: Option<&str>) -> f64 {
    let series = |s: &&Sample| kind.is_none_or(|k| label(s, "kind") == Some(k));
    let buckets: Vec<(f64, f64)> = samples
        .iter()
        .filter(|s| s.0 == format!("{name}_bucket"))
        .filter(series)
        .map(|s| {
            let le = label(s, "le").expect("le label");
            let le = if le == "+Inf" {
                f64::INFINITY
            } else {
                le.parse().expect("le")
            };
            (le, s.2)
        })
        .collect();
    assert!(buckets.len() > 2, "{name} has buckets");
    for w in buckets.windows(2) {
        assert!(w[0].0 < w[1].0, "{name}: le increasing");
        assert!(w[0].1 <= w[1].1, "{name}: cumulative counts");
    }
    let count = samples
        .iter()
        .filter(|s| s.0 == format!("{name}_count"))
        .find(series)
        .expect("_count")
        .2;
    assert_eq!(buckets.last().map(|b| b.0), Some(f64::INFINITY));
    assert_eq!(buckets.last().map(|b| b.1), Some(count));
    count
}

#[test]
fn prometheus_text_parses_and_carries_the_measurements() {
    let clock = Arc::new(ManualClock::new());
    // Each decode takes half the audio's length on the manual clock.
    let engine = FakeEngine::timed(clock.clone(), 0.5);
    let mut cfg = config(1);
    cfg.max_streams = 2;
    let sched = start(engine, cfg, clock);
    let odd = sched.admit("odd \"id\"\\").expect("admitted");
    let plain = sched.admit("plain").expect("admitted");
    assert!(sched.admit("third").is_err());
    for m in 0..3 {
        let job = Job::utterance_final(audio(m, 2.0), DecodeOptions::default());
        assert_eq!(outcome(&submit(&odd, job)), format!("job {m}"));
    }
    assert_eq!(outcome(&submit(&plain, final_(7))), "job 7");

    // The last job's figures are recorded just after its result is delivered.
    settled(&sched);
    let m = sched.metrics();
    let rtf = m.real_time_factor.expect("measured");
    assert!((rtf - 0.5).abs() < 1e-6, "{rtf}");
    assert!((m.audio_seconds_total - 7.0).abs() < 1e-3);
    assert_eq!(m.final_latency.count, 4);
    assert!(
        (m.final_latency.sum - 3.5).abs() < 1e-3,
        "{}",
        m.final_latency.sum
    );

    let text = m.to_prometheus();
    let samples = parse(&text);
    for m in [0, 1, 2, 7] {
        assert!(
            !text.contains(&format!("job {m}")),
            "no transcript text in metrics"
        );
    }
    let finals = check_histogram(
        &samples,
        "nexus_scribe_decode_latency_seconds",
        Some("final"),
    );
    assert_eq!(finals, 4.0);
    check_histogram(
        &samples,
        "nexus_scribe_decode_latency_seconds",
        Some("partial"),
    );
    check_histogram(&samples, "nexus_scribe_queue_wait_seconds", None);
    let value = |name: &str, key: &str, val: &str| {
        samples
            .iter()
            .find(|s| s.0 == name && (key.is_empty() || label(s, key) == Some(val)))
            .map(|s| s.2)
    };
    assert_eq!(
        value("nexus_scribe_stream_lag_seconds", "stream", "odd \"id\"\\"),
        Some(0.0)
    );
    assert_eq!(
        value("nexus_scribe_stream_queue_depth", "stream", "plain"),
        Some(0.0)
    );
    assert_eq!(value("nexus_scribe_streams", "", ""), Some(2.0));
    assert_eq!(value("nexus_scribe_real_time_factor", "", ""), Some(0.5));
    assert_eq!(
        value("nexus_scribe_worker_real_time_factor", "worker", "0"),
        Some(0.5)
    );
    assert_eq!(
        value(
            "nexus_scribe_streams_refused_total",
            "reason",
            "max_streams"
        ),
        Some(1.0)
    );
    assert_eq!(
        value("nexus_scribe_streams_admitted_total", "", ""),
        Some(2.0)
    );
    assert_eq!(value("nexus_scribe_queue_depth", "", ""), Some(0.0));
    assert!(value("nexus_scribe_worker_busy_ratio", "", "").is_some_and(|b| b > 0.0 && b <= 1.0));
    let ok_finals = samples
        .iter()
        .find(|s| {
            s.0 == "nexus_scribe_jobs_total"
                && label(s, "kind") == Some("final")
                && label(s, "outcome") == Some("ok")
        })
        .map(|s| s.2);
    assert_eq!(ok_finals, Some(4.0));
    let le_2_5 = samples.iter().find(|s| {
        s.0 == "nexus_scribe_decode_latency_seconds_bucket"
            && label(s, "kind") == Some("final")
            && label(s, "le") == Some("2.5")
    });
    assert_eq!(le_2_5.map(|s| s.2), Some(4.0), "every final within 2.5 s");
}
