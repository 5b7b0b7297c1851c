//! `scribe-bench measure -- CMD ARGS...`: runs one command as this process's only child and
//! reports its wall time, CPU time and peak resident memory.
//!
//! Peak memory comes from `getrusage(RUSAGE_CHILDREN)`, which is the largest peak among *all*
//! children a process has waited for; it is the one command's own only because the `measure`
//! process never has another child. So the accuracy benchmark starts each measured command through
//! a fresh `measure` process rather than reading its own (cumulative) children's usage. (The
//! exec'd command inherits the `measure` process's own few-MiB peak as a floor; that is far below
//! any speech engine.) Reading `/proc/PID/status` `VmHWM` instead cannot see the last moments of
//! a process: the memory map is gone once it has exited.

use std::ffi::OsString;
use std::os::unix::process::ExitStatusExt as _;
use std::path::Path;
use std::process::{Command, ExitCode};
use std::time::Instant;

use anyhow::Context as _;
use nix::sys::resource::{getrusage, UsageWho};
use nix::sys::time::TimeValLike as _;
use serde::{Deserialize, Serialize};

/// What `measure` found out about one command.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
pub struct Report {
    /// From just before the command was started until it had exited.
    pub wall_s: f64,
    pub user_s: f64,
    pub sys_s: f64,
    /// Peak resident set size, KiB (Linux `ru_maxrss`).
    pub max_rss_kib: u64,
    /// `None` when the command was killed by a signal.
    pub exit_code: Option<i32>,
    pub signal: Option<i32>,
    /// CPU time the whole machine was busy (or stolen by the hypervisor) while the command ran,
    /// from `/proc/stat`; minus `user_s + sys_s`, it is what other processes took.
    pub machine_busy_s: Option<f64>,
}

impl Report {
    /// Cores' worth of CPU that other processes used on average while the command ran.
    pub fn others_cores(&self) -> Option<f64> {
        let busy = self.machine_busy_s?;
        (self.wall_s > 0.0).then(|| ((busy - self.user_s - self.sys_s) / self.wall_s).max(0.0))
    }
}

/// Busy CPU seconds of all cores since boot: the first line of `/proc/stat` less idle and iowait,
/// in USER_HZ (1/100 s on Linux). Guest time is already inside user time and is not added again.
fn machine_busy_s(proc_stat: &str) -> Option<f64> {
    let line = proc_stat.lines().next()?.strip_prefix("cpu ")?;
    let ticks: Vec<u64> = line
        .split_whitespace()
        .map(str::parse)
        .collect::<Result<_, _>>()
        .ok()?;
    let (idle, iowait) = (*ticks.get(3)?, *ticks.get(4)?);
    let total: u64 = ticks.iter().take(8).sum();
    Some((total - idle - iowait) as f64 / 100.0)
}

pub(crate) fn busy_now() -> Option<f64> {
    machine_busy_s(&std::fs::read_to_string("/proc/stat").ok()?)
}

/// Runs `command` with this process's standard streams and environment, writes the [`Report`] as
/// JSON to `report` (standard error when `None`) and exits as the command did.
pub fn run(report: Option<&Path>, command: &[OsString]) -> anyhow::Result<ExitCode> {
    let (program, args) = command.split_first().context("no command to measure")?;
    let busy_before = busy_now();
    let start = Instant::now();
    let status = Command::new(program)
        .args(args)
        .status()
        .with_context(|| format!("starting {}", program.to_string_lossy()))?;
    let wall = start.elapsed();
    let busy_after = busy_now();
    let usage =
        getrusage(UsageWho::RUSAGE_CHILDREN).context("reading the child's resource usage")?;
    let seconds = |t: nix::sys::time::TimeVal| t.num_microseconds() as f64 / 1e6;
    let measured = Report {
        wall_s: wall.as_secs_f64(),
        user_s: seconds(usage.user_time()),
        sys_s: seconds(usage.system_time()),
        max_rss_kib: u64::try_from(usage.max_rss()).unwrap_or(0),
        exit_code: status.code(),
        signal: status.signal(),
        machine_busy_s: busy_before.zip(busy_after).map(|(b, a)| a - b),
    };
    let json = serde_json::to_string(&measured).context("encoding the report")?;
    match report {
        Some(path) => {
            std::fs::write(path, json).with_context(|| format!("writing {}", path.display()))?
        }
        None => eprintln!("{json}"),
    }
    Ok(match status.code() {
        Some(0) => ExitCode::SUCCESS,
        Some(code) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
        None => ExitCode::FAILURE,
    })
}

/// A measured command's report and captured output.
pub struct Measured {
    pub report: Report,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `command` in `cwd` with extra `env` through a fresh `scribe-bench measure` process,
/// capturing its standard output and error.
pub fn measured(
    command: &[OsString],
    cwd: &Path,
    env: &[(&str, &str)],
) -> anyhow::Result<Measured> {
    let me = std::env::current_exe().context("finding the scribe-bench executable")?;
    let report_file = tempfile::NamedTempFile::new().context("creating a temporary report file")?;
    let output = Command::new(&me)
        .arg("measure")
        .arg("--report")
        .arg(report_file.path())
        .arg("--")
        .args(command)
        .current_dir(cwd)
        .envs(env.iter().copied())
        .output()
        .with_context(|| format!("starting {} measure", me.display()))?;
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let text = std::fs::read_to_string(report_file.path()).context("reading the measure report")?;
    let report: Report = serde_json::from_str(&text).with_context(|| {
        format!("the measure process wrote no report (did the command start?); its error output:\n{stderr}")
    })?;
    Ok(Measured {
        report,
        stdout: String::from_utf8(output.stdout)
            .context("the command's standard output is not UTF-8")?,
        stderr,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busy_time_leaves_out_idle_iowait_and_guest() {
        // user nice system idle iowait irq softirq steal guest guest_nice
        let stat = "cpu  700 100 200 5000 300 10 20 30 400 0\ncpu0 1 2 3 4 5 6 7 8 9 0\n";
        let busy = machine_busy_s(stat).expect("parses");
        assert!((busy - 10.6).abs() < 1e-9, "{busy}");
        assert_eq!(machine_busy_s("intr 1 2 3\n"), None);
    }

    #[test]
    fn others_share_is_what_the_command_did_not_use() {
        let r = Report {
            wall_s: 10.0,
            user_s: 15.0,
            sys_s: 1.0,
            max_rss_kib: 1,
            exit_code: Some(0),
            signal: None,
            machine_busy_s: Some(21.0),
        };
        assert!((r.others_cores().expect("known") - 0.5).abs() < 1e-9);
    }
}
