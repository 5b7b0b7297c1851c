//! The one typed configuration: built-in defaults, then `config.toml`, then
//! `NEXUS_SCRIBE__SECTION__KEY` environment variables. Unknown keys are errors that name the
//! key and where it came from.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use speech_engine::convert::Quantization;

mod tls;
mod vault;
pub use tls::TlsSection;
pub use vault::VaultSection;

/// Prefix of configuration environment variables (`NEXUS_SCRIBE__ENGINE__THREADS=2`).
pub const ENV_PREFIX: &str = "NEXUS_SCRIBE__";

/// The whole configuration.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Folder for everything the service keeps: the embedded store, generated secrets, models.
    pub data_dir: PathBuf,
    pub engine: EngineConfig,
    pub logging: LoggingConfig,
    pub server: ServerConfig,
    pub live: LiveConfig,
    pub scheduler: SchedulerSection,
    pub storage: StorageConfig,
    pub auth: AuthConfig,
    pub rate_limits: RateLimitsConfig,
    /// `[vault]`: secrets from HashiCorp Vault instead of the secrets file.
    pub vault: VaultSection,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("data"),
            engine: EngineConfig::default(),
            logging: LoggingConfig::default(),
            server: ServerConfig::default(),
            live: LiveConfig::default(),
            scheduler: SchedulerSection::default(),
            storage: StorageConfig::default(),
            auth: AuthConfig::default(),
            rate_limits: RateLimitsConfig::default(),
            vault: VaultSection::default(),
        }
    }
}

/// `[rate_limits]`: requests other than sign-in (whose limits are in `[auth]`), per client
/// address (IPv6: per /64) and in all, per `window_secs`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RateLimitsConfig {
    pub api_requests_per_ip: u32,
    pub api_requests_global: u32,
    pub websocket_connections_per_ip: u32,
    pub websocket_connections_global: u32,
    pub window_secs: u64,
}

impl Default for RateLimitsConfig {
    fn default() -> Self {
        Self {
            api_requests_per_ip: 100,
            api_requests_global: 10_000,
            websocket_connections_per_ip: 10,
            websocket_connections_global: 1_000,
            window_secs: 60,
        }
    }
}

/// A throttle of `per_ip` per client and `global` in all per `window_secs`.
fn throttle(per_ip: u32, global: u32, window_secs: u64) -> scribe_auth::ThrottleConfig {
    let window = std::time::Duration::from_secs(window_secs);
    scribe_auth::ThrottleConfig {
        per_ip: scribe_auth::RateLimit {
            attempts: per_ip,
            window,
        },
        global: scribe_auth::RateLimit {
            attempts: global,
            window,
        },
        ..scribe_auth::ThrottleConfig::default()
    }
}

impl Config {
    /// Every category's limits, from `[auth]` and `[rate_limits]`.
    pub fn rate_limits(&self) -> gateway::ratelimit::RateLimitConfig {
        let (a, r) = (&self.auth, &self.rate_limits);
        gateway::ratelimit::RateLimitConfig {
            auth: throttle(
                a.login_attempts_per_ip,
                a.attempts_global,
                a.throttle_window_secs,
            ),
            mfa: throttle(
                a.mfa_attempts_per_ip,
                a.attempts_global,
                a.throttle_window_secs,
            ),
            websocket: throttle(
                r.websocket_connections_per_ip,
                r.websocket_connections_global,
                r.window_secs,
            ),
            api: throttle(r.api_requests_per_ip, r.api_requests_global, r.window_secs),
        }
    }

    /// `server.trusted_proxies`, parsed (validated at load).
    pub fn trusted_proxies(&self) -> Vec<scribe_auth::IpNetwork> {
        self.server
            .trusted_proxies
            .iter()
            .filter_map(|n| n.parse().ok())
            .collect()
    }
}

/// `[auth]`: sign-in throttles and account lockout.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// Login and refresh attempts per client address per `throttle_window_secs` (5).
    pub login_attempts_per_ip: u32,
    /// Second-factor attempts per client address per window (5).
    pub mfa_attempts_per_ip: u32,
    /// Login (and, separately, second-factor) attempts from all addresses per window (100).
    pub attempts_global: u32,
    /// The throttles' window (60 s).
    pub throttle_window_secs: u64,
    /// Failed sign-ins (password or code) that lock an account (5).
    pub lockout_after_failures: u32,
    /// The first lockout (15 min); each further one doubles it.
    pub lockout_minutes: u64,
    /// The longest lockout (24 h).
    pub lockout_max_hours: u64,
    /// How long an invitation can be accepted (72 h).
    pub invite_ttl_hours: u64,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            login_attempts_per_ip: 5,
            mfa_attempts_per_ip: 5,
            attempts_global: 100,
            throttle_window_secs: 60,
            lockout_after_failures: 5,
            lockout_minutes: 15,
            lockout_max_hours: 24,
            invite_ttl_hours: 72,
        }
    }
}

