//! `rnn-rbm train` (the RNN-RBM with CD-k) and `rnn-rbm init` (the RBM pre-trained alone, the
//! original's `weight_initializations.py`).
//!
//! Data: every piece is cut into chunks of `chunk_len` consecutive visible vectors (the
//! original's batches of 100); each update takes `batch_size` chunks (1 = the original's one
//! update per chunk), padded and masked to a common length, chunks of similar length together
//! ([`batches`]). The chunk order is shuffled every
//! epoch from a seed derived from `--seed` and the epoch, and the random generators are re-seeded
//! the same way ([`crate::model::rng::manual_seed`]), so a resumed run sees the same data order and samples as an uninterrupted one.
use crate::checkpoint::{self, Sidecar, Stage, TrainParams, Validation};
use crate::config::{Layout, ModelConfig, DEFAULT_LAYOUT};
use crate::corpus::{is_piano_roll_json, DEFAULT_DATA};
use crate::data::{pad_batch, TrainingData};
use crate::draw as plot;
use crate::interrupt::{self, Interrupted};
use crate::model::likelihood::{evaluate, EvalOptions};
use crate::model::rnn_rbm::{RnnRbm, RBM_PARAM_NAMES};
use crate::optim::{Optimizer, OptimizerKind};
use crate::progress::Progress;
use crate::threads::Threads;
use anyhow::{bail, Context, Result};
use rand::{rngs::StdRng, seq::SliceRandom, SeedableRng};
use serde_json::json;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;
use tch::{nn, Device, Kind, Tensor};

#[derive(clap::Args, Debug, Clone)]
pub struct DataArgs {
    /// Training data: a folder of MIDI files (searched recursively for .mid/.midi), one MIDI file,
    /// or a piano-roll JSON file ({train, valid, test}; .json or gzipped .json.gz) [default:
    /// data/bach, the Bach chorales built by scripts/setup.sh; when resuming: the checkpoint's
    /// corpus]
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// The split to learn from: of a piano-roll JSON file [default: train], or of a MIDI folder,
    /// `train` or `valid` (`valid` is every 10th file by name) [default: the whole folder; for the
    /// default corpus: train]
    #[arg(long)]
    pub split: Option<String>,
}

#[derive(clap::Args, Debug, Clone)]
pub struct ModelArgs {
    /// chorale = the paper's model on the chorales' range, MIDI read at every beat as the JSB
    /// rolls were made (56 notes, one frame per quarter note); paper = Boulanger-Lewandowski 2012
    /// (88 keys, one frame per vector); seed = the TensorFlow original (780 visible: 78 notes ×
    /// sounding+onset × 5 16th steps) [default: chorale]
    #[arg(long, value_enum)]
    pub layout: Option<Layout>,
    /// Grid resolution [default: 1 (quarter notes) for chorale and paper, 4 (16th notes) for seed]
    #[arg(long)]
    pub steps_per_quarter: Option<u32>,
    /// Hidden units of the RBM [default: 300 for chorale, 150 for paper, 50 for seed]
    #[arg(long)]
    pub hidden: Option<i64>,
    /// Recurrent units [default: 50 for chorale, 100 for paper and seed]
    #[arg(long)]
    pub recurrent: Option<i64>,
    /// The recurrent cell: tanh (the paper's) or gru [default: tanh]
    #[arg(long, value_enum)]
    pub cell: Option<crate::config::Cell>,
}

#[derive(clap::Args, Debug, Clone)]
pub struct RunArgs {
    #[command(flatten)]
    pub compute: crate::args::ComputeArgs,
    /// Random seed (data order, initial weights, Gibbs sampling) [default: 1234]
    #[arg(long)]
    pub seed: Option<u64>,
}

