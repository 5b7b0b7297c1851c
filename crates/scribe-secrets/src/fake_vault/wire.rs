//! What the fake puts on the wire, spelled as Vault spells it: the response envelope
//! (`logical.HTTPResponse`), the auth block (`logical.HTTPAuth`), Go's `RFC3339Nano` times and
//! `time.Duration` strings, and Vault-looking random identifiers.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde::Serialize;
use serde_json::Value;

/// The version the fake reports (`sys/health`, `sys/seal-status`): a release whose response shapes
/// it copies (`mount_type` in every envelope, `replication_primary_canary_age_ms` in health).
pub(super) const VAULT_VERSION: &str = "1.18.4";

/// Vault's answer to a token it does not know (missing, expired, revoked).
pub(super) const INVALID_TOKEN: &str =
    "2 errors occurred:\n\t* permission denied\n\t* invalid token\n\n";

/// Vault's answer to a valid token whose policies do not allow the request.
pub(super) const POLICY_DENIED: &str = "1 error occurred:\n\t* permission denied\n\n";

/// Vault's answer to a request without any token on a path that needs one.
pub(super) const PERMISSION_DENIED: &str = "permission denied";

/// The response envelope of every logical request, fields in Vault's order.
#[derive(Serialize)]
pub(super) struct Envelope {
    pub(super) request_id: String,
    pub(super) lease_id: String,
    pub(super) renewable: bool,
    pub(super) lease_duration: u64,
    pub(super) data: Value,
    pub(super) wrap_info: Option<Value>,
    pub(super) warnings: Option<Vec<String>>,
    pub(super) auth: Option<Auth>,
    pub(super) mount_type: String,
}

impl Envelope {
    /// A response carrying `data` (no lease, no auth).
    pub(super) fn data(data: Value, mount_type: &str) -> Envelope {
        Envelope {
            request_id: uuid(),
            lease_id: String::new(),
            renewable: false,
            lease_duration: 0,
            data,
            wrap_info: None,
            warnings: None,
            auth: None,
            mount_type: mount_type.to_owned(),
        }
    }

    /// A response carrying an auth block (logins, renewals): `data` is null.
    pub(super) fn auth(auth: Auth, warnings: Vec<String>, mount_type: &str) -> Envelope {
        Envelope {
            auth: Some(auth),
            warnings: (!warnings.is_empty()).then_some(warnings),
            ..Envelope::data(Value::Null, mount_type)
        }
    }
}

/// The `auth` block of login and renewal responses, fields in Vault's order.
#[derive(Serialize, Clone)]
pub(super) struct Auth {
    pub(super) client_token: String,
    pub(super) accessor: String,
    pub(super) policies: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(super) token_policies: Vec<String>,
    pub(super) metadata: Option<BTreeMap<String, String>>,
    pub(super) lease_duration: u64,
    pub(super) renewable: bool,
    pub(super) entity_id: String,
    pub(super) token_type: String,
    pub(super) orphan: bool,
    pub(super) mfa_requirement: Option<Value>,
    pub(super) num_uses: u64,
}

/// Go's `time.RFC3339Nano` in UTC, as Vault prints times: `2026-11-24T12:00:00.123456789Z`, the
/// fraction without trailing zeros and absent when zero.
pub(super) fn rfc3339_nano(at: SystemTime) -> String {
    let since = at.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs() as i64;
    let (year, month, day) = civil_from_days(secs.div_euclid(86_400));
    let of_day = secs.rem_euclid(86_400);
    let mut out = format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}",
        of_day / 3600,
        of_day % 3600 / 60,
        of_day % 60
    );
    let nanos = since.subsec_nanos();
    if nanos != 0 {
        out.push('.');
        out.push_str(format!("{nanos:09}").trim_end_matches('0'));
    }
    out.push('Z');
    out
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian calendar (Howard
/// Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = (if mp < 10 { mp + 3 } else { mp - 9 }) as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Whole seconds since the Unix epoch.
pub(super) fn unix_secs(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// Go's `time.Duration.String()` for whole seconds: `0s`, `45s`, `2m5s`, `1h0m0s`.
pub(super) fn go_duration(secs: u64) -> String {
    let (h, m, s) = (secs / 3600, secs % 3600 / 60, secs % 60);
    match (h, m) {
        (0, 0) => format!("{s}s"),
        (0, _) => format!("{m}m{s}s"),
        _ => format!("{h}h{m}m{s}s"),
    }
}

/// A duration field as Vault's `TypeDurationSecond` reads it (`parseutil.ParseDurationSecond`): a
/// JSON number or a digit string is seconds, otherwise a Go duration (`"1h"`, `"90m"`, `"3600s"`)
/// or whole days (`"2d"`). `None` when it is not a duration.
pub(super) fn parse_duration(value: &Value) -> Option<Duration> {
    match value {
        Value::Null => Some(Duration::ZERO),
        Value::Number(n) => n.as_u64().map(Duration::from_secs).or_else(|| {
            n.as_f64()
                .filter(|f| *f >= 0.0)
                .map(Duration::from_secs_f64)
        }),
        Value::String(s) => parse_duration_str(s.trim()),
        _ => None,
    }
}

fn parse_duration_str(s: &str) -> Option<Duration> {
    if s.is_empty() {
        return Some(Duration::ZERO);
    }
    if s.bytes().all(|b| b.is_ascii_digit()) {
        return s.parse().ok().map(Duration::from_secs);
    }
    if let Some(days) = s.strip_suffix('d') {
        return days
            .parse::<u64>()
            .ok()
            .map(|d| Duration::from_secs(d * 86_400));
    }
    // Go's time.ParseDuration: one or more <decimal><unit>.
    let mut rest = s;
    let mut total = 0f64;
    while !rest.is_empty() {
        let number_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let number: f64 = rest[..number_end].parse().ok()?;
        rest = &rest[number_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let seconds_per_unit = match &rest[..unit_end] {
            "ns" => 1e-9,
            "us" | "µs" | "μs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        rest = &rest[unit_end..];
        total += number * seconds_per_unit;
    }
    Some(Duration::from_secs_f64(total))
}

/// Bytes from the OS CSPRNG.
fn random<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).expect("the fake Vault needs the OS random number generator");
    bytes
}

/// A request, entity or secret-id-accessor identifier as Vault makes them (`go-uuid`: 128
/// random bits as 8-4-4-4-12 hex).
pub(super) fn uuid() -> String {
    let hex: String = random::<16>().iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

/// A service token in Vault's current format: `hvs.` and a base64url body.
pub(super) fn service_token() -> String {
    format!("hvs.CAESI{}", URL_SAFE_NO_PAD.encode(random::<64>()))
}

/// A token accessor: 24 alphanumerics.
pub(super) fn accessor() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    random::<24>()
        .iter()
        .map(|b| char::from(ALPHABET[usize::from(*b) % ALPHABET.len()]))
        .collect()
}
