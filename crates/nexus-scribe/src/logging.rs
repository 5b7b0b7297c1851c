//! Log set-up: lines to standard error, text or JSON. whisper.cpp's own messages are capped at
//! `warn` whatever the filter says, because its debug output can echo decoded text; tungstenite's
//! at `info`, because its trace output prints a bot's handshake with the API key and resume token;
//! vaultrs and rustify are off (their request spans carry Vault paths and answers; our own Vault
//! source logs what matters, without tokens), and the HTTP client stacks under them at `info`.

use tracing_subscriber::EnvFilter;

use crate::config::{LogFormat, LoggingConfig};

/// Caps for libraries whose verbose output can leak what must not be logged.
const QUIET: &str = "whisper_rs=warn,tungstenite=info,tokio_tungstenite=info,vaultrs=off,\
                     rustify=off,reqwest=info,hyper=info,hyper_util=info";

pub fn init(cfg: &LoggingConfig) {
    let filter = EnvFilter::try_new(format!("{},{QUIET}", cfg.level))
        .unwrap_or_else(|_| EnvFilter::new(format!("info,{QUIET}")));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    let _ = match cfg.format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}
