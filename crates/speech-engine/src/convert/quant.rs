//! Element encodings of ggml tensors: f32, f16 and ggml's Q8_0 blocks.
//!
//! Q8_0 (ggml `quantize_row_q8_0_ref`): each run of 32 values becomes a block of 34 bytes,
//! an f16 scale `d = max|x| / 127` followed by 32 signed bytes `round(x / d)`, rounding half
//! away from zero. Blocks run along the innermost dimension, so rows must be multiples of 32.

use std::fmt;
use std::str::FromStr;

use half::f16;

/// How the weight matrices (attention, MLP, token embedding) are stored in the ggml file.
/// Biases, norms and positional embeddings stay f32 and the convolutions f16 either way,
/// as whisper.cpp requires.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Quantization {
    /// 16-bit floats, lossless for the usual f16 CTranslate2 models.
    F16,
    /// ggml Q8_0: blocks of 32 signed bytes sharing an f16 scale; a little over half the F16 size.
    Q8_0,
}

impl Quantization {
    /// Every supported encoding.
    pub const ALL: [Self; 2] = [Self::F16, Self::Q8_0];

    /// Lower-case name, as whisper.cpp's tools spell it (`f16`, `q8_0`).
    pub fn name(self) -> &'static str {
        match self {
            Self::F16 => "f16",
            Self::Q8_0 => "q8_0",
        }
    }
}

impl fmt::Display for Quantization {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Quantization {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|q| q.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| format!("unknown quantization {s:?}: expected f16 or q8_0"))
    }
}

/// Values per Q8_0 block.
pub(crate) const QK8_0: usize = 32;
/// Bytes per Q8_0 block: f16 scale + 32 × i8.
pub(crate) const Q8_0_BLOCK_BYTES: usize = 2 + QK8_0;

/// Appends `values` as little-endian f32.
pub(crate) fn encode_f32(values: &[f32], out: &mut Vec<u8>) {
    out.reserve(values.len() * 4);
    for v in values {
        out.extend_from_slice(&v.to_le_bytes());
    }
}

/// Appends `values` as little-endian f16 (round to nearest even, as ggml does).
pub(crate) fn encode_f16(values: &[f32], out: &mut Vec<u8>) {
    out.reserve(values.len() * 2);
    for v in values {
        out.extend_from_slice(&f16::from_f32(*v).to_le_bytes());
    }
}

/// Appends `values` as Q8_0 blocks. The caller guarantees `values.len() % QK8_0 == 0`;
/// a trailing partial block would be dropped.
pub(crate) fn encode_q8_0(values: &[f32], out: &mut Vec<u8>) {
    out.reserve(values.len() / QK8_0 * Q8_0_BLOCK_BYTES);
    for block in values.chunks_exact(QK8_0) {
        let amax = block.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        let d = amax / 127.0;
        let id = if d != 0.0 { 1.0 / d } else { 0.0 };
        out.extend_from_slice(&f16::from_f32(d).to_le_bytes());
        // `as i8` saturates; |x * id| <= 127 up to rounding anyway.
        out.extend(block.iter().map(|v| (v * id).round() as i8 as u8));
    }
}

/// Decodes Q8_0 blocks back to f32 (ggml `dequantize_row_q8_0`).
#[cfg(test)]
pub(crate) fn decode_q8_0(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks_exact(Q8_0_BLOCK_BYTES)
        .flat_map(|b| {
            let d = f16::from_le_bytes([b[0], b[1]]).to_f32();
            b[2..].iter().map(move |&q| f32::from(q as i8) * d)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic pseudo-random values in [-scale, scale).
    fn values(n: usize, seed: u64, scale: f32) -> Vec<f32> {
        let mut s = seed;
        (0..n)
            .map(|_| {
                s = s
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                ((s >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0) * scale
            })
            .collect()
    }

    #[test]
    fn q8_0_round_trip_error_is_within_half_a_step_per_block() {
        for (seed, scale) in [(1, 0.05f32), (2, 1.0), (3, 300.0)] {
            let x = values(32 * 64, seed, scale);
            let mut bytes = Vec::new();
            encode_q8_0(&x, &mut bytes);
            assert_eq!(bytes.len(), 64 * Q8_0_BLOCK_BYTES);
            let y = decode_q8_0(&bytes);
            assert_eq!(y.len(), x.len());
            for (bx, by) in x.chunks(32).zip(y.chunks(32)) {
                let amax = bx.iter().fold(0.0f32, |m, v| m.max(v.abs()));
                let d = amax / 127.0;
                // Half a quantisation step, plus the f16 rounding of the scale (2^-11 relative)
                // applied to values up to 127 steps.
                let bound = d * 0.5 + amax * 2f32.powi(-11) + 1e-12;
                for (a, b) in bx.iter().zip(by) {
                    assert!((a - b).abs() <= bound, "{a} vs {b}, bound {bound}");
                }
            }
        }
    }

    #[test]
    fn q8_0_block_layout_matches_ggml() {
        // max |x| = 127 steps of 2^-7, so the scale and its inverse are exact.
        let step = 2f32.powi(-7);
        let mut x = vec![0.0f32; 32];
        x[0] = 127.0 * step;
        x[1] = -127.0 * step;
        x[2] = 0.5 * step; // halves round away from zero (C roundf), not to even
        x[3] = -0.5 * step;
        x[4] = 0.4 * step;
        x[5] = 2.5 * step;
        let mut bytes = Vec::new();
        encode_q8_0(&x, &mut bytes);
        assert_eq!(bytes.len(), 34);
        assert_eq!(
            f16::from_le_bytes([bytes[0], bytes[1]]),
            f16::from_f32(step)
        );
        let q: Vec<i8> = bytes[2..].iter().map(|&b| b as i8).collect();
        assert_eq!(&q[..7], &[127, -127, 1, -1, 0, 3, 0]);
    }

    #[test]
    fn q8_0_all_zero_block_has_zero_scale() {
        let mut bytes = Vec::new();
        encode_q8_0(&[0.0; 32], &mut bytes);
        assert_eq!(bytes, vec![0; 34]);
    }

    #[test]
    fn quantization_names_round_trip() {
        for q in Quantization::ALL {
            assert_eq!(q.to_string().parse::<Quantization>(), Ok(q));
        }
        assert_eq!("Q8_0".parse::<Quantization>(), Ok(Quantization::Q8_0));
        assert!("q4_0".parse::<Quantization>().is_err());
    }

    #[test]
    fn f16_and_f32_are_little_endian() {
        let mut out = Vec::new();
        encode_f32(&[1.0], &mut out);
        encode_f16(&[1.0, -2.0], &mut out);
        assert_eq!(out, [0, 0, 0x80, 0x3F, 0x00, 0x3C, 0x00, 0xC0]);
    }
}
