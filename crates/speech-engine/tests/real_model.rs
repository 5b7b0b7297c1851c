//! The project's own converter on the real tiny.en weights: convert the CTranslate2 original to
//! f16 and q8_0 ggml, load each with whisper.cpp and transcribe real speech; and the scheduler
//! running several streams at once on the fetched q8_0 model.
//!
//! Needs the fetched model (`nexus-scribe models fetch --models-dir DIR`, which `scripts/test`
//! runs) in `$NEXUS_SCRIBE_TEST_MODELS_DIR` (default `~/.cache/nexus-scribe/models`).

use std::path::PathBuf;

use speech_engine::convert::{convert_ct2_dir, Quantization};
use speech_engine::{DecodeOptions, SpeechEngine, WhisperEngine};

fn models_dir() -> PathBuf {
    std::env::var_os("NEXUS_SCRIBE_TEST_MODELS_DIR")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/nexus-scribe/models"))
        })
        .expect("NEXUS_SCRIBE_TEST_MODELS_DIR or HOME")
}

fn ct2_dir() -> PathBuf {
    let models = models_dir();
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

/// Several streams at once through the scheduler on the fetched q8_0 model and real clips:
/// each stream sends growing partials (most get coalesced) and then its final.
#[test]
fn scheduler_decodes_concurrent_streams_with_the_real_model() {
    use speech_engine::scheduler::{completion_channel, streaming_options, ShutdownMode};
    use speech_engine::{Job, JobKind, Scheduler, SchedulerConfig};

    let model = models_dir().join("tiny.en/ggml-q8_0.bin");
    assert!(
        model.is_file(),
        "no q8_0 model at {}: run `nexus-scribe models fetch`",
        model.display()
    );
    let engine = std::sync::Arc::new(WhisperEngine::load(&model).expect("model loads"));
    let config = SchedulerConfig {
        max_streams: 8,
        ..SchedulerConfig::default()
    };
    let scheduler = Scheduler::new(engine, config).expect("scheduler starts");
    let dev = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/eval/dev");
    let clips = [
        ("ljspeech_LJ001-0002.flac", "comparatively modern"),
        ("ljspeech_LJ001-0004.flac", "immediate predecessors"),
        ("ljspeech_LJ001-0008.flac", "never been surpassed"),
        ("ljspeech_LJ001-0009.flac", "movable types"),
    ];
    let mut finals = Vec::new();
    let mut partials = Vec::new();
    let mut handles = Vec::new();
    for (i, (file, _)) in clips.iter().enumerate() {
        let audio = audio_ingest::decode_file(&dev.join(file)).expect("clip decodes");
        let stream = scheduler.admit(format!("stream-{i}")).expect("admitted");
        // Growing partials every second of audio, then the final: what a live stream sends.
        for end in (16_000..audio.samples.len()).step_by(16_000) {
            let prefix = scribe_core::MonoAudio::new(audio.samples[..end].to_vec());
            let (done, rx) = completion_channel();
            stream.submit(
                Job::partial(prefix, streaming_options(JobKind::Partial)),
                done,
            );
            partials.push(rx);
        }
        let (done, rx) = completion_channel();
        stream.submit(
            Job::utterance_final(audio, streaming_options(JobKind::Final)),
            done,
        );
        finals.push(rx);
        handles.push(stream);
    }
    let wait = std::time::Duration::from_secs(30);
    for (rx, (file, expected)) in finals.iter().zip(clips) {
        let text = rx
            .recv_timeout(wait)
            .expect("final arrives")
            .expect("final decodes")
            .text()
            .to_lowercase();
        assert!(
            text.contains(expected),
            "{file}: {expected:?} missing from {text:?}"
        );
    }
    for rx in &partials {
        match rx.recv_timeout(wait).expect("every job is answered") {
            Ok(_) | Err(speech_engine::EngineError::Superseded) => {}
            Err(e) => panic!("partial failed: {e}"),
        }
    }
    // A result is delivered just before its worker records the job's figures: wait for them.
    let deadline = std::time::Instant::now() + wait;
    let mut m = scheduler.metrics();
    while m.final_latency.count < 4 && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(10));
        m = scheduler.metrics();
    }
    assert_eq!(m.final_latency.count, 4);
    assert!(m.real_time_factor.is_some_and(|r| r > 0.0 && r < 5.0));
    assert!(m.audio_seconds_total > 16.0, "{}", m.audio_seconds_total);
    assert_eq!(m.streams.len(), 4);
    let text = m.to_prometheus();
    assert!(text.contains("nexus_scribe_stream_lag_seconds{stream=\"stream-3\"} 0\n"));
    assert!(text.contains("nexus_scribe_decode_latency_seconds_count{kind=\"final\"} 4\n"));
    drop(handles);
    scheduler.shutdown(ShutdownMode::Drain(wait));
}
