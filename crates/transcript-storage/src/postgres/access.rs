//! Access in the PostgreSQL store: the organisation's policy, per-meeting grants and
//! invitations.

use deadpool_postgres::Client;
use scribe_core::{InviteId, MeetingId, OrgId, OrgScope, UserId};
use tokio_postgres::Row;

use super::identity::{get_user, insert_user};
use super::meetings::{read_meeting_rows, read_meetings, MEETING_COLUMNS};
use super::sql::{id, lookup, opt_id, scoped, scoped_rows, scoped_touch, to_i64, uint};
use crate::crypto::Keyring;
use crate::error::{StoreError, StoreResult};
use crate::model::{
    check_integration, check_permission, email_key, join_policy_list, now_ms, split_policy_list,
    Invite, Meeting, MeetingGrant, NewInvite, NewUser, OrgPolicy, OrgPolicyChange, User,
};
use crate::sealing::{integration_row, INTEGRATION_VALUE};

fn policy_row(row: &Row) -> StoreResult<OrgPolicy> {
    Ok(OrgPolicy {
        mfa_required: row.try_get(0)?,
        invite_domains: split_policy_list(row.try_get(1)?),
        login_networks: split_policy_list(row.try_get(2)?),
    })
}

pub(crate) async fn org_policy(client: &mut Client, scope: &OrgScope) -> StoreResult<OrgPolicy> {
    let tx = scoped(client, scope).await?;
    let row = tx
        .query_opt(
            "SELECT mfa_required, invite_domains, login_networks FROM organisations
             WHERE id = $1",
            &[&scope.org_id().as_uuid()],
        )
        .await?
        .ok_or(StoreError::NotFound)?;
    tx.commit().await?;
    policy_row(&row)
}

pub(crate) async fn set_org_policy(
    client: &mut Client,
    scope: &OrgScope,
    change: OrgPolicyChange,
) -> StoreResult<OrgPolicy> {
    change.validate()?;
    let tx = scoped(client, scope).await?;
    let row = tx
        .query_opt(
            "SELECT mfa_required, invite_domains, login_networks FROM organisations
             WHERE id = $1 FOR UPDATE",
            &[&scope.org_id().as_uuid()],
        )
        .await?
        .ok_or(StoreError::NotFound)?;
    let policy = policy_row(&row)?.changed(change);
    tx.execute(
        "UPDATE organisations SET mfa_required = $2, invite_domains = $3, login_networks = $4
         WHERE id = $1",
        &[
            &scope.org_id().as_uuid(),
            &policy.mfa_required,
            &join_policy_list(&policy.invite_domains),
            &join_policy_list(&policy.login_networks),
        ],
    )
    .await?;
    tx.commit().await?;
    Ok(policy)
}

pub(crate) async fn meeting_access(
    client: &mut Client,
    keys: &Keyring,
    scope: &OrgScope,
    meeting: MeetingId,
    user: UserId,
) -> StoreResult<(Meeting, Option<String>)> {
    let sql = format!(
        "SELECT {MEETING_COLUMNS},
                (SELECT g.permission FROM meeting_grants g
                 WHERE g.org_id = $1 AND g.meeting_id = meetings.id AND g.user_id = $3)
         FROM meetings WHERE org_id = $1 AND id = $2"
    );
    let (m, row) = read_meeting_rows(
        client,
        keys,
        scope,
        &sql,
        &[
            &scope.org_id().as_uuid(),
            &meeting.as_uuid(),
            &user.as_uuid(),
        ],
    )
    .await?
    .pop()
    .ok_or(StoreError::NotFound)?;
    let grant: Option<String> = row.try_get(6)?;
    Ok((m, grant))
}

