//! [`Scheduler`]: the one owner of the inference cores. Starts the workers, admits streams,
//! hands out metrics, shuts down.

use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use super::admission::{self, AdmitError, CapacityReason};
use super::clock::{Clock, SystemClock};
use super::config::SchedulerConfig;
use super::handle::StreamHandle;
use super::metrics::MetricsSnapshot;
use super::state::{State, StreamEntry};
use super::worker;
use crate::{default_threads, EngineError, SpeechEngine};

/// What the workers, the handles and the scheduler share.
pub(crate) struct Shared {
    pub engine: Arc<dyn SpeechEngine>,
    pub config: SchedulerConfig,
    pub clock: Arc<dyn Clock>,
    state: Mutex<State>,
    /// Signalled when a job becomes ready or the workers must stop.
    pub work: Condvar,
    /// Signalled when a job ends or a queue is emptied (for draining).
    pub idle: Condvar,
}

impl Shared {
    /// The state; a panic elsewhere while holding the lock does not stop the scheduler (every
    /// update leaves the state consistent before anything that could panic).
    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// How [`Scheduler::shutdown`] treats jobs that have not started.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ShutdownMode {
    /// Fail them with [`EngineError::ShuttingDown`] at once.
    Cancel,
    /// Let the workers run them for up to this long, then cancel what is left.
    Drain(Duration),
}

/// Schedules the decoding work of every live stream onto a fixed set of worker threads.
/// Share it (`Arc<Scheduler>`); dropping it cancels pending jobs and joins the workers.
pub struct Scheduler {
    shared: Arc<Shared>,
    workers: Mutex<Vec<JoinHandle<()>>>,
}

impl Scheduler {
    /// Starts the workers with the system clock. Fails when the configuration asks for more
    /// inference threads than the cores available.
    pub fn new(
        engine: Arc<dyn SpeechEngine>,
        config: SchedulerConfig,
    ) -> Result<Self, EngineError> {
        Self::with_clock(engine, config, Arc::new(SystemClock))
    }

    /// Starts the workers with the given clock (tests use a [`super::ManualClock`]).
    pub fn with_clock(
        engine: Arc<dyn SpeechEngine>,
        config: SchedulerConfig,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, EngineError> {
        Self::start(engine, config, clock, default_threads())
    }

    pub(crate) fn start(
        engine: Arc<dyn SpeechEngine>,
        config: SchedulerConfig,
        clock: Arc<dyn Clock>,
        cores: usize,
    ) -> Result<Self, EngineError> {
        config.validate(cores)?;
        let now = clock.now();
        let shared = Arc::new(Shared {
            state: Mutex::new(State::new(&config, now)),
            engine,
            config,
            clock,
            work: Condvar::new(),
            idle: Condvar::new(),
        });
        let mut workers = Vec::with_capacity(shared.config.workers);
        for index in 0..shared.config.workers {
            let s = Arc::clone(&shared);
            let spawned = std::thread::Builder::new()
                .name(format!("scribe-decode-{index}"))
                .spawn(move || worker::run(s, index));
            match spawned {
                Ok(handle) => workers.push(handle),
                Err(e) => {
                    let scheduler = Self {
                        shared,
                        workers: Mutex::new(workers),
                    };
                    scheduler.shutdown(ShutdownMode::Cancel);
                    return Err(EngineError::SchedulerConfig(format!(
                        "cannot start decoding worker: {e}"
                    )));
                }
            }
        }
        tracing::info!(
            workers = shared.config.workers,
            threads_per_worker = shared.config.threads_per_worker,
            max_streams = shared.config.max_streams,
            "decode scheduler started"
        );
        Ok(Self {
            shared,
            workers: Mutex::new(workers),
        })
    }

    /// Admits a new stream, or refuses it when the machine cannot keep up (see the module
    /// documentation). `stream_id` is an opaque id; it appears in metric labels.
    pub fn admit(&self, stream_id: impl std::fmt::Display) -> Result<StreamHandle, AdmitError> {
        let id = stream_id.to_string();
        let now = self.shared.clock.now();
        let mut state = self.shared.lock();
        let decision = if state.shutting_down {
            Err(CapacityReason::ShuttingDown)
        } else {
            if state.open_streams().any(|s| s.id == id) {
                return Err(AdmitError::AlreadyAdmitted);
            }
            let load = state.load(now);
            admission::decide(&load, &self.shared.config).inspect_err(|reason| {
                tracing::info!(
                    reason = reason.as_str(),
                    streams = load.streams,
                    max_queue_wait_ms = load.max_queue_wait.as_millis() as u64,
                    max_lag_ms = load.max_lag.as_millis() as u64,
                    "stream refused: at capacity"
                );
            })
        };
        if let Err(reason) = decision {
            state.refused[reason.index()] += 1;
            return Err(AdmitError::AtCapacity(reason));
        }
        let key = state.next_stream;
        state.next_stream += 1;
        state.streams.insert(key, StreamEntry::new(id));
        state.admitted += 1;
        drop(state);
        Ok(StreamHandle::new(Arc::clone(&self.shared), key))
    }

    /// The measurements now.
    pub fn metrics(&self) -> MetricsSnapshot {
        let now = self.shared.clock.now();
        self.shared.lock().snapshot(now, &self.shared.config)
    }

    /// The configuration in force.
    pub fn config(&self) -> &SchedulerConfig {
        &self.shared.config
    }

    /// Stops admitting streams and accepting jobs, drains or cancels what is queued, waits for
    /// running jobs to finish and joins the workers. Every pending job's completion is called.
    /// Idempotent; blocks, so an async caller runs it on a blocking thread.
    pub fn shutdown(&self, mode: ShutdownMode) {
        let mut state = self.shared.lock();
        state.shutting_down = true;
        if let ShutdownMode::Drain(timeout) = mode {
            let deadline = std::time::Instant::now() + timeout;
            while !state.all_idle() {
                let left = deadline.saturating_duration_since(std::time::Instant::now());
                if left.is_zero() {
                    break;
                }
                state = self
                    .shared
                    .idle
                    .wait_timeout(state, left)
                    .map(|(g, _)| g)
                    .unwrap_or_else(|e| e.into_inner().0);
            }
        }
        let cancelled = state.take_all_queued();
        state.stop = true;
        drop(state);
        self.shared.work.notify_all();
        for q in cancelled {
            worker::deliver(q.done, Err(EngineError::ShuttingDown));
        }
        let handles = std::mem::take(
            &mut *self
                .workers
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        );
        for h in handles {
            if h.join().is_err() {
                tracing::error!("decoding worker thread panicked");
            }
        }
    }
}

impl Drop for Scheduler {
    fn drop(&mut self) {
        self.shutdown(ShutdownMode::Cancel);
    }
}
