//! Annealed Importance Sampling (Salakhutdinov & Murray, 2008) for the partition functions of
//! the RBMs of many frames at once, and the exact value for small RBMs.
//!
//! Every frame `f` has its own RBM: shared `W (V, H)`, biases `bv_f`, `bh_f`. With
//! `x(v) = v W + bh_f` and a base of independent visible units with biases `ba_f`, the path
//! moves the visible biases from `ba_f` to `bv_f` and scales the interactions by `β ∈ [0, 1]`:
//!
//! ```text
//! log p*_β(v) = v·((1−β) ba_f + β bv_f) + Σ_j softplus(β x_j(v))
//! β = 0:  independent visible units, log Z_0 = Σ_i softplus(ba_f,i) + H log 2   (exact)
//! β = 1:  the frame's RBM.
//! ```
//!
//! The closer the base is to the RBM, the fewer temperatures AIS needs. The base biases are
//! the logits of the RBM's own visible marginals, estimated by a few Gibbs sweeps of every chain
//! started at a given visible vector (the previous frame, for evaluation: it must not be the
//! frame being scored, or RAISE could peek at it); with no sweeps the base is `ba_f = bv_f`. Any base gives an unbiased estimate of `Z`; a good one gives a precise one.
//!
//! Each of `C` chains per frame starts with an exact sample of `p_0`, and for `β_1 < … < β_K = 1`
//! adds `log p*_βk(v) − log p*_βk−1(v)` to its log-weight, then takes one Gibbs step of the RBM at
//! `β_k`. Then `log Ẑ = log Z_0 + log mean_c exp(w_c)`. Frames and chains are flattened into one
//! batch of `F·C` rows, so every step is two matrix products (`v W`, shared by the weight and the
//! next Gibbs step, and `h Wᵀ`). The effective sample size
//! `(Σ w)² / Σ w²` says how far each estimate can be trusted.
use super::rbm::{bernoulli, softplus};
use tch::Tensor;

/// Per-frame AIS estimates.
pub struct AisEstimate {
    /// `log Ẑ_f`, shape `(F)`.
    pub log_z: Tensor,
    /// Variance of `log Ẑ_f` by the delta method: `var(w) / (C · mean(w)²)`, shape `(F)`.
    pub log_z_var: Tensor,
    /// Effective sample size as a fraction of the chains, in `(0, 1]`, shape `(F)`.
    pub ess: Tensor,
}

/// `K` inverse temperatures `β_k = k/K`. (Denser spacing near 0 or 1 made no difference beyond
/// noise on a trained JSB model.)
pub fn schedule(k: usize) -> Vec<f64> {
    (1..=k).map(|i| i as f64 / k as f64).collect()
}

/// Heavy vectors per frame between which [`AisOptions::jumps`] lets the chains jump, by
/// default: on the first 3 Nottingham valid pieces 16 of them brought AIS and RAISE from 0.077
/// apart to 0.028, 64 to 0.017, at no measurable cost (docs/BENCHMARKS.md, "Nottingham: jumps").
pub const JUMPS: usize = 64;

/// How much work AIS does.
#[derive(Clone, Copy, Debug)]
pub struct AisOptions {
    /// Chains per frame.
    pub chains: i64,
    /// Intermediate distributions.
    pub temperatures: usize,
    /// Gibbs sweeps that estimate the base distribution (0: base biases = `bv`).
    pub base_sweeps: usize,
    /// Note moves after the Gibbs sweep of every `moves`-th temperature (0: none): Metropolis
    /// steps that move one sounding note, all of them, or all but the highest, by up to an
    /// octave (`kernel::move_notes`), for RBMs too sharp for Gibbs sweeps to cross between their
    /// modes.
    pub moves: usize,
    /// With the moves, jumps between this many of the heaviest vectors near the previous frame
    /// (`kernel::Jumps`; 0: none). The fused CPU kernel only: the tensor version has none.
    pub jumps: usize,
}

/// AIS estimate of `log Z` of every frame's RBM. `w (V, H)`, `bv (F, V)`, `bh (F, H)`; the base
/// is estimated from chains started at `v_start (F, V)`. In expectation `log Ẑ ≤ log Z`: when
/// the chains miss part of the distribution, the NLL it gives is *optimistic*.
pub fn log_partition(
    w: &Tensor,
    bv: &Tensor,
    bh: &Tensor,
    v_start: &Tensor,
    opts: AisOptions,
) -> AisEstimate {
    anneal(w, bv, bh, v_start, opts, Direction::Forward)
}

