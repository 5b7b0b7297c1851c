//! Interleaved PCM at any rate and channel count → 16 kHz mono: channels are averaged, then a
//! band-limited rubato resampler (FFT for common rates, windowed sinc for odd ones) converts the
//! rate. [`StreamResampler`] takes audio in chunks of any size; [`to_mono_16k`] is the one-shot form.

use rubato::{
    calculate_cutoff, FftFixedInOut, Resampler as _, SincFixedIn, SincInterpolationParameters,
    SincInterpolationType, WindowFunction,
};
use scribe_core::ENGINE_SAMPLE_RATE;

use crate::error::ParamsError;
use crate::{MAX_CHANNELS, MAX_SAMPLE_RATE, MIN_SAMPLE_RATE};

/// Input block per resampler call, as a fraction of a second (1/50 = 20 ms): short enough for live
/// audio, long enough for the FFT resampler's anti-aliasing filter (one block long) to be sharp.
const BLOCKS_PER_SECOND: usize = 50;

/// Shortest input block, in frames, so low rates still get a usable filter.
const MIN_BLOCK_FRAMES: usize = 256;

/// Rates whose reduced ratio to 16 kHz needs an input block longer than this use the sinc
/// resampler; the FFT one would need one huge FFT (and up to a second of latency) per block.
const MAX_FFT_BLOCK: usize = 4096;

/// Checks that `rate` and `channels` describe audio this crate will process.
pub fn check_params(rate: u32, channels: usize) -> Result<(), ParamsError> {
    if !(MIN_SAMPLE_RATE..=MAX_SAMPLE_RATE).contains(&rate) {
        return Err(ParamsError::SampleRate(rate));
    }
    if channels == 0 || channels > MAX_CHANNELS {
        return Err(ParamsError::Channels(channels));
    }
    Ok(())
}

/// Converts a whole interleaved buffer to 16 kHz mono.
///
/// The output has `round(frames × 16000 / rate)` samples, time-aligned with the input (the
/// resampler's delay is removed).
pub fn to_mono_16k(
    interleaved: &[f32],
    rate: u32,
    channels: usize,
) -> Result<Vec<f32>, ParamsError> {
    check_params(rate, channels)?;
    if !interleaved.len().is_multiple_of(channels) {
        return Err(ParamsError::PartialFrame {
            samples: interleaved.len(),
            channels,
        });
    }
    let mut resampler = StreamResampler::new(rate, channels)?;
    let mut out = Vec::with_capacity(expected_output_len(
        (interleaved.len() / channels) as u64,
        rate,
    ));
    out.extend(resampler.push(interleaved));
    out.extend(resampler.finish());
    Ok(out)
}

/// Number of 16 kHz samples that `frames` input frames at `rate` become.
fn expected_output_len(frames: u64, rate: u32) -> usize {
    let rate = u64::from(rate.max(1));
    let out = (u128::from(frames) * u128::from(ENGINE_SAMPLE_RATE) + u128::from(rate / 2))
        / u128::from(rate);
    usize::try_from(out).unwrap_or(usize::MAX)
}

/// A resampler for audio that arrives in pieces (live PCM, or packets from a decoder).
///
/// `push` accepts interleaved samples in chunks of any length — a chunk may even end in the middle
/// of a frame — and returns the 16 kHz mono samples that are ready; `finish` flushes the rest.
/// The concatenated output equals [`to_mono_16k`] of the concatenated input. Work is linear in the
/// input. Output trails input by at most ~20 ms at 44.1/48 kHz, ~30 ms at 22.05 kHz, ~50 ms at
/// 8 kHz and not at all at 16 kHz (one block of about 20 ms plus the filter delay).
pub struct StreamResampler {
    channels: usize,
    rate: u32,
    /// Samples of an incomplete frame carried over to the next `push`.
    partial: Vec<f32>,
    stage: Option<RateStage>,
}

impl std::fmt::Debug for StreamResampler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamResampler")
            .field("rate", &self.rate)
            .field("channels", &self.channels)
            .finish_non_exhaustive()
    }
}

impl StreamResampler {
    /// A resampler from `rate` Hz with `channels` interleaved channels to 16 kHz mono.
    pub fn new(rate: u32, channels: usize) -> Result<Self, ParamsError> {
        check_params(rate, channels)?;
        let stage = if rate == ENGINE_SAMPLE_RATE {
            None
        } else {
            Some(RateStage::new(rate)?)
        };
        Ok(Self {
            channels,
            rate,
            partial: Vec::with_capacity(channels),
            stage,
        })
    }

