//! Ornaments: the table learned from voice-separated MIDI, and what adding figures to
//! quarter-note frames keeps and changes.
use std::path::{Path, PathBuf};

use rand::SeedableRng;
use rnn_rbm::config::{Layout, ModelConfig};
use rnn_rbm::midi::{Note, Song};
use rnn_rbm::ornament::{self, Context, Figure, Table};
use rnn_rbm::roll::{PianoRoll, Quantise};
use rnn_rbm::style::{self, Piece, StepSets};

const Q: u64 = 480;

fn note(track: usize, pitch: u8, start: u64, end: u64) -> Note {
    Note {
        pitch,
        start,
        end,
        velocity: 80,
        channel: track as u8,
        track,
    }
}

fn song(notes: Vec<Note>) -> Song {
    Song {
        ticks_per_quarter: Q as u16,
        notes,
        tempos: vec![],
        time_signatures: vec![],
        name: None,
    }
}

fn figures_of(table: &Table, voice: u8, motion: Option<i8>, same: bool) -> Vec<(Figure, u32)> {
    let context = Context {
        voice,
        motion,
        same,
    };
    let entry = table.entries.iter().find(|e| e.context == context);
    entry.map_or(vec![], |e| {
        e.figures
            .iter()
            .map(|s| (s.figure.clone(), s.count))
            .collect()
    })
}

fn plain(strike: bool) -> Figure {
    Figure {
        strike,
        inner: vec![],
    }
}

#[test]
fn a_hand_made_chorale_teaches_exactly_its_figures() {
    // Soprano C5, D5 with a passing E5 eighth, F5 held over two beats; the lower voices hold one
    // whole note each. The tracks come in the order bass first, to show voices go by pitch.
    let four = song(vec![
        note(0, 53, 0, 4 * Q),
        note(1, 60, 0, 4 * Q),
        note(2, 65, 0, 4 * Q),
        note(3, 72, 0, Q),
        note(3, 74, Q, Q + Q / 2),
        note(3, 76, Q + Q / 2, 2 * Q),
        note(3, 77, 2 * Q, 4 * Q),
    ]);
    let three = song(vec![
        note(0, 60, 0, Q),
        note(1, 64, 0, Q),
        note(2, 67, 0, Q),
    ]);
    let table = Table::learn(&[four, three]);
    assert_eq!(table.pieces, 1, "the three-voice song is skipped");
    let figure = |inner: Vec<(u8, i8)>| Figure {
        strike: true,
        inner,
    };
    assert_eq!(
        figures_of(&table, 0, Some(2), false),
        vec![(plain(true), 1)]
    );
    assert_eq!(
        figures_of(&table, 0, Some(3), false),
        vec![(figure(vec![(2, 2)]), 1)]
    );
    assert_eq!(
        figures_of(&table, 0, Some(0), false),
        vec![(plain(true), 1)]
    );
    // The alto: struck on beat 0, tied over on beats 1 and 2; the last beat has no next beat.
    assert_eq!(
        figures_of(&table, 1, Some(0), false),
        vec![(plain(true), 1)]
    );
    assert_eq!(
        figures_of(&table, 1, Some(0), true),
        vec![(plain(false), 2)]
    );
    assert_eq!(
        figures_of(&table, 3, Some(0), true),
        vec![(plain(false), 2)]
    );
    // Beat 3 repeats beat 2's frame and nothing moves: held whole.
    assert_eq!(table.repeated, (1, 0));
    assert_eq!(table.still(), 1.0);
    let counted: u32 = table
        .entries
        .iter()
        .flat_map(|e| &e.figures)
        .map(|s| s.count)
        .sum();
    assert_eq!(counted, 4 * 3, "four voices, three beats with a next beat");
}

fn bach() -> PathBuf {
    let bach = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/bach");
    assert!(
        bach.is_dir(),
        "data/bach is missing: run scripts/setup.sh first"
    );
    bach
}

#[test]
fn the_bundled_table_is_what_the_train_chorales_of_data_bach_teach() {
    let learned = ornament::learn_folder(&bach()).unwrap();
    assert_eq!(learned, Table::bundled());
    assert!(
        learned.pieces > 350,
        "{} four-voice chorales",
        learned.pieces
    );
}

/// The valid chorales of data/bach (every 10th file), as the chorale layout reads them (one frame
/// per beat) and as the stats read them (16th notes).
fn valid_chorales() -> Vec<(String, PianoRoll, PianoRoll)> {
    let config = ModelConfig::for_layout(Layout::Chorale, None);
    let files =
        rnn_rbm::corpus::folder_split(rnn_rbm::corpus::midi_files(&bach()).unwrap(), "valid")
            .unwrap();
    files
        .iter()
        .map(|f| {
            let song = rnn_rbm::midi::read_file(f).unwrap();
            let frames = PianoRoll::from_song_with(
                &song,
                1,
                config.low_note,
                config.n_notes,
                Quantise::Sample,
            )
            .unwrap();
            let sixteenths = PianoRoll::from_song(&song, 4, 0, 128).unwrap();
            (f.display().to_string(), frames, sixteenths)
        })
        .collect()
}

fn pitches_at(roll: &PianoRoll, step: usize) -> Vec<u8> {
    (0..roll.n_notes)
        .filter(|&c| roll.is_sounding(step, c))
        .map(|c| roll.low_note + c as u8)
        .collect()
}

