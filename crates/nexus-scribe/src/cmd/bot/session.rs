//! One connection's life: wait for the opening `metadata`, send audio when the pacer says it is
//! due, print every text frame, and report how the connection ended.

use std::io::Write;
use std::time::Duration;

use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt as _, StreamExt as _};
use scribe_protocol::{BotControl, MetadataMessage};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::{sleep_until, timeout, Instant};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode as WsCloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use super::audio::Audio;
use super::close::{classify, meaning, CloseKind};
use super::output::{classify as classify_frame, Frame, Printer};
use super::pacing::{ms_of, resume_sample, Pacer};

/// The opening `metadata` must arrive this soon after the handshake.
const METADATA_TIMEOUT: Duration = Duration::from_secs(15);
/// Send `KeepAlive` when nothing was sent for this long.
const KEEPALIVE_AFTER: Duration = Duration::from_secs(5);
/// The server pings every 30 s; this long without any frame means the connection is dead.
const IDLE_TIMEOUT: Duration = Duration::from_secs(75);
/// A send that does not complete in this time means the connection is dead.
const SEND_TIMEOUT: Duration = Duration::from_secs(30);
/// After the final `metadata`, how long to wait for the server's close frame.
const CLOSE_WAIT: Duration = Duration::from_secs(10);
/// After Ctrl-C, how long to wait for the final `metadata`.
pub const INTERRUPT_WAIT: Duration = Duration::from_secs(10);
/// When a connection fails, how long to keep reading frames already on their way (the `error`
/// message and close frame that explain the failure).
const DRAIN_WAIT: Duration = Duration::from_secs(2);

/// What carries over from one connection to the next.
#[derive(Default)]
pub struct Progress {
    /// The newest resume token the server gave (or `--resume-token`). Never logged.
    pub resume_token: Option<String>,
    /// The next sample to send.
    pub next: usize,
    /// Test hook: once the audio sent reaches this sample, drop the connection without a close.
    pub disconnect_at: Option<usize>,
    /// Set on Ctrl-C: when to stop waiting for the final `metadata`.
    pub interrupted: Option<Instant>,
    /// The largest `acked_audio_ms` the server reported.
    pub acked_ms: u64,
    /// The stream this bot feeds, once known.
    pub stream_id: Option<String>,
    /// When the current connection received its opening `metadata`.
    pub opened_at: Option<Instant>,
    /// Stream time of the final `metadata`.
    pub final_duration_ms: Option<u64>,
}

/// How a connection ended.
#[derive(Debug, PartialEq, Eq)]
pub enum End {
    /// The final `metadata` arrived: the stream is complete.
    Finished,
    /// The connection broke before the final `metadata`; resume with the token.
    Lost(String),
    /// The server closed with a code that resuming cannot fix.
    Refused(u16),
    /// The server closed normally before the bot sent `CloseStream`.
    EndedEarly,
    /// Ctrl-C, and the stream could not be closed cleanly.
    Abandoned(&'static str),
}

/// What the reading task reports.
enum Event {
    Text(String),
    /// Any other frame (ping, pong, binary): the connection is alive.
    Alive,
    Close(u16),
    Lost(String),
}

/// Runs one connection to its end. Errors are local failures (standard output closed).
pub async fn run<S, W>(
    ws: WebSocketStream<S>,
    audio: &Audio,
    progress: &mut Progress,
    pacer: &mut Pacer,
    interrupts: &mut watch::Receiver<u32>,
    printer: &mut Printer<W>,
) -> anyhow::Result<End>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    W: Write,
{
    let (sink, stream) = ws.split();
    let (tx, events) = mpsc::channel(64);
    let reader = tokio::spawn(read_frames(stream, tx));
    let now = Instant::now();
    let mut conn = Conn {
        sink,
        events,
        reader,
        audio,
        progress,
        pacer,
        printer,
        opened: false,
        close_sent: false,
        close_received: false,
        final_seen: None,
        connected_at: now,
        last_in: now,
        last_out: now,
    };
    let end = conn.drive(interrupts).await?;
    if conn.close_received {
        conn.wait_for_close().await;
    }
    Ok(end)
}

struct Conn<'a, S, W: Write> {
    sink: SplitSink<WebSocketStream<S>, Message>,
    events: mpsc::Receiver<Event>,
    reader: JoinHandle<()>,
    audio: &'a Audio,
    progress: &'a mut Progress,
    pacer: &'a mut Pacer,
    printer: &'a mut Printer<W>,
    /// The opening `metadata` arrived: audio may flow.
    opened: bool,
    close_sent: bool,
    /// The server sent a close frame: the reader is answering it.
    close_received: bool,
    /// When the final `metadata` arrived.
    final_seen: Option<Instant>,
    connected_at: Instant,
    last_in: Instant,
    last_out: Instant,
}

