//! Uploading a recording: validated as it arrives (type, size, content), queued as a job with
//! progress, transcribed with the real model into the meeting's stored transcript; other
//! organisations see neither the meeting nor the job; no upload file is left behind.

use std::time::{Duration, Instant};

use e2e_tests::server::{http_get, http_upload, login, setup, Server};
use e2e_tests::{eval_dir, reference, wer, words};

const CLIP: &str = "ljspeech_LJ001-0001.flac";

fn json(body: &str) -> serde_json::Value {
    serde_json::from_str(body).unwrap_or_else(|_| panic!("not JSON: {body}"))
}

#[test]
fn a_recording_is_checked_queued_and_transcribed_into_the_meeting() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = setup(dir.path(), "Lectures");
    let other = setup(dir.path(), "Elsewhere");
    // A small limit, so that "too large" is cheap to show.
    let server = Server::start(
        dir.path(),
        &[("NEXUS_SCRIBE__SERVER__MAX_UPLOAD_BYTES", "2000000")],
    );
    let token = login(&server, &s.admin_email);
    let outsider = login(&server, &other.admin_email);
    let path = format!("/api/v1/meetings/{}/recordings", s.meeting_id);
    let flac = std::fs::read(eval_dir().join("dev").join(CLIP)).expect("clip");

    // Refusals, each naming the problem.
    let refusals: [(Option<&str>, Vec<u8>, u16, &str); 6] = [
        (
            Some("audio/wav"),
            b"hello, this is not audio at all".repeat(10),
            415,
            "not a WAV, FLAC",
        ),
        (
            Some("audio/mpeg"),
            flac.clone(),
            415,
            "is FLAC but was declared as MP3",
        ),
        (Some("audio/flac"), Vec::new(), 400, "empty"),
        (None, flac.clone(), 415, "Content-Type is missing"),
        (
            Some("text/plain"),
            flac.clone(),
            415,
            "not an accepted recording type",
        ),
        (
            Some("audio/flac"),
            vec![0u8; 2_000_001],
            413,
            "2000000-byte limit",
        ),
    ];
    for (ctype, body, status, says) in refusals {
        let (got, answer) = http_upload(&server, &path, Some(&token), ctype, &body);
        assert_eq!(got, status, "{ctype:?}: {answer}");
        assert!(answer.contains(says), "{ctype:?}: {answer}");
    }
    // Another organisation's meeting does not exist for this user.
    let (got, _) = http_upload(&server, &path, Some(&outsider), Some("audio/flac"), &flac);
    assert_eq!(got, 404);
    let (got, _) = http_upload(&server, &path, None, Some("audio/flac"), &flac);
    assert_eq!(got, 401);

    // Accepted: 202 with a job, which runs to the end with rising progress.
    let (got, answer) = http_upload(&server, &path, Some(&token), Some("audio/flac"), &flac);
    assert_eq!(got, 202, "{answer}");
    let job = json(&answer);
    assert_eq!(job["state"], "queued");
    let job_path = format!("/api/v1/jobs/{}", job["job_id"].as_str().expect("job id"));
    let done = wait_done(&server, &job_path, &token);
    assert_eq!(done["progress"], 1.0, "{done}");
    assert!(
        done["duration_ms"].as_u64().is_some_and(|d| d > 9_000),
        "{done}"
    );
    let (got, _) = http_get(&server, &job_path, Some(&outsider));
    assert_eq!(got, 404, "another organisation's job is missing");

    // The transcript holds the recording's words.
    let (got, text) = http_get(
        &server,
        &format!("/api/v1/meetings/{}/transcript?format=txt", s.meeting_id),
        Some(&token),
    );
    assert_eq!(got, 200, "{text}");
    let err = wer(&reference(CLIP), &text);
    assert!(err < 0.15, "WER {err:.3}: {text}");

    // The same as multipart/form-data (the `file` part, its own Content-Type), checked the same.
    let form = |part_type: &str, name: &str| {
        let mut body = format!(
            "--XyZ\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nhello\r\n\
             --XyZ\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"talk.flac\"\r\n\
             Content-Type: {part_type}\r\n\r\n"
        )
        .into_bytes();
        body.extend_from_slice(&flac);
        body.extend_from_slice(b"\r\n--XyZ--\r\n");
        body
    };
    let multipart = Some("multipart/form-data; boundary=XyZ");
    let (got, answer) = http_upload(
        &server,
        &path,
        Some(&token),
        multipart,
        &form("audio/wav", "file"),
    );
    assert_eq!(got, 415, "{answer}");
    assert!(
        answer.contains("is FLAC but was declared as WAV"),
        "{answer}"
    );
    let (got, answer) = http_upload(
        &server,
        &path,
        Some(&token),
        multipart,
        &form("audio/flac", "upload"),
    );
    assert_eq!(got, 400, "{answer}");
    assert!(answer.contains("no `file` part"), "{answer}");
    let (got, answer) = http_upload(
        &server,
        &path,
        Some(&token),
        multipart,
        &form("audio/flac", "file"),
    );
    assert_eq!(got, 202, "{answer}");
    let second = format!(
        "/api/v1/jobs/{}",
        json(&answer)["job_id"].as_str().expect("job id")
    );
    wait_done(&server, &second, &token);

    // Nothing of any upload, accepted or refused, is left on disk.
    let leftovers: Vec<_> = std::fs::read_dir(dir.path().join("uploads"))
        .expect("uploads folder")
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    assert!(
        !server.log().contains("printing"),
        "no transcript text in the log"
    );
}

