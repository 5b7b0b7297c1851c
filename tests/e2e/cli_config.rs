//! `config check` and configuration errors seen from the command line.

use e2e_tests::{repo_root, run, scribe};

#[test]
fn config_check_accepts_the_shipped_file() {
    let out = run(scribe()
        .args(["config", "check", "--config"])
        .arg(repo_root().join("config.toml")));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("configuration is valid"));
    assert!(text.contains("beam_size = 5"), "{text}");
}

#[test]
fn unknown_key_is_named_and_exit_is_non_zero() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("bad.toml");
    std::fs::write(&file, "[engine]\nbeam_width = 4\n").expect("write");
    let out = run(scribe().args(["config", "check", "--config"]).arg(&file));
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("engine.beam_width") && err.contains("bad.toml"),
        "{err}"
    );
}

#[test]
fn unknown_environment_key_is_named() {
    let out = run(scribe()
        .env("NEXUS_SCRIBE__ENGINE__BEEM_SIZE", "3")
        .args(["config", "check"]));
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("NEXUS_SCRIBE__ENGINE__BEEM_SIZE"), "{err}");
}

#[test]
fn database_url_selects_postgres_for_every_command_and_refuses_a_password() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = e2e_tests::server::scribe_on(dir.path())
        .args([
            "--database-url",
            "postgres://scribe:hunter2-secret@db.example/x",
            "migrate",
        ])
        .output()
        .expect("runs");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("database_password"), "{err}");
    assert!(!err.contains("hunter2"), "{err}");

    let url = transcript_storage::conformance::postgres::fresh_database("e2e_cli");
    let migrated = e2e_tests::server::setup_json(
        e2e_tests::server::scribe_on(dir.path()).args(["--database-url", &url, "migrate"]),
        None,
    );
    assert_eq!(migrated["backend"], "postgres", "{migrated}");
    assert!(
        migrated["newly_applied"]
            .as_array()
            .is_some_and(|a| !a.is_empty()),
        "{migrated}"
    );
    let admin = e2e_tests::server::setup_json(
        e2e_tests::server::scribe_on(dir.path()).args([
            "--database-url",
            &url,
            "admin",
            "create",
            "--email",
            "ada@postgres.example.org",
            "--org",
            "Postgres Clinic",
        ]),
        Some("correct horse battery staple\n"),
    );
    assert!(admin["org_id"].as_str().is_some(), "{admin}");
    let again = e2e_tests::server::setup_json(
        e2e_tests::server::scribe_on(dir.path()).args(["--database-url", &url, "migrate"]),
        None,
    );
    assert_eq!(again["newly_applied"], serde_json::json!([]), "{again}");
}
