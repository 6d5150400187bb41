//! The restricted Boltzmann machine with binary units, as used by every frame of the RNN-RBM.
//!
//! Row-vector convention: `v` is `(…, n_visible)`, `h` is `(…, n_hidden)`, `W` is
//! `(n_visible, n_hidden)`; the biases `bv (…, n_visible)` and `bh (…, n_hidden)` may differ per
//! row (the RNN-RBM gives every frame its own), so every function broadcasts over leading dims.
//!
//! ```text
//! p(h = 1 | v) = sigmoid(v W + bh)
//! p(v = 1 | h) = sigmoid(h Wᵀ + bv)
//! F(v)         = -v·bv - Σ_j softplus(v W + bh)_j            (free energy)
//! ```
use tch::{Kind, Tensor};

/// `p(h = 1 | v) = sigmoid(v W + bh)`, shape `(…, n_hidden)`.
pub fn hidden_probs(v: &Tensor, w: &Tensor, bh: &Tensor) -> Tensor {
    (v.matmul(w) + bh).sigmoid()
}

/// `p(v = 1 | h) = sigmoid(h Wᵀ + bv)`, shape `(…, n_visible)`.
pub fn visible_probs(h: &Tensor, w: &Tensor, bv: &Tensor) -> Tensor {
    (h.matmul(&w.tr()) + bv).sigmoid()
}

/// Binary sample with `P(1) = p`: one uniform draw per unit, `ceil(p − u)` (cheaper than
/// libtorch's `bernoulli`, same distribution); the uniforms come from [`super::rng`], which runs on
/// every thread where libtorch's CPU generator runs on one.
pub fn bernoulli(p: &Tensor) -> Tensor {
    super::rng::bernoulli(p)
}

/// `k` steps of block Gibbs sampling v → h → v started at `v0`; returns the final visible
/// *sample*. Runs without gradient: CD-k treats the negative sample as a constant.
///
/// The uniforms of both half-steps are drawn at once, and each half-step is four operations on
/// rows `(N, ·)` — `b + x W` in one product, then `ceil(σ(·) − u)` in place — rather than a
/// dozen, which matters when the chain is short and the matrices small (one chunk per update).
pub fn gibbs_chain(v0: &Tensor, w: &Tensor, bv: &Tensor, bh: &Tensor, k: i64) -> Tensor {
    gibbs_chain_moving(v0, w, bv, bh, k, 0)
}

/// [`gibbs_chain`] with note moves ([`move_notes`] at `β = 1`) after every `moves`-th step
/// (0: none, the plain chain).
pub fn gibbs_chain_moving(
    v0: &Tensor,
    w: &Tensor,
    bv: &Tensor,
    bh: &Tensor,
    k: i64,
    moves: usize,
) -> Tensor {
    tch::no_grad(|| {
        let (n_visible, n_hidden) = (w.size()[0], w.size()[1]);
        let shape = v0.size();
        let lead = &shape[..shape.len() - 1];
        let rows: i64 = lead.iter().product();
        let (w, kind) = (w.detach(), w.kind());
        let rows_of = |b: &Tensor, n: i64| {
            let full: Vec<i64> = lead.iter().copied().chain([n]).collect();
            b.detach()
                .expand(full.as_slice(), false)
                .reshape([rows, n])
                .to_kind(kind)
        };
        let (bv, bh) = (rows_of(bv, n_visible), rows_of(bh, n_hidden));
        let mut v = v0.detach().reshape([rows, n_visible]).to_kind(kind);
        let per_step = rows * (n_hidden + n_visible);
        let w_t = w.tr();
        for step in 1..=k {
            // One draw per step, not per chain: a chain's worth of uniforms leaves the caches.
            let u = super::rng::uniform(per_step, kind, v.device());
            let mut h = bh.addmm(&v, &w);
            let _ = h.sigmoid_();
            let _ = h.g_sub_(&u.narrow(0, 0, rows * n_hidden).view([rows, n_hidden]));
            let _ = h.ceil_().clamp_min_(0.0);
            v = bv.addmm(&h, &w_t);
            let _ = v.sigmoid_();
            let _ = v.g_sub_(
                &u.narrow(0, rows * n_hidden, rows * n_visible)
                    .view([rows, n_visible]),
            );
            let _ = v.ceil_().clamp_min_(0.0);
            if super::kernel::moves_at(moves, step as usize) {
                let x = bh.addmm(&v, &w);
                v = move_notes(&w, v, x, &bv, 1.0).0;
            }
        }
        v.view(shape.as_slice())
    })
}

/// Runs the chains `v (N, V)` on, one Gibbs step at a time ([`gibbs_chain`]), until each row has
/// `target (N,)` units on, for at most `max_steps` steps ([`until_count`]). Started from chains
/// that have already reached the RBM's distribution, each kept row is (nearly) a draw of that
/// distribution given its count: the first sample of the chain with that many units on.
pub fn chain_until_count(
    v: &Tensor,
    w: &Tensor,
    bv: &Tensor,
    bh: &Tensor,
    target: &Tensor,
    max_steps: i64,
) -> Tensor {
    until_count(v.shallow_clone(), target, max_steps, |v, _| {
        gibbs_chain(v, w, bv, bh, 1)
    })
}

