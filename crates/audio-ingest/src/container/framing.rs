//! Framing checks on the caller's thread, before bytes reach the decoder: the streaming
//! counterpart of `integrity`. symphonia resynchronises silently past damage (it skips Ogg pages
//! with bad checksums and scans past junk between MP3 frames), which on a live stream means
//! garbage is swallowed without a word. Walking the pages and frames as they arrive turns that
//! into an error naming the byte, and tells where the audio ends so trailing tags or padding
//! never reach the decoder.
//!
//! FLAC frames carry no length, so FLAC passes through; the worker's frame-gap check covers it.

use crate::error::StreamDecodeError;
use crate::sniff::{mp3_frame, AudioFormat};

/// How far past an ID3v2 tag the first MPEG frame may start (junk some taggers leave).
const MP3_SEARCH_WINDOW: u64 = 64 * 1024;

/// Tags that may follow the last MPEG frame.
const MP3_TRAILERS: [&[u8]; 4] = [b"TAG", b"APETAGEX", b"LYRICSBEGIN", b"ID3"];

/// The framing walker for one stream.
pub(super) enum Framing {
    /// FLAC: passed through unchecked (see the module documentation).
    PassThrough,
    Wav(Wav),
    Ogg(Box<Ogg>),
    Mp3(Mp3),
}

impl Framing {
    /// `wav_end` is where the WAV data ends when the header says so; `id3_len` the length of a
    /// leading ID3v2 tag (MP3 and FLAC may carry one).
    pub(super) fn new(format: AudioFormat, wav_end: Option<u64>, id3_len: usize) -> Self {
        match format {
            AudioFormat::Wav => Self::Wav(Wav {
                pos: 0,
                end: wav_end,
            }),
            AudioFormat::Ogg => Self::Ogg(Box::default()),
            AudioFormat::Mp3 => Self::Mp3(Mp3::new(id3_len as u64)),
            AudioFormat::Flac | AudioFormat::WebM => Self::PassThrough,
        }
    }

    /// At the end of the stream: hands over the bytes held back as an incomplete page or frame,
    /// so the decoder decides what the tail holds (a stream cut mid-frame loses that frame).
    pub(super) fn flush(&mut self, forward: &mut Vec<u8>) {
        match self {
            Self::Ogg(ogg) if ogg.end.is_none() => forward.append(&mut ogg.carry),
            Self::Mp3(mp3) if !matches!(mp3.state, Mp3State::Ended) => {
                forward.append(&mut mp3.carry)
            }
            _ => {}
        }
    }

    /// Appends to `forward` the bytes of `input` that belong to the audio stream and returns
    /// whether the audio stream has ended (in these bytes or before). Bytes after the end are
    /// dropped, except that a second Ogg stream after the first is refused (chained streams are
    /// not decoded).
    pub(super) fn feed(
        &mut self,
        input: &[u8],
        forward: &mut Vec<u8>,
    ) -> Result<bool, StreamDecodeError> {
        match self {
            Self::PassThrough => {
                forward.extend_from_slice(input);
                Ok(false)
            }
            Self::Wav(wav) => Ok(wav.feed(input, forward)),
            Self::Ogg(ogg) => ogg.feed(input, forward),
            Self::Mp3(mp3) => mp3.feed(input, forward),
        }
    }
}

/// WAV: the header has been read already; the data runs to its declared end, or to the end of
/// the stream when the header gave a placeholder size.
pub(super) struct Wav {
    pos: u64,
    end: Option<u64>,
}

impl Wav {
    fn feed(&mut self, input: &[u8], forward: &mut Vec<u8>) -> bool {
        let take = match self.end {
            Some(end) => usize::try_from(end.saturating_sub(self.pos))
                .map_or(input.len(), |left| left.min(input.len())),
            None => input.len(),
        };
        forward.extend_from_slice(&input[..take]);
        self.pos += input.len() as u64;
        self.end.is_some_and(|end| self.pos >= end)
    }
}

