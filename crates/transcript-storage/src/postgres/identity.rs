//! Organisations, users and bots in the PostgreSQL store.

use deadpool_postgres::Client;
use deadpool_postgres::Transaction;
use scribe_core::{BotId, OrgId, OrgScope, UserId};
use tokio_postgres::Row;

use super::sql::{
    id, is_unique_violation, lookup, opt_uint, scoped, scoped_one, scoped_touch, uint, Params,
};
use crate::crypto::Keyring;
use crate::error::{StoreError, StoreResult};
use crate::model::{
    check_bot_name, check_org_name, email_key, now_ms, split_policy_list, Bot, LoginCounters,
    LoginRecord, NewUser, Organisation, User,
};
use crate::sealing::USER_EMAIL;

const ORG_COLUMNS: &str = "id, name, created_at_ms";
pub(crate) const USER_COLUMNS: &str = "id, org_id, email, role, created_at_ms, password_hash, \
     failed_logins, lockouts, locked_until_ms, disabled_at_ms, mfa_enabled, \
     (SELECT o.mfa_required FROM organisations o WHERE o.id = users.org_id), \
     (SELECT o.login_networks FROM organisations o WHERE o.id = users.org_id)";
const BOT_COLUMNS: &str = "id, org_id, name, created_at_ms, revoked_at_ms";

fn org_row(row: &Row) -> StoreResult<Organisation> {
    Ok(Organisation {
        id: id(row, 0, OrgId::from_uuid)?,
        name: row.try_get(1)?,
        created_at_ms: uint(row, 2)?,
    })
}

pub(crate) fn login_row(row: &Row) -> StoreResult<LoginRecord> {
    Ok(LoginRecord {
        user: User {
            id: id(row, 0, UserId::from_uuid)?,
            org_id: id(row, 1, OrgId::from_uuid)?,
            email: row.try_get(2)?,
            role: row.try_get(3)?,
            created_at_ms: uint(row, 4)?,
        },
        password_hash: row.try_get(5)?,
        counters: LoginCounters {
            failures: count(row, 6)?,
            lockouts: count(row, 7)?,
            locked_until_ms: opt_uint(row, 8)?,
        },
        disabled: row.try_get::<_, Option<i64>>(9)?.is_some(),
        mfa_enabled: row.try_get(10)?,
        org_mfa_required: row.try_get(11)?,
        org_login_networks: split_policy_list(&row.try_get::<_, String>(12)?),
    })
}

/// A small counter column as `u32`.
fn count(row: &Row, idx: usize) -> StoreResult<u32> {
    let v: i32 = row.try_get(idx)?;
    u32::try_from(v).map_err(|_| StoreError::Corrupt("negative number in a counter column"))
}

fn bot_row(row: &Row) -> StoreResult<Bot> {
    Ok(Bot {
        id: id(row, 0, BotId::from_uuid)?,
        org_id: id(row, 1, OrgId::from_uuid)?,
        name: row.try_get(2)?,
        created_at_ms: uint(row, 3)?,
        revoked_at_ms: opt_uint(row, 4)?,
    })
}

pub(crate) async fn create_organisation(
    client: &mut Client,
    keys: &Keyring,
    name: &str,
) -> StoreResult<Organisation> {
    check_org_name(name)?;
    let at = now_ms();
    let org = Organisation::created(name, at);
    // The organisation and its first data key in one transaction (the key under the new
    // organisation's own scope).
    let tx = scoped(client, &OrgScope::for_org(org.id)).await?;
    let stmt = tx
        .prepare_cached("INSERT INTO organisations (id, name, created_at_ms) VALUES ($1, $2, $3)")
        .await?;
    match tx.execute(&stmt, &[&org.id.as_uuid(), &name, &at]).await {
        Ok(_) => {}
        Err(e) if is_unique_violation(&e) => {
            return Err(StoreError::Conflict("organisation name already taken"))
        }
        Err(e) => return Err(e.into()),
    }
    super::keys::ensure_key(&tx, keys, org.id).await?;
    tx.commit().await?;
    Ok(org)
}

pub(crate) async fn get_organisation(client: &mut Client, org: OrgId) -> StoreResult<Organisation> {
    let stmt = client
        .prepare_cached(&format!(
            "SELECT {ORG_COLUMNS} FROM organisations WHERE id = $1"
        ))
        .await?;
    match client.query_opt(&stmt, &[&org.as_uuid()]).await? {
        Some(row) => org_row(&row),
        None => Err(StoreError::NotFound),
    }
}

pub(crate) async fn find_organisation_by_name(
    client: &mut Client,
    name: &str,
) -> StoreResult<Option<Organisation>> {
    // The unique index is on lower(name), so this is an index lookup.
    let stmt = client
        .prepare_cached(&format!(
            "SELECT {ORG_COLUMNS} FROM organisations WHERE lower(name) = lower($1)"
        ))
        .await?;
    client
        .query_opt(&stmt, &[&name])
        .await?
        .map(|row| org_row(&row))
        .transpose()
}

pub(crate) async fn find_login_by_email(
    client: &mut Client,
    keys: &Keyring,
    email: &str,
) -> StoreResult<Option<LoginRecord>> {
    // Under the current master key and, during a rotation, the previous ones.
    let indexes = keys.email_indexes(&email_key(email));
    let tx = lookup(client).await?;
    let stmt = tx
        .prepare_cached(&format!(
            "SELECT {USER_COLUMNS} FROM users WHERE email_key = ANY($1)"
        ))
        .await?;
    let Some(row) = tx.query_opt(&stmt, &[&indexes]).await? else {
        tx.commit().await?;
        return Ok(None);
    };
    let mut login = login_row(&row)?;
    let org_keys = super::keys::org_keys(&tx, keys, login.user.org_id).await?;
    login.user.email = org_keys.open(USER_EMAIL, &login.user.id.to_string(), &login.user.email)?;
    tx.commit().await?;
    Ok(Some(login))
}

