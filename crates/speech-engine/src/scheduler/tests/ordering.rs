//! Oldest audio first; coalescing per stream; finals never dropped and in order.

use std::sync::Arc;
use std::time::Duration;

use super::fake::{
    self, config, final_, is_superseded, outcome, partial, start, submit, FakeEngine,
};
use crate::scheduler::{Clock, ManualClock};

#[test]
fn oldest_audio_runs_first_across_streams() {
    let clock = Arc::new(ManualClock::new());
    let t0 = clock.now();
    clock.advance(Duration::from_secs(10));
    for finals_first in [false, true] {
        let engine = FakeEngine::new();
        let mut cfg = config(1);
        cfg.finals_first = finals_first;
        let sched = start(engine.clone(), cfg, clock.clone());
        let [a, b, c, d, e] =
            ["a", "b", "c", "d", "e"].map(|id| sched.admit(id).expect("admitted"));
        engine.hold();
        let first = submit(&a, partial(1));
        engine.wait_calls(1);
        // Submitted in the order b, c, d, e; their audio arrived in the order c, d, b, e.
        let at = |s| t0 + Duration::from_secs(s);
        let rb = submit(&b, partial(2).with_oldest_audio_at(at(3)));
        let rc = submit(&c, partial(3).with_oldest_audio_at(at(1)));
        let rd = submit(&d, partial(4).with_oldest_audio_at(at(2)));
        let re = submit(&e, final_(5).with_oldest_audio_at(at(4)));
        engine.release();
        for (rx, want) in [(&first, 1), (&rb, 2), (&rc, 3), (&rd, 4), (&re, 5)] {
            assert_eq!(outcome(rx), format!("job {want}"));
        }
        // With finals first, e's final jumps the partials; otherwise it is the youngest.
        let want = if finals_first {
            vec![1, 5, 3, 4, 2]
        } else {
            vec![1, 3, 4, 2, 5]
        };
        assert_eq!(engine.calls(), want, "finals_first: {finals_first}");
    }
}

#[test]
fn equally_old_audio_runs_in_submission_order() {
    let clock = Arc::new(ManualClock::new());
    let engine = FakeEngine::new();
    let sched = start(engine.clone(), config(1), clock);
    let handles: Vec<_> = (0..5).map(|i| sched.admit(i).expect("admitted")).collect();
    engine.hold();
    let rxs: Vec<_> = handles
        .iter()
        .zip(10..)
        .map(|(h, m)| submit(h, partial(m)))
        .collect();
    engine.release();
    for rx in &rxs {
        assert!(outcome(rx).starts_with("job"));
    }
    assert_eq!(engine.calls(), vec![10, 11, 12, 13, 14]);
}

#[test]
fn newer_partial_replaces_waiting_one_and_keeps_its_place() {
    let clock = Arc::new(ManualClock::new());
    let engine = FakeEngine::new();
    let sched = start(engine.clone(), config(1), clock.clone());
    let [busy, b, c] = ["busy", "b", "c"].map(|id| sched.admit(id).expect("admitted"));
    engine.hold();
    let r1 = submit(&busy, partial(1));
    engine.wait_calls(1);
    let r2 = submit(&b, partial(2));
    clock.advance(Duration::from_millis(300));
    let r5 = submit(&c, partial(5));
    clock.advance(Duration::from_millis(300));
    let r3 = submit(&b, partial(3));
    let r4 = submit(&b, partial(4));
    assert!(is_superseded(&r2), "the first waiting partial is replaced");
    assert!(is_superseded(&r3), "and so is the second");
    engine.release();
    assert_eq!(outcome(&r1), "job 1");
    assert_eq!(outcome(&r4), "job 4");
    assert_eq!(outcome(&r5), "job 5");
    // b's audio has waited since before c's, so b's newest partial runs first.
    assert_eq!(engine.calls(), vec![1, 4, 5]);
    let m = sched.metrics();
    let superseded: u64 = m
        .jobs
        .iter()
        .filter(|j| j.outcome == "superseded")
        .map(|j| j.count)
        .sum();
    assert_eq!(superseded, 2);
}

#[test]
fn finals_are_never_dropped_and_run_in_order() {
    let clock = Arc::new(ManualClock::new());
    let engine = FakeEngine::new();
    // Two workers: the second must still not run a stream's next job early.
    let sched = start(engine.clone(), config(2), clock);
    let s = sched.admit("s").expect("admitted");
    engine.hold();
    let r1 = submit(&s, partial(1));
    engine.wait_calls(1);
    let r2 = submit(&s, final_(2));
    let r3 = submit(&s, partial(3));
    let r4 = submit(&s, final_(4));
    let r5 = submit(&s, partial(5));
    let r6 = submit(&s, partial(6));
    let r7 = submit(&s, final_(7));
    assert!(is_superseded(&r3), "a final replaces the waiting partial");
    assert!(is_superseded(&r5));
    assert!(is_superseded(&r6));
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(engine.calls(), vec![1], "one job per stream at a time");
    engine.release();
    for (rx, want) in [(&r1, 1), (&r2, 2), (&r4, 4), (&r7, 7)] {
        assert_eq!(outcome(rx), format!("job {want}"));
    }
    assert_eq!(engine.calls(), vec![1, 2, 4, 7]);
}

#[test]
fn results_of_one_stream_arrive_in_submission_order() {
    let clock = Arc::new(ManualClock::new());
    let engine = FakeEngine::new();
    let sched = start(engine.clone(), config(2), clock);
    let s = sched.admit("s").expect("admitted");
    let (tx, rx) = std::sync::mpsc::channel();
    for m in 0..20 {
        let tx = tx.clone();
        s.submit(
            final_(m),
            Box::new(move |r| {
                let _ = tx.send(r.map(|t| t.text()).unwrap_or_default());
            }),
        );
    }
    let got: Vec<String> = (0..20)
        .map(|_| rx.recv_timeout(fake::PATIENCE).expect("result"))
        .collect();
    let want: Vec<String> = (0..20).map(|m| format!("job {m}")).collect();
    assert_eq!(got, want);
}

#[test]
fn workers_get_the_configured_threads() {
    let clock = Arc::new(ManualClock::new());
    let engine = FakeEngine::new();
    let mut cfg = config(1);
    cfg.threads_per_worker = 2;
    let sched = super::fake::start(engine.clone(), cfg, clock);
    let s = sched.admit("s").expect("admitted");
    let mut job = final_(1);
    job.options.threads = 64;
    assert_eq!(outcome(&submit(&s, job)), "job 1");
    assert_eq!(engine.threads_seen(), vec![2]);
}
