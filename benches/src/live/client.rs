//! One simulated meeting: a viewer socket on the meeting, then a bot streaming the audio at
//! real-time pace on a monotonic schedule (PROTOCOL.md §1–2). Every send and every message that
//! arrives is recorded with its instant; the figures are worked out afterwards (`latency`).

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt as _, StreamExt as _};
use scribe_protocol::{BotControl, MetadataMessage, SegmentMessage, ServerMessage};
use tokio::sync::{oneshot, watch};
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::{Bytes, Message};

use super::server::BotAccount;

/// How long a bot waits for the server's first message.
const OPEN_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a viewer may take to deliver the finals the bot was told about.
const VIEWER_GRACE: Duration = Duration::from_secs(15);

/// What every bot of a run shares.
pub struct Shared {
    /// `ws://ADDR`.
    pub ws_base: String,
    /// The admin's access token, for the viewer sockets.
    pub token: String,
    /// The whole stream, PCM s16le 16 kHz mono.
    pub audio: Bytes,
    pub chunk_ms: u64,
    /// How long after `CloseStream` a bot waits for the closing `metadata`.
    pub drain_timeout: Duration,
}

impl Shared {
    fn chunk_bytes(&self) -> usize {
        (self.chunk_ms * 16 * 2) as usize
    }
}

/// One bot of a run.
pub struct BotJob {
    /// 0-based, in start order.
    pub index: usize,
    /// Started beyond the bots under test to probe admission (`--overload`).
    pub extra: bool,
    pub account: BotAccount,
    pub start_at: Instant,
}

/// A `segment` message and when it arrived.
pub struct Seen {
    pub at: Instant,
    pub msg: SegmentMessage,
}

/// How a bot's stream ended.
#[derive(Clone, Debug, serde::Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Outcome {
    /// Streamed everything, got the closing `metadata`.
    Completed,
    /// The server refused the stream with an error and this close code (4102: at capacity).
    Refused { code: u16, message: String },
    /// Anything else: connection failure, an unexpected close, a timeout.
    Failed { error: String },
}

/// Everything recorded about one bot and its meeting's viewer.
pub struct BotRecord {
    pub index: usize,
    pub extra: bool,
    pub outcome: Outcome,
    /// When the bot began connecting.
    pub started_at: Instant,
    /// The first `metadata` (stream open).
    pub opened_at: Option<Instant>,
    /// When each audio chunk had been sent; chunk `k` holds stream time
    /// `[k·chunk_ms, (k+1)·chunk_ms)`.
    pub sends: Vec<Instant>,
    pub close_sent_at: Option<Instant>,
    /// The closing `metadata` and when it arrived.
    pub closing: Option<(Instant, MetadataMessage)>,
    pub close_code: Option<u16>,
    /// Segments as the bot received them.
    pub bot_segments: Vec<Seen>,
    /// Segments as the meeting's viewer received them.
    pub viewer_segments: Vec<Seen>,
    pub viewer_error: Option<String>,
}

/// Runs one bot with its viewer.
pub async fn run(shared: Arc<Shared>, job: BotJob) -> BotRecord {
    tokio::time::sleep_until(job.start_at.into()).await;
    let mut rec = BotRecord {
        index: job.index,
        extra: job.extra,
        outcome: Outcome::Completed,
        started_at: Instant::now(),
        opened_at: None,
        sends: Vec::new(),
        close_sent_at: None,
        closing: None,
        close_code: None,
        bot_segments: Vec::new(),
        viewer_segments: Vec::new(),
        viewer_error: None,
    };
    let (ready_tx, ready_rx) = oneshot::channel();
    let (expect_tx, expect_rx) = watch::channel(None);
    let viewer = tokio::spawn(viewer(
        Arc::clone(&shared),
        job.account.meeting_id.clone(),
        ready_tx,
        expect_rx,
    ));
    match tokio::time::timeout(OPEN_TIMEOUT, ready_rx).await {
        Ok(Ok(Ok(()))) => stream(&shared, &job.account, &mut rec).await,
        Ok(Ok(Err(e))) => rec.outcome = failed(format!("viewer: {e}")),
        _ => rec.outcome = failed("viewer: no snapshot within 30 s"),
    }
    // The viewer is done once it has every final the stream produced.
    let finals = match &rec.closing {
        Some((_, m)) => m.segments,
        None => rec
            .bot_segments
            .iter()
            .filter(|s| s.msg.is_final)
            .map(|s| &s.msg.segment_id)
            .collect::<HashSet<_>>()
            .len() as u64,
    };
    let _ = expect_tx.send(Some(finals));
    match viewer.await {
        Ok((seen, err)) => {
            rec.viewer_segments = seen;
            rec.viewer_error = err;
        }
        Err(e) => rec.viewer_error = Some(format!("viewer task: {e}")),
    }
    rec
}

