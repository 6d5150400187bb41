//! `rnn-rbm stats`: how close a set of MIDI files comes to a reference corpus in style, and
//! whether it copies from it. The features, the overlap and the copy check are defined in
//! [`crate::style`]; this module reads the files and prints the [`Report`].
use crate::config::{Cell, Layout, ModelConfig};
use crate::corpus::{self, is_piano_roll_json, Corpus};
use crate::midi;
use crate::roll::PianoRoll;
use crate::style::{self, Feature, Piece, Report, StepSets};
use anyhow::{bail, ensure, Context, Result};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(clap::Args, Debug)]
pub struct StatsArgs {
    /// Generated MIDI files, or folders searched for .mid/.midi files
    #[arg(required = true)]
    pub generated: Vec<PathBuf>,
    /// The reference: a folder of MIDI files, a MIDI file, or a piano-roll JSON file (.json or
    /// .json.gz, whose frames are taken as quarter notes)
    #[arg(long, default_value = corpus::DEFAULT_DATA)]
    pub reference: PathBuf,
    /// The split of the reference: of a piano-roll JSON file [default: train], or of a MIDI folder
    /// (train or valid, every 10th file by name) [default: the whole folder]
    #[arg(long)]
    pub split: Option<String>,
    /// Window length in quarter notes: features are computed per window
    #[arg(long, default_value_t = 16)]
    pub window: u32,
    /// Grid of the comparison: steps per quarter note (4: sixteenth notes)
    #[arg(long, default_value_t = 4)]
    pub steps_per_quarter: u32,
    /// Histogram bins per feature, spanning the reference's range (plus one below, one above)
    #[arg(long, default_value_t = 20)]
    pub bins: usize,
    /// Leave the generated files out of the reference (to compare part of a corpus with the rest)
    #[arg(long)]
    pub holdout: bool,
    /// Print one JSON object instead of a table
    #[arg(long)]
    pub json: bool,
}

/// What `--json` prints: the report plus where it came from.
#[derive(Serialize)]
struct Output {
    reference_path: String,
    /// Reference pieces left out by `--holdout`.
    held_out: usize,
    seconds: f64,
    #[serde(flatten)]
    report: Report,
}

pub fn run(args: StatsArgs) -> Result<()> {
    let started = Instant::now();
    ensure!(args.window > 0, "--window must be at least 1 quarter note");
    ensure!(
        args.steps_per_quarter > 0,
        "--steps-per-quarter must be at least 1"
    );
    ensure!(args.bins > 0, "--bins must be at least 1");
    let generated = load_generated(&args.generated, args.steps_per_quarter)?;
    let mut reference = load_reference(
        &args.reference,
        args.split.as_deref(),
        args.steps_per_quarter,
    )?;
    let held_out = match args.holdout {
        true => hold_out(&mut reference, &generated, &args.reference)?,
        false => 0,
    };
    let report = style::compare(&generated, &reference, args.window, args.bins)?;
    let output = Output {
        reference_path: args.reference.display().to_string(),
        held_out,
        seconds: started.elapsed().as_secs_f64(),
        report,
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&output)?);
    } else {
        print_table(&output);
    }
    Ok(())
}

/// Every generated file on the grid; any file that cannot be used is an error naming it.
fn load_generated(paths: &[PathBuf], steps_per_quarter: u32) -> Result<Vec<Piece>> {
    let mut pieces = Vec::new();
    for path in paths {
        ensure!(path.exists(), "{} not found", path.display());
        let files = corpus::midi_files(path)?;
        ensure!(
            !files.is_empty(),
            "no .mid or .midi files in {}",
            path.display()
        );
        for file in files {
            let song = midi::read_file(&file)?;
            let roll = PianoRoll::from_song(&song, steps_per_quarter, 0, 128)
                .with_context(|| format!("cannot use MIDI file {}", file.display()))?;
            pieces.push(Piece {
                name: file.display().to_string(),
                sets: StepSets::from_roll(&roll),
            });
        }
    }
    Ok(pieces)
}

