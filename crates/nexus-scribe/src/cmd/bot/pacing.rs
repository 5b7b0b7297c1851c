//! When each chunk of audio is due. Pure: every answer is computed from fixed anchors and a sample
//! position, never by adding up sleeps, so an hour of audio does not drift.

use std::time::Duration;

use tokio::time::Instant;

/// Samples per second of the audio the bot sends (16 kHz mono).
pub const RATE: u64 = 16_000;
/// Samples per millisecond.
pub const SAMPLES_PER_MS: u64 = RATE / 1000;
/// The server accepts 50 binary messages a second (PROTOCOL.md §1); stay below that when a burst
/// of audio is due at once.
const MIN_GAP: Duration = Duration::from_millis(25);

/// Stream time of a sample position.
pub fn duration_of(samples: usize) -> Duration {
    Duration::from_nanos(samples as u64 * (1_000_000_000 / RATE))
}

/// Stream milliseconds of a sample position (rounded down).
pub fn ms_of(samples: usize) -> u64 {
    samples as u64 / SAMPLES_PER_MS
}

/// Where to send audio from when the server reports `acked_audio_ms`: that sample, or the end of
/// the file if the server already has it all.
pub fn resume_sample(acked_audio_ms: u64, total_samples: usize) -> usize {
    usize::try_from(acked_audio_ms.saturating_mul(SAMPLES_PER_MS))
        .unwrap_or(usize::MAX)
        .min(total_samples)
}

/// Decides when the audio starting at a sample position may be sent.
///
/// Two bounds, the later one wins:
/// - with `--realtime`, sample `p` is due at `origin + p / 16 kHz`, the origin being fixed when
///   the first connection opens (a resumed connection catches up, it does not restart the clock);
/// - on every connection, the audio sent must not run more than `max_ahead` ahead of the time
///   since that connection opened (the server's real-time check, with margin). Without
///   `--realtime` this is the only bound: audio goes as fast as the server allows. With it, this
///   bound only matters after a resume, when the replayed audio catches up with the schedule;
///
/// and consecutive messages are at least `min(chunk, 25 ms)` apart.
#[derive(Clone, Debug)]
pub struct Pacer {
    realtime: bool,
    max_ahead: Duration,
    min_gap: Duration,
    /// Instant and position that anchor the real-time schedule.
    origin: Option<(Instant, usize)>,
    /// Instant the current connection opened and the position it started from.
    connection: (Instant, usize),
    last_send: Option<Instant>,
}

impl Pacer {
    pub fn new(realtime: bool, max_ahead: Duration, chunk: Duration) -> Self {
        let now = Instant::now();
        Self {
            realtime,
            max_ahead,
            min_gap: chunk.min(MIN_GAP),
            origin: None,
            connection: (now, 0),
            last_send: None,
        }
    }

    /// A connection opened at `at` and will send from sample `from`.
    pub fn connected(&mut self, at: Instant, from: usize) {
        self.connection = (at, from);
        self.last_send = None;
        if self.origin.is_none() {
            self.origin = Some((at, from));
        }
    }

    /// When the audio `[from, from + len)` may be sent. For the end of the stream (`CloseStream`)
    /// pass `len = 0`: with `--realtime` it is due when the last sample has been played.
    pub fn due(&self, from: usize, len: usize) -> Instant {
        let (conn_at, conn_from) = self.connection;
        // Audio on this connection once this message is sent, minus the allowed lead.
        let sent_after = duration_of((from + len).saturating_sub(conn_from));
        let mut due = conn_at + sent_after.saturating_sub(self.max_ahead);
        if self.realtime {
            if let Some((origin_at, origin_from)) = self.origin {
                let rt = match from.checked_sub(origin_from) {
                    Some(d) => origin_at + duration_of(d),
                    None => origin_at,
                };
                due = due.max(rt);
            }
        }
        if let Some(last) = self.last_send {
            due = due.max(last + self.min_gap);
        }
        due
    }

    /// A message was sent at `at`.
    pub fn sent(&mut self, at: Instant) {
        self.last_send = Some(at);
    }
}

