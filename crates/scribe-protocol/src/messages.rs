//! JSON text messages on the bot and viewer sockets.

use serde::{Deserialize, Serialize};

/// A control message from a bot (a text frame).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BotControl {
    /// No audio for a while; keep the session open.
    KeepAlive,
    /// Finish the current utterance now; the session stays open.
    Finalize,
    /// No more audio: transcribe what is buffered, send the last results and close.
    CloseStream,
}

/// A text frame that is not a valid control message; `Display` says why without echoing it.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ControlError {
    #[error("control message is not a JSON object with a string \"type\"")]
    Malformed,
    #[error("unknown control message type {0:?}: expected KeepAlive, Finalize or CloseStream")]
    UnknownType(String),
}

impl BotControl {
    /// Parses a text frame. Unknown extra fields are ignored (bots written for other services
    /// send them); an unknown `type` is an error.
    pub fn parse(text: &str) -> Result<Self, ControlError> {
        #[derive(Deserialize)]
        struct Raw {
            #[serde(rename = "type")]
            kind: String,
        }
        let raw: Raw = serde_json::from_str(text).map_err(|_| ControlError::Malformed)?;
        match raw.kind.as_str() {
            "KeepAlive" => Ok(Self::KeepAlive),
            "Finalize" => Ok(Self::Finalize),
            "CloseStream" => Ok(Self::CloseStream),
            other => Err(ControlError::UnknownType(other.chars().take(32).collect())),
        }
    }

    /// The JSON text of this control message.
    pub fn to_json(self) -> &'static str {
        match self {
            Self::KeepAlive => r#"{"type":"KeepAlive"}"#,
            Self::Finalize => r#"{"type":"Finalize"}"#,
            Self::CloseStream => r#"{"type":"CloseStream"}"#,
        }
    }
}

/// One word of a segment.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct WordMessage {
    pub word: String,
    pub start_ms: u64,
    pub end_ms: u64,
    pub confidence: f32,
}

/// A transcript segment, partial or final.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct SegmentMessage {
    pub meeting_id: String,
    pub stream_id: String,
    pub segment_id: String,
    /// Increases by one per message within a meeting.
    pub seq: u64,
    pub is_final: bool,
    pub start_ms: u64,
    pub end_ms: u64,
    pub text: String,
    pub words: Vec<WordMessage>,
    pub speaker: Option<String>,
    pub language: String,
}

/// Session opened (first message to a bot) or closed (last message).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetadataMessage {
    pub meeting_id: String,
    pub stream_id: String,
    /// Present to bots only: reconnect with `?resume_token=…` to continue this stream.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resume_token: Option<String>,
    /// Audio received so far (stream time).
    pub duration_ms: u64,
    /// Extension: stream time up to which the server has committed every final and needs no
    /// audio again. A bot that resumes with `resume_token` sends its audio again from here
    /// (the first `metadata` of a resumed session carries it). Never decreases.
    #[serde(default)]
    pub acked_audio_ms: u64,
    /// Final segments produced so far on this stream.
    pub segments: u64,
}

/// An error, sent just before a close frame with a 4xxx code.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorMessage {
    pub code: String,
    pub message: String,
}

/// First message to a viewer: everything final so far plus the current partials.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct SnapshotMessage {
    pub meeting_id: String,
    /// The `seq` of the newest message included.
    pub seq: u64,
    pub segments: Vec<SegmentMessage>,
    pub partials: Vec<SegmentMessage>,
}

/// Everything the server sends as a text frame.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMessage {
    Segment(SegmentMessage),
    Metadata(MetadataMessage),
    Error(ErrorMessage),
    Snapshot(SnapshotMessage),
}

impl ServerMessage {
    /// The JSON text frame.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("wire messages hold only strings and numbers")
    }
}

