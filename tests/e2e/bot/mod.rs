//! `nexus-scribe bot stream` against a scripted fake of the server's `/ws/audio/{meeting}` socket:
//! headers, waiting for `metadata`, pacing, `CloseStream`, verbatim JSON lines, resume from
//! `acked_audio_ms`, refusals, Ctrl-C and TLS with a private CA.

mod fake_server;

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use e2e_tests::{bin, repo_root};

use fake_server::{wav, Ending, FakeServer, Script, CLOSE_STREAM, SPOKEN, TOKEN};

const KEY: &str = "k3y-0123456789abcdef-never-logged";

/// `nexus-scribe bot stream FILE --url URL --meeting m-1 --bot-id bot-7`, key in the environment,
/// logs at `trace` so the test sees everything that could leak.
fn bot(dir: &Path, file: &Path, url: &str) -> Command {
    let mut cmd = Command::new(bin());
    cmd.current_dir(dir)
        .env_remove("NEXUS_SCRIBE_BOT_API_KEY")
        .env("NEXUS_SCRIBE_BOT_API_KEY", KEY)
        .env("NEXUS_SCRIBE__LOGGING__LEVEL", "trace")
        .args(["bot", "stream"])
        .arg(file)
        .args(["--url", url, "--meeting", "m-1", "--bot-id", "bot-7"]);
    cmd
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn stdout_lines(out: &Output) -> Vec<String> {
    text(&out.stdout).lines().map(str::to_owned).collect()
}

/// Nothing secret or spoken reaches stderr.
fn assert_stderr_clean(out: &Output) {
    let err = text(&out.stderr);
    for secret in [KEY, TOKEN, "tok-1", SPOKEN] {
        assert!(!err.contains(secret), "stderr leaks {secret:?}:\n{err}");
    }
}

fn serve_script(acked_ms: u64) -> Script {
    Script::Serve {
        acked_ms,
        delay: Duration::ZERO,
    }
}

#[test]
fn bot_streams_a_file_with_header_auth_and_prints_frames_verbatim() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (file, pcm) = wav(dir.path(), 3_000);
    let server = FakeServer::start(vec![Script::Serve {
        acked_ms: 0,
        delay: Duration::from_millis(400),
    }]);
    let started = Instant::now();
    let out = bot(dir.path(), &file, &server.url("http"))
        .output()
        .expect("runs");
    let elapsed = started.elapsed();
    server.settle();
    assert!(out.status.success(), "stderr: {}", text(&out.stderr));
    let conns = server.conns();
    assert_eq!(conns.len(), 1);
    let c = &conns[0];
    // The socket, the audio format in the query, credentials only in headers.
    assert_eq!(
        c.uri,
        "/ws/audio/m-1?encoding=linear16&sample_rate=16000&channels=1"
    );
    assert_eq!(c.header("x-bot-id"), Some("bot-7"));
    assert_eq!(
        c.header("authorization"),
        Some(format!("Bearer {KEY}").as_str())
    );
    // Nothing before the opening metadata, then every sample exactly once, in order.
    let metadata_at = c.metadata_at.expect("metadata sent");
    assert!(
        c.received.iter().all(|(t, _)| *t >= metadata_at),
        "the bot sent before the opening metadata"
    );
    assert_eq!(c.audio().len(), pcm.len());
    assert!(c.audio() == pcm, "the PCM received differs from the file");
    assert!(
        c.binaries().iter().all(|(_, len)| *len <= 3_200),
        "100 ms chunks"
    );
    assert_eq!(
        c.texts(),
        [CLOSE_STREAM],
        "CloseStream after the audio, once"
    );
    assert_eq!(c.ending, Ending::ServerClosed);
    // Every frame the server sent, verbatim, one per line, and nothing else.
    assert_eq!(stdout_lines(&out), c.sent);
    // Not paced at real time: 3 s of audio go well within the server's allowed lead.
    assert!(elapsed < Duration::from_millis(2_600), "took {elapsed:?}");
    assert_stderr_clean(&out);
}

