//! Brute-force defences for sign-in: per-account lockout with an escalating schedule
//! ([`LoginAttempts`], stored by the caller with the account) and in-memory per-client and global
//! throttles on attempts ([`LoginThrottle`]).
//!
//! The two complement each other: the throttle slows one client (and everyone at once when a
//! botnet spreads out), the lockout protects one account however many clients guess at it.
//! A lockout also lets anyone lock a victim out for a while; the escalation is bounded
//! ([`LockoutPolicy::max`]) and a successful sign-in after the lock ends resets it.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, UNIX_EPOCH};

use scribe_core::ErrorCode;

use crate::clock::Clock;

/// When an account is locked and for how long.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LockoutPolicy {
    /// Consecutive failures that lock the account (0 is taken as 1).
    pub max_failures: u32,
    /// The first lockout's length; each further one doubles it.
    pub base: Duration,
    /// The longest lockout.
    pub max: Duration,
}

impl Default for LockoutPolicy {
    /// Five failures; 15 min, then 30, 60, 120 … up to 24 h.
    fn default() -> Self {
        Self {
            max_failures: 5,
            base: Duration::from_secs(15 * 60),
            max: Duration::from_secs(24 * 60 * 60),
        }
    }
}

impl LockoutPolicy {
    /// The length of the `nth` lockout (1-based): `base × 2^(nth − 1)`, at most `max`.
    pub fn lockout_duration(&self, nth: u32) -> Duration {
        let doublings = nth.saturating_sub(1);
        1u32.checked_shl(doublings)
            .and_then(|factor| self.base.checked_mul(factor))
            .map_or(self.max, |length| length.min(self.max))
    }
}

/// An account's sign-in failures, as the caller stores them with the account. Plain data: the
/// methods compute the next state, the caller writes it back.
///
/// Typical use: refuse without checking the password while [`LoginAttempts::locked_at`] is
/// `Some`; otherwise check it and store [`LoginAttempts::after_failure`] or
/// [`LoginAttempts::after_success`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LoginAttempts {
    /// Failures since the last success or lockout.
    pub failures: u32,
    /// Lockouts since the last success (drives the escalation).
    pub lockouts: u32,
    /// Milliseconds since the Unix epoch until which the account is locked, if it has been.
    pub locked_until_ms: Option<u64>,
}

impl LoginAttempts {
    /// How much longer the account stays locked at `now_ms` (milliseconds since the Unix
    /// epoch), or `None` if it is not locked.
    pub fn locked_at(&self, now_ms: u64) -> Option<Duration> {
        self.locked_until_ms
            .filter(|&until| until > now_ms)
            .map(|until| Duration::from_millis(until - now_ms))
    }

    /// The state after a failed attempt at `now_ms`. The `max_failures`-th consecutive failure
    /// locks the account for [`LockoutPolicy::lockout_duration`] of the next lockout and starts
    /// the failure count afresh. A failure while the account is locked changes nothing (the
    /// caller should not have checked the credential at all).
    pub fn after_failure(self, policy: &LockoutPolicy, now_ms: u64) -> LoginAttempts {
        if self.locked_at(now_ms).is_some() {
            return self;
        }
        let failures = self.failures.saturating_add(1);
        if failures < policy.max_failures.max(1) {
            return LoginAttempts {
                failures,
                lockouts: self.lockouts,
                locked_until_ms: None,
            };
        }
        let lockouts = self.lockouts.saturating_add(1);
        let length = duration_ms(policy.lockout_duration(lockouts));
        LoginAttempts {
            failures: 0,
            lockouts,
            locked_until_ms: Some(now_ms.saturating_add(length)),
        }
    }

    /// The state after a successful sign-in: everything reset.
    pub fn after_success(self) -> LoginAttempts {
        LoginAttempts::default()
    }
}

/// At most `attempts` within any `window`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimit {
    /// Attempts allowed per window (0 is taken as 1).
    pub attempts: u32,
    /// The window; zero turns the limit off.
    pub window: Duration,
}

/// The limits of a [`LoginThrottle`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ThrottleConfig {
    /// Per client: an IPv4 address or an IPv6 /64.
    pub per_ip: RateLimit,
    /// All clients together.
    pub global: RateLimit,
    /// Clients tracked at most; an untracked client beyond this is refused (as
    /// [`ThrottleScope::Global`]) until expired entries are pruned.
    pub max_tracked_keys: usize,
}

