//! The one error type of this crate, and its mapping to the client-visible [`ErrorCode`].
//!
//! The reasons inside ([`TokenRejection`], [`TicketRejection`]) are for the server log; clients
//! get only the code (`unauthenticated`), so a caller cannot probe which check failed.

use std::fmt;

use scribe_core::ErrorCode;

/// Why an authentication step failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// The new password breaks the password policy (the reason may be shown to the user).
    #[error("password refused: {0}")]
    WeakPassword(PasswordProblem),

    /// A stored password hash could not be parsed (not a PHC string of a supported algorithm).
    #[error("stored password hash is malformed or of an unsupported algorithm")]
    MalformedHash,

    /// Argon2 parameters are invalid or below the production minimum.
    #[error("argon2 parameters refused: {0}")]
    HashParams(String),

    /// Hashing failed inside argon2 (not the user's fault).
    #[error("password hashing failed: {0}")]
    Hashing(String),

    /// A presented token was refused.
    #[error("token refused: {0}")]
    InvalidToken(TokenRejection),

    /// A key given to the token service is unusable (empty).
    #[error("jwt key refused: {0}")]
    InvalidKey(&'static str),

    /// Signing a token failed.
    #[error("token signing failed: {0}")]
    Signing(String),

    /// A bot presented a key that is not the one derived for its id (or a malformed one).
    #[error("bot key refused")]
    InvalidBotKey,

    /// A WebSocket ticket was refused.
    #[error("websocket ticket refused: {0}")]
    InvalidTicket(TicketRejection),

    /// Too many tickets are outstanding (per user or in total).
    #[error("too many outstanding websocket tickets")]
    TooManyTickets,

    /// A ticket was requested for a principal that is not a user (bots use their keys).
    #[error("only users can obtain websocket tickets")]
    NotAUser,

    /// The operating system's random generator failed.
    #[error("the operating system's random number generator failed: {0}")]
    Random(getrandom::Error),

    /// A TOTP secret is not unpadded RFC 4648 base32 of 16 to 64 bytes (the secret itself is
    /// never part of the message).
    #[error("totp secret is malformed")]
    MalformedTotpSecret,
}

impl AuthError {
    /// The client-visible code for this error. Every credential failure is `unauthenticated`,
    /// whatever the reason; internal failures are `internal`.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::WeakPassword(_) => ErrorCode::BadRequest,
            Self::InvalidToken(_) | Self::InvalidBotKey | Self::InvalidTicket(_) => {
                ErrorCode::Unauthenticated
            }
            Self::NotAUser => ErrorCode::Forbidden,
            Self::TooManyTickets => ErrorCode::RateLimited,
            Self::MalformedHash
            | Self::HashParams(_)
            | Self::Hashing(_)
            | Self::InvalidKey(_)
            | Self::Signing(_)
            | Self::Random(_)
            | Self::MalformedTotpSecret => ErrorCode::Internal,
        }
    }
}

/// Why a JWT was refused (for logs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TokenRejection {
    /// Not three base64url parts of JSON, oversized, or claims of the wrong shape.
    Malformed,
    /// The header names an algorithm other than HS256 (including `none`).
    Algorithm,
    /// The signature matches none of the keys.
    Signature,
    /// `exp` has passed.
    Expired,
    /// `nbf` is still in the future.
    NotYetValid,
    /// `iat` is in the future, or the lifetime is longer than the token kind allows.
    IssuedAt,
    /// `iss` is not this service.
    Issuer,
    /// `aud` is not this service's API.
    Audience,
    /// `typ` is not the kind this endpoint accepts (e.g. a refresh token used as access token).
    Type,
    /// A required claim is missing or of the wrong type.
    Claims,
}

impl fmt::Display for TokenRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Malformed => "malformed",
            Self::Algorithm => "algorithm not allowed",
            Self::Signature => "bad signature",
            Self::Expired => "expired",
            Self::NotYetValid => "not yet valid",
            Self::IssuedAt => "issued in the future or lifetime too long",
            Self::Issuer => "wrong issuer",
            Self::Audience => "wrong audience",
            Self::Type => "wrong token type",
            Self::Claims => "missing or invalid claims",
        })
    }
}

/// Why a WebSocket ticket was refused (for logs). The client sees `unauthenticated` for all.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TicketRejection {
    /// Never issued, or already redeemed (tickets are single use).
    Unknown,
    /// Older than its time to live.
    Expired,
    /// Issued for another meeting (the ticket is consumed anyway).
    WrongMeeting,
}

impl fmt::Display for TicketRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Unknown => "unknown or already used",
            Self::Expired => "expired",
            Self::WrongMeeting => "issued for another meeting",
        })
    }
}

/// Why a TOTP code was refused (for logs). The client sees `unauthenticated` for all; the
/// message never contains the code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TotpRejection {
    /// Not exactly six ASCII digits (after trimming surrounding whitespace).
    #[error("malformed totp code")]
    Malformed,
    /// Matches no time step in the accepted window.
    #[error("wrong totp code")]
    Wrong,
    /// Matches a time step at or before the last one already used (a replay, or an older code
    /// after a newer one was accepted).
    #[error("totp code already used")]
    Replayed,
}

/// Why a new password was refused (NIST SP 800-63B §3.1.1.2). The message may be shown to the
/// user; it never contains the password.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum PasswordProblem {
    /// Fewer characters than the policy minimum.
    TooShort {
        /// The minimum.
        min: usize,
    },
    /// More characters than the policy maximum.
    TooLong {
        /// The maximum.
        max: usize,
    },
    /// On the list of common or breached passwords, or a trivial variant of one.
    Common,
    /// Contains the user's own details (email name, display name) or the service's name.
    ContainsUserDetails,
    /// Repeated or sequential characters (`aaaa…`, `1234…`, keyboard rows).
    Repetitive,
    /// Contains control characters.
    ControlCharacters,
}

impl fmt::Display for PasswordProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooShort { min } => write!(f, "use at least {min} characters"),
            Self::TooLong { max } => write!(f, "use at most {max} characters"),
            Self::Common => f.write_str("this password is too common; choose another"),
            Self::ContainsUserDetails => {
                f.write_str("do not use your name, email or the service's name in the password")
            }
            Self::Repetitive => f.write_str("avoid repeated or sequential characters"),
            Self::ControlCharacters => f.write_str("the password contains control characters"),
        }
    }
}
