//! Whole-file completeness checks for the streaming formats, where symphonia cannot tell a clean
//! end from a cut-off one: it skips Ogg pages with bad checksums and stops quietly at the end of
//! the data whether or not the last Ogg page or MP3 frame was whole. WAV and FLAC declare their
//! length in the header, so they are checked against the decoded sample count instead (in
//! `decode`); the WAV `fmt ` chunk is read here so absurd parameters are refused before symphonia
//! sees them (it panics on a zero sample rate).

use crate::sniff::{after_id3v2, mp3_frame};

/// What is wrong with the framing of a stream.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Damage {
    Truncated(String),
    Corrupt(String),
}

/// Walks every Ogg page: each must be whole, pass its CRC, and every logical stream must end with
/// an end-of-stream page. Anything after the last stream has ended is ignored.
pub(crate) fn check_ogg(bytes: &[u8]) -> Result<(), Damage> {
    let mut pos = 0;
    let mut open_streams: Vec<u32> = Vec::new();
    let mut seen_any = false;
    while pos < bytes.len() {
        let page = &bytes[pos..];
        if page.len() < 4 && b"OggS".starts_with(page) {
            return Err(Damage::Truncated(format!(
                "the file ends inside an Ogg page header at byte {pos}"
            )));
        }
        if !page.starts_with(b"OggS") {
            if seen_any && open_streams.is_empty() {
                return Ok(()); // trailing junk after a complete stream
            }
            return Err(Damage::Corrupt(format!(
                "no Ogg page where one should start at byte {pos}"
            )));
        }
        let Some(&segments) = page.get(26) else {
            return Err(Damage::Truncated(format!(
                "the file ends inside an Ogg page header at byte {pos}"
            )));
        };
        let header_len = 27 + usize::from(segments);
        let Some(table) = page.get(27..header_len) else {
            return Err(Damage::Truncated(format!(
                "the file ends inside an Ogg page header at byte {pos}"
            )));
        };
        let body_len: usize = table.iter().map(|&s| usize::from(s)).sum();
        let Some(whole) = page.get(..header_len + body_len) else {
            return Err(Damage::Truncated(format!(
                "the file ends inside the Ogg page that starts at byte {pos}"
            )));
        };
        let stored_crc = u32::from_le_bytes([whole[22], whole[23], whole[24], whole[25]]);
        if ogg_crc(whole) != stored_crc {
            return Err(Damage::Corrupt(format!(
                "the Ogg page at byte {pos} fails its checksum"
            )));
        }
        let flags = whole[5];
        let serial = u32::from_le_bytes([whole[14], whole[15], whole[16], whole[17]]);
        if flags & 0x02 != 0 && !open_streams.contains(&serial) {
            open_streams.push(serial);
        }
        if flags & 0x04 != 0 {
            open_streams.retain(|&s| s != serial);
        }
        seen_any = true;
        pos += whole.len();
    }
    if open_streams.is_empty() {
        Ok(())
    } else {
        Err(Damage::Truncated(
            "the Ogg stream stops without its end-of-stream page".into(),
        ))
    }
}

/// CRC-32 of an Ogg page (polynomial 0x04c11db7, not reflected, zero initial value), computed
/// with the page's own checksum field taken as zero.
pub(crate) fn ogg_crc(page: &[u8]) -> u32 {
    const TABLE: [u32; 256] = {
        let mut table = [0u32; 256];
        let mut i = 0;
        while i < 256 {
            let mut r = (i as u32) << 24;
            let mut bit = 0;
            while bit < 8 {
                r = if r & 0x8000_0000 != 0 {
                    (r << 1) ^ 0x04c1_1db7
                } else {
                    r << 1
                };
                bit += 1;
            }
            table[i] = r;
            i += 1;
        }
        table
    };
    page.iter().enumerate().fold(0u32, |crc, (i, &byte)| {
        let byte = if (22..26).contains(&i) { 0 } else { byte };
        (crc << 8) ^ TABLE[usize::from((crc >> 24) as u8 ^ byte)]
    })
}

