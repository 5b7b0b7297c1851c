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

#[test]
fn secrets_check_names_sources_and_findings_never_values() {
    let dir = tempfile::tempdir().expect("tempdir");
    let check = |env: &[(&str, &str)]| {
        let mut cmd = scribe();
        cmd.arg("--data-dir")
            .arg(dir.path())
            .args(["secrets", "check"])
            .env_remove("NEXUS_SCRIBE_ENV");
        for (k, v) in env {
            cmd.env(k, v);
        }
        run(&mut cmd)
    };
    // A fresh folder: every secret generated into the file, all fine.
    let out = check(&[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let secrets = report["secrets"].as_array().expect("secrets");
    let jwt = secrets
        .iter()
        .find(|s| s["name"] == "jwt_secret")
        .expect("jwt_secret listed");
    assert!(
        jwt["source"]
            .as_str()
            .expect("source")
            .contains("secrets.toml"),
        "{jwt}"
    );
    assert_eq!(jwt["check"], "ok");
    let file = std::fs::read_to_string(dir.path().join("secrets/secrets.toml")).expect("file");
    let printed = String::from_utf8_lossy(&out.stdout).into_owned();
    for line in file.lines() {
        if let Some((_, value)) = line.split_once('=') {
            let value = value.trim().trim_matches('"');
            assert!(
                value.len() < 16 || !printed.contains(value),
                "a value was printed"
            );
        }
    }
    // A weak value from the environment: named with its source, the value never shown; in
    // production the check fails as start-up would.
    let weak = [("NEXUS_SCRIBE_SECRET_JWT_SECRET", "changeme")];
    let out = check(&weak);
    assert!(out.status.success(), "development only reports");
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(
        printed.contains("NEXUS_SCRIBE_SECRET_JWT_SECRET"),
        "{printed}"
    );
    assert!(!printed.contains("changeme"), "{printed}");
    let mut prod = weak.to_vec();
    prod.push(("NEXUS_SCRIBE_ENV", "production"));
    let out = check(&prod);
    assert_eq!(out.status.code(), Some(1));
    assert!(!String::from_utf8_lossy(&out.stdout).contains("changeme"));
    assert!(!String::from_utf8_lossy(&out.stderr).contains("changeme"));
}
