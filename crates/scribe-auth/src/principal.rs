//! Who a request acts as, once a credential has been verified.
//!
//! A [`Principal`] cannot be built from request data: its constructors are private to this crate
//! and reached only through a verified access token ([`crate::TokenService::verify_access`]), a
//! verified bot key ([`crate::VerifiedBot::into_principal`]) or a redeemed WebSocket ticket. The
//! gateway attaches it to the request and derives the storage scope from it
//! ([`Principal::scope`]), so an organisation scope always comes from a credential.

use scribe_core::{BotId, OrgId, OrgScope, UserId};

use crate::role::Role;

/// An authenticated caller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Principal {
    /// A person, signed in with an access token (or a ticket obtained with one).
    User(UserPrincipal),
    /// A meeting bot, authenticated with its derived key.
    Bot(BotPrincipal),
}

/// A signed-in user. Ids and role are not secrets; `Debug` shows them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserPrincipal {
    user_id: UserId,
    org_id: OrgId,
    role: Role,
}

/// An authenticated bot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BotPrincipal {
    bot_id: BotId,
    org_id: OrgId,
}

impl UserPrincipal {
    pub(crate) fn new(user_id: UserId, org_id: OrgId, role: Role) -> Self {
        Self {
            user_id,
            org_id,
            role,
        }
    }

    /// The user.
    pub fn user_id(&self) -> UserId {
        self.user_id
    }

    /// The user's organisation.
    pub fn org_id(&self) -> OrgId {
        self.org_id
    }

    /// The role from the token (fail-closed parsed).
    pub fn role(&self) -> Role {
        self.role
    }
}

impl BotPrincipal {
    pub(crate) fn new(bot_id: BotId, org_id: OrgId) -> Self {
        Self { bot_id, org_id }
    }

    /// The bot.
    pub fn bot_id(&self) -> BotId {
        self.bot_id
    }

    /// The organisation the bot is registered to.
    pub fn org_id(&self) -> OrgId {
        self.org_id
    }
}

impl Principal {
    /// The organisation the caller acts for.
    pub fn org_id(&self) -> OrgId {
        match self {
            Self::User(u) => u.org_id,
            Self::Bot(b) => b.org_id,
        }
    }

    /// The storage scope of the caller's organisation: the way handlers obtain an [`OrgScope`].
    pub fn scope(&self) -> OrgScope {
        OrgScope::for_org(self.org_id())
    }

    /// The user id, for a user.
    pub fn user_id(&self) -> Option<UserId> {
        match self {
            Self::User(u) => Some(u.user_id),
            Self::Bot(_) => None,
        }
    }

    /// The bot id, for a bot.
    pub fn bot_id(&self) -> Option<BotId> {
        match self {
            Self::Bot(b) => Some(b.bot_id),
            Self::User(_) => None,
        }
    }

    /// The user's role; bots have none (their rights are "stream audio into meetings of their
    /// organisation", checked by the ingest endpoint).
    pub fn role(&self) -> Option<Role> {
        match self {
            Self::User(u) => Some(u.role),
            Self::Bot(_) => None,
        }
    }
}
