//! The first bytes of a container stream: enough of them to tell the format (and, for WAV, the
//! whole header up to the `data` chunk), then the decision — a format to decode, or an error that
//! says what the bytes look like instead.

use crate::error::StreamDecodeError;
use crate::resample::check_params;
use crate::sniff::{describe, id3v2_len, mp3_frame, sniff, AudioFormat, Unrecognised};

/// Bytes held before judging content that matched no magic number: enough for every signature
/// `infer` knows of the common media and document types.
const SNIFF_MIN: usize = 16;

/// What the head of a stream turned out to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Start {
    pub format: AudioFormat,
    /// For WAV: where the audio data starts and how long it is.
    pub wav: Option<WavHeader>,
}

/// The parts of a WAV header the stream needs, found before symphonia sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct WavHeader {
    /// The `fmt ` chunk's format tag (for naming an unsupported codec).
    pub tag: u16,
    /// Offset of the first byte of audio data.
    pub data_start: usize,
    /// Audio bytes the header declares, or `None` for the placeholder sizes (0 or 0xFFFFFFFF)
    /// that writers which cannot seek back (ffmpeg or sox on a pipe) leave in the header.
    pub data_len: Option<u64>,
}

/// Judges the bytes received so far. `Ok(None)`: not enough bytes yet to decide. At the end of
/// the stream (`at_end`) there is never a `None`: too few bytes is an error.
pub(super) fn recognise(
    head: &[u8],
    at_end: bool,
    limit: u64,
) -> Result<Option<Start>, StreamDecodeError> {
    if head.len() as u64 > limit {
        return Err(StreamDecodeError::TooMuchBuffered { limit });
    }
    let too_short = || StreamDecodeError::TooShort {
        bytes: head.len() as u64,
    };
    let wait = |needed: usize| {
        if at_end {
            Err(too_short())
        } else if needed as u64 > limit {
            Err(StreamDecodeError::TooMuchBuffered { limit })
        } else {
            Ok(None)
        }
    };
    if head.len() < SNIFF_MIN {
        // Judging a few bytes would be a guess (a 3-byte first message is legal).
        return wait(SNIFF_MIN);
    }
    if let Some(tag_len) = id3v2_len(head) {
        // The whole ID3v2 tag and the first bytes after it: FLAC or MPEG audio?
        if head.len() < tag_len + 4 {
            return wait(tag_len + 4);
        }
    } else if let Some(frame) = mp3_frame(head) {
        // MPEG audio without a tag is recognised by two frame headers in a row.
        if head.len() < frame.len + 4 && !at_end {
            return wait(frame.len + 4);
        }
    }
    let format = match sniff(head) {
        Some(AudioFormat::WebM) => {
            return Err(StreamDecodeError::UnsupportedFormat {
                format: "WebM".into(),
            })
        }
        Some(format) => format,
        None => {
            return Err(match describe(head) {
                Unrecognised::OtherMedia(format) => StreamDecodeError::UnsupportedFormat { format },
                Unrecognised::NotAudio(what) => StreamDecodeError::NotAudio {
                    looks_like: first_bytes(&what),
                },
            })
        }
    };
    let wav = match format {
        AudioFormat::Wav => match wav_header(head, limit)? {
            Some(header) => Some(header),
            None if at_end => {
                return Err(StreamDecodeError::Truncated {
                    format,
                    detail: "the stream ends inside the WAV header".into(),
                })
            }
            None => return Ok(None),
        },
        _ => None,
    };
    Ok(Some(Start { format, wav }))
}

/// "looks like a text file" → "the first bytes look like a text file".
fn first_bytes(what: &str) -> String {
    match what.strip_prefix("looks like ") {
        Some(rest) => format!("the first bytes look like {rest}"),
        None => format!("the first bytes are {what}"),
    }
}