#[derive(clap::Args, Debug)]
pub struct TrainArgs {
    /// Train until this many epochs are done in all (a resumed run counts the checkpoint's)
    pub epochs: usize,
    #[command(flatten)]
    pub data: DataArgs,
    #[command(flatten)]
    pub model: ModelArgs,
    /// Folder for checkpoints, their sidecars and metrics.jsonl [default: parameter_checkpoints,
    /// or the resumed checkpoint's folder]
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Write a checkpoint every this many epochs (and always at the end)
    #[arg(long, default_value_t = 5)]
    pub save_every: usize,
    /// Continue from this checkpoint: model, optimizer state, epoch counter and data order
    #[arg(long)]
    pub resume: Option<PathBuf>,
    /// Learning rate [default: 0.003 for chorale, 0.001 for paper and seed]
    #[arg(long)]
    pub lr: Option<f64>,
    /// Gibbs steps of CD-k [default: 15]
    #[arg(long)]
    pub k: Option<i64>,
    /// Optimizer [default: adam]
    #[arg(long, value_enum)]
    pub optimizer: Option<OptimizerKind>,
    /// Element-wise gradient clipping [default: 10, as the original]
    #[arg(long)]
    pub clip: Option<f64>,
    /// Visible vectors per training sequence [default: 100]
    #[arg(long)]
    pub chunk_len: Option<usize>,
    /// Sequences per update [default: 8 for chorale; 1, the original's one update per chunk, for
    /// paper and seed]
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// Epochs of RBM pre-training when no initialized.ot is in --out [default: 100]
    #[arg(long)]
    pub init_epochs: Option<usize>,
    /// Skip RBM pre-training when no initialized.ot is in --out
    #[arg(long)]
    pub no_init: bool,
    /// Decoupled weight decay λ on the weight matrices, per update θ ← (1 − lr·λ)·θ [default: 0]
    #[arg(long)]
    pub weight_decay: Option<f64>,
    /// Where CD's negative chains start: at the data frame, or at the previous frame (as in
    /// generation) [default: data]
    #[arg(long, value_enum)]
    pub cd_start: Option<crate::model::rnn_rbm::ChainStart>,
    /// Move one sounding note, all of them, or all but the highest, by up to an octave
    /// (Metropolis steps) after every N-th Gibbs step of CD-k's chains, so that they cross between
    /// the modes of a sharp RBM (a tune over held chords), which Gibbs steps alone almost never
    /// do; 0: never [default: 0]
    #[arg(long)]
    pub moves: Option<usize>,
    /// Halve the learning rate every this many epochs (exponentially, epoch by epoch)
    /// [default: 100 for chorale, constant for paper and seed]
    #[arg(long)]
    pub lr_halflife: Option<f64>,
    /// Also train on every piece transposed by ±1 … ±N semitones (where it stays in range)
    /// [default: 0]
    #[arg(long)]
    pub transpose: Option<u32>,
    /// Validation data (MIDI folder or file, or piano-roll JSON), scored as training goes; the
    /// best model is kept as best.ot [default with --valid-split: the --data file]
    #[arg(long)]
    pub valid: Option<PathBuf>,
    /// The split of the validation data (a piano-roll JSON file or a MIDI folder), e.g. valid
    /// [default for the default corpus: valid]
    #[arg(long)]
    pub valid_split: Option<String>,
    /// Score the validation data every this many epochs [default: 50]
    #[arg(long)]
    pub valid_every: Option<usize>,
    /// AIS chains per frame of the validation estimate (cheap; `evaluate` is the accurate one)
    /// [default: 10]
    #[arg(long)]
    pub valid_chains: Option<i64>,
    /// AIS temperatures of the validation estimate [default: 100]
    #[arg(long)]
    pub valid_temperatures: Option<usize>,
    #[command(flatten)]
    pub run: RunArgs,
}

#[derive(clap::Args, Debug)]
pub struct InitArgs {
    #[command(flatten)]
    pub data: DataArgs,
    #[command(flatten)]
    pub model: ModelArgs,
    /// Folder for initialized.ot
    #[arg(long, default_value = checkpoint::DEFAULT_DIR)]
    pub out: PathBuf,
    /// Pre-training epochs [default: 100, as the original]
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Gibbs steps [default: 1, as the original]
    #[arg(long)]
    pub k: Option<i64>,
    /// Learning rate [default: 0.001]
    #[arg(long)]
    pub lr: Option<f64>,
    /// Optimizer [default: adam]
    #[arg(long, value_enum)]
    pub optimizer: Option<OptimizerKind>,
    #[command(flatten)]
    pub run: RunArgs,
}

fn model_config(args: &ModelArgs) -> ModelConfig {
    let mut config = ModelConfig::for_layout(
        args.layout.unwrap_or(DEFAULT_LAYOUT),
        args.steps_per_quarter,
    );
    if let Some(h) = args.hidden {
        config.n_hidden = h;
    }
    if let Some(r) = args.recurrent {
        config.n_rnn = r;
    }
    if let Some(c) = args.cell {
        config.cell = c;
    }
    config
}