/// Delay before reconnection attempt `attempt` (1-based): 0.5 s, 1 s, 2 s, … capped at 30 s.
pub fn backoff(attempt: u32) -> Duration {
    let exp = attempt.saturating_sub(1).min(16);
    Duration::from_millis(500u64.saturating_mul(1 << exp)).min(Duration::from_secs(30))
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHUNK: usize = 1600; // 100 ms
    const MS: Duration = Duration::from_millis(1);

    fn pacer(realtime: bool, max_ahead_ms: u64) -> (Pacer, Instant) {
        let mut p = Pacer::new(
            realtime,
            Duration::from_millis(max_ahead_ms),
            Duration::from_millis(100),
        );
        let t0 = Instant::now();
        p.connected(t0, 0);
        (p, t0)
    }

    #[test]
    fn realtime_schedules_chunk_k_at_k_chunks_without_drift() {
        let (mut p, t0) = pacer(true, 5000);
        assert_eq!(p.due(0, CHUNK), t0);
        // Sends happen late (a slow machine); the schedule does not slide.
        p.sent(t0 + 30 * MS);
        assert_eq!(p.due(CHUNK, CHUNK), t0 + 100 * MS);
        // CloseStream is due when the last sample has played.
        assert_eq!(p.due(20 * CHUNK, 0), t0 + Duration::from_secs(2));
        // An hour in, chunk k is still due at exactly k × 100 ms.
        let hour = 36_000 * CHUNK;
        p.sent(t0 + Duration::from_millis(3_599_950));
        assert_eq!(p.due(hour, CHUNK), t0 + Duration::from_secs(3600));
    }

    #[test]
    fn fast_mode_bursts_max_ahead_then_follows_the_clock() {
        let (mut p, t0) = pacer(false, 5000);
        // The first 5 s may go at once (spaced for the message-rate limit)…
        assert_eq!(p.due(0, CHUNK), t0);
        p.sent(t0);
        assert_eq!(p.due(CHUNK, CHUNK), t0 + 25 * MS);
        p.sent(t0 + 25 * MS);
        let p2 = p.clone();
        assert_eq!(p2.due(49 * CHUNK, CHUNK), t0 + 25 * MS + 25 * MS);
        // …after that audio never runs more than 5 s ahead of the wall clock.
        assert_eq!(p.due(50 * CHUNK, CHUNK), t0 + 100 * MS);
        assert_eq!(
            p.due(600 * CHUNK, CHUNK),
            t0 + Duration::from_secs(55) + 100 * MS
        );
    }

    #[test]
    fn a_resumed_connection_is_bounded_from_its_own_start() {
        let (mut p, t0) = pacer(false, 5000);
        let t1 = t0 + Duration::from_secs(100);
        let acked = resume_sample(40_000, usize::MAX);
        p.connected(t1, acked);
        assert_eq!(p.due(acked, CHUNK), t1, "no waiting for audio sent before");
        assert_eq!(
            p.due(acked + 60 * CHUNK, CHUNK),
            t1 + Duration::from_millis(1100)
        );
    }

    #[test]
    fn realtime_after_a_resume_catches_up_no_faster_than_the_server_allows() {
        let (mut p, t0) = pacer(true, 5000);
        // Dropped at 10 s of audio, reconnected 12 s after the start, server acked 6 s: 6..12 s is
        // overdue on the schedule and goes at once up to the 5 s lead…
        let t1 = t0 + Duration::from_secs(12);
        p.connected(t1, 60 * CHUNK);
        assert_eq!(p.due(60 * CHUNK, CHUNK), t1);
        assert_eq!(p.due(109 * CHUNK, CHUNK), t1);
        assert_eq!(p.due(110 * CHUNK, CHUNK), t1 + 100 * MS);
        // …then follows the clock: 1.1 s behind the original schedule (outage + replay − lead).
        assert_eq!(
            p.due(200 * CHUNK, CHUNK),
            t0 + Duration::from_millis(21_100)
        );
        // A short outage is fully absorbed: back on the original schedule.
        let (mut p, t0) = pacer(true, 5000);
        p.connected(t0 + Duration::from_millis(10_500), 80 * CHUNK);
        assert_eq!(p.due(200 * CHUNK, CHUNK), t0 + Duration::from_secs(20));
    }

    #[test]
    fn acked_ms_maps_to_sample_index_and_is_clamped_to_the_file() {
        assert_eq!(resume_sample(0, 48_000), 0);
        assert_eq!(resume_sample(600, 48_000), 9_600);
        assert_eq!(resume_sample(3_000, 48_000), 48_000);
        assert_eq!(resume_sample(u64::MAX, 48_000), 48_000);
        assert_eq!(ms_of(9_600), 600);
        assert_eq!(duration_of(16_000), Duration::from_secs(1));
    }

    #[test]
    fn backoff_doubles_from_half_a_second_and_is_capped() {
        let secs: Vec<f64> = (1..=5).map(|a| backoff(a).as_secs_f64()).collect();
        assert_eq!(secs, [0.5, 1.0, 2.0, 4.0, 8.0]);
        assert_eq!(backoff(40), Duration::from_secs(30));
        assert_eq!(backoff(0), Duration::from_millis(500));
    }
}
