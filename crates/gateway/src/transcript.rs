//! `GET /api/v1/meetings/{id}/transcript?format=json|txt|srt|vtt` (PROTOCOL.md §4): a meeting's
//! stored finals as a document.
//!
//! Live finals are small (a few words each, as local agreement settles them), so they are
//! grouped into readable lines first: a line ends at a pause, at the end of a sentence once it
//! has some length, at a change of stream or speaker, or when it would no longer fit a
//! two-line subtitle.

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use scribe_core::render::{render, Format};
use scribe_core::{ErrorCode, Segment, Transcript};
use transcript_storage::{StoredFinal, UnreadableFinal};

use crate::access::MeetingAccess;
use crate::app::AppState;
use crate::auth;
use crate::error::ApiError;

/// A silence longer than this between two finals starts a new line.
const PAUSE_MS: u64 = 1_500;
/// A line that ends a sentence and is at least this long ends there.
const SENTENCE_MIN_MS: u64 = 1_000;
/// Longest line: about what two subtitle lines show for long enough to read.
const MAX_LINE_MS: u64 = 7_000;
const MAX_LINE_CHARS: usize = 84;

/// The handler. The only query parameter is `format` (default `json`); anything else is
/// refused by name, so a typo does not silently give the default.
pub async fn export(
    State(app): State<AppState>,
    access: MeetingAccess,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    if let Some(unknown) = query.keys().find(|k| k.as_str() != "format") {
        let shown: String = unknown.chars().take(40).collect();
        return Err(ApiError::new(
            ErrorCode::BadRequest,
            format!("unknown query parameter `{shown}`: the only one is `format`"),
        ));
    }
    let format = match query.get("format").map(|f| f.to_ascii_lowercase()) {
        None => Format::Json,
        Some(f) if matches!(f.as_str(), "json" | "txt" | "srt" | "vtt") => {
            f.parse().map_err(|_| bad_format())?
        }
        Some(_) => return Err(bad_format()),
    };
    let meeting = access.meeting;
    let finals = app
        .store
        .list_finals(&access.principal.scope(), meeting.id)
        .await
        .map_err(|e| auth::store_error("transcript read", e))?;
    let (readable, unreadable): (Vec<_>, Vec<_>) = finals.into_iter().partition(Result::is_ok);
    let readable: Vec<StoredFinal> = readable.into_iter().filter_map(Result::ok).collect();
    let unreadable: Vec<UnreadableFinal> = unreadable.into_iter().filter_map(Result::err).collect();
    let mut transcript = group(&readable);
    mark_unreadable(&mut transcript, &unreadable);
    let body = match format {
        Format::Json => {
            let mut v: serde_json::Value =
                serde_json::from_str(&render(&transcript, format)).unwrap_or_default();
            if let Some(obj) = v.as_object_mut() {
                obj.insert("meeting_id".into(), meeting.id.to_string().into());
                obj.insert("title".into(), meeting.title.clone().into());
                obj.insert("last_seq".into(), meeting.last_seq.into());
                let gaps: Vec<serde_json::Value> = unreadable
                    .iter()
                    .map(|u| {
                        serde_json::json!({
                            "segment_id": u.id.to_string(),
                            "seq": u.seq,
                            "start_ms": u.start_ms,
                            "end_ms": u.end_ms,
                            "reason": u.reason,
                        })
                    })
                    .collect();
                obj.insert("unreadable".into(), gaps.into());
            }
            v.to_string()
        }
        _ => render(&transcript, format),
    };
    let content_type = match format {
        Format::Json => "application/json",
        Format::Txt => "text/plain; charset=utf-8",
        Format::Srt => "application/x-subrip; charset=utf-8",
        Format::Vtt => "text/vtt; charset=utf-8",
    };
    let disposition = format!(
        "attachment; filename=\"meeting-{}.{}\"",
        meeting.id,
        format.extension()
    );
    let mut res = body.into_response();
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(res)
}

/// Puts a visible marker where each unreadable final was: the gap and why, never made-up text.
fn mark_unreadable(transcript: &mut Transcript, unreadable: &[UnreadableFinal]) {
    if unreadable.is_empty() {
        return;
    }
    for u in unreadable {
        transcript.segments.push(Segment {
            start_ms: u.start_ms,
            end_ms: u.end_ms.max(u.start_ms),
            text: format!("[segment {} unreadable: {}]", u.seq, u.reason),
            words: Vec::new(),
        });
    }
    transcript.segments.sort_by_key(|s| s.start_ms);
    transcript.duration_ms = transcript
        .segments
        .iter()
        .map(|s| s.end_ms)
        .max()
        .unwrap_or(0);
}

fn bad_format() -> ApiError {
    ApiError::new(
        ErrorCode::BadRequest,
        "`format` must be one of json, txt, srt, vtt",
    )
}