/// Polls a job until it is done (failing the test if it fails or takes over two minutes).
fn wait_done(server: &Server, job_path: &str, token: &str) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let (got, body) = http_get(server, job_path, Some(token));
        assert_eq!(got, 200, "{body}");
        let v = json(&body);
        match v["state"].as_str() {
            Some("done") => return v,
            Some("failed") => panic!("job failed: {v}"),
            _ => {}
        }
        assert!(Instant::now() < deadline, "the job did not finish: {v}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// A server killed (SIGKILL) in the middle of a recording's job resumes it on restart and the
/// transcript holds the recording once — nothing lost, nothing stored twice.
#[test]
fn a_job_cut_off_by_a_crash_resumes_and_stores_nothing_twice() {
    const LONG: &str = "ljspeech_LJ001-0001_to_0032_concat.flac";
    let dir = tempfile::tempdir().expect("tempdir");
    let s = setup(dir.path(), "Lectures");
    let mut server = Server::start(dir.path(), &[]);
    let token = login(&server, &s.admin_email);
    let flac = std::fs::read(eval_dir().join("long").join(LONG)).expect("long recording");
    let path = format!("/api/v1/meetings/{}/recordings", s.meeting_id);
    let (got, answer) = http_upload(&server, &path, Some(&token), Some("audio/flac"), &flac);
    assert_eq!(got, 202, "{answer}");
    let job_path = format!(
        "/api/v1/jobs/{}",
        json(&answer)["job_id"].as_str().expect("id")
    );

    // Kill it once some of the recording is stored, well before the end.
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let (_, body) = http_get(&server, &job_path, Some(&token));
        let v = json(&body);
        let processed = v["processed_ms"].as_u64().unwrap_or(0);
        if processed >= 20_000 {
            assert_eq!(v["state"], "running", "{v}");
            break;
        }
        assert_ne!(
            v["state"], "done",
            "finished before it could be interrupted: {v}"
        );
        assert!(Instant::now() < deadline, "no progress: {v}");
        std::thread::sleep(Duration::from_millis(100));
    }
    server.kill();

    let server = Server::start(dir.path(), &[]);
    assert!(
        server
            .log()
            .contains("resuming an unfinished recording job")
            || {
                std::thread::sleep(Duration::from_millis(500));
                server
                    .log()
                    .contains("resuming an unfinished recording job")
            },
        "{}",
        server.log()
    );
    let token = login(&server, &s.admin_email);
    let done = wait_done(&server, &job_path, &token);
    assert_eq!(done["progress"], 1.0, "{done}");
    let (got, text) = http_get(
        &server,
        &format!("/api/v1/meetings/{}/transcript?format=txt", s.meeting_id),
        Some(&token),
    );
    assert_eq!(got, 200);
    let manifest = std::fs::read_to_string(eval_dir().join("long/manifest.tsv")).expect("manifest");
    let reference = manifest
        .lines()
        .nth(1)
        .and_then(|l| l.split('\t').nth(2))
        .expect("reference");
    // The first 20 s stored twice would add some 50 words (9 %); lost, remove as many. An
    // uninterrupted job gives 564 words for the reference's 574 (WER 5–6 % by this simple
    // normaliser, 3.5 % by Whisper's).
    let (r, h) = (words(reference).len() as f64, words(&text).len() as f64);
    assert!(
        (h - r).abs() / r < 0.05,
        "{h} words for {r}: repeated or lost"
    );
    let err = wer(reference, &text);
    assert!(err < 0.09, "WER {err:.3} across the crash");
    let leftovers: Vec<_> = std::fs::read_dir(dir.path().join("uploads"))
        .expect("uploads folder")
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}
