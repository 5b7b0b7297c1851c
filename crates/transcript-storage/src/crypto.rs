//! Encryption at rest: sensitive fields are sealed with AES-256-GCM under a per-organisation
//! data key; data keys are stored wrapped (AES-256-GCM) by a key-encryption key derived from
//! the master key in the secret source.
//!
//! ```text
//! master_key (secret) ──HKDF-SHA256──▶ KEK (id = 16 hex of SHA-256 over it)
//! org_keys row: org, version, "kek:v1:<kek id>:<b64(nonce‖wrapped DEK‖tag)>"
//! field:        "enc:v1:<key version>:<b64(nonce‖ciphertext‖tag)>"
//! ```
//!
//! Every seal has a fresh random 96-bit nonce and associated data naming the organisation,
//! table, column and row, so a ciphertext copied to another row, column or organisation fails
//! to open. A value that fails to open is an error — never returned raw, never replaced by a
//! default. Previous master keys (rotation) still unwrap; `rewrap` moves every data key to the
//! current one; a new data-key version (`rotate`) takes new writes while older versions stay
//! readable until `reencrypt` has rewritten the organisation's fields.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use ring::rand::{SecureRandom, SystemRandom};
use scribe_core::OrgId;

use crate::error::{StoreError, StoreResult};

/// Prefix of a sealed field.
pub(crate) const FIELD_PREFIX: &str = "enc:v1:";
/// Prefix of a wrapped data key.
const WRAP_PREFIX: &str = "kek:v1:";

/// The master key(s) and the data keys unwrapped so far. Cheap to clone.
#[derive(Clone)]
pub struct Keyring {
    inner: Arc<Inner>,
}

struct Inner {
    /// Current first, then previous master keys (still accepted for unwrapping).
    keks: Vec<Kek>,
    rng: SystemRandom,
    /// Unwrapped data keys by (organisation, version).
    deks: Mutex<HashMap<(OrgId, u32), Arc<LessSafeKey>>>,
}

struct Kek {
    id: String,
    key: LessSafeKey,
    /// HMAC-SHA256 key of the email blind index (derived from the same master key).
    index: ring::hmac::Key,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keyring")
            .field("kek_id", &self.kek_id())
            .field("previous", &(self.inner.keks.len() - 1))
            .finish_non_exhaustive()
    }
}

/// HKDF output length for a 256-bit key.
struct Len32;

impl ring::hkdf::KeyType for Len32 {
    fn len(&self) -> usize {
        32
    }
}

fn derive_kek(master: &[u8]) -> Kek {
    let salt = ring::hkdf::Salt::new(ring::hkdf::HKDF_SHA256, b"nexus-scribe");
    let prk = salt.extract(master);
    let expand = |info: &[u8]| {
        let mut bytes = [0u8; 32];
        prk.expand(&[info], Len32)
            .and_then(|okm| okm.fill(&mut bytes))
            .unwrap_or_else(|_| unreachable!("HKDF-SHA256 yields 32 bytes"));
        bytes
    };
    let bytes = expand(b"key-encryption-key v1");
    let index = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &expand(b"email-blind-index v1"));
    let digest = ring::digest::digest(&ring::digest::SHA256, &bytes);
    let id = digest.as_ref()[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    Kek {
        id,
        key: aes_key(&bytes),
        index,
    }
}

fn aes_key(bytes: &[u8; 32]) -> LessSafeKey {
    LessSafeKey::new(
        UnboundKey::new(&AES_256_GCM, bytes).unwrap_or_else(|_| unreachable!("32-byte key")),
    )
}

impl Keyring {
    /// A keyring from the master key's bytes (the `master_key` secret) and any previous ones.
    /// An empty master key is refused.
    pub fn new(current: &[u8], previous: &[&[u8]]) -> StoreResult<Self> {
        if current.is_empty() || previous.iter().any(|p| p.is_empty()) {
            return Err(StoreError::Config("the master key is empty"));
        }
        let keks = std::iter::once(current)
            .chain(previous.iter().copied())
            .map(derive_kek)
            .collect();
        Ok(Self {
            inner: Arc::new(Inner {
                keks,
                rng: SystemRandom::new(),
                deks: Mutex::new(HashMap::new()),
            }),
        })
    }

