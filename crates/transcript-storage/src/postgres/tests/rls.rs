//! Row-level security: the database itself keeps organisations apart, whatever a query says.

use tokio_postgres::error::SqlState;
use tokio_postgres::{Client, GenericClient, NoTls};
use uuid::Uuid;

use super::{shared_options, PostgresHarness};
use crate::conformance::{final_for, new_meeting, new_org, new_stream, Harness};

async fn raw_client() -> Client {
    let (client, connection) = tokio_postgres::connect(&shared_options().url, NoTls)
        .await
        .expect("raw connection as the application role");
    tokio::spawn(connection);
    client
}

async fn count(client: &impl GenericClient, sql: &str, meetings: &[Uuid]) -> i64 {
    client
        .query_one(sql, &[&meetings])
        .await
        .expect("count")
        .get(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn policies_hide_and_refuse_other_organisations_rows() {
    let harness = PostgresHarness::start().await;
    let store = harness.store();
    let (a, b) = (
        new_org(&*store, "rls a").await,
        new_org(&*store, "rls b").await,
    );
    let mut meetings = Vec::new();
    for scope in [&a, &b] {
        let meeting = new_meeting(&*store, scope, "private").await;
        let stream = new_stream(&*store, scope, meeting.id).await;
        store
            .append_final(scope, final_for(meeting.id, stream.id, "only ours", 0))
            .await
            .expect("append");
        meetings.push(meeting.id.as_uuid());
    }
    let segments = "SELECT count(*) FROM segments WHERE meeting_id = ANY($1)";
    let meeting_rows = "SELECT count(*) FROM meetings WHERE id = ANY($1)";

    let mut client = raw_client().await;
    // No scope set: no organisation's rows, even with no org_id condition in the query.
    assert_eq!(count(&client, segments, &meetings).await, 0);
    assert_eq!(count(&client, meeting_rows, &meetings).await, 0);

    // Scoped to A: A's rows only.
    let tx = client.transaction().await.expect("begin");
    tx.execute(
        "SELECT set_config('nexus_scribe.org_id', $1, true)",
        &[&a.org_id().to_string()],
    )
    .await
    .expect("scope");
    assert_eq!(count(&tx, segments, &meetings).await, 1);
    assert_eq!(count(&tx, meeting_rows, &meetings).await, 1);
    // ... and may not write a row of B.
    let refused = tx
        .execute(
            "INSERT INTO meetings (id, org_id, title, created_at_ms) VALUES ($1, $2, 'x', 0)",
            &[&Uuid::new_v4(), &b.org_id().as_uuid()],
        )
        .await
        .expect_err("a write into another organisation must fail");
    assert_eq!(refused.code(), Some(&SqlState::INSUFFICIENT_PRIVILEGE));
    drop(tx);

    // The scope ends with its transaction: a pooled connection does not carry it on.
    assert_eq!(count(&client, segments, &meetings).await, 0);

    // The authentication lookup reads users and bots, nothing else, and writes nothing.
    let tx = client.transaction().await.expect("begin");
    tx.batch_execute("SELECT set_config('nexus_scribe.lookup', 'on', true)")
        .await
        .expect("lookup");
    assert_eq!(count(&tx, segments, &meetings).await, 0);
    let refused = tx
        .execute(
            "UPDATE bots SET name = 'renamed' WHERE org_id = $1",
            &[&b.org_id().as_uuid()],
        )
        .await
        .expect("an update the policy filters to no rows");
    assert_eq!(refused, 0, "the lookup flag must not allow writes");
}