/// Walks the RIFF chunks up to the `data` chunk header. `Ok(None)`: the header is not complete
/// yet. The format chunk is checked here, before symphonia sees it (it panics on a zero rate).
fn wav_header(head: &[u8], limit: u64) -> Result<Option<WavHeader>, StreamDecodeError> {
    let corrupt = |detail: String| StreamDecodeError::Corrupt {
        format: AudioFormat::Wav,
        detail,
    };
    let mut pos: u64 = 12; // "RIFF", length, "WAVE"
    let mut tag = None;
    loop {
        if pos + 8 > limit {
            return Err(StreamDecodeError::TooMuchBuffered { limit });
        }
        let at = pos as usize; // pos <= limit, which fits in memory
        let Some(chunk) = head.get(at..at + 8) else {
            return Ok(None);
        };
        let len = u32::from_le_bytes([chunk[4], chunk[5], chunk[6], chunk[7]]);
        match &chunk[..4] {
            b"data" => {
                let Some(tag) = tag else {
                    return Err(corrupt(format!(
                        "the data chunk at byte {pos} comes before the format chunk"
                    )));
                };
                return Ok(Some(WavHeader {
                    tag,
                    data_start: at + 8,
                    data_len: (len != 0 && len != u32::MAX).then_some(u64::from(len)),
                }));
            }
            b"fmt " => {
                if len < 16 {
                    return Err(corrupt(format!(
                        "the format chunk at byte {pos} is {len} bytes, shorter than 16"
                    )));
                }
                let Some(body) = head.get(at + 8..at + 24) else {
                    return Ok(None);
                };
                let channels = u16::from_le_bytes([body[2], body[3]]);
                let rate = u32::from_le_bytes([body[4], body[5], body[6], body[7]]);
                check_params(rate, usize::from(channels)).map_err(|problem| {
                    StreamDecodeError::BadParameters {
                        format: AudioFormat::Wav,
                        problem,
                    }
                })?;
                tag = Some(u16::from_le_bytes([body[0], body[1]]));
            }
            _ => {}
        }
        pos += 8 + u64::from(len) + u64::from(len & 1);
    }
}

