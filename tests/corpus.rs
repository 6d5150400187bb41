//! The bundled corpora, loaded as training data: the Bach chorales built by `scripts/setup.sh`,
//! the JSB Chorales piano-roll JSON and the gzipped Nottingham, MuseData and Piano-midi.de
//! piano-roll JSON (train and valid splits).
use rnn_rbm::config::{Layout, ModelConfig};
use rnn_rbm::corpus::Corpus;
use std::path::Path;

fn bach() -> &'static Path {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/bach");
    assert!(
        path.is_dir(),
        "data/bach is missing: run scripts/setup.sh first"
    );
    Box::leak(path.into_boxed_path())
}

fn jsb() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("data/jsb-chorales-quarter.json")
}

/// Mean number of sounding notes over the steps where something sounds.
fn mean_polyphony(corpus: &Corpus) -> f64 {
    let (mut notes, mut steps) = (0usize, 0usize);
    for p in &corpus.pieces {
        for t in 0..p.roll.steps() {
            let n = (0..p.roll.n_notes)
                .filter(|&c| p.roll.is_sounding(t, c))
                .count();
            notes += n;
            steps += usize::from(n > 0);
        }
    }
    notes as f64 / steps as f64
}

#[test]
fn the_default_bach_corpus_loads_every_chorale_as_four_part_harmony() {
    let config = ModelConfig::for_layout(Layout::Seed, None);
    let corpus = Corpus::load(bach(), None, &config).unwrap();
    assert!(
        corpus.pieces.len() >= 350,
        "{} chorales",
        corpus.pieces.len()
    );
    assert!(corpus.skipped.is_empty(), "{:?}", corpus.skipped);
    // Four voices, sometimes fewer at cadences and rests: between 3 and 4.2 notes per step.
    let poly = mean_polyphony(&corpus);
    assert!((3.0..=4.2).contains(&poly), "mean polyphony {poly}");
    // Onsets: every step that starts a note also sounds it.
    for p in &corpus.pieces {
        for t in 0..p.roll.steps() {
            for c in 0..p.roll.n_notes {
                assert!(!p.roll.is_onset(t, c) || p.roll.is_sounding(t, c));
            }
        }
    }
    // 16th-note steps, 5 per visible vector of 780 bits.
    let (rows, n, width) = corpus.pieces[0].roll.to_visible(true, 5);
    assert_eq!(width, 780);
    assert_eq!(rows.len(), n * 780);
    assert_eq!(
        corpus.vectors(&config),
        corpus
            .pieces
            .iter()
            .map(|p| p.roll.steps() / 5)
            .sum::<usize>()
    );
}

#[test]
fn the_jsb_json_splits_have_the_published_piece_and_frame_counts() {
    let config = ModelConfig::for_layout(Layout::Paper, None);
    let train = Corpus::load(&jsb(), Some("train"), &config).unwrap();
    let valid = Corpus::load(&jsb(), Some("valid"), &config).unwrap();
    assert_eq!((train.pieces.len(), train.vectors(&config)), (229, 13_807));
    assert_eq!((valid.pieces.len(), valid.vectors(&config)), (76, 4_602));
    let poly = mean_polyphony(&train);
    assert!((3.5..=4.0).contains(&poly), "mean polyphony {poly}");
}

#[test]
fn a_missing_json_split_is_an_error_that_lists_the_splits() {
    let config = ModelConfig::for_layout(Layout::Paper, None);
    let err = Corpus::load(&jsb(), Some("test"), &config)
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains("has no split \"test\" (it has: train, valid)"),
        "{err}"
    );
}

#[test]
fn a_midi_folder_splits_by_name_into_nine_tenths_train_and_every_tenth_file_valid() {
    let config = ModelConfig::for_layout(Layout::Paper, None);
    let all = Corpus::load(bach(), None, &config).unwrap();
    let train = Corpus::load(bach(), Some("train"), &config).unwrap();
    let valid = Corpus::load(bach(), Some("valid"), &config).unwrap();
    let names = |c: &Corpus| -> Vec<String> { c.pieces.iter().map(|p| p.name.clone()).collect() };
    let (all, train, valid) = (names(&all), names(&train), names(&valid));
    // The 10th, 20th, … file in path order is held out; the two splits partition the folder.
    let expected_valid: Vec<String> = all.iter().skip(9).step_by(10).cloned().collect();
    assert_eq!(valid, expected_valid);
    assert_eq!(valid.len(), all.len() / 10);
    assert_eq!(train.len() + valid.len(), all.len());
    assert!(train.iter().all(|n| !valid.contains(n)));
    let mut both = [train, valid].concat();
    both.sort();
    assert_eq!(both, all);
}

