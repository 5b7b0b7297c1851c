//! Access in the embedded store (blocking; run through the pool): the organisation's policy,
//! per-meeting grants and invitations.

use rusqlite::{Connection, OptionalExtension, Row, TransactionBehavior};
use scribe_core::{InviteId, MeetingId, OrgScope, UserId};

use super::identity::{get_user, insert_user};
use super::meetings::{get_meeting, list_meetings_where};
use super::sql::{id, now_ms, opt_id, placeholders, to_i64, uint};
use crate::crypto::Keyring;
use crate::error::{StoreError, StoreResult};
use crate::model::{
    check_integration, check_permission, email_key, join_policy_list, split_policy_list, Invite,
    Meeting, MeetingGrant, NewInvite, NewUser, OrgPolicy, OrgPolicyChange, User,
};
use crate::sealing::{integration_row, INTEGRATION_VALUE};

pub(crate) fn org_policy(conn: &mut Connection, scope: OrgScope) -> StoreResult<OrgPolicy> {
    read_policy(conn, scope)
}

fn read_policy(conn: &Connection, scope: OrgScope) -> StoreResult<OrgPolicy> {
    conn.query_row(
        "SELECT mfa_required, invite_domains, login_networks FROM organisations WHERE id = ?1",
        [scope.org_id().to_string()],
        |row| {
            Ok(OrgPolicy {
                mfa_required: row.get(0)?,
                invite_domains: split_policy_list(&row.get::<_, String>(1)?),
                login_networks: split_policy_list(&row.get::<_, String>(2)?),
            })
        },
    )
    .optional()?
    .ok_or(StoreError::NotFound)
}

pub(crate) fn set_org_policy(
    conn: &mut Connection,
    scope: OrgScope,
    change: OrgPolicyChange,
) -> StoreResult<OrgPolicy> {
    change.validate()?;
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let policy = read_policy(&tx, scope)?.changed(change);
    tx.execute(
        "UPDATE organisations SET mfa_required = ?2, invite_domains = ?3, login_networks = ?4
         WHERE id = ?1",
        rusqlite::params![
            scope.org_id().to_string(),
            policy.mfa_required,
            join_policy_list(&policy.invite_domains),
            join_policy_list(&policy.login_networks),
        ],
    )?;
    tx.commit()?;
    Ok(policy)
}

pub(crate) fn meeting_access(
    conn: &mut Connection,
    keys: &Keyring,
    scope: OrgScope,
    meeting: MeetingId,
    user: UserId,
) -> StoreResult<(Meeting, Option<String>)> {
    let m = get_meeting(conn, keys, scope, meeting)?;
    let grant = conn
        .query_row(
            "SELECT permission FROM meeting_grants
             WHERE org_id = ?1 AND meeting_id = ?2 AND user_id = ?3",
            [
                scope.org_id().to_string(),
                meeting.to_string(),
                user.to_string(),
            ],
            |row| row.get(0),
        )
        .optional()?;
    Ok((m, grant))
}

pub(crate) fn set_meeting_grant(
    conn: &mut Connection,
    scope: OrgScope,
    meeting: MeetingId,
    user: UserId,
    permission: Option<String>,
) -> StoreResult<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let (org, m, u) = (
        scope.org_id().to_string(),
        meeting.to_string(),
        user.to_string(),
    );
    let both_exist: bool = tx.query_row(
        "SELECT EXISTS (SELECT 1 FROM meetings WHERE org_id = ?1 AND id = ?2)
            AND EXISTS (SELECT 1 FROM users WHERE org_id = ?1 AND id = ?3)",
        [&org, &m, &u],
        |row| row.get(0),
    )?;
    if !both_exist {
        return Err(StoreError::NotFound);
    }
    match permission {
        Some(p) => {
            check_permission(&p)?;
            tx.execute(
                "INSERT INTO meeting_grants (org_id, meeting_id, user_id, permission, granted_at_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (meeting_id, user_id)
                 DO UPDATE SET permission = excluded.permission,
                               granted_at_ms = excluded.granted_at_ms",
                rusqlite::params![org, m, u, p, now_ms()],
            )?;
        }
        None => {
            tx.execute(
                "DELETE FROM meeting_grants WHERE org_id = ?1 AND meeting_id = ?2 AND user_id = ?3",
                [&org, &m, &u],
            )?;
        }
    }
    tx.commit()?;
    Ok(())
}

