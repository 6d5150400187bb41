//! The `rnn-rbm` binary end to end on small real MIDI corpora: train, resume, generate, and the
//! one-line errors that bad input must give.
use rnn_rbm::midi;
use rnn_rbm::roll::PianoRoll;
use std::path::Path;
use std::process::{Command, Output};

fn rnn_rbm(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rnn-rbm"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the rnn-rbm binary runs")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn assert_ok(out: &Output) {
    assert!(out.status.success(), "rnn-rbm failed:\n{}", stderr(out));
}

/// An error is one line, says `error:`, and is not a panic.
fn assert_one_line_error(out: &Output, expected: &str) {
    assert_eq!(
        out.status.code(),
        Some(1),
        "expected exit 1; stderr:\n{}",
        stderr(out)
    );
    let err = stderr(out);
    let last = err.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("error: ") && last.contains(expected),
        "unexpected error: {err}"
    );
    assert!(
        !err.contains("panicked") && !err.contains("backtrace"),
        "{err}"
    );
}

/// Chords A = C-E-G and B = D-F-A, alternating every quarter note (paper layout, 1 step/quarter).
const CHORD_A: [u8; 3] = [60, 64, 67];
const CHORD_B: [u8; 3] = [62, 65, 69];

fn write_chord_corpus(dir: &Path, pieces: usize, frames: usize) {
    std::fs::create_dir_all(dir).unwrap();
    for p in 0..pieces {
        let mut roll = PianoRoll::new(frames, 1, 21, 88);
        for t in 0..frames {
            let chord = if (t + p) % 2 == 0 { CHORD_A } else { CHORD_B };
            for pitch in chord {
                roll.set(t, (pitch - 21) as usize, true, true);
            }
        }
        midi::write_file(&dir.join(format!("piece{p}.mid")), &roll.to_song(100.0, 70)).unwrap();
    }
}

const SMALL_MODEL: &[&str] = &[
    "--layout",
    "paper",
    "--hidden",
    "16",
    "--recurrent",
    "16",
    "--threads",
    "1",
    "--seed",
    "5",
];

fn train_args<'a>(epochs: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["train", epochs, "--k", "5", "--lr", "0.01"];
    // Defaults that a test may override.
    for (flag, value) in [("--data", "corpus"), ("--init-epochs", "10")] {
        if !extra.contains(&flag) {
            args.extend([flag, value]);
        }
    }
    args.extend_from_slice(SMALL_MODEL);
    args.extend_from_slice(extra);
    args
}

#[test]
fn training_then_generation_should_learn_the_chords_of_the_corpus() {
    let dir = tempfile::tempdir().unwrap();
    write_chord_corpus(&dir.path().join("corpus"), 8, 48);
    assert_ok(&rnn_rbm(
        dir.path(),
        &train_args("30", &["--save-every", "10"]),
    ));

    let ckpts = dir.path().join("parameter_checkpoints");
    for name in [
        "initialized.ot",
        "initialized.json",
        "epoch_10.ot",
        "epoch_20.ot",
        "epoch_30.ot",
        "epoch_30.json",
    ] {
        assert!(ckpts.join(name).exists(), "{name} missing");
    }
    let sidecar: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(ckpts.join("epoch_30.json")).unwrap())
            .unwrap();
    assert_eq!(sidecar["model"]["layout"], "paper");
    assert_eq!(sidecar["model"]["n_hidden"], 16);
    assert_eq!(sidecar["epoch"], 30);
    assert_eq!(sidecar["train"]["k"], 5);
    assert_eq!(sidecar["corpus"]["pieces"], 8);
    assert_eq!(sidecar["corpus"]["vectors"], 8 * 48);

    let metrics = std::fs::read_to_string(ckpts.join("metrics.jsonl")).unwrap();
    let lines: Vec<serde_json::Value> = metrics
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 30);
    for (i, m) in lines.iter().enumerate() {
        assert_eq!(m["epoch"], i + 1);
        assert_eq!(m["frames"], 8 * 48);
        for key in ["cost", "frames_per_s", "seconds"] {
            assert!(m[key].as_f64().is_some_and(f64::is_finite), "{key} in {m}");
        }
    }

    // A bare checkpoint name is looked up in parameter_checkpoints/.
    let out = rnn_rbm(
        dir.path(),
        &[
            "generate",
            "epoch_30.ot",
            "--count",
            "2",
            "--length",
            "64",
            "--seed",
            "9",
            "--threads",
            "1",
            "--wav",
            "--png",
        ],
    );
    assert_ok(&out);
    let pieces: Vec<_> = (0..2)
        .map(|i| dir.path().join(format!("results/epoch_30_seed9_{i}.mid")))
        .collect();
    // --wav and --png: audio as long as the music (64 quarter notes at 120 qpm) plus a release
    // tail, and a picture.
    for path in &pieces {
        let wav = hound::WavReader::open(path.with_extension("wav")).unwrap();
        let spec = wav.spec();
        assert_eq!(
            (spec.sample_rate, spec.channels, spec.bits_per_sample),
            (44_100, 2, 16)
        );
        let seconds = wav.duration() as f64 / 44_100.0;
        let song = midi::read_file(path).unwrap();
        let music = song.notes.iter().map(|n| n.end).max().unwrap() as f64
            / song.ticks_per_quarter as f64
            * 0.5;
        assert!(
            seconds >= music && seconds <= music + 3.1,
            "{seconds} s of audio for {music} s of music"
        );
        let png = png::Decoder::new(std::io::BufReader::new(
            std::fs::File::open(path.with_extension("png")).unwrap(),
        ));
        let info = png.read_info().unwrap();
        assert!(info.info().width >= 400 && info.info().height >= 200);
    }
    let curve = png::Decoder::new(std::io::BufReader::new(
        std::fs::File::open(ckpts.join("metrics.png")).unwrap(),
    ));
    assert!(
        curve.read_info().unwrap().info().width >= 400,
        "training curve drawn"
    );
    let (mut in_chords, mut total, mut frames_with_notes) = (0, 0, 0);
    for path in &pieces {
        let bytes = std::fs::read(path).unwrap();
        assert_every_note_is_closed_and_tempo_is_set(&bytes);
        let song = midi::parse(&bytes).unwrap();
        let roll = PianoRoll::from_song(&song, 1, 21, 88).unwrap();
        for t in 0..roll.steps() {
            let sounding: Vec<u8> = (0..88)
                .filter(|&c| roll.is_sounding(t, c))
                .map(|c| c as u8 + 21)
                .collect();
            frames_with_notes += usize::from(!sounding.is_empty());
            total += sounding.len();
            in_chords += sounding
                .iter()
                .filter(|p| CHORD_A.contains(p) || CHORD_B.contains(p))
                .count();
        }
    }
    // scripts/generate_many.sh: one file per seed, each a different piece.
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/generate_many.sh");
    let out = Command::new("bash")
        .args([
            script.to_str().unwrap(),
            "epoch_30.ot",
            "3",
            "many",
            "--length",
            "32",
            "--threads",
            "1",
        ])
        .env("RNN_RBM_BIN", env!("CARGO_BIN_EXE_rnn-rbm"))
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_ok(&out);
    let many: Vec<Vec<u8>> = (1..=3)
        .map(|s| std::fs::read(dir.path().join(format!("many/epoch_30_seed{s}_0.mid"))).unwrap())
        .collect();
    assert!(
        many[0] != many[1] && many[1] != many[2] && many[0] != many[2],
        "seeds gave identical pieces"
    );
    assert_eq!(
        std::fs::read_dir(dir.path().join("many")).unwrap().count(),
        3
    );

    // The corpus only ever sounds these six pitches, three at a time.
    assert!(total > 0);
    assert!(
        in_chords as f64 >= 0.9 * total as f64,
        "{in_chords} of {total} notes in the corpus's chords"
    );
    let per_frame = total as f64 / frames_with_notes as f64;
    assert!(
        (2.0..=4.5).contains(&per_frame),
        "{per_frame} notes per sounding frame"
    );
}

