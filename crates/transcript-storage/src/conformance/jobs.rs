//! Background jobs (recording uploads): created queued, updated, found again by a starting
//! server until done, invisible to other organisations, deleted with their meeting.

use super::{assert_not_found, new_meeting, new_org, new_stream, Harness};
use crate::error::StoreError;
use crate::model::{JobState, JobUpdate, NewJob};

pub async fn jobs_queue_progress_and_finish<H: Harness>(h: &H) {
    let store = h.store();
    let org = new_org(&*store, "jobs").await;
    let other = new_org(&*store, "jobs other").await;
    let meeting = new_meeting(&*store, &org, "Uploaded lecture").await;
    let stream = new_stream(&*store, &org, meeting.id).await;
    let new = NewJob {
        meeting_id: meeting.id,
        stream_id: stream.id,
        format: "flac".into(),
        bytes: 123_456,
        created_by: None,
    };
    let job = store.create_job(&org, new.clone()).await.expect("create");
    assert_eq!(job.state, JobState::Queued);
    assert_eq!(store.get_job(&org, job.id).await.expect("get"), job);
    let pending = |jobs: Vec<crate::Job>| jobs.iter().any(|j| j.id == job.id);
    assert!(pending(store.unfinished_jobs().await.expect("unfinished")));

    let running = JobUpdate {
        state: JobState::Running,
        duration_ms: Some(60_000),
        progress_ms: 15_000,
        error: None,
    };
    store
        .update_job(&org, job.id, running)
        .await
        .expect("update");
    let got = store.get_job(&org, job.id).await.expect("get");
    assert_eq!(
        (got.state, got.duration_ms, got.progress_ms),
        (JobState::Running, Some(60_000), 15_000)
    );
    assert!(pending(store.unfinished_jobs().await.expect("unfinished")));
    let done = JobUpdate {
        state: JobState::Done,
        duration_ms: None,
        progress_ms: 60_000,
        error: None,
    };
    store
        .update_job(&org, job.id, done.clone())
        .await
        .expect("done");
    let got = store.get_job(&org, job.id).await.expect("get");
    assert_eq!(
        (got.state, got.duration_ms),
        (JobState::Done, Some(60_000)),
        "duration kept"
    );
    assert!(!pending(store.unfinished_jobs().await.expect("unfinished")));

    // Another organisation: the job does not exist for it.
    assert_not_found(store.get_job(&other, job.id).await, "foreign job");
    assert_not_found(
        store.update_job(&other, job.id, done).await,
        "foreign update",
    );
    assert_not_found(
        store.create_job(&other, new.clone()).await,
        "foreign stream",
    );
    // A stream of another meeting cannot carry the job.
    let elsewhere = new_meeting(&*store, &org, "Elsewhere").await;
    let mismatched = NewJob {
        meeting_id: elsewhere.id,
        ..new.clone()
    };
    assert!(matches!(
        store.create_job(&org, mismatched).await,
        Err(StoreError::Invalid(_))
    ));
    // Deleting the meeting deletes its jobs.
    store
        .delete_meeting(&org, meeting.id)
        .await
        .expect("delete");
    assert_not_found(
        store.get_job(&org, job.id).await,
        "job of a deleted meeting",
    );
}
