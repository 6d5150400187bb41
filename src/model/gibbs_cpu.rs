//! CD-k's negative phase ([`super::rbm::NegativePhase`]) on the CPU (float32), one Gibbs chain
//! per frame with every step fused ([`super::kernel`]).
//!
//! With one chunk per update the tensor version is thirty small products and sixty element-wise
//! passes over `(frames, units)`, each a libtorch dispatch; here each frame's chain runs its `k`
//! steps alone, its state in the L1 cache, a step costing the rows of `W` of the few notes on and
//! the rows of `Wᵀ` of the hidden units on (or off, whichever are fewer). The frame's data side
//! (`σ(v W + bh)` and `F(v)`) and the negative sample's come out of the same passes.
//!
//! Shapes: `w (V, H)`, `bv (N, V)`, `bh (N, H)`, `v (N, V)`, `v0 (N, V)`. Rows are handed out in
//! small blocks to the kernels' threads as they free up; every row draws from its own xorshift32
//! lanes seeded from [`super::rng::stream_seed`] and its index, so the samples do not depend on the
//! thread count or on which thread ran the row.
use super::kernel::{
    self, floats, hidden_input, sample_on, set_on, sigmoid, sigmoid_into, sum_on, HiddenSample,
    Lanes, Model,
};
use super::rbm::NegativePhase;
use super::rng;
use tch::{Device, Kind, Tensor};

/// Whether [`negative_phase`] can run these weights: float32 on the CPU.
pub fn applicable(w: &Tensor) -> bool {
    w.device() == Device::Cpu && w.kind() == Kind::Float
}

/// Rows per thread below which another thread is not worth starting.
const MIN_ROWS_PER_THREAD: usize = 24;

/// Rows a thread takes at a time, at most; fewer when that would leave fewer than
/// [`BLOCKS_PER_THREAD`] blocks a thread (one chunk per update is only 100 rows).
const ROWS_PER_BLOCK: usize = 16;

/// Blocks a thread gets on average, at least, so that the last ones even out the threads.
const BLOCKS_PER_THREAD: usize = 8;

/// Hands out the next block of rows not yet taken, with its first row.
type Next<'n, 'a> = &'n dyn Fn() -> Option<(usize, Outputs<'a>)>;

/// The negative phase of CD-k for every row, chains started at `v0` (at `v` when `None`).
pub fn negative_phase(
    w: &Tensor,
    bv: &Tensor,
    bh: &Tensor,
    v: &Tensor,
    v0: Option<&Tensor>,
    k: i64,
) -> NegativePhase {
    negative_phase_of(w, bv, bh, v, v0, k, 0, None)
}

/// [`negative_phase`] for the rows where `mask (N)` is non-zero only: the others (padding, which
/// the loss ignores) get zeros everywhere, and cost nothing. With `moves > 0`, every `moves`-th
/// Gibbs step is followed by note moves ([`kernel::move_notes`]).
#[allow(clippy::too_many_arguments)]
pub fn negative_phase_of(
    w: &Tensor,
    bv: &Tensor,
    bh: &Tensor,
    v: &Tensor,
    v0: Option<&Tensor>,
    k: i64,
    moves: usize,
    mask: Option<&Tensor>,
) -> NegativePhase {
    let model = Model::new(w);
    let (nv, nh) = (model.nv, model.nh);
    let rows = v.size()[0] as usize;
    let (bv, bh, data) = (floats(bv), floats(bh), floats(v));
    let start = v0.map(floats);
    let active = mask.map(floats);
    let seed = rng::stream_seed();
    let mut neg = vec![0f32; rows * nv];
    let mut data_hidden = vec![0f32; rows * nh];
    let mut neg_hidden = vec![0f32; rows * nh];
    let mut gap = vec![0f32; rows];
    if rows > 0 {
        let threads = kernel::threads()
            .min(rows.div_ceil(MIN_ROWS_PER_THREAD))
            .max(1);
        let inputs = Inputs {
            m: &model,
            bv: &bv,
            bh: &bh,
            data: &data,
            start: start.as_deref(),
            active: active.as_deref(),
            k: k.max(0) as usize,
            moves,
            seed,
        };
        // Blocks of rows handed out as threads ask for them: chains differ in cost (padding
        // costs nothing, a sharp RBM's chains skip work).
        let per = (rows / (threads * BLOCKS_PER_THREAD)).clamp(1, ROWS_PER_BLOCK);
        let blocks: Vec<(usize, Outputs)> = neg
            .chunks_mut(per * nv)
            .zip(data_hidden.chunks_mut(per * nh))
            .zip(neg_hidden.chunks_mut(per * nh))
            .zip(gap.chunks_mut(per))
            .enumerate()
            .map(|(b, (((neg, data_hidden), neg_hidden), gap))| {
                let out = Outputs {
                    neg,
                    data_hidden,
                    neg_hidden,
                    gap,
                };
                (b * per, out)
            })
            .collect();
        kernel::share_out(threads, blocks.into_iter(), |next| run_rows(&inputs, next));
    }
    let (n, nv, nh) = (rows as i64, nv as i64, nh as i64);
    NegativePhase {
        neg: Tensor::from_slice(&neg).view([n, nv]),
        data_hidden: Tensor::from_slice(&data_hidden).view([n, nh]),
        neg_hidden: Tensor::from_slice(&neg_hidden).view([n, nh]),
        gap: Tensor::from_slice(&gap),
    }
}

