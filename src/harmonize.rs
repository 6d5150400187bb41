//! `rnn-rbm harmonize`: write the lower voices under a melody.
//!
//! The melody is the top sounding note of every grid step of the input MIDI file (so a full
//! chorale gives its soprano line). In every frame where it sounds, its note is clamped on and
//! every pitch above it clamped off; the model samples the rest frame by frame with clamped Gibbs
//! sampling ([`crate::model::clamped`]), its RNN fed the whole harmonised frame. `--voices N` runs
//! each frame's chain on until it sounds N notes, melody included (N − 1 in 7 % of frames), then
//! caps it at N, keeping the melody, the bass and the likeliest. The output has the melody on
//! its own track, exactly as quantised to the model's grid (repeated notes stay repeated), and
//! the harmony on a second track as held notes: a pitch that sounds in consecutive frames is one
//! note.
use crate::checkpoint::load_model;
use crate::config::ModelConfig;
use crate::data::{frames_to_roll, read_roll, rescale_meta, roll_to_frames};
use crate::device::seed_or_clock;
use crate::midi::{self, Song};
use crate::model::clamped::Clamp;
use crate::model::likelihood::{continuation_nll, RANKING_CHAINS, RANKING_TEMPERATURES};
use crate::roll::PianoRoll;
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use tch::{Device, Kind, Tensor};

#[derive(clap::Args, Debug)]
pub struct HarmonizeArgs {
    /// MIDI file whose top voice is the melody (a lone melody, or a full score)
    pub melody: PathBuf,
    /// Checkpoint to harmonise with; a relative path not found here is looked up in parameter_checkpoints/
    #[arg(long)]
    pub checkpoint: PathBuf,
    /// Output MIDI file; with --count N > 1, OUT_1.mid … OUT_N.mid
    #[arg(short, long)]
    pub out: PathBuf,
    /// Notes sounding at once, melody included: each frame's chain runs on until it has this many
    /// (one fewer in 7 % of frames), and never more (0: as many as the model wants)
    #[arg(long, default_value_t = 4)]
    pub voices: i64,
    /// Number of alternative harmonisations to write
    #[arg(long, default_value_t = 1)]
    pub count: usize,
    /// Compose this many candidates for each output and keep the one the model finds likeliest
    /// (AIS-scored)
    #[arg(long, default_value_t = 1)]
    pub best_of: usize,
    /// Do not score the harmonisations (the NLL per frame printed beside each): with --best-of 1
    /// there is nothing to choose, the notes are the same, and scoring takes most of the time
    #[arg(long)]
    pub no_score: bool,
    /// Random seed [default: from the clock, printed]
    #[arg(long)]
    pub seed: Option<u64>,
    #[command(flatten)]
    pub sampler: crate::args::SamplerArgs,
    /// Velocity of the harmony's notes (the melody keeps its own)
    #[arg(long, default_value_t = 70, value_parser = clap::value_parser!(u8).range(1..=127))]
    pub velocity: u8,
    #[command(flatten)]
    pub compute: crate::args::ComputeArgs,
}

/// The top sounding note of every step of `roll`, with its onsets.
pub fn melody_of(roll: &PianoRoll) -> PianoRoll {
    let mut melody = PianoRoll::new(
        roll.steps(),
        roll.steps_per_quarter,
        roll.low_note,
        roll.n_notes,
    );
    for step in 0..roll.steps() {
        if let Some(col) = (0..roll.n_notes).rev().find(|&c| roll.is_sounding(step, c)) {
            let starts =
                roll.is_onset(step, col) || step == 0 || !melody.is_sounding(step - 1, col);
            melody.set(step, col, true, starts);
        }
    }
    melody
}

/// What harmonising `melody` holds fixed, as rolls of the same size: `fixed` marks the held
/// cells, `value` their values (the melody itself). Where the melody sounds, its note is held on
/// and every pitch above it off; where it rests, every pitch from the lower of its neighbouring
/// notes up is held off, so that the melody stays the top voice throughout. Both sounding and
/// onset bits are held.
pub fn melody_clamp(melody: &PianoRoll) -> (PianoRoll, PianoRoll) {
    let steps = melody.steps();
    let mut fixed = PianoRoll::new(
        steps,
        melody.steps_per_quarter,
        melody.low_note,
        melody.n_notes,
    );
    let top: Vec<Option<usize>> = (0..steps)
        .map(|step| (0..melody.n_notes).find(|&c| melody.is_sounding(step, c)))
        .collect();
    let mut previous = None;
    for step in 0..steps {
        let floor = match top[step] {
            Some(col) => {
                previous = Some(col);
                Some(col)
            }
            None => {
                let next = top[step..].iter().flatten().next().copied();
                match (previous, next) {
                    (Some(p), Some(n)) => Some(p.min(n)),
                    (p, n) => p.or(n),
                }
            }
        };
        if let Some(floor) = floor {
            for col in floor..melody.n_notes {
                fixed.set(step, col, true, true);
            }
        }
    }
    (fixed, melody.clone())
}

