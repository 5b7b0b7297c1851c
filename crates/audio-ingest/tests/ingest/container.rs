//! `encoding=container` streams: a real speech file in each format, pushed in pieces of random
//! size, comes out as the whole-file decode does — and comes out while the bytes are still
//! arriving. Bad, cut and hostile streams give a clear error (never a panic), and a dropped
//! stream leaves no thread behind.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Duration;

use audio_ingest::{
    decode_bytes, decode_file, AudioFormat, ContainerLimits, ContainerStream, SourceParams,
    StreamDecodeError,
};

use crate::support::{compressed_fixtures, fixture, ogg_page, speech_sample, wav, Rng, WavSamples};

/// One resampler block at 16 kHz (20 ms): the most a streamed decode may differ in length.
const BLOCK: usize = 320;

/// The speech clip in every streamable format: (name, bytes, the file whose whole-file decode is
/// the reference). The FLAC is the 16 kHz original; Ogg/Vorbis (48 kHz stereo) and MP3 (22.05 kHz,
/// ID3v2 tag, no Xing header, like ffmpeg's MP3 on a pipe) were made from it with sox
/// (`tests/fixtures/make_fixtures.sh`); the WAVs are written here at 48 kHz stereo, once with real
/// sizes and twice with the placeholder sizes of pipe writers.
fn speech_streams() -> Vec<(&'static str, Vec<u8>, Vec<u8>)> {
    let read = |path: std::path::PathBuf| std::fs::read(path).expect("fixture is readable");
    let flac = read(speech_sample());
    let wav_file = speech_wav();
    let with_sizes = |riff: u32, data: u32| {
        let mut bytes = wav_file.clone();
        bytes[4..8].copy_from_slice(&riff.to_le_bytes());
        bytes[40..44].copy_from_slice(&data.to_le_bytes());
        bytes
    };
    vec![
        ("speech.flac", flac.clone(), flac),
        (
            "speech.ogg",
            read(fixture("speech_48000_stereo.ogg")),
            read(fixture("speech_48000_stereo.ogg")),
        ),
        (
            "speech.mp3",
            read(fixture("speech_22050_mono.mp3")),
            read(fixture("speech_22050_mono.mp3")),
        ),
        ("speech.wav", wav_file.clone(), wav_file.clone()),
        (
            "speech-ffmpeg-pipe.wav",
            with_sizes(u32::MAX, u32::MAX),
            wav_file.clone(),
        ),
        ("speech-sox-pipe.wav", with_sizes(0, 0), wav_file),
    ]
}

/// The speech clip as a 48 kHz stereo 16-bit WAV (linear interpolation from 16 kHz; the right
/// channel at half level so the downmix is exercised).
fn speech_wav() -> Vec<u8> {
    let mono = decode_file(&speech_sample())
        .expect("the speech sample decodes")
        .samples;
    let mut interleaved = Vec::with_capacity(mono.len() * 6);
    for pair in mono.windows(2) {
        for k in 0..3 {
            let s = pair[0] + (pair[1] - pair[0]) * k as f32 / 3.0;
            interleaved.extend_from_slice(&[s, 0.5 * s]);
        }
    }
    wav(48_000, 2, WavSamples::Pcm16, &interleaved)
}

/// What pushing a stream in pieces produced.
struct Pushed {
    audio: Vec<f32>,
    /// Samples out once the first half of the bytes was pushed (before `finish`).
    at_half: usize,
    pushes: usize,
}

