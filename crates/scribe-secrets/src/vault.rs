//! HashiCorp Vault as a secret source (vaultrs over rustls).
//!
//! The service's secrets live in one KV v2 secret (`<mount>/data/<path>`), one key per secret
//! name (`jwt_secret`, `bot_key_secret`, `master_key`, optionally `database_password`).
//!
//! ```text
//! VaultSource::connect ── login (token file | AppRole | Kubernetes) ── read KV v2 ──▶ cache
//!        │                                                                           │
//!        └─ spawn_refresh: renew the token at 2/3 of its lease (log in again when renewal
//!           fails or no longer extends it), re-read every cache TTL; a new version is
//!           announced on `subscribe()`. Vault down or sealed: keep the cache, report not ready.
//! ```
//!
//! Versions are what make rotation safe. A superseded `jwt_secret` stays in
//! [`SecretSource::previous`] until the longest-lived token signed with it has expired
//! ([`VaultSettings::jwt_grace`], counted from when the newer version was written), so tokens
//! issued before a rotation keep verifying; every live (not deleted, not destroyed) earlier
//! `master_key` stays, so data sealed under it stays readable until `keys rewrap` has run and
//! the operator destroys the old version. `bot_key_secret` keeps no previous value: rotating it
//! revokes every bot key at once (PROTOCOL.md §1).

mod kv;
mod session;
mod settings;
mod source;

pub use session::VaultProblem;
pub use settings::{VaultAuth, VaultSettings};
pub use source::{VaultSource, VaultStatus};

#[cfg(test)]
mod tests;