impl AuthConfig {
    /// How long an invitation lasts.
    pub fn invite_ttl(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.invite_ttl_hours * 3600)
    }

    /// The lockout schedule.
    pub fn lockout(&self) -> scribe_auth::LockoutPolicy {
        scribe_auth::LockoutPolicy {
            max_failures: self.lockout_after_failures,
            base: std::time::Duration::from_secs(self.lockout_minutes * 60),
            max: std::time::Duration::from_secs(self.lockout_max_hours * 3600),
        }
    }
}

/// `[storage]`: which backend keeps transcripts, and how to reach PostgreSQL.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StorageConfig {
    pub backend: StorageBackend,
    /// `postgres://USER@HOST:PORT/DATABASE` (or the key-value form). The password, if any, is
    /// the `database_password` secret, never part of the URL.
    pub postgres_url: String,
    /// `disable` or `verify-full` (TLS 1.2+, certificate and host name checked).
    pub postgres_tls: PostgresTlsMode,
    /// PEM file of the CA that issued the database's certificate; empty = the system's roots.
    pub postgres_ca_file: PathBuf,
    /// Most database connections held at once.
    pub postgres_pool_size: usize,
    /// Apply pending migrations on start; when false, start refuses a database that is behind
    /// (run `nexus-scribe migrate` first).
    pub migrate_on_start: bool,
}

impl Default for StorageConfig {
    fn default() -> Self {
        Self {
            backend: StorageBackend::Embedded,
            postgres_url: String::new(),
            postgres_tls: PostgresTlsMode::Disable,
            postgres_ca_file: PathBuf::new(),
            postgres_pool_size: 8,
            migrate_on_start: true,
        }
    }
}

/// `storage.backend`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StorageBackend {
    /// SQLite in the data folder.
    Embedded,
    /// A PostgreSQL server.
    Postgres,
}

/// `storage.postgres_tls`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PostgresTlsMode {
    Disable,
    VerifyFull,
}

/// `[server]`: where `serve` listens and which browser origins it trusts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Address to listen on; loopback by default (PROTOCOL.md §5).
    pub host: String,
    pub port: u16,
    /// Browser origins (`https://notes.example.org`) allowed to open viewer sockets besides
    /// the service's own; empty allows only the service's own pages.
    pub allowed_origins: Vec<String>,
    /// Largest recording `POST /meetings/{id}/recordings` accepts, in bytes.
    pub max_upload_bytes: u64,
    /// Reverse proxies (CIDR ranges) whose `X-Forwarded-For` names the client; empty = none, so
    /// the socket's peer is the client.
    pub trusted_proxies: Vec<String>,
    /// Refuse to start without `[server.tls]`.
    pub https_only: bool,
    /// A plain-HTTP port that only redirects (308) to HTTPS; 0 = none.
    pub http_redirect_port: u16,
    /// `[server.tls]`: HTTPS when set.
    pub tls: TlsSection,
    /// Connections served at once (more wait to be accepted).
    pub max_connections: usize,
    /// Seconds a client may take to send a request's headers; an idle kept-alive connection is
    /// closed after as long.
    pub header_timeout_secs: u64,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            host: "127.0.0.1".into(),
            port: 8080,
            allowed_origins: Vec::new(),
            max_upload_bytes: gateway::config::MAX_UPLOAD_BYTES,
            trusted_proxies: Vec::new(),
            https_only: false,
            http_redirect_port: 0,
            tls: TlsSection::default(),
            max_connections: 1024,
            header_timeout_secs: 10,
        }
    }
}

