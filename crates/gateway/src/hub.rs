//! The fan-out hub: one feed per meeting that numbers every message (`seq`), keeps what a
//! viewer needs to start (finals and current partials) or resume (`since_seq`), and broadcasts
//! live messages.
//!
//! Ordering guarantee: a final is persisted (by the caller's `assign` step, which also gives
//! the message its seq — the store allocates seqs, so numbering survives restarts and is shared
//! by every process on the same store) *before* it gets its place in the feed and reaches
//! anyone, and seq allocation, persistence and broadcast happen under one per-meeting lock, so
//! a viewer's snapshot and its live messages never overlap or leave a gap.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::sync::Arc;

use scribe_core::OrgId;
use scribe_protocol::{SegmentMessage, ServerMessage, SnapshotMessage};
use tokio::sync::{broadcast, Mutex};

/// How many recent messages (partials included) a feed keeps for `since_seq` resumption.
/// Finals are always available; older partials are superseded anyway.
pub const DEFAULT_REPLAY: usize = 2048;

/// A message as sent: its seq and its JSON text (serialised once for every receiver).
#[derive(Clone, Debug)]
pub struct Frame {
    pub seq: u64,
    pub stream_id: Arc<str>,
    pub json: Arc<str>,
}

/// All meeting feeds of this process.
pub struct Hub {
    feeds: std::sync::Mutex<HashMap<String, Arc<MeetingFeed>>>,
    replay: usize,
}

impl Default for Hub {
    fn default() -> Self {
        Self::new(DEFAULT_REPLAY)
    }
}

impl Hub {
    pub fn new(replay: usize) -> Self {
        Self {
            feeds: std::sync::Mutex::new(HashMap::new()),
            replay: replay.max(1),
        }
    }

    /// The feed of `meeting_id` (of organisation `org`), created on first use. `load` supplies
    /// the finals already stored (in seq order) and the meeting's last allocated seq when the
    /// feed is created, so a restarted server continues the numbering and serves the whole
    /// transcript.
    pub async fn feed<F, Fut, E>(
        &self,
        meeting_id: &str,
        org: OrgId,
        load: F,
    ) -> Result<Arc<MeetingFeed>, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<(Vec<SegmentMessage>, u64), E>>,
    {
        if let Some(feed) = self.get(meeting_id) {
            return Ok(feed);
        }
        let (finals, last_seq) = load().await?;
        let fresh = Arc::new(MeetingFeed::new(
            meeting_id,
            org,
            finals,
            last_seq,
            self.replay,
        ));
        let mut feeds = self.feeds.lock().unwrap_or_else(|p| p.into_inner());
        Ok(Arc::clone(
            feeds.entry(meeting_id.to_owned()).or_insert(fresh),
        ))
    }

    /// The feed of `meeting_id` if this process has it in memory (someone streams or watches).
    pub fn get(&self, meeting_id: &str) -> Option<Arc<MeetingFeed>> {
        let feeds = self.feeds.lock().unwrap_or_else(|p| p.into_inner());
        feeds.get(meeting_id).cloned()
    }

    /// Every feed in memory.
    pub fn all(&self) -> Vec<Arc<MeetingFeed>> {
        let feeds = self.feeds.lock().unwrap_or_else(|p| p.into_inner());
        feeds.values().cloned().collect()
    }

    /// Forgets feeds nobody holds any more (no stream, no viewer); their finals are in the
    /// store and are loaded again on next use.
    pub fn prune(&self) {
        let mut feeds = self.feeds.lock().unwrap_or_else(|p| p.into_inner());
        feeds.retain(|_, f| Arc::strong_count(f) > 1);
    }

    /// Drops the feed of a deleted meeting and tells its viewers (they are closed with 4004).
    pub fn remove(&self, meeting_id: &str) {
        let feed = self
            .feeds
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(meeting_id);
        if let Some(feed) = feed {
            feed.mark_deleted();
        }
    }

    /// Number of feeds in memory.
    pub fn len(&self) -> usize {
        self.feeds.lock().map(|f| f.len()).unwrap_or(0)
    }

