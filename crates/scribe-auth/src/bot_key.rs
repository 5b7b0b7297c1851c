//! Bot API keys, derived rather than stored (PROTOCOL.md §1):
//! `api_key = hex(HMAC-SHA256(bot_key_secret, bot_id))`.
//!
//! The HMAC key is the UTF-8 bytes of `bot_key_secret` exactly as configured; the message is the
//! bot id in its canonical form (lower-case hyphenated UUID, as `bots create` prints it). Rotating
//! `bot_key_secret` therefore revokes every bot key at once; single bots are revoked by the
//! gateway's per-bot revocation list (issue 5).

use hmac::{Hmac, Mac};
use scribe_core::{BotId, OrgId};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;

use crate::error::AuthError;
use crate::principal::{BotPrincipal, Principal};

type HmacSha256 = Hmac<Sha256>;

/// Length of a bot key in hex characters (32 bytes).
pub const BOT_KEY_HEX_LEN: usize = 64;

/// The API key of `bot_id`: lower-case hex of HMAC-SHA256 keyed with `bot_key_secret`. Show it
/// to the operator once (`POST /bots`, `bots create`); never store or log it.
pub fn derive_bot_key(bot_key_secret: &SecretString, bot_id: BotId) -> SecretString {
    let tag = mac(bot_key_secret, bot_id).finalize().into_bytes();
    SecretString::from(hex::encode(tag))
}

/// Checks a presented key in constant time (the comparison of the MAC is `hmac`'s
/// `verify_slice`, built on `subtle`). Hex of either case is accepted; anything that is not 64 hex
/// characters is refused before any comparison (its length is not secret).
///
/// On success the returned [`VerifiedBot`] still needs the bot's organisation from storage
/// (and a revocation check) before it becomes a [`Principal`].
pub fn verify_bot_key(
    bot_key_secret: &SecretString,
    bot_id: BotId,
    presented: &str,
) -> Result<VerifiedBot, AuthError> {
    if presented.len() != BOT_KEY_HEX_LEN {
        return Err(AuthError::InvalidBotKey);
    }
    let mut tag = [0u8; BOT_KEY_HEX_LEN / 2];
    hex::decode_to_slice(presented, &mut tag).map_err(|_| AuthError::InvalidBotKey)?;
    mac(bot_key_secret, bot_id)
        .verify_slice(&tag)
        .map_err(|_| AuthError::InvalidBotKey)?;
    Ok(VerifiedBot { bot_id })
}

fn mac(bot_key_secret: &SecretString, bot_id: BotId) -> HmacSha256 {
    // HMAC accepts keys of any length (RFC 2104 §2), so this cannot fail.
    let mut mac = <HmacSha256 as Mac>::new_from_slice(bot_key_secret.expose_secret().as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(bot_id.to_string().as_bytes());
    mac
}

/// Proof that a bot presented the right key for `bot_id`. The gateway looks up the bot (its
/// organisation, whether it is revoked) and then turns this into a [`Principal`].
#[derive(Debug, PartialEq, Eq)]
pub struct VerifiedBot {
    bot_id: BotId,
}

impl VerifiedBot {
    /// The bot whose key matched.
    pub fn bot_id(&self) -> BotId {
        self.bot_id
    }

    /// The principal of this bot, registered to `org_id` (from storage, not from the request).
    pub fn into_principal(self, org_id: OrgId) -> Principal {
        Principal::Bot(BotPrincipal::new(self.bot_id, org_id))
    }
}

#[cfg(test)]
mod tests;