impl Default for ThrottleConfig {
    /// 10 attempts per client and 100 in all per minute; 100 000 clients tracked.
    fn default() -> Self {
        Self {
            per_ip: RateLimit {
                attempts: 10,
                window: Duration::from_secs(60),
            },
            global: RateLimit {
                attempts: 100,
                window: Duration::from_secs(60),
            },
            max_tracked_keys: 100_000,
        }
    }
}

/// Which limit refused an attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ThrottleScope {
    /// The client's own limit.
    Ip,
    /// The limit on all clients (or the table of clients is full).
    Global,
}

impl fmt::Display for ThrottleScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Ip => "per-client",
            Self::Global => "global",
        })
    }
}

/// An attempt refused by a [`LoginThrottle`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Throttled {
    /// When an attempt may succeed again (for `Retry-After`).
    pub retry_after: Duration,
    /// Which limit refused it.
    pub scope: ThrottleScope,
    /// The client's limit (attempts per window), for `X-RateLimit-Limit`.
    pub limit: u32,
}

/// An attempt a [`LoginThrottle`] let through, as the client's own limit now stands (for the
/// `X-RateLimit-*` headers).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Allowance {
    /// Attempts per window.
    pub limit: u32,
    /// Attempts left in the window, this one counted.
    pub remaining: u32,
    /// When the oldest attempt in the window leaves it (one more becomes available).
    pub reset: Duration,
}

impl Throttled {
    /// `retry_after` in whole seconds, rounded up (at least 1), for a `Retry-After` header.
    pub fn retry_after_secs(&self) -> u64 {
        let secs = self.retry_after.as_secs();
        let rounded = if self.retry_after.subsec_nanos() > 0 {
            secs.saturating_add(1)
        } else {
            secs
        };
        rounded.max(1)
    }

    /// The client-visible code: `rate_limited`.
    pub fn code(&self) -> ErrorCode {
        ErrorCode::RateLimited
    }
}

impl fmt::Display for Throttled {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "too many attempts ({} limit); retry in {} s",
            self.scope,
            self.retry_after_secs()
        )
    }
}

impl std::error::Error for Throttled {}

/// In-memory throttle on attempts (sign-ins, API requests, socket openings), per client and overall;
/// share it behind `Arc`.
///
/// Each limit is a sliding-window log: the times of the attempts allowed within the last window
/// (at most `attempts` of them), so no window of that length ever holds more than `attempts`
/// allowed attempts, and a refused client learns exactly when the oldest leaves the window. A
/// refused attempt is not recorded, and an attempt is recorded in both logs only when both
/// allow it, so a refusal by one limit spends nothing of the other.
///
/// Clients are keyed by IPv4 address (IPv4-mapped IPv6 included) or by IPv6 /64, the
/// allocation a single subscriber gets, so rotating addresses within it gains nothing. Memory is
/// bounded: every per-client window the logs are pruned and empty ones dropped, and no more than
/// [`ThrottleConfig::max_tracked_keys`] clients are tracked.
///
/// Per-process: several servers each enforce their own limits.
pub struct LoginThrottle {
    config: ThrottleConfig,
    clock: Arc<dyn Clock>,
    state: Mutex<ThrottleState>,
}

#[derive(Default)]
struct ThrottleState {
    per_ip: HashMap<IpAddr, VecDeque<u64>>,
    global: VecDeque<u64>,
    next_sweep_ms: u64,
}

impl LoginThrottle {
    /// A throttle with `config`, reading time from `clock`.
    pub fn new(config: ThrottleConfig, clock: Arc<dyn Clock>) -> Self {
        Self {
            config,
            clock,
            state: Mutex::new(ThrottleState::default()),
        }
    }

