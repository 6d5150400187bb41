//! `rnn-rbm serve` over real HTTP on a free loopback port, with the committed JSB model and the
//! SoundFont (scripts/setup.sh installs it): compose and harmonise give valid MIDI, WAV and PNG,
//! the melody stays on top, the command shown makes the same files again, bad and hostile
//! requests get 4xx and the server keeps answering, the queue refuses cleanly when full, and a
//! job past its time limit is stopped.
mod studio;
use rnn_rbm::midi;
use rnn_rbm::roll::PianoRoll;
use serde_json::Value;
use std::path::Path;
use studio::{grid_melody, midi_melody, Server, MODEL};

/// Checks one result piece: MIDI that parses, a 16-bit stereo 44.1 kHz WAV as long as the music
/// plus at most the release tail, a PNG of the size announced. Returns the parsed MIDI.
fn check_piece(server: &Server, piece: &Value) -> midi::Song {
    let (status, bytes) = server.get(piece["midi"].as_str().unwrap());
    assert_eq!(status, 200);
    let song = midi::parse(&bytes).expect("the MIDI file parses");
    assert!(!song.notes.is_empty());
    let music =
        rnn_rbm::audio::tick_to_seconds(&song, song.notes.iter().map(|n| n.end).max().unwrap());
    let (status, wav) = server.get(piece["wav"].as_str().unwrap());
    assert_eq!(status, 200);
    assert_eq!(&wav[..4], b"RIFF");
    let reader = hound::WavReader::new(std::io::Cursor::new(&wav)).expect("a WAV file");
    let spec = reader.spec();
    assert_eq!(
        (spec.sample_rate, spec.channels, spec.bits_per_sample),
        (44_100, 2, 16)
    );
    let seconds = reader.duration() as f64 / 44_100.0;
    assert!(
        seconds >= music && seconds <= music + 3.1,
        "{seconds} s of audio for {music} s of music"
    );
    // Ranges, so that a player can seek.
    let (status, range, head) = server.get_range(piece["wav"].as_str().unwrap(), "bytes=0-11");
    assert_eq!(
        (status, range),
        (206, Some(format!("bytes 0-11/{}", wav.len())))
    );
    assert!(head.len() == 12 && &head[8..] == b"WAVE");
    let (status, _, tail) = server.get_range(piece["wav"].as_str().unwrap(), "bytes=-100");
    assert_eq!((status, tail.as_slice()), (206, &wav[wav.len() - 100..]));
    let beyond = format!("bytes={}-", wav.len());
    assert_eq!(
        server.get_range(piece["wav"].as_str().unwrap(), &beyond).0,
        416
    );
    let (status, png) = server.get(piece["png"].as_str().unwrap());
    assert_eq!(status, 200);
    let decoder = png::Decoder::new(std::io::Cursor::new(png))
        .read_info()
        .unwrap();
    assert_eq!(
        (decoder.info().width as u64, decoder.info().height as u64),
        (
            piece["png_width"].as_u64().unwrap(),
            piece["png_height"].as_u64().unwrap()
        )
    );
    song
}

/// Runs the command a result shows (with this build as `rnn-rbm`) and checks that it makes the
/// same files `names` in `dir`, byte for byte.
fn check_command_reproduces(command: &str, dir: &Path, names: &[&str]) {
    let files: Vec<_> = names.iter().map(|n| dir.join(n)).collect();
    let before: Vec<Vec<u8>> = files.iter().map(|f| std::fs::read(f).unwrap()).collect();
    for f in &files {
        std::fs::remove_file(f).unwrap();
    }
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_rnn-rbm")).parent().unwrap();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = std::process::Command::new("bash")
        .args(["-c", command])
        .env("PATH", path)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{command}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    for (f, old) in files.iter().zip(before) {
        assert!(
            std::fs::read(f).unwrap() == old,
            "{command} made another {}",
            f.display()
        );
    }
}

/// The melody's pitch at every quarter note, and the top sounding pitch of the result there.
fn tops(song: &midi::Song) -> Vec<Option<usize>> {
    let roll = PianoRoll::from_song(song, 1, 21, 88).unwrap();
    (0..roll.steps())
        .map(|t| (0..88).rev().find(|&c| roll.is_sounding(t, c)))
        .collect()
}