/// The clamp tensors `(B, T, V)` of `fixed`/`value` rolls, repeated for a batch.
pub fn clamp_tensors(
    fixed: &PianoRoll,
    value: &PianoRoll,
    config: &ModelConfig,
    batch: i64,
    device: Device,
) -> Clamp {
    let expand = |roll: &PianoRoll| {
        let frames = roll_to_frames(roll, config, device);
        let (t, v) = (frames.size()[0], frames.size()[1]);
        frames
            .unsqueeze(0)
            .expand([batch, t, v], false)
            .contiguous()
    };
    Clamp {
        fixed: expand(fixed),
        value: expand(value),
    }
}

/// Output paths: `out` itself for one piece, else `out_1.mid` … `out_n.mid`.
pub fn numbered_outputs(out: &Path, count: usize) -> Vec<PathBuf> {
    if count == 1 {
        return vec![out.to_path_buf()];
    }
    let stem = out.file_stem().and_then(|s| s.to_str()).unwrap_or("out");
    let ext = out.extension().and_then(|s| s.to_str()).unwrap_or("mid");
    (1..=count)
        .map(|i| out.with_file_name(format!("{stem}_{i}.{ext}")))
        .collect()
}

/// Chooses, for each of `count` outputs, the likeliest of its `best_of` consecutive candidates;
/// returns the indices into the candidates and their NLL per frame.
fn pick_best(nll_total: &[f64], count: usize, best_of: usize, frames: usize) -> Vec<(usize, f64)> {
    (0..count)
        .map(|i| {
            (i * best_of..(i + 1) * best_of)
                .map(|c| (c, nll_total[c] / frames.max(1) as f64))
                .fold((0, f64::INFINITY), |b, x| if x.1 < b.1 { x } else { b })
        })
        .collect()
}

/// One harmonisation written by [`harmonize`].
#[derive(Debug, Clone)]
pub struct Harmonised {
    pub path: PathBuf,
    /// What was written: the melody on track 1, the harmony on track 2.
    pub song: Song,
    /// The whole texture on the model's grid.
    pub roll: PianoRoll,
    pub frames: i64,
    /// The model's NLL per frame of it (AIS), unless `--no-score`.
    pub nll_per_frame: Option<f64>,
}

pub fn run(args: HarmonizeArgs) -> Result<()> {
    let (written, seed) = harmonize(&args, &mut |_, _| {})?;
    for h in &written {
        let nll = match h.nll_per_frame {
            Some(nll) => format!("NLL {nll:.3} per frame"),
            None => "not scored".into(),
        };
        println!(
            "wrote {} ({} frames, {:.2} notes per frame, {:.0}% of frames with ≥ 3 notes, {nll})",
            h.path.display(),
            h.frames,
            notes_per_frame(&h.roll),
            100.0 * frames_with_at_least(&h.roll, 3),
        );
    }
    eprintln!("seed {seed}");
    Ok(())
}