/// RAISE, reverse AIS (Burda, Grosse & Salakhutdinov, AISTATS 2015): the conservative twin of
/// [`log_partition`]. Every chain starts at the frame's data vector `v_data (F, V)` and anneals
/// *down* from `β = 1` to the base, one Gibbs step per temperature; then
///
/// ```text
/// p̂(v) = f_1(v) / Z_0 · mean_c exp(−Σ_k [log p*_βk+1(x_k) − log p*_βk(x_k)])
/// ```
///
/// is an unbiased estimate of the probability that the annealing path (run forwards as a
/// generative model) gives to `v`, so `log p̂(v)` is a stochastic *lower* bound on it. Returned
/// as the `log Z` it implies, `log f_1(v) − log p̂(v)`, which in expectation is too *high*: its
/// NLL errs on the pessimistic side. AIS and RAISE together bracket the truth; when they agree,
/// the figure can be trusted.
///
/// The base must not depend on `v_data` (that would let the estimate peek at the answer): it is
/// fitted from chains started at `base_start (F, V)` — for an RNN-RBM, the previous frame.
pub fn log_partition_conservative(
    w: &Tensor,
    bv: &Tensor,
    bh: &Tensor,
    base_start: &Tensor,
    v_data: &Tensor,
    opts: AisOptions,
) -> AisEstimate {
    anneal(w, bv, bh, base_start, opts, Direction::Reverse(v_data))
}

#[derive(Clone, Copy)]
enum Direction<'a> {
    /// From an exact sample of the base up to the RBM (AIS).
    Forward,
    /// From the data vectors down to the base (RAISE).
    Reverse(&'a Tensor),
}

impl<'a> Direction<'a> {
    /// `None` is AIS, `Some(data)` is RAISE from the data.
    fn from_data(v_data: Option<&'a Tensor>) -> Self {
        v_data.map_or(Direction::Forward, Direction::Reverse)
    }

    fn data(self) -> Option<&'a Tensor> {
        match self {
            Direction::Forward => None,
            Direction::Reverse(v) => Some(v),
        }
    }
}

/// The same estimates by the tensor operations alone, on any device, which is what
/// [`log_partition`] and [`log_partition_conservative`] run except for float32 on the CPU
/// (where [`super::ais_cpu`] runs instead): kept for GPUs and as the reference the fused
/// kernel is tested against. `v_data: None` is AIS, `Some` is RAISE from the data.
pub fn log_partition_by_tensors(
    w: &Tensor,
    bv: &Tensor,
    bh: &Tensor,
    base_start: &Tensor,
    v_data: Option<&Tensor>,
    opts: AisOptions,
) -> AisEstimate {
    let direction = Direction::from_data(v_data);
    let (log_w, ba) = anneal_by_tensors(w, bv, bh, base_start, opts, direction);
    estimate(&log_w, &ba, bh.size()[1], direction)
}

fn anneal(
    w: &Tensor,
    bv: &Tensor,
    bh: &Tensor,
    base_start: &Tensor,
    opts: AisOptions,
    direction: Direction,
) -> AisEstimate {
    let (log_w, ba) = if super::ais_cpu::applicable(w) {
        super::ais_cpu::anneal(w, bv, bh, base_start, direction.data(), opts)
    } else {
        anneal_by_tensors(w, bv, bh, base_start, opts, direction)
    };
    estimate(&log_w, &ba, bh.size()[1], direction)
}

