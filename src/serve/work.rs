//! The work behind `serve`'s jobs. Each job first writes the command line that reproduces it,
//! parses that with the CLI's own argument parser, and calls the library function the command
//! calls ([`generate::compose`], [`harmonize::harmonize`], [`crate::infill::infill`], then [`render`] and [`plot`] as
//! `render` and `plot` do), so the command shown beside a result makes the same files, bit for
//! bit. No music is computed here.
use super::jobs::{Outcome, Reporter};
use crate::gallery::shell_join;
use crate::generate::{self, GenerateArgs};
use crate::harmonize::{self, HarmonizeArgs};
use crate::{audio as render, draw as plot, midi};
use anyhow::{Context, Result};
use clap::Parser;
use rustysynth::SoundFont;
use serde_json::json;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Parser)]
#[command(name = "rnn-rbm generate")]
struct GenerateCli {
    #[command(flatten)]
    args: GenerateArgs,
}

#[derive(Parser)]
#[command(name = "rnn-rbm harmonize")]
struct HarmonizeCli {
    #[command(flatten)]
    args: HarmonizeArgs,
}

#[derive(Parser)]
#[command(name = "rnn-rbm infill")]
struct InfillCli {
    #[command(flatten)]
    args: crate::infill::InfillArgs,
}

/// What every job shares: the SoundFont (loaded once) and the flags passed on to every command.
pub struct Setting {
    pub soundfont: Arc<SoundFont>,
    /// `--soundfont FILE` when the server was given one.
    pub soundfont_flag: Vec<String>,
    /// `--device`, `--threads` when the server was given them.
    pub device_flags: Vec<String>,
}

/// A compose request, checked.
pub struct Compose {
    pub model: String,
    pub checkpoint: PathBuf,
    pub count: usize,
    pub length: usize,
    pub seed: u64,
    pub gibbs: i64,
    pub chain_start: String,
    pub tempo: f64,
    /// A primer to continue (`--primer FILE --continue`), already written.
    pub primer: Option<PathBuf>,
}

/// A harmonise request, checked; its melody is already written to `melody`.
pub struct Harmonize {
    pub model: String,
    pub checkpoint: PathBuf,
    pub melody: PathBuf,
    pub voices: i64,
    pub gibbs: i64,
    pub seed: u64,
}

fn s(path: &Path) -> String {
    path.display().to_string()
}

/// The URL of a job's file.
fn file_url(id: u64, name: &str) -> String {
    format!("/api/jobs/{id}/files/{}", crate::gallery::url(name))
}

/// Records `path` among the job's files; returns its URL.
fn serve_file(id: u64, files: &mut HashMap<String, PathBuf>, path: &Path) -> String {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    files.insert(name.clone(), path.to_path_buf());
    file_url(id, &name)
}

/// The width and height of a PNG file.
fn png_size(path: &Path) -> Result<(u32, u32)> {
    let file = std::fs::File::open(path).with_context(|| format!("cannot open {}", s(path)))?;
    let reader = png::Decoder::new(std::io::BufReader::new(file)).read_info()?;
    Ok((reader.info().width, reader.info().height))
}

/// One result piece for the page: its files' URLs, the picture's size, and its length.
fn piece_json(
    id: u64,
    files: &mut HashMap<String, PathBuf>,
    midi_path: &Path,
    wav: &Path,
    png: &Path,
) -> Result<serde_json::Value> {
    let song = midi::read_file(midi_path)?;
    let (width, height) = png_size(png)?;
    let end = song.notes.iter().map(|n| n.end).max().unwrap_or(0);
    Ok(json!({
        "title": midi_path.file_name().map(|n| n.to_string_lossy().into_owned()),
        "midi": serve_file(id, files, midi_path),
        "wav": serve_file(id, files, wav),
        "png": serve_file(id, files, png),
        "png_width": width,
        "png_height": height,
        "notes": song.notes.len(),
        "quarters": end as f64 / f64::from(song.ticks_per_quarter.max(1)),
    }))
}

/// The `generate` command line of a compose job writing into `dir`.
pub fn compose_argv(job: &Compose, dir: &Path, setting: &Setting) -> Vec<String> {
    let mut argv: Vec<String> = vec!["rnn-rbm".into(), "generate".into(), s(&job.checkpoint)];
    for (flag, value) in [
        ("--count", job.count.to_string()),
        ("--length", job.length.to_string()),
        ("--seed", job.seed.to_string()),
        ("--gibbs", job.gibbs.to_string()),
        ("--chain-start", job.chain_start.clone()),
        ("--tempo", job.tempo.to_string()),
        ("--out", s(dir)),
    ] {
        argv.extend([flag.to_string(), value]);
    }
    if let Some(primer) = &job.primer {
        argv.extend(["--primer".into(), s(primer), "--continue".into()]);
    }
    argv.extend(["--wav".into(), "--png".into()]);
    argv.extend(setting.soundfont_flag.iter().cloned());
    argv.extend(setting.device_flags.iter().cloned());
    argv
}

/// Composes: `rnn-rbm generate … --wav --png` into `dir`.
pub fn compose(
    id: u64,
    job: &Compose,
    dir: &Path,
    setting: &Setting,
    reporter: &Reporter,
) -> Result<Outcome> {
    let argv = compose_argv(job, dir, setting);
    let args = GenerateCli::try_parse_from(&argv[1..])?.args;
    let composition = generate::compose(&args, &mut |done, total| match done < total {
        true => reporter.report(0.9 * done as f64 / total as f64, "composing"),
        false => reporter.report(0.9, "rendering audio and piano rolls"),
    })?;
    let mut files = HashMap::new();
    let primer = job.primer.as_deref().map(|p| serve_file(id, &mut files, p));
    let mut pieces = Vec::new();
    for piece in &composition.pieces {
        let (Some(wav), Some(png)) = (&piece.wav, &piece.png) else {
            anyhow::bail!("generate wrote no WAV or PNG for {}", s(&piece.midi));
        };
        pieces.push(piece_json(id, &mut files, &piece.midi, wav, png)?);
    }
    Ok(Outcome {
        result: json!({
            "kind": if primer.is_some() { "continue" } else { "compose" },
            "model": job.model,
            "primer": primer,
            "seed": composition.seed,
            "primed_on": composition.primed_on,
            "command": shell_join(&argv),
            "pieces": pieces,
        }),
        files,
    })
}

