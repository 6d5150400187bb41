//! `rnn-rbm stats`: the style features on hand-made music whose values are known exactly, the
//! histogram overlap, the copy check, and the command end to end.
use rnn_rbm::midi::{self, Note, Song};
use rnn_rbm::roll::PianoRoll;
use rnn_rbm::style::copy::CopyIndex;
use rnn_rbm::style::overlap::histogram_overlap;
use rnn_rbm::style::{self, is_chord, pitch_classes, Feature, Piece, StepSets, Values};
use std::path::Path;
use std::process::{Command, Output};

const SPQ: u32 = 4;

/// A song of `(pitch, start, end)` notes, times in quarter notes (to the 16th).
fn song(notes: &[(u8, f64, f64)]) -> Song {
    let tick = |q: f64| (q * 480.0).round() as u64;
    Song {
        ticks_per_quarter: 480,
        notes: notes
            .iter()
            .map(|&(pitch, start, end)| Note {
                pitch,
                start: tick(start),
                end: tick(end),
                velocity: 80,
                channel: 0,
                track: 1,
            })
            .collect(),
        tempos: vec![],
        time_signatures: vec![],
        name: None,
    }
}

fn sets(notes: &[(u8, f64, f64)]) -> StepSets {
    StepSets::from_roll(&PianoRoll::from_song(&song(notes), SPQ, 0, 128).unwrap())
}

fn piece(name: &str, notes: &[(u8, f64, f64)]) -> Piece {
    Piece {
        name: name.to_string(),
        sets: sets(notes),
    }
}

/// The features of the first `quarters` quarter notes.
fn features(notes: &[(u8, f64, f64)], quarters: usize) -> Values {
    style::window_features(&sets(notes), 0..quarters * SPQ as usize)
}

fn value(values: &Values, f: Feature) -> Option<f64> {
    values[f as usize]
}

fn assert_close(actual: Option<f64>, expected: f64, what: &str) {
    let actual = actual.unwrap_or_else(|| panic!("{what} is undefined"));
    assert!(
        (actual - expected).abs() < 1e-12,
        "{what}: {actual}, expected {expected}"
    );
}

/// The same pitch every quarter note for `quarters` quarters.
fn repeated(pitch: u8, quarters: usize) -> Vec<(u8, f64, f64)> {
    (0..quarters)
        .map(|q| (pitch, q as f64, q as f64 + 1.0))
        .collect()
}

#[test]
fn a_held_c_major_triad_has_polyphony_3_entropy_log2_3_and_full_scale_and_chord_shares() {
    let v = features(&[(60, 0.0, 4.0), (64, 0.0, 4.0), (67, 0.0, 4.0)], 4);
    assert_close(
        value(&v, Feature::OnsetsPerQuarter),
        0.75,
        "onsets per quarter",
    );
    assert_close(value(&v, Feature::Polyphony), 3.0, "polyphony");
    assert_close(value(&v, Feature::Silence), 0.0, "silence");
    assert_close(value(&v, Feature::LongestGap), 4.0, "longest gap");
    assert_close(value(&v, Feature::PitchRange), 7.0, "pitch range");
    assert_close(
        value(&v, Feature::PitchClassEntropy),
        3f64.log2(),
        "entropy",
    );
    assert_close(value(&v, Feature::ScaleShare), 1.0, "scale share");
    assert_close(value(&v, Feature::ChordShare), 1.0, "chord share");
    assert_eq!(
        value(&v, Feature::TopVoiceInterval),
        None,
        "one top note has no interval"
    );
    assert_close(value(&v, Feature::NoteLength), 4.0, "note length");
}

#[test]
fn a_single_repeated_note_has_one_onset_per_quarter_no_range_no_entropy_and_no_chords() {
    let v = features(&repeated(62, 8), 8);
    assert_close(
        value(&v, Feature::OnsetsPerQuarter),
        1.0,
        "onsets per quarter",
    );
    assert_close(value(&v, Feature::Polyphony), 1.0, "polyphony");
    assert_close(value(&v, Feature::LongestGap), 1.0, "longest gap");
    assert_close(value(&v, Feature::PitchRange), 0.0, "pitch range");
    assert_close(value(&v, Feature::PitchClassEntropy), 0.0, "entropy");
    assert_close(value(&v, Feature::ScaleShare), 1.0, "scale share");
    assert_eq!(
        value(&v, Feature::ChordShare),
        None,
        "no onset has three pitch classes"
    );
    assert_close(
        value(&v, Feature::TopVoiceInterval),
        0.0,
        "top-voice interval",
    );
    assert_close(value(&v, Feature::NoteLength), 1.0, "note length");
}