    /// A keyring with a fresh random master key (tests, and throwaway stores).
    pub fn random() -> Self {
        let mut master = [0u8; 32];
        SystemRandom::new()
            .fill(&mut master)
            .unwrap_or_else(|_| unreachable!("the OS random source works"));
        Self::new(&master, &[]).unwrap_or_else(|_| unreachable!("non-empty key"))
    }

    /// The id of the current key-encryption key (not secret: a hash prefix).
    pub fn kek_id(&self) -> &str {
        &self.inner.keks[0].id
    }

    /// The blind index of a (normalised) email under the current master key: the lookup key
    /// stored beside the sealed address, so login finds a user without the address in clear.
    pub(crate) fn email_index(&self, normalised: &str) -> String {
        blind_index(&self.inner.keks[0].index, normalised)
    }

    /// The blind indexes of `normalised` under the current and every previous master key, for
    /// lookups while a master-key rotation is under way (before `keys rewrap` re-indexes).
    pub(crate) fn email_indexes(&self, normalised: &str) -> Vec<String> {
        self.inner
            .keks
            .iter()
            .map(|k| blind_index(&k.index, normalised))
            .collect()
    }

    fn random_bytes<const N: usize>(&self) -> [u8; N] {
        let mut out = [0u8; N];
        self.inner
            .rng
            .fill(&mut out)
            .unwrap_or_else(|_| unreachable!("the OS random source works"));
        out
    }

    /// A new random data key, wrapped by the current KEK for `org`/`version`.
    pub(crate) fn new_wrapped_key(&self, org: OrgId, version: u32) -> String {
        let dek: [u8; 32] = self.random_bytes();
        self.wrap(org, version, &dek)
    }

    fn wrap(&self, org: OrgId, version: u32, dek: &[u8; 32]) -> String {
        let kek = &self.inner.keks[0];
        let sealed = self.seal_with(&kek.key, &wrap_aad(org, version), dek);
        format!("{WRAP_PREFIX}{}:{sealed}", kek.id)
    }

    /// The data key `org`/`version` from its wrapped form (cached after the first unwrap).
    pub(crate) fn data_key(
        &self,
        org: OrgId,
        version: u32,
        wrapped: &str,
    ) -> StoreResult<Arc<LessSafeKey>> {
        if let Some(key) = self.cached(org, version) {
            return Ok(key);
        }
        let dek = self.unwrap(org, version, wrapped)?;
        let key = Arc::new(aes_key(&dek));
        self.inner
            .deks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert((org, version), Arc::clone(&key));
        Ok(key)
    }

    /// A data key already unwrapped.
    pub(crate) fn cached(&self, org: OrgId, version: u32) -> Option<Arc<LessSafeKey>> {
        self.inner
            .deks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&(org, version))
            .cloned()
    }

    fn unwrap(&self, org: OrgId, version: u32, wrapped: &str) -> StoreResult<[u8; 32]> {
        let rest = wrapped
            .strip_prefix(WRAP_PREFIX)
            .ok_or(StoreError::Corrupt(
                "a data key is not in the kek:v1 format",
            ))?;
        let (kek_id, sealed) = rest.split_once(':').ok_or(StoreError::Corrupt(
            "a data key is not in the kek:v1 format",
        ))?;
        let kek =
            self.inner
                .keks
                .iter()
                .find(|k| k.id == kek_id)
                .ok_or(StoreError::KeyUnavailable(
                    "a data key is wrapped by a master key this server does not have",
                ))?;
        let plain = open_with(&kek.key, &wrap_aad(org, version), sealed).map_err(|_| {
            StoreError::Corrupt("a data key failed its integrity check (tampered or damaged)")
        })?;
        plain
            .try_into()
            .map_err(|_| StoreError::Corrupt("a data key has the wrong length"))
    }

    /// `wrapped` re-wrapped by the current KEK, or `None` if it already is.
    pub(crate) fn rewrap(
        &self,
        org: OrgId,
        version: u32,
        wrapped: &str,
    ) -> StoreResult<Option<String>> {
        let current = format!("{WRAP_PREFIX}{}:", self.kek_id());
        if wrapped.starts_with(&current) {
            return Ok(None);
        }
        let dek = self.unwrap(org, version, wrapped)?;
        Ok(Some(self.wrap(org, version, &dek)))
    }

    fn seal_with(&self, key: &LessSafeKey, aad: &str, plain: &[u8]) -> String {
        let nonce: [u8; NONCE_LEN] = self.random_bytes();
        let mut buf = plain.to_vec();
        key.seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(aad.as_bytes()),
            &mut buf,
        )
        .unwrap_or_else(|_| unreachable!("AES-GCM seals any length the store accepts"));
        let mut out = Vec::with_capacity(NONCE_LEN + buf.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&buf);
        URL_SAFE_NO_PAD.encode(out)
    }

    /// Seals a field value with data key `version`.
    pub(crate) fn seal(&self, key: &LessSafeKey, version: u32, aad: &str, plain: &str) -> String {
        format!(
            "{FIELD_PREFIX}{version}:{}",
            self.seal_with(key, aad, plain.as_bytes())
        )
    }
}

