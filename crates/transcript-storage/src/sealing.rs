//! Sealing and opening the sensitive columns with an organisation's data keys: the part of
//! encryption at rest both backends share. A backend loads the organisation's wrapped keys
//! (`org_keys` rows), builds [`OrgKeys`], and seals before binding / opens after reading.

use std::sync::Arc;

use ring::aead::LessSafeKey;
use scribe_core::{MeetingId, OrgId, Segment, SegmentId, StreamId, Word};

use crate::crypto::{field_aad, field_version, open_field, Keyring, FIELD_PREFIX};
use crate::error::{StoreError, StoreResult};
use crate::model::{FinalRead, NewFinal, StoredFinal, UnreadableFinal};

/// The sealed columns, as named in associated data.
pub(crate) const MEETING_TITLE: &str = "meetings.title";
pub(crate) const USER_EMAIL: &str = "users.email";
pub(crate) const USER_MFA_SECRET: &str = "users.mfa_secret";
pub(crate) const INTEGRATION_VALUE: &str = "integrations.value";

/// The row an integration setting is sealed for (its associated data), on both backends.
pub(crate) fn integration_row(org: OrgId, name: &str) -> String {
    format!("{org}/{name}")
}
pub(crate) const SEGMENT_TEXT: &str = "segments.text";
pub(crate) const SEGMENT_WORDS: &str = "segments.words";
pub(crate) const SEGMENT_SPEAKER: &str = "segments.speaker";

/// One organisation's data keys (wrapped, as stored; unwrapped on use and cached by the
/// keyring).
pub(crate) struct OrgKeys<'a> {
    keys: &'a Keyring,
    org: OrgId,
    /// `(version, wrapped)`, any order.
    wrapped: Vec<(u32, String)>,
}

impl<'a> OrgKeys<'a> {
    pub(crate) fn new(keys: &'a Keyring, org: OrgId, wrapped: Vec<(u32, String)>) -> Self {
        Self { keys, org, wrapped }
    }

    /// The newest version (new writes use it); `None` before the organisation has a key.
    pub(crate) fn newest(&self) -> Option<u32> {
        self.wrapped.iter().map(|(v, _)| *v).max()
    }

    fn key(&self, version: u32) -> StoreResult<Arc<LessSafeKey>> {
        if let Some(key) = self.keys.cached(self.org, version) {
            return Ok(key);
        }
        let (_, wrapped) =
            self.wrapped
                .iter()
                .find(|(v, _)| *v == version)
                .ok_or(StoreError::KeyUnavailable(
                    "the organisation has no data key of the version a value names",
                ))?;
        self.keys.data_key(self.org, version, wrapped)
    }

    /// Seals `plain` for `column` of row `row` with the newest data key.
    pub(crate) fn seal(&self, column: &str, row: &str, plain: &str) -> StoreResult<String> {
        let version = self.newest().ok_or(StoreError::KeyUnavailable(
            "the organisation has no data key",
        ))?;
        let key = self.key(version)?;
        Ok(self
            .keys
            .seal(&key, version, &field_aad(self.org, column, row), plain))
    }

    pub(crate) fn seal_opt(
        &self,
        column: &str,
        row: &str,
        plain: Option<&str>,
    ) -> StoreResult<Option<String>> {
        plain.map(|p| self.seal(column, row, p)).transpose()
    }

    /// Opens a sealed value of `column` of row `row`.
    pub(crate) fn open(&self, column: &str, row: &str, stored: &str) -> StoreResult<String> {
        let key = self.key(field_version(stored)?)?;
        open_field(&key, &field_aad(self.org, column, row), stored)
    }

    pub(crate) fn open_opt(
        &self,
        column: &str,
        row: &str,
        stored: Option<&str>,
    ) -> StoreResult<Option<String>> {
        stored.map(|s| self.open(column, row, s)).transpose()
    }

    /// `stored` sealed again with the newest key, or `None` when it already is. With
    /// `plaintext_ok` (only while migrating a database written before encryption), a value
    /// without the `enc:v1:` prefix is taken as plain text and sealed.
    pub(crate) fn reseal(
        &self,
        column: &str,
        row: &str,
        stored: &str,
        plaintext_ok: bool,
    ) -> StoreResult<Option<String>> {
        let plain = if plaintext_ok && !stored.starts_with(FIELD_PREFIX) {
            stored.to_owned()
        } else {
            if Some(field_version(stored)?) == self.newest() {
                return Ok(None);
            }
            self.open(column, row, stored)?
        };
        self.seal(column, row, &plain).map(Some)
    }
}

