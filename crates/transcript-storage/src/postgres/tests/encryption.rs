//! Encryption at rest on PostgreSQL, seen from outside the store: the tables hold no transcript
//! text (read as the server's superuser, which row-level security does not limit), and a
//! flipped byte makes only that final unreadable.

use tokio_postgres::NoTls;

use super::PostgresHarness;
use crate::conformance::postgres::{admin_config, database_of};
use crate::conformance::{
    flip_one_byte, only_the_tampered_final_is_unreadable, secret_meeting, Harness, SECRET_WORDS,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tables_hold_no_text_and_a_flipped_byte_fails_only_its_final() {
    let harness = PostgresHarness::start().await;
    let store = harness.store();
    let secret = secret_meeting(&*store).await;
    let (org, meeting, ids) = (secret.org, secret.meeting, secret.finals);

    let database = database_of(&super::shared_options().url);
    let (admin, connection) = admin_config(&database)
        .connect(NoTls)
        .await
        .expect("superuser connection");
    tokio::spawn(connection);
    let users = admin
        .query(
            "SELECT email, email_key FROM users WHERE org_id = $1",
            &[&org.org_id().as_uuid()],
        )
        .await
        .expect("raw users");
    assert_eq!(users.len(), 1);
    for col in 0..2 {
        let value: String = users[0].get(col);
        assert!(!value.contains("jane.roe"), "email stored in clear");
    }
    let rows = admin
        .query(
            "SELECT m.title, s.text, s.words, coalesce(s.speaker, '')
             FROM meetings m JOIN segments s ON s.meeting_id = m.id WHERE m.id = $1",
            &[&meeting.id.as_uuid()],
        )
        .await
        .expect("raw read");
    assert_eq!(rows.len(), 3);
    for row in &rows {
        for col in 0..4 {
            let value: String = row.get(col);
            for secret in SECRET_WORDS {
                assert!(!value.contains(secret), "{secret} stored in clear");
            }
        }
    }

    let sealed: String = admin
        .query_one(
            "SELECT text FROM segments WHERE id = $1",
            &[&ids[1].as_uuid()],
        )
        .await
        .expect("sealed")
        .get(0);
    admin
        .execute(
            "UPDATE segments SET text = $2 WHERE id = $1",
            &[&ids[1].as_uuid(), &flip_one_byte(&sealed)],
        )
        .await
        .expect("tamper");
    only_the_tampered_final_is_unreadable(&*store, &org, meeting.id, ids[1]).await;
}