/// Steps the rows of `v (N, V)` until each has `target (N,)` units on, for at most `max_steps`
/// steps: `step(v, done)` gives the next sample of every row (`done (N, 1)` marks the rows that
/// already have their count, which keep their sample). A row that never gets there keeps its last
/// sample. The loop of both [`chain_until_count`] and the clamped chains of `generate_clamped`.
pub fn until_count(
    mut v: Tensor,
    target: &Tensor,
    max_steps: i64,
    mut step: impl FnMut(&Tensor, &Tensor) -> Tensor,
) -> Tensor {
    tch::no_grad(|| {
        for _ in 0..max_steps {
            let count = v.sum_dim_intlist([-1i64].as_slice(), false, v.kind());
            let done = count.eq_tensor(target);
            if bool::try_from(done.all()).unwrap_or(false) {
                break;
            }
            let done = done.unsqueeze(-1);
            let next = step(&v, &done);
            v = v.where_self(&done, &next);
        }
        v
    })
}

/// `softplus(z) = log(1 + e^z)`, computed as `max(z, 0) − log σ(|z|)`: exact to rounding, and
/// about four times faster on the CPU than libtorch's own `softplus` (whose `log1p` is not
/// vectorised), which dominated AIS and a good part of training.
pub fn softplus(z: &Tensor) -> Tensor {
    z.relu() - z.abs().sigmoid().log()
}

/// Free energy `F(v) = -v·bv - Σ_j softplus(v W + bh)_j`, shape `(…)` (the last dim is summed).
pub fn free_energy(v: &Tensor, w: &Tensor, bv: &Tensor, bh: &Tensor) -> Tensor {
    let visible_term = (v * bv).sum_dim_intlist(-1, false, v.kind());
    let hidden_term = softplus(&(v.matmul(w) + bh)).sum_dim_intlist(-1, false, v.kind());
    -visible_term - hidden_term
}

/// Exact `log Z = logsumexp_h [h·bh + Σ_i softplus(bv_i + (W h)_i)]` by enumerating all
/// `2^n_hidden` hidden configurations — only for small RBMs (tests, and checking AIS).
/// `w (n_visible, n_hidden)`, `bv (n_visible)`, `bh (n_hidden)`; returns a scalar tensor.
pub fn exact_log_partition(w: &Tensor, bv: &Tensor, bh: &Tensor) -> Tensor {
    let n_hidden = w.size()[1];
    assert!(
        n_hidden <= 24,
        "exact log Z enumerates 2^n_hidden states; n_hidden = {n_hidden}"
    );
    let n_states = 1i64 << n_hidden;
    let opts = (w.kind(), w.device());
    let codes = Tensor::arange(n_states, (tch::Kind::Int64, w.device()));
    let bits = Tensor::arange(n_hidden, (tch::Kind::Int64, w.device()));
    // (n_states, n_hidden) matrix of every hidden configuration.
    let h = codes
        .unsqueeze(1)
        .bitwise_right_shift(&bits.unsqueeze(0))
        .bitwise_and(1)
        .to_kind(opts.0);
    let per_state =
        h.matmul(bh) + softplus(&(h.matmul(&w.tr()) + bv)).sum_dim_intlist(-1, false, opts.0);
    per_state.logsumexp(0, false)
}