/// The updates of one epoch, given the chunks in their shuffled `order`.
///
/// One chunk per update keeps that order. Several per update are padded to the longest, so
/// chunks of similar length go together: the shuffled order is cut into windows of
/// `BUCKET_WINDOW` updates, each window is sorted by length (stably, so ties stay shuffled) and
/// cut into updates, and the updates are shuffled again. On the JSB train split (229 pieces of
/// 25–129 frames, mean 60; 243 chunks) padding falls from about 34 % of the computation (39 % at
/// 16 per update) to about 15 %, for the same loss: padding is masked out of it.
pub fn batches(
    order: &[usize],
    lengths: &[i64],
    batch_size: usize,
    rng: &mut StdRng,
) -> Vec<Vec<usize>> {
    if batch_size <= 1 {
        return order.iter().map(|&i| vec![i]).collect();
    }
    const BUCKET_WINDOW: usize = 4;
    let mut out: Vec<Vec<usize>> = Vec::new();
    for window in order.chunks(batch_size * BUCKET_WINDOW) {
        let mut window = window.to_vec();
        window.sort_by_key(|&i| std::cmp::Reverse(lengths[i]));
        out.extend(window.chunks(batch_size).map(|b| b.to_vec()));
    }
    out.shuffle(rng);
    out
}

/// The seed of an epoch's randomness: data order and libtorch's generator.
fn epoch_seed(seed: u64, epoch: usize) -> u64 {
    seed.wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .wrapping_add(epoch as u64)
}

/// A new model with its initial weights drawn from `seed`. They are drawn on the CPU and then
/// moved to `device`, so a seed gives the same model on every device (CUDA's generator would
/// draw other numbers from the same seed).
pub fn new_model(config: &ModelConfig, device: Device, seed: u64) -> (nn::VarStore, RnnRbm) {
    crate::model::rng::manual_seed(seed as i64);
    let mut vs = nn::VarStore::new(Device::Cpu);
    let model = RnnRbm::for_config(&vs.root(), config);
    vs.set_device(device);
    (vs, model)
}

fn rbm_parameters(model: &RnnRbm) -> Vec<(String, Tensor)> {
    model
        .named_parameters()
        .into_iter()
        .filter(|(n, _)| RBM_PARAM_NAMES.contains(&n.as_str()))
        .collect()
}

/// Pre-trains `W`, `bv`, `bh` as a plain RBM on all visible vectors with CD-k, one piece per
/// update (as the original). Returns the last epoch's mean free-energy gap.
pub fn pretrain(
    model: &RnnRbm,
    data: &TrainingData,
    params: &TrainParams,
    optimizer: OptimizerKind,
) -> Result<f64> {
    let mut opt = Optimizer::new(
        optimizer,
        params.init_lr,
        params.clip,
        rbm_parameters(model),
    );
    let mut order: Vec<usize> = (0..data.pieces.len()).collect();
    let mut cost = f64::NAN;
    for epoch in 1..=params.init_epochs {
        let seed = epoch_seed(params.seed ^ 0x1417, epoch);
        crate::model::rng::manual_seed(seed as i64);
        order.shuffle(&mut StdRng::seed_from_u64(seed));
        let t0 = Instant::now();
        let mut total = Tensor::zeros([], (Kind::Double, model.w.device()));
        let mut frames = 0;
        for &i in &order {
            if interrupt::requested() {
                eprintln!("interrupted during pre-training: nothing saved");
                return Err(Interrupted.into());
            }
            let v = &data.pieces[i];
            let loss = model.rbm_cd_loss(v, params.init_k);
            loss.backward();
            opt.step();
            total += loss.detach().to_kind(Kind::Double) * v.size()[0] as f64;
            frames += v.size()[0];
        }
        cost = total.double_value(&[]) / frames as f64;
        if !cost.is_finite() {
            bail!("pre-training diverged (cost {cost}) at epoch {epoch}: try a lower --lr");
        }
        if epoch == 1 || epoch % 10 == 0 || epoch == params.init_epochs {
            eprintln!(
                "pre-train epoch {epoch}/{}  cost {cost:.4}  {:.0} frames/s",
                params.init_epochs,
                frames as f64 / t0.elapsed().as_secs_f64()
            );
        }
    }
    Ok(cost)
}

/// [`pretrain`], then writes the RBM to `path` (`initialized.ot`) with its sidecar.
fn pretrain_and_save(
    model: &RnnRbm,
    config: &ModelConfig,
    data: &TrainingData,
    params: &TrainParams,
    optimizer: OptimizerKind,
    path: &Path,
) -> Result<()> {
    let cost = pretrain(model, data, params, optimizer)?;
    let sidecar = Sidecar::new(
        Stage::Pretrained,
        config,
        params,
        &data.spec,
        params.init_epochs,
        cost,
    );
    checkpoint::save(path, &sidecar, &model.named_parameters())?;
    eprintln!("wrote {}", path.display());
    Ok(())
}