/// Raw SMF check: a tempo event exists and every note-on has its note-off.
fn assert_every_note_is_closed_and_tempo_is_set(bytes: &[u8]) {
    let smf = midly::Smf::parse(bytes).unwrap();
    let mut tempo = false;
    let mut open = std::collections::HashMap::<(u8, u8), i32>::new();
    let mut notes = 0;
    for track in &smf.tracks {
        for ev in track {
            match ev.kind {
                midly::TrackEventKind::Meta(midly::MetaMessage::Tempo(_)) => tempo = true,
                midly::TrackEventKind::Midi { channel, message } => match message {
                    midly::MidiMessage::NoteOn { key, vel } if vel > 0 => {
                        *open.entry((channel.as_int(), key.as_int())).or_default() += 1;
                        notes += 1;
                    }
                    midly::MidiMessage::NoteOn { key, .. }
                    | midly::MidiMessage::NoteOff { key, .. } => {
                        *open.entry((channel.as_int(), key.as_int())).or_default() -= 1;
                    }
                    _ => {}
                },
                _ => {}
            }
        }
    }
    assert!(tempo, "no tempo event");
    assert!(notes > 0, "no notes");
    assert!(
        open.values().all(|&n| n == 0),
        "notes left hanging: {open:?}"
    );
}

#[test]
fn an_interrupted_run_resumed_from_its_checkpoint_should_end_with_the_same_parameters() {
    // The paper layout with the original's recipe (one chunk per update), and the default
    // chorale layout with its own (8 chunks per update, the learning rate halving).
    let chorale = |epochs: &'static str, extra: &[&'static str]| -> Vec<&'static str> {
        let mut args = vec![
            "train",
            epochs,
            "--data",
            "corpus",
            "--hidden",
            "16",
            "--recurrent",
            "16",
            "--k",
            "5",
            "--init-epochs",
            "10",
            "--threads",
            "1",
            "--seed",
            "5",
        ];
        args.extend_from_slice(extra);
        args
    };
    let paper = |epochs: &'static str, extra: &[&'static str]| train_args(epochs, extra);
    type Args<'f> = &'f dyn Fn(&'static str, &[&'static str]) -> Vec<&'static str>;
    for (name, args) in [("paper", &paper as Args), ("chorale", &chorale as Args)] {
        let dir = tempfile::tempdir().unwrap();
        write_chord_corpus(&dir.path().join("corpus"), 12, 30);
        assert_ok(&rnn_rbm(
            dir.path(),
            &args("6", &["--out", "straight", "--save-every", "3"]),
        ));
        // The same run, stopped after epoch 3 and resumed.
        assert_ok(&rnn_rbm(dir.path(), &args("3", &["--out", "split"])));
        let out = rnn_rbm(
            dir.path(),
            &[
                "train",
                "6",
                "--resume",
                "split/epoch_3.ot",
                "--out",
                "split",
                "--threads",
                "1",
            ],
        );
        assert_ok(&out);
        assert!(stderr(&out).contains("resuming from split/epoch_3.ot"));
        let sidecar: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.path().join("split/epoch_6.json")).unwrap())
                .unwrap();
        assert_eq!(sidecar["model"]["layout"], name);
        let a = tch::Tensor::load_multi(dir.path().join("straight/epoch_6.ot")).unwrap();
        let b: std::collections::HashMap<String, tch::Tensor> =
            tch::Tensor::load_multi(dir.path().join("split/epoch_6.ot"))
                .unwrap()
                .into_iter()
                .collect();
        assert_eq!(a.len(), b.len());
        for (param, t) in &a {
            assert!(t.equal(&b[param]), "{name}: {param} differs after resuming");
        }
        let metrics = std::fs::read_to_string(dir.path().join("split/metrics.jsonl")).unwrap();
        assert_eq!(
            metrics.lines().count(),
            6,
            "{name}: metrics.jsonl continues across the resume"
        );
    }
}

#[test]
fn a_broken_file_in_the_corpus_should_be_named_and_skipped() {
    let dir = tempfile::tempdir().unwrap();
    write_chord_corpus(&dir.path().join("corpus"), 3, 20);
    std::fs::write(
        dir.path().join("corpus/broken.mid"),
        b"MThd\x00\x00\x00\x06\x00\x01",
    )
    .unwrap();
    std::fs::write(dir.path().join("corpus/notes.MIDI"), b"this is a text file").unwrap();
    let out = rnn_rbm(dir.path(), &train_args("1", &["--init-epochs", "1"]));
    assert_ok(&out);
    let err = stderr(&out);
    assert!(err.contains("warning: skipping corpus/broken.mid"), "{err}");
    assert!(err.contains("warning: skipping corpus/notes.MIDI"), "{err}");
    assert!(err.contains("3 pieces"), "{err}");
}

#[test]
fn an_empty_corpus_should_end_with_a_one_line_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("corpus")).unwrap();
    assert_one_line_error(
        &rnn_rbm(dir.path(), &train_args("1", &[])),
        "no .mid or .midi files in corpus",
    );
    std::fs::write(dir.path().join("corpus/a.mid"), b"junk").unwrap();
    assert_one_line_error(
        &rnn_rbm(dir.path(), &train_args("1", &[])),
        "no usable pieces in corpus (1 skipped)",
    );
    assert_one_line_error(
        &rnn_rbm(dir.path(), &train_args("1", &["--data", "nowhere"])),
        "data nowhere not found",
    );
}

