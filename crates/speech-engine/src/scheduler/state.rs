//! Everything the scheduler's threads share behind one lock: the open streams with their
//! queues, and the measurements.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use super::admission::Load;
use super::config::SchedulerConfig;
use super::job::JobKind;
use super::queue::{Queued, StreamQueue};
use super::stats::{BusyTracker, Ewma, Histogram, RecentWaits, SECONDS_BUCKETS};

/// Where a stream is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Phase {
    Open,
    /// Finished by its owner: pending jobs still run, then the stream is forgotten.
    Draining,
    /// Closed while a job was running: forgotten when that job ends.
    Closed,
}

/// The job a worker is running for a stream.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Running {
    pub oldest_audio_at: Instant,
}

pub(crate) struct StreamEntry {
    pub id: String,
    pub queue: StreamQueue,
    pub running: Option<Running>,
    /// Since when the stream has had a job ready and none running: a worker could have
    /// started it from then on. Waiting measured from here is congestion, not the stream
    /// waiting for its own previous job.
    pub eligible_since: Option<Instant>,
    pub phase: Phase,
}

impl StreamEntry {
    pub fn new(id: String) -> Self {
        Self {
            id,
            queue: StreamQueue::default(),
            running: None,
            eligible_since: None,
            phase: Phase::Open,
        }
    }

    /// How long the oldest audio this stream still waits to see decoded has been waiting
    /// (queued or running); zero when everything submitted has been decoded.
    pub fn lag(&self, now: Instant) -> Duration {
        let running = self.running.map(|r| r.oldest_audio_at);
        let oldest = match (running, self.queue.oldest_audio_at()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        oldest.map_or(Duration::ZERO, |t| now.saturating_duration_since(t))
    }

    /// True when nothing is queued or running.
    pub fn is_idle(&self) -> bool {
        self.running.is_none() && self.queue.is_empty()
    }
}

/// How a job ended, for the `jobs_total` counter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    Ok,
    Error,
    Panicked,
    Superseded,
    Cancelled,
}

impl Outcome {
    pub const ALL: [Self; 5] = [
        Self::Ok,
        Self::Error,
        Self::Panicked,
        Self::Superseded,
        Self::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Error => "error",
            Self::Panicked => "panicked",
            Self::Superseded => "superseded",
            Self::Cancelled => "cancelled",
        }
    }

    fn index(self) -> usize {
        match self {
            Self::Ok => 0,
            Self::Error => 1,
            Self::Panicked => 2,
            Self::Superseded => 3,
            Self::Cancelled => 4,
        }
    }
}

/// A job taken by a worker.
pub(crate) struct Task {
    pub stream: u64,
    pub queued: Queued,
    pub started_at: Instant,
    /// No other stream is open: this job may use every worker's threads.
    pub alone: bool,
}

/// What a worker reports about a job it ran.
pub(crate) struct Finished {
    pub stream: u64,
    pub worker: usize,
    pub kind: JobKind,
    pub outcome: Outcome,
    pub submitted_at: Instant,
    pub started_at: Instant,
    pub audio_seconds: f64,
}

pub(crate) struct State {
    pub streams: HashMap<u64, StreamEntry>,
    pub next_stream: u64,
    pub next_seq: u64,
    /// No new streams or jobs; workers still run what is queued.
    pub shutting_down: bool,
    /// Workers exit.
    pub stop: bool,
    pub busy: BusyTracker,
    pub rtf: Ewma,
    pub worker_rtf: Vec<Ewma>,
    /// Submit → completion, per [`JobKind::index`].
    pub latency: [Histogram; 2],
    pub queue_wait: Histogram,
    pub recent_waits: RecentWaits,
    pub admitted: u64,
    pub refused: [u64; 4],
    jobs: [[u64; 5]; 2],
    pub audio_seconds: f64,
    pub decode_seconds: f64,
}

impl State {
    pub fn new(cfg: &SchedulerConfig, now: Instant) -> Self {
        Self {
            streams: HashMap::new(),
            next_stream: 0,
            next_seq: 0,
            shutting_down: false,
            stop: false,
            busy: BusyTracker::new(cfg.workers, cfg.busy_time_constant, now),
            rtf: Ewma::new(cfg.rtf_smoothing),
            worker_rtf: vec![Ewma::new(cfg.rtf_smoothing); cfg.workers],
            latency: [
                Histogram::new(SECONDS_BUCKETS),
                Histogram::new(SECONDS_BUCKETS),
            ],
            queue_wait: Histogram::new(SECONDS_BUCKETS),
            recent_waits: RecentWaits::new(cfg.congestion_window),
            admitted: 0,
            refused: [0; 4],
            jobs: [[0; 5]; 2],
            audio_seconds: 0.0,
            decode_seconds: 0.0,
        }
    }

