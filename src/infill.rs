//! `rnn-rbm infill`: compose bars FROM..TO of a MIDI file anew.
//!
//! The RNN reads everything before the gap; `--candidates` continuations of the gap's length are
//! composed from there in one batch. What comes *after* the gap is used soundly, by
//! sampling-importance-resampling: a candidate `s` drawn from `p(s | before)` is kept with
//! probability proportional to `p(after | before, s)` — the model's likelihood of the next
//! `--lookahead` bars given the candidate, from AIS — which approximates a draw from
//! `p(s | before, after)` and becomes exact as the number of candidates grows. The output is the
//! input file untouched outside the gap (a note that runs into the gap is cut at its start) with
//! the new notes on a track of their own.
use crate::bars::bar_start_tick;
use crate::checkpoint::load_model;
use crate::config::ModelConfig;
use crate::data::{frames_to_roll, read_roll, roll_to_frames};
use crate::device::seed_or_clock;
use crate::midi::{self, Note, Song};
use crate::model::clamped::Clamp;
use crate::model::likelihood::{continuation_nll, RANKING_CHAINS, RANKING_TEMPERATURES};
use crate::model::RnnRbm;
use crate::roll::PianoRoll;
use anyhow::{bail, Context, Result};
use rand::{Rng, SeedableRng};
use std::path::PathBuf;
use tch::{Kind, Tensor};

#[derive(clap::Args, Debug)]
pub struct InfillArgs {
    /// The MIDI file with a span to compose anew
    pub midi: PathBuf,
    /// Checkpoint to compose with; a relative path not found here is looked up in parameter_checkpoints/
    #[arg(long)]
    pub checkpoint: PathBuf,
    /// First bar to compose (bars count from 1, following the file's time signatures)
    #[arg(long)]
    pub from: usize,
    /// Last bar to compose (inclusive)
    #[arg(long)]
    pub to: usize,
    /// Output MIDI file
    #[arg(short, long)]
    pub out: PathBuf,
    /// Candidates composed for the gap, among which the bars after it choose (1: ignore them)
    #[arg(long, default_value_t = 16)]
    pub candidates: usize,
    /// Bars after the gap that judge the candidates (0: ignore what follows)
    #[arg(long, default_value_t = 2)]
    pub lookahead: usize,
    /// Notes sounding at once in the gap: each frame's chain runs on until it has this many (one
    /// fewer in 7 % of frames), and never more (0: as many as the model wants)
    #[arg(long, default_value_t = 0)]
    pub voices: i64,
    /// Random seed [default: from the clock, printed]
    #[arg(long)]
    pub seed: Option<u64>,
    #[command(flatten)]
    pub sampler: crate::args::SamplerArgs,
    /// Velocity of the new notes [default: the input's median]
    #[arg(long, value_parser = clap::value_parser!(u8).range(1..=127))]
    pub velocity: Option<u8>,
    #[command(flatten)]
    pub compute: crate::args::ComputeArgs,
}

/// What [`infill`] wrote.
#[derive(Debug, Clone)]
pub struct Infilled {
    pub song: Song,
    /// The gap, in ticks of the input.
    pub tick_from: u64,
    pub tick_to: u64,
    pub new_notes: usize,
    pub seed: u64,
}

pub fn run(args: InfillArgs) -> Result<()> {
    let done = infill(&args, &mut |_, _| {})?;
    println!(
        "wrote {}: bars {}–{} (ticks {}..{}) composed anew, {} new notes; seed {}",
        args.out.display(),
        args.from,
        args.to,
        done.tick_from,
        done.tick_to,
        done.new_notes,
        done.seed
    );
    Ok(())
}

