//! `scribe-bench storage`: how fast each backend stores finals and serves transcripts.
//!
//! Writers append finals the way live bots do — one at a time per stream, each committed
//! (durably: SQLite `synchronous=FULL`, PostgreSQL's default `fsync`) and sealed (AES-256-GCM)
//! before the next — to their own meetings, concurrently. Then every meeting's whole
//! transcript is read back (and decrypted) once. Both backends run in the same process on the
//! same machine, so the ratio compares like with like.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use scribe_core::{OrgScope, Segment, SegmentId, Word};
use transcript_storage::conformance::postgres::fresh_database;
use transcript_storage::{
    EmbeddedStore, Keyring, MeetingId, NewFinal, NewMeeting, NewStream, PostgresOptions,
    PostgresStore, ResumeTokenHash, Store, StreamId,
};

#[derive(Debug, clap::Args)]
pub struct Options {
    /// Meetings to fill.
    #[arg(long, default_value_t = 100)]
    meetings: usize,
    /// Finals per meeting.
    #[arg(long, default_value_t = 1000)]
    segments: usize,
    /// Concurrent writers, each appending to its own meetings one final at a time.
    #[arg(long, default_value_t = 4)]
    writers: usize,
    /// Which backends to measure.
    #[arg(long, value_enum, default_value = "both")]
    backend: Which,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum Which {
    Embedded,
    Postgres,
    Both,
}

/// What one backend did.
#[derive(Debug, serde::Serialize)]
struct Figures {
    backend: &'static str,
    segments: usize,
    write_seconds: f64,
    segments_per_second: f64,
    append_p50_ms: f64,
    append_p95_ms: f64,
    read_p50_ms: f64,
    read_p95_ms: f64,
    read_max_ms: f64,
}

pub fn run(options: Options) -> anyhow::Result<()> {
    anyhow::ensure!(
        options.meetings > 0 && options.segments > 0 && options.writers > 0,
        "--meetings, --segments and --writers must be at least 1"
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let keys = Keyring::random();
    let mut all = Vec::new();
    if options.backend != Which::Postgres {
        let dir = tempfile::tempdir()?;
        let figures = rt.block_on(async {
            let store = EmbeddedStore::open(dir.path(), &keys)
                .await
                .context("embedded store")?;
            measure("embedded", Arc::new(store), &options).await
        })?;
        all.push(figures);
    }
    if options.backend != Which::Embedded {
        // A fresh database on the PostgreSQL server the tests use
        // (NEXUS_SCRIBE_TEST_POSTGRES_URL, default 127.0.0.1:5432), as an ordinary role
        // (row-level security on).
        let url = fresh_database("bench");
        let figures = rt.block_on(async {
            let store = PostgresStore::connect(&PostgresOptions::new(url), &keys)
                .await
                .context("PostgreSQL store")?;
            measure("postgres", Arc::new(store), &options).await
        })?;
        all.push(figures);
    }
    print(&all, &options);
    Ok(())
}

async fn measure(
    backend: &'static str,
    store: Arc<dyn Store>,
    options: &Options,
) -> anyhow::Result<Figures> {
    let org = store
        .create_organisation(&format!("bench {}", uuid_like()))
        .await?;
    let scope = OrgScope::for_org(org.id);
    let mut targets: Vec<(MeetingId, StreamId)> = Vec::new();
    for i in 0..options.meetings {
        let meeting = store
            .create_meeting(
                &scope,
                NewMeeting {
                    title: format!("Benchmark meeting {i}"),
                    created_by: None,
                },
            )
            .await?;
        let mut hash = [0u8; 32];
        hash[..8].copy_from_slice(&(i as u64).to_le_bytes());
        hash[8..24].copy_from_slice(meeting.id.as_uuid().as_bytes());
        let stream = store
            .open_stream(
                &scope,
                NewStream {
                    meeting_id: meeting.id,
                    bot_id: None,
                    resume_token_hash: ResumeTokenHash(hash),
                },
            )
            .await?;
        targets.push((meeting.id, stream.id));
    }

    eprintln!(
        "{backend}: writing {} finals ({} meetings × {}, {} writers)…",
        options.meetings * options.segments,
        options.meetings,
        options.segments,
        options.writers
    );
    let started = Instant::now();
    let mut writers = Vec::new();
    for w in 0..options.writers {
        let mine: Vec<(MeetingId, StreamId)> = targets
            .iter()
            .copied()
            .skip(w)
            .step_by(options.writers)
            .collect();
        let (store, segments) = (Arc::clone(&store), options.segments);
        writers.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(mine.len() * segments);
            for n in 0..segments {
                for &(meeting, stream) in &mine {
                    let t = Instant::now();
                    store
                        .append_final(&scope, final_at(meeting, stream, n))
                        .await?;
                    latencies.push(t.elapsed());
                }
            }
            anyhow::Ok(latencies)
        }));
    }
    let mut appends = Vec::new();
    for w in writers {
        appends.extend(w.await??);
    }
    let write_seconds = started.elapsed().as_secs_f64();

    let mut reads = Vec::new();
    for &(meeting, _) in &targets {
        let t = Instant::now();
        let finals = store.list_finals(&scope, meeting).await?;
        reads.push(t.elapsed());
        anyhow::ensure!(
            finals.len() == options.segments && finals.iter().all(Result::is_ok),
            "{backend}: a transcript did not read back whole"
        );
    }
    let total = options.meetings * options.segments;
    Ok(Figures {
        backend,
        segments: total,
        write_seconds,
        segments_per_second: total as f64 / write_seconds,
        append_p50_ms: percentile_ms(&mut appends, 0.50),
        append_p95_ms: percentile_ms(&mut appends, 0.95),
        read_p50_ms: percentile_ms(&mut reads, 0.50),
        read_p95_ms: percentile_ms(&mut reads, 0.95),
        read_max_ms: percentile_ms(&mut reads, 1.0),
    })
}

