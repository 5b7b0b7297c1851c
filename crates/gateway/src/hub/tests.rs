use super::*;
use scribe_protocol::SnapshotMessage;

fn seg(stream: &str, id: &str, is_final: bool, text: &str) -> SegmentMessage {
    SegmentMessage {
        meeting_id: String::new(),
        stream_id: stream.into(),
        segment_id: id.into(),
        seq: 0,
        is_final,
        start_ms: 0,
        end_ms: 10,
        text: text.into(),
        words: vec![],
        speaker: None,
        language: "en".into(),
    }
}

/// Accepts the seq the feed proposes, as a store with no other writer does.
async fn ok(m: SegmentMessage) -> Result<u64, String> {
    Ok(m.seq)
}

async fn feed(hub: &Hub, id: &str) -> Arc<MeetingFeed> {
    hub.feed(id, OrgId::generate(), || async {
        Ok::<_, String>((vec![], 0))
    })
    .await
    .expect("feed")
}

fn parse(frame: &Frame) -> serde_json::Value {
    serde_json::from_str(&frame.json).expect("json")
}

/// Applies frames the way the live page does: finals and partials keyed by segment id.
fn render(frames: &[Frame]) -> (Vec<(u64, String)>, HashMap<String, String>) {
    let mut finals = Vec::new();
    let mut partials = HashMap::new();
    let mut apply = |v: &serde_json::Value| {
        let id = v["segment_id"].as_str().expect("id").to_owned();
        let text = v["text"].as_str().expect("text").to_owned();
        if v["is_final"].as_bool().expect("flag") {
            partials.remove(&id);
            if !finals
                .iter()
                .any(|(_, t): &(u64, String)| t == &format!("{id}:{text}"))
            {
                finals.push((v["seq"].as_u64().expect("seq"), format!("{id}:{text}")));
            }
        } else {
            partials.insert(id, text);
        }
    };
    for f in frames {
        let v = parse(f);
        match v["type"].as_str() {
            Some("snapshot") => {
                let snap: SnapshotMessage =
                    serde_json::from_value(v.clone()).expect("snapshot shape");
                for s in snap.segments.iter().chain(&snap.partials) {
                    apply(&serde_json::to_value(ServerMessage::Segment(s.clone())).expect("v"));
                }
            }
            Some("segment") => apply(&v),
            other => panic!("unexpected {other:?}"),
        }
    }
    (finals, partials)
}

#[tokio::test]
async fn every_message_gets_the_next_seq() {
    let hub = Hub::default();
    let f = feed(&hub, "m").await;
    assert_eq!(
        f.publish(seg("s", "a", false, "hel"), ok)
            .await
            .map(|f| f.seq),
        Ok(1)
    );
    assert_eq!(
        f.publish(seg("s", "a", false, "hello"), ok)
            .await
            .map(|f| f.seq),
        Ok(2)
    );
    assert_eq!(
        f.publish(seg("s", "a", true, "hello."), ok)
            .await
            .map(|f| f.seq),
        Ok(3)
    );
    assert_eq!(f.next_seq().await, 4);
    let finals = f.finals().await;
    assert_eq!(finals.len(), 1);
    assert_eq!((finals[0].seq, finals[0].meeting_id.as_str()), (3, "m"));
}

#[tokio::test]
async fn snapshot_has_finals_and_current_partials_only() {
    let hub = Hub::default();
    let f = feed(&hub, "m").await;
    f.publish(seg("s", "a", false, "one"), ok).await.expect("p");
    f.publish(seg("s", "a", true, "one."), ok).await.expect("f");
    f.publish(seg("s", "b", false, "tw"), ok).await.expect("p");
    f.publish(seg("s", "b", false, "two"), ok).await.expect("p");
    let sub = f.subscribe(None).await;
    assert_eq!(sub.seq, 4);
    let snap = parse(&sub.initial[0]);
    assert_eq!(snap["type"], "snapshot");
    assert_eq!(snap["seq"], 4);
    assert_eq!(snap["segments"][0]["text"], "one.");
    assert_eq!(snap["partials"].as_array().map(Vec::len), Some(1));
    assert_eq!(snap["partials"][0]["text"], "two");
}

#[tokio::test]
async fn failed_persist_sends_nothing_and_keeps_the_seq() {
    let hub = Hub::default();
    let f = feed(&hub, "m").await;
    let mut sub = f.subscribe(None).await;
    let err = f
        .publish(seg("s", "a", true, "x"), |_| async {
            Err("disk full".to_owned())
        })
        .await;
    assert_eq!(err.map(|f| f.seq), Err("disk full".to_owned()));
    assert!(sub.live.try_recv().is_err(), "nothing broadcast");
    assert_eq!(
        f.publish(seg("s", "a", true, "x"), ok).await.map(|f| f.seq),
        Ok(1)
    );
    assert!(f.finals().await.len() == 1);
}

#[tokio::test]
async fn feed_continues_numbering_after_restart() {
    let hub = Hub::default();
    let mut stored = seg("s", "a", true, "before restart");
    stored.seq = 41;
    let f = hub
        .feed("m", OrgId::generate(), || async move {
            Ok::<_, String>((vec![stored], 0))
        })
        .await
        .expect("feed");
    assert_eq!(
        f.publish(seg("s", "b", false, "after"), ok)
            .await
            .map(|f| f.seq),
        Ok(42)
    );
    // A second lookup returns the same feed without loading again.
    let again = hub
        .feed("m", OrgId::generate(), || async {
            Err::<(Vec<SegmentMessage>, u64), _>("must not load".to_owned())
        })
        .await
        .expect("cached");
    assert!(Arc::ptr_eq(&f, &again));
    drop((f, again));
    hub.prune();
    assert!(hub.is_empty());
}