/// `[live]`: live streams — utterance cutting, decode stepping, WebSocket limits and timeouts
/// (PROTOCOL.md §1 gives the defaults).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LiveConfig {
    /// New speech (ms) before an utterance is decoded again.
    pub step_ms: u64,
    /// Silence (ms) that ends an utterance.
    pub end_silence_ms: u64,
    /// Longest utterance (ms) before it is cut.
    pub max_utterance_ms: u64,
    pub max_text_message_bytes: usize,
    pub max_binary_message_bytes: usize,
    pub text_messages_per_sec: u32,
    pub binary_messages_per_sec: u32,
    /// How far (s) a bot's audio may run ahead of real time before it is closed with 4029.
    pub realtime_burst_secs: u64,
    pub session_max_secs: u64,
    pub ping_interval_secs: u64,
    pub pong_timeout_secs: u64,
    /// A bot that sends neither audio nor KeepAlive this long is closed.
    pub idle_timeout_secs: u64,
}

impl Default for LiveConfig {
    fn default() -> Self {
        let stream = audio_ingest::StreamConfig::default();
        let ws = gateway::WsLimits::default();
        Self {
            step_ms: stream.step_ms,
            end_silence_ms: stream.end_silence_ms,
            max_utterance_ms: stream.max_utterance_ms,
            max_text_message_bytes: ws.max_text_bytes,
            max_binary_message_bytes: ws.max_binary_bytes,
            text_messages_per_sec: ws.text_per_sec,
            binary_messages_per_sec: ws.binary_per_sec,
            realtime_burst_secs: ws.realtime_burst.as_secs(),
            session_max_secs: ws.session_max.as_secs(),
            ping_interval_secs: ws.ping_interval.as_secs(),
            pong_timeout_secs: ws.pong_timeout.as_secs(),
            idle_timeout_secs: ws.idle_timeout.as_secs(),
        }
    }
}

/// `[scheduler]`: how live decoding uses the cores and when new streams are refused (4102).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SchedulerSection {
    /// Decoding workers; 0 = one per core.
    pub workers: usize,
    /// whisper.cpp threads per worker; workers × threads may not exceed the cores.
    pub threads_per_worker: usize,
    /// Most streams admitted at once; 0 = two per core (the measured capacity with tiny.en).
    pub max_streams: usize,
    /// Refuse new streams while a running one lags more than this (ms).
    pub max_lag_ms: u64,
    /// Refuse new streams while decode jobs wait longer than this (ms) for a worker.
    pub max_queue_wait_ms: u64,
}

impl Default for SchedulerSection {
    fn default() -> Self {
        let d = speech_engine::SchedulerConfig::for_cores(1);
        Self {
            workers: 0,
            threads_per_worker: d.threads_per_worker,
            max_streams: 0,
            max_lag_ms: d.max_lag.as_millis() as u64,
            max_queue_wait_ms: d.max_queue_wait.as_millis() as u64,
        }
    }
}

/// `[engine]`: the speech engine.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EngineConfig {
    /// A catalogue name (`tiny.en`), a model folder, or a ggml file.
    pub model: String,
    /// Where catalogue models live; empty means `<data_dir>/models`.
    pub models_dir: String,
    /// Which converted weights to load: `q8_0` (smaller, faster) or `f16`.
    pub quantization: QuantizationName,
    /// Inference threads; 0 means one per available core. Never more than the cores.
    pub threads: usize,
    /// 1 = greedy decoding; 2..=16 = beam search.
    pub beam_size: u32,
    /// Spoken language, or `auto` (multilingual models only).
    pub language: String,
    /// Re-decode at higher temperature when output looks degenerate (file transcription).
    pub temperature_fallback: bool,
    /// Size the encoder window to short audio instead of always 30 s.
    pub fit_audio_ctx: bool,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            model: speech_engine::model::DEFAULT_MODEL.into(),
            models_dir: String::new(),
            quantization: QuantizationName::Q8_0,
            threads: 0,
            beam_size: 5,
            language: "en".into(),
            temperature_fallback: true,
            fit_audio_ctx: true,
        }
    }
}

/// Spelling of a quantization in the config file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum QuantizationName {
    #[serde(rename = "f16")]
    F16,
    #[serde(rename = "q8_0")]
    Q8_0,
}

impl From<QuantizationName> for Quantization {
    fn from(q: QuantizationName) -> Self {
        match q {
            QuantizationName::F16 => Quantization::F16,
            QuantizationName::Q8_0 => Quantization::Q8_0,
        }
    }
}

/// `[logging]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LoggingConfig {
    /// A tracing filter such as `info` or `nexus_scribe=debug,info`.
    pub level: String,
    /// `text` or `json`.
    pub format: LogFormat,
}

impl Default for LoggingConfig {
    fn default() -> Self {
        Self {
            level: "info".into(),
            format: LogFormat::Text,
        }
    }
}

/// Log line format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

