//! Decodes audio files to 16 kHz mono and prints how long each took, e.g.
//! `cargo run --release -p audio-ingest --example decode -- meeting.mp3`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

fn main() -> ExitCode {
    let mut status = ExitCode::SUCCESS;
    for arg in std::env::args_os().skip(1) {
        let path = PathBuf::from(arg);
        let started = Instant::now();
        match audio_ingest::decode_file(&path) {
            Ok(audio) => println!(
                "{}: {:.1} s of audio ({} samples at 16 kHz) in {:.2} s",
                path.display(),
                audio.duration_secs(),
                audio.samples.len(),
                started.elapsed().as_secs_f64()
            ),
            Err(e) => {
                eprintln!("{e}");
                status = ExitCode::FAILURE;
            }
        }
    }
    status
}