#[test]
fn missing_or_unsuitable_checkpoints_should_end_with_a_one_line_error() {
    let dir = tempfile::tempdir().unwrap();
    assert_one_line_error(
        &rnn_rbm(dir.path(), &["generate", "epoch_500.ot"]),
        "checkpoint epoch_500.ot not found (looked for epoch_500.ot and parameter_checkpoints/epoch_500.ot)",
    );
    write_chord_corpus(&dir.path().join("corpus"), 2, 20);
    assert_ok(&rnn_rbm(
        dir.path(),
        &train_args("1", &["--init-epochs", "1"]),
    ));
    // A pre-trained RBM has no RNN to compose with.
    assert_one_line_error(
        &rnn_rbm(dir.path(), &["generate", "initialized.ot"]),
        "is a pre-trained RBM",
    );
    // A checkpoint of another layout.
    assert_one_line_error(
        &rnn_rbm(
            dir.path(),
            &["train", "2", "--resume", "epoch_1.ot", "--layout", "seed"],
        ),
        "has layout paper, not seed",
    );
    // Pre-training of another layout in --out.
    assert_one_line_error(
        &rnn_rbm(
            dir.path(),
            &["train", "1", "--data", "corpus", "--layout", "seed"],
        ),
        "initialized.ot was pre-trained for layout paper",
    );
    // A truncated archive, and a file that is not a checkpoint at all.
    let ckpts = dir.path().join("parameter_checkpoints");
    let bytes = std::fs::read(ckpts.join("epoch_1.ot")).unwrap();
    std::fs::write(ckpts.join("cut.ot"), &bytes[..bytes.len() / 2]).unwrap();
    std::fs::copy(ckpts.join("epoch_1.json"), ckpts.join("cut.json")).unwrap();
    assert_one_line_error(
        &rnn_rbm(dir.path(), &["generate", "cut.ot"]),
        "is not a readable libtorch archive",
    );
    std::fs::write(ckpts.join("junk.ot"), b"not a checkpoint").unwrap();
    assert_one_line_error(
        &rnn_rbm(dir.path(), &["generate", "junk.ot"]),
        "is not a readable libtorch archive",
    );
    // A libtorch archive of some other program: no sidecar, then no parameters of ours.
    let foreign = tch::Tensor::from_slice(&[1.0f32, 2.0]);
    tch::Tensor::save_multi(&[("weight", &foreign)], ckpts.join("foreign.ot")).unwrap();
    assert_one_line_error(
        &rnn_rbm(dir.path(), &["generate", "foreign.ot"]),
        "foreign.ot holds no sidecar and parameter_checkpoints/foreign.json cannot be read (not an rnn-rbm checkpoint?)",
    );
    std::fs::copy(ckpts.join("epoch_1.json"), ckpts.join("foreign.json")).unwrap();
    assert_one_line_error(
        &rnn_rbm(dir.path(), &["generate", "foreign.ot"]),
        "foreign.ot has no parameter W",
    );
    // A checkpoint whose sidecar describes another size than its tensors hold.
    let (mut sidecar, tensors) = rnn_rbm::checkpoint::load(&ckpts.join("epoch_1.ot")).unwrap();
    sidecar.model.n_hidden = 20;
    let tensors: Vec<(String, tch::Tensor)> = tensors.into_iter().collect();
    rnn_rbm::checkpoint::save(&ckpts.join("resized.ot"), &sidecar, &tensors).unwrap();
    assert_one_line_error(
        &rnn_rbm(dir.path(), &["generate", "resized.ot"]),
        "resized.ot: parameter W has shape [88, 16], the model expects [88, 20]",
    );
}

/// Parameters of a checkpoint, by name.
fn parameters(path: &Path) -> std::collections::HashMap<String, tch::Tensor> {
    rnn_rbm::checkpoint::load(path).unwrap().1
}

fn assert_same_parameters(a: &Path, b: &Path) {
    let (a, b) = (parameters(a), parameters(b));
    assert_eq!(a.len(), b.len());
    for (name, t) in &a {
        assert!(t.equal(&b[name]), "{name} differs");
    }
}

#[test]
fn ctrl_c_should_save_the_last_finished_epoch_and_resuming_it_matches_an_uninterrupted_run() {
    use std::io::{BufRead, BufReader};
    let dir = tempfile::tempdir().unwrap();
    write_chord_corpus(&dir.path().join("corpus"), 4, 60);
    let mut child = Command::new(env!("CARGO_BIN_EXE_rnn-rbm"))
        .args(train_args(
            "100000",
            &["--out", "interrupted", "--save-every", "100000"],
        ))
        .current_dir(dir.path())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut log = String::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        log.push_str(&line);
        log.push('\n');
        if line.starts_with("epoch 3/") {
            break;
        }
    }
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    for line in lines {
        log.push_str(&line.unwrap());
        log.push('\n');
    }
    let code = child.wait().unwrap().code();
    assert_eq!(code, Some(130), "{log}");
    let hint = log
        .lines()
        .find(|l| l.starts_with("interrupted; resume with: "))
        .unwrap_or_else(|| panic!("{log}"));
    // "… --resume interrupted/epoch_N.ot"
    assert!(
        hint.starts_with(
            "interrupted; resume with: rnn-rbm train 100000 --resume interrupted/epoch_"
        ),
        "{hint}"
    );
    let ckpt = hint.rsplit(' ').next().unwrap();
    let epoch: usize = ckpt
        .trim_start_matches("interrupted/epoch_")
        .trim_end_matches(".ot")
        .parse()
        .unwrap();
    assert!(epoch >= 3, "{hint}");
    let metrics = std::fs::read_to_string(dir.path().join("interrupted/metrics.jsonl")).unwrap();
    assert_eq!(
        metrics.lines().count(),
        epoch,
        "one metrics line per finished epoch"
    );

    // Resume for two more epochs, and compare with a run that was never interrupted.
    let target = (epoch + 2).to_string();
    assert_ok(&rnn_rbm(
        dir.path(),
        &["train", &target, "--resume", ckpt, "--threads", "1"],
    ));
    assert_ok(&rnn_rbm(
        dir.path(),
        &train_args(&target, &["--out", "straight", "--save-every", "100000"]),
    ));
    let name = format!("epoch_{target}.ot");
    assert_same_parameters(
        &dir.path().join("interrupted").join(&name),
        &dir.path().join("straight").join(&name),
    );
}

/// What one killed run left in its folder: the `.tmp` files (removed once counted) and the
/// checkpoints, each loaded (a checkpoint that does not load fails the test).
fn check_what_a_kill_left(ckpts: &Path) -> (Vec<String>, Vec<String>) {
    let (mut tmp_left, mut loaded) = (Vec::new(), Vec::new());
    let Ok(entries) = std::fs::read_dir(ckpts) else {
        return (tmp_left, loaded); // killed before anything was written
    };
    for entry in entries {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.ends_with(".tmp") {
            std::fs::remove_file(&path).unwrap();
            tmp_left.push(name); // a write the kill interrupted: never mistaken for a checkpoint
        } else if name.ends_with(".ot") {
            let (sidecar, tensors) =
                rnn_rbm::checkpoint::load(&path).unwrap_or_else(|e| panic!("{name}: {e:#}"));
            assert_eq!(tensors["W"].size(), vec![88, 400], "{name}");
            if name.starts_with("epoch_") {
                assert_eq!(name, format!("epoch_{}.ot", sidecar.epoch));
            }
            loaded.push(name);
        }
    }
    tmp_left.sort();
    loaded.sort();
    (tmp_left, loaded)
}

