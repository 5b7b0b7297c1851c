//! Time-based one-time passwords (RFC 6238 over RFC 4226 HOTP) for multi-factor sign-in, in the
//! profile every authenticator app understands: HMAC-SHA1, six digits, 30 s steps from the Unix
//! epoch (T0 = 0).
//!
//! The secret is 20 random bytes (160 bits, RFC 4226 §4 R6), shown to the user once as unpadded
//! base32 and in an `otpauth://` URI (for a QR code), and stored by the caller (encrypted).
//! [`verify_totp`] accepts the current step and one either side ([`TOTP_WINDOW_STEPS`]) for clock
//! drift and typing time, and returns the step it matched: the caller stores it and passes it back
//! as `last_used_step`, so no code is accepted twice, nor an older code once a newer one was used.

use std::fmt;

use hmac::{Hmac, Mac};
use secrecy::zeroize::Zeroizing;
use secrecy::{ExposeSecret, SecretString};
use sha1::Sha1;
use subtle::{Choice, ConditionallySelectable, ConstantTimeEq};

use crate::error::{AuthError, TotpRejection};

type HmacSha1 = Hmac<Sha1>;

/// Length of a TOTP step in seconds (RFC 6238 §4.1 `X`).
pub const TOTP_PERIOD_SECONDS: u64 = 30;

/// Digits in a TOTP code.
pub const TOTP_DIGITS: usize = 6;

/// Steps accepted on either side of the current one: a code from the previous or the next
/// 30 s step still verifies (RFC 6238 §5.2 recommends at most one step of network delay), so a
/// code is good for 60–90 s in total.
pub const TOTP_WINDOW_STEPS: u64 = 1;

/// Random bytes in a newly generated secret (160 bits, the HMAC-SHA1 output size).
const TOTP_SECRET_BYTES: usize = 20;
/// Shortest secret accepted from base32 (128 bits, RFC 4226 §4 R6).
const MIN_SECRET_BYTES: usize = 16;
/// Longest secret accepted from base32 (the HMAC-SHA1 block size).
const MAX_SECRET_BYTES: usize = 64;

/// `10^TOTP_DIGITS`.
const CODE_MODULUS: u32 = 1_000_000;

/// A TOTP shared secret. Its bytes are wiped on drop and never shown by `Debug`.
pub struct TotpSecret {
    bytes: Zeroizing<Vec<u8>>,
}

impl TotpSecret {
    /// A new secret of 20 bytes from the operating system's CSPRNG.
    pub fn generate() -> Result<Self, AuthError> {
        let mut bytes = Zeroizing::new(vec![0u8; TOTP_SECRET_BYTES]);
        getrandom::fill(&mut bytes).map_err(AuthError::Random)?;
        Ok(Self { bytes })
    }

    /// Reads a secret from RFC 4648 base32: either case, spaces ignored (apps and people group
    /// it in fours), trailing `=` padding optional. It must decode to 16–64 bytes, with no stray
    /// bits in the last character; anything else is [`AuthError::MalformedTotpSecret`].
    pub fn from_base32(encoded: &str) -> Result<Self, AuthError> {
        let bytes = base32_decode(encoded).ok_or(AuthError::MalformedTotpSecret)?;
        if !(MIN_SECRET_BYTES..=MAX_SECRET_BYTES).contains(&bytes.len()) {
            return Err(AuthError::MalformedTotpSecret);
        }
        Ok(Self { bytes })
    }

    /// The secret as unpadded upper-case base32 (what authenticator apps accept for manual
    /// entry, and what [`TotpSecret::from_base32`] reads back).
    pub fn to_base32(&self) -> SecretString {
        SecretString::from(base32_encode(&self.bytes))
    }

    fn mac(&self) -> HmacSha1 {
        // HMAC accepts keys of any length (RFC 2104 §2), so this cannot fail.
        <HmacSha1 as Mac>::new_from_slice(&self.bytes)
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"))
    }
}

impl fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TotpSecret([REDACTED])")
    }
}

