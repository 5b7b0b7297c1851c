//! Log set-up: lines to standard error, text or JSON. whisper.cpp's own messages are capped at
//! `warn` whatever the filter says, because its debug output can echo decoded text.

use tracing_subscriber::EnvFilter;

use crate::config::{LogFormat, LoggingConfig};

pub fn init(cfg: &LoggingConfig) {
    let filter = EnvFilter::try_new(format!("{},whisper_rs=warn", cfg.level))
        .unwrap_or_else(|_| EnvFilter::new("info,whisper_rs=warn"));
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