/// A configuration that cannot be used. `Display` names the key and its source.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("config file {}: invalid TOML: {message}", path.display())]
    Syntax { path: PathBuf, message: String },
    #[error("config key `{key}` ({origin}): {message}")]
    Key {
        key: String,
        origin: String,
        message: String,
    },
    #[error("environment variable {var}: {message}")]
    Env { var: String, message: String },
}

impl Config {
    /// Loads defaults ← `file` (if given, or `config.toml` in the working directory if present)
    /// ← environment (`env` is passed in rather than read here).
    pub fn load(file: Option<&Path>, env: &BTreeMap<String, String>) -> Result<Self, ConfigError> {
        let mut merged =
            toml::Value::try_from(Config::default()).map_err(|e| ConfigError::Key {
                key: String::new(),
                origin: "built-in defaults".into(),
                message: e.to_string(),
            })?;
        let file = match file {
            Some(p) => Some(p.to_owned()),
            None => Some(PathBuf::from("config.toml")).filter(|p| p.is_file()),
        };
        let mut file_layer = None;
        if let Some(path) = &file {
            let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                path: path.clone(),
                source,
            })?;
            let value: toml::Value = toml::from_str(&text).map_err(|e| ConfigError::Syntax {
                path: path.clone(),
                message: e.message().to_owned(),
            })?;
            merge(&mut merged, value.clone());
            file_layer = Some((path.clone(), value));
        }
        let env_layer = env_layer(env)?;
        merge(&mut merged, env_layer.clone());
        let config: Config = serde_path_to_error::deserialize(merged).map_err(|e| {
            // The path already ends at an unknown field; the inner message may add a
            // multi-line location, of which the first line is the useful part.
            let key = e.path().to_string();
            let message = e.inner().to_string();
            let message = message.lines().next().unwrap_or_default().to_owned();
            let origin = origin_of(&key, &env_layer, file_layer.as_ref());
            ConfigError::Key {
                key,
                origin,
                message,
            }
        })?;
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let bad = |key: &str, message: String| ConfigError::Key {
            key: key.into(),
            origin: "value".into(),
            message,
        };
        if !(1..=16).contains(&self.engine.beam_size) {
            return Err(bad(
                "engine.beam_size",
                format!("{} is outside 1..=16", self.engine.beam_size),
            ));
        }
        let lang = &self.engine.language;
        if lang.is_empty() || lang.len() > 8 || !lang.bytes().all(|b| b.is_ascii_alphabetic()) {
            return Err(bad(
                "engine.language",
                format!("{lang:?} is not a language code such as \"en\" or \"auto\""),
            ));
        }
        if self.engine.model.trim().is_empty() {
            return Err(bad("engine.model", "must not be empty".into()));
        }
        if self.data_dir.as_os_str().is_empty() {
            return Err(bad("data_dir", "must not be empty".into()));
        }
        if self.server.host.parse::<std::net::IpAddr>().is_err() {
            return Err(bad(
                "server.host",
                format!(
                    "{:?} is not an IP address such as \"127.0.0.1\"",
                    self.server.host
                ),
            ));
        }
        for o in &self.server.allowed_origins {
            let ok = (o.starts_with("https://") || o.starts_with("http://"))
                && !o.ends_with('/')
                && o.split("://")
                    .nth(1)
                    .is_some_and(|h| !h.is_empty() && !h.contains('/'));
            if !ok {
                return Err(bad(
                    "server.allowed_origins",
                    format!("{o:?} is not an origin such as \"https://notes.example.org\""),
                ));
            }
        }
        for n in &self.server.trusted_proxies {
            if let Err(e) = n.parse::<scribe_auth::IpNetwork>() {
                return Err(bad("server.trusted_proxies", format!("{n:?}: {e}")));
            }
        }
        if !(1..=1_000_000).contains(&self.server.max_connections) {
            return Err(bad(
                "server.max_connections",
                format!("{} is outside 1..=1000000", self.server.max_connections),
            ));
        }
        if !(1..=600).contains(&self.server.header_timeout_secs) {
            return Err(bad(
                "server.header_timeout_secs",
                format!("{} is outside 1..=600", self.server.header_timeout_secs),
            ));
        }
        let r = &self.rate_limits;
        for (key, value, max) in [
            (
                "rate_limits.api_requests_per_ip",
                r.api_requests_per_ip,
                10_000_000,
            ),
            (
                "rate_limits.api_requests_global",
                r.api_requests_global,
                100_000_000,
            ),
            (
                "rate_limits.websocket_connections_per_ip",
                r.websocket_connections_per_ip,
                10_000_000,
            ),
            (
                "rate_limits.websocket_connections_global",
                r.websocket_connections_global,
                100_000_000,
            ),
        ] {
            if !(1..=max).contains(&value) {
                return Err(bad(key, format!("{value} is outside 1..={max}")));
            }
        }
        if !(1..=86_400).contains(&r.window_secs) {
            return Err(bad(
                "rate_limits.window_secs",
                format!("{} is outside 1..=86400", r.window_secs),
            ));
        }
        tls::validate(&self.server).map_err(|(key, message)| bad(key, message))?;
        vault::validate(&self.vault).map_err(|(key, message)| bad(key, message))?;
        let auth = &self.auth;
        for (key, value, max) in [
            (
                "auth.login_attempts_per_ip",
                u64::from(auth.login_attempts_per_ip),
                1_000_000,
            ),
            (
                "auth.mfa_attempts_per_ip",
                u64::from(auth.mfa_attempts_per_ip),
                1_000_000,
            ),
            (
                "auth.attempts_global",
                u64::from(auth.attempts_global),
                10_000_000,
            ),
            (
                "auth.throttle_window_secs",
                auth.throttle_window_secs,
                86_400,
            ),
            (
                "auth.lockout_after_failures",
                u64::from(auth.lockout_after_failures),
                1000,
            ),
            ("auth.lockout_minutes", auth.lockout_minutes, 24 * 60),
            ("auth.lockout_max_hours", auth.lockout_max_hours, 24 * 30),
            ("auth.invite_ttl_hours", auth.invite_ttl_hours, 24 * 30),
        ] {
            if !(1..=max).contains(&value) {
                return Err(bad(key, format!("{value} is outside 1..={max}")));
            }
        }
        if auth.lockout_minutes > auth.lockout_max_hours * 60 {
            return Err(bad(
                "auth.lockout_minutes",
                "the first lockout is longer than auth.lockout_max_hours".into(),
            ));
        }
        if self.storage.backend == StorageBackend::Postgres {
            let options = self.postgres_options(None);
            if self.storage.postgres_url.trim().is_empty() {
                return Err(bad(
                    "storage.postgres_url",
                    "must be set when storage.backend = \"postgres\"".into(),
                ));
            }
            if let Err(e) = options.check() {
                return Err(bad("storage.postgres_url", e.to_string()));
            }
            if !(1..=1000).contains(&self.storage.postgres_pool_size) {
                return Err(bad(
                    "storage.postgres_pool_size",
                    format!("{} is outside 1..=1000", self.storage.postgres_pool_size),
                ));
            }
        }
        self.stream_config()
            .validate()
            .map_err(|e| bad("live", e.to_string()))?;
        let live = &self.live;
        for (key, value) in [
            (
                "live.max_text_message_bytes",
                live.max_text_message_bytes as u64,
            ),
            (
                "live.max_binary_message_bytes",
                live.max_binary_message_bytes as u64,
            ),
            (
                "live.text_messages_per_sec",
                u64::from(live.text_messages_per_sec),
            ),
            (
                "live.binary_messages_per_sec",
                u64::from(live.binary_messages_per_sec),
            ),
            ("live.session_max_secs", live.session_max_secs),
            ("live.ping_interval_secs", live.ping_interval_secs),
            ("live.pong_timeout_secs", live.pong_timeout_secs),
            ("live.idle_timeout_secs", live.idle_timeout_secs),
        ] {
            if value == 0 {
                return Err(bad(key, "must be at least 1".into()));
            }
        }
        if self.server.max_upload_bytes == 0 || self.server.max_upload_bytes > 10_000_000_000 {
            return Err(bad(
                "server.max_upload_bytes",
                format!(
                    "{} is outside 1..=10000000000",
                    self.server.max_upload_bytes
                ),
            ));
        }
        if live.max_binary_message_bytes > 64 * 1024 * 1024 {
            return Err(bad(
                "live.max_binary_message_bytes",
                "must be at most 64 MiB".into(),
            ));
        }
        self.scheduler_config()
            .validate(std::thread::available_parallelism().map_or(1, |n| n.get()))
            .map_err(|e| bad("scheduler", e.to_string()))?;
        if tracing_subscriber::EnvFilter::try_new(&self.logging.level).is_err() {
            return Err(bad(
                "logging.level",
                format!(
                    "{:?} is not a log filter such as \"info\"",
                    self.logging.level
                ),
            ));
        }
        Ok(())
    }

    /// This configuration switched to PostgreSQL at `url` (`--database-url`), checked like the
    /// `[storage]` settings (a URL with a password is refused, naming the secret to use).
    pub fn with_database_url(mut self, url: &str) -> Result<Self, ConfigError> {
        self.storage.backend = StorageBackend::Postgres;
        self.storage.postgres_url = url.trim().to_owned();
        self.validate()?;
        Ok(self)
    }

    /// How to reach PostgreSQL (`storage.backend = "postgres"`), with the role's password from
    /// the secret source.
    pub fn postgres_options(
        &self,
        password: Option<String>,
    ) -> transcript_storage::PostgresOptions {
        let s = &self.storage;
        let mut options = transcript_storage::PostgresOptions::new(s.postgres_url.trim());
        options.password = password;
        options.pool_size = s.postgres_pool_size;
        options.migrate = s.migrate_on_start;
        options.tls = match s.postgres_tls {
            PostgresTlsMode::Disable => transcript_storage::PostgresTls::Disable,
            PostgresTlsMode::VerifyFull => transcript_storage::PostgresTls::VerifyFull {
                ca_file: Some(s.postgres_ca_file.clone()).filter(|p| !p.as_os_str().is_empty()),
            },
        };
        options
    }

    /// The streaming core's settings.
    pub fn stream_config(&self) -> audio_ingest::StreamConfig {
        audio_ingest::StreamConfig {
            step_ms: self.live.step_ms,
            end_silence_ms: self.live.end_silence_ms,
            max_utterance_ms: self.live.max_utterance_ms,
            ..audio_ingest::StreamConfig::default()
        }
    }

    /// The gateway's WebSocket limits.
    pub fn ws_limits(&self) -> gateway::WsLimits {
        let l = &self.live;
        let secs = std::time::Duration::from_secs;
        gateway::WsLimits {
            max_text_bytes: l.max_text_message_bytes,
            max_binary_bytes: l.max_binary_message_bytes,
            text_per_sec: l.text_messages_per_sec,
            binary_per_sec: l.binary_messages_per_sec,
            realtime_burst: secs(l.realtime_burst_secs),
            session_max: secs(l.session_max_secs),
            ping_interval: secs(l.ping_interval_secs),
            pong_timeout: secs(l.pong_timeout_secs),
            idle_timeout: secs(l.idle_timeout_secs),
            ..gateway::WsLimits::default()
        }
    }

    /// The decode scheduler's settings for this machine.
    pub fn scheduler_config(&self) -> speech_engine::SchedulerConfig {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let s = &self.scheduler;
        let mut c = speech_engine::SchedulerConfig::for_cores(cores);
        c.threads_per_worker = s.threads_per_worker;
        c.workers = match s.workers {
            0 => (cores / s.threads_per_worker.max(1)).max(1),
            n => n,
        };
        if s.max_streams > 0 {
            c.max_streams = s.max_streams;
        }
        c.max_lag = std::time::Duration::from_millis(s.max_lag_ms);
        c.max_queue_wait = std::time::Duration::from_millis(s.max_queue_wait_ms);
        c
    }

    /// Where catalogue models live.
    pub fn models_dir(&self) -> PathBuf {
        if self.engine.models_dir.is_empty() {
            self.data_dir.join("models")
        } else {
            PathBuf::from(&self.engine.models_dir)
        }
    }

    /// Inference threads: the configured number, capped at the cores available.
    pub fn threads(&self) -> usize {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        match self.engine.threads {
            0 => cores,
            n => n.min(cores),
        }
    }
}