/// The `otpauth://` URI for enrolling `secret` in an authenticator app (usually shown as a QR
/// code): `otpauth://totp/ISSUER:ACCOUNT?secret=…&issuer=…&algorithm=SHA1&digits=6&period=30`.
/// `issuer` and `account` are percent-encoded (everything but RFC 3986 unreserved characters, so
/// a `:` in either cannot split the label). The URI contains the secret.
pub fn otpauth_uri(secret: &TotpSecret, issuer: &str, account: &str) -> SecretString {
    let encoded_secret = secret.to_base32();
    let issuer = percent_encode(issuer);
    let account = percent_encode(account);
    let uri = Zeroizing::new(format!(
        "otpauth://totp/{issuer}:{account}?secret={}&issuer={issuer}&algorithm=SHA1&digits={TOTP_DIGITS}&period={TOTP_PERIOD_SECONDS}",
        encoded_secret.expose_secret()
    ));
    SecretString::from(uri.as_str())
}

/// The time step of `unix_seconds`: `floor(unix_seconds / 30)` (RFC 6238 §4.2, T0 = 0).
pub fn totp_step_of(unix_seconds: u64) -> u64 {
    unix_seconds / TOTP_PERIOD_SECONDS
}

/// The six-digit code of `secret` at time step `step` (zero-padded; RFC 4226 §5.3 with the step
/// as the counter).
pub fn totp_code_at(secret: &TotpSecret, step: u64) -> String {
    format!("{:06}", hotp_value(secret, step))
}

/// Checks `code` presented at `now_unix_seconds` against `secret` and returns the step it
/// matched; store that step and pass it as `last_used_step` next time.
///
/// - The code must be exactly six ASCII digits once surrounding whitespace is trimmed, else
///   [`TotpRejection::Malformed`] (its length and charset are not secret).
/// - Every step within [`TOTP_WINDOW_STEPS`] of the current one is computed and compared in
///   constant time (`subtle`), all of them whatever matches, so timing does not tell which step
///   or how many digits matched.
/// - A code matching only steps at or before `last_used_step` is [`TotpRejection::Replayed`]: a
///   code is never accepted twice, and neither is an older one after a newer was used. If it
///   matches several steps (a coincidence), the latest step not yet used wins.
/// - Otherwise [`TotpRejection::Wrong`].
///
/// Callers must also rate-limit attempts (see `LoginThrottle`): a six-digit code falls to
/// guessing otherwise.
pub fn verify_totp(
    secret: &TotpSecret,
    code: &str,
    now_unix_seconds: u64,
    last_used_step: Option<u64>,
) -> Result<u64, TotpRejection> {
    let presented = code.trim();
    if presented.len() != TOTP_DIGITS || !presented.bytes().all(|b| b.is_ascii_digit()) {
        return Err(TotpRejection::Malformed);
    }
    let current = totp_step_of(now_unix_seconds);
    let first = current.saturating_sub(TOTP_WINDOW_STEPS);
    let last = current.saturating_add(TOTP_WINDOW_STEPS);

    let mut matched = Choice::from(0);
    let mut fresh = Choice::from(0);
    let mut fresh_step = 0u64;
    for step in first..=last {
        let expected = totp_code_at(secret, step);
        let equal = expected.as_bytes().ct_eq(presented.as_bytes());
        // Which steps were used is not secret; only whether the code equals one is.
        let unused = Choice::from(u8::from(last_used_step.is_none_or(|used| step > used)));
        let accept = equal & unused;
        // Steps ascend, so the latest acceptable step is the one kept.
        fresh_step.conditional_assign(&step, accept);
        fresh |= accept;
        matched |= equal;
    }
    if bool::from(fresh) {
        Ok(fresh_step)
    } else if bool::from(matched) {
        Err(TotpRejection::Replayed)
    } else {
        Err(TotpRejection::Wrong)
    }
}

/// HOTP (RFC 4226 §5.3): HMAC-SHA1 of the big-endian counter, dynamic truncation, mod 10^6.
fn hotp_value(secret: &TotpSecret, counter: u64) -> u32 {
    let mut mac = secret.mac();
    mac.update(&counter.to_be_bytes());
    let digest = Zeroizing::new(<[u8; 20]>::from(mac.finalize().into_bytes()));
    let offset = usize::from(digest[19] & 0x0f);
    let binary = u32::from_be_bytes([
        digest[offset] & 0x7f,
        digest[offset + 1],
        digest[offset + 2],
        digest[offset + 3],
    ]);
    binary % CODE_MODULUS
}