/// Log-weights `(F, C)` and base biases `(F, V)` by tensor operations over all rows at once.
fn anneal_by_tensors(
    w: &Tensor,
    bv: &Tensor,
    bh: &Tensor,
    base_start: &Tensor,
    opts: AisOptions,
    direction: Direction,
) -> (Tensor, Tensor) {
    tch::no_grad(|| {
        let chains = opts.chains;
        let frames = bv.size()[0];
        let kind = w.kind();
        // (F·C, ·): every frame's biases repeated for its chains.
        let bv_rows = bv.repeat_interleave_self_int(chains, 0, None);
        let bh_rows = bh.repeat_interleave_self_int(chains, 0, None);
        let ba = base_biases(w, bv, &bv_rows, &bh_rows, base_start, opts);
        let ba_rows = ba.repeat_interleave_self_int(chains, 0, None);
        let bias_gap = &bv_rows - &ba_rows;
        // log p*_b(v) − log p*_a(v) for the current rows.
        let step_weight = |v: &Tensor, x: &Tensor, a: f64, b: f64| {
            (v * &bias_gap).sum_dim_intlist(-1, false, kind) * (b - a)
                + (x * b).softplus().sum_dim_intlist(-1, false, kind)
                - (x * a).softplus().sum_dim_intlist(-1, false, kind)
        };
        // One Gibbs sweep v → h → v of the RBM at inverse temperature β, from `x = v W + bh`
        // (which the weights have already needed: every step reuses it, two products a step).
        let gibbs = |x: &Tensor, beta: f64| {
            let h = bernoulli(&(x * beta).sigmoid());
            let visible_bias = &ba_rows + &bias_gap * beta;
            bernoulli(&(h.matmul(&w.tr()) * beta + visible_bias).sigmoid())
        };
        let hidden_input = |v: &Tensor| v.matmul(w) + &bh_rows;
        let moved = |v: Tensor, x: Tensor, beta: f64| {
            let visible_bias = &ba_rows + &bias_gap * beta;
            super::rbm::move_notes(w, v, x, &visible_bias, beta)
        };
        let mut log_w = Tensor::zeros([frames * chains], (kind, w.device()));
        let betas: Vec<f64> = std::iter::once(0.0)
            .chain(schedule(opts.temperatures))
            .collect();
        match direction {
            Direction::Forward => {
                let mut v = bernoulli(&ba_rows.sigmoid());
                let mut x = hidden_input(&v);
                for k in 1..betas.len() {
                    log_w += step_weight(&v, &x, betas[k - 1], betas[k]);
                    if k + 1 < betas.len() {
                        v = gibbs(&x, betas[k]);
                        x = hidden_input(&v);
                        if super::kernel::moves_at(opts.moves, k) {
                            (v, x) = moved(v, x, betas[k]);
                        }
                    }
                }
            }
            Direction::Reverse(v_data) => {
                // x_K = data; x_{k−1} ~ T_k(· | x_k), and the weight subtracts what AIS adds.
                let mut v = v_data
                    .to_kind(kind)
                    .repeat_interleave_self_int(chains, 0, None);
                let mut x = hidden_input(&v);
                for k in (1..betas.len()).rev() {
                    if k + 1 < betas.len() && super::kernel::moves_at(opts.moves, k) {
                        // The sweep below starts from x alone.
                        x = moved(v, x, betas[k]).1;
                    }
                    v = gibbs(&x, betas[k]);
                    x = hidden_input(&v);
                    log_w -= step_weight(&v, &x, betas[k - 1], betas[k]);
                }
            }
        }
        (log_w.view([frames, chains]), ba)
    })
}

/// `log Ẑ` and its diagnostics from the chains' log-weights `(F, C)` and the base biases.
fn estimate(log_w: &Tensor, ba: &Tensor, n_hidden: i64, direction: Direction) -> AisEstimate {
    tch::no_grad(|| {
        let kind = ba.kind();
        let chains = log_w.size()[1];
        let log_w = log_w.to_kind(kind);
        let log_z0 = softplus(ba).sum_dim_intlist(-1, false, kind) + n_hidden as f64 * 2f64.ln();
        let log_mean_w = log_w.logsumexp(1, false) - (chains as f64).ln();
        // Normalised weights for the diagnostics.
        let rel = (&log_w - log_w.amax(1, true)).exp();
        let sum = rel.sum_dim_intlist(1, false, kind);
        let sum_sq = rel.square().sum_dim_intlist(1, false, kind);
        let ess = sum.square() / &sum_sq / chains as f64;
        // var(ŵ)/ŵ² with ŵ = mean w: (E[w²]/E[w]² − 1)/C = (1/ess − 1)/C.
        let log_z_var = (ess.reciprocal() - 1.0).clamp_min(0.0) / chains as f64;
        let log_z = match direction {
            Direction::Forward => log_z0 + log_mean_w,
            Direction::Reverse(_) => log_z0 - log_mean_w,
        };
        AisEstimate {
            log_z,
            log_z_var,
            ess,
        }
    })
}

/// Base visible biases per frame, `(F, V)`: the logits of the RBM's
/// visible marginals, averaged (Rao-Blackwellised) over `base_sweeps` Gibbs sweeps of all the
/// frame's chains, pulled slightly towards ½ so that no state is impossible under the base.
fn base_biases(
    w: &Tensor,
    bv: &Tensor,
    bv_rows: &Tensor,
    bh_rows: &Tensor,
    v_start: &Tensor,
    opts: AisOptions,
) -> Tensor {
    if opts.base_sweeps == 0 {
        return bv.shallow_clone();
    }
    let (frames, chains) = (v_start.size()[0], opts.chains);
    let mut v = v_start
        .to_kind(w.kind())
        .repeat_interleave_self_int(chains, 0, None);
    let mut total = v.zeros_like();
    for _ in 0..opts.base_sweeps {
        let h = bernoulli(&(v.matmul(w) + bh_rows).sigmoid());
        let pv = (h.matmul(&w.tr()) + bv_rows).sigmoid();
        total += &pv;
        v = bernoulli(&pv);
    }
    let samples = (chains as usize * opts.base_sweeps) as f64;
    let p = total
        .view([frames, chains, -1])
        .sum_dim_intlist(1, false, w.kind())
        / samples;
    let p = (p * samples + 0.5) / (samples + 1.0);
    (&p / (p.ones_like() - &p)).log()
}
