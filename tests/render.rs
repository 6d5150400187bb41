//! `render`: songs made here, rendered through the real General MIDI SoundFont, checked by
//! reading the WAV back: format, length, levels, tail, onset times under a tempo map, program
//! changes, errors. The SoundFont must be installed (scripts/setup.sh does it): without it these
//! tests fail, saying so, rather than skip.
use std::path::{Path, PathBuf};
use std::process::Command;

use midly::num::{u15, u28, u4, u7};
use midly::{Format, Header, MetaMessage, MidiMessage, Smf, Timing, TrackEvent, TrackEventKind};
use rnn_rbm::audio::{self as render, ProgramChange, ProgramChangeKind, Rendered};
use rnn_rbm::midi::{self, Note, Song, Tempo};

const TPQ: u16 = 480;

fn soundfont() -> PathBuf {
    let path = PathBuf::from(render::DEFAULT_SOUNDFONT);
    assert!(
        path.is_file(),
        "the SoundFont {} is missing: run scripts/setup.sh (it installs Debian's \
         csound-soundfont package)",
        path.display()
    );
    path
}

fn note(pitch: u8, start: u64, end: u64) -> Note {
    Note {
        pitch,
        start,
        end,
        velocity: 100,
        channel: 0,
        track: 1,
    }
}

fn song(notes: Vec<Note>, tempos: Vec<Tempo>) -> Song {
    Song {
        ticks_per_quarter: TPQ,
        notes,
        tempos,
        time_signatures: Vec::new(),
        name: None,
    }
}

fn tempo(tick: u64, qpm: f64) -> Tempo {
    Tempo {
        tick,
        micros_per_quarter: (60e6 / qpm).round() as u32,
    }
}

/// A C major chord held for 4 quarter notes at 120 qpm: 2 seconds, then the release.
fn chord_song() -> Song {
    let end = 4 * u64::from(TPQ);
    song(
        vec![note(60, 0, end), note(64, 0, end), note(67, 0, end)],
        vec![tempo(0, 120.0)],
    )
}

fn dbfs(x: f64) -> f64 {
    20.0 * (x / 32767.0).max(1e-12).log10()
}

fn peak(samples: &[i16]) -> f64 {
    samples
        .iter()
        .map(|&s| f64::from(s).abs())
        .fold(0.0, f64::max)
}

fn rms(samples: &[i16]) -> f64 {
    let sum: f64 = samples.iter().map(|&s| f64::from(s).powi(2)).sum();
    (sum / samples.len().max(1) as f64).sqrt()
}

/// The interleaved samples between two times, in seconds.
fn span(samples: &[i16], channels: usize, rate: u32, from: f64, to: f64) -> &[i16] {
    let at = |t: f64| ((t * f64::from(rate)) as usize * channels).min(samples.len());
    &samples[at(from)..at(to)]
}

fn read_wav(path: &Path) -> (hound::WavSpec, Vec<i16>) {
    let mut reader = hound::WavReader::open(path).expect("a WAV file");
    let spec = reader.spec();
    let samples = reader.samples::<i16>().map(|s| s.unwrap()).collect();
    (spec, samples)
}

#[test]
fn a_chord_should_render_as_a_normalised_44k_stereo_wav_with_its_release_tail() {
    let font = soundfont();
    let dir = tempfile::tempdir().unwrap();
    let rendered = render::render_song(&chord_song(), &font, 44_100, true).unwrap();
    assert!((rendered.notes_end_seconds - 2.0).abs() < 1e-9);
    let path = dir.path().join("chord.wav");
    render::write_wav(&path, &rendered).unwrap();
    assert!(!dir.path().join("chord.wav.tmp").exists());

    let (spec, samples) = read_wav(&path);
    assert_eq!(spec.sample_rate, 44_100);
    assert_eq!(spec.bits_per_sample, 16);
    assert_eq!(spec.channels, 2);
    assert_eq!(spec.sample_format, hound::SampleFormat::Int);
    assert_eq!(samples, rendered.samples);

    // Length: the last note-off (2 s) plus a tail of at most 3 s, rendered in 10 ms blocks.
    let seconds = samples.len() as f64 / 2.0 / 44_100.0;
    let tail = seconds - 2.0;
    assert!(
        (0.05..=render::MAX_TAIL_SECONDS + 1e-6).contains(&tail),
        "{seconds} s in all, a tail of {tail} s"
    );
    assert!((rendered.seconds() - seconds).abs() < 1e-9);

    // Levels: the peak is at -1 dBFS, the chord is loud, the release is heard and then ends
    // 60 dB down (or at the 3 s limit).
    let full_peak = peak(&samples);
    assert!(
        (dbfs(full_peak) - render::PEAK_DBFS).abs() < 0.05,
        "peak {} dBFS",
        dbfs(full_peak)
    );
    let sounding = span(&samples, 2, 44_100, 0.1, 1.9);
    assert!(
        dbfs(rms(sounding)) > -30.0,
        "RMS {} dBFS",
        dbfs(rms(sounding))
    );
    let release = span(&samples, 2, 44_100, 2.0, 2.05);
    assert!(
        dbfs(rms(release)) > -50.0,
        "release RMS {} dBFS",
        dbfs(rms(release))
    );
    let last = span(&samples, 2, 44_100, seconds - 0.01, seconds + 1.0);
    assert!(
        tail > render::MAX_TAIL_SECONDS - 0.011 || peak(last) <= 0.0011 * full_peak + 1.0,
        "the tail stops at {tail} s while its last 10 ms peak at {} dBFS",
        dbfs(peak(last))
    );
}