#[test]
fn silence_counts_in_the_silent_share_and_the_gap_but_not_in_the_polyphony() {
    // Quarter notes at quarters 0 and 3: quarters 1 and 2 are silent.
    let v = features(&[(60, 0.0, 1.0), (67, 3.0, 4.0)], 4);
    assert_close(value(&v, Feature::Silence), 0.5, "silence");
    assert_close(
        value(&v, Feature::Polyphony),
        1.0,
        "polyphony over the sounding time",
    );
    assert_close(value(&v, Feature::LongestGap), 3.0, "onset to onset");
    assert_close(
        value(&v, Feature::OnsetsPerQuarter),
        0.5,
        "onsets per quarter",
    );
    // The gap after the last onset counts up to the window's end.
    let tail = features(&[(60, 0.0, 1.0), (62, 1.0, 2.0), (64, 8.0, 9.0)], 8);
    assert_close(
        value(&tail, Feature::LongestGap),
        7.0,
        "last onset to the window's end",
    );
    assert_close(value(&tail, Feature::Silence), 0.75, "silence");
}

#[test]
fn the_chromatic_scale_has_entropy_log2_12_and_seven_twelfths_in_the_best_scale() {
    let notes: Vec<_> = (0..12)
        .map(|k| (60 + k as u8, k as f64, k as f64 + 1.0))
        .collect();
    let v = features(&notes, 12);
    assert_close(
        value(&v, Feature::PitchClassEntropy),
        12f64.log2(),
        "entropy",
    );
    assert_close(value(&v, Feature::ScaleShare), 7.0 / 12.0, "scale share");
    assert_close(value(&v, Feature::PitchRange), 11.0, "pitch range");
    assert_close(
        value(&v, Feature::TopVoiceInterval),
        1.0,
        "top-voice interval",
    );
}

#[test]
fn chords_are_triads_and_sevenths_in_any_doubling_and_nothing_else() {
    let set = |pitches: &[u8]| pitch_classes(pitches.iter().fold(0u128, |m, &p| m | 1 << p));
    assert!(
        is_chord(set(&[43, 55, 59, 62, 65, 67])),
        "G7 with doubled G"
    );
    assert!(is_chord(set(&[57, 60, 64])), "A minor");
    assert!(is_chord(set(&[59, 62, 65, 68])), "B diminished seventh");
    assert!(
        is_chord(set(&[59, 62, 65, 69])),
        "B half-diminished seventh"
    );
    assert!(is_chord(set(&[60, 64, 68])), "C augmented");
    assert!(is_chord(set(&[60, 64, 67, 71])), "C major seventh");
    assert!(!is_chord(set(&[60, 62, 64])), "a cluster");
    assert!(!is_chord(set(&[60, 64, 67, 70, 74])), "a ninth chord");
    assert!(!is_chord(set(&[60, 67, 72])), "an open fifth");
}

#[test]
fn the_chord_share_counts_only_onsets_with_three_pitch_classes() {
    let notes = [
        // Quarter 0: C-E-G, a chord.
        (60, 0.0, 1.0),
        (64, 0.0, 1.0),
        (67, 0.0, 1.0),
        // Quarter 1: C-D-E, no chord.
        (60, 1.0, 2.0),
        (62, 1.0, 2.0),
        (64, 1.0, 2.0),
        // Quarter 2: C-E and C an octave up, two pitch classes: not counted.
        (60, 2.0, 3.0),
        (64, 2.0, 3.0),
        (72, 2.0, 3.0),
    ];
    let v = features(&notes, 3);
    assert_close(value(&v, Feature::ChordShare), 0.5, "chord share");
    assert_close(value(&v, Feature::Polyphony), 3.0, "polyphony");
}

#[test]
fn the_top_voice_moves_only_where_the_highest_note_starts() {
    // A held G4 above an alto that moves at quarter 1, then A4 at quarter 2: one interval, 2.
    let held = [
        (67, 0.0, 2.0),
        (60, 0.0, 1.0),
        (62, 1.0, 2.0),
        (69, 2.0, 3.0),
        (60, 2.0, 3.0),
    ];
    assert_close(
        value(&features(&held, 3), Feature::TopVoiceInterval),
        2.0,
        "interval",
    );
    // E4 G4 C5 G4 over a held C3: leaps 3, 5, 5.
    let melody = [
        (48, 0.0, 4.0),
        (64, 0.0, 1.0),
        (67, 1.0, 2.0),
        (72, 2.0, 3.0),
        (67, 3.0, 4.0),
    ];
    let v = features(&melody, 4);
    assert_close(value(&v, Feature::TopVoiceInterval), 13.0 / 3.0, "interval");
    assert_close(value(&v, Feature::NoteLength), 8.0 / 5.0, "note length");
}