/// Composes the gap of `args` and writes `args.out`, calling `progress(vectors_done,
/// vectors_total)` as it composes the candidates.
pub fn infill(args: &InfillArgs, progress: &mut dyn FnMut(usize, usize)) -> Result<Infilled> {
    let (device, _threads) = args.compute.select()?;
    if args.from == 0 || args.to < args.from {
        bail!("--from and --to are bar numbers from 1, with --from ≤ --to");
    }
    let loaded = load_model(&args.checkpoint, device)?;
    let config = loaded.sidecar.model.clone();
    let (input, roll) = read_roll(&args.midi, &config, "input")?;
    let frames = roll_to_frames(&roll, &config, device);
    let grid = Grid::new(&input, &config);
    let span = grid.span(&input, args, frames.size()[0])?;
    let seed = seed_or_clock(args.seed);
    crate::model::rng::manual_seed(seed as i64);
    let model = &loaded.model;
    let count = args.candidates.max(1) as i64;
    let (u, v_prev) = state_before(model, &frames, span.from, count);
    let voices = (args.voices > 0).then_some(args.voices);
    let clamp = Clamp::none(count, span.to - span.from, config.n_visible(), device);
    let sampler = args.sampler.resolve(&config)?;
    let total = (span.to - span.from) as usize;
    let gap =
        model.generate_clamped_with_progress(&u, &v_prev, &clamp, sampler, voices, &mut |done| {
            progress(done as usize, total)
        });
    let chosen = if span.after_end > span.to && count > 1 {
        let after = frames.narrow(0, span.to, span.after_end - span.to);
        choose_by_what_follows(model, &u, &gap, &after, seed)
    } else {
        0
    };
    let new_roll = frames_to_roll(&gap.get(chosen), &config)?;
    let (tick_from, tick_to) = (grid.tick_of_vector(span.from), grid.tick_of_vector(span.to));
    let song = splice(&input, &new_roll, tick_from, tick_to, args.velocity);
    if let Some(dir) = args.out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    midi::write_file(&args.out, &song)?;
    Ok(Infilled {
        song,
        tick_from,
        tick_to,
        new_notes: new_roll.notes().len(),
        seed,
    })
}

/// Ticks of the input file ↔ grid steps and visible vectors of the model.
struct Grid {
    ticks_per_quarter: u64,
    steps_per_quarter: u64,
    steps_per_vector: u64,
}

/// The gap `[from, to)` and what judges it, `[to, after_end)`, in visible vectors.
struct Span {
    from: i64,
    to: i64,
    after_end: i64,
}

impl Grid {
    fn new(input: &Song, config: &ModelConfig) -> Grid {
        Grid {
            ticks_per_quarter: u64::from(input.ticks_per_quarter.max(1)),
            steps_per_quarter: u64::from(config.steps_per_quarter),
            steps_per_vector: config.steps_per_vector as u64,
        }
    }

    /// The grid step nearest to `tick`.
    fn step_of(&self, tick: u64) -> u64 {
        (tick * self.steps_per_quarter + self.ticks_per_quarter / 2) / self.ticks_per_quarter
    }

    fn tick_of_vector(&self, v: i64) -> u64 {
        v as u64 * self.steps_per_vector * self.ticks_per_quarter / self.steps_per_quarter
    }

    /// The first visible vector at or after bar `bar`'s start.
    fn vector_at_bar(&self, input: &Song, bar: usize) -> u64 {
        self.step_of(bar_start_tick(input, bar))
            .div_ceil(self.steps_per_vector)
    }

    /// The gap in whole visible vectors of a piece of `n`: from the vector holding the first bar
    /// line, to the one holding the end of the last bar; then `--lookahead` bars more.
    fn span(&self, input: &Song, args: &InfillArgs, n: i64) -> Result<Span> {
        let spv = self.steps_per_vector;
        let from = (self.step_of(bar_start_tick(input, args.from)) / spv) as i64;
        let to = (self.vector_at_bar(input, args.to + 1) as i64).min(n);
        if from >= to {
            bail!(
                "{}: bars {}–{} are beyond its end ({} bars of music at most)",
                args.midi.display(),
                args.from,
                args.to,
                (0..)
                    .find(|&bar| self.step_of(bar_start_tick(input, bar + 1)) / spv >= n as u64)
                    .unwrap_or(0)
            );
        }
        let after_end =
            (self.vector_at_bar(input, args.to + 1 + args.lookahead) as i64).clamp(to, n);
        Ok(Span {
            from,
            to,
            after_end,
        })
    }
}