#[test]
fn a_folder_split_decides_on_file_names_so_an_unreadable_file_moves_nothing() {
    let files: Vec<std::path::PathBuf> = (1..=25).map(|i| format!("d/{i:02}.mid").into()).collect();
    let valid = rnn_rbm::corpus::folder_split(files.clone(), "valid").unwrap();
    assert_eq!(
        valid,
        vec![std::path::PathBuf::from("d/10.mid"), "d/20.mid".into()]
    );
    assert_eq!(
        rnn_rbm::corpus::folder_split(files.clone(), "train")
            .unwrap()
            .len(),
        23
    );
    let err = rnn_rbm::corpus::folder_split(files, "test")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("\"train\" and \"valid\"") && err.contains("\"test\""),
        "{err}"
    );
}

fn bundled(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("data")
        .join(name)
}

/// Every MIDI pitch 0..=127 as a column, so that nothing a file holds is left out.
fn all_pitches() -> ModelConfig {
    ModelConfig {
        low_note: 0,
        n_notes: 128,
        ..ModelConfig::for_layout(Layout::Paper, None)
    }
}

/// Sounding cells over all frames, and the lowest and highest sounding MIDI pitch.
fn notes_and_range(corpus: &Corpus) -> (usize, u8, u8) {
    let (mut cells, mut low, mut high) = (0, u8::MAX, 0);
    for p in &corpus.pieces {
        for t in 0..p.roll.steps() {
            for c in 0..p.roll.n_notes {
                if p.roll.is_sounding(t, c) {
                    let pitch = p.roll.low_note + c as u8;
                    cells += 1;
                    low = low.min(pitch);
                    high = high.max(pitch);
                }
            }
        }
    }
    (cells, low, high)
}

#[test]
fn the_benchmark_json_splits_have_the_published_piece_and_frame_counts() {
    // (file, split, pieces, frames, sounding notes, lowest pitch, highest pitch): pieces and
    // frames as issue 16 lists them; notes and range as the files hold them.
    let expected = [
        ("nottingham.json.gz", "train", 694, 176_561, 699_403, 31, 93),
        ("nottingham.json.gz", "valid", 173, 45_513, 180_192, 34, 91),
        ("musedata.json.gz", "train", 524, 245_202, 856_543, 21, 96),
        ("musedata.json.gz", "valid", 135, 82_755, 287_893, 21, 100),
        (
            "piano-midi-de.json.gz",
            "train",
            87,
            75_911,
            231_089,
            21,
            108,
        ),
        ("piano-midi-de.json.gz", "valid", 12, 8_540, 27_623, 24, 104),
    ];
    let paper = ModelConfig::for_layout(Layout::Paper, None);
    for (file, split, pieces, frames, notes, low, high) in expected {
        let path = bundled(file);
        let corpus = Corpus::load(&path, Some(split), &paper).unwrap();
        assert!(
            corpus.skipped.is_empty(),
            "{file} {split}: {:?}",
            corpus.skipped
        );
        assert_eq!(
            (corpus.pieces.len(), corpus.vectors(&paper)),
            (pieces, frames),
            "{file} {split}"
        );
        // Every note lies on the paper layout's 88 keys: reading the file on all 128 pitches
        // finds the same notes, none below MIDI 21 or above 108.
        let (paper_notes, _, _) = notes_and_range(&corpus);
        let full = Corpus::load(&path, Some(split), &all_pitches()).unwrap();
        assert_eq!(notes_and_range(&full), (notes, low, high), "{file} {split}");
        assert_eq!(paper_notes, notes, "{file} {split}");
        assert!((21..=108).contains(&low) && (21..=108).contains(&high));
    }
}

#[test]
fn the_benchmark_files_hold_only_the_train_and_valid_splits() {
    let config = ModelConfig::for_layout(Layout::Paper, None);
    for file in [
        "nottingham.json.gz",
        "musedata.json.gz",
        "piano-midi-de.json.gz",
    ] {
        let path = bundled(file);
        let err = format!(
            "{:#}",
            Corpus::load(&path, Some("test"), &config).err().unwrap()
        );
        assert_eq!(
            err,
            format!(
                "{} has no split \"test\" (it has: train, valid)",
                path.display()
            )
        );
    }
}

#[test]
fn piano_roll_json_is_recognised_plain_or_gzipped_by_its_name() {
    use rnn_rbm::corpus::is_piano_roll_json;
    for yes in ["a.json", "d/a.JSON", "a.json.gz", "d/a.Json.GZ"] {
        assert!(is_piano_roll_json(Path::new(yes)), "{yes}");
    }
    for no in [
        "a.gz",
        "a.mid",
        "a.mid.gz",
        "a.json.zip",
        "json.gz",
        "a.jsonl",
    ] {
        assert!(!is_piano_roll_json(Path::new(no)), "{no}");
    }
}

