//! One stream's pending work: its utterance finals in submission order, then at most one
//! partial. A newer submission replaces a waiting partial (coalescing); finals are never
//! replaced.

use std::collections::VecDeque;
use std::time::Instant;

use super::job::{Completion, Job, JobKind};

/// A submitted job waiting for a worker.
pub(crate) struct Queued {
    pub job: Job,
    pub done: Completion,
    /// Global submission number: breaks ties between equally old audio (first come first).
    pub seq: u64,
    /// When this submission was made (latency is measured from here).
    pub submitted_at: Instant,
    /// Arrival of the oldest audio this job is responsible for: the priority key. Coalescing
    /// keeps the oldest of the jobs it folds together, so resubmitting never loses a place.
    pub oldest_audio_at: Instant,
}

/// A stream's pending jobs. Invariant: `partial` is newer than every job in `finals`.
#[derive(Default)]
pub(crate) struct StreamQueue {
    finals: VecDeque<Queued>,
    partial: Option<Queued>,
}

impl StreamQueue {
    /// Queues `job`. Returns the waiting partial it replaced, if any, whose submitter must be
    /// told it was superseded: a newer partial covers the same growing utterance and more; a
    /// final covers the whole utterance.
    pub fn push(&mut self, mut job: Queued) -> Option<Queued> {
        let displaced = self.partial.take();
        if let Some(old) = &displaced {
            job.oldest_audio_at = job.oldest_audio_at.min(old.oldest_audio_at);
        }
        match job.job.kind {
            JobKind::Partial => self.partial = Some(job),
            JobKind::Final => self.finals.push_back(job),
        }
        displaced
    }

    /// The job that runs next for this stream.
    pub fn head(&self) -> Option<&Queued> {
        self.finals.front().or(self.partial.as_ref())
    }

    /// Takes the job that runs next.
    pub fn pop(&mut self) -> Option<Queued> {
        self.finals.pop_front().or_else(|| self.partial.take())
    }

    /// Pending jobs.
    pub fn len(&self) -> usize {
        self.finals.len() + usize::from(self.partial.is_some())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The oldest audio any pending job is responsible for.
    pub fn oldest_audio_at(&self) -> Option<Instant> {
        self.finals
            .iter()
            .chain(&self.partial)
            .map(|q| q.oldest_audio_at)
            .min()
    }

    /// Removes every pending job (the stream closed or the scheduler stops).
    pub fn drain(&mut self) -> Vec<Queued> {
        let mut all: Vec<Queued> = self.finals.drain(..).collect();
        all.extend(self.partial.take());
        all
    }
}
