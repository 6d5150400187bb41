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
    /// Adam's moments, one per parameter: views into `flat_moments` when the parameters share a
    /// kind and a device, so that [`step_flat`](Self::step_flat) can update all at once.
    first_moment: Vec<Tensor>,
    second_moment: Vec<Tensor>,
    /// The moments of every parameter end to end, `(N,)` each, `N` the parameters' total size.
    flat_moments: Option<(Tensor, Tensor)>,
    steps: i64,
}

/// The decoupled weight decay's factor `1 − lr·λ` for the parameter `name`: weight matrices only
/// (names starting with `W`), and only when `λ > 0`.
fn decay(lr: f64, weight_decay: f64, name: &str) -> Option<f64> {
    (weight_decay > 0.0 && name.starts_with('W')).then_some(1.0 - lr * weight_decay)
}

/// Adam's step for gradient `g` (already clipped) at step `t`, updating the moments `m` and `s`
/// in place: `−lr · m̂ / (√ŝ + ε)`, to be added to the parameter.
fn adam_update(m: &mut Tensor, s: &mut Tensor, g: &Tensor, t: f64, lr: f64) -> Tensor {
    let _ = m.g_mul_scalar_(BETA1).g_add_(&(g * (1.0 - BETA1)));
    let _ = s.g_mul_scalar_(BETA2).g_add_(&(g * g * (1.0 - BETA2)));
    let m_hat = &*m / (1.0 - BETA1.powf(t));
    let s_hat = &*s / (1.0 - BETA2.powf(t));
    m_hat / (s_hat.sqrt() + EPS) * -lr
}

