//! The likelihood machinery: the two numbers of Boulanger-Lewandowski et al. (2012) on held-out
//! pieces, and the NLL of candidate continuations (harmonisations, infills). Tensors in, figures out;
//! `rnn-rbm evaluate` is the command around it.
//!
//! - **NLL**: the mean over all frames of `−log p(v_t | v_<t) = F_t(v_t) + log Z_t`, every frame
//!   weighing the same. `log Z_t` of each frame's conditional RBM is estimated by AIS
//!   ([`super::ais`]), batched over frames and chains; frames whose effective sample size
//!   is low are estimated again with four times the temperatures, and the output says how many
//!   there were and how trustworthy the result is (AIS standard error, ESS). AIS errs on the
//!   optimistic side; the same estimate by RAISE (reverse AIS from the data frame) errs on the
//!   pessimistic side, and the two together bracket the true figure.
//! - **ACC**: the expected frame-level accuracy of Bay et al. (2009), `ΣTP / Σ(TP+FP+FN)` in
//!   percent over all frames, each frame predicted from the true history by a Gibbs chain of its
//!   conditional RBM started at the previous true frame (with note moves when AIS has them),
//!   averaged over several samples.
//! - **A lower bound** on the NLL, without sampling ([`super::bound`]): where AIS falls below
//!   it, AIS has missed part of a frame's distribution for certain.
//!
//! For the `seed` layout a "frame" is one visible vector (5 grid steps, sounding and onset bits).
use super::gibbs_cpu;
use super::rbm::{free_energy, gibbs_chain_moving};
use super::rnn_rbm::{previous_frames, shifted};
use super::{ais, RnnRbm};
use crate::config::ModelConfig;
use serde::Serialize;
use std::time::Instant;
use tch::{Kind, Tensor};

/// Rows (frames × chains) per AIS batch. Small enough that a batch's hidden activations stay
/// in the CPU's cache between the dozen element-wise passes of a step: at 2¹¹ rows the JSB
/// evaluation ran 1.3–1.5× faster than at 2¹⁴ (docs/BENCHMARKS.md, "Evaluation").
pub const MAX_ROWS: i64 = 1 << 11;

/// How to evaluate.
#[derive(Clone, Debug)]
pub struct EvalOptions {
    pub chains: i64,
    pub temperatures: usize,
    /// Gibbs sweeps that fit AIS's base distribution to each frame's RBM.
    pub base_sweeps: usize,
    /// Note moves every this many temperatures (0: none; [`ais::AisOptions::moves`]), and in the
    /// accuracy's chains after every this many Gibbs steps.
    pub moves: usize,
    /// With the moves, jumps between this many heavy vectors of each frame
    /// ([`ais::AisOptions::jumps`]; 0: none).
    pub jumps: usize,
    pub refine_below: f64,
    /// Frames whose RAISE and AIS estimates of `log Z` differ by more than this (either way:
    /// refining only one side would bias the figures) are estimated again by both with 4× the
    /// temperatures (0: never; needs `raise`).
    pub refine_apart: f64,
    pub acc_samples: i64,
    pub gibbs: i64,
    /// Rows (frames × chains) per AIS batch: bounds memory ([`MAX_ROWS`]).
    pub max_rows: i64,
    /// Also estimate every `log Z_t` by RAISE, for a conservative figure (twice the time).
    pub raise: bool,
    /// Also compute the sampling-free lower bound ([`super::bound`]).
    pub lower_bound: bool,
}

