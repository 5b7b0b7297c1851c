//! `GET /ws/audio/{meeting_id}`: a meeting bot streams audio in and gets its segments back
//! (PROTOCOL.md §1).
//!
//! Before this handler runs, the access middleware (`crate::access`) has authenticated the bot
//! (derived key) and checked the meeting (another organisation's meeting is "not found"). Then
//! the audio format is validated, the stream opened or
//! resumed and admitted by the scheduler (4102 when the machine cannot keep up). Refusals are
//! an `error` message and a 4xxx close. Then one task runs the session: audio → streaming core
//! → scheduler → results → store (finals are committed before anyone sees them) → feed
//! (viewers) and the bot. The bot's acknowledged audio only ever covers committed finals, so a
//! bot that resumes with its token re-sends from there and nothing is lost or repeated.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use audio_ingest::stream::{SegmentId as LocalSegmentId, SessionStart};
use audio_ingest::Update;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::response::Response;
use scribe_auth::{hash_presented_resume_token, issue_resume_token, ExposeSecret, SecretString};
use scribe_core::{ErrorCode, MeetingId, OrgScope, Segment};
use scribe_protocol::{
    AudioParams, BotControl, MetadataMessage, SegmentMessage, ServerMessage, WordMessage,
};
use speech_engine::{AdmitError, StreamHandle};
use transcript_storage::{NewFinal, NewStream, ResumeTokenHash, StoreError, StoredFinal, Stream};

use super::driver::{AudioInput, Driver};
use super::{refuse, stopping, ws_error, ActiveGuard, RateBucket};
use crate::access::MeetingAccess;
use crate::app::AppState;
use crate::auth::{internal, store_error};
use crate::error::ApiError;
use crate::hub::MeetingFeed;
use crate::metrics::Gauge;

/// How long a resuming bot waits for its previous connection's session to end.
const TAKEOVER_WAIT: Duration = Duration::from_secs(10);
/// Committed text a resumed stream is conditioned on.
const RESUME_CONTEXT_CHARS: usize = 400;

/// The upgrade handler.
pub async fn handler(
    State(app): State<AppState>,
    access: MeetingAccess,
    Query(query): Query<HashMap<String, String>>,
    ws: WebSocketUpgrade,
) -> Response {
    let limits = app.config.ws.clone();
    // The socket layer allows twice the configured sizes so that an oversize message is read
    // and answered with 4008 and a message naming the limit; beyond that the read itself fails
    // (and is answered the same way when the connection still allows it).
    let max = limits
        .max_binary_bytes
        .max(limits.max_text_bytes)
        .saturating_mul(2);
    let opened = open(&app, access, &query).await;
    ws.max_message_size(max)
        .max_frame_size(max)
        .on_upgrade(move |mut socket| async move {
            match opened {
                Ok(session) => session.run(app, socket).await,
                Err(err) => {
                    app.counters.refused_total.fetch_add(1, Ordering::Relaxed);
                    refuse(&mut socket, &err, limits.send_timeout).await;
                }
            }
        })
}

/// A stream that passed every check, ready to run.
struct Opened {
    scope: OrgScope,
    meeting: MeetingId,
    stream: Stream,
    /// Sent in the first `metadata` of a new stream; a resumed one keeps its token.
    resume_token: Option<SecretString>,
    start: SessionStart,
    finals: u64,
    resumed: bool,
    input: AudioInput,
    handle: StreamHandle,
    guard: ActiveGuard,
    feed: Arc<MeetingFeed>,
}

