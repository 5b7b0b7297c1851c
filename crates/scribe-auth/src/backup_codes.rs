//! Backup codes for multi-factor sign-in: ten single-use codes, shown once when the user turns
//! on TOTP, for when the authenticator is lost.
//!
//! A code is 80 random bits written as 16 characters of Crockford's base32 in lower case
//! (`0–9 a–z` without `i l o u`, so nothing reads as something else), grouped
//! `xxxx-xxxx-xxxx-xxxx`. Only the SHA-256 of the normalised code is stored; the caller deletes
//! a hash when its code is used. A sign-in form can have one "code" field for both kinds:
//! [`looks_like_backup_code`] tells a backup code from a six-digit TOTP code.

use secrecy::zeroize::Zeroizing;
use secrecy::SecretString;
use sha2::{Digest, Sha256};

use crate::error::AuthError;

/// Backup codes issued at once.
pub const BACKUP_CODE_COUNT: usize = 10;

/// Random bytes per code (80 bits).
const CODE_BYTES: usize = 10;
/// Characters per code, without hyphens (5 bits each).
const CODE_CHARS: usize = CODE_BYTES * 8 / 5;
/// Characters between hyphens in the displayed form.
const GROUP_CHARS: usize = 4;
/// Longest input [`backup_code_hash`] looks at (generous room for spaces and hyphens).
const MAX_PRESENTED_BYTES: usize = 64;

/// Crockford's base32 alphabet in lower case.
const ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";

/// [`BACKUP_CODE_COUNT`] distinct new codes, each with the hash to store: show the codes to the
/// user once (`xxxx-xxxx-xxxx-xxxx`), keep only the hashes.
pub fn generate_backup_codes() -> Result<Vec<(SecretString, [u8; 32])>, AuthError> {
    let mut codes: Vec<(SecretString, [u8; 32])> = Vec::with_capacity(BACKUP_CODE_COUNT);
    while codes.len() < BACKUP_CODE_COUNT {
        let (code, hash) = one_time_code()?;
        // Two equal codes out of 2^80 will not happen, but a duplicate must never be issued.
        if codes.iter().any(|(_, stored)| *stored == hash) {
            continue;
        }
        codes.push((code, hash));
    }
    Ok(codes)
}

/// One code of the backup-code form (80 random bits, grouped for reading aloud) and its hash
/// ([`backup_code_hash`] of what a person types back): backup codes, and the one-time setup
/// code `serve` prints on a fresh install.
pub fn one_time_code() -> Result<(SecretString, [u8; 32]), AuthError> {
    let mut raw = Zeroizing::new([0u8; CODE_BYTES]);
    getrandom::fill(raw.as_mut_slice()).map_err(AuthError::Random)?;
    let normalised = encode(&raw);
    let hash = hash_normalised(&normalised);
    let mut shown = Zeroizing::new(String::with_capacity(CODE_CHARS + 3));
    for (i, c) in normalised.chars().enumerate() {
        if i > 0 && i % GROUP_CHARS == 0 {
            shown.push('-');
        }
        shown.push(c);
    }
    Ok((SecretString::from(shown.as_str()), hash))
}

/// The stored hash of a presented backup code, or `None` if it cannot be one (checked before any
/// lookup, so junk never reaches storage).
///
/// The code is normalised first: surrounding whitespace trimmed, lower-cased, hyphens and spaces
/// dropped, and the look-alikes Crockford's base32 leaves out read as what they resemble
/// (`o` → `0`, `i` and `l` → `1`). What remains must be 16 characters of the alphabet; input
/// longer than 64 bytes is refused unread.
///
/// The hash is a single SHA-256, not a password hash: like API keys and resume tokens, a code
/// has 80 random bits, so a stolen hash cannot be reversed by guessing, and a fast hash lets the
/// caller find the code with an index lookup.
pub fn backup_code_hash(presented: &str) -> Option<[u8; 32]> {
    normalise(presented).map(|code| hash_normalised(&code))
}

/// Whether `presented` has the shape of a backup code (after the same normalisation as
/// [`backup_code_hash`]). A six-digit TOTP code never does, so one input field can take either.
pub fn looks_like_backup_code(presented: &str) -> bool {
    normalise(presented).is_some()
}