/// `rnn-rbm init`.
pub fn run_init(args: InitArgs) -> Result<()> {
    let (device, _threads) = args.run.compute.select()?;
    let config = model_config(&args.model);
    let mut params = TrainParams::for_layout(config.layout);
    params.seed = args.run.seed.unwrap_or(params.seed);
    params.init_epochs = args.epochs.unwrap_or(params.init_epochs);
    params.init_k = args.k.unwrap_or(params.init_k);
    params.init_lr = args.lr.unwrap_or(params.init_lr);
    let optimizer = args.optimizer.unwrap_or(params.optimizer);
    // The default corpus is pre-trained on the split that `train` learns from.
    let (data_path, split) = match args.data.data {
        Some(path) => (path, args.data.split),
        None => (
            PathBuf::from(DEFAULT_DATA),
            Some(args.data.split.unwrap_or(DEFAULT_SPLIT.into())),
        ),
    };
    eprintln!("{} on {device:?}", config.describe());
    let data = TrainingData::load(&data_path, split.as_deref(), &config, 0, device)?;
    let (_vs, model) = new_model(&config, device, params.seed);
    pretrain_and_save(
        &model,
        &config,
        &data,
        &params,
        optimizer,
        &args.out.join("initialized.ot"),
    )
}

/// The figure that chooses `best.ot`: the middle of the interval that AIS (optimistic) and RAISE
/// (conservative) put around the true validation NLL, or AIS alone without RAISE. The middle is
/// the choice whose worst error is smallest. Choosing on RAISE alone, as before, kept the
/// default corpus's model of epoch 50 while its cheap RAISE rose and its AIS fell as the model
/// sharpened (7.05 … 7.91 and 5.27 … 4.43 at epochs 50 … 150) and the music and the accuracy
/// improved (docs/BENCHMARKS.md).
pub fn selection_figure(nll: f64, conservative: Option<f64>) -> f64 {
    match conservative {
        Some(c) => 0.5 * (nll + c),
        None => nll,
    }
}

/// A copy of the model and optimizer after an epoch that was not checkpointed.
struct UnsavedEpoch {
    epoch: usize,
    cost: f64,
    state: Vec<(String, Tensor)>,
}

/// A checkpoint to resume from: its path, sidecar and tensors.
type Resumed = (PathBuf, Sidecar, std::collections::HashMap<String, Tensor>);

/// What a `train` command resolves to before anything is loaded: the model, the
/// hyper-parameters (the checkpoint's when resuming, flags override), the data and the folder.
struct Plan {
    resumed: Option<Resumed>,
    config: ModelConfig,
    params: TrainParams,
    data_path: PathBuf,
    split: Option<String>,
    out: PathBuf,
}

impl Plan {
    fn from_args(args: &TrainArgs) -> Result<Plan> {
        let resumed = match &args.resume {
            Some(name) => Some(load_resumed(name, args.model.layout)?),
            None => None,
        };
        let (config, mut params, corpus_default) = match &resumed {
            Some((_, s, _)) => (
                s.model.clone(),
                s.train.clone(),
                (PathBuf::from(&s.corpus.path), s.corpus.split.clone()),
            ),
            None => (
                model_config(&args.model),
                TrainParams::for_layout(args.model.layout.unwrap_or(DEFAULT_LAYOUT)),
                (PathBuf::from(DEFAULT_DATA), Some(DEFAULT_SPLIT.to_string())),
            ),
        };
        apply_flags(&mut params, args);
        let (data_path, split) = match &args.data.data {
            Some(d) => (d.clone(), args.data.split.clone()),
            None => (
                corpus_default.0,
                args.data.split.clone().or(corpus_default.1),
            ),
        };
        let default_corpus = resumed.is_none() && args.data.data.is_none();
        set_validation(&mut params, args, &data_path, default_corpus)?;
        let out = match (&args.out, &resumed) {
            (Some(out), _) => out.clone(),
            (None, Some((path, _, _))) => path.parent().map(Path::to_path_buf).unwrap_or_default(),
            (None, None) => PathBuf::from(checkpoint::DEFAULT_DIR),
        };
        Ok(Plan {
            resumed,
            config,
            params,
            data_path,
            split,
            out,
        })
    }
}

/// The checkpoint named by `--resume`, refused if it is not a training checkpoint or has
/// another layout than `--layout`.
fn load_resumed(name: &Path, layout: Option<Layout>) -> Result<Resumed> {
    let path = checkpoint::resolve(name)?;
    let (sidecar, tensors) = checkpoint::load(&path)?;
    if sidecar.stage != Stage::Trained {
        bail!(
            "{} is a pre-trained RBM, not a training checkpoint: start training without --resume",
            path.display()
        );
    }
    if let Some(layout) = layout {
        if layout != sidecar.model.layout {
            bail!(
                "{} has layout {}, not {layout}",
                path.display(),
                sidecar.model.layout
            );
        }
    }
    Ok((path, sidecar, tensors))
}

