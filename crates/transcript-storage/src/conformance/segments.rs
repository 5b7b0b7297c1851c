//! Final segments and the per-meeting seq counter.

use std::collections::HashMap;
use std::sync::Arc;

use scribe_core::{MeetingId, SegmentId};

use super::readable;
use super::{assert_not_found, final_for, new_meeting, new_org, new_stream, Harness};
use crate::error::StoreError;
use crate::model::NewMeeting;

/// Several tasks (think: several bots in one meeting) append at once; the store hands out
/// 1..=N with no gap or repeat, in each task's own order, and lists them in seq order.
pub async fn seq_gapless_under_concurrent_appends<H: Harness>(h: &H) {
    const TASKS: usize = 4;
    const EACH: usize = 25;
    let store = h.store();
    let org = new_org(&*store, "concurrency").await;
    let meeting = new_meeting(&*store, &org, "Busy meeting").await;

    let mut handles = Vec::new();
    for task in 0..TASKS {
        let store = Arc::clone(&store);
        let stream = new_stream(&*store, &org, meeting.id).await;
        handles.push(tokio::spawn(async move {
            let mut got = Vec::new();
            for i in 0..EACH {
                let new = final_for(meeting.id, stream.id, &format!("task {task} line {i}"), 0);
                let id = new.segment_id;
                let seq = store.append_final(&org, new).await.expect("append");
                got.push((id, seq));
            }
            got
        }));
    }
    let mut by_id: HashMap<SegmentId, u64> = HashMap::new();
    for handle in handles {
        let got = handle.await.expect("task finished");
        assert!(
            got.windows(2).all(|w| w[0].1 < w[1].1),
            "one writer's seqs increase"
        );
        by_id.extend(got);
    }
    let mut seqs: Vec<u64> = by_id.values().copied().collect();
    seqs.sort_unstable();
    let expected: Vec<u64> = (1..=(TASKS * EACH) as u64).collect();
    assert_eq!(seqs, expected, "gapless, no repeats");

    let finals = readable(store.list_finals(&org, meeting.id).await.expect("list"));
    let listed: Vec<u64> = finals.iter().map(|f| f.seq).collect();
    assert_eq!(listed, expected, "listed in seq order");
    for f in &finals {
        assert_eq!(
            by_id.get(&f.id),
            Some(&f.seq),
            "stored seq is the one returned"
        );
    }
    let meeting = store.get_meeting(&org, meeting.id).await.expect("get");
    assert_eq!(meeting.last_seq, (TASKS * EACH) as u64);
}

pub async fn list_finals_since_seq<H: Harness>(h: &H) {
    let store = h.store();
    let org = new_org(&*store, "since").await;
    let meeting = new_meeting(&*store, &org, "Lecture").await;
    let empty = new_meeting(&*store, &org, "Nothing said").await;
    let stream = new_stream(&*store, &org, meeting.id).await;
    for i in 0..10u64 {
        let seq = store
            .append_final(
                &org,
                final_for(meeting.id, stream.id, &format!("line {i}"), i * 1000),
            )
            .await
            .expect("append");
        assert_eq!(seq, i + 1);
    }
    let seqs = |v: Vec<crate::StoredFinal>| v.iter().map(|f| f.seq).collect::<Vec<_>>();

    let all = readable(store.list_finals(&org, meeting.id).await.expect("all"));
    assert_eq!(seqs(all.clone()), (1..=10).collect::<Vec<_>>());
    assert_eq!(all[3].segment.text, "line 3");
    assert_eq!(all[3].segment.start_ms, 3000);
    assert_eq!(all[3].stream_id, stream.id);
    let since = |n| store.list_finals_since(&org, meeting.id, n);
    assert_eq!(
        seqs(readable(since(0).await.expect("since 0"))),
        (1..=10).collect::<Vec<_>>()
    );
    assert_eq!(
        seqs(readable(since(7).await.expect("since 7"))),
        vec![8, 9, 10]
    );
    assert!(since(10).await.expect("since 10").is_empty());
    assert!(since(u64::MAX).await.expect("since max").is_empty());

    assert!(readable(
        store
            .list_finals(&org, empty.id)
            .await
            .expect("empty meeting")
    )
    .is_empty());
    assert_not_found(
        store.list_finals(&org, MeetingId::generate()).await,
        "finals of an unknown meeting",
    );
}