#[test]
fn compose_and_harmonise_give_music_audio_and_pictures_with_the_melody_on_top() {
    let out = tempfile::tempdir().unwrap();
    let server = Server::start(out.path(), &[]);
    let (status, page) = server.get("/");
    assert_eq!(status, 200);
    assert!(String::from_utf8_lossy(&page).contains("rnn-rbm studio"));
    let (status, models) = server.get_json("/api/models");
    assert_eq!(status, 200);
    let jsb = models
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == MODEL)
        .expect("jsb/best.ot listed");
    assert_eq!(
        (jsb["layout"].as_str(), jsb["epoch"].as_u64()),
        (Some("paper"), Some(225))
    );
    assert!(jsb["valid_nll_conservative"].as_f64().unwrap() > 5.0);
    assert_eq!(
        (
            jsb["defaults"]["gibbs"].as_i64(),
            jsb["defaults"]["chain_start"].as_str()
        ),
        (Some(200), Some("silence"))
    );

    let body = serde_json::json!({"model": MODEL, "count": 2, "length": 16, "seed": 5});
    let view = server.run(
        "/api/compose",
        "application/json",
        body.to_string().as_bytes(),
    );
    let result = &view["result"];
    assert_eq!(result["pieces"].as_array().unwrap().len(), 2);
    for piece in result["pieces"].as_array().unwrap() {
        let song = check_piece(&server, piece);
        assert_eq!(
            song.notes.iter().map(|n| n.end).max().unwrap() / u64::from(song.ticks_per_quarter),
            16
        );
    }
    let command = result["command"].as_str().unwrap();
    assert!(
        command.starts_with(
            "rnn-rbm generate parameter_checkpoints/jsb/best.ot --count 2 --length 16 --seed 5"
        ),
        "{command}"
    );
    let job_dir = out
        .path()
        .read_dir()
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path()
        .join(format!("job-{}", view["id"]));
    check_command_reproduces(
        command,
        &job_dir,
        &["best_seed5_0.mid", "best_seed5_0.wav", "best_seed5_1.png"],
    );

    // Harmonise the grid's melody, then an uploaded MIDI file.
    for (content_type, melody) in [
        ("application/json", grid_melody(16)),
        ("audio/midi", midi_melody(12)),
    ] {
        let view = server.run(
            &format!("/api/harmonize?model={MODEL}&seed=3"),
            content_type,
            &melody,
        );
        let result = &view["result"];
        let song = check_piece(&server, &result["pieces"][0]);
        let (_, melody) = server.get(result["melody"].as_str().unwrap());
        let melody = midi::parse(&melody).unwrap();
        let (ours, theirs) = (tops(&song), tops(&melody));
        assert_eq!(ours.len(), theirs.len());
        for (t, (ours, theirs)) in ours.iter().zip(&theirs).enumerate() {
            assert_eq!(ours, theirs, "quarter {t}: the melody is not the top voice");
        }
        let voices = PianoRoll::from_song(&song, 1, 21, 88).unwrap();
        assert!(
            rnn_rbm::harmonize::frames_with_at_least(&voices, 2) > 0.5,
            "hardly any harmony"
        );
        let command = result["command"].as_str().unwrap();
        let dir = job_dir.with_file_name(format!("job-{}", view["id"]));
        check_command_reproduces(
            command,
            &dir,
            &["harmony.mid", "harmony.wav", "harmony.png"],
        );
    }
}

/// Mangled versions of a valid MIDI file that no reader can accept: cut short, a broken or
/// foreign header, a track that is not one, noise.
fn mangled(valid: &[u8], i: usize, rng: &mut u64) -> Vec<u8> {
    let mut next = || {
        *rng ^= *rng << 13;
        *rng ^= *rng >> 7;
        *rng ^= *rng << 17;
        *rng
    };
    let mut bytes = valid.to_vec();
    match i % 6 {
        0 => bytes.truncate(next() as usize % (valid.len() - 1)),
        1 => bytes[next() as usize % 4] ^= 1 + (next() % 255) as u8,
        2 => bytes[18] = 0x40 | (next() % 64) as u8, // track 1 longer than the file
        3 => bytes = (0..next() % 2000).map(|_| next() as u8).collect(),
        4 => {
            bytes.truncate(14);
            bytes.extend((0..1 + next() % 500).map(|_| next() as u8));
        }
        _ => bytes[12] |= 0x80, // SMPTE timing
    }
    bytes
}

