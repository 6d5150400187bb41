//! Regression inputs for the `midi_to_roll` fuzz target (`fuzz/`): every file in
//! `tests/data/fuzz-regressions/` goes through the same MIDI-to-piano-roll path as the fuzzer
//! (`fuzz/common/midi_to_roll_path.rs`: parse, `from_song` on three grids, the roll's views and
//! the round trip through MIDI bytes), which must not panic and must finish promptly.
//!
//! The folder is read at run time, so a new file (a crash or hang the fuzzer found, see
//! `fuzz/README.md`) is picked up without touching this file. Files listed in [`EXPECTED`] must
//! also give the documented result: a parse error, or per grid a roll of so many steps or a
//! `from_song` error, matched by a substring of the error's full text.

use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

// The shared path refers to `crate::midi` and `crate::roll`.
use rnn_rbm::{midi, roll};

#[path = "../fuzz/common/midi_to_roll_path.rs"]
mod midi_to_roll_path;

use midi_to_roll_path::GRIDS;

/// What an input must give.
enum Expect {
    /// `midi::parse` fails with an error containing this text.
    ParseError(&'static str),
    /// `midi::parse` succeeds; then for each of [`GRIDS`], `from_song` gives a roll of this many
    /// steps (`Ok`) or an error containing this text (`Err`).
    Rolls([Result<usize, &'static str>; 3]),
}

/// `from_song`'s error for a song without notes ("no notes") or without notes in the grid's
/// range ("no notes in range: ...").
const NO_NOTES: Result<usize, &str> = Err("no notes");
const TOO_LONG: Result<usize, &str> = Err("refusing to build a piano roll");

const EXPECTED: &[(&str, Expect)] = &[
    // The header chunk stops after 4 of its 6 bytes.
    (
        "truncated-header.mid",
        Expect::ParseError("truncated: the file ends 4 bytes into its header"),
    ),
    // The file ends inside a note-off, 7 bytes into a track chunk that should hold 16.
    (
        "truncated-track.mid",
        Expect::ParseError("truncated: the file ends 7 bytes into track chunk 1"),
    ),
    // The chunk is complete but its last event (End Of Track) is cut short. midly stops reading
    // a track at a broken event, keeping what came before: here the whole note, one quarter long.
    (
        "incomplete-last-event.mid",
        Expect::Rolls([Ok(4), Ok(1), Ok(24)]),
    ),
    // 17 delta times of 2^28 - 1 ticks each reach past midi::MAX_TICK.
    (
        "huge-delta-times-beyond-max-tick.mid",
        Expect::ParseError("beyond tick 4294967296"),
    ),
    // One note of 2^28 - 1 quarter notes: far more than roll::MAX_STEPS on every grid.
    ("huge-tick-count-note.mid", Expect::Rolls([TOO_LONG; 3])),
    // A header announcing 0 tracks, and no track: a valid, empty song.
    ("zero-tracks.mid", Expect::Rolls([NO_NOTES; 3])),
    // The track starts with a data byte and no running status: midly stops reading the track
    // there, so the note after it is never read.
    (
        "running-status-without-status-byte.mid",
        Expect::Rolls([NO_NOTES; 3]),
    ),
    // A note in running status, then a meta event (which cancels running status) and more data
    // bytes: the first note (one quarter) is kept, the rest of the track is dropped.
    (
        "running-status-after-meta-event.mid",
        Expect::Rolls([Ok(4), Ok(1), Ok(24)]),
    ),
    // 21,120 notes held together (16 tracks x 15 channels x 88 pitches) for 8,333 quarter notes
    // at 1 tick per quarter. `from_song` used to write every cell of every note, overlapping or
    // not (notes x steps: over 4 billion writes on the fine grid), so it hung the fuzzer.
    (
        "overlapping-held-notes-hang.mid",
        Expect::Rolls([Ok(33_332), Ok(8_333), Ok(199_992)]),
    ),
];

/// A coarse guard against hangs (the fuzzer's `-timeout` is 10 s). In a release build the slowest
/// file here takes about 0.3 s, and `overlapping-held-notes-hang.mid` took about 9 s before the fix.
/// Counted in the CPU time of the thread that parses, not on the wall clock: beside the whole
/// suite's other test binaries on 2 cores (`scripts/gpu-check.sh` runs them side by side) the
/// 0.3 s took 27 s of wall time.
const TIME_LIMIT: Duration = Duration::from_secs(5);

/// The CPU time this thread has had (user and system), from `/proc/thread-self/stat` in clock
/// ticks of 10 ms; `None` where there is no such file.
fn thread_cpu_time() -> Option<Duration> {
    let line = std::fs::read_to_string("/proc/thread-self/stat").ok()?;
    rnn_rbm::threads::parse_self_stat(&line).map(|ticks| Duration::from_millis(ticks * 10))
}

fn regression_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/fuzz-regressions")
}

fn regression_files() -> Vec<PathBuf> {
    let dir = regression_dir();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .map(|entry| entry.expect("readable directory entry").path())
        .filter(|path| path.is_file())
        .collect();
    files.sort();
    files
}

fn file_name(path: &Path) -> String {
    path.file_name().unwrap().to_string_lossy().into_owned()
}

/// Compares one outcome with its expectation; `Err` describes the mismatch.
fn check(
    outcome: &anyhow::Result<Vec<anyhow::Result<usize>>>,
    expect: &Expect,
) -> Result<(), String> {
    match (outcome, expect) {
        (Err(error), Expect::ParseError(text)) => {
            let error = format!("{error:#}");
            if error.contains(text) {
                Ok(())
            } else {
                Err(format!("parse error {error:?} does not contain {text:?}"))
            }
        }
        (Ok(_), Expect::ParseError(text)) => Err(format!(
            "parsed, but expected a parse error containing {text:?}"
        )),
        (Err(error), Expect::Rolls(_)) => Err(format!("unexpected parse error: {error:#}")),
        (Ok(rolls), Expect::Rolls(expected)) => {
            assert_eq!(rolls.len(), GRIDS.len());
            let mut mismatches = Vec::new();
            for ((roll, expected), grid) in rolls.iter().zip(expected).zip(GRIDS) {
                let matches = match (roll, expected) {
                    (Ok(steps), Ok(expected)) => steps == expected,
                    (Err(error), Err(text)) => format!("{error:#}").contains(text),
                    _ => false,
                };
                if !matches {
                    let got = match roll {
                        Ok(steps) => format!("a roll of {steps} steps"),
                        Err(error) => format!("the error {:?}", format!("{error:#}")),
                    };
                    mismatches.push(format!("grid {grid:?}: got {got}, expected {expected:?}"));
                }
            }
            if mismatches.is_empty() {
                Ok(())
            } else {
                Err(mismatches.join("; "))
            }
        }
    }
}

#[test]
fn every_fuzz_regression_input_should_go_through_the_midi_to_roll_path_without_panicking() {
    let files = regression_files();
    let names: Vec<String> = files.iter().map(|path| file_name(path)).collect();
    for (name, _) in EXPECTED {
        assert!(
            names.iter().any(|file| file == name),
            "{name} is listed in EXPECTED but missing from {}",
            regression_dir().display()
        );
    }

    let mut failures = Vec::new();
    for (path, name) in files.iter().zip(&names) {
        let bytes = std::fs::read(path).unwrap();
        let (started, cpu_before) = (Instant::now(), thread_cpu_time());
        let outcome = panic::catch_unwind(AssertUnwindSafe(|| midi_to_roll_path::run(&bytes)));
        let wall = started.elapsed();
        // The thread's CPU time where it can be read, else the wall clock's.
        let elapsed = match (cpu_before, thread_cpu_time()) {
            (Some(before), Some(after)) => after.saturating_sub(before),
            _ => wall,
        };
        let outcome = match outcome {
            Ok(outcome) => outcome,
            Err(_) => {
                failures.push(format!("{name}: panicked (message above)"));
                continue;
            }
        };
        eprintln!("{name}: {elapsed:?} of CPU time, {wall:?} of wall time");
        if elapsed > TIME_LIMIT {
            failures.push(format!(
                "{name}: took {elapsed:?} of CPU time, over {TIME_LIMIT:?}"
            ));
        }
        match EXPECTED.iter().find(|(listed, _)| listed == name) {
            Some((_, expect)) => {
                if let Err(mismatch) = check(&outcome, expect) {
                    failures.push(format!("{name}: {mismatch}"));
                }
            }
            // A new input without an expectation yet: not panicking is all it has to do.
            None => match &outcome {
                Ok(rolls) => {
                    let rolls: Vec<String> = rolls
                        .iter()
                        .map(|roll| match roll {
                            Ok(steps) => format!("Ok({steps})"),
                            Err(error) => format!("Err({:?})", format!("{error:#}")),
                        })
                        .collect();
                    eprintln!("{name}: parsed; rolls: {}", rolls.join(", "));
                }
                Err(error) => eprintln!("{name}: parse error: {error:#}"),
            },
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}
