//! The documented PostgreSQL backup: `pg_dump` as a role row-level security does not limit,
//! `pg_restore` into an empty database owned by the service role; the restored database serves
//! the same transcript (still encrypted: the master key is needed to read it).

use std::process::Command;

use crate::conformance::postgres::{admin_config, database_of, fresh_database, server};
use crate::conformance::{readable, secret_meeting, test_keyring};
use crate::postgres::{PostgresOptions, PostgresStore};
use crate::store::Store;

/// `pg_dump`/`pg_restore` arguments reaching the test server as its administrative role.
fn admin_args() -> Vec<String> {
    let (host, port) = server();
    let config = admin_config("postgres");
    vec![
        "--host".into(),
        host,
        "--port".into(),
        port.to_string(),
        "--username".into(),
        config.get_user().unwrap_or("postgres").to_owned(),
        "--no-password".into(),
    ]
}

fn run(cmd: &mut Command) {
    let out = cmd.output().expect("PostgreSQL client tools are installed");
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pg_dump_and_pg_restore_serve_the_same_transcript() {
    let source = PostgresOptions::new(fresh_database("dump_source"));
    let store = PostgresStore::connect(&source, &test_keyring())
        .await
        .expect("source");
    let secret = secret_meeting(&store).await;
    let (org, meeting) = (secret.org, secret.meeting);
    let before = readable(store.list_finals(&org, meeting.id).await.expect("finals"));

    let dir = tempfile::tempdir().expect("temp dir");
    let dump = dir.path().join("nexus.dump");
    run(Command::new("pg_dump")
        .args(admin_args())
        .args(["--format=custom", "--file"])
        .arg(&dump)
        .arg(database_of(&source.url)));
    let target = PostgresOptions::new(fresh_database("dump_target"));
    run(Command::new("pg_restore")
        .args(admin_args())
        .args(["--exit-on-error", "--dbname", &database_of(&target.url)])
        .arg(&dump));

    let restored = PostgresStore::connect(&target, &test_keyring())
        .await
        .expect("the restored database opens with the same master key");
    let after = readable(
        restored
            .list_finals(&org, meeting.id)
            .await
            .expect("finals"),
    );
    assert_eq!(after, before);
    assert_eq!(
        restored
            .get_meeting(&org, meeting.id)
            .await
            .expect("meeting")
            .title,
        meeting.title
    );
}
