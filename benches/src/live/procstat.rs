//! The server process's CPU time and memory from `/proc/PID/stat` and `/proc/PID/status`,
//! and the whole machine's busy time from `/proc/stat` (to see what other processes took).

use serde::Serialize;

/// Clock ticks per second of `/proc` CPU times (USER_HZ, 100 on Linux).
const TICKS_PER_S: f64 = 100.0;

/// One reading of a process.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct ProcSample {
    /// User + system CPU time so far, seconds.
    pub cpu_s: f64,
    /// Resident memory now, KiB.
    pub rss_kib: u64,
    /// Peak resident memory so far, KiB.
    pub hwm_kib: u64,
}

/// Reads process `pid`; `None` once it is gone.
pub fn sample(pid: u32) -> Option<ProcSample> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    Some(ProcSample {
        cpu_s: cpu_s(&stat)?,
        rss_kib: status_kib(&status, "VmRSS:").unwrap_or(0),
        hwm_kib: status_kib(&status, "VmHWM:").unwrap_or(0),
    })
}

/// utime + stime (fields 14 and 15) of a `/proc/PID/stat` line. The command name (field 2) may
/// hold spaces and parentheses, so fields are counted after its closing `)`.
fn cpu_s(stat: &str) -> Option<f64> {
    let after = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    // After the name: field 3 (state) is index 0, so field n is index n − 3.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) as f64 / TICKS_PER_S)
}

fn status_kib(status: &str, key: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
}

/// Busy CPU seconds of the whole machine since boot (the accuracy benchmark's reading).
pub fn machine_busy_s() -> Option<f64> {
    crate::measure::busy_now()
}

/// CPU seconds this benchmark process has used (its bots, viewers and sampling).
pub fn own_cpu_s() -> Option<f64> {
    use nix::sys::resource::{getrusage, UsageWho};
    use nix::sys::time::TimeValLike as _;
    let u = getrusage(UsageWho::RUSAGE_SELF).ok()?;
    Some((u.user_time().num_microseconds() + u.system_time().num_microseconds()) as f64 / 1e6)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_cpu_time_after_an_awkward_name() {
        let stat = "1234 (nexus (x) y) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 9 0 100 1000 200";
        assert_eq!(cpu_s(stat), Some(3.0));
        assert_eq!(cpu_s("garbage"), None);
    }

    #[test]
    fn reads_memory_lines() {
        let status = "Name:\tnexus-scribe\nVmHWM:\t  204800 kB\nVmRSS:\t  102400 kB\n";
        assert_eq!(status_kib(status, "VmRSS:"), Some(102_400));
        assert_eq!(status_kib(status, "VmHWM:"), Some(204_800));
        assert_eq!(status_kib(status, "VmSwap:"), None);
    }

    #[test]
    fn this_process_can_be_read() {
        let me = sample(std::process::id()).expect("own /proc entry");
        assert!(me.rss_kib > 0 && me.hwm_kib >= me.rss_kib);
        assert!(machine_busy_s().is_some_and(|b| b > 0.0));
        assert!(own_cpu_s().is_some());
    }
}