    pub fn count_job(&mut self, kind: JobKind, outcome: Outcome) {
        if let Some(c) = self
            .jobs
            .get_mut(kind.index())
            .and_then(|row| row.get_mut(outcome.index()))
        {
            *c += 1;
        }
    }

    pub fn jobs(&self, kind: JobKind, outcome: Outcome) -> u64 {
        self.jobs[kind.index()][outcome.index()]
    }

    /// Streams that count against capacity (everything not closed).
    pub fn open_streams(&self) -> impl Iterator<Item = &StreamEntry> {
        self.streams.values().filter(|s| s.phase != Phase::Closed)
    }

    pub fn load(&mut self, now: Instant) -> Load {
        let waiting_now = self
            .streams
            .values()
            .filter_map(|s| s.eligible_since)
            .map(|t| now.saturating_duration_since(t))
            .max()
            .unwrap_or(Duration::ZERO);
        let recent = self.recent_waits.max(now);
        Load {
            streams: self.open_streams().count(),
            max_queue_wait: recent.max(waiting_now),
            max_lag: self
                .open_streams()
                .map(|s| s.lag(now))
                .max()
                .unwrap_or(Duration::ZERO),
        }
    }

    /// Takes the ready job to run next: utterance finals before partials when `finals_first`,
    /// then the oldest audio, then the first submitted.
    pub fn next_task(&mut self, now: Instant, finals_first: bool) -> Option<Task> {
        let (&key, _) = self
            .streams
            .iter()
            .filter(|(_, s)| s.running.is_none() && s.phase != Phase::Closed)
            .filter_map(|(k, s)| {
                let q = s.queue.head()?;
                let class = u8::from(finals_first && q.job.kind == JobKind::Partial);
                Some((k, (class, q.oldest_audio_at, q.seq)))
            })
            .min_by_key(|(_, order)| *order)?;
        let entry = self.streams.get_mut(&key)?;
        let queued = entry.queue.pop()?;
        let wait = entry
            .eligible_since
            .take()
            .map_or(Duration::ZERO, |t| now.saturating_duration_since(t));
        entry.running = Some(Running {
            oldest_audio_at: queued.oldest_audio_at,
        });
        self.queue_wait.observe(wait.as_secs_f64());
        self.recent_waits.record(now, wait);
        self.busy.change(now, true);
        let alone = self.open_streams().count() <= 1;
        Some(Task {
            stream: key,
            queued,
            started_at: now,
            alone,
        })
    }

    /// Records a finished job and frees its stream for its next job.
    pub fn finish(&mut self, f: &Finished, now: Instant) {
        self.busy.change(now, false);
        let decode = now.saturating_duration_since(f.started_at).as_secs_f64();
        self.decode_seconds += decode;
        if f.outcome == Outcome::Ok && f.audio_seconds > 0.0 {
            self.audio_seconds += f.audio_seconds;
            let rtf = decode / f.audio_seconds;
            self.rtf.add(rtf);
            if let Some(w) = self.worker_rtf.get_mut(f.worker) {
                w.add(rtf);
            }
        }
        let latency = now.saturating_duration_since(f.submitted_at).as_secs_f64();
        if let Some(h) = self.latency.get_mut(f.kind.index()) {
            h.observe(latency);
        }
        self.count_job(f.kind, f.outcome);
        let Some(entry) = self.streams.get_mut(&f.stream) else {
            return;
        };
        entry.running = None;
        let forget = match entry.phase {
            Phase::Closed => true,
            Phase::Draining => entry.queue.is_empty(),
            Phase::Open => false,
        };
        if forget {
            self.streams.remove(&f.stream);
        } else if !entry.queue.is_empty() {
            entry.eligible_since = Some(now);
        }
    }

    /// Empties every queue (the scheduler stops); returns the jobs to cancel.
    pub fn take_all_queued(&mut self) -> Vec<Queued> {
        let mut all = Vec::new();
        for entry in self.streams.values_mut() {
            all.extend(entry.queue.drain());
            entry.eligible_since = None;
        }
        for q in &all {
            self.count_job(q.job.kind, Outcome::Cancelled);
        }
        all
    }

    /// True when no job is queued or running.
    pub fn all_idle(&self) -> bool {
        self.streams.values().all(StreamEntry::is_idle)
    }
}