/// The `harmonize` command line of a harmonise job writing `out`.
pub fn harmonize_argv(job: &Harmonize, out: &Path, setting: &Setting) -> Vec<String> {
    let mut argv: Vec<String> = vec!["rnn-rbm".into(), "harmonize".into(), s(&job.melody)];
    for (flag, value) in [
        ("--checkpoint", s(&job.checkpoint)),
        ("--out", s(out)),
        ("--voices", job.voices.to_string()),
        ("--gibbs", job.gibbs.to_string()),
        ("--seed", job.seed.to_string()),
    ] {
        argv.extend([flag.to_string(), value]);
    }
    argv.push("--no-score".into());
    argv.extend(setting.device_flags.iter().cloned());
    argv
}

/// Harmonises: `rnn-rbm harmonize MELODY -o harmony.mid`, then `render` and `plot` of it.
pub fn harmonize(
    id: u64,
    job: &Harmonize,
    dir: &Path,
    setting: &Setting,
    reporter: &Reporter,
) -> Result<Outcome> {
    let out = dir.join("harmony.mid");
    let argv = harmonize_argv(job, &out, setting);
    let args = HarmonizeCli::try_parse_from(&argv[1..])?.args;
    let (written, seed) = harmonize::harmonize(&args, &mut |done, total| match done < total {
        true => reporter.report(0.7 * done as f64 / total as f64, "harmonising"),
        false => reporter.report(0.7, "writing"),
    })?;
    let harmony = &written.first().context("harmonize wrote nothing")?.path;
    let mut files = HashMap::new();
    let (piece, command) = hear_and_see(id, &mut files, &argv, harmony, setting, reporter)?;
    let melody = serve_file(id, &mut files, &job.melody);
    Ok(Outcome {
        result: json!({
            "kind": "harmonize",
            "model": job.model,
            "seed": seed,
            "melody": melody,
            "command": command,
            "pieces": [piece],
        }),
        files,
    })
}

/// Renders and plots the MIDI file `written` by the command `argv` (as `rnn-rbm render` and
/// `rnn-rbm plot` do); returns the piece for the page and the whole command line.
fn hear_and_see(
    id: u64,
    files: &mut HashMap<String, PathBuf>,
    argv: &[String],
    written: &Path,
    setting: &Setting,
    reporter: &Reporter,
) -> Result<(serde_json::Value, String)> {
    reporter.report(0.8, "rendering audio and piano roll");
    let (wav, png) = (written.with_extension("wav"), written.with_extension("png"));
    let audio = render::render_file(written, &setting.soundfont, 44_100, true)?;
    render::write_wav(&wav, &audio)?;
    plot::plot_midi_file(written, &png)?;
    let mut render_argv = vec!["rnn-rbm".to_string(), "render".into(), s(written)];
    render_argv.extend(setting.soundfont_flag.iter().cloned());
    let command = format!(
        "{} && {} && {}",
        shell_join(argv),
        shell_join(&render_argv),
        shell_join(&["rnn-rbm", "plot", &s(written)])
    );
    Ok((piece_json(id, files, written, &wav, &png)?, command))
}

/// A fill-a-gap request, checked; its input is already written to `input`.
pub struct Infill {
    pub model: String,
    pub checkpoint: PathBuf,
    pub input: PathBuf,
    pub from: usize,
    pub to: usize,
    pub seed: u64,
}

/// The `infill` command line of a job writing `out`.
pub fn infill_argv(job: &Infill, out: &Path, setting: &Setting) -> Vec<String> {
    let mut argv: Vec<String> = vec!["rnn-rbm".into(), "infill".into(), s(&job.input)];
    for (flag, value) in [
        ("--checkpoint", s(&job.checkpoint)),
        ("--from", job.from.to_string()),
        ("--to", job.to.to_string()),
        ("--out", s(out)),
        ("--seed", job.seed.to_string()),
    ] {
        argv.extend([flag.to_string(), value]);
    }
    argv.extend(setting.device_flags.iter().cloned());
    argv
}

/// Fills a gap: `rnn-rbm infill INPUT --from A --to B -o filled.mid`, then `render` and `plot`.
pub fn infill(
    id: u64,
    job: &Infill,
    dir: &Path,
    setting: &Setting,
    reporter: &Reporter,
) -> Result<Outcome> {
    let out = dir.join("filled.mid");
    let argv = infill_argv(job, &out, setting);
    let args = InfillCli::try_parse_from(&argv[1..])?.args;
    let done = crate::infill::infill(&args, &mut |done, total| match done < total {
        true => reporter.report(0.6 * done as f64 / total as f64, "composing the gap"),
        false => reporter.report(0.6, "choosing by the bars after it"),
    })?;
    let mut files = HashMap::new();
    let (piece, command) = hear_and_see(id, &mut files, &argv, &out, setting, reporter)?;
    let input = serve_file(id, &mut files, &job.input);
    Ok(Outcome {
        result: json!({
            "kind": "infill",
            "model": job.model,
            "seed": done.seed,
            "input": input,
            "new_notes": done.new_notes,
            "command": command,
            "pieces": [piece],
        }),
        files,
    })
}
