//! libtorch's CPU thread count when `--threads` is not given: every core this process may use,
//! fewer while other processes keep some of them busy, looked at again between units of work
//! (training epochs, evaluation batches).
//!
//! Why: libtorch's OpenMP threads spin while they wait for each other. With two threads on two
//! cores and one other busy process, each parallel region waits for the thread that lost its
//! core, and the run slows far beyond its share: an epoch of the default `train` took 0.41–0.49 s
//! on the idle machine, 1.4–1.8 s with one `yes` running beside it on two threads, and 0.68–0.71
//! s on one thread (docs/BENCHMARKS.md, "Sharing the machine").
//!
//! The rule: `threads = clamp(floor(cores − others + 0.5), 1, cores)` (the cores left, rounded), where `cores` is what the
//! process may use ([`std::thread::available_parallelism`]) and `others` the cores that other
//! processes kept busy since the last look: the busy time of all CPUs in `/proc/stat` minus this
//! process's own in `/proc/self/stat`, as a share of all CPU time, times the number of CPUs. At
//! the start, before there is an interval to measure, `others` is the one-minute load average,
//! but no more than the processes running at that instant besides this one (`/proc/loadavg`). Linux only: where those files cannot be read, or where `/proc/stat` counts
//! more CPUs than the process may use (a container on a larger host, whose other CPUs' load is
//! not ours to share), libtorch's own choice stands. A count given with `--threads` is never
//! changed, so `--threads 1` keeps a run bit-for-bit repeatable.
use std::fs;

/// CPU time counters, in clock ticks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sample {
    /// Busy time of all CPUs (`/proc/stat`: user, nice, system, irq, softirq, steal).
    pub busy: u64,
    /// All time of all CPUs (busy, idle and iowait).
    pub total: u64,
    /// This process's user and system time (`/proc/self/stat`).
    pub own: u64,
}

/// The thread count for `others` busy cores out of `cores`.
pub fn pick(cores: usize, others: f64) -> i32 {
    let cores = cores.max(1) as f64;
    (cores - others.max(0.0) + 0.5).floor().clamp(1.0, cores) as i32
}

/// The first line of `/proc/stat` (`cpu  user nice system idle iowait irq softirq steal …`) as
/// (busy, total) ticks; guest time is already inside user time and is not added again.
pub fn parse_proc_stat(line: &str) -> Option<(u64, u64)> {
    let mut fields = line.split_whitespace();
    if fields.next()? != "cpu" {
        return None;
    }
    let v: Vec<u64> = fields
        .take(8)
        .map(|f| f.parse().ok())
        .collect::<Option<_>>()?;
    if v.len() < 4 {
        return None;
    }
    let at = |i: usize| v.get(i).copied().unwrap_or(0);
    let busy = at(0) + at(1) + at(2) + at(5) + at(6) + at(7);
    Some((busy, busy + at(3) + at(4)))
}

/// utime + stime of a `/proc/PID/stat` line (fields 14 and 15; the command name, in parentheses,
/// may hold spaces, so fields are counted after its closing parenthesis).
pub fn parse_self_stat(line: &str) -> Option<u64> {
    let rest = &line[line.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After ")": state is field 3, so utime (14) and stime (15) are at 11 and 12.
    Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
}

/// Other processes' busy cores from a `/proc/loadavg` line (`1.02 0.98 0.91 2/87 4242`): the
/// one-minute load average, but no more than the processes running at this instant besides this
/// one (so that a job that has just ended does not count for a minute after).
pub fn parse_loadavg(line: &str) -> Option<f64> {
    let fields: Vec<&str> = line.split_whitespace().collect();
    let minute: f64 = fields.first()?.parse().ok()?;
    let running: f64 = fields.get(3)?.split('/').next()?.parse().ok()?;
    Some(minute.min(running - 1.0).max(0.0))
}

/// Reads the counters now, with the number of CPUs `/proc/stat` counts.
pub fn sample() -> Option<(Sample, usize)> {
    let stat = fs::read_to_string("/proc/stat").ok()?;
    let (busy, total) = parse_proc_stat(stat.lines().next()?)?;
    let cpus = stat
        .lines()
        .filter(|l| l.starts_with("cpu") && l.as_bytes().get(3).is_some_and(u8::is_ascii_digit))
        .count();
    let own = parse_self_stat(&fs::read_to_string("/proc/self/stat").ok()?)?;
    Some((Sample { busy, total, own }, cpus))
}

/// The cores other processes kept busy between two samples, on a machine of `cpus` CPUs; `None`
/// when too little time passed to tell (under 5 ticks a CPU).
pub fn others_between(before: Sample, after: Sample, cpus: usize) -> Option<f64> {
    let total = after.total.checked_sub(before.total)?;
    if total < 5 * cpus as u64 {
        return None;
    }
    let busy = after.busy.saturating_sub(before.busy) as f64;
    let own = after.own.saturating_sub(before.own) as f64;
    Some(((busy - own) / total as f64 * cpus as f64).max(0.0))
}

/// The thread count of a run, fixed by `--threads` or chosen as the module says.
pub struct Threads {
    /// Cores this process may use.
    cores: usize,
    /// The count now in force (`None`: libtorch's own, when nothing can be measured).
    current: Option<i32>,
    /// Whether to adapt: `--threads` not given and the load can be read.
    auto: bool,
    last: Option<Sample>,
}

impl Threads {
    /// `--threads N` sets N for good; without it, the count for the load now (the one-minute
    /// load average). Sets libtorch's count either way.
    pub fn new(fixed: Option<i32>) -> anyhow::Result<Self> {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        if let Some(n) = fixed {
            anyhow::ensure!(n >= 1, "--threads must be at least 1");
            tch::set_num_threads(n);
            return Ok(Threads {
                cores,
                current: Some(n),
                auto: false,
                last: None,
            });
        }
        let measured = sample().filter(|&(_, cpus)| cpus == cores);
        let mut threads = Threads {
            cores,
            current: None,
            auto: measured.is_some(),
            last: None,
        };
        if let Some((now, _)) = measured {
            threads.last = Some(now);
            let load = fs::read_to_string("/proc/loadavg").unwrap_or_default();
            threads.set(pick(cores, parse_loadavg(&load).unwrap_or(0.0)));
        }
        Ok(threads)
    }

    /// The count in force, when this run chose or was given one.
    pub fn current(&self) -> Option<i32> {
        self.current
    }

    /// Looks at the load since the last call; returns the new count and the other processes'
    /// busy cores when the count changed.
    pub fn adapt(&mut self) -> Option<(i32, f64)> {
        if !self.auto {
            return None;
        }
        let (now, cpus) = sample()?;
        let others = others_between(self.last?, now, cpus)?;
        self.last = Some(now);
        let n = pick(self.cores, others);
        (Some(n) != self.current).then(|| {
            self.set(n);
            (n, others)
        })
    }

    fn set(&mut self, n: i32) {
        tch::set_num_threads(n);
        self.current = Some(n);
    }
}
