//! Malformed input of every kind is an error, never a panic, and a cut-off file is never passed
//! off as a shorter recording.

use std::panic::{catch_unwind, AssertUnwindSafe};

use audio_ingest::{decode_bytes, DecodeError, MonoAudio};

use crate::support::{compressed_fixtures, fixture, sine, wav, wav_with_header, Rng, WavSamples};

/// Decodes and reports a panic as a failure description instead of unwinding the test. The
/// crate contains decoder panics itself (`DecoderPanicked`); that counts as a panic found here.
fn decode_no_panic(bytes: &[u8], name: &str) -> Result<Result<MonoAudio, String>, String> {
    let panicked = || format!("{name}: panicked on {} bytes", bytes.len());
    match catch_unwind(AssertUnwindSafe(|| decode_bytes(bytes, name))) {
        Ok(Ok(audio)) => Ok(Ok(audio)),
        Ok(Err(DecodeError::DecoderPanicked { .. })) | Err(_) => Err(panicked()),
        Ok(Err(e)) => Ok(Err(e.to_string())),
    }
}

/// Real files of every format, including a generated WAV.
fn real_files() -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = compressed_fixtures()
        .into_iter()
        .map(|(name, _, _)| {
            let bytes = std::fs::read(fixture(&name)).expect("fixture is readable");
            (name, bytes)
        })
        .collect();
    let tone = sine(22_050, 2, 0.3, 440.0, 0.5, true);
    files.push(("tone.wav".into(), wav(22_050, 2, WavSamples::Pcm16, &tone)));
    files
}

