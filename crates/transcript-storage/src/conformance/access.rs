//! Access: per-meeting grants, invitations (bound to an address, single use, expiring, on any
//! handle) and the organisation's policy. Nothing of it crosses organisations.

use scribe_core::{MeetingId, OrgScope, UserId};

use super::sessions::new_user;
use super::{assert_not_found, new_meeting, new_org, Harness};
use crate::error::StoreError;
use crate::model::{NewInvite, OrgPolicy, OrgPolicyChange};
use crate::store::Store;

const NOW: u64 = 1_700_000_000_000;
const HOUR: u64 = 60 * 60 * 1000;

async fn grant(store: &dyn Store, org: &OrgScope, m: MeetingId, u: UserId, p: Option<&str>) {
    store
        .set_meeting_grant(org, m, u, p.map(str::to_owned))
        .await
        .expect("grant");
}

pub async fn grants_give_and_take_meeting_access<H: Harness>(h: &H) {
    let store = h.store();
    let org = new_org(&*store, "grants").await;
    let other = new_org(&*store, "grants-other").await;
    let guest = new_user(&*store, &org, "guest").await;
    let outsider = new_user(&*store, &other, "admin").await;
    let m1 = new_meeting(&*store, &org, "Shared").await;
    let m2 = new_meeting(&*store, &org, "Not shared").await;
    let foreign = new_meeting(&*store, &other, "Foreign").await;

    let (m, g) = store
        .meeting_access(&org, m1.id, guest)
        .await
        .expect("access");
    assert_eq!((m.title.as_str(), g), ("Shared", None));
    grant(&*store, &org, m1.id, guest, Some("read")).await;
    grant(&*store, &org, m1.id, guest, Some("write")).await; // replaces
    let (_, g) = store
        .meeting_access(&org, m1.id, guest)
        .await
        .expect("access");
    assert_eq!(g.as_deref(), Some("write"));
    let grants = store.list_meeting_grants(&org, m1.id).await.expect("list");
    assert_eq!(grants.len(), 1);
    assert_eq!(
        (grants[0].user_id, grants[0].permission.as_str()),
        (guest, "write")
    );
    let shared = store
        .list_granted_meetings(&org, guest)
        .await
        .expect("shared");
    assert_eq!(shared.iter().map(|m| m.id).collect::<Vec<_>>(), vec![m1.id]);
    assert_eq!(shared[0].title, "Shared", "titles are opened");

    // Nothing crosses organisations: another organisation's meeting or user is missing.
    assert_not_found(
        store.meeting_access(&org, foreign.id, guest).await,
        "foreign meeting",
    );
    assert_not_found(
        store
            .set_meeting_grant(&org, m2.id, outsider, Some("read".into()))
            .await,
        "foreign user",
    );
    assert_not_found(
        store
            .set_meeting_grant(&other, m1.id, outsider, Some("read".into()))
            .await,
        "foreign meeting",
    );
    assert!(store
        .list_meeting_grants(&other, m1.id)
        .await
        .expect("list")
        .is_empty());
    assert!(matches!(
        store
            .set_meeting_grant(&org, m2.id, guest, Some("owner".into()))
            .await,
        Err(StoreError::Invalid(_))
    ));

    // Taking a grant back, and a deleted meeting takes its grants with it.
    grant(&*store, &org, m1.id, guest, None).await;
    grant(&*store, &org, m1.id, guest, None).await; // idempotent
    assert_eq!(
        store
            .meeting_access(&org, m1.id, guest)
            .await
            .expect("access")
            .1,
        None
    );
    grant(&*store, &org, m2.id, guest, Some("read")).await;
    store.delete_meeting(&org, m2.id).await.expect("delete");
    assert!(store
        .list_granted_meetings(&org, guest)
        .await
        .expect("shared")
        .is_empty());
}

fn invite(email: &str, role: &str, hash: [u8; 32], expires_at_ms: u64) -> NewInvite {
    NewInvite {
        hash,
        email: email.into(),
        role: role.into(),
        created_by: None,
        expires_at_ms,
        user_id: None,
    }
}