pub(crate) async fn create_user(
    client: &mut Client,
    keys: &Keyring,
    scope: &OrgScope,
    new: NewUser,
) -> StoreResult<User> {
    let tx = scoped(client, scope).await?;
    let user = insert_user(&tx, keys, scope, new).await?;
    tx.commit().await?;
    Ok(user)
}

/// Inserts a user inside the caller's scoped transaction (creating one, accepting an
/// invitation).
pub(crate) async fn insert_user(
    tx: &Transaction<'_>,
    keys: &Keyring,
    scope: &OrgScope,
    new: NewUser,
) -> StoreResult<User> {
    new.validate()?;
    let at = now_ms();
    let user = User::created(scope, &new, at);
    let sealed = super::keys::org_keys(tx, keys, scope.org_id())
        .await?
        .seal(USER_EMAIL, &user.id.to_string(), &user.email)?;
    let stmt = tx
        .prepare_cached(
            "INSERT INTO users (id, org_id, email, email_key, password_hash, role, created_at_ms)
             SELECT $1, id, $3, $4, $5, $6, $7 FROM organisations WHERE id = $2",
        )
        .await?;
    let inserted = tx
        .execute(
            &stmt,
            &[
                &user.id.as_uuid(),
                &user.org_id.as_uuid(),
                &sealed,
                &keys.email_index(&email_key(&user.email)),
                &new.password_hash,
                &user.role,
                &at,
            ],
        )
        .await;
    match inserted {
        Ok(0) => Err(StoreError::NotFound),
        Ok(_) => Ok(user),
        Err(e) if is_unique_violation(&e) => Err(StoreError::Conflict("email already registered")),
        Err(e) => Err(e.into()),
    }
}

pub(crate) async fn get_user(
    client: &mut Client,
    keys: &Keyring,
    scope: &OrgScope,
    user: UserId,
) -> StoreResult<User> {
    Ok(get_login(client, keys, scope, user).await?.user)
}

pub(crate) async fn get_login(
    client: &mut Client,
    keys: &Keyring,
    scope: &OrgScope,
    user: UserId,
) -> StoreResult<LoginRecord> {
    let tx = scoped(client, scope).await?;
    let stmt = tx
        .prepare_cached(&format!(
            "SELECT {USER_COLUMNS} FROM users WHERE org_id = $1 AND id = $2"
        ))
        .await?;
    let row = tx
        .query_opt(&stmt, &[&scope.org_id().as_uuid(), &user.as_uuid()])
        .await?
        .ok_or(StoreError::NotFound)?;
    let mut found = login_row(&row)?;
    found.user.email = super::keys::org_keys(&tx, keys, scope.org_id())
        .await?
        .open(USER_EMAIL, &found.user.id.to_string(), &found.user.email)?;
    tx.commit().await?;
    Ok(found)
}

pub(crate) async fn create_bot(
    client: &mut Client,
    scope: &OrgScope,
    name: &str,
) -> StoreResult<Bot> {
    check_bot_name(name)?;
    let at = now_ms();
    let bot = Bot::created(scope, name, at);
    let tx = scoped(client, scope).await?;
    let stmt = tx
        .prepare_cached(
            "INSERT INTO bots (id, org_id, name, created_at_ms)
             SELECT $1, id, $3, $4 FROM organisations WHERE id = $2",
        )
        .await?;
    let inserted = tx
        .execute(
            &stmt,
            &[&bot.id.as_uuid(), &bot.org_id.as_uuid(), &name, &at],
        )
        .await?;
    if inserted == 0 {
        return Err(StoreError::NotFound);
    }
    tx.commit().await?;
    Ok(bot)
}

pub(crate) async fn find_bot_for_auth(client: &mut Client, bot: BotId) -> StoreResult<Option<Bot>> {
    let tx = lookup(client).await?;
    let stmt = tx
        .prepare_cached(&format!("SELECT {BOT_COLUMNS} FROM bots WHERE id = $1"))
        .await?;
    let found = tx
        .query_opt(&stmt, &[&bot.as_uuid()])
        .await?
        .map(|row| bot_row(&row))
        .transpose()?;
    tx.commit().await?;
    Ok(found)
}

pub(crate) async fn get_bot(client: &mut Client, scope: &OrgScope, bot: BotId) -> StoreResult<Bot> {
    let sql = format!("SELECT {BOT_COLUMNS} FROM bots WHERE org_id = $1 AND id = $2");
    let params: &Params = &[&scope.org_id().as_uuid(), &bot.as_uuid()];
    scoped_one(client, scope, &sql, params, bot_row).await
}

pub(crate) async fn revoke_bot(
    client: &mut Client,
    scope: &OrgScope,
    bot: BotId,
) -> StoreResult<()> {
    // COALESCE keeps the first revocation time.
    let sql = "UPDATE bots SET revoked_at_ms = COALESCE(revoked_at_ms, $3)
               WHERE org_id = $1 AND id = $2";
    let params: &Params = &[&scope.org_id().as_uuid(), &bot.as_uuid(), &now_ms()];
    scoped_touch(client, scope, sql, params).await
}
