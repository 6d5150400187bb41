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
use crate::checkpoint::load_model;
use crate::data::{frames_to_roll, read_roll, roll_to_frames};
use crate::device::seed_or_clock;
use crate::device::{self, DeviceArg};
use crate::midi::{self, Note, Song};
use crate::model::clamped::Clamp;
use crate::model::likelihood::continuation_nll;
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
    /// Most notes sounding at once in the gap (0: as many as the model wants)
    #[arg(long, default_value_t = 0)]
    pub voices: i64,
    /// Random seed [default: from the clock, printed]
    #[arg(long)]
    pub seed: Option<u64>,
    /// Gibbs steps per visible vector
    #[arg(long, default_value_t = 25)]
    pub gibbs: i64,
    /// Velocity of the new notes [default: the input's median]
    #[arg(long, value_parser = clap::value_parser!(u8).range(1..=127))]
    pub velocity: Option<u8>,
    #[arg(long, value_enum, default_value = "auto")]
    pub device: DeviceArg,
    #[arg(long)]
    pub threads: Option<i32>,
}

/// The tick at which bar `bar` (1-based) starts, following the time signatures (4/4 before the
/// first one).
pub fn bar_start_tick(song: &Song, bar: usize) -> u64 {
    let tpq = u64::from(song.ticks_per_quarter.max(1));
    let bar_len =
        |num: u8, den: u8| (tpq * 4 * u64::from(num.max(1)) / u64::from(den.max(1))).max(1);
    let (mut tick, mut len) = (0u64, bar_len(4, 4));
    let mut signatures = song.time_signatures.iter().peekable();
    let mut current = 1usize;
    while current < bar {
        // A signature change at or before this bar line takes effect here.
        while let Some(ts) = signatures.peek() {
            if ts.tick <= tick {
                len = bar_len(ts.numerator, ts.denominator);
                signatures.next();
            } else {
                break;
            }
        }
        tick += len;
        current += 1;
    }
    tick
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
    let device = device::select(args.device, args.threads)?;
    if args.from == 0 || args.to < args.from {
        bail!("--from and --to are bar numbers from 1, with --from ≤ --to");
    }
    let loaded = load_model(&args.checkpoint, device)?;
    let config = loaded.sidecar.model.clone();
    let (input, roll) = read_roll(&args.midi, &config, "input")?;
    let frames = roll_to_frames(&roll, &config, device);
    let n = frames.size()[0];
    let tpq = u64::from(input.ticks_per_quarter.max(1));
    let spq = u64::from(config.steps_per_quarter);
    let spv = config.steps_per_vector as u64;
    let step_of = |tick: u64| (tick * spq + tpq / 2) / tpq;
    let tick_of_vector = |v: i64| v as u64 * spv * tpq / spq;
    // The gap in whole visible vectors: from the vector holding the first bar line, to the one
    // holding the end of the last bar.
    let a = (step_of(bar_start_tick(&input, args.from)) / spv) as i64;
    let b = (step_of(bar_start_tick(&input, args.to + 1)).div_ceil(spv) as i64).min(n);
    if a >= b {
        bail!(
            "{}: bars {}–{} are beyond its end ({} bars of music at most)",
            args.midi.display(),
            args.from,
            args.to,
            (0..)
                .find(|&bar| step_of(bar_start_tick(&input, bar + 1)) / spv >= n as u64)
                .unwrap_or(0)
        );
    }
    let after_end = (step_of(bar_start_tick(&input, args.to + 1 + args.lookahead)).div_ceil(spv)
        as i64)
        .clamp(b, n);
    let seed = seed_or_clock(args.seed);
    crate::model::rng::manual_seed(seed as i64);
    let model = &loaded.model;
    let count = args.candidates.max(1) as i64;
    let n_visible = config.n_visible();
    let (u, v_prev) = tch::no_grad(|| {
        if a == 0 {
            (
                model.initial_state(count),
                Tensor::zeros([count, n_visible], (Kind::Float, device)),
            )
        } else {
            let before = frames.narrow(0, 0, a).unsqueeze(0);
            let (_, u) = model.rnn_states(&before, None);
            (
                u.expand([count, u.size()[1]], false).contiguous(),
                frames
                    .get(a - 1)
                    .unsqueeze(0)
                    .expand([count, n_visible], false)
                    .contiguous(),
            )
        }
    });
    let voices = (args.voices > 0).then_some(args.voices);
    let clamp = Clamp::none(count, b - a, n_visible, device);
    let gap = model.generate_clamped_with_progress(
        &u,
        &v_prev,
        &clamp,
        args.gibbs,
        voices,
        &mut |done| progress(done as usize, (b - a) as usize),
    );
    let after = (after_end > b && count > 1).then(|| {
        frames
            .narrow(0, b, after_end - b)
            .unsqueeze(0)
            .expand([count, after_end - b, n_visible], false)
            .contiguous()
    });
    let chosen = match after {
        Some(after) => choose(model, &u, &gap, &after, seed),
        None => 0,
    };
    let new_roll = frames_to_roll(&gap.get(chosen), &config)?;
    let (tick_from, tick_to) = (tick_of_vector(a), tick_of_vector(b));
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

/// Sampling-importance-resampling on the bars after the gap: the candidate `gap (B, T, V)`
/// drawn in proportion to the model's likelihood of `after (B, T', V)` following it.
fn choose(model: &RnnRbm, u: &Tensor, gap: &Tensor, after: &Tensor, seed: u64) -> i64 {
    let count = gap.size()[0];
    let (_, u_after) = tch::no_grad(|| model.rnn_states(gap, Some(u)));
    let last = gap.select(1, gap.size()[1] - 1);
    let nll = continuation_nll(model, &u_after, &last, after, 20, 200);
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
        "{count} candidates judged on the next {} vectors: chose {} (−log p(after) {:.2}; best {:.2}, worst {:.2})",
        after.size()[1],
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