#[test]
fn a_note_belongs_to_the_window_where_it_starts_with_its_whole_length() {
    // A whole note from quarter 2 to 6 over windows of 4 quarters.
    let s = sets(&[(60, 0.0, 1.0), (64, 2.0, 6.0)]);
    let windows = style::piece_features(&s, 4 * SPQ as usize);
    assert_eq!(
        windows.len(),
        1,
        "the trailing 2 quarters make no whole window"
    );
    assert_close(value(&windows[0], Feature::NoteLength), 2.5, "(1 + 4) / 2");
}

#[test]
fn pieces_are_cut_into_whole_windows_and_a_set_without_one_is_an_error() {
    let long = piece("long", &repeated(60, 40));
    assert_eq!(
        style::piece_features(&long.sets, 16 * SPQ as usize).len(),
        2
    );
    let short = piece("short", &repeated(60, 10));
    let error = style::compare(&[short], &[long], 16, 20).unwrap_err();
    assert!(
        format!("{error:#}").contains("smaller --window"),
        "{error:#}"
    );
}

#[test]
fn a_quarter_note_roll_stretched_to_the_grid_equals_the_same_notes_read_from_midi() {
    let frames = vec![vec![60, 64, 67], vec![60, 64, 67], vec![], vec![62]];
    let quarter_roll = PianoRoll::from_frames(&frames, 1, 0, 128).unwrap();
    let midi = sets(&[
        (60, 0.0, 2.0),
        (64, 0.0, 2.0),
        (67, 0.0, 2.0),
        (62, 3.0, 4.0),
    ]);
    assert_eq!(
        StepSets::from_roll(&quarter_roll).stretched(SPQ as usize),
        midi
    );
}

#[test]
fn histogram_overlap_is_the_share_held_in_common_on_the_references_bins() {
    let a = [0.1, 0.5, 0.5, 0.9];
    assert_eq!(histogram_overlap(&a, &a, 20), Some(1.0));
    assert_eq!(histogram_overlap(&[1.0, 1.0], &[2.0, 2.5], 20), Some(0.0));
    // Bins [0, 0.5) and [0.5, 1]: shares (1/2, 1/2) and (1/4, 3/4).
    assert_eq!(
        histogram_overlap(&[0.0, 0.0, 1.0, 1.0], &[0.0, 1.0, 1.0, 1.0], 2),
        Some(0.75)
    );
    assert_eq!(
        histogram_overlap(&[3.0], &[3.0, 3.0], 20),
        Some(1.0),
        "one value"
    );
    // The bins span the reference's range: a generated value beyond it shares nothing.
    assert_eq!(histogram_overlap(&[0.5, 5.0], &[0.0, 1.0], 2), Some(0.5));
    assert_eq!(histogram_overlap(&[3.0, 4.0], &[3.0, 3.0], 20), Some(0.5));
    assert_eq!(histogram_overlap(&[], &a, 20), None);
}

#[test]
fn identical_sets_overlap_1_on_every_feature_and_disjoint_ones_0() {
    let bach_like = |shift: u8| -> Vec<Piece> {
        (0..3u8)
            .map(|k| {
                let notes: Vec<_> = (0..32)
                    .flat_map(|q| {
                        let q = q as f64;
                        [
                            (48 + shift + k, q, q + 1.0),
                            (52 + shift + k, q, q + 1.0),
                            (60 + shift + (q as u8 % 5), q, q + 0.5),
                        ]
                    })
                    .collect();
                piece(&format!("p{k}"), &notes)
            })
            .collect()
    };
    let set = bach_like(0);
    let same = style::compare(&set, &set, 8, 20).unwrap();
    assert_eq!(same.mean_overlap, Some(1.0));
    assert!(same.features.iter().all(|f| f.overlap == Some(1.0)));
    assert_eq!(same.features.len(), 10);

    let sparse: Vec<Piece> = vec![piece("sparse", &[(30, 0.0, 1.0), (31, 8.0, 9.0)])];
    let dense = vec![piece(
        "dense",
        &(0..8)
            .flat_map(|q| {
                let q = q as f64;
                [
                    (60, q, q + 0.25),
                    (64, q, q + 0.25),
                    (67, q, q + 0.25),
                    (72, q + 0.5, q + 1.0),
                ]
            })
            .collect::<Vec<_>>(),
    )];
    let apart = style::compare(&sparse, &dense, 8, 20).unwrap();
    let overlap = |name: &str| {
        apart
            .features
            .iter()
            .find(|f| f.name == name)
            .unwrap()
            .overlap
    };
    for name in [
        "onsets_per_quarter",
        "silence",
        "longest_gap",
        "pitch_range",
        "note_length",
    ] {
        assert_eq!(overlap(name), Some(0.0), "{name}");
    }
}

