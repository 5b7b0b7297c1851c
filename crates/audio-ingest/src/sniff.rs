//! What a file really is, from its first bytes: `infer`'s magic numbers, plus MPEG audio frame
//! sync (MP3 without an ID3 tag, which `infer` only half knows) and a look past ID3v2 tags.

use std::fmt;

/// A container format recognised by its magic bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AudioFormat {
    /// RIFF/WAVE.
    Wav,
    /// Native FLAC.
    Flac,
    /// MPEG-1/2/2.5 audio layer III, with or without an ID3v2 tag.
    Mp3,
    /// Ogg (Vorbis decodes; Opus and others are reported as an unsupported codec).
    Ogg,
    /// WebM (Matroska subset). Recognised for upload validation; not decodable yet.
    WebM,
}

impl AudioFormat {
    /// Display name, e.g. `MP3`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Wav => "WAV",
            Self::Flac => "FLAC",
            Self::Mp3 => "MP3",
            Self::Ogg => "Ogg",
            Self::WebM => "WebM",
        }
    }

    /// The usual file extension, without a dot.
    pub fn extension(self) -> &'static str {
        match self {
            Self::Wav => "wav",
            Self::Flac => "flac",
            Self::Mp3 => "mp3",
            Self::Ogg => "ogg",
            Self::WebM => "webm",
        }
    }

    /// The format a file extension claims (case-insensitive, without a dot), if it is an audio
    /// extension this crate knows.
    pub fn from_extension(ext: &str) -> Option<Self> {
        match ext.to_ascii_lowercase().as_str() {
            "wav" | "wave" => Some(Self::Wav),
            "flac" => Some(Self::Flac),
            "mp3" => Some(Self::Mp3),
            "ogg" | "oga" | "opus" => Some(Self::Ogg),
            "webm" | "weba" => Some(Self::WebM),
            _ => None,
        }
    }

    /// Whether [`decode_bytes`](crate::decode_bytes) can decode this format.
    pub fn is_decodable(self) -> bool {
        !matches!(self, Self::WebM)
    }
}

impl fmt::Display for AudioFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The audio container in `bytes`, judged by content alone (never by a file name).
pub fn sniff(bytes: &[u8]) -> Option<AudioFormat> {
    if let Some(rest) = after_id3v2(bytes) {
        // Some taggers put ID3v2 in front of FLAC too; otherwise it announces MPEG audio.
        return Some(match sniff(rest) {
            Some(AudioFormat::Flac) => AudioFormat::Flac,
            _ => AudioFormat::Mp3,
        });
    }
    match infer::get(bytes).map(|kind| kind.mime_type()) {
        Some("audio/x-wav") => Some(AudioFormat::Wav),
        Some("audio/x-flac") => Some(AudioFormat::Flac),
        Some("audio/ogg" | "audio/opus") => Some(AudioFormat::Ogg),
        Some("video/webm") => Some(AudioFormat::WebM),
        Some("audio/mpeg") => Some(AudioFormat::Mp3),
        _ if is_mpeg_layer3(bytes) => Some(AudioFormat::Mp3),
        _ => None,
    }
}

/// What content that is not a supported audio format looks like, for error messages.
pub(crate) enum Unrecognised {
    /// Audio or video `infer` knows but this crate does not decode, e.g. "M4A audio".
    OtherMedia(String),
    /// Not audio at all, e.g. "looks like a PDF file (application/pdf)".
    NotAudio(String),
}

/// Describes content for which [`sniff`] found nothing.
pub(crate) fn describe(bytes: &[u8]) -> Unrecognised {
    if let Some(kind) = infer::get(bytes) {
        let ext = kind.extension().to_ascii_uppercase();
        let mime = kind.mime_type();
        return match kind.matcher_type() {
            infer::MatcherType::Audio => Unrecognised::OtherMedia(format!("{ext} audio ({mime})")),
            infer::MatcherType::Video => Unrecognised::OtherMedia(format!("{ext} video ({mime})")),
            _ => {
                Unrecognised::NotAudio(format!("looks like {} {ext} file ({mime})", article(&ext)))
            }
        };
    }
    if looks_like_text(bytes) {
        Unrecognised::NotAudio("looks like a text file".into())
    } else {
        Unrecognised::NotAudio("unrecognised binary data".into())
    }
}

