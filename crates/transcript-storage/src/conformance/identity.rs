//! Organisations, users and bots.

use scribe_core::{BotId, OrgId, OrgScope, UserId};

use super::{assert_not_found, new_org, Harness};
use crate::error::StoreError;
use crate::model::NewUser;

pub async fn organisations_create_get_find<H: Harness>(h: &H) {
    let store = h.store();
    let name = format!("Acme Clinic {}", uuid::Uuid::new_v4());
    let org = store
        .create_organisation(&name)
        .await
        .expect("create organisation");
    assert_eq!(org.name, name);

    let got = store.get_organisation(org.id).await.expect("get by id");
    assert_eq!(got, org);

    let by_name = store
        .find_organisation_by_name(&name.to_uppercase())
        .await
        .expect("find by name");
    assert_eq!(
        by_name.map(|o| o.id),
        Some(org.id),
        "names compare without case"
    );

    let again = store.create_organisation(&name.to_lowercase()).await;
    assert!(
        matches!(again, Err(StoreError::Conflict(_))),
        "a second organisation with the same name must conflict"
    );
    assert!(matches!(
        store.create_organisation("   ").await,
        Err(StoreError::Invalid(_))
    ));

    assert_not_found(
        store.get_organisation(OrgId::generate()).await,
        "unknown organisation",
    );
    let missing = store
        .find_organisation_by_name("no such organisation")
        .await
        .expect("find");
    assert!(missing.is_none());
}

pub async fn users_create_and_login<H: Harness>(h: &H) {
    let store = h.store();
    let org_a = new_org(&*store, "users a").await;
    let org_b = new_org(&*store, "users b").await;
    let local = uuid::Uuid::new_v4().simple().to_string();
    let email = format!("Ada.{local}@Example.org");

    let user = store
        .create_user(
            &org_a,
            NewUser {
                email: email.clone(),
                password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
                role: "admin".into(),
            },
        )
        .await
        .expect("create user");
    assert_eq!(user.org_id, org_a.org_id());
    assert_eq!(user.email, email);
    assert_eq!(user.role, "admin");

    // Login looks up across organisations, ignoring case and surrounding blanks.
    let login = store
        .find_login_by_email(&format!("  {}  ", email.to_lowercase()))
        .await
        .expect("lookup")
        .expect("user found by email");
    assert_eq!(login.user, user);
    assert_eq!(login.user.org_id, org_a.org_id());
    assert_eq!(
        login.password_hash,
        "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA"
    );

    let got = store.get_user(&org_a, user.id).await.expect("get user");
    assert_eq!(got, user);
    assert_not_found(store.get_user(&org_b, user.id).await, "user of another org");
    assert_not_found(
        store.get_user(&org_a, UserId::generate()).await,
        "unknown user",
    );

    // The email is the global login name: taken in any organisation means taken.
    let dup = store
        .create_user(
            &org_b,
            NewUser {
                email: email.to_uppercase(),
                password_hash: "$argon2id$other".into(),
                role: "member".into(),
            },
        )
        .await;
    match dup {
        Err(StoreError::Conflict(rule)) => {
            assert!(
                !rule.contains(&local),
                "the error must not echo the address"
            )
        }
        other => panic!("expected Conflict, got {:?}", other.map(|u| u.id)),
    }

    let nobody = store
        .find_login_by_email("nobody-here@example.org")
        .await
        .expect("lookup");
    assert!(nobody.is_none());

    let ghost = OrgScope::for_org(OrgId::generate());
    assert_not_found(
        store
            .create_user(
                &ghost,
                NewUser {
                    email: format!("ghost.{local}@example.org"),
                    password_hash: "$argon2id$x".into(),
                    role: "member".into(),
                },
            )
            .await,
        "user in an organisation that does not exist",
    );
}

pub async fn bots_create_and_revoke<H: Harness>(h: &H) {
    let store = h.store();
    let org = new_org(&*store, "bots").await;
    let bot = store
        .create_bot(&org, "zoom bot")
        .await
        .expect("create bot");
    assert_eq!(bot.org_id, org.org_id());
    assert_eq!(bot.name, "zoom bot");
    assert!(!bot.is_revoked());

    assert_eq!(store.get_bot(&org, bot.id).await.expect("get bot"), bot);
    assert!(!store.is_bot_revoked(&org, bot.id).await.expect("state"));
    let principal = store
        .find_bot_for_auth(bot.id)
        .await
        .expect("auth lookup")
        .expect("bot found");
    assert_eq!(principal.org_id, org.org_id());
    assert!(!principal.is_revoked());

    store.revoke_bot(&org, bot.id).await.expect("revoke");
    assert!(store.is_bot_revoked(&org, bot.id).await.expect("state"));
    let first = store
        .get_bot(&org, bot.id)
        .await
        .expect("get")
        .revoked_at_ms;
    assert!(first.is_some());

    // Revoking again is fine and keeps the first time.
    store.revoke_bot(&org, bot.id).await.expect("revoke again");
    let second = store
        .get_bot(&org, bot.id)
        .await
        .expect("get")
        .revoked_at_ms;
    assert_eq!(first, second);
    let principal = store
        .find_bot_for_auth(bot.id)
        .await
        .expect("auth lookup")
        .expect("bot found");
    assert!(principal.is_revoked(), "auth sees the revocation");

    // A second bot of the same organisation is unaffected.
    let other = store.create_bot(&org, "teams bot").await.expect("create");
    assert!(!store.is_bot_revoked(&org, other.id).await.expect("state"));

    let unknown = BotId::generate();
    assert_not_found(store.get_bot(&org, unknown).await, "unknown bot");
    assert_not_found(
        store.is_bot_revoked(&org, unknown).await,
        "unknown bot state",
    );
    assert_not_found(store.revoke_bot(&org, unknown).await, "revoke unknown bot");
    assert!(store
        .find_bot_for_auth(unknown)
        .await
        .expect("lookup")
        .is_none());
}