fn failed(error: impl Into<String>) -> Outcome {
    Outcome::Failed {
        error: error.into(),
    }
}

/// The bot: connect, wait for `metadata`, stream, `CloseStream`, wait for the closing
/// `metadata`.
async fn stream(shared: &Shared, account: &BotAccount, rec: &mut BotRecord) {
    let url = format!("{}/ws/audio/{}", shared.ws_base, account.meeting_id);
    let request = url.into_client_request().and_then(|mut r| {
        let h = r.headers_mut();
        h.insert("X-Bot-Id", header(&account.bot_id)?);
        h.insert(
            "Authorization",
            header(&format!("Bearer {}", account.api_key))?,
        );
        Ok(r)
    });
    let socket = match request {
        Ok(r) => tokio_tungstenite::connect_async(r).await,
        Err(e) => Err(e),
    };
    let (mut write, mut read) = match socket {
        Ok((ws, _)) => ws.split(),
        Err(e) => {
            rec.outcome = failed(format!("bot connect: {e}"));
            return;
        }
    };

    // The first message: metadata (admitted) or error + close (refused).
    let mut refusal: Option<String> = None;
    let opened = tokio::time::timeout(OPEN_TIMEOUT, async {
        while let Some(msg) = read.next().await {
            match msg {
                Ok(Message::Text(t)) => match serde_json::from_str::<ServerMessage>(t.as_str()) {
                    Ok(ServerMessage::Metadata(_)) => return Ok(()),
                    Ok(ServerMessage::Error(e)) => {
                        refusal = Some(format!("{}: {}", e.code, e.message))
                    }
                    _ => {}
                },
                Ok(Message::Close(frame)) => {
                    return Err(frame.map(|f| (u16::from(f.code), f.reason.as_str().to_owned())))
                }
                Ok(_) => {}
                Err(_) => break,
            }
        }
        Err(None)
    })
    .await;
    match opened {
        Ok(Ok(())) => rec.opened_at = Some(Instant::now()),
        Ok(Err(close)) => {
            let (code, reason) = close.unwrap_or((1006, String::new()));
            rec.close_code = Some(code);
            rec.outcome = Outcome::Refused {
                code,
                message: refusal.unwrap_or(reason),
            };
            return;
        }
        Err(_) => {
            rec.outcome = failed("no metadata within 30 s of connecting");
            return;
        }
    }

    let reader = tokio::spawn(async move {
        let mut segments = Vec::new();
        let mut closing = None;
        let mut code = None;
        let mut error = None;
        while let Some(msg) = read.next().await {
            let at = Instant::now();
            match msg {
                Ok(Message::Text(t)) => match serde_json::from_str::<ServerMessage>(t.as_str()) {
                    Ok(ServerMessage::Segment(s)) => segments.push(Seen { at, msg: s }),
                    Ok(ServerMessage::Metadata(m)) => closing = Some((at, m)),
                    Ok(ServerMessage::Error(e)) => {
                        error = Some(format!("{}: {}", e.code, e.message))
                    }
                    _ => {}
                },
                Ok(Message::Close(frame)) => {
                    code = Some(frame.map_or(1005, |f| u16::from(f.code)));
                    break;
                }
                Ok(_) => {}
                Err(e) => {
                    error.get_or_insert_with(|| format!("bot socket: {e}"));
                    break;
                }
            }
        }
        (segments, closing, code, error)
    });

    let bytes = shared.chunk_bytes();
    let chunks = shared.audio.len().div_ceil(bytes);
    let t0 = tokio::time::Instant::now();
    let mut send_error = None;
    for k in 0..chunks {
        tokio::time::sleep_until(t0 + Duration::from_millis(k as u64 * shared.chunk_ms)).await;
        if reader.is_finished() {
            send_error = Some("the server ended the session while audio was being sent".into());
            break;
        }
        let chunk = shared
            .audio
            .slice(k * bytes..((k + 1) * bytes).min(shared.audio.len()));
        if let Err(e) = write.send(Message::Binary(chunk)).await {
            send_error = Some(format!("sending audio: {e}"));
            break;
        }
        rec.sends.push(Instant::now());
    }
    if send_error.is_none() {
        match write
            .send(Message::Text(BotControl::CloseStream.to_json().into()))
            .await
        {
            Ok(()) => rec.close_sent_at = Some(Instant::now()),
            Err(e) => send_error = Some(format!("sending CloseStream: {e}")),
        }
    }
    let drained = tokio::time::timeout(shared.drain_timeout, reader).await;
    let _ = write.close().await;
    let (segments, closing, code, error) = match drained {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => (Vec::new(), None, None, Some(format!("reader task: {e}"))),
        Err(_) => {
            rec.outcome = failed(format!(
                "no closing metadata within {} s of CloseStream",
                shared.drain_timeout.as_secs()
            ));
            return;
        }
    };
    rec.bot_segments = segments;
    rec.closing = closing;
    rec.close_code = code;
    rec.outcome = match code.filter(|c| *c >= 4000) {
        _ if send_error.is_none() && rec.closing.is_some() => Outcome::Completed,
        Some(code) => Outcome::Refused {
            code,
            message: error.or(send_error).unwrap_or_default(),
        },
        None => failed(format!(
            "{}{}; close code {code:?}",
            send_error.unwrap_or_else(|| "no closing metadata".into()),
            error.map(|s| format!(" (server: {s})")).unwrap_or_default()
        )),
    };
}

