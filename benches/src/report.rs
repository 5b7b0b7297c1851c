//! Turning measured runs into figures: per-file and corpus WER, medians, the table and the ratio.

use serde::Serialize;

use crate::engines::{Engine, PeerTiming, Run};
use crate::manifest::Utterance;
use crate::wer::{self, Errors};

/// One file's score in the run an engine is reported by.
#[derive(Debug, Serialize)]
pub struct FileResult {
    pub file: String,
    pub duration_s: f64,
    pub reference: String,
    /// `None`: the engine produced no transcript for this file (scored as all words deleted).
    pub hypothesis: Option<String>,
    pub reference_normalised: String,
    pub hypothesis_normalised: String,
    #[serde(flatten)]
    pub errors: Errors,
    pub wer_percent: f64,
}

/// An engine's figures over all runs.
#[derive(Debug, Serialize)]
pub struct EngineResult {
    pub engine: &'static str,
    /// Corpus WER of the median-WER run, in percent.
    pub wer_percent: f64,
    pub errors: Errors,
    /// Files without a transcript in that run.
    pub failed_files: usize,
    pub wer_percent_per_run: Vec<f64>,
    pub transcripts_identical_across_runs: bool,
    /// Whole-process wall time (start-up and model load included), median over runs.
    pub wall_s: f64,
    pub rtf: f64,
    /// User + system CPU time, median over runs.
    pub cpu_s: f64,
    pub peak_rss_mib: f64,
    /// The most CPU (in cores) other processes used during any run: above ~0.2 the times are
    /// disturbed.
    pub others_cores_max: Option<f64>,
    /// faster-whisper's own split, median over runs.
    pub timing: Option<PeerTiming>,
    pub runs: Vec<Run>,
    /// Per-file scores of the median-WER run.
    pub files: Vec<FileResult>,
}

/// Other processes' CPU use (cores) above which a run's time is flagged as disturbed.
const OTHERS_LIMIT: f64 = 0.2;

/// Median; the mean of the middle two for an even count; 0 for none.
pub fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => 0.0,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// Scores `runs` of `engine`. `hyps_normalised[r][f]` is run r's normalised text for file f.
pub fn engine_result(
    engine: Engine,
    utterances: &[Utterance],
    refs_normalised: &[String],
    runs: Vec<Run>,
    hyps_normalised: &[Vec<String>],
    audio_s: f64,
) -> EngineResult {
    let per_run: Vec<Vec<Errors>> = hyps_normalised
        .iter()
        .map(|hyps| {
            refs_normalised
                .iter()
                .zip(hyps)
                .map(|(r, h)| wer::score(r, h))
                .collect()
        })
        .collect();
    let corpus: Vec<Errors> = per_run
        .iter()
        .map(|files| {
            files.iter().fold(Errors::default(), |mut acc, e| {
                acc.add(*e);
                acc
            })
        })
        .collect();
    let rates: Vec<f64> = corpus.iter().map(|e| e.rate() * 100.0).collect();
    // The run at the lower median of WER gives the reported WER and the per-file detail.
    let mut order: Vec<usize> = (0..runs.len()).collect();
    order.sort_by(|&a, &b| rates[a].total_cmp(&rates[b]));
    let pick = order[(order.len() - 1) / 2];
    let files = utterances
        .iter()
        .enumerate()
        .map(|(f, u)| FileResult {
            file: u.file.clone(),
            duration_s: u.duration_s,
            reference: u.reference.clone(),
            hypothesis: runs[pick].texts[f].clone(),
            reference_normalised: refs_normalised[f].clone(),
            hypothesis_normalised: hyps_normalised[pick][f].clone(),
            errors: per_run[pick][f],
            wer_percent: per_run[pick][f].rate() * 100.0,
        })
        .collect();
    let of = |get: fn(&Run) -> f64| median(&runs.iter().map(get).collect::<Vec<_>>());
    let wall_s = of(|r| r.measured.wall_s);
    let timings: Vec<PeerTiming> = runs.iter().filter_map(|r| r.timing).collect();
    let timing = (!timings.is_empty()).then(|| PeerTiming {
        import_s: median(&timings.iter().map(|t| t.import_s).collect::<Vec<_>>()),
        load_s: median(&timings.iter().map(|t| t.load_s).collect::<Vec<_>>()),
        transcribe_s: median(&timings.iter().map(|t| t.transcribe_s).collect::<Vec<_>>()),
    });
    EngineResult {
        engine: engine.name(),
        wer_percent: rates[pick],
        errors: corpus[pick],
        failed_files: runs[pick].texts.iter().filter(|t| t.is_none()).count(),
        transcripts_identical_across_runs: runs.windows(2).all(|w| w[0].texts == w[1].texts),
        wer_percent_per_run: rates,
        wall_s,
        rtf: wall_s / audio_s,
        cpu_s: of(|r| r.measured.user_s + r.measured.sys_s),
        peak_rss_mib: of(|r| r.measured.max_rss_kib as f64 / 1024.0),
        others_cores_max: runs
            .iter()
            .filter_map(|r| r.measured.others_cores())
            .max_by(f64::total_cmp),
        timing,
        runs,
        files,
    }
}

