//! Organisations, users and bots in the embedded store (blocking; run through the pool).

use rusqlite::{Connection, OptionalExtension, Row};
use scribe_core::{BotId, OrgId, OrgScope, UserId};

use super::sql::{id, is_unique_violation, now_ms, opt_uint, placeholders, uint};
use crate::crypto::Keyring;
use crate::error::{StoreError, StoreResult};
use crate::model::{
    check_bot_name, check_org_name, email_key, split_policy_list, Bot, LoginCounters, LoginRecord,
    NewUser, Organisation, User,
};
use crate::sealing::USER_EMAIL;

const ORG_COLUMNS: &str = "id, name, created_at_ms";
pub(crate) const USER_COLUMNS: &str = "id, org_id, email, role, created_at_ms, password_hash, \
     failed_logins, lockouts, locked_until_ms, disabled_at_ms, mfa_enabled, \
     (SELECT o.mfa_required FROM organisations o WHERE o.id = users.org_id), \
     (SELECT o.login_networks FROM organisations o WHERE o.id = users.org_id)";
const BOT_COLUMNS: &str = "id, org_id, name, created_at_ms, revoked_at_ms";

fn org_row(row: &Row<'_>) -> rusqlite::Result<Organisation> {
    Ok(Organisation {
        id: id(row, 0)?,
        name: row.get(1)?,
        created_at_ms: uint(row, 2)?,
    })
}

pub(crate) fn login_row(row: &Row<'_>) -> rusqlite::Result<LoginRecord> {
    Ok(LoginRecord {
        user: User {
            id: id(row, 0)?,
            org_id: id(row, 1)?,
            email: row.get(2)?,
            role: row.get(3)?,
            created_at_ms: uint(row, 4)?,
        },
        password_hash: row.get(5)?,
        counters: LoginCounters {
            failures: count(row, 6)?,
            lockouts: count(row, 7)?,
            locked_until_ms: opt_uint(row, 8)?,
        },
        disabled: row.get::<_, Option<i64>>(9)?.is_some(),
        mfa_enabled: row.get(10)?,
        org_mfa_required: row.get(11)?,
        org_login_networks: split_policy_list(&row.get::<_, String>(12)?),
    })
}

/// A small counter column as `u32` (saturating: a corrupt huge value still locks).
fn count(row: &Row<'_>, idx: usize) -> rusqlite::Result<u32> {
    Ok(u32::try_from(uint(row, idx)?).unwrap_or(u32::MAX))
}

fn bot_row(row: &Row<'_>) -> rusqlite::Result<Bot> {
    Ok(Bot {
        id: id(row, 0)?,
        org_id: id(row, 1)?,
        name: row.get(2)?,
        created_at_ms: uint(row, 3)?,
        revoked_at_ms: opt_uint(row, 4)?,
    })
}

pub(crate) fn create_organisation(
    conn: &mut Connection,
    keys: &Keyring,
    name: &str,
) -> StoreResult<Organisation> {
    check_org_name(name)?;
    let at = now_ms();
    let org = Organisation::created(name, at);
    // The organisation and its first data key in one transaction.
    let tx = conn.transaction()?;
    tx.execute(
        "INSERT INTO organisations (id, name, created_at_ms) VALUES (?1, ?2, ?3)",
        (org.id.to_string(), name, at),
    )
    .map_err(|e| {
        if is_unique_violation(&e) {
            StoreError::Conflict("organisation name already taken")
        } else {
            e.into()
        }
    })?;
    super::keys::ensure_key(&tx, keys, org.id)?;
    tx.commit()?;
    Ok(org)
}

pub(crate) fn get_organisation(conn: &mut Connection, org: OrgId) -> StoreResult<Organisation> {
    let sql = format!("SELECT {ORG_COLUMNS} FROM organisations WHERE id = ?1");
    conn.query_row(&sql, [org.to_string()], org_row)
        .optional()?
        .ok_or(StoreError::NotFound)
}

pub(crate) fn find_organisation_by_name(
    conn: &mut Connection,
    name: &str,
) -> StoreResult<Option<Organisation>> {
    // `name` has COLLATE NOCASE, so this compares without ASCII case.
    let sql = format!("SELECT {ORG_COLUMNS} FROM organisations WHERE name = ?1");
    Ok(conn.query_row(&sql, [name], org_row).optional()?)
}

pub(crate) fn find_login_by_email(
    conn: &mut Connection,
    keys: &Keyring,
    email: &str,
) -> StoreResult<Option<LoginRecord>> {
    // Under the current master key and, during a rotation, the previous ones.
    let indexes = keys.email_indexes(&email_key(email));
    let sql = format!(
        "SELECT {USER_COLUMNS} FROM users WHERE email_key IN ({})",
        placeholders(1, indexes.len())
    );
    let found = conn
        .query_row(&sql, rusqlite::params_from_iter(&indexes), login_row)
        .optional()?;
    found.map(|login| open_email(conn, keys, login)).transpose()
}

