//! Data keys and re-encryption in the PostgreSQL store. `org_keys` is under row-level
//! security like every organisation-owned table, so each call runs in the organisation's
//! scoped transaction.

use deadpool_postgres::{Client, Transaction};
use scribe_core::{OrgId, OrgScope};

use super::sql::scoped;
use crate::crypto::Keyring;
use crate::error::{StoreError, StoreResult};
use crate::model::email_key;
use crate::model::now_ms;
use crate::sealing::{
    OrgKeys, ReencryptReport, MEETING_TITLE, SEGMENT_SPEAKER, SEGMENT_TEXT, SEGMENT_WORDS,
    USER_EMAIL,
};

async fn wrapped_keys(tx: &Transaction<'_>, org: OrgId) -> StoreResult<Vec<(u32, String)>> {
    let stmt = tx
        .prepare_cached("SELECT version, wrapped FROM org_keys WHERE org_id = $1")
        .await?;
    tx.query(&stmt, &[&org.as_uuid()])
        .await?
        .iter()
        .map(|row| {
            let version: i32 = row.try_get(0)?;
            let version =
                u32::try_from(version).map_err(|_| StoreError::Corrupt("bad key version"))?;
            Ok((version, row.try_get(1)?))
        })
        .collect()
}

/// Gives `org` its first data key unless it has one (idempotent; inside its scoped
/// transaction).
pub(crate) async fn ensure_key(
    tx: &Transaction<'_>,
    keys: &Keyring,
    org: OrgId,
) -> StoreResult<()> {
    let stmt = tx
        .prepare_cached(
            "INSERT INTO org_keys (org_id, version, wrapped, created_at_ms)
             SELECT $1, 1, $2, $3 WHERE NOT EXISTS (SELECT 1 FROM org_keys WHERE org_id = $1)
             ON CONFLICT DO NOTHING",
        )
        .await?;
    tx.execute(
        &stmt,
        &[&org.as_uuid(), &keys.new_wrapped_key(org, 1), &now_ms()],
    )
    .await?;
    Ok(())
}

/// The organisation's keys, for sealing and opening (a first key is made if it has none).
pub(crate) async fn org_keys<'k>(
    tx: &Transaction<'_>,
    keys: &'k Keyring,
    org: OrgId,
) -> StoreResult<OrgKeys<'k>> {
    let mut wrapped = wrapped_keys(tx, org).await?;
    if wrapped.is_empty() {
        ensure_key(tx, keys, org).await?;
        wrapped = wrapped_keys(tx, org).await?;
    }
    Ok(OrgKeys::new(keys, org, wrapped))
}

pub(crate) async fn rotate(
    client: &mut Client,
    keys: &Keyring,
    scope: &OrgScope,
) -> StoreResult<u32> {
    let org = scope.org_id();
    let tx = scoped(client, scope).await?;
    // Serialises rotations of one organisation (the row lock on the organisation).
    let exists = tx
        .query_opt(
            "SELECT 1 FROM organisations WHERE id = $1 FOR UPDATE",
            &[&org.as_uuid()],
        )
        .await?;
    if exists.is_none() {
        return Err(StoreError::NotFound);
    }
    let newest: Option<i32> = tx
        .query_one(
            "SELECT max(version) FROM org_keys WHERE org_id = $1",
            &[&org.as_uuid()],
        )
        .await?
        .try_get(0)?;
    let version = u32::try_from(newest.unwrap_or(0) + 1)
        .map_err(|_| StoreError::Corrupt("bad key version"))?;
    let stored =
        i32::try_from(version).map_err(|_| StoreError::Invalid("too many key versions"))?;
    tx.execute(
        "INSERT INTO org_keys (org_id, version, wrapped, created_at_ms) VALUES ($1, $2, $3, $4)",
        &[
            &org.as_uuid(),
            &stored,
            &keys.new_wrapped_key(org, version),
            &now_ms(),
        ],
    )
    .await?;
    tx.commit().await?;
    Ok(version)
}

pub(crate) async fn reencrypt_org(
    client: &mut Client,
    keys: &Keyring,
    scope: &OrgScope,
) -> StoreResult<ReencryptReport> {
    let tx = scoped(client, scope).await?;
    let mut report = reseal_all(&tx, keys, scope.org_id(), false).await?;
    super::sessions::reseal_mfa_secrets(&tx, keys, scope, &mut report).await?;
    super::access::reseal_integrations(&tx, keys, scope, &mut report).await?;
    tx.commit().await?;
    Ok(report)
}

