//! Durability under a crash: the server is killed with SIGKILL while three bots stream; after
//! a restart every final any viewer had received is in the stored transcript, in order,
//! exactly once, and the bots resume from their acknowledged audio and finish.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use e2e_tests::server::{create_meeting_env, http_get, login, setup_env, Server};
use e2e_tests::{reference, wer};
use futures_util::SinkExt as _;
use tokio_tungstenite::tungstenite::Message;
use transcript_storage::conformance::postgres::fresh_database;

use crate::live::{
    bot_until_closed_meta, connect_bot, connect_viewer, fired, next_json, pcm, stream_audio, watch,
    CLIP,
};

/// Three live streams on a two-core machine: admit them all and let them lag.
const ENV: [(&str, &str); 3] = [
    ("NEXUS_SCRIBE__SCHEDULER__MAX_STREAMS", "3"),
    ("NEXUS_SCRIBE__SCHEDULER__MAX_LAG_MS", "60000"),
    ("NEXUS_SCRIBE__SCHEDULER__MAX_QUEUE_WAIT_MS", "60000"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_while_three_bots_stream_loses_and_repeats_no_final_and_the_bots_resume() {
    kill_9_while_three_bots_stream(&ENV).await;
}

/// The same on PostgreSQL: the database, not the data folder, must hold everything.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_on_postgres_loses_and_repeats_no_final_and_the_bots_resume() {
    let url = fresh_database("e2e_durability");
    let mut env = ENV.to_vec();
    env.push(("NEXUS_SCRIBE__STORAGE__BACKEND", "postgres"));
    env.push(("NEXUS_SCRIBE__STORAGE__POSTGRES_URL", &url));
    kill_9_while_three_bots_stream(&env).await;
}

async fn kill_9_while_three_bots_stream(env: &[(&str, &str)]) {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = setup_env(dir.path(), "Council", env);
    let meetings = vec![
        s.meeting_id.clone(),
        create_meeting_env(dir.path(), "Council", env),
        create_meeting_env(dir.path(), "Council", env),
    ];
    let mut server = Server::start(dir.path(), env);
    let token = login(&server, &s.admin_email);
    let audio = pcm(CLIP);

    // A viewer per meeting, watching until the crash cuts it off (however long the first
    // words take on a loaded machine).
    let crash = Arc::new(tokio::sync::Notify::new());
    let mut viewers = Vec::new();
    for m in &meetings {
        let ws = connect_viewer(&server, &token, m, "").await;
        viewers.push(tokio::spawn(watch(ws, Arc::clone(&crash))));
    }
    // Three bots stream 6 s of speech each, at real-time pace, at the same time.
    let mut bots = Vec::new();
    for m in &meetings {
        let mut bot = connect_bot(&server, &s, m, "").await;
        let meta = next_json(&mut bot).await.expect("metadata");
        let resume = meta["resume_token"].as_str().expect("token").to_owned();
        let audio = audio.clone();
        bots.push((
            resume,
            tokio::spawn(async move {
                stream_audio(&mut bot, &audio, 0, Some(6_000)).await;
                bot
            }),
        ));
    }
    let mut tokens = Vec::new();
    // Held open (not closed) when the server dies.
    let mut held = Vec::new();
    for (resume, task) in bots {
        held.push(task.await.expect("bot streamed"));
        tokens.push(resume);
    }
    // On a loaded machine the finals can lag the audio: kill only once every meeting has a
    // stored final (and so its viewer has it or is about to), within a generous bound.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    for m in &meetings {
        loop {
            let (status, body) = http_get(
                &server,
                &format!("/api/v1/meetings/{m}/transcript"),
                Some(&token),
            );
            let stored: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
            if status == 200 && stored["segments"].as_array().is_some_and(|s| !s.is_empty()) {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no final stored for meeting {m} within 60 s"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    crash.notify_waiters();
    server.kill(); // SIGKILL: no shutdown, no flushing, no goodbye.
    drop(held);
    let mut seen_before = Vec::new();
    for v in viewers {
        let view = tokio::time::timeout(Duration::from_secs(20), v)
            .await
            .expect("viewer ends when the server dies")
            .expect("viewer task");
        seen_before.push(view.finals);
    }
    assert!(
        seen_before.iter().all(|f| !f.is_empty()),
        "every viewer saw finals before the crash"
    );

    // Restart on the same folder; each bot resumes from what was acknowledged.
    let server = Server::start(dir.path(), env);
    let mut resumed = Vec::new();
    for (m, resume) in meetings.iter().zip(&tokens) {
        let mut bot = connect_bot(&server, &s, m, &format!("?resume_token={resume}")).await;
        let meta = next_json(&mut bot).await.expect("metadata after the crash");
        let acked = meta["acked_audio_ms"].as_u64().expect("acked");
        assert!(acked > 0, "the acknowledged position survived the crash");
        let audio = audio.clone();
        resumed.push(tokio::spawn(async move {
            stream_audio(&mut bot, &audio, (acked as usize) * 32, None).await;
            bot.send(Message::Text(r#"{"type":"CloseStream"}"#.into()))
                .await
                .expect("close stream");
            bot_until_closed_meta(&mut bot).await
        }));
    }
    for task in resumed {
        let (_, closing) = task.await.expect("resumed bot");
        assert_eq!(
            closing["type"], "metadata",
            "the resumed bot finished normally"
        );
    }

    let token = login(&server, &s.admin_email);
    for (m, before) in meetings.iter().zip(&seen_before) {
        let stored = watch(connect_viewer(&server, &token, m, "").await, fired())
            .await
            .finals;
        let ids: HashSet<&String> = stored.iter().map(|(id, _)| id).collect();
        assert_eq!(ids.len(), stored.len(), "no final stored twice");
        assert!(
            stored.starts_with(before),
            "what viewers saw before the crash is the start of the stored transcript"
        );
        assert!(
            stored.len() > before.len(),
            "the resumed stream added finals"
        );
        let text: Vec<&str> = stored.iter().map(|(_, t)| t.as_str()).collect();
        let err = wer(&reference(CLIP), &text.join(" "));
        assert!(err < 0.3, "WER {err:.3} across the crash");
    }
}