impl<S, W: Write> Drop for Conn<'_, S, W> {
    fn drop(&mut self) {
        // Dropping both halves closes the socket; a close handshake, if any, is already done.
        self.reader.abort();
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin, W: Write> Conn<'_, S, W> {
    async fn drive(&mut self, interrupts: &mut watch::Receiver<u32>) -> anyhow::Result<End> {
        loop {
            let sending = self.opened && !self.close_sent && self.progress.interrupted.is_none();
            let next_send = sending.then(|| {
                let from = self.progress.next;
                self.pacer.due(from, self.audio.chunk_len(from))
            });
            let keepalive =
                (self.opened && !self.close_sent).then_some(self.last_out + KEEPALIVE_AFTER);
            let deadline = self.deadline();
            tokio::select! {
                biased;
                event = self.events.recv() => {
                    if let Some(end) = self.on_event(event)? {
                        return Ok(end);
                    }
                }
                changed = interrupts.changed(), if changed_possible(interrupts) => {
                    if changed.is_ok() {
                        let count = *interrupts.borrow_and_update();
                        if let Some(end) = self.on_interrupt(count).await? {
                            return Ok(end);
                        }
                    }
                }
                () = at(next_send) => {
                    if let Some(end) = self.send_next().await? {
                        return Ok(end);
                    }
                }
                () = at(keepalive) => {
                    if let Err(why) = self.send(Message::text(BotControl::KeepAlive.to_json())).await {
                        return self.drain(why).await;
                    }
                }
                () = sleep_until(deadline) => {
                    return self.on_deadline().await;
                }
            }
        }
    }

    /// The earliest time something must happen even if nothing arrives.
    fn deadline(&self) -> Instant {
        let mut d = self.last_in + IDLE_TIMEOUT;
        if !self.opened {
            d = d.min(self.connected_at + METADATA_TIMEOUT);
        }
        if let Some(t) = self.progress.interrupted {
            d = d.min(t);
        }
        if let Some(t) = self.final_seen {
            d = d.min(t + CLOSE_WAIT);
        }
        d
    }

    async fn on_deadline(&mut self) -> anyhow::Result<End> {
        let now = Instant::now();
        if self.final_seen.is_some() {
            tracing::warn!("no close frame after the final metadata; closing");
            let _ = self.close_politely().await;
            return Ok(End::Finished);
        }
        if self.progress.interrupted.is_some_and(|t| now >= t) {
            let _ = self.close_politely().await;
            return Ok(End::Abandoned(
                "interrupted: no final metadata within 10 s; leaving without it",
            ));
        }
        if !self.opened {
            return Ok(End::Lost(format!(
                "no metadata from the server within {} s of connecting",
                METADATA_TIMEOUT.as_secs()
            )));
        }
        Ok(End::Lost(format!(
            "nothing from the server for {} s",
            IDLE_TIMEOUT.as_secs()
        )))
    }

    /// Handles what the reader saw. `None` means the connection goes on.
    fn on_event(&mut self, event: Option<Event>) -> anyhow::Result<Option<End>> {
        self.last_in = Instant::now();
        let event = event.unwrap_or_else(|| Event::Lost("connection closed".into()));
        Ok(match event {
            Event::Text(text) => {
                self.printer.frame(&text)?;
                match classify_frame(&text) {
                    Frame::Metadata(m) => self.on_metadata(m),
                    Frame::Error(e) => tracing::warn!(code = %e.code, "server sent an error"),
                    Frame::Other => {}
                }
                None
            }
            Event::Alive => None,
            Event::Close(code) => {
                self.close_received = true;
                Some(self.on_close(code))
            }
            Event::Lost(why) if self.final_seen.is_some() => {
                tracing::debug!(why, "connection ended after the final metadata");
                Some(End::Finished)
            }
            Event::Lost(why) => Some(End::Lost(why)),
        })
    }

    fn on_metadata(&mut self, m: MetadataMessage) {
        let p = &mut *self.progress;
        p.acked_ms = p.acked_ms.max(m.acked_audio_ms);
        if let Some(token) = m.resume_token {
            p.resume_token = Some(token);
        }
        if !self.opened {
            self.opened = true;
            let now = Instant::now();
            let from = resume_sample(m.acked_audio_ms, self.audio.samples());
            if p.stream_id.as_ref().is_some_and(|s| *s != m.stream_id) {
                tracing::warn!(
                    previous = p.stream_id.as_deref().unwrap_or_default(),
                    stream_id = %m.stream_id,
                    "the server continued under a different stream id"
                );
            }
            if p.stream_id.is_some() && from > p.next {
                tracing::warn!(
                    acked_audio_ms = m.acked_audio_ms,
                    sent_ms = ms_of(p.next),
                    "the server acknowledges more audio than this bot sent"
                );
            }
            if p.stream_id.is_some() || m.acked_audio_ms > 0 {
                tracing::info!(
                    stream_id = %m.stream_id,
                    acked_audio_ms = m.acked_audio_ms,
                    from_ms = ms_of(from),
                    "stream resumed"
                );
            } else {
                tracing::info!(stream_id = %m.stream_id, "stream opened");
            }
            if from >= self.audio.samples() && self.audio.samples() > 0 {
                tracing::info!("the server already has all of the file");
            }
            p.stream_id = Some(m.stream_id);
            p.next = from;
            p.opened_at = Some(now);
            self.pacer.connected(now, from);
        } else if self.close_sent {
            tracing::info!(
                stream_id = %m.stream_id,
                duration_ms = m.duration_ms,
                segments = m.segments,
                "stream closed"
            );
            p.final_duration_ms = Some(m.duration_ms);
            self.final_seen = Some(Instant::now());
        }
    }

    fn on_close(&mut self, code: u16) -> End {
        match classify(code) {
            _ if self.final_seen.is_some() => End::Finished,
            CloseKind::Normal if self.close_sent => {
                tracing::warn!("the server closed the stream without a final metadata");
                End::Finished
            }
            CloseKind::Normal => End::EndedEarly,
            CloseKind::Resume => {
                End::Lost(format!("server closed with {code} ({})", meaning(code)))
            }
            CloseKind::Final => End::Refused(code),
        }
    }

    async fn on_interrupt(&mut self, count: u32) -> anyhow::Result<Option<End>> {
        if count >= 2 {
            return Ok(Some(End::Abandoned(
                "interrupted twice: leaving without the final metadata",
            )));
        }
        if count == 0 || self.progress.interrupted.is_some() {
            return Ok(None);
        }
        if !self.opened {
            return Ok(Some(End::Abandoned("interrupted before the stream opened")));
        }
        tracing::info!(
            sent_ms = ms_of(self.progress.next),
            "interrupted: closing the stream (Ctrl-C again to leave at once)"
        );
        self.progress.interrupted = Some(Instant::now() + INTERRUPT_WAIT);
        if !self.close_sent {
            if let Err(why) = self.send_close_stream().await {
                return self.drain(why).await.map(Some);
            }
        }
        Ok(None)
    }

    /// Sends the audio that is due, or `CloseStream` after the last of it.
    async fn send_next(&mut self) -> anyhow::Result<Option<End>> {
        let from = self.progress.next;
        let len = self.audio.chunk_len(from);
        if len == 0 {
            if let Err(why) = self.send_close_stream().await {
                return self.drain(why).await.map(Some);
            }
            return Ok(None);
        }
        let bytes = self.audio.bytes(from, len).to_vec();
        if let Err(why) = self.send(Message::binary(bytes)).await {
            return self.drain(why).await.map(Some);
        }
        self.progress.next = from + len;
        if let Some(at) = self.progress.disconnect_at {
            if self.progress.next >= at {
                self.progress.disconnect_at = None;
                tracing::info!(
                    sent_ms = ms_of(self.progress.next),
                    "test hook: dropping the connection without a close frame"
                );
                return Ok(Some(End::Lost("dropped by --disconnect-after-ms".into())));
            }
        }
        Ok(None)
    }

    async fn send_close_stream(&mut self) -> Result<(), String> {
        self.send(Message::text(BotControl::CloseStream.to_json()))
            .await?;
        self.close_sent = true;
        tracing::debug!(sent_ms = ms_of(self.progress.next), "sent CloseStream");
        Ok(())
    }

    async fn send(&mut self, msg: Message) -> Result<(), String> {
        match timeout(SEND_TIMEOUT, self.sink.send(msg)).await {
            Ok(Ok(())) => {
                let now = Instant::now();
                self.last_out = now;
                self.pacer.sent(now);
                Ok(())
            }
            Ok(Err(e)) => Err(format!("sending failed: {e}")),
            Err(_) => Err(format!("sending stalled for {} s", SEND_TIMEOUT.as_secs())),
        }
    }

    /// A send failed: frames already received may say why (an `error` message and a close code).
    async fn drain(&mut self, why: String) -> anyhow::Result<End> {
        let until = Instant::now() + DRAIN_WAIT;
        while let Ok(event) = tokio::time::timeout_at(until, self.events.recv()).await {
            match event {
                None | Some(Event::Lost(_)) => break,
                Some(event) => {
                    if let Some(end) = self.on_event(Some(event))? {
                        return Ok(end);
                    }
                }
            }
        }
        Ok(if self.final_seen.is_some() {
            End::Finished
        } else {
            End::Lost(why)
        })
    }

    /// After the server's close frame: let the reader send the close reply and see the socket
    /// end.
    async fn wait_for_close(&mut self) {
        let _ = timeout(DRAIN_WAIT, &mut self.reader).await;
    }

    async fn close_politely(&mut self) -> Result<(), String> {
        let frame = CloseFrame {
            code: WsCloseCode::Normal,
            reason: "".into(),
        };
        self.send(Message::Close(Some(frame))).await
    }
}

