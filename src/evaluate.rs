//! `rnn-rbm evaluate`: the two numbers of Boulanger-Lewandowski et al. (2012) on held-out data.
//!
//! - **NLL**: the mean over all frames of `−log p(v_t | v_<t) = F_t(v_t) + log Z_t`, every frame
//!   weighing the same. `log Z_t` of each frame's conditional RBM is estimated by AIS
//!   ([`crate::model::ais`]), batched over frames and chains; frames whose effective sample size
//!   is low are estimated again with four times the temperatures, and the output says how many
//!   there were and how trustworthy the result is (AIS standard error, ESS). AIS errs on the
//!   optimistic side; the same estimate by RAISE (reverse AIS from the data frame) errs on the
//!   pessimistic side, and the two together bracket the true figure.
//! - **ACC**: the expected frame-level accuracy of Bay et al. (2009), `ΣTP / Σ(TP+FP+FN)` in
//!   percent over all frames, each frame predicted from the true history by a Gibbs chain of its
//!   conditional RBM started at the previous true frame, averaged over several samples.
//!
//! For the `seed` layout a "frame" is one visible vector (5 grid steps, sounding and onset bits).
use crate::checkpoint::load_model;
use crate::corpus::is_piano_roll_json;
use crate::data::TrainingData;
pub use crate::model::likelihood::{evaluate, EvalOptions, Evaluation};
use crate::parts::Part;
use crate::progress::Progress;
use anyhow::{anyhow, bail, Result};
use std::path::PathBuf;
use tch::Tensor;

#[derive(clap::Args, Debug)]
pub struct EvaluateArgs {
    /// Checkpoint to evaluate; a relative path not found here is looked up in parameter_checkpoints/
    pub checkpoint: PathBuf,
    /// A folder of MIDI files, a MIDI file, or a piano-roll JSON file (.json or .json.gz)
    /// [default: the checkpoint's training corpus]
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// The split of a piano-roll JSON file [default: valid for JSON files]
    #[arg(long)]
    pub split: Option<String>,
    /// AIS chains per frame (a long path with few chains beat a short one with many at equal
    /// cost: docs/BENCHMARKS.md, "The fused AIS kernel")
    #[arg(long, default_value_t = 16)]
    pub chains: i64,
    /// AIS intermediate distributions
    #[arg(long, default_value_t = 1000)]
    pub temperatures: usize,
    /// Gibbs sweeps per chain that fit the AIS base distribution to each frame's RBM, from
    /// chains started at the previous frame (never the frame being scored, which RAISE must not
    /// see); 0: the RBM's visible biases alone, which needs far more temperatures
    #[arg(long, default_value_t = 20)]
    pub base_sweeps: usize,
    /// Move one sounding note, all of them, or all but the highest, by up to an octave
    /// (Metropolis steps) after the Gibbs sweep of every N-th temperature of AIS and RAISE; 0:
    /// never. For sharp conditionals such as Nottingham's tunes over held chords, where Gibbs
    /// sweeps stay on the notes and chord they start at and AIS and RAISE drift apart
    /// (docs/BENCHMARKS.md, "Nottingham"). The accuracy's chains get them too, after every N-th
    /// Gibbs step. `--moves 1` takes 2–3× the time
    #[arg(long, default_value_t = 0)]
    pub moves: usize,
    /// With `--moves`, let AIS's and RAISE's chains jump between the N heaviest vectors found
    /// near the previous frame (never the frame scored), drawn from the annealed distribution
    /// restricted to them: a sharp RBM's modes reached at once however many notes differ; 0:
    /// never. The CPU's kernel only
    #[arg(long, default_value_t = crate::model::ais::JUMPS)]
    pub jumps: usize,
    /// Frames whose AIS effective sample size (a fraction of the chains) falls below this are
    /// estimated again with 4× the temperatures
    #[arg(long, default_value_t = 0.1)]
    pub refine_below: f64,
    /// Frames whose AIS and RAISE estimates of `log Z` differ by more than this many nats are
    /// estimated again by both with 4× the temperatures: where a sharp model's two estimates
    /// part, at a fraction of the cost of 4× the temperatures everywhere; 0: never
    #[arg(long, default_value_t = 0.0)]
    pub refine_apart: f64,
    /// Skip the conservative RAISE estimate (`nll_conservative`), which doubles the time
    #[arg(long)]
    pub no_raise: bool,
    /// Samples per frame for the expected accuracy
    #[arg(long, default_value_t = 10)]
    pub acc_samples: i64,
    /// Gibbs steps per accuracy sample
    #[arg(long, default_value_t = 25)]
    pub gibbs: i64,
    #[arg(long, default_value_t = 1234)]
    pub seed: u64,
    /// Score only part K of N: the pieces whose index is K modulo N, drawing from seed + K;
    /// `rnn-rbm combine` adds the N reports up to the whole split's (for a split too long for
    /// one sitting, or spread over machines)
    #[arg(long, value_name = "K/N")]
    pub part: Option<String>,
    #[command(flatten)]
    pub compute: crate::args::ComputeArgs,
}