#[test]
fn mono_and_other_sample_rates_should_be_written_as_asked() {
    let font = soundfont();
    let dir = tempfile::tempdir().unwrap();
    let rendered = render::render_song(&chord_song(), &font, 22_050, false).unwrap();
    assert_eq!((rendered.channels, rendered.sample_rate), (1, 22_050));
    let path = dir.path().join("mono.wav");
    render::write_wav(&path, &rendered).unwrap();
    let (spec, samples) = read_wav(&path);
    assert_eq!(
        (spec.channels, spec.sample_rate, spec.bits_per_sample),
        (1, 22_050, 16)
    );
    let seconds = samples.len() as f64 / 22_050.0;
    assert!((2.05..=5.0 + 1e-6).contains(&seconds), "{seconds} s");
    assert!((dbfs(peak(&samples)) - render::PEAK_DBFS).abs() < 0.05);
    // Mono is the mean of the two sides, normalised: computed here from the stereo rendering,
    // to within the rounding of the two (a sample of each is within half a step).
    let stereo = render::render_song(&chord_song(), &font, 22_050, true).unwrap();
    assert_eq!(stereo.frames(), samples.len());
    let means: Vec<f64> = stereo
        .samples
        .chunks(2)
        .map(|lr| (f64::from(lr[0]) + f64::from(lr[1])) / 2.0)
        .collect();
    let means_peak = means.iter().fold(0.0f64, |p, m| p.max(m.abs()));
    let scale = 10f64.powf(render::PEAK_DBFS / 20.0) * 32767.0 / means_peak;
    let worst = means
        .iter()
        .zip(&samples)
        .map(|(m, &s)| (m * scale - f64::from(s)).abs())
        .fold(0.0, f64::max);
    assert!(
        worst <= 1.5,
        "a mono sample {worst} steps from the mean of the sides"
    );

    let error = render::render_song(&chord_song(), &font, 8_000, false).unwrap_err();
    assert!(format!("{error:#}").contains("sample rate"), "{error:#}");
}

/// Onsets from the energy envelope: the energy of 5.8 ms frames every 2.9 ms; an onset is a
/// frame at least 6 times (8 dB) louder than the quietest frame of the 40 ms before it and above
/// -40 dB of the loudest frame, the first of a run of such frames. Its time is the frame's start.
fn onsets(rendered: &Rendered) -> Vec<f64> {
    let channels = usize::from(rendered.channels);
    let mono: Vec<f64> = rendered
        .samples
        .chunks(channels)
        .map(|frame| frame.iter().map(|&s| f64::from(s)).sum::<f64>() / channels as f64)
        .collect();
    let (size, hop) = (256, 128);
    let energy: Vec<f64> = (0..mono.len().saturating_sub(size) / hop)
        .map(|i| {
            mono[i * hop..i * hop + size]
                .iter()
                .map(|x| x * x)
                .sum::<f64>()
        })
        .collect();
    let loudest = energy.iter().copied().fold(0.0, f64::max);
    let back = (0.040 * f64::from(rendered.sample_rate) / hop as f64) as usize;
    let mut found = Vec::new();
    let mut previous = false;
    for i in 0..energy.len() {
        let quietest = energy[i.saturating_sub(back)..i]
            .iter()
            .copied()
            .fold(f64::INFINITY, f64::min)
            .min(if i < back { 0.0 } else { f64::INFINITY });
        let onset = energy[i] > 1e-4 * loudest && energy[i] > 6.0 * quietest;
        if onset && !previous {
            found.push((i * hop) as f64 / f64::from(rendered.sample_rate));
        }
        previous = onset;
    }
    found
}

