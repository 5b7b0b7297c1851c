//! Admission refuses when the machine is saturated, accepts again when load drops, and never
//! evicts running streams.

use std::sync::Arc;
use std::time::Duration;

use super::fake::{config, final_, outcome, partial, settled, start, submit, FakeEngine};
use crate::scheduler::{AdmitError, CapacityReason, ManualClock};

fn refused(r: Result<crate::StreamHandle, AdmitError>) -> Option<AdmitError> {
    r.err()
}

#[test]
fn congestion_refuses_new_streams_until_it_has_passed() {
    let clock = Arc::new(ManualClock::new());
    let engine = FakeEngine::new();
    let cfg = config(1);
    let window = cfg.congestion_window;
    let max_wait = cfg.max_queue_wait;
    let sched = start(engine.clone(), cfg, clock.clone());
    let a = sched.admit("a").expect("admitted");
    let b = sched.admit("b").expect("admitted");
    engine.hold();
    let ra = submit(&a, partial(1));
    engine.wait_calls(1);
    let rb = submit(&b, final_(2));
    clock.advance(max_wait / 2);
    assert!(sched.admit("c").is_ok(), "a short wait is not congestion");
    clock.advance(max_wait);
    assert_eq!(
        refused(sched.admit("c")),
        Some(AdmitError::AtCapacity(CapacityReason::QueueWait)),
        "b's final has waited too long for the only worker"
    );
    // Running streams keep working while new ones are refused.
    engine.release();
    assert_eq!(outcome(&ra), "job 1");
    assert_eq!(outcome(&rb), "job 2");
    assert_eq!(outcome(&submit(&a, final_(3))), "job 3");
    settled(&sched);
    // The long wait is remembered for the congestion window, then forgotten.
    assert!(sched.admit("c").is_err());
    clock.advance(window + Duration::from_millis(1));
    assert!(sched.admit("c").is_ok(), "calm again: admitted");
    let m = sched.metrics();
    let refusals: u64 = m
        .streams_refused
        .iter()
        .filter(|(r, _)| *r == CapacityReason::QueueWait)
        .map(|(_, n)| *n)
        .sum();
    assert_eq!(refusals, 2);
    assert_eq!(m.streams_admitted, 4);
}

#[test]
fn a_lagging_stream_refuses_new_ones() {
    let clock = Arc::new(ManualClock::new());
    let engine = FakeEngine::new();
    let cfg = config(1);
    let max_lag = cfg.max_lag;
    let sched = start(engine.clone(), cfg, clock.clone());
    let a = sched.admit("a").expect("admitted");
    engine.hold();
    let ra = submit(&a, final_(1));
    engine.wait_calls(1);
    // The job started at once (no queue wait) but its decode is taking very long.
    clock.advance(max_lag + Duration::from_millis(10));
    assert_eq!(a.lag(), max_lag + Duration::from_millis(10));
    assert_eq!(
        refused(sched.admit("b")),
        Some(AdmitError::AtCapacity(CapacityReason::Lag))
    );
    engine.release();
    assert_eq!(outcome(&ra), "job 1");
    settled(&sched);
    assert_eq!(a.lag(), Duration::ZERO, "caught up");
    assert!(sched.admit("b").is_ok());
}

#[test]
fn stream_limit_is_hard_and_frees_up_on_close() {
    let clock = Arc::new(ManualClock::new());
    let mut cfg = config(1);
    cfg.max_streams = 2;
    let sched = start(FakeEngine::new(), cfg, clock);
    let a = sched.admit("a").expect("admitted");
    let _b = sched.admit("b").expect("admitted");
    assert_eq!(
        refused(sched.admit("c")),
        Some(AdmitError::AtCapacity(CapacityReason::MaxStreams))
    );
    drop(a);
    assert!(sched.admit("c").is_ok());
}

#[test]
fn an_open_stream_id_cannot_be_admitted_twice() {
    let clock = Arc::new(ManualClock::new());
    let sched = start(FakeEngine::new(), config(1), clock);
    let a = sched.admit("a").expect("admitted");
    let again = refused(sched.admit("a"));
    assert_eq!(again, Some(AdmitError::AlreadyAdmitted));
    assert_eq!(
        again.map(|e| e.code()),
        Some(scribe_core::ErrorCode::Conflict)
    );
    drop(a);
    assert!(sched.admit("a").is_ok(), "the id is free once closed");
}

#[test]
fn lag_is_the_age_of_the_oldest_undecoded_audio() {
    let clock = Arc::new(ManualClock::new());
    let engine = FakeEngine::new();
    let sched = start(engine.clone(), config(1), clock.clone());
    let a = sched.admit("a").expect("admitted");
    assert_eq!(a.lag(), Duration::ZERO);
    clock.advance(Duration::from_secs(10));
    let arrived = crate::scheduler::Clock::now(&*clock) - Duration::from_secs(2);
    engine.hold();
    let r = submit(&a, partial(1).with_oldest_audio_at(arrived));
    engine.wait_calls(1);
    assert_eq!(a.lag(), Duration::from_secs(2));
    clock.advance(Duration::from_secs(1));
    assert_eq!(a.lag(), Duration::from_secs(3));
    let m = sched.metrics();
    assert_eq!(m.streams.len(), 1);
    assert_eq!(m.streams[0].lag, Duration::from_secs(3));
    assert!(m.streams[0].decoding);
    engine.release();
    assert_eq!(outcome(&r), "job 1");
    settled(&sched);
    assert_eq!(a.lag(), Duration::ZERO);
}
