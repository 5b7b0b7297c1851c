//! `backup` beside a running server, `restore` into another data folder: the restored store
//! serves the same transcript through the HTTP API, and restore refuses a folder in use.

use std::time::Duration;

use e2e_tests::eval_dir;
use e2e_tests::server::{http_get, login, scribe_on, setup, setup_json, Server};

#[test]
fn a_restored_backup_serves_the_same_transcript() {
    let live = tempfile::tempdir().expect("data dir");
    let s = setup(live.path(), "Clinic");
    let mut server = Server::start(live.path(), &[]);

    // A short real clip through the reference bot puts finals in the store.
    let clip = eval_dir().join("dev/ljspeech_LJ001-0002.flac");
    let out = scribe_on(live.path())
        .env("NEXUS_SCRIBE_BOT_API_KEY", &s.api_key)
        .args(["bot", "stream"])
        .arg(&clip)
        .args(["--url", &server.http(), "--meeting", &s.meeting_id])
        .args(["--bot-id", &s.bot_id])
        .output()
        .expect("bot runs");
    assert!(
        out.status.success(),
        "bot failed: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        server.log()
    );
    let path = format!("/api/v1/meetings/{}/transcript", s.meeting_id);
    let token = login(&server, &s.admin_email);
    let (status, before) = http_get(&server, &path, Some(&token));
    assert_eq!(status, 200, "{before}");
    let v: serde_json::Value = serde_json::from_str(&before).expect("json");
    assert!(
        v["text"]
            .as_str()
            .is_some_and(|t| t.to_lowercase().contains("modern")),
        "{v}"
    );

    // Backed up while the server runs; restore refuses the folder while it is in use.
    let out_dir = tempfile::tempdir().expect("out dir");
    let file = out_dir.path().join("clinic.sqlite3");
    let summary = setup_json(
        scribe_on(live.path()).arg("backup").arg("--out").arg(&file),
        None,
    );
    assert_eq!(summary["meetings"], 1, "{summary}");
    assert!(
        summary["segments"].as_u64().is_some_and(|n| n >= 1),
        "{summary}"
    );
    let refused = scribe_on(live.path())
        .arg("restore")
        .arg(&file)
        .output()
        .expect("restore runs");
    assert!(!refused.status.success());
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(err.contains("in use"), "{err}");
    assert!(server.terminate(Duration::from_secs(20)), "server stops");

    // A fresh folder restored from the file serves the same transcript.
    let restored = tempfile::tempdir().expect("restored dir");
    let outcome = setup_json(scribe_on(restored.path()).arg("restore").arg(&file), None);
    assert!(outcome["previous"].is_null(), "{outcome}");
    let server = Server::start(restored.path(), &[]);
    let token = login(&server, &s.admin_email);
    let (status, after) = http_get(&server, &path, Some(&token));
    assert_eq!(status, 200, "{after}");
    assert_eq!(
        after, before,
        "the restored store serves the same transcript"
    );
}