/// Pushes `bytes` in pieces of 1 byte to 64 KiB (log-uniform, so small and large pieces both
/// occur), then finishes.
fn push_in_pieces(bytes: &[u8], seed: u64) -> Result<Pushed, StreamDecodeError> {
    let mut stream = ContainerStream::new(ContainerLimits::default());
    let mut rng = Rng::new(seed);
    let (mut audio, mut at, mut at_half, mut pushes) = (Vec::new(), 0, None, 0);
    let half = bytes.len() / 2;
    while at < bytes.len() {
        let scale = rng.below(17);
        let size = 1 + rng.below(1 << scale);
        // No piece straddles the middle, so `at_half` is measured at exactly half the bytes.
        let limit = if at < half { half } else { bytes.len() };
        let end = (at + size).min(limit);
        audio.extend(stream.push(&bytes[at..end])?);
        pushes += 1;
        at = end;
        if at == half && at_half.is_none() {
            at_half = Some(audio.len());
        }
    }
    audio.extend(stream.finish()?);
    Ok(Pushed {
        audio,
        at_half: at_half.unwrap_or(0),
        pushes,
    })
}

/// Largest absolute difference and signal-to-difference ratio (dB) over the common length.
fn difference(streamed: &[f32], whole: &[f32]) -> (f32, f64) {
    let n = streamed.len().min(whole.len());
    let (mut max, mut signal, mut noise) = (0.0f32, 0.0f64, 0.0f64);
    for (a, b) in streamed[..n].iter().zip(&whole[..n]) {
        max = max.max((a - b).abs());
        signal += f64::from(*b) * f64::from(*b);
        noise += f64::from(a - b) * f64::from(a - b);
    }
    let snr = if noise == 0.0 {
        f64::INFINITY
    } else {
        10.0 * (signal / noise).log10()
    };
    (max, snr)
}

