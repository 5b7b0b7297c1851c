//! Closing streams, shutting down with work pending, and engine panics.

use std::sync::Arc;
use std::time::Duration;

use super::fake::{
    audio, config, final_, outcome, partial, start, submit, FakeEngine, PANIC, PATIENCE,
};
use crate::scheduler::{AdmitError, CapacityReason, Job, ManualClock, ShutdownMode};
use crate::{DecodeOptions, EngineError};

#[test]
fn shutdown_cancels_waiting_jobs_and_lets_the_running_one_finish() {
    let clock = Arc::new(ManualClock::new());
    let engine = FakeEngine::new();
    let sched = Arc::new(start(engine.clone(), config(1), clock));
    let a = sched.admit("a").expect("admitted");
    let b = sched.admit("b").expect("admitted");
    engine.hold();
    let running = submit(&a, final_(1));
    engine.wait_calls(1);
    let waiting = [submit(&b, final_(2)), submit(&a, final_(3))];
    let stopper = {
        let sched = Arc::clone(&sched);
        std::thread::spawn(move || sched.shutdown(ShutdownMode::Cancel))
    };
    for rx in &waiting {
        assert!(matches!(
            rx.recv_timeout(PATIENCE),
            Ok(Err(EngineError::ShuttingDown))
        ));
    }
    engine.release();
    assert_eq!(outcome(&running), "job 1", "the running job completes");
    stopper.join().expect("shutdown returns");
    assert!(outcome(&submit(&a, final_(4))).contains("shutting down"));
    assert_eq!(
        sched.admit("c").err(),
        Some(AdmitError::AtCapacity(CapacityReason::ShuttingDown))
    );
    assert_eq!(engine.calls(), vec![1]);
}

#[test]
fn draining_shutdown_runs_what_is_queued() {
    let clock = Arc::new(ManualClock::new());
    let engine = FakeEngine::new();
    let sched = start(engine.clone(), config(2), clock);
    let handles: Vec<_> = (0..4).map(|i| sched.admit(i).expect("admitted")).collect();
    engine.hold();
    let rxs: Vec<_> = handles
        .iter()
        .zip(0..)
        .flat_map(|(h, i)| [submit(h, final_(2 * i)), submit(h, final_(2 * i + 1))])
        .collect();
    engine.release();
    sched.shutdown(ShutdownMode::Drain(PATIENCE));
    for rx in &rxs {
        assert!(outcome(rx).starts_with("job"));
    }
    assert_eq!(engine.calls().len(), 8);
    drop(sched);
}

#[test]
fn dropping_the_scheduler_with_work_pending_does_not_hang() {
    let clock = Arc::new(ManualClock::new());
    let engine = FakeEngine::new();
    let sched = start(engine.clone(), config(1), clock);
    let a = sched.admit("a").expect("admitted");
    let rxs: Vec<_> = (0..10).map(|m| submit(&a, final_(m))).collect();
    drop(sched);
    for rx in &rxs {
        let r = outcome(rx);
        assert!(r.starts_with("job") || r.contains("shutting down"), "{r}");
    }
}

#[test]
fn closing_a_stream_cancels_its_waiting_jobs_only() {
    let clock = Arc::new(ManualClock::new());
    let engine = FakeEngine::new();
    let sched = start(engine.clone(), config(1), clock);
    let a = sched.admit("a").expect("admitted");
    let b = sched.admit("b").expect("admitted");
    engine.hold();
    let ra = submit(&a, final_(1));
    engine.wait_calls(1);
    let rb = submit(&b, final_(2));
    let ra2 = submit(&a, final_(3));
    drop(a);
    assert!(matches!(
        ra2.recv_timeout(PATIENCE),
        Ok(Err(EngineError::StreamClosed))
    ));
    engine.release();
    assert_eq!(outcome(&ra), "job 1", "a running job still completes");
    assert_eq!(outcome(&rb), "job 2");
    assert_eq!(engine.calls(), vec![1, 2]);
}

#[test]
fn finishing_a_stream_runs_its_waiting_jobs_first() {
    let clock = Arc::new(ManualClock::new());
    let engine = FakeEngine::new();
    let sched = start(engine.clone(), config(1), clock);
    let a = sched.admit("a").expect("admitted");
    engine.hold();
    let r1 = submit(&a, partial(1));
    engine.wait_calls(1);
    let rxs = [r1, submit(&a, final_(2)), submit(&a, final_(3))];
    a.finish();
    assert!(
        sched.admit("a").is_err(),
        "a finishing stream still holds its id"
    );
    engine.release();
    assert_eq!(outcome(&rxs[0]), "job 1");
    assert_eq!(outcome(&rxs[1]), "job 2");
    assert_eq!(outcome(&rxs[2]), "job 3");
    std::thread::sleep(Duration::from_millis(20));
    assert!(sched.metrics().streams.is_empty(), "forgotten once drained");
    assert!(sched.admit("a").is_ok());
}

#[test]
fn an_engine_panic_fails_that_job_and_the_worker_carries_on() {
    let clock = Arc::new(ManualClock::new());
    let engine = FakeEngine::new();
    let sched = start(engine.clone(), config(1), clock);
    let a = sched.admit("a").expect("admitted");
    let bad = submit(
        &a,
        Job::utterance_final(audio(PANIC, 1.0), DecodeOptions::default()),
    );
    assert!(matches!(
        bad.recv_timeout(PATIENCE),
        Ok(Err(EngineError::Panicked))
    ));
    assert_eq!(outcome(&submit(&a, final_(2))), "job 2");
    let panicked: u64 = sched
        .metrics()
        .jobs
        .iter()
        .filter(|j| j.outcome == "panicked")
        .map(|j| j.count)
        .sum();
    assert_eq!(panicked, 1);
}

#[test]
fn a_panicking_completion_does_not_kill_the_worker() {
    let clock = Arc::new(ManualClock::new());
    let sched = start(FakeEngine::new(), config(1), clock);
    let a = sched.admit("a").expect("admitted");
    a.submit(final_(1), Box::new(|_| panic!("callback panics")));
    assert_eq!(outcome(&submit(&a, final_(2))), "job 2");
}
