//! `plot`: piano rolls of MIDI files and training charts of `metrics.jsonl`, as PNG images.
//!
//! The command reads its input, tells which kind it is (by extension, else by content) and
//! draws it with [`crate::draw`]: a MIDI file as a piano roll ([`crate::draw::roll`]), a
//! metrics.jsonl as a training chart ([`crate::draw::chart`]), a checkpoint as the chart of the
//! metrics.jsonl beside it, marked at the checkpoint's epoch. A checkpoint is looked up as every
//! command looks it up ([`checkpoint::resolve`]).

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{bail, ensure, Context, Result};
use clap::Args;

use crate::checkpoint;
use crate::draw::{plot_metrics, plot_metrics_marked, plot_midi_file};

#[derive(Args, Debug)]
pub struct PlotArgs {
    /// A MIDI file (piano roll), a metrics.jsonl (training chart) or a checkpoint (*.ot: the
    /// chart of the metrics.jsonl beside it, marked at the checkpoint's epoch)
    #[arg(value_name = "MIDI | metrics.jsonl | CKPT")]
    pub input: PathBuf,
    /// Output PNG [default: the input with .png instead of its extension]
    #[arg(short, long, value_name = "OUT.png")]
    pub out: Option<PathBuf>,
}

/// The `plot` command.
pub fn run(args: PlotArgs) -> Result<()> {
    let input = locate_input(&args.input)?;
    let out = args.out.unwrap_or_else(|| input.with_extension("png"));
    match input_kind(&input)? {
        InputKind::Midi => {
            plot_midi_file(&input, &out)?;
        }
        InputKind::Metrics => {
            plot_metrics(&input, &out)?;
        }
        InputKind::Checkpoint => {
            let folder = input.parent().unwrap_or(Path::new("."));
            let metrics = folder.join("metrics.jsonl");
            ensure!(
                metrics.is_file(),
                "no metrics.jsonl beside checkpoint {} (training writes it in its --out folder)",
                input.display()
            );
            plot_metrics_marked(&metrics, &out, checkpoint_epoch(&input))?;
        }
    }
    println!("{} -> {}", input.display(), out.display());
    Ok(())
}

/// A checkpoint (`*.ot`) is looked up as every command looks it up: a relative path not found
/// here may be in `parameter_checkpoints/` (`plot jsb/best.ot`). Other inputs are taken as given.
fn locate_input(input: &Path) -> Result<PathBuf> {
    if has_extension(input, &["ot"]) {
        checkpoint::resolve(input)
    } else {
        Ok(input.to_path_buf())
    }
}

enum InputKind {
    Midi,
    Metrics,
    Checkpoint,
}

fn has_extension(path: &Path, extensions: &[&str]) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| extensions.iter().any(|x| e.eq_ignore_ascii_case(x)))
}

fn input_kind(input: &Path) -> Result<InputKind> {
    if has_extension(input, &["mid", "midi", "smf"]) {
        return Ok(InputKind::Midi);
    }
    if has_extension(input, &["jsonl", "json"]) {
        return Ok(InputKind::Metrics);
    }
    if has_extension(input, &["ot"]) {
        return Ok(InputKind::Checkpoint);
    }
    // Otherwise, by content.
    let head = fs::read(input)
        .map(|bytes| bytes.into_iter().take(4).collect::<Vec<u8>>())
        .with_context(|| format!("cannot read {}", input.display()))?;
    if head.starts_with(b"MThd") || head.starts_with(b"RIFF") {
        Ok(InputKind::Midi)
    } else if head.starts_with(b"{") {
        Ok(InputKind::Metrics)
    } else {
        bail!(
            "{} is neither a MIDI file, a metrics.jsonl nor a checkpoint (*.ot)",
            input.display()
        )
    }
}

/// `epoch_500.ot` → 500.
fn checkpoint_epoch(path: &Path) -> Option<u64> {
    path.file_stem()?
        .to_str()?
        .strip_prefix("epoch_")?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkpoint_names_should_give_their_epoch() {
        assert_eq!(checkpoint_epoch(Path::new("x/epoch_500.ot")), Some(500));
        assert_eq!(checkpoint_epoch(Path::new("initialized.ot")), None);
    }
}
