//! Data keys and re-encryption in the embedded store (blocking; run through the pool).

use rusqlite::{Connection, OptionalExtension, TransactionBehavior};
use scribe_core::{OrgId, OrgScope};

use super::sql::now_ms;
use crate::crypto::Keyring;
use crate::error::{StoreError, StoreResult};
use crate::model::email_key;
use crate::sealing::{
    OrgKeys, ReencryptReport, MEETING_TITLE, SEGMENT_SPEAKER, SEGMENT_TEXT, SEGMENT_WORDS,
    USER_EMAIL, USER_MFA_SECRET,
};

/// The organisation's wrapped data keys.
fn wrapped_keys(conn: &Connection, org: OrgId) -> StoreResult<Vec<(u32, String)>> {
    let mut stmt =
        conn.prepare_cached("SELECT version, wrapped FROM org_keys WHERE org_id = ?1")?;
    let rows = stmt.query_map([org.to_string()], |row| Ok((row.get(0)?, row.get(1)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Gives `org` its first data key unless it has one (idempotent).
pub(crate) fn ensure_key(conn: &Connection, keys: &Keyring, org: OrgId) -> StoreResult<()> {
    conn.execute(
        "INSERT OR IGNORE INTO org_keys (org_id, version, wrapped, created_at_ms)
         SELECT ?1, 1, ?2, ?3 WHERE NOT EXISTS (SELECT 1 FROM org_keys WHERE org_id = ?1)",
        (org.to_string(), keys.new_wrapped_key(org, 1), now_ms()),
    )?;
    Ok(())
}

/// The organisation's keys, for sealing and opening (a first key is made if it has none).
pub(crate) fn org_keys<'k>(
    conn: &Connection,
    keys: &'k Keyring,
    org: OrgId,
) -> StoreResult<OrgKeys<'k>> {
    let mut wrapped = wrapped_keys(conn, org)?;
    if wrapped.is_empty() {
        ensure_key(conn, keys, org)?;
        wrapped = wrapped_keys(conn, org)?;
    }
    Ok(OrgKeys::new(keys, org, wrapped))
}

pub(crate) fn rotate(conn: &mut Connection, keys: &Keyring, scope: OrgScope) -> StoreResult<u32> {
    let org = scope.org_id();
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let exists = tx
        .query_row(
            "SELECT 1 FROM organisations WHERE id = ?1",
            [org.to_string()],
            |_| Ok(()),
        )
        .optional()?;
    if exists.is_none() {
        return Err(StoreError::NotFound);
    }
    let newest: Option<u32> = tx.query_row(
        "SELECT max(version) FROM org_keys WHERE org_id = ?1",
        [org.to_string()],
        |row| row.get(0),
    )?;
    let version = newest.unwrap_or(0) + 1;
    tx.execute(
        "INSERT INTO org_keys (org_id, version, wrapped, created_at_ms) VALUES (?1, ?2, ?3, ?4)",
        (
            org.to_string(),
            version,
            keys.new_wrapped_key(org, version),
            now_ms(),
        ),
    )?;
    tx.commit()?;
    Ok(version)
}

pub(crate) fn reencrypt_org(
    conn: &mut Connection,
    keys: &Keyring,
    scope: OrgScope,
) -> StoreResult<ReencryptReport> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut report = reseal_all(&tx, keys, scope.org_id(), false)?;
    reseal_mfa_secrets(&tx, keys, scope.org_id(), &mut report)?;
    super::access::reseal_integrations(&tx, keys, scope, &mut report)?;
    tx.commit()?;
    Ok(report)
}

/// TOTP secrets (from migration 6 on; never plain text, so not part of [`reseal_all`], which
/// also runs while migrating older databases).
fn reseal_mfa_secrets(
    conn: &Connection,
    keys: &Keyring,
    org: OrgId,
    report: &mut ReencryptReport,
) -> StoreResult<()> {
    let org_keys = org_keys(conn, keys, org)?;
    let secrets: Vec<(String, String)> = {
        let mut stmt = conn.prepare(
            "SELECT id, mfa_secret FROM users WHERE org_id = ?1 AND mfa_secret IS NOT NULL",
        )?;
        let rows = stmt.query_map([org.to_string()], |r| Ok((r.get(0)?, r.get(1)?)))?;
        rows.collect::<Result<_, _>>()?
    };
    for (id, secret) in secrets {
        let outcome = org_keys.reseal(USER_MFA_SECRET, &id, &secret, false);
        if let Some(sealed) = report.count(USER_MFA_SECRET, &id, outcome) {
            conn.execute(
                "UPDATE users SET mfa_secret = ?2 WHERE id = ?1",
                (&id, sealed),
            )?;
        }
    }
    Ok(())
}

/// Seals every sensitive value of `org` that is not under its newest key again (inside the
/// caller's transaction). `plaintext_ok` only while migrating a pre-encryption database.
pub(crate) fn reseal_all(
    conn: &Connection,
    keys: &Keyring,
    org: OrgId,
    plaintext_ok: bool,
) -> StoreResult<ReencryptReport> {
    let org_keys = org_keys(conn, keys, org)?;
    let mut report = ReencryptReport::default();
    let titles: Vec<(String, String)> = {
        let mut stmt = conn.prepare("SELECT id, title FROM meetings WHERE org_id = ?1")?;
        let rows = stmt.query_map([org.to_string()], |r| Ok((r.get(0)?, r.get(1)?)))?;
        rows.collect::<Result<_, _>>()?
    };
    for (id, title) in titles {
        let outcome = org_keys.reseal(MEETING_TITLE, &id, &title, plaintext_ok);
        if let Some(sealed) = report.count(MEETING_TITLE, &id, outcome) {
            conn.execute(
                "UPDATE meetings SET title = ?2 WHERE id = ?1",
                (&id, sealed),
            )?;
        }
    }
    let emails: Vec<(String, String)> = {
        let mut stmt = conn.prepare("SELECT id, email FROM users WHERE org_id = ?1")?;
        let rows = stmt.query_map([org.to_string()], |r| Ok((r.get(0)?, r.get(1)?)))?;
        rows.collect::<Result<_, _>>()?
    };
    for (id, email) in emails {
        let outcome = org_keys.reseal(USER_EMAIL, &id, &email, plaintext_ok);
        if let Some(sealed) = report.count(USER_EMAIL, &id, outcome) {
            conn.execute("UPDATE users SET email = ?2 WHERE id = ?1", (&id, sealed))?;
        }
    }
    type Fields = (String, String, String, Option<String>);
    let segments: Vec<Fields> = {
        let mut stmt =
            conn.prepare("SELECT id, text, words, speaker FROM segments WHERE org_id = ?1")?;
        let rows = stmt.query_map([org.to_string()], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })?;
        rows.collect::<Result<_, _>>()?
    };
    for (id, text, words, speaker) in segments {
        for (column, value) in [
            (SEGMENT_TEXT, Some(text)),
            (SEGMENT_WORDS, Some(words)),
            (SEGMENT_SPEAKER, speaker),
        ] {
            let Some(value) = value else { continue };
            let outcome = org_keys.reseal(column, &id, &value, plaintext_ok);
            if let Some(sealed) = report.count(column, &id, outcome) {
                let sql = match column {
                    SEGMENT_TEXT => "UPDATE segments SET text = ?2 WHERE id = ?1",
                    SEGMENT_WORDS => "UPDATE segments SET words = ?2 WHERE id = ?1",
                    _ => "UPDATE segments SET speaker = ?2 WHERE id = ?1",
                };
                conn.execute(sql, (&id, sealed))?;
            }
        }
    }
    Ok(report)
}

