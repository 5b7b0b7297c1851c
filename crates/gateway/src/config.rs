//! The gateway's settings: WebSocket limits and timeouts (PROTOCOL.md §1), streaming and
//! language. The binary maps its configuration file onto these; tests build them directly.

use std::time::Duration;

use audio_ingest::StreamConfig;
use scribe_auth::LockoutPolicy;

/// Limits and timeouts of one WebSocket connection.
#[derive(Clone, Debug, PartialEq)]
pub struct WsLimits {
    /// Largest text message accepted (64 KiB).
    pub max_text_bytes: usize,
    /// Largest binary message accepted (10 MiB).
    pub max_binary_bytes: usize,
    /// Text messages per second a bot may send (a burst of this many is allowed).
    pub text_per_sec: u32,
    /// Binary messages per second a bot may send.
    pub binary_per_sec: u32,
    /// How far audio may run ahead of real time before the bot is closed with 4029.
    pub realtime_burst: Duration,
    /// Longest session (8 h); the bot is told and closed, and may resume.
    pub session_max: Duration,
    /// A ping every this long (30 s).
    pub ping_interval: Duration,
    /// A connection that has not answered a ping within this long is dropped (10 s).
    pub pong_timeout: Duration,
    /// A bot that sends neither audio nor `KeepAlive` for this long is closed (4008).
    pub idle_timeout: Duration,
    /// A send to a client that does not read for this long ends its connection.
    pub send_timeout: Duration,
}

impl Default for WsLimits {
    fn default() -> Self {
        Self {
            max_text_bytes: 64 * 1024,
            max_binary_bytes: 10 * 1024 * 1024,
            text_per_sec: 100,
            binary_per_sec: 50,
            realtime_burst: Duration::from_secs(10),
            session_max: Duration::from_secs(8 * 3600),
            ping_interval: Duration::from_secs(30),
            pong_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(30),
            send_timeout: Duration::from_secs(10),
        }
    }
}

/// Everything the live-transcription edge needs besides its collaborators.
#[derive(Clone, Debug)]
pub struct GatewayConfig {
    pub ws: WsLimits,
    /// Utterance segmentation and decode stepping of every stream.
    pub stream: StreamConfig,
    /// Spoken language passed to the engine (`en` for English-only models).
    pub language: String,
    /// Browser origins allowed to open viewer sockets besides the service's own.
    pub allowed_origins: Vec<String>,
    /// Where uploaded recordings wait for their job (created 0700).
    pub uploads_dir: std::path::PathBuf,
    /// Largest recording accepted (500 MB).
    pub max_upload_bytes: u64,
    /// Beam width for recordings (they are not latency-bound: default 5).
    pub recording_beam_size: u32,
    /// Longest piece a recording is decoded in (cut at a pause; Whisper's window is 30 s).
    pub recording_max_utterance_ms: u64,
    /// Requests allowed per client address and in all, by category.
    pub rate_limits: crate::ratelimit::RateLimitConfig,
    /// Proxies whose `X-Forwarded-For` names the client (CIDR ranges); empty = none.
    pub trusted_proxies: Vec<scribe_auth::IpNetwork>,
    /// Account lockout after repeated failures.
    pub lockout: LockoutPolicy,
    /// How long an invitation can be accepted.
    pub invite_ttl: Duration,
}

impl Default for GatewayConfig {
    fn default() -> Self {
        Self {
            ws: WsLimits::default(),
            stream: StreamConfig::default(),
            language: "en".to_owned(),
            allowed_origins: Vec::new(),
            uploads_dir: std::path::PathBuf::from("data/uploads"),
            max_upload_bytes: MAX_UPLOAD_BYTES,
            recording_beam_size: 5,
            recording_max_utterance_ms: RECORDING_MAX_UTTERANCE_MS,
            rate_limits: crate::ratelimit::RateLimitConfig::default(),
            trusted_proxies: Vec::new(),
            lockout: LockoutPolicy::default(),
            invite_ttl: DEFAULT_INVITE_TTL,
        }
    }
}

/// How long an invitation lasts by default: 72 hours.
pub const DEFAULT_INVITE_TTL: Duration = Duration::from_secs(72 * 3600);

/// Largest recording accepted by default: 500 MB (decimal, as people read it).
pub const MAX_UPLOAD_BYTES: u64 = 500_000_000;

/// Longest piece of a recording decoded at once: under Whisper's 30 s window, cut at a pause.
pub const RECORDING_MAX_UTTERANCE_MS: u64 = 28_000;