#[test]
fn every_format_streams_like_the_whole_file_and_early() {
    let mut failures = Vec::new();
    for (name, bytes, reference) in speech_streams() {
        let whole = decode_bytes(&reference, name)
            .unwrap_or_else(|e| panic!("{e}"))
            .samples;
        for seed in [1, 2, 3] {
            let pushed = match push_in_pieces(&bytes, seed) {
                Ok(pushed) => pushed,
                Err(e) => {
                    failures.push(format!("{name} seed {seed}: {e}"));
                    continue;
                }
            };
            let (max, snr) = difference(&pushed.audio, &whole);
            let early = pushed.at_half as f64 / whole.len() as f64;
            eprintln!(
                "{name} seed {seed}: {} pushes, {} samples (whole file {}), max diff {max:.2e}, \
                 SNR {snr:.1} dB, {:.0} % out at half the bytes",
                pushed.pushes,
                pushed.audio.len(),
                whole.len(),
                early * 100.0
            );
            if pushed.audio.len().abs_diff(whole.len()) > BLOCK {
                failures.push(format!(
                    "{name} seed {seed}: {} samples streamed, {} decoded whole",
                    pushed.audio.len(),
                    whole.len()
                ));
            }
            if max > 1e-4 || snr < 60.0 {
                failures.push(format!(
                    "{name} seed {seed}: differs from the whole-file decode (max {max}, {snr} dB)"
                ));
            }
            if early < 0.4 {
                failures.push(format!(
                    "{name} seed {seed}: only {:.0} % of the audio out after half the bytes",
                    early * 100.0
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn every_fixture_rate_and_layout_streams_like_the_whole_file() {
    // 8 to 48 kHz, mono and stereo, MP3 with a LAME tag (gapless trimming).
    let mut failures = Vec::new();
    for (i, (name, _, _)) in compressed_fixtures().into_iter().enumerate() {
        let bytes = std::fs::read(fixture(&name)).expect("fixture is readable");
        let whole = decode_bytes(&bytes, &name)
            .unwrap_or_else(|e| panic!("{e}"))
            .samples;
        for seed in 0..4 {
            match push_in_pieces(&bytes, 100 * seed + i as u64) {
                Ok(pushed) => {
                    let (max, snr) = difference(&pushed.audio, &whole);
                    if pushed.audio.len().abs_diff(whole.len()) > BLOCK || max > 1e-4 {
                        failures.push(format!(
                            "{name} seed {seed}: {} vs {} samples, max diff {max}, {snr:.1} dB",
                            pushed.audio.len(),
                            whole.len()
                        ));
                    }
                }
                Err(e) => failures.push(format!("{name} seed {seed}: {e}")),
            }
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn format_and_parameters_are_known_from_the_first_bytes() {
    let bytes = std::fs::read(fixture("speech_48000_stereo.ogg")).expect("fixture is readable");
    let mut stream = ContainerStream::new(ContainerLimits::default());
    assert_eq!(
        stream.push(&bytes[..3]).expect("3 bytes are fine"),
        Vec::<f32>::new()
    );
    assert_eq!(stream.format(), None, "3 bytes are too few to tell");
    stream.push(&bytes[3..32 * 1024]).expect("valid Ogg");
    assert_eq!(stream.format(), Some(AudioFormat::Ogg));
    assert_eq!(
        stream.params(),
        Some(SourceParams {
            sample_rate: 48_000,
            channels: 2
        })
    );
}

#[test]
fn text_is_refused_on_the_first_push_that_is_long_enough() {
    let mut stream = ContainerStream::new(ContainerLimits::default());
    assert_eq!(
        stream.push(b"{\"t").expect("too short to judge"),
        Vec::<f32>::new()
    );
    let err = stream
        .push(b"ype\":\"KeepAlive\"}")
        .expect_err("JSON is not audio");
    assert_eq!(
        err.to_string(),
        "container stream: not a supported audio format (the first bytes look like a text file)"
    );
    assert_eq!(err.code(), scribe_core::ErrorCode::UnsupportedMediaType);
    // The stream stays failed with the same error.
    assert_eq!(stream.push(b"more").expect_err("still failed"), err);
    assert_eq!(stream.finish().expect_err("still failed"), err);

    let mut short = ContainerStream::new(ContainerLimits::default());
    short.push(b"RIFF").expect("too short to judge");
    assert_eq!(
        short
            .finish()
            .expect_err("4 bytes are not a stream")
            .to_string(),
        "container stream: the stream ended after 4 bytes, before its format was recognisable"
    );
}

#[test]
fn webm_and_ogg_opus_are_refused_with_a_reason() {
    let webm = b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\xf7\x81\x01\x42\xf2\x81\x04";
    let err = ContainerStream::new(ContainerLimits::default())
        .push(webm)
        .expect_err("WebM is not streamed");
    assert!(
        err.to_string()
            .starts_with("container stream: WebM is not supported for streaming"),
        "{err}"
    );
    let mut head = b"OpusHead\x01\x01".to_vec();
    head.extend_from_slice(&[0x38, 0x01, 0x80, 0xbb, 0, 0, 0, 0, 0]);
    let opus = [
        ogg_page(0x02, 0, 1, 0, &head),
        ogg_page(0x00, 0, 1, 1, b"OpusTags\x04\0\0\0test\0\0\0\0"),
        ogg_page(0x00, 960, 1, 2, &[0xf8, 0xff, 0xfe]),
    ]
    .concat();
    let err = ContainerStream::new(ContainerLimits::default())
        .push(&opus)
        .expect_err("Opus is not decoded");
    assert_eq!(
        err.to_string(),
        "container stream: unsupported codec Opus inside the Ogg container"
    );
}

#[test]
fn a_cut_stream_gives_what_was_decodable() {
    for (name, bytes, reference) in speech_streams() {
        let whole = decode_bytes(&reference, name)
            .unwrap_or_else(|e| panic!("{e}"))
            .samples;
        let cut = bytes.len() * 3 / 5 + 7; // mid-packet, almost surely
        let pushed = push_in_pieces(&bytes[..cut], 9)
            .unwrap_or_else(|e| panic!("{name}: a cut stream must still finish: {e}"));
        let got = pushed.audio.len() as f64 / whole.len() as f64;
        assert!(
            (0.5..0.7).contains(&got),
            "{name}: {:.0} % of the audio from 60 % of the bytes",
            got * 100.0
        );
        // What came out is the start of the recording, not something else. (The resampler's
        // flushed tail at the cut differs: compare up to a block before it.)
        let n = pushed.audio.len().saturating_sub(2 * BLOCK);
        let (max, _) = difference(&pushed.audio[..n], &whole[..n]);
        assert!(max < 1e-4, "{name}: the decoded start differs by {max}");
    }
}

#[test]
fn a_stream_cut_inside_its_header_is_an_error() {
    let cases: [(&str, Vec<u8>, usize); 4] = [
        ("FLAC", std::fs::read(speech_sample()).expect("sample"), 30),
        (
            "Ogg",
            std::fs::read(fixture("speech_48000_stereo.ogg")).expect("fixture"),
            200,
        ),
        ("WAV", speech_wav(), 30),
        (
            "MP3",
            std::fs::read(fixture("speech_22050_mono.mp3")).expect("fixture"),
            60,
        ),
    ];
    for (label, bytes, cut) in cases {
        let mut stream = ContainerStream::new(ContainerLimits::default());
        stream
            .push(&bytes[..cut])
            .expect("a partial header is not an error yet");
        let err = stream.finish().expect_err("a header alone is not audio");
        assert!(
            matches!(
                err,
                StreamDecodeError::Truncated { .. } | StreamDecodeError::TooShort { .. }
            ),
            "{label}: {err}"
        );
        assert!(err.to_string().starts_with("container stream: "), "{err}");
    }
}

#[test]
fn garbage_after_a_valid_start_is_an_error_not_a_panic() {
    for (name, bytes, _) in speech_streams() {
        if name.ends_with(".wav") {
            continue; // any bytes are valid PCM
        }
        let mut rng = Rng::new(77);
        let start = &bytes[..bytes.len() * 3 / 10];
        let stream_bytes = [start.to_vec(), rng.bytes(512 * 1024)].concat();
        let outcome = catch_unwind(AssertUnwindSafe(|| push_in_pieces(&stream_bytes, 5)));
        let err = match outcome {
            Ok(Ok(pushed)) => panic!(
                "{name}: garbage accepted ({} samples out)",
                pushed.audio.len()
            ),
            Ok(Err(e)) => e,
            Err(_) => panic!("{name}: panicked"),
        };
        assert!(
            matches!(err, StreamDecodeError::Corrupt { .. }),
            "{name}: {err}"
        );
        eprintln!("{name}: {err}");
    }
}

#[test]
fn hostile_streams_never_panic() {
    // Real starts with their tails replaced by random bytes, bit flips, and random bytes behind
    // every magic number: each must end in audio or an error, never a panic or a hang.
    let mut rng = Rng::new(0xc0ffee);
    let mut inputs: Vec<Vec<u8>> = Vec::new();
    for (_, bytes, _) in speech_streams() {
        for _ in 0..8 {
            let keep = rng.below(bytes.len().min(20_000));
            let tail = rng.below(40_000);
            inputs.push([&bytes[..keep], &rng.bytes(tail)].concat());
            let mut flipped = bytes[..bytes.len().min(60_000)].to_vec();
            for _ in 0..8 {
                let i = rng.below(flipped.len());
                flipped[i] ^= 1 << rng.below(8);
            }
            inputs.push(flipped);
        }
    }
    for magic in [
        &b"RIFF\xff\xff\xff\xffWAVEfmt "[..],
        b"fLaC",
        b"OggS\0\x02",
        b"ID3\x03\0\0\0\0\0\0",
        b"\xff\xfb\x90\x44",
    ] {
        for _ in 0..25 {
            let len = rng.below(30_000);
            inputs.push([magic, &rng.bytes(len)].concat());
        }
    }
    let mut panics = Vec::new();
    for (i, input) in inputs.iter().enumerate() {
        let outcome = catch_unwind(AssertUnwindSafe(|| push_in_pieces(input, i as u64)));
        match outcome {
            Err(_) | Ok(Err(StreamDecodeError::DecoderPanicked { .. })) => {
                panics.push(format!("input {i} ({} bytes)", input.len()))
            }
            Ok(Err(e)) => assert!(e.to_string().starts_with("container stream: "), "{e}"),
            Ok(Ok(_)) => {}
        }
    }
    assert!(panics.is_empty(), "{panics:#?}");
}

#[test]
fn bytes_without_audio_are_capped() {
    // A FLAC stream with a 300 KiB padding block before the first frame, under a 64 KiB limit.
    let flac = std::fs::read(speech_sample()).expect("sample");
    assert_eq!(&flac[..4], b"fLaC");
    let streaminfo_end = 4 + 4 + 34;
    let mut padded = flac[..streaminfo_end].to_vec();
    padded[4] &= 0x7f; // STREAMINFO is no longer the last metadata block
    let pad_len = 300 * 1024u32;
    let last = flac[4] & 0x80 != 0;
    padded.push(if last { 0x81 } else { 0x01 }); // PADDING, last if STREAMINFO was
    padded.extend_from_slice(&pad_len.to_be_bytes()[1..]);
    padded.resize(padded.len() + pad_len as usize, 0);
    padded.extend_from_slice(&flac[streaminfo_end..]);
    // It decodes with the default limit...
    push_in_pieces(&padded, 3).expect("300 KiB of padding is within 16 MiB");
    // ...and is refused, early, with a small one.
    let mut stream =
        ContainerStream::new(ContainerLimits::default().with_max_undecoded_bytes(64 * 1024));
    let err = padded
        .chunks(16 * 1024)
        .find_map(|chunk| stream.push(chunk).err())
        .expect("the limit is hit");
    assert_eq!(
        err.to_string(),
        "container stream: more than 64 KiB buffered without decodable audio"
    );
    // A WAV header chunk larger than the limit is refused before it is buffered.
    let mut wav = b"RIFF\xff\xff\xff\xffWAVELIST".to_vec();
    wav.extend_from_slice(&(1u32 << 20).to_le_bytes());
    wav.resize(4096, 0);
    let mut stream =
        ContainerStream::new(ContainerLimits::default().with_max_undecoded_bytes(64 * 1024));
    assert!(matches!(
        stream.push(&wav),
        Err(StreamDecodeError::TooMuchBuffered { limit: 65_536 })
    ));
}

#[test]
fn finish_is_final() {
    let bytes = std::fs::read(speech_sample()).expect("sample");
    let mut stream = ContainerStream::new(ContainerLimits::default());
    let mut audio = stream.push(&bytes).expect("valid");
    audio.extend(stream.finish().expect("valid"));
    assert!(audio.len() > 150_000);
    assert_eq!(
        stream.finish().expect("finishing twice is harmless"),
        Vec::<f32>::new()
    );
    assert_eq!(
        stream.push(b"late").expect_err("the stream is over"),
        StreamDecodeError::AfterFinish
    );
}

/// Decoder threads alive in this process, by name.
#[cfg(target_os = "linux")]
fn decoder_threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .expect("procfs")
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
        .filter(|name| name.trim() == "container-dec")
        .count()
}

#[test]
fn dropping_a_stream_mid_way_ends_its_thread() {
    let bytes = std::fs::read(fixture("speech_48000_stereo.ogg")).expect("fixture");
    // Drop 40 streams at different points (inside the header, mid-page, after audio came out)
    // on another thread, which must come back promptly: each drop joins its decoder thread.
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    let dropper = std::thread::spawn(move || {
        for i in 0..40 {
            let mut stream = ContainerStream::new(ContainerLimits::default());
            let cut = 4000 + i * 1500;
            stream.push(&bytes[..cut]).expect("a valid start");
            drop(stream);
        }
        let _ = done_tx.send(());
    });
    done_rx
        .recv_timeout(Duration::from_secs(60))
        .expect("dropping streams does not hang");
    dropper.join().expect("no panic");
    #[cfg(target_os = "linux")]
    {
        // Other tests running in parallel hold at most a couple of live streams.
        let alive = decoder_threads();
        assert!(
            alive <= 4,
            "{alive} decoder threads still alive after 40 drops"
        );
    }
}
