//! A unit of engine work asked for by a [`StreamSession`](super::StreamSession).

use scribe_core::MonoAudio;

/// Identifies a decode request within its session.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestId(pub u64);

/// Audio to decode, with everything the engine needs: run it with `prompt` as the conditioning
/// text (Whisper's initial prompt) and hand the transcript, timed from the start of `audio`, to
/// [`StreamSession::apply`](super::StreamSession::apply) with `id`.
///
/// Holds speech and transcript text, so its `Debug` shows only ids, times and sizes.
pub struct DecodeRequest {
    pub id: RequestId,
    /// The utterance from its start (pre-roll included) up to its newest speech plus post-roll.
    pub audio: MonoAudio,
    /// The stream's committed text before this utterance (at most `context_chars`), or `None`
    /// at the start of a stream.
    pub prompt: Option<String>,
    /// Stream time of `audio`'s first sample.
    pub start_ms: u64,
    /// The utterance has ended: this is its last decode and everything it returns becomes
    /// final. A scheduler may give these priority (a viewer waits for them).
    pub is_final: bool,
}

impl std::fmt::Debug for DecodeRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DecodeRequest")
            .field("id", &self.id)
            .field("start_ms", &self.start_ms)
            .field("audio_ms", &self.audio.duration_ms())
            .field(
                "prompt_chars",
                &self.prompt.as_ref().map(|p| p.chars().count()),
            )
            .field("is_final", &self.is_final)
            .finish()
    }
}