struct Inputs<'a> {
    m: &'a Model,
    bv: &'a [f32],
    bh: &'a [f32],
    data: &'a [f32],
    start: Option<&'a [f32]>,
    active: Option<&'a [f32]>,
    k: usize,
    moves: usize,
    seed: u64,
}

/// One thread's share of the outputs, rows `first ..` onwards.
struct Outputs<'a> {
    neg: &'a mut [f32],
    data_hidden: &'a mut [f32],
    neg_hidden: &'a mut [f32],
    gap: &'a mut [f32],
}

/// Runs blocks of rows from `next` on this thread until none is left.
fn run_rows(inp: &Inputs, next: Next) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has AVX2, checked just above.
            unsafe { rows_avx2(inp, next) };
            return;
        }
    }
    rows_generic(inp, next)
}

/// [`rows_generic`] compiled for AVX2; the same operations in the same order.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn rows_avx2(inp: &Inputs, next: Next) {
    rows_generic(inp, next)
}

/// Work space of one chain, reused from row to row.
struct Scratch {
    x: Vec<f32>,
    sig: Vec<f32>,
    u: Vec<f32>,
    pre: Vec<f32>,
    on_v: Vec<u32>,
    /// The visible units that `x` (and `sig`) were computed from.
    x_on: Vec<u32>,
    hidden: HiddenSample,
    /// Work space of the note moves.
    without: Vec<f32>,
}

#[inline(always)]
fn rows_generic(inp: &Inputs, next: Next) {
    let m = inp.m;
    let (nv, nh) = (m.nv, m.nh);
    let mut s = Scratch {
        x: vec![0.0; m.nh_pad],
        sig: vec![0.0; nh],
        u: vec![0.0; nv.max(nh)],
        pre: vec![0.0; m.nv_pad],
        on_v: Vec::with_capacity(nv),
        x_on: Vec::with_capacity(nv),
        hidden: HiddenSample::new(m),
        without: vec![0.0; nh],
    };
    while let Some((first, out)) = next() {
        block(inp, first, out, &mut s);
    }
}

