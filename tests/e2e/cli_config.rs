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
