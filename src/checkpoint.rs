//! Checkpoints: libtorch's native tensor archive (`epoch_<n>.ot`, what `VarStore::save` writes)
//! plus a JSON sidecar (`epoch_<n>.json`) holding everything needed to rebuild and continue the
//! model — layout, sizes, hyper-parameters, corpus, seed, epoch — so no flags are needed to use it.
//!
//! The sidecar is also stored inside the archive (the bytes of a `u8` tensor named
//! `meta.sidecar`), so the `.ot` file alone is a complete checkpoint and one atomic rename
//! publishes it: it is written to a temporary file in the same folder, flushed, and renamed.
//! `kill -9` at any moment leaves the previous checkpoint of that name, or none — never half of
//! one, and never an archive paired with another run's sidecar. The `.json` beside it (written
//! the same way, just after) is for people and tools; loading trusts the embedded copy.
use crate::atomic;
use crate::config::{Layout, ModelConfig};
use crate::model::RnnRbm;
use crate::optim::OptimizerKind;
use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use tch::{nn, Device, Tensor};

/// Name of the archive entry that holds the sidecar's JSON bytes.
const SIDECAR_TENSOR: &str = "meta.sidecar";

/// Where bare checkpoint names are looked up and checkpoints are written by default.
pub const DEFAULT_DIR: &str = "parameter_checkpoints";

/// The hyper-parameters of a training run.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct TrainParams {
    pub optimizer: OptimizerKind,
    pub lr: f64,
    /// Gibbs steps of CD-k.
    pub k: i64,
    /// Element-wise gradient clipping.
    pub clip: f64,
    /// Consecutive visible vectors per training sequence (the original's batch of 100).
    pub chunk_len: usize,
    /// Sequences per parameter update (1 = the original: one update per chunk).
    pub batch_size: usize,
    pub seed: u64,
    /// RBM pre-training (`init`): epochs, CD steps, learning rate.
    pub init_epochs: usize,
    pub init_k: i64,
    pub init_lr: f64,
    /// Validation during training, if any.
    #[serde(default)]
    pub validation: Option<Validation>,
    /// Training pieces also transposed by ±1 … ±`transpose` semitones.
    #[serde(default)]
    pub transpose: u32,
    /// Decoupled weight decay (AdamW-style) on the weight matrices, per update: `θ ← θ − lr·λ·θ`.
    #[serde(default)]
    pub weight_decay: f64,
    /// The learning rate halves every this many epochs: `lr_e = lr · 0.5^((e−1)/halflife)`
    /// (none: constant).
    #[serde(default)]
    pub lr_halflife: Option<f64>,
    /// Where CD's negative chains start.
    #[serde(default)]
    pub cd_start: crate::model::rnn_rbm::ChainStart,
    /// Note moves after every this many Gibbs steps of CD-k's chains (0: none).
    #[serde(default)]
    pub moves: usize,
}

impl TrainParams {
    /// The original's recipe, which the `seed` and `paper` layouts keep: Adam at 0.001, one
    /// chunk of 100 vectors per update, CD-15, clipping at ±10, 100 epochs of CD-1 pre-training.
    pub fn defaults() -> Self {
        TrainParams {
            optimizer: OptimizerKind::Adam,
            lr: 0.001,
            k: 15,
            clip: 10.0,
            chunk_len: 100,
            batch_size: 1,
            seed: 1234,
            init_epochs: 100,
            init_k: 1,
            init_lr: 0.001,
            validation: None,
            transpose: 0,
            weight_decay: 0.0,
            lr_halflife: None,
            cd_start: Default::default(),
            moves: 0,
        }
    }

    /// The defaults of a layout. `chorale` learns from 8 chunks per update at a learning rate
    /// of 0.003 that halves every 100 epochs (the recipe of the committed JSB model, whose
    /// half-life was 50 over 300 epochs; docs/BENCHMARKS.md has the measurements); `seed` and
    /// `paper` keep the original's [`defaults`](Self::defaults).
    pub fn for_layout(layout: Layout) -> Self {
        match layout {
            Layout::Chorale => TrainParams {
                batch_size: 8,
                lr: 0.003,
                lr_halflife: Some(100.0),
                ..Self::defaults()
            },
            Layout::Seed | Layout::Paper => Self::defaults(),
        }
    }

