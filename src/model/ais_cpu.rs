//! AIS and RAISE ([`super::ais`]) on the CPU, one chain at a time, every step fused.
//!
//! The tensor version spends most of its time in a dozen element-wise passes over `(rows, H)`
//! per temperature and in dense products whose inputs are mostly zeros. Here each chain's state
//! stays in the L1 cache for its whole path, and one temperature costs:
//!
//! ```text
//! weight:  Σ_j softplus(b x_j) − softplus(a x_j)  +  (b − a) v·(bv − ba)     one pass over H
//! h ~ σ(β x)                                         (σ comes with the softplus: one exp)
//! v ~ σ(β Σ_{j: h_j=1} Wᵀ_j + ba + β (bv − ba))     sums of the rows of Wᵀ that are on
//! x = bh + Σ_{i: v_i=1} W_i                         sums of the rows of W that are on
//! ```
//!
//! A piano-roll frame has a few notes on, so `x` costs a few rows of `W` instead of a product.
//! `exp` is a short polynomial (relative error below 2.5·10⁻⁷) written so that the compiler
//! vectorises it, the softplus terms become one logarithm of a product per 256 units
//! ([`softplus_gap`]); sums run in 8 lanes in a fixed order, so the figures do not depend
//! on the vector width ([`avx2`] or plain SSE2) or on the thread count: frames are handed out
//! one at a time to threads as they free up, and every chain draws from its own xorshift32 lanes
//! seeded from [`super::rng::stream_seed`], its frame and its index.
//!
//! Shapes as in [`super::ais`]: `w (V, H)`, `bv (F, V)`, `bh (F, H)`, `base_start (F, V)`,
//! `v_data (F, V)`; the result is the log-weights `(F, C)` and the base biases `ba (F, V)`.
use super::ais::AisOptions;
use super::bound;
use super::kernel::{
    self, exp_nonpositive, floats, hidden_input, notes_hash, sample_on, set_on, sigmoid,
    sigmoid_into, softplus_sum, sum_on, HiddenSample, Jumps, Lanes, Model, Simd,
};
use super::rng;
use tch::{Device, Kind, Tensor};

/// Whether [`anneal`] can run these weights: float32 on the CPU.
pub fn applicable(w: &Tensor) -> bool {
    w.device() == Device::Cpu && w.kind() == Kind::Float
}

/// Log-weights `(F, C)` (float32) and base biases `(F, V)` of every chain: AIS upwards from the
/// base when `v_data` is `None`, RAISE downwards from `v_data` otherwise.
pub fn anneal(
    w: &Tensor,
    bv: &Tensor,
    bh: &Tensor,
    base_start: &Tensor,
    v_data: Option<&Tensor>,
    opts: AisOptions,
) -> (Tensor, Tensor) {
    let n_visible = w.size()[0];
    let frames = bv.size()[0] as usize;
    let chains = opts.chains as usize;
    let model = Model::new(w);
    let (bv, bh, start) = (floats(bv), floats(bh), floats(base_start));
    let data = v_data.map(floats);
    let mut betas = vec![0.0f32];
    betas.extend(
        super::ais::schedule(opts.temperatures)
            .iter()
            .map(|&b| b as f32),
    );
    let seed = rng::stream_seed();
    let mut log_w = vec![0f32; frames * chains];
    let mut base = vec![0f32; frames * model.nv];
    if frames > 0 {
        let threads = (tch::get_num_threads().max(1) as usize).min(frames);
        let (model, betas) = (&model, &betas);
        let (bv, bh, start, data) = (&bv, &bh, &start, data.as_deref());
        // Frames are handed out one at a time as threads ask for them.
        let frames = log_w.chunks_mut(chains).zip(base.chunks_mut(model.nv));
        kernel::share_out(threads, frames.enumerate(), |next| {
            let mut scratch = Scratch::new(model);
            while let Some((f, (log_w, ba))) = next() {
                let (nv, nh) = (model.nv, model.nh);
                let frame = Frame {
                    bv: &bv[f * nv..(f + 1) * nv],
                    bh: &bh[f * nh..(f + 1) * nh],
                    start: &start[f * nv..(f + 1) * nv],
                    data: data.map(|d| &d[f * nv..(f + 1) * nv]),
                    seed: rng::mix(seed ^ rng::mix(f as u64)),
                };
                run_frame(model, &frame, opts, betas, &mut scratch, ba, log_w);
            }
        });
    }
    let log_w = Tensor::from_slice(&log_w).view([frames as i64, opts.chains]);
    let base = Tensor::from_slice(&base).view([frames as i64, n_visible]);
    (log_w, base)
}