/// The RNN state after the first `before` vectors of `frames`, and the last of them (silence
/// and the initial state when `before` is 0), for `count` chains.
fn state_before(model: &RnnRbm, frames: &Tensor, before: i64, count: i64) -> (Tensor, Tensor) {
    let n_visible = frames.size()[1];
    tch::no_grad(|| {
        if before == 0 {
            (
                model.initial_state(count),
                Tensor::zeros([count, n_visible], (Kind::Float, frames.device())),
            )
        } else {
            let (_, u) = model.rnn_states(&frames.narrow(0, 0, before).unsqueeze(0), None);
            (
                u.expand([count, u.size()[1]], false).contiguous(),
                frames
                    .get(before - 1)
                    .unsqueeze(0)
                    .expand([count, n_visible], false)
                    .contiguous(),
            )
        }
    })
}

/// Sampling-importance-resampling on what follows the gap: one of the candidates `gap (C, T, V)`
/// (composed from the state `u`), drawn with probability proportional to the model's likelihood
/// of `after (T', V)` following it.
fn choose_by_what_follows(
    model: &RnnRbm,
    u: &Tensor,
    gap: &Tensor,
    after: &Tensor,
    seed: u64,
) -> i64 {
    let (count, steps, n_visible) = gap.size3().expect("candidates are (C, T, V)");
    let after_steps = after.size()[0];
    let after = after
        .unsqueeze(0)
        .expand([count, after_steps, n_visible], false)
        .contiguous();
    let (_, u_after) = tch::no_grad(|| model.rnn_states(gap, Some(u)));
    let nll = continuation_nll(
        model,
        &u_after,
        &gap.select(1, steps - 1),
        &after,
        RANKING_CHAINS,
        RANKING_TEMPERATURES,
    );
    let best = nll.iter().cloned().fold(f64::INFINITY, f64::min);
    let weights: Vec<f64> = nll.iter().map(|x| (best - x).exp()).collect();
    let total: f64 = weights.iter().sum();
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut r = rng.gen::<f64>() * total;
    let i = weights
        .iter()
        .position(|w| {
            r -= w;
            r <= 0.0
        })
        .unwrap_or(weights.len() - 1);
    eprintln!(
        "{count} candidates judged on the next {after_steps} vectors: chose {} (−log p(after) {:.2}; best {:.2}, worst {:.2})",
        i + 1,
        nll[i],
        best,
        nll.iter().cloned().fold(f64::NEG_INFINITY, f64::max)
    );
    i as i64
}

/// `input` with everything in `[tick_from, tick_to)` replaced by the notes of `gap` (a roll that
/// starts at `tick_from`), on a new track. Notes that start before the gap are cut at its start.
pub fn splice(
    input: &Song,
    gap: &PianoRoll,
    tick_from: u64,
    tick_to: u64,
    velocity: Option<u8>,
) -> Song {
    let mut kept: Vec<Note> = input
        .notes
        .iter()
        .filter(|n| n.start < tick_from || n.start >= tick_to)
        .map(|n| {
            let mut n = n.clone();
            if n.start < tick_from {
                n.end = n.end.min(tick_from);
            }
            n
        })
        .collect();
    let velocity = velocity.unwrap_or_else(|| {
        let mut v: Vec<u8> = input.notes.iter().map(|n| n.velocity).collect();
        v.sort_unstable();
        v.get(v.len() / 2).copied().unwrap_or(80)
    });
    let track = input.notes.iter().map(|n| n.track).max().unwrap_or(0) + 1;
    let tpq = u64::from(input.ticks_per_quarter.max(1));
    let spq = u64::from(gap.steps_per_quarter.max(1));
    let tick = |step: usize| tick_from + (step as u64 * tpq + spq / 2) / spq;
    for (col, start, end) in gap.notes() {
        let (start, end) = (tick(start), tick(end).min(tick_to));
        if end > start {
            kept.push(Note {
                pitch: gap.low_note + col as u8,
                start,
                end,
                velocity,
                channel: 0,
                track,
            });
        }
    }
    kept.sort_by_key(|n| (n.start, n.pitch, n.track));
    Song {
        notes: kept,
        ..input.clone()
    }
}
