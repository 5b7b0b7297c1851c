//! The live transcript page in a real headless Chromium: `tests/browser/live_page.mjs` signs in,
//! opens the meeting's live page and watches it (partials, finals, auto-scroll, a network cut
//! and the reconnect, CSP), while this test streams real speech into the meeting as a bot and
//! then hands the script the stored transcript the page must end with.
//!
//! Needs Debian's `chromium` and `nodejs`, and `npm ci --prefix tests/browser` (scripts/test
//! and scripts/ensure-deps see to all three); without them it fails saying so.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use e2e_tests::server::{login, setup, Server, Setup, ADMIN_PASSWORD};
use e2e_tests::{eval_dir, reference, wer};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

use crate::browser::{preflight, Browser};

/// About 10 s of speech.
const CLIP: &str = "ljspeech_LJ001-0001.flac";
/// 100 ms of 16 kHz mono s16le.
const CHUNK_BYTES: usize = 3200;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_in_user_watches_the_transcript_arrive_live_across_a_dropped_connection() {
    let script = preflight("live_page.mjs");
    let started = Instant::now();
    let dir = tempfile::tempdir().expect("tempdir");
    let set = setup(dir.path(), "Browser");
    let server = Server::start(dir.path(), &[]);
    let pcm = pcm_s16le(&eval_dir().join("dev").join(CLIP));

    let artifacts = std::env::temp_dir().join("nexus-scribe-live-page");
    let mut browser = Browser::start(
        &script,
        &[
            ("LIVE_BASE_URL", &server.http()),
            ("LIVE_EMAIL", &set.admin_email),
            ("LIVE_PASSWORD", ADMIN_PASSWORD),
            ("LIVE_MEETING_ID", &set.meeting_id),
            ("LIVE_MEETING_TITLE", "Test meeting"),
            ("LIVE_ARTIFACTS_DIR", &artifacts.to_string_lossy()),
        ],
    );
    browser.expect_line("READY", Duration::from_secs(60)).await;

    // The page's checks need lines arriving: on a slow machine the clip plays again until the
    // script has done them.
    let checked = Arc::new(AtomicBool::new(false));
    let mut bot = tokio::spawn(stream_as_bot(
        server.ws(),
        set.clone(),
        pcm,
        Arc::clone(&checked),
    ));
    let bot_ended_first = tokio::select! {
        _ = browser.expect_line("CHECKED", Duration::from_secs(90)) => None,
        ended = &mut bot => Some(ended),
    };
    match bot_ended_first {
        None => checked.store(true, Ordering::Relaxed),
        Some(Err(e)) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Some(_) => panic!(
            "the bot ended before the page's checks were done:\n{}",
            browser.stderr()
        ),
    }
    let (bot_finals, passes) = bot.await.expect("bot task");
    let token = login(&server, &set.admin_email);
    let stored = snapshot_finals(&server, &token, &set.meeting_id).await;
    assert_eq!(
        ids_and_texts(&bot_finals),
        ids_and_texts(&stored),
        "the stored transcript is what the bot was sent"
    );
    let text: Vec<&str> = stored.iter().filter_map(|s| s["text"].as_str()).collect();
    let expected = vec![reference(CLIP); passes].join(" ");
    let error_rate = wer(&expected, &text.join(" "));
    assert!(error_rate < 0.3, "WER {error_rate:.2}: {text:?}");

    let finals: Vec<Value> = ids_and_texts(&stored)
        .into_iter()
        .map(|(segment_id, text)| json!({ "segment_id": segment_id, "text": text }))
        .collect();
    browser.send(&json!({ "finals": finals }));
    let result = browser
        .expect_line("RESULT ", Duration::from_secs(60))
        .await;
    browser.expect_success(&server);
    let summary: Value = serde_json::from_str(&result).expect("RESULT is JSON");
    assert_eq!(summary["finals"], json!(stored.len()), "{summary}");
    assert!(
        summary["sockets"].as_u64() >= Some(2),
        "reconnected: {summary}"
    );
    eprintln!(
        "live page: {summary}; clip played {passes}x; whole test {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

/// The clip as 16 kHz mono s16le bytes.
fn pcm_s16le(path: &Path) -> Vec<u8> {
    let audio = audio_ingest::decode_file(path).expect("clip decodes");
    audio
        .samples
        .iter()
        .flat_map(|s| ((s.clamp(-1.0, 1.0) * 32767.0).round() as i16).to_le_bytes())
        .collect()
}

/// Streams `pcm` into the meeting in 100 ms chunks at real-time pace, again until `checked`
/// (three passes at most), closes the stream and returns the finals the bot got back and the
/// number of passes.
async fn stream_as_bot(
    ws_base: String,
    set: Setup,
    pcm: Vec<u8>,
    checked: Arc<AtomicBool>,
) -> (Vec<Value>, usize) {
    let mut req = format!("{ws_base}/ws/audio/{}", set.meeting_id)
        .into_client_request()
        .expect("bot request");
    let headers = req.headers_mut();
    headers.insert("X-Bot-Id", set.bot_id.parse().expect("header value"));
    headers.insert(
        "Authorization",
        format!("Bearer {}", set.api_key)
            .parse()
            .expect("header value"),
    );
    let (ws, _) = tokio_tungstenite::connect_async(req)
        .await
        .expect("bot connects");
    let (mut tx, mut rx) = ws.split();
    let first = next_json(&mut rx, Duration::from_secs(10)).await;
    assert_eq!(first["type"], "metadata", "first bot message: {first}");

    let reader = tokio::spawn(async move {
        let mut finals = Vec::new();
        loop {
            let msg = next_json(&mut rx, Duration::from_secs(60)).await;
            match msg["type"].as_str() {
                Some("segment") if msg["is_final"] == true => finals.push(msg),
                Some("segment") => {}
                Some("metadata") => return finals,
                _ => panic!("unexpected message to the bot: {msg}"),
            }
        }
    });
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    // After a stall (a loaded CI machine) keep the pace instead of bursting the missed chunks:
    // a burst beyond 50 messages per second is closed with 4029, as the protocol says.
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut passes = 0;
    while passes < 3 && (passes == 0 || !checked.load(Ordering::Relaxed)) {
        passes += 1;
        for chunk in pcm.chunks(CHUNK_BYTES) {
            tick.tick().await;
            tx.send(Message::Binary(chunk.to_vec().into()))
                .await
                .expect("audio sent");
        }
    }
    tx.send(Message::Text(r#"{"type":"CloseStream"}"#.into()))
        .await
        .expect("CloseStream sent");
    let finals = tokio::time::timeout(Duration::from_secs(60), reader)
        .await
        .expect("closing metadata within 60 s")
        .expect("bot reader");
    assert!(!finals.is_empty(), "the bot got no final");
    (finals, passes)
}

/// The next text message as JSON.
async fn next_json<S>(rx: &mut S, within: Duration) -> Value
where
    S: futures_util::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    loop {
        let msg = tokio::time::timeout(within, rx.next())
            .await
            .expect("a message in time")
            .expect("socket open")
            .expect("socket healthy");
        match msg {
            Message::Text(t) => return serde_json::from_str(&t).expect("JSON message"),
            Message::Close(c) => panic!("socket closed: {c:?}"),
            _ => {}
        }
    }
}

/// The finals of a fresh viewer snapshot (a non-browser client with the access token).
async fn snapshot_finals(server: &Server, token: &str, meeting_id: &str) -> Vec<Value> {
    let mut req = format!("{}/ws/transcription/{meeting_id}", server.ws())
        .into_client_request()
        .expect("viewer request");
    req.headers_mut().insert(
        "Authorization",
        format!("Bearer {token}").parse().expect("header value"),
    );
    let (mut ws, _) = tokio_tungstenite::connect_async(req)
        .await
        .expect("viewer connects");
    let snap = next_json(&mut ws, Duration::from_secs(10)).await;
    assert_eq!(snap["type"], "snapshot", "{snap}");
    let _ = ws.close(None).await;
    snap["segments"].as_array().cloned().unwrap_or_default()
}

fn ids_and_texts(segments: &[Value]) -> Vec<(String, String)> {
    segments
        .iter()
        .map(|s| {
            (
                s["segment_id"].as_str().unwrap_or_default().to_owned(),
                s["text"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}