impl EvalOptions {
    /// The AIS and RAISE settings of these options.
    fn ais_options(&self) -> ais::AisOptions {
        ais::AisOptions {
            chains: self.chains,
            temperatures: self.temperatures,
            base_sweeps: self.base_sweeps,
            moves: self.moves,
            jumps: self.jumps,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::AccuracyCounts;
    use tch::Tensor;

    fn rows(r: &[[f32; 4]]) -> Tensor {
        Tensor::from_slice(&r.concat()).view([r.len() as i64, 4])
    }

    #[test]
    fn a_perfect_prediction_scores_100_and_an_empty_one_0() {
        let truth = rows(&[[1., 0., 1., 0.], [0., 1., 1., 1.]]);
        let mut perfect = AccuracyCounts::default();
        perfect.add(&truth, &truth);
        assert_eq!(perfect.percent(), 100.0);
        let mut empty = AccuracyCounts::default();
        empty.add(&truth.zeros_like(), &truth);
        assert_eq!(empty.percent(), 0.0);
        assert_eq!(empty.fn_, 5.0);
    }

    #[test]
    fn accuracy_sums_counts_over_frames_before_dividing() {
        // Frame 1: TP 1, FP 1, FN 1. Frame 2: TP 3, FP 0, FN 0. → 4 / 6, not the mean of 1/3 and 1.
        let truth = rows(&[[1., 1., 0., 0.], [0., 1., 1., 1.]]);
        let guess = rows(&[[1., 0., 1., 0.], [0., 1., 1., 1.]]);
        let mut c = AccuracyCounts::default();
        c.add(&guess, &truth);
        assert_eq!((c.tp, c.fp, c.fn_), (4.0, 1.0, 1.0));
        assert!((c.percent() - 400.0 / 6.0).abs() < 1e-12);
    }
}

#[derive(Serialize, Clone, Debug)]
pub struct Evaluation {
    /// Mean over frames of −log p(v_t | v_<t), in nats.
    pub nll_per_frame: f64,
    /// Standard error of `nll_per_frame` from the AIS estimates.
    pub nll_stderr: f64,
    /// Expected frame-level accuracy, percent: each sample of a frame's conditional scored as
    /// a prediction, the counts summed over samples and frames.
    pub acc: f64,
    /// Frame-level accuracy of one prediction per frame, percent: the notes that are on in
    /// more than half of the samples.
    pub acc_majority: f64,
    /// Frame-level accuracy of the most probable sample of each frame, percent: of the samples,
    /// the one with the lowest free energy under the frame's conditional RBM, a guess at its mode.
    pub acc_mode: f64,
    /// Frame-level accuracy of no model at all, percent: each frame predicted to repeat the one
    /// before it (a piece's first frame, silence). The figure a model has to beat.
    pub acc_repeat: f64,
    /// The counts behind the four accuracies, so that the reports of parts of a split add up to
    /// the whole's (`rnn-rbm combine`).
    pub acc_counts: AccuracyCounts,
    pub acc_majority_counts: AccuracyCounts,
    pub acc_mode_counts: AccuracyCounts,
    pub acc_repeat_counts: AccuracyCounts,
    pub frames: i64,
    pub pieces: usize,
    /// What a frame is.
    pub frame_unit: String,
    pub ais_chains: i64,
    pub ais_temperatures: usize,
    /// Note moves every this many temperatures (0: none), and the heavy vectors per frame
    /// the chains may jump between with them (0: none; the jumps need the moves and the CPU).
    pub ais_moves: usize,
    pub ais_jumps: usize,
    /// Mean and minimum effective sample size, as fractions of the chains (after refinement).
    pub ess_mean: f64,
    pub ess_min: f64,
    /// Frames estimated again with 4× the temperatures.
    pub refined_frames: i64,
    /// Frames whose AIS and RAISE estimates of `log Z` lay more than `refine_apart` apart,
    /// both estimated again with 4× the temperatures (with `refine_apart`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disputed_frames: Option<i64>,
    /// A figure the true NLL cannot be below, without sampling: every frame's `Z` is at least
    /// the mass of the vectors near the frame and the previous frame ([`super::bound`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nll_lower_bound: Option<f64>,
    /// The share of frames whose AIS estimate of `log Z` lies below that bound by more than
    /// 0.01: there, AIS has certainly missed part of the distribution.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ais_below_bound: Option<f64>,
    /// `nll_per_frame` and `nll_conservative` with every frame's estimate of `log Z` raised to
    /// the bound where it falls below it: never farther from the truth than the estimates
    /// themselves, and nearer wherever they missed mass the bound has found.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nll_floored: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nll_conservative_floored: Option<f64>,
    /// The same mean NLL with every `log Z_t` estimated by RAISE (reverse AIS from the data
    /// frame), which errs on the pessimistic side where AIS errs on the optimistic one: the true
    /// figure lies between `nll_per_frame` and this, up to their standard errors.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nll_conservative: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nll_conservative_stderr: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ess_conservative_mean: Option<f64>,
    pub seconds: f64,
}

/// True positives, false positives and false negatives summed over frames (Bay et al. 2009).
#[derive(Default, Clone, Copy, Debug, PartialEq, Serialize)]
pub struct AccuracyCounts {
    pub tp: f64,
    pub fp: f64,
    #[serde(rename = "fn")]
    pub fn_: f64,
}

impl AccuracyCounts {
    /// Adds the counts of binary predictions `guess` against `truth` (same shape).
    pub fn add(&mut self, guess: &Tensor, truth: &Tensor) {
        let hit = (guess * truth).sum(Kind::Double).double_value(&[]);
        self.tp += hit;
        self.fp += guess.sum(Kind::Double).double_value(&[]) - hit;
        self.fn_ += truth.sum(Kind::Double).double_value(&[]) - hit;
    }

    /// `100 · ΣTP / Σ(TP + FP + FN)`; 0 when nothing was predicted or expected.
    pub fn percent(&self) -> f64 {
        let all = self.tp + self.fp + self.fn_;
        if all > 0.0 {
            100.0 * self.tp / all
        } else {
            0.0
        }
    }
}

/// Per-frame inputs of every piece: data `v (N, V)`, previous frames `(N, V)`, biases.
struct Frames {
    v: Tensor,
    prev: Tensor,
    bv: Tensor,
    bh: Tensor,
}

fn frames(model: &RnnRbm, pieces: &[Tensor]) -> Frames {
    tch::no_grad(|| {
        let (mut v, mut prev, mut bv, mut bh) = (vec![], vec![], vec![], vec![]);
        for piece in pieces {
            let (u_before, _) = model.rnn_states(&piece.unsqueeze(0), None);
            let (bv_t, bh_t) = model.frame_biases(&u_before.squeeze_dim(0));
            v.push(piece.shallow_clone());
            prev.push(previous_frames(&piece.unsqueeze(0)).squeeze_dim(0));
            bv.push(bv_t);
            bh.push(bh_t);
        }
        Frames {
            v: Tensor::cat(&v, 0),
            prev: Tensor::cat(&prev, 0),
            bv: Tensor::cat(&bv, 0),
            bh: Tensor::cat(&bh, 0),
        }
    })
}

/// AIS over all frames in batches; `progress(done, total)` after each batch.
fn log_partitions(
    model: &RnnRbm,
    f: &Frames,
    estimator: Estimator,
    ais_opts: ais::AisOptions,
    max_rows: i64,
    progress: &mut dyn FnMut(i64, i64),
) -> ais::AisEstimate {
    let n = f.v.size()[0];
    let batch = (max_rows / ais_opts.chains).max(1);
    let (mut log_z, mut var, mut ess) = (vec![], vec![], vec![]);
    let mut start = 0;
    while start < n {
        let len = batch.min(n - start);
        let est = estimator(
            &model.w,
            &f.bv.narrow(0, start, len),
            &f.bh.narrow(0, start, len),
            &f.prev.narrow(0, start, len),
            &f.v.narrow(0, start, len),
            ais_opts,
        );
        log_z.push(est.log_z);
        var.push(est.log_z_var);
        ess.push(est.ess);
        start += len;
        progress(start, n);
    }
    ais::AisEstimate {
        log_z: Tensor::cat(&log_z, 0),
        log_z_var: Tensor::cat(&var, 0),
        ess: Tensor::cat(&ess, 0),
    }
}

/// `(w, bv, bh, base_start, v_data, options)`: AIS or RAISE.
type Estimator =
    fn(&Tensor, &Tensor, &Tensor, &Tensor, &Tensor, ais::AisOptions) -> ais::AisEstimate;

fn forward_ais(
    w: &Tensor,
    bv: &Tensor,
    bh: &Tensor,
    base_start: &Tensor,
    _v_data: &Tensor,
    opts: ais::AisOptions,
) -> ais::AisEstimate {
    ais::log_partition(w, bv, bh, base_start, opts)
}

/// `log Z` of every frame by `estimator`; frames whose effective sample size is below
/// `refine_below` are estimated again with 4× the temperatures. Returns the estimates and how
/// many frames were refined.
fn estimate_with_refinement(
    model: &RnnRbm,
    f: &Frames,
    estimator: Estimator,
    stage: &str,
    opts: &EvalOptions,
    progress: &mut dyn FnMut(&str, i64, i64),
) -> (ais::AisEstimate, i64) {
    let ais_opts = opts.ais_options();
    let mut est = log_partitions(model, f, estimator, ais_opts, opts.max_rows, &mut |d, t| {
        progress(stage, d, t)
    });
    // Frames whose estimate is dominated by a few chains: again, with a finer annealing path.
    let weak = est.ess.lt(opts.refine_below).nonzero().squeeze_dim(1);
    let refined = weak.size()[0];
    refine(model, f, estimator, stage, opts, &weak, &mut est, progress);
    (est, refined)
}

/// `est` of the frames `which` estimated again by `estimator` with 4× the temperatures.
#[allow(clippy::too_many_arguments)]
fn refine(
    model: &RnnRbm,
    f: &Frames,
    estimator: Estimator,
    stage: &str,
    opts: &EvalOptions,
    which: &Tensor,
    est: &mut ais::AisEstimate,
    progress: &mut dyn FnMut(&str, i64, i64),
) {
    if which.size()[0] == 0 {
        return;
    }
    let sub = Frames {
        v: f.v.index_select(0, which),
        prev: f.prev.index_select(0, which),
        bv: f.bv.index_select(0, which),
        bh: f.bh.index_select(0, which),
    };
    let refining = format!("{stage} (refining)");
    let again = log_partitions(
        model,
        &sub,
        estimator,
        ais::AisOptions {
            temperatures: opts.temperatures * 4,
            ..opts.ais_options()
        },
        opts.max_rows,
        &mut |d, t| progress(&refining, d, t),
    );
    let _ = est.log_z.index_copy_(0, which, &again.log_z);
    let _ = est.log_z_var.index_copy_(0, which, &again.log_z_var);
    let _ = est.ess.index_copy_(0, which, &again.ess);
}

/// Mean NLL per frame `F_t(v_t) + log Z_t` and its standard error.
fn nll_of(model: &RnnRbm, f: &Frames, est: &ais::AisEstimate) -> (f64, f64) {
    let n = f.v.size()[0] as f64;
    tch::no_grad(|| {
        let nll = free_energy(&f.v, &model.w, &f.bv, &f.bh) + &est.log_z;
        (
            nll.mean(Kind::Double).double_value(&[]),
            est.log_z_var.sum(Kind::Double).sqrt().double_value(&[]) / n,
        )
    })
}

/// What the certain bound ([`super::bound`]) says of a set of estimates.
struct BoundFigures {
    /// The mean NLL no frame's can be below.
    nll: f64,
    /// The share of frames whose AIS estimate falls below it by more than 0.01.
    ais_below: f64,
    /// The mean NLL with every frame's AIS estimate of `log Z` raised to the bound where it falls
    /// below it, and the same of RAISE's (with `raised`).
    ais_floored: f64,
    raise_floored: Option<f64>,
}

/// The bound's figures for the AIS estimates `est` and the RAISE estimates `raised`.
///
/// A frame's `log Z` is at least the bound's `log_mass`, so raising an estimate that falls below
/// it to it can only bring the estimate closer to the truth: `|max(e, b) − t| ≤ |e − t|` when
/// `b ≤ t`.
fn lower_bound(
    model: &RnnRbm,
    f: &Frames,
    est: &ais::AisEstimate,
    raised: Option<&ais::AisEstimate>,
) -> BoundFigures {
    tch::no_grad(|| {
        let log_mass = super::bound::log_mass_near(&model.w, &f.bv, &f.bh, &[&f.v, &f.prev]);
        let log_mass = log_mass.to_device(f.v.device()).to_kind(Kind::Double);
        let free = free_energy(&f.v, &model.w, &f.bv, &f.bh).to_kind(Kind::Double);
        let mean = |t: Tensor| t.mean(Kind::Double).double_value(&[]);
        let floored =
            |e: &ais::AisEstimate| mean(&free + e.log_z.to_kind(Kind::Double).maximum(&log_mass));
        let below = est
            .log_z
            .to_kind(Kind::Double)
            .lt_tensor(&(&log_mass - 0.01))
            .to_kind(Kind::Double);
        BoundFigures {
            nll: mean(&free + &log_mass),
            ais_below: mean(below),
            ais_floored: floored(est),
            raise_floored: raised.map(floored),
        }
    })
}

/// Row by row, the more probable of `best` (samples `(N, V)` with their free energies `(N)`)
/// and `guess` `(N, V)` under each frame's conditional RBM.
fn heavier(
    best: Option<(Tensor, Tensor)>,
    guess: Tensor,
    model: &RnnRbm,
    f: &Frames,
) -> (Tensor, Tensor) {
    tch::no_grad(|| {
        let energy = free_energy(&guess, &model.w, &f.bv, &f.bh);
        match best {
            None => (guess, energy),
            Some((best, best_energy)) => {
                let lower = energy.lt_tensor(&best_energy);
                (
                    guess.where_self(&lower.unsqueeze(1), &best),
                    energy.minimum(&best_energy),
                )
            }
        }
    })
}

/// One accuracy sample of every frame `(N, V)`: a Gibbs chain of the frame's conditional RBM,
/// `opts.gibbs` steps (note moves after every `opts.moves`-th) from the previous frame. On the
/// CPU in float32, one fused chain per frame ([`gibbs_cpu`], as training's negative phase), else
/// by tensor operations; the two draw different random numbers, so the accuracies differ within
/// their noise.
fn predict(model: &RnnRbm, f: &Frames, opts: &EvalOptions) -> Tensor {
    let (w, moves) = (&model.w, opts.moves);
    if gibbs_cpu::applicable(w) {
        let (v, start) = (&f.v, Some(&f.prev));
        let chain =
            || gibbs_cpu::negative_phase_of(w, &f.bv, &f.bh, v, start, opts.gibbs, moves, None);
        tch::no_grad(chain).neg
    } else {
        gibbs_chain_moving(&f.prev, w, &f.bv, &f.bh, opts.gibbs, moves)
    }
}

/// Evaluates `model` on `pieces` (each `(n_i, V)`).
pub fn evaluate(
    model: &RnnRbm,
    config: &ModelConfig,
    pieces: &[Tensor],
    opts: &EvalOptions,
    progress: &mut dyn FnMut(&str, i64, i64),
) -> Evaluation {
    let t0 = Instant::now();
    let f = frames(model, pieces);
    let n = f.v.size()[0];
    let (mut est, refined_frames) =
        estimate_with_refinement(model, &f, forward_ais, "AIS", opts, progress);
    let mut raised = opts.raise.then(|| {
        let conservative = ais::log_partition_conservative;
        estimate_with_refinement(model, &f, conservative, "RAISE", opts, progress).0
    });
    // Frames whose two estimates lie far apart: both again, with a finer annealing path.
    let mut disputed_frames = None;
    if let (Some(r), true) = (raised.as_mut(), opts.refine_apart > 0.0) {
        let apart = (&r.log_z - &est.log_z).abs().gt(opts.refine_apart);
        let which = apart.nonzero().squeeze_dim(1);
        refine(
            model,
            &f,
            forward_ais,
            "AIS",
            opts,
            &which,
            &mut est,
            progress,
        );
        let conservative = ais::log_partition_conservative;
        refine(model, &f, conservative, "RAISE", opts, &which, r, progress);
        disputed_frames = Some(which.size()[0]);
    }
    let (nll, nll_stderr) = nll_of(model, &f, &est);
    let bound = opts
        .lower_bound
        .then(|| lower_bound(model, &f, &est, raised.as_ref()));
    let raise = raised.map(|est| {
        let (nll, stderr) = nll_of(model, &f, &est);
        (nll, stderr, est.ess.mean(Kind::Double).double_value(&[]))
    });
    // Expected accuracy over samples of each frame's conditional, and the accuracy of one
    // prediction per frame: the notes on in more than half of the samples.
    // And the accuracy of the most probable sample (lowest free energy) of each frame.
    let mut counts = AccuracyCounts::default();
    let mut on_count = f.v.zeros_like();
    let mut mode: Option<(Tensor, Tensor)> = None;
    for s in 0..opts.acc_samples {
        let guess = predict(model, &f, opts);
        counts.add(&guess, &f.v);
        on_count += &guess;
        mode = Some(heavier(mode, guess, model, &f));
        progress("accuracy", s + 1, opts.acc_samples);
    }
    let mut mode_counts = AccuracyCounts::default();
    if let Some((guess, _)) = &mode {
        mode_counts.add(guess, &f.v);
    }
    let mut repeat = AccuracyCounts::default();
    repeat.add(&f.prev, &f.v);
    let mut majority = AccuracyCounts::default();
    majority.add(
        &on_count
            .gt(opts.acc_samples as f64 / 2.0)
            .to_kind(f.v.kind()),
        &f.v,
    );
    let frame_unit = if config.steps_per_vector == 1 {
        format!(
            "one grid step ({} per quarter note)",
            config.steps_per_quarter
        )
    } else {
        format!(
            "one visible vector of {} grid steps ({} per quarter note)",
            config.steps_per_vector, config.steps_per_quarter
        )
    };
    Evaluation {
        nll_per_frame: nll,
        nll_stderr,
        acc: counts.percent(),
        acc_majority: majority.percent(),
        acc_mode: mode_counts.percent(),
        acc_repeat: repeat.percent(),
        acc_counts: counts,
        acc_majority_counts: majority,
        acc_mode_counts: mode_counts,
        acc_repeat_counts: repeat,
        frames: n,
        pieces: pieces.len(),
        frame_unit,
        ais_chains: opts.chains,
        ais_temperatures: opts.temperatures,
        ais_moves: opts.moves,
        ais_jumps: if opts.moves > 0 && super::ais_cpu::applicable(&model.w) {
            opts.jumps
        } else {
            0
        },
        ess_mean: est.ess.mean(Kind::Double).double_value(&[]),
        ess_min: est.ess.min().double_value(&[]),
        refined_frames,
        disputed_frames,
        nll_lower_bound: bound.as_ref().map(|b| b.nll),
        ais_below_bound: bound.as_ref().map(|b| b.ais_below),
        nll_floored: bound.as_ref().map(|b| b.ais_floored),
        nll_conservative_floored: bound.as_ref().and_then(|b| b.raise_floored),
        nll_conservative: raise.map(|r| r.0),
        nll_conservative_stderr: raise.map(|r| r.1),
        ess_conservative_mean: raise.map(|r| r.2),
        seconds: t0.elapsed().as_secs_f64(),
    }
}

/// The AIS that ranks candidate continuations (harmonize --best-of, infill's resampling):
/// [`RANKING_CHAINS`] chains × [`RANKING_TEMPERATURES`] temperatures per frame.
pub const RANKING_CHAINS: i64 = 20;
pub const RANKING_TEMPERATURES: usize = 200;

/// `−log p(v_1 … v_T | start)` of each of a batch of continuations `v (B, T, V)`, summed over
/// their frames: the RNN starts from state `u (B, R)` after the frame `v_prev (B, V)`. Every
/// frame's `log Z` is estimated by AIS (`chains` × `temperatures`, base fitted from the previous
/// frame, weak frames refined). Used to rank or resample candidate harmonisations and infills.
pub fn continuation_nll(
    model: &RnnRbm,
    u: &Tensor,
    v_prev: &Tensor,
    v: &Tensor,
    chains: i64,
    temperatures: usize,
) -> Vec<f64> {
    let (batch, steps, n_visible) = v.size3().expect("continuations are (B, T, V)");
    if steps == 0 {
        return vec![0.0; batch as usize];
    }
    let f = tch::no_grad(|| {
        let v = v.to_kind(model.w.kind());
        let (u_before, _) = model.rnn_states(&v, Some(u));
        let (bv, bh) = model.frame_biases(&u_before);
        let prev = shifted(&v_prev.to_kind(v.kind()), &v);
        let flat = |t: &Tensor| t.reshape([batch * steps, t.size()[2]]);
        Frames {
            v: flat(&v),
            prev: flat(&prev),
            bv: flat(&bv),
            bh: flat(&bh),
        }
    });
    debug_assert_eq!(f.v.size()[1], n_visible);
    let opts = EvalOptions {
        chains,
        temperatures,
        base_sweeps: 20,
        moves: 0,
        jumps: 0,
        refine_below: 0.1,
        refine_apart: 0.0,
        acc_samples: 1,
        gibbs: 1,
        max_rows: MAX_ROWS,
        raise: false,
        lower_bound: false,
    };
    let (est, _) = estimate_with_refinement(model, &f, forward_ais, "", &opts, &mut |_, _, _| {});
    tch::no_grad(|| {
        let nll = free_energy(&f.v, &model.w, &f.bv, &f.bh) + &est.log_z;
        Vec::<f64>::try_from(
            nll.view([batch, steps])
                .sum_dim_intlist(1, false, Kind::Double)
                .to_device(tch::Device::Cpu),
        )
        .expect("a vector of doubles")
    })
}