/// The training flags given on the command line, over `params`.
fn apply_flags(params: &mut TrainParams, args: &TrainArgs) {
    params.lr = args.lr.unwrap_or(params.lr);
    params.k = args.k.unwrap_or(params.k);
    params.optimizer = args.optimizer.unwrap_or(params.optimizer);
    params.clip = args.clip.unwrap_or(params.clip);
    params.chunk_len = args.chunk_len.unwrap_or(params.chunk_len);
    params.batch_size = args.batch_size.unwrap_or(params.batch_size).max(1);
    params.seed = args.run.seed.unwrap_or(params.seed);
    params.init_epochs = args.init_epochs.unwrap_or(params.init_epochs);
    params.transpose = args.transpose.unwrap_or(params.transpose);
    params.weight_decay = args.weight_decay.unwrap_or(params.weight_decay).max(0.0);
    params.lr_halflife = args.lr_halflife.or(params.lr_halflife);
    params.cd_start = args.cd_start.unwrap_or(params.cd_start);
    params.moves = args.moves.unwrap_or(params.moves);
}

/// The split of the default corpus that `train` learns from when no `--data` is given; the
/// other one, [`DEFAULT_VALID_SPLIT`], chooses `best.ot`.
pub const DEFAULT_SPLIT: &str = "train";
pub const DEFAULT_VALID_SPLIT: &str = "valid";

/// `--valid`, `--valid-split` and the validation settings, over `params.validation`. The
/// default corpus (`default_corpus`: no `--data`, no `--resume`) is validated on its own
/// held-out split unless the flags say otherwise.
fn set_validation(
    params: &mut TrainParams,
    args: &TrainArgs,
    data_path: &Path,
    default_corpus: bool,
) -> Result<()> {
    let valid_split = match default_corpus && args.valid.is_none() {
        true => Some(
            args.valid_split
                .clone()
                .unwrap_or(DEFAULT_VALID_SPLIT.into()),
        ),
        false => args.valid_split.clone(),
    };
    if args.valid.is_some() || valid_split.is_some() {
        let path = args
            .valid
            .clone()
            .unwrap_or_else(|| data_path.to_path_buf());
        if args.valid.is_none()
            && !default_corpus
            && !is_piano_roll_json(data_path)
            && !data_path.is_dir()
        {
            bail!("--valid-split names a split of a piano-roll JSON file or a MIDI folder: give --data FILE.json[.gz] or DIR (or --valid FILE)");
        }
        params.validation = Some(Validation::new(path.display().to_string(), valid_split));
    }
    if let Some(v) = params.validation.as_mut() {
        v.every = args.valid_every.unwrap_or(v.every).max(1);
        v.chains = args.valid_chains.unwrap_or(v.chains).max(2);
        v.temperatures = args.valid_temperatures.unwrap_or(v.temperatures).max(1);
    }
    Ok(())
}

/// `rnn-rbm train`: the set-up, then each epoch ([`Run::train_epoch`]) followed by its
/// validation and checkpoints ([`Run::after_epoch`]), then the end ([`Run::finish`]).
pub fn run_train(args: TrainArgs) -> Result<()> {
    let (device, threads) = args.run.compute.select()?;
    if args.save_every == 0 {
        bail!("--save-every must be at least 1");
    }
    let plan = Plan::from_args(&args)?;
    let (config, params) = (&plan.config, &plan.params);
    interrupt::install();
    eprintln!("{} on {device:?}", config.describe());
    let data = TrainingData::load(
        &plan.data_path,
        plan.split.as_deref(),
        config,
        params.transpose,
        device,
    )?;
    let valid = match &params.validation {
        Some(v) => Some(TrainingData::load(
            Path::new(&v.path),
            v.split.as_deref(),
            config,
            0,
            device,
        )?),
        None => None,
    };
    let (_vs, model) = new_model(config, device, params.seed);
    let mut opt = Optimizer::new(
        params.optimizer,
        params.lr,
        params.clip,
        model.named_parameters(),
    );
    opt.weight_decay = params.weight_decay;
    let start_epoch = match &plan.resumed {
        Some((path, sidecar, tensors)) => {
            checkpoint::restore(path, &model.named_parameters(), tensors)?;
            opt.load_state(tensors)
                .with_context(|| format!("cannot resume from {}", path.display()))?;
            eprintln!("resuming from {} (epoch {})", path.display(), sidecar.epoch);
            sidecar.epoch
        }
        None => {
            start_from_pretrained(&model, config, &data, params, &plan.out, args.no_init)?;
            0
        }
    };
    if start_epoch >= args.epochs {
        eprintln!(
            "nothing to do: the checkpoint has {start_epoch} epochs already (asked for {})",
            args.epochs
        );
        return Ok(());
    }
    let mut run = Run::start(&plan, &data, valid, args.epochs, args.save_every, threads)?;
    eprintln!(
        "training epochs {}..{} : {} chunks of ≤{} vectors, {} per update, {:?} lr {} k {}",
        start_epoch + 1,
        args.epochs,
        run.chunks.len(),
        params.chunk_len,
        params.batch_size,
        params.optimizer,
        params.lr,
        params.k
    );
    for epoch in start_epoch + 1..=args.epochs {
        let Some((cost, seconds)) = run.train_epoch(epoch, &model, &mut opt)? else {
            break; // interrupted
        };
        run.after_epoch(epoch, cost, seconds, &model, &opt)?;
    }
    run.finish()
}

