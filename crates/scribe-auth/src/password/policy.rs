//! The rules a new password must meet, after NIST SP 800-63B §3.1.1.2 (rev. 4) and OWASP ASVS
//! 5.0 V6.2: a length range, no composition rules ("one upper-case, one digit, one symbol"),
//! no periodic expiry, and refusal of passwords that are common, repetitive or sequential, or
//! built from the user's own details or the service's name.

use std::collections::BTreeSet;

use secrecy::zeroize::Zeroizing;
use secrecy::SecretString;

use super::{common, normalize};
use crate::error::{AuthError, PasswordProblem};

/// Context words matched against every password (the service's own name).
const SERVICE_WORDS: &[&str] = &["nexusscribe"];

/// Keyboard and alphabet walks: a password that is a stretch of one of these (or its reverse)
/// is sequential.
const WALKS: &[&str] = &[
    "abcdefghijklmnopqrstuvwxyz",
    "01234567890",
    "qwertyuiopasdfghjklzxcvbnm",
    "1234567890qwertyuiopasdfghjklzxcvbnm",
    "qwertzuiopasdfghjklyxcvbnm",
    "azertyuiopqsdfghjklmwxcvbn",
    "1qaz2wsx3edc4rfv5tgb6yhn7ujm8ik9ol0p",
    "qazwsxedcrfvtgbyhnujmikolp",
];

/// Length limits, counted in Unicode scalar values after NFC normalisation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PasswordPolicy {
    /// Minimum length (default 12; NIST SP 800-63B rev. 4 asks 15 for passwords used without a
    /// second factor, so an organisation that does not require MFA may raise it).
    pub min_chars: usize,
    /// Maximum length (default 128; NIST asks for at least 64 to be allowed).
    pub max_chars: usize,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        Self {
            min_chars: 12,
            max_chars: 128,
        }
    }
}

/// What is known about the user whose password is being set.
#[derive(Clone, Copy, Debug, Default)]
pub struct PasswordContext<'a> {
    /// The account's email address (its local part and the words in it are refused).
    pub email: Option<&'a str>,
    /// Other personal words: display name, organisation name.
    pub other: &'a [&'a str],
}

impl PasswordPolicy {
    /// Checks a new password; the error says what to change, never echoes the password.
    pub fn check(
        &self,
        password: &SecretString,
        context: &PasswordContext<'_>,
    ) -> Result<(), AuthError> {
        self.problem(password, context)
            .map_or(Ok(()), |p| Err(AuthError::WeakPassword(p)))
    }

    fn problem(
        &self,
        password: &SecretString,
        context: &PasswordContext<'_>,
    ) -> Option<PasswordProblem> {
        let normalized = normalize(password);
        if normalized.chars().any(char::is_control) {
            return Some(PasswordProblem::ControlCharacters);
        }
        let chars = normalized.chars().count();
        if chars < self.min_chars {
            return Some(PasswordProblem::TooShort {
                min: self.min_chars,
            });
        }
        if chars > self.max_chars {
            return Some(PasswordProblem::TooLong {
                max: self.max_chars,
            });
        }
        let lower = Zeroizing::new(normalized.to_lowercase());
        if is_repetitive_or_sequential(&lower) {
            return Some(PasswordProblem::Repetitive);
        }
        if is_common(&lower) {
            return Some(PasswordProblem::Common);
        }
        if contains_context(&lower, context) {
            return Some(PasswordProblem::ContainsUserDetails);
        }
        None
    }
}

fn is_repetitive_or_sequential(lower: &str) -> bool {
    let chars: Vec<char> = lower.chars().collect();
    if chars.iter().collect::<BTreeSet<_>>().len() < 5 {
        return true;
    }
    let steps = chars.len().saturating_sub(1);
    let runs = chars
        .windows(2)
        .filter(|w| (u32::from(w[0])).abs_diff(u32::from(w[1])) == 1)
        .count();
    if steps > 0 && runs * 4 >= steps * 3 {
        return true;
    }
    let compact: Zeroizing<String> =
        Zeroizing::new(lower.chars().filter(|c| c.is_alphanumeric()).collect());
    compact.len() >= 8
        && WALKS.iter().any(|walk| {
            let reversed: String = walk.chars().rev().collect();
            walk.contains(compact.as_str()) || reversed.contains(compact.as_str())
        })
}

/// On the list as typed, with leading/trailing digits and symbols removed, or with common
/// character substitutions (`p@ssw0rd`) undone.
fn is_common(lower: &str) -> bool {
    let not_letter = |c: char| !c.is_alphabetic();
    let trimmed = [
        lower,
        lower.trim_end_matches(not_letter),
        lower.trim_start_matches(not_letter),
        lower.trim_matches(not_letter),
    ];
    trimmed.iter().any(|candidate| {
        let unleeted = Zeroizing::new(unleet(candidate));
        let unleeted_trimmed = unleeted.trim_matches(not_letter);
        [*candidate, unleeted.as_str(), unleeted_trimmed]
            .iter()
            .any(|c| !c.is_empty() && common::is_listed(c))
    })
}

fn unleet(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '@' | '4' => 'a',
            '0' => 'o',
            '1' | '!' => 'i',
            '3' => 'e',
            '$' | '5' => 's',
            '7' => 't',
            other => other,
        })
        .collect()
}

fn contains_context(lower: &str, context: &PasswordContext<'_>) -> bool {
    let compact: Zeroizing<String> =
        Zeroizing::new(lower.chars().filter(|c| c.is_alphanumeric()).collect());
    let mut words: Vec<String> = SERVICE_WORDS.iter().map(|w| (*w).to_owned()).collect();
    if let Some(email) = context.email {
        let local = email
            .rsplit_once('@')
            .map_or(email, |(local, _)| local)
            .to_lowercase();
        words.extend(
            local
                .split(['.', '-', '_', '+'])
                .filter(|p| p.chars().count() >= 4)
                .map(str::to_owned),
        );
        if local.chars().count() >= 3 {
            words.push(local);
        }
    }
    for item in context.other {
        let item = item.to_lowercase();
        words.extend(
            item.split_whitespace()
                .filter(|p| p.chars().count() >= 4)
                .map(str::to_owned),
        );
    }
    words.iter().any(|word| {
        let word_compact: String = word.chars().filter(|c| c.is_alphanumeric()).collect();
        lower.contains(word.as_str())
            || (word_compact.chars().count() >= 3 && compact.contains(word_compact.as_str()))
    })
}

#[cfg(test)]
mod tests;
