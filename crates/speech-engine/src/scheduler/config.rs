//! The scheduler's knobs, their defaults and their checks.

use std::time::Duration;

use super::job::JobKind;
use crate::{default_threads, DecodeOptions, EngineError};

/// How the scheduler uses the machine and when it refuses new streams.
#[derive(Clone, Debug, PartialEq)]
pub struct SchedulerConfig {
    /// Decoding threads, each running one job at a time.
    pub workers: usize,
    /// whisper.cpp threads per job. `workers × threads_per_worker` may not exceed the cores:
    /// whisper.cpp's thread pool collapses when oversubscribed.
    pub threads_per_worker: usize,
    /// Run waiting utterance finals before any partial (then oldest audio first within each
    /// kind). Finals are the committed transcript and cannot be coalesced; partials can.
    pub finals_first: bool,
    /// Hard cap on admitted streams, whatever the measurements say. It is also what guards
    /// against a burst of streams joining before any of them has produced load.
    pub max_streams: usize,
    /// A new stream is refused while any job of the last `congestion_window` waited longer
    /// than this for a worker after it could have started (or one is waiting that long now).
    pub max_queue_wait: Duration,
    /// A new stream is refused while any running stream lags more than this (see the module
    /// documentation for the definition of lag).
    pub max_lag: Duration,
    /// How far back admission looks at queue waits; also how long the scheduler needs to
    /// see calm before it admits again after congestion.
    pub congestion_window: Duration,
    /// Time constant of the smoothed busy fraction exported as a metric.
    pub busy_time_constant: Duration,
    /// Weight of the newest sample in the smoothed real-time factor.
    pub rtf_smoothing: f64,
    /// While only one stream is open, give its decodes every worker's threads (the other
    /// workers have nothing to do: a stream runs one job at a time).
    pub share_idle_cores: bool,
    /// Let jobs keep temperature fallback on. Off by default: it can multiply the time of a
    /// short chunk, which delays every other stream.
    pub temperature_fallback: bool,
}

impl SchedulerConfig {
    /// Defaults for a machine with `cores` cores available to inference.
    pub fn for_cores(cores: usize) -> Self {
        let cores = cores.max(1);
        Self {
            workers: cores,
            threads_per_worker: 1,
            finals_first: true,
            // Measured (benches `live --sweep`, tiny.en, 2 cores): on one host four real-time
            // streams keep p95 final-word latency within 2.5 s (2.01 s), five do not (2.83 s);
            // on a slower host four gave 2.73–3.17 s, on a third 2.22 s (README). Admission
            // by queue wait and lag reacts only once streams already suffer, so the cap is what
            // protects running streams.
            max_streams: 2 * cores,
            max_queue_wait: Duration::from_millis(1000),
            max_lag: Duration::from_secs(3),
            congestion_window: Duration::from_secs(10),
            busy_time_constant: Duration::from_secs(10),
            rtf_smoothing: 0.1,
            temperature_fallback: false,
            share_idle_cores: true,
        }
    }

    /// Checks the configuration against the cores this process may use.
    pub fn validate(&self, cores: usize) -> Result<(), EngineError> {
        let fail = |msg: String| Err(EngineError::SchedulerConfig(msg));
        if self.workers == 0 || self.threads_per_worker == 0 {
            return fail("workers and threads_per_worker must be at least 1".into());
        }
        let threads = self.workers.saturating_mul(self.threads_per_worker);
        if threads > cores {
            return fail(format!(
                "{} workers × {} threads = {threads} inference threads, more than the {cores} \
                 cores available (whisper.cpp slows down several-fold when oversubscribed)",
                self.workers, self.threads_per_worker
            ));
        }
        if self.max_streams == 0 {
            return fail("max_streams must be at least 1".into());
        }
        if !(self.rtf_smoothing > 0.0 && self.rtf_smoothing <= 1.0) {
            return fail("rtf_smoothing must be in (0, 1]".into());
        }
        if self.congestion_window.is_zero() {
            return fail("congestion_window must be positive".into());
        }
        Ok(())
    }
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        Self::for_cores(default_threads())
    }
}

/// Decoding options for live streaming: greedy, fallback off, one encoder pass over a window
/// fitted to the chunk, output capped at 10 tokens a second. The scheduler sets `threads`; add
/// the stream's committed text as `prompt`.
pub fn streaming_options(kind: JobKind) -> DecodeOptions {
    let window = match kind {
        // A step's hypothesis is revisable: a 3 s margin after the audio, and no second
        // decode when it repeats a phrase (the streaming policy drops the repeat; the next
        // step hears that audio again). Measured with `examples/replay` on eval/long, one
        // core: a 10 s step 0.6 s instead of 0.9 s, no full-window re-decodes (they took 2–3 s
        // each), the same WER.
        JobKind::Partial => DecodeOptions {
            audio_ctx_margin: 150,
            min_audio_ctx: 200,
            redecode_loops: false,
            ..DecodeOptions::default()
        },
        // An utterance's last decode is committed as it comes: the 8 s margin, and output
        // that repeats a phrase is decoded again with the full window.
        JobKind::Final => DecodeOptions::default(),
    };
    DecodeOptions {
        beam_size: 1,
        temperature_fallback: false,
        fit_audio_ctx: true,
        single_pass: true,
        max_tokens_per_second: 10,
        ..window
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oversubscription_is_refused() {
        let cfg = SchedulerConfig {
            workers: 2,
            threads_per_worker: 2,
            ..SchedulerConfig::for_cores(2)
        };
        let err = cfg
            .validate(2)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("more than the 2 cores"), "{err}");
        assert!(SchedulerConfig::for_cores(2).validate(2).is_ok());
        assert!(SchedulerConfig::for_cores(1).validate(1).is_ok());
    }

    #[test]
    fn steps_are_cheaper_than_finals() {
        let (step, last) = (
            streaming_options(JobKind::Partial),
            streaming_options(JobKind::Final),
        );
        for opts in [&step, &last] {
            assert_eq!(opts.beam_size, 1);
            assert!(opts.single_pass && opts.fit_audio_ctx && !opts.temperature_fallback);
            assert!(opts.max_tokens_per_second > 0);
        }
        assert!(step.audio_ctx_margin < last.audio_ctx_margin);
        assert!(!step.redecode_loops && last.redecode_loops);
    }

    #[test]
    fn zero_sizes_are_refused() {
        for cfg in [
            SchedulerConfig {
                workers: 0,
                ..SchedulerConfig::for_cores(2)
            },
            SchedulerConfig {
                max_streams: 0,
                ..SchedulerConfig::for_cores(2)
            },
            SchedulerConfig {
                rtf_smoothing: 0.0,
                ..SchedulerConfig::for_cores(2)
            },
        ] {
            assert!(cfg.validate(2).is_err());
        }
    }
}
