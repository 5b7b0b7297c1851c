//! The job runner: transcribes uploaded recordings, one at a time, into their meetings.
//!
//! A recording is decoded to 16 kHz mono, cut into utterances by the same voice-activity
//! segmenter live streams use (at most `recording_max_utterance_ms` each, cut at pauses), and
//! each utterance is decoded through the one scheduler as a final (beam search, temperature
//! fallback, conditioned on the text before it) — so uploads share the cores fairly with live
//! streams and never starve them. Finals are committed and published exactly like a bot's: a
//! viewer watching the meeting sees them arrive. Segment ids are derived from the job's
//! stream and a counter, so a job resumed after a crash re-stores nothing twice (an append of
//! a stored id returns its seq). The uploaded file is removed when the job ends, whatever the
//! outcome.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use audio_ingest::stream::{NeuralVad, SegmenterEvent, UtteranceSegmenter};
use scribe_core::{JobId, MonoAudio, OrgScope, Segment};
use scribe_protocol::SegmentMessage;
use speech_engine::scheduler::Job as DecodeJob;
use speech_engine::{AdmitError, DecodeOptions, StreamHandle};
use tokio::sync::mpsc;
use transcript_storage::{Job, JobState, JobUpdate, NewFinal, StoreError};

use crate::app::AppState;
use crate::ws::bot::words_of;
use crate::ws::segment_wire_id;

/// Queue of jobs to run. Enqueue is cheap and never blocks.
pub struct JobQueue {
    tx: mpsc::UnboundedSender<(JobId, OrgScope)>,
    rx: Mutex<Option<mpsc::UnboundedReceiver<(JobId, OrgScope)>>>,
}

impl Default for JobQueue {
    fn default() -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        Self {
            tx,
            rx: Mutex::new(Some(rx)),
        }
    }
}

impl JobQueue {
    /// Queues job `id` (of `scope`'s organisation) for the runner.
    pub fn enqueue(&self, id: JobId, scope: OrgScope) {
        // The runner lives as long as the process; a send can only fail during shutdown, and
        // the job is recovered from the store on the next start.
        let _ = self.tx.send((id, scope));
    }
}

/// Starts the runner (once) and queues the jobs a previous run left unfinished.
pub fn spawn(app: &AppState) {
    let Some(mut rx) = app.jobs.rx.lock().unwrap_or_else(|p| p.into_inner()).take() else {
        return;
    };
    let runner = app.clone();
    tokio::spawn(async move {
        match runner.store.unfinished_jobs().await {
            Ok(jobs) => {
                for job in jobs {
                    tracing::info!(job = %job.id, "resuming an unfinished recording job");
                    runner.jobs.enqueue(job.id, OrgScope::for_org(job.org_id));
                }
            }
            Err(e) => tracing::error!(error = %e, "cannot list unfinished jobs"),
        }
        while let Some((id, scope)) = rx.recv().await {
            run(&runner, id, scope).await;
        }
    });
}

/// Why a job stopped without finishing.
enum Stop {
    /// It failed; the message is for people (no transcript text).
    Failed(String),
    /// The server is shutting down: the job stays unfinished and resumes on the next start.
    ShuttingDown,
}

async fn run(app: &AppState, id: JobId, scope: OrgScope) {
    let job = match app.store.get_job(&scope, id).await {
        Ok(job) => job,
        // Deleted with its meeting meanwhile.
        Err(StoreError::NotFound) => return,
        Err(e) => return tracing::error!(job = %id, error = %e, "cannot read job"),
    };
    if matches!(job.state, JobState::Done | JobState::Failed) {
        return;
    }
    let path = app
        .config
        .uploads_dir
        .join(format!("{}.{}", job.id, job.format));
    let outcome = transcribe(app, &scope, &job, &path).await;
    let update = match outcome {
        Err(Stop::ShuttingDown) => return,
        Ok(duration_ms) => JobUpdate {
            state: JobState::Done,
            duration_ms: Some(duration_ms),
            progress_ms: duration_ms,
            error: None,
        },
        Err(Stop::Failed(why)) => {
            tracing::warn!(job = %job.id, reason = %why, "recording job failed");
            JobUpdate {
                state: JobState::Failed,
                duration_ms: None,
                progress_ms: job.progress_ms,
                error: Some(why),
            }
        }
    };
    if let Err(e) = std::fs::remove_file(&path) {
        if e.kind() != std::io::ErrorKind::NotFound {
            tracing::warn!(job = %job.id, error = %e, "cannot remove an uploaded recording");
        }
    }
    match app.store.update_job(&scope, job.id, update).await {
        Ok(()) | Err(StoreError::NotFound) => {}
        Err(e) => tracing::error!(job = %job.id, error = %e, "cannot record the job's end"),
    }
}