/// A final of twelve words, as a live final or two would be.
fn final_at(meeting: MeetingId, stream: StreamId, n: usize) -> NewFinal {
    let start = n as u64 * 4_000;
    let words: Vec<Word> = (0..12u64)
        .map(|i| Word {
            word: format!(" word{i}"),
            start_ms: start + i * 300,
            end_ms: start + i * 300 + 250,
            confidence: 0.9,
        })
        .collect();
    let text = words.iter().map(|w| w.word.as_str()).collect::<String>();
    NewFinal {
        segment_id: SegmentId::generate(),
        meeting_id: meeting,
        stream_id: stream,
        segment: Segment {
            start_ms: start,
            end_ms: start + 3_600,
            text,
            words,
        },
        speaker: None,
        language: Some("en".into()),
        acked_audio_ms: Some(start + 3_600),
    }
}

fn percentile_ms(values: &mut [Duration], q: f64) -> f64 {
    values.sort_unstable();
    let Some(last) = values.len().checked_sub(1) else {
        return 0.0;
    };
    let idx = ((last as f64) * q).round() as usize;
    values[idx.min(last)].as_secs_f64() * 1000.0
}

fn uuid_like() -> String {
    format!("{:?}", Instant::now()).replace(['.', ' '], "")
}

fn print(all: &[Figures], options: &Options) {
    println!(
        "\n{} meetings × {} finals, {} writers, encrypted, durable commits\n",
        options.meetings, options.segments, options.writers
    );
    println!("| backend | finals/s | append p50 | append p95 | transcript read p50 | p95 | max |");
    println!("|---|---|---|---|---|---|---|");
    for f in all {
        println!(
            "| {} | {:.0} | {:.2} ms | {:.2} ms | {:.1} ms | {:.1} ms | {:.1} ms |",
            f.backend,
            f.segments_per_second,
            f.append_p50_ms,
            f.append_p95_ms,
            f.read_p50_ms,
            f.read_p95_ms,
            f.read_max_ms
        );
    }
    if let [e, p] = all {
        println!(
            "| ratio postgres / embedded | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} |",
            p.segments_per_second / e.segments_per_second,
            p.append_p50_ms / e.append_p50_ms,
            p.append_p95_ms / e.append_p95_ms,
            p.read_p50_ms / e.read_p50_ms,
            p.read_p95_ms / e.read_p95_ms,
            p.read_max_ms / e.read_max_ms
        );
    }
    if let Ok(json) = serde_json::to_string(all) {
        eprintln!("{json}");
    }
}