/// Walks the MPEG frames from the first one: frames must follow each other back to back and the
/// last one must be whole. After the last frame only tags (ID3v1, APE, Lyrics3, ID3v2) or zero
/// padding may follow.
pub(crate) fn check_mp3(bytes: &[u8]) -> Result<(), Damage> {
    let audio = after_id3v2(bytes).unwrap_or(bytes);
    let offset = bytes.len() - audio.len();
    // Some files carry junk before the first frame; decoders skip it, and so do we.
    let Some(start) = (0..audio.len().min(64 * 1024)).find(|&i| starts_two_frames(&audio[i..]))
    else {
        return Ok(()); // nothing to walk; the decoder reports what it makes of it
    };
    let mut pos = start;
    while pos < audio.len() {
        let rest = &audio[pos..];
        match mp3_frame(rest) {
            Some(frame) if frame.len > rest.len() => {
                return Err(Damage::Truncated(format!(
                    "the file ends inside the MP3 frame that starts at byte {}",
                    offset + pos
                )));
            }
            Some(frame) => pos += frame.len,
            None if is_trailer(rest) => return Ok(()),
            None if rest.len() < 4 && rest[0] == 0xff => {
                return Err(Damage::Truncated(format!(
                    "the file ends inside an MP3 frame header at byte {}",
                    offset + pos
                )));
            }
            None => {
                return Err(Damage::Corrupt(format!(
                    "no MP3 frame where one should start at byte {}",
                    offset + pos
                )));
            }
        }
    }
    Ok(())
}

fn starts_two_frames(bytes: &[u8]) -> bool {
    mp3_frame(bytes)
        .and_then(|f| bytes.get(f.len..))
        .is_some_and(|next| mp3_frame(next).is_some())
}

fn is_trailer(rest: &[u8]) -> bool {
    [&b"TAG"[..], b"APETAGEX", b"LYRICSBEGIN", b"ID3"]
        .iter()
        .any(|tag| rest.starts_with(tag))
        || rest.iter().all(|&b| b == 0)
}

/// The fields of a WAV `fmt ` chunk that must be sane before the file goes near a decoder
/// (symphonia panics on a zero sample rate).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct WavFmt {
    pub tag: u16,
    pub channels: u16,
    pub sample_rate: u32,
}

/// Finds the `fmt ` chunk of a RIFF/WAVE file. Running out of bytes before it is truncation.
pub(crate) fn wav_fmt(bytes: &[u8]) -> Result<WavFmt, Damage> {
    let cut = || Damage::Truncated("the file ends before the WAV format chunk".into());
    let mut pos: usize = 12; // "RIFF", length, "WAVE"
    while let Some(header) = bytes.get(pos..pos.saturating_add(8)) {
        let len = u32::from_le_bytes([header[4], header[5], header[6], header[7]]) as usize;
        if &header[..4] == b"fmt " {
            let body = bytes.get(pos + 8..pos + 16).ok_or_else(cut)?;
            return Ok(WavFmt {
                tag: u16::from_le_bytes([body[0], body[1]]),
                channels: u16::from_le_bytes([body[2], body[3]]),
                sample_rate: u32::from_le_bytes([body[4], body[5], body[6], body[7]]),
            });
        }
        pos = pos
            .saturating_add(8)
            .saturating_add(len)
            .saturating_add(len & 1);
    }
    Err(cut())
}

/// Whether the first MPEG frame is a Xing, Info or VBRI header, i.e. the file states its exact
/// length rather than leaving the decoder to estimate it from the bitrate.
pub(crate) fn mp3_has_length_tag(bytes: &[u8]) -> bool {
    let audio = after_id3v2(bytes).unwrap_or(bytes);
    let Some(frame) = mp3_frame(audio) else {
        return false;
    };
    let first = &audio[..frame.len.min(audio.len())];
    first
        .windows(4)
        .any(|w| w == b"Xing" || w == b"Info" || w == b"VBRI")
}

/// A readable name for a WAV format tag, e.g. "MP3 (WAV format tag 0x0055)".
pub(crate) fn wav_codec_name(tag: u16) -> String {
    let name = match tag {
        0x0001 => "PCM",
        0x0002 => "Microsoft ADPCM",
        0x0003 => "IEEE float",
        0x0006 => "A-law",
        0x0007 => "mu-law",
        0x0011 => "IMA ADPCM",
        0x0031 => "GSM 6.10",
        0x0050 => "MPEG audio",
        0x0055 => "MP3",
        0x00ff | 0x1610 => "AAC",
        0xfffe => "WAVE_FORMAT_EXTENSIBLE",
        _ => return format!("WAV format tag {tag:#06x}"),
    };
    format!("{name} (WAV format tag {tag:#06x})")
}