/// Kills (SIGKILL: no handler runs) training runs at moments spread over the cycle of training and
/// writing checkpoints, each run in its own folder, and loads every checkpoint each leaves. Saves
/// are slowed by the test-only RNN_RBM_TEST_SLOW_SAVE_MS (src/atomic.rs), which also says on
/// stderr when a temporary file is complete: the last two runs are killed right then, in the
/// middle of writing epoch_N.ot, which must leave epoch_N.ot.tmp, no epoch_N.ot, and
/// epoch_(N−1).ot loadable.
#[test]
fn kill_9_at_any_moment_should_leave_every_checkpoint_loadable() {
    use std::io::{BufRead, BufReader};
    let dir = tempfile::tempdir().unwrap();
    write_chord_corpus(&dir.path().join("corpus"), 4, 60);
    // A larger model, so that writing a checkpoint takes a while by itself too.
    let args = [
        "train",
        "100000",
        "--data",
        "corpus",
        "--layout",
        "paper",
        "--threads",
        "1",
        "--k",
        "1",
        "--hidden",
        "400",
        "--recurrent",
        "400",
        "--save-every",
        "1",
        "--init-epochs",
        "1",
    ];
    // (milliseconds after the first "saved" line, or None: at the first epoch_N.ot.tmp after it;
    // the pause of every save in milliseconds)
    let rounds = [
        (Some(0u64), 30u64),
        (Some(13), 30),
        (Some(41), 30),
        (Some(71), 30),
        (Some(97), 30),
        (None, 3000),
        (None, 3000),
    ];
    let mut mid_save = 0;
    for (round, &(delay_ms, pause_ms)) in rounds.iter().enumerate() {
        let out = format!("run{round}");
        let mut child = Command::new(env!("CARGO_BIN_EXE_rnn-rbm"))
            .args(args)
            .args(["--out", &out])
            .env(rnn_rbm::atomic::TEST_SLOW_SAVE_ENV, pause_ms.to_string())
            .current_dir(dir.path())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // Wait for the first checkpoint of this run, however slow the machine.
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let first_saved = lines
            .by_ref()
            .map(|line| line.unwrap())
            .find(|line| line.starts_with("saved "));
        assert!(first_saved.is_some(), "round {round}: the run ended");
        let writing = match delay_ms {
            Some(delay_ms) => {
                std::thread::sleep(std::time::Duration::from_millis(delay_ms));
                None
            }
            None => lines.map(|line| line.unwrap()).find_map(|line| {
                let tmp = line.strip_prefix("slow save: ")?.strip_suffix(" written")?;
                let name = Path::new(tmp).file_name()?.to_str()?.to_string();
                (name.starts_with("epoch_") && name.ends_with(".ot.tmp")).then_some(name)
            }),
        };
        child.kill().unwrap();
        child.wait().unwrap();
        let (tmp_left, loaded) = check_what_a_kill_left(&dir.path().join(&out));
        eprintln!(
            "round {round}: killed {}; left {tmp_left:?}; loaded {loaded:?}",
            match (delay_ms, &writing) {
                (Some(ms), _) => format!("{ms} ms after the first save"),
                (None, Some(name)) => format!("while {name} was complete but not yet renamed"),
                (None, None) => "after the run ended".to_string(),
            }
        );
        assert!(!loaded.is_empty(), "round {round}: no checkpoint left");
        if delay_ms.is_none() {
            let tmp = writing.unwrap_or_else(|| panic!("round {round}: no epoch_N.ot.tmp seen"));
            let target = tmp.strip_suffix(".tmp").unwrap();
            let epoch: usize = target["epoch_".len()..target.len() - 3].parse().unwrap();
            assert!(
                tmp_left.contains(&tmp),
                "round {round}: {tmp} not left: {tmp_left:?}"
            );
            assert!(
                !loaded.iter().any(|name| name == target),
                "round {round}: {target}"
            );
            assert!(
                loaded.contains(&format!("epoch_{}.ot", epoch - 1)),
                "round {round}: the checkpoint before {target} is not loadable: {loaded:?}"
            );
        }
        mid_save += usize::from(!tmp_left.is_empty());
    }
    eprintln!(
        "{mid_save} of {} kills landed in the middle of a save",
        rounds.len()
    );
    assert!(mid_save >= 2);
}

