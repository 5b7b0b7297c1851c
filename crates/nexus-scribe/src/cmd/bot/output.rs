//! Standard output: every text frame from the server, one JSON line each, nothing else.

use std::borrow::Cow;
use std::io::Write;

use anyhow::Context as _;
use scribe_protocol::{ErrorMessage, MetadataMessage, ServerMessage};

/// What a text frame means to the bot.
pub enum Frame {
    Metadata(MetadataMessage),
    Error(ErrorMessage),
    /// Segments and anything newer than this bot: printed, otherwise ignored.
    Other,
}

/// Reads the `type` of a text frame.
pub fn classify(text: &str) -> Frame {
    match serde_json::from_str::<ServerMessage>(text) {
        Ok(ServerMessage::Metadata(m)) => Frame::Metadata(m),
        Ok(ServerMessage::Error(e)) => Frame::Error(e),
        Ok(_) => Frame::Other,
        Err(_) => {
            // A message this bot relies on but cannot read deserves a word on stderr (without
            // serde's error, which can quote values such as the resume token); unknown types
            // are fine.
            #[derive(serde::Deserialize)]
            struct Tag {
                #[serde(rename = "type")]
                kind: String,
            }
            if let Ok(Tag { kind }) = serde_json::from_str::<Tag>(text) {
                if kind == "metadata" || kind == "error" {
                    tracing::warn!("cannot read a {kind} message from the server");
                }
            }
            Frame::Other
        }
    }
}

/// The stdout line for a text frame: the frame exactly as sent, or, in the unlikely case that it
/// spans several lines, the same JSON made compact. `None` for a frame that is not JSON.
pub fn json_line(text: &str) -> Option<Cow<'_, str>> {
    let value: serde_json::Value = serde_json::from_str(text).ok()?;
    if text.contains(['\n', '\r']) {
        Some(Cow::Owned(value.to_string()))
    } else {
        Some(Cow::Borrowed(text))
    }
}

/// Writes received frames as lines and flushes each, so a reader sees them as they arrive.
pub struct Printer<W: Write> {
    out: W,
}

impl<W: Write> Printer<W> {
    pub fn new(out: W) -> Self {
        Self { out }
    }

    /// The writer, for tests to read back.
    #[cfg(test)]
    pub fn into_inner(self) -> W {
        self.out
    }

    /// Prints one text frame. A frame that is not JSON is reported on stderr (by size only) and
    /// skipped, so stdout stays valid JSON Lines.
    pub fn frame(&mut self, text: &str) -> anyhow::Result<()> {
        let Some(line) = json_line(text) else {
            tracing::warn!(bytes = text.len(), "skipped a text frame that is not JSON");
            return Ok(());
        };
        self.out
            .write_all(line.as_bytes())
            .and_then(|()| self.out.write_all(b"\n"))
            .and_then(|()| self.out.flush())
            .context("writing to standard output")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_printed_verbatim_one_per_line() {
        let mut p = Printer::new(Vec::new());
        let a = r#"{"type":"metadata","meeting_id":"m", "odd_spacing" : 1}"#;
        let b = "{\n  \"type\": \"segment\"\n}";
        p.frame(a).expect("print");
        p.frame("not json").expect("skipped");
        p.frame(b).expect("print");
        let text = String::from_utf8(p.out).expect("utf-8");
        assert_eq!(text, format!("{a}\n{{\"type\":\"segment\"}}\n"));
    }

    #[test]
    fn metadata_and_errors_are_recognised_and_unknown_types_tolerated() {
        let meta = r#"{"type":"metadata","meeting_id":"m","stream_id":"s","resume_token":"r",
            "duration_ms":0,"acked_audio_ms":1200,"segments":0,"future_field":true}"#;
        assert!(matches!(classify(meta), Frame::Metadata(m) if m.acked_audio_ms == 1200));
        // A server that predates acked_audio_ms: resume from 0.
        let old =
            r#"{"type":"metadata","meeting_id":"m","stream_id":"s","duration_ms":0,"segments":0}"#;
        assert!(matches!(classify(old), Frame::Metadata(m) if m.acked_audio_ms == 0));
        let err = r#"{"type":"error","code":"at_capacity","message":"try later"}"#;
        assert!(matches!(classify(err), Frame::Error(e) if e.code == "at_capacity"));
        assert!(matches!(
            classify(r#"{"type":"utterance_end"}"#),
            Frame::Other
        ));
    }
}