/// One single-segment Ogg page with a correct checksum (tests of this crate).
#[cfg(test)]
pub(crate) fn ogg_page(flags: u8, serial: u32, body: &[u8]) -> Vec<u8> {
    let mut page = b"OggS\0".to_vec();
    page.push(flags);
    page.extend_from_slice(&0u64.to_le_bytes());
    page.extend_from_slice(&serial.to_le_bytes());
    page.extend_from_slice(&0u32.to_le_bytes());
    page.extend_from_slice(&0u32.to_le_bytes()); // crc, filled below
    page.push(1);
    page.push(body.len() as u8);
    page.extend_from_slice(body);
    let crc = ogg_crc(&page);
    page[22..26].copy_from_slice(&crc.to_le_bytes());
    page
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ogg_crc_matches_the_reference() {
        // Check value of "123456789" for poly 0x04c11db7, init 0, no reflection, no final xor
        // (CRC-32/CKSUM without its final inversion). The 26 leading zeros include the checksum
        // field, which must not change the result.
        let data = [&[0u8; 26][..], b"123456789"].concat();
        assert_eq!(ogg_crc(&data), 0x89a1_897f);
    }

    #[test]
    fn ogg_pages() {
        let stream = [ogg_page(0x02, 7, b"head"), ogg_page(0x04, 7, b"tail")].concat();
        assert_eq!(check_ogg(&stream), Ok(()));
        assert_eq!(
            check_ogg(&[stream.clone(), b"junk".to_vec()].concat()),
            Ok(())
        );
        assert!(matches!(
            check_ogg(&stream[..stream.len() - 1]),
            Err(Damage::Truncated(_))
        ));
        assert!(matches!(
            check_ogg(&stream[..stream.len() - 30]),
            Err(Damage::Truncated(_))
        ));
        let no_eos = ogg_page(0x02, 7, b"head");
        assert!(matches!(check_ogg(&no_eos), Err(Damage::Truncated(_))));
        let mut flipped = stream.clone();
        flipped[30] ^= 1;
        assert!(matches!(check_ogg(&flipped), Err(Damage::Corrupt(_))));
        let mut gap = ogg_page(0x02, 7, b"head");
        gap.extend_from_slice(b"garbage");
        gap.extend(ogg_page(0x04, 7, b"tail"));
        assert!(matches!(check_ogg(&gap), Err(Damage::Corrupt(_))));
    }

    #[test]
    fn wav_fmt_chunk_is_found_after_other_chunks() {
        let mut wav = b"RIFF\0\0\0\0WAVE".to_vec();
        wav.extend_from_slice(b"LIST\x03\0\0\0abc\0"); // odd length, padded
        wav.extend_from_slice(b"fmt \x10\0\0\0\x01\0\x02\0\x44\xac\0\0");
        let fmt = wav_fmt(&wav).expect("has a fmt chunk");
        assert_eq!((fmt.tag, fmt.channels, fmt.sample_rate), (1, 2, 44_100));
        assert!(matches!(wav_fmt(&wav[..30]), Err(Damage::Truncated(_))));
        assert_eq!(wav_codec_name(0x55), "MP3 (WAV format tag 0x0055)");
    }

    #[test]
    fn mp3_frames() {
        let mut frame = vec![0xff, 0xfb, 0x90, 0x44];
        frame.resize(417, 0x55);
        let stream = frame.repeat(4);
        assert_eq!(check_mp3(&stream), Ok(()));
        let tagged = [stream.clone(), b"TAG".to_vec(), vec![0; 125]].concat();
        assert_eq!(check_mp3(&tagged), Ok(()));
        assert!(matches!(
            check_mp3(&stream[..stream.len() - 10]),
            Err(Damage::Truncated(_))
        ));
        assert!(matches!(
            check_mp3(&stream[..417 * 3 + 2]),
            Err(Damage::Truncated(_))
        ));
        let junk = [stream.clone(), b"this is junk".to_vec(), stream].concat();
        assert!(matches!(check_mp3(&junk), Err(Damage::Corrupt(_))));
    }
}
