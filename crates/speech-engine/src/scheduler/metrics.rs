//! A point-in-time copy of the scheduler's measurements. Rendered for `GET /metrics` by
//! [`MetricsSnapshot::to_prometheus`]. Holds ids and numbers only, never transcript text.

use std::time::{Duration, Instant};

use super::admission::CapacityReason;
use super::config::SchedulerConfig;
use super::job::JobKind;
use super::state::{Outcome, Phase, State};
use super::stats::Histogram;

/// The scheduler's measurements at one instant.
#[derive(Clone, Debug, PartialEq)]
pub struct MetricsSnapshot {
    pub workers: usize,
    pub threads_per_worker: usize,
    /// Every open (or draining) stream, ordered by id.
    pub streams: Vec<StreamMetrics>,
    /// Jobs waiting for a worker, all streams.
    pub queue_depth: usize,
    /// Jobs running now.
    pub in_flight: usize,
    /// Fraction of workers busy, smoothed over `busy_time_constant`.
    pub busy_fraction: f64,
    /// Decode wall time / audio seconds, smoothed over jobs; `None` before the first decode.
    pub real_time_factor: Option<f64>,
    /// The same per worker.
    pub worker_real_time_factor: Vec<Option<f64>>,
    /// Submit → completion of partial decodes.
    pub partial_latency: HistogramSnapshot,
    /// Submit → completion of utterance finals.
    pub final_latency: HistogramSnapshot,
    /// From when a job could have started (its stream idle) to when a worker took it.
    pub queue_wait: HistogramSnapshot,
    pub streams_admitted: u64,
    /// Refusals per reason.
    pub streams_refused: Vec<(CapacityReason, u64)>,
    /// Jobs per kind and outcome (`ok`, `error`, `panicked`, `superseded`, `cancelled`).
    pub jobs: Vec<JobCount>,
    /// Audio decoded successfully, seconds.
    pub audio_seconds_total: f64,
    /// Worker time spent decoding, seconds.
    pub decode_seconds_total: f64,
}

/// One stream's state.
#[derive(Clone, Debug, PartialEq)]
pub struct StreamMetrics {
    pub id: String,
    /// Age of the oldest audio it still waits to see decoded; zero when caught up.
    pub lag: Duration,
    /// Jobs waiting (finals plus at most one partial).
    pub queue_depth: usize,
    /// A worker is decoding for it now.
    pub decoding: bool,
}

/// A count of jobs that ended one way.
#[derive(Clone, Debug, PartialEq)]
pub struct JobCount {
    pub kind: JobKind,
    /// `ok`, `error`, `panicked`, `superseded` or `cancelled`.
    pub outcome: &'static str,
    pub count: u64,
}

/// A histogram with cumulative bucket counts, as Prometheus exposes it.
#[derive(Clone, Debug, PartialEq)]
pub struct HistogramSnapshot {
    /// `(upper bound in seconds, observations ≤ bound)`, bounds increasing.
    pub buckets: Vec<(f64, u64)>,
    pub count: u64,
    pub sum: f64,
}

impl HistogramSnapshot {
    fn of(h: &Histogram) -> Self {
        let (buckets, count, sum) = h.cumulative();
        Self {
            buckets,
            count,
            sum,
        }
    }
}

impl State {
    pub fn snapshot(&self, now: Instant, cfg: &SchedulerConfig) -> MetricsSnapshot {
        let mut streams: Vec<StreamMetrics> = self
            .streams
            .values()
            .filter(|s| s.phase != Phase::Closed)
            .map(|s| StreamMetrics {
                id: s.id.clone(),
                lag: s.lag(now),
                queue_depth: s.queue.len(),
                decoding: s.running.is_some(),
            })
            .collect();
        streams.sort_by(|a, b| a.id.cmp(&b.id));
        let jobs = [JobKind::Partial, JobKind::Final]
            .into_iter()
            .flat_map(|kind| Outcome::ALL.into_iter().map(move |o| (kind, o)))
            .map(|(kind, o)| JobCount {
                kind,
                outcome: o.as_str(),
                count: self.jobs(kind, o),
            })
            .collect();
        MetricsSnapshot {
            workers: cfg.workers,
            threads_per_worker: cfg.threads_per_worker,
            queue_depth: self.streams.values().map(|s| s.queue.len()).sum(),
            in_flight: self
                .streams
                .values()
                .filter(|s| s.running.is_some())
                .count(),
            streams,
            busy_fraction: self.busy.fraction(now),
            real_time_factor: self.rtf.value(),
            worker_real_time_factor: self.worker_rtf.iter().map(|e| e.value()).collect(),
            partial_latency: HistogramSnapshot::of(&self.latency[JobKind::Partial.index()]),
            final_latency: HistogramSnapshot::of(&self.latency[JobKind::Final.index()]),
            queue_wait: HistogramSnapshot::of(&self.queue_wait),
            streams_admitted: self.admitted,
            streams_refused: CapacityReason::ALL
                .into_iter()
                .map(|r| (r, self.refused[r.index()]))
                .collect(),
            jobs,
            audio_seconds_total: self.audio_seconds,
            decode_seconds_total: self.decode_seconds,
        }
    }
}
