//! Sign-in state: lockout counters, sessions with rotated refresh tokens (reuse ends the
//! session, on any handle), the denylist, disabling a user, and the second factor (a TOTP step
//! or a backup code is spent once, anywhere). Nothing of it is visible across organisations.

use scribe_core::{OrgScope, SessionId, UserId};

use super::{assert_not_found, new_org, Harness};
use crate::error::StoreError;
use crate::model::{
    AccessState, LoginCounters, NewSession, NewUser, Revocation, Rotation, RotationOutcome,
    UserChange,
};
use crate::store::Store;

const NOW: u64 = 1_700_000_000_000;
const DAY: u64 = 24 * 60 * 60 * 1000;

fn hash() -> [u8; 32] {
    let mut h = [0u8; 32];
    h[..16].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
    h[16..].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
    h
}

pub(super) async fn new_user(store: &dyn Store, org: &OrgScope, role: &str) -> UserId {
    store
        .create_user(
            org,
            NewUser {
                email: format!("{role}-{}@example.org", uuid::Uuid::new_v4().simple()),
                password_hash: "$argon2id$v=19$x".into(),
                role: role.into(),
            },
        )
        .await
        .expect("user")
        .id
}

async fn start(store: &dyn Store, org: &OrgScope, user: UserId) -> (SessionId, [u8; 32]) {
    let (id, first) = (SessionId::generate(), hash());
    store
        .create_session(
            org,
            NewSession {
                id,
                user_id: user,
                refresh_hash: first,
                now_ms: NOW,
                expires_at_ms: NOW + 30 * DAY,
            },
        )
        .await
        .expect("session");
    (id, first)
}

fn rotation(session: SessionId, presented: [u8; 32], next: [u8; 32]) -> Rotation {
    Rotation {
        session_id: session,
        presented,
        next,
        now_ms: NOW + 1000,
    }
}

pub async fn sessions_rotate_detect_reuse_and_end<H: Harness>(h: &H) {
    let store = h.store();
    let other = h.second_handle().await;
    let org = new_org(&*store, "sessions").await;
    let user = new_user(&*store, &org, "editor").await;
    let access = hash();
    let (session, first) = start(&*store, &org, user).await;
    assert_eq!(
        store
            .access_state(&org, user, session, &access, NOW)
            .await
            .expect("state"),
        AccessState::Active {
            role: "editor".into()
        }
    );

    // Rotation on another handle; the spent token then counts as reuse and ends the session.
    let second = hash();
    let outcome = other
        .rotate_session(&org, rotation(session, first, second))
        .await
        .expect("rotate");
    assert_eq!(
        outcome,
        RotationOutcome::Rotated {
            user_id: user,
            role: "editor".into()
        }
    );
    let third = hash();
    assert_eq!(
        store
            .rotate_session(&org, rotation(session, second, third))
            .await
            .expect("rotate again"),
        RotationOutcome::Rotated {
            user_id: user,
            role: "editor".into()
        }
    );
    assert_eq!(
        store
            .rotate_session(&org, rotation(session, first, hash()))
            .await
            .expect("reuse"),
        RotationOutcome::Reused
    );
    // The current token of the family no longer works either, nor do its access tokens.
    assert_eq!(
        other
            .rotate_session(&org, rotation(session, third, hash()))
            .await
            .expect("after reuse"),
        RotationOutcome::Refused
    );
    assert_eq!(
        store
            .access_state(&org, user, session, &access, NOW)
            .await
            .expect("state"),
        AccessState::Ended("session ended")
    );

    // Unknown tokens, another session's id, another organisation: refused alike.
    let (s2, t2) = start(&*store, &org, user).await;
    assert_eq!(
        store
            .rotate_session(&org, rotation(s2, hash(), hash()))
            .await
            .expect("unknown"),
        RotationOutcome::Refused
    );
    assert_eq!(
        store
            .rotate_session(&org, rotation(session, t2, hash()))
            .await
            .expect("wrong session"),
        RotationOutcome::Refused
    );
    let stranger = new_org(&*store, "stranger").await;
    assert_eq!(
        store
            .rotate_session(&stranger, rotation(s2, t2, hash()))
            .await
            .expect("foreign"),
        RotationOutcome::Refused
    );
    assert_eq!(
        store
            .access_state(&stranger, user, s2, &access, NOW)
            .await
            .expect("foreign state"),
        AccessState::Ended("unknown user")
    );
    assert_eq!(
        store
            .revoke_sessions(&stranger, Revocation::User(user), NOW)
            .await
            .expect("foreign revoke"),
        0
    );

    // Expiry.
    assert_eq!(
        store
            .access_state(&org, user, s2, &access, NOW + 31 * DAY)
            .await
            .expect("expired"),
        AccessState::Ended("session expired")
    );
    let late = Rotation {
        now_ms: NOW + 31 * DAY,
        ..rotation(s2, t2, hash())
    };
    assert_eq!(
        store.rotate_session(&org, late).await.expect("late"),
        RotationOutcome::Refused
    );

    // Logout of one session leaves the others; the denylist ends one token.
    let (s3, _) = start(&*store, &org, user).await;
    assert_eq!(
        store
            .revoke_sessions(&org, Revocation::Session(s2), NOW)
            .await
            .expect("logout"),
        1
    );
    assert_eq!(
        store
            .access_state(&org, user, s3, &access, NOW)
            .await
            .expect("s3"),
        AccessState::Active {
            role: "editor".into()
        }
    );
    store
        .deny_token(&org, &access, NOW + 3_600_000, NOW)
        .await
        .expect("deny");
    store
        .deny_token(&org, &access, NOW + 3_600_000, NOW)
        .await
        .expect("deny twice is fine");
    assert_eq!(
        other
            .access_state(&org, user, s3, &access, NOW)
            .await
            .expect("denied"),
        AccessState::Ended("token revoked")
    );
    assert_eq!(
        other
            .access_state(&org, user, s3, &hash(), NOW)
            .await
            .expect("other token"),
        AccessState::Active {
            role: "editor".into()
        }
    );
}