pub(crate) fn list_meeting_grants(
    conn: &mut Connection,
    scope: OrgScope,
    meeting: MeetingId,
) -> StoreResult<Vec<MeetingGrant>> {
    let mut stmt = conn.prepare(
        "SELECT user_id, permission, granted_at_ms FROM meeting_grants
         WHERE org_id = ?1 AND meeting_id = ?2 ORDER BY granted_at_ms, rowid",
    )?;
    let rows = stmt.query_map([scope.org_id().to_string(), meeting.to_string()], |row| {
        Ok(MeetingGrant {
            user_id: id(row, 0)?,
            permission: row.get(1)?,
            granted_at_ms: uint(row, 2)?,
        })
    })?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

pub(crate) fn list_granted_meetings(
    conn: &mut Connection,
    keys: &Keyring,
    scope: OrgScope,
    user: UserId,
) -> StoreResult<Vec<Meeting>> {
    list_meetings_where(
        conn,
        keys,
        scope,
        "id IN (SELECT meeting_id FROM meeting_grants WHERE org_id = ?1 AND user_id = ?2)",
        &user.to_string(),
    )
}

const INVITE_COLUMNS: &str = "id, org_id, role, created_by, created_at_ms, expires_at_ms, user_id";

fn invite_row(row: &Row<'_>) -> rusqlite::Result<Invite> {
    Ok(Invite {
        id: id(row, 0)?,
        org_id: id(row, 1)?,
        role: row.get(2)?,
        created_by: opt_id(row, 3)?,
        created_at_ms: uint(row, 4)?,
        expires_at_ms: uint(row, 5)?,
        user_id: opt_id(row, 6)?,
    })
}

pub(crate) fn create_invite(
    conn: &mut Connection,
    keys: &Keyring,
    scope: OrgScope,
    new: NewInvite,
) -> StoreResult<Invite> {
    new.validate()?;
    let indexes = keys.email_indexes(&email_key(&new.email));
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    // An invitation to join is for an address without an account; a reset for one with.
    let taken: bool = new.user_id.is_none()
        && tx.query_row(
            &format!(
                "SELECT EXISTS (SELECT 1 FROM users WHERE email_key IN ({}))",
                placeholders(1, indexes.len())
            ),
            rusqlite::params_from_iter(&indexes),
            |row| row.get(0),
        )?;
    if taken {
        return Err(StoreError::Conflict("email already registered"));
    }
    let invite = Invite {
        id: InviteId::generate(),
        org_id: scope.org_id(),
        role: new.role,
        created_by: new.created_by,
        created_at_ms: now_ms_u64(),
        expires_at_ms: new.expires_at_ms,
        user_id: new.user_id,
    };
    let inserted = tx.execute(
        "INSERT INTO invites (id, hash, org_id, email_key, role, created_by, created_at_ms,
                              expires_at_ms, user_id)
         SELECT ?1, ?2, id, ?4, ?5, ?6, ?7, ?8, ?9 FROM organisations WHERE id = ?3",
        rusqlite::params![
            invite.id.to_string(),
            new.hash.as_slice(),
            invite.org_id.to_string(),
            keys.email_index(&email_key(&new.email)),
            invite.role,
            invite.created_by.map(|u| u.to_string()),
            to_i64(invite.created_at_ms)?,
            to_i64(invite.expires_at_ms)?,
            invite.user_id.map(|u| u.to_string()),
        ],
    )?;
    if inserted == 0 {
        return Err(StoreError::NotFound);
    }
    tx.commit()?;
    Ok(invite)
}

fn now_ms_u64() -> u64 {
    u64::try_from(now_ms()).unwrap_or(0)
}