/// A training run between its set-up and its end: the data in chunks, where its files go, and
/// what it must remember from epoch to epoch.
struct Run<'a> {
    plan: &'a Plan,
    data: &'a TrainingData,
    valid: Option<TrainingData>,
    epochs: usize,
    save_every: usize,
    chunks: Vec<Tensor>,
    order: Vec<usize>,
    lengths: Vec<i64>,
    frames: i64,
    metrics: std::fs::File,
    metrics_path: PathBuf,
    best_path: PathBuf,
    /// The best validation figure so far ([`selection_figure`]).
    best_nll: f64,
    last_saved: Option<PathBuf>,
    /// The state after the last finished epoch when it was not saved: what Ctrl-C saves.
    unsaved: Option<UnsavedEpoch>,
    started: Instant,
    /// libtorch's thread count, looked at again after every epoch unless `--threads` fixed it.
    threads: Threads,
}

impl<'a> Run<'a> {
    /// Opens `metrics.jsonl` (appended to when resuming) and reads the best validation figure
    /// so far from `best.ot`.
    fn start(
        plan: &'a Plan,
        data: &'a TrainingData,
        valid: Option<TrainingData>,
        epochs: usize,
        save_every: usize,
        threads: Threads,
    ) -> Result<Self> {
        let out = &plan.out;
        let resuming = plan.resumed.is_some();
        std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
        let metrics_path = out.join("metrics.jsonl");
        let metrics = std::fs::OpenOptions::new()
            .create(true)
            .write(true)
            .append(resuming)
            .truncate(!resuming)
            .open(&metrics_path)
            .with_context(|| format!("cannot open {}", metrics_path.display()))?;
        let best_path = out.join("best.ot");
        let best_nll = if resuming && best_path.exists() {
            let best = checkpoint::load(&best_path)?.0;
            best.valid_nll
                .map(|nll| selection_figure(nll, best.valid_nll_conservative))
                .unwrap_or(f64::INFINITY)
        } else {
            f64::INFINITY
        };
        let chunks = data.chunks(plan.params.chunk_len);
        let lengths: Vec<i64> = chunks.iter().map(|c| c.size()[0]).collect();
        Ok(Run {
            plan,
            data,
            valid,
            epochs,
            save_every,
            order: (0..chunks.len()).collect(),
            frames: lengths.iter().sum(),
            lengths,
            chunks,
            metrics,
            metrics_path,
            best_path,
            best_nll,
            last_saved: plan.resumed.as_ref().map(|(p, _, _)| p.clone()),
            unsaved: None,
            started: Instant::now(),
            threads,
        })
    }