pub async fn disabling_a_user_ends_every_session<H: Harness>(h: &H) {
    let store = h.store();
    let org = new_org(&*store, "disable").await;
    let user = new_user(&*store, &org, "viewer").await;
    let (s1, t1) = start(&*store, &org, user).await;
    let (s2, _) = start(&*store, &org, user).await;
    let changed = store
        .change_user(
            &org,
            user,
            UserChange {
                role: Some("editor".into()),
                ..UserChange::default()
            },
            NOW,
        )
        .await
        .expect("role");
    assert_eq!(changed.role, "editor");
    // A role change shows at once in the access check and at the next refresh.
    assert_eq!(
        store
            .access_state(&org, user, s1, &hash(), NOW)
            .await
            .expect("state"),
        AccessState::Active {
            role: "editor".into()
        }
    );
    store
        .change_user(
            &org,
            user,
            UserChange {
                disabled: Some(true),
                ..UserChange::default()
            },
            NOW,
        )
        .await
        .expect("disable");
    for s in [s1, s2] {
        assert_eq!(
            store
                .access_state(&org, user, s, &hash(), NOW)
                .await
                .expect("state"),
            AccessState::Ended("user disabled")
        );
    }
    assert_eq!(
        store
            .rotate_session(&org, rotation(s1, t1, hash()))
            .await
            .expect("refresh"),
        RotationOutcome::Refused
    );
    let login = store
        .find_login_by_email(&store.get_user(&org, user).await.expect("user").email)
        .await
        .expect("login")
        .expect("found");
    assert!(login.disabled);
    let refused = store
        .create_session(
            &org,
            NewSession {
                id: SessionId::generate(),
                user_id: user,
                refresh_hash: hash(),
                now_ms: NOW,
                expires_at_ms: NOW + DAY,
            },
        )
        .await;
    assert_not_found(refused, "a session for a disabled user");
    // Re-enabled: old sessions stay ended, a new login works.
    store
        .change_user(
            &org,
            user,
            UserChange {
                disabled: Some(false),
                ..UserChange::default()
            },
            NOW,
        )
        .await
        .expect("enable");
    assert_eq!(
        store
            .access_state(&org, user, s2, &hash(), NOW)
            .await
            .expect("state"),
        AccessState::Ended("session ended")
    );
    let (s3, _) = start(&*store, &org, user).await;

    // A new password ends every session and clears the lockout counters.
    let locked = LoginCounters {
        failures: 3,
        lockouts: 1,
        locked_until_ms: Some(NOW + DAY),
    };
    store
        .set_login_counters(&org, user, locked)
        .await
        .expect("counters");
    store
        .change_user(
            &org,
            user,
            UserChange {
                password_hash: Some("$argon2id$v=19$new".into()),
                ..UserChange::default()
            },
            NOW,
        )
        .await
        .expect("password");
    assert_eq!(
        store
            .access_state(&org, user, s3, &hash(), NOW)
            .await
            .expect("state"),
        AccessState::Ended("session ended")
    );
    let email = store.get_user(&org, user).await.expect("user").email;
    let login = store
        .find_login_by_email(&email)
        .await
        .expect("login")
        .expect("user");
    assert_eq!(login.password_hash, "$argon2id$v=19$new");
    assert_eq!(login.counters, LoginCounters::default());

    let stranger = new_org(&*store, "stranger").await;
    assert_not_found(
        store
            .change_user(&stranger, user, UserChange::default(), NOW)
            .await,
        "changing another organisation's user",
    );
    assert!(store.list_users(&stranger).await.expect("list").is_empty());
    assert_eq!(store.list_users(&org).await.expect("list").len(), 1);
}

