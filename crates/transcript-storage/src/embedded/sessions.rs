//! Sign-in state in the embedded store (blocking; run through the pool): lockout counters,
//! sessions and their refresh tokens, the access-token denylist, user administration and the
//! second factor.

use rusqlite::{Connection, OptionalExtension, TransactionBehavior};
use scribe_core::{OrgScope, SessionId, UserId};

use super::identity::{get_user, login_row, USER_COLUMNS};
use super::sql::{opt_uint, to_i64};
use crate::crypto::Keyring;
use crate::error::{StoreError, StoreResult};
use crate::model::{
    judge_access, AccessState, LoginCounters, MfaState, NewSession, Revocation, Rotation,
    RotationOutcome, User, UserChange,
};
use crate::sealing::USER_MFA_SECRET;

/// Runs an `UPDATE` of one user of the scope; touching no row is `NotFound`.
fn update_user(
    conn: &Connection,
    scope: OrgScope,
    user: UserId,
    set: &str,
    params: &[&dyn rusqlite::ToSql],
) -> StoreResult<()> {
    let sql = format!("UPDATE users SET {set} WHERE org_id = ?1 AND id = ?2");
    let (org, id) = (scope.org_id().to_string(), user.to_string());
    let mut all: Vec<&dyn rusqlite::ToSql> = vec![&org, &id];
    all.extend_from_slice(params);
    if conn.execute(&sql, all.as_slice())? == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

pub(crate) fn set_login_counters(
    conn: &mut Connection,
    scope: OrgScope,
    user: UserId,
    c: LoginCounters,
) -> StoreResult<()> {
    let until = c.locked_until_ms.map(to_i64).transpose()?;
    update_user(
        conn,
        scope,
        user,
        "failed_logins = ?3, lockouts = ?4, locked_until_ms = ?5",
        &[&i64::from(c.failures), &i64::from(c.lockouts), &until],
    )
}

pub(crate) fn create_session(
    conn: &mut Connection,
    scope: OrgScope,
    new: NewSession,
) -> StoreResult<()> {
    let org = scope.org_id().to_string();
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let inserted = tx.execute(
        "INSERT INTO sessions (id, org_id, user_id, created_at_ms, expires_at_ms)
         SELECT ?1, org_id, id, ?4, ?5 FROM users
         WHERE org_id = ?2 AND id = ?3 AND disabled_at_ms IS NULL",
        rusqlite::params![
            new.id.to_string(),
            org,
            new.user_id.to_string(),
            to_i64(new.now_ms)?,
            to_i64(new.expires_at_ms)?,
        ],
    )?;
    if inserted == 0 {
        return Err(StoreError::NotFound);
    }
    tx.execute(
        "INSERT INTO refresh_tokens (hash, org_id, session_id) VALUES (?1, ?2, ?3)",
        rusqlite::params![new.refresh_hash.as_slice(), org, new.id.to_string()],
    )?;
    tx.commit()?;
    Ok(())
}

pub(crate) fn rotate_session(
    conn: &mut Connection,
    scope: OrgScope,
    r: Rotation,
) -> StoreResult<RotationOutcome> {
    let org = scope.org_id().to_string();
    let now = to_i64(r.now_ms)?;
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let found = tx
        .query_row(
            "SELECT t.used_at_ms, s.revoked_at_ms, s.expires_at_ms, u.disabled_at_ms,
                    u.id, u.role
             FROM refresh_tokens t
             JOIN sessions s ON s.org_id = t.org_id AND s.id = t.session_id
             JOIN users u ON u.org_id = s.org_id AND u.id = s.user_id
             WHERE t.hash = ?1 AND t.org_id = ?2 AND t.session_id = ?3",
            rusqlite::params![r.presented.as_slice(), org, r.session_id.to_string()],
            |row| {
                Ok((
                    opt_uint(row, 0)?,
                    opt_uint(row, 1)?,
                    opt_uint(row, 2)?,
                    opt_uint(row, 3)?,
                    super::sql::id::<UserId>(row, 4)?,
                    row.get::<_, String>(5)?,
                ))
            },
        )
        .optional()?;
    let Some((used, revoked, expires, disabled, user_id, role)) = found else {
        return Ok(RotationOutcome::Refused);
    };
    if used.is_some() {
        tx.execute(
            "UPDATE sessions SET revoked_at_ms = coalesce(revoked_at_ms, ?3)
             WHERE org_id = ?1 AND id = ?2",
            rusqlite::params![org, r.session_id.to_string(), now],
        )?;
        tx.commit()?;
        return Ok(RotationOutcome::Reused);
    }
    if revoked.is_some() || disabled.is_some() || expires.is_none_or(|e| e <= r.now_ms) {
        return Ok(RotationOutcome::Refused);
    }
    tx.execute(
        "UPDATE refresh_tokens SET used_at_ms = ?2 WHERE hash = ?1",
        rusqlite::params![r.presented.as_slice(), now],
    )?;
    tx.execute(
        "INSERT INTO refresh_tokens (hash, org_id, session_id) VALUES (?1, ?2, ?3)",
        rusqlite::params![r.next.as_slice(), org, r.session_id.to_string()],
    )?;
    tx.commit()?;
    Ok(RotationOutcome::Rotated { user_id, role })
}

pub(crate) fn revoke_sessions(
    conn: &mut Connection,
    scope: OrgScope,
    which: Revocation,
    now_ms: u64,
) -> StoreResult<u64> {
    let (column, id) = match which {
        Revocation::Session(s) => ("id", s.to_string()),
        Revocation::User(u) => ("user_id", u.to_string()),
    };
    let sql = format!(
        "UPDATE sessions SET revoked_at_ms = ?3
         WHERE org_id = ?1 AND {column} = ?2 AND revoked_at_ms IS NULL"
    );
    let n = conn.execute(
        &sql,
        rusqlite::params![scope.org_id().to_string(), id, to_i64(now_ms)?],
    )?;
    Ok(n as u64)
}

pub(crate) fn deny_token(
    conn: &mut Connection,
    scope: OrgScope,
    hash: [u8; 32],
    expires_at_ms: u64,
    now_ms: u64,
) -> StoreResult<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    tx.execute(
        "DELETE FROM revoked_tokens WHERE expires_at_ms <= ?1",
        [to_i64(now_ms)?],
    )?;
    tx.execute(
        "INSERT INTO revoked_tokens (hash, org_id, expires_at_ms) VALUES (?1, ?2, ?3)
         ON CONFLICT (hash) DO NOTHING",
        rusqlite::params![
            hash.as_slice(),
            scope.org_id().to_string(),
            to_i64(expires_at_ms)?
        ],
    )?;
    tx.commit()?;
    Ok(())
}

