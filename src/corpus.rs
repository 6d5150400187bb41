//! Training data: a folder of MIDI files (searched recursively for `.mid`/`.midi`), one MIDI
//! file, or a piano-roll JSON file in the Boulanger-Lewandowski format
//! (`{"train": [piece, …], "valid": …, "test": …}`, a piece being a list of frames and a frame
//! the list of sounding MIDI pitches), plain (`.json`) or gzipped (`.json.gz`, read directly).
//!
//! Every piece becomes a [`PianoRoll`] on the layout's grid and note range. A file that cannot
//! be read is skipped with a warning naming it and the reason; only an empty result is an error.
//!
//! A folder of MIDI files has two fixed splits too ([`folder_split`]): `valid` is every tenth
//! file in path order (the 10th, 20th, …), `train` the others, so that validation always sees
//! the same held-out pieces whatever the machine.
use crate::config::ModelConfig;
use crate::midi;
use crate::progress::Progress;
use crate::roll::PianoRoll;
use anyhow::{bail, Context, Result};
use std::io::Read;
use std::path::{Path, PathBuf};

/// The default corpus, built by `scripts/setup.sh` from music21's Bach chorales.
pub const DEFAULT_DATA: &str = "data/bach";

pub struct Piece {
    /// File path (MIDI) or `split[index]` (JSON).
    pub name: String,
    pub roll: PianoRoll,
}

pub struct Corpus {
    pub pieces: Vec<Piece>,
    /// Files or pieces left out, with the reason.
    pub skipped: Vec<(String, String)>,
    /// Notes of a piano-roll JSON file outside the layout's pitch range, left out of the rolls
    /// (counted once per frame a pitch sounds in).
    pub notes_out_of_range: usize,
}

impl Corpus {
    /// Loads `path` for a model of layout `config`; `split` selects a piano-roll JSON's split
    /// (default `train`). Warnings for skipped files go to stderr.
    pub fn load(path: &Path, split: Option<&str>, config: &ModelConfig) -> Result<Corpus> {
        if !path.exists() {
            if path == Path::new(DEFAULT_DATA) {
                bail!("the default corpus {DEFAULT_DATA}/ is missing: run scripts/setup.sh to build it, or pass --data DIR");
            }
            bail!("data {} not found", path.display());
        }
        let is_json = path.is_file() && is_piano_roll_json(path);
        if split.is_some() && !is_json && !path.is_dir() {
            bail!(
                "--split applies to a piano-roll JSON file or a folder of MIDI files, and {} is neither",
                path.display()
            );
        }
        if is_json && config.steps_per_quarter != 1 {
            bail!(
                "{} holds piano-roll frames, one per quarter note, and this layout's grid has {} steps per quarter note: train it with --layout paper (or --steps-per-quarter 1)",
                path.display(),
                config.steps_per_quarter
            );
        }
        let mut corpus = if is_json {
            load_json(path, split.unwrap_or("train"), config)?
        } else {
            load_midi(path, split, config)?
        };
        let min_steps = 2 * config.steps_per_vector;
        let (kept, short): (Vec<Piece>, Vec<Piece>) = corpus
            .pieces
            .into_iter()
            .partition(|p| p.roll.steps() >= min_steps);
        for p in short {
            corpus.skipped.push((
                p.name,
                format!("shorter than 2 visible vectors ({} steps)", p.roll.steps()),
            ));
        }
        corpus.pieces = kept;
        for (name, why) in &corpus.skipped {
            eprintln!("warning: skipping {name}: {why}");
        }
        if corpus.notes_out_of_range > 0 {
            eprintln!(
                "warning: {} notes of {} lie outside this layout's MIDI pitches {}..={} and are left out (--layout paper keeps 21..=108)",
                corpus.notes_out_of_range,
                path.display(),
                config.low_note,
                config.low_note as usize + config.n_notes - 1
            );
        }
        if corpus.pieces.is_empty() {
            bail!(
                "no usable pieces in {} ({} skipped)",
                path.display(),
                corpus.skipped.len()
            );
        }
        Ok(corpus)
    }

