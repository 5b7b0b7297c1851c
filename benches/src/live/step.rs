//! One measured step: a fresh server, N bots (plus K more to probe admission), the server's CPU
//! and memory sampled while they stream, `/metrics` scraped along the way and at the end.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use serde::Serialize;
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::Bytes;

use super::client::{self, BotJob, BotRecord, Shared};
use super::procstat::{self, ProcSample};
use super::promtext::Metrics;
use super::server::{Binary, Server};

/// How often the server process is read.
const SAMPLE_EVERY: Duration = Duration::from_secs(1);
/// Every this many samples `/metrics` is scraped too (for the streams' lag over time).
const SCRAPE_EVERY_SAMPLES: u32 = 2;

/// What a step runs.
pub struct Plan {
    pub bots: usize,
    /// Extra bots started once the others stream.
    pub overload: usize,
    /// After the last bot under test started, when the extra bots start.
    pub overload_after: Duration,
    pub stagger: Duration,
    pub chunk_ms: u64,
    pub drain_timeout: Duration,
    pub log_path: PathBuf,
}

/// One reading during the run.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Tick {
    /// Seconds since the epoch.
    pub t_s: f64,
    /// Server CPU over the last interval, cores.
    pub cores: f64,
    pub rss_mib: f64,
    /// Largest stream lag in the scrape at this tick, if scraped.
    pub max_lag_s: Option<f64>,
    pub queue_depth: Option<f64>,
}

/// The server's resource use over the streaming window (just before the first bot starts
/// until the last one has ended).
#[derive(Clone, Debug, Serialize)]
pub struct Usage {
    pub window_s: f64,
    pub server_cores_mean: f64,
    pub server_cores_max: f64,
    pub rss_mean_mib: f64,
    /// VmHWM at the end: the peak since start-up, model load included.
    pub rss_peak_mib: f64,
    /// CPU other processes used meanwhile (machine busy − server − this benchmark), cores.
    pub others_cores: Option<f64>,
    /// This benchmark's own CPU (bots, viewers, sampling), cores.
    pub bench_cores: Option<f64>,
    /// Largest stream lag seen in any scrape.
    pub max_lag_s: Option<f64>,
    pub ticks: Vec<Tick>,
}

/// What a step produced.
pub struct Output {
    pub epoch: Instant,
    pub records: Vec<BotRecord>,
    pub usage: Usage,
    /// `/metrics` after the last bot finished.
    pub metrics: Metrics,
}

/// Runs a step. Blocking: it owns a runtime for the duration.
pub fn run(bin: &Binary, plan: &Plan, audio: Bytes) -> anyhow::Result<Output> {
    let total = plan.bots + plan.overload;
    let (mut server, accounts) = Server::start(bin, total, &plan.log_path)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let out = rt.block_on(drive(&server, accounts, plan, audio));
    if !server.is_running() {
        eprintln!(
            "warning: the server exited during the run; see {}",
            server.log_path.display()
        );
    }
    drop(server);
    out
}

