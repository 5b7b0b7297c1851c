//! Real files of every supported format, rate and channel layout come out as 16 kHz mono of the
//! right length, pitch and level.

use audio_ingest::{decode_bytes, decode_file, sniff, AudioFormat};

use crate::support::{
    compressed_fixtures, fixture, frequency, peak, sine, speech_sample, wav, WavSamples,
};

#[test]
fn compressed_fixtures_keep_length_pitch_and_level() {
    for (name, _rate, amplitude) in compressed_fixtures() {
        let audio = decode_file(&fixture(&name)).unwrap_or_else(|e| panic!("{e}"));
        // Each fixture is 0.5 s: 8000 samples at 16 kHz, within 1 %.
        let len = audio.samples.len();
        assert!((7_920..=8_080).contains(&len), "{name}: {len} samples");
        let f = frequency(&audio.samples);
        assert!((f - 440.0).abs() < 440.0 * 0.01, "{name}: {f:.1} Hz");
        let p = peak(&audio.samples);
        assert!(
            (p - amplitude).abs() < 0.03,
            "{name}: peak {p}, want {amplitude}"
        );
    }
}

#[test]
fn sniff_agrees_with_the_fixture_extensions() {
    for (name, _, _) in compressed_fixtures() {
        let bytes = std::fs::read(fixture(&name)).expect("fixture is readable");
        let ext = name.rsplit('.').next().expect("has an extension");
        assert_eq!(sniff(&bytes), AudioFormat::from_extension(ext), "{name}");
    }
}

#[test]
fn wav_at_any_rate_channel_count_and_sample_format() {
    let layouts = [(1usize, 0.5f32), (2, 0.25), (6, 0.5 / 6.0)];
    for rate in [8_000, 11_025, 16_000, 22_050, 44_100, 48_000, 96_000] {
        for (channels, expected_peak) in layouts {
            for encoding in [WavSamples::Pcm16, WavSamples::Float32] {
                let what = format!("{rate} Hz, {channels} ch, {encoding:?}");
                let samples = sine(rate, channels, 1.0, 440.0, 0.5, false);
                let bytes = wav(rate, channels as u16, encoding, &samples);
                let audio =
                    decode_bytes(&bytes, "tone.wav").unwrap_or_else(|e| panic!("{what}: {e}"));
                assert_eq!(audio.samples.len(), 16_000, "{what}");
                let f = frequency(&audio.samples);
                assert!((f - 440.0).abs() < 2.0, "{what}: {f:.1} Hz");
                let p = peak(&audio.samples);
                assert!((p - expected_peak).abs() < 0.01, "{what}: peak {p}");
            }
        }
    }
}

#[test]
fn wav_at_an_odd_rate_and_many_channels() {
    let rate = 44_101;
    let samples = sine(rate, 7, 0.5, 1_000.0, 0.7, true);
    let audio =
        decode_bytes(&wav(rate, 7, WavSamples::Pcm16, &samples), "odd.wav").expect("decodes");
    assert_eq!(audio.samples.len(), 8_000);
    assert!((frequency(&audio.samples) - 1_000.0).abs() < 5.0);
    assert!((peak(&audio.samples) - 0.7).abs() < 0.01);
}

#[test]
fn ljspeech_clip_keeps_its_length() {
    let audio = decode_file(&speech_sample()).expect("decodes");
    assert_eq!(audio.samples.len(), 154_480); // 9.655 s at 16 kHz
    assert!((audio.duration_secs() - 9.655).abs() < 0.001);
    assert!(
        peak(&audio.samples) > 0.1,
        "speech should not decode to silence"
    );
}

#[test]
fn decode_bytes_matches_decode_file_and_ignores_unknown_extensions() {
    let path = fixture("sine440_22050_mono.ogg");
    let from_file = decode_file(&path).expect("decodes");
    let bytes = std::fs::read(&path).expect("fixture is readable");
    for name in [
        "upload.ogg",
        "upload.OGG",
        "upload",
        "upload.bin",
        "recording.m4a",
    ] {
        let from_bytes = decode_bytes(&bytes, name).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(from_bytes == from_file, "{name}");
    }
}
