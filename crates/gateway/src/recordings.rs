//! `POST /api/v1/meetings/{id}/recordings` (upload a recording to transcribe into the meeting)
//! and `GET /api/v1/jobs/{id}` (its progress), PROTOCOL.md §4.
//!
//! The body is streamed to a file in the uploads folder (owner-only), never held whole in
//! memory, and counted as it arrives: past the limit the upload stops with 413 and the file is
//! removed. The container is sniffed from the bytes and must be the one the `Content-Type`
//! declares; an empty body, a file that is not audio, or a mismatch is refused, and the file
//! removed, on every path. Accepted uploads become a queued job (202) that the runner
//! (`crate::jobs`) transcribes.

use std::path::{Path, PathBuf};

use audio_ingest::AudioFormat;
use axum::body::Body;
use axum::extract::{Path as UrlPath, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt as _;
use scribe_auth::MeetingPermission;
use scribe_core::{ErrorCode, JobId};
use tokio::io::AsyncWriteExt as _;
use transcript_storage::{Job, NewJob, NewStream, ResumeTokenHash};

use crate::access::{self, MeetingAccess};
use crate::app::AppState;
use crate::auth::{self, api_user, store_error};
use crate::error::ApiError;

/// Longest an upload may go without sending any data before it is abandoned.
const UPLOAD_STALL: std::time::Duration = std::time::Duration::from_secs(30);

/// The `Content-Type` of a request, as sent (empty when missing or not text).
fn content_type(headers: &HeaderMap) -> &str {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

/// The media type without parameters, lower-cased.
fn essence(content_type: &str) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// The declared type of a recording, from its `Content-Type` (the request's, or the `file`
/// part's in a multipart upload).
fn declared_format(raw: &str) -> Result<AudioFormat, ApiError> {
    let essence = essence(raw);
    let format = match essence.as_str() {
        "audio/wav" | "audio/x-wav" | "audio/wave" | "audio/vnd.wave" => AudioFormat::Wav,
        "audio/flac" | "audio/x-flac" => AudioFormat::Flac,
        "audio/mpeg" | "audio/mp3" => AudioFormat::Mp3,
        "audio/ogg" | "application/ogg" => AudioFormat::Ogg,
        "audio/webm" | "video/webm" => AudioFormat::WebM,
        "" => {
            return Err(ApiError::new(
                ErrorCode::UnsupportedMediaType,
                "Content-Type is missing: send the recording as audio/wav, audio/flac, \
                 audio/mpeg or audio/ogg",
            ))
        }
        _ => {
            let shown: String = essence.chars().take(60).collect();
            return Err(ApiError::new(
                ErrorCode::UnsupportedMediaType,
                format!(
                    "Content-Type `{shown}` is not an accepted recording type (audio/wav, \
                     audio/flac, audio/mpeg, audio/ogg)"
                ),
            ));
        }
    };
    Ok(format)
}

/// File extension of a stored upload.
fn extension(format: AudioFormat) -> &'static str {
    match format {
        AudioFormat::Wav => "wav",
        AudioFormat::Flac => "flac",
        AudioFormat::Mp3 => "mp3",
        AudioFormat::Ogg => "ogg",
        AudioFormat::WebM => "webm",
    }
}

/// A file in the uploads folder that is removed when dropped unless kept.
struct TempUpload {
    path: PathBuf,
    keep: bool,
}

impl Drop for TempUpload {
    fn drop(&mut self) {
        if !self.keep {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Creates the uploads folder (0700) if needed.
fn uploads_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt as _;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

pub async fn upload(
    State(app): State<AppState>,
    access: MeetingAccess,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    // The access middleware checked Write access to the meeting.
    let MeetingAccess {
        principal, meeting, ..
    } = access;
    let dir = app.config.uploads_dir.clone();
    uploads_dir(&dir).map_err(|e| auth::internal("uploads folder", &e))?;
    let raw_type = content_type(&headers);
    let saved = if essence(raw_type) == "multipart/form-data" {
        let boundary = multer::parse_boundary(raw_type).map_err(|_| {
            ApiError::new(
                ErrorCode::BadRequest,
                "multipart/form-data without a valid boundary",
            )
        })?;
        let mut parts = multer::Multipart::new(body.into_data_stream(), boundary);
        loop {
            let field = parts.next_field().await.map_err(|_| {
                ApiError::new(ErrorCode::BadRequest, "the multipart body is malformed")
            })?;
            let Some(field) = field else {
                return Err(ApiError::new(
                    ErrorCode::BadRequest,
                    "the multipart upload has no `file` part",
                ));
            };
            if field.name() == Some("file") {
                let declared =
                    declared_format(field.content_type().map_or("", |m| m.essence_str()))?;
                break save(&app, &dir, declared, field).await?;
            }
        }
    } else {
        let declared = declared_format(raw_type)?;
        save(&app, &dir, declared, body.into_data_stream()).await?
    };
    let (mut temp, actual, written) = saved;

    // A bot-less stream of the meeting carries the job's finals; its resume token is never
    // handed out (random, only its hash exists).
    let scope = principal.scope();
    let mut token = [0u8; 32];
    token[..16].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
    token[16..].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
    let stream = app
        .store
        .open_stream(
            &scope,
            NewStream {
                meeting_id: meeting.id,
                bot_id: None,
                resume_token_hash: ResumeTokenHash(token),
            },
        )
        .await
        .map_err(|e| store_error("upload stream", e))?;
    let job = app
        .store
        .create_job(
            &scope,
            NewJob {
                meeting_id: meeting.id,
                stream_id: stream.id,
                format: extension(actual).into(),
                bytes: written,
                created_by: principal.user_id(),
            },
        )
        .await
        .map_err(|e| store_error("job create", e))?;
    let kept = dir.join(format!("{}.{}", job.id, extension(actual)));
    std::fs::rename(&temp.path, &kept).map_err(|e| auth::internal("upload keep", &e))?;
    temp.keep = true;
    app.jobs.enqueue(job.id, scope);
    tracing::info!(job = %job.id, meeting = %meeting.id, bytes = written, format = actual.name(), "recording queued");
    let mut res = (StatusCode::ACCEPTED, axum::Json(job_json(&job))).into_response();
    if let Ok(v) = format!("/api/v1/jobs/{}", job.id).parse() {
        res.headers_mut().insert(header::LOCATION, v);
    }
    Ok(res)
}

/// Streams one recording to a new file in `dir`, counting it against the limit, and checks
/// that it is the declared kind of audio. The file is removed on every refusal (the guard);
/// on success it comes back with the sniffed format and its size.
async fn save<S, E>(
    app: &AppState,
    dir: &Path,
    declared: AudioFormat,
    mut stream: S,
) -> Result<(TempUpload, AudioFormat, u64), ApiError>
where
    S: futures_util::Stream<Item = Result<axum::body::Bytes, E>> + Unpin,
{
    if declared == AudioFormat::WebM {
        return Err(ApiError::new(
            ErrorCode::UnsupportedMediaType,
            "WebM recordings cannot be transcribed by this version yet; send WAV, FLAC, MP3 \
             or Ogg/Vorbis",
        ));
    }
    let limit = app.config.max_upload_bytes;
    // A fresh name, never the client's; the job gets its own id once the file is accepted.
    let temp = TempUpload {
        path: dir.join(format!("{}.part", uuid::Uuid::new_v4())),
        keep: false,
    };
    let mut file = tokio::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&temp.path)
        .await
        .map_err(|e| auth::internal("upload file", &e))?;
    let mut written: u64 = 0;
    let mut head: Vec<u8> = Vec::new();
    loop {
        // A client that stops sending (slow-loris on the body) loses the upload, not a task.
        let next = tokio::time::timeout(UPLOAD_STALL, stream.next())
            .await
            .map_err(|_| {
                ApiError::new(
                    ErrorCode::BadRequest,
                    format!(
                        "the upload stalled: no data for {} s",
                        UPLOAD_STALL.as_secs()
                    ),
                )
            })?;
        let Some(chunk) = next else { break };
        let chunk = chunk
            .map_err(|_| ApiError::new(ErrorCode::BadRequest, "the upload was interrupted"))?;
        written += chunk.len() as u64;
        if written > limit {
            return Err(ApiError::new(
                ErrorCode::PayloadTooLarge,
                format!("the recording is larger than the {limit}-byte limit"),
            ));
        }
        if head.len() < SNIFF_BYTES {
            let take = (SNIFF_BYTES - head.len()).min(chunk.len());
            head.extend_from_slice(&chunk[..take]);
        }
        file.write_all(&chunk)
            .await
            .map_err(|e| auth::internal("upload write", &e))?;
    }
    file.sync_all()
        .await
        .map_err(|e| auth::internal("upload sync", &e))?;
    drop(file);
    if written == 0 {
        return Err(ApiError::new(
            ErrorCode::BadRequest,
            "the recording is empty",
        ));
    }
    let Some(actual) = audio_ingest::sniff(&head) else {
        return Err(ApiError::new(
            ErrorCode::UnsupportedMediaType,
            format!(
                "the file is not a WAV, FLAC, MP3 or Ogg recording (declared {})",
                declared.name()
            ),
        ));
    };
    if actual != declared {
        return Err(ApiError::new(
            ErrorCode::UnsupportedMediaType,
            format!(
                "the file is {} but was declared as {} (Content-Type)",
                actual.name(),
                declared.name()
            ),
        ));
    }
    Ok((temp, actual, written))
}

/// How much of the start of an upload is kept for sniffing (an ID3v2 tag with cover art can
/// come before MP3 audio).
const SNIFF_BYTES: usize = 4 * 1024 * 1024;

pub async fn get_job(
    State(app): State<AppState>,
    UrlPath(id): UrlPath<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let principal = api_user(&app, &headers).await?;
    let job_id: JobId = id
        .parse()
        .map_err(|_| ApiError::new(ErrorCode::BadRequest, "the job id is not a valid id"))?;
    let job = app
        .store
        .get_job(&principal.scope(), job_id)
        .await
        .map_err(|e| store_error("job read", e))?;
    // Readable only with the meeting (Guests see only meetings shared with them).
    access::resolve(&app, principal, job.meeting_id, MeetingPermission::Read).await?;
    Ok(axum::Json(job_json(&job)).into_response())
}

/// A job as the API shows it.
pub fn job_json(job: &Job) -> serde_json::Value {
    let progress = match job.duration_ms {
        Some(0) => 1.0,
        Some(d) => (job.progress_ms as f64 / d as f64).min(1.0),
        None => 0.0,
    };
    serde_json::json!({
        "job_id": job.id.to_string(),
        "meeting_id": job.meeting_id.to_string(),
        "state": job.state.as_str(),
        "progress": (progress * 1000.0).round() / 1000.0,
        "processed_ms": job.progress_ms,
        "duration_ms": job.duration_ms,
        "bytes": job.bytes,
        "format": job.format,
        "error": job.error,
        "created_at_ms": job.created_at_ms,
        "updated_at_ms": job.updated_at_ms,
    })
}