pub async fn lockout_counters_and_second_factor<H: Harness>(h: &H) {
    let store = h.store();
    let other = h.second_handle().await;
    let org = new_org(&*store, "mfa").await;
    let user = new_user(&*store, &org, "admin").await;
    let email = store.get_user(&org, user).await.expect("user").email;
    let counters = LoginCounters {
        failures: 3,
        lockouts: 2,
        locked_until_ms: Some(NOW + 60_000),
    };
    store
        .set_login_counters(&org, user, counters)
        .await
        .expect("counters");
    let login = other
        .find_login_by_email(&email)
        .await
        .expect("login")
        .expect("found");
    assert_eq!(login.counters, counters);
    assert!(!login.mfa_enabled && !login.org_mfa_required && !login.disabled);

    // Enrolment: pending until confirmed; the secret is sealed at rest and reads back.
    let state = store.mfa_state(&org, user).await.expect("state");
    assert_eq!((state.secret.as_deref(), state.enabled), (None, false));
    let err = store.enable_mfa(&org, user, 5, vec![]).await;
    assert!(matches!(err, Err(StoreError::Conflict(_))), "{err:?}");
    store
        .set_mfa_secret(&org, user, Some("JBSWY3DPEHPK3PXP".into()))
        .await
        .expect("secret");
    let codes = [hash(), hash()];
    store
        .enable_mfa(&org, user, 100, codes.to_vec())
        .await
        .expect("enable");
    let state = other.mfa_state(&org, user).await.expect("state");
    assert_eq!(state.secret.as_deref(), Some("JBSWY3DPEHPK3PXP"));
    assert!(state.enabled);
    assert_eq!(state.last_step, Some(100));
    assert!(
        other
            .find_login_by_email(&email)
            .await
            .expect("login")
            .expect("found")
            .mfa_enabled
    );

    // A step is spent once, on any handle; earlier steps never again.
    assert!(!store.claim_totp_step(&org, user, 100).await.expect("same"));
    assert!(store.claim_totp_step(&org, user, 101).await.expect("next"));
    assert!(!other
        .claim_totp_step(&org, user, 101)
        .await
        .expect("replay"));
    assert!(!other.claim_totp_step(&org, user, 99).await.expect("older"));

    // Backup codes: each once.
    assert!(store
        .use_backup_code(&org, user, &codes[0], NOW)
        .await
        .expect("code"));
    assert!(!other
        .use_backup_code(&org, user, &codes[0], NOW)
        .await
        .expect("again"));
    assert!(!store
        .use_backup_code(&org, user, &hash(), NOW)
        .await
        .expect("unknown"));

    // Another organisation sees none of it.
    let stranger = new_org(&*store, "stranger").await;
    assert_not_found(store.mfa_state(&stranger, user).await, "foreign MFA state");
    assert!(!store
        .use_backup_code(&stranger, user, &codes[1], NOW)
        .await
        .expect("foreign code"));
    assert!(!store
        .claim_totp_step(&stranger, user, 500)
        .await
        .expect("foreign step"));
    assert_not_found(
        store
            .set_login_counters(&stranger, user, LoginCounters::default())
            .await,
        "foreign counters",
    );

    // Re-enrolling (or removing) turns MFA off and drops the old codes.
    store
        .set_mfa_secret(&org, user, None)
        .await
        .expect("remove");
    assert!(!store
        .use_backup_code(&org, user, &codes[1], NOW)
        .await
        .expect("dropped"));
    assert_eq!(
        store.mfa_state(&org, user).await.expect("state"),
        crate::model::MfaState::default()
    );

    // Organisation-wide requirement.
    store
        .set_org_policy(
            &org,
            crate::model::OrgPolicyChange {
                mfa_required: Some(true),
                ..Default::default()
            },
        )
        .await
        .expect("require");
    assert!(
        other
            .find_login_by_email(&email)
            .await
            .expect("login")
            .expect("found")
            .org_mfa_required
    );
}