pub(crate) fn rewrap_all(conn: &mut Connection, keys: &Keyring) -> StoreResult<u64> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let rows: Vec<(String, u32, String)> = {
        let mut stmt = tx.prepare("SELECT org_id, version, wrapped FROM org_keys")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        rows.collect::<Result<_, _>>()?
    };
    let mut rewrapped = 0;
    for (org_text, version, wrapped) in rows {
        let org: OrgId = org_text
            .parse()
            .map_err(|_| StoreError::Corrupt("unreadable organisation id"))?;
        if let Some(new) = keys.rewrap(org, version, &wrapped)? {
            tx.execute(
                "UPDATE org_keys SET wrapped = ?3 WHERE org_id = ?1 AND version = ?2",
                (&org_text, version, new),
            )?;
            rewrapped += 1;
        }
    }
    reindex_emails(&tx, keys)?;
    tx.commit()?;
    Ok(rewrapped)
}

/// Recomputes every user's email blind index under the current master key (after a rotation;
/// and when encryption of emails was introduced). The emails are opened with their
/// organisation's data key; an unreadable one is an error (login would silently break).
pub(crate) fn reindex_emails(conn: &Connection, keys: &Keyring) -> StoreResult<()> {
    let users: Vec<(String, String, String)> = {
        let mut stmt = conn.prepare("SELECT id, org_id, email FROM users")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        rows.collect::<Result<_, _>>()?
    };
    for (id, org, sealed) in users {
        let org: OrgId = org
            .parse()
            .map_err(|_| StoreError::Corrupt("unreadable organisation id"))?;
        let email = org_keys(conn, keys, org)?.open(USER_EMAIL, &id, &sealed)?;
        conn.execute(
            "UPDATE users SET email_key = ?2 WHERE id = ?1",
            (&id, keys.email_index(&email_key(&email))),
        )?;
    }
    Ok(())
}
