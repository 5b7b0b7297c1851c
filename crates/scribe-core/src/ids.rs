//! Typed identifiers (UUIDs) of the things NexusScribe stores, and the organisation scope every
//! organisation-owned query takes.
//!
//! Each id is its own type, so a `BotId` cannot be passed where a `MeetingId` is expected. On
//! the wire and in storage they are hyphenated lower-case UUID strings. Ids are not secrets:
//! their `Debug` shows the UUID.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// A new random (v4) id.
            pub fn generate() -> Self {
                Self(Uuid::new_v4())
            }

            /// Wraps an existing UUID (read from storage or parsed elsewhere).
            pub const fn from_uuid(uuid: Uuid) -> Self {
                Self(uuid)
            }

            /// The UUID inside.
            pub const fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0.hyphenated(), f)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "({})"), self.0.hyphenated())
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }
    };
}

id_type!(
    /// An organisation (tenant). Everything else belongs to exactly one.
    OrgId
);
id_type!(
    /// A user account.
    UserId
);
id_type!(
    /// A registered meeting bot.
    BotId
);
id_type!(
    /// A meeting: one transcript, fed by one or more streams.
    MeetingId
);
id_type!(
    /// One audio stream (one bot connection, resumable) into a meeting.
    StreamId
);
id_type!(
    /// One transcript segment; a partial and the final that replaces it share it.
    SegmentId
);
id_type!(
    /// A background job (transcribing an uploaded recording into a meeting).
    JobId
);
id_type!(
    /// A sign-in session: one login and the chain of refresh tokens rotated from it.
    SessionId
);
id_type!(
    /// An invitation to join an organisation.
    InviteId
);

/// The organisation a request acts for. Every query on organisation-owned data takes one, so a
/// query without a scope does not compile.
///
/// There is deliberately no `Default`, `From`, `FromStr` or `Deserialize`: a scope cannot be
/// conjured out of a request body or path. Build it with [`OrgScope::for_org`] from the
/// organisation of an *authenticated* principal (a verified access token, a bot whose key was
/// checked, or a local operator naming an organisation on the command line).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct OrgScope {
    org: OrgId,
}

impl OrgScope {
    /// The scope of `org`. Call this only where `org` comes from an authenticated principal:
    /// auth code after verifying a credential, or a set-up command run by the operator.
    pub const fn for_org(org: OrgId) -> Self {
        Self { org }
    }

    /// The organisation this scope covers.
    pub const fn org_id(&self) -> OrgId {
        self.org
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_as_strings() {
        let id = MeetingId::generate();
        let text = id.to_string();
        assert_eq!(text.len(), 36);
        assert_eq!(text.parse::<MeetingId>().ok(), Some(id));
        let json = serde_json::to_string(&id).unwrap_or_default();
        assert_eq!(json, format!("\"{text}\""));
        assert!("not-a-uuid".parse::<MeetingId>().is_err());
    }

    #[test]
    fn scope_reports_its_org() {
        let org = OrgId::generate();
        assert_eq!(OrgScope::for_org(org).org_id(), org);
    }
}
