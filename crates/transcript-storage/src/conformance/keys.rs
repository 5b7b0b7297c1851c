//! Encryption at rest as every backend must show it through the trait: data-key rotation,
//! re-encryption and re-wrapping keep everything readable.

use super::{assert_not_found, final_for, new_meeting, new_org, new_stream, readable, Harness};
use crate::sealing::ReencryptReport;
use scribe_core::OrgScope;

/// Rotating adds a version that takes new writes; old values stay readable; re-encrypting
/// moves everything to the newest key exactly once; re-wrapping with the same master key
/// changes nothing; another organisation's keys are out of reach.
pub async fn data_keys_rotate_and_reencrypt<H: Harness>(h: &H) {
    let store = h.store();
    let org = new_org(&*store, "keys").await;
    let meeting = new_meeting(&*store, &org, "Rotation review").await;
    let stream = new_stream(&*store, &org, meeting.id).await;
    for (i, text) in ["before rotation", "still before"].iter().enumerate() {
        store
            .append_final(
                &org,
                final_for(meeting.id, stream.id, text, i as u64 * 1000),
            )
            .await
            .expect("append");
    }
    assert_eq!(store.rotate_data_key(&org).await.expect("rotate"), 2);
    store
        .append_final(
            &org,
            final_for(meeting.id, stream.id, "after rotation", 5000),
        )
        .await
        .expect("append with the new key");
    let texts = |finals: Vec<crate::model::StoredFinal>| {
        finals
            .into_iter()
            .map(|f| f.segment.text)
            .collect::<Vec<_>>()
    };
    let before = texts(readable(
        store.list_finals(&org, meeting.id).await.expect("list"),
    ));
    assert_eq!(
        before,
        ["before rotation", "still before", "after rotation"]
    );

    // Title and two finals' text and words were under version 1.
    let report = store.reencrypt(&org).await.expect("reencrypt");
    assert_eq!(
        report,
        ReencryptReport {
            resealed: 5,
            unreadable: 0
        }
    );
    assert_eq!(
        store.reencrypt(&org).await.expect("again"),
        ReencryptReport::default()
    );
    let after = texts(readable(
        store.list_finals(&org, meeting.id).await.expect("list"),
    ));
    assert_eq!(after, before);
    assert_eq!(
        store
            .get_meeting(&org, meeting.id)
            .await
            .expect("meeting")
            .title,
        "Rotation review"
    );
    assert_eq!(store.rewrap_data_keys().await.expect("rewrap"), 0);

    let unknown = OrgScope::for_org(scribe_core::OrgId::generate());
    assert_not_found(
        store.rotate_data_key(&unknown).await,
        "unknown organisation",
    );
    // Another organisation's rotation does not touch this one.
    let other = new_org(&*store, "keys other").await;
    assert_eq!(store.rotate_data_key(&other).await.expect("rotate"), 2);
    assert_eq!(store.rotate_data_key(&org).await.expect("rotate"), 3);
}

/// Words that must never appear in the database's files or tables.
pub const SECRET_WORDS: [&str; 5] = [
    "zygomatic",
    "quixotic",
    "xylophone",
    "Jane Roe",
    "jane.roe@",
];

/// What [`secret_meeting`] wrote.
pub struct SecretMeeting {
    pub org: OrgScope,
    pub meeting: crate::Meeting,
    /// The finals' segment ids, in order.
    pub finals: Vec<scribe_core::SegmentId>,
    /// The user's email address, as entered.
    pub email: String,
}

/// A user with a patient-like email, a meeting titled with a patient's name and three finals of
/// distinctive words (one with a speaker).
pub async fn secret_meeting(store: &dyn crate::Store) -> SecretMeeting {
    let org = new_org(store, "at rest").await;
    let email = format!("jane.roe@{}.example", uuid::Uuid::new_v4().simple());
    let user = store
        .create_user(
            &org,
            crate::NewUser {
                email: email.clone(),
                password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
                role: "viewer".into(),
            },
        )
        .await
        .expect("user");
    // The sealed address still finds its user, and reads back as entered.
    let login = store
        .find_login_by_email(&email.to_uppercase())
        .await
        .expect("lookup")
        .expect("found by its blind index");
    assert_eq!(login.user.id, user.id);
    assert_eq!(login.user.email, email);
    assert_eq!(
        store.get_user(&org, user.id).await.expect("user").email,
        email
    );
    let meeting = new_meeting(store, &org, "Consultation with Jane Roe").await;
    let stream = new_stream(store, &org, meeting.id).await;
    let mut ids = Vec::new();
    for (i, text) in [
        "the zygomatic arch",
        "a quixotic plan",
        "the xylophone player",
    ]
    .iter()
    .enumerate()
    {
        let mut new = final_for(meeting.id, stream.id, text, i as u64 * 2000);
        if i == 1 {
            new.speaker = Some("Dr Quixotic".into());
        }
        ids.push(new.segment_id);
        store.append_final(&org, new).await.expect("append");
    }
    SecretMeeting {
        org,
        meeting,
        finals: ids,
        email,
    }
}

/// Changes one character inside the base64 body of a sealed value (not its prefix).
pub fn flip_one_byte(sealed: &str) -> String {
    assert!(
        sealed.starts_with("enc:v1:"),
        "not sealed: the test needs a sealed value"
    );
    let mut bytes = sealed.as_bytes().to_vec();
    let at = bytes.len() / 2 + 7;
    bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
    String::from_utf8(bytes).expect("ascii")
}