/// Ogg: every page whole, in sequence, with a valid checksum; only whole pages are forwarded.
/// The audio ends when every logical stream has sent its end-of-stream page.
#[derive(Default)]
pub(super) struct Ogg {
    /// The start of an incomplete page (at most one page, < 64 KiB).
    carry: Vec<u8>,
    /// Stream offset of `carry[0]`.
    carry_pos: u64,
    /// Serial numbers of the logical streams begun and not yet ended.
    open: Vec<u32>,
    /// Past the leading group of beginning-of-stream pages.
    past_headers: bool,
    /// A beginning-of-stream page of a codec this crate decodes was seen.
    decodable: bool,
    /// The first other codec seen, for the error when nothing is decodable.
    other_codec: Option<&'static str>,
    /// Where the audio ended, once it has.
    end: Option<u64>,
    /// The first bytes after the end (up to 4), to tell a chained stream from trailing junk.
    after_end: Vec<u8>,
}

impl Ogg {
    fn feed(&mut self, input: &[u8], forward: &mut Vec<u8>) -> Result<bool, StreamDecodeError> {
        if let Some(end) = self.end {
            self.after_end(end, input)?;
            return Ok(true);
        }
        self.carry.extend_from_slice(input);
        let mut at = 0;
        let walked = loop {
            match self.page(at) {
                Ok(Some(len)) => {
                    forward.extend_from_slice(&self.carry[at..at + len]);
                    at += len;
                    if self.open.is_empty() {
                        self.end = Some(self.carry_pos + at as u64);
                        break Ok(());
                    }
                }
                Ok(None) => break Ok(()),
                Err(e) => break Err(e),
            }
        };
        let rest = self.carry.split_off(at);
        self.carry = rest;
        self.carry_pos += at as u64;
        walked?;
        match self.end {
            Some(end) => {
                let rest = std::mem::take(&mut self.carry);
                self.after_end(end, &rest)?;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// Checks the page at `carry[at..]`: `Some(length)` when it is whole and valid, `None` when
    /// more bytes are needed.
    fn page(&mut self, at: usize) -> Result<Option<usize>, StreamDecodeError> {
        let page = &self.carry[at..];
        let pos = self.carry_pos + at as u64;
        let corrupt = |detail: String| StreamDecodeError::Corrupt {
            format: AudioFormat::Ogg,
            detail,
        };
        if !page.starts_with(b"OggS") {
            if page.len() < 4 && b"OggS".starts_with(page) {
                return Ok(None);
            }
            return Err(corrupt(format!(
                "no Ogg page where one should start at byte {pos}"
            )));
        }
        let Some(&segments) = page.get(26) else {
            return Ok(None);
        };
        let header_len = 27 + usize::from(segments);
        let Some(table) = page.get(27..header_len) else {
            return Ok(None);
        };
        let body_len: usize = table.iter().map(|&s| usize::from(s)).sum();
        let Some(whole) = page.get(..header_len + body_len) else {
            return Ok(None);
        };
        let stored_crc = u32::from_le_bytes([whole[22], whole[23], whole[24], whole[25]]);
        if crate::integrity::ogg_crc(whole) != stored_crc {
            return Err(corrupt(format!(
                "the Ogg page at byte {pos} fails its checksum"
            )));
        }
        let flags = whole[5];
        let serial = u32::from_le_bytes([whole[14], whole[15], whole[16], whole[17]]);
        if flags & 0x02 != 0 {
            if !self.open.contains(&serial) {
                self.open.push(serial);
            }
            match ogg_codec(&whole[header_len..]) {
                Ok(()) => self.decodable = true,
                Err(name) => {
                    self.other_codec.get_or_insert(name);
                }
            }
        } else if !self.past_headers {
            self.past_headers = true;
            if !self.decodable {
                return Err(StreamDecodeError::UnsupportedCodec {
                    format: AudioFormat::Ogg,
                    codec: self.other_codec.unwrap_or("(none)").into(),
                });
            }
        }
        if flags & 0x04 != 0 {
            self.open.retain(|&s| s != serial);
        }
        Ok(Some(whole.len()))
    }

    /// Bytes after every logical stream ended: junk is ignored, a new Ogg stream is refused.
    fn after_end(&mut self, end: u64, input: &[u8]) -> Result<(), StreamDecodeError> {
        if self.after_end.len() >= 4 {
            return Ok(());
        }
        let take = (4 - self.after_end.len()).min(input.len());
        self.after_end.extend_from_slice(&input[..take]);
        if self.after_end.len() == 4 && self.after_end == b"OggS" {
            return Err(StreamDecodeError::Corrupt {
                format: AudioFormat::Ogg,
                detail: format!(
                    "a second Ogg stream starts at byte {end} (chained streams are not supported)"
                ),
            });
        }
        Ok(())
    }
}

/// The codec of a logical stream from its identification packet: `Ok` for one this crate
/// decodes, else its name.
fn ogg_codec(first_packet: &[u8]) -> Result<(), &'static str> {
    match first_packet {
        [0x01, b'v', b'o', b'r', b'b', b'i', b's', ..] | [0x7f, b'F', b'L', b'A', b'C', ..] => {
            Ok(())
        }
        p if p.starts_with(b"OpusHead") => Err("Opus"),
        p if p.starts_with(b"Speex   ") => Err("Speex"),
        p if p.starts_with(b"\x80theora") => Err("Theora (video)"),
        _ => Err("(unrecognised)"),
    }
}

/// MPEG audio: after an optional ID3v2 tag (and at most 64 KiB of junk, which is dropped), frames
/// follow each other back to back; only whole frames are forwarded. The audio ends at a trailing
/// tag or zero padding; anything else where a frame should start is corruption.
pub(super) struct Mp3 {
    /// Bytes of the leading tag still to pass (forwarded, not walked).
    skip: u64,
    /// Unjudged bytes: a partial frame header, a partial frame, or the search window.
    carry: Vec<u8>,
    /// Stream offset of `carry[0]`.
    carry_pos: u64,
    state: Mp3State,
}

enum Mp3State {
    /// Looking for the first of two consecutive frame headers, starting at `from`.
    Search {
        from: u64,
    },
    /// `carry` starts on a frame boundary.
    Frames,
    Ended,
}

impl Mp3 {
    fn new(tag_len: u64) -> Self {
        Self {
            skip: tag_len,
            carry: Vec::new(),
            carry_pos: tag_len,
            state: Mp3State::Search { from: tag_len },
        }
    }

    fn feed(&mut self, input: &[u8], forward: &mut Vec<u8>) -> Result<bool, StreamDecodeError> {
        if matches!(self.state, Mp3State::Ended) {
            return Ok(true);
        }
        let skipped = usize::try_from(self.skip).map_or(input.len(), |s| s.min(input.len()));
        self.skip -= skipped as u64;
        forward.extend_from_slice(&input[..skipped]);
        self.carry.extend_from_slice(&input[skipped..]);
        let mut at = 0;
        let walked = self.walk(&mut at, forward);
        self.carry.drain(..at);
        self.carry_pos += at as u64;
        walked?;
        if matches!(self.state, Mp3State::Ended) {
            self.carry = Vec::new();
            return Ok(true);
        }
        Ok(false)
    }

    /// Walks `carry` from `at`, advancing `at` past everything judged and forwarding the frames
    /// (junk before the first frame and everything from a trailer on are not forwarded).
    fn walk(&mut self, at: &mut usize, forward: &mut Vec<u8>) -> Result<(), StreamDecodeError> {
        loop {
            let rest = &self.carry[*at..];
            let pos = self.carry_pos + *at as u64;
            match self.state {
                Mp3State::Ended => return Ok(()),
                Mp3State::Search { from } => {
                    let (offset, found) = match search_first_frame(rest) {
                        Search::Found(offset) => (offset, true),
                        Search::Wait(offset) => (offset, false),
                    };
                    if pos + offset as u64 - from > MP3_SEARCH_WINDOW {
                        return Err(StreamDecodeError::Corrupt {
                            format: AudioFormat::Mp3,
                            detail: format!(
                                "no MPEG audio frame in the {} KiB after byte {from}",
                                MP3_SEARCH_WINDOW / 1024
                            ),
                        });
                    }
                    *at += offset;
                    if !found {
                        return Ok(());
                    }
                    self.state = Mp3State::Frames;
                }
                Mp3State::Frames => match mp3_frame(rest) {
                    Some(frame) if frame.len <= rest.len() => {
                        forward.extend_from_slice(&rest[..frame.len]);
                        *at += frame.len;
                    }
                    Some(_) => return Ok(()),
                    None if rest.is_empty() => return Ok(()),
                    None if rest[0] == 0 || MP3_TRAILERS.iter().any(|t| rest.starts_with(t)) => {
                        self.state = Mp3State::Ended;
                        return Ok(());
                    }
                    None if MP3_TRAILERS.iter().any(|t| t.starts_with(rest))
                        || (rest.len() < 4 && rest[0] == 0xff) =>
                    {
                        return Ok(()); // too few bytes to tell
                    }
                    None => {
                        return Err(StreamDecodeError::Corrupt {
                            format: AudioFormat::Mp3,
                            detail: format!("no MP3 frame where one should start at byte {pos}"),
                        })
                    }
                },
            }
        }
    }
}

enum Search {
    /// Two consecutive frames start at this offset.
    Found(usize),
    /// Nothing before this offset can start the first frame; more bytes are needed.
    Wait(usize),
}

/// The first offset where a frame header is followed by another one right after the frame.
fn search_first_frame(bytes: &[u8]) -> Search {
    for i in 0..bytes.len() {
        let rest = &bytes[i..];
        if rest.len() < 4 {
            return Search::Wait(if rest[0] == 0xff { i } else { bytes.len() });
        }
        let Some(frame) = mp3_frame(rest) else {
            continue;
        };
        match rest.get(frame.len..frame.len + 4) {
            Some(next) if mp3_frame(next).is_some() => return Search::Found(i),
            Some(_) => {}
            None => return Search::Wait(i),
        }
    }
    Search::Wait(bytes.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::integrity::ogg_page;

    fn vorbis_stream() -> Vec<u8> {
        [
            ogg_page(0x02, 7, b"\x01vorbis head"),
            ogg_page(0x00, 7, b"audio"),
            ogg_page(0x04, 7, b"last"),
        ]
        .concat()
    }

    /// Feeds `bytes` one byte at a time; returns what was forwarded and whether it ended.
    fn trickle(framing: &mut Framing, bytes: &[u8]) -> Result<(Vec<u8>, bool), StreamDecodeError> {
        let mut forward = Vec::new();
        let mut ended = false;
        for b in bytes {
            ended = framing.feed(std::slice::from_ref(b), &mut forward)?;
        }
        Ok((forward, ended))
    }

    #[test]
    fn ogg_forwards_whole_pages_and_ends_at_end_of_stream() {
        let stream = vorbis_stream();
        let mut framing = Framing::new(AudioFormat::Ogg, None, 0);
        let mut forward = Vec::new();
        let first_page = ogg_page(0x02, 7, b"\x01vorbis head").len();
        assert!(!framing
            .feed(&stream[..first_page + 5], &mut forward)
            .expect("valid"));
        assert_eq!(
            forward.len(),
            first_page,
            "only whole pages go to the decoder"
        );
        let tail = [&stream[first_page + 5..], b"trailing junk"].concat();
        assert!(framing
            .feed(&tail, &mut forward)
            .expect("junk after the end is ignored"));
        assert_eq!(forward, stream);
        let (forward, ended) =
            trickle(&mut Framing::new(AudioFormat::Ogg, None, 0), &stream).expect("valid");
        assert_eq!((forward, ended), (stream, true));
    }

    #[test]
    fn ogg_damage_is_named_with_its_offset() {
        let stream = vorbis_stream();
        let first_page = ogg_page(0x02, 7, b"\x01vorbis head").len();
        let mut flipped = stream.clone();
        flipped[first_page + 30] ^= 1;
        let err = trickle(&mut Framing::new(AudioFormat::Ogg, None, 0), &flipped)
            .expect_err("must be refused");
        assert_eq!(
            err.to_string(),
            format!(
                "container stream: corrupt Ogg stream: the Ogg page at byte {first_page} fails \
                 its checksum"
            )
        );
        let garbage = [&stream[..first_page], b"garbage garbage garbage garbage"].concat();
        let err = trickle(&mut Framing::new(AudioFormat::Ogg, None, 0), &garbage)
            .expect_err("must be refused");
        assert!(err.to_string().ends_with(&format!(
            "no Ogg page where one should start at byte {first_page}"
        )));
        let chained = [stream.clone(), stream].concat();
        let err = trickle(&mut Framing::new(AudioFormat::Ogg, None, 0), &chained)
            .expect_err("must be refused");
        assert!(
            err.to_string()
                .contains("chained streams are not supported"),
            "{err}"
        );
    }

    #[test]
    fn ogg_without_a_decodable_codec_is_refused_after_its_headers() {
        let opus = [
            ogg_page(0x02, 3, b"OpusHead\x01\x01"),
            ogg_page(0x00, 3, b"OpusTags"),
        ]
        .concat();
        let err = trickle(&mut Framing::new(AudioFormat::Ogg, None, 0), &opus)
            .expect_err("must be refused");
        assert_eq!(
            err,
            StreamDecodeError::UnsupportedCodec {
                format: AudioFormat::Ogg,
                codec: "Opus".into()
            }
        );
        // Video beside Vorbis is fine: the audio is decoded, the video ignored.
        let both = [
            ogg_page(0x02, 1, b"\x80theora"),
            ogg_page(0x02, 2, b"\x01vorbis"),
            ogg_page(0x00, 2, b"x"),
        ]
        .concat();
        assert!(trickle(&mut Framing::new(AudioFormat::Ogg, None, 0), &both).is_ok());
    }

    fn mp3_frames(count: usize) -> Vec<u8> {
        let mut frame = vec![0xff, 0xfb, 0x90, 0x44];
        frame.resize(417, 0x55);
        frame.repeat(count)
    }

    #[test]
    fn mp3_walks_frames_and_stops_at_a_trailer() {
        let tag = b"ID3\x03\0\0\0\0\0\x04abcd".to_vec();
        let audio = mp3_frames(5);
        let stream = [
            tag.clone(),
            b"junk".to_vec(),
            audio.clone(),
            b"TAG".to_vec(),
            vec![7; 125],
        ]
        .concat();
        let (forward, ended) = trickle(
            &mut Framing::new(AudioFormat::Mp3, None, tag.len()),
            &stream,
        )
        .expect("valid");
        assert!(ended);
        assert_eq!(
            forward,
            [tag.clone(), audio.clone()].concat(),
            "junk is not forwarded"
        );
        let mut whole = Vec::new();
        let mut framing = Framing::new(AudioFormat::Mp3, None, tag.len());
        assert!(framing.feed(&stream, &mut whole).expect("valid"));
        assert_eq!(whole, forward);
        // Zero padding after the last frame ends the audio too.
        let padded = [audio.clone(), vec![0; 100]].concat();
        let (forward, ended) =
            trickle(&mut Framing::new(AudioFormat::Mp3, None, 0), &padded).expect("valid");
        assert!(ended);
        assert_eq!(forward, audio);
    }

    #[test]
    fn mp3_garbage_between_frames_is_named_with_its_offset() {
        let stream = [
            mp3_frames(3),
            b"this is not a frame".to_vec(),
            mp3_frames(3),
        ]
        .concat();
        let err = trickle(&mut Framing::new(AudioFormat::Mp3, None, 0), &stream)
            .expect_err("must be refused");
        assert_eq!(
            err.to_string(),
            format!(
                "container stream: corrupt MP3 stream: no MP3 frame where one should start at \
                 byte {}",
                417 * 3
            )
        );
        let junk = [vec![0x11; 70 * 1024], mp3_frames(3)].concat();
        let err = Framing::new(AudioFormat::Mp3, None, 0)
            .feed(&junk, &mut Vec::new())
            .expect_err("must be refused");
        assert!(
            err.to_string()
                .contains("no MPEG audio frame in the 64 KiB"),
            "{err}"
        );
    }

    #[test]
    fn wav_data_ends_where_the_header_says() {
        let mut framing = Framing::new(AudioFormat::Wav, Some(10), 0);
        let mut forward = Vec::new();
        assert!(!framing.feed(b"0123", &mut forward).expect("wav"));
        assert!(framing.feed(b"456789LIST", &mut forward).expect("wav"));
        assert_eq!(forward, b"0123456789");
        let mut open = Framing::new(AudioFormat::Wav, None, 0);
        assert!(!open.feed(&[1; 100], &mut forward).expect("wav"));
    }
}
