//! A stand-in engine: records which job it was given (a marker in the first sample), can be
//! held at a gate so tests control when jobs finish, can move a manual clock by a fixed
//! real-time factor, and panics on request.

use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use scribe_core::{MonoAudio, Segment, Transcript};

use crate::scheduler::{
    completion_channel, Job, JobResult, ManualClock, Scheduler, SchedulerConfig, StreamHandle,
};
use crate::{DecodeOptions, EngineError, ModelInfo, Progress, SpeechEngine};

/// The marker that makes the fake engine panic.
pub const PANIC: u32 = 9999;
/// How long a test waits for something that should happen promptly.
pub const PATIENCE: Duration = Duration::from_secs(10);

#[derive(Default)]
struct Inner {
    calls: Vec<u32>,
    threads: Vec<usize>,
    held: bool,
}

pub struct FakeEngine {
    info: ModelInfo,
    inner: Mutex<Inner>,
    changed: Condvar,
    clock: Option<(Arc<ManualClock>, f64)>,
}

impl FakeEngine {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::build(None))
    }

    /// Each decode moves `clock` forward by `rtf ×` the audio's length.
    pub fn timed(clock: Arc<ManualClock>, rtf: f64) -> Arc<Self> {
        Arc::new(Self::build(Some((clock, rtf))))
    }

    fn build(clock: Option<(Arc<ManualClock>, f64)>) -> Self {
        Self {
            info: ModelInfo {
                name: "fake".into(),
                multilingual: false,
                n_audio_ctx: 1500,
                n_text_layer: 4,
                n_mels: 80,
                weight_type: "f32".into(),
            },
            inner: Mutex::new(Inner::default()),
            changed: Condvar::new(),
            clock,
        }
    }

    /// Jobs that start from now on wait until [`FakeEngine::release`].
    pub fn hold(&self) {
        self.lock().held = true;
    }

    pub fn release(&self) {
        self.lock().held = false;
        self.changed.notify_all();
    }

    /// Markers of the jobs decoded so far, in the order they started.
    pub fn calls(&self) -> Vec<u32> {
        self.lock().calls.clone()
    }

    /// The `threads` option each decode was given.
    pub fn threads_seen(&self) -> Vec<usize> {
        self.lock().threads.clone()
    }

    /// Waits until `n` decodes have started.
    pub fn wait_calls(&self, n: usize) {
        let guard = self.lock();
        let (guard, timeout) = self
            .changed
            .wait_timeout_while(guard, PATIENCE, |i| i.calls.len() < n)
            .unwrap_or_else(|e| e.into_inner());
        assert!(
            !timeout.timed_out(),
            "expected {n} decodes, saw {:?}",
            guard.calls
        );
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl SpeechEngine for FakeEngine {
    fn transcribe(
        &self,
        audio: &MonoAudio,
        opts: &DecodeOptions,
        _progress: Option<Arc<Progress>>,
    ) -> Result<Transcript, EngineError> {
        let marker = audio.samples.first().copied().unwrap_or(0.0) as u32;
        {
            let mut inner = self.lock();
            inner.calls.push(marker);
            inner.threads.push(opts.threads);
            self.changed.notify_all();
            let _released = self
                .changed
                .wait_while(inner, |i| i.held)
                .unwrap_or_else(|e| e.into_inner());
        }
        if marker == PANIC {
            panic!("fake engine panics on request");
        }
        if let Some((clock, rtf)) = &self.clock {
            clock.advance(Duration::from_secs_f64(audio.duration_secs() * rtf));
        }
        Ok(Transcript {
            segments: vec![Segment {
                start_ms: 0,
                end_ms: audio.duration_ms(),
                text: format!("job {marker}"),
                words: Vec::new(),
            }],
            language: "en".into(),
            duration_ms: audio.duration_ms(),
        })
    }

    fn model_info(&self) -> &ModelInfo {
        &self.info
    }
}

/// `secs` of audio whose first sample carries `marker`.
pub fn audio(marker: u32, secs: f64) -> MonoAudio {
    let mut samples = vec![0.0; (secs * 16_000.0) as usize];
    if let Some(first) = samples.first_mut() {
        *first = marker as f32;
    }
    MonoAudio::new(samples)
}

pub fn partial(marker: u32) -> Job {
    Job::partial(audio(marker, 1.0), DecodeOptions::default())
}

pub fn final_(marker: u32) -> Job {
    Job::utterance_final(audio(marker, 1.0), DecodeOptions::default())
}

/// A config with `workers` single-thread workers and generous limits.
pub fn config(workers: usize) -> SchedulerConfig {
    SchedulerConfig {
        workers,
        threads_per_worker: 1,
        max_streams: 100,
        ..SchedulerConfig::for_cores(workers)
    }
}

pub fn start(engine: Arc<FakeEngine>, cfg: SchedulerConfig, clock: Arc<ManualClock>) -> Scheduler {
    let cores = cfg.workers * cfg.threads_per_worker;
    Scheduler::start(engine, cfg, clock, cores).expect("valid test config")
}

/// Submits `job` and returns the receiver of its result.
pub fn submit(handle: &StreamHandle, job: Job) -> std::sync::mpsc::Receiver<JobResult> {
    let (done, rx) = completion_channel();
    handle.submit(job, done);
    rx
}

/// The text of a successful result, or the error's description.
pub fn outcome(rx: &std::sync::mpsc::Receiver<JobResult>) -> String {
    match rx.recv_timeout(PATIENCE) {
        Ok(Ok(t)) => t.text(),
        Ok(Err(e)) => format!("error: {e}"),
        Err(e) => format!("no result: {e}"),
    }
}

/// Waits until no job is queued or running. A result is delivered just before its worker
/// records the job as finished, so a test that reads lag or admits right after a result must
/// let the scheduler catch up first.
pub fn settled(sched: &Scheduler) {
    let deadline = std::time::Instant::now() + PATIENCE;
    while std::time::Instant::now() < deadline {
        let m = sched.metrics();
        if m.in_flight == 0 && m.queue_depth == 0 {
            return;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    panic!("the scheduler did not settle within {PATIENCE:?}");
}

pub fn is_superseded(rx: &std::sync::mpsc::Receiver<JobResult>) -> bool {
    matches!(rx.recv_timeout(PATIENCE), Ok(Err(EngineError::Superseded)))
}