/// Seals every sensitive value of `org` that is not under its newest key again (inside the
/// caller's scoped transaction). `plaintext_ok` only while migrating a pre-encryption database.
pub(crate) async fn reseal_all(
    tx: &Transaction<'_>,
    keys: &Keyring,
    org: OrgId,
    plaintext_ok: bool,
) -> StoreResult<ReencryptReport> {
    let org_keys = org_keys(tx, keys, org).await?;
    let mut report = ReencryptReport::default();
    let org_id = org.as_uuid();
    for row in tx
        .query(
            "SELECT id, title FROM meetings WHERE org_id = $1 FOR UPDATE",
            &[&org_id],
        )
        .await?
    {
        let id: uuid::Uuid = row.try_get(0)?;
        let title: &str = row.try_get(1)?;
        let outcome = org_keys.reseal(MEETING_TITLE, &id.to_string(), title, plaintext_ok);
        if let Some(sealed) = report.count(MEETING_TITLE, &id.to_string(), outcome) {
            tx.execute(
                "UPDATE meetings SET title = $2 WHERE id = $1",
                &[&id, &sealed],
            )
            .await?;
        }
    }
    for row in tx
        .query(
            "SELECT id, email FROM users WHERE org_id = $1 FOR UPDATE",
            &[&org_id],
        )
        .await?
    {
        let id: uuid::Uuid = row.try_get(0)?;
        let email: &str = row.try_get(1)?;
        let outcome = org_keys.reseal(USER_EMAIL, &id.to_string(), email, plaintext_ok);
        if let Some(sealed) = report.count(USER_EMAIL, &id.to_string(), outcome) {
            tx.execute("UPDATE users SET email = $2 WHERE id = $1", &[&id, &sealed])
                .await?;
        }
    }
    for row in tx
        .query(
            "SELECT id, text, words, speaker FROM segments WHERE org_id = $1 FOR UPDATE",
            &[&org_id],
        )
        .await?
    {
        let id: uuid::Uuid = row.try_get(0)?;
        let values: [(&str, Option<&str>); 3] = [
            (SEGMENT_TEXT, Some(row.try_get(1)?)),
            (SEGMENT_WORDS, Some(row.try_get(2)?)),
            (SEGMENT_SPEAKER, row.try_get(3)?),
        ];
        for (column, value) in values {
            let Some(value) = value else { continue };
            let outcome = org_keys.reseal(column, &id.to_string(), value, plaintext_ok);
            if let Some(sealed) = report.count(column, &id.to_string(), outcome) {
                let sql = match column {
                    SEGMENT_TEXT => "UPDATE segments SET text = $2 WHERE id = $1",
                    SEGMENT_WORDS => "UPDATE segments SET words = $2 WHERE id = $1",
                    _ => "UPDATE segments SET speaker = $2 WHERE id = $1",
                };
                tx.execute(sql, &[&id, &sealed]).await?;
            }
        }
    }
    Ok(report)
}

/// Every organisation's id (the registry has no row-level security).
pub(crate) async fn organisations(tx: &Transaction<'_>) -> StoreResult<Vec<OrgId>> {
    tx.query("SELECT id FROM organisations", &[])
        .await?
        .iter()
        .map(|row| Ok(OrgId::from_uuid(row.try_get(0)?)))
        .collect()
}

pub(crate) async fn rewrap_all(client: &mut Client, keys: &Keyring) -> StoreResult<u64> {
    let orgs = {
        let tx = client.transaction().await?;
        let orgs = organisations(&tx).await?;
        tx.commit().await?;
        orgs
    };
    let mut rewrapped = 0;
    for org in orgs {
        let tx = scoped(client, &OrgScope::for_org(org)).await?;
        for (version, wrapped) in wrapped_keys(&tx, org).await? {
            if let Some(new) = keys.rewrap(org, version, &wrapped)? {
                let stored =
                    i32::try_from(version).map_err(|_| StoreError::Corrupt("bad key version"))?;
                tx.execute(
                    "UPDATE org_keys SET wrapped = $3 WHERE org_id = $1 AND version = $2",
                    &[&org.as_uuid(), &stored, &new],
                )
                .await?;
                rewrapped += 1;
            }
        }
        reindex_emails(&tx, keys, org).await?;
        tx.commit().await?;
    }
    Ok(rewrapped)
}

/// Recomputes the email blind index of `org`'s users under the current master key (inside
/// the organisation's scoped transaction). An unreadable email is an error: login would
/// silently break.
pub(crate) async fn reindex_emails(
    tx: &Transaction<'_>,
    keys: &Keyring,
    org: OrgId,
) -> StoreResult<()> {
    let org_keys = org_keys(tx, keys, org).await?;
    for row in tx
        .query(
            "SELECT id, email FROM users WHERE org_id = $1 FOR UPDATE",
            &[&org.as_uuid()],
        )
        .await?
    {
        let id: uuid::Uuid = row.try_get(0)?;
        let sealed: &str = row.try_get(1)?;
        let email = org_keys.open(USER_EMAIL, &id.to_string(), sealed)?;
        tx.execute(
            "UPDATE users SET email_key = $2 WHERE id = $1",
            &[&id, &keys.email_index(&email_key(&email))],
        )
        .await?;
    }
    Ok(())
}
