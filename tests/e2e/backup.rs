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
    let err = refused_restore(live.path(), &file);
    assert!(err.contains("in use"), "{err}");
    assert!(server.terminate(Duration::from_secs(20)), "server stops");

    // A folder with another master key refuses the backup: its transcripts would not open.
    let stranger = tempfile::tempdir().expect("stranger dir");
    let err = refused_restore(stranger.path(), &file);
    assert!(err.contains("master_key"), "{err}");

    // A fresh folder with the same secrets (as an operator restores them from their own safe
    // place), restored from the file, serves the same transcript.
    let restored = tempfile::tempdir().expect("restored dir");
    copy_secrets(live.path(), restored.path());
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

/// Copies the generated secrets (owner-only, as the server requires) from one data folder to
/// another.
fn copy_secrets(from: &std::path::Path, to: &std::path::Path) {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = to.join("secrets");
    std::fs::create_dir(&dir).expect("secrets dir");
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).expect("0700");
    let file = dir.join("secrets.toml");
    std::fs::copy(from.join("secrets/secrets.toml"), &file).expect("copy secrets");
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).expect("0600");
}

/// Runs `restore FILE` on `dir`, which must fail; returns what it said.
fn refused_restore(dir: &std::path::Path, file: &std::path::Path) -> String {
    let out = scribe_on(dir)
        .arg("restore")
        .arg(file)
        .output()
        .expect("restore runs");
    assert!(!out.status.success(), "restore should have been refused");
    String::from_utf8_lossy(&out.stderr).into_owned()
}