pub(crate) async fn set_meeting_grant(
    client: &mut Client,
    scope: &OrgScope,
    meeting: MeetingId,
    user: UserId,
    permission: Option<String>,
) -> StoreResult<()> {
    let (org, m, u) = (scope.org_id().as_uuid(), meeting.as_uuid(), user.as_uuid());
    let tx = scoped(client, scope).await?;
    let both_exist: bool = tx
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM meetings WHERE org_id = $1 AND id = $2)
                AND EXISTS (SELECT 1 FROM users WHERE org_id = $1 AND id = $3)",
            &[&org, &m, &u],
        )
        .await?
        .try_get(0)?;
    if !both_exist {
        return Err(StoreError::NotFound);
    }
    match permission {
        Some(p) => {
            check_permission(&p)?;
            tx.execute(
                "INSERT INTO meeting_grants (org_id, meeting_id, user_id, permission, granted_at_ms)
                 VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (meeting_id, user_id)
                 DO UPDATE SET permission = excluded.permission,
                               granted_at_ms = excluded.granted_at_ms",
                &[&org, &m, &u, &p, &now_ms()],
            )
            .await?;
        }
        None => {
            tx.execute(
                "DELETE FROM meeting_grants WHERE org_id = $1 AND meeting_id = $2 AND user_id = $3",
                &[&org, &m, &u],
            )
            .await?;
        }
    }
    tx.commit().await?;
    Ok(())
}

pub(crate) async fn list_meeting_grants(
    client: &mut Client,
    scope: &OrgScope,
    meeting: MeetingId,
) -> StoreResult<Vec<MeetingGrant>> {
    scoped_rows(
        client,
        scope,
        "SELECT user_id, permission, granted_at_ms FROM meeting_grants
         WHERE org_id = $1 AND meeting_id = $2 ORDER BY granted_at_ms, user_id",
        &[&scope.org_id().as_uuid(), &meeting.as_uuid()],
        |row| {
            Ok(MeetingGrant {
                user_id: id(row, 0, UserId::from_uuid)?,
                permission: row.try_get(1)?,
                granted_at_ms: uint(row, 2)?,
            })
        },
    )
    .await
}

pub(crate) async fn list_granted_meetings(
    client: &mut Client,
    keys: &Keyring,
    scope: &OrgScope,
    user: UserId,
) -> StoreResult<Vec<Meeting>> {
    let sql = format!(
        "SELECT {MEETING_COLUMNS} FROM meetings
         WHERE org_id = $1
           AND id IN (SELECT meeting_id FROM meeting_grants WHERE org_id = $1 AND user_id = $2)
         ORDER BY created_at_ms, position"
    );
    read_meetings(
        client,
        keys,
        scope,
        &sql,
        &[&scope.org_id().as_uuid(), &user.as_uuid()],
    )
    .await
}

const INVITE_COLUMNS: &str = "id, org_id, role, created_by, created_at_ms, expires_at_ms, user_id";

fn invite_row(row: &Row) -> StoreResult<Invite> {
    Ok(Invite {
        id: id(row, 0, InviteId::from_uuid)?,
        org_id: id(row, 1, OrgId::from_uuid)?,
        role: row.try_get(2)?,
        created_by: opt_id(row, 3, UserId::from_uuid)?,
        created_at_ms: uint(row, 4)?,
        expires_at_ms: uint(row, 5)?,
        user_id: opt_id(row, 6, UserId::from_uuid)?,
    })
}

pub(crate) async fn create_invite(
    client: &mut Client,
    keys: &Keyring,
    scope: &OrgScope,
    new: NewInvite,
) -> StoreResult<Invite> {
    new.validate()?;
    let indexes = keys.email_indexes(&email_key(&new.email));
    // An invitation to join is for an address without an account (in any organisation: only
    // the lookup may see them all); a reset for one with.
    let tx = lookup(client).await?;
    let taken: bool = tx
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM users WHERE email_key = ANY($1))",
            &[&indexes],
        )
        .await?
        .try_get(0)?;
    tx.commit().await?;
    if taken && new.user_id.is_none() {
        return Err(StoreError::Conflict("email already registered"));
    }
    let at = now_ms();
    let invite = Invite {
        id: InviteId::generate(),
        org_id: scope.org_id(),
        role: new.role,
        created_by: new.created_by,
        created_at_ms: u64::try_from(at).unwrap_or(0),
        expires_at_ms: new.expires_at_ms,
        user_id: new.user_id,
    };
    scoped_touch(
        client,
        scope,
        "INSERT INTO invites (id, hash, org_id, email_key, role, created_by, created_at_ms,
                              expires_at_ms, user_id)
         SELECT $1, $2, id, $4, $5, $6, $7, $8, $9 FROM organisations WHERE id = $3",
        &[
            &invite.id.as_uuid(),
            &new.hash.as_slice(),
            &invite.org_id.as_uuid(),
            &keys.email_index(&email_key(&new.email)),
            &invite.role,
            &invite.created_by.map(|u| u.as_uuid()),
            &at,
            &to_i64(invite.expires_at_ms)?,
            &invite.user_id.map(|u| u.as_uuid()),
        ],
    )
    .await?;
    Ok(invite)
}

