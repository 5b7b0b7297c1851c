//! Test helpers: fixture paths, a WAV writer, an Ogg page writer, signal measurements and a tiny
//! deterministic PRNG (so no test depends on sox or on a `rand` crate at run time).

use std::path::PathBuf;

/// A committed fixture under `tests/fixtures/`.
pub fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// The LJ Speech clip shipped in the workspace `samples/` folder.
pub fn speech_sample() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../samples/ljspeech_LJ001-0001.flac")
}

/// The compressed fixtures: (file name, sample rate, amplitude after downmix).
pub fn compressed_fixtures() -> Vec<(String, u32, f32)> {
    let mut all = Vec::new();
    for ext in ["flac", "mp3", "ogg"] {
        for rate in [8_000, 22_050, 44_100, 48_000] {
            all.push((format!("sine440_{rate}_mono.{ext}"), rate, 0.5));
        }
        all.push((format!("sine440_48000_left.{ext}"), 48_000, 0.25));
    }
    all
}

/// Sample encodings the WAV writer supports.
#[derive(Clone, Copy, Debug)]
pub enum WavSamples {
    Pcm16,
    Float32,
}

/// A canonical RIFF/WAVE file holding interleaved `samples`.
pub fn wav(rate: u32, channels: u16, encoding: WavSamples, samples: &[f32]) -> Vec<u8> {
    let (tag, bytes_per_sample): (u16, u16) = match encoding {
        WavSamples::Pcm16 => (1, 2),
        WavSamples::Float32 => (3, 4),
    };
    let mut data = Vec::with_capacity(samples.len() * usize::from(bytes_per_sample));
    for &s in samples {
        match encoding {
            WavSamples::Pcm16 => {
                data.extend_from_slice(&((s.clamp(-1.0, 1.0) * 32767.0) as i16).to_le_bytes())
            }
            WavSamples::Float32 => data.extend_from_slice(&s.to_le_bytes()),
        }
    }
    wav_with_header(tag, channels, rate, bytes_per_sample * 8, &data)
}

/// A WAV file with an arbitrary (possibly absurd) `fmt ` chunk and raw data bytes.
pub fn wav_with_header(tag: u16, channels: u16, rate: u32, bits: u16, data: &[u8]) -> Vec<u8> {
    let block_align = channels.wrapping_mul(bits / 8);
    let byte_rate = rate.wrapping_mul(u32::from(block_align));
    let mut out = b"RIFF".to_vec();
    out.extend_from_slice(&(36 + data.len() as u32).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&tag.to_le_bytes());
    out.extend_from_slice(&channels.to_le_bytes());
    out.extend_from_slice(&rate.to_le_bytes());
    out.extend_from_slice(&byte_rate.to_le_bytes());
    out.extend_from_slice(&block_align.to_le_bytes());
    out.extend_from_slice(&bits.to_le_bytes());
    out.extend_from_slice(b"data");
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out.extend_from_slice(data);
    out
}

/// Interleaved frames of a sine of `freq` Hz and amplitude `amp` in channel 0; the other
/// channels are silent unless `all_channels`.
pub fn sine(
    rate: u32,
    channels: usize,
    secs: f64,
    freq: f64,
    amp: f32,
    all_channels: bool,
) -> Vec<f32> {
    let frames = (f64::from(rate) * secs).round() as usize;
    let mut out = Vec::with_capacity(frames * channels);
    for i in 0..frames {
        let s = amp * (2.0 * std::f64::consts::PI * freq * i as f64 / f64::from(rate)).sin() as f32;
        out.push(s);
        for _ in 1..channels {
            out.push(if all_channels { s } else { 0.0 });
        }
    }
    out
}

/// Frequency estimated from upward zero crossings in the middle 80 % of the signal.
pub fn frequency(samples: &[f32]) -> f64 {
    let inner = &samples[samples.len() / 10..samples.len() * 9 / 10];
    let ups: Vec<usize> = inner
        .windows(2)
        .enumerate()
        .filter(|(_, w)| w[0] < 0.0 && w[1] >= 0.0)
        .map(|(i, _)| i)
        .collect();
    assert!(ups.len() > 2, "no oscillation to measure");
    (ups.len() - 1) as f64 * 16_000.0 / (ups[ups.len() - 1] - ups[0]) as f64
}

/// Largest absolute sample in the middle 80 % of the signal.
pub fn peak(samples: &[f32]) -> f32 {
    let inner = &samples[samples.len() / 10..samples.len() * 9 / 10];
    inner.iter().fold(0.0f32, |m, s| m.max(s.abs()))
}

/// One Ogg page with a valid checksum.
pub fn ogg_page(flags: u8, granule: u64, serial: u32, sequence: u32, packet: &[u8]) -> Vec<u8> {
    assert!(packet.len() < 255, "test pages hold one short packet");
    let mut page = b"OggS\0".to_vec();
    page.push(flags);
    page.extend_from_slice(&granule.to_le_bytes());
    page.extend_from_slice(&serial.to_le_bytes());
    page.extend_from_slice(&sequence.to_le_bytes());
    page.extend_from_slice(&[0; 4]);
    page.push(1);
    page.push(packet.len() as u8);
    page.extend_from_slice(packet);
    let crc = page.iter().fold(0u32, |crc, &b| {
        let mut crc = crc ^ (u32::from(b) << 24);
        for _ in 0..8 {
            crc = if crc & 0x8000_0000 != 0 {
                (crc << 1) ^ 0x04c1_1db7
            } else {
                crc << 1
            };
        }
        crc
    });
    page[22..26].copy_from_slice(&crc.to_le_bytes());
    page
}

/// xorshift64*: deterministic bytes for fuzz-style tests.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed.max(1))
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    pub fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next_u64() as u8).collect()
    }
}
