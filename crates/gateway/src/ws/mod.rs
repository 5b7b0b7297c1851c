//! The two WebSockets of PROTOCOL.md: bot audio in ([`bot`]) and live transcripts out
//! ([`viewer`]), with what they share: refusing with an `error` message and a 4xxx close code,
//! per-connection message-rate buckets, and the registry of connected bot streams.

pub mod bot;
mod driver;
mod ids;
pub mod viewer;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use scribe_core::{ErrorCode, StreamId};
use scribe_protocol::{ErrorMessage, ServerMessage};
use tokio::sync::{watch, Notify};

use crate::error::ApiError;

pub use ids::{segment_wire_id, wire_segment_counter};

/// Resolves once the server is shutting down.
pub(crate) async fn stopping(flag: &mut watch::Receiver<bool>) {
    if flag.wait_for(|s| *s).await.is_err() {
        // The state (and its sender) is gone: nothing will ever say stop.
        std::future::pending::<()>().await;
    }
}

/// How long a closing handshake waits for the peer's close frame.
const CLOSE_WAIT: Duration = Duration::from_secs(2);

/// Sends `{"type":"error"}` naming the problem, then a close frame with the code's 4xxx value,
/// and waits briefly for the peer's close (reading, and discarding, what it still sends):
/// closing the TCP connection with unread data would reset it and the peer might never see the
/// close code. Best effort: the peer may already be gone.
pub(crate) async fn refuse(socket: &mut WebSocket, err: &ApiError, send_timeout: Duration) {
    let msg = ServerMessage::Error(ErrorMessage {
        code: err.code.as_str().to_owned(),
        message: err.message.clone(),
    });
    close_gracefully(
        socket,
        Some(msg),
        err.code.ws_close_code(),
        &err.message,
        send_timeout,
    )
    .await;
}

/// Sends `last` (if any) and a close frame with `code` within `send_timeout`, then completes
/// the closing handshake ([`await_close`]).
pub(crate) async fn close_gracefully(
    socket: &mut WebSocket,
    last: Option<ServerMessage>,
    code: u16,
    reason: &str,
    send_timeout: Duration,
) {
    let sent = tokio::time::timeout(send_timeout, async {
        if let Some(msg) = last {
            socket.send(Message::Text(msg.to_json().into())).await?;
        }
        close(socket, code, reason).await
    })
    .await;
    if matches!(sent, Ok(Ok(()))) {
        await_close(socket).await;
    }
}

/// Reads until the peer's close frame, an error, or [`CLOSE_WAIT`].
pub(crate) async fn await_close(socket: &mut WebSocket) {
    let _ = tokio::time::timeout(CLOSE_WAIT, async {
        while let Some(Ok(msg)) = socket.recv().await {
            if matches!(msg, Message::Close(_)) {
                break;
            }
        }
    })
    .await;
}

/// Sends a close frame. The reason is cut to fit a control frame (123 bytes).
pub(crate) async fn close(
    socket: &mut WebSocket,
    code: u16,
    reason: &str,
) -> Result<(), axum::Error> {
    let mut end = reason.len().min(120);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    socket
        .send(Message::Close(Some(CloseFrame {
            code,
            reason: Utf8Bytes::from(&reason[..end]),
        })))
        .await
}

/// An error for a WebSocket session, mapped to its close code by [`refuse`].
pub(crate) fn ws_error(code: ErrorCode, message: impl Into<String>) -> ApiError {
    ApiError::new(code, message)
}

/// A token bucket of one connection: `rate` messages per second with a burst of `rate`.
#[derive(Debug)]
pub(crate) struct RateBucket {
    rate: f64,
    tokens: f64,
    last: Instant,
}

impl RateBucket {
    pub fn new(per_sec: u32, now: Instant) -> Self {
        let rate = f64::from(per_sec.max(1));
        Self {
            rate,
            tokens: rate,
            last: now,
        }
    }

    /// Takes one token; `false` when the connection is over its rate.
    pub fn take(&mut self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + elapsed * self.rate).min(self.rate);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// Bot streams connected to this process. A bot that resumes while its old connection still
/// looks alive (a half-open TCP connection) takes the stream over: the old session is told to
/// stop and the new one waits until it has ended, so its acknowledged position is final.
#[derive(Default)]
pub struct ActiveStreams {
    streams: Mutex<HashMap<StreamId, ActiveEntry>>,
}

struct ActiveEntry {
    stop: Arc<Notify>,
    ended: watch::Receiver<bool>,
    generation: u64,
}

/// A connected stream's registration; dropping it marks the session ended.
pub(crate) struct ActiveGuard {
    registry: Arc<ActiveStreams>,
    stream: StreamId,
    generation: u64,
    ended: watch::Sender<bool>,
    pub stop: Arc<Notify>,
}

impl ActiveStreams {
    /// Registers `stream` as connected here, first stopping (and waiting up to `wait` for) a
    /// session that still holds it. `None` if the old session did not end in time.
    pub(crate) async fn take_over(
        self: &Arc<Self>,
        stream: StreamId,
        wait: Duration,
    ) -> Option<ActiveGuard> {
        let previous = {
            let streams = self.streams.lock().unwrap_or_else(PoisonError::into_inner);
            streams
                .get(&stream)
                .map(|e| (Arc::clone(&e.stop), e.ended.clone()))
        };
        if let Some((stop, mut ended)) = previous {
            stop.notify_one();
            let done = tokio::time::timeout(wait, ended.wait_for(|e| *e)).await;
            if done.is_err() {
                return None;
            }
        }
        let (tx, rx) = watch::channel(false);
        let stop = Arc::new(Notify::new());
        let mut streams = self.streams.lock().unwrap_or_else(PoisonError::into_inner);
        let generation = streams.get(&stream).map_or(0, |e| e.generation + 1);
        streams.insert(
            stream,
            ActiveEntry {
                stop: Arc::clone(&stop),
                ended: rx,
                generation,
            },
        );
        Some(ActiveGuard {
            registry: Arc::clone(self),
            stream,
            generation,
            ended: tx,
            stop,
        })
    }

    /// Streams connected now.
    pub fn len(&self) -> usize {
        self.streams
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// True when no stream is connected.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Drop for ActiveGuard {
    fn drop(&mut self) {
        {
            let mut streams = self
                .registry
                .streams
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if streams
                .get(&self.stream)
                .is_some_and(|e| e.generation == self.generation)
            {
                streams.remove(&self.stream);
            }
        }
        let _ = self.ended.send(true);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_allows_its_rate_and_refills() {
        let t0 = Instant::now();
        let mut b = RateBucket::new(5, t0);
        assert!((0..5).all(|_| b.take(t0)));
        assert!(!b.take(t0));
        assert!(b.take(t0 + Duration::from_millis(250)));
        assert!(!b.take(t0 + Duration::from_millis(260)));
    }

    #[tokio::test]
    async fn a_resume_takes_the_stream_over_once_the_old_session_ends() {
        let reg = Arc::new(ActiveStreams::default());
        let id = StreamId::generate();
        let first = reg
            .take_over(id, Duration::from_secs(1))
            .await
            .expect("free");
        let stop = Arc::clone(&first.stop);
        let old = tokio::spawn(async move {
            stop.notified().await;
            drop(first);
        });
        let second = reg.take_over(id, Duration::from_secs(1)).await;
        assert!(second.is_some());
        old.await.expect("old session ended");
        assert_eq!(reg.len(), 1);
        drop(second);
        assert!(reg.is_empty());
    }
}