/// Opens (or resumes) the stream of a bot the access middleware let through.
async fn open(
    app: &AppState,
    access: MeetingAccess,
    query: &HashMap<String, String>,
) -> Result<Opened, ApiError> {
    let principal = access.principal;
    let scope = principal.scope();
    let meeting = access.meeting.id;
    let params = AudioParams::from_query(query)
        .map_err(|e| ws_error(ErrorCode::BadRequest, e.to_string()))?;
    let input = AudioInput::new(&params).map_err(|e| ws_error(ErrorCode::BadRequest, e))?;
    let (stream, resume_token) = match query.get("resume_token") {
        Some(token) => (
            find_resumable(app, &scope, meeting, principal.bot_id(), token).await?,
            None,
        ),
        None => {
            let (token, hash) = issue_resume_token().map_err(|e| internal("resume token", &e))?;
            let stream = app
                .store
                .open_stream(
                    &scope,
                    NewStream {
                        meeting_id: meeting,
                        bot_id: principal.bot_id(),
                        resume_token_hash: ResumeTokenHash(hash),
                    },
                )
                .await
                .map_err(|e| store_error("stream open", e))?;
            (stream, Some(token))
        }
    };
    let resumed = resume_token.is_none();
    let guard = app
        .active
        .take_over(stream.id, TAKEOVER_WAIT)
        .await
        .ok_or_else(|| {
            ws_error(
                ErrorCode::Conflict,
                "the stream's previous connection is still closing; retry shortly",
            )
        })?;
    // Read again now that no other session holds the stream: its acknowledged position is final.
    let stream = app
        .store
        .get_stream(&scope, stream.id)
        .await
        .map_err(|e| store_error("stream lookup", e))?;
    let handle = match app.scheduler.admit(stream.id) {
        Ok(h) => h,
        Err(e) => {
            if !resumed {
                let _ = app.store.close_stream(&scope, stream.id).await;
            }
            return Err(admit_error(&e));
        }
    };
    let (start, finals) = resume_point(app, &scope, &stream).await?;
    let feed = feed_for(app, &scope, meeting).await?;
    Ok(Opened {
        scope,
        meeting,
        stream,
        resume_token,
        start,
        finals,
        resumed,
        input,
        handle,
        guard,
        feed,
    })
}

/// The open stream of `meeting` that `token` resumes; only the bot that opened it may.
async fn find_resumable(
    app: &AppState,
    scope: &OrgScope,
    meeting: MeetingId,
    bot: Option<scribe_core::BotId>,
    token: &str,
) -> Result<Stream, ApiError> {
    let unknown = || ws_error(ErrorCode::NotFound, "no stream for this resume token");
    let hash = hash_presented_resume_token(token).ok_or_else(unknown)?;
    let stream = app
        .store
        .find_stream_by_token(scope, &ResumeTokenHash(hash))
        .await
        .map_err(|e| store_error("stream lookup", e))?
        .filter(|s| s.meeting_id == meeting && s.bot_id == bot)
        .ok_or_else(unknown)?;
    if stream.is_closed() {
        return Err(ws_error(
            ErrorCode::Conflict,
            "this stream was closed with CloseStream; open a new stream",
        ));
    }
    Ok(stream)
}

/// Where a stream (re)starts: at its acknowledged audio, after its last segment number, with
/// its committed text as context.
async fn resume_point(
    app: &AppState,
    scope: &OrgScope,
    stream: &Stream,
) -> Result<(SessionStart, u64), ApiError> {
    let stored = app
        .store
        .list_finals(scope, stream.meeting_id)
        .await
        .map_err(|e| store_error("finals lookup", e))?;
    // Numbering continues after every stored final of this stream, readable or not; the
    // decoding context is the readable text.
    let ids: Vec<_> = stored
        .iter()
        .filter_map(|f| match f {
            Ok(f) => (f.stream_id == stream.id).then_some(f.id),
            Err(u) => (u.stream_id == stream.id).then_some(u.id),
        })
        .collect();
    let next = ids
        .iter()
        .filter_map(|&id| super::wire_segment_counter(stream.id, id))
        .max()
        .map_or(0, |n| n + 1);
    let mine: Vec<_> = stored
        .iter()
        .filter_map(|f| f.as_ref().ok())
        .filter(|f| f.stream_id == stream.id)
        .collect();
    let mut context = String::new();
    for f in &mine {
        if !context.is_empty() {
            context.push(' ');
        }
        context.push_str(f.segment.text.trim());
    }
    let skip = context.chars().count().saturating_sub(RESUME_CONTEXT_CHARS);
    let context: String = context.chars().skip(skip).collect();
    Ok((
        SessionStart {
            origin_ms: stream.acked_audio_ms,
            first_segment_id: LocalSegmentId(next),
            context,
        },
        ids.len() as u64,
    ))
}

/// Whether a stream's bot has been revoked (or deleted). A storage error is not taken for a
/// revocation: the session goes on and the next ping asks again.
async fn revoked(
    store: Arc<dyn transcript_storage::Store>,
    scope: OrgScope,
    bot: Option<scribe_core::BotId>,
) -> bool {
    let Some(bot) = bot else {
        return false;
    };
    match store.is_bot_revoked(&scope, bot).await {
        Ok(revoked) => revoked,
        Err(StoreError::NotFound) => true,
        Err(e) => {
            tracing::warn!(error = %e, "cannot check the bot's revocation");
            false
        }
    }
}