/// `bytes` compressed as one gzip member, as `gzip -9` writes it.
fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

#[test]
fn a_gzipped_piano_roll_json_reads_exactly_like_the_plain_file() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read(jsb()).unwrap();
    let gz = dir.path().join("jsb.json.gz");
    std::fs::write(&gz, gzip(&text)).unwrap();
    // Two gzip members one after the other (as `cat a.gz b.gz` makes) read as their concatenation.
    let two = dir.path().join("two-members.JSON.GZ");
    let (head, tail) = text.split_at(text.len() / 2);
    std::fs::write(&two, [gzip(head), gzip(tail)].concat()).unwrap();
    let config = ModelConfig::for_layout(Layout::Paper, None);
    for split in ["train", "valid"] {
        let plain = Corpus::load(&jsb(), Some(split), &config).unwrap();
        for zipped_path in [&gz, &two] {
            let zipped = Corpus::load(zipped_path, Some(split), &config).unwrap();
            assert_eq!(zipped.pieces.len(), plain.pieces.len());
            for (i, (z, p)) in zipped.pieces.iter().zip(&plain.pieces).enumerate() {
                assert_eq!(z.roll, p.roll, "{split}[{i}]");
                assert_eq!(z.name, format!("{}[{split}][{i}]", zipped_path.display()));
            }
        }
    }
    // No --split: a gzipped file is a piano-roll JSON too, read from its train split.
    let default = Corpus::load(&gz, None, &config).unwrap();
    assert_eq!(
        (default.pieces.len(), default.vectors(&config)),
        (229, 13_807)
    );
}

#[test]
fn a_gz_file_that_is_not_gzip_or_holds_no_json_is_a_one_line_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let config = ModelConfig::for_layout(Layout::Paper, None);
    let error = |path: &Path| -> String {
        let err = format!(
            "{:#}",
            Corpus::load(path, Some("train"), &config).err().unwrap()
        );
        assert!(!err.contains('\n'), "{err}");
        err
    };

    let not_gzip = dir.path().join("plain.json.gz");
    std::fs::write(&not_gzip, br#"{"train": [[[60]]]}"#).unwrap();
    assert_eq!(
        error(&not_gzip),
        format!(
            "{} is not a readable gzip file: invalid gzip header",
            not_gzip.display()
        )
    );

    let not_json = dir.path().join("text.json.gz");
    std::fs::write(&not_json, gzip(b"train: C4 E4 G4\n")).unwrap();
    let err = error(&not_json);
    assert!(
        err.starts_with(&format!("{} is not valid JSON: ", not_json.display())),
        "{err}"
    );

    // Cut short: the gzip header is fine, the compressed stream ends early.
    let truncated = dir.path().join("cut.json.gz");
    let whole = gzip(&std::fs::read(jsb()).unwrap());
    std::fs::write(&truncated, &whole[..whole.len() / 2]).unwrap();
    let err = error(&truncated);
    assert!(
        err.starts_with(&format!(
            "{} is not a readable gzip file: ",
            truncated.display()
        )),
        "{err}"
    );
}

#[test]
fn the_chorale_layout_leaves_out_the_json_notes_beyond_its_56_keys_and_counts_them() {
    // Notes 33..=88 only: the benchmarks need --layout paper, whose 88 keys keep every note.
    let chorale = ModelConfig::for_layout(Layout::Chorale, None);
    let paper = ModelConfig::for_layout(Layout::Paper, None);
    for (file, outside) in [
        ("nottingham.json.gz", 82),
        ("musedata.json.gz", 12_419),
        ("piano-midi-de.json.gz", 9_429),
    ] {
        let path = bundled(file);
        let corpus = Corpus::load(&path, Some("train"), &chorale).unwrap();
        assert_eq!(corpus.notes_out_of_range, outside, "{file}");
        let kept = notes_and_range(&corpus).0;
        let all = notes_and_range(&Corpus::load(&path, Some("train"), &paper).unwrap()).0;
        assert_eq!(kept + outside, all, "{file}");
    }
    // JSB's train split reaches MIDI 96, above the chorale layout's 88 (made for data/bach).
    let jsb_chorale = Corpus::load(&jsb(), Some("train"), &chorale).unwrap();
    assert_eq!(jsb_chorale.notes_out_of_range, 2_015);
    let jsb_paper = Corpus::load(&jsb(), Some("train"), &paper).unwrap();
    assert_eq!(jsb_paper.notes_out_of_range, 0);
}