async fn drive(
    server: &Server,
    accounts: Vec<super::server::BotAccount>,
    plan: &Plan,
    audio: Bytes,
) -> anyhow::Result<Output> {
    let token = server.login().await?;
    let shared = Arc::new(Shared {
        ws_base: format!("ws://{}", server.addr),
        token: token.clone(),
        audio,
        chunk_ms: plan.chunk_ms,
        drain_timeout: plan.drain_timeout,
    });
    let epoch = Instant::now() + Duration::from_millis(500);
    let last_regular = epoch + plan.stagger * plan.bots.saturating_sub(1) as u32;
    let mut tasks = Vec::new();
    for (i, account) in accounts.into_iter().enumerate() {
        let extra = i >= plan.bots;
        let start_at = if extra {
            last_regular + plan.overload_after + plan.stagger * (i - plan.bots) as u32
        } else {
            epoch + plan.stagger * i as u32
        };
        let job = BotJob {
            index: i,
            extra,
            account,
            start_at,
        };
        tasks.push(tokio::spawn(client::run(Arc::clone(&shared), job)));
    }

    let (stop_tx, stop_rx) = watch::channel(false);
    let sampler = tokio::spawn(sample(
        server.addr,
        server.pid(),
        token.clone(),
        epoch,
        stop_rx,
    ));
    let window_start = Instant::now();
    let busy_before = procstat::machine_busy_s();
    let own_before = procstat::own_cpu_s();
    let server_before = procstat::sample(server.pid());
    let mut records = Vec::new();
    for t in tasks {
        records.push(t.await.context("a bot task panicked")?);
    }
    let window_end = Instant::now();
    let server_after = procstat::sample(server.pid());
    let busy_after = procstat::machine_busy_s();
    let own_after = procstat::own_cpu_s();
    let _ = stop_tx.send(true);
    let ticks = sampler.await.context("the sampler panicked")?;
    let metrics = match server.metrics(&token).await {
        Ok(text) => Metrics::parse(&text),
        Err(e) => {
            eprintln!("warning: could not read /metrics at the end: {e:#}");
            Metrics::default()
        }
    };

    let window_s = window_end
        .saturating_duration_since(window_start)
        .as_secs_f64()
        .max(1e-3);
    let server_cpu = server_before
        .zip(server_after)
        .map(|(b, a)| a.cpu_s - b.cpu_s);
    let own = own_before.zip(own_after).map(|(b, a)| a - b);
    let others = match (busy_before.zip(busy_after), server_cpu, own) {
        (Some((b, a)), Some(s), Some(o)) => Some(((a - b - s - o) / window_s).max(0.0)),
        _ => None,
    };
    let mib = |kib: u64| kib as f64 / 1024.0;
    let rss: Vec<f64> = ticks.iter().map(|t| t.rss_mib).collect();
    let usage = Usage {
        window_s,
        server_cores_mean: server_cpu.unwrap_or(0.0) / window_s,
        server_cores_max: ticks.iter().map(|t| t.cores).fold(0.0, f64::max),
        rss_mean_mib: if rss.is_empty() {
            0.0
        } else {
            rss.iter().sum::<f64>() / rss.len() as f64
        },
        rss_peak_mib: server_after.map_or(0.0, |s: ProcSample| mib(s.hwm_kib)),
        others_cores: others,
        bench_cores: own.map(|o| o / window_s),
        max_lag_s: ticks.iter().filter_map(|t| t.max_lag_s).reduce(f64::max),
        ticks,
    };
    Ok(Output {
        epoch,
        records,
        usage,
        metrics,
    })
}

/// Reads the server every second (and `/metrics` every few) until told to stop.
async fn sample(
    addr: std::net::SocketAddr,
    pid: u32,
    token: String,
    epoch: Instant,
    mut stop: watch::Receiver<bool>,
) -> Vec<Tick> {
    let mut ticks = Vec::new();
    let mut interval = tokio::time::interval(SAMPLE_EVERY);
    let mut last: Option<(Instant, ProcSample)> = None;
    let mut n = 0u32;
    loop {
        tokio::select! {
            _ = interval.tick() => {}
            _ = stop.changed() => break,
        }
        let now = Instant::now();
        let Some(s) = procstat::sample(pid) else {
            break;
        };
        let cores = last.map_or(0.0, |(t, p)| {
            (s.cpu_s - p.cpu_s) / now.duration_since(t).as_secs_f64().max(1e-3)
        });
        last = Some((now, s));
        let (mut max_lag_s, mut queue_depth) = (None, None);
        if n.is_multiple_of(SCRAPE_EVERY_SAMPLES) {
            let res = super::http::request(addr, "GET", "/metrics", Some(&token), None).await;
            if let Ok(r) = res {
                if r.status == 200 {
                    let m = Metrics::parse(&r.body);
                    max_lag_s = Some(m.max("nexus_scribe_stream_lag_seconds", &[]).unwrap_or(0.0));
                    queue_depth = m.value("nexus_scribe_queue_depth", &[]);
                }
            }
        }
        n += 1;
        ticks.push(Tick {
            t_s: signed_secs(now, epoch),
            cores,
            rss_mib: s.rss_kib as f64 / 1024.0,
            max_lag_s,
            queue_depth,
        });
    }
    ticks
}

/// `t − epoch` in seconds, negative when `t` is earlier.
pub fn signed_secs(t: Instant, epoch: Instant) -> f64 {
    match t.checked_duration_since(epoch) {
        Some(d) => d.as_secs_f64(),
        None => -epoch.duration_since(t).as_secs_f64(),
    }
}