    /// One pass over the chunks in the epoch's order; returns the mean cost per frame and the
    /// seconds it took, or `None` when interrupted.
    fn train_epoch(
        &mut self,
        epoch: usize,
        model: &RnnRbm,
        opt: &mut Optimizer,
    ) -> Result<Option<(f64, f64)>> {
        let params = &self.plan.params;
        let seed = epoch_seed(params.seed, epoch);
        crate::model::rng::manual_seed(seed as i64);
        self.order.sort_unstable();
        let mut shuffler = StdRng::seed_from_u64(seed);
        self.order.shuffle(&mut shuffler);
        let updates = batches(&self.order, &self.lengths, params.batch_size, &mut shuffler);
        opt.lr = params.lr_at(epoch);
        let t0 = Instant::now();
        // Accumulated on the device: no host round trip inside an epoch.
        let mut total = Tensor::zeros([], (Kind::Double, model.w.device()));
        let mut bar = Progress::bar_only(
            &format!("epoch {epoch}/{}", self.epochs),
            self.chunks.len() as u64,
        );
        let mut done = 0u64;
        let _threads = model
            .updates_by_hand()
            .then(crate::model::kernel::KernelThreads::begin);
        for batch in &updates {
            if interrupt::requested() {
                bar.finish();
                return Ok(None);
            }
            done += batch.len() as u64;
            bar.set(done, || {
                format!("{:.0} chunks/s", done as f64 / t0.elapsed().as_secs_f64())
            });
            let (v, mask) = pad_batch(&self.chunks, batch);
            let loss = model.cd_backward(&v, &mask, params.k, params.moves, params.cd_start);
            opt.step();
            total += loss.to_kind(Kind::Double) * mask.sum(Kind::Double);
        }
        bar.finish();
        let cost = total.double_value(&[]) / self.frames as f64;
        if !cost.is_finite() {
            let last = self
                .last_saved
                .as_ref()
                .map(|p| format!("the last good checkpoint is {}", p.display()))
                .unwrap_or("no checkpoint was written".into());
            bail!("the cost became {cost} at epoch {epoch}: training diverged; {last}. Try a lower --lr (now {}).", params.lr);
        }
        Ok(Some((cost, t0.elapsed().as_secs_f64())))
    }

    /// After an epoch: validation when due, a line of `metrics.jsonl`, `best.ot` when the model
    /// improved, and a checkpoint when due (else a copy kept for Ctrl-C).
    fn after_epoch(
        &mut self,
        epoch: usize,
        cost: f64,
        seconds: f64,
        model: &RnnRbm,
        opt: &Optimizer,
    ) -> Result<()> {
        let frames = self.frames;
        let mut record = json!({
            "epoch": epoch,
            "cost": cost,
            "frames": frames,
            "frames_per_s": frames as f64 / seconds,
            "seconds": seconds,
            "lr": opt.lr,
        });
        if let Some(n) = self.threads.current() {
            record["threads"] = n.into();
        }
        if let Some((n, others)) = self.threads.adapt() {
            eprintln!("  threads: {n} from now on (other processes kept {others:.1} cores busy)");
        }
        let valid_nll = self.validate(epoch, model, &mut record);
        record["elapsed"] = self.started.elapsed().as_secs_f64().into();
        writeln!(self.metrics, "{record}")
            .with_context(|| format!("cannot append to {}", self.metrics_path.display()))?;
        eprintln!(
            "epoch {epoch}/{}  cost {cost:>9.4}  {frames} frames  {:.0} frames/s  {seconds:.1} s",
            self.epochs,
            frames as f64 / seconds
        );
        let mut state = model.named_parameters();
        state.extend(opt.state_tensors());
        if let Some((nll, conservative)) =
            valid_nll.filter(|&(nll, c)| selection_figure(nll, c) < self.best_nll)
        {
            self.best_nll = selection_figure(nll, conservative);
            let mut sidecar = self.sidecar(epoch, cost);
            sidecar.valid_nll = Some(nll);
            sidecar.valid_nll_conservative = conservative;
            checkpoint::save(&self.best_path, &sidecar, &state)?;
            eprintln!(
                "  new best: saved {} (epoch {epoch})",
                self.best_path.display()
            );
        }
        if epoch % self.save_every == 0 || epoch == self.epochs {
            self.last_saved = Some(self.save(epoch, cost, &state)?);
            self.unsaved = None;
            // The training curve beside metrics.jsonl, refreshed with every checkpoint.
            let chart = self.plan.out.join("metrics.png");
            if let Err(e) = plot::plot_metrics(&self.metrics_path, &chart) {
                eprintln!("warning: could not draw the training curve: {e:#}");
            }
        } else {
            let copy = state.into_iter().map(|(n, t)| (n, t.copy())).collect();
            self.unsaved = Some(UnsavedEpoch {
                epoch,
                cost,
                state: copy,
            });
        }
        Ok(())
    }

