//! Two independent handles on the same data: what a `serve` and a set-up command (or two
//! server nodes) see of each other.

use std::collections::HashSet;
use std::sync::Arc;

use super::readable;
use super::{final_for, new_meeting, new_org, new_stream, Harness};
use crate::model::NewUser;

pub async fn two_handles_see_each_others_writes<H: Harness>(h: &H) {
    let server = h.store();
    let cli = h.second_handle().await;

    // The set-up commands write while the server runs...
    let org = new_org(&*cli, "shared").await;
    let bot = cli.create_bot(&org, "bot").await.expect("bot");
    let meeting = new_meeting(&*cli, &org, "Created by the CLI").await;
    let email = format!("admin.{}@example.org", uuid::Uuid::new_v4().simple());
    cli.create_user(
        &org,
        NewUser {
            email: email.clone(),
            password_hash: "$argon2id$x".into(),
            role: "admin".into(),
        },
    )
    .await
    .expect("user");

    // ...and the server sees it at once.
    assert_eq!(
        server
            .get_meeting(&org, meeting.id)
            .await
            .expect("meeting")
            .title,
        "Created by the CLI"
    );
    assert!(server
        .find_bot_for_auth(bot.id)
        .await
        .expect("bot")
        .is_some());
    assert!(server
        .find_login_by_email(&email)
        .await
        .expect("login")
        .is_some());

    // The other way round: a final the server stored, a bot the CLI revokes.
    let stream = new_stream(&*server, &org, meeting.id).await;
    server
        .append_final(&org, final_for(meeting.id, stream.id, "from the server", 0))
        .await
        .expect("append");
    let finals = readable(cli.list_finals(&org, meeting.id).await.expect("list"));
    assert_eq!(finals.len(), 1);
    assert_eq!(finals[0].segment.text, "from the server");
    cli.revoke_bot(&org, bot.id).await.expect("revoke");
    assert!(server.is_bot_revoked(&org, bot.id).await.expect("state"));
}

pub async fn two_handles_append_concurrently<H: Harness>(h: &H) {
    const EACH: u64 = 20;
    let first = h.store();
    let second = h.second_handle().await;
    let org = new_org(&*first, "shared seq").await;
    let meeting = new_meeting(&*first, &org, "Two writers").await;

    let mut tasks = Vec::new();
    for (name, store) in [("first", first.clone()), ("second", second.clone())] {
        let stream = new_stream(&*store, &org, meeting.id).await;
        let store = Arc::clone(&store);
        tasks.push(tokio::spawn(async move {
            let mut seqs = Vec::new();
            for i in 0..EACH {
                let text = format!("{name} {i}");
                seqs.push(
                    store
                        .append_final(&org, final_for(meeting.id, stream.id, &text, i))
                        .await
                        .expect("append"),
                );
                if i % 2 == 0 {
                    // Partials in between, from both handles.
                    seqs.push(store.allocate_seq(&org, meeting.id).await.expect("seq"));
                }
            }
            seqs
        }));
    }
    let mut all = HashSet::new();
    for task in tasks {
        for seq in task.await.expect("task finished") {
            assert!(all.insert(seq), "seq {seq} handed out twice");
        }
    }
    let total = 2 * (EACH + EACH / 2);
    assert_eq!(
        all,
        (1..=total).collect::<HashSet<_>>(),
        "gapless across handles"
    );

    for store in [&first, &second] {
        let finals = readable(store.list_finals(&org, meeting.id).await.expect("list"));
        assert_eq!(finals.len() as u64, 2 * EACH);
        assert!(finals.windows(2).all(|w| w[0].seq < w[1].seq));
    }
}