pub(crate) fn list_invites(
    conn: &mut Connection,
    scope: OrgScope,
    now_ms: u64,
) -> StoreResult<Vec<Invite>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {INVITE_COLUMNS} FROM invites
         WHERE org_id = ?1 AND accepted_at_ms IS NULL AND expires_at_ms > ?2 AND user_id IS NULL
         ORDER BY created_at_ms, rowid"
    ))?;
    let rows = stmt.query_map(
        rusqlite::params![scope.org_id().to_string(), to_i64(now_ms)?],
        invite_row,
    )?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

pub(crate) fn revoke_invite(
    conn: &mut Connection,
    scope: OrgScope,
    invite: InviteId,
) -> StoreResult<()> {
    let n = conn.execute(
        "DELETE FROM invites WHERE org_id = ?1 AND id = ?2 AND accepted_at_ms IS NULL",
        [scope.org_id().to_string(), invite.to_string()],
    )?;
    if n == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

pub(crate) fn find_invite(
    conn: &mut Connection,
    keys: &Keyring,
    hash: [u8; 32],
    email: &str,
    now_ms: u64,
) -> StoreResult<Option<Invite>> {
    let indexes = keys.email_indexes(&email_key(email));
    let sql = format!(
        "SELECT {INVITE_COLUMNS} FROM invites
         WHERE hash = ?1 AND accepted_at_ms IS NULL AND expires_at_ms > ?2
           AND email_key IN ({})",
        placeholders(3, indexes.len())
    );
    let mut params: Vec<Box<dyn rusqlite::ToSql>> =
        vec![Box::new(hash.to_vec()), Box::new(to_i64(now_ms)?)];
    params.extend(
        indexes
            .into_iter()
            .map(|i| Box::new(i) as Box<dyn rusqlite::ToSql>),
    );
    Ok(conn
        .query_row(&sql, rusqlite::params_from_iter(params), invite_row)
        .optional()?)
}

pub(crate) fn accept_invite(
    conn: &mut Connection,
    keys: &Keyring,
    invite: Invite,
    hash: [u8; 32],
    email: &str,
    password_hash: String,
    now_ms: u64,
) -> StoreResult<User> {
    let indexes = keys.email_indexes(&email_key(email));
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let sql = format!(
        "UPDATE invites SET accepted_at_ms = ?3
         WHERE id = ?1 AND hash = ?2 AND accepted_at_ms IS NULL AND expires_at_ms > ?3
           AND email_key IN ({})
         RETURNING org_id, role, user_id",
        placeholders(4, indexes.len())
    );
    let mut params: Vec<Box<dyn rusqlite::ToSql>> = vec![
        Box::new(invite.id.to_string()),
        Box::new(hash.to_vec()),
        Box::new(to_i64(now_ms)?),
    ];
    params.extend(
        indexes
            .into_iter()
            .map(|i| Box::new(i) as Box<dyn rusqlite::ToSql>),
    );
    let claimed: Option<(String, String, Option<String>)> = tx
        .query_row(&sql, rusqlite::params_from_iter(params), |row| {
            Ok((row.get(0)?, row.get(1)?, row.get(2)?))
        })
        .optional()?;
    let Some((org, role, reset_of)) = claimed else {
        return Err(StoreError::NotFound);
    };
    if org != invite.org_id.to_string() {
        return Err(StoreError::NotFound);
    }
    let scope = OrgScope::for_org(invite.org_id);
    if let Some(user) = reset_of {
        // A password reset: the new password, counters cleared, every session ended.
        let now = to_i64(now_ms)?;
        let n = tx.execute(
            "UPDATE users SET password_hash = ?3, failed_logins = 0, lockouts = 0,
                              locked_until_ms = NULL
             WHERE org_id = ?1 AND id = ?2",
            rusqlite::params![org, user, password_hash],
        )?;
        if n == 0 {
            return Err(StoreError::NotFound);
        }
        tx.execute(
            "UPDATE sessions SET revoked_at_ms = ?3
             WHERE org_id = ?1 AND user_id = ?2 AND revoked_at_ms IS NULL",
            rusqlite::params![org, user, now],
        )?;
        tx.commit()?;
        let user: UserId = user
            .parse()
            .map_err(|_| StoreError::Corrupt("a malformed user id"))?;
        return get_user(conn, keys, scope, user);
    }
    let user = insert_user(
        &tx,
        keys,
        scope,
        NewUser {
            email: email.to_owned(),
            password_hash,
            role,
        },
    )?;
    tx.commit()?;
    Ok(user)
}

pub(crate) fn has_users(conn: &mut Connection) -> StoreResult<bool> {
    Ok(conn.query_row("SELECT EXISTS (SELECT 1 FROM users)", [], |row| row.get(0))?)
}

pub(crate) fn set_integration(
    conn: &mut Connection,
    keys: &Keyring,
    scope: OrgScope,
    name: String,
    value: Option<String>,
) -> StoreResult<()> {
    check_integration(&name, value.as_deref())?;
    let org = scope.org_id().to_string();
    match value {
        Some(v) => {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let sealed = super::keys::org_keys(&tx, keys, scope.org_id())?.seal(
                INTEGRATION_VALUE,
                &integration_row(scope.org_id(), &name),
                &v,
            )?;
            let n = tx.execute(
                "INSERT INTO integrations (org_id, name, value, updated_at_ms)
                 SELECT id, ?2, ?3, ?4 FROM organisations WHERE id = ?1
                 ON CONFLICT (org_id, name)
                 DO UPDATE SET value = excluded.value, updated_at_ms = excluded.updated_at_ms",
                rusqlite::params![org, name, sealed, now_ms()],
            )?;
            if n == 0 {
                return Err(StoreError::NotFound);
            }
            tx.commit()?;
        }
        None => {
            conn.execute(
                "DELETE FROM integrations WHERE org_id = ?1 AND name = ?2",
                [org, name],
            )?;
        }
    }
    Ok(())
}

pub(crate) fn integration(
    conn: &mut Connection,
    keys: &Keyring,
    scope: OrgScope,
    name: String,
) -> StoreResult<Option<String>> {
    let sealed: Option<String> = conn
        .query_row(
            "SELECT value FROM integrations WHERE org_id = ?1 AND name = ?2",
            [scope.org_id().to_string(), name.clone()],
            |row| row.get(0),
        )
        .optional()?;
    sealed
        .map(|v| {
            super::keys::org_keys(conn, keys, scope.org_id())?.open(
                INTEGRATION_VALUE,
                &integration_row(scope.org_id(), &name),
                &v,
            )
        })
        .transpose()
}

pub(crate) fn integration_names(
    conn: &mut Connection,
    scope: OrgScope,
) -> StoreResult<Vec<String>> {
    let mut stmt = conn.prepare("SELECT name FROM integrations WHERE org_id = ?1 ORDER BY name")?;
    let rows = stmt.query_map([scope.org_id().to_string()], |row| row.get(0))?;
    Ok(rows.collect::<Result<Vec<String>, _>>()?)
}

/// Integration settings, for `keys reencrypt` (from migration 8 on; never plain text).
pub(crate) fn reseal_integrations(
    conn: &Connection,
    keys: &Keyring,
    scope: OrgScope,
    report: &mut crate::sealing::ReencryptReport,
) -> StoreResult<()> {
    let org_keys = super::keys::org_keys(conn, keys, scope.org_id())?;
    let values: Vec<(String, String)> = {
        let mut stmt = conn.prepare("SELECT name, value FROM integrations WHERE org_id = ?1")?;
        let rows = stmt.query_map([scope.org_id().to_string()], |r| Ok((r.get(0)?, r.get(1)?)))?;
        rows.collect::<Result<_, _>>()?
    };
    for (name, value) in values {
        let row = integration_row(scope.org_id(), &name);
        let outcome = org_keys.reseal(INTEGRATION_VALUE, &row, &value, false);
        if let Some(sealed) = report.count(INTEGRATION_VALUE, &row, outcome) {
            conn.execute(
                "UPDATE integrations SET value = ?3 WHERE org_id = ?1 AND name = ?2",
                rusqlite::params![scope.org_id().to_string(), name, sealed],
            )?;
        }
    }
    Ok(())
}