/// The data-key version a sealed field names.
pub(crate) fn field_version(stored: &str) -> StoreResult<u32> {
    stored
        .strip_prefix(FIELD_PREFIX)
        .and_then(|rest| rest.split_once(':'))
        .and_then(|(v, _)| v.parse().ok())
        .ok_or(StoreError::Corrupt(
            "a stored field is not in the enc:v1 format",
        ))
}

/// Opens a sealed field with its data key.
pub(crate) fn open_field(key: &LessSafeKey, aad: &str, stored: &str) -> StoreResult<String> {
    let sealed = stored
        .strip_prefix(FIELD_PREFIX)
        .and_then(|rest| rest.split_once(':'))
        .map(|(_, sealed)| sealed)
        .ok_or(StoreError::Corrupt(
            "a stored field is not in the enc:v1 format",
        ))?;
    let plain = open_with(key, aad, sealed).map_err(|_| {
        StoreError::Corrupt("a stored field failed its integrity check (tampered or damaged)")
    })?;
    String::from_utf8(plain).map_err(|_| StoreError::Corrupt("a stored field is not UTF-8"))
}

fn open_with(key: &LessSafeKey, aad: &str, sealed: &str) -> Result<Vec<u8>, ()> {
    let mut bytes = URL_SAFE_NO_PAD.decode(sealed).map_err(|_| ())?;
    if bytes.len() < NONCE_LEN + AES_256_GCM.tag_len() {
        return Err(());
    }
    let nonce = Nonce::try_assume_unique_for_key(&bytes[..NONCE_LEN]).map_err(|_| ())?;
    let plain_len = {
        let plain = key
            .open_in_place(nonce, Aad::from(aad.as_bytes()), &mut bytes[NONCE_LEN..])
            .map_err(|_| ())?;
        plain.len()
    };
    Ok(bytes[NONCE_LEN..NONCE_LEN + plain_len].to_vec())
}

fn blind_index(key: &ring::hmac::Key, normalised: &str) -> String {
    let tag = ring::hmac::sign(key, normalised.as_bytes());
    let hex: String = tag.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    format!("bi1:{hex}")
}

fn wrap_aad(org: OrgId, version: u32) -> String {
    format!("nexus-scribe org-key|{org}|{version}")
}