/// The meeting's feed, loaded from the store on first use.
pub(crate) async fn feed_for(
    app: &AppState,
    scope: &OrgScope,
    meeting: MeetingId,
) -> Result<Arc<MeetingFeed>, ApiError> {
    let store = Arc::clone(&app.store);
    let scope = *scope;
    app.hub
        .feed(&meeting.to_string(), scope.org_id(), || async move {
            let m = store.get_meeting(&scope, meeting).await?;
            let finals = store.list_finals(&scope, meeting).await?;
            // Unreadable finals (logged by the store) are left out of the live view; the
            // transcript export marks them.
            let msgs = finals
                .into_iter()
                .filter_map(Result::ok)
                .map(final_message)
                .collect();
            Ok::<_, StoreError>((msgs, m.last_seq))
        })
        .await
        .map_err(|e| store_error("feed load", e))
}

/// A stored final as the `segment` message viewers get.
pub(crate) fn final_message(f: StoredFinal) -> SegmentMessage {
    SegmentMessage {
        meeting_id: f.meeting_id.to_string(),
        stream_id: f.stream_id.to_string(),
        segment_id: f.id.to_string(),
        seq: f.seq,
        is_final: true,
        start_ms: f.segment.start_ms,
        end_ms: f.segment.end_ms,
        words: words_of(&f.segment),
        text: f.segment.text,
        speaker: f.speaker,
        language: f.language.unwrap_or_default(),
    }
}

pub(crate) fn words_of(segment: &Segment) -> Vec<WordMessage> {
    segment
        .words
        .iter()
        .map(|w| WordMessage {
            word: w.word.trim().to_owned(),
            start_ms: w.start_ms,
            end_ms: w.end_ms,
            confidence: w.confidence,
        })
        .collect()
}

fn admit_error(e: &AdmitError) -> ApiError {
    match e {
        AdmitError::AtCapacity(reason) => ws_error(
            ErrorCode::AtCapacity,
            format!("server at capacity ({reason}); try again later"),
        ),
        AdmitError::AlreadyAdmitted => {
            ws_error(ErrorCode::Conflict, "the stream is already connected")
        }
    }
}

fn oversize(kind: &str, limit: usize) -> ApiError {
    ws_error(
        ErrorCode::PolicyViolation,
        format!("{kind} message larger than the {limit}-byte limit"),
    )
}

/// A read that failed because a message exceeded the socket layer's size limit.
fn is_too_long(e: &axum::Error) -> bool {
    let text = e.to_string();
    text.contains("Space limit exceeded") || text.contains("too long") || text.contains("too big")
}

/// Why a session loop stopped.
enum Exit {
    /// CloseStream handled: everything final, closing metadata sent.
    Done,
    /// The bot went away (close, error, TCP gone) before CloseStream.
    Gone,
    /// A newer connection resumed the stream.
    TakenOver,
    /// The server is shutting down: close 1012 so the bot resumes after the restart.
    Restart,
    /// The server closes the session with this error.
    Refused(ApiError),
}

impl Opened {
    async fn run(self, app: AppState, mut socket: WebSocket) {
        let _gauge = Gauge::enter(&app.counters.bot_sessions, &app.counters.bot_sessions_total);
        if self.resumed {
            app.counters
                .bot_resumes_total
                .fetch_add(1, Ordering::Relaxed);
        }
        let Opened {
            scope,
            meeting,
            stream,
            resume_token,
            start,
            finals,
            resumed,
            input,
            handle,
            guard,
            feed,
        } = self;
        let limits = app.config.ws.clone();
        let origin_ms = start.origin_ms;
        let (driver, results) = match Driver::new(
            app.config.stream.clone(),
            start,
            handle,
            app.config.language.clone(),
        ) {
            Ok(d) => d,
            Err(e) => {
                let err = internal("stream session", &e);
                refuse(&mut socket, &err, limits.send_timeout).await;
                return;
            }
        };
        tracing::info!(
            stream_id = %stream.id, %meeting, resumed, origin_ms, "bot stream connected"
        );
        let mut s = Session {
            app: app.clone(),
            socket,
            scope,
            meeting,
            stream: stream.clone(),
            feed,
            driver,
            input,
            finals,
            partial: None,
            limits: limits.clone(),
        };
        let first = MetadataMessage {
            meeting_id: meeting.to_string(),
            stream_id: stream.id.to_string(),
            resume_token: resume_token.as_ref().map(|t| t.expose_secret().to_owned()),
            duration_ms: origin_ms,
            acked_audio_ms: stream.acked_audio_ms,
            segments: finals,
        };
        drop(resume_token);
        let exit = if s.send_msg(&ServerMessage::Metadata(first)).await {
            s.run_loop(results, &guard).await
        } else {
            Exit::Gone
        };
        s.end(exit).await;
        drop(guard);
    }
}