#[test]
fn training_with_validation_keeps_the_best_model_and_evaluate_scores_it() {
    let dir = tempfile::tempdir().unwrap();
    write_chord_corpus(&dir.path().join("corpus"), 8, 48);
    write_chord_corpus(&dir.path().join("valid"), 2, 48);
    let out = rnn_rbm(
        dir.path(),
        &train_args(
            "40",
            &[
                "--valid",
                "valid",
                "--valid-every",
                "10",
                "--save-every",
                "40",
            ],
        ),
    );
    assert_ok(&out);
    let ckpts = dir.path().join("parameter_checkpoints");
    let metrics: Vec<serde_json::Value> = std::fs::read_to_string(ckpts.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    // best.ot is chosen on the middle of the AIS … RAISE interval.
    let scored: Vec<(u64, f64)> = metrics
        .iter()
        .filter_map(|m| {
            let (ais, raise) = (
                m["valid_nll"].as_f64()?,
                m["valid_nll_conservative"].as_f64()?,
            );
            Some((m["epoch"].as_u64()?, (ais + raise) / 2.0))
        })
        .collect();
    assert_eq!(
        scored.iter().map(|s| s.0).collect::<Vec<_>>(),
        vec![10, 20, 30, 40]
    );
    let (best_epoch, best_nll) =
        scored
            .iter()
            .copied()
            .fold((0, f64::INFINITY), |b, s| if s.1 < b.1 { s } else { b });
    let best: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(ckpts.join("best.json")).unwrap()).unwrap();
    assert_eq!(best["epoch"].as_u64(), Some(best_epoch));
    let (ais, raise) = (
        best["valid_nll"].as_f64().unwrap(),
        best["valid_nll_conservative"].as_f64().unwrap(),
    );
    assert_eq!((ais + raise) / 2.0, best_nll);

    // `evaluate best.ot` of the valid pieces with 20 chains on 1 thread, and `extra`.
    let evaluate = |extra: &[&str]| {
        let mut args = vec![
            "evaluate",
            "best.ot",
            "--data",
            "valid",
            "--chains",
            "20",
            "--threads",
            "1",
        ];
        args.extend_from_slice(extra);
        let out = rnn_rbm(dir.path(), &args);
        assert_ok(&out);
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
    };
    let e = evaluate(&["--temperatures", "200"]);
    assert_eq!(
        (e["frames"].as_i64(), e["pieces"].as_i64()),
        (Some(96), Some(2))
    );
    // Independent notes at their frequencies would score 6·ln 2 = 4.16 nats and about 50 %:
    // the model must have learned that the chords alternate.
    let (nll, acc) = (
        e["nll_per_frame"].as_f64().unwrap(),
        e["acc"].as_f64().unwrap(),
    );
    assert!(nll < 4.16, "{e}");
    // (ACC is estimated from samples: 68 % with the current random stream, over 70 % with an
    // earlier one.)
    assert!(acc > 60.0, "{e}");
    // The most probable sample of each frame is the right chord more often than not; repeating
    // the frame before, no model at all, never is (the two chords share no note).
    assert!(e["acc_mode"].as_f64().unwrap() > 60.0, "{e}");
    assert_eq!(e["acc_repeat"].as_f64(), Some(0.0), "{e}");
    assert_eq!(e["acc_repeat_counts"]["tp"].as_f64(), Some(0.0), "{e}");
    assert_eq!(
        e["acc_repeat_counts"]["fn"].as_f64(),
        Some(96.0 * 3.0),
        "{e}"
    );
    // RAISE errs high where AIS errs low: together they bracket the truth.
    let (conservative, stderr) = (
        e["nll_conservative"].as_f64().unwrap(),
        e["nll_conservative_stderr"].as_f64().unwrap() + e["nll_stderr"].as_f64().unwrap(),
    );
    assert!(conservative < 4.16, "{e}");
    assert!(conservative >= nll - 3.0 * stderr - 0.02, "{e}");
    let ess = e["ess_mean"].as_f64().unwrap();
    assert!(ess > 0.0 && ess <= 1.0, "{e}");
    // The sampling-free lower bound lies below the two on average.
    let bound = e["nll_lower_bound"].as_f64().unwrap();
    assert!(bound > 0.0 && bound <= nll + 3.0 * stderr + 0.02, "{e}");
    let below = e["ais_below_bound"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&below), "{e}");
    // Every frame's estimate raised to the bound where below it: a mean of per-frame maxima is at
    // least the larger of the two means.
    let (floored, conservative_floored) = (
        e["nll_floored"].as_f64().unwrap(),
        e["nll_conservative_floored"].as_f64().unwrap(),
    );
    assert!(floored >= nll.max(bound) - 1e-9, "{e}");
    assert!(
        conservative_floored >= conservative.max(bound) - 1e-9,
        "{e}"
    );
    assert!(floored <= conservative_floored + 3.0 * stderr + 0.02, "{e}");
    assert!(e["frame_unit"]
        .as_str()
        .unwrap()
        .starts_with("one grid step"));

    // Parts of the split: `--part 0/1` is the whole run; the two halves add up (`combine`) to the
    // whole's frames and pieces, its sampling-free bound and its notes exactly, and to its NLL
    // within the standard errors.
    let part = |k: &str| evaluate(&["--temperatures", "200", "--part", k]);
    let one = part("0/1");
    assert_eq!(one["part"], "0/1");
    assert_eq!(one["nll_per_frame"], e["nll_per_frame"]);
    for k in 0..2 {
        let half = part(&format!("{k}/2"));
        assert_eq!(
            (half["pieces"].as_i64(), half["frames"].as_i64()),
            (Some(1), Some(48))
        );
        std::fs::write(dir.path().join(format!("part{k}.json")), half.to_string()).unwrap();
    }
    let out = rnn_rbm(dir.path(), &["combine", "part1.json", "part0.json"]);
    assert_ok(&out);
    let c: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (
            c["frames"].as_i64(),
            c["pieces"].as_i64(),
            c["complete"].as_bool()
        ),
        (Some(96), Some(2), Some(true))
    );
    let close = |key: &str| (c[key].as_f64().unwrap() - e[key].as_f64().unwrap()).abs();
    assert!(close("nll_lower_bound") < 1e-9, "{c}\n{e}");
    assert!(c["nll_floored"].as_f64().unwrap() >= c["nll_lower_bound"].as_f64().unwrap() - 1e-9);
    let notes = |r: &serde_json::Value| {
        r["acc_counts"]["tp"].as_f64().unwrap() + r["acc_counts"]["fn"].as_f64().unwrap()
    };
    assert_eq!(notes(&c), notes(&e));
    let errors = c["nll_stderr"].as_f64().unwrap() + e["nll_stderr"].as_f64().unwrap();
    assert!(close("nll_per_frame") < 4.0 * errors + 0.02, "{c}\n{e}");
    let out = rnn_rbm(dir.path(), &["combine", "part1.json"]);
    assert_ok(&out);
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("part(s) 0/2 missing"), "{said}");
    assert_one_line_error(
        &rnn_rbm(dir.path(), &["combine", "part1.json", "part1.json"]),
        "part1.json: part 1/2 is also part1.json",
    );
    assert_one_line_error(
        &rnn_rbm(
            dir.path(),
            &["evaluate", "best.ot", "--data", "valid", "--part", "2/8"],
        ),
        "--part 2/8: valid holds only 2 pieces",
    );
    assert_one_line_error(
        &rnn_rbm(
            dir.path(),
            &["evaluate", "best.ot", "--data", "valid", "--part", "2/2"],
        ),
        "expected K/N with 0 ≤ K < N",
    );

    // On too short a path AIS errs low and RAISE high; `--refine-apart` estimates the frames where
    // they part by more than that again, by both, with 4× the temperatures: they come closer.
    let gap = |extra: &[&str]| {
        let short = [
            "--temperatures",
            "5",
            "--base-sweeps",
            "0",
            "--acc-samples",
            "1",
        ];
        let e = evaluate(&[&short[..], extra].concat());
        let apart = e["nll_conservative"].as_f64().unwrap() - e["nll_per_frame"].as_f64().unwrap();
        (apart, e["disputed_frames"].as_i64())
    };
    let (plain, none) = gap(&[]);
    let (refined, disputed) = gap(&["--refine-apart", "0.05"]);
    eprintln!("5 temperatures: {plain:.3} apart; refined: {refined:.3} ({disputed:?} frames)");
    assert_eq!(none, None);
    assert!(disputed.is_some_and(|d| d > 0 && d <= 96), "{disputed:?}");
    assert!(
        refined.abs() < plain.abs() / 4.0,
        "refined {refined}, before {plain}"
    );
}

#[test]
fn a_diverging_run_should_stop_naming_the_last_good_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    write_chord_corpus(&dir.path().join("corpus"), 2, 20);
    assert_ok(&rnn_rbm(
        dir.path(),
        &train_args("1", &["--init-epochs", "1"]),
    ));
    let out = rnn_rbm(
        dir.path(),
        &[
            "train",
            "3",
            "--resume",
            "epoch_1.ot",
            "--optimizer",
            "sgd",
            "--lr",
            "1e30",
            "--clip",
            "1e30",
            "--threads",
            "1",
        ],
    );
    assert_one_line_error(
        &out,
        "training diverged; the last good checkpoint is parameter_checkpoints/epoch_1.ot",
    );
    assert!(stderr(&out).contains("Try a lower --lr"));
    assert!(!dir.path().join("parameter_checkpoints/epoch_2.ot").exists());
    let (sidecar, _) =
        rnn_rbm::checkpoint::load(&dir.path().join("parameter_checkpoints/epoch_1.ot")).unwrap();
    assert_eq!(sidecar.epoch, 1);
}

