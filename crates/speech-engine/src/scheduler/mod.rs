//! The one scheduler for all live streams: streams submit decoding work, a fixed set of
//! workers runs it oldest audio first, each stream's lag is measured, and a new stream is
//! refused (close 4102) when the machine cannot keep up, instead of letting every meeting
//! fall behind.
//!
//! # Model
//! - **Workers.** `workers` threads, each running one job at a time with
//!   `threads_per_worker` whisper.cpp threads; `workers × threads_per_worker` never exceeds
//!   the cores (whisper.cpp's pool collapses when oversubscribed). The model is shared
//!   (`Arc<dyn SpeechEngine>`); `WhisperEngine` pools decoding states, so each worker reuses
//!   one. whisper.cpp decodes one audio per call, so there is no cross-stream batching; the
//!   batching the engine allows is coalescing (one decode serves all of a stream's waiting
//!   audio).
//! - **Queue.** Per stream: its utterance finals in order, then at most one partial. A new
//!   submission replaces a waiting partial (only the newest audio of a growing utterance
//!   matters; the replaced job completes with [`EngineError::Superseded`]); finals are never
//!   replaced or dropped while the stream is open. A stream has at most one job running, so
//!   its results arrive in submission order. Across streams the ready job whose
//!   `oldest_audio_at` is earliest runs first (ties: first submitted); replacing a job keeps
//!   the older instant, so resubmitting never loses a stream its place.
//!
//! # Definitions (what the metrics mean)
//! - **Lag** of a stream at `now`: `now − oldest_audio_at` of the oldest job it has queued or
//!   running, where a job's `oldest_audio_at` is the arrival of the oldest audio it carries
//!   that no completed decode has covered (default: its submission instant). Zero when every
//!   submitted job has completed — a stream in silence sends nothing and does not lag.
//! - **Queue wait** of a job: from the moment it could have run (it was queued and its
//!   stream had nothing running) to the moment a worker took it. It measures congestion
//!   only: a job waiting behind its own stream's running decode does not count.
//! - **Latency**: submission of the job that ran → its result (queue wait + decode).
//! - **Real-time factor**: decode wall time / seconds of audio decoded, exponentially
//!   smoothed over jobs, globally and per worker.
//! - **Busy fraction**: share of workers decoding, smoothed over time.
//!
//! # Admission
//! [`Scheduler::admit`] refuses a stream ([`AdmitError::AtCapacity`] → close 4102) when
//! `max_streams` are open, when any job started within `congestion_window` waited longer than
//! `max_queue_wait` for a worker (or one is waiting that long now), or when an open stream
//! lags more than `max_lag`. Running streams are never evicted. Once the waits of the last
//! `congestion_window` are short again, streams are admitted again. The busy fraction is
//! exported but not used: with coalescing, partial decodes expand to fill idle workers, so a
//! busy machine is not yet a late one; the queue wait is what rises when it is.
//!
//! # Threads and async callers
//! Nothing here blocks on decoding except [`Scheduler::shutdown`]. Results go to a
//! [`Completion`] callback, called once per job on a worker thread; it must only hand the
//! result on (e.g. into a `tokio::sync::oneshot::Sender`). [`completion_channel`] gives a std
//! channel for synchronous callers.

mod admission;
mod clock;
mod config;
mod handle;
mod job;
mod metrics;
mod pool;
mod prometheus;
mod queue;
mod state;
mod stats;
mod worker;

#[cfg(test)]
mod tests;

pub use admission::{AdmitError, CapacityReason};
pub use clock::{Clock, ManualClock, SystemClock};
pub use config::{streaming_options, SchedulerConfig};
pub use handle::StreamHandle;
pub use job::{completion_channel, Completion, Job, JobKind, JobResult};
pub use metrics::{HistogramSnapshot, JobCount, MetricsSnapshot, StreamMetrics};
pub use pool::{Scheduler, ShutdownMode};
pub use prometheus::PROMETHEUS_CONTENT_TYPE;

#[cfg(doc)]
use crate::EngineError;