/// Harmonises `args.melody` and writes the MIDI files `args` asks for, calling
/// `progress(frames_done, frames_total)` as it composes; returns what was written and the seed.
pub fn harmonize(
    args: &HarmonizeArgs,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<(Vec<Harmonised>, u64)> {
    let (device, _threads) = args.compute.select()?;
    if args.count == 0 || args.best_of == 0 {
        bail!("--count and --best-of must be at least 1");
    }
    if args.no_score && args.best_of > 1 {
        bail!("--no-score needs --best-of 1: the scores choose among the candidates");
    }
    let loaded = load_model(&args.checkpoint, device)?;
    let config = loaded.sidecar.model.clone();
    let (input, roll) = read_roll(&args.melody, &config, "melody")?;
    let melody = melody_of(&roll);
    let (fixed, value) = melody_clamp(&melody);
    let candidates = (args.count * args.best_of) as i64;
    let clamp = clamp_tensors(&fixed, &value, &config, candidates, device);
    let frames = clamp.fixed.size()[1];
    if frames == 0 {
        bail!(
            "{}: the melody is shorter than one visible vector of the model",
            args.melody.display()
        );
    }
    let seed = seed_or_clock(args.seed);
    crate::model::rng::manual_seed(seed as i64);
    let model = &loaded.model;
    let u0 = model.initial_state(candidates);
    let v0 = Tensor::zeros([candidates, config.n_visible()], (Kind::Float, device));
    let voices = (args.voices > 0).then_some(args.voices);
    let sampler = args.sampler.resolve(&config)?;
    let out =
        model.generate_clamped_with_progress(&u0, &v0, &clamp, sampler, voices, &mut |done| {
            progress(done as usize, frames as usize)
        });
    let picks = match args.no_score {
        true => (0..args.count).map(|i| (i, None)).collect(),
        false => {
            let nll = continuation_nll(model, &u0, &v0, &out, RANKING_CHAINS, RANKING_TEMPERATURES);
            pick_best(&nll, args.count, args.best_of, frames as usize)
                .into_iter()
                .map(|(i, nll)| (i, Some(nll)))
                .collect::<Vec<_>>()
        }
    };

    let melody_song = melody.to_song(120.0, 90);
    let tpq = melody_song.ticks_per_quarter;
    let (tempos, time_signatures) = rescale_meta(&input, tpq);
    let mut written = Vec::with_capacity(args.count);
    for (path, (candidate, nll_per_frame)) in numbered_outputs(&args.out, args.count)
        .into_iter()
        .zip(picks)
    {
        let full = frames_to_roll(&out.get(candidate as i64), &config)?;
        let song = harmonised_song(
            &melody,
            &full,
            &input,
            args.velocity,
            tpq,
            &tempos,
            &time_signatures,
        );
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
        }
        midi::write_file(&path, &song)?;
        written.push(Harmonised {
            path,
            song,
            roll: full,
            frames,
            nll_per_frame,
        });
    }
    Ok((written, seed))
}

/// Mean number of sounding notes per step of `roll`.
pub fn notes_per_frame(roll: &PianoRoll) -> f64 {
    let sounding: usize = roll.sounding.iter().map(|&b| b as usize).sum();
    sounding as f64 / roll.steps().max(1) as f64
}

/// The fraction of steps of `roll` with at least `n` sounding notes.
pub fn frames_with_at_least(roll: &PianoRoll, n: usize) -> f64 {
    let full = (0..roll.steps())
        .filter(|&step| {
            (0..roll.n_notes)
                .filter(|&c| roll.is_sounding(step, c))
                .count()
                >= n
        })
        .count();
    full as f64 / roll.steps().max(1) as f64
}

/// The melody on track 1 (velocity from the input's loudest note, else 90) and the rest of
/// `full` on track 2, with the input's tempo map and time signatures.
fn harmonised_song(
    melody: &PianoRoll,
    full: &PianoRoll,
    input: &Song,
    velocity: u8,
    tpq: u16,
    tempos: &[midi::Tempo],
    time_signatures: &[midi::TimeSignature],
) -> Song {
    let melody_velocity = input.notes.iter().map(|n| n.velocity).max().unwrap_or(90);
    let mut harmony = full.clone();
    for step in 0..harmony.steps().min(melody.steps()) {
        for col in 0..harmony.n_notes {
            if melody.is_sounding(step, col) {
                harmony.set(step, col, false, false);
            }
        }
    }
    // Onsets of the harmony: where a pitch starts sounding (held notes are one note).
    harmony.mark_run_starts_as_onsets();
    let mut melody = melody.clone();
    // Only the steps the model saw (trailing steps that did not fill a vector are dropped).
    let steps = full.steps();
    melody.sounding.truncate(steps * melody.n_notes);
    melody.onset.truncate(steps * melody.n_notes);
    let mut notes = melody.to_song(120.0, melody_velocity).notes;
    for mut n in harmony.to_song(120.0, velocity).notes {
        n.track = 2;
        notes.push(n);
    }
    notes.sort_by_key(|n| (n.start, n.pitch, n.track));
    Song {
        ticks_per_quarter: tpq,
        notes,
        tempos: tempos.to_vec(),
        time_signatures: time_signatures.to_vec(),
        name: Some("rnn-rbm harmonisation".into()),
    }
}