pub(crate) fn access_state(
    conn: &mut Connection,
    scope: OrgScope,
    user: UserId,
    session: SessionId,
    token_hash: [u8; 32],
    now_ms: u64,
) -> StoreResult<AccessState> {
    let now = to_i64(now_ms)?;
    let found = conn
        .query_row(
            "SELECT u.role, u.disabled_at_ms, s.user_id, s.revoked_at_ms, s.expires_at_ms,
                    EXISTS (SELECT 1 FROM revoked_tokens r
                            WHERE r.hash = ?4 AND r.org_id = u.org_id AND r.expires_at_ms > ?5)
             FROM users u
             LEFT JOIN sessions s ON s.org_id = u.org_id AND s.id = ?3
             WHERE u.org_id = ?1 AND u.id = ?2",
            rusqlite::params![
                scope.org_id().to_string(),
                user.to_string(),
                session.to_string(),
                token_hash.as_slice(),
                now
            ],
            |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    opt_uint(row, 1)?,
                    super::sql::opt_id::<UserId>(row, 2)?,
                    opt_uint(row, 3)?,
                    opt_uint(row, 4)?,
                    row.get::<_, bool>(5)?,
                ))
            },
        )
        .optional()?;
    let Some((role, disabled, owner, revoked, expires, denied)) = found else {
        return Ok(AccessState::Ended("unknown user"));
    };
    Ok(judge_access(
        role, disabled, owner, user, revoked, expires, denied, now_ms,
    ))
}

pub(crate) fn change_user(
    conn: &mut Connection,
    keys: &Keyring,
    scope: OrgScope,
    user: UserId,
    change: UserChange,
    now_ms: u64,
) -> StoreResult<User> {
    let now = to_i64(now_ms)?;
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    if let Some(role) = &change.role {
        update_user(&tx, scope, user, "role = ?3", &[role])?;
    }
    if let Some(hash) = &change.password_hash {
        update_user(
            &tx,
            scope,
            user,
            "password_hash = ?3, failed_logins = 0, lockouts = 0, locked_until_ms = NULL",
            &[hash],
        )?;
    }
    match change.disabled {
        Some(true) => update_user(
            &tx,
            scope,
            user,
            "disabled_at_ms = coalesce(disabled_at_ms, ?3)",
            &[&now],
        )?,
        Some(false) => update_user(&tx, scope, user, "disabled_at_ms = NULL", &[])?,
        None => {}
    }
    if change.ends_sessions() {
        tx.execute(
            "UPDATE sessions SET revoked_at_ms = ?3
             WHERE org_id = ?1 AND user_id = ?2 AND revoked_at_ms IS NULL",
            rusqlite::params![scope.org_id().to_string(), user.to_string(), now],
        )?;
    }
    tx.commit()?;
    get_user(conn, keys, scope, user)
}