    /// Adds every piece transposed by ±1 … ±`max` semitones, where it stays within the note
    /// range (data augmentation: harmony and voice leading do not depend on the key).
    pub fn add_transpositions(&mut self, max: u32) {
        let mut extra = Vec::new();
        for piece in &self.pieces {
            for k in 1..=max as i32 {
                for s in [k, -k] {
                    if let Some(roll) = piece.roll.transpose(s) {
                        extra.push(Piece {
                            name: format!("{} ({s:+} semitones)", piece.name),
                            roll,
                        });
                    }
                }
            }
        }
        self.pieces.extend(extra);
    }

    /// The number of notes most of the corpus's sounding steps sound, and the share of sounding
    /// steps that sound exactly that many (`None` when no step sounds). A four-part chorale corpus
    /// read one frame per beat gives `(4, 0.89)`.
    pub fn parts(&self) -> Option<(usize, f64)> {
        let mut counts: Vec<usize> = Vec::new();
        for piece in &self.pieces {
            let roll = &piece.roll;
            for step in 0..roll.steps() {
                let n = (0..roll.n_notes)
                    .filter(|&c| roll.is_sounding(step, c))
                    .count();
                if n > 0 {
                    if counts.len() <= n {
                        counts.resize(n + 1, 0);
                    }
                    counts[n] += 1;
                }
            }
        }
        let total: usize = counts.iter().sum();
        let (n, most) = counts
            .iter()
            .enumerate()
            .max_by_key(|&(n, c)| (*c, std::cmp::Reverse(n)))?;
        (total > 0).then(|| (n, *most as f64 / total as f64))
    }

    /// Total number of visible vectors over all pieces.
    pub fn vectors(&self, config: &ModelConfig) -> usize {
        self.pieces
            .iter()
            .map(|p| p.roll.steps() / config.steps_per_vector)
            .sum()
    }

    /// Each piece as a `(n_vectors, n_visible)` row-major matrix of 0/1 values.
    pub fn visible(&self, config: &ModelConfig) -> Vec<(Vec<f32>, usize)> {
        self.pieces
            .iter()
            .map(|p| {
                let (data, n, _) = p.roll.to_visible(config.onsets, config.steps_per_vector);
                (data, n)
            })
            .collect()
    }
}

/// Whether `path` names a piano-roll JSON file (by its extension: `.json`, or `.json.gz` for
/// one compressed with gzip) rather than MIDI data.
pub fn is_piano_roll_json(path: &Path) -> bool {
    let ext = |p: &Path, e: &str| p.extension().is_some_and(|x| x.eq_ignore_ascii_case(e));
    ext(path, "json") || (ext(path, "gz") && ext(&path.with_extension(""), "json"))
}

/// The bytes of a piano-roll JSON file, decompressed when its name ends in `.gz` (a gzip file of
/// one or more members, as `gzip` writes them).
pub fn read_piano_roll_bytes(path: &Path) -> Result<Vec<u8>> {
    let raw = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let gzipped = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("gz"));
    if !gzipped {
        return Ok(raw);
    }
    let mut bytes = Vec::new();
    flate2::read::MultiGzDecoder::new(raw.as_slice())
        .read_to_end(&mut bytes)
        .with_context(|| format!("{} is not a readable gzip file", path.display()))?;
    Ok(bytes)
}

/// MIDI files under `path` (or `path` itself), sorted so that runs are reproducible.
pub fn midi_files(path: &Path) -> Result<Vec<PathBuf>> {
    if path.is_file() {
        return Ok(vec![path.to_path_buf()]);
    }
    let options = glob::MatchOptions {
        case_sensitive: false,
        ..Default::default()
    };
    let base = glob::Pattern::escape(path.to_str().context("data path is not valid UTF-8")?);
    let mut files = Vec::new();
    for ext in ["mid", "midi"] {
        for entry in glob::glob_with(&format!("{base}/**/*.{ext}"), options)? {
            files.push(entry?);
        }
    }
    files.sort();
    files.dedup();
    Ok(files)
}

/// Every how many files of a folder, in path order, one is held out as `valid`.
pub const VALID_EVERY: usize = 10;

