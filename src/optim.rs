//! Gradient descent with element-wise clipping: plain SGD (the original's) or Adam.
//!
//! Written out here rather than taken from libtorch so that the optimizer's state (Adam's
//! moments and step count) is a set of named tensors saved inside every checkpoint, which makes
//! `train --resume` continue exactly where it stopped.
//!
//! ```text
//! g = clamp(∇θ, -clip, clip)
//! SGD:  θ ← θ − lr·g
//! decay (weight matrices only, if λ > 0): θ ← (1 − lr·λ) θ
//! Adam: m ← β1 m + (1−β1) g;  s ← β2 s + (1−β2) g²;  θ ← θ − lr·(m/(1−β1ᵗ)) / (√(s/(1−β2ᵗ)) + ε)
//! ```
use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use tch::Tensor;

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum OptimizerKind {
    Sgd,
    Adam,
}

const BETA1: f64 = 0.9;
const BETA2: f64 = 0.999;
const EPS: f64 = 1e-8;

pub struct Optimizer {
    kind: OptimizerKind,
    pub lr: f64,
    clip: f64,
    /// Decoupled weight decay on the weight matrices (names starting with `W`).
    pub weight_decay: f64,
    /// Parameters in a fixed order, with their checkpoint names.
    params: Vec<(String, Tensor)>,
    first_moment: Vec<Tensor>,
    second_moment: Vec<Tensor>,
    steps: i64,
}

impl Optimizer {
    /// `params`: the tensors to update (each must require grad), named as in the checkpoint.
    pub fn new(kind: OptimizerKind, lr: f64, clip: f64, params: Vec<(String, Tensor)>) -> Self {
        let zeros = |p: &Vec<(String, Tensor)>| p.iter().map(|(_, t)| t.zeros_like()).collect();
        Optimizer {
            kind,
            lr,
            clip,
            weight_decay: 0.0,
            first_moment: zeros(&params),
            second_moment: zeros(&params),
            params,
            steps: 0,
        }
    }

    pub fn zero_grad(&mut self) {
        for (_, p) in &self.params {
            let mut g = p.grad();
            if g.defined() {
                let _ = g.zero_();
            }
        }
    }

    /// One update from the gradients accumulated in the parameters (those without a gradient,
    /// e.g. the RNN during pre-training, are left alone), then clears the gradients.
    pub fn step(&mut self) {
        self.steps += 1;
        let t = self.steps as f64;
        tch::no_grad(|| {
            for (i, (name, p)) in self.params.iter().enumerate() {
                let g = p.grad();
                if !g.defined() {
                    continue;
                }
                let g = g.clamp(-self.clip, self.clip);
                let mut p = p.shallow_clone();
                if self.weight_decay > 0.0 && name.starts_with('W') {
                    let _ = p.g_mul_scalar_(1.0 - self.lr * self.weight_decay);
                }
                match self.kind {
                    OptimizerKind::Sgd => {
                        let _ = p.g_add_(&(g * -self.lr));
                    }
                    OptimizerKind::Adam => {
                        let m = &mut self.first_moment[i];
                        let s = &mut self.second_moment[i];
                        let _ = m.g_mul_scalar_(BETA1).g_add_(&(&g * (1.0 - BETA1)));
                        let _ = s.g_mul_scalar_(BETA2).g_add_(&(&g * &g * (1.0 - BETA2)));
                        let m_hat = &*m / (1.0 - BETA1.powf(t));
                        let s_hat = &*s / (1.0 - BETA2.powf(t));
                        let _ = p.g_add_(&(m_hat / (s_hat.sqrt() + EPS) * -self.lr));
                    }
                }
            }
        });
        self.zero_grad();
    }

    /// The state as named tensors (`optim.m.<name>`, `optim.s.<name>`, `optim.steps`), for the
    /// checkpoint.
    pub fn state_tensors(&self) -> Vec<(String, Tensor)> {
        let mut out = Vec::new();
        for (i, (name, _)) in self.params.iter().enumerate() {
            out.push((
                format!("optim.m.{name}"),
                self.first_moment[i].shallow_clone(),
            ));
            out.push((
                format!("optim.s.{name}"),
                self.second_moment[i].shallow_clone(),
            ));
        }
        out.push(("optim.steps".into(), Tensor::from_slice(&[self.steps])));
        out
    }

    /// Restores the state saved by [`state_tensors`](Self::state_tensors).
    pub fn load_state(&mut self, tensors: &HashMap<String, Tensor>) -> Result<()> {
        let Some(steps) = tensors.get("optim.steps") else {
            bail!("it holds no optimizer state (optim.steps missing)");
        };
        self.steps = steps.int64_value(&[0]);
        for (i, (name, p)) in self.params.iter().enumerate() {
            for (prefix, slot) in [
                ("m", &mut self.first_moment[i]),
                ("s", &mut self.second_moment[i]),
            ] {
                let key = format!("optim.{prefix}.{name}");
                let Some(t) = tensors.get(&key) else {
                    bail!("optimizer state {key} missing")
                };
                if t.size() != p.size() {
                    bail!(
                        "optimizer state {key} has shape {:?}, expected {:?}",
                        t.size(),
                        p.size()
                    );
                }
                *slot = t.to_device(p.device()).to_kind(p.kind());
            }
        }
        Ok(())
    }
}
