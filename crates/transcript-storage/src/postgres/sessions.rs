//! Sign-in state in the PostgreSQL store: lockout counters, sessions and their refresh
//! tokens, the access-token denylist, user administration and the second factor. Every query
//! runs in a transaction scoped (row-level security) to the caller's organisation.

use deadpool_postgres::{Client, Transaction};
use scribe_core::{OrgScope, SessionId, UserId};
use tokio_postgres::types::ToSql;

use super::identity::{get_user, login_row, USER_COLUMNS};
use super::sql::{opt_id, opt_uint, scoped, to_i64};
use crate::crypto::Keyring;
use crate::error::{StoreError, StoreResult};
use crate::model::{
    judge_access, AccessState, LoginCounters, MfaState, NewSession, Revocation, Rotation,
    RotationOutcome, User, UserChange,
};
use crate::sealing::{USER_EMAIL, USER_MFA_SECRET};

/// Runs an `UPDATE` of one user of the scope; touching no row is `NotFound`.
async fn update_user(
    tx: &Transaction<'_>,
    scope: &OrgScope,
    user: UserId,
    set: &str,
    params: &[&(dyn ToSql + Sync)],
) -> StoreResult<()> {
    let sql = format!("UPDATE users SET {set} WHERE org_id = $1 AND id = $2");
    let (org, id) = (scope.org_id().as_uuid(), user.as_uuid());
    let mut all: Vec<&(dyn ToSql + Sync)> = vec![&org, &id];
    all.extend_from_slice(params);
    if tx.execute(&sql, &all).await? == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

pub(crate) async fn set_login_counters(
    client: &mut Client,
    scope: &OrgScope,
    user: UserId,
    c: LoginCounters,
) -> StoreResult<()> {
    let until = c.locked_until_ms.map(to_i64).transpose()?;
    let failures = i32::try_from(c.failures).unwrap_or(i32::MAX);
    let lockouts = i32::try_from(c.lockouts).unwrap_or(i32::MAX);
    let tx = scoped(client, scope).await?;
    update_user(
        &tx,
        scope,
        user,
        "failed_logins = $3, lockouts = $4, locked_until_ms = $5",
        &[&failures, &lockouts, &until],
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

pub(crate) async fn create_session(
    client: &mut Client,
    scope: &OrgScope,
    new: NewSession,
) -> StoreResult<()> {
    let org = scope.org_id().as_uuid();
    let tx = scoped(client, scope).await?;
    let inserted = tx
        .execute(
            "INSERT INTO sessions (id, org_id, user_id, created_at_ms, expires_at_ms)
             SELECT $1, org_id, id, $4, $5 FROM users
             WHERE org_id = $2 AND id = $3 AND disabled_at_ms IS NULL",
            &[
                &new.id.as_uuid(),
                &org,
                &new.user_id.as_uuid(),
                &to_i64(new.now_ms)?,
                &to_i64(new.expires_at_ms)?,
            ],
        )
        .await?;
    if inserted == 0 {
        return Err(StoreError::NotFound);
    }
    tx.execute(
        "INSERT INTO refresh_tokens (hash, org_id, session_id) VALUES ($1, $2, $3)",
        &[&new.refresh_hash.as_slice(), &org, &new.id.as_uuid()],
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

pub(crate) async fn rotate_session(
    client: &mut Client,
    scope: &OrgScope,
    r: Rotation,
) -> StoreResult<RotationOutcome> {
    let org = scope.org_id().as_uuid();
    let now = to_i64(r.now_ms)?;
    let tx = scoped(client, scope).await?;
    // FOR UPDATE: two servers presenting the same token at once queue here; the second sees
    // it spent, which is reuse.
    let found = tx
        .query_opt(
            "SELECT t.used_at_ms, s.revoked_at_ms, s.expires_at_ms, u.disabled_at_ms,
                    u.id, u.role
             FROM refresh_tokens t
             JOIN sessions s ON s.org_id = t.org_id AND s.id = t.session_id
             JOIN users u ON u.org_id = s.org_id AND u.id = s.user_id
             WHERE t.hash = $1 AND t.org_id = $2 AND t.session_id = $3
             FOR UPDATE OF t, s",
            &[&r.presented.as_slice(), &org, &r.session_id.as_uuid()],
        )
        .await?;
    let Some(row) = found else {
        tx.commit().await?;
        return Ok(RotationOutcome::Refused);
    };
    let (used, revoked, expires, disabled) = (
        opt_uint(&row, 0)?,
        opt_uint(&row, 1)?,
        opt_uint(&row, 2)?,
        opt_uint(&row, 3)?,
    );
    let user_id = super::sql::id(&row, 4, UserId::from_uuid)?;
    let role: String = row.try_get(5)?;
    if used.is_some() {
        tx.execute(
            "UPDATE sessions SET revoked_at_ms = coalesce(revoked_at_ms, $3)
             WHERE org_id = $1 AND id = $2",
            &[&org, &r.session_id.as_uuid(), &now],
        )
        .await?;
        tx.commit().await?;
        return Ok(RotationOutcome::Reused);
    }
    if revoked.is_some() || disabled.is_some() || expires.is_none_or(|e| e <= r.now_ms) {
        tx.commit().await?;
        return Ok(RotationOutcome::Refused);
    }
    tx.execute(
        "UPDATE refresh_tokens SET used_at_ms = $2 WHERE hash = $1",
        &[&r.presented.as_slice(), &now],
    )
    .await?;
    tx.execute(
        "INSERT INTO refresh_tokens (hash, org_id, session_id) VALUES ($1, $2, $3)",
        &[&r.next.as_slice(), &org, &r.session_id.as_uuid()],
    )
    .await?;
    tx.commit().await?;
    Ok(RotationOutcome::Rotated { user_id, role })
}

pub(crate) async fn revoke_sessions(
    client: &mut Client,
    scope: &OrgScope,
    which: Revocation,
    now_ms: u64,
) -> StoreResult<u64> {
    let (column, id) = match which {
        Revocation::Session(s) => ("id", s.as_uuid()),
        Revocation::User(u) => ("user_id", u.as_uuid()),
    };
    let sql = format!(
        "UPDATE sessions SET revoked_at_ms = $3
         WHERE org_id = $1 AND {column} = $2 AND revoked_at_ms IS NULL"
    );
    let tx = scoped(client, scope).await?;
    let n = tx
        .execute(&sql, &[&scope.org_id().as_uuid(), &id, &to_i64(now_ms)?])
        .await?;
    tx.commit().await?;
    Ok(n)
}

pub(crate) async fn deny_token(
    client: &mut Client,
    scope: &OrgScope,
    hash: [u8; 32],
    expires_at_ms: u64,
    now_ms: u64,
) -> StoreResult<()> {
    let tx = scoped(client, scope).await?;
    tx.execute(
        "DELETE FROM revoked_tokens WHERE expires_at_ms <= $1",
        &[&to_i64(now_ms)?],
    )
    .await?;
    tx.execute(
        "INSERT INTO revoked_tokens (hash, org_id, expires_at_ms) VALUES ($1, $2, $3)
         ON CONFLICT (hash) DO NOTHING",
        &[
            &hash.as_slice(),
            &scope.org_id().as_uuid(),
            &to_i64(expires_at_ms)?,
        ],
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

pub(crate) async fn access_state(
    client: &mut Client,
    scope: &OrgScope,
    user: UserId,
    session: SessionId,
    token_hash: [u8; 32],
    now_ms: u64,
) -> StoreResult<AccessState> {
    let tx = scoped(client, scope).await?;
    let stmt = tx
        .prepare_cached(
            "SELECT u.role, u.disabled_at_ms, s.user_id, s.revoked_at_ms, s.expires_at_ms,
                    EXISTS (SELECT 1 FROM revoked_tokens r
                            WHERE r.hash = $4 AND r.org_id = u.org_id AND r.expires_at_ms > $5)
             FROM users u
             LEFT JOIN sessions s ON s.org_id = u.org_id AND s.id = $3
             WHERE u.org_id = $1 AND u.id = $2",
        )
        .await?;
    let row = tx
        .query_opt(
            &stmt,
            &[
                &scope.org_id().as_uuid(),
                &user.as_uuid(),
                &session.as_uuid(),
                &token_hash.as_slice(),
                &to_i64(now_ms)?,
            ],
        )
        .await?;
    tx.commit().await?;
    let Some(row) = row else {
        return Ok(AccessState::Ended("unknown user"));
    };
    Ok(judge_access(
        row.try_get(0)?,
        opt_uint(&row, 1)?,
        opt_id(&row, 2, UserId::from_uuid)?,
        user,
        opt_uint(&row, 3)?,
        opt_uint(&row, 4)?,
        row.try_get(5)?,
        now_ms,
    ))
}

pub(crate) async fn change_user(
    client: &mut Client,
    keys: &Keyring,
    scope: &OrgScope,
    user: UserId,
    change: UserChange,
    now_ms: u64,
) -> StoreResult<User> {
    let now = to_i64(now_ms)?;
    let tx = scoped(client, scope).await?;
    if let Some(role) = &change.role {
        update_user(&tx, scope, user, "role = $3", &[role]).await?;
    }
    if let Some(hash) = &change.password_hash {
        update_user(
            &tx,
            scope,
            user,
            "password_hash = $3, failed_logins = 0, lockouts = 0, locked_until_ms = NULL",
            &[hash],
        )
        .await?;
    }
    match change.disabled {
        Some(true) => {
            update_user(
                &tx,
                scope,
                user,
                "disabled_at_ms = coalesce(disabled_at_ms, $3)",
                &[&now],
            )
            .await?;
        }
        Some(false) => update_user(&tx, scope, user, "disabled_at_ms = NULL", &[]).await?,
        None => {}
    }
    if change.ends_sessions() {
        tx.execute(
            "UPDATE sessions SET revoked_at_ms = $3
             WHERE org_id = $1 AND user_id = $2 AND revoked_at_ms IS NULL",
            &[&scope.org_id().as_uuid(), &user.as_uuid(), &now],
        )
        .await?;
    }
    tx.commit().await?;
    get_user(client, keys, scope, user).await
}

pub(crate) async fn list_users(
    client: &mut Client,
    keys: &Keyring,
    scope: &OrgScope,
) -> StoreResult<Vec<User>> {
    let tx = scoped(client, scope).await?;
    let rows = tx
        .query(
            &format!(
                "SELECT {USER_COLUMNS} FROM users WHERE org_id = $1 ORDER BY created_at_ms, id"
            ),
            &[&scope.org_id().as_uuid()],
        )
        .await?;
    let org_keys = super::keys::org_keys(&tx, keys, scope.org_id()).await?;
    let users = rows
        .iter()
        .map(|row| {
            let mut user = login_row(row)?.user;
            user.email = org_keys.open(USER_EMAIL, &user.id.to_string(), &user.email)?;
            Ok(user)
        })
        .collect::<StoreResult<Vec<_>>>()?;
    tx.commit().await?;
    Ok(users)
}

pub(crate) async fn mfa_state(
    client: &mut Client,
    keys: &Keyring,
    scope: &OrgScope,
    user: UserId,
) -> StoreResult<MfaState> {
    let tx = scoped(client, scope).await?;
    let row = tx
        .query_opt(
            "SELECT mfa_secret, mfa_enabled, mfa_last_step FROM users
             WHERE org_id = $1 AND id = $2",
            &[&scope.org_id().as_uuid(), &user.as_uuid()],
        )
        .await?
        .ok_or(StoreError::NotFound)?;
    let sealed: Option<String> = row.try_get(0)?;
    let secret = match sealed {
        Some(s) => Some(
            super::keys::org_keys(&tx, keys, scope.org_id())
                .await?
                .open(USER_MFA_SECRET, &user.to_string(), &s)?,
        ),
        None => None,
    };
    let state = MfaState {
        secret,
        enabled: row.try_get(1)?,
        last_step: opt_uint(&row, 2)?,
    };
    tx.commit().await?;
    Ok(state)
}

pub(crate) async fn set_mfa_secret(
    client: &mut Client,
    keys: &Keyring,
    scope: &OrgScope,
    user: UserId,
    secret: Option<String>,
) -> StoreResult<()> {
    let tx = scoped(client, scope).await?;
    let sealed = match &secret {
        Some(s) => Some(
            super::keys::org_keys(&tx, keys, scope.org_id())
                .await?
                .seal(USER_MFA_SECRET, &user.to_string(), s)?,
        ),
        None => None,
    };
    update_user(
        &tx,
        scope,
        user,
        "mfa_secret = $3, mfa_enabled = false, mfa_last_step = NULL",
        &[&sealed],
    )
    .await?;
    tx.execute(
        "DELETE FROM mfa_backup_codes WHERE org_id = $1 AND user_id = $2",
        &[&scope.org_id().as_uuid(), &user.as_uuid()],
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

pub(crate) async fn enable_mfa(
    client: &mut Client,
    scope: &OrgScope,
    user: UserId,
    step: u64,
    codes: Vec<[u8; 32]>,
) -> StoreResult<()> {
    let (org, id) = (scope.org_id().as_uuid(), user.as_uuid());
    let tx = scoped(client, scope).await?;
    let pending = tx
        .query_opt(
            "SELECT mfa_secret FROM users WHERE org_id = $1 AND id = $2 FOR UPDATE",
            &[&org, &id],
        )
        .await?
        .ok_or(StoreError::NotFound)?;
    if pending.try_get::<_, Option<String>>(0)?.is_none() {
        return Err(StoreError::Conflict("no MFA enrolment is pending"));
    }
    update_user(
        &tx,
        scope,
        user,
        "mfa_enabled = true, mfa_last_step = $3",
        &[&to_i64(step)?],
    )
    .await?;
    tx.execute(
        "DELETE FROM mfa_backup_codes WHERE org_id = $1 AND user_id = $2",
        &[&org, &id],
    )
    .await?;
    for hash in codes {
        tx.execute(
            "INSERT INTO mfa_backup_codes (org_id, user_id, hash) VALUES ($1, $2, $3)",
            &[&org, &id, &hash.as_slice()],
        )
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

pub(crate) async fn claim_totp_step(
    client: &mut Client,
    scope: &OrgScope,
    user: UserId,
    step: u64,
) -> StoreResult<bool> {
    let tx = scoped(client, scope).await?;
    let n = tx
        .execute(
            "UPDATE users SET mfa_last_step = $3
             WHERE org_id = $1 AND id = $2 AND (mfa_last_step IS NULL OR mfa_last_step < $3)",
            &[&scope.org_id().as_uuid(), &user.as_uuid(), &to_i64(step)?],
        )
        .await?;
    tx.commit().await?;
    Ok(n == 1)
}

pub(crate) async fn use_backup_code(
    client: &mut Client,
    scope: &OrgScope,
    user: UserId,
    hash: [u8; 32],
    now_ms: u64,
) -> StoreResult<bool> {
    let tx = scoped(client, scope).await?;
    let n = tx
        .execute(
            "UPDATE mfa_backup_codes SET used_at_ms = $4
             WHERE org_id = $1 AND user_id = $2 AND hash = $3 AND used_at_ms IS NULL",
            &[
                &scope.org_id().as_uuid(),
                &user.as_uuid(),
                &hash.as_slice(),
                &to_i64(now_ms)?,
            ],
        )
        .await?;
    tx.commit().await?;
    Ok(n == 1)
}

/// TOTP secrets, for `keys reencrypt` (from migration 6 on; never plain text).
pub(crate) async fn reseal_mfa_secrets(
    tx: &Transaction<'_>,
    keys: &Keyring,
    scope: &OrgScope,
    report: &mut crate::sealing::ReencryptReport,
) -> StoreResult<()> {
    let org_keys = super::keys::org_keys(tx, keys, scope.org_id()).await?;
    for row in tx
        .query(
            "SELECT id, mfa_secret FROM users
             WHERE org_id = $1 AND mfa_secret IS NOT NULL FOR UPDATE",
            &[&scope.org_id().as_uuid()],
        )
        .await?
    {
        let id: uuid::Uuid = row.try_get(0)?;
        let secret: &str = row.try_get(1)?;
        let outcome = org_keys.reseal(USER_MFA_SECRET, &id.to_string(), secret, false);
        if let Some(sealed) = report.count(USER_MFA_SECRET, &id.to_string(), outcome) {
            tx.execute(
                "UPDATE users SET mfa_secret = $2 WHERE id = $1",
                &[&id, &sealed],
            )
            .await?;
        }
    }
    Ok(())
}