pub async fn invites_are_bound_single_use_and_expire<H: Harness>(h: &H) {
    let store = h.store();
    let second = h.second_handle().await;
    let org = new_org(&*store, "invites").await;
    let other = new_org(&*store, "invites-other").await;
    let email = format!("new.{}@example.org", uuid::Uuid::new_v4().simple());
    let (hash, stale_hash) = ([7u8; 32], [8u8; 32]);
    let made = store
        .create_invite(&org, invite(&email, "editor", hash, NOW + HOUR))
        .await
        .expect("invite");
    assert_eq!((made.role.as_str(), made.org_id), ("editor", org.org_id()));
    store
        .create_invite(&org, invite(&email, "viewer", stale_hash, NOW + 1))
        .await
        .expect("second invite");
    assert_eq!(store.list_invites(&org, NOW).await.expect("list").len(), 2);
    assert_eq!(
        store.list_invites(&org, NOW + 2).await.expect("list").len(),
        1,
        "expired"
    );
    assert!(store
        .list_invites(&other, NOW)
        .await
        .expect("list")
        .is_empty());

    // Found only with its token *and* its address (any case), and only while open.
    let upper = email.to_uppercase();
    let found = store
        .find_invite(&hash, &upper, NOW)
        .await
        .expect("find")
        .expect("open");
    assert_eq!(found.id, made.id);
    assert!(store
        .find_invite(&hash, "someone@example.org", NOW)
        .await
        .expect("find")
        .is_none());
    assert!(store
        .find_invite(&[9u8; 32], &email, NOW)
        .await
        .expect("find")
        .is_none());
    assert!(store
        .find_invite(&hash, &email, NOW + HOUR)
        .await
        .expect("find")
        .is_none());
    assert!(store
        .find_invite(&stale_hash, &email, NOW + 5)
        .await
        .expect("find")
        .is_none());

    // Accepted once, on whichever handle gets there first; the account has the invited role.
    let (a, b) = tokio::join!(
        store.accept_invite(&found, &hash, &email, "$argon2id$a".into(), NOW + 10),
        second.accept_invite(&found, &hash, &email, "$argon2id$b".into(), NOW + 10),
    );
    let (user, loser) = match (a, b) {
        (Ok(u), Err(e)) | (Err(e), Ok(u)) => (u, e),
        other => panic!("exactly one acceptance must win: {other:?}"),
    };
    assert!(
        matches!(loser, StoreError::NotFound | StoreError::Conflict(_)),
        "{loser:?}"
    );
    assert_eq!((user.role.as_str(), user.org_id), ("editor", org.org_id()));
    let login = store
        .find_login_by_email(&email)
        .await
        .expect("login")
        .expect("user");
    assert_eq!(login.user.id, user.id);
    assert!(store
        .find_invite(&hash, &email, NOW + 20)
        .await
        .expect("find")
        .is_none());
    assert_not_found(
        store
            .accept_invite(&found, &hash, &email, "$argon2id$c".into(), NOW + 20)
            .await,
        "a used invitation",
    );

    // An address with an account cannot be invited again; withdrawing works once, in scope.
    assert!(matches!(
        store
            .create_invite(&other, invite(&upper, "viewer", [3u8; 32], NOW + HOUR))
            .await,
        Err(StoreError::Conflict(_))
    ));
    let later = store
        .create_invite(
            &org,
            invite("later@example.org", "viewer", [4u8; 32], NOW + HOUR),
        )
        .await
        .expect("invite");
    assert_not_found(
        store.revoke_invite(&other, later.id).await,
        "foreign invite",
    );
    store.revoke_invite(&org, later.id).await.expect("revoke");
    assert_not_found(
        store.revoke_invite(&org, later.id).await,
        "withdrawn invite",
    );
    assert!(store
        .find_invite(&[4u8; 32], "later@example.org", NOW)
        .await
        .expect("find")
        .is_none());

    // A password reset is the same kind of row, for an existing user: using it sets the
    // password (counters cleared, sessions ended) and it is not listed among invitations.
    let reset = store
        .create_invite(
            &org,
            NewInvite {
                user_id: Some(user.id),
                ..invite(&email, "editor", [5u8; 32], NOW + HOUR)
            },
        )
        .await
        .expect("reset");
    assert_eq!(reset.user_id, Some(user.id));
    assert!(store
        .list_invites(&org, NOW)
        .await
        .expect("list")
        .iter()
        .all(|i| i.id != reset.id));
    let found = store
        .find_invite(&[5u8; 32], &email, NOW)
        .await
        .expect("find")
        .expect("open");
    let again = store
        .accept_invite(
            &found,
            &[5u8; 32],
            &email,
            "$argon2id$reset".into(),
            NOW + 10,
        )
        .await
        .expect("reset");
    assert_eq!(again.id, user.id);
    let login = store
        .find_login_by_email(&email)
        .await
        .expect("login")
        .expect("user");
    assert_eq!(login.password_hash, "$argon2id$reset");
    assert_not_found(
        store
            .accept_invite(&found, &[5u8; 32], &email, "$argon2id$x".into(), NOW + 20)
            .await,
        "a used reset",
    );
}

