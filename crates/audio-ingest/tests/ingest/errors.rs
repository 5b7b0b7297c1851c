//! Every way a file can be unusable gives an error that starts with the file name and says what
//! is wrong in plain words.

use std::path::Path;

use audio_ingest::{decode_bytes, decode_file, DecodeError};
use scribe_core::ErrorCode;

use crate::support::{fixture, ogg_page, sine, wav, wav_with_header, WavSamples};

/// Decodes `bytes` as `name` and returns the error message, checking it starts with `name`.
fn error_for(bytes: &[u8], name: &str) -> (DecodeError, String) {
    let err = match decode_bytes(bytes, name) {
        Ok(audio) => panic!(
            "{name}: decoded {} samples, expected an error",
            audio.samples.len()
        ),
        Err(e) => e,
    };
    let msg = err.to_string();
    assert!(
        msg.starts_with(&format!("{name}: ")),
        "message does not name the file: {msg}"
    );
    (err, msg)
}

fn fixture_bytes(name: &str) -> Vec<u8> {
    std::fs::read(fixture(name)).expect("fixture is readable")
}

/// An Ogg stream holding one Opus packet: a real Ogg container with a codec we do not decode.
fn ogg_opus() -> Vec<u8> {
    let mut head = b"OpusHead\x01\x01".to_vec();
    head.extend_from_slice(&312u16.to_le_bytes());
    head.extend_from_slice(&48_000u32.to_le_bytes());
    head.extend_from_slice(&[0, 0, 0]);
    let tags = [
        &b"OpusTags"[..],
        &4u32.to_le_bytes(),
        b"test",
        &0u32.to_le_bytes(),
    ]
    .concat();
    [
        ogg_page(0x02, 0, 1, 0, &head),
        ogg_page(0x00, 0, 1, 1, &tags),
        ogg_page(0x04, 1_272, 1, 2, &[0xf8, 0xff, 0xfe]),
    ]
    .concat()
}

fn tone_wav() -> Vec<u8> {
    wav(
        44_100,
        2,
        WavSamples::Pcm16,
        &sine(44_100, 2, 0.5, 440.0, 0.5, true),
    )
}

#[test]
fn missing_file() {
    let path = Path::new("/nonexistent/nexus-scribe/meeting.wav");
    let err = decode_file(path).expect_err("must fail");
    assert_eq!(
        err.to_string(),
        "/nonexistent/nexus-scribe/meeting.wav: file not found"
    );
    assert_eq!(err.code(), ErrorCode::NotFound);
}

#[test]
fn unreadable_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let err = decode_file(dir.path()).expect_err("must fail");
    let msg = err.to_string();
    assert!(
        msg.starts_with(&format!("{}: cannot read file: ", dir.path().display())),
        "{msg}"
    );
}

#[test]
fn empty_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("silence.flac");
    std::fs::write(&path, b"").expect("write");
    let err = decode_file(&path).expect_err("must fail");
    assert_eq!(
        err.to_string(),
        format!("{}: file is empty", path.display())
    );
    assert_eq!(err.code(), ErrorCode::UnsupportedMediaType);
    let (_, msg) = error_for(b"", "upload.wav");
    assert_eq!(msg, "upload.wav: file is empty");
}

#[test]
fn not_audio_says_what_it_looks_like() {
    let cases: [(&[u8], &str, &str); 5] = [
        (
            b"Minutes of the meeting\n1. Budget\n",
            "notes.txt",
            "looks like a text file",
        ),
        (
            b"Minutes of the meeting\n1. Budget\n",
            "notes.wav",
            "looks like a text file",
        ),
        (
            b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj",
            "minutes.mp3",
            "looks like a PDF file (application/pdf)",
        ),
        (
            b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR",
            "photo.flac",
            "looks like a PNG file (image/png)",
        ),
        (
            &[0x00, 0x13, 0x37, 0xc0, 0xde, 0x00, 0x01],
            "blob",
            "unrecognised binary data",
        ),
    ];
    for (bytes, name, looks_like) in cases {
        let (err, msg) = error_for(bytes, name);
        assert_eq!(msg, format!("{name}: not an audio file: {looks_like}"));
        assert_eq!(err.code(), ErrorCode::UnsupportedMediaType);
    }
}

#[test]
fn mislabelled_extension() {
    let mp3 = fixture_bytes("sine440_44100_mono.mp3");
    let (_, msg) = error_for(&mp3, "call.wav");
    assert_eq!(
        msg,
        "call.wav: extension says WAV but the contents are MP3 (file is mislabelled)"
    );
    let flac = fixture_bytes("sine440_8000_mono.flac");
    let (_, msg) = error_for(&flac, "call.OGG");
    assert!(
        msg.contains("extension says Ogg but the contents are FLAC"),
        "{msg}"
    );
}

#[test]
fn unsupported_formats() {
    let webm = [
        &[
            0x1a, 0x45, 0xdf, 0xa3, 0x9f, 0x42, 0x86, 0x81, 0x01, 0x42, 0x82, 0x84,
        ][..],
        b"webm",
        &[0x42, 0x87, 0x81, 0x04],
    ]
    .concat();
    let (err, msg) = error_for(&webm, "browser-capture.webm");
    assert_eq!(
        msg,
        "browser-capture.webm: unsupported audio format: WebM is recognised but cannot be decoded yet"
    );
    assert_eq!(err.code(), ErrorCode::UnsupportedMediaType);

    let m4a = b"\0\0\0\x20ftypM4A \0\0\0\0M4A mp42isom\0\0\0\0";
    let (_, msg) = error_for(m4a, "voice-memo.m4a");
    assert_eq!(
        msg,
        "voice-memo.m4a: unsupported audio format: M4A audio (audio/m4a)"
    );
}