#[test]
fn notes_should_start_at_their_times_under_a_tempo_map() {
    let font = soundfont();
    let q = u64::from(TPQ);
    // 120 qpm for 2 quarters, 60 qpm for 2, then 240 qpm: quarters start at
    // 0, 0.5, 1.0, 2.0, 3.0, 3.25, 3.5 s. Ignoring the tempo map would put them 0.5 s apart.
    let notes = (0..7)
        .map(|k| note(if k % 2 == 0 { 60 } else { 67 }, k * q, k * q + q / 8))
        .collect();
    let tempos = vec![tempo(0, 120.0), tempo(2 * q, 60.0), tempo(4 * q, 240.0)];
    let rendered = render::render_song(&song(notes, tempos), &font, 44_100, false).unwrap();
    let expected = [0.0, 0.5, 1.0, 2.0, 3.0, 3.25, 3.5];
    let found = onsets(&rendered);
    assert_eq!(found.len(), expected.len(), "onsets at {found:?}");
    for (found, expected) in found.iter().zip(expected) {
        assert!(
            (found - expected).abs() < 0.02,
            "an onset at {found:.3} s, expected {expected} s"
        );
    }
    // The last note ends an eighth of a 240-qpm quarter after 3.5 s.
    assert!((rendered.notes_end_seconds - (3.5 + 0.25 / 8.0)).abs() < 1e-9);
}

#[test]
fn a_song_without_notes_should_be_an_error() {
    let font = soundfont();
    let error =
        render::render_song(&song(Vec::new(), Vec::new()), &font, 44_100, true).unwrap_err();
    assert!(format!("{error:#}").contains("no notes"), "{error:#}");
}

fn program_file(program: u8) -> Vec<u8> {
    let midi = |message| TrackEventKind::Midi {
        channel: u4::new(0),
        message,
    };
    let track = vec![
        TrackEvent {
            delta: u28::new(0),
            kind: midi(MidiMessage::ProgramChange {
                program: u7::new(program),
            }),
        },
        TrackEvent {
            delta: u28::new(0),
            kind: midi(MidiMessage::NoteOn {
                key: u7::new(60),
                vel: u7::new(100),
            }),
        },
        TrackEvent {
            delta: u28::new(u32::from(TPQ) * 2),
            kind: midi(MidiMessage::NoteOff {
                key: u7::new(60),
                vel: u7::new(64),
            }),
        },
        TrackEvent {
            delta: u28::new(0),
            kind: TrackEventKind::Meta(MetaMessage::EndOfTrack),
        },
    ];
    let smf = Smf {
        header: Header::new(Format::SingleTrack, Timing::Metrical(u15::new(TPQ))),
        tracks: vec![track],
    };
    let mut bytes = Vec::new();
    smf.write_std(&mut bytes).unwrap();
    bytes
}