/// "an" before acronyms whose first letter is spoken with a vowel sound (an MP4, an SVG).
fn article(acronym: &str) -> &'static str {
    match acronym.chars().next() {
        Some('A' | 'E' | 'F' | 'H' | 'I' | 'L' | 'M' | 'N' | 'O' | 'R' | 'S' | 'X') => "an",
        _ => "a",
    }
}

/// UTF-8 without control characters other than whitespace, judged on the first 4 KiB.
fn looks_like_text(bytes: &[u8]) -> bool {
    let head = &bytes[..bytes.len().min(4096)];
    let valid = match std::str::from_utf8(head) {
        Ok(text) => text,
        // A multi-byte character cut by the 4 KiB window is still text.
        Err(e) if e.error_len().is_none() => {
            std::str::from_utf8(&head[..e.valid_up_to()]).unwrap_or_default()
        }
        Err(_) => return false,
    };
    !valid.is_empty()
        && valid
            .chars()
            .all(|c| !c.is_control() || matches!(c, '\t' | '\n' | '\r' | '\x0c'))
}

/// The bytes after a leading ID3v2 tag, or `None` if there is no such tag.
pub(crate) fn after_id3v2(bytes: &[u8]) -> Option<&[u8]> {
    id3v2_len(bytes).map(|len| bytes.get(len..).unwrap_or_default())
}

/// The length of a leading ID3v2 tag (header, body and footer) as its header declares it, or
/// `None` if the bytes do not start with a whole ID3v2 header. The tag itself may not all be there.
pub(crate) fn id3v2_len(bytes: &[u8]) -> Option<usize> {
    if bytes.len() < 10 || &bytes[..3] != b"ID3" {
        return None;
    }
    let size = bytes[6..10]
        .iter()
        .fold(0usize, |acc, &b| (acc << 7) | usize::from(b & 0x7f));
    let footer = if bytes[5] & 0x10 != 0 { 10 } else { 0 };
    Some(10 + size + footer)
}

/// A parsed MPEG audio layer III frame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Mp3Frame {
    /// Frame length in bytes, header included.
    pub len: usize,
    pub sample_rate: u32,
}

/// Parses a layer III frame header at the start of `bytes`.
pub(crate) fn mp3_frame(bytes: &[u8]) -> Option<Mp3Frame> {
    const RATES_V1: [u32; 15] = [
        0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320,
    ];
    const RATES_V2: [u32; 15] = [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160];
    let [b0, b1, b2, ..] = *bytes else {
        return None;
    };
    if b0 != 0xff || b1 & 0xe0 != 0xe0 {
        return None;
    }
    let version = (b1 >> 3) & 0b11; // 0 = MPEG 2.5, 1 = reserved, 2 = MPEG 2, 3 = MPEG 1
    let layer = (b1 >> 1) & 0b11; // 1 = layer III
    let bitrate_index = usize::from(b2 >> 4);
    let rate_index = usize::from((b2 >> 2) & 0b11);
    // Free-format (index 0) frames have no computable length; nobody writes them.
    if version == 1 || layer != 1 || bitrate_index == 0 || bitrate_index == 15 || rate_index == 3 {
        return None;
    }
    let base_rate = [44_100, 48_000, 32_000][rate_index];
    let (sample_rate, kbps, factor) = match version {
        3 => (base_rate, RATES_V1[bitrate_index], 144),
        2 => (base_rate / 2, RATES_V2[bitrate_index], 72),
        _ => (base_rate / 4, RATES_V2[bitrate_index], 72),
    };
    let padding = usize::from((b2 >> 1) & 1);
    let len = (factor * kbps * 1000 / sample_rate) as usize + padding;
    Some(Mp3Frame { len, sample_rate })
}