/// A running bot session.
struct Session {
    app: AppState,
    socket: WebSocket,
    scope: OrgScope,
    meeting: MeetingId,
    stream: Stream,
    feed: Arc<MeetingFeed>,
    driver: Driver,
    input: AudioInput,
    /// Finals of this stream so far (all sessions).
    finals: u64,
    /// The partial viewers see now, if any (its local segment number).
    partial: Option<u64>,
    limits: crate::config::WsLimits,
}

impl Session {
    async fn run_loop(
        &mut self,
        mut results: tokio::sync::mpsc::UnboundedReceiver<super::driver::DecodeDone>,
        guard: &ActiveGuard,
    ) -> Exit {
        let started = Instant::now();
        let session_deadline = tokio::time::Instant::now() + self.limits.session_max;
        let mut idle_deadline = tokio::time::Instant::now() + self.limits.idle_timeout;
        let mut text_bucket = RateBucket::new(self.limits.text_per_sec, started);
        let mut binary_bucket = RateBucket::new(self.limits.binary_per_sec, started);
        let mut ping = tokio::time::interval(self.limits.ping_interval);
        ping.tick().await;
        let mut last_pong = Instant::now();
        let mut shutting_down = self.app.shutting_down.clone();
        let mut audio_samples: u64 = 0;
        let mut closing = false;
        loop {
            let step = tokio::select! {
                biased;
                () = guard.stop.notified() => Err(Exit::TakenOver),
                () = stopping(&mut shutting_down) => Err(Exit::Restart),
                Some((id, result)) = results.recv() => {
                    let update = self.driver.on_result(id, &result);
                    self.emit(update).await
                }
                msg = self.socket.recv() => {
                    let now = Instant::now();
                    idle_deadline = tokio::time::Instant::now() + self.limits.idle_timeout;
                    match msg {
                        Some(Ok(Message::Binary(bytes))) => {
                            if !binary_bucket.take(now) {
                                Err(Exit::Refused(ws_error(
                                    ErrorCode::RateLimited,
                                    format!(
                                        "more than {} binary messages per second",
                                        self.limits.binary_per_sec
                                    ),
                                )))
                            } else if bytes.len() > self.limits.max_binary_bytes {
                                Err(Exit::Refused(oversize("binary", self.limits.max_binary_bytes)))
                            } else if closing {
                                Ok(()) // audio after CloseStream is ignored
                            } else {
                                match self.input.push(bytes).await {
                                    Err(e) => Err(Exit::Refused(ws_error(ErrorCode::InvalidAudio, e))),
                                    Ok(samples) => {
                                        audio_samples += samples.len() as u64;
                                        let ahead = Duration::from_millis(audio_samples / 16)
                                            .saturating_sub(started.elapsed());
                                        if ahead > self.limits.realtime_burst {
                                            Err(Exit::Refused(ws_error(
                                                ErrorCode::RateLimited,
                                                format!(
                                                    "audio is arriving faster than real time \
                                                     (more than {} s ahead)",
                                                    self.limits.realtime_burst.as_secs()
                                                ),
                                            )))
                                        } else {
                                            let update = self.driver.push_audio(&samples, now);
                                            self.emit(update).await
                                        }
                                    }
                                }
                            }
                        }
                        Some(Ok(Message::Text(text))) => {
                            if !text_bucket.take(now) {
                                Err(Exit::Refused(ws_error(
                                    ErrorCode::RateLimited,
                                    format!(
                                        "more than {} text messages per second",
                                        self.limits.text_per_sec
                                    ),
                                )))
                            } else if text.len() > self.limits.max_text_bytes {
                                Err(Exit::Refused(oversize("text", self.limits.max_text_bytes)))
                            } else {
                                match BotControl::parse(text.as_str()) {
                                    Err(e) => Err(Exit::Refused(ws_error(
                                        ErrorCode::BadRequest,
                                        e.to_string(),
                                    ))),
                                    Ok(BotControl::KeepAlive) => Ok(()),
                                    Ok(BotControl::Finalize) => {
                                        let update = self.driver.finalize();
                                        self.emit(update).await
                                    }
                                    Ok(BotControl::CloseStream) => {
                                        if closing {
                                            Ok(())
                                        } else {
                                            closing = true;
                                            match self.input.finish().await {
                                                Ok(last) => {
                                                    let update = self.driver.finish(&last, now);
                                                    self.emit(update).await
                                                }
                                                Err(e) => Err(Exit::Refused(ws_error(
                                                    ErrorCode::InvalidAudio,
                                                    e,
                                                ))),
                                            }
                                        }
                                    }
                                }
                            }
                        }
                        Some(Ok(Message::Pong(_))) => {
                            last_pong = now;
                            Ok(())
                        }
                        Some(Ok(Message::Ping(_))) => Ok(()),
                        Some(Err(e)) if is_too_long(&e) => Err(Exit::Refused(oversize(
                            "WebSocket",
                            self.limits.max_binary_bytes.max(self.limits.max_text_bytes),
                        ))),
                        Some(Ok(Message::Close(_))) | Some(Err(_)) | None => Err(Exit::Gone),
                    }
                }
                _ = ping.tick() => {
                    if last_pong.elapsed() > self.limits.ping_interval + self.limits.pong_timeout {
                        tracing::info!(stream_id = %self.stream.id, "bot did not answer pings");
                        Err(Exit::Gone)
                    } else if revoked(Arc::clone(&self.app.store), self.scope, self.stream.bot_id).await {
                        // Revoked on this or another server since it connected: the key no
                        // longer streams (checked at every ping, so within one interval).
                        tracing::info!(stream_id = %self.stream.id, "bot revoked; closing its session");
                        Err(Exit::Refused(ws_error(
                            ErrorCode::Unauthenticated,
                            "the bot was revoked",
                        )))
                    } else if self.send(Message::Ping(Vec::new().into())).await {
                        Ok(())
                    } else {
                        Err(Exit::Gone)
                    }
                }
                () = tokio::time::sleep_until(idle_deadline), if !closing => {
                    Err(Exit::Refused(ws_error(
                        ErrorCode::PolicyViolation,
                        format!(
                            "no audio or KeepAlive for {} s",
                            self.limits.idle_timeout.as_secs()
                        ),
                    )))
                }
                () = tokio::time::sleep_until(session_deadline) => {
                    Err(Exit::Refused(ws_error(
                        ErrorCode::PolicyViolation,
                        format!(
                            "session limit of {} s reached; resume with your token",
                            self.limits.session_max.as_secs()
                        ),
                    )))
                }
            };
            if let Err(exit) = step {
                return exit;
            }
            self.driver.pump();
            if closing && self.driver.is_done() {
                return Exit::Done;
            }
        }
    }