/// One frame's RBM and where its chains start.
struct Frame<'a> {
    bv: &'a [f32],
    bh: &'a [f32],
    start: &'a [f32],
    data: Option<&'a [f32]>,
    seed: u64,
}

/// One chain's state and work space, reused across chains and frames.
struct Scratch {
    /// `x = v W + bh`.
    x: Vec<f32>,
    sig_a: Vec<f32>,
    sig_b: Vec<f32>,
    /// Per-unit terms before they are summed.
    d: Vec<f32>,
    /// Uniforms, as many as the larger layer.
    u: Vec<f32>,
    /// `Σ_{j on} Wᵀ_j`, then the visible probabilities.
    pre: Vec<f32>,
    /// `bv − ba`.
    gap: Vec<f32>,
    /// `σ(ba)`.
    p_base: Vec<f32>,
    /// Visible probabilities summed over the base sweeps.
    total: Vec<f32>,
    on_v: Vec<u32>,
    /// The visible units before the last Gibbs step's sample.
    prev_on: Vec<u32>,
    /// Whether `x` is exactly what [`hidden_input`] gives for `on_v` (not after note moves,
    /// which update it by differences).
    x_fresh: bool,
    /// Counts the changes of `x`, so that [`Exps`] knows when its values still hold.
    x_gen: u64,
    exps: Exps,
    hidden: HiddenSample,
    modes: Modes,
}

/// `exp(−|β x_j|)` of every hidden unit at one `β`, for the `x` of generation `gen`: the
/// neighbouring temperatures of the path share one `β`, so when a Gibbs step leaves the visible
/// units as they were (`x` unchanged, as often in a sharp RBM), [`softplus_gap`] computes one
/// exponential per unit instead of two, with the same values.
struct Exps {
    e: Vec<f32>,
    beta: f32,
    gen: u64,
}

/// One frame's heavy vectors for [`Jumps`] ([`AisOptions::jumps`] of them, found by
/// [`bound::heaviest`] around the previous frame, never the frame scored), and for every
/// temperature `k` with moves their `Σ_h softplus(β_k x_h)` and the cumulative distribution of
/// `p*_βk` over them, rows of `on.len()`.
struct Modes {
    on: Vec<Vec<u32>>,
    hashes: Vec<u64>,
    x: Vec<f32>,
    hidden: Vec<f64>,
    cumulative: Vec<f32>,
    near: bound::Work,
}

impl Scratch {
    fn new(m: &Model) -> Scratch {
        let (nv, nh) = (m.nv, m.nh);
        Scratch {
            x: vec![0.0; m.nh_pad],
            sig_a: vec![0.0; nh],
            sig_b: vec![0.0; nh],
            d: vec![0.0; nh],
            u: vec![0.0; nv.max(nh)],
            pre: vec![0.0; m.nv_pad],
            gap: vec![0.0; nv],
            p_base: vec![0.0; nv],
            total: vec![0.0; nv],
            on_v: Vec::with_capacity(nv),
            prev_on: Vec::with_capacity(nv),
            x_fresh: false,
            x_gen: 0,
            exps: Exps {
                e: vec![0.0; nh],
                beta: f32::NAN,
                gen: 0,
            },
            hidden: HiddenSample::new(m),
            modes: Modes {
                on: Vec::new(),
                hashes: Vec::new(),
                x: Vec::new(),
                hidden: Vec::new(),
                cumulative: Vec::new(),
                near: bound::Work::new(m),
            },
        }
    }
}