/// A final retried with the same segment id (say, after a timeout whose commit did happen)
/// is stored once and keeps its seq.
pub async fn append_final_retry_is_idempotent<H: Harness>(h: &H) {
    let store = h.store();
    let org = new_org(&*store, "retry").await;
    let meeting = new_meeting(&*store, &org, "Retry").await;
    let other = new_meeting(&*store, &org, "Other").await;
    let stream = new_stream(&*store, &org, meeting.id).await;
    let other_stream = new_stream(&*store, &org, other.id).await;

    let new = final_for(meeting.id, stream.id, "said once", 0);
    let first = store.append_final(&org, new.clone()).await.expect("append");
    let again = store.append_final(&org, new.clone()).await.expect("retry");
    assert_eq!(first, again);
    let next = store
        .append_final(&org, final_for(meeting.id, stream.id, "next", 100))
        .await
        .expect("append");
    assert_eq!(next, first + 1, "the retry used no seq");
    assert_eq!(
        readable(store.list_finals(&org, meeting.id).await.expect("list")).len(),
        2
    );

    let mut elsewhere = new;
    elsewhere.meeting_id = other.id;
    elsewhere.stream_id = other_stream.id;
    assert!(matches!(
        store.append_final(&org, elsewhere).await,
        Err(StoreError::Conflict(_))
    ));
}

/// Partials take a seq without being stored; finals and partials share one counter.
pub async fn partials_share_the_seq_counter<H: Harness>(h: &H) {
    let store = h.store();
    let org = new_org(&*store, "partials").await;
    let meeting = new_meeting(&*store, &org, "Mixed").await;
    let stream = new_stream(&*store, &org, meeting.id).await;

    assert_eq!(store.allocate_seq(&org, meeting.id).await.expect("seq"), 1);
    let f1 = store
        .append_final(&org, final_for(meeting.id, stream.id, "one", 0))
        .await
        .expect("append");
    assert_eq!(f1, 2);
    assert_eq!(store.allocate_seq(&org, meeting.id).await.expect("seq"), 3);
    assert_eq!(store.allocate_seq(&org, meeting.id).await.expect("seq"), 4);
    let f2 = store
        .append_final(&org, final_for(meeting.id, stream.id, "two", 100))
        .await
        .expect("append");
    assert_eq!(f2, 5);

    let finals = readable(store.list_finals(&org, meeting.id).await.expect("list"));
    assert_eq!(finals.iter().map(|f| f.seq).collect::<Vec<_>>(), vec![2, 5]);
    let since = readable(
        store
            .list_finals_since(&org, meeting.id, 2)
            .await
            .expect("since"),
    );
    assert_eq!(since.iter().map(|f| f.seq).collect::<Vec<_>>(), vec![5]);
    let meeting = store.get_meeting(&org, meeting.id).await.expect("get");
    assert_eq!(meeting.last_seq, 5, "a restarted server continues after 5");
    assert_not_found(
        store.allocate_seq(&org, MeetingId::generate()).await,
        "seq of an unknown meeting",
    );
}

pub async fn finals_follow_stream_rules<H: Harness>(h: &H) {
    let store = h.store();
    let org = new_org(&*store, "rules").await;
    let meeting = new_meeting(&*store, &org, "Here").await;
    let other = new_meeting(&*store, &org, "There").await;
    let stream = new_stream(&*store, &org, meeting.id).await;

    let wrong_meeting = store
        .append_final(&org, final_for(other.id, stream.id, "x", 0))
        .await;
    assert!(matches!(wrong_meeting, Err(StoreError::Invalid(_))));
    assert_not_found(
        store
            .append_final(
                &org,
                final_for(meeting.id, scribe_core::StreamId::generate(), "x", 0),
            )
            .await,
        "unknown stream",
    );
    let mut backwards = final_for(meeting.id, stream.id, "x", 500);
    backwards.segment.end_ms = 100;
    assert!(matches!(
        store.append_final(&org, backwards).await,
        Err(StoreError::Invalid(_))
    ));
    let nul = final_for(meeting.id, stream.id, "nul \0 inside", 0);
    assert!(matches!(
        store.append_final(&org, nul).await,
        Err(StoreError::Invalid(_))
    ));
    let meeting = store.get_meeting(&org, meeting.id).await.expect("get");
    assert_eq!(meeting.last_seq, 0, "refused finals use no seq");
}