#[test]
fn ornaments_keep_every_beats_frame_and_mostly_keep_the_off_beats_consonant() {
    let table = Table::bundled();
    let (mut moved, mut dissonant) = (0, 0);
    for (name, frames, _) in valid_chorales().iter().take(12) {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let out = ornament::ornament(frames, &table, &mut rng).unwrap();
        assert_eq!(out.steps_per_quarter, 4);
        assert_eq!(out.steps(), 4 * frames.steps(), "{name}");
        assert_eq!(
            (out.low_note, out.n_notes),
            (frames.low_note, frames.n_notes)
        );
        for b in 0..frames.steps() {
            assert_eq!(
                pitches_at(&out, 4 * b),
                pitches_at(frames, b),
                "{name}, beat {b}"
            );
            for step in 4 * b + 1..4 * b + 4 {
                let onsets = (0..out.n_notes).any(|c| out.is_onset(step, c));
                if !onsets {
                    continue;
                }
                moved += 1;
                let mask = pitches_at(&out, step)
                    .iter()
                    .fold(0u128, |m, &p| m | 1 << p);
                let classes = style::pitch_classes(mask);
                if classes.count_ones() >= 3 && !style::is_chord(classes) {
                    dissonant += 1;
                }
            }
        }
    }
    assert!(moved > 100, "only {moved} onsets inside beats");
    // A beat that breaks the chord rule is kept with the chance DISSONANCE_KEPT (0.1); the others
    // are drawn again. Measured: 16 % (47 of 289) of these onsets sound no chord, a third without
    // the rule.
    let share = dissonant as f64 / moved as f64;
    eprintln!("{dissonant} of {moved} onsets inside beats sound no chord");
    assert!(
        share < 0.25,
        "{dissonant} of {moved} onsets inside beats sound no chord"
    );
}

#[test]
fn ornaments_depend_on_the_seed_alone() {
    let table = Table::bundled();
    let (_, frames, _) = &valid_chorales()[0];
    let with = |seed| {
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        ornament::ornament(frames, &table, &mut rng).unwrap()
    };
    assert_eq!(with(1), with(1));
    assert_ne!(with(1), with(2));
}

#[test]
fn a_roll_on_a_finer_grid_than_quarters_is_refused() {
    let roll = PianoRoll::new(8, 4, 33, 56);
    let mut rng = rand::rngs::StdRng::seed_from_u64(1);
    let err = ornament::ornament(&roll, &Table::bundled(), &mut rng).unwrap_err();
    assert!(
        err.to_string().contains("one frame per quarter note"),
        "{err}"
    );
}

/// The frames alone on the 16th grid, as `generate --ornaments off` writes them: every run of a
/// pitch is one held note.
fn stretched(frames: &PianoRoll) -> PianoRoll {
    let mut out = PianoRoll::new(4 * frames.steps(), 4, frames.low_note, frames.n_notes);
    for b in 0..frames.steps() {
        for c in 0..frames.n_notes {
            let starts = frames.is_sounding(b, c) && (b == 0 || !frames.is_sounding(b - 1, c));
            for step in 4 * b..4 * b + 4 {
                out.set(step, c, frames.is_sounding(b, c), starts && step == 4 * b);
            }
        }
    }
    out
}

/// Bach's own chorales, cut down to one frame per beat and ornamented, against the same chorales
/// as written: the figures bring back his rhythm (onsets, note lengths, the soprano's steps).
#[test]
fn ornamented_beat_frames_of_bach_come_back_close_to_bach() {
    let table = Table::bundled();
    let chorales = valid_chorales();
    let piece = |name: &str, roll: &PianoRoll| Piece {
        name: name.to_string(),
        sets: StepSets::from_roll(roll),
    };
    let written: Vec<Piece> = chorales.iter().map(|(n, _, s)| piece(n, s)).collect();
    let frames: Vec<Piece> = chorales
        .iter()
        .map(|(n, f, _)| piece(n, &stretched(f)))
        .collect();
    let ornamented: Vec<Piece> = chorales
        .iter()
        .enumerate()
        .map(|(i, (n, f, _))| {
            let mut rng = rand::rngs::StdRng::seed_from_u64(i as u64);
            piece(n, &ornament::ornament(f, &table, &mut rng).unwrap())
        })
        .collect();
    let report = |set: &[Piece]| style::compare(set, &written, 16, 20).unwrap();
    let (before, after) = (report(&frames), report(&ornamented));
    let mean = |r: &style::Report, name: &str| {
        let f = r.features.iter().find(|f| f.name == name).unwrap();
        (f.generated_mean.unwrap(), f.reference_mean.unwrap())
    };
    let (onsets, bach_onsets) = mean(&after, "onsets_per_quarter");
    let (length, bach_length) = mean(&after, "note_length");
    eprintln!(
        "mean overlap {:.3} -> {:.3}; onsets/q {:.2} -> {onsets:.2} (Bach {bach_onsets:.2}); note length {:.2} -> {length:.2} (Bach {bach_length:.2})",
        before.mean_overlap.unwrap(),
        after.mean_overlap.unwrap(),
        mean(&before, "onsets_per_quarter").0,
        mean(&before, "note_length").0,
    );
    assert!(
        (onsets / bach_onsets - 1.0).abs() < 0.12,
        "{onsets} onsets/q against {bach_onsets}"
    );
    assert!(
        (length / bach_length - 1.0).abs() < 0.12,
        "{length} q per note against {bach_length}"
    );
    assert!(after.mean_overlap.unwrap() > before.mean_overlap.unwrap() + 0.1);
}