    /// Scores the validation data when due (every `every` epochs and at the last), adding the
    /// figures to `record`; returns (AIS, RAISE) NLL per frame.
    fn validate(
        &self,
        epoch: usize,
        model: &RnnRbm,
        record: &mut serde_json::Value,
    ) -> Option<(f64, Option<f64>)> {
        let (v, vdata) = (self.plan.params.validation.as_ref()?, self.valid.as_ref()?);
        if epoch % v.every != 0 && epoch != self.epochs {
            return None;
        }
        let opts = EvalOptions {
            chains: v.chains,
            temperatures: v.temperatures,
            base_sweeps: v.base_sweeps,
            // A model trained with note moves is scored with them too.
            moves: self.plan.params.moves,
            jumps: crate::model::ais::JUMPS,
            refine_below: 0.0,
            refine_apart: 0.0,
            acc_samples: 1,
            gibbs: 25,
            max_rows: crate::model::likelihood::MAX_ROWS,
            raise: true,
            // Training records no bound: not worth its cost at every validation.
            lower_bound: false,
        };
        let e = evaluate(
            model,
            &self.plan.config,
            &vdata.pieces,
            &opts,
            &mut |_, _, _| {},
        );
        record["valid_nll"] = e.nll_per_frame.into();
        record["valid_nll_stderr"] = e.nll_stderr.into();
        record["valid_nll_conservative"] = e.nll_conservative.into();
        record["valid_acc"] = e.acc.into();
        record["valid_ess"] = e.ess_mean.into();
        record["valid_seconds"] = e.seconds.into();
        eprintln!(
            "  valid NLL {:.3} (AIS) … {:.3} (RAISE) per frame, ACC {:.1}%  ({:.1} s)",
            e.nll_per_frame,
            e.nll_conservative.unwrap_or(f64::NAN),
            e.acc,
            e.seconds
        );
        Some((e.nll_per_frame, e.nll_conservative))
    }

    fn sidecar(&self, epoch: usize, cost: f64) -> Sidecar {
        let p = self.plan;
        Sidecar::new(
            Stage::Trained,
            &p.config,
            &p.params,
            &self.data.spec,
            epoch,
            cost,
        )
    }

    /// Writes `epoch_<epoch>.ot` with its sidecar.
    fn save(&self, epoch: usize, cost: f64, state: &[(String, Tensor)]) -> Result<PathBuf> {
        let path = self.plan.out.join(format!("epoch_{epoch}.ot"));
        checkpoint::save(&path, &self.sidecar(epoch, cost), state)?;
        eprintln!("saved {}", path.display());
        Ok(path)
    }

    /// The end: on Ctrl-C, saves the last finished epoch if it was not saved, says how to resume
    /// and returns [`Interrupted`].
    fn finish(mut self) -> Result<()> {
        if !interrupt::requested() {
            return Ok(());
        }
        if let Some(e) = self.unsaved.take() {
            self.last_saved = Some(self.save(e.epoch, e.cost, &e.state)?);
        }
        match &self.last_saved {
            Some(path) => eprintln!(
                "interrupted; resume with: rnn-rbm train {} --resume {}",
                self.epochs,
                path.display()
            ),
            None => eprintln!("interrupted before the first epoch finished: nothing to save"),
        }
        Err(Interrupted.into())
    }
}

/// Loads `initialized.ot` from `out` when present, else pre-trains the RBM (and saves it) unless
/// told not to.
fn start_from_pretrained(
    model: &RnnRbm,
    config: &ModelConfig,
    data: &TrainingData,
    params: &TrainParams,
    out: &Path,
    no_init: bool,
) -> Result<()> {
    let path = out.join("initialized.ot");
    if path.exists() {
        let (sidecar, tensors) = checkpoint::load(&path)?;
        // The pre-trained RBM (W, bv, bh) does not depend on the recurrence.
        let pretrained_for = ModelConfig {
            cell: config.cell,
            n_rnn: config.n_rnn,
            ..sidecar.model.clone()
        };
        if &pretrained_for != config {
            bail!(
                "{} was pre-trained for {}, not {}: run `rnn-rbm init` with the same layout, choose another --out, or pass --no-init",
                path.display(),
                sidecar.model.describe(),
                config.describe()
            );
        }
        if sidecar.corpus.path != data.spec.path || sidecar.corpus.split != data.spec.split {
            eprintln!(
                "note: {} was pre-trained on {}, not on {}",
                path.display(),
                sidecar.corpus.path,
                data.spec.path
            );
        }
        checkpoint::restore(&path, &rbm_parameters(model), &tensors)?;
        eprintln!("starting from the pre-trained RBM {}", path.display());
    } else if no_init {
        eprintln!("no pre-training (--no-init): starting from random weights");
    } else {
        eprintln!("no {} yet: pre-training the RBM first ({} epochs of CD-{}; `rnn-rbm init` does this alone)", path.display(), params.init_epochs, params.init_k);
        pretrain_and_save(model, config, data, params, params.optimizer, &path)?;
    }
    Ok(())
}
