//! Wire ids of a stream's segments. The streaming core numbers segments per stream
//! (0, 1, 2, …); on the wire a segment id must be unique in the meeting and stable across a
//! bot's reconnects, and a resumed stream must continue the numbering. So the id is a UUID
//! (version 8, "custom") made of the stream id's first 64 bits and the counter: the counter
//! can be read back from stored finals, with no extra column.

use scribe_core::{SegmentId, StreamId};
use uuid::Uuid;

/// Counters use the low 62 bits (the top two carry the UUID variant).
const COUNTER_MASK: u64 = (1 << 62) - 1;
const VARIANT_BITS: u64 = 0b10 << 62;

fn stream_high(stream: StreamId) -> u64 {
    let (high, _) = stream.as_uuid().as_u64_pair();
    // Version 8 in bits 48..52 of the high half.
    (high & !0xF000) | 0x8000
}

/// The wire id of segment number `counter` of `stream`.
pub fn segment_wire_id(stream: StreamId, counter: u64) -> SegmentId {
    let low = VARIANT_BITS | (counter & COUNTER_MASK);
    SegmentId::from_uuid(Uuid::from_u64_pair(stream_high(stream), low))
}

/// The counter inside `id` if it is a segment id of `stream`.
pub fn wire_segment_counter(stream: StreamId, id: SegmentId) -> Option<u64> {
    let (high, low) = id.as_uuid().as_u64_pair();
    (high == stream_high(stream) && low & !COUNTER_MASK == VARIANT_BITS)
        .then_some(low & COUNTER_MASK)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_are_valid_version_8_uuids() {
        let s = StreamId::generate();
        for n in [0, 1, 41, COUNTER_MASK] {
            let id = segment_wire_id(s, n);
            assert_eq!(id.as_uuid().get_version_num(), 8);
            assert_eq!(id.as_uuid().get_variant(), uuid::Variant::RFC4122);
            assert_eq!(wire_segment_counter(s, id), Some(n));
        }
        let other = StreamId::generate();
        assert_eq!(wire_segment_counter(other, segment_wire_id(s, 3)), None);
        assert_ne!(segment_wire_id(s, 1), segment_wire_id(s, 2));
    }
}
