//! Organisation roles and per-meeting permissions, with fail-closed parsing.

use std::fmt;
use std::str::FromStr;

/// A user's role in their organisation.
///
/// Two ways to read one from text:
/// - [`Role::from_str`] is strict (unknown → error): for input that *assigns* a role (admin API,
///   CLI), so a typo is reported instead of silently granting something.
/// - [`Role::from_stored`] fails closed (unknown → [`Role::Guest`]): for roles *read back* from
///   storage or a token, so a corrupted or future value can never grant more than read access
///   to meetings explicitly shared with the user (DESIGN.md: unknown roles become read-only).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    /// Everything in the organisation, including users, bots, compliance reports.
    Admin,
    /// Creates and edits meetings and transcripts.
    Editor,
    /// Reads the organisation's meetings.
    Viewer,
    /// Reads only meetings shared with them.
    Guest,
}

/// Access to one meeting, in increasing order: what a role gives on every meeting of its
/// organisation, or an explicit grant on one meeting gives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MeetingPermission {
    /// See the transcript, live and stored.
    Read,
    /// Also change the meeting, upload recordings, edit segments.
    Write,
    /// Also delete it and manage who has access.
    Admin,
}

impl Role {
    /// Every role, most powerful first.
    pub const ALL: [Role; 4] = [Self::Admin, Self::Editor, Self::Viewer, Self::Guest];

    /// The spelling in tokens, storage and the API: `admin`, `editor`, `viewer`, `guest`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::Editor => "editor",
            Self::Viewer => "viewer",
            Self::Guest => "guest",
        }
    }

    /// Parses a stored or token role, failing closed: anything unknown is [`Role::Guest`].
    pub fn from_stored(value: &str) -> Self {
        value.parse().unwrap_or(Self::Guest)
    }

    /// The permission this role has on every meeting of its own organisation, without any
    /// per-meeting grant. Guests have none (only explicit shares).
    pub const fn default_meeting_permission(self) -> Option<MeetingPermission> {
        match self {
            Self::Admin => Some(MeetingPermission::Admin),
            Self::Editor => Some(MeetingPermission::Write),
            Self::Viewer => Some(MeetingPermission::Read),
            Self::Guest => None,
        }
    }

    /// Whether this role administers the organisation (users, bots, roles, compliance).
    pub const fn is_admin(self) -> bool {
        matches!(self, Self::Admin)
    }
}

impl MeetingPermission {
    /// Every permission, weakest first.
    pub const ALL: [MeetingPermission; 3] = [Self::Read, Self::Write, Self::Admin];

    /// The spelling in storage and the API: `read`, `write`, `admin`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Write => "write",
            Self::Admin => "admin",
        }
    }

    /// Strict parsing of the canonical spelling (for input that assigns a permission).
    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == value)
    }

    /// What a user holds on one meeting of their organisation: the more of what their role
    /// gives on every meeting and their explicit grant on this one. A stored grant that does
    /// not parse counts as none (fail closed); `None` means no access at all.
    pub fn effective(role: Role, grant: Option<&str>) -> Option<Self> {
        let granted = grant.and_then(Self::parse);
        role.default_meeting_permission().max(granted)
    }
}

impl fmt::Display for MeetingPermission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error of strict role parsing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UnknownRole;

impl fmt::Display for UnknownRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("unknown role (expected admin, editor, viewer or guest)")
    }
}

impl std::error::Error for UnknownRole {}

impl FromStr for Role {
    type Err = UnknownRole;

    /// Strict, case-sensitive parsing of the canonical spelling.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or(UnknownRole)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strict_parsing_round_trips_and_rejects_unknown() {
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>(), Ok(role));
        }
        assert_eq!("Admin".parse::<Role>(), Err(UnknownRole));
        assert_eq!("superuser".parse::<Role>(), Err(UnknownRole));
    }

    #[test]
    fn stored_roles_fail_closed_to_guest() {
        assert_eq!(Role::from_stored("editor"), Role::Editor);
        for bad in ["", "ADMIN", "admin ", "owner", "root", "admin\0"] {
            assert_eq!(Role::from_stored(bad), Role::Guest, "{bad:?}");
        }
        assert_eq!(Role::Guest.default_meeting_permission(), None);
        assert!(!Role::from_stored("superadmin").is_admin());
    }

    #[test]
    fn effective_permission_is_the_more_of_role_and_grant() {
        use MeetingPermission::{Admin, Read, Write};
        assert_eq!(MeetingPermission::effective(Role::Guest, None), None);
        assert_eq!(
            MeetingPermission::effective(Role::Guest, Some("read")),
            Some(Read)
        );
        assert_eq!(
            MeetingPermission::effective(Role::Viewer, Some("write")),
            Some(Write)
        );
        assert_eq!(
            MeetingPermission::effective(Role::Editor, Some("read")),
            Some(Write)
        );
        assert_eq!(
            MeetingPermission::effective(Role::Editor, Some("admin")),
            Some(Admin)
        );
        assert_eq!(MeetingPermission::effective(Role::Admin, None), Some(Admin));
        // A grant that does not parse gives nothing.
        for bad in ["", "Admin", "owner", "write "] {
            assert_eq!(
                MeetingPermission::effective(Role::Guest, Some(bad)),
                None,
                "{bad:?}"
            );
        }
        for p in MeetingPermission::ALL {
            assert_eq!(MeetingPermission::parse(p.as_str()), Some(p));
        }
    }

    #[test]
    fn default_permissions_follow_the_role_order() {
        assert_eq!(
            Role::Admin.default_meeting_permission(),
            Some(MeetingPermission::Admin)
        );
        assert_eq!(
            Role::Editor.default_meeting_permission(),
            Some(MeetingPermission::Write)
        );
        assert_eq!(
            Role::Viewer.default_meeting_permission(),
            Some(MeetingPermission::Read)
        );
        assert!(MeetingPermission::Read < MeetingPermission::Write);
    }
}
