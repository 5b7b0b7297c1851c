//! Rendering a [`Transcript`] as plain text, JSON, SubRip (SRT) or WebVTT.

use std::fmt::Write as _;
use std::str::FromStr;

use crate::Transcript;

/// An output format for transcripts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Txt,
    Json,
    Srt,
    Vtt,
}

impl Format {
    /// Usual file extension.
    pub fn extension(self) -> &'static str {
        match self {
            Self::Txt => "txt",
            Self::Json => "json",
            Self::Srt => "srt",
            Self::Vtt => "vtt",
        }
    }
}

/// The named format is not one of `txt`, `json`, `srt`, `vtt`.
#[derive(Debug, thiserror::Error)]
#[error("unknown format {0:?}: expected one of txt, json, srt, vtt")]
pub struct UnknownFormat(String);

impl FromStr for Format {
    type Err = UnknownFormat;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "txt" | "text" => Ok(Self::Txt),
            "json" => Ok(Self::Json),
            "srt" => Ok(Self::Srt),
            "vtt" | "webvtt" => Ok(Self::Vtt),
            _ => Err(UnknownFormat(s.to_owned())),
        }
    }
}

/// Renders `t` in `format`. JSON is a single object without a trailing newline; the others end
/// with a newline.
pub fn render(t: &Transcript, format: Format) -> String {
    match format {
        Format::Txt => {
            let mut s = t.text();
            s.push('\n');
            s
        }
        Format::Json => serde_json::to_string(&JsonTranscript::from(t))
            .expect("a transcript of strings and numbers always serialises"),
        Format::Srt => cues(t, "", ','),
        Format::Vtt => cues(t, "WEBVTT\n\n", '.'),
    }
}

#[derive(serde::Serialize)]
struct JsonTranscript<'a> {
    text: String,
    language: &'a str,
    duration_ms: u64,
    segments: &'a [crate::Segment],
}

impl<'a> From<&'a Transcript> for JsonTranscript<'a> {
    fn from(t: &'a Transcript) -> Self {
        Self {
            text: t.text(),
            language: &t.language,
            duration_ms: t.duration_ms,
            segments: &t.segments,
        }
    }
}

fn cues(t: &Transcript, header: &str, frac_sep: char) -> String {
    let mut out = String::from(header);
    let mut n = 0;
    for seg in &t.segments {
        let text = seg.text.trim();
        if text.is_empty() {
            continue;
        }
        n += 1;
        // A cue must not end before it starts; zero-length cues are stretched to 1 ms.
        let end = seg.end_ms.max(seg.start_ms + 1);
        if frac_sep == ',' {
            let _ = writeln!(out, "{n}");
        }
        let _ = writeln!(
            out,
            "{} --> {}",
            timestamp(seg.start_ms, frac_sep),
            timestamp(end, frac_sep)
        );
        // A blank line ends a cue, so text may not contain one.
        let _ = writeln!(out, "{}\n", text.replace("\n\n", "\n"));
    }
    out
}

/// `HH:MM:SS<sep>mmm`, as SRT (`,`) and WebVTT (`.`) require.
pub fn timestamp(ms: u64, frac_sep: char) -> String {
    let h = ms / 3_600_000;
    let m = ms / 60_000 % 60;
    let s = ms / 1000 % 60;
    let milli = ms % 1000;
    format!("{h:02}:{m:02}:{s:02}{frac_sep}{milli:03}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Segment;

    fn sample() -> Transcript {
        let seg = |a, b, s: &str| Segment {
            start_ms: a,
            end_ms: b,
            text: s.into(),
            words: vec![],
        };
        Transcript {
            segments: vec![
                seg(0, 2_500, " Hello there."),
                seg(2_500, 2_500, "   "),
                seg(3_723_004, 3_725_010, "Later on."),
            ],
            language: "en".into(),
            duration_ms: 3_725_010,
        }
    }

    #[test]
    fn timestamps_roll_over_hours() {
        assert_eq!(timestamp(0, ','), "00:00:00,000");
        assert_eq!(timestamp(3_723_004, '.'), "01:02:03.004");
        assert_eq!(timestamp(59_999, ','), "00:00:59,999");
    }

    #[test]
    fn srt_numbers_cues_and_skips_empty_segments() {
        let srt = render(&sample(), Format::Srt);
        assert_eq!(
            srt,
            "1\n00:00:00,000 --> 00:00:02,500\nHello there.\n\n\
             2\n01:02:03,004 --> 01:02:05,010\nLater on.\n\n"
        );
    }

    #[test]
    fn vtt_has_header_and_dot_separator() {
        let vtt = render(&sample(), Format::Vtt);
        assert!(vtt.starts_with("WEBVTT\n\n00:00:00.000 --> 00:00:02.500\nHello there.\n\n"));
        assert!(!vtt.contains(','));
    }

    #[test]
    fn json_carries_text_and_segments() {
        let v: serde_json::Value =
            serde_json::from_str(&render(&sample(), Format::Json)).expect("valid json");
        assert_eq!(v["text"], "Hello there. Later on.");
        assert_eq!(v["segments"][2]["start_ms"], 3_723_004);
        assert_eq!(v["language"], "en");
    }

    #[test]
    fn format_names_parse() {
        assert_eq!("SRT".parse::<Format>().ok(), Some(Format::Srt));
        let err = "docx".parse::<Format>().expect_err("not a format");
        assert!(err.to_string().contains("docx"));
    }
}