/// Opens the sealed email of a user read from the database.
fn open_email(
    conn: &Connection,
    keys: &Keyring,
    mut login: LoginRecord,
) -> StoreResult<LoginRecord> {
    let org_keys = super::keys::org_keys(conn, keys, login.user.org_id)?;
    login.user.email = org_keys.open(USER_EMAIL, &login.user.id.to_string(), &login.user.email)?;
    Ok(login)
}

pub(crate) fn create_user(
    conn: &mut Connection,
    keys: &Keyring,
    scope: OrgScope,
    new: NewUser,
) -> StoreResult<User> {
    let tx = conn.transaction()?;
    let user = insert_user(&tx, keys, scope, new)?;
    tx.commit()?;
    Ok(user)
}

/// Inserts a user inside the caller's transaction (creating one, accepting an invitation).
pub(crate) fn insert_user(
    tx: &Connection,
    keys: &Keyring,
    scope: OrgScope,
    new: NewUser,
) -> StoreResult<User> {
    new.validate()?;
    let at = now_ms();
    let user = User::created(&scope, &new, at);
    let sealed = super::keys::org_keys(tx, keys, scope.org_id())?.seal(
        USER_EMAIL,
        &user.id.to_string(),
        &user.email,
    )?;
    let inserted = tx.execute(
        "INSERT INTO users (id, org_id, email, email_key, password_hash, role, created_at_ms)
         SELECT ?1, id, ?3, ?4, ?5, ?6, ?7 FROM organisations WHERE id = ?2",
        (
            user.id.to_string(),
            user.org_id.to_string(),
            sealed,
            keys.email_index(&email_key(&user.email)),
            &new.password_hash,
            &user.role,
            at,
        ),
    );
    match inserted {
        Ok(0) => Err(StoreError::NotFound),
        Ok(_) => Ok(user),
        Err(e) if is_unique_violation(&e) => Err(StoreError::Conflict("email already registered")),
        Err(e) => Err(e.into()),
    }
}

pub(crate) fn get_user(
    conn: &mut Connection,
    keys: &Keyring,
    scope: OrgScope,
    user: UserId,
) -> StoreResult<User> {
    Ok(get_login(conn, keys, scope, user)?.user)
}

pub(crate) fn get_login(
    conn: &mut Connection,
    keys: &Keyring,
    scope: OrgScope,
    user: UserId,
) -> StoreResult<LoginRecord> {
    let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE org_id = ?1 AND id = ?2");
    let login = conn
        .query_row(
            &sql,
            [scope.org_id().to_string(), user.to_string()],
            login_row,
        )
        .optional()?
        .ok_or(StoreError::NotFound)?;
    open_email(conn, keys, login)
}

pub(crate) fn create_bot(conn: &mut Connection, scope: OrgScope, name: &str) -> StoreResult<Bot> {
    check_bot_name(name)?;
    let at = now_ms();
    let bot = Bot::created(&scope, name, at);
    let inserted = conn.execute(
        "INSERT INTO bots (id, org_id, name, created_at_ms)
         SELECT ?1, id, ?3, ?4 FROM organisations WHERE id = ?2",
        (bot.id.to_string(), bot.org_id.to_string(), name, at),
    )?;
    if inserted == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(bot)
}

pub(crate) fn find_bot_for_auth(conn: &mut Connection, bot: BotId) -> StoreResult<Option<Bot>> {
    let sql = format!("SELECT {BOT_COLUMNS} FROM bots WHERE id = ?1");
    Ok(conn
        .query_row(&sql, [bot.to_string()], bot_row)
        .optional()?)
}

pub(crate) fn get_bot(conn: &mut Connection, scope: OrgScope, bot: BotId) -> StoreResult<Bot> {
    let sql = format!("SELECT {BOT_COLUMNS} FROM bots WHERE org_id = ?1 AND id = ?2");
    conn.query_row(&sql, [scope.org_id().to_string(), bot.to_string()], bot_row)
        .optional()?
        .ok_or(StoreError::NotFound)
}

pub(crate) fn revoke_bot(conn: &mut Connection, scope: OrgScope, bot: BotId) -> StoreResult<()> {
    // One statement, so atomic on its own; COALESCE keeps the first revocation time.
    let found = conn.execute(
        "UPDATE bots SET revoked_at_ms = COALESCE(revoked_at_ms, ?3)
         WHERE org_id = ?1 AND id = ?2",
        (scope.org_id().to_string(), bot.to_string(), now_ms()),
    )?;
    if found == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}
