//! One connection driven over an in-memory socket with tokio's clock paused: the time rules
//! (keep-alive, Ctrl-C grace period, metadata and idle timeouts) and how each close is read.

use std::time::Duration;

use futures_util::{SinkExt as _, StreamExt as _};
use scribe_core::MonoAudio;
use tokio::io::DuplexStream;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode as WsCloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use super::*;

const CLOSE_STREAM: &str = r#"{"type":"CloseStream"}"#;
const KEEPALIVE: &str = r#"{"type":"KeepAlive"}"#;

type Server = WebSocketStream<DuplexStream>;
type Result = (anyhow::Result<End>, Progress, String);

struct Harness {
    server: Server,
    session: JoinHandle<Result>,
    interrupts: watch::Sender<u32>,
}

/// A session on `seconds` of audio in 100 ms chunks; `setup` may adjust the pacer first.
async fn start(
    seconds: usize,
    realtime: bool,
    progress: Progress,
    setup: fn(&mut Pacer),
) -> Harness {
    let (a, b) = tokio::io::duplex(1 << 20);
    let client = WebSocketStream::from_raw_socket(a, Role::Client, None).await;
    let server = WebSocketStream::from_raw_socket(b, Role::Server, None).await;
    // A level that changes every 10 ms, so an offset can be read back from the bytes.
    let samples: Vec<f32> = (0..seconds * 16_000)
        .map(|i| (i / 160 % 1000) as f32 / 1000.0)
        .collect();
    let audio = Audio::new(&MonoAudio::new(samples), 100);
    let (tx, mut rx) = watch::channel(0u32);
    let session = tokio::spawn(async move {
        let mut progress = progress;
        let mut pacer = Pacer::new(realtime, Duration::from_secs(5), Duration::from_millis(100));
        setup(&mut pacer);
        let mut printer = Printer::new(Vec::new());
        let end = run(
            client,
            &audio,
            &mut progress,
            &mut pacer,
            &mut rx,
            &mut printer,
        )
        .await;
        let out = String::from_utf8(printer.into_inner()).expect("utf-8");
        (end, progress, out)
    });
    Harness {
        server,
        session,
        interrupts: tx,
    }
}

fn metadata(acked_ms: u64) -> String {
    format!(
        r#"{{"type":"metadata","meeting_id":"m","stream_id":"s","resume_token":"t","duration_ms":{acked_ms},"acked_audio_ms":{acked_ms},"segments":0}}"#
    )
}

const FINAL: &str =
    r#"{"type":"metadata","meeting_id":"m","stream_id":"s","duration_ms":1200,"segments":2}"#;

async fn send(server: &mut Server, text: &str) {
    server.send(Message::text(text)).await.expect("send");
}

async fn close(server: &mut Server, code: u16) {
    let frame = CloseFrame {
        code: WsCloseCode::from(code),
        reason: "".into(),
    };
    server.close(Some(frame)).await.expect("close");
}

/// The next text frame from the bot, skipping audio.
async fn next_text(server: &mut Server) -> String {
    loop {
        match server.next().await {
            Some(Ok(Message::Text(t))) => return t.as_str().to_owned(),
            Some(Ok(_)) => {}
            other => panic!("socket ended: {other:?}"),
        }
    }
}

async fn next_binary(server: &mut Server) -> Vec<u8> {
    loop {
        match server.next().await {
            Some(Ok(Message::Binary(b))) => return b.to_vec(),
            Some(Ok(_)) => {}
            other => panic!("socket ended: {other:?}"),
        }
    }
}

async fn finish(h: Harness) -> Result {
    drop(h.server);
    h.session.await.expect("session task")
}

#[tokio::test(start_paused = true)]
async fn keepalive_every_5_s_while_audio_is_held_back() {
    // The real-time schedule starts 12 s from now (as if the file's first sample were due then).
    let mut h = start(1, true, Progress::default(), |p| {
        p.connected(Instant::now() + Duration::from_secs(12), 0);
    })
    .await;
    let t0 = Instant::now();
    send(&mut h.server, &metadata(0)).await;
    for n in 1..=2 {
        assert_eq!(next_text(&mut h.server).await, KEEPALIVE);
        assert_eq!(t0.elapsed().as_secs(), 5 * n);
    }
    next_binary(&mut h.server).await;
    assert_eq!(t0.elapsed().as_secs(), 12);
    assert_eq!(
        next_text(&mut h.server).await,
        CLOSE_STREAM,
        "no KeepAlive while audio flows"
    );
    send(&mut h.server, FINAL).await;
    close(&mut h.server, 1000).await;
    let (end, progress, out) = finish(h).await;
    assert_eq!(end.expect("ok"), End::Finished);
    assert_eq!(progress.final_duration_ms, Some(1200));
    assert_eq!(out, format!("{}\n{FINAL}\n", metadata(0)));
}

#[tokio::test(start_paused = true)]
async fn nothing_is_sent_before_the_opening_metadata() {
    let mut h = start(1, false, Progress::default(), |_| {}).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let early = tokio::time::timeout(Duration::from_millis(1), h.server.next()).await;
    assert!(early.is_err(), "the bot sent {early:?} before metadata");
    send(&mut h.server, &metadata(0)).await;
    assert_eq!(next_binary(&mut h.server).await.len(), 3_200);
}