    /// Input sample rate in Hz.
    pub fn input_rate(&self) -> u32 {
        self.rate
    }

    /// Input channel count.
    pub fn channels(&self) -> usize {
        self.channels
    }

    /// Adds interleaved samples and returns the 16 kHz mono samples now ready.
    pub fn push(&mut self, interleaved: &[f32]) -> Vec<f32> {
        let mono = self.downmix(interleaved);
        match &mut self.stage {
            None => mono,
            Some(stage) => stage.push(&mono),
        }
    }

    /// Flushes the audio still inside the resampler and resets it for a new stream.
    ///
    /// An incomplete trailing frame is dropped.
    pub fn finish(&mut self) -> Vec<f32> {
        self.partial.clear();
        match &mut self.stage {
            None => Vec::new(),
            Some(stage) => stage.finish(),
        }
    }

    /// Averages the channels of every complete frame (sanitized), carrying an incomplete one over.
    fn downmix(&mut self, mut interleaved: &[f32]) -> Vec<f32> {
        let channels = self.channels;
        let mut mono = Vec::with_capacity((self.partial.len() + interleaved.len()) / channels);
        if !self.partial.is_empty() {
            let need = channels - self.partial.len();
            let take = need.min(interleaved.len());
            self.partial.extend_from_slice(&interleaved[..take]);
            interleaved = &interleaved[take..];
            if self.partial.len() < channels {
                return mono;
            }
            mono.push(average(&self.partial));
            self.partial.clear();
        }
        let frames = interleaved.chunks_exact(channels);
        self.partial.extend_from_slice(frames.remainder());
        if channels == 1 {
            let whole = &interleaved[..interleaved.len() - self.partial.len()];
            mono.extend(whole.iter().copied().map(sanitize));
        } else {
            mono.extend(frames.map(average));
        }
        mono
    }
}

fn average(frame: &[f32]) -> f32 {
    frame.iter().copied().map(sanitize).sum::<f32>() / frame.len() as f32
}

/// Non-finite samples become silence and everything is clipped to `[-1, 1]`, the range the
/// engine expects (float sources and resampler overshoot can exceed it).
fn sanitize(sample: f32) -> f32 {
    if sample.is_finite() {
        sample.clamp(-1.0, 1.0)
    } else {
        0.0
    }
}

/// The rate-conversion half: mono in at `rate`, mono out at 16 kHz.
struct RateStage {
    rate: u32,
    resampler: Engine,
    /// Mono input not yet handed to the resampler (less than one block).
    pending: Vec<f32>,
    input: Vec<Vec<f32>>,
    output: Vec<Vec<f32>>,
    /// Leading output samples that are resampler delay, still to be dropped.
    skip: usize,
    frames_in: u64,
    frames_out: u64,
}

impl RateStage {
    fn new(rate: u32) -> Result<Self, ParamsError> {
        let resampler = Engine::new(rate)?;
        let input = vec![Vec::with_capacity(resampler.input_frames_max())];
        let output = vec![vec![0.0; resampler.output_frames_max()]];
        Ok(Self {
            rate,
            skip: resampler.output_delay(),
            resampler,
            pending: Vec::new(),
            input,
            output,
            frames_in: 0,
            frames_out: 0,
        })
    }

    fn push(&mut self, mono: &[f32]) -> Vec<f32> {
        self.frames_in += mono.len() as u64;
        let mut out = Vec::with_capacity(expected_output_len(mono.len() as u64, self.rate) + 16);
        let mut mono = mono;
        // Top up a partly filled block first, then feed whole blocks straight from the input.
        if !self.pending.is_empty() {
            let need = self.resampler.input_frames_next() - self.pending.len();
            let take = need.min(mono.len());
            self.pending.extend_from_slice(&mono[..take]);
            mono = &mono[take..];
            if self.pending.len() < self.resampler.input_frames_next() {
                return out;
            }
            let block = std::mem::take(&mut self.pending);
            self.run_block(&block, &mut out);
        }
        loop {
            let need = self.resampler.input_frames_next();
            if mono.len() < need {
                break;
            }
            let (block, rest) = mono.split_at(need);
            self.run_block(block, &mut out);
            mono = rest;
        }
        self.pending.extend_from_slice(mono);
        out
    }