fn header(value: &str) -> Result<HeaderValue, tokio_tungstenite::tungstenite::Error> {
    HeaderValue::from_str(value).map_err(|e| {
        tokio_tungstenite::tungstenite::Error::HttpFormat(
            tokio_tungstenite::tungstenite::http::Error::from(e),
        )
    })
}

/// The meeting's viewer: reports ready after the snapshot, records every `segment` until it has
/// the number of finals `expect` is set to (or a grace period after that is over).
async fn viewer(
    shared: Arc<Shared>,
    meeting: String,
    ready: oneshot::Sender<Result<(), String>>,
    mut expect: watch::Receiver<Option<u64>>,
) -> (Vec<Seen>, Option<String>) {
    let url = format!("{}/ws/transcription/{meeting}", shared.ws_base);
    let request = url.into_client_request().and_then(|mut r| {
        r.headers_mut().insert(
            "Authorization",
            header(&format!("Bearer {}", shared.token))?,
        );
        Ok(r)
    });
    let mut ws = match request {
        Ok(r) => match tokio_tungstenite::connect_async(r).await {
            Ok((ws, _)) => ws,
            Err(e) => {
                let _ = ready.send(Err(e.to_string()));
                return (Vec::new(), Some(format!("connect: {e}")));
            }
        },
        Err(e) => {
            let _ = ready.send(Err(e.to_string()));
            return (Vec::new(), Some(e.to_string()));
        }
    };
    let mut ready = Some(ready);
    let mut seen = Vec::new();
    let mut finals = HashSet::new();
    let mut deadline: Option<tokio::time::Instant> = None;
    let mut expect_open = true;
    let error = loop {
        if let Some(n) = *expect.borrow() {
            if finals.len() as u64 >= n {
                break None;
            }
            deadline.get_or_insert_with(|| tokio::time::Instant::now() + VIEWER_GRACE);
        }
        tokio::select! {
            msg = ws.next() => {
                let at = Instant::now();
                match msg {
                    Some(Ok(Message::Text(t))) => match serde_json::from_str::<ServerMessage>(t.as_str()) {
                        Ok(ServerMessage::Snapshot(_)) => {
                            if let Some(r) = ready.take() {
                                let _ = r.send(Ok(()));
                            }
                        }
                        Ok(ServerMessage::Segment(s)) => {
                            if s.is_final {
                                finals.insert(s.segment_id.clone());
                            }
                            seen.push(Seen { at, msg: s });
                        }
                        _ => {}
                    },
                    Some(Ok(Message::Close(frame))) => {
                        break Some(format!("closed by the server: {frame:?}"));
                    }
                    Some(Ok(_)) => {}
                    Some(Err(e)) => break Some(format!("viewer socket: {e}")),
                    None => break Some("viewer socket ended".into()),
                }
            }
            changed = expect.changed(), if expect_open => {
                expect_open = changed.is_ok();
            }
            () = sleep_until_opt(deadline) => {
                break Some(format!(
                    "{} of the stream's finals arrived within {} s of the bot's end",
                    finals.len(),
                    VIEWER_GRACE.as_secs()
                ));
            }
        }
    };
    if let Some(r) = ready.take() {
        let _ = r.send(Err(error.clone().unwrap_or_else(|| "no snapshot".into())));
    }
    let _ = ws.close(None).await;
    (seen, error)
}

async fn sleep_until_opt(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}