#[test]
fn random_bytes_are_rejected() {
    let mut rng = Rng::new(0x5eed);
    let mut failures = Vec::new();
    for i in 0..400 {
        let len = 1 + rng.below(if i % 4 == 0 { 20_000 } else { 600 });
        let bytes = rng.bytes(len);
        for name in ["random.bin", "random.wav", "random.mp3"] {
            match decode_no_panic(&bytes, name) {
                Ok(Err(_)) => {}
                Ok(Ok(_)) => failures.push(format!("{name}: {len} random bytes decoded as audio")),
                Err(panic) => failures.push(panic),
            }
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn every_truncation_is_an_error() {
    let mut failures = Vec::new();
    for (name, bytes) in real_files() {
        // Every offset in the headers, then ~150 offsets spread over the rest.
        let step = (bytes.len() / 150).max(1);
        let offsets = (1..bytes.len().min(300)).chain((300..bytes.len()).step_by(step));
        for cut in offsets {
            match decode_no_panic(&bytes[..cut], &name) {
                Ok(Err(msg)) => {
                    if !msg.starts_with(&format!("{name}: ")) {
                        failures.push(format!(
                            "cut at {cut}: message does not name the file: {msg}"
                        ));
                    }
                }
                Ok(Ok(audio)) => failures.push(format!(
                    "{name} cut at {cut}/{}: decoded {} samples instead of an error",
                    bytes.len(),
                    audio.samples.len()
                )),
                Err(panic) => failures.push(format!("{panic} (cut at {cut})")),
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures: {failures:#?}",
        failures.len()
    );
}

#[test]
fn real_magic_followed_by_garbage_is_rejected() {
    let mut rng = Rng::new(42);
    let mut failures = Vec::new();
    for (name, bytes) in real_files() {
        for keep in [4, 8, 12, 16, 36, 44, 64, 100, 200, 500, 1_000, 2_000] {
            for _ in 0..8 {
                let garbage_len = 1 + rng.below(8_000);
                let mut mangled = bytes[..keep.min(bytes.len())].to_vec();
                mangled.extend(rng.bytes(garbage_len));
                match decode_no_panic(&mangled, &name) {
                    Ok(Err(_)) => {}
                    Ok(Ok(audio)) => failures.push(format!(
                        "{name}: {keep} real bytes + {garbage_len} garbage decoded to {} samples",
                        audio.samples.len()
                    )),
                    Err(panic) => failures.push(panic),
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures: {failures:#?}",
        failures.len()
    );
}

#[test]
fn wav_headers_with_odd_fields_never_panic() {
    let mut rng = Rng::new(99);
    let mut panics = Vec::new();
    for _ in 0..3_000 {
        let tag = [1, 3, 6, 7, 0x11, 0xfffe, rng.next_u64() as u16][rng.below(7)];
        let channels = rng.below(40) as u16;
        let rate = [0, 1, 8_000, 44_100, 384_000, 384_001, rng.next_u64() as u32][rng.below(7)];
        let bits = [
            0,
            1,
            4,
            8,
            12,
            16,
            20,
            24,
            32,
            64,
            65,
            rng.next_u64() as u16,
        ][rng.below(12)];
        let data_len = rng.below(2_000);
        let data = rng.bytes(data_len);
        let bytes = wav_with_header(tag, channels, rate, bits, &data);
        if let Err(panic) = decode_no_panic(&bytes, "fields.wav") {
            panics.push(format!(
                "{panic}: tag {tag:#x}, {channels} ch, {rate} Hz, {bits} bits"
            ));
        }
    }
    assert!(panics.is_empty(), "{panics:#?}");
}

#[test]
fn bit_flips_never_panic() {
    // A flipped bit inside PCM data is just noise, so success is allowed here; panics are not.
    let mut rng = Rng::new(7);
    let mut panics = Vec::new();
    for (name, bytes) in real_files() {
        for _ in 0..60 {
            let mut mangled = bytes.clone();
            for _ in 0..1 + rng.below(8) {
                let at = rng.below(mangled.len());
                mangled[at] ^= 1 << rng.below(8);
            }
            if let Err(panic) = decode_no_panic(&mangled, &name) {
                panics.push(panic);
            }
        }
    }
    assert!(panics.is_empty(), "{panics:#?}");
}

#[test]
#[ignore = "slow: run with `cargo test -p audio-ingest -- --ignored` after touching the decoder"]
fn deep_fuzz_never_panics() {
    let iterations: usize = std::env::var("AUDIO_INGEST_FUZZ_ITERATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(500);
    let mut rng = Rng::new(0xdeca_f00d);
    let mut panics = Vec::new();
    for (name, bytes) in real_files() {
        for i in 0..iterations {
            let mut mangled = bytes.clone();
            match i % 4 {
                // Flip bits, concentrated in the headers half of the time.
                0 => {
                    let span = if rng.below(2) == 0 {
                        128.min(mangled.len())
                    } else {
                        mangled.len()
                    };
                    for _ in 0..1 + rng.below(4) {
                        let at = rng.below(span);
                        mangled[at] ^= 1 << rng.below(8);
                    }
                }
                // Overwrite a run with random bytes or with 0x00 / 0xff.
                1 => {
                    let at = rng.below(mangled.len());
                    let len = (1 + rng.below(64)).min(mangled.len() - at);
                    let fill = rng.below(3);
                    for byte in &mut mangled[at..at + len] {
                        *byte = match fill {
                            0 => 0,
                            1 => 0xff,
                            _ => rng.next_u64() as u8,
                        };
                    }
                }
                // Delete a run.
                2 => {
                    let at = rng.below(mangled.len());
                    let len = (1 + rng.below(512)).min(mangled.len() - at);
                    mangled.drain(at..at + len);
                }
                // Duplicate a run somewhere else.
                _ => {
                    let at = rng.below(mangled.len());
                    let len = (1 + rng.below(512)).min(mangled.len() - at);
                    let run = mangled[at..at + len].to_vec();
                    let to = rng.below(mangled.len());
                    mangled.splice(to..to, run);
                }
            }
            if let Err(panic) = decode_no_panic(&mangled, &name) {
                panics.push(format!("{panic} (iteration {i})"));
            }
        }
    }
    assert!(panics.is_empty(), "{} panics: {panics:#?}", panics.len());
}
