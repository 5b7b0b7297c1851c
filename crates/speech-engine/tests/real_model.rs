//! The project's own converter on the real tiny.en weights: convert the CTranslate2 original to
//! f16 and q8_0 ggml, load each with whisper.cpp and transcribe real speech.
//!
//! Needs the fetched model (`nexus-scribe models fetch --models-dir DIR`, which `scripts/test`
//! runs) in `$NEXUS_SCRIBE_TEST_MODELS_DIR` (default `~/.cache/nexus-scribe/models`).

use std::path::PathBuf;

use speech_engine::convert::{convert_ct2_dir, Quantization};
use speech_engine::{DecodeOptions, SpeechEngine, WhisperEngine};

fn ct2_dir() -> PathBuf {
    let models = std::env::var_os("NEXUS_SCRIBE_TEST_MODELS_DIR")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/nexus-scribe/models"))
        })
        .expect("NEXUS_SCRIBE_TEST_MODELS_DIR or HOME");
    let dir = models.join("tiny.en/ct2");
    assert!(
        dir.join("model.bin").is_file(),
        "no CTranslate2 model at {}: run `nexus-scribe models fetch --models-dir {}`",
        dir.display(),
        models.display()
    );
    dir
}

fn speech() -> scribe_core::MonoAudio {
    let clip =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../samples/ljspeech_LJ001-0001.flac");
    audio_ingest::decode_file(&clip).expect("sample decodes")
}

#[test]
fn converted_weights_transcribe_real_speech() {
    let audio = speech();
    let out = tempfile::tempdir().expect("tempdir");
    for q in [Quantization::F16, Quantization::Q8_0] {
        let file = out.path().join(format!("{q:?}.bin"));
        convert_ct2_dir(&ct2_dir(), &file, q).expect("converts");
        let engine = WhisperEngine::load(&file).expect("whisper.cpp loads the converted file");
        assert!(!engine.model_info().multilingual, "tiny.en is English-only");
        let t = engine
            .transcribe(&audio, &DecodeOptions::default(), None)
            .expect("transcribes");
        let text = t.text().to_lowercase();
        for expected in [
            "printing",
            "in the only sense",
            "arts and crafts",
            "exhibition",
        ] {
            assert!(
                text.contains(expected),
                "{q:?}: {expected:?} missing from {text:?}"
            );
        }
        let words: Vec<_> = t.segments.iter().flat_map(|s| &s.words).collect();
        assert!(words.len() >= 20, "{q:?}: word timestamps");
        assert!(
            words.windows(2).all(|w| w[0].start_ms <= w[1].start_ms),
            "{q:?}: words in time order"
        );
        assert!(words.last().is_some_and(|w| w.end_ms <= t.duration_ms));
    }
}

#[test]
fn greedy_without_fallback_also_works() {
    let audio = speech();
    let out = tempfile::tempdir().expect("tempdir");
    let file = out.path().join("q8.bin");
    convert_ct2_dir(&ct2_dir(), &file, Quantization::Q8_0).expect("converts");
    let engine = WhisperEngine::load(&file).expect("loads");
    let opts = DecodeOptions {
        beam_size: 1,
        temperature_fallback: false,
        threads: 1,
        ..DecodeOptions::default()
    };
    let t = engine.transcribe(&audio, &opts, None).expect("transcribes");
    assert!(t.text().to_lowercase().contains("arts and crafts"));
}

#[test]
fn garbage_model_file_is_an_error_not_a_crash() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("ggml-f16.bin");
    std::fs::write(&file, b"definitely not a ggml model").expect("write");
    let err = WhisperEngine::load(&file).err().expect("refused");
    assert!(err.to_string().contains("ggml-f16.bin"), "{err}");
}