#[tokio::test(start_paused = true)]
async fn ctrl_c_sends_close_stream_and_waits_10_s_for_the_final_metadata() {
    let mut h = start(60, true, Progress::default(), |_| {}).await;
    send(&mut h.server, &metadata(0)).await;
    for _ in 0..5 {
        next_binary(&mut h.server).await;
    }
    let t = Instant::now();
    h.interrupts.send_modify(|n| *n += 1);
    assert_eq!(next_text(&mut h.server).await, CLOSE_STREAM);
    // The server never answers: the bot leaves after 10 s, closing the socket itself.
    let ending = h.server.next().await;
    assert!(matches!(ending, Some(Ok(Message::Close(_)))), "{ending:?}");
    assert_eq!(t.elapsed().as_secs(), 10);
    let (end, progress, _) = finish(h).await;
    assert!(matches!(end.expect("ok"), End::Abandoned(why) if why.contains("10 s")));
    assert!(progress.next < 60 * 16_000, "stopped sending audio");
}

#[tokio::test(start_paused = true)]
async fn ctrl_c_then_final_metadata_is_a_clean_finish() {
    let mut h = start(60, true, Progress::default(), |_| {}).await;
    send(&mut h.server, &metadata(0)).await;
    next_binary(&mut h.server).await;
    h.interrupts.send_modify(|n| *n += 1);
    assert_eq!(next_text(&mut h.server).await, CLOSE_STREAM);
    send(&mut h.server, FINAL).await;
    close(&mut h.server, 1000).await;
    let (end, progress, _) = finish(h).await;
    assert_eq!(end.expect("ok"), End::Finished);
    assert!(progress.interrupted.is_some());
}

#[tokio::test(start_paused = true)]
async fn a_4xxx_close_is_final_and_1011_is_resumable() {
    for (code, refused) in [(4029, true), (4001, true), (1011, false), (1012, false)] {
        let mut h = start(30, false, Progress::default(), |_| {}).await;
        send(&mut h.server, &metadata(0)).await;
        next_binary(&mut h.server).await;
        let error = r#"{"type":"error","code":"rate_limited","message":"slow down"}"#;
        send(&mut h.server, error).await;
        close(&mut h.server, code).await;
        while h.server.next().await.is_some() {}
        let (end, _, out) = finish(h).await;
        let end = end.expect("ok");
        if refused {
            assert_eq!(end, End::Refused(code));
        } else {
            assert!(
                matches!(&end, End::Lost(why) if why.contains(&code.to_string())),
                "{end:?}"
            );
        }
        assert!(
            out.ends_with(&format!("{error}\n")),
            "error line printed: {out}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn a_normal_close_before_the_end_of_the_file_is_not_success() {
    let mut h = start(30, false, Progress::default(), |_| {}).await;
    send(&mut h.server, &metadata(0)).await;
    next_binary(&mut h.server).await;
    close(&mut h.server, 1000).await;
    let (end, _, _) = finish(h).await;
    assert_eq!(end.expect("ok"), End::EndedEarly);
}

#[tokio::test(start_paused = true)]
async fn silence_from_the_server_is_a_lost_connection() {
    // No opening metadata within 15 s.
    let h = start(1, false, Progress::default(), |_| {}).await;
    let t = Instant::now();
    let (end, _, _) = h.session.await.expect("task");
    assert!(matches!(end.expect("ok"), End::Lost(why) if why.contains("metadata")));
    assert_eq!(t.elapsed().as_secs(), 15);
    // Metadata, then nothing at all (not even a ping) for 75 s while the bot streams.
    let mut h = start(200, true, Progress::default(), |_| {}).await;
    send(&mut h.server, &metadata(0)).await;
    let t = Instant::now();
    let drain = tokio::spawn(async move { while h.server.next().await.is_some() {} });
    let (end, _, _) = h.session.await.expect("task");
    assert!(matches!(end.expect("ok"), End::Lost(why) if why.contains("75 s")));
    assert_eq!(t.elapsed().as_secs(), 75);
    drain.abort();
}

#[tokio::test(start_paused = true)]
async fn resumed_session_sends_from_acked_and_the_test_hook_fires_once() {
    let progress = Progress {
        resume_token: Some("t".into()),
        stream_id: Some("s".into()),
        next: 32_000,
        disconnect_at: Some(16_000),
        ..Progress::default()
    };
    let mut h = start(3, false, progress, |_| {}).await;
    send(&mut h.server, &metadata(600)).await;
    // acked 600 ms = sample 9600, whose level is 60 / 1000.
    let first = next_binary(&mut h.server).await;
    assert_eq!(first[..2], super::super::audio::to_pcm16(&[0.06]));
    let mut sent = first.len();
    loop {
        match h.server.next().await {
            Some(Ok(Message::Binary(b))) => sent += b.len(),
            Some(Ok(other)) => panic!("unexpected {other:?}"),
            // Dropped without a close frame once 1000 ms of stream time were reached.
            Some(Err(_)) | None => break,
        }
    }
    assert_eq!(sent, (16_000 - 9_600) * 2);
    let (end, progress, _) = finish(h).await;
    assert!(matches!(end.expect("ok"), End::Lost(why) if why.contains("disconnect")));
    assert_eq!(progress.disconnect_at, None, "the hook fires once");
    assert_eq!((progress.next, progress.acked_ms), (16_000, 600));
}