#[test]
fn a_copied_stretch_of_exactly_six_quarters_is_found_as_six() {
    // The reference climbs one semitone a quarter from pitch 40; the generated piece has two
    // foreign quarters, then reference quarters 10..16, then foreign ones again.
    let reference = vec![
        piece("other", &repeated(90, 8)),
        piece(
            "ref",
            &(0..30)
                .map(|q| (40 + q as u8, q as f64, q as f64 + 1.0))
                .collect::<Vec<_>>(),
        ),
    ];
    let mut notes = vec![(100, 0.0, 1.0), (101, 1.0, 2.0)];
    notes.extend((0..6).map(|k| (50 + k as u8, 2.0 + k as f64, 3.0 + k as f64)));
    notes.extend([(41, 8.0, 9.0), (99, 9.0, 10.0)]);
    let generated = vec![piece("gen", &notes)];
    let report = style::compare(&generated, &reference, 4, 20).unwrap();
    let copy = &report.copies[0];
    assert_eq!(copy.quarters, 6.0);
    assert_eq!(copy.at_quarter, Some(2.0));
    assert_eq!(copy.reference.as_deref(), Some("ref"));
    assert_eq!(copy.reference_quarter, Some(10.0));
    assert_eq!(report.longest_copy_quarters, 6.0);
}

#[test]
fn a_piece_found_in_the_reference_is_copied_for_its_whole_length_rests_included() {
    // A rest from quarter 5 to 7 inside the tune.
    let tune = piece(
        "tune",
        &[
            (60, 0.0, 1.5),
            (62, 1.5, 2.0),
            (64, 2.0, 5.0),
            (65, 7.0, 9.0),
        ],
    );
    let other = piece("other", &repeated(70, 12));
    let index = CopyIndex::new([
        other.sets.sounding.as_slice(),
        tune.sets.sounding.as_slice(),
    ]);
    let found = index.longest(&tune.sets.sounding).unwrap();
    assert_eq!(
        (
            found.steps,
            found.start,
            found.reference,
            found.reference_start
        ),
        (36, 0, 1, 0)
    );
    let unbroken = piece("unbroken", &repeated(70, 12));
    assert_eq!(index.longest(&unbroken.sets.sounding).unwrap().steps, 48);
}

#[test]
fn shared_silence_alone_or_around_a_copy_counts_for_nothing() {
    // The reference: D for 2 quarters, 4 quarters of rest, E for 1 quarter.
    let reference = sets(&[(62, 0.0, 2.0), (64, 6.0, 7.0)]);
    let index = CopyIndex::new([reference.sounding.as_slice()]);
    assert_eq!(index.longest(&[0; 16]), None, "rests only");
    // The query: a rest, D for 1 quarter, the same 4 quarters of rest, then F: only D counts.
    let query = sets(&[(62, 1.0, 2.0), (65, 6.0, 7.0)]);
    let found = index.longest(&query.sounding).unwrap();
    assert_eq!((found.steps, found.start, found.reference_start), (4, 4, 0));
}

#[test]
fn a_transposed_copy_is_not_a_copy() {
    // Triads on C, F and G, a quarter each, and the same a semitone up.
    let triads = |shift: u8| -> Vec<(u8, f64, f64)> {
        (0..12)
            .flat_map(|q| {
                let root = [60, 65, 67][q % 3] + shift;
                let q = q as f64;
                [
                    (root, q, q + 1.0),
                    (root + 4, q, q + 1.0),
                    (root + 7, q, q + 1.0),
                ]
            })
            .collect()
    };
    let index = CopyIndex::new([sets(&triads(0)).sounding.as_slice()]);
    assert_eq!(index.longest(&sets(&triads(1)).sounding), None);
    assert_eq!(index.longest(&sets(&triads(0)).sounding).unwrap().steps, 48);
}