#[test]
fn program_changes_in_a_file_should_be_honoured() {
    let font = render::load_soundfont(&soundfont()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let violin = dir.path().join("violin.mid");
    std::fs::write(&violin, program_file(40)).unwrap();
    assert_eq!(
        render::program_changes(&program_file(40)).unwrap(),
        vec![ProgramChange {
            tick: 0,
            channel: 0,
            kind: ProgramChangeKind::Program(40)
        }]
    );
    let piano = dir.path().join("piano.mid");
    std::fs::write(&piano, program_file(0)).unwrap();
    let as_violin = render::render_file(&violin, &font, 22_050, false).unwrap();
    let as_piano = render::render_file(&piano, &font, 22_050, false).unwrap();
    // A piano decays while a violin holds: the second half of the note differs.
    let late = |r: &Rendered| rms(span(&r.samples, 1, 22_050, 0.8, 1.0)) / peak(&r.samples);
    assert!(
        (late(&as_violin) - late(&as_piano)).abs() > 0.02,
        "violin {} vs piano {}",
        late(&as_violin),
        late(&as_piano)
    );

    // Our own files carry program 0: rendering the file is rendering the song.
    let written = dir.path().join("chord.mid");
    midi::write_file(&written, &chord_song()).unwrap();
    let from_file = render::render_file(&written, &font, 22_050, true).unwrap();
    let from_song = render::render_song_with(&chord_song(), &[], &font, 22_050, true).unwrap();
    assert_eq!(from_file, from_song);

    // A change after the last note is harmless.
    let late = [ProgramChange {
        tick: 1 << 40,
        channel: 0,
        kind: ProgramChangeKind::Program(40),
    }];
    let with_late = render::render_song_with(&chord_song(), &late, &font, 22_050, true).unwrap();
    assert_eq!(with_late, from_song);
}

#[test]
fn missing_sf3_and_foreign_soundfonts_should_get_a_one_line_error_saying_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let missing = render::load_soundfont(&dir.path().join("none.sf2")).unwrap_err();
    let message = format!("{missing:#}");
    assert!(
        message.contains("not found")
            && message.contains("csound-soundfont")
            && message.contains("--soundfont"),
        "{message}"
    );
    assert!(!message.contains('\n'));

    // The head of an SF3 file: RIFF sfbk, LIST INFO, ifil version 3.1.
    let mut sf3 = Vec::new();
    sf3.extend_from_slice(b"RIFF");
    sf3.extend_from_slice(&100u32.to_le_bytes());
    sf3.extend_from_slice(b"sfbkLIST");
    sf3.extend_from_slice(&16u32.to_le_bytes());
    sf3.extend_from_slice(b"INFOifil");
    sf3.extend_from_slice(&4u32.to_le_bytes());
    sf3.extend_from_slice(&[3, 0, 1, 0]);
    let path = dir.path().join("font.sf3");
    std::fs::write(&path, &sf3).unwrap();
    let message = format!("{:#}", render::load_soundfont(&path).unwrap_err());
    assert!(
        message.contains("SF3") && message.contains("--soundfont FILE.sf2"),
        "{message}"
    );

    let foreign = dir.path().join("notes.txt");
    std::fs::write(&foreign, "not a soundfont").unwrap();
    let message = format!("{:#}", render::load_soundfont(&foreign).unwrap_err());
    assert!(message.contains("not a SoundFont"), "{message}");
}

fn rnn_rbm(dir: &Path, args: &[&str], soundfont: Option<&str>) -> std::process::Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_rnn-rbm"));
    command.args(args).current_dir(dir);
    match soundfont {
        Some(path) => command.env(render::SOUNDFONT_ENV, path),
        None => command.env_remove(render::SOUNDFONT_ENV),
    };
    command.output().unwrap()
}

#[test]
fn the_render_command_should_write_wav_files_beside_their_midi_files() {
    soundfont();
    let dir = tempfile::tempdir().unwrap();
    for name in ["a.mid", "b.mid"] {
        midi::write_file(&dir.path().join(name), &chord_song()).unwrap();
    }
    let out = rnn_rbm(
        dir.path(),
        &[
            "render",
            "a.mid",
            "b.mid",
            "--mono",
            "--sample-rate",
            "22050",
        ],
        None,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Each file holds exactly what the library renders for the song.
    let font = render::load_soundfont(&soundfont()).unwrap();
    let mono = render::render_song_with(&chord_song(), &[], &font, 22_050, false).unwrap();
    for name in ["a.wav", "b.wav"] {
        let (spec, samples) = read_wav(&dir.path().join(name));
        assert_eq!((spec.channels, spec.sample_rate), (1, 22_050));
        assert_eq!(samples, mono.samples, "{name}");
    }

    let out = rnn_rbm(dir.path(), &["render", "a.mid", "-o", "x.wav"], None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stereo = render::render_song_with(&chord_song(), &[], &font, 44_100, true).unwrap();
    let (spec, samples) = read_wav(&dir.path().join("x.wav"));
    assert_eq!((spec.channels, spec.sample_rate), (2, 44_100));
    assert_eq!(samples, stereo.samples);

    // -o with several inputs, and a SoundFont named by the environment that is missing: one
    // line each, exit status 1.
    for (args, soundfont, expected) in [
        (&["render", "a.mid", "b.mid", "-o", "x.wav"][..], None, "-o"),
        (
            &["render", "a.mid"][..],
            Some("/nowhere/gm.sf2"),
            "/nowhere/gm.sf2",
        ),
    ] {
        let out = rnn_rbm(dir.path(), args, soundfont);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(
            stderr.starts_with("error: ") && stderr.contains(expected),
            "{stderr}"
        );
    }
}