/// Rewrites the RIFF and `data` sizes of a header written for a stream of unknown length so
/// symphonia reads the data to the end of the stream instead of stopping at once (a `data` size of
/// 0) or refusing the file (a RIFF size smaller than its chunks). 0xFFFFFFFF in both places is
/// the one spelling of "unknown length" symphonia accepts (ffmpeg writes it on a pipe).
pub(super) fn patch_wav_sizes(head: &mut [u8], header: &WavHeader) {
    const UNKNOWN: [u8; 4] = u32::MAX.to_le_bytes();
    let riff_len = u32::from_le_bytes([head[4], head[5], head[6], head[7]]);
    let needed = (header.data_start as u64 - 8) + header.data_len.unwrap_or(0);
    match header.data_len {
        None => {
            head[4..8].copy_from_slice(&UNKNOWN);
            head[header.data_start - 4..header.data_start].copy_from_slice(&UNKNOWN);
        }
        Some(_) if u64::from(riff_len) < needed || riff_len == u32::MAX => {
            // A real data size under a placeholder RIFF size: only the RIFF size needs help.
            head[4..8].copy_from_slice(&UNKNOWN);
        }
        Some(_) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMIT: u64 = 16 << 20;

    fn wav_head(riff_len: u32, data_len: u32, rate: u32, channels: u16) -> Vec<u8> {
        let mut h = b"RIFF".to_vec();
        h.extend_from_slice(&riff_len.to_le_bytes());
        h.extend_from_slice(b"WAVEfmt \x10\0\0\0\x01\0");
        h.extend_from_slice(&channels.to_le_bytes());
        h.extend_from_slice(&rate.to_le_bytes());
        h.extend_from_slice(&(rate * 2 * u32::from(channels)).to_le_bytes());
        h.extend_from_slice(&(2 * channels).to_le_bytes());
        h.extend_from_slice(b"\x10\0data");
        h.extend_from_slice(&data_len.to_le_bytes());
        h
    }

    fn format_of(head: &[u8]) -> Option<AudioFormat> {
        recognise(head, false, LIMIT)
            .expect("recognisable")
            .map(|s| s.format)
    }

    #[test]
    fn waits_for_enough_bytes_before_judging() {
        assert_eq!(recognise(b"RIF", false, LIMIT), Ok(None));
        assert_eq!(recognise(b"hello", false, LIMIT), Ok(None));
        assert_eq!(
            recognise(b"hello", true, LIMIT),
            Err(StreamDecodeError::TooShort { bytes: 5 })
        );
        assert_eq!(
            format_of(b"fLaC\0\0\0\x22\x10\0\x10\0\0\0\0\0"),
            Some(AudioFormat::Flac)
        );
        assert_eq!(
            format_of(b"OggS\0\x02\0\0\0\0\0\0\0\0\0\0"),
            Some(AudioFormat::Ogg)
        );
    }

    #[test]
    fn text_and_other_media_are_named() {
        let err =
            recognise(b"GET / HTTP/1.1\r\nHost: x\r\n", false, LIMIT).expect_err("must be refused");
        assert_eq!(
            err.to_string(),
            "container stream: not a supported audio format (the first bytes look like a text \
             file)"
        );
        let err = recognise(
            b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\0\0\0\0\0\0\0",
            false,
            LIMIT,
        )
        .expect_err("must be refused");
        assert_eq!(
            err.to_string(),
            "container stream: WebM is not supported for streaming (send WAV, FLAC, Ogg/Vorbis or \
             MP3)"
        );
        let err =
            recognise(b"\0\0\0\x20ftypM4A \0\0\0\0", false, LIMIT).expect_err("must be refused");
        assert!(
            matches!(err, StreamDecodeError::UnsupportedFormat { ref format } if format.starts_with("M4A audio"))
        );
        let err = recognise(
            &[0u8, 1, 2, 3, 250, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7],
            false,
            LIMIT,
        )
        .expect_err("must be refused");
        assert_eq!(
            err.to_string(),
            "container stream: not a supported audio format (the first bytes are unrecognised \
             binary data)"
        );
    }

    #[test]
    fn id3_tag_is_read_whole_before_judging() {
        // A 100-byte tag: 10 header bytes, then 100 bytes of tag body.
        let mut head = b"ID3\x03\0\0\0\0\0\x64".to_vec();
        head.resize(60, 0);
        assert_eq!(recognise(&head, false, LIMIT), Ok(None));
        head.resize(110, 0);
        head.extend_from_slice(b"fLaC\0\0\0\x22");
        assert_eq!(format_of(&head), Some(AudioFormat::Flac));
        // A tag larger than the limit is refused at once rather than buffered.
        let huge = b"ID3\x03\0\0\x7f\x7f\x7f\x7f\0\0\0\0\0\0".to_vec();
        assert_eq!(
            recognise(&huge, false, 1 << 20),
            Err(StreamDecodeError::TooMuchBuffered { limit: 1 << 20 })
        );
    }

    #[test]
    fn mp3_without_tag_needs_a_second_frame_header() {
        let mut frame = vec![0xff, 0xfb, 0x90, 0x44];
        frame.resize(417, 0);
        assert_eq!(recognise(&frame, false, LIMIT), Ok(None));
        let two = frame.repeat(2);
        assert_eq!(format_of(&two[..421]), Some(AudioFormat::Mp3));
    }

    #[test]
    fn wav_header_is_parsed_up_to_the_data_chunk() {
        let head = wav_head(36 + 8, 8, 44_100, 2);
        assert_eq!(recognise(&head[..30], false, LIMIT), Ok(None));
        let start = recognise(&head, false, LIMIT)
            .expect("valid")
            .expect("complete");
        assert_eq!(
            start.wav,
            Some(WavHeader {
                tag: 1,
                data_start: 44,
                data_len: Some(8)
            })
        );
        assert!(matches!(
            recognise(&head[..30], true, LIMIT),
            Err(StreamDecodeError::Truncated { .. })
        ));
    }

    #[test]
    fn wav_parameters_are_checked_before_the_decoder_sees_them() {
        let err = recognise(&wav_head(0, 0, 0, 1), false, LIMIT).expect_err("must be refused");
        assert_eq!(
            err.to_string(),
            "container stream: unusable WAV audio parameters: sample rate 0 Hz is outside \
             1000..=384000 Hz"
        );
        let err =
            recognise(&wav_head(0, 0, 16_000, 40), false, LIMIT).expect_err("must be refused");
        assert!(err.to_string().contains("40 channels"), "{err}");
    }

    #[test]
    fn a_huge_chunk_before_the_data_is_refused() {
        let mut head = b"RIFF\xff\xff\xff\xffWAVELIST\xf0\xff\xff\xff".to_vec();
        head.resize(64, 0);
        assert_eq!(
            recognise(&head, false, LIMIT),
            Err(StreamDecodeError::TooMuchBuffered { limit: LIMIT })
        );
    }

    #[test]
    fn placeholder_sizes_become_unknown_length() {
        for (riff, data) in [(0, 0), (u32::MAX, u32::MAX), (36, 0), (0, u32::MAX)] {
            let mut head = wav_head(riff, data, 16_000, 1);
            let start = recognise(&head, false, LIMIT)
                .expect("valid")
                .expect("complete");
            let wav = start.wav.expect("wav header");
            assert_eq!(wav.data_len, None);
            patch_wav_sizes(&mut head, &wav);
            assert_eq!(&head[4..8], &[0xff; 4]);
            assert_eq!(&head[40..44], &[0xff; 4]);
        }
        // Real sizes are left alone; a real data size under a zero RIFF size gets a RIFF size.
        let mut head = wav_head(36 + 1000, 1000, 16_000, 1);
        let before = head.clone();
        let wav = recognise(&head, false, LIMIT)
            .expect("valid")
            .expect("complete")
            .wav;
        patch_wav_sizes(&mut head, &wav.expect("wav header"));
        assert_eq!(head, before);
        let mut head = wav_head(0, 1000, 16_000, 1);
        let wav = recognise(&head, false, LIMIT)
            .expect("valid")
            .expect("complete")
            .wav;
        patch_wav_sizes(&mut head, &wav.expect("wav header"));
        assert_eq!(&head[4..8], &[0xff; 4]);
        assert_eq!(&head[40..44], &1000u32.to_le_bytes());
    }
}