/// Associated data of a field: organisation, table.column and row, so a ciphertext only opens
/// where it was written.
pub(crate) fn field_aad(org: OrgId, column: &str, row: &str) -> String {
    format!("nexus-scribe field|{org}|{column}|{row}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_round_trip_and_fail_closed() {
        let ring = Keyring::random();
        let org = OrgId::generate();
        let wrapped = ring.new_wrapped_key(org, 1);
        assert!(wrapped.starts_with(&format!("kek:v1:{}:", ring.kek_id())));
        let key = ring.data_key(org, 1, &wrapped).expect("unwrap");
        let aad = field_aad(org, "segments.text", "row-1");
        let sealed = ring.seal(&key, 1, &aad, "the patient's diagnosis");
        assert!(sealed.starts_with("enc:v1:1:"));
        assert!(!sealed.contains("diagnosis"));
        assert_eq!(field_version(&sealed).expect("version"), 1);
        assert_eq!(
            open_field(&key, &aad, &sealed).expect("open"),
            "the patient's diagnosis"
        );
        // Fresh nonce per seal.
        assert_ne!(sealed, ring.seal(&key, 1, &aad, "the patient's diagnosis"));
        // Another row, column or organisation: refused.
        for other in [
            field_aad(org, "segments.text", "row-2"),
            field_aad(org, "segments.speaker", "row-1"),
            field_aad(OrgId::generate(), "segments.text", "row-1"),
        ] {
            assert!(open_field(&key, &other, &sealed).is_err());
        }
        // Any flipped byte of the ciphertext: refused with a clear error.
        let body = sealed.len() - 5;
        let mut tampered = sealed.clone().into_bytes();
        tampered[body] = if tampered[body] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(tampered).expect("ascii");
        let err = open_field(&key, &aad, &tampered).expect_err("tampered");
        assert!(err.to_string().contains("integrity check"), "{err}");
        assert!(open_field(&key, &aad, "the patient's diagnosis").is_err());
    }

    #[test]
    fn previous_master_keys_unwrap_and_rewrap_moves_to_the_current_one() {
        let old = Keyring::new(b"old master key material", &[]).expect("ring");
        let org = OrgId::generate();
        let wrapped = old.new_wrapped_key(org, 3);
        let rotated =
            Keyring::new(b"new master key material", &[b"old master key material"]).expect("ring");
        assert_ne!(rotated.kek_id(), old.kek_id());
        let key = rotated
            .data_key(org, 3, &wrapped)
            .expect("old KEK still unwraps");
        let rewrapped = rotated
            .rewrap(org, 3, &wrapped)
            .expect("rewrap")
            .expect("changed");
        assert!(rewrapped.starts_with(&format!("kek:v1:{}:", rotated.kek_id())));
        assert!(rotated
            .rewrap(org, 3, &rewrapped)
            .expect("rewrap")
            .is_none());
        // Only the new master key is needed now; the data key is the same.
        let fresh = Keyring::new(b"new master key material", &[]).expect("ring");
        let again = fresh.data_key(org, 3, &rewrapped).expect("unwrap");
        let aad = field_aad(org, "meetings.title", "m");
        let sealed = rotated.seal(&key, 3, &aad, "Board meeting");
        assert_eq!(
            open_field(&again, &aad, &sealed).expect("open"),
            "Board meeting"
        );
        // Without the old master key an old wrap is unavailable, not garbage.
        let err = fresh
            .data_key(org, 1, &old.new_wrapped_key(org, 1))
            .expect_err("no key");
        assert!(matches!(err, StoreError::KeyUnavailable(_)), "{err}");
        // Wrapped for another org or version: refused.
        assert!(fresh.data_key(OrgId::generate(), 3, &rewrapped).is_err());
        assert!(Keyring::new(b"", &[]).is_err());
    }

    #[test]
    fn email_indexes_are_keyed_and_follow_rotation() {
        let old = Keyring::new(b"old master key material", &[]).expect("ring");
        let new =
            Keyring::new(b"new master key material", &[b"old master key material"]).expect("ring");
        let index = old.email_index("ada@clinic.example");
        assert!(
            index.starts_with("bi1:") && !index.contains("ada"),
            "{index}"
        );
        assert_eq!(
            index,
            old.email_index("ada@clinic.example"),
            "deterministic"
        );
        assert_ne!(index, old.email_index("bob@clinic.example"));
        assert_ne!(
            index,
            new.email_index("ada@clinic.example"),
            "keyed by the master key"
        );
        assert_eq!(
            new.email_indexes("ada@clinic.example"),
            vec![new.email_index("ada@clinic.example"), index],
            "current first, then previous"
        );
    }
}