#[test]
fn bad_requests_get_4xx_with_a_reason_and_the_server_still_answers() {
    let out = tempfile::tempdir().unwrap();
    let server = Server::start(out.path(), &["--max-upload", "65536"]);
    let valid = midi_melody(8);
    let mut rng = 0x9E37_79B9_7F4A_7C15u64;
    let harmonize = format!("/api/harmonize?model={MODEL}");
    for i in 0..300 {
        let bytes = mangled(&valid, i, &mut rng);
        let (status, answer) = server.post(&harmonize, "audio/midi", &bytes);
        assert_eq!(
            status,
            400,
            "mangled upload {i} ({} bytes): {answer}",
            bytes.len()
        );
        let error = answer["error"].as_str().unwrap();
        assert!(
            error.starts_with("harmonize: ") && !error.contains('\n'),
            "{error}"
        );
    }
    // Grid melodies and compose settings that mean nothing.
    for body in [
        "{",
        r#"{"notes": []}"#,
        r#"{"notes": [{"pitch": 300, "start": 0, "quarters": 1}]}"#,
        r#"{"notes": [{"pitch": 60, "start": 0, "quarters": 0}]}"#,
        r#"{"notes": [{"pitch": 60, "start": 4000000, "quarters": 1}]}"#,
        r#"{"notes": [{"pitch": 10, "start": 0, "quarters": 1}]}"#,
        r#"{"melody": 1}"#,
    ] {
        let (status, answer) = server.post(&harmonize, "application/json", body.as_bytes());
        assert_eq!(status, 400, "{body}: {answer}");
    }
    for body in [
        r#"{"model": "jsb/best.ot", "count": 0}"#,
        r#"{"model": "jsb/best.ot", "length": 100000}"#,
        r#"{"model": "jsb/best.ot", "gibbs": -1}"#,
        r#"{"model": "jsb/best.ot", "chain_start": "x"}"#,
        r#"{"model": "jsb/best.ot", "tempo": 0}"#,
        r#"{"model": "jsb/best.ot", "secret": 1}"#,
        "[]",
    ] {
        let (status, answer) = server.post("/api/compose", "application/json", body.as_bytes());
        assert_eq!(status, 400, "{body}: {answer}");
    }
    // Names that try to leave the listing: never found.
    for name in [
        "../../etc/passwd",
        "/etc/passwd",
        "jsb/../jsb/best.ot",
        "parameter_checkpoints/jsb/best.ot",
        "jsb%2F..%2F..%2FCargo.toml",
        "..%2Fparameter_checkpoints%2Fjsb%2Fbest.ot",
        "jsb\\best.ot",
        "",
    ] {
        let (status, answer) = server.post(
            &format!("/api/harmonize?model={name}"),
            "audio/midi",
            &valid,
        );
        assert_eq!(status, 404, "{name}: {answer}");
        let body = serde_json::json!({ "model": name }).to_string();
        let (status, _) = server.post("/api/compose", "application/json", body.as_bytes());
        assert_eq!(status, 404, "{name}");
    }
    for path in [
        "/api/jobs/1/files/..%2F..%2F..%2FCargo.toml",
        "/api/jobs/1/files/%2Fetc%2Fpasswd",
        "/api/jobs/..%2F..%2FCargo.toml/files/x",
        "/api/jobs/1/files/melody.mid",
        "/../Cargo.toml",
        "/api/jobs/99",
        "/src/serve/page/app.js",
    ] {
        assert_eq!(server.get(path).0, 404, "{path}");
    }
    // An upload over the cap.
    let (status, answer) = server.post(&harmonize, "audio/midi", &vec![b'M'; 70_000]);
    assert_eq!(status, 413, "{answer}");
    // Nothing was written for any of them.
    let run_dir = out
        .path()
        .read_dir()
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    assert_eq!(
        run_dir.read_dir().unwrap().count(),
        0,
        "refused requests wrote files"
    );
    // And the server still works.
    assert_eq!(server.get("/api/models").0, 200);
    let view = server.run(&harmonize, "audio/midi", &valid);
    assert_eq!(view["result"]["pieces"].as_array().unwrap().len(), 1);
}