/// The reference through [`Corpus::load`] (unreadable files are skipped with a warning), on the
/// grid; a JSON roll's quarter-note frames are each held for `steps_per_quarter` steps.
fn load_reference(path: &Path, split: Option<&str>, steps_per_quarter: u32) -> Result<Vec<Piece>> {
    // (A missing default corpus gets Corpus::load's advice to run scripts/setup.sh.)
    let default = path == Path::new(corpus::DEFAULT_DATA);
    ensure!(
        path.exists() || default,
        "the reference {} not found",
        path.display()
    );
    let json = path.is_file() && is_piano_roll_json(path);
    let grid = if json { 1 } else { steps_per_quarter };
    let config = ModelConfig {
        layout: Layout::Paper,
        low_note: 0,
        n_notes: 128,
        steps_per_quarter: grid,
        onsets: true,
        steps_per_vector: 1,
        n_hidden: 0,
        n_rnn: 0,
        cell: Cell::Tanh,
        quantise: Default::default(),
    };
    let corpus = Corpus::load(path, split, &config)
        .with_context(|| format!("cannot load the reference {}", path.display()))?;
    let factor = (steps_per_quarter / grid) as usize;
    Ok(corpus
        .pieces
        .into_iter()
        .map(|p| Piece {
            name: p.name,
            sets: StepSets::from_roll(&p.roll).stretched(factor),
        })
        .collect())
}

/// Removes the generated files from the reference; returns how many there were.
fn hold_out(reference: &mut Vec<Piece>, generated: &[Piece], path: &Path) -> Result<usize> {
    let canonical = |name: &str| Path::new(name).canonicalize().ok();
    let generated: Vec<PathBuf> = generated
        .iter()
        .filter_map(|p| canonical(&p.name))
        .collect();
    let before = reference.len();
    reference.retain(|p| canonical(&p.name).is_none_or(|c| !generated.contains(&c)));
    let held_out = before - reference.len();
    if held_out == 0 {
        bail!(
            "--holdout: none of the generated files is in the reference {}",
            path.display()
        );
    }
    ensure!(
        !reference.is_empty(),
        "--holdout leaves nothing of the reference {}",
        path.display()
    );
    Ok(held_out)
}

/// The table lists the pieces with the longest copies, at most this many.
const SHOWN_COPIES: usize = 10;

fn print_table(output: &Output) {
    let r = &output.report;
    let number = |x: Option<f64>| x.map_or("-".to_string(), |x| format!("{x:.3}"));
    println!(
        "{:<32} {:>10} {:>10} {:>8}",
        "feature", "generated", "reference", "overlap"
    );
    for (f, c) in Feature::ALL.iter().zip(&r.features) {
        let (g, rf, o) = (
            number(c.generated_mean),
            number(c.reference_mean),
            number(c.overlap),
        );
        println!("{:<32} {g:>10} {rf:>10} {o:>8}", f.label());
    }
    println!(
        "{:<32} {:>10} {:>10} {:>8}",
        "mean overlap",
        "",
        "",
        number(r.mean_overlap)
    );
    println!(
        "\ngenerated: {} pieces, {} windows of {} quarters; reference {}: {} pieces, {} windows{}",
        r.generated_pieces,
        r.generated_windows,
        r.window_quarters,
        output.reference_path,
        r.reference_pieces,
        r.reference_windows,
        match output.held_out {
            0 => String::new(),
            n => format!(" ({n} held out)"),
        }
    );
    println!(
        "\nlongest stretch found note for note in the reference ({} steps per quarter): {} quarters",
        r.steps_per_quarter, r.longest_copy_quarters
    );
    let mut copies: Vec<_> = r.copies.iter().collect();
    copies.sort_by(|a, b| b.quarters.total_cmp(&a.quarters));
    for c in copies.iter().take(SHOWN_COPIES) {
        let place = match (&c.reference, c.at_quarter, c.reference_quarter) {
            (Some(name), Some(at), Some(there)) => {
                format!(" from quarter {at} = {name} at quarter {there}")
            }
            _ => String::new(),
        };
        println!("  {}: {} quarters{place}", c.piece, c.quarters);
    }
    if copies.len() > SHOWN_COPIES {
        println!(
            "  … and {} shorter ones (--json lists every piece)",
            copies.len() - SHOWN_COPIES
        );
    }
    println!("\n{:.2} s", output.seconds);
}