/// MPEG layer III without an ID3 tag: a valid frame header followed by another one (or by the end
/// of the data, for a single cut-off frame). Two headers make random bytes very unlikely to pass.
fn is_mpeg_layer3(bytes: &[u8]) -> bool {
    let Some(first) = mp3_frame(bytes) else {
        return false;
    };
    match bytes.get(first.len..) {
        None | Some([]) => true,
        Some(next) => mp3_frame(next).is_some(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An MPEG-1 layer III, 128 kbit/s, 44.1 kHz frame header (frame length 417 bytes).
    const MP3_HEADER: [u8; 4] = [0xff, 0xfb, 0x90, 0x44];

    fn mp3_frames(header: [u8; 4], len: usize, count: usize) -> Vec<u8> {
        let mut frame = header.to_vec();
        frame.resize(len, 0);
        frame.repeat(count)
    }

    #[test]
    fn magic_bytes() {
        assert_eq!(sniff(b"RIFF\x24\0\0\0WAVEfmt "), Some(AudioFormat::Wav));
        assert_eq!(sniff(b"fLaC\0\0\0\x22"), Some(AudioFormat::Flac));
        assert_eq!(sniff(b"OggS\0\x02\0\0\0\0"), Some(AudioFormat::Ogg));
        assert_eq!(
            sniff(b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81"),
            Some(AudioFormat::WebM)
        );
        assert_eq!(sniff(b"ID3\x04\0\0\0\0\0\0"), Some(AudioFormat::Mp3));
        assert_eq!(sniff(b"RIFF\x24\0\0\0AVI LIST"), None);
        assert_eq!(sniff(b"%PDF-1.7\n"), None);
        assert_eq!(sniff(b""), None);
    }

    #[test]
    fn mp3_without_id3_by_frame_sync() {
        assert_eq!(mp3_frame(&MP3_HEADER).map(|f| f.len), Some(417));
        assert_eq!(
            sniff(&mp3_frames(MP3_HEADER, 417, 3)),
            Some(AudioFormat::Mp3)
        );
        // MPEG-2 (22.05 kHz) and MPEG-2.5 (8 kHz) headers, which `infer` does not know.
        let v2 = [0xff, 0xf3, 0x90, 0xc4];
        let v25 = [0xff, 0xe3, 0x90, 0xc4];
        for header in [v2, v25] {
            let frame = mp3_frame(&header).expect("valid header");
            assert_eq!(
                sniff(&mp3_frames(header, frame.len, 2)),
                Some(AudioFormat::Mp3)
            );
        }
        assert_eq!(mp3_frame(&v25).map(|f| f.sample_rate), Some(11_025));
        // A lone sync word followed by something else is not MP3.
        let len = mp3_frame(&v2).expect("valid header").len;
        let mut fake = mp3_frames(v2, len, 1);
        fake.extend_from_slice(b"not another frame");
        assert_eq!(sniff(&fake), None);
        // Layer II and reserved versions are rejected.
        assert_eq!(mp3_frame(&[0xff, 0xfd, 0x90, 0x44]), None);
        assert_eq!(mp3_frame(&[0xff, 0xeb, 0x90, 0x44]), None);
    }

    #[test]
    fn flac_behind_an_id3_tag() {
        let mut bytes = b"ID3\x03\0\0\0\0\0\x04abcd".to_vec();
        bytes.extend_from_slice(b"fLaC\0\0\0\x22");
        assert_eq!(sniff(&bytes), Some(AudioFormat::Flac));
    }

    #[test]
    fn describes_what_it_is_not() {
        let text = |bytes: &[u8]| match describe(bytes) {
            Unrecognised::NotAudio(s) | Unrecognised::OtherMedia(s) => s,
        };
        assert_eq!(
            text(b"%PDF-1.7\n%..."),
            "looks like a PDF file (application/pdf)"
        );
        assert_eq!(text(b"hello, world\n"), "looks like a text file");
        assert_eq!(
            text("naïve café ".repeat(500).as_bytes()),
            "looks like a text file"
        );
        assert_eq!(text(&[0u8, 1, 2, 3, 250]), "unrecognised binary data");
        assert!(matches!(
            describe(b"\0\0\0\x20ftypM4A \0\0\0\0"),
            Unrecognised::OtherMedia(s) if s.starts_with("M4A audio")
        ));
    }

    #[test]
    fn extensions() {
        assert_eq!(AudioFormat::from_extension("MP3"), Some(AudioFormat::Mp3));
        assert_eq!(AudioFormat::from_extension("wave"), Some(AudioFormat::Wav));
        assert_eq!(AudioFormat::from_extension("txt"), None);
    }
}