fn run_frame(
    m: &Model,
    f: &Frame,
    opts: AisOptions,
    betas: &[f32],
    s: &mut Scratch,
    ba: &mut [f32],
    log_w: &mut [f32],
) {
    match kernel::simd() {
        // SAFETY: `simd` found AVX-512 F, VL, BW and DQ on this CPU.
        #[cfg(target_arch = "x86_64")]
        Simd::Avx512 => unsafe { avx512(m, f, opts, betas, s, ba, log_w) },
        // SAFETY: `simd` found AVX2 on this CPU.
        #[cfg(target_arch = "x86_64")]
        Simd::Avx2 => unsafe { avx2(m, f, opts, betas, s, ba, log_w) },
        _ => frame(m, f, opts, betas, s, ba, log_w),
    }
}

/// [`frame`] compiled for AVX2 (8 floats per instruction instead of SSE2's 4); the same
/// operations in the same order, so the same figures.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn avx2(
    m: &Model,
    f: &Frame,
    opts: AisOptions,
    betas: &[f32],
    s: &mut Scratch,
    ba: &mut [f32],
    log_w: &mut [f32],
) {
    frame(m, f, opts, betas, s, ba, log_w)
}

/// [`frame`] compiled for AVX-512 (16 floats per instruction); the same operations in the same
/// order, so the same figures.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512vl,avx512bw,avx512dq")]
unsafe fn avx512(
    m: &Model,
    f: &Frame,
    opts: AisOptions,
    betas: &[f32],
    s: &mut Scratch,
    ba: &mut [f32],
    log_w: &mut [f32],
) {
    frame(m, f, opts, betas, s, ba, log_w)
}

/// The base biases of one frame, then its chains' log-weights.
#[inline(always)]
fn frame(
    m: &Model,
    f: &Frame,
    opts: AisOptions,
    betas: &[f32],
    s: &mut Scratch,
    ba: &mut [f32],
    log_w: &mut [f32],
) {
    let chains = log_w.len();
    let mut lanes: Vec<Lanes> = (0..chains)
        .map(|c| Lanes::new(rng::mix(f.seed ^ rng::mix(c as u64))))
        .collect();
    base_biases(m, f, opts.base_sweeps, &mut lanes, s, ba);
    for (((g, p), v), a) in s
        .gap
        .iter_mut()
        .zip(s.p_base.iter_mut())
        .zip(f.bv)
        .zip(&*ba)
    {
        *g = v - a;
        *p = sigmoid(*a);
    }
    find_modes(m, f, opts, betas, ba, s);
    for (lane, w) in lanes.iter_mut().zip(log_w.iter_mut()) {
        *w = match f.data {
            None => forward(m, f, betas, opts.moves, ba, lane, s),
            Some(v) => reverse(m, f, betas, opts.moves, ba, v, lane, s),
        } as f32;
    }
}

/// `ba`: the logits of the visible marginals, averaged over `sweeps` Gibbs sweeps of every chain
/// started at the frame's `start`, pulled towards ½ (as in [`super::ais`]); `bv` with no sweeps.
#[inline(always)]
fn base_biases(
    m: &Model,
    f: &Frame,
    sweeps: usize,
    lanes: &mut [Lanes],
    s: &mut Scratch,
    ba: &mut [f32],
) {
    if sweeps == 0 {
        ba.copy_from_slice(f.bv);
        return;
    }
    s.total.fill(0.0);
    for lane in lanes.iter_mut() {
        set_on(f.start, &mut s.on_v);
        s.hidden.reset();
        for _ in 0..sweeps {
            hidden_input(m, f.bh, &s.on_v, &mut s.x);
            sigmoid_into(1.0, &s.x[..m.nh], &mut s.sig_b);
            s.hidden.draw(m, &s.sig_b, lane, &mut s.u[..m.nh]);
            let input = s.hidden.input();
            for (((p, t), b), x) in s
                .pre
                .iter_mut()
                .zip(s.total.iter_mut())
                .zip(f.bv)
                .zip(input)
            {
                *p = sigmoid(x + b);
                *t += *p;
            }
            sample_on(&s.pre[..m.nv], lane, &mut s.u[..m.nv], &mut s.on_v);
        }
    }
    let n = (lanes.len() * sweeps) as f64;
    for i in 0..m.nv {
        let p = (s.total[i] as f64 + 0.5) / (n + 1.0);
        ba[i] = (p / (1.0 - p)).ln() as f32;
    }
}