/// The rows of `out`, rows `first ..` of the inputs.
#[inline(always)]
fn block(inp: &Inputs, first: usize, out: Outputs, s: &mut Scratch) {
    let m = inp.m;
    let (nv, nh) = (m.nv, m.nh);
    for (i, gap) in out.gap.iter_mut().enumerate() {
        let r = first + i;
        if inp.active.is_some_and(|a| a[r] == 0.0) {
            continue; // the outputs stay zero
        }
        let bv = &inp.bv[r * nv..(r + 1) * nv];
        let bh = &inp.bh[r * nh..(r + 1) * nh];
        let v = &inp.data[r * nv..(r + 1) * nv];
        let mut lane = Lanes::new(rng::mix(inp.seed ^ rng::mix(r as u64)));
        // The data side: σ(v W + bh) and F(v).
        set_on(v, &mut s.on_v);
        hidden_input(m, bh, &s.on_v, &mut s.x);
        let data_hidden = &mut out.data_hidden[i * nh..(i + 1) * nh];
        let f_data = -sum_on(bv, &s.on_v) - softplus_sum(&s.x[..nh], data_hidden);
        // The chain.
        if let Some(start) = inp.start {
            set_on(&start[r * nv..(r + 1) * nv], &mut s.on_v);
            hidden_input(m, bh, &s.on_v, &mut s.x);
            sigmoid_into(1.0, &s.x[..nh], &mut s.sig);
        } else {
            s.sig.copy_from_slice(data_hidden);
        }
        s.hidden.reset();
        s.x_on.clone_from(&s.on_v);
        for step in 0..inp.k {
            s.hidden.draw(m, &s.sig, &mut lane, &mut s.u[..nh]);
            for ((p, x), b) in s.pre.iter_mut().zip(s.hidden.input()).zip(bv) {
                *p = sigmoid(x + b);
            }
            sample_on(&s.pre[..nv], &mut lane, &mut s.u[..nv], &mut s.on_v);
            // A sharp RBM's chain often draws the same notes again: then `x` and `σ(x)` stand.
            let moves = kernel::moves_at(inp.moves, step + 1);
            if s.on_v == s.x_on && !moves {
                continue;
            }
            hidden_input(m, bh, &s.on_v, &mut s.x);
            if moves {
                kernel::move_notes(
                    m,
                    1.0,
                    |i| bv[i] as f64,
                    &mut s.x,
                    &mut s.on_v,
                    &mut lane,
                    &mut s.without,
                    None,
                );
            }
            s.x_on.clone_from(&s.on_v);
            if step + 1 < inp.k {
                sigmoid_into(1.0, &s.x[..nh], &mut s.sig);
            }
        }
        // The negative side: the sample, σ(ṽ W + bh) and F(ṽ).
        let neg_hidden = &mut out.neg_hidden[i * nh..(i + 1) * nh];
        let f_neg = -sum_on(bv, &s.on_v) - softplus_sum(&s.x[..nh], neg_hidden);
        let neg = &mut out.neg[i * nv..(i + 1) * nv];
        neg.fill(0.0);
        for &j in &s.on_v {
            neg[j as usize] = 1.0;
        }
        *gap = (f_data - f_neg) as f32;
    }
}

/// `Σ_j softplus(x_j)`, writing `σ(x_j)` into `sig`: `softplus(x) = max(x, 0) − ln σ(|x|)`, and
/// `σ(|x|)` is `σ(x)` or `1 − σ(x)`, whichever is at least ½; the logarithms are taken of
/// products of these factors in `[½, 1]`, 32 a lane in 8 lanes. Two simple passes, so that both
/// vectorise (one loop doing all of it did not).
#[inline(always)]
fn softplus_sum(x: &[f32], sig: &mut [f32]) -> f64 {
    const LANES: usize = 8;
    const PER_LANE: usize = 32;
    sigmoid_into(1.0, x, sig);
    let mut total = 0f64;
    for (xs, sigs) in x.chunks(LANES * PER_LANE).zip(sig.chunks(LANES * PER_LANE)) {
        let mut prod = [1f32; LANES];
        let mut relu = [0f32; LANES];
        let mut xc = xs.chunks_exact(LANES);
        let mut sc = sigs.chunks_exact(LANES);
        for (xl, sl) in (&mut xc).zip(&mut sc) {
            for l in 0..LANES {
                let s = sl[l];
                prod[l] *= if s >= 0.5 { s } else { 1.0 - s };
                relu[l] += if xl[l] > 0.0 { xl[l] } else { 0.0 };
            }
        }
        let mut tail = 0f64;
        for (&xv, &s) in xc.remainder().iter().zip(sc.remainder()) {
            let far = if s >= 0.5 { s } else { 1.0 - s };
            tail += xv.max(0.0) as f64 - (far as f64).ln();
        }
        let logs: f64 = prod.iter().map(|&p| (p as f64).ln()).sum();
        total += relu.iter().map(|&r| r as f64).sum::<f64>() - logs + tail;
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn softplus_sums_and_sigmoids_match_their_definitions_in_double_precision() {
        let x: Vec<f32> = (0..300).map(|j| (j as f32 - 150.0) * 0.27).collect();
        let mut sig = vec![0f32; x.len()];
        let got = softplus_sum(&x, &mut sig);
        let want: f64 = x
            .iter()
            .map(|&x| (x as f64).max(0.0) + (-(x as f64).abs()).exp().ln_1p())
            .sum();
        assert!((got - want).abs() < 1e-4, "{got} vs {want}");
        for (&s, &x) in sig.iter().zip(&x) {
            let w = 1.0 / (1.0 + (-(x as f64)).exp());
            assert!(
                (s as f64 - w).abs() <= 3e-7 * w + 1e-30,
                "σ({x}) = {s}, not {w}"
            );
        }
    }
}