impl Optimizer {
    /// `params`: the tensors to update (each must require grad), named as in the checkpoint.
    pub fn new(kind: OptimizerKind, lr: f64, clip: f64, params: Vec<(String, Tensor)>) -> Self {
        let alike = params
            .windows(2)
            .all(|w| (w[0].1.kind(), w[0].1.device()) == (w[1].1.kind(), w[1].1.device()));
        let (first_moment, second_moment, flat_moments) = match params.first() {
            Some((_, p0)) if alike => {
                let total: i64 = params.iter().map(|(_, p)| p.numel() as i64).sum();
                let flat = || Tensor::zeros([total], (p0.kind(), p0.device()));
                let (m, s) = (flat(), flat());
                let mut offset = 0;
                let (mut ms, mut ss) = (Vec::new(), Vec::new());
                for (_, p) in &params {
                    let n = p.numel() as i64;
                    ms.push(m.narrow(0, offset, n).view(p.size().as_slice()));
                    ss.push(s.narrow(0, offset, n).view(p.size().as_slice()));
                    offset += n;
                }
                (ms, ss, Some((m, s)))
            }
            _ => {
                let zeros = || params.iter().map(|(_, t)| t.zeros_like()).collect();
                (zeros(), zeros(), None)
            }
        };
        Optimizer {
            kind,
            lr,
            clip,
            weight_decay: 0.0,
            first_moment,
            second_moment,
            flat_moments,
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
        if self.fused_applicable() {
            self.step_fused(t);
            return;
        }
        if self.flat_applicable() {
            self.step_flat(t);
            return;
        }
        self.step_each(t);
    }

    /// [`step`](Self::step) one parameter at a time, in tensor operations: a dozen per parameter.
    fn step_each(&mut self, t: f64) {
        tch::no_grad(|| {
            for (i, (name, p)) in self.params.iter().enumerate() {
                let g = p.grad();
                if !g.defined() {
                    continue;
                }
                let g = g.clamp(-self.clip, self.clip);
                let mut p = p.shallow_clone();
                if let Some(d) = decay(self.lr, self.weight_decay, name) {
                    let _ = p.g_mul_scalar_(d);
                }
                let update = match self.kind {
                    OptimizerKind::Sgd => g * -self.lr,
                    OptimizerKind::Adam => adam_update(
                        &mut self.first_moment[i],
                        &mut self.second_moment[i],
                        &g,
                        t,
                        self.lr,
                    ),
                };
                let _ = p.g_add_(&update);
            }
        });
        self.zero_grad();
    }

    /// Whether [`step_flat`](Self::step_flat) can run: Adam, moments laid end to end, and a
    /// gradient for every parameter (a training update; pre-training updates only the RBM's).
    fn flat_applicable(&self) -> bool {
        self.kind == OptimizerKind::Adam
            && self.flat_moments.is_some()
            && self.params.iter().all(|(_, p)| p.grad().defined())
    }

    /// [`step_each`](Self::step_each)'s Adam over all parameters at once: their gradients end to
    /// end in one vector, the moments' updates and the step on it, then one addition per
    /// parameter. The same element-wise operations in the same order, so the same bits, in about
    /// 40 tensor operations instead of 17 per parameter: on a GPU each is a kernel launch, and a
    /// training update's launches, not its arithmetic, take its time.
    fn step_flat(&mut self, t: f64) {
        let (m, s) = self.flat_moments.as_ref().expect("flat moments");
        let (mut m, mut s) = (m.shallow_clone(), s.shallow_clone());
        tch::no_grad(|| {
            let grads: Vec<Tensor> = self
                .params
                .iter()
                .map(|(_, p)| p.grad().reshape([-1]))
                .collect();
            let g = Tensor::cat(&grads, 0).clamp(-self.clip, self.clip);
            let update = adam_update(&mut m, &mut s, &g, t, self.lr);
            let mut offset = 0;
            for (name, p) in &self.params {
                let n = p.numel() as i64;
                let mut p = p.shallow_clone();
                if let Some(d) = decay(self.lr, self.weight_decay, name) {
                    let _ = p.g_mul_scalar_(d);
                }
                let _ = p.g_add_(&update.narrow(0, offset, n).view(p.size().as_slice()));
                offset += n;
            }
        });
        self.zero_grad();
    }

    /// Whether [`step_fused`](Self::step_fused) can run: every parameter, gradient and moment
    /// contiguous float32 on the CPU.
    fn fused_applicable(&self) -> bool {
        let ok = |t: &Tensor| {
            t.device() == tch::Device::Cpu && t.kind() == tch::Kind::Float && t.is_contiguous()
        };
        self.params.iter().enumerate().all(|(i, (_, p))| {
            let g = p.grad();
            ok(p)
                && (!g.defined() || ok(&g))
                && ok(&self.first_moment[i])
                && ok(&self.second_moment[i])
        })
    }

    /// [`step`](Self::step) as one loop over each parameter's elements (clip, decay, update and
    /// clearing the gradient together), for float32 on the CPU: the tensor version's dozen
    /// operations per parameter cost a libtorch dispatch each, a quarter of a small update.
    /// The same formulas, evaluated in float32 in the same order but for `m̂` and `ŝ`, whose
    /// divisions become multiplications.
    fn step_fused(&mut self, t: f64) {
        let (lr, clip, kind) = (self.lr as f32, self.clip as f32, self.kind);
        let (c1, c2) = (
            (1.0 / (1.0 - BETA1.powf(t))) as f32,
            (1.0 / (1.0 - BETA2.powf(t))) as f32,
        );
        let (b1, b2, eps) = (BETA1 as f32, BETA2 as f32, EPS as f32);
        for (i, (name, p)) in self.params.iter().enumerate() {
            let g = p.grad();
            if !g.defined() {
                continue;
            }
            let n = p.numel();
            let decay = decay(self.lr, self.weight_decay, name).map_or(1.0, |d| d as f32);
            // SAFETY: all four tensors are contiguous float32 CPU tensors of `n` elements
            // (checked by `fused_applicable`; moments are built like their parameter), in memory
            // that does not overlap (the moments of different parameters share a storage, in
            // disjoint ranges), and nothing else touches them during the loop.
            let (p, g, m, s) = unsafe {
                (
                    std::slice::from_raw_parts_mut(p.data_ptr() as *mut f32, n),
                    std::slice::from_raw_parts_mut(g.data_ptr() as *mut f32, n),
                    std::slice::from_raw_parts_mut(self.first_moment[i].data_ptr() as *mut f32, n),
                    std::slice::from_raw_parts_mut(self.second_moment[i].data_ptr() as *mut f32, n),
                )
            };
            for j in 0..n {
                let gj = g[j].clamp(-clip, clip);
                g[j] = 0.0;
                let w = p[j] * decay;
                p[j] = match kind {
                    OptimizerKind::Sgd => w - lr * gj,
                    OptimizerKind::Adam => {
                        m[j] = b1 * m[j] + (1.0 - b1) * gj;
                        s[j] = b2 * s[j] + (1.0 - b2) * gj * gj;
                        w - lr * (m[j] * c1) / ((s[j] * c2).sqrt() + eps)
                    }
                };
            }
        }
    }

    /// The state as named tensors (`optim.m.<name>`, `optim.s.<name>`, `optim.steps`), for the
    /// checkpoint.
    pub fn state_tensors(&self) -> Vec<(String, Tensor)> {
        let mut out = Vec::new();
        for (i, (name, _)) in self.params.iter().enumerate() {
            // Copies: the moments may be views of the flat ones, and a checkpoint holds each
            // parameter's alone.
            out.push((format!("optim.m.{name}"), self.first_moment[i].copy()));
            out.push((format!("optim.s.{name}"), self.second_moment[i].copy()));
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
                // Copied in, not replaced: the moments may be views of the flat ones.
                tch::no_grad(|| slot.copy_(t));
            }
        }
        Ok(())
    }
}
