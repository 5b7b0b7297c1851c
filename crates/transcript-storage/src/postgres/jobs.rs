//! Background jobs in the PostgreSQL store.

use deadpool_postgres::Client;
use scribe_core::{JobId, MeetingId, OrgId, OrgScope, StreamId, UserId};
use tokio_postgres::Row;
use uuid::Uuid;

use super::sql::{
    id, lookup, opt_id, opt_uint, scoped, scoped_one, scoped_touch, to_i64, uint, Params,
};
use crate::error::{StoreError, StoreResult};
use crate::model::{now_ms, Job, JobState, JobUpdate, NewJob};

const JOB_COLUMNS: &str = "id, org_id, meeting_id, stream_id, state, format, bytes, duration_ms, \
                           progress_ms, error, created_by, created_at_ms, updated_at_ms";

fn job_row(row: &Row) -> StoreResult<Job> {
    let state: &str = row.try_get(4)?;
    Ok(Job {
        id: id(row, 0, JobId::from_uuid)?,
        org_id: id(row, 1, OrgId::from_uuid)?,
        meeting_id: id(row, 2, MeetingId::from_uuid)?,
        stream_id: id(row, 3, StreamId::from_uuid)?,
        state: JobState::parse(state).ok_or(StoreError::Corrupt("unknown job state"))?,
        format: row.try_get(5)?,
        bytes: uint(row, 6)?,
        duration_ms: opt_uint(row, 7)?,
        progress_ms: uint(row, 8)?,
        error: row.try_get(9)?,
        created_by: opt_id(row, 10, UserId::from_uuid)?,
        created_at_ms: uint(row, 11)?,
        updated_at_ms: uint(row, 12)?,
    })
}

pub(crate) async fn create_job(
    client: &mut Client,
    scope: &OrgScope,
    new: NewJob,
) -> StoreResult<Job> {
    new.validate()?;
    let at = now_ms();
    let job = Job::created(scope, &new, at);
    let tx = scoped(client, scope).await?;
    let owner = tx
        .prepare_cached("SELECT meeting_id FROM streams WHERE org_id = $1 AND id = $2")
        .await?;
    let Some(row) = tx
        .query_opt(
            &owner,
            &[&scope.org_id().as_uuid(), &new.stream_id.as_uuid()],
        )
        .await?
    else {
        return Err(StoreError::NotFound);
    };
    let meeting: Uuid = row.try_get(0)?;
    if meeting != new.meeting_id.as_uuid() {
        return Err(StoreError::Invalid("stream feeds another meeting"));
    }
    let insert = tx
        .prepare_cached(
            "INSERT INTO jobs (id, org_id, meeting_id, stream_id, state, format, bytes, created_by,
                               created_at_ms, updated_at_ms)
             VALUES ($1, $2, $3, $4, 'queued', $5, $6, $7, $8, $8)",
        )
        .await?;
    tx.execute(
        &insert,
        &[
            &job.id.as_uuid(),
            &job.org_id.as_uuid(),
            &job.meeting_id.as_uuid(),
            &job.stream_id.as_uuid(),
            &job.format,
            &to_i64(job.bytes)?,
            &job.created_by.map(|u| u.as_uuid()),
            &at,
        ],
    )
    .await?;
    tx.commit().await?;
    Ok(job)
}

pub(crate) async fn get_job(client: &mut Client, scope: &OrgScope, job: JobId) -> StoreResult<Job> {
    let sql = format!("SELECT {JOB_COLUMNS} FROM jobs WHERE org_id = $1 AND id = $2");
    let params: &Params = &[&scope.org_id().as_uuid(), &job.as_uuid()];
    scoped_one(client, scope, &sql, params, job_row).await
}

pub(crate) async fn update_job(
    client: &mut Client,
    scope: &OrgScope,
    job: JobId,
    update: JobUpdate,
) -> StoreResult<()> {
    update.validate()?;
    let duration = update.duration_ms.map(to_i64).transpose()?;
    let progress = to_i64(update.progress_ms)?;
    let sql = "UPDATE jobs SET state = $3, duration_ms = COALESCE($4, duration_ms),
                               progress_ms = $5, error = $6, updated_at_ms = $7
               WHERE org_id = $1 AND id = $2";
    let params: &Params = &[
        &scope.org_id().as_uuid(),
        &job.as_uuid(),
        &update.state.as_str(),
        &duration,
        &progress,
        &update.error,
        &now_ms(),
    ];
    scoped_touch(client, scope, sql, params).await
}

pub(crate) async fn unfinished_jobs(client: &mut Client) -> StoreResult<Vec<Job>> {
    let tx = lookup(client).await?;
    let sql = format!(
        "SELECT {JOB_COLUMNS} FROM jobs WHERE state IN ('queued', 'running')
         ORDER BY created_at_ms, id"
    );
    let rows = tx.query(&sql, &[]).await?;
    let jobs = rows.iter().map(job_row).collect::<StoreResult<_>>()?;
    tx.commit().await?;
    Ok(jobs)
}
