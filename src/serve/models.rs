//! The models `serve` offers: every trained checkpoint under its checkpoint folder, found afresh
//! on each listing, with what its sidecar says. A request names a model by its name in this
//! listing (`jsb/best.ot`, the path under the folder); only a name found here is ever turned into
//! a path, so nothing a request sends reaches the file system.
use crate::checkpoint::{self, Sidecar, Stage};
use crate::config::ModelConfig;
use crate::model::rnn_rbm::default_sampler;
use serde::Serialize;
use std::path::{Path, PathBuf};

/// Folders deeper than this under the checkpoint folder are not searched.
const MAX_DEPTH: usize = 4;

/// A listed model: what the page shows, and the defaults of its forms.
#[derive(Serialize, Debug, Clone)]
pub struct ModelInfo {
    /// The name requests use: the path under the checkpoint folder, with `/`.
    pub name: String,
    pub layout: String,
    pub description: String,
    pub corpus: String,
    pub epoch: usize,
    pub valid_nll: Option<f64>,
    pub valid_nll_conservative: Option<f64>,
    pub steps_per_quarter: u32,
    pub steps_per_vector: usize,
    pub low_note: u8,
    pub high_note: u8,
    pub defaults: Defaults,
}

/// The defaults of `generate` and `harmonize` for this model.
#[derive(Serialize, Debug, Clone)]
pub struct Defaults {
    pub count: usize,
    /// Grid steps: 300 visible vectors.
    pub length: usize,
    pub gibbs: i64,
    pub chain_start: String,
    pub tempo: f64,
    pub voices: i64,
    pub harmonize_gibbs: i64,
}

/// A model found on disk.
#[derive(Debug, Clone)]
pub struct Model {
    pub info: ModelInfo,
    pub path: PathBuf,
    pub config: ModelConfig,
}

fn info(name: String, sidecar: &Sidecar) -> ModelInfo {
    let config = &sidecar.model;
    let (start, gibbs) = default_sampler(config);
    let start = format!("{start:?}").to_lowercase();
    ModelInfo {
        name,
        layout: config.layout.to_string(),
        description: config.describe(),
        corpus: match &sidecar.corpus.split {
            Some(split) => format!("{} (split {split})", sidecar.corpus.path),
            None => sidecar.corpus.path.clone(),
        },
        epoch: sidecar.epoch,
        valid_nll: sidecar.valid_nll,
        valid_nll_conservative: sidecar.valid_nll_conservative,
        steps_per_quarter: config.steps_per_quarter,
        steps_per_vector: config.steps_per_vector,
        low_note: config.low_note,
        high_note: (config.low_note as usize + config.n_notes - 1).min(127) as u8,
        defaults: Defaults {
            count: 3,
            length: 300 * config.steps_per_vector,
            gibbs,
            chain_start: start,
            tempo: 120.0,
            voices: 4,
            harmonize_gibbs: gibbs,
        },
    }
}

/// The sidecar of `path`: the `.json` beside it, else the copy inside the archive.
fn sidecar_of(path: &Path) -> Option<Sidecar> {
    std::fs::read(checkpoint::sidecar_path(path))
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .or_else(|| checkpoint::load(path).ok().map(|(sidecar, _)| sidecar))
}

/// Every trained checkpoint (`*.ot`) under `root`, sorted by name; pre-trained RBMs and
/// unreadable files are left out.
pub fn list(root: &Path) -> Vec<Model> {
    let mut found = Vec::new();
    walk(root, root, 0, &mut found);
    found.sort_by(|a: &Model, b| a.info.name.cmp(&b.info.name));
    found
}

fn walk(root: &Path, dir: &Path, depth: usize, found: &mut Vec<Model>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_dir() && depth < MAX_DEPTH {
            walk(root, &path, depth + 1, found);
        } else if kind.is_file() && path.extension().is_some_and(|e| e == "ot") {
            let Some(sidecar) = sidecar_of(&path).filter(|s| s.stage == Stage::Trained) else {
                continue;
            };
            let Ok(relative) = path.strip_prefix(root) else {
                continue;
            };
            let name = relative
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join("/");
            found.push(Model {
                info: info(name, &sidecar),
                config: sidecar.model.clone(),
                path,
            });
        }
    }
}

/// The model listed under exactly `name`, if any.
pub fn find(root: &Path, name: &str) -> Option<Model> {
    list(root).into_iter().find(|m| m.info.name == name)
}
