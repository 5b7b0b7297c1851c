//! [`StreamHandle`]: an admitted stream's way to submit work. Dropping it closes the stream.

use std::sync::Arc;
use std::time::Duration;

use super::job::{Completion, Job};
use super::pool::Shared;
use super::queue::Queued;
use super::state::{Outcome, Phase};
use super::worker::deliver;
use crate::EngineError;

/// An admitted stream. Dropping it closes the stream: its waiting jobs fail with
/// [`EngineError::StreamClosed`] (a running one still completes). [`StreamHandle::finish`]
/// instead lets the waiting jobs run first.
pub struct StreamHandle {
    shared: Arc<Shared>,
    key: u64,
    finished: bool,
}

impl StreamHandle {
    pub(crate) fn new(shared: Arc<Shared>, key: u64) -> Self {
        Self {
            shared,
            key,
            finished: false,
        }
    }

    /// Queues `job`; `done` is called exactly once with its result. A waiting partial of this
    /// stream is replaced (its completion gets [`EngineError::Superseded`]); finals queue in
    /// order. Never blocks on decoding: it takes a short lock and returns.
    pub fn submit(&self, job: Job, done: Completion) {
        let now = self.shared.clock.now();
        let mut state = self.shared.lock();
        if state.shutting_down {
            drop(state);
            deliver(done, Err(EngineError::ShuttingDown));
            return;
        }
        let seq = state.next_seq;
        state.next_seq += 1;
        let kind = job.kind;
        let queued = Queued {
            oldest_audio_at: job.oldest_audio_at.unwrap_or(now).min(now),
            job,
            done,
            seq,
            submitted_at: now,
        };
        let Some(entry) = state.streams.get_mut(&self.key) else {
            drop(state);
            deliver(queued.done, Err(EngineError::StreamClosed));
            return;
        };
        let displaced = entry.queue.push(queued);
        if entry.running.is_none() && entry.eligible_since.is_none() {
            entry.eligible_since = Some(now);
        }
        if let Some(old) = &displaced {
            state.count_job(old.job.kind, Outcome::Superseded);
        }
        drop(state);
        tracing::trace!(kind = kind.as_str(), "decode job queued");
        self.shared.work.notify_one();
        if let Some(old) = displaced {
            deliver(old.done, Err(EngineError::Superseded));
        }
    }

    /// This stream's lag now: how long the oldest audio it still waits to see decoded has
    /// been waiting; zero when every submitted job has completed.
    pub fn lag(&self) -> Duration {
        let now = self.shared.clock.now();
        self.shared
            .lock()
            .streams
            .get(&self.key)
            .map_or(Duration::ZERO, |s| s.lag(now))
    }

    /// Closes the stream once its waiting jobs have run (e.g. the bot sent `CloseStream`).
    /// Their completions are still called.
    pub fn finish(mut self) {
        self.finished = true;
        let mut state = self.shared.lock();
        let idle = match state.streams.get_mut(&self.key) {
            Some(entry) => {
                entry.phase = Phase::Draining;
                entry.is_idle()
            }
            None => false,
        };
        if idle {
            state.streams.remove(&self.key);
        }
    }
}

impl Drop for StreamHandle {
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        let mut state = self.shared.lock();
        let Some(entry) = state.streams.get_mut(&self.key) else {
            return;
        };
        let cancelled = entry.queue.drain();
        entry.eligible_since = None;
        if entry.running.is_some() {
            entry.phase = Phase::Closed;
        } else {
            state.streams.remove(&self.key);
        }
        for q in &cancelled {
            state.count_job(q.job.kind, Outcome::Cancelled);
        }
        drop(state);
        self.shared.idle.notify_all();
        for q in cancelled {
            deliver(q.done, Err(EngineError::StreamClosed));
        }
    }
}

impl std::fmt::Debug for StreamHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamHandle")
            .field("key", &self.key)
            .finish()
    }
}
