//! What the streaming core tells the outside: final segments (never changed again) and the
//! current partial (revisable, same id until it becomes final). `Debug` shows times, sizes and
//! ids only (`scribe_core::Segment` hides its text).

use scribe_core::Segment;

use super::segmenter::EndReason;

/// A segment's identity within one stream: a counter from the stream's first id. The gateway
/// maps it to its wire id.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SegmentId(pub u64);

/// Words that will never change. Times are stream milliseconds.
///
/// `id` is the id of the partial it replaces when there was one (a viewer swaps that partial
/// for this final), else a fresh id.
#[derive(Clone, Debug, PartialEq)]
pub struct FinalSegment {
    pub id: SegmentId,
    pub segment: Segment,
}

/// The uncommitted words of the utterance being transcribed. A later partial with the same `id`
/// replaces it; a [`FinalSegment`] with the same `id` ends it. Empty `segment.words` withdraws
/// it (the engine no longer hears those words): viewers remove it, the id stays in use.
#[derive(Clone, Debug, PartialEq)]
pub struct PartialSegment {
    pub id: SegmentId,
    pub segment: Segment,
}

impl PartialSegment {
    /// True when this partial withdraws the previous one (no words).
    pub fn is_withdrawal(&self) -> bool {
        self.segment.words.is_empty()
    }
}

/// The outcome of one step. Send `finals` first, in order, then `partial`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Update {
    /// New final segments, in stream order.
    pub finals: Vec<FinalSegment>,
    /// The new state of the partial, or `None` when it did not change.
    pub partial: Option<PartialSegment>,
    /// Set when this update holds the last words of an utterance, with why it ended (Deepgram's
    /// `speech_final` is `Silence`; `from_finalize` is `Finalize`).
    pub utterance_end: Option<EndReason>,
}

impl Update {
    /// True when there is nothing to send.
    pub fn is_empty(&self) -> bool {
        self.finals.is_empty() && self.partial.is_none() && self.utterance_end.is_none()
    }

    /// Appends a later update, keeping the result equivalent to sending both in order.
    pub fn merge(&mut self, later: Update) {
        let ends_partial = |p: &PartialSegment| later.finals.iter().any(|f| f.id == p.id);
        if later.partial.is_some() {
            self.partial = later.partial;
        } else if self.partial.as_ref().is_some_and(ends_partial) {
            self.partial = None;
        }
        self.finals.extend(later.finals);
        if later.utterance_end.is_some() {
            self.utterance_end = later.utterance_end;
        }
    }

    /// The text of all finals, joined by spaces (for tests and tools; never log it).
    pub fn final_text(&self) -> String {
        let parts: Vec<&str> = self
            .finals
            .iter()
            .map(|f| f.segment.text.as_str())
            .collect();
        parts.join(" ")
    }
}
