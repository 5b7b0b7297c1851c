//! `nexus-scribe transcribe` on real speech with the real converted model.

use std::path::{Path, PathBuf};

use e2e_tests::{eval_dir, reference, run, scribe, wer};

fn dev(name: &str) -> PathBuf {
    eval_dir().join("dev").join(name)
}

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn several_files_in_one_call_give_accurate_json_lines() {
    let files = [
        "ljspeech_LJ001-0001.flac",
        "ljspeech_LJ001-0002.flac",
        "ljspeech_LJ001-0008.flac",
    ];
    let out = run(scribe()
        .args(["transcribe", "--format", "json"])
        .args(files.iter().map(|f| dev(f))));
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    let lines: Vec<serde_json::Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is JSON"))
        .collect();
    assert_eq!(lines.len(), files.len());
    let (mut errors, mut ref_words) = (0.0, 0.0);
    for (line, file) in lines.iter().zip(files) {
        assert!(line["file"].as_str().is_some_and(|f| f.ends_with(file)));
        let text = line["text"].as_str().expect("text");
        let reference = reference(file);
        let n = e2e_tests::words(&reference).len() as f64;
        errors += wer(&reference, text) * n;
        ref_words += n;
        let segments = line["segments"].as_array().expect("segments");
        assert!(!segments.is_empty());
        let words = segments[0]["words"].as_array().expect("words");
        assert!(!words.is_empty(), "word timestamps present");
        let duration = line["duration_ms"].as_u64().expect("duration");
        for seg in segments {
            let (a, b) = (
                seg["start_ms"].as_u64().expect("start"),
                seg["end_ms"].as_u64().expect("end"),
            );
            assert!(
                a <= b && b <= duration,
                "segment {a}..{b} within {duration}"
            );
        }
        for w in words {
            let c = w["confidence"].as_f64().expect("confidence");
            assert!((0.0..=1.0).contains(&c));
        }
    }
    // Test-grade normalisation (no number/spelling normaliser): the benchmark measures the
    // real figure; this catches a broken engine or converter.
    let corpus_wer = errors / ref_words;
    assert!(
        corpus_wer <= 0.10,
        "corpus WER {corpus_wer:.3} over {files:?}"
    );
    // Piped output: no progress bar drawn on stderr.
    assert!(
        !stderr(&out).contains('%'),
        "no progress bar when not a terminal"
    );
}

#[test]
fn srt_and_vtt_have_well_formed_increasing_cues() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dev("ljspeech_LJ001-0003.flac");
    for fmt in ["srt", "vtt"] {
        let out = run(scribe()
            .args(["transcribe", "--format", fmt, "--output-dir"])
            .arg(dir.path())
            .arg(&file));
        assert!(out.status.success(), "stderr: {}", stderr(&out));
        let text = std::fs::read_to_string(dir.path().join(format!("ljspeech_LJ001-0003.{fmt}")))
            .expect("subtitle written");
        let sep = if fmt == "srt" { ',' } else { '.' };
        if fmt == "vtt" {
            assert!(text.starts_with("WEBVTT\n\n"));
        } else {
            assert!(text.starts_with("1\n"));
        }
        let mut last_end = 0;
        let mut cues = 0;
        for line in text.lines().filter(|l| l.contains(" --> ")) {
            let (a, b) = line.split_once(" --> ").expect("arrow");
            let (a, b) = (parse_ts(a, sep), parse_ts(b, sep));
            assert!(a < b, "{line}: cue ends after it starts");
            assert!(a >= last_end, "{line}: cues do not overlap");
            assert!(b <= 9_700, "{line}: within the 9.67 s clip");
            last_end = b;
            cues += 1;
        }
        assert!(cues >= 1);
    }
}

fn parse_ts(ts: &str, sep: char) -> u64 {
    let (hms, ms) = ts
        .split_once(sep)
        .unwrap_or_else(|| panic!("{ts}: separator {sep}"));
    assert_eq!(ms.len(), 3, "{ts}: three-digit milliseconds");
    let parts: Vec<u64> = hms.split(':').map(|p| p.parse().expect("number")).collect();
    assert_eq!(parts.len(), 3, "{ts}: HH:MM:SS");
    ((parts[0] * 60 + parts[1]) * 60 + parts[2]) * 1000 + ms.parse::<u64>().expect("ms")
}

/// Bad files each get an error naming the file and the problem and a non-zero exit, while the
/// good file in the same call is still transcribed.
#[test]
fn bad_files_fail_clearly_and_good_files_still_transcribe() {
    let dir = tempfile::tempdir().expect("tempdir");
    let good = dev("ljspeech_LJ001-0002.flac");
    let flac = std::fs::read(&good).expect("read flac");
    let write = |name: &str, bytes: &[u8]| -> PathBuf {
        let p = dir.path().join(name);
        std::fs::write(&p, bytes).expect("write");
        p
    };
    let text = write("notes.wav", b"This is a meeting agenda, not audio.\n");
    let empty = write("empty.flac", b"");
    let truncated = write("truncated.flac", &flac[..flac.len() / 3]);
    let mislabelled = write("really-flac.mp3", &flac);
    let missing = dir.path().join("missing.wav");
    let out = run(scribe().args(["transcribe", "--format", "txt"]).args([
        &text,
        &empty,
        &good,
        &truncated,
        &mislabelled,
        &missing,
    ]));
    assert!(
        !out.status.success(),
        "a failed file makes the exit status non-zero"
    );
    let err = stderr(&out);
    let line_for = |p: &Path| {
        err.lines()
            .find(|l| l.contains(&p.display().to_string()))
            .unwrap_or_else(|| panic!("no error line naming {} in:\n{err}", p.display()))
            .to_lowercase()
    };
    assert!(line_for(&text).contains("not an audio file"), "{err}");
    assert!(line_for(&empty).contains("empty"), "{err}");
    assert!(line_for(&truncated).contains("truncated"), "{err}");
    let mis = line_for(&mislabelled);
    assert!(mis.contains("mp3") && mis.contains("flac"), "{err}");
    assert!(
        line_for(&missing).contains("not found") || line_for(&missing).contains("no such file"),
        "{err}"
    );
    assert!(err.contains("5 of 6 files"), "{err}");
    let transcript = stdout(&out);
    assert!(
        transcript.contains(&good.display().to_string()),
        "{transcript}"
    );
    assert!(
        wer(
            &reference("ljspeech_LJ001-0002.flac"),
            transcript.lines().nth(1).unwrap_or("")
        ) <= 0.25,
        "{transcript}"
    );
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn missing_model_names_the_fetch_command() {
    let empty = tempfile::tempdir().expect("tempdir");
    let out = run(scribe()
        .env("NEXUS_SCRIBE__ENGINE__MODELS_DIR", empty.path())
        .args(["transcribe"])
        .arg(dev("ljspeech_LJ001-0002.flac")));
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            "nexus-scribe models fetch tiny.en --models-dir {}",
            empty.path().display()
        )),
        "{err}"
    );
}

#[test]
fn several_subtitle_files_need_an_output_folder() {
    let out = run(scribe()
        .args(["transcribe", "--format", "srt"])
        .arg(dev("ljspeech_LJ001-0002.flac"))
        .arg(dev("ljspeech_LJ001-0003.flac")));
    assert!(!out.status.success());
    assert!(stderr(&out).contains("--output-dir"), "{}", stderr(&out));
}