/// `(pitch, start step, end step)` of a file's notes on track `track` (quarter-note grid).
fn notes_on_track(path: &Path, track: usize) -> Vec<(u8, u64, u64)> {
    let song = midi::read_file(path).unwrap();
    let q = song.ticks_per_quarter as u64;
    song.notes
        .iter()
        .filter(|n| n.track == track)
        .map(|n| (n.pitch, n.start / q, n.end / q))
        .collect()
}

/// −log p(v_1 … v_T) per frame of the frames of a MIDI file (paper layout: 88 keys from 21, one
/// frame per quarter) under a checkpoint's tanh RNN-RBM, exactly and apart from the library's
/// model code: the RNN states by the formula, from u0 (`u_t = tanh(bu + v_t Wvu + u_(t−1) Wuu)`),
/// each frame's RBM biases `bv + u Wuv`, `bh + u Wuh`, its free energy, and its log Z summed over
/// all 2^H hidden configurations.
fn exact_nll_per_frame(checkpoint: &Path, midi_file: &Path) -> f64 {
    use tch::{Device, Kind, Tensor};
    let p = parameters(checkpoint);
    let d = |name: &str| p[name].to_kind(Kind::Double);
    // Biases and the initial state as vectors, whatever their stored shape.
    let b = |name: &str| d(name).reshape([-1]);
    let (w, bv, bh, wuv, wuh) = (d("W"), b("bv"), b("bh"), d("Wuv"), d("Wuh"));
    let (wvu, wuu, bu) = (d("Wvu"), d("Wuu"), b("bu"));
    let hidden = w.size()[1];
    assert!(hidden <= 20, "{hidden} hidden units: too many to enumerate");
    let configs = Tensor::arange(1i64 << hidden, (Kind::Int64, Device::Cpu))
        .unsqueeze(1)
        .bitwise_right_shift(&Tensor::arange(hidden, (Kind::Int64, Device::Cpu)).unsqueeze(0))
        .bitwise_and(1)
        .to_kind(Kind::Double);
    let roll = PianoRoll::from_song(&midi::read_file(midi_file).unwrap(), 1, 21, 88).unwrap();
    let mut u = b("u0");
    let mut total = 0.0;
    for t in 0..roll.steps() {
        let v: Vec<f64> = (0..88)
            .map(|c| f64::from(u8::from(roll.is_sounding(t, c))))
            .collect();
        let v = Tensor::from_slice(&v);
        let (bv_t, bh_t) = (&bv + u.matmul(&wuv), &bh + u.matmul(&wuh));
        let free_energy = -bv_t.dot(&v) - (&bh_t + v.matmul(&w)).softplus().sum(Kind::Double);
        let per_config = configs.matmul(&bh_t)
            + (configs.matmul(&w.tr()) + &bv_t)
                .softplus()
                .sum_dim_intlist(1, false, Kind::Double);
        total += (free_energy + per_config.logsumexp(0, false)).double_value(&[]);
        u = (&bu + v.matmul(&wvu) + u.matmul(&wuu)).tanh();
    }
    total / roll.steps() as f64
}

/// `(file, NLL per frame)` of each "wrote FILE (…, NLL X per frame)" line harmonize printed.
fn printed_nll(out: &Output) -> Vec<(String, f64)> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|line| {
            let file = line.strip_prefix("wrote ")?.split(' ').next()?;
            let nll = line.split("NLL ").nth(1)?.split(' ').next()?.parse().ok()?;
            Some((file.to_string(), nll))
        })
        .collect()
}