/// `s.modes` of this frame: none without moves or jumps.
#[inline(always)]
fn find_modes(m: &Model, f: &Frame, opts: AisOptions, betas: &[f32], ba: &[f32], s: &mut Scratch) {
    let modes = &mut s.modes;
    modes.on.clear();
    if opts.jumps == 0 || opts.moves == 0 {
        return;
    }
    modes.on = bound::heaviest(m, f.bv, f.bh, &[f.start], opts.jumps, &mut modes.near);
    let (n, nh, stride) = (modes.on.len(), m.nh, m.nh_pad);
    modes.hashes = modes.on.iter().map(|on| notes_hash(on)).collect();
    modes.x.resize(n * stride, 0.0);
    for (on, x) in modes.on.iter().zip(modes.x.chunks_mut(stride)) {
        hidden_input(m, f.bh, on, x);
    }
    // log p*_β(v) = Σ_{i on} (ba_i + β gap_i) + Σ_h softplus(β x_h)
    let sums: Vec<(f64, f64)> = modes
        .on
        .iter()
        .map(|on| (sum_on(ba, on), sum_on(&s.gap, on)))
        .collect();
    modes.hidden.resize(betas.len() * n, 0.0);
    modes.cumulative.resize(betas.len() * n, 1.0);
    let mut log_p = vec![0f64; n];
    // The temperatures whose Gibbs step the moves follow: 1 … K − 1.
    let inner = betas.iter().enumerate().take(betas.len() - 1).skip(1);
    for (k, &beta) in inner.filter(|&(k, _)| kernel::moves_at(opts.moves, k)) {
        let hidden = &mut modes.hidden[k * n..(k + 1) * n];
        for (((h, l), x), (a, g)) in hidden
            .iter_mut()
            .zip(log_p.iter_mut())
            .zip(modes.x.chunks(stride))
            .zip(&sums)
        {
            *h = softplus_sum(beta, &x[..nh], &m.zeros);
            *l = a + beta as f64 * g + *h;
        }
        let top = log_p.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let total: f64 = log_p.iter().map(|l| (l - top).exp()).sum();
        let mut run = 0f64;
        for (c, l) in modes.cumulative[k * n..(k + 1) * n].iter_mut().zip(&log_p) {
            run += (l - top).exp() / total;
            *c = run as f32;
        }
        modes.cumulative[(k + 1) * n - 1] = 1.0;
    }
}

/// AIS: an exact sample of the base, then for `k = 1 … K` the weight of `β_k` over `β_{k−1}` and
/// (but for the last) one Gibbs step at `β_k`.
#[inline(always)]
fn forward(
    m: &Model,
    f: &Frame,
    betas: &[f32],
    moves: usize,
    ba: &[f32],
    lane: &mut Lanes,
    s: &mut Scratch,
) -> f64 {
    sample_on(&s.p_base, lane, &mut s.u[..m.nv], &mut s.on_v);
    hidden_input(m, f.bh, &s.on_v, &mut s.x);
    s.new_x(true);
    s.hidden.reset();
    let mut log_w = 0f64;
    let last = betas.len() - 1;
    for k in 1..=last {
        let (a, b) = (betas[k - 1], betas[k]);
        let bias = sum_on(&s.gap, &s.on_v);
        log_w += (b - a) as f64 * bias + s.softplus_gap::<true>(a, b, m.nh);
        if k < last {
            std::mem::swap(&mut s.sig_a, &mut s.sig_b);
            gibbs(m, f, b, ba, lane, s);
            if kernel::moves_at(moves, k) {
                move_notes(m, b, k, ba, lane, s);
            }
        }
    }
    log_w
}