pub async fn unicode_text_round_trips<H: Harness>(h: &H) {
    let store = h.store();
    let name = format!("Ærøskøbing Kommune — 東京 {}", uuid::Uuid::new_v4());
    let org = store.create_organisation(&name).await.expect("org");
    assert_eq!(
        store.get_organisation(org.id).await.expect("get").name,
        name
    );
    let scope = scribe_core::OrgScope::for_org(org.id);
    let title = "Réunion « budget » — مجلس 会議 🎙️";
    let meeting = store
        .create_meeting(
            &scope,
            NewMeeting {
                title: title.into(),
                created_by: None,
            },
        )
        .await
        .expect("meeting");
    assert_eq!(
        store
            .get_meeting(&scope, meeting.id)
            .await
            .expect("get")
            .title,
        title
    );
    let stream = new_stream(&*store, &scope, meeting.id).await;
    let texts = [
        "naïve café, déjà vu",
        "東京で会いましょう",
        "مرحبا بكم في الاجتماع",
        "e\u{301} combining and 👩\u{200d}⚕️ zwj emoji 🇩🇰",
        "quotes ' \" ; -- DROP TABLE segments; \\ %",
    ];
    for (i, text) in texts.iter().enumerate() {
        let mut new = final_for(meeting.id, stream.id, text, i as u64 * 1000);
        new.speaker = Some("Søren Ødegård".into());
        new.language = Some("und".into());
        store.append_final(&scope, new).await.expect("append");
    }
    let finals = readable(store.list_finals(&scope, meeting.id).await.expect("list"));
    assert_eq!(finals.len(), texts.len());
    for (stored, text) in finals.iter().zip(texts) {
        assert_eq!(stored.segment.text, text);
        let words: Vec<&str> = stored
            .segment
            .words
            .iter()
            .map(|w| w.word.as_str())
            .collect();
        assert_eq!(words, text.split_whitespace().collect::<Vec<_>>());
        assert_eq!(stored.speaker.as_deref(), Some("Søren Ødegård"));
        assert_eq!(stored.language.as_deref(), Some("und"));
    }
    // Word timings and confidence survive too.
    let w = &finals[1].segment.words[0];
    assert_eq!((w.start_ms, w.end_ms), (1000, 1090));
    assert!((w.confidence - 0.5).abs() < f32::EPSILON);
}

pub async fn delete_meeting_removes_its_finals<H: Harness>(h: &H) {
    let store = h.store();
    let org = new_org(&*store, "delete").await;
    let gone = new_meeting(&*store, &org, "To delete").await;
    let kept = new_meeting(&*store, &org, "To keep").await;
    let s1 = new_stream(&*store, &org, gone.id).await;
    let s2 = new_stream(&*store, &org, kept.id).await;
    for i in 0..3 {
        store
            .append_final(&org, final_for(gone.id, s1.id, &format!("gone {i}"), 0))
            .await
            .expect("append");
        store
            .append_final(&org, final_for(kept.id, s2.id, &format!("kept {i}"), 0))
            .await
            .expect("append");
    }
    store.delete_meeting(&org, gone.id).await.expect("delete");
    assert_not_found(store.list_finals(&org, gone.id).await, "deleted finals");
    assert_not_found(
        store.get_stream(&org, s1.id).await,
        "deleted meeting's stream",
    );
    let kept_finals = readable(store.list_finals(&org, kept.id).await.expect("kept"));
    assert_eq!(kept_finals.len(), 3);
    assert!(kept_finals
        .iter()
        .all(|f| f.segment.text.starts_with("kept")));
}