pub(crate) async fn list_invites(
    client: &mut Client,
    scope: &OrgScope,
    now_ms: u64,
) -> StoreResult<Vec<Invite>> {
    scoped_rows(
        client,
        scope,
        &format!(
            "SELECT {INVITE_COLUMNS} FROM invites
             WHERE org_id = $1 AND accepted_at_ms IS NULL AND expires_at_ms > $2
               AND user_id IS NULL
             ORDER BY created_at_ms, id"
        ),
        &[&scope.org_id().as_uuid(), &to_i64(now_ms)?],
        invite_row,
    )
    .await
}

pub(crate) async fn revoke_invite(
    client: &mut Client,
    scope: &OrgScope,
    invite: InviteId,
) -> StoreResult<()> {
    scoped_touch(
        client,
        scope,
        "DELETE FROM invites WHERE org_id = $1 AND id = $2 AND accepted_at_ms IS NULL",
        &[&scope.org_id().as_uuid(), &invite.as_uuid()],
    )
    .await
}

pub(crate) async fn find_invite(
    client: &mut Client,
    keys: &Keyring,
    hash: &[u8; 32],
    email: &str,
    now_ms: u64,
) -> StoreResult<Option<Invite>> {
    let indexes = keys.email_indexes(&email_key(email));
    let tx = lookup(client).await?;
    let row = tx
        .query_opt(
            &format!(
                "SELECT {INVITE_COLUMNS} FROM invites
                 WHERE hash = $1 AND accepted_at_ms IS NULL AND expires_at_ms > $2
                   AND email_key = ANY($3)"
            ),
            &[&hash.as_slice(), &to_i64(now_ms)?, &indexes],
        )
        .await?;
    tx.commit().await?;
    row.as_ref().map(invite_row).transpose()
}