#[test]
fn bot_realtime_paces_a_two_second_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (file, pcm) = wav(dir.path(), 2_000);
    let server = FakeServer::start(vec![serve_script(0)]);
    let out = bot(dir.path(), &file, &server.url("ws"))
        .arg("--realtime")
        .output()
        .expect("runs");
    server.settle();
    assert!(out.status.success(), "stderr: {}", text(&out.stderr));
    let conns = server.conns();
    let c = &conns[0];
    let t0 = c.metadata_at.expect("metadata");
    let end = c.close_stream_at().expect("CloseStream");
    assert!(
        end - t0 >= Duration::from_millis(1_900),
        "2 s of audio sent in {:?}",
        end - t0
    );
    // Chunk k arrives no earlier than k × 100 ms (a little slack for the two clocks).
    for (k, (t, _)) in c.binaries().iter().enumerate() {
        let due = Duration::from_millis(100 * k as u64);
        assert!(
            *t - t0 + Duration::from_millis(30) >= due,
            "chunk {k} after {:?}",
            *t - t0
        );
    }
    assert!(c.audio() == pcm);
}

#[test]
fn bot_resumes_after_a_dropped_connection_from_the_acked_offset() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (file, pcm) = wav(dir.path(), 3_000);
    // The first connection starts a stream; the second reports 600 ms acknowledged.
    let server = FakeServer::start(vec![serve_script(0), serve_script(600)]);
    let out = bot(dir.path(), &file, &server.url("http"))
        .args(["--disconnect-after-ms", "1000"])
        .output()
        .expect("runs");
    server.settle();
    assert!(out.status.success(), "stderr: {}", text(&out.stderr));
    let conns = server.conns();
    assert_eq!(conns.len(), 2, "one drop, one resume");
    let (first, second) = (&conns[0], &conns[1]);
    // The first connection carried exactly the first second, then died without a close frame.
    assert!(
        first.audio() == pcm[..32_000],
        "first connection: 1000 ms of audio"
    );
    assert_eq!(
        first.texts(),
        Vec::<String>::new(),
        "no CloseStream on the dropped connection"
    );
    assert_eq!(first.ending, Ending::Abrupt);
    // The second resumed the same stream with the token (URL-encoded), same headers.
    assert_eq!(
        second.uri,
        "/ws/audio/m-1?encoding=linear16&sample_rate=16000&channels=1&resume_token=tok-1%2F%2Bresume"
    );
    assert_eq!(
        second.header("authorization"),
        Some(format!("Bearer {KEY}").as_str())
    );
    // …and sent from acked_audio_ms = 600, i.e. byte 600 × 16 × 2, to the end: nothing lost,
    // nothing repeated beyond what the server asked for.
    let resumed = second.audio();
    assert_eq!(resumed.len(), pcm.len() - 19_200);
    assert!(
        resumed == pcm[19_200..],
        "resumed audio starts at byte 19200"
    );
    let first_chunk = second.binaries()[0].1;
    assert_eq!(first_chunk, 3_200);
    assert_eq!(second.texts(), [CLOSE_STREAM]);
    assert_eq!(second.ending, Ending::ServerClosed);
    // stdout: both connections' frames, in order.
    let expected: Vec<String> = first.sent.iter().chain(&second.sent).cloned().collect();
    assert_eq!(stdout_lines(&out), expected);
    assert_stderr_clean(&out);
}