// ---------------------------------------------------------------------------------------------
// The command

fn rnn_rbm(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rnn-rbm"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the rnn-rbm binary runs")
}

fn write(dir: &Path, name: &str, notes: &[(u8, f64, f64)]) {
    std::fs::create_dir_all(dir.join(name).parent().unwrap()).unwrap();
    midi::write_file(&dir.join(name), &song(notes)).unwrap();
}

fn json(out: &Output) -> serde_json::Value {
    assert!(
        out.status.success(),
        "stats failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("one JSON object on stdout")
}

/// Three 12-quarter pieces: triads on C, D, E, a quarter each, rising by step.
fn write_reference(dir: &Path) {
    for k in 0..3u8 {
        let notes: Vec<_> = (0..12)
            .flat_map(|q| {
                let root = 48 + k + 2 * (q as u8 % 3);
                [
                    (root, q as f64, q as f64 + 1.0),
                    (root + 4, q as f64, q as f64 + 1.0),
                    (root + 7, q as f64, q as f64 + 1.0),
                ]
            })
            .collect();
        write(dir, &format!("ref/piece{k}.mid"), &notes);
    }
}

#[test]
fn stats_json_compares_a_folder_with_itself_as_identical_and_wholly_copied() {
    let dir = tempfile::tempdir().unwrap();
    write_reference(dir.path());
    let v = json(&rnn_rbm(
        dir.path(),
        &[
            "stats",
            "ref",
            "--reference",
            "ref",
            "--window",
            "4",
            "--json",
        ],
    ));
    assert_eq!(v["mean_overlap"], 1.0);
    assert_eq!(v["generated_pieces"], 3);
    assert_eq!(v["reference_windows"], 9);
    assert_eq!(v["window_quarters"], 4);
    assert_eq!(v["steps_per_quarter"], 4);
    let features = v["features"].as_array().unwrap();
    assert_eq!(features.len(), 10);
    let polyphony = features.iter().find(|f| f["name"] == "polyphony").unwrap();
    assert_eq!(
        (
            polyphony["generated_mean"].as_f64(),
            polyphony["reference_mean"].as_f64()
        ),
        (Some(3.0), Some(3.0))
    );
    assert_eq!(v["longest_copy_quarters"], 12.0);
    assert_eq!(v["copies"][0]["reference"], v["copies"][0]["piece"]);
}

#[test]
fn stats_holdout_leaves_the_generated_files_out_of_the_reference() {
    let dir = tempfile::tempdir().unwrap();
    write_reference(dir.path());
    let out = rnn_rbm(
        dir.path(),
        &[
            "stats",
            "ref/piece1.mid",
            "--reference",
            "ref",
            "--holdout",
            "--window",
            "4",
            "--json",
        ],
    );
    let v = json(&out);
    assert_eq!(v["held_out"], 1);
    assert_eq!(v["reference_pieces"], 2);
    // Piece 1 (triads on C#, D#, F) shares no chord with pieces 0 (C, D, E) and 2 (D, E, F#).
    assert_eq!(v["copies"][0]["quarters"], 0.0);
    assert_eq!(v["copies"][0]["reference"], serde_json::Value::Null);
}

#[test]
fn stats_reads_a_piano_roll_json_reference_as_quarter_notes() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "gen.mid",
        &[(60, 0.0, 8.0), (64, 0.0, 8.0), (67, 0.0, 8.0)],
    );
    let frames = vec![vec![60, 64, 67]; 8];
    let data = serde_json::json!({"train": [frames], "valid": [], "test": []});
    std::fs::write(dir.path().join("rolls.json"), data.to_string()).unwrap();
    let v = json(&rnn_rbm(
        dir.path(),
        &[
            "stats",
            "gen.mid",
            "--reference",
            "rolls.json",
            "--window",
            "8",
            "--json",
        ],
    ));
    assert_eq!(v["mean_overlap"], 1.0);
    assert_eq!(v["longest_copy_quarters"], 8.0);
    assert_eq!(v["copies"][0]["reference"], "rolls.json[train][0]");
}

#[test]
fn a_file_that_is_not_midi_gives_a_one_line_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    write_reference(dir.path());
    std::fs::write(dir.path().join("notes.mid"), "these are not notes\n").unwrap();
    let out = rnn_rbm(dir.path(), &["stats", "notes.mid", "--reference", "ref"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("error: cannot parse MIDI file notes.mid: "),
        "{err}"
    );
    assert!(out.stdout.is_empty());
}