/// The RFC 4648 §6 base32 alphabet.
const BASE32_ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// Unpadded upper-case RFC 4648 base32 of `bytes`.
fn base32_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity((bytes.len() * 8).div_ceil(5));
    let mut buffer: u16 = 0;
    let mut bits: u32 = 0;
    for &byte in bytes {
        // `buffer` holds the `bits` (< 5) bits not yet output, then 8 more.
        buffer = (buffer << 8) | u16::from(byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(BASE32_ALPHABET[usize::from(buffer >> bits)]));
            buffer &= (1 << bits) - 1;
        }
    }
    if bits > 0 {
        out.push(char::from(
            BASE32_ALPHABET[usize::from(buffer << (5 - bits))],
        ));
    }
    out
}

/// Decodes RFC 4648 base32 of either case, ignoring spaces, with optional trailing `=` padding.
/// `None` for other characters, `=` before the end, a length no whole number of bytes encodes,
/// or non-zero bits left over in the last character.
fn base32_decode(encoded: &str) -> Option<Zeroizing<Vec<u8>>> {
    let compact = encoded.trim_end_matches([' ', '=']);
    let mut out = Zeroizing::new(Vec::with_capacity(compact.len() * 5 / 8));
    let mut buffer: u16 = 0;
    let mut bits: u32 = 0;
    for byte in compact.bytes().filter(|&b| b != b' ') {
        let value = match byte.to_ascii_uppercase() {
            c @ b'A'..=b'Z' => c - b'A',
            c @ b'2'..=b'7' => c - b'2' + 26,
            _ => return None,
        };
        // `buffer` holds the `bits` (< 8) bits not yet output, then 5 more.
        buffer = (buffer << 5) | u16::from(value);
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push(u8::try_from(buffer >> bits).ok()?);
            buffer &= (1 << bits) - 1;
        }
    }
    // A final group leaves 0, 2, 4, 1 or 3 bits (for 0–4 trailing bytes); 5 or more leftover
    // bits (1, 3 or 6 characters too many) encode no byte. Leftover bits must be zero.
    let leftover_is_padding = bits < 5 && buffer == 0;
    leftover_is_padding.then_some(out)
}