    /// The learning rate of epoch `epoch` (1-based).
    pub fn lr_at(&self, epoch: usize) -> f64 {
        match self.lr_halflife {
            Some(h) if h > 0.0 => self.lr * 0.5f64.powf((epoch.max(1) - 1) as f64 / h),
            _ => self.lr,
        }
    }
}

/// Held-out data scored during training with a cheap AIS estimate, to keep the best model.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Validation {
    /// A folder of MIDI files, a MIDI file, or a piano-roll JSON file.
    pub path: String,
    pub split: Option<String>,
    /// Score every this many epochs.
    pub every: usize,
    pub chains: i64,
    pub temperatures: usize,
    /// Gibbs sweeps that fit the AIS base to each frame, from chains started at the previous
    /// frame (0 in runs older than this field: the visible biases alone).
    #[serde(default)]
    pub base_sweeps: usize,
}

impl Validation {
    /// The cheap estimate `train` runs on `path` (`split`) unless told otherwise: 10 AIS chains
    /// × 100 temperatures (and RAISE) every 50 epochs, the base fitted by 20 sweeps.
    pub fn new(path: String, split: Option<String>) -> Self {
        Validation {
            path,
            split,
            every: 50,
            chains: 10,
            temperatures: 100,
            base_sweeps: 20,
        }
    }
}

/// Which data a model was trained on.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct CorpusSpec {
    /// A folder of MIDI files or a piano-roll JSON file.
    pub path: String,
    /// The split of a piano-roll JSON file.
    pub split: Option<String>,
    pub pieces: usize,
    pub vectors: usize,
}

/// What a checkpoint holds.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Stage {
    /// `init`: the RBM pre-trained alone (`initialized.ot`).
    Pretrained,
    /// `train`: the whole RNN-RBM.
    Trained,
}

/// The JSON sidecar.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Sidecar {
    pub stage: Stage,
    pub model: ModelConfig,
    pub train: TrainParams,
    pub corpus: CorpusSpec,
    /// Epochs completed (of `train`, or of pre-training for `Stage::Pretrained`).
    pub epoch: usize,
    /// Mean free-energy gap of the last epoch.
    pub cost: Option<f64>,
    /// Validation NLL per frame (training's cheap AIS estimate) at this epoch, if scored.
    #[serde(default)]
    pub valid_nll: Option<f64>,
    /// The conservative (RAISE) estimate of the same, which selects `best.ot`.
    #[serde(default)]
    pub valid_nll_conservative: Option<f64>,
    pub version: String,
}

impl Sidecar {
    pub fn new(
        stage: Stage,
        model: &ModelConfig,
        train: &TrainParams,
        corpus: &CorpusSpec,
        epoch: usize,
        cost: f64,
    ) -> Self {
        Sidecar {
            stage,
            model: model.clone(),
            train: train.clone(),
            corpus: corpus.clone(),
            epoch,
            cost: Some(cost),
            valid_nll: None,
            valid_nll_conservative: None,
            version: env!("CARGO_PKG_VERSION").into(),
        }
    }
}

/// `epoch_5.ot` → `epoch_5.json`.
pub fn sidecar_path(checkpoint: &Path) -> PathBuf {
    checkpoint.with_extension("json")
}

/// A checkpoint given on the command line: a path that exists, or a relative one looked up in
/// `parameter_checkpoints/` (so `generate epoch_500.ot` and `jsb/best.ot` work from the project
/// root).
pub fn resolve(name: &Path) -> Result<PathBuf> {
    if name.exists() {
        return Ok(name.to_path_buf());
    }
    let in_default = Path::new(DEFAULT_DIR).join(name);
    // A relative name that is not here (`epoch_500.ot`, `jsb/best.ot`) may be in the default
    // folder.
    if name.is_relative() && in_default.exists() {
        return Ok(in_default);
    }
    bail!(
        "checkpoint {} not found (looked for {} and {})",
        name.display(),
        name.display(),
        in_default.display()
    )
}