/// The human summary: a table, faster-whisper's split, the ratio and the acceptance checks.
pub fn table(results: &[EngineResult], audio_s: f64) -> String {
    let mut s = format!(
        "{:<16} {:>6} {:>5} {:>5} {:>5} {:>8} {:>7} {:>8} {:>13}\n",
        "engine", "WER %", "sub", "del", "ins", "wall s", "RTF", "CPU s", "peak RSS MiB"
    );
    for r in results {
        s += &format!(
            "{:<16} {:>6.2} {:>5} {:>5} {:>5} {:>8.2} {:>7.3} {:>8.2} {:>13.0}\n",
            r.engine,
            r.wer_percent,
            r.errors.substitutions,
            r.errors.deletions,
            r.errors.insertions,
            r.wall_s,
            r.rtf,
            r.cpu_s,
            r.peak_rss_mib
        );
    }
    for r in results {
        if r.failed_files > 0 {
            s += &format!(
                "{}: {} file(s) without a transcript (scored as deletions)\n",
                r.engine, r.failed_files
            );
        }
        if !r.transcripts_identical_across_runs {
            s += &format!(
                "{}: transcripts differ between runs (WER per run: {:?})\n",
                r.engine, r.wer_percent_per_run
            );
        }
        if let Some(c) = r.others_cores_max.filter(|c| *c > OTHERS_LIMIT) {
            s += &format!(
                "warning: other processes used up to {c:.2} cores during {} runs: its times are disturbed, rerun on a quiet machine\n",
                r.engine
            );
        }
        if let Some(t) = r.timing {
            s += &format!(
                "{} split: import {:.2} s, model load {:.2} s, transcription {:.2} s (RTF {:.3}); the rest of the wall time is interpreter start-up and exit\n",
                r.engine,
                t.import_s,
                t.load_s,
                t.transcribe_s,
                t.transcribe_s / audio_s
            );
        }
    }
    let find = |e: Engine| results.iter().find(|r| r.engine == e.name());
    if let (Some(n), Some(f)) = (find(Engine::Nexus), find(Engine::FasterWhisper)) {
        let ratio = n.wall_s / f.wall_s;
        s += &format!(
            "time ratio nexus/faster-whisper = {ratio:.2} (≤ 1.0 means NexusScribe is faster)\n"
        );
        s += &format!(
            "WER nexus {:.1} % vs faster-whisper {:.1} %\n",
            n.wer_percent, f.wer_percent
        );
        let yes = |ok: bool| if ok { "yes" } else { "NO" };
        s += &format!(
            "acceptance: ratio ≤ 1.0 {}; WER no worse than faster-whisper {}; WER ≤ 6.5 % {}\n",
            yes(ratio <= 1.0),
            yes(n.errors.total() * f.errors.reference_words
                <= f.errors.total() * n.errors.reference_words),
            yes(n.wer_percent <= 6.5)
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(wall_s: f64, texts: &[Option<&str>]) -> Run {
        Run {
            measured: crate::measure::Report {
                wall_s,
                user_s: wall_s * 1.5,
                sys_s: 0.0,
                max_rss_kib: 204_800,
                exit_code: Some(0),
                signal: None,
                machine_busy_s: None,
            },
            texts: texts.iter().map(|t| t.map(str::to_owned)).collect(),
            timing: None,
            stderr_tail: None,
        }
    }

    #[test]
    fn reports_median_time_and_the_median_wer_run() {
        let utterances = vec![
            Utterance {
                file: "a.flac".into(),
                duration_s: 6.0,
                reference: "A b c.".into(),
            },
            Utterance {
                file: "b.flac".into(),
                duration_s: 4.0,
                reference: "D e.".into(),
            },
        ];
        let refs = vec!["a b c".to_owned(), "d e".to_owned()];
        // Run WERs: 1/5, 0/5, 2/5 (b.flac missing: 2 deletions); times 30, 10, 20 s.
        let runs = vec![
            run(30.0, &[Some("a b x"), Some("d e")]),
            run(10.0, &[Some("a b c"), Some("d e")]),
            run(20.0, &[Some("a b c"), None]),
        ];
        let hyps = vec![
            vec!["a b x".to_owned(), "d e".to_owned()],
            vec!["a b c".to_owned(), "d e".to_owned()],
            vec!["a b c".to_owned(), String::new()],
        ];
        let r = engine_result(Engine::Nexus, &utterances, &refs, runs, &hyps, 10.0);
        assert_eq!(r.wall_s, 20.0);
        assert_eq!(r.rtf, 2.0);
        assert_eq!(r.cpu_s, 30.0);
        assert_eq!(r.peak_rss_mib, 200.0);
        assert_eq!(r.wer_percent_per_run, vec![20.0, 0.0, 40.0]);
        // The median-WER run is the first: one substitution in a.flac, nothing missing.
        assert_eq!(r.wer_percent, 20.0);
        assert_eq!(
            r.errors,
            Errors {
                substitutions: 1,
                deletions: 0,
                insertions: 0,
                reference_words: 5
            }
        );
        assert_eq!(r.failed_files, 0);
        assert_eq!(r.files[0].hypothesis.as_deref(), Some("a b x"));
        assert!(!r.transcripts_identical_across_runs);
    }

    #[test]
    fn table_states_ratio_and_acceptance() {
        let utterances = vec![Utterance {
            file: "a.flac".into(),
            duration_s: 100.0,
            reference: "a b c d".into(),
        }];
        let refs = vec!["a b c d".to_owned()];
        let nexus = engine_result(
            Engine::Nexus,
            &utterances,
            &refs,
            vec![run(8.0, &[Some("a b c d")])],
            &[vec!["a b c d".to_owned()]],
            100.0,
        );
        let peer = engine_result(
            Engine::FasterWhisper,
            &utterances,
            &refs,
            vec![run(10.0, &[Some("a b c")])],
            &[vec!["a b c".to_owned()]],
            100.0,
        );
        let text = table(&[nexus, peer], 100.0);
        assert!(
            text.contains(
                "time ratio nexus/faster-whisper = 0.80 (≤ 1.0 means NexusScribe is faster)"
            ),
            "{text}"
        );
        assert!(
            text.contains("WER nexus 0.0 % vs faster-whisper 25.0 %"),
            "{text}"
        );
        assert!(text.contains("acceptance: ratio ≤ 1.0 yes; WER no worse than faster-whisper yes; WER ≤ 6.5 % yes"), "{text}");
    }

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), 2.5);
        assert_eq!(median(&[7.5]), 7.5);
        assert_eq!(median(&[]), 0.0);
    }
}