/// The files of split `split` of a folder's MIDI `files` (sorted by path, as [`midi_files`]
/// returns them): `valid` holds the files at positions 10, 20, 30, … (counting from 1), `train`
/// all the others. The split is decided on the file list, before any file is read, so a file
/// that cannot be read does not move the others from one split to the other.
pub fn folder_split(files: Vec<PathBuf>, split: &str) -> Result<Vec<PathBuf>> {
    let held_out = |i: usize| i % VALID_EVERY == VALID_EVERY - 1;
    let keep: fn(bool) -> bool = match split {
        "train" => |h| !h,
        "valid" => |h| h,
        _ => bail!("a folder of MIDI files has the splits \"train\" and \"valid\" (every {VALID_EVERY}th file by name), not {split:?}"),
    };
    Ok(files
        .into_iter()
        .enumerate()
        .filter(|&(i, _)| keep(held_out(i)))
        .map(|(_, f)| f)
        .collect())
}

fn load_midi(path: &Path, split: Option<&str>, config: &ModelConfig) -> Result<Corpus> {
    let mut files = midi_files(path)?;
    if files.is_empty() {
        bail!("no .mid or .midi files in {}", path.display());
    }
    if let Some(split) = split {
        files = folder_split(files, split)?;
        if files.is_empty() {
            bail!("split {split:?} of {} holds no files", path.display());
        }
    }
    let mut corpus = Corpus {
        pieces: Vec::new(),
        skipped: Vec::new(),
        notes_out_of_range: 0,
    };
    let mut bar = Progress::bar_only("loading", files.len() as u64);
    for (i, file) in files.into_iter().enumerate() {
        bar.set(i as u64 + 1, String::new);
        let name = file.display().to_string();
        let roll = midi::read_file(&file).and_then(|song| {
            PianoRoll::from_song_with(
                &song,
                config.steps_per_quarter,
                config.low_note,
                config.n_notes,
                config.quantise,
            )
        });
        match roll {
            Ok(roll) => corpus.pieces.push(Piece { name, roll }),
            Err(e) => corpus.skipped.push((name, format!("{e:#}"))),
        }
    }
    bar.finish();
    Ok(corpus)
}

fn load_json(path: &Path, split: &str, config: &ModelConfig) -> Result<Corpus> {
    let bytes = read_piano_roll_bytes(path)?;
    let value: serde_json::Value = serde_json::from_slice(&bytes)
        .with_context(|| format!("{} is not valid JSON", path.display()))?;
    let Some(splits) = value.as_object() else {
        bail!(
            "{} is not a piano-roll JSON file (expected an object of splits)",
            path.display()
        );
    };
    let Some(pieces) = splits.get(split) else {
        let names: Vec<&str> = splits
            .iter()
            .filter(|(_, v)| v.is_array())
            .map(|(k, _)| k.as_str())
            .collect();
        bail!(
            "{} has no split {split:?} (it has: {})",
            path.display(),
            names.join(", ")
        );
    };
    let pieces = pieces.as_array().with_context(|| {
        format!(
            "{}: split {split:?} is not a list of pieces",
            path.display()
        )
    })?;
    let mut corpus = Corpus {
        pieces: Vec::new(),
        skipped: Vec::new(),
        notes_out_of_range: 0,
    };
    let high = config.low_note as usize + config.n_notes;
    for (i, piece) in pieces.iter().enumerate() {
        let name = format!("{}[{split}][{i}]", path.display());
        match parse_frames(piece) {
            Ok(frames) => match PianoRoll::from_frames(
                &frames,
                config.steps_per_quarter,
                config.low_note,
                config.n_notes,
            ) {
                Ok(roll) => {
                    corpus.notes_out_of_range += frames
                        .iter()
                        .flatten()
                        .filter(|&&p| p < config.low_note || p as usize >= high)
                        .count();
                    corpus.pieces.push(Piece { name, roll })
                }
                Err(e) => corpus.skipped.push((name, format!("{e:#}"))),
            },
            Err(e) => corpus.skipped.push((name, e)),
        }
    }
    Ok(corpus)
}

/// A JSON piece: frames of MIDI pitches (integers, or floats such as `60.0` as some datasets
/// store them).
fn parse_frames(piece: &serde_json::Value) -> std::result::Result<Vec<Vec<u8>>, String> {
    let frames = piece.as_array().ok_or("not a list of frames")?;
    frames
        .iter()
        .map(|frame| {
            let notes = frame.as_array().ok_or("a frame is not a list of pitches")?;
            notes
                .iter()
                .map(|n| match n.as_f64() {
                    Some(p) if (0.0..=127.0).contains(&p) && p.fract() == 0.0 => Ok(p as u8),
                    _ => Err(format!("{n} is not a MIDI pitch")),
                })
                .collect()
        })
        .collect()
}
