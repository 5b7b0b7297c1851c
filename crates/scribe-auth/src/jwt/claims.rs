//! Token kinds and the claims a token carries.

use std::fmt;

use scribe_core::{OrgId, SessionId, UserId};
use serde::{Deserialize, Serialize};

use crate::role::Role;

/// The kind of a token, carried in the `typ` claim so one kind can never be used as another
/// (RFC 8725 §3.11).
/// Access and refresh tokens carry their sign-in session (`sid`); pre-MFA tokens open nothing
/// but MFA verification and belong to no session yet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TokenType {
    /// Opens the API and WebSockets; 1 hour.
    Access,
    /// Obtains new access tokens; 30 days, single use (rotated on every use).
    Refresh,
    /// Proves the password step of an MFA login; 5 minutes.
    PreMfa,
}

impl TokenType {
    /// The `typ` claim value.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Access => "access",
            Self::Refresh => "refresh",
            Self::PreMfa => "pre_mfa",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<Self> {
        [Self::Access, Self::Refresh, Self::PreMfa]
            .into_iter()
            .find(|t| t.as_str() == s)
    }
}

impl fmt::Display for TokenType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The claims as they travel (RFC 7519 §4.1 registered claims plus `org`, `role`, `typ`).
#[derive(Serialize, Deserialize)]
pub(crate) struct WireClaims {
    pub(crate) iss: String,
    pub(crate) aud: String,
    pub(crate) sub: String,
    pub(crate) org: String,
    pub(crate) role: String,
    pub(crate) typ: String,
    pub(crate) iat: u64,
    pub(crate) nbf: u64,
    pub(crate) exp: u64,
    pub(crate) jti: String,
    /// The sign-in session (access and refresh tokens; pre-MFA tokens belong to none yet).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) sid: Option<String>,
}

/// The verified claims of a token. Only [`crate::TokenService`] makes these.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenClaims {
    pub(crate) user_id: UserId,
    pub(crate) org_id: OrgId,
    pub(crate) role: Role,
    pub(crate) token_type: TokenType,
    pub(crate) issued_at: u64,
    pub(crate) not_before: u64,
    pub(crate) expires_at: u64,
    pub(crate) token_id: String,
    pub(crate) session_id: Option<SessionId>,
}

impl TokenClaims {
    /// `sub`: the user.
    pub fn user_id(&self) -> UserId {
        self.user_id
    }
    /// `org`: the user's organisation.
    pub fn org_id(&self) -> OrgId {
        self.org_id
    }
    /// `role`, parsed fail-closed (unknown → [`Role::Guest`]).
    pub fn role(&self) -> Role {
        self.role
    }
    /// `typ`.
    pub fn token_type(&self) -> TokenType {
        self.token_type
    }
    /// `iat`, seconds since the Unix epoch.
    pub fn issued_at(&self) -> u64 {
        self.issued_at
    }
    /// `nbf`, seconds since the Unix epoch.
    pub fn not_before(&self) -> u64 {
        self.not_before
    }
    /// `exp`, seconds since the Unix epoch (a denylist entry can be dropped after it).
    pub fn expires_at(&self) -> u64 {
        self.expires_at
    }
    /// `jti`: the token's random id (not a secret).
    pub fn token_id(&self) -> &str {
        &self.token_id
    }
    /// `sid`: the sign-in session of an access or refresh token (`None` for pre-MFA tokens).
    pub fn session_id(&self) -> Option<SessionId> {
        self.session_id
    }
}