    fn finish(&mut self) -> Vec<f32> {
        let target = expected_output_len(self.frames_in, self.rate) as u64;
        let mut out = Vec::new();
        // Zero-pad the last partial block, then feed silence until the delayed tail is out.
        let mut block = std::mem::take(&mut self.pending);
        while self.frames_out < target {
            block.resize(self.resampler.input_frames_next(), 0.0);
            self.run_block(&block, &mut out);
            block.clear();
        }
        let excess = usize::try_from(self.frames_out - target).unwrap_or(usize::MAX);
        out.truncate(out.len().saturating_sub(excess));
        self.resampler.reset();
        self.skip = self.resampler.output_delay();
        self.frames_in = 0;
        self.frames_out = 0;
        out
    }

    /// Resamples one block of exactly `input_frames_next()` frames, appending to `out`.
    fn run_block(&mut self, block: &[f32], out: &mut Vec<f32>) {
        self.input[0].clear();
        self.input[0].extend_from_slice(block);
        let needed_out = self.resampler.output_frames_next();
        if self.output[0].len() < needed_out {
            self.output[0].resize(needed_out, 0.0);
        }
        let (_, produced) = self
            .resampler
            .process_into_buffer(&self.input, &mut self.output)
            .expect(
                "input is exactly input_frames_next() frames and output is output_frames_next()",
            );
        let fresh = &self.output[0][..produced];
        let skipped = self.skip.min(fresh.len());
        self.skip -= skipped;
        let fresh = &fresh[skipped..];
        out.extend(fresh.iter().copied().map(sanitize));
        self.frames_out += fresh.len() as u64;
    }
}

/// The rubato resampler in use: FFT for rates with a short exact block (every common rate),
/// windowed sinc otherwise.
enum Engine {
    Fft(Box<FftFixedInOut<f32>>),
    Sinc(Box<SincFixedIn<f32>>),
}

/// Calls a `rubato::Resampler` method on whichever resampler is in use.
macro_rules! delegate {
    ($engine:expr, $r:ident => $call:expr) => {
        match $engine {
            Engine::Fft($r) => $call,
            Engine::Sinc($r) => $call,
        }
    };
}

impl Engine {
    fn new(rate: u32) -> Result<Self, ParamsError> {
        let rate_in = rate as usize;
        let rate_out = ENGINE_SAMPLE_RATE as usize;
        let block = (rate_in / BLOCKS_PER_SECOND).max(MIN_BLOCK_FRAMES);
        let built = if rate_in / gcd(rate_in, rate_out) <= MAX_FFT_BLOCK {
            FftFixedInOut::new(rate_in, rate_out, block, 1).map(|r| Self::Fft(Box::new(r)))
        } else {
            let sinc_len = 256;
            let params = SincInterpolationParameters {
                sinc_len,
                f_cutoff: calculate_cutoff(sinc_len, WindowFunction::BlackmanHarris2),
                oversampling_factor: 256,
                interpolation: SincInterpolationType::Cubic,
                window: WindowFunction::BlackmanHarris2,
            };
            let ratio = f64::from(ENGINE_SAMPLE_RATE) / f64::from(rate);
            SincFixedIn::new(ratio, 1.0, params, block, 1).map(|r| Self::Sinc(Box::new(r)))
        };
        built.map_err(|e| ParamsError::Resampler(e.to_string()))
    }

    fn input_frames_next(&self) -> usize {
        delegate!(self, r => r.input_frames_next())
    }

    fn input_frames_max(&self) -> usize {
        delegate!(self, r => r.input_frames_max())
    }

    fn output_frames_next(&self) -> usize {
        delegate!(self, r => r.output_frames_next())
    }

    fn output_frames_max(&self) -> usize {
        delegate!(self, r => r.output_frames_max())
    }

    fn output_delay(&self) -> usize {
        delegate!(self, r => r.output_delay())
    }

    fn reset(&mut self) {
        delegate!(self, r => r.reset())
    }

    fn process_into_buffer(
        &mut self,
        input: &[Vec<f32>],
        output: &mut [Vec<f32>],
    ) -> rubato::ResampleResult<(usize, usize)> {
        delegate!(self, r => r.process_into_buffer(input, output, None))
    }
}