    /// Records a sign-in attempt from `ip` if both limits allow it, or says which refuses it and
    /// for how long. Call before checking any credential.
    pub fn check(&self, ip: IpAddr) -> Result<Allowance, Throttled> {
        let now = unix_ms(&*self.clock);
        let ip_limit = Limit::from(self.config.per_ip);
        let global_limit = Limit::from(self.config.global);
        let key = client_key(ip);
        let mut guard = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let state = &mut *guard;

        // Sweep once per client window (or at once if the clock went back a long way).
        let sweep_every = ip_limit.window_ms.max(1);
        if now >= state.next_sweep_ms || state.next_sweep_ms - now > sweep_every {
            state.per_ip.retain(|_, log| {
                ip_limit.prune(log, now);
                !log.is_empty()
            });
            state.next_sweep_ms = now.saturating_add(sweep_every);
        }

        global_limit.prune(&mut state.global, now);
        let limit = u32::try_from(ip_limit.attempts).unwrap_or(u32::MAX);
        let global_wait = global_limit
            .wait(&state.global, now)
            .map(|retry_after| Throttled {
                retry_after,
                scope: ThrottleScope::Global,
                limit,
            });
        let table_full = state.per_ip.len() >= self.config.max_tracked_keys;
        let ip_wait = match state.per_ip.get_mut(&key) {
            Some(log) => {
                ip_limit.prune(log, now);
                ip_limit.wait(log, now).map(|retry_after| Throttled {
                    retry_after,
                    scope: ThrottleScope::Ip,
                    limit,
                })
            }
            None if table_full => Some(Throttled {
                retry_after: Duration::from_millis(state.next_sweep_ms.saturating_sub(now)),
                scope: ThrottleScope::Global,
                limit,
            }),
            None => None,
        };

        // Report the longer wait: retrying sooner would only be refused by the other limit.
        match (ip_wait, global_wait) {
            (Some(ip), Some(global)) if global.retry_after > ip.retry_after => Err(global),
            (Some(refusal), _) | (None, Some(refusal)) => Err(refusal),
            (None, None) => {
                state.global.push_back(now);
                let log = state.per_ip.entry(key).or_default();
                log.push_back(now);
                let used = u32::try_from(log.len()).unwrap_or(u32::MAX);
                let oldest = log.front().copied().unwrap_or(now);
                Ok(Allowance {
                    limit,
                    remaining: limit.saturating_sub(used),
                    reset: Duration::from_millis(
                        oldest
                            .saturating_add(ip_limit.window_ms)
                            .saturating_sub(now),
                    ),
                })
            }
        }
    }

    /// Clients currently tracked (for metrics).
    pub fn tracked_keys(&self) -> usize {
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .per_ip
            .len()
    }
}

impl fmt::Debug for LoginThrottle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoginThrottle")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// A [`RateLimit`] in milliseconds.
#[derive(Clone, Copy)]
struct Limit {
    attempts: usize,
    window_ms: u64,
}

impl From<RateLimit> for Limit {
    fn from(limit: RateLimit) -> Self {
        Self {
            attempts: usize::try_from(limit.attempts.max(1)).unwrap_or(usize::MAX),
            window_ms: duration_ms(limit.window),
        }
    }
}

impl Limit {
    /// Drops attempts that have left the window ending at `now`.
    fn prune(&self, log: &mut VecDeque<u64>, now: u64) {
        while log
            .front()
            .is_some_and(|&at| at.saturating_add(self.window_ms) <= now)
        {
            log.pop_front();
        }
    }

    /// How long until another attempt fits in a pruned `log`, or `None` if one fits now.
    fn wait(&self, log: &VecDeque<u64>, now: u64) -> Option<Duration> {
        if log.len() < self.attempts {
            return None;
        }
        // The attempt that must leave the window before another fits.
        let blocking = log.get(log.len() - self.attempts)?;
        let free_at = blocking.saturating_add(self.window_ms);
        // A clock that went back must not stretch the wait beyond one window.
        let wait_ms = free_at.saturating_sub(now).clamp(1, self.window_ms.max(1));
        Some(Duration::from_millis(wait_ms))
    }
}

/// The throttling key of a client: IPv4 addresses as they are (IPv4-mapped IPv6 as IPv4), IPv6
/// addresses cut to their /64.
fn client_key(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => IpAddr::V6(Ipv6Addr::from_bits(v6.to_bits() & (u128::MAX << 64))),
    }
}