/// Groups a meeting's finals (in seq order) into lines.
pub fn group(finals: &[StoredFinal]) -> Transcript {
    let mut lines: Vec<(Segment, &StoredFinal)> = Vec::new();
    for f in finals {
        let text = f.segment.text.trim();
        if text.is_empty() {
            continue;
        }
        let joins = lines.last().is_some_and(|(line, first)| {
            first.stream_id == f.stream_id
                && first.speaker == f.speaker
                && f.segment.start_ms <= line.end_ms + PAUSE_MS
                && !(ends_sentence(&line.text)
                    && line.end_ms.saturating_sub(line.start_ms) >= SENTENCE_MIN_MS)
                && f.segment.end_ms.saturating_sub(line.start_ms) <= MAX_LINE_MS
                && line.text.chars().count() + 1 + text.chars().count() <= MAX_LINE_CHARS
        });
        match lines.last_mut() {
            Some((line, _)) if joins => {
                line.text.push(' ');
                line.text.push_str(text);
                line.end_ms = line.end_ms.max(f.segment.end_ms);
                line.words.extend(f.segment.words.iter().cloned());
            }
            _ => lines.push((
                Segment {
                    start_ms: f.segment.start_ms,
                    end_ms: f.segment.end_ms.max(f.segment.start_ms),
                    text: text.to_owned(),
                    words: f.segment.words.clone(),
                },
                f,
            )),
        }
    }
    let language = finals
        .iter()
        .find_map(|f| f.language.clone())
        .unwrap_or_else(|| "en".into());
    let duration_ms = lines.iter().map(|(l, _)| l.end_ms).max().unwrap_or(0);
    Transcript {
        segments: lines.into_iter().map(|(l, _)| l).collect(),
        language,
        duration_ms,
    }
}

fn ends_sentence(text: &str) -> bool {
    text.trim_end_matches(['"', '\'', ')'])
        .ends_with(['.', '?', '!'])
}

#[cfg(test)]
mod tests {
    use scribe_core::{MeetingId, SegmentId, StreamId};

    use super::*;

    fn fin(stream: StreamId, seq: u64, start: u64, end: u64, text: &str) -> StoredFinal {
        StoredFinal {
            id: SegmentId::generate(),
            meeting_id: MeetingId::generate(),
            stream_id: stream,
            seq,
            segment: Segment {
                start_ms: start,
                end_ms: end,
                text: text.into(),
                words: Vec::new(),
            },
            speaker: None,
            language: Some("en".into()),
            created_at_ms: 0,
        }
    }

    #[test]
    fn an_unreadable_final_is_marked_in_place_and_the_rest_reads() {
        let s = StreamId::generate();
        let mut t = group(&[
            fin(s, 1, 0, 900, "Before the gap."),
            fin(s, 3, 5_000, 5_900, "After the gap."),
        ]);
        let gap = UnreadableFinal {
            id: SegmentId::generate(),
            meeting_id: MeetingId::generate(),
            stream_id: s,
            seq: 2,
            start_ms: 2_000,
            end_ms: 2_800,
            reason: "stored data is corrupt: a stored field failed its integrity check".into(),
        };
        mark_unreadable(&mut t, &[gap]);
        let texts: Vec<&str> = t.segments.iter().map(|l| l.text.as_str()).collect();
        assert_eq!(texts.len(), 3);
        assert_eq!(texts[0], "Before the gap.");
        assert!(
            texts[1].starts_with("[segment 2 unreadable: ") && texts[1].contains("integrity"),
            "{}",
            texts[1]
        );
        assert_eq!(texts[2], "After the gap.");
    }

    #[test]
    fn small_finals_become_lines_at_sentences_and_pauses() {
        let s = StreamId::generate();
        let t = group(&[
            fin(s, 1, 0, 400, "Printing,"),
            fin(s, 2, 400, 1_300, "in the only sense"),
            fin(s, 3, 1_300, 2_000, "that matters."),
            fin(s, 4, 2_100, 2_600, "For although"),
            fin(s, 5, 2_600, 3_000, "the Chinese"),
            // A long pause: a new line even mid-sentence.
            fin(s, 6, 6_000, 6_500, "took impressions"),
            fin(s, 7, 6_500, 6_500, "  "),
        ]);
        let texts: Vec<&str> = t.segments.iter().map(|l| l.text.as_str()).collect();
        assert_eq!(
            texts,
            [
                "Printing, in the only sense that matters.",
                "For although the Chinese",
                "took impressions"
            ]
        );
        assert_eq!((t.segments[0].start_ms, t.segments[0].end_ms), (0, 2_000));
        assert_eq!(t.duration_ms, 6_500);
    }

    #[test]
    fn lines_stay_within_subtitle_size_and_streams() {
        let (a, b) = (StreamId::generate(), StreamId::generate());
        let words: Vec<StoredFinal> = (0..30)
            .map(|i| fin(a, i + 1, i * 400, i * 400 + 350, "word"))
            .collect();
        let t = group(&words);
        assert!(t.segments.len() >= 2);
        for l in &t.segments {
            assert!(l.text.chars().count() <= MAX_LINE_CHARS, "{}", l.text);
            assert!(l.end_ms - l.start_ms <= MAX_LINE_MS);
        }
        let t = group(&[
            fin(a, 1, 0, 500, "from one bot"),
            fin(b, 2, 600, 900, "another"),
        ]);
        assert_eq!(t.segments.len(), 2, "two streams never share a line");
        assert_eq!(group(&[]).segments.len(), 0);
    }
}