#[test]
fn harmonize_continue_and_infill_hold_what_they_must_and_compose_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    write_chord_corpus(&dir.path().join("corpus"), 8, 48);
    assert_ok(&rnn_rbm(
        dir.path(),
        &train_args("80", &["--save-every", "80"]),
    ));

    // The melody: the top notes of the chords (G, A, G, A, …), with a rest at step 5 and a
    // repeated G at steps 8-9 that must stay two notes.
    let mut melody = PianoRoll::new(16, 1, 21, 88);
    for t in 0..16 {
        if t == 5 {
            continue;
        }
        let pitch = if t % 2 == 0 || t == 9 {
            CHORD_A[2]
        } else {
            CHORD_B[2]
        };
        melody.set(t, (pitch - 21) as usize, true, true);
    }
    midi::write_file(&dir.path().join("melody.mid"), &melody.to_song(100.0, 90)).unwrap();
    let harmonize = |out: &str, count: &str, best_of: &str| {
        rnn_rbm(
            dir.path(),
            &[
                "harmonize",
                "melody.mid",
                "--checkpoint",
                "epoch_80.ot",
                "-o",
                out,
                "--count",
                count,
                "--best-of",
                best_of,
                // The corpus's chords are three notes.
                "--voices",
                "3",
                "--seed",
                "3",
                "--threads",
                "1",
            ],
        )
    };
    let out = harmonize("h/harm.mid", "2", "2");
    assert_ok(&out);
    for file in ["h/harm_1.mid", "h/harm_2.mid"] {
        let path = dir.path().join(file);
        // Track 1 is the melody, note for note (the repeated G is two notes).
        let mut expected: Vec<(u8, u64, u64)> = melody
            .notes()
            .into_iter()
            .map(|(c, s, e)| (c as u8 + 21, s as u64, e as u64))
            .collect();
        expected.sort_by_key(|n| (n.1, n.0));
        assert_eq!(notes_on_track(&path, 1), expected, "{file}");
        // Track 2 never sounds above (or on) the melody's note, nor above its neighbours in
        // the rest; and it is mostly the rest of the chord.
        let harmony = notes_on_track(&path, 2);
        assert!(!harmony.is_empty(), "{file}: no harmony");
        let mut in_chord = 0;
        let mut total = 0;
        for &(pitch, start, end) in &harmony {
            for t in start..end {
                let ceiling = if t == 5 {
                    CHORD_B[2].min(CHORD_A[2])
                } else if t % 2 == 0 || t == 9 {
                    CHORD_A[2]
                } else {
                    CHORD_B[2]
                };
                assert!(
                    pitch < ceiling,
                    "{file}: {pitch} at step {t} is not below {ceiling}"
                );
                let chord = if t % 2 == 0 { CHORD_A } else { CHORD_B };
                in_chord += usize::from(chord.contains(&pitch));
                total += 1;
            }
        }
        assert!(
            in_chord * 10 >= total * 7,
            "{file}: {in_chord} of {total} harmony steps in the chord"
        );
    }
    // --best-of 2 keeps, of each pair of candidates, the one of lower NLL. The same seed with
    // --count 4 --best-of 1 composes and scores the same four candidates and writes them all:
    // harm_1 must be the likelier of all_1 and all_2, file and figure, harm_2 of all_3 and all_4.
    let best = printed_nll(&out);
    let all = harmonize("h/all.mid", "4", "1");
    assert_ok(&all);
    let all = printed_nll(&all);
    assert_eq!((best.len(), all.len()), (2, 4), "{best:?} {all:?}");
    for (i, pair) in all.chunks(2).enumerate() {
        let likelier = if pair[0].1 <= pair[1].1 {
            &pair[0]
        } else {
            &pair[1]
        };
        assert_eq!(best[i].1, likelier.1, "harm_{}: {best:?} {all:?}", i + 1);
        let read = |name: &str| std::fs::read(dir.path().join(name)).unwrap();
        assert_eq!(
            read(&best[i].0),
            read(&likelier.0),
            "{} ≠ {}",
            best[i].0,
            likelier.0
        );
    }
    // And each figure is the NLL per frame of its file, by AIS (20 chains × 200 temperatures):
    // within 0.03 nats of the exact figure, the mean error tests/ais.rs allows (0.003 here).
    let checkpoint = dir.path().join("parameter_checkpoints/epoch_80.ot");
    for (file, printed) in &all {
        let exact = exact_nll_per_frame(&checkpoint, &dir.path().join(file));
        assert!(
            (printed - exact).abs() < 0.03,
            "{file}: printed NLL {printed}, exact {exact}"
        );
    }

    // generate --continue: every piece starts with the primer, then goes on.
    let primer = dir.path().join("corpus/piece0.mid");
    let out = rnn_rbm(
        dir.path(),
        &[
            "generate",
            "epoch_80.ot",
            "--primer",
            primer.to_str().unwrap(),
            "--continue",
            "--prime-steps",
            "8",
            "--length",
            "12",
            "--count",
            "2",
            "--seed",
            "4",
            "--out",
            "cont",
            "--threads",
            "1",
        ],
    );
    assert_ok(&out);
    let primer_roll = PianoRoll::from_song(&midi::read_file(&primer).unwrap(), 1, 21, 88).unwrap();
    for i in 0..2 {
        let path = dir.path().join(format!("cont/epoch_80_seed4_{i}.mid"));
        let roll = PianoRoll::from_song(&midi::read_file(&path).unwrap(), 1, 21, 88).unwrap();
        assert_eq!(roll.steps(), 20, "8 primer steps + 12 new ones");
        assert_eq!(roll.sounding[..8 * 88], primer_roll.sounding[..8 * 88]);
    }

    // infill: bars 3-4 (steps 8..16 in 4/4) of a 48-step piece are composed anew; everything
    // else is the input's, note for note.
    let out = rnn_rbm(
        dir.path(),
        &[
            "infill",
            primer.to_str().unwrap(),
            "--checkpoint",
            "epoch_80.ot",
            "--from",
            "3",
            "--to",
            "4",
            "-o",
            "filled.mid",
            "--candidates",
            "8",
            "--seed",
            "5",
            "--threads",
            "1",
        ],
    );
    assert_ok(&out);
    let input = notes_on_track(&primer, 1);
    let filled = notes_on_track(&dir.path().join("filled.mid"), 1);
    let outside: Vec<_> = input
        .iter()
        .filter(|n| n.1 < 8 || n.1 >= 16)
        .cloned()
        .collect();
    assert_eq!(filled, outside);
    let new = notes_on_track(&dir.path().join("filled.mid"), 2);
    assert!(!new.is_empty());
    assert!(new.iter().all(|n| n.1 >= 8 && n.2 <= 16), "{new:?}");
    // The alternation continues through the gap: most new notes belong to their step's chord.
    let fits = new
        .iter()
        .filter(|n| {
            let chord = if n.1 % 2 == 0 { CHORD_A } else { CHORD_B };
            chord.contains(&n.0)
        })
        .count();
    assert!(
        fits * 10 >= new.len() * 7,
        "{fits} of {} new notes fit",
        new.len()
    );

    // A time signature that changes in mid-bar: 4/4, then 3/4 written two quarters into bar 1.
    // Bar 1 finishes in 4/4, so bar 2 is quarters 4..7, as plot numbers it (tests/plot.rs draws
    // the same file's bar lines at quarters 0, 4, 7, 10, 13).
    let mut metre = PianoRoll::new(16, 1, 21, 88);
    for t in 0..16 {
        for pitch in if t % 2 == 0 { CHORD_A } else { CHORD_B } {
            metre.set(t, (pitch - 21) as usize, true, true);
        }
    }
    let mut song = metre.to_song(100.0, 70);
    let q = u64::from(song.ticks_per_quarter);
    song.time_signatures = [(0, 4), (2 * q, 3)]
        .map(|(tick, numerator)| midi::TimeSignature {
            tick,
            numerator,
            denominator: 4,
        })
        .to_vec();
    midi::write_file(&dir.path().join("metre.mid"), &song).unwrap();
    let out = rnn_rbm(
        dir.path(),
        &[
            "infill",
            "metre.mid",
            "--checkpoint",
            "epoch_80.ot",
            "--from",
            "2",
            "--to",
            "2",
            "-o",
            "metre_2.mid",
            "--seed",
            "5",
            "--threads",
            "1",
        ],
    );
    assert_ok(&out);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(&format!("(ticks {}..{})", 4 * q, 7 * q)),
        "{stdout}"
    );
    let kept: Vec<_> = notes_on_track(&dir.path().join("metre.mid"), 1)
        .into_iter()
        .filter(|n| n.1 < 4 || n.1 >= 7)
        .collect();
    assert_eq!(notes_on_track(&dir.path().join("metre_2.mid"), 1), kept);
    let new = notes_on_track(&dir.path().join("metre_2.mid"), 2);
    assert!(new.iter().all(|n| n.1 >= 4 && n.2 <= 7), "{new:?}");

    // Bars beyond the end: a one-line error.
    let out = rnn_rbm(
        dir.path(),
        &[
            "infill",
            primer.to_str().unwrap(),
            "--checkpoint",
            "epoch_80.ot",
            "--from",
            "40",
            "--to",
            "41",
            "-o",
            "x.mid",
        ],
    );
    assert_one_line_error(&out, "beyond its end");
}