pub async fn org_policy_round_trips_and_reaches_login<H: Harness>(h: &H) {
    let store = h.store();
    let org = new_org(&*store, "policy").await;
    assert_eq!(
        store.org_policy(&org).await.expect("policy"),
        OrgPolicy::default()
    );
    let set = store
        .set_org_policy(
            &org,
            OrgPolicyChange {
                invite_domains: Some(vec!["example.org".into(), "clinic.example".into()]),
                login_networks: Some(vec!["10.0.0.0/8".into()]),
                ..OrgPolicyChange::default()
            },
        )
        .await
        .expect("set");
    let changed = store
        .set_org_policy(
            &org,
            OrgPolicyChange {
                mfa_required: Some(true),
                ..OrgPolicyChange::default()
            },
        )
        .await
        .expect("set");
    assert_eq!(
        set.invite_domains, changed.invite_domains,
        "untouched parts stay"
    );
    assert!(changed.mfa_required);
    assert_eq!(store.org_policy(&org).await.expect("policy"), changed);
    let user = new_user(&*store, &org, "viewer").await;
    assert!(store.has_users().await.expect("has users"));
    let email = store.get_user(&org, user).await.expect("user").email;
    let login = store
        .find_login_by_email(&email)
        .await
        .expect("login")
        .expect("user");
    assert_eq!(login.org_login_networks, vec!["10.0.0.0/8".to_owned()]);
    assert!(login.org_mfa_required);
    for bad in [
        vec!["a b".to_owned()],
        vec![String::new()],
        vec!["x".repeat(300)],
    ] {
        assert!(matches!(
            store
                .set_org_policy(
                    &org,
                    OrgPolicyChange {
                        login_networks: Some(bad),
                        ..OrgPolicyChange::default()
                    }
                )
                .await,
            Err(StoreError::Invalid(_))
        ));
    }
    assert_eq!(
        store.org_policy(&org).await.expect("policy"),
        changed,
        "nothing half-written"
    );
}

pub async fn integrations_are_sealed_per_organisation<H: Harness>(h: &H) {
    let store = h.store();
    let org = new_org(&*store, "integrations").await;
    let other = new_org(&*store, "integrations-other").await;
    let url = "https://hooks.example.org/T0/B0/secret-token";
    assert_eq!(
        store
            .integration(&org, "alert_webhook")
            .await
            .expect("read"),
        None
    );
    store
        .set_integration(&org, "alert_webhook", Some(url.into()))
        .await
        .expect("set");
    assert_eq!(
        store
            .integration(&org, "alert_webhook")
            .await
            .expect("read")
            .as_deref(),
        Some(url)
    );
    assert_eq!(
        store.integration_names(&org).await.expect("names"),
        vec!["alert_webhook".to_owned()]
    );
    assert_eq!(
        store
            .integration(&other, "alert_webhook")
            .await
            .expect("read"),
        None
    );
    assert!(store
        .integration_names(&other)
        .await
        .expect("names")
        .is_empty());
    // Rotation: re-encryption re-seals it, and it still reads back.
    store.rotate_data_key(&org).await.expect("rotate");
    let report = store.reencrypt(&org).await.expect("reencrypt");
    assert!(report.resealed >= 1, "{report:?}");
    assert_eq!(
        store
            .integration(&org, "alert_webhook")
            .await
            .expect("read")
            .as_deref(),
        Some(url)
    );
    assert!(matches!(
        store
            .set_integration(&org, "Bad Name", Some("x".into()))
            .await,
        Err(StoreError::Invalid(_))
    ));
    store
        .set_integration(&org, "alert_webhook", None)
        .await
        .expect("remove");
    assert_eq!(
        store
            .integration(&org, "alert_webhook")
            .await
            .expect("read"),
        None
    );
}