#[test]
fn a_full_queue_refuses_cleanly_and_a_job_past_its_time_limit_is_stopped() {
    let out = tempfile::tempdir().unwrap();
    // The limit must leave the short jobs room on a loaded machine: with 5 s, a harmonisation
    // that takes about a second idle was stopped beside the whole suite's binaries at once on
    // 2 cores (`scripts/gpu-check.sh`'s dry run).
    let server = Server::start(out.path(), &["--queue", "2", "--time-limit", "20"]);
    let barrier = std::sync::Barrier::new(10);
    let melody = grid_melody(16);
    let answers: Vec<(u16, Value)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..10)
            .map(|i| {
                let (server, barrier, melody) = (&server, &barrier, &melody);
                scope.spawn(move || {
                    barrier.wait();
                    match i % 2 {
                        0 => server.post(&format!("/api/harmonize?model={MODEL}&seed={i}"), "application/json", melody),
                        _ => {
                            let body = serde_json::json!({"model": MODEL, "count": 1, "length": 24, "gibbs": 25, "seed": i});
                            server.post("/api/compose", "application/json", body.to_string().as_bytes())
                        }
                    }
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let accepted: Vec<u64> = answers
        .iter()
        .filter(|(s, _)| *s == 202)
        .map(|(_, a)| a["job"].as_u64().unwrap())
        .collect();
    for (status, answer) in &answers {
        assert!(*status == 202 || *status == 503, "{status}: {answer}");
        if *status == 503 {
            assert!(
                answer["error"].as_str().unwrap().contains("queue is full"),
                "{answer}"
            );
        }
    }
    assert!(!accepted.is_empty() && accepted.len() <= 2, "{answers:?}");
    for id in accepted {
        let view = server.wait(id);
        assert_eq!(view["state"], "done", "{view}");
    }
    // A job far longer than the limit is stopped, and the next one runs.
    let long = serde_json::json!({"model": MODEL, "count": 8, "length": 4000, "gibbs": 1000});
    let (status, accepted) = server.post(
        "/api/compose",
        "application/json",
        long.to_string().as_bytes(),
    );
    assert_eq!(status, 202);
    let view = server.wait(accepted["job"].as_u64().unwrap());
    assert_eq!(view["state"], "failed");
    assert!(
        view["error"].as_str().unwrap().contains("time limit"),
        "{view}"
    );
    server.run(
        &format!("/api/harmonize?model={MODEL}"),
        "application/json",
        &melody,
    );
}

/// Sounding pitches per quarter note of a song on the JSB grid.
fn frames(song: &midi::Song) -> Vec<Vec<usize>> {
    let roll = PianoRoll::from_song(song, 1, 21, 88).unwrap();
    (0..roll.steps())
        .map(|t| (0..88).filter(|&c| roll.is_sounding(t, c)).collect())
        .collect()
}

#[test]
fn continue_keeps_the_primer_and_infill_keeps_everything_outside_the_gap() {
    let out = tempfile::tempdir().unwrap();
    let server = Server::start(out.path(), &[]);
    let primer = midi_melody(8); // 16 quarter notes, 4 bars of 4/4
    let primer_song = midi::parse(&primer).unwrap();

    let view = server.run(
        &format!("/api/continue?model={MODEL}&length=16&count=1&seed=4&gibbs=50"),
        "audio/midi",
        &primer,
    );
    let result = &view["result"];
    assert_eq!(result["kind"], "continue");
    let song = check_piece(&server, &result["pieces"][0]);
    let (ours, theirs) = (frames(&song), frames(&primer_song));
    assert_eq!(ours.len(), 32, "16 quarters of primer and 16 new");
    assert_eq!(ours[..16], theirs[..16], "the primer is not kept");
    let command = result["command"].as_str().unwrap();
    assert!(
        command.contains(" --primer ") && command.contains(" --continue"),
        "{command}"
    );
    let run_dir = out
        .path()
        .read_dir()
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let dir = run_dir.join(format!("job-{}", view["id"]));
    check_command_reproduces(
        command,
        &dir,
        &["best_seed4_0.mid", "best_seed4_0.wav", "best_seed4_0.png"],
    );

    // Bars 2–3 of the four composed anew; bars 1 and 4 kept note for note.
    let view = server.run(
        &format!("/api/infill?model={MODEL}&from=2&to=3&seed=6"),
        "audio/midi",
        &primer,
    );
    let result = &view["result"];
    assert_eq!(result["kind"], "infill");
    let song = check_piece(&server, &result["pieces"][0]);
    let tpq = u64::from(song.ticks_per_quarter);
    let outside = |s: &midi::Song, scale: u64| -> Vec<(u8, u64, u64)> {
        s.notes
            .iter()
            .map(|n| (n.pitch, n.start * scale, n.end * scale))
            .filter(|&(_, start, _)| start < 4 * tpq || start >= 12 * tpq)
            .map(|(p, start, end)| {
                (
                    p,
                    start,
                    if start < 4 * tpq {
                        end.min(4 * tpq)
                    } else {
                        end
                    },
                )
            })
            .collect()
    };
    let kept_track = song.notes.iter().map(|n| n.track).min().unwrap();
    let ours: Vec<_> = outside(&song, 1).into_iter().collect();
    let theirs = outside(&primer_song, tpq / u64::from(primer_song.ticks_per_quarter));
    assert!(!theirs.is_empty());
    assert_eq!(ours, theirs, "the music outside the gap changed");
    let new: Vec<_> = song
        .notes
        .iter()
        .filter(|n| n.track != kept_track)
        .collect();
    assert!(!new.is_empty(), "nothing composed in the gap");
    assert!(
        new.iter().all(|n| n.start >= 4 * tpq && n.end <= 12 * tpq),
        "new notes outside the gap"
    );
    let command = result["command"].as_str().unwrap();
    let dir = run_dir.join(format!("job-{}", view["id"]));
    check_command_reproduces(command, &dir, &["filled.mid", "filled.wav", "filled.png"]);

    // Bars beyond the music, and a gap too long, are refused.
    for query in ["from=9&to=9", "from=3&to=2", "from=1&to=40", "from=0&to=1"] {
        let (status, answer) = server.post(
            &format!("/api/infill?model={MODEL}&{query}"),
            "audio/midi",
            &primer,
        );
        assert_eq!(status, 400, "{query}: {answer}");
    }
}

#[test]
fn the_listing_offers_trained_checkpoints_only_and_other_hosts_are_warned_about() {
    let dir = tempfile::tempdir().unwrap();
    let models = dir.path().join("checkpoints");
    std::fs::create_dir_all(models.join("mine")).unwrap();
    let jsb = Path::new(env!("CARGO_MANIFEST_DIR")).join("parameter_checkpoints/jsb");
    std::fs::copy(jsb.join("best.ot"), models.join("mine/epoch_7.ot")).unwrap();
    std::fs::write(models.join("broken.ot"), b"not a checkpoint").unwrap();
    std::fs::write(models.join("notes.txt"), b"").unwrap();
    let out = dir.path().join("out");
    let server = Server::start(&out, &["--checkpoints", models.to_str().unwrap()]);
    let (status, list) = server.get_json("/api/models");
    assert_eq!(status, 200);
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["mine/epoch_7.ot"]);
    assert_eq!(
        list[0]["epoch"], 225,
        "the sidecar inside the archive is read"
    );
    drop(server);

    // Any host but loopback is warned about; loopback says so.
    for (host, expected) in [
        ("0.0.0.0", "warning: --host 0.0.0.0 is not loopback"),
        ("127.0.0.1", ""),
    ] {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_rnn-rbm"))
            .args(["serve", "--host", host, "--port", "0", "--out"])
            .arg(&out)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
        let mut lines = String::new();
        // The address and the folder, printed once it listens; then whatever else it said.
        for _ in 0..2 {
            std::io::BufRead::read_line(&mut stdout, &mut lines).unwrap();
        }
        child.kill().unwrap();
        child.wait().unwrap();
        std::io::Read::read_to_string(&mut stdout, &mut lines).unwrap();
        let mut stderr = String::new();
        std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
        assert!(
            lines.starts_with(&format!("rnn-rbm studio: http://{host}:")),
            "{lines}"
        );
        match expected {
            "" => assert!(
                lines.contains("loopback only") && !stderr.contains("warning"),
                "{lines}{stderr}"
            ),
            warning => assert!(
                stderr.contains(warning) && !lines.contains("loopback only"),
                "{stderr}"
            ),
        }
    }
}