pub(crate) async fn accept_invite(
    client: &mut Client,
    keys: &Keyring,
    invite: &Invite,
    hash: &[u8; 32],
    email: &str,
    password_hash: String,
    now_ms: u64,
) -> StoreResult<User> {
    let indexes = keys.email_indexes(&email_key(email));
    let scope = OrgScope::for_org(invite.org_id);
    let tx = scoped(client, &scope).await?;
    let claimed = tx
        .query_opt(
            "UPDATE invites SET accepted_at_ms = $3
             WHERE id = $1 AND hash = $2 AND accepted_at_ms IS NULL AND expires_at_ms > $3
               AND email_key = ANY($4)
             RETURNING role, user_id",
            &[
                &invite.id.as_uuid(),
                &hash.as_slice(),
                &to_i64(now_ms)?,
                &indexes,
            ],
        )
        .await?;
    let Some(row) = claimed else {
        return Err(StoreError::NotFound);
    };
    let org = scope.org_id().as_uuid();
    if let Some(user) = row.try_get::<_, Option<uuid::Uuid>>(1)? {
        // A password reset: the new password, counters cleared, every session ended.
        let n = tx
            .execute(
                "UPDATE users SET password_hash = $3, failed_logins = 0, lockouts = 0,
                                  locked_until_ms = NULL
                 WHERE org_id = $1 AND id = $2",
                &[&org, &user, &password_hash],
            )
            .await?;
        if n == 0 {
            return Err(StoreError::NotFound);
        }
        tx.execute(
            "UPDATE sessions SET revoked_at_ms = $3
             WHERE org_id = $1 AND user_id = $2 AND revoked_at_ms IS NULL",
            &[&org, &user, &to_i64(now_ms)?],
        )
        .await?;
        tx.commit().await?;
        return get_user(client, keys, &scope, UserId::from_uuid(user)).await;
    }
    let user = insert_user(
        &tx,
        keys,
        &scope,
        NewUser {
            email: email.to_owned(),
            password_hash,
            role: row.try_get(0)?,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(user)
}

pub(crate) async fn has_users(client: &mut Client) -> StoreResult<bool> {
    let tx = lookup(client).await?;
    let any: bool = tx
        .query_one("SELECT EXISTS (SELECT 1 FROM users)", &[])
        .await?
        .try_get(0)?;
    tx.commit().await?;
    Ok(any)
}

pub(crate) async fn set_integration(
    client: &mut Client,
    keys: &Keyring,
    scope: &OrgScope,
    name: &str,
    value: Option<String>,
) -> StoreResult<()> {
    check_integration(name, value.as_deref())?;
    let org = scope.org_id().as_uuid();
    let tx = scoped(client, scope).await?;
    match value {
        Some(v) => {
            let sealed = super::keys::org_keys(&tx, keys, scope.org_id())
                .await?
                .seal(
                    INTEGRATION_VALUE,
                    &integration_row(scope.org_id(), name),
                    &v,
                )?;
            let n = tx
                .execute(
                    "INSERT INTO integrations (org_id, name, value, updated_at_ms)
                     SELECT id, $2, $3, $4 FROM organisations WHERE id = $1
                     ON CONFLICT (org_id, name)
                     DO UPDATE SET value = excluded.value, updated_at_ms = excluded.updated_at_ms",
                    &[&org, &name, &sealed, &now_ms()],
                )
                .await?;
            if n == 0 {
                return Err(StoreError::NotFound);
            }
        }
        None => {
            tx.execute(
                "DELETE FROM integrations WHERE org_id = $1 AND name = $2",
                &[&org, &name],
            )
            .await?;
        }
    }
    tx.commit().await?;
    Ok(())
}

pub(crate) async fn integration(
    client: &mut Client,
    keys: &Keyring,
    scope: &OrgScope,
    name: &str,
) -> StoreResult<Option<String>> {
    let tx = scoped(client, scope).await?;
    let row = tx
        .query_opt(
            "SELECT value FROM integrations WHERE org_id = $1 AND name = $2",
            &[&scope.org_id().as_uuid(), &name],
        )
        .await?;
    let opened = match row {
        Some(row) => {
            let sealed: String = row.try_get(0)?;
            Some(
                super::keys::org_keys(&tx, keys, scope.org_id())
                    .await?
                    .open(
                        INTEGRATION_VALUE,
                        &integration_row(scope.org_id(), name),
                        &sealed,
                    )?,
            )
        }
        None => None,
    };
    tx.commit().await?;
    Ok(opened)
}

pub(crate) async fn integration_names(
    client: &mut Client,
    scope: &OrgScope,
) -> StoreResult<Vec<String>> {
    scoped_rows(
        client,
        scope,
        "SELECT name FROM integrations WHERE org_id = $1 ORDER BY name",
        &[&scope.org_id().as_uuid()],
        |row| Ok(row.try_get(0)?),
    )
    .await
}

/// Integration settings, for `keys reencrypt` (from migration 8 on; never plain text).
pub(crate) async fn reseal_integrations(
    tx: &deadpool_postgres::Transaction<'_>,
    keys: &Keyring,
    scope: &OrgScope,
    report: &mut crate::sealing::ReencryptReport,
) -> StoreResult<()> {
    let org_keys = super::keys::org_keys(tx, keys, scope.org_id()).await?;
    for row in tx
        .query(
            "SELECT name, value FROM integrations WHERE org_id = $1 FOR UPDATE",
            &[&scope.org_id().as_uuid()],
        )
        .await?
    {
        let name: String = row.try_get(0)?;
        let value: &str = row.try_get(1)?;
        let at = integration_row(scope.org_id(), &name);
        let outcome = org_keys.reseal(INTEGRATION_VALUE, &at, value, false);
        if let Some(sealed) = report.count(INTEGRATION_VALUE, &at, outcome) {
            tx.execute(
                "UPDATE integrations SET value = $3 WHERE org_id = $1 AND name = $2",
                &[&scope.org_id().as_uuid(), &name, &sealed],
            )
            .await?;
        }
    }
    Ok(())
}