/// Percent-encodes everything but RFC 3986 unreserved characters (`A–Z a–z 0–9 - . _ ~`),
/// UTF-8 byte by byte.
fn percent_encode(text: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(byte >> 4)]));
            out.push(char::from(HEX[usize::from(byte & 0x0f)]));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::{Clock, ManualClock};

    /// RFC 6238 Appendix B's SHA-1 secret, ASCII "12345678901234567890".
    const RFC_SECRET_BASE32: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";

    fn rfc_secret() -> TotpSecret {
        TotpSecret::from_base32(RFC_SECRET_BASE32).expect("rfc secret")
    }

    #[test]
    fn the_rfc_secret_decodes_to_its_ascii_bytes() {
        assert_eq!(rfc_secret().bytes.as_slice(), b"12345678901234567890");
    }

    #[test]
    fn rfc_6238_appendix_b_sha1_vectors() {
        let secret = rfc_secret();
        for (time, code) in [
            (59, "287082"),
            (1_111_111_109, "081804"),
            (1_111_111_111, "050471"),
            (1_234_567_890, "005924"),
            (2_000_000_000, "279037"),
            (20_000_000_000, "353130"),
        ] {
            assert_eq!(
                totp_code_at(&secret, totp_step_of(time)),
                code,
                "T = {time}"
            );
            assert_eq!(
                verify_totp(&secret, code, time, None),
                Ok(totp_step_of(time)),
                "T = {time}"
            );
        }
    }

    #[test]
    fn rfc_4226_appendix_d_hotp_vectors() {
        let secret = rfc_secret();
        let expected = [
            "755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583",
            "399871", "520489",
        ];
        for (counter, code) in (0u64..).zip(expected) {
            assert_eq!(totp_code_at(&secret, counter), code, "counter {counter}");
        }
    }

    #[test]
    fn steps_are_thirty_seconds_from_the_epoch() {
        assert_eq!(totp_step_of(0), 0);
        assert_eq!(totp_step_of(29), 0);
        assert_eq!(totp_step_of(30), 1);
        assert_eq!(totp_step_of(1_111_111_109), 37_037_036);
    }

    #[test]
    fn the_window_is_one_step_either_side() {
        let secret = rfc_secret();
        let clock = ManualClock::at_unix_seconds(1_750_000_015);
        let now = clock.unix_seconds();
        let current = totp_step_of(now);
        for step in [current - 1, current, current + 1] {
            let code = totp_code_at(&secret, step);
            assert_eq!(verify_totp(&secret, &code, now, None), Ok(step));
        }
        for step in [current - 2, current + 2] {
            let code = totp_code_at(&secret, step);
            assert_eq!(
                verify_totp(&secret, &code, now, None),
                Err(TotpRejection::Wrong)
            );
        }
    }

    #[test]
    fn the_window_at_the_epoch_does_not_underflow() {
        let secret = rfc_secret();
        assert_eq!(
            verify_totp(&secret, &totp_code_at(&secret, 0), 5, None),
            Ok(0)
        );
        assert_eq!(
            verify_totp(&secret, &totp_code_at(&secret, 1), 5, None),
            Ok(1)
        );
    }

    #[test]
    fn a_code_is_never_accepted_twice() {
        let secret = rfc_secret();
        let clock = ManualClock::at_unix_seconds(1_750_000_000);
        let now = clock.unix_seconds();
        let code = totp_code_at(&secret, totp_step_of(now));
        let used = verify_totp(&secret, &code, now, None).expect("first use");
        assert_eq!(
            verify_totp(&secret, &code, now, Some(used)),
            Err(TotpRejection::Replayed)
        );
        // Still refused a step later, while it is inside the window.
        clock.advance(std::time::Duration::from_secs(TOTP_PERIOD_SECONDS));
        assert_eq!(
            verify_totp(&secret, &code, clock.unix_seconds(), Some(used)),
            Err(TotpRejection::Replayed)
        );
    }

    #[test]
    fn an_older_code_is_refused_after_a_newer_one_was_used() {
        let secret = rfc_secret();
        let now = 1_750_000_000;
        let current = totp_step_of(now);
        let newer = totp_code_at(&secret, current + 1);
        let used = verify_totp(&secret, &newer, now, None).expect("newer");
        assert_eq!(used, current + 1);
        for step in [current - 1, current] {
            let older = totp_code_at(&secret, step);
            assert_eq!(
                verify_totp(&secret, &older, now, Some(used)),
                Err(TotpRejection::Replayed)
            );
        }
        // A later step than the one used is fine.
        let older_used = current - 1;
        let code = totp_code_at(&secret, current);
        assert_eq!(
            verify_totp(&secret, &code, now, Some(older_used)),
            Ok(current)
        );
    }

    #[test]
    fn malformed_codes_are_refused() {
        let secret = rfc_secret();
        for code in [
            "12345",
            "1234567",
            "12a456",
            "",
            "      ",
            "123 456",
            "١٢٣٤٥٦",
            "+12345",
            "-12345",
        ] {
            assert_eq!(
                verify_totp(&secret, code, 59, None),
                Err(TotpRejection::Malformed),
                "{code:?}"
            );
        }
        // Surrounding whitespace is trimmed.
        assert_eq!(verify_totp(&secret, " 287082\n", 59, None), Ok(1));
        assert_eq!(
            verify_totp(&secret, "287083", 59, None),
            Err(TotpRejection::Wrong)
        );
    }

    #[test]
    fn rejections_never_show_the_code() {
        for rejection in [
            TotpRejection::Malformed,
            TotpRejection::Wrong,
            TotpRejection::Replayed,
        ] {
            assert!(!rejection.to_string().bytes().any(|b| b.is_ascii_digit()));
        }
    }

    #[test]
    fn rfc_4648_base32_vectors() {
        for (plain, encoded) in [
            ("", ""),
            ("f", "MY"),
            ("fo", "MZXQ"),
            ("foo", "MZXW6"),
            ("foob", "MZXW6YQ"),
            ("fooba", "MZXW6YTB"),
            ("foobar", "MZXW6YTBOI"),
        ] {
            assert_eq!(base32_encode(plain.as_bytes()), encoded);
            let decoded = base32_decode(encoded).expect("unpadded");
            assert_eq!(decoded.as_slice(), plain.as_bytes());
        }
        for (padded, plain) in [
            ("MY======", "f"),
            ("MZXQ====", "fo"),
            ("MZXW6===", "foo"),
            ("MZXW6YQ=", "foob"),
            ("MZXW6YTB", "fooba"),
            ("MZXW6YTBOI======", "foobar"),
        ] {
            let decoded = base32_decode(padded).expect("padded");
            assert_eq!(decoded.as_slice(), plain.as_bytes());
        }
    }

    #[test]
    fn base32_decoding_is_lenient_in_case_and_spaces_but_strict_otherwise() {
        let decoded = base32_decode(" mzxw 6ytb oi ").expect("lenient");
        assert_eq!(decoded.as_slice(), b"foobar");
        for bad in [
            "M",
            "MZX",
            "MZXW6Y",
            "MZ1Q",
            "MZ=Q",
            "MZ0Q",
            "MZ\u{e9}Q",
            "MZ",
        ] {
            assert!(base32_decode(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn secrets_round_trip_through_base32() {
        let secret = TotpSecret::generate().expect("random");
        let encoded = secret.to_base32();
        assert_eq!(encoded.expose_secret().len(), 32);
        assert!(encoded
            .expose_secret()
            .bytes()
            .all(|b| BASE32_ALPHABET.contains(&b)));
        let again = TotpSecret::from_base32(encoded.expose_secret()).expect("round trip");
        assert_eq!(again.bytes.as_slice(), secret.bytes.as_slice());
        let lower = encoded.expose_secret().to_ascii_lowercase();
        let grouped: Vec<&str> = (0..8).map(|i| &lower[i * 4..i * 4 + 4]).collect();
        let again = TotpSecret::from_base32(&grouped.join(" ")).expect("grouped lower case");
        assert_eq!(again.bytes.as_slice(), secret.bytes.as_slice());
        assert_ne!(
            TotpSecret::generate().expect("random").bytes.as_slice(),
            secret.bytes.as_slice()
        );
    }

    #[test]
    fn secrets_of_the_wrong_size_or_alphabet_are_refused() {
        // 10 bytes (80 bits) is below the RFC 4226 minimum; 65 bytes is above the HMAC block.
        let short = base32_encode(&[7u8; 10]);
        let long = base32_encode(&[7u8; 65]);
        for bad in [short.as_str(), long.as_str(), "", "not base32!"] {
            assert!(matches!(
                TotpSecret::from_base32(bad),
                Err(AuthError::MalformedTotpSecret)
            ));
        }
        assert!(TotpSecret::from_base32(&base32_encode(&[7u8; 16])).is_ok());
        assert!(TotpSecret::from_base32(&base32_encode(&[7u8; 64])).is_ok());
    }

    #[test]
    fn debug_hides_the_secret() {
        let secret = rfc_secret();
        let shown = format!("{secret:?}");
        assert!(!shown.contains(RFC_SECRET_BASE32));
        assert!(!shown.contains("1234567890"));
        let err = TotpSecret::from_base32("GEZDGNBVGY3TQOJQ!").expect_err("malformed");
        assert!(!err.to_string().contains("GEZDGNBVGY3TQOJQ"));
    }

    #[test]
    fn the_otpauth_uri_encodes_label_and_issuer() {
        let secret = rfc_secret();
        let uri = otpauth_uri(&secret, "Nexus Scribe", "ana+mfa@example.org");
        assert_eq!(
            uri.expose_secret(),
            "otpauth://totp/Nexus%20Scribe:ana%2Bmfa%40example.org\
             ?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Nexus%20Scribe\
             &algorithm=SHA1&digits=6&period=30"
        );
        let uri = otpauth_uri(&secret, "A:B/ü", "x~y_z-1.2");
        assert!(uri
            .expose_secret()
            .starts_with("otpauth://totp/A%3AB%2F%C3%BC:x~y_z-1.2?secret="));
    }
}