/// What re-encrypting an organisation did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReencryptReport {
    /// Values sealed again with the newest data key.
    pub resealed: u64,
    /// Values that could not be opened (tampered, or their key is unavailable): left as they
    /// are and reported, never replaced.
    pub unreadable: u64,
}

impl ReencryptReport {
    /// Counts the outcome of one [`OrgKeys::reseal`] of `column` of row `row` (an unreadable
    /// value is logged by id); `Some` is the value to write back.
    pub(crate) fn count(
        &mut self,
        column: &str,
        row: &str,
        outcome: StoreResult<Option<String>>,
    ) -> Option<String> {
        match outcome {
            Ok(Some(sealed)) => {
                self.resealed += 1;
                Some(sealed)
            }
            Ok(None) => None,
            Err(e) => {
                tracing::warn!(column, row, error = %e, "re-encryption skipped an unreadable value");
                self.unreadable += 1;
                None
            }
        }
    }
}

/// A final as read from the database, its sensitive fields still sealed.
pub(crate) struct SealedFinal {
    pub(crate) id: SegmentId,
    pub(crate) meeting_id: MeetingId,
    pub(crate) stream_id: StreamId,
    pub(crate) seq: u64,
    pub(crate) start_ms: u64,
    pub(crate) end_ms: u64,
    pub(crate) text: String,
    pub(crate) words: String,
    pub(crate) speaker: Option<String>,
    pub(crate) language: Option<String>,
    pub(crate) created_at_ms: u64,
}

/// The sealed columns of a new final: `(text, words JSON, speaker)`.
pub(crate) fn seal_final(
    keys: &OrgKeys<'_>,
    new: &NewFinal,
) -> StoreResult<(String, String, Option<String>)> {
    let row = new.segment_id.to_string();
    let words = serde_json::to_string(&new.segment.words)
        .map_err(|_| StoreError::Invalid("words cannot be encoded"))?;
    Ok((
        keys.seal(SEGMENT_TEXT, &row, &new.segment.text)?,
        keys.seal(SEGMENT_WORDS, &row, &words)?,
        keys.seal_opt(SEGMENT_SPEAKER, &row, new.speaker.as_deref())?,
    ))
}

impl SealedFinal {
    /// Opens the sealed fields; any failure makes the whole final unreadable (with why).
    pub(crate) fn open(self, keys: &OrgKeys<'_>) -> FinalRead {
        let row = self.id.to_string();
        let opened = (|| -> StoreResult<(String, Vec<Word>, Option<String>)> {
            let text = keys.open(SEGMENT_TEXT, &row, &self.text)?;
            let words = keys.open(SEGMENT_WORDS, &row, &self.words)?;
            let words = serde_json::from_str(&words)
                .map_err(|_| StoreError::Corrupt("unreadable word timings"))?;
            let speaker = keys.open_opt(SEGMENT_SPEAKER, &row, self.speaker.as_deref())?;
            Ok((text, words, speaker))
        })();
        match opened {
            Ok((text, words, speaker)) => Ok(StoredFinal {
                id: self.id,
                meeting_id: self.meeting_id,
                stream_id: self.stream_id,
                seq: self.seq,
                segment: Segment {
                    start_ms: self.start_ms,
                    end_ms: self.end_ms,
                    text,
                    words,
                },
                speaker,
                language: self.language,
                created_at_ms: self.created_at_ms,
            }),
            Err(e) => {
                tracing::warn!(
                    segment = %self.id,
                    meeting = %self.meeting_id,
                    error = %e,
                    "a stored final cannot be read"
                );
                Err(UnreadableFinal {
                    id: self.id,
                    meeting_id: self.meeting_id,
                    stream_id: self.stream_id,
                    seq: self.seq,
                    start_ms: self.start_ms,
                    end_ms: self.end_ms,
                    reason: e.to_string(),
                })
            }
        }
    }
}