/// RAISE: from the data vector, one Gibbs step at `β_k` and then the weight of `β_k` over
/// `β_{k−1}` of where it landed, for `k = K … 1`; the log-weight is subtracted.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn reverse(
    m: &Model,
    f: &Frame,
    betas: &[f32],
    moves: usize,
    ba: &[f32],
    v: &[f32],
    lane: &mut Lanes,
    s: &mut Scratch,
) -> f64 {
    set_on(v, &mut s.on_v);
    hidden_input(m, f.bh, &s.on_v, &mut s.x);
    s.new_x(true);
    s.hidden.reset();
    let last = betas.len() - 1;
    sigmoid_into(betas[last], &s.x[..m.nh], &mut s.sig_a);
    let mut log_w = 0f64;
    for k in (1..=last).rev() {
        let (a, b) = (betas[k - 1], betas[k]);
        if k < last && kernel::moves_at(moves, k) {
            move_notes(m, b, k, ba, lane, s);
            sigmoid_into(b, &s.x[..m.nh], &mut s.sig_a);
        }
        gibbs(m, f, b, ba, lane, s);
        let bias = sum_on(&s.gap, &s.on_v);
        log_w -= (b - a) as f64 * bias + s.softplus_gap::<false>(a, b, m.nh);
    }
    log_w
}

/// One Gibbs sweep at `β` from `x` whose hidden probabilities `σ(β x)` are in `s.sig_a`: samples
/// `h`, then `v` from `σ(β hWᵀ + ba + β (bv − ba))`, and updates `x` and `s.on_v`.
#[inline(always)]
fn gibbs(m: &Model, f: &Frame, beta: f32, ba: &[f32], lane: &mut Lanes, s: &mut Scratch) {
    s.hidden.draw(m, &s.sig_a, lane, &mut s.u[..m.nh]);
    for (((p, a), g), x) in s.pre.iter_mut().zip(ba).zip(&s.gap).zip(s.hidden.input()) {
        *p = sigmoid(beta * x + a + beta * g);
    }
    std::mem::swap(&mut s.on_v, &mut s.prev_on);
    sample_on(&s.pre[..m.nv], lane, &mut s.u[..m.nv], &mut s.on_v);
    if !(s.x_fresh && s.on_v == s.prev_on) {
        hidden_input(m, f.bh, &s.on_v, &mut s.x);
        s.new_x(true);
    }
}

/// [`kernel::move_notes`] at `β = β_k` for the AIS path's RBM: visible biases `ba + β (bv −
/// ba)`, with jumps between the frame's modes where it has them.
#[inline(always)]
fn move_notes(m: &Model, beta: f32, k: usize, ba: &[f32], lane: &mut Lanes, s: &mut Scratch) {
    let (gap, modes) = (&s.gap, &s.modes);
    let n = modes.on.len();
    let jumps = (n > 0).then(|| Jumps {
        on: &modes.on,
        hashes: &modes.hashes,
        x: &modes.x,
        nh_pad: m.nh_pad,
        hidden: &modes.hidden[k * n..(k + 1) * n],
        cumulative: &modes.cumulative[k * n..(k + 1) * n],
    });
    kernel::move_notes(
        m,
        beta,
        |i| (ba[i] + beta * gap[i]) as f64,
        &mut s.x,
        &mut s.on_v,
        lane,
        &mut s.d,
        jumps.as_ref(),
    );
    s.new_x(false);
}

impl Scratch {
    /// `x` changed: computed from `on_v` by [`hidden_input`] (`fresh`), or by note moves.
    #[inline(always)]
    fn new_x(&mut self, fresh: bool) {
        self.x_fresh = fresh;
        self.x_gen += 1;
    }

