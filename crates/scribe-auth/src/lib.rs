//! Authentication for NexusScribe: password hashing and policy (Argon2id, NIST SP 800-63B),
//! access tokens (HS256 JWTs), derived bot API keys, single-use WebSocket tickets, roles, and the
//! [`Principal`] a verified credential turns into.
//!
//! Everything here is synchronous. Password hashing is deliberately slow (tens of
//! milliseconds): async callers run it in `spawn_blocking`. Secrets and tokens are
//! `secrecy::SecretString` and never appear in `Debug` output or error messages.

mod backup_codes;
mod bot_key;
mod clock;
mod error;
mod fingerprint;
mod jwt;
mod lockout;
mod network;
mod password;
mod principal;
mod random;
mod resume;
mod role;
mod ticket;
mod totp;

pub use backup_codes::{
    backup_code_hash, generate_backup_codes, looks_like_backup_code, one_time_code,
    BACKUP_CODE_COUNT,
};
pub use bot_key::{derive_bot_key, verify_bot_key, VerifiedBot, BOT_KEY_HEX_LEN};
pub use clock::{Clock, ManualClock, SystemClock};
pub use error::{AuthError, PasswordProblem, TicketRejection, TokenRejection, TotpRejection};
pub use fingerprint::{token_digest, token_fingerprint};
pub use jwt::{
    IssuedToken, JwtKeys, TokenClaims, TokenConfig, TokenService, TokenType, VerifiedAccess,
    MAX_TOKEN_BYTES,
};
pub use lockout::{
    Allowance, LockoutPolicy, LoginAttempts, LoginThrottle, RateLimit, ThrottleConfig,
    ThrottleScope, Throttled,
};
pub use network::{InvalidNetwork, IpNetwork};
pub use password::{Argon2Params, PasswordContext, PasswordHasher, PasswordPolicy, PhcHash};
pub use principal::{BotPrincipal, Principal, UserPrincipal};
pub use random::new_url_token;
pub use resume::{hash_presented_resume_token, issue_resume_token, RESUME_TOKEN_CHARS};
pub use role::{MeetingPermission, Role, UnknownRole};
pub use ticket::{
    issue_ticket, redeem_grant, ticket_digest, IssuedTicket, TicketGrant, MAX_TICKETS_PER_USER,
    TICKET_TTL,
};
pub use totp::{
    otpauth_uri, totp_code_at, totp_step_of, verify_totp, TotpSecret, TOTP_DIGITS,
    TOTP_PERIOD_SECONDS, TOTP_WINDOW_STEPS,
};

/// Re-exported so callers name the same secret types this crate takes and returns.
pub use secrecy::{ExposeSecret, SecretString};

#[cfg(test)]
mod tests {
    /// The gateway shares these across tasks behind `Arc`.
    #[test]
    fn shared_types_are_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<super::TokenService>();
        assert_send_sync::<super::TicketGrant>();
        assert_send_sync::<super::PasswordHasher>();
        assert_send_sync::<super::Principal>();
    }
}