/// Reads frames until the socket ends and forwards what matters, in order.
async fn read_frames<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: SplitStream<WebSocketStream<S>>,
    tx: mpsc::Sender<Event>,
) {
    let mut closed = false;
    while let Some(msg) = stream.next().await {
        let event = match msg {
            Ok(Message::Text(text)) => Event::Text(text.as_str().to_owned()),
            Ok(Message::Close(frame)) => {
                closed = true;
                // A close without a status code is a deliberate, normal close.
                Event::Close(frame.map_or(1000, |f| u16::from(f.code)))
            }
            Ok(_) => Event::Alive,
            Err(e) => Event::Lost(format!("connection lost: {e}")),
        };
        if tx.send(event).await.is_err() {
            return;
        }
    }
    // Keep polling after a close frame so the reply goes out; report a silent end otherwise.
    if !closed {
        let _ = tx
            .send(Event::Lost(
                "connection closed without a close frame".into(),
            ))
            .await;
    }
}

/// Sleeps until `t`, or forever when there is nothing to wait for.
async fn at(t: Option<Instant>) {
    match t {
        Some(t) => sleep_until(t).await,
        None => std::future::pending().await,
    }
}

/// `changed()` on a watch whose sender is gone resolves at once with an error: stop polling it.
fn changed_possible(rx: &watch::Receiver<u32>) -> bool {
    rx.has_changed().is_ok()
}

#[cfg(test)]
#[path = "session_tests.rs"]
mod tests;
