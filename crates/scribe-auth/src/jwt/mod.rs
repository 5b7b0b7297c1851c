//! Access tokens: HS256 JWTs (RFC 7519) with the algorithm fixed by the verifier (RFC 8725
//! §3.1), explicit `typ` per token kind (RFC 8725 §3.11), and every registered claim checked.

mod claims;
mod keys;
mod provider;
mod service;

pub use claims::{TokenClaims, TokenType};
pub use keys::JwtKeys;
pub use service::{IssuedToken, TokenConfig, TokenService, VerifiedAccess, MAX_TOKEN_BYTES};

#[cfg(test)]
mod tests;