    /// True when no feed is in memory.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// One meeting's numbered message feed.
pub struct MeetingFeed {
    meeting_id: String,
    org: OrgId,
    state: Mutex<FeedState>,
    tx: broadcast::Sender<Frame>,
    /// Set once the meeting is deleted: its viewers are closed.
    deleted: tokio::sync::watch::Sender<bool>,
}

struct FeedState {
    next_seq: u64,
    finals: Vec<SegmentMessage>,
    /// Current partial per segment id.
    partials: HashMap<String, SegmentMessage>,
    recent: VecDeque<Frame>,
    replay: usize,
}

/// What a new viewer gets first, then `live` for everything after.
pub struct Subscription {
    /// The snapshot, or the replayed messages after `since_seq`, as frames to send in order.
    pub initial: Vec<Frame>,
    /// The seq of the newest message in `initial`'s view; skip live frames at or below it.
    pub seq: u64,
    pub live: broadcast::Receiver<Frame>,
}

impl MeetingFeed {
    fn new(
        meeting_id: &str,
        org: OrgId,
        mut finals: Vec<SegmentMessage>,
        last_seq: u64,
        replay: usize,
    ) -> Self {
        finals.sort_by_key(|s| s.seq);
        let next_seq = finals.last().map_or(1, |s| s.seq + 1).max(last_seq + 1);
        // A viewer more than this many messages behind is told it lagged and resumes by seq.
        let (tx, _) = broadcast::channel(replay.clamp(1024, 8192));
        Self {
            meeting_id: meeting_id.to_owned(),
            org,
            state: Mutex::new(FeedState {
                next_seq,
                finals,
                partials: HashMap::new(),
                recent: VecDeque::new(),
                replay,
            }),
            tx,
            deleted: tokio::sync::watch::channel(false).0,
        }
    }

    /// Marks the meeting deleted: every [`deleted`](Self::deleted) receiver wakes.
    pub fn mark_deleted(&self) {
        self.deleted.send_replace(true);
    }

    /// Becomes `true` when the meeting is deleted.
    pub fn deleted(&self) -> tokio::sync::watch::Receiver<bool> {
        self.deleted.subscribe()
    }

    /// The meeting this feed belongs to.
    pub fn meeting_id(&self) -> &str {
        &self.meeting_id
    }

    /// The meeting's organisation.
    pub fn org_id(&self) -> OrgId {
        self.org
    }

    /// The highest seq among the finals this feed holds (0 before the first).
    pub async fn last_final_seq(&self) -> u64 {
        let state = self.state.lock().await;
        state.finals.iter().map(|f| f.seq).max().unwrap_or(0)
    }

    /// Takes in finals another server stored (read back from the shared store) and sends the
    /// ones this feed lacks to its viewers, in seq order. Returns how many were new.
    pub async fn ingest(&self, mut finals: Vec<SegmentMessage>) -> usize {
        let mut state = self.state.lock().await;
        finals.sort_by_key(|f| f.seq);
        let mut added = 0;
        for mut msg in finals {
            if state.finals.iter().any(|f| f.segment_id == msg.segment_id) {
                continue;
            }
            msg.meeting_id.clone_from(&self.meeting_id);
            msg.is_final = true;
            let frame = Frame {
                seq: msg.seq,
                stream_id: Arc::from(msg.stream_id.as_str()),
                json: Arc::from(ServerMessage::Segment(msg.clone()).to_json()),
            };
            state.next_seq = state.next_seq.max(msg.seq + 1);
            state.partials.remove(&msg.segment_id);
            // Usually appended at the end; a final that overtook a local one is put in place.
            let at = state.finals.partition_point(|f| f.seq < msg.seq);
            state.finals.insert(at, msg);
            state.recent.push_back(frame.clone());
            while state.recent.len() > state.replay {
                state.recent.pop_front();
            }
            let _ = self.tx.send(frame);
            added += 1;
        }
        added
    }

