//! Two servers on one PostgreSQL database: a meeting streamed into the first is watched live
//! through the second (the store's LISTEN/NOTIFY change feed), and both serve the same
//! transcript.

use std::time::{Duration, Instant};

use e2e_tests::server::{http_get, http_post, login, setup_env, Server};
use futures_util::{SinkExt as _, StreamExt as _};
use tokio_tungstenite::tungstenite::Message;
use transcript_storage::conformance::postgres::fresh_database;

use crate::live::{
    bot_until_closed, connect_bot, connect_viewer, id_and_text, next_json, pcm, refused,
    stream_audio, View, CLIP,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_viewer_on_a_second_server_watches_a_meeting_streamed_into_the_first() {
    let url = fresh_database("e2e_two_servers");
    let env = [
        ("NEXUS_SCRIBE__STORAGE__BACKEND", "postgres"),
        ("NEXUS_SCRIBE__STORAGE__POSTGRES_URL", url.as_str()),
    ];
    // One data folder for both: the same secrets (tokens from one are valid on the other).
    let dir = tempfile::tempdir().expect("tempdir");
    let s = setup_env(dir.path(), "Council", &env);
    let first = Server::start(dir.path(), &env);
    let second = Server::start(dir.path(), &env);
    assert!(
        second.log().contains("following other servers"),
        "{}",
        second.log()
    );
    let token = login(&second, &s.admin_email);

    // The viewer on the second server: snapshot first (empty), then whatever arrives.
    let mut viewer = connect_viewer(&second, &token, &s.meeting_id, "").await;
    let snapshot = next_json(&mut viewer).await.expect("snapshot");
    assert_eq!(snapshot["type"], "snapshot");
    let watched = tokio::spawn(async move {
        let mut view = View::default();
        let mut first_final_at = None;
        // Only finals cross servers, and the first comes at the first pause (or the longest
        // utterance): a loaded machine may take a while. After it, 8 s of quiet ends the watch.
        let quiet =
            |first: Option<Instant>| Duration::from_secs(if first.is_none() { 30 } else { 8 });
        while let Ok(Some(Ok(m))) = tokio::time::timeout(quiet(first_final_at), viewer.next()).await
        {
            if let Message::Text(t) = m {
                let v: serde_json::Value = serde_json::from_str(&t).expect("json");
                if v["is_final"] == true && first_final_at.is_none() {
                    first_final_at = Some(Instant::now());
                }
                view.apply(&v);
            }
        }
        (view, first_final_at)
    });

    // The bot streams real speech at real-time pace into the first server.
    let mut bot = connect_bot(&first, &s, &s.meeting_id, "").await;
    assert_eq!(
        next_json(&mut bot).await.expect("metadata")["type"],
        "metadata"
    );
    let audio = pcm(CLIP);
    stream_audio(&mut bot, &audio, 0, None).await;
    let audio_ended = Instant::now();
    bot.send(Message::Text(r#"{"type":"CloseStream"}"#.into()))
        .await
        .expect("close stream");
    let bot_finals = bot_until_closed(&mut bot).await;
    assert!(!bot_finals.is_empty());

    let (view, first_final_at) = watched.await.expect("viewer");
    let first_final_at = first_final_at.expect("the second server's viewer got finals");
    assert!(
        first_final_at < audio_ended,
        "finals reached the other server while the bot was still talking"
    );
    assert_eq!(
        view.finals,
        id_and_text(&bot_finals),
        "every final, once, in order, on the other server"
    );

    // Both servers serve the same stored transcript.
    let path = format!("/api/v1/meetings/{}/transcript?format=txt", s.meeting_id);
    let from_first = http_get(&first, &path, Some(&token));
    let from_second = http_get(&second, &path, Some(&token));
    assert_eq!(from_first.0, 200, "{}", from_first.1);
    assert_eq!(from_first, from_second);

    // A browser's ticket from one server opens the socket on the other (tickets live in the
    // shared store), once: a second use fails on either server.
    let issued = http_post(
        &first,
        "/api/v1/ws-tickets",
        Some(&token),
        &serde_json::json!({ "meeting_id": s.meeting_id }),
    );
    let ticket = issued["ticket"].as_str().expect("ticket").to_owned();
    let url = |server: &Server| {
        format!(
            "{}/ws/transcription/{}?ticket={ticket}",
            server.ws(),
            s.meeting_id
        )
    };
    let (mut ws, _) = tokio_tungstenite::connect_async(url(&second))
        .await
        .expect("a ticket issued by the first server opens the second");
    let snapshot = next_json(&mut ws).await.expect("snapshot");
    assert_eq!(
        snapshot["segments"].as_array().map(Vec::len),
        Some(bot_finals.len())
    );
    for server in [&first, &second] {
        // Refused with close 4001 (the handshake completes so the code can be sent), or at the
        // handshake.
        if let Ok((mut ws, _)) = tokio_tungstenite::connect_async(url(server)).await {
            assert_eq!(
                refused(&mut ws).await.0,
                Some(4001),
                "a used ticket is refused everywhere"
            );
        }
    }
}