/// Transcribes the recording; returns its length in ms.
async fn transcribe(
    app: &AppState,
    scope: &OrgScope,
    job: &Job,
    path: &std::path::Path,
) -> Result<u64, Stop> {
    if !path.exists() {
        return Err(Stop::Failed(
            "the uploaded recording is no longer on the server".into(),
        ));
    }
    let progress = |state, duration_ms, progress_ms| JobUpdate {
        state,
        duration_ms,
        progress_ms,
        error: None,
    };
    let store_failed =
        |e: StoreError| Stop::Failed(format!("storage: {}", e.error_code().as_str()));
    app.store
        .update_job(scope, job.id, progress(JobState::Running, None, 0))
        .await
        .map_err(store_failed)?;

    let file = path.to_owned();
    let audio = tokio::task::spawn_blocking(move || audio_ingest::decode_file(&file))
        .await
        .map_err(|_| Stop::Failed("decoding the recording crashed".into()))?
        .map_err(|e| Stop::Failed(format!("the recording cannot be decoded: {e}")))?;
    let duration_ms = audio.duration_ms();
    let mut stream_config = app.config.stream.clone();
    stream_config.max_utterance_ms = app.config.recording_max_utterance_ms;
    let utterances = tokio::task::spawn_blocking(move || {
        let mut segmenter = UtteranceSegmenter::new(&stream_config, Box::new(NeuralVad::new()), 0);
        let mut out = Vec::new();
        let mut take = |events: Vec<SegmenterEvent>| {
            for event in events {
                if let SegmenterEvent::Ended { utterance, .. } = event {
                    out.push((utterance.start_ms(), utterance.audio().to_vec()));
                }
            }
        };
        for chunk in audio.samples.chunks(16_000) {
            take(segmenter.push(chunk));
        }
        take(segmenter.finish());
        out
    })
    .await
    .map_err(|_| Stop::Failed("finding speech in the recording crashed".into()))?;
    app.store
        .update_job(
            scope,
            job.id,
            progress(JobState::Running, Some(duration_ms), 0),
        )
        .await
        .map_err(store_failed)?;

    let handle = admit(app, job.id).await?;
    let feed = crate::ws::bot::feed_for(app, scope, job.meeting_id)
        .await
        .map_err(|_| Stop::Failed("the meeting is gone".into()))?;
    let mut counter = 0u64;
    let mut context = String::new();
    for (start_ms, samples) in utterances {
        let end_ms = start_ms + samples.len() as u64 / 16;
        let options = DecodeOptions {
            beam_size: app.config.recording_beam_size,
            language: Some(app.config.language.clone()),
            prompt: (!context.is_empty()).then(|| tail(&context, 200)),
            ..DecodeOptions::default()
        };
        let (tx, rx) = tokio::sync::oneshot::channel();
        handle.submit(
            DecodeJob::utterance_final(MonoAudio::new(samples), options),
            Box::new(move |result| {
                let _ = tx.send(result);
            }),
        );
        let transcript = match rx.await {
            Ok(Ok(t)) => t,
            Ok(Err(e)) => return Err(Stop::Failed(format!("decoding failed: {e}"))),
            Err(_) if *app.shutting_down.borrow() => return Err(Stop::ShuttingDown),
            Err(_) => return Err(Stop::Failed("decoding was cancelled".into())),
        };
        for s in transcript.segments {
            let text = s.text.trim();
            if text.is_empty() {
                continue;
            }
            let segment = Segment {
                start_ms: start_ms + s.start_ms,
                end_ms: (start_ms + s.end_ms).min(end_ms.max(start_ms + s.start_ms)),
                text: text.to_owned(),
                words: s
                    .words
                    .iter()
                    .map(|w| scribe_core::Word {
                        start_ms: start_ms + w.start_ms,
                        end_ms: start_ms + w.end_ms,
                        ..w.clone()
                    })
                    .collect(),
            };
            let segment_id = segment_wire_id(job.stream_id, counter);
            counter += 1;
            if !context.is_empty() {
                context.push(' ');
            }
            context.push_str(text);
            let msg = SegmentMessage {
                meeting_id: job.meeting_id.to_string(),
                stream_id: job.stream_id.to_string(),
                segment_id: segment_id.to_string(),
                seq: 0,
                is_final: true,
                start_ms: segment.start_ms,
                end_ms: segment.end_ms,
                text: segment.text.clone(),
                words: words_of(&segment),
                speaker: None,
                language: app.config.language.clone(),
            };
            let new = NewFinal {
                segment_id,
                meeting_id: job.meeting_id,
                stream_id: job.stream_id,
                segment,
                speaker: None,
                language: Some(app.config.language.clone()),
                acked_audio_ms: Some(end_ms),
            };
            let store = Arc::clone(&app.store);
            let scope = *scope;
            feed.publish(
                msg,
                |_| async move { store.append_final(&scope, new).await },
            )
            .await
            .map_err(store_failed)?;
        }
        app.store
            .update_job(
                scope,
                job.id,
                progress(
                    JobState::Running,
                    Some(duration_ms),
                    end_ms.min(duration_ms),
                ),
            )
            .await
            .map_err(store_failed)?;
    }
    handle.finish();
    Ok(duration_ms)
}

/// A scheduler slot for the job, waiting while live streams keep the machine busy.
async fn admit(app: &AppState, id: JobId) -> Result<StreamHandle, Stop> {
    loop {
        if *app.shutting_down.borrow() {
            return Err(Stop::ShuttingDown);
        }
        match app.scheduler.admit(format!("job {id}")) {
            Ok(handle) => return Ok(handle),
            Err(AdmitError::AtCapacity(_) | AdmitError::AlreadyAdmitted) => {
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

/// The last `max` characters of `text`.
fn tail(text: &str, max: usize) -> String {
    let skip = text.chars().count().saturating_sub(max);
    text.chars().skip(skip).collect()
}
