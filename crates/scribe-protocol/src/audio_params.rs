//! Audio format of a bot stream, from the query string (PROTOCOL.md §1).

use std::collections::HashMap;

/// How binary messages carry audio.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    /// Raw PCM, signed 16-bit little-endian, interleaved.
    Linear16,
    /// Each binary message carries bytes of one WAV/FLAC/OGG/MP3 stream.
    Container,
}

/// Validated audio parameters of a bot stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AudioParams {
    pub encoding: Encoding,
    pub sample_rate: u32,
    pub channels: u16,
}

impl Default for AudioParams {
    fn default() -> Self {
        Self {
            encoding: Encoding::Linear16,
            sample_rate: 16_000,
            channels: 1,
        }
    }
}

/// A query parameter that is not acceptable; `Display` names it and the allowed values.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AudioParamsError {
    #[error("encoding {0:?} is not supported: use linear16 or container")]
    Encoding(String),
    #[error("sample_rate {0:?} is not a whole number of Hz between 8000 and 48000")]
    SampleRate(String),
    #[error("channels {0:?} is not 1 or 2")]
    Channels(String),
}

impl AudioParams {
    /// Lowest accepted PCM sample rate.
    pub const MIN_RATE: u32 = 8_000;
    /// Highest accepted PCM sample rate.
    pub const MAX_RATE: u32 = 48_000;

    /// Reads `encoding`, `sample_rate` and `channels` from query parameters; absent ones take
    /// their defaults (`linear16`, 16000, 1).
    pub fn from_query(q: &HashMap<String, String>) -> Result<Self, AudioParamsError> {
        let mut p = Self::default();
        if let Some(e) = q.get("encoding") {
            p.encoding = match e.as_str() {
                "linear16" | "pcm_s16le" => Encoding::Linear16,
                "container" => Encoding::Container,
                _ => return Err(AudioParamsError::Encoding(truncate(e))),
            };
        }
        if let Some(r) = q.get("sample_rate") {
            p.sample_rate = r
                .parse::<u32>()
                .ok()
                .filter(|r| (Self::MIN_RATE..=Self::MAX_RATE).contains(r))
                .ok_or_else(|| AudioParamsError::SampleRate(truncate(r)))?;
        }
        if let Some(c) = q.get("channels") {
            p.channels = c
                .parse::<u16>()
                .ok()
                .filter(|c| (1..=2).contains(c))
                .ok_or_else(|| AudioParamsError::Channels(truncate(c)))?;
        }
        Ok(p)
    }

    /// Bytes per interleaved PCM frame (all channels of one sample instant).
    pub fn frame_bytes(&self) -> usize {
        2 * usize::from(self.channels)
    }
}

/// Echo at most 32 characters of a bad value back to the client.
fn truncate(s: &str) -> String {
    s.chars().take(32).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect()
    }

    #[test]
    fn defaults_apply() {
        assert_eq!(AudioParams::from_query(&q(&[])), Ok(AudioParams::default()));
    }

    #[test]
    fn accepts_the_documented_ranges() {
        let p = AudioParams::from_query(&q(&[
            ("encoding", "linear16"),
            ("sample_rate", "44100"),
            ("channels", "2"),
        ]))
        .expect("valid");
        assert_eq!((p.sample_rate, p.channels, p.frame_bytes()), (44_100, 2, 4));
        for rate in ["8000", "48000"] {
            assert!(AudioParams::from_query(&q(&[("sample_rate", rate)])).is_ok());
        }
    }

    #[test]
    fn refuses_out_of_range_and_garbage_naming_the_parameter() {
        for (k, v) in [
            ("sample_rate", "7999"),
            ("sample_rate", "48001"),
            ("sample_rate", "16k"),
            ("channels", "0"),
            ("channels", "3"),
            ("encoding", "opus"),
        ] {
            let err = AudioParams::from_query(&q(&[(k, v)])).expect_err("refused");
            assert!(err.to_string().contains(k), "{err}");
        }
    }

    #[test]
    fn long_values_are_not_echoed_whole() {
        let long = "x".repeat(10_000);
        let err = AudioParams::from_query(&q(&[("encoding", &long)])).expect_err("refused");
        assert!(err.to_string().len() < 200);
    }
}