/// Progress of every stage on stderr (a bar on a terminal, a line per tenth otherwise).
pub fn progress_reporter() -> impl FnMut(&str, i64, i64) {
    let mut current: Option<(String, Progress)> = None;
    move |stage: &str, done: i64, total: i64| {
        if current.as_ref().map(|(s, _)| s.as_str()) != Some(stage) {
            if let Some((_, p)) = current.take() {
                p.finish();
            }
            current = Some((stage.to_string(), Progress::new(stage, total as u64)));
        }
        if let Some((_, p)) = current.as_mut() {
            p.set(done as u64, String::new);
        }
        if done >= total {
            if let Some((_, p)) = current.take() {
                p.finish();
            }
        }
    }
}

pub fn run(args: EvaluateArgs) -> Result<()> {
    let (device, mut threads) = args.compute.select()?;
    if args.chains < 2 || args.temperatures < 1 || args.acc_samples < 1 {
        bail!("--chains must be at least 2, --temperatures and --acc-samples at least 1");
    }
    let part = args
        .part
        .as_deref()
        .map(str::parse::<Part>)
        .transpose()
        .map_err(|e| anyhow!("--part {e}"))?;
    let loaded = load_model(&args.checkpoint, device)?;
    let config = loaded.sidecar.model.clone();
    let (data, split) = match args.data {
        Some(d) => {
            let split = args
                .split
                .or_else(|| is_piano_roll_json(&d).then(|| "valid".to_string()));
            (d, split)
        }
        None => (
            PathBuf::from(&loaded.sidecar.corpus.path),
            args.split.or(loaded.sidecar.corpus.split.clone()),
        ),
    };
    let data = TrainingData::load(&data, split.as_deref(), &config, 0, device)?;
    let pieces: Vec<Tensor> = data
        .pieces
        .iter()
        .enumerate()
        .filter(|(i, _)| part.is_none_or(|p| p.holds(*i)))
        .map(|(_, piece)| piece.shallow_clone())
        .collect();
    if let (Some(part), true) = (part, pieces.is_empty()) {
        bail!(
            "--part {part}: {} holds only {} pieces",
            data.spec.path,
            data.pieces.len()
        );
    }
    let seed = args.seed + part.map_or(0, |p| p.index as u64);
    crate::model::rng::manual_seed(seed as i64);
    let opts = EvalOptions {
        chains: args.chains,
        temperatures: args.temperatures,
        base_sweeps: args.base_sweeps,
        moves: args.moves,
        jumps: args.jumps,
        refine_below: args.refine_below,
        refine_apart: args.refine_apart,
        acc_samples: args.acc_samples,
        gibbs: args.gibbs,
        max_rows: crate::model::likelihood::MAX_ROWS,
        raise: !args.no_raise,
        lower_bound: true,
    };
    let mut report = progress_reporter();
    let result = evaluate(
        &loaded.model,
        &config,
        &pieces,
        &opts,
        &mut |stage, done, total| {
            threads.adapt();
            report(stage, done, total)
        },
    );
    let mut json = serde_json::to_value(&result)?;
    json["checkpoint"] = loaded.path.display().to_string().into();
    json["data"] = data.spec.path.clone().into();
    json["split"] = data.spec.split.clone().into();
    if let Some(part) = part {
        json["part"] = part.to_string().into();
    }
    println!("{json}");
    Ok(())
}
