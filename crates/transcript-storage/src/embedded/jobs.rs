//! Background jobs in the embedded store (blocking; run through the pool).

use rusqlite::{Connection, OptionalExtension, Row};
use scribe_core::{JobId, OrgScope};

use super::sql::{id, now_ms, opt_id, opt_uint, to_i64, uint};
use crate::error::{StoreError, StoreResult};
use crate::model::{Job, JobState, JobUpdate, NewJob};

const JOB_COLUMNS: &str = "id, org_id, meeting_id, stream_id, state, format, bytes, duration_ms, \
                           progress_ms, error, created_by, created_at_ms, updated_at_ms";

fn job_row(row: &Row<'_>) -> rusqlite::Result<Job> {
    let state: String = row.get(4)?;
    Ok(Job {
        id: id(row, 0)?,
        org_id: id(row, 1)?,
        meeting_id: id(row, 2)?,
        stream_id: id(row, 3)?,
        state: JobState::parse(&state).ok_or(rusqlite::Error::InvalidColumnType(
            4,
            "state".into(),
            rusqlite::types::Type::Text,
        ))?,
        format: row.get(5)?,
        bytes: uint(row, 6)?,
        duration_ms: opt_uint(row, 7)?,
        progress_ms: uint(row, 8)?,
        error: row.get(9)?,
        created_by: opt_id(row, 10)?,
        created_at_ms: uint(row, 11)?,
        updated_at_ms: uint(row, 12)?,
    })
}

pub(crate) fn create_job(conn: &mut Connection, scope: OrgScope, new: NewJob) -> StoreResult<Job> {
    new.validate()?;
    let at = now_ms();
    let job = Job::created(&scope, &new, at);
    // The stream must be the scope's and feed the job's meeting (else no row is selected).
    let tx = conn.transaction()?;
    let owner: Option<String> = tx
        .query_row(
            "SELECT meeting_id FROM streams WHERE org_id = ?1 AND id = ?2",
            [scope.org_id().to_string(), new.stream_id.to_string()],
            |r| r.get(0),
        )
        .optional()?;
    match owner {
        None => return Err(StoreError::NotFound),
        Some(m) if m != new.meeting_id.to_string() => {
            return Err(StoreError::Invalid("stream feeds another meeting"))
        }
        Some(_) => {}
    }
    tx.execute(
        "INSERT INTO jobs (id, org_id, meeting_id, stream_id, state, format, bytes, created_by,
                           created_at_ms, updated_at_ms)
         VALUES (?1, ?2, ?3, ?4, 'queued', ?5, ?6, ?7, ?8, ?8)",
        rusqlite::params![
            job.id.to_string(),
            job.org_id.to_string(),
            job.meeting_id.to_string(),
            job.stream_id.to_string(),
            job.format,
            to_i64(job.bytes)?,
            job.created_by.map(|u| u.to_string()),
            at,
        ],
    )?;
    tx.commit()?;
    Ok(job)
}

pub(crate) fn get_job(conn: &mut Connection, scope: OrgScope, job: JobId) -> StoreResult<Job> {
    let sql = format!("SELECT {JOB_COLUMNS} FROM jobs WHERE org_id = ?1 AND id = ?2");
    conn.query_row(&sql, [scope.org_id().to_string(), job.to_string()], job_row)
        .optional()?
        .ok_or(StoreError::NotFound)
}

pub(crate) fn update_job(
    conn: &mut Connection,
    scope: OrgScope,
    job: JobId,
    update: JobUpdate,
) -> StoreResult<()> {
    update.validate()?;
    let found = conn.execute(
        "UPDATE jobs SET state = ?3, duration_ms = COALESCE(?4, duration_ms), progress_ms = ?5,
                         error = ?6, updated_at_ms = ?7
         WHERE org_id = ?1 AND id = ?2",
        rusqlite::params![
            scope.org_id().to_string(),
            job.to_string(),
            update.state.as_str(),
            update.duration_ms.map(to_i64).transpose()?,
            to_i64(update.progress_ms)?,
            update.error,
            now_ms(),
        ],
    )?;
    if found == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

pub(crate) fn unfinished_jobs(conn: &mut Connection) -> StoreResult<Vec<Job>> {
    let sql = format!(
        "SELECT {JOB_COLUMNS} FROM jobs WHERE state IN ('queued', 'running')
         ORDER BY created_at_ms, rowid"
    );
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt.query_map([], job_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}
