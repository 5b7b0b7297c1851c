//! Test fixtures: an application state on a temporary embedded store, with a stand-in speech
//! engine (unit tests here exercise HTTP and auth; the real model runs in the end-to-end tests).

use std::sync::Arc;

use scribe_auth::{
    Argon2Params, JwtKeys, PasswordHasher, SecretString, SystemClock, TokenConfig, TokenService,
};
use scribe_core::{MonoAudio, Segment, Transcript};
use speech_engine::{
    DecodeOptions, EngineError, ModelInfo, Progress, Scheduler, SchedulerConfig, SpeechEngine,
};
use transcript_storage::EmbeddedStore;

use crate::app::{AppState, Parts};
use crate::config::GatewayConfig;

/// Answers every decode with one segment spanning the audio.
pub struct StandInEngine {
    info: ModelInfo,
}

impl SpeechEngine for StandInEngine {
    fn transcribe(
        &self,
        audio: &MonoAudio,
        _opts: &DecodeOptions,
        _progress: Option<Arc<Progress>>,
    ) -> Result<Transcript, EngineError> {
        let end_ms = audio.duration_ms();
        Ok(Transcript {
            segments: vec![Segment {
                start_ms: 0,
                end_ms,
                text: "speech".into(),
                words: Vec::new(),
            }],
            language: "en".into(),
            duration_ms: end_ms,
        })
    }

    fn model_info(&self) -> &ModelInfo {
        &self.info
    }
}

pub const BOT_KEY_SECRET: &str = "test-bot-key-secret-0123456789abcdef0123456789";
pub const JWT_SECRET: &str = "test-jwt-secret-0123456789abcdef0123456789abcdef";

/// A state on a fresh store in `dir`.
pub async fn state(dir: &std::path::Path) -> AppState {
    state_with(dir, Arc::new(SystemClock), GatewayConfig::default()).await
}

/// A state on a fresh store in `dir` with this clock and these settings (`uploads_dir` is set
/// inside `dir`).
pub async fn state_with(
    dir: &std::path::Path,
    clock: Arc<dyn scribe_auth::Clock>,
    config: GatewayConfig,
) -> AppState {
    let store = Arc::new(
        EmbeddedStore::open(dir, &transcript_storage::Keyring::random())
            .await
            .expect("store"),
    );
    let engine = Arc::new(StandInEngine {
        info: ModelInfo {
            name: "stand-in".into(),
            multilingual: false,
            n_audio_ctx: 1500,
            n_text_layer: 4,
            n_mels: 80,
            weight_type: "none".into(),
        },
    });
    let scheduler =
        Arc::new(Scheduler::new(engine, SchedulerConfig::for_cores(1)).expect("scheduler"));
    let keys = JwtKeys::new(&SecretString::from(JWT_SECRET), &[]).expect("keys");
    let hasher = PasswordHasher::insecure_for_tests(Argon2Params {
        memory_kib: 256,
        iterations: 1,
        parallelism: 1,
    })
    .expect("hasher");
    AppState::new(Parts {
        store,
        scheduler,
        tokens: Arc::new(TokenService::new(
            keys,
            TokenConfig::default(),
            clock.clone(),
        )),
        clock,
        hasher: Arc::new(hasher),
        bot_key_secret: SecretString::from(BOT_KEY_SECRET),
        config: GatewayConfig {
            uploads_dir: dir.join("uploads"),
            ..config
        },
    })
}
