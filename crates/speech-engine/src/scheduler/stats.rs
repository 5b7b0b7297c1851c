//! The running measurements behind admission and metrics: smoothed real-time factor, smoothed
//! worker busy fraction, histograms, and the recent queue waits.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Exponentially weighted moving average over samples (each new sample weighs `weight`).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Ewma {
    value: Option<f64>,
    weight: f64,
}

impl Ewma {
    pub fn new(weight: f64) -> Self {
        Self {
            value: None,
            weight,
        }
    }

    pub fn add(&mut self, sample: f64) {
        if !sample.is_finite() {
            return;
        }
        self.value = Some(match self.value {
            None => sample,
            Some(v) => v + self.weight * (sample - v),
        });
    }

    pub fn value(&self) -> Option<f64> {
        self.value
    }
}

/// Fraction of workers busy, smoothed over time with time constant `tau`: the exact EWMA of
/// a piecewise-constant signal, updated whenever the number of busy workers changes.
#[derive(Debug)]
pub(crate) struct BusyTracker {
    workers: usize,
    busy: usize,
    since: Instant,
    smoothed: f64,
    tau: Duration,
}

impl BusyTracker {
    pub fn new(workers: usize, tau: Duration, now: Instant) -> Self {
        Self {
            workers: workers.max(1),
            busy: 0,
            since: now,
            smoothed: 0.0,
            tau,
        }
    }

    fn projected(&self, now: Instant) -> f64 {
        let dt = now.saturating_duration_since(self.since).as_secs_f64();
        let tau = self.tau.as_secs_f64();
        let current = self.busy as f64 / self.workers as f64;
        let alpha = if tau > 0.0 {
            1.0 - (-dt / tau).exp()
        } else {
            1.0
        };
        self.smoothed + alpha * (current - self.smoothed)
    }

    /// A worker started (+1) or finished (-1) a job at `now`.
    pub fn change(&mut self, now: Instant, started: bool) {
        self.smoothed = self.projected(now);
        self.since = now;
        self.busy = if started {
            (self.busy + 1).min(self.workers)
        } else {
            self.busy.saturating_sub(1)
        };
    }

    /// Smoothed busy fraction at `now`, `0.0..=1.0`.
    pub fn fraction(&self, now: Instant) -> f64 {
        self.projected(now).clamp(0.0, 1.0)
    }
}

/// Upper bounds (seconds) of the latency and wait histograms. 2.5 s is the real-time
/// target for finals.
pub(crate) const SECONDS_BUCKETS: &[f64] = &[
    0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 2.5, 3.0, 5.0, 10.0, 30.0,
];

/// A Prometheus-style histogram with fixed bounds.
#[derive(Clone, Debug)]
pub(crate) struct Histogram {
    bounds: &'static [f64],
    /// Per bucket (not cumulative); the last entry counts values above every bound.
    counts: Vec<u64>,
    sum: f64,
}

impl Histogram {
    pub fn new(bounds: &'static [f64]) -> Self {
        Self {
            bounds,
            counts: vec![0; bounds.len() + 1],
            sum: 0.0,
        }
    }

    pub fn observe(&mut self, value: f64) {
        if !value.is_finite() {
            return;
        }
        let i = self
            .bounds
            .iter()
            .position(|&b| value <= b)
            .unwrap_or(self.bounds.len());
        if let Some(c) = self.counts.get_mut(i) {
            *c += 1;
        }
        self.sum += value;
    }

    /// `(upper bound, cumulative count)` per bound, then the total count and the sum.
    pub fn cumulative(&self) -> (Vec<(f64, u64)>, u64, f64) {
        let mut running = 0;
        let buckets = self
            .bounds
            .iter()
            .zip(&self.counts)
            .map(|(&b, &c)| {
                running += c;
                (b, running)
            })
            .collect();
        let count = self.counts.iter().sum();
        (buckets, count, self.sum)
    }
}

/// Queue waits of jobs started within the last `window`, to judge congestion.
#[derive(Debug)]
pub(crate) struct RecentWaits {
    window: Duration,
    waits: VecDeque<(Instant, Duration)>,
}

impl RecentWaits {
    pub fn new(window: Duration) -> Self {
        Self {
            window,
            waits: VecDeque::new(),
        }
    }

    pub fn record(&mut self, started_at: Instant, wait: Duration) {
        self.forget_before(started_at);
        self.waits.push_back((started_at, wait));
    }

    /// The longest wait of a job started within the window before `now`.
    pub fn max(&mut self, now: Instant) -> Duration {
        self.forget_before(now);
        self.waits
            .iter()
            .map(|(_, w)| *w)
            .max()
            .unwrap_or(Duration::ZERO)
    }

    fn forget_before(&mut self, now: Instant) {
        while self
            .waits
            .front()
            .is_some_and(|(at, _)| now.saturating_duration_since(*at) > self.window)
        {
            self.waits.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busy_fraction_follows_a_step_with_the_time_constant() {
        let t0 = Instant::now();
        let mut b = BusyTracker::new(2, Duration::from_secs(10), t0);
        b.change(t0, true);
        b.change(t0, true);
        // After one time constant at 100 % busy: 1 - 1/e.
        let f = b.fraction(t0 + Duration::from_secs(10));
        assert!((f - 0.632).abs() < 0.01, "{f}");
        b.change(t0 + Duration::from_secs(10), false);
        let later = b.fraction(t0 + Duration::from_secs(200));
        assert!((later - 0.5).abs() < 0.01, "one of two busy: {later}");
    }

    #[test]
    fn histogram_counts_into_the_first_fitting_bucket() {
        let mut h = Histogram::new(&[1.0, 2.0]);
        for v in [0.5, 1.0, 1.5, 7.0] {
            h.observe(v);
        }
        let (buckets, count, sum) = h.cumulative();
        assert_eq!(buckets, vec![(1.0, 2), (2.0, 3)]);
        assert_eq!(count, 4);
        assert!((sum - 10.0).abs() < 1e-9);
    }

    #[test]
    fn recent_waits_forget_old_entries() {
        let t0 = Instant::now();
        let mut w = RecentWaits::new(Duration::from_secs(10));
        w.record(t0, Duration::from_secs(3));
        w.record(t0 + Duration::from_secs(5), Duration::from_millis(200));
        assert_eq!(w.max(t0 + Duration::from_secs(6)), Duration::from_secs(3));
        assert_eq!(
            w.max(t0 + Duration::from_secs(11)),
            Duration::from_millis(200)
        );
        assert_eq!(w.max(t0 + Duration::from_secs(30)), Duration::ZERO);
        // Recording alone keeps the memory bounded.
        for i in 0..1000 {
            w.record(t0 + Duration::from_secs(40 + i), Duration::ZERO);
        }
        assert!(w.waits.len() <= 11);
    }
}