pub(crate) fn list_users(
    conn: &mut Connection,
    keys: &Keyring,
    scope: OrgScope,
) -> StoreResult<Vec<User>> {
    let sql =
        format!("SELECT {USER_COLUMNS} FROM users WHERE org_id = ?1 ORDER BY created_at_ms, id");
    let logins: Vec<_> = {
        let mut stmt = conn.prepare(&sql)?;
        let rows = stmt.query_map([scope.org_id().to_string()], login_row)?;
        rows.collect::<Result<_, _>>()?
    };
    let org_keys = super::keys::org_keys(conn, keys, scope.org_id())?;
    logins
        .into_iter()
        .map(|l| {
            let mut user = l.user;
            user.email = org_keys.open(
                crate::sealing::USER_EMAIL,
                &user.id.to_string(),
                &user.email,
            )?;
            Ok(user)
        })
        .collect()
}

pub(crate) fn mfa_state(
    conn: &mut Connection,
    keys: &Keyring,
    scope: OrgScope,
    user: UserId,
) -> StoreResult<MfaState> {
    let (sealed, enabled, last_step) = conn
        .query_row(
            "SELECT mfa_secret, mfa_enabled, mfa_last_step FROM users
             WHERE org_id = ?1 AND id = ?2",
            [scope.org_id().to_string(), user.to_string()],
            |row| {
                Ok((
                    row.get::<_, Option<String>>(0)?,
                    row.get::<_, bool>(1)?,
                    opt_uint(row, 2)?,
                ))
            },
        )
        .optional()?
        .ok_or(StoreError::NotFound)?;
    let secret = match sealed {
        Some(s) => Some(super::keys::org_keys(conn, keys, scope.org_id())?.open(
            USER_MFA_SECRET,
            &user.to_string(),
            &s,
        )?),
        None => None,
    };
    Ok(MfaState {
        secret,
        enabled,
        last_step,
    })
}

pub(crate) fn set_mfa_secret(
    conn: &mut Connection,
    keys: &Keyring,
    scope: OrgScope,
    user: UserId,
    secret: Option<String>,
) -> StoreResult<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let sealed = match &secret {
        Some(s) => Some(super::keys::org_keys(&tx, keys, scope.org_id())?.seal(
            USER_MFA_SECRET,
            &user.to_string(),
            s,
        )?),
        None => None,
    };
    update_user(
        &tx,
        scope,
        user,
        "mfa_secret = ?3, mfa_enabled = 0, mfa_last_step = NULL",
        &[&sealed],
    )?;
    tx.execute(
        "DELETE FROM mfa_backup_codes WHERE org_id = ?1 AND user_id = ?2",
        [scope.org_id().to_string(), user.to_string()],
    )?;
    tx.commit()?;
    Ok(())
}

pub(crate) fn enable_mfa(
    conn: &mut Connection,
    scope: OrgScope,
    user: UserId,
    step: u64,
    codes: Vec<[u8; 32]>,
) -> StoreResult<()> {
    let (org, id) = (scope.org_id().to_string(), user.to_string());
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let pending: Option<Option<String>> = tx
        .query_row(
            "SELECT mfa_secret FROM users WHERE org_id = ?1 AND id = ?2",
            [&org, &id],
            |r| r.get(0),
        )
        .optional()?;
    match pending {
        None => return Err(StoreError::NotFound),
        Some(None) => return Err(StoreError::Conflict("no MFA enrolment is pending")),
        Some(Some(_)) => {}
    }
    update_user(
        &tx,
        scope,
        user,
        "mfa_enabled = 1, mfa_last_step = ?3",
        &[&to_i64(step)?],
    )?;
    tx.execute(
        "DELETE FROM mfa_backup_codes WHERE org_id = ?1 AND user_id = ?2",
        [&org, &id],
    )?;
    for hash in codes {
        tx.execute(
            "INSERT INTO mfa_backup_codes (org_id, user_id, hash) VALUES (?1, ?2, ?3)",
            rusqlite::params![org, id, hash.as_slice()],
        )?;
    }
    tx.commit()?;
    Ok(())
}

pub(crate) fn claim_totp_step(
    conn: &mut Connection,
    scope: OrgScope,
    user: UserId,
    step: u64,
) -> StoreResult<bool> {
    let n = conn.execute(
        "UPDATE users SET mfa_last_step = ?3
         WHERE org_id = ?1 AND id = ?2 AND (mfa_last_step IS NULL OR mfa_last_step < ?3)",
        rusqlite::params![scope.org_id().to_string(), user.to_string(), to_i64(step)?],
    )?;
    Ok(n == 1)
}

pub(crate) fn use_backup_code(
    conn: &mut Connection,
    scope: OrgScope,
    user: UserId,
    hash: [u8; 32],
    now_ms: u64,
) -> StoreResult<bool> {
    let n = conn.execute(
        "UPDATE mfa_backup_codes SET used_at_ms = ?4
         WHERE org_id = ?1 AND user_id = ?2 AND hash = ?3 AND used_at_ms IS NULL",
        rusqlite::params![
            scope.org_id().to_string(),
            user.to_string(),
            hash.as_slice(),
            to_i64(now_ms)?
        ],
    )?;
    Ok(n == 1)
}
