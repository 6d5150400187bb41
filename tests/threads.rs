//! The thread count chosen by the load (`rnn_rbm::threads`): the rule, the parsing of Linux's
//! counters against lines written by hand, a real busy process seen as another's load and this
//! process's own work not, and `train` recording the count it used.
use rnn_rbm::threads::{
    others_between, parse_loadavg, parse_proc_stat, parse_self_stat, pick, sample, Sample,
};
use std::process::Command;
use std::time::{Duration, Instant};

#[test]
fn the_count_is_the_cores_left_by_other_processes_rounded_and_at_least_one() {
    assert_eq!(pick(2, 0.0), 2);
    assert_eq!(pick(2, 0.3), 2); // noise: 2 − 0.3 + 0.5 = 2.2
    assert_eq!(pick(2, 0.6), 1); // 1.9
    assert_eq!(pick(2, 1.0), 1);
    assert_eq!(pick(2, 5.0), 1);
    assert_eq!(pick(2, -1.0), 2);
    assert_eq!(pick(16, 4.0), 12); // 12.5
    assert_eq!(pick(16, 3.9), 12); // 12.6
    assert_eq!(pick(16, 3.4), 13); // 13.1
    assert_eq!(pick(16, 0.0), 16);
    assert_eq!(pick(1, 0.0), 1);
    assert_eq!(pick(0, 0.0), 1);
}

#[test]
fn proc_stat_counts_user_nice_system_irq_softirq_and_steal_as_busy() {
    let line = "cpu  2266543 18775 397057 11661563 3261 0 782 8130 0 0";
    let busy = 2266543 + 18775 + 397057 + 782 + 8130;
    assert_eq!(parse_proc_stat(line), Some((busy, busy + 11661563 + 3261)));
    // Old kernels have only four fields.
    assert_eq!(parse_proc_stat("cpu 1 2 3 4"), Some((6, 10)));
    assert_eq!(parse_proc_stat("cpu0 1 2 3 4 5 6 7 8"), None);
    assert_eq!(parse_proc_stat("cpu 1 2 x 4"), None);
}

#[test]
fn own_time_is_found_after_a_command_name_with_spaces_and_parentheses() {
    let line = "42 (a) b) c) S 1 1 1 0 -1 4194560 100 0 0 0 250 30 0 0 20 0 1 0 5 6 7";
    assert_eq!(parse_self_stat(line), Some(280));
    assert_eq!(parse_self_stat("42 (x) S 1 2"), None);
}

#[test]
fn the_load_at_the_start_is_the_minute_average_capped_by_what_runs_now() {
    assert_eq!(parse_loadavg("1.50 0.90 0.80 2/87 4242"), Some(1.0));
    assert_eq!(parse_loadavg("0.30 0.90 0.80 5/87 4242"), Some(0.3));
    assert_eq!(parse_loadavg("3.00 2.00 1.00 1/80 4242"), Some(0.0));
    assert_eq!(parse_loadavg("garbage"), None);
}

#[test]
fn other_processes_busy_time_is_a_share_of_all_cpus() {
    let before = Sample {
        busy: 100,
        total: 1000,
        own: 10,
    };
    let after = Sample {
        busy: 300,
        total: 1400,
        own: 110,
    };
    // 200 busy ticks, 100 of them ours, out of 400 on 2 CPUs: half a core.
    assert_eq!(others_between(before, after, 2), Some(0.5));
    // Our own work alone is nobody else's.
    let mine = Sample {
        busy: 300,
        total: 1400,
        own: 210,
    };
    assert_eq!(others_between(before, mine, 2), Some(0.0));
    // Too short an interval to tell.
    let soon = Sample {
        busy: 104,
        total: 1009,
        own: 10,
    };
    assert_eq!(others_between(before, soon, 2), None);
}

/// Busy-waits on this thread for `d`.
fn spin(d: Duration) {
    let t0 = Instant::now();
    let mut x = 0u64;
    while t0.elapsed() < d {
        x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
    }
}

#[test]
fn a_busy_process_beside_us_counts_as_another_s_load_and_our_own_work_does_not() {
    let Some((before, cpus)) = sample() else {
        eprintln!("no /proc/stat here: nothing to measure");
        return;
    };
    let mut child = Command::new("sh")
        .args(["-c", "while :; do :; done"])
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(800));
    let (during, _) = sample().unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    let others = others_between(before, during, cpus).unwrap();
    assert!(
        others >= 0.6,
        "a shell spinning for 0.8 s was seen as {others:.2} cores"
    );

    // This thread's own CPU time (the same fields of /proc/thread-self/stat), to know what the
    // spin really got.
    let thread_ticks = || {
        std::fs::read_to_string("/proc/thread-self/stat")
            .ok()
            .and_then(|l| parse_self_stat(&l))
    };
    let (t0, (before, _)) = (thread_ticks(), sample().unwrap());
    spin(Duration::from_millis(800));
    let (t1, (after, _)) = (thread_ticks(), sample().unwrap());
    let total = (after.total - before.total) as f64;
    let cores = |ticks: u64| ticks as f64 / total * cpus as f64;
    let own = cores(after.own - before.own);
    let others = others_between(before, after, cpus).unwrap_or(0.0);
    // Our spin gets a whole core unless other processes hold the others and share ours (a fresh
    // clone's tests beside two evaluations on 2 cores gave it 0.31 cores; the whole suite's
    // binaries side by side on 2 cores, 0.03): whatever it got must be counted as ours, not as
    // others' (a tick of rounding at either end).
    let got = cores((t1.unwrap() - t0.unwrap()).saturating_sub(2));
    assert!(
        own >= got.min(0.6) && others <= cpus as f64 - got + 0.1,
        "our own 0.8 s of spinning got {got:.2} cores and was counted as {own:.2} cores of ours \
         ({others:.2} others')"
    );
}

#[test]
fn train_records_the_thread_count_of_every_epoch_and_keeps_a_given_one() {
    let dir = tempfile::tempdir().unwrap();
    let bin = env!("CARGO_BIN_EXE_rnn-rbm");
    let jsb = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/data/jsb-chorales-quarter.json"
    );
    let cores = std::thread::available_parallelism().unwrap().get() as i64;
    // Where /proc/stat counts other CPUs than ours, libtorch's choice stands and is not recorded.
    let measurable = sample().is_some_and(|(_, cpus)| cpus as i64 == cores);
    for (name, threads) in [("auto", None), ("one", Some("1"))] {
        let out = dir.path().join(name);
        let mut cmd = Command::new(bin);
        cmd.args([
            "train",
            "3",
            "--no-init",
            "--layout",
            "paper",
            "--hidden",
            "16",
        ])
        .args(["--recurrent", "8", "--split", "valid", "--data", jsb])
        .arg("--out")
        .arg(&out);
        if let Some(n) = threads {
            cmd.args(["--threads", n]);
        }
        let status = cmd.output().unwrap();
        assert!(
            status.status.success(),
            "{}",
            String::from_utf8_lossy(&status.stderr)
        );
        let metrics = std::fs::read_to_string(out.join("metrics.jsonl")).unwrap();
        let counts: Vec<Option<i64>> = metrics
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["threads"].as_i64())
            .collect();
        assert_eq!(counts.len(), 3, "{metrics}");
        match threads {
            Some(_) => assert_eq!(counts, [Some(1); 3]),
            None if measurable => assert!(
                counts
                    .iter()
                    .all(|n| n.is_some_and(|n| (1..=cores).contains(&n))),
                "{counts:?}"
            ),
            None => assert_eq!(counts, [None; 3]),
        }
    }
}