    /// [`softplus_gap`] of the first `nh` units of `x`, reusing [`Exps`] where the shared
    /// temperature's exponentials are still those of this `x` (`a` on the way up, `FORWARD`;
    /// `b` on the way down), and keeping the other temperature's for the next call.
    #[inline(always)]
    fn softplus_gap<const FORWARD: bool>(&mut self, a: f32, b: f32, nh: usize) -> f64 {
        let (shared, kept) = if FORWARD { (a, b) } else { (b, a) };
        let exps = &mut self.exps;
        let reuse = exps.gen == self.x_gen && exps.beta == shared;
        exps.beta = kept;
        exps.gen = self.x_gen;
        let (x, e) = (&self.x[..nh], &mut exps.e[..nh]);
        let (sa, sb, d) = (&mut self.sig_a, &mut self.sig_b, &mut self.d);
        if reuse {
            softplus_gap::<FORWARD, true>(a, b, x, e, sa, sb, d)
        } else {
            softplus_gap::<FORWARD, false>(a, b, x, e, sa, sb, d)
        }
    }
}

/// `Σ_j softplus(b x_j) − softplus(a x_j)` for `0 ≤ a < b`, with `σ(a x)` and `σ(b x)` written
/// out. With `e_j = exp(−|β x_j|)`, `softplus(β x_j) = β max(x_j, 0) + log(1 + e_j)`, so
///
/// ```text
/// Σ_j softplus(b x_j) − softplus(a x_j) = (b − a) Σ_j max(x_j, 0) + log Π_j (1 + e_b,j) / (1 + e_a,j)
/// ```
///
/// Every ratio lies in `(½, 2)`: the products run in 8 lanes over blocks of [`PRODUCT_BLOCK`]
/// units (far from float32's range), and each block costs one `ln`. Per unit: two `exp` (one
/// with `REUSE`), one division (shared by the ratio and both sigmoids), no logarithm. `d` is work
/// space as long as `x`. `e` holds `exp(−|β x_j|)` at the temperature shared with the next call (`b` when
/// `FORWARD`, else `a`) on return; with `REUSE` it holds, on entry, those of the other one.
#[inline(always)]
fn softplus_gap<const FORWARD: bool, const REUSE: bool>(
    a: f32,
    b: f32,
    x: &[f32],
    e: &mut [f32],
    sig_a: &mut [f32],
    sig_b: &mut [f32],
    d: &mut [f32],
) -> f64 {
    let n = x.len();
    let (e, sig_a, sig_b, d) = (&mut e[..n], &mut sig_a[..n], &mut sig_b[..n], &mut d[..n]);
    let (shared, kept) = if FORWARD { (a, b) } else { (b, a) };
    for j in 0..n {
        let xj = x[j];
        let e_shared = if REUSE {
            e[j]
        } else {
            exp_nonpositive(-(shared * xj).abs())
        };
        let e_kept = exp_nonpositive(-(kept * xj).abs());
        e[j] = e_kept;
        let (ea, eb) = if FORWARD {
            (e_shared, e_kept)
        } else {
            (e_kept, e_shared)
        };
        let (one_a, one_b) = (1.0 + ea, 1.0 + eb);
        let inv = 1.0 / (one_a * one_b);
        let (ra, rb) = (one_b * inv, one_a * inv);
        let on = xj >= 0.0;
        sig_a[j] = if on { ra } else { ea * ra };
        sig_b[j] = if on { rb } else { eb * rb };
        d[j] = one_b * ra;
    }
    let mut log_ratio = 0f64;
    for block in d.chunks(PRODUCT_BLOCK) {
        let mut prod = [1f32; 8];
        let mut chunks = block.chunks_exact(8);
        for c in &mut chunks {
            for l in 0..8 {
                prod[l] *= c[l];
            }
        }
        let tail: f64 = chunks.remainder().iter().map(|&r| r as f64).product();
        log_ratio += (prod.iter().map(|&p| p as f64).product::<f64>() * tail).ln();
    }
    let mut relu = [0f32; 8];
    let mut chunks = x.chunks_exact(8);
    for c in &mut chunks {
        for l in 0..8 {
            relu[l] += if c[l] > 0.0 { c[l] } else { 0.0 };
        }
    }
    let tail: f32 = chunks
        .remainder()
        .iter()
        .map(|&v| if v > 0.0 { v } else { 0.0 })
        .sum();
    let relu = relu.iter().map(|&v| v as f64).sum::<f64>() + tail as f64;
    (b - a) as f64 * relu + log_ratio
}