    /// Publishes an update: each final committed to the store (with the acknowledged audio)
    /// before it goes to viewers and the bot, then the partial.
    async fn emit(&mut self, update: Update) -> Result<(), Exit> {
        for f in update.finals {
            let counter = f.id.0;
            let msg = self.segment_message(counter, true, &f.segment);
            let new = NewFinal {
                segment_id: super::segment_wire_id(self.stream.id, counter),
                meeting_id: self.meeting,
                stream_id: self.stream.id,
                segment: f.segment,
                speaker: None,
                language: Some(self.app.config.language.clone()),
                acked_audio_ms: Some(self.driver.committed_ms()),
            };
            let store = Arc::clone(&self.app.store);
            let scope = self.scope;
            let frame = self
                .feed
                .publish(
                    msg,
                    |_| async move { store.append_final(&scope, new).await },
                )
                .await
                .map_err(|e| commit_failed("final commit", e))?;
            self.finals += 1;
            self.app
                .counters
                .finals_total
                .fetch_add(1, Ordering::Relaxed);
            if self.partial == Some(counter) {
                self.partial = None;
            }
            if !self.send(Message::Text(frame.json.as_ref().into())).await {
                return Err(Exit::Gone);
            }
        }
        if let Some(p) = update.partial {
            let counter = p.id.0;
            let withdrawn = p.is_withdrawal();
            let msg = self.segment_message(counter, false, &p.segment);
            let frame = self.publish_partial(msg).await?;
            self.partial = (!withdrawn).then_some(counter);
            if !self.send(Message::Text(frame.json.as_ref().into())).await {
                return Err(Exit::Gone);
            }
        }
        Ok(())
    }