    /// Numbers `msg` and sends it to every subscriber. `assign` gets the message with the seq
    /// this feed expects next and answers the seq it really has: the store persists a final
    /// and allocates its seq in one step (a partial only reserves a seq). If `assign` fails
    /// nothing is sent. A seq at or below one already sent (a retried final the store already
    /// had) is not sent again.
    pub async fn publish<F, Fut, E>(&self, mut msg: SegmentMessage, assign: F) -> Result<Frame, E>
    where
        F: FnOnce(SegmentMessage) -> Fut,
        Fut: Future<Output = Result<u64, E>>,
    {
        let mut state = self.state.lock().await;
        msg.seq = state.next_seq;
        msg.meeting_id.clone_from(&self.meeting_id);
        msg.seq = assign(msg.clone()).await?;
        let repeat = msg.seq < state.next_seq;
        let frame = Frame {
            seq: msg.seq,
            stream_id: Arc::from(msg.stream_id.as_str()),
            json: Arc::from(ServerMessage::Segment(msg.clone()).to_json()),
        };
        if repeat {
            return Ok(frame);
        }
        state.next_seq = msg.seq + 1;
        if msg.is_final {
            state.partials.remove(&msg.segment_id);
            state.finals.push(msg);
        } else if msg.words.is_empty() && msg.text.is_empty() {
            // A withdrawn partial: viewers drop it; a new viewer never needs to see it.
            state.partials.remove(&msg.segment_id);
        } else {
            state.partials.insert(msg.segment_id.clone(), msg);
        }
        state.recent.push_back(frame.clone());
        while state.recent.len() > state.replay {
            state.recent.pop_front();
        }
        // No receivers is fine: nobody is watching.
        let _ = self.tx.send(frame.clone());
        Ok(frame)
    }

    /// Drops the partials of a stream that ended without finalising them (e.g. a bot that
    /// vanished); viewers keep whatever they showed until the next snapshot.
    pub async fn clear_partials(&self, stream_id: &str) {
        let mut state = self.state.lock().await;
        state.partials.retain(|_, p| p.stream_id != stream_id);
    }

    /// The seq the next message will get.
    pub async fn next_seq(&self) -> u64 {
        self.state.lock().await.next_seq
    }

    /// Finals so far, in seq order.
    pub async fn finals(&self) -> Vec<SegmentMessage> {
        self.state.lock().await.finals.clone()
    }

    /// Subscribes: a snapshot (or, with `since_seq`, the messages after it) and the live
    /// receiver, taken atomically so nothing falls between them.
    pub async fn subscribe(&self, since_seq: Option<u64>) -> Subscription {
        let state = self.state.lock().await;
        let live = self.tx.subscribe();
        let seq = state.next_seq - 1;
        let initial = match since_seq {
            None => vec![snapshot_frame(&self.meeting_id, seq, &state)],
            Some(n) => replay_after(n, &state),
        };
        Subscription { initial, seq, live }
    }
}

fn snapshot_frame(meeting_id: &str, seq: u64, state: &FeedState) -> Frame {
    let mut partials: Vec<SegmentMessage> = state.partials.values().cloned().collect();
    partials.sort_by_key(|p| p.seq);
    let snap = SnapshotMessage {
        meeting_id: meeting_id.to_owned(),
        seq,
        segments: state.finals.clone(),
        partials,
    };
    Frame {
        seq,
        stream_id: Arc::from(""),
        json: Arc::from(ServerMessage::Snapshot(snap).to_json()),
    }
}

/// Every message after `n` still available. When the recent buffer reaches back far enough
/// that is exactly the messages sent; otherwise all finals after `n` plus the current partials
/// (older partials were superseded), so no final is ever missed.
fn replay_after(n: u64, state: &FeedState) -> Vec<Frame> {
    let covered = state.recent.front().is_some_and(|f| f.seq <= n + 1) || n + 1 >= state.next_seq;
    if covered {
        return state.recent.iter().filter(|f| f.seq > n).cloned().collect();
    }
    let mut msgs: Vec<&SegmentMessage> = state
        .finals
        .iter()
        .filter(|s| s.seq > n)
        .chain(state.partials.values().filter(|p| p.seq > n))
        .collect();
    msgs.sort_by_key(|m| m.seq);
    msgs.into_iter()
        .map(|m| Frame {
            seq: m.seq,
            stream_id: Arc::from(m.stream_id.as_str()),
            json: Arc::from(ServerMessage::Segment(m.clone()).to_json()),
        })
        .collect()
}

#[cfg(test)]
mod tests;