/// Writes `tensors` to `path` and `sidecar` beside it, each atomically.
pub fn save(path: &Path, sidecar: &Sidecar, tensors: &[(String, Tensor)]) -> Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create folder {}", dir.display()))?;
    let json = serde_json::to_vec_pretty(sidecar)?;
    let mut on_cpu: Vec<(String, Tensor)> = tensors
        .iter()
        .map(|(n, t)| (n.clone(), t.detach().to_device(Device::Cpu)))
        .collect();
    on_cpu.push((SIDECAR_TENSOR.to_string(), Tensor::from_slice(&json)));
    atomic::write_with(path, |tmp| {
        Tensor::save_multi(&on_cpu, tmp).with_context(|| format!("cannot write {}", tmp.display()))
    })?;
    atomic::write_bytes(&sidecar_path(path), &json)?;
    sync_dir(dir);
    Ok(())
}

fn sync_dir(dir: &Path) {
    // Makes the renames durable; not possible on every platform, and harmless to skip.
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

/// Reads a checkpoint: its sidecar (the copy inside the archive, or else the `.json` beside
/// it) and its named tensors (on the CPU).
pub fn load(path: &Path) -> Result<(Sidecar, HashMap<String, Tensor>)> {
    if !path.exists() {
        bail!("checkpoint {} not found", path.display());
    }
    let tensors = Tensor::load_multi(path).map_err(|e| {
        let first = e.to_string().lines().next().unwrap_or_default().to_string();
        anyhow::anyhow!(
            "checkpoint {} is not a readable libtorch archive (truncated or foreign?): {first}",
            path.display()
        )
    })?;
    let mut tensors: HashMap<String, Tensor> = tensors.into_iter().collect();
    let sidecar = match tensors.remove(SIDECAR_TENSOR) {
        Some(bytes) => {
            let bytes = Vec::<u8>::try_from(&bytes).map_err(|_| {
                anyhow::anyhow!(
                    "checkpoint {}: its embedded sidecar is not bytes",
                    path.display()
                )
            })?;
            serde_json::from_slice(&bytes).with_context(|| {
                format!(
                    "checkpoint {}: its embedded sidecar is not valid",
                    path.display()
                )
            })?
        }
        None => {
            let side = sidecar_path(path);
            let text = std::fs::read_to_string(&side).with_context(|| {
                format!(
                    "checkpoint {} holds no sidecar and {} cannot be read (not an rnn-rbm checkpoint?)",
                    path.display(),
                    side.display()
                )
            })?;
            serde_json::from_str(&text).with_context(|| {
                format!(
                    "checkpoint {}: sidecar {} is not valid",
                    path.display(),
                    side.display()
                )
            })?
        }
    };
    Ok((sidecar, tensors))
}

/// Copies the named tensors into the model's variables, checking that each exists with the
/// right shape.
pub fn restore(
    path: &Path,
    vars: &[(String, Tensor)],
    tensors: &HashMap<String, Tensor>,
) -> Result<()> {
    tch::no_grad(|| {
        for (name, var) in vars {
            let Some(saved) = tensors.get(name) else {
                bail!("checkpoint {} has no parameter {name}", path.display());
            };
            if saved.size() != var.size() {
                bail!(
                    "checkpoint {}: parameter {name} has shape {:?}, the model expects {:?}",
                    path.display(),
                    saved.size(),
                    var.size()
                );
            }
            var.shallow_clone().copy_(saved);
        }
        Ok(())
    })
}

/// A trained model rebuilt from its checkpoint.
pub struct LoadedModel {
    pub path: PathBuf,
    pub sidecar: Sidecar,
    pub model: RnnRbm,
    _vs: nn::VarStore,
}

/// Loads a `train` checkpoint onto `device`.
pub fn load_model(name: &Path, device: Device) -> Result<LoadedModel> {
    let path = resolve(name)?;
    let (sidecar, tensors) = load(&path)?;
    if sidecar.stage != Stage::Trained {
        bail!(
            "{} is a pre-trained RBM without its RNN: train a model first (rnn-rbm train)",
            path.display()
        );
    }
    let config = &sidecar.model;
    let vs = nn::VarStore::new(device);
    let model = RnnRbm::for_config(&vs.root(), config);
    restore(&path, &model.named_parameters(), &tensors)?;
    Ok(LoadedModel {
        path,
        sidecar,
        model,
        _vs: vs,
    })
}
