//! A decoding worker: takes the ready job with the oldest audio, runs it on its own
//! inference threads, reports the result. A panicking engine fails that job only.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, MutexGuard};

use super::job::JobResult;
use super::pool::Shared;
use super::state::{Finished, Outcome, State, Task};
use crate::EngineError;

/// Runs until the scheduler stops.
pub(crate) fn run(shared: Arc<Shared>, index: usize) {
    while let Some(task) = next_task(&shared) {
        run_one(&shared, index, task);
    }
    tracing::debug!(worker = index, "decoding worker stopped");
}

fn next_task(shared: &Shared) -> Option<Task> {
    let mut state = shared.lock();
    loop {
        if state.stop {
            return None;
        }
        let now = shared.clock.now();
        if let Some(task) = state.next_task(now, shared.config.finals_first) {
            return Some(task);
        }
        state = wait(shared, state);
    }
}

fn wait<'a>(shared: &'a Shared, guard: MutexGuard<'a, State>) -> MutexGuard<'a, State> {
    shared
        .work
        .wait(guard)
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn run_one(shared: &Shared, index: usize, task: Task) {
    let Task {
        stream,
        queued,
        started_at,
        alone,
    } = task;
    let job = queued.job;
    let mut options = job.options;
    // A stream has one job at a time, so while it is the only stream the other workers are
    // idle and its decode may use all their threads (half the latency of one thread on two
    // cores). A stream that opens meanwhile overlaps it for one decode at most.
    options.threads = if alone && shared.config.share_idle_cores {
        shared.config.workers * shared.config.threads_per_worker
    } else {
        shared.config.threads_per_worker
    };
    options.temperature_fallback &= shared.config.temperature_fallback;
    let engine = &shared.engine;
    let result: JobResult = catch_unwind(AssertUnwindSafe(|| {
        engine.transcribe(&job.audio, &options, None)
    }))
    .unwrap_or_else(|_| {
        tracing::error!(
            worker = index,
            kind = job.kind.as_str(),
            duration_ms = job.audio.duration_ms(),
            "speech engine panicked; job failed, worker continues"
        );
        Err(EngineError::Panicked)
    });
    let outcome = match &result {
        Ok(_) => Outcome::Ok,
        Err(EngineError::Panicked) => Outcome::Panicked,
        Err(e) => {
            tracing::warn!(worker = index, kind = job.kind.as_str(), error = %e, "decode failed");
            Outcome::Error
        }
    };
    let finished = Finished {
        stream,
        worker: index,
        kind: job.kind,
        outcome,
        submitted_at: queued.submitted_at,
        started_at,
        audio_seconds: job.audio.duration_secs(),
    };
    let finished_at = shared.clock.now();
    // Deliver before the stream's next job can start, so a stream's results arrive in order.
    deliver(queued.done, result);
    shared.lock().finish(&finished, finished_at);
    // Another worker may be free for this stream's next job; a drain may be waiting.
    shared.work.notify_one();
    shared.idle.notify_all();
}

/// Calls a completion, containing a panic inside it.
pub(crate) fn deliver(done: super::job::Completion, result: JobResult) {
    if catch_unwind(AssertUnwindSafe(|| done(result))).is_err() {
        tracing::error!("decode completion callback panicked");
    }
}
