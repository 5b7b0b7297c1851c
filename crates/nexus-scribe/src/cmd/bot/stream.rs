//! The whole stream across connections: connect, run a session, and after an abrupt drop
//! reconnect with the resume token (with backoff) until the final `metadata` or a refusal.

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, bail};
use rustls::ClientConfig;
use tokio::sync::watch;
use tokio::time::Instant;

use super::audio::Audio;
use super::connect::{connect, ConnectError, Credentials};
use super::endpoint::Endpoint;
use super::output::Printer;
use super::pacing::{backoff, ms_of, Pacer};
use super::session::{self, End, Progress};

/// A connection that stayed open this long made progress, even if the server acknowledged
/// nothing new: the reconnection budget starts again.
const STABLE_AFTER: Duration = Duration::from_secs(60);

/// Everything fixed for the run.
pub struct Plan {
    pub endpoint: Endpoint,
    pub tls: Option<Arc<ClientConfig>>,
    pub creds: Credentials,
    pub audio: Audio,
    pub realtime: bool,
    pub chunk: Duration,
    pub max_ahead: Duration,
    pub max_reconnects: u32,
    pub resume_token: Option<String>,
    pub disconnect_after_ms: Option<u64>,
}

/// How the stream ended, when it ended on the server's word.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The final `metadata` arrived; `interrupted` if Ctrl-C started the close.
    Finished {
        interrupted: bool,
        duration_ms: Option<u64>,
    },
    /// The server closed with a final code (4xxx).
    Closed(u16),
    /// The server refused the WebSocket upgrade (HTTP 4xx).
    Refused(String),
}

/// Streams the file; `Err` is a local or connection failure (exit 1).
pub async fn run<W: Write>(
    plan: Plan,
    interrupts: &mut watch::Receiver<u32>,
    printer: &mut Printer<W>,
) -> anyhow::Result<Outcome> {
    let mut progress = Progress {
        resume_token: plan.resume_token.clone(),
        disconnect_at: plan.disconnect_after_ms.map(|ms| {
            usize::try_from(ms.saturating_mul(super::pacing::SAMPLES_PER_MS)).unwrap_or(usize::MAX)
        }),
        ..Progress::default()
    };
    let mut pacer = Pacer::new(plan.realtime, plan.max_ahead, plan.chunk);
    let mut failures = 0u32;
    let mut acked_at_last_drop = 0u64;
    let mut first = true;
    tracing::info!(url = %plan.endpoint.base, samples = plan.audio.samples(), "connecting");
    loop {
        let attempt = connect(
            &plan.endpoint,
            plan.tls.as_ref(),
            &plan.creds,
            progress.resume_token.as_deref(),
        );
        let connected = tokio::select! {
            r = attempt => r,
            _ = interrupts.changed() => bail!("interrupted while connecting"),
        };
        let ws = match connected {
            Ok(ws) => ws,
            Err(ConnectError::Refused(what)) => return Ok(Outcome::Refused(what)),
            Err(ConnectError::Failed(e)) if first => return Err(e),
            Err(ConnectError::Failed(e)) => {
                failures += 1;
                wait_before_retry(failures, plan.max_reconnects, &e.to_string(), interrupts)
                    .await?;
                continue;
            }
        };
        first = false;
        progress.opened_at = None;
        let end = session::run(
            ws,
            &plan.audio,
            &mut progress,
            &mut pacer,
            interrupts,
            printer,
        )
        .await?;
        let stable = progress
            .opened_at
            .is_some_and(|t| t.elapsed() >= STABLE_AFTER);
        if progress.acked_ms > acked_at_last_drop || stable {
            failures = 0;
        }
        match end {
            End::Finished => {
                return Ok(Outcome::Finished {
                    interrupted: progress.interrupted.is_some(),
                    duration_ms: progress.final_duration_ms,
                })
            }
            End::Refused(code) => return Ok(Outcome::Closed(code)),
            End::EndedEarly => bail!(
                "the server ended the stream normally after {} ms of audio, before the end of the file",
                ms_of(progress.next)
            ),
            End::Abandoned(why) => bail!(why),
            End::Lost(why) => {
                if progress.interrupted.is_some() {
                    bail!("interrupted, and the connection was lost before the final metadata: {why}");
                }
                if progress.resume_token.is_none() {
                    bail!("connection lost and the server gave no resume token: {why}");
                }
                acked_at_last_drop = progress.acked_ms;
                failures += 1;
                wait_before_retry(failures, plan.max_reconnects, &why, interrupts).await?;
            }
        }
    }
}

/// Backs off before reconnection attempt `attempt`, or gives up past `max`.
async fn wait_before_retry(
    attempt: u32,
    max: u32,
    why: &str,
    interrupts: &mut watch::Receiver<u32>,
) -> anyhow::Result<()> {
    if attempt > max {
        return Err(anyhow!(
            "{why}; gave up after {max} reconnection attempt{}",
            if max == 1 { "" } else { "s" }
        ));
    }
    let delay = backoff(attempt);
    tracing::warn!(
        reason = why,
        attempt,
        max,
        delay_ms = delay.as_millis() as u64,
        "connection lost; resuming"
    );
    tokio::select! {
        () = tokio::time::sleep_until(Instant::now() + delay) => Ok(()),
        _ = interrupts.changed() => bail!("interrupted while reconnecting"),
    }
}