/// The 16-character canonical form of a presented code, or `None`.
fn normalise(presented: &str) -> Option<Zeroizing<String>> {
    if presented.len() > MAX_PRESENTED_BYTES {
        return None;
    }
    let mut code = Zeroizing::new(String::with_capacity(CODE_CHARS));
    for byte in presented.trim().bytes() {
        let c = match byte.to_ascii_lowercase() {
            b'-' | b' ' => continue,
            b'o' => b'0',
            b'i' | b'l' => b'1',
            c if ALPHABET.contains(&c) => c,
            _ => return None,
        };
        if code.len() == CODE_CHARS {
            return None;
        }
        code.push(char::from(c));
    }
    (code.len() == CODE_CHARS).then_some(code)
}

/// `bytes` as Crockford base32, 5 bits per character (`CODE_BYTES` is a multiple of 5).
fn encode(bytes: &[u8; CODE_BYTES]) -> Zeroizing<String> {
    let mut out = Zeroizing::new(String::with_capacity(CODE_CHARS));
    let mut buffer: u16 = 0;
    let mut bits: u32 = 0;
    for &byte in bytes {
        buffer = (buffer << 8) | u16::from(byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(ALPHABET[usize::from(buffer >> bits)]));
            buffer &= (1 << bits) - 1;
        }
    }
    out
}

fn hash_normalised(code: &str) -> [u8; 32] {
    Sha256::digest(code.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use secrecy::ExposeSecret;

    use super::*;

    #[test]
    fn ten_distinct_well_formed_codes_with_their_hashes() {
        let codes = generate_backup_codes().expect("random");
        assert_eq!(codes.len(), BACKUP_CODE_COUNT);
        let shown: HashSet<&str> = codes.iter().map(|(c, _)| c.expose_secret()).collect();
        let hashes: HashSet<[u8; 32]> = codes.iter().map(|(_, h)| *h).collect();
        assert_eq!(shown.len(), BACKUP_CODE_COUNT);
        assert_eq!(hashes.len(), BACKUP_CODE_COUNT);
        for code in shown {
            assert_eq!(code.len(), 19, "{code}");
            let groups: Vec<&str> = code.split('-').collect();
            assert_eq!(groups.len(), 4);
            assert!(groups
                .iter()
                .all(|g| g.len() == 4 && g.bytes().all(|b| ALPHABET.contains(&b))));
        }
    }

    #[test]
    fn codes_carry_80_random_bits() {
        assert_eq!(CODE_CHARS * 5, 80);
        assert_eq!(ALPHABET.len(), 32);
        let distinct: HashSet<u8> = ALPHABET.iter().copied().collect();
        assert_eq!(distinct.len(), 32);
        assert_eq!(&*encode(&[0; CODE_BYTES]), "0000000000000000");
        assert_eq!(&*encode(&[0xff; CODE_BYTES]), "zzzzzzzzzzzzzzzz");
    }

    #[test]
    fn presented_codes_hash_to_the_stored_hash_however_written() {
        for (code, stored) in generate_backup_codes().expect("random") {
            let code = code.expose_secret();
            let bare = code.replace('-', "");
            let spaced = code.replace('-', " ");
            for presented in [
                code.to_owned(),
                bare.clone(),
                code.to_ascii_uppercase(),
                bare.to_ascii_uppercase(),
                format!("  {spaced}\n"),
            ] {
                assert_eq!(backup_code_hash(&presented), Some(stored), "{presented:?}");
                assert!(looks_like_backup_code(&presented));
            }
        }
    }

    #[test]
    fn look_alike_letters_read_as_digits() {
        let canonical = backup_code_hash("0000-1111-abcd-efgh").expect("canonical");
        assert_eq!(backup_code_hash("oOoO-iIlL-ABCD-EFGH"), Some(canonical));
    }

    #[test]
    fn malformed_codes_are_refused() {
        for bad in [
            "",
            "123456",
            "0000-1111-abcd-efg",
            "0000-1111-abcd-efghj",
            "0000-1111-abcd-efgu",
            "0000_1111_abcd_efgh",
            "0000-1111-abcd-efg\u{e9}",
            "-".repeat(70).as_str(),
            format!("0000-1111-abcd-efgh{}", " ".repeat(60)).as_str(),
        ] {
            assert_eq!(backup_code_hash(bad), None, "{bad:?}");
            assert!(!looks_like_backup_code(bad), "{bad:?}");
        }
    }

    #[test]
    fn totp_codes_are_not_backup_codes() {
        for totp in ["287082", "000000", " 123456 "] {
            assert!(!looks_like_backup_code(totp));
        }
    }
}
