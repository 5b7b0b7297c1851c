//! `serve`: the service on embedded defaults (PROTOCOL.md §5) — secrets from the environment,
//! Vault (`[vault]`, rotations applied live) or generated into `<data_dir>/secrets`, the
//! embedded store in `<data_dir>`, the default model (fetched on first start), HTTP on
//! 127.0.0.1:8080 (HTTPS with `[server.tls]`). Logs `listening on ADDR` when ready.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use scribe_auth::{JwtKeys, PasswordHasher, SystemClock, TokenConfig, TokenService};
use scribe_secrets::SecretName;
use speech_engine::scheduler::ShutdownMode;
use speech_engine::{Scheduler, WhisperEngine};

use crate::config::Config;

/// How long shutdown lets queued decodes finish.
const DRAIN: Duration = Duration::from_secs(5);

pub async fn run(config: &Config, listen: Option<SocketAddr>) -> anyhow::Result<()> {
    // Plain HTTP or HTTPS ([server.tls]); refused or failing here, before the slow start-up.
    let edge = super::listen::Edge::prepare(config, listen)?;
    let super::LoadedSecrets {
        secrets,
        env,
        vault,
    } = super::load_secrets(config).await?;
    let store = super::open_store(config, &secrets).await?;

    let model_path = super::models::ensure_default_model(config)?;
    let engine = Arc::new(
        WhisperEngine::load(&model_path)
            .with_context(|| format!("cannot load the model {}", model_path.display()))?,
    );
    let scheduler = Arc::new(Scheduler::new(engine, config.scheduler_config())?);

    let clock = Arc::new(SystemClock);
    let keys = JwtKeys::new(
        secrets.get(SecretName::JwtSecret)?,
        secrets.previous(SecretName::JwtSecret),
    )?;
    let tokens = Arc::new(TokenService::new(
        keys,
        TokenConfig::default(),
        clock.clone(),
    ));
    let hasher = Arc::new(PasswordHasher::new()?);
    let bot_key_secret = secrets.get(SecretName::BotKeySecret)?.clone();

    let state = gateway::AppState::new(gateway::Parts {
        store,
        scheduler: Arc::clone(&scheduler),
        tokens,
        clock,
        hasher,
        bot_key_secret,
        config: gateway::GatewayConfig {
            ws: config.ws_limits(),
            stream: config.stream_config(),
            language: config.engine.language.clone(),
            allowed_origins: config.server.allowed_origins.clone(),
            uploads_dir: config.data_dir.join("uploads"),
            max_upload_bytes: config.server.max_upload_bytes,
            recording_beam_size: config.engine.beam_size,
            recording_max_utterance_ms: gateway::config::RECORDING_MAX_UTTERANCE_MS,
            rate_limits: config.rate_limits(),
            trusted_proxies: config.trusted_proxies(),
            lockout: config.auth.lockout(),
            invite_ttl: config.auth.invite_ttl(),
        },
    });
    if let Some(vault) = vault {
        // Rotations in Vault reach the running service; /readyz follows Vault's health.
        super::rotation::spawn(vault, env, state.clone(), super::run_mode(), &secrets);
    }
    offer_setup_code(&state).await?;
    // Other servers on the same database: their finals reach this server's viewers.
    gateway::follow::spawn(&state);
    // Uploaded recordings, including any a previous run left unfinished.
    gateway::jobs::spawn(&state);
    let live = state.clone();
    let shutdown = async move {
        shutdown_signal().await;
        tracing::info!("shutting down: closing live sessions (1012, bots resume)");
        live.close_live_sessions(DRAIN).await;
    };
    edge.serve(gateway::router(state), shutdown).await?;
    tracing::info!("shutting down: finishing queued decodes");
    tokio::task::spawn_blocking(move || scheduler.shutdown(ShutdownMode::Drain(DRAIN))).await?;
    Ok(())
}

/// On a fresh install (no account at all), arms a one-time setup code and prints it on the
/// console — never into the log — for `POST /api/v1/setup`. Nobody
/// who merely reaches the port first can take the server over.
async fn offer_setup_code(state: &gateway::AppState) -> anyhow::Result<()> {
    if state.store.has_users().await? {
        return Ok(());
    }
    let (code, hash) = scribe_auth::one_time_code()?;
    state.setup.arm(hash);
    use scribe_auth::ExposeSecret as _;
    use std::io::Write as _;
    // Straight to the terminal's stderr, past the log subscriber (log files and collectors
    // never see it).
    let mut err = std::io::stderr().lock();
    let _ = writeln!(
        err,
        "\nNo account exists yet. Create the first administrator with this one-time setup \
         code\n(POST /api/v1/setup {{setup_code, email, password, organisation}}): {}\n",
        code.expose_secret()
    );
    Ok(())
}

/// Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
