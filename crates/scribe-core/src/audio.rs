//! The audio format every engine consumes: 16 kHz mono `f32` in `[-1, 1]`.

/// Sample rate of the audio handed to the speech engine.
pub const ENGINE_SAMPLE_RATE: u32 = 16_000;

/// Mono audio at [`ENGINE_SAMPLE_RATE`]. Deliberately not `Debug`: it holds what people said.
#[derive(Clone, Default, PartialEq)]
pub struct MonoAudio {
    /// Samples in `[-1.0, 1.0]`.
    pub samples: Vec<f32>,
}

impl MonoAudio {
    /// Wraps samples that are already 16 kHz mono.
    pub fn new(samples: Vec<f32>) -> Self {
        Self { samples }
    }

    /// Length in milliseconds.
    pub fn duration_ms(&self) -> u64 {
        self.samples.len() as u64 * 1000 / u64::from(ENGINE_SAMPLE_RATE)
    }

    /// Length in seconds.
    pub fn duration_secs(&self) -> f64 {
        self.samples.len() as f64 / f64::from(ENGINE_SAMPLE_RATE)
    }

    /// True when there are no samples.
    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }
}

impl std::fmt::Debug for MonoAudio {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MonoAudio")
            .field("duration_ms", &self.duration_ms())
            .finish_non_exhaustive()
    }
}