/// The note moves of `kernel::move_notes` (the fused kernels') for every row at once, by tensor
/// operations: `v (R, V)`, its `x = v W + bh (R, H)` and the visible biases at `β`, `(R, V)`;
/// returns the new `(v, x)`. Each proposal is one sounding note moved (probability ½), all of
/// them shifted (¼), or all but the highest shifted (¼), by `±d` keys.
pub fn move_notes(
    w: &Tensor,
    v: Tensor,
    x: Tensor,
    visible_bias: &Tensor,
    beta: f64,
) -> (Tensor, Tensor) {
    use super::kernel::{MOVE_REACH, MOVE_TRIES};
    tch::no_grad(|| {
        let (mut v, mut x) = (v.detach(), x.detach());
        let (rows, n_visible) = (v.size()[0], v.size()[1]);
        let (kind, device) = (v.kind(), v.device());
        let row_ids = Tensor::arange(rows, (Kind::Int64, device));
        let keys = Tensor::arange(n_visible, (Kind::Int64, device)).unsqueeze(0);
        let log_p = |v: &Tensor, x: &Tensor| {
            (x * beta).softplus().sum_dim_intlist(-1, false, kind)
                + (v * visible_bias).sum_dim_intlist(-1, false, kind)
        };
        for _ in 0..MOVE_TRIES {
            let u = Tensor::rand([rows, 4], (kind, device));
            let d = (u.select(1, 0) * MOVE_REACH as f64)
                .floor()
                .clamp(0.0, (MOVE_REACH - 1) as f64)
                .to_kind(Kind::Int64)
                + 1;
            let sign = u.select(1, 1).lt(0.5).to_kind(Kind::Int64) * -2 + 1;
            let step = (&d * &sign).unsqueeze(1);
            let sounding = v.sum_dim_intlist(-1, false, kind).gt(0.5);
            // One note: a sounding one (an arbitrary key where none sounds: refused below).
            let i = (&v + 1e-30).multinomial(1, false).squeeze_dim(1);
            let j = &i + d * sign;
            let inside = j.ge(0).logical_and(&j.lt(n_visible));
            let j = j.clamp(0, n_visible - 1);
            let at = |k: &Tensor| v.gather(1, &k.unsqueeze(1), false).squeeze_dim(1);
            let one_ok = inside.logical_and(&at(&j).lt(0.5)).logical_and(&sounding);
            let zero = v.zeros_like().select(1, 0);
            let one = v.ones_like().select(1, 0);
            let one_moved = v
                .index_put(&[Some(&row_ids), Some(&i)], &zero, false)
                .index_put(&[Some(&row_ids), Some(&j)], &one, false);
            // A shift: of all the notes, or of all but the highest, which the others must stay
            // below.
            let top = (&v * (&keys + 1)).argmax(1, false);
            let all = u.select(1, 3).ge(0.75).unsqueeze(1);
            let below_top = keys.lt_tensor(&top.unsqueeze(1));
            let moving = (&v * below_top.logical_or(&all).to_kind(kind)).contiguous();
            let from = &keys - &step;
            let from_inside = from.ge(0).logical_and(&from.lt(n_visible));
            let shifted =
                moving.gather(1, &from.clamp(0, n_visible - 1), false) * from_inside.to_kind(kind);
            let ceiling = top.where_self(
                &all.squeeze_dim(1).logical_not(),
                &(top.ones_like() * n_visible),
            );
            let highest = (&shifted * (&keys + 1)).argmax(1, false);
            let n_moving = moving.sum_dim_intlist(-1, false, kind);
            // Something moves, no note left the keyboard, and the notes stay below the ceiling.
            let shift_ok = n_moving
                .gt(0.5)
                .logical_and(
                    &shifted
                        .sum_dim_intlist(-1, false, kind)
                        .eq_tensor(&n_moving),
                )
                .logical_and(&highest.lt_tensor(&ceiling));
            let shift_moved = &v - &moving + &shifted;
            let single = u.select(1, 3).lt(0.5);
            let v_new = one_moved.where_self(&single.unsqueeze(1), &shift_moved);
            let ok = one_ok.where_self(&single, &shift_ok);
            let x_new = &x + (&v_new - &v).matmul(w);
            let log_ratio = log_p(&v_new, &x_new) - log_p(&v, &x);
            let accept = ok.logical_and(&u.select(1, 2).lt_tensor(&log_ratio.exp()));
            let keep = accept.unsqueeze(1);
            v = v_new.where_self(&keep, &v);
            x = x_new.where_self(&keep, &x);
        }
        (v, x)
    })
}

/// CD-k's negative phase for rows of frames, with what the CD gradient needs from it: for data
/// `v (N, V)` and per-row biases `bv (N, V)`, `bh (N, H)`,
///
/// ```text
/// neg         ṽ = the last sample of a k-step Gibbs chain from v0 (v when not given)   (N, V)
/// data_hidden σ(v W + bh)                                                             (N, H)
/// neg_hidden  σ(ṽ W + bh)                                                             (N, H)
/// gap         F(v) − F(ṽ)                                                             (N)
/// ```
///
/// so that `∂[F(v) − F(ṽ)]/∂bv = ṽ − v`, `∂/∂bh = neg_hidden − data_hidden` and
/// `∂/∂W = ṽᵀ neg_hidden − vᵀ data_hidden` (row by row), with no autograd.
pub struct NegativePhase {
    pub neg: Tensor,
    pub data_hidden: Tensor,
    pub neg_hidden: Tensor,
    pub gap: Tensor,
}

impl NegativePhase {
    /// With tensor operations ([`gibbs_chain`] and the formulas above): any device and kind.
    pub fn by_tensors(
        w: &Tensor,
        bv: &Tensor,
        bh: &Tensor,
        v: &Tensor,
        v0: Option<&Tensor>,
        k: i64,
        moves: usize,
    ) -> NegativePhase {
        tch::no_grad(|| {
            let neg = gibbs_chain_moving(v0.unwrap_or(v), w, bv, bh, k, moves);
            NegativePhase {
                data_hidden: hidden_probs(v, w, bh),
                neg_hidden: hidden_probs(&neg, w, bh),
                gap: free_energy(v, w, bv, bh) - free_energy(&neg, w, bv, bh),
                neg,
            }
        })
    }
}