/// Units per product in [`softplus_gap`]: 32 ratios per lane, within `2^±32`.
const PRODUCT_BLOCK: usize = 256;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn softplus_gaps_and_sigmoids_match_their_definitions_in_double_precision() {
        let sp = |z: f64| z.max(0.0) + (-z.abs()).exp().ln_1p();
        let sig = |z: f64| 1.0 / (1.0 + (-z).exp());
        // 300 units from −40 to 40, the temperatures of a 300-step path and of a 3-step one.
        let x: Vec<f32> = (0..300).map(|j| (j as f32 - 150.0) * 0.27).collect();
        let n = x.len();
        for (a, b) in [
            (0.0, 1.0 / 300.0),
            (0.5, 0.5 + 1.0 / 300.0),
            (299.0 / 300.0, 1.0),
            (0.0, 1.0),
        ] {
            let (mut sa, mut sb, mut d) = (vec![0f32; n], vec![0f32; n], vec![0f32; n]);
            let mut e = vec![0f32; x.len()];
            let got = softplus_gap::<true, false>(a, b, &x, &mut e, &mut sa, &mut sb, &mut d);
            let want: f64 = x
                .iter()
                .map(|&x| sp(b as f64 * x as f64) - sp(a as f64 * x as f64))
                .sum();
            assert!(
                (got - want).abs() < 2e-5 * (1.0 + want.abs() * 0.01),
                "a {a} b {b}: {got} vs {want}"
            );
            for j in 0..n {
                for (beta, s) in [(a, sa[j]), (b, sb[j])] {
                    let w = sig((beta * x[j]) as f64); // the product rounded as the kernel rounds it
                    assert!(
                        (s as f64 - w).abs() <= 3e-7 * w + 1e-30,
                        "σ({beta}·{}) = {s}, not {w}",
                        x[j]
                    );
                }
            }
        }
        assert_eq!(sigmoid(0.0), 0.5);
        assert!(sigmoid(-200.0) < 1e-37 && sigmoid(200.0) == 1.0);
    }

    #[test]
    fn reusing_the_shared_temperatures_exponentials_gives_the_same_bits_both_ways() {
        let x: Vec<f32> = (0..150).map(|j| (j as f32 - 75.0) * 0.31 + 0.013).collect();
        let n = x.len();
        let run = |a: f32, b: f32, e: &mut Vec<f32>, forward: bool, reuse: bool| {
            let (mut sa, mut sb, mut d) = (vec![0f32; n], vec![0f32; n], vec![0f32; n]);
            let gap = match (forward, reuse) {
                (true, true) => softplus_gap::<true, true>(a, b, &x, e, &mut sa, &mut sb, &mut d),
                (true, false) => softplus_gap::<true, false>(a, b, &x, e, &mut sa, &mut sb, &mut d),
                (false, true) => softplus_gap::<false, true>(a, b, &x, e, &mut sa, &mut sb, &mut d),
                (false, false) => {
                    softplus_gap::<false, false>(a, b, &x, e, &mut sa, &mut sb, &mut d)
                }
            };
            (gap.to_bits(), sa, sb)
        };
        let (b0, b1, b2) = (0.31f32, 0.32f32, 0.33f32);
        for forward in [true, false] {
            let mut e = vec![0f32; n];
            // Up the path: (b0, b1) keeps b1's, which (b1, b2) shares; down: (b1, b2) keeps b1's.
            let ((a1, c1), (a2, c2)) = if forward {
                ((b0, b1), (b1, b2))
            } else {
                ((b1, b2), (b0, b1))
            };
            run(a1, c1, &mut e, forward, false);
            let reused = run(a2, c2, &mut e, forward, true);
            let fresh = run(a2, c2, &mut vec![0f32; n], forward, false);
            assert_eq!(reused, fresh, "forward {forward}");
        }
    }
}