#[tokio::test]
async fn since_seq_replays_exactly_what_followed() {
    let hub = Hub::default();
    let f = feed(&hub, "m").await;
    for i in 0..10 {
        f.publish(seg("s", &format!("g{i}"), i % 2 == 1, "t"), ok)
            .await
            .expect("publish");
    }
    let sub = f.subscribe(Some(6)).await;
    let seqs: Vec<u64> = sub.initial.iter().map(|fr| fr.seq).collect();
    assert_eq!(seqs, [7, 8, 9, 10]);
    assert!(f.subscribe(Some(10)).await.initial.is_empty());
}

#[tokio::test]
async fn resume_beyond_the_buffer_still_delivers_every_final() {
    let hub = Hub::new(4);
    let f = feed(&hub, "m").await;
    let mut all = vec![f.subscribe(None).await];
    for i in 0..20u32 {
        let id = format!("g{}", i / 2);
        f.publish(seg("s", &id, i % 2 == 1, &format!("w{i}")), ok)
            .await
            .expect("publish");
    }
    let steady = all.remove(0);
    let mut frames = steady.initial;
    let mut live = steady.live;
    while let Ok(fr) = live.try_recv() {
        frames.push(fr);
    }
    // A viewer that saw up to seq 3 and comes back after the buffer moved on.
    let mut dropped: Vec<Frame> = frames.iter().filter(|fr| fr.seq <= 3).cloned().collect();
    dropped.extend(f.subscribe(Some(3)).await.initial);
    let (a, pa) = render(&frames);
    let (b, pb) = render(&dropped);
    assert_eq!(a.len(), 10);
    assert_eq!(a, b, "same finals in the same order");
    assert_eq!(pa, pb);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_viewer_joining_mid_stream_misses_nothing_and_sees_nothing_twice() {
    let hub = Arc::new(Hub::default());
    let f = feed(&hub, "m").await;
    let publisher = {
        let f = Arc::clone(&f);
        tokio::spawn(async move {
            for i in 0..400u32 {
                let id = format!("g{}", i / 4);
                f.publish(seg("s", &id, i % 4 == 3, &format!("w{i}")), ok)
                    .await
                    .expect("publish");
                if i % 16 == 0 {
                    tokio::task::yield_now().await;
                }
            }
        })
    };
    tokio::task::yield_now().await;
    let sub = f.subscribe(None).await;
    publisher.await.expect("publisher");
    let mut frames = sub.initial;
    let mut live = sub.live;
    while let Ok(fr) = live.try_recv() {
        if fr.seq > sub.seq {
            frames.push(fr);
        }
    }
    let (finals, partials) = render(&frames);
    assert_eq!(finals.len(), 100, "every final exactly once");
    assert!(finals.windows(2).all(|w| w[0].0 < w[1].0), "in seq order");
    assert!(partials.is_empty(), "every partial was finalised");
}

#[tokio::test]
async fn the_store_assigns_seqs_and_a_retried_final_is_not_sent_twice() {
    let hub = Hub::default();
    let f = hub
        .feed("m", OrgId::generate(), || async {
            Ok::<_, String>((vec![], 7))
        })
        .await
        .expect("feed");
    let mut sub = f.subscribe(None).await;
    // Another node took seqs 8..=9: the store answers 10 and the feed follows it.
    let frame = f
        .publish(seg("s", "a", true, "x"), |m| async move {
            assert_eq!(
                m.seq, 8,
                "the feed proposes the next seq after the stored one"
            );
            Ok::<_, String>(10)
        })
        .await
        .expect("publish");
    assert_eq!(frame.seq, 10);
    assert_eq!(sub.live.try_recv().map(|f| f.seq).ok(), Some(10));
    // The store already had this final (a retry): same seq back, nothing broadcast again.
    let again = f
        .publish(seg("s", "a", true, "x"), |_| async { Ok::<_, String>(10) })
        .await
        .expect("publish");
    assert_eq!(again.seq, 10);
    assert!(sub.live.try_recv().is_err());
    assert_eq!(f.finals().await.len(), 1);
    assert_eq!(f.next_seq().await, 11);
}

#[tokio::test]
async fn finals_from_another_server_replace_partials_and_arrive_once() {
    let hub = Hub::default();
    let f = feed(&hub, "m").await;
    f.publish(seg("local", "p", false, "provisional"), ok)
        .await
        .expect("partial");
    let mut sub = f.subscribe(None).await;
    let mut remote = seg("remote", "r1", true, "from the other server");
    remote.seq = 5;
    let mut replaced = seg("local", "p", true, "settled");
    replaced.seq = 6;
    assert_eq!(f.ingest(vec![replaced.clone(), remote.clone()]).await, 2);
    assert_eq!(f.ingest(vec![remote]).await, 0, "already held");
    let got: Vec<u64> = [sub.live.recv().await, sub.live.recv().await]
        .into_iter()
        .map(|r| r.expect("frame").seq)
        .collect();
    assert_eq!(got, vec![5, 6], "in seq order");
    assert_eq!(f.last_final_seq().await, 6);
    assert_eq!(f.next_seq().await, 7);
    let snapshot = f.subscribe(None).await;
    let v = parse(&snapshot.initial[0]);
    assert_eq!(v["partials"].as_array().map(Vec::len), Some(0), "{v}");
    assert_eq!(v["segments"].as_array().map(Vec::len), Some(2), "{v}");
}