#[test]
fn bot_exits_2_on_a_capacity_close_and_prints_the_error_message() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (file, _) = wav(dir.path(), 1_000);
    let server = FakeServer::start(vec![Script::Refuse { code: 4102 }]);
    // The key may also come from the flag (without the environment variable).
    let out = bot(dir.path(), &file, &server.url("http"))
        .env_remove("NEXUS_SCRIBE_BOT_API_KEY")
        .args(["--api-key", KEY])
        .output()
        .expect("runs");
    server.settle();
    assert_eq!(out.status.code(), Some(2), "stderr: {}", text(&out.stderr));
    let conns = server.conns();
    assert_eq!(conns.len(), 1, "a 4xxx close is final: no reconnection");
    assert_eq!(stdout_lines(&out), conns[0].sent);
    let err = text(&out.stderr);
    assert!(
        err.contains("server closed the stream: 4102 at capacity"),
        "{err}"
    );
    assert_stderr_clean(&out);
}

#[test]
fn bot_closes_the_stream_cleanly_on_ctrl_c() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (file, pcm) = wav(dir.path(), 5_000);
    let server = FakeServer::start(vec![serve_script(0)]);
    let child = bot(dir.path(), &file, &server.url("http"))
        .arg("--realtime")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawns");
    let deadline = Instant::now() + Duration::from_secs(10);
    while server
        .conns()
        .first()
        .is_none_or(|c| c.audio().len() < 32_000)
    {
        assert!(Instant::now() < deadline, "no audio arrived");
        std::thread::sleep(Duration::from_millis(20));
    }
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let out = child.wait_with_output().expect("exits");
    server.settle();
    assert!(out.status.success(), "stderr: {}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("interrupted"),
        "{}",
        text(&out.stderr)
    );
    let conns = server.conns();
    let c = &conns[0];
    assert_eq!(c.texts(), [CLOSE_STREAM]);
    let sent = c.audio();
    assert!(sent.len() < pcm.len(), "stopped sending audio on Ctrl-C");
    assert!(sent == pcm[..sent.len()]);
    assert_eq!(
        stdout_lines(&out).last(),
        c.sent.last(),
        "final metadata printed"
    );
}

#[test]
fn bot_speaks_tls_to_a_server_with_a_private_ca() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (file, pcm) = wav(dir.path(), 1_000);
    let server = FakeServer::start_tls(vec![serve_script(0)]);
    let ca = repo_root().join("tests/fixtures/tls/ca.pem");
    let out = bot(dir.path(), &file, &server.url("https"))
        .arg("--ca-cert")
        .arg(&ca)
        .output()
        .expect("runs");
    server.settle();
    assert!(out.status.success(), "stderr: {}", text(&out.stderr));
    assert!(server.conns()[0].audio() == pcm);
    // Without the CA the certificate is not trusted: a connection error, exit 1.
    let out = bot(dir.path(), &file, &server.url("wss"))
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1), "stderr: {}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("certificate"),
        "{}",
        text(&out.stderr)
    );
    assert!(out.stdout.is_empty());
}

#[test]
fn bot_usage_errors_exit_1_and_name_the_problem() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (file, _) = wav(dir.path(), 100);
    let url = "http://127.0.0.1:9";
    // The key twice, or not at all.
    let out = bot(dir.path(), &file, url)
        .args(["--api-key", KEY])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("not both"),
        "{}",
        text(&out.stderr)
    );
    let out = bot(dir.path(), &file, url)
        .env_remove("NEXUS_SCRIBE_BOT_API_KEY")
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("NEXUS_SCRIBE_BOT_API_KEY"));
    // A missing file, a bad URL, a missing flag.
    let out = bot(dir.path(), &dir.path().join("nope.wav"), url)
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("nope.wav"),
        "{}",
        text(&out.stderr)
    );
    let out = bot(dir.path(), &file, "127.0.0.1:8080")
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("--url"), "{}", text(&out.stderr));
    let out = Command::new(bin())
        .current_dir(dir.path())
        .args(["bot", "stream"])
        .arg(&file)
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("--url"), "{}", text(&out.stderr));
    // Nothing listening: a connection error naming the address.
    let out = bot(dir.path(), &file, url).output().expect("runs");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("127.0.0.1:9"),
        "{}",
        text(&out.stderr)
    );
    assert_stderr_clean(&out);
}