// Debug output never carries transcript text (it may reach logs).
impl std::fmt::Debug for WordMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WordMessage")
            .field("start_ms", &self.start_ms)
            .field("end_ms", &self.end_ms)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for SegmentMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SegmentMessage")
            .field("meeting_id", &self.meeting_id)
            .field("segment_id", &self.segment_id)
            .field("seq", &self.seq)
            .field("is_final", &self.is_final)
            .field("start_ms", &self.start_ms)
            .field("end_ms", &self.end_ms)
            .field("chars", &self.text.chars().count())
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for SnapshotMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SnapshotMessage")
            .field("meeting_id", &self.meeting_id)
            .field("seq", &self.seq)
            .field("segments", &self.segments.len())
            .field("partials", &self.partials.len())
            .finish()
    }
}

impl std::fmt::Debug for ServerMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Segment(s) => s.fmt(f),
            Self::Metadata(m) => m.fmt(f),
            Self::Error(e) => e.fmt(f),
            Self::Snapshot(s) => s.fmt(f),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segment() -> SegmentMessage {
        SegmentMessage {
            meeting_id: "m".into(),
            stream_id: "s".into(),
            segment_id: "g".into(),
            seq: 42,
            is_final: true,
            start_ms: 12_340,
            end_ms: 15_020,
            text: "ask not what your country can do".into(),
            words: vec![WordMessage {
                word: "ask".into(),
                start_ms: 12_340,
                end_ms: 12_560,
                confidence: 0.93,
            }],
            speaker: None,
            language: "en".into(),
        }
    }

    #[test]
    fn segment_matches_the_documented_shape() {
        let v: serde_json::Value =
            serde_json::from_str(&ServerMessage::Segment(segment()).to_json()).expect("json");
        let expected = serde_json::json!({
            "type": "segment", "meeting_id": "m", "stream_id": "s", "segment_id": "g",
            "seq": 42, "is_final": true, "start_ms": 12340, "end_ms": 15020,
            "text": "ask not what your country can do",
            "words": [{"word": "ask", "start_ms": 12340, "end_ms": 12560, "confidence": 0.93}],
            "speaker": null, "language": "en"
        });
        // f32 confidence widens in JSON; compare it loosely and the rest exactly.
        let conf = v["words"][0]["confidence"].as_f64().expect("number");
        assert!((conf - 0.93).abs() < 1e-6);
        let mut v = v;
        v["words"][0]["confidence"] = expected["words"][0]["confidence"].clone();
        assert_eq!(v, expected);
    }

    #[test]
    fn metadata_omits_resume_token_for_viewers() {
        let m = MetadataMessage {
            meeting_id: "m".into(),
            stream_id: "s".into(),
            resume_token: None,
            duration_ms: 5,
            acked_audio_ms: 3,
            segments: 1,
        };
        let json = ServerMessage::Metadata(m).to_json();
        assert!(json.starts_with(r#"{"type":"metadata""#), "{json}");
        assert!(!json.contains("resume_token"));
    }

    #[test]
    fn control_messages_parse_and_unknown_ones_are_named() {
        assert_eq!(
            BotControl::parse(r#"{"type":"KeepAlive"}"#),
            Ok(BotControl::KeepAlive)
        );
        assert_eq!(
            BotControl::parse(r#"{"type":"Finalize","extra":1}"#),
            Ok(BotControl::Finalize)
        );
        assert_eq!(
            BotControl::parse(BotControl::CloseStream.to_json()),
            Ok(BotControl::CloseStream)
        );
        assert_eq!(
            BotControl::parse(r#"{"type":"Explode"}"#),
            Err(ControlError::UnknownType("Explode".into()))
        );
        for bad in ["", "null", "[]", r#"{"type":3}"#, "{not json"] {
            assert_eq!(
                BotControl::parse(bad),
                Err(ControlError::Malformed),
                "{bad}"
            );
        }
    }

    #[test]
    fn debug_hides_text() {
        let shown = format!("{:?}", ServerMessage::Segment(segment()));
        assert!(
            !shown.contains("country") && !shown.contains("ask"),
            "{shown}"
        );
    }
}
