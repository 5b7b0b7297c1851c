//! `bot stream FILE`: the reference meeting bot (PROTOCOL.md §1, §5). Streams a file to
//! `/ws/audio/{meeting}` as PCM, prints every text frame the server sends as one JSON line on
//! stdout, and resumes with the resume token when the connection drops.
//!
//! Exit status: 0 the stream ended with the final `metadata`; 1 usage, file or connection
//! problem; 2 the server refused the stream (a 4xxx close code or an HTTP 4xx answer).

mod args;
mod audio;
mod close;
mod connect;
mod endpoint;
mod output;
mod pacing;
mod session;
mod stream;
mod tls;

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use tokio::sync::watch;

pub use args::BotCommand;
use args::StreamArgs;
use connect::Credentials;
use endpoint::Endpoint;
use output::Printer;
use stream::{Outcome, Plan};

/// Exit status when the server refused or closed the stream for good.
const EXIT_REFUSED: u8 = 2;

pub fn run(cmd: BotCommand, env: &BTreeMap<String, String>) -> anyhow::Result<ExitCode> {
    match cmd {
        BotCommand::Stream(args) => stream_file(args, env),
    }
}

fn stream_file(args: StreamArgs, env: &BTreeMap<String, String>) -> anyhow::Result<ExitCode> {
    let api_key = args::api_key(args.api_key, env)?;
    let endpoint = Endpoint::parse(&args.url, &args.meeting)?;
    if args.bot_id.is_empty() {
        anyhow::bail!("--bot-id is empty");
    }
    let tls = endpoint
        .tls
        .then(|| tls::client_config(args.ca_cert.as_deref()))
        .transpose()?;
    if !endpoint.tls && args.ca_cert.is_some() {
        tracing::warn!("--ca-cert is ignored: the URL is not https:// or wss://");
    }
    let decoded = audio_ingest::decode_file(&args.file)?;
    if decoded.is_empty() {
        tracing::warn!(file = %args.file.display(), "the file holds no audio; closing the stream at once");
    }
    let plan = Plan {
        endpoint,
        tls,
        creds: Credentials {
            bot_id: args.bot_id,
            api_key,
        },
        audio: audio::Audio::new(&decoded, args.chunk_ms),
        realtime: args.realtime,
        chunk: Duration::from_millis(args.chunk_ms),
        max_ahead: Duration::from_millis(args.max_ahead_ms),
        max_reconnects: args.max_reconnects,
        resume_token: args.resume_token,
        disconnect_after_ms: args.disconnect_after_ms,
    };
    drop(decoded);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let outcome = runtime.block_on(async {
        let (tx, mut interrupts) = watch::channel(0u32);
        tokio::spawn(async move {
            // Count Ctrl-Cs: the first closes the stream, the second leaves at once.
            while tokio::signal::ctrl_c().await.is_ok() {
                tx.send_modify(|n| *n += 1);
            }
            // No signal handling on this platform: keep the sender, never report.
            std::future::pending::<()>().await;
        });
        let mut printer = Printer::new(std::io::stdout());
        stream::run(plan, &mut interrupts, &mut printer).await
    })?;
    Ok(match outcome {
        Outcome::Finished {
            interrupted,
            duration_ms,
        } => {
            if interrupted {
                eprintln!(
                    "interrupted: the stream closed cleanly after {} ms of audio",
                    duration_ms.unwrap_or_default()
                );
            }
            ExitCode::SUCCESS
        }
        Outcome::Closed(code) => {
            eprintln!(
                "error: server closed the stream: {code} {}",
                close::meaning(code)
            );
            ExitCode::from(EXIT_REFUSED)
        }
        Outcome::Refused(what) => {
            eprintln!("error: server refused the connection: {what}");
            ExitCode::from(EXIT_REFUSED)
        }
    })
}