    async fn publish_partial(&mut self, msg: SegmentMessage) -> Result<crate::hub::Frame, Exit> {
        let store = Arc::clone(&self.app.store);
        let (scope, meeting) = (self.scope, self.meeting);
        let frame = self
            .feed
            .publish(
                msg,
                |_| async move { store.allocate_seq(&scope, meeting).await },
            )
            .await
            .map_err(|e| commit_failed("seq allocation", e))?;
        self.app
            .counters
            .partials_total
            .fetch_add(1, Ordering::Relaxed);
        Ok(frame)
    }

    fn segment_message(&self, counter: u64, is_final: bool, segment: &Segment) -> SegmentMessage {
        SegmentMessage {
            meeting_id: self.meeting.to_string(),
            stream_id: self.stream.id.to_string(),
            segment_id: super::segment_wire_id(self.stream.id, counter).to_string(),
            seq: 0,
            is_final,
            start_ms: segment.start_ms,
            end_ms: segment.end_ms,
            text: segment.text.trim().to_owned(),
            words: words_of(segment),
            speaker: None,
            language: self.app.config.language.clone(),
        }
    }

    async fn send_msg(&mut self, msg: &ServerMessage) -> bool {
        self.send(Message::Text(msg.to_json().into())).await
    }

    async fn send(&mut self, msg: Message) -> bool {
        matches!(
            tokio::time::timeout(self.limits.send_timeout, self.socket.send(msg)).await,
            Ok(Ok(()))
        )
    }

    /// Ends the session: closing metadata and a normal close after CloseStream; otherwise the
    /// partial viewers still see is withdrawn, the acknowledged audio saved, and the stream
    /// left open for the bot to resume.
    async fn end(mut self, exit: Exit) {
        let scope = self.scope;
        let committed = self.driver.committed_ms();
        if let Err(e) = self
            .app
            .store
            .ack_stream_audio(&scope, self.stream.id, committed)
            .await
        {
            tracing::error!(error = %e, stream_id = %self.stream.id, "saving the acknowledged audio failed");
        }
        if !matches!(exit, Exit::Done) {
            if let Some(counter) = self.partial.take() {
                let empty = Segment {
                    start_ms: 0,
                    end_ms: 0,
                    text: String::new(),
                    words: Vec::new(),
                };
                let msg = self.segment_message(counter, false, &empty);
                let _ = self.publish_partial(msg).await;
            }
        }
        let Session {
            app,
            mut socket,
            stream,
            meeting,
            driver,
            finals,
            limits,
            ..
        } = self;
        let stream_id = stream.id;
        match exit {
            Exit::Done => {
                if let Err(e) = app.store.close_stream(&scope, stream_id).await {
                    tracing::error!(error = %e, %stream_id, "closing the stream failed");
                }
                let last = ServerMessage::Metadata(MetadataMessage {
                    meeting_id: meeting.to_string(),
                    stream_id: stream_id.to_string(),
                    resume_token: None,
                    duration_ms: driver.received_ms(),
                    acked_audio_ms: committed,
                    segments: finals,
                });
                // Free the scheduler slot before the closing handshake.
                driver.into_finished();
                super::close_gracefully(
                    &mut socket,
                    Some(last),
                    1000,
                    "stream closed",
                    limits.send_timeout,
                )
                .await;
                tracing::info!(%stream_id, finals, "bot stream closed");
            }
            Exit::Refused(err) => {
                drop(driver);
                app.counters.refused_total.fetch_add(1, Ordering::Relaxed);
                tracing::info!(%stream_id, code = %err.code, "bot session refused");
                refuse(&mut socket, &err, limits.send_timeout).await;
            }
            Exit::Gone => {
                drop(driver);
                tracing::info!(%stream_id, "bot disconnected; stream can resume");
            }
            Exit::Restart => {
                drop(driver);
                tracing::info!(%stream_id, "server shutting down; the bot can resume");
                super::close_gracefully(
                    &mut socket,
                    None,
                    1012,
                    "server restarting; resume with your token",
                    limits.send_timeout,
                )
                .await;
            }
            Exit::TakenOver => {
                drop(driver);
                tracing::info!(%stream_id, "bot stream taken over by a resumed connection");
                let _ = tokio::time::timeout(
                    limits.send_timeout,
                    super::close(&mut socket, 4008, "stream resumed on another connection"),
                )
                .await;
            }
        }
    }
}

/// A store write of the session failed: the meeting was deleted meanwhile (4004), or anything
/// else (internal, logged).
fn commit_failed(what: &str, e: StoreError) -> Exit {
    match e {
        StoreError::NotFound => {
            Exit::Refused(ws_error(ErrorCode::NotFound, "the meeting was deleted"))
        }
        other => Exit::Refused(internal(what, &other)),
    }
}