/// After `tampered` was changed in the database: that final reads as unreadable with a clear
/// reason, the other two read as written.
pub async fn only_the_tampered_final_is_unreadable(
    store: &dyn crate::Store,
    org: &OrgScope,
    meeting: scribe_core::MeetingId,
    tampered: scribe_core::SegmentId,
) {
    let finals = store
        .list_finals(org, meeting)
        .await
        .expect("the listing itself works");
    assert_eq!(finals.len(), 3);
    for f in finals {
        match f {
            Ok(f) => {
                assert_ne!(f.id, tampered, "a tampered value was returned");
                assert!(
                    f.segment.text == "the zygomatic arch"
                        || f.segment.text == "the xylophone player",
                    "{}",
                    f.segment.text
                );
            }
            Err(u) => {
                assert_eq!(u.id, tampered);
                assert!(u.reason.contains("integrity check"), "{}", u.reason);
            }
        }
    }
}

/// What a pre-encryption (schema version 1) database holds in clear, for the migration tests:
/// an organisation with a user [`LEGACY_EMAIL`], a meeting "Ward round with Jane Roe" and one
/// final "the zygomatic arch" by "Dr Quixotic".
pub struct LegacyRows {
    pub org: scribe_core::OrgId,
    pub meeting: scribe_core::MeetingId,
    /// The INSERTs (schema history included); `hash_sql` in [`legacy_rows`] is the backend's
    /// literal for the stream's 32-byte resume-token hash.
    pub sql: String,
}

/// Fresh [`LegacyRows`].
pub fn legacy_rows(hash_sql: &str) -> LegacyRows {
    let (org, meeting, stream, segment, user) = (
        scribe_core::OrgId::generate(),
        scribe_core::MeetingId::generate(),
        scribe_core::StreamId::generate(),
        scribe_core::SegmentId::generate(),
        scribe_core::UserId::generate(),
    );
    let (email, key) = (LEGACY_EMAIL, LEGACY_EMAIL.to_lowercase());
    let sql = format!(
        "INSERT INTO schema_migrations VALUES (1, 'initial', 0);
         INSERT INTO organisations VALUES ('{org}', 'Old Clinic', 0);
         INSERT INTO users (id, org_id, email, email_key, password_hash, role, created_at_ms)
             VALUES ('{user}', '{org}', '{email}', '{key}', '$argon2id$v=19$x', 'admin', 0);
         INSERT INTO meetings (id, org_id, title, created_at_ms, last_seq)
             VALUES ('{meeting}', '{org}', 'Ward round with Jane Roe', 0, 1);
         INSERT INTO streams (id, org_id, meeting_id, resume_token_hash, opened_at_ms)
             VALUES ('{stream}', '{org}', '{meeting}', {hash_sql}, 0);
         INSERT INTO segments (id, org_id, meeting_id, stream_id, seq, start_ms, end_ms,
                               text, words, speaker, language, created_at_ms)
             VALUES ('{segment}', '{org}', '{meeting}', '{stream}', 1, 0, 900,
                     'the zygomatic arch', '[]', 'Dr Quixotic', 'en', 0);"
    );
    LegacyRows { org, meeting, sql }
}

/// Reads the migrated legacy rows' title, text, speaker, email and email key, raw.
pub const LEGACY_RAW_COLUMNS: &str =
    "SELECT m.title, s.text, s.speaker, u.email, u.email_key FROM meetings m
     JOIN segments s ON s.meeting_id = m.id JOIN users u ON u.org_id = m.org_id";

/// The raw values [`LEGACY_RAW_COLUMNS`] reads after migrating: sealed under data-key version 1,
/// and the email key a blind index.
#[track_caller]
pub fn assert_legacy_sealed(raw: [String; 5]) {
    let [title, text, speaker, email, email_key] = raw;
    for value in [title, text, speaker, email] {
        assert!(value.starts_with("enc:v1:1:"), "{value}");
    }
    assert!(email_key.starts_with("bi1:"), "{email_key}");
}

/// The legacy user the migration tests write in clear: `LEGACY_EMAIL`, lookup key as it was.
pub const LEGACY_EMAIL: &str = "Jane.Roe@Old-Clinic.example";

/// After migrating a pre-encryption database holding a meeting "Ward round with Jane Roe" with
/// one final "the zygomatic arch" by "Dr Quixotic", and a user [`LEGACY_EMAIL`]: all read back
/// as written, and login finds the user.
pub async fn legacy_rows_read_back(
    store: &dyn crate::Store,
    org: scribe_core::OrgId,
    meeting: scribe_core::MeetingId,
) {
    let scope = OrgScope::for_org(org);
    let login = store
        .find_login_by_email(LEGACY_EMAIL)
        .await
        .expect("lookup")
        .expect("the migrated user is found by its blind index");
    assert_eq!(login.user.email, LEGACY_EMAIL);
    assert_eq!(
        store
            .get_meeting(&scope, meeting)
            .await
            .expect("meeting")
            .title,
        "Ward round with Jane Roe"
    );
    let finals = readable(store.list_finals(&scope, meeting).await.expect("finals"));
    assert_eq!(finals[0].segment.text, "the zygomatic arch");
    assert_eq!(finals[0].speaker.as_deref(), Some("Dr Quixotic"));
}
