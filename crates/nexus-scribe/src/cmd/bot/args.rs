//! Command-line arguments of `bot stream`, and the API key taken from exactly one place.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::bail;
use clap::{Args, Subcommand};
use secrecy::SecretString;

/// Environment variable holding the bot's API key (preferred over `--api-key`: not visible in `ps`).
pub const API_KEY_ENV: &str = "NEXUS_SCRIBE_BOT_API_KEY";

/// `nexus-scribe bot …`
#[derive(Debug, Subcommand)]
pub enum BotCommand {
    /// Stream an audio file to a meeting as a bot and print every server message as a JSON line.
    Stream(StreamArgs),
}

/// Holds the API key and resume token: `Debug` is written by hand to leave them out.
#[derive(Args)]
pub struct StreamArgs {
    /// Audio file (WAV, FLAC, MP3, OGG/Vorbis); sent as 16 kHz mono PCM s16le.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Service base URL: http://, https://, ws:// or wss:// (e.g. http://127.0.0.1:8080).
    #[arg(long, value_name = "URL")]
    pub url: String,
    /// Meeting to stream into.
    #[arg(long, value_name = "ID")]
    pub meeting: String,
    /// Bot id, sent as the `X-Bot-Id` header.
    #[arg(long, value_name = "ID")]
    pub bot_id: String,
    /// Bot API key, sent as `Authorization: Bearer`. Prefer the environment variable
    /// NEXUS_SCRIBE_BOT_API_KEY, which other users cannot see in the process list.
    #[arg(long, value_name = "KEY")]
    pub api_key: Option<String>,
    /// Send at real time (chunk k at start + k × chunk) instead of as fast as the server allows.
    #[arg(long)]
    pub realtime: bool,
    /// Audio per binary message, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 100,
          value_parser = clap::value_parser!(u64).range(20..=5000))]
    pub chunk_ms: u64,
    /// How far audio may run ahead of the wall clock on one connection (the server closes with
    /// 4029 beyond its allowed burst, 10 s by default). With --realtime it only bounds the
    /// catching up after a resume.
    #[arg(long, value_name = "MS", default_value_t = 5000,
          value_parser = clap::value_parser!(u64).range(0..=600_000))]
    pub max_ahead_ms: u64,
    /// Reconnection attempts in a row (backoff 0.5 s, 1 s, 2 s, …) before giving up after the
    /// connection drops.
    #[arg(long, value_name = "N", default_value_t = 5)]
    pub max_reconnects: u32,
    /// Continue an earlier stream: connect with this resume token and send FILE from the
    /// `acked_audio_ms` the server reports.
    #[arg(long, value_name = "TOKEN")]
    pub resume_token: Option<String>,
    /// Extra trusted root certificate(s), PEM, for a self-hosted wss:// or https:// server.
    #[arg(long, value_name = "FILE")]
    pub ca_cert: Option<PathBuf>,
    /// Test hook: once, after sending this much audio, drop the connection without a close frame
    /// and resume.
    #[arg(long, value_name = "MS", hide = true)]
    pub disconnect_after_ms: Option<u64>,
}

impl std::fmt::Debug for StreamArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let redacted = |v: &Option<String>| v.as_ref().map(|_| "<redacted>");
        f.debug_struct("StreamArgs")
            .field("file", &self.file)
            .field("url", &self.url)
            .field("meeting", &self.meeting)
            .field("bot_id", &self.bot_id)
            .field("api_key", &redacted(&self.api_key))
            .field("realtime", &self.realtime)
            .field("chunk_ms", &self.chunk_ms)
            .field("max_ahead_ms", &self.max_ahead_ms)
            .field("max_reconnects", &self.max_reconnects)
            .field("resume_token", &redacted(&self.resume_token))
            .field("ca_cert", &self.ca_cert)
            .field("disconnect_after_ms", &self.disconnect_after_ms)
            .finish()
    }
}

/// The API key from `--api-key` or [`API_KEY_ENV`]; exactly one must be given.
pub fn api_key(
    flag: Option<String>,
    env: &BTreeMap<String, String>,
) -> anyhow::Result<SecretString> {
    let from_env = env.get(API_KEY_ENV).filter(|v| !v.is_empty());
    match (flag, from_env) {
        (Some(_), Some(_)) => {
            bail!("the API key is given twice: use either --api-key or {API_KEY_ENV}, not both")
        }
        (None, None) => bail!("no API key: set {API_KEY_ENV} (preferred) or pass --api-key"),
        (Some(key), None) if key.is_empty() => bail!("--api-key is empty"),
        (Some(key), None) => Ok(key.into()),
        (None, Some(key)) => Ok(key.clone().into()),
    }
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret as _;

    use super::*;

    use crate::config::tests::env;

    #[test]
    fn key_comes_from_the_flag_or_the_environment() {
        let k = api_key(Some("flag".into()), &env(&[])).expect("flag");
        assert_eq!(k.expose_secret(), "flag");
        let k = api_key(None, &env(&[(API_KEY_ENV, "env")])).expect("env");
        assert_eq!(k.expose_secret(), "env");
    }

    #[test]
    fn debug_output_leaves_out_the_key_and_the_resume_token() {
        use clap::Parser as _;
        let cli = crate::cli::Cli::try_parse_from([
            "nexus-scribe",
            "bot",
            "stream",
            "a.wav",
            "--url",
            "http://h",
            "--meeting",
            "m",
            "--bot-id",
            "b",
            "--api-key",
            "s3cret-key",
            "--resume-token",
            "s3cret-token",
        ])
        .expect("parses");
        let shown = format!("{cli:?}");
        assert!(
            shown.contains("a.wav") && shown.contains("<redacted>"),
            "{shown}"
        );
        assert!(!shown.contains("s3cret"), "{shown}");
    }

    #[test]
    fn key_given_twice_or_never_is_refused_without_echoing_it() {
        let err = api_key(Some("s3cret-a".into()), &env(&[(API_KEY_ENV, "s3cret-b")]))
            .expect_err("twice");
        let msg = err.to_string();
        assert!(
            msg.contains("--api-key") && msg.contains(API_KEY_ENV),
            "{msg}"
        );
        assert!(!msg.contains("s3cret"), "{msg}");
        let err = api_key(None, &env(&[(API_KEY_ENV, "")])).expect_err("empty env is no key");
        assert!(err.to_string().contains("no API key"));
        assert!(api_key(Some(String::new()), &env(&[])).is_err());
    }
}