#[test]
fn unsupported_codec_inside_a_known_container() {
    let (err, msg) = error_for(&ogg_opus(), "meeting.opus");
    assert_eq!(
        msg,
        "meeting.opus: unsupported codec Opus inside the Ogg container"
    );
    assert_eq!(err.code(), ErrorCode::UnsupportedMediaType);

    let mp3_in_wav = wav_with_header(0x0055, 1, 16_000, 16, &[0; 3200]);
    let (_, msg) = error_for(&mp3_in_wav, "phone.wav");
    assert_eq!(
        msg,
        "phone.wav: unsupported codec MP3 (WAV format tag 0x0055) inside the WAV container"
    );
}

#[test]
fn truncated_files() {
    let cases = [
        (
            "sine440_44100_mono.flac",
            "FLAC",
            "the header declares 22050 samples per channel but only ",
        ),
        (
            "sine440_48000_left.mp3",
            "MP3",
            "the file ends inside the MP3 frame that starts at byte ",
        ),
        (
            "sine440_22050_mono.ogg",
            "Ogg",
            "the file ends inside the Ogg page that starts at byte ",
        ),
    ];
    for (name, format, detail) in cases {
        let bytes = fixture_bytes(name);
        let (err, msg) = error_for(&bytes[..bytes.len() * 2 / 3], name);
        let expected = format!("{name}: truncated {format} stream: {detail}");
        assert!(msg.starts_with(&expected), "{msg}");
        assert_eq!(err.code(), ErrorCode::InvalidAudio);
    }
    let wav = tone_wav();
    let (_, msg) = error_for(&wav[..wav.len() / 2], "half.wav");
    assert!(msg.starts_with("half.wav: truncated WAV stream: the header declares 22050 samples per channel but only "), "{msg}");
    let (_, msg) = error_for(&wav[..30], "head.wav");
    assert!(msg.starts_with("head.wav: truncated WAV stream: "), "{msg}");
}

#[test]
fn ogg_cut_at_a_page_boundary_is_truncated() {
    // Dropping the final page leaves only whole pages: only the missing end-of-stream flag shows.
    let bytes = fixture_bytes("sine440_48000_mono.ogg");
    let last_page = bytes
        .windows(4)
        .rposition(|w| w == b"OggS")
        .expect("has pages");
    let (_, msg) = error_for(&bytes[..last_page], "cut.ogg");
    assert_eq!(
        msg,
        "cut.ogg: truncated Ogg stream: the Ogg stream stops without its end-of-stream page"
    );
}

#[test]
fn corrupt_streams() {
    let mut ogg = fixture_bytes("sine440_44100_mono.ogg");
    let middle = ogg.len() / 2;
    ogg[middle] ^= 0x5a;
    let (err, msg) = error_for(&ogg, "flipped.ogg");
    assert!(
        msg.starts_with("flipped.ogg: corrupt Ogg stream: the Ogg page at byte "),
        "{msg}"
    );
    assert!(msg.ends_with("fails its checksum"), "{msg}");
    assert_eq!(err.code(), ErrorCode::InvalidAudio);

    let mp3 = fixture_bytes("sine440_44100_mono.mp3");
    let spliced = [
        &mp3[..mp3.len() / 2],
        b"<html>oops</html>",
        &mp3[mp3.len() / 2..],
    ]
    .concat();
    let (_, msg) = error_for(&spliced, "spliced.mp3");
    assert!(
        msg.starts_with("spliced.mp3: corrupt MP3 stream: "),
        "{msg}"
    );

    let mut flac = fixture_bytes("sine440_44100_mono.flac");
    let middle = flac.len() / 2;
    for byte in &mut flac[middle..middle + 16] {
        *byte ^= 0xff;
    }
    let (_, msg) = error_for(&flac, "flipped.flac");
    assert!(
        msg.starts_with("flipped.flac: corrupt FLAC stream: "),
        "{msg}"
    );
}

#[test]
fn zero_length_audio() {
    let empty = wav(16_000, 1, WavSamples::Pcm16, &[]);
    let (err, msg) = error_for(&empty, "nothing.wav");
    assert_eq!(
        msg,
        "nothing.wav: the WAV stream contains no audio (zero length)"
    );
    assert_eq!(err.code(), ErrorCode::InvalidAudio);
}

#[test]
fn absurd_parameters() {
    let data = [0u8; 64];
    let cases = [
        (0, 1, "sample rate 0 Hz is outside 1000..=384000 Hz"),
        (10, 1, "sample rate 10 Hz is outside 1000..=384000 Hz"),
        (
            400_000,
            1,
            "sample rate 400000 Hz is outside 1000..=384000 Hz",
        ),
        (16_000, 0, "0 channels is outside 1..=32"),
        (16_000, 64, "64 channels is outside 1..=32"),
    ];
    for (rate, channels, problem) in cases {
        let bytes = wav_with_header(1, channels, rate, 16, &data);
        let (err, msg) = error_for(&bytes, "weird.wav");
        assert_eq!(
            msg,
            format!("weird.wav: absurd audio parameters: {problem}")
        );
        assert_eq!(err.code(), ErrorCode::InvalidAudio);
    }
}
