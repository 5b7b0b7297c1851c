//! The file as the bot sends it: 16 kHz mono PCM s16le, cut into chunks at any sample position.

use scribe_core::MonoAudio;

/// PCM s16le of the whole file. Deliberately not `Debug`: it is what people said.
pub struct Audio {
    pcm: Vec<u8>,
    /// Samples per binary message.
    chunk: usize,
}

impl Audio {
    pub fn new(audio: &MonoAudio, chunk_ms: u64) -> Self {
        let chunk = usize::try_from(chunk_ms * super::pacing::SAMPLES_PER_MS)
            .expect("--chunk-ms is at most 5000");
        Self {
            pcm: to_pcm16(&audio.samples),
            chunk,
        }
    }

    /// Number of samples.
    pub fn samples(&self) -> usize {
        self.pcm.len() / 2
    }

    /// Length of the message that starts at sample `from` (0 at the end).
    pub fn chunk_len(&self, from: usize) -> usize {
        self.chunk.min(self.samples().saturating_sub(from))
    }

    /// Bytes of `len` samples from sample `from`.
    pub fn bytes(&self, from: usize, len: usize) -> &[u8] {
        &self.pcm[from * 2..(from + len) * 2]
    }
}

/// `[-1, 1]` floats to signed 16-bit little-endian. Scaling by 32768 makes 16-bit input (which the
/// decoder divides by 32768) come back bit for bit.
pub fn to_pcm16(samples: &[f32]) -> Vec<u8> {
    samples
        .iter()
        .flat_map(|s| {
            // Clamped to the i16 range first, so the cast cannot truncate.
            let v = (s * 32768.0).round().clamp(-32768.0, 32767.0) as i16;
            v.to_le_bytes()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pcm16_round_trips_16_bit_samples_and_clamps() {
        let ints: Vec<i16> = vec![0, 1, -1, 12_345, -32_768, 32_767];
        let floats: Vec<f32> = ints.iter().map(|&i| f32::from(i) / 32768.0).collect();
        let expected: Vec<u8> = ints.iter().flat_map(|i| i.to_le_bytes()).collect();
        assert_eq!(to_pcm16(&floats), expected);
        assert_eq!(
            to_pcm16(&[1.0, -1.5, 2.0]),
            [32_767i16, -32_768, 32_767]
                .iter()
                .flat_map(|i| i.to_le_bytes())
                .collect::<Vec<_>>()
        );
    }

    #[test]
    fn chunks_cover_the_file_and_the_last_one_is_short() {
        let audio = Audio::new(&MonoAudio::new(vec![0.0; 3_500]), 100);
        assert_eq!(audio.samples(), 3_500);
        assert_eq!(audio.chunk_len(0), 1_600);
        assert_eq!(audio.chunk_len(3_200), 300);
        assert_eq!(audio.chunk_len(3_500), 0);
        assert_eq!(audio.bytes(3_200, 300).len(), 600);
    }
}