fn duration_ms(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

fn unix_ms(clock: &dyn Clock) -> u64 {
    clock
        .now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, duration_ms)
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, Ipv6Addr};

    use super::*;
    use crate::clock::ManualClock;

    const MINUTE: Duration = Duration::from_secs(60);

    fn fail_until_locked(
        mut attempts: LoginAttempts,
        policy: &LockoutPolicy,
        now_ms: u64,
    ) -> LoginAttempts {
        for _ in 1..policy.max_failures {
            attempts = attempts.after_failure(policy, now_ms);
            assert_eq!(attempts.locked_at(now_ms), None, "locked too early");
        }
        attempts.after_failure(policy, now_ms)
    }

    #[test]
    fn the_lockout_schedule_doubles_up_to_a_day() {
        let policy = LockoutPolicy::default();
        let clock = ManualClock::at_unix_seconds(1_750_000_000);
        let mut attempts = LoginAttempts::default();
        let expected_minutes = [15, 30, 60, 120, 240, 480, 960, 1440, 1440, 1440];
        for (nth, minutes) in (1u32..).zip(expected_minutes) {
            let now = unix_ms(&clock);
            attempts = fail_until_locked(attempts, &policy, now);
            assert_eq!(attempts.lockouts, nth);
            assert_eq!(attempts.failures, 0);
            assert_eq!(
                attempts.locked_at(now),
                Some(minutes * MINUTE),
                "lockout {nth}"
            );
            assert_eq!(policy.lockout_duration(nth), minutes * MINUTE);
            clock.advance(minutes * MINUTE);
            assert_eq!(attempts.locked_at(unix_ms(&clock)), None);
        }
        assert_eq!(policy.lockout_duration(0), policy.base);
        assert_eq!(policy.lockout_duration(40), policy.max);
        assert_eq!(policy.lockout_duration(u32::MAX), policy.max);
    }

    #[test]
    fn an_account_stays_locked_for_the_whole_window() {
        let policy = LockoutPolicy::default();
        let clock = ManualClock::at_unix_seconds(1_750_000_000);
        let locked = fail_until_locked(LoginAttempts::default(), &policy, unix_ms(&clock));
        clock.advance(14 * MINUTE);
        assert_eq!(locked.locked_at(unix_ms(&clock)), Some(MINUTE));
        // Failures while locked are not counted and do not extend the lock.
        let now = unix_ms(&clock);
        assert_eq!(locked.after_failure(&policy, now), locked);
        clock.advance(MINUTE - Duration::from_millis(1));
        assert_eq!(
            locked.locked_at(unix_ms(&clock)),
            Some(Duration::from_millis(1))
        );
        clock.advance(Duration::from_millis(1));
        assert_eq!(locked.locked_at(unix_ms(&clock)), None);
        // After the lock, counting starts afresh from zero failures.
        let after = locked.after_failure(&policy, unix_ms(&clock));
        assert_eq!(after.failures, 1);
        assert_eq!(after.lockouts, 1);
        assert_eq!(after.locked_at(unix_ms(&clock)), None);
    }

    #[test]
    fn success_resets_everything() {
        let policy = LockoutPolicy::default();
        let now = 1_750_000_000_000;
        let mut attempts = fail_until_locked(LoginAttempts::default(), &policy, now);
        let later = now + duration_ms(policy.base);
        attempts = attempts.after_failure(&policy, later);
        attempts = attempts.after_failure(&policy, later);
        assert_eq!(attempts.after_success(), LoginAttempts::default());
        // After a reset the next lockout is the first one again.
        let relocked = fail_until_locked(LoginAttempts::default(), &policy, later);
        assert_eq!(relocked.locked_at(later), Some(policy.base));
    }

    #[test]
    fn a_zero_failure_policy_locks_on_the_first_failure() {
        let policy = LockoutPolicy {
            max_failures: 0,
            ..LockoutPolicy::default()
        };
        let attempts = LoginAttempts::default().after_failure(&policy, 1_000);
        assert_eq!(attempts.locked_at(1_000), Some(policy.base));
    }

    fn throttle(config: ThrottleConfig) -> (Arc<ManualClock>, LoginThrottle) {
        let clock = Arc::new(ManualClock::at_unix_seconds(1_750_000_000));
        let throttle = LoginThrottle::new(config, clock.clone());
        (clock, throttle)
    }

    fn v4(last: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(203, 0, 113, last))
    }

    fn refusal(result: Result<Allowance, Throttled>) -> Throttled {
        result.expect_err("expected a refusal")
    }

    #[test]
    fn allowances_count_down_and_say_when_the_window_frees_up() {
        let (clock, throttle) = throttle(ThrottleConfig::default());
        let first = throttle.check(v4(9)).expect("first");
        assert_eq!((first.limit, first.remaining), (10, 9));
        assert_eq!(first.reset, Duration::from_secs(60));
        clock.advance(Duration::from_secs(20));
        let second = throttle.check(v4(9)).expect("second");
        assert_eq!(second.remaining, 8);
        assert_eq!(
            second.reset,
            Duration::from_secs(40),
            "when the first leaves the window"
        );
        for left in (0..8).rev() {
            assert_eq!(throttle.check(v4(9)).expect("within").remaining, left);
        }
        assert_eq!(refusal(throttle.check(v4(9))).limit, 10);
    }

    #[test]
    fn one_client_gets_its_attempts_per_window_and_no_more() {
        let (clock, throttle) = throttle(ThrottleConfig::default());
        for _ in 0..10 {
            throttle.check(v4(1)).expect("within the limit");
            clock.advance(Duration::from_secs(1));
        }
        // Ten attempts in the last ten seconds: the first leaves the window 50 s from now.
        let refused = refusal(throttle.check(v4(1)));
        assert_eq!(refused.scope, ThrottleScope::Ip);
        assert_eq!(refused.retry_after, Duration::from_secs(50));
        assert_eq!(refused.retry_after_secs(), 50);
        assert_eq!(refused.code(), ErrorCode::RateLimited);
        // Another client is unaffected.
        throttle.check(v4(2)).expect("another client");
        // Just before the window moves on, still refused; then one more attempt fits.
        clock.advance(Duration::from_secs(50) - Duration::from_millis(1));
        let refused = refusal(throttle.check(v4(1)));
        assert_eq!(refused.retry_after, Duration::from_millis(1));
        clock.advance(Duration::from_millis(1));
        throttle.check(v4(1)).expect("the window moved on");
        assert_eq!(refusal(throttle.check(v4(1))).scope, ThrottleScope::Ip);
        // A whole window later everything is available again.
        clock.advance(MINUTE);
        for _ in 0..10 {
            throttle.check(v4(1)).expect("a fresh window");
        }
    }

    #[test]
    fn the_global_limit_refuses_attempts_from_many_clients() {
        let (clock, throttle) = throttle(ThrottleConfig::default());
        for last in 0..100 {
            throttle.check(v4(last)).expect("within the global limit");
        }
        let refused = refusal(throttle.check(v4(200)));
        assert_eq!(refused.scope, ThrottleScope::Global);
        assert_eq!(refused.retry_after, MINUTE);
        clock.advance(MINUTE);
        throttle.check(v4(200)).expect("the global window moved on");
    }

    #[test]
    fn a_per_client_refusal_spends_nothing_of_the_global_budget() {
        let config = ThrottleConfig {
            per_ip: RateLimit {
                attempts: 10,
                window: MINUTE,
            },
            global: RateLimit {
                attempts: 12,
                window: MINUTE,
            },
            ..ThrottleConfig::default()
        };
        let (_clock, throttle) = throttle(config);
        for _ in 0..10 {
            throttle.check(v4(1)).expect("within the limit");
        }
        for _ in 0..5 {
            assert_eq!(refusal(throttle.check(v4(1))).scope, ThrottleScope::Ip);
        }
        throttle.check(v4(2)).expect("11th globally");
        throttle.check(v4(2)).expect("12th globally");
        assert_eq!(refusal(throttle.check(v4(2))).scope, ThrottleScope::Global);
    }

    #[test]
    fn a_global_refusal_spends_nothing_of_the_client_budget() {
        let config = ThrottleConfig {
            per_ip: RateLimit {
                attempts: 2,
                window: 10 * MINUTE,
            },
            global: RateLimit {
                attempts: 3,
                window: MINUTE,
            },
            ..ThrottleConfig::default()
        };
        let (clock, throttle) = throttle(config);
        for last in 1..=3 {
            throttle.check(v4(last)).expect("within the limits");
        }
        for _ in 0..5 {
            assert_eq!(refusal(throttle.check(v4(3))).scope, ThrottleScope::Global);
        }
        clock.advance(MINUTE);
        throttle.check(v4(3)).expect("the client's second attempt");
        let refused = refusal(throttle.check(v4(3)));
        assert_eq!(refused.scope, ThrottleScope::Ip);
        assert_eq!(refused.retry_after, 9 * MINUTE);
    }

    #[test]
    fn when_both_limits_refuse_the_longer_wait_is_reported() {
        let config = ThrottleConfig {
            per_ip: RateLimit {
                attempts: 1,
                window: MINUTE,
            },
            global: RateLimit {
                attempts: 1,
                window: 10 * MINUTE,
            },
            ..ThrottleConfig::default()
        };
        let (_clock, throttle) = throttle(config);
        throttle.check(v4(1)).expect("first");
        let refused = refusal(throttle.check(v4(1)));
        assert_eq!(refused.scope, ThrottleScope::Global);
        assert_eq!(refused.retry_after, 10 * MINUTE);
    }

    #[test]
    fn ipv6_clients_are_keyed_by_their_slash_64() {
        let (_clock, throttle) = throttle(ThrottleConfig::default());
        let a: IpAddr = "2001:db8:1:2::1".parse().expect("ip");
        let b: IpAddr = "2001:db8:1:2:ffff:eeee:dddd:cccc".parse().expect("ip");
        let other: IpAddr = "2001:db8:1:3::1".parse().expect("ip");
        for _ in 0..5 {
            throttle.check(a).expect("a");
            throttle.check(b).expect("b");
        }
        assert_eq!(refusal(throttle.check(a)).scope, ThrottleScope::Ip);
        assert_eq!(refusal(throttle.check(b)).scope, ThrottleScope::Ip);
        throttle.check(other).expect("another /64");
        assert_eq!(throttle.tracked_keys(), 2);
    }

    #[test]
    fn ipv4_mapped_ipv6_counts_as_ipv4() {
        let (_clock, throttle) = throttle(ThrottleConfig::default());
        let mapped = IpAddr::V6(Ipv4Addr::new(203, 0, 113, 7).to_ipv6_mapped());
        for _ in 0..5 {
            throttle.check(v4(7)).expect("v4");
            throttle.check(mapped).expect("mapped");
        }
        assert_eq!(refusal(throttle.check(v4(7))).scope, ThrottleScope::Ip);
        assert_eq!(
            client_key(IpAddr::V6(Ipv6Addr::LOCALHOST)),
            IpAddr::V6(Ipv6Addr::UNSPECIFIED)
        );
    }

    #[test]
    fn tracked_clients_are_bounded_and_pruned() {
        let config = ThrottleConfig {
            max_tracked_keys: 3,
            ..ThrottleConfig::default()
        };
        let (clock, throttle) = throttle(config);
        for last in 1..=3 {
            throttle.check(v4(last)).expect("room for the client");
        }
        clock.advance(Duration::from_secs(10));
        let refused = refusal(throttle.check(v4(4)));
        assert_eq!(refused.scope, ThrottleScope::Global);
        assert_eq!(refused.retry_after, Duration::from_secs(50));
        throttle.check(v4(1)).expect("tracked clients carry on");
        assert_eq!(throttle.tracked_keys(), 3);
        // At the next sweep the expired clients go, and new ones fit again.
        clock.advance(Duration::from_secs(50));
        throttle.check(v4(4)).expect("room after the sweep");
        assert_eq!(
            throttle.tracked_keys(),
            2,
            "1 (attempt at 10 s) and 4 remain"
        );
        clock.advance(2 * MINUTE);
        throttle.check(v4(5)).expect("fresh");
        assert_eq!(throttle.tracked_keys(), 1);
    }

    #[test]
    fn the_throttle_is_shareable() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<LoginThrottle>();
        let (_clock, throttle) = throttle(ThrottleConfig::default());
        assert!(format!("{throttle:?}").contains("LoginThrottle"));
    }

    #[test]
    fn throttled_messages_name_no_client() {
        let refused = Throttled {
            retry_after: Duration::from_millis(1_500),
            scope: ThrottleScope::Ip,
            limit: 5,
        };
        assert_eq!(refused.retry_after_secs(), 2);
        assert_eq!(
            refused.to_string(),
            "too many attempts (per-client limit); retry in 2 s"
        );
    }
}