#[test]
fn nonsense_flag_values_get_a_one_line_error() {
    let dir = tempfile::tempdir().unwrap();
    write_chord_corpus(&dir.path().join("corpus"), 4, 24);
    assert_ok(&rnn_rbm(
        dir.path(),
        &train_args("1", &["--init-epochs", "1"]),
    ));
    for (flags, expected) in [
        (&["--tempo", "0"][..], "--tempo 0 is not a tempo"),
        (&["--tempo=-90"][..], "--tempo -90 is not a tempo"),
        (&["--tempo", "inf"][..], "--tempo inf is not a tempo"),
        (&["--length", "0"][..], "--length must be at least 1"),
        (&["--gibbs", "0"][..], "--gibbs must be at least 1"),
    ] {
        let mut args = vec!["generate", "epoch_1.ot", "--out", "never"];
        args.extend_from_slice(flags);
        assert_one_line_error(&rnn_rbm(dir.path(), &args), expected);
        assert!(!dir.path().join("never").exists(), "{flags:?} wrote files");
    }
    // A piano-roll JSON file holds quarter-note frames: the seed layout (4 steps per quarter)
    // must not read them as 16th notes.
    std::fs::write(
        dir.path().join("rolls.json"),
        r#"{"train": [[[60, 64, 67], [62, 65, 69], [60, 64, 67], [59, 62, 67]]]}"#,
    )
    .unwrap();
    let out = rnn_rbm(
        dir.path(),
        &[
            "train",
            "1",
            "--data",
            "rolls.json",
            "--layout",
            "seed",
            "--no-init",
            "--out",
            "never",
        ],
    );
    assert_one_line_error(
        &out,
        "one per quarter note, and this layout's grid has 4 steps",
    );
    // With the paper layout it trains, and says which split and grid it read.
    let out = rnn_rbm(
        dir.path(),
        &[
            "train",
            "1",
            "--data",
            "rolls.json",
            "--layout",
            "paper",
            "--no-init",
            "--out",
            "ok",
            "--threads",
            "1",
        ],
    );
    assert_ok(&out);
    assert!(
        stderr(&out).contains("corpus rolls.json [train], 1 step(s) per quarter note: 1 pieces"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn train_without_data_learns_nine_chorales_in_ten_and_keeps_the_best_on_the_tenth() {
    let dir = tempfile::tempdir().unwrap();
    let bach = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/bach");
    assert!(
        bach.is_dir(),
        "data/bach is missing: run scripts/setup.sh first"
    );
    std::fs::create_dir(dir.path().join("data")).unwrap();
    std::os::unix::fs::symlink(&bach, dir.path().join("data/bach")).unwrap();
    let files = std::fs::read_dir(&bach)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "mid")
        })
        .count();
    let out = rnn_rbm(
        dir.path(),
        &[
            "train",
            "1",
            "--init-epochs",
            "1",
            "--hidden",
            "8",
            "--recurrent",
            "8",
            "--valid-chains",
            "2",
            "--valid-temperatures",
            "5",
            "--out",
            "run",
            "--threads",
            "1",
        ],
    );
    assert_ok(&out);
    let sidecar: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("run/best.json")).unwrap()).unwrap();
    // The default layout and its recipe.
    assert_eq!(sidecar["model"]["layout"], "chorale");
    assert_eq!(sidecar["model"]["quantise"], "sample");
    assert_eq!(sidecar["model"]["steps_per_quarter"], 1);
    assert_eq!(sidecar["train"]["batch_size"], 8);
    assert_eq!(sidecar["train"]["lr"], 0.003);
    assert_eq!(sidecar["train"]["lr_halflife"], 100.0);
    // Every 10th file is held out, and the rest is learnt from.
    assert_eq!(sidecar["corpus"]["split"], "train");
    assert_eq!(sidecar["corpus"]["pieces"], files - files / 10);
    let validation = &sidecar["train"]["validation"];
    assert_eq!(validation["split"], "valid");
    assert_eq!(validation["every"], 50);
    assert!(stderr(&out).contains(&format!(
        "[valid], 1 step(s) per quarter note: {} pieces",
        files / 10
    )));
    assert!(sidecar["valid_nll_conservative"]
        .as_f64()
        .is_some_and(f64::is_finite));
}

#[test]
fn ornaments_change_the_rhythm_inside_the_beats_and_nothing_on_them() {
    let dir = tempfile::tempdir().unwrap();
    write_chord_corpus(&dir.path().join("corpus"), 4, 30);
    // A chorale-layout model (its default recipe, small) and a seed-layout one.
    for (layout, out) in [("chorale", "chorale"), ("seed", "seed")] {
        assert_ok(&rnn_rbm(
            dir.path(),
            &[
                "train",
                "1",
                "--data",
                "corpus",
                "--layout",
                layout,
                "--hidden",
                "16",
                "--recurrent",
                "16",
                "--init-epochs",
                "1",
                "--threads",
                "1",
                "--seed",
                "5",
                "--out",
                out,
            ],
        ));
    }
    let generate = |ornaments: &str, out: &str| {
        assert_ok(&rnn_rbm(
            dir.path(),
            &[
                "generate",
                "chorale/epoch_1.ot",
                "--count",
                "2",
                "--length",
                "24",
                "--seed",
                "3",
                "--gibbs",
                "20",
                "--threads",
                "1",
                "--ornaments",
                ornaments,
                "--out",
                out,
            ],
        ));
        (0..2)
            .map(|i| {
                let path = dir.path().join(format!("{out}/epoch_1_seed3_{i}.mid"));
                midi::read_file(&path).unwrap()
            })
            .collect::<Vec<_>>()
    };
    let (plain, ornamented) = (generate("off", "plain"), generate("auto", "ornamented"));
    for (plain, ornamented) in plain.iter().zip(&ornamented) {
        let tpq = u64::from(plain.ticks_per_quarter);
        assert!(
            plain.notes.iter().all(|n| n.start % tpq == 0),
            "without ornaments every note starts on a beat"
        );
        // Read at every beat, as the chorale layout reads MIDI: the same notes sound (where
        // they start differs: a note may now be struck again or tied over).
        let beats = |song: &midi::Song| {
            rnn_rbm::roll::PianoRoll::from_song_with(
                song,
                1,
                33,
                56,
                rnn_rbm::roll::Quantise::Sample,
            )
            .unwrap()
        };
        assert!(beats(plain).sounding == beats(ornamented).sounding);
        assert!(
            ornamented.notes.len() >= plain.notes.len(),
            "{} notes with ornaments, {} without",
            ornamented.notes.len(),
            plain.notes.len()
        );
    }
    // Ornaments for a model on the 16th-note grid are refused before anything is written.
    let out = rnn_rbm(
        dir.path(),
        &[
            "generate",
            "seed/epoch_1.ot",
            "--ornaments",
            "on",
            "--out",
            "refused",
            "--threads",
            "1",
        ],
    );
    assert_one_line_error(
        &out,
        "--ornaments on needs a model of one frame per quarter note",
    );
    assert!(!dir.path().join("refused").exists());
    // So are voices, whose vectors there are five steps with onset bits.
    let out = rnn_rbm(
        dir.path(),
        &[
            "generate",
            "seed/epoch_1.ot",
            "--voices",
            "4",
            "--out",
            "refused",
            "--threads",
            "1",
        ],
    );
    assert_one_line_error(&out, "--voices counts the notes of a frame");
    assert!(!dir.path().join("refused").exists());
}