/// The process environment as a map, for [`Config::load`].
pub fn process_env() -> BTreeMap<String, String> {
    std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .collect()
}

fn origin_of(key: &str, env: &toml::Value, file: Option<&(PathBuf, toml::Value)>) -> String {
    let lookup = |v: &toml::Value| key.split('.').try_fold(v, |v, part| v.get(part)).is_some();
    if lookup(env) {
        let var = format!(
            "{ENV_PREFIX}{}",
            key.replace('.', "__").to_ascii_uppercase()
        );
        return format!("from environment variable {var}");
    }
    if let Some((path, value)) = file {
        if lookup(value) {
            return format!("in {}", path.display());
        }
    }
    "value".into()
}

/// `NEXUS_SCRIBE__ENGINE__BEAM_SIZE=3` → `{engine = {beam_size = 3}}`. Values are read as TOML
/// scalars (numbers, booleans, `[...]` arrays) and fall back to strings.
fn env_layer(env: &BTreeMap<String, String>) -> Result<toml::Value, ConfigError> {
    let mut root = toml::value::Table::new();
    for (var, raw) in env {
        let Some(rest) = var.strip_prefix(ENV_PREFIX) else {
            continue;
        };
        let parts: Vec<String> = rest.split("__").map(str::to_ascii_lowercase).collect();
        if parts.iter().any(String::is_empty) {
            return Err(ConfigError::Env {
                var: var.clone(),
                message: "empty key segment; use NEXUS_SCRIBE__SECTION__KEY".into(),
            });
        }
        let value = parse_scalar(raw);
        let mut table = &mut root;
        for part in &parts[..parts.len() - 1] {
            let entry = table
                .entry(part.clone())
                .or_insert_with(|| toml::Value::Table(toml::value::Table::new()));
            table = match entry {
                toml::Value::Table(t) => t,
                _ => {
                    return Err(ConfigError::Env {
                        var: var.clone(),
                        message: format!("`{part}` is both a value and a section"),
                    })
                }
            };
        }
        table.insert(parts[parts.len() - 1].clone(), value);
    }
    Ok(toml::Value::Table(root))
}

