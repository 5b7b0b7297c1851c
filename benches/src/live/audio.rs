//! What every bot streams and what was said in it: `eval/long` (the 32 LJ Speech clips joined
//! into one passage) or the dev clips with silence between them, optionally cut to whole clips.

use std::path::Path;

use anyhow::{bail, Context as _};

use crate::manifest::{self, Utterance};

/// Samples per second of the stream (PCM s16le, mono).
pub const SAMPLE_RATE: u32 = 16_000;

/// Which evaluation audio to stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum AudioSet {
    /// `eval/long/`: one 221.7 s passage read without gaps.
    Long,
    /// `eval/dev/` clips one after another, `--gap-ms` of silence between them.
    Dev,
}

/// The stream's audio and its reference transcript.
pub struct StreamAudio {
    /// 16 kHz mono PCM.
    pub samples: Vec<i16>,
    /// What was said, as in the manifests (original casing and punctuation).
    pub reference: String,
    /// Whole clips of the passage included.
    pub clips: usize,
    /// A human description: which files, how cut.
    pub description: String,
}

impl StreamAudio {
    pub fn duration_s(&self) -> f64 {
        self.samples.len() as f64 / f64::from(SAMPLE_RATE)
    }

    /// The samples as little-endian bytes, what the bot sends.
    pub fn le_bytes(&self) -> Vec<u8> {
        self.samples.iter().flat_map(|s| s.to_le_bytes()).collect()
    }
}

/// Loads `set` from `eval_dir` (the folder holding `long/` and `dev/`). With `seconds`, only the
/// first clips whose end is within `seconds` (at least one): a cut inside a clip would leave a
/// reference that no longer matches the audio.
pub fn load(
    set: AudioSet,
    eval_dir: &Path,
    seconds: Option<f64>,
    gap_ms: u64,
) -> anyhow::Result<StreamAudio> {
    let dev_dir = eval_dir.join("dev");
    let clips = manifest::load(&dev_dir)?;
    match set {
        AudioSet::Long => {
            let long_dir = eval_dir.join("long");
            let rows = manifest::load(&long_dir)?;
            let [long] = rows.as_slice() else {
                bail!("{} should list one passage", long_dir.display());
            };
            let samples = decode(&long_dir.join(&long.file))?;
            let Some(limit) = seconds else {
                return Ok(StreamAudio {
                    samples,
                    reference: long.reference.clone(),
                    clips: clips.len(),
                    description: format!("long/{}", long.file),
                });
            };
            // The passage is the dev clips back to back: cut at a clip boundary.
            let total: f64 = clips.iter().map(|c| c.duration_s).sum();
            if (total - long.duration_s).abs() > 0.05 {
                bail!(
                    "long/ ({:.3} s) is not the dev clips joined ({total:.3} s): cannot cut it at a clip boundary; stream it whole",
                    long.duration_s
                );
            }
            let (n, end_s) = clips_within(&clips, limit, 0.0);
            let end = ((end_s * f64::from(SAMPLE_RATE)).round() as usize).min(samples.len());
            Ok(StreamAudio {
                samples: samples[..end].to_vec(),
                reference: join_references(&clips[..n]),
                clips: n,
                description: format!("long/{} cut after clip {n} ({end_s:.1} s)", long.file),
            })
        }
        AudioSet::Dev => {
            let gap_s = gap_ms as f64 / 1000.0;
            let (n, _) = clips_within(&clips, seconds.unwrap_or(f64::INFINITY), gap_s);
            let gap = vec![0i16; (gap_ms * u64::from(SAMPLE_RATE) / 1000) as usize];
            let mut samples = Vec::new();
            for (i, clip) in clips[..n].iter().enumerate() {
                if i > 0 {
                    samples.extend_from_slice(&gap);
                }
                samples.extend(decode(&dev_dir.join(&clip.file))?);
            }
            Ok(StreamAudio {
                samples,
                reference: join_references(&clips[..n]),
                clips: n,
                description: format!("dev/ first {n} clips, {gap_ms} ms of silence between"),
            })
        }
    }
}

/// How many clips from the start end within `limit` seconds (at least one), with `gap_s` between
/// clips, and where the last of them ends.
fn clips_within(clips: &[Utterance], limit: f64, gap_s: f64) -> (usize, f64) {
    let mut end = 0.0;
    let mut n = 0;
    for (i, clip) in clips.iter().enumerate() {
        let next = end + if i > 0 { gap_s } else { 0.0 } + clip.duration_s;
        if n > 0 && next > limit + 1e-9 {
            break;
        }
        end = next;
        n += 1;
    }
    (n, end)
}

fn join_references(clips: &[Utterance]) -> String {
    clips
        .iter()
        .map(|c| c.reference.as_str())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Decodes a file to 16 kHz mono PCM with the service's own decoder.
fn decode(path: &Path) -> anyhow::Result<Vec<i16>> {
    let audio =
        audio_ingest::decode_file(path).with_context(|| format!("decoding {}", path.display()))?;
    Ok(audio
        .samples
        .iter()
        .map(|s| (s * 32768.0).round().clamp(-32768.0, 32767.0) as i16)
        .collect())
}

/// Writes `samples` as a 16 kHz mono 16-bit WAV file (for `nexus-scribe transcribe`).
pub fn write_wav(path: &Path, samples: &[i16]) -> anyhow::Result<()> {
    let data_len = u32::try_from(samples.len() * 2).context("audio too long for a WAV file")?;
    let mut out = Vec::with_capacity(44 + samples.len() * 2);
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(36 + data_len).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes()); // PCM
    out.extend_from_slice(&1u16.to_le_bytes()); // mono
    out.extend_from_slice(&SAMPLE_RATE.to_le_bytes());
    out.extend_from_slice(&(SAMPLE_RATE * 2).to_le_bytes()); // bytes per second
    out.extend_from_slice(&2u16.to_le_bytes()); // block align
    out.extend_from_slice(&16u16.to_le_bytes()); // bits per sample
    out.extend_from_slice(b"data");
    out.extend_from_slice(&data_len.to_le_bytes());
    for s in samples {
        out.extend_from_slice(&s.to_le_bytes());
    }
    std::fs::write(path, out).with_context(|| format!("writing {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clip(d: f64) -> Utterance {
        Utterance {
            file: String::new(),
            duration_s: d,
            reference: format!("{d}"),
        }
    }

    #[test]
    fn cuts_at_whole_clips() {
        let clips = vec![clip(10.0), clip(5.0), clip(7.0)];
        assert_eq!(clips_within(&clips, 15.0, 0.0), (2, 15.0));
        assert_eq!(clips_within(&clips, 15.5, 1.0), (1, 10.0));
        assert_eq!(
            clips_within(&clips, 3.0, 0.0),
            (1, 10.0),
            "at least one clip"
        );
        assert_eq!(clips_within(&clips, f64::INFINITY, 1.0), (3, 24.0));
        assert_eq!(join_references(&clips[..2]), "10 5");
    }

    #[test]
    fn wav_round_trips_through_the_service_decoder() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("a.wav");
        let samples: Vec<i16> = (0..1600)
            .map(|i| ((i % 200) * 100 - 10_000) as i16)
            .collect();
        write_wav(&path, &samples).expect("written");
        assert_eq!(decode(&path).expect("decodes"), samples);
    }
}
