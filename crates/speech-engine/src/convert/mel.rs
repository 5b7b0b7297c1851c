//! The mel filterbank whisper.cpp reads from the model file.
//!
//! OpenAI's `mel_filters.npz` holds `librosa.filters.mel(sr=16000, n_fft=400, n_mels=N)`:
//! Slaney's mel scale (linear below 1 kHz, logarithmic above) and Slaney area normalisation.
//! This follows librosa's arithmetic step by step, including where it rounds to f32, so the
//! values agree with the published ones to the last bit or so.

/// Whisper's sample rate.
const SAMPLE_RATE: f64 = 16_000.0;
/// Whisper's FFT size (25 ms).
const N_FFT: usize = 400;
/// Frequency bins of a real FFT of `N_FFT` samples; the second dimension of the filters.
pub(crate) const N_FREQ: usize = N_FFT / 2 + 1;

const F_SP: f64 = 200.0 / 3.0;
const MIN_LOG_HZ: f64 = 1000.0;

fn min_log_mel() -> f64 {
    MIN_LOG_HZ / F_SP
}

fn log_step() -> f64 {
    6.4f64.ln() / 27.0
}

fn hz_to_mel(hz: f64) -> f64 {
    if hz >= MIN_LOG_HZ {
        min_log_mel() + (hz / MIN_LOG_HZ).ln() / log_step()
    } else {
        hz / F_SP
    }
}

fn mel_to_hz(mel: f64) -> f64 {
    if mel >= min_log_mel() {
        MIN_LOG_HZ * (log_step() * (mel - min_log_mel())).exp()
    } else {
        F_SP * mel
    }
}

/// `n_mels` × [`N_FREQ`] filter weights, row-major (one row per mel band).
pub(crate) fn filters(n_mels: usize) -> Vec<f32> {
    // np.linspace(hz_to_mel(0), hz_to_mel(sr / 2), n_mels + 2), then back to Hz.
    let n_points = n_mels + 2;
    let top = hz_to_mel(SAMPLE_RATE / 2.0);
    let step = top / (n_points - 1) as f64;
    let mel_hz: Vec<f64> = (0..n_points)
        .map(|i| {
            let m = if i + 1 == n_points {
                top
            } else {
                i as f64 * step
            };
            mel_to_hz(m)
        })
        .collect();
    // np.fft.rfftfreq(N_FFT, 1 / sr).
    let bin_hz = 1.0 / (N_FFT as f64 * (1.0 / SAMPLE_RATE));
    let fft_hz: Vec<f64> = (0..N_FREQ).map(|k| k as f64 * bin_hz).collect();

    let mut out = Vec::with_capacity(n_mels * N_FREQ);
    for i in 0..n_mels {
        let below = mel_hz[i + 1] - mel_hz[i];
        let above = mel_hz[i + 2] - mel_hz[i + 1];
        let norm = 2.0 / (mel_hz[i + 2] - mel_hz[i]);
        out.extend(fft_hz.iter().map(|&f| {
            let lower = -(mel_hz[i] - f) / below;
            let upper = (mel_hz[i + 2] - f) / above;
            let triangle = lower.min(upper).max(0.0) as f32;
            (f64::from(triangle) * norm) as f32
        }));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reference values: librosa's algorithm in NumPy (float64, stored as float32).
    #[test]
    fn eighty_bands_match_librosa() {
        let f = filters(80);
        assert_eq!(f.len(), 80 * N_FREQ);
        let at = |band: usize, bin: usize| f[band * N_FREQ + bin];
        let expected: &[(usize, usize, f32)] = &[
            (0, 1, 0.024_862_595),
            (1, 2, 0.022_871_772),
            (13, 13, 0.025_880_683),
            (39, 40, 0.001_418_047_6),
            (40, 42, 0.005_411_104_8),
            (40, 43, 0.014_735_566),
            (40, 44, 0.006_518_19),
            (79, 186, 0.000_366_741_67),
            (79, 190, 0.002_232_055),
            (79, 192, 0.003_164_711_9),
            (79, 199, 0.000_448_759),
        ];
        for &(band, bin, want) in expected {
            let got = at(band, bin);
            assert!(
                (got - want).abs() < 1e-9,
                "[{band},{bin}] = {got}, want {want}"
            );
        }
        for (band, bin) in [(0, 0), (0, 2), (1, 3), (40, 45), (79, 200), (40, 60)] {
            assert_eq!(at(band, bin), 0.0, "[{band},{bin}]");
        }
        let nonzero = f.iter().filter(|v| **v > 0.0).count();
        assert_eq!(nonzero, 391);
        let sum: f64 = f.iter().map(|&v| f64::from(v)).sum();
        assert!((sum - 1.999_024_092).abs() < 1e-7, "sum {sum}");
    }

    #[test]
    fn large_v3_128_bands_match_librosa() {
        let f = filters(128);
        let at = |band: usize, bin: usize| f[band * N_FREQ + bin];
        let expected: &[(usize, usize, f32)] = &[
            (0, 1, 0.012_373_987),
            (11, 7, 0.041_681_75),
            (64, 42, 0.006_749_682_6),
            (64, 43, 0.018_091_518),
            (127, 191, 0.000_475_695_1),
            (127, 195, 0.005_041_601_6),
            (127, 199, 0.001_114_280_2),
        ];
        for &(band, bin, want) in expected {
            let got = at(band, bin);
            assert!(
                (got - want).abs() < 1e-9,
                "[{band},{bin}] = {got}, want {want}"
            );
        }
        assert_eq!(f.iter().filter(|v| **v > 0.0).count(), 394);
        let sum: f64 = f.iter().map(|&v| f64::from(v)).sum();
        assert!((sum - 3.190_985_541).abs() < 1e-7, "sum {sum}");
    }
}