fn gcd(mut a: usize, mut b: usize) -> usize {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(freq: f32, rate: u32, secs: f32, amp: f32) -> Vec<f32> {
        let n = (rate as f32 * secs) as usize;
        (0..n)
            .map(|i| amp * (2.0 * std::f32::consts::PI * freq * i as f32 / rate as f32).sin())
            .collect()
    }

    /// Frequency from upward zero crossings, ignoring the first and last 10 %.
    fn frequency(samples: &[f32], rate: u32) -> f32 {
        let inner = &samples[samples.len() / 10..samples.len() * 9 / 10];
        let ups: Vec<usize> = inner
            .windows(2)
            .enumerate()
            .filter(|(_, w)| w[0] < 0.0 && w[1] >= 0.0)
            .map(|(i, _)| i)
            .collect();
        let (first, last) = (ups[0], ups[ups.len() - 1]);
        (ups.len() - 1) as f32 * rate as f32 / (last - first) as f32
    }

    fn peak(samples: &[f32]) -> f32 {
        let inner = &samples[samples.len() / 10..samples.len() * 9 / 10];
        inner.iter().fold(0.0f32, |m, s| m.max(s.abs()))
    }

    #[test]
    fn common_rates_keep_length_pitch_and_level() {
        for rate in [
            8_000, 11_025, 16_000, 22_050, 32_000, 44_100, 48_000, 96_000,
        ] {
            let input = sine(440.0, rate, 1.0, 0.5);
            let out = to_mono_16k(&input, rate, 1).expect("valid parameters");
            assert_eq!(out.len(), 16_000, "rate {rate}");
            let f = frequency(&out, 16_000);
            assert!((f - 440.0).abs() < 1.0, "rate {rate}: {f} Hz");
            let p = peak(&out);
            assert!((p - 0.5).abs() < 0.01, "rate {rate}: peak {p}");
        }
    }

    #[test]
    fn odd_rate_uses_sinc_and_still_works() {
        let rate = 44_101; // coprime with 16 000: the FFT block would be 44 101 frames
        let input = sine(1000.0, rate, 1.0, 0.5);
        let out = to_mono_16k(&input, rate, 1).expect("valid parameters");
        assert_eq!(out.len(), expected_output_len(input.len() as u64, rate));
        assert!((frequency(&out, 16_000) - 1000.0).abs() < 2.0);
        assert!((peak(&out) - 0.5).abs() < 0.01);
    }

    #[test]
    fn output_is_time_aligned() {
        // A tone that starts at 0.5 s must start at sample 8000 after resampling, not later.
        let rate = 44_100;
        let mut input = vec![0.0; rate as usize / 2];
        input.extend(sine(440.0, rate, 0.5, 0.5));
        let out = to_mono_16k(&input, rate, 1).expect("valid parameters");
        let onset = out
            .iter()
            .position(|s| s.abs() > 0.05)
            .expect("the tone is there");
        assert!((7_990..=8_010).contains(&onset), "onset at {onset}");
    }

    #[test]
    fn removes_content_above_the_new_nyquist() {
        // Tones above 8 kHz must vanish, not fold back below it.
        for (rate, freq) in [(48_000, 12_000.0), (44_100, 9_000.0), (22_050, 10_000.0)] {
            let out = to_mono_16k(&sine(freq, rate, 1.0, 0.5), rate, 1).expect("valid parameters");
            assert!(peak(&out) < 0.01, "{rate} Hz: aliased peak {}", peak(&out));
        }
    }

    #[test]
    fn keeps_speech_band_up_to_7_khz() {
        for rate in [22_050, 44_100, 48_000] {
            let out =
                to_mono_16k(&sine(7_000.0, rate, 1.0, 0.5), rate, 1).expect("valid parameters");
            let p = peak(&out);
            assert!((p - 0.5).abs() < 0.05, "{rate} Hz: 7 kHz peak {p}");
        }
    }

    #[test]
    fn live_latency_is_bounded() {
        // Pushing 10 ms chunks, the output never trails the input by more than 50 ms
        // (measured: 46 ms at 8 kHz, 30 ms at 22.05 kHz, 20 ms at 44.1/48 kHz, 0 at 16 kHz).
        for rate in [8_000, 16_000, 22_050, 44_100, 48_000] {
            let mut stream = StreamResampler::new(rate, 1).expect("valid parameters");
            let input = sine(440.0, rate, 1.0, 0.5);
            let (mut fed, mut got, mut worst) = (0usize, 0usize, 0.0f64);
            for chunk in input.chunks(rate as usize / 100) {
                fed += chunk.len();
                got += stream.push(chunk).len();
                let lag_ms = fed as f64 * 1000.0 / f64::from(rate) - got as f64 / 16.0;
                worst = worst.max(lag_ms);
            }
            assert!(worst <= 50.0, "{rate} Hz: output trails by {worst:.1} ms");
        }
    }

    #[test]
    fn stereo_is_averaged() {
        let left = sine(440.0, 48_000, 1.0, 0.5);
        let interleaved: Vec<f32> = left.iter().flat_map(|&l| [l, 0.0]).collect();
        let out = to_mono_16k(&interleaved, 48_000, 2).expect("valid parameters");
        assert_eq!(out.len(), 16_000);
        assert!((peak(&out) - 0.25).abs() < 0.01);
    }

    #[test]
    fn streaming_in_odd_chunks_matches_one_shot() {
        let left = sine(300.0, 22_050, 0.7, 0.4);
        let right = sine(500.0, 22_050, 0.7, 0.4);
        let interleaved: Vec<f32> = left
            .iter()
            .zip(&right)
            .flat_map(|(&l, &r)| [l, r])
            .collect();
        let whole = to_mono_16k(&interleaved, 22_050, 2).expect("valid parameters");

        let mut stream = StreamResampler::new(22_050, 2).expect("valid parameters");
        let mut pieces = Vec::new();
        // Chunk sizes that split frames and blocks at every possible place.
        for (i, chunk) in interleaved.chunks(1 + 37 * 3).enumerate() {
            let (a, b) = chunk.split_at(chunk.len().min(i % 5));
            pieces.extend(stream.push(a));
            pieces.extend(stream.push(b));
        }
        pieces.extend(stream.finish());
        assert_eq!(pieces.len(), whole.len());
        let max_diff = pieces
            .iter()
            .zip(&whole)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f32::max);
        assert!(max_diff < 1e-5, "max diff {max_diff}");
    }

    #[test]
    fn finish_resets_for_the_next_stream() {
        let mut stream = StreamResampler::new(8_000, 1).expect("valid parameters");
        let input = sine(440.0, 8_000, 0.25, 0.5);
        let first: Vec<f32> = [stream.push(&input), stream.finish()].concat();
        let second: Vec<f32> = [stream.push(&input), stream.finish()].concat();
        assert_eq!(first.len(), 4_000);
        assert_eq!(first, second);
    }

    #[test]
    fn passthrough_at_16k_only_downmixes_and_sanitizes() {
        let out =
            to_mono_16k(&[0.5, 0.1, f32::NAN, 0.2, 3.0, 3.0], 16_000, 2).expect("valid parameters");
        assert_eq!(out, vec![0.3, 0.1, 1.0]);
    }

    #[test]
    fn tiny_and_empty_inputs() {
        assert!(to_mono_16k(&[], 44_100, 2)
            .expect("valid parameters")
            .is_empty());
        assert_eq!(
            to_mono_16k(&[0.1; 3], 48_000, 1)
                .expect("valid parameters")
                .len(),
            1
        );
    }

    #[test]
    fn rejects_absurd_parameters() {
        assert_eq!(to_mono_16k(&[], 0, 1), Err(ParamsError::SampleRate(0)));
        assert_eq!(to_mono_16k(&[], 999, 1), Err(ParamsError::SampleRate(999)));
        assert_eq!(
            to_mono_16k(&[], 384_001, 1),
            Err(ParamsError::SampleRate(384_001))
        );
        assert_eq!(to_mono_16k(&[], 16_000, 0), Err(ParamsError::Channels(0)));
        assert_eq!(to_mono_16k(&[], 16_000, 33), Err(ParamsError::Channels(33)));
        assert_eq!(
            to_mono_16k(&[0.0; 3], 16_000, 2),
            Err(ParamsError::PartialFrame {
                samples: 3,
                channels: 2
            })
        );
        assert!(StreamResampler::new(384_000, 32).is_ok());
        assert!(StreamResampler::new(1_000, 1).is_ok());
    }
}