fn parse_scalar(raw: &str) -> toml::Value {
    let wrapped = format!("v = {raw}");
    match toml::from_str::<toml::value::Table>(&wrapped) {
        Ok(mut t) => t
            .remove("v")
            .unwrap_or_else(|| toml::Value::String(raw.to_owned())),
        Err(_) => toml::Value::String(raw.to_owned()),
    }
}

fn merge(base: &mut toml::Value, over: toml::Value) {
    match (base, over) {
        (toml::Value::Table(b), toml::Value::Table(o)) => {
            for (k, v) in o {
                match b.get_mut(&k) {
                    Some(existing) => merge(existing, v),
                    None => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (b, o) => *b = o,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// An environment made of `pairs` (tests of this crate).
    pub(crate) fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect()
    }

    fn write(dir: &tempfile::TempDir, text: &str) -> PathBuf {
        let p = dir.path().join("config.toml");
        std::fs::write(&p, text).expect("write");
        p
    }

    #[test]
    fn shipped_config_file_parses_and_equals_defaults() {
        let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config.toml");
        let c = Config::load(Some(&shipped), &env(&[])).expect("shipped config.toml is valid");
        assert_eq!(c, Config::default(), "config.toml documents the defaults");
    }

    #[test]
    fn layers_apply_in_order() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = write(&dir, "[engine]\nbeam_size = 3\nlanguage = \"de\"\n");
        let c = Config::load(Some(&p), &env(&[("NEXUS_SCRIBE__ENGINE__BEAM_SIZE", "2")]))
            .expect("valid");
        assert_eq!(c.engine.beam_size, 2, "environment beats file");
        assert_eq!(c.engine.language, "de", "file beats defaults");
        assert_eq!(
            c.engine.quantization,
            QuantizationName::Q8_0,
            "defaults fill the rest"
        );
    }

    #[test]
    fn unknown_key_in_file_is_named() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = write(&dir, "[engine]\nbeam_sise = 3\n");
        let err = Config::load(Some(&p), &env(&[]))
            .expect_err("unknown key")
            .to_string();
        assert!(err.contains("`engine.beam_sise`"), "{err}");
        assert!(err.contains("config.toml"), "{err}");
    }

    #[test]
    fn unknown_key_in_environment_is_named() {
        let err = Config::load(None, &env(&[("NEXUS_SCRIBE__ENGINE__THREADZ", "2")]))
            .expect_err("unknown key")
            .to_string();
        assert!(err.contains("engine.threadz"), "{err}");
        assert!(err.contains("NEXUS_SCRIBE__ENGINE__THREADZ"), "{err}");
    }

    #[test]
    fn unknown_section_is_named() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = write(&dir, "[engin]\nmodel = \"x\"\n");
        let err = Config::load(Some(&p), &env(&[]))
            .expect_err("unknown")
            .to_string();
        assert!(err.contains("`engin`"), "{err}");
    }

    #[test]
    fn wrong_types_and_values_are_named() {
        let err = Config::load(None, &env(&[("NEXUS_SCRIBE__ENGINE__BEAM_SIZE", "lots")]))
            .expect_err("not a number")
            .to_string();
        assert!(err.contains("engine.beam_size"), "{err}");
        let err = Config::load(None, &env(&[("NEXUS_SCRIBE__ENGINE__BEAM_SIZE", "99")]))
            .expect_err("out of range")
            .to_string();
        assert!(
            err.contains("engine.beam_size") && err.contains("1..=16"),
            "{err}"
        );
        let err = Config::load(None, &env(&[("NEXUS_SCRIBE__ENGINE__QUANTIZATION", "q4")]))
            .expect_err("unknown variant")
            .to_string();
        assert!(err.contains("engine.quantization"), "{err}");
    }

    #[test]
    fn storage_settings_are_checked_without_echoing_secrets() {
        let pg = |extra: &[(&str, &str)]| {
            let mut pairs = vec![("NEXUS_SCRIBE__STORAGE__BACKEND", "postgres")];
            pairs.extend_from_slice(extra);
            Config::load(None, &env(&pairs))
        };
        let err = pg(&[]).expect_err("no URL").to_string();
        assert!(
            err.contains("storage.postgres_url") && err.contains("must be set"),
            "{err}"
        );
        let err = pg(&[(
            "NEXUS_SCRIBE__STORAGE__POSTGRES_URL",
            "postgres://scribe:hunter2-secret@db/scribe",
        )])
        .expect_err("password in URL")
        .to_string();
        assert!(err.contains("database_password"), "{err}");
        assert!(!err.contains("hunter2"), "{err}");
        let err = Config::load(None, &env(&[("NEXUS_SCRIBE__STORAGE__BACKEND", "mysql")]))
            .expect_err("unknown backend")
            .to_string();
        assert!(err.contains("storage.backend"), "{err}");
        let c = pg(&[
            (
                "NEXUS_SCRIBE__STORAGE__POSTGRES_URL",
                "postgres://scribe@db.internal/scribe",
            ),
            ("NEXUS_SCRIBE__STORAGE__POSTGRES_TLS", "verify-full"),
            (
                "NEXUS_SCRIBE__STORAGE__POSTGRES_CA_FILE",
                "/etc/scribe/db-ca.pem",
            ),
        ])
        .expect("valid");
        let options = c.postgres_options(Some("pw".into()));
        assert_eq!(
            options.tls,
            transcript_storage::PostgresTls::VerifyFull {
                ca_file: Some("/etc/scribe/db-ca.pem".into())
            }
        );
        assert_eq!(options.describe(), "db.internal:5432/scribe");
    }

    #[test]
    fn rate_limits_and_trusted_proxies_are_validated() {
        let err = Config::load(
            None,
            &env(&[("NEXUS_SCRIBE__SERVER__TRUSTED_PROXIES", "[\"10.0.0.1/8\"]")]),
        )
        .expect_err("host bits set")
        .to_string();
        assert!(err.contains("server.trusted_proxies"), "{err}");
        let err = Config::load(
            None,
            &env(&[("NEXUS_SCRIBE__RATE_LIMITS__API_REQUESTS_PER_IP", "0")]),
        )
        .expect_err("zero")
        .to_string();
        assert!(err.contains("rate_limits.api_requests_per_ip"), "{err}");
        let ok = Config::load(
            None,
            &env(&[("NEXUS_SCRIBE__SERVER__TRUSTED_PROXIES", "[\"10.0.0.0/8\"]")]),
        )
        .expect("valid");
        assert_eq!(ok.trusted_proxies().len(), 1);
        let limits = ok.rate_limits();
        assert_eq!(limits.websocket.per_ip.attempts, 10);
        assert_eq!(limits.api.per_ip.attempts, 100);
        assert_eq!(limits.auth.per_ip.attempts, 5);
    }

    #[test]
    fn bad_toml_names_the_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = write(&dir, "[engine\n");
        let err = Config::load(Some(&p), &env(&[]))
            .expect_err("syntax")
            .to_string();
        assert!(err.contains("invalid TOML"), "{err}");
    }

    #[test]
    fn other_variables_are_ignored() {
        let c = Config::load(
            None,
            &env(&[
                ("NEXUS_SCRIBE_ENV", "production"),
                ("NEXUS_SCRIBE_SECRET_JWT_SECRET", "x"),
            ]),
        )
        .expect("single-underscore variables are not config keys");
        assert_eq!(c, Config::default());
    }

    #[test]
    fn threads_never_exceed_cores() {
        let mut c = Config::default();
        c.engine.threads = 10_000;
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        assert_eq!(c.threads(), cores);
    }
}
