//! The building blocks of the fused CPU kernels ([`super::ais_cpu`], [`super::gibbs_cpu`]): one
//! RBM's Gibbs steps on a single chain whose state stays in the L1 cache.
//!
//! ```text
//! x   = bh + Σ_{i: v_i=1} W_i            sums of the rows of W that are on (a frame has few notes)
//! pre = Σ_{j: h_j=1} Wᵀ_j                or Σ_j Wᵀ_j − Σ_{j: h_j=0} Wᵀ_j, whichever list is shorter
//! σ(z) from one exp(−|z|)                a degree-7 polynomial that vectorises
//! ```
//!
//! Sums run in blocks of [`BLOCK`] columns in a fixed order, so results do not depend on the
//! vector width (AVX2 or SSE2) or the thread count; uniforms come from eight xorshift32 lanes
//! ([`Lanes`]) seeded by the caller. Shapes: `W (V, H)` float32, rows padded to whole blocks.
use super::rng;
use std::sync::atomic::{AtomicUsize, Ordering};
use tch::{Kind, Tensor};

/// Threads of the fused kernels; 0: libtorch's count.
static THREADS: AtomicUsize = AtomicUsize::new(0);

/// Sets the fused kernels' thread count apart from libtorch's (`0`: follow libtorch's). Training
/// on the CPU runs libtorch on one thread and the kernels on this many: libtorch's idle OpenMP
/// threads spin, and would take the cores from the kernel's.
pub fn set_threads(n: usize) {
    THREADS.store(n, Ordering::Relaxed);
}

/// While alive, libtorch runs on one thread and the fused kernels on the threads libtorch had;
/// dropped, both are as before. For training on the CPU by hand
/// ([`super::RnnRbm::updates_by_hand`]), where what is left to libtorch is small operations:
/// with two threads, its OpenMP threads spin between them and take the kernels' cores (JSB,
/// one chunk per update, 2 threads: 39,000 frames/s with libtorch on two threads, 53,000 so).
pub struct KernelThreads {
    libtorch: i32,
}

impl KernelThreads {
    pub fn begin() -> KernelThreads {
        let libtorch = tch::get_num_threads();
        set_threads(libtorch.max(1) as usize);
        tch::set_num_threads(1);
        KernelThreads { libtorch }
    }
}

impl Drop for KernelThreads {
    fn drop(&mut self) {
        set_threads(0);
        tch::set_num_threads(self.libtorch);
    }
}

/// The fused kernels' thread count: what [`set_threads`] set, else libtorch's.
pub fn threads() -> usize {
    match THREADS.load(Ordering::Relaxed) {
        0 => tch::get_num_threads().max(1) as usize,
        n => n,
    }
}

/// Runs `work` on `threads` threads, the calling one among them, each taking items of `items`
/// one at a time, through the function it is given, until none is left: work of uneven cost
/// (or cores of uneven speed, on a shared machine) keeps every thread busy to the end, where
/// equal shares would leave one waiting for another.
pub(super) fn share_out<I>(
    threads: usize,
    items: I,
    work: impl Fn(&dyn Fn() -> Option<I::Item>) + Sync,
) where
    I: Iterator + Send,
{
    let queue = std::sync::Mutex::new(items);
    let next = || queue.lock().expect("no kernel thread panicked").next();
    let (work, next) = (&work, &next);
    std::thread::scope(|s| {
        for _ in 1..threads {
            s.spawn(move || work(next));
        }
        work(next);
    });
}

/// The widest vector instructions of this CPU that the kernels have a build for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Simd {
    /// AVX-512 F, VL, BW and DQ: what the kernels' AVX-512 builds enable.
    Avx512,
    Avx2,
    /// Neither (or not x86-64): the plain build.
    Base,
}

/// [`Simd`] of this CPU (the standard library caches the detection).
pub(super) fn simd() -> Simd {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512vl")
            && std::arch::is_x86_feature_detected!("avx512bw")
            && std::arch::is_x86_feature_detected!("avx512dq")
        {
            return Simd::Avx512;
        }
        if std::arch::is_x86_feature_detected!("avx2") {
            return Simd::Avx2;
        }
    }
    Simd::Base
}

/// The shared weights, and their transpose for the visible side, each row padded with zeros
/// to a whole number of [`BLOCK`]s.
pub(super) struct Model {
    pub(super) nv: usize,
    pub(super) nh: usize,
    /// `W (V, H)`, row `i` (visible unit `i`'s weights) at `i · nh_pad`.
    pub(super) w: Vec<f32>,
    pub(super) nh_pad: usize,
    /// `Wᵀ (H, V)`, row `j` at `j · nv_pad`.
    pub(super) wt: Vec<f32>,
    /// `Σ_j Wᵀ_j` (padded), summed in double precision.
    pub(super) wt_sum: Vec<f32>,
    pub(super) nv_pad: usize,
    /// `H` zeros: no row of `W` to add ([`softplus_sum`] of `x` alone).
    pub(super) zeros: Vec<f32>,
}

impl Model {
    /// `w (V, H)` on the CPU, any float kind (used as float32).
    pub(super) fn new(w: &Tensor) -> Model {
        let (n_visible, n_hidden) = w.size2().expect("W is (V, H)");
        let (nv, nh) = (n_visible as usize, n_hidden as usize);
        let (nv_pad, nh_pad) = (nv.next_multiple_of(BLOCK), nh.next_multiple_of(BLOCK));
        Model {
            nv,
            nh,
            w: padded(&floats(w), nh, nh_pad),
            nh_pad,
            wt: padded(&floats(&w.tr()), nv, nv_pad),
            wt_sum: padded(
                &floats(
                    &w.to_kind(Kind::Double)
                        .sum_dim_intlist(1, false, Kind::Double),
                ),
                nv,
                nv_pad,
            ),
            nv_pad,
            zeros: vec![0.0; nh],
        }
    }
}

/// A tensor's elements as float32, in row-major order (what the kernels read their inputs from).
pub(super) fn floats(t: &Tensor) -> Vec<f32> {
    Vec::<f32>::try_from(t.to_kind(Kind::Float).contiguous().view([-1])).expect("floats")
}

/// `Σ_{i on} values_i` in double precision, for a binary vector given by the units that are on.
#[inline(always)]
pub(super) fn sum_on(values: &[f32], on: &[u32]) -> f64 {
    on.iter().map(|&i| values[i as usize] as f64).sum()
}

/// `out_j = σ(scale · x_j)`.
#[inline(always)]
pub(super) fn sigmoid_into(scale: f32, x: &[f32], out: &mut [f32]) {
    for (o, &x) in out.iter_mut().zip(x) {
        *o = sigmoid(scale * x);
    }
}

/// Columns summed at once by [`accumulate`]: four AVX registers of independent sums.
pub(super) const BLOCK: usize = 32;

/// `rows (n, cols)` row-major, each row padded with zeros to `pad` columns.
pub(super) fn padded(rows: &[f32], cols: usize, pad: usize) -> Vec<f32> {
    let mut out = vec![0f32; rows.len() / cols.max(1) * pad];
    for (o, r) in out.chunks_exact_mut(pad).zip(rows.chunks_exact(cols)) {
        o[..cols].copy_from_slice(r);
    }
    out
}

/// Indices of the units that are on (`> ½`) in a binary vector.
#[inline(always)]
pub(super) fn set_on(v: &[f32], on: &mut Vec<u32>) {
    on.clear();
    on.extend((0..v.len() as u32).filter(|&i| v[i as usize] > 0.5));
}

/// For each 8-bit mask, the positions of its set bits in ascending order (then zeros).
static COMPACT: [[u32; 8]; 256] = compact_table();

const fn compact_table() -> [[u32; 8]; 256] {
    let mut table = [[0u32; 8]; 256];
    let mut mask = 0;
    while mask < 256 {
        let (mut n, mut bit) = (0, 0);
        while bit < 8 {
            if mask & (1 << bit) != 0 {
                table[mask][n] = bit as u32;
                n += 1;
            }
            bit += 1;
        }
        mask += 1;
    }
    table
}

/// Bit `l` set where `u[l] < p[l]`.
#[inline(always)]
fn mask8(p: &[f32], u: &[f32]) -> usize {
    let mut mask = 0;
    for l in 0..8 {
        mask |= ((u[l] < p[l]) as usize) << l;
    }
    mask
}

/// Appends `base + i` for the set bits `i` of `mask` at `list[len..]` (eight slots are written,
/// the list's capacity must allow it) and returns the new length.
///
/// # Safety
/// `list` must have capacity for `len + 8` elements.
#[inline(always)]
unsafe fn push_bits(list: &mut Vec<u32>, len: usize, mask: usize, base: u32) -> usize {
    let at = list.as_mut_ptr().add(len);
    let positions = &COMPACT[mask];
    for l in 0..8 {
        *at.add(l) = base + positions[l];
    }
    len + mask.count_ones() as usize
}

/// Samples every unit with probability `p` and lists the ones that come out on, in ascending
/// order, without branches (a branch per unit would be mispredicted half the time): eight units
/// at a time, their comparisons as a mask whose set bits a table turns into positions.
#[inline(always)]
pub(super) fn sample_on(p: &[f32], lane: &mut Lanes, u: &mut [f32], on: &mut Vec<u32>) {
    lane.fill(u);
    let n = p.len();
    on.clear();
    on.reserve(n + 8);
    let mut count = 0;
    for c in 0..n / 8 {
        let mask = mask8(&p[c * 8..c * 8 + 8], &u[c * 8..c * 8 + 8]);
        // SAFETY: capacity n + 8 ≥ count + 8, as count ≤ 8c.
        count = unsafe { push_bits(on, count, mask, (c * 8) as u32) };
    }
    for i in n / 8 * 8..n {
        if u[i] < p[i] {
            // SAFETY: as above.
            unsafe { *on.as_mut_ptr().add(count) = i as u32 };
            count += 1;
        }
    }
    // SAFETY: the first `count` elements were written (u32 needs no drop).
    unsafe { on.set_len(count) };
}

/// A chain's hidden sample, kept as bit masks (bit `l` of `masks[c]`: unit `8c + l` is on), and
/// with it the visible side's input `pre = Σ_{j on} Wᵀ_j` ([`HiddenSample::input`]).
///
/// [`HiddenSample::draw`] samples every unit anew, then brings `pre` up to date in the cheapest
/// of three ways: adding the rows of `Wᵀ` of the units that turned on and subtracting those of
/// the units that turned off, when fewer units changed than are on or off; else the sum over the
/// units that are on, or `Σ_j Wᵀ_j` minus the units that are off, whichever list is shorter. A
/// trained RBM's hidden units are mostly sure of themselves, so a step changes few of them. The
/// running sum is recomputed from scratch at least every [`MAX_UPDATES`] steps, so that its
/// rounding cannot drift.
pub(super) struct HiddenSample {
    masks: Vec<u8>,
    next: Vec<u8>,
    /// Whether `pre` holds the sum of the sample in `masks`.
    current: bool,
    updates: usize,
    add: Vec<u32>,
    sub: Vec<u32>,
    /// `Σ_{j on} Wᵀ_j`, padded to whole blocks (the padding stays 0).
    pre: Vec<f32>,
}

/// Steps by changes at most between two sums from scratch of [`HiddenSample`]'s `pre`.
pub(super) const MAX_UPDATES: usize = 64;

impl HiddenSample {
    pub(super) fn new(m: &Model) -> HiddenSample {
        let nh = m.nh;
        let blocks = nh.div_ceil(8);
        HiddenSample {
            masks: vec![0; blocks],
            next: vec![0; blocks],
            current: false,
            updates: 0,
            add: Vec::with_capacity(nh + 8),
            sub: Vec::with_capacity(nh + 8),
            pre: vec![0.0; m.nv_pad],
        }
    }

    /// `Σ_{j on} Wᵀ_j` of the last sample (padded to whole blocks).
    #[inline(always)]
    pub(super) fn input(&self) -> &[f32] {
        &self.pre
    }

    /// Forgets the sample: the next [`draw`](Self::draw) sums `pre` from scratch (a new chain).
    #[inline(always)]
    pub(super) fn reset(&mut self) {
        self.current = false;
    }

    /// Whether unit `j` is on in the last sample.
    #[cfg(test)]
    pub(super) fn is_on(&self, j: usize) -> bool {
        self.masks[j / 8] >> (j % 8) & 1 == 1
    }

    /// Samples every unit with probability `p` (`u` is work space as long as `p`) and brings
    /// [`input`](Self::input) up to date.
    #[inline(always)]
    pub(super) fn draw(&mut self, m: &Model, p: &[f32], lane: &mut Lanes, u: &mut [f32]) {
        let pre = &mut self.pre;
        lane.fill(u);
        let n = p.len();
        let (mut on, mut changed) = (0u32, 0u32);
        for (c, (next, old)) in self.next.iter_mut().zip(&self.masks).enumerate() {
            let mask = if c * 8 + 8 <= n {
                mask8(&p[c * 8..c * 8 + 8], &u[c * 8..c * 8 + 8]) as u8
            } else {
                (c * 8..n).fold(0u8, |m, i| m | ((u[i] < p[i]) as u8) << (i - c * 8))
            };
            *next = mask;
            on += mask.count_ones();
            changed += (mask ^ old).count_ones();
        }
        let off = n as u32 - on;
        self.add.clear();
        self.sub.clear();
        let (mut n_add, mut n_sub) = (0, 0);
        if self.current && self.updates < MAX_UPDATES && changed < on.min(off) {
            for (c, (&new, &old)) in self.next.iter().zip(&self.masks).enumerate() {
                // SAFETY: capacities n + 8, and each count ≤ 8c before this block.
                unsafe {
                    n_add = push_bits(&mut self.add, n_add, (new & !old) as usize, (c * 8) as u32);
                    n_sub = push_bits(&mut self.sub, n_sub, (old & !new) as usize, (c * 8) as u32);
                }
            }
            // SAFETY: the first n_add and n_sub elements were written.
            unsafe {
                self.add.set_len(n_add);
                self.sub.set_len(n_sub);
            }
            update(pre, &m.wt, m.nv_pad, &self.add, &self.sub);
            self.updates += 1;
        } else {
            let take_on = on <= off;
            for (c, &new) in self.next.iter().enumerate() {
                let valid = if c * 8 + 8 <= n {
                    0xFF
                } else {
                    (1u8 << (n - c * 8)) - 1
                };
                let bits = if take_on { new } else { !new & valid };
                // SAFETY: as above.
                n_add = unsafe { push_bits(&mut self.add, n_add, bits as usize, (c * 8) as u32) };
            }
            // SAFETY: as above.
            unsafe { self.add.set_len(n_add) };
            if take_on {
                accumulate::<false>(pre, None, &m.wt, m.nv_pad, &self.add);
            } else {
                accumulate::<true>(pre, Some(&m.wt_sum), &m.wt, m.nv_pad, &self.add);
            }
            self.updates = 0;
        }
        std::mem::swap(&mut self.masks, &mut self.next);
        self.current = true;
    }
}

/// `out += Σ_{r in add} mat_r − Σ_{r in sub} mat_r`, [`BLOCK`] columns at a time (as
/// [`accumulate`]).
#[inline(always)]
fn update(out: &mut [f32], mat: &[f32], stride: usize, add: &[u32], sub: &[u32]) {
    for (b, out) in out.chunks_exact_mut(BLOCK).enumerate() {
        let mut acc = [0f32; BLOCK];
        acc.copy_from_slice(out);
        let row = |r: u32| {
            let start = r as usize * stride + b * BLOCK;
            debug_assert!(start + BLOCK <= mat.len());
            // SAFETY: as in `accumulate`: unit indices below the row count, blocks inside rows.
            unsafe { &*(mat.as_ptr().add(start) as *const [f32; BLOCK]) }
        };
        for &r in add {
            let row = row(r);
            for l in 0..BLOCK {
                acc[l] += row[l];
            }
        }
        for &r in sub {
            let row = row(r);
            for l in 0..BLOCK {
                acc[l] -= row[l];
            }
        }
        out.copy_from_slice(&acc);
    }
}

/// `x = bh + Σ_{i on} W_i` (`x` padded; its padding stays 0).
#[inline(always)]
pub(super) fn hidden_input(m: &Model, bh: &[f32], on_v: &[u32], x: &mut [f32]) {
    accumulate::<false>(x, None, &m.w, m.nh_pad, on_v);
    for (x, b) in x.iter_mut().zip(bh) {
        *x += b;
    }
}

/// `out = init ± Σ_{r in rows} mat_r` (`init` 0 when `None`, minus when `SUBTRACT`), `BLOCK`
/// columns at a time so that the sums stay in registers (no store and reload per row), each
/// column summed in the order of `rows`.
#[inline(always)]
pub(super) fn accumulate<const SUBTRACT: bool>(
    out: &mut [f32],
    init: Option<&[f32]>,
    mat: &[f32],
    stride: usize,
    rows: &[u32],
) {
    for (b, out) in out.chunks_exact_mut(BLOCK).enumerate() {
        let mut acc = [0f32; BLOCK];
        if let Some(init) = init {
            acc.copy_from_slice(&init[b * BLOCK..(b + 1) * BLOCK]);
        }
        for &r in rows {
            let start = r as usize * stride + b * BLOCK;
            debug_assert!(start + BLOCK <= mat.len());
            // SAFETY: `rows` are unit indices below the matrix's row count (from `sample_*` or
            // `set_on` over vectors of that length) and `b · BLOCK + BLOCK ≤ stride`, so the block
            // lies inside `mat`; unchecked, because the bounds checks cost a fifth of this loop.
            let row = unsafe { &*(mat.as_ptr().add(start) as *const [f32; BLOCK]) };
            for l in 0..BLOCK {
                if SUBTRACT {
                    acc[l] -= row[l];
                } else {
                    acc[l] += row[l];
                }
            }
        }
        out.copy_from_slice(&acc);
    }
}

/// `σ(z)` from `e = exp(−|z|)`: `1/(1+e)` for `z ≥ 0`, `e/(1+e)` below (no overflow).
#[inline(always)]
pub(super) fn sigmoid(z: f32) -> f32 {
    let e = exp_nonpositive(-z.abs());
    let r = 1.0 / (1.0 + e);
    // A select, not `max`/`min`, whose NaN rules keep the loops from vectorising.
    if z >= 0.0 {
        r
    } else {
        e * r
    }
}

/// `exp(t)` for `t ≤ 0`: `2ⁿ · exp(r)` with `n = round(t / ln 2)`, `|r| ≤ ln 2 / 2`, `exp(r)`
/// by its Taylor polynomial of degree 7 (relative error below 10⁻⁸ before rounding). Below
/// −87 the result is held at `exp(−87)` (≈ 1.6·10⁻³⁸), which no sum here can tell from 0.
#[inline(always)]
pub(super) fn exp_nonpositive(t: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    const LN2_HI: f32 = 0.693_145_75;
    const LN2_LO: f32 = 1.428_606_8e-6;
    const ROUND: f32 = 12_582_912.0;
    let t = if t < -87.0 { -87.0 } else { t };
    // Adding 1.5·2²³ rounds to the nearest integer n and leaves it in the low bits.
    let shifted = t * LOG2E + ROUND;
    let n = shifted - ROUND;
    let r = (t - n * LN2_HI) - n * LN2_LO;
    let p = 1.0
        + r * (1.0
            + r * (0.5
                + r * (1.0 / 6.0
                    + r * (1.0 / 24.0
                        + r * (1.0 / 120.0 + r * (1.0 / 720.0 + r * (1.0 / 5040.0)))))));
    // 2ⁿ from n's bits (n ≥ −126): exponent field n + 127.
    let n_bits = shifted.to_bits().wrapping_sub(ROUND.to_bits());
    let scale = f32::from_bits(n_bits.wrapping_add(127) << 23);
    p * scale
}

/// `Σ_h softplus(β (x_h + w_h))`, as `ais_cpu::softplus_gap` sums: `β (x + w)` where positive, plus one
/// logarithm of the products of `1 + exp(−|β (x + w)|)` per [`SOFTPLUS_BLOCK`] units.
#[inline(always)]
pub(super) fn softplus_sum(beta: f32, x: &[f32], w: &[f32]) -> f64 {
    let mut total = 0f64;
    // Each unit's terms first, in one pass that vectorises (summed lane by lane in place, the
    // eight lanes stayed scalar, and this was most of the bound's time); then the same sums.
    let (mut relu_of, mut exps) = ([0f32; SOFTPLUS_BLOCK], [0f32; SOFTPLUS_BLOCK]);
    for (bx, bw) in x.chunks(SOFTPLUS_BLOCK).zip(w.chunks(SOFTPLUS_BLOCK)) {
        let n = bx.len().min(bw.len());
        let (r, e) = (&mut relu_of[..n], &mut exps[..n]);
        for j in 0..n {
            let t = beta * (bx[j] + bw[j]);
            r[j] = if t > 0.0 { t } else { 0.0 };
            e[j] = exp_nonpositive(-t.abs());
        }
        let mut prod = [1f32; 8];
        let mut relu = [0f32; 8];
        let (mut rc, mut ec) = (r.chunks_exact(8), e.chunks_exact(8));
        for (cr, ce) in (&mut rc).zip(&mut ec) {
            for l in 0..8 {
                relu[l] += cr[l];
                prod[l] *= 1.0 + ce[l];
            }
        }
        let mut tail = 1f64;
        for (&rv, &ev) in rc.remainder().iter().zip(ec.remainder()) {
            total += rv as f64;
            tail *= 1.0 + ev as f64;
        }
        total += relu.iter().map(|&r| r as f64).sum::<f64>();
        total += (prod.iter().map(|&p| p as f64).product::<f64>() * tail).ln();
    }
    total
}

/// Units per product in [`softplus_sum`]: 32 factors in `[1, 2]` per lane, within `2^32`.
pub(super) const SOFTPLUS_BLOCK: usize = 256;

/// Whether the `k`-th step or temperature of a chain ends with note moves, for moves after
/// every `every`-th (0: never).
#[inline(always)]
pub fn moves_at(every: usize, k: usize) -> bool {
    every > 0 && k.is_multiple_of(every)
}

/// Proposals per call of [`move_notes`].
pub const MOVE_TRIES: usize = 12;

/// The share of [`move_notes`]'s proposals that are jumps, where it is given [`Jumps`].
pub const JUMP_SHARE: f32 = 0.25;

/// A few heavy vectors `S` of one RBM at one inverse temperature `β`, for [`move_notes`]'s jumps:
/// a chain standing on a vector of `S` is moved to one drawn from `p*_β` restricted to `S`
/// (which may be where it stands). That is a Gibbs update of "which vector of `S`" given "in
/// `S`", so it leaves `p*_β` invariant and is its own reverse, and `S` must not depend on the
/// chain. Where an RBM is sharp and its modes are in `S`, the chains cross between them at
/// once, however many notes differ.
pub(super) struct Jumps<'a> {
    /// The vectors of `S`, sorted sounding notes.
    pub(super) on: &'a [Vec<u32>],
    /// [`notes_hash`] of each.
    pub(super) hashes: &'a [u64],
    /// `x = v W + bh` of each, rows of `nh_pad`.
    pub(super) x: &'a [f32],
    pub(super) nh_pad: usize,
    /// `Σ_h softplus(β x_h)` of each.
    pub(super) hidden: &'a [f64],
    /// The cumulative distribution of `p*_β` over `S` (the last is 1).
    pub(super) cumulative: &'a [f32],
}

impl Jumps<'_> {
    /// The jump from `on_v` with the uniform `u`: `x`, `on_v` and `hidden_now` (`Σ_h softplus(β
    /// x_h)`) become those of the vector drawn; nothing changes where `on_v` is not in `S`.
    fn jump(&self, u: f32, x: &mut [f32], on_v: &mut Vec<u32>, hidden_now: &mut f64) {
        let h = notes_hash(on_v);
        let here = self
            .hashes
            .iter()
            .zip(self.on)
            .any(|(&g, on)| g == h && on == on_v);
        if !here {
            return;
        }
        let pick = self
            .cumulative
            .partition_point(|&c| c <= u)
            .min(self.on.len() - 1);
        on_v.clear();
        on_v.extend_from_slice(&self.on[pick]);
        let row = &self.x[pick * self.nh_pad..pick * self.nh_pad + x.len()];
        x.copy_from_slice(row);
        *hidden_now = self.hidden[pick];
    }
}

/// A 64-bit hash of a list of sounding notes.
pub(super) fn notes_hash(on: &[u32]) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64 ^ on.len() as u64;
    for &i in on {
        h = (h ^ i as u64)
            .wrapping_mul(0x0100_0000_01b3)
            .rotate_left(23);
        h = h.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
    h ^ (h >> 29)
}

/// Farthest a note moves in one proposal, in keys.
pub const MOVE_REACH: usize = 12;

/// The shift by `d` keys (up or down) of the lowest `moved` of the sounding notes `on` (sorted),
/// as a map from old key to new: all of them (a chord to another of the same shape), or all but
/// the highest, which they must stay below (the chord under a held tune); `None` where nothing
/// moves or a note would leave the `nv` keys or reach the highest. The notes keep their order,
/// and the shift back is the same map's inverse.
#[inline(always)]
pub(super) fn chord_shift(
    on: &[u32],
    moved: usize,
    d: usize,
    up: bool,
    nv: usize,
) -> Option<impl Fn(u32) -> u32> {
    if moved == 0 || moved > on.len() {
        return None;
    }
    let (low, high) = (on[0] as usize, on[moved - 1] as usize);
    let ceiling = if moved == on.len() {
        nv
    } else {
        on[on.len() - 1] as usize
    };
    if (up && high + d >= ceiling) || (!up && low < d) {
        return None;
    }
    let d = d as u32;
    Some(move |i: u32| if up { i + d } else { i - d })
}

/// Note moves ([`MOVE_TRIES`] Metropolis steps) in the RBM at inverse temperature `β` with
/// visible biases `bias(i)`. Each proposal moves notes by `±d` keys, `d` uniform in
/// `1 ..= MOVE_REACH`, and is one of:
///
/// - one sounding note, drawn uniformly (refused when its new key is already sounding), with
///   probability ½;
/// - all the sounding notes, shifted together (a chord to another chord of the same shape), ¼;
/// - all but the highest, shifted together and staying below it (the chord under a held tune), ¼.
///
/// A proposal that would leave the keyboard is refused; otherwise it is accepted with probability
/// `min(1, p*_β(v′)/p*_β(v))`, where `log p*_β(v) = Σ_{i on} bias(i) + Σ_h softplus(β x_h)`. Each
/// kind is its own inverse with the same probability (the notes keep their number, and a shift
/// below the highest leaves the highest where it was), so the step leaves `p*_β` invariant.
/// Given `jumps` (of this RBM at this `β`), a share [`JUMP_SHARE`] of the proposals are
/// [`Jumps`] instead, also invariant and their own reverse.
///
/// Why: a Gibbs sweep moves notes only through the hidden layer, which a sharp RBM (a tune over
/// held chords, Nottingham's) almost never does: its chains stay on the tune's note and the chord
/// they start at. Moving one note at a time reaches the other tune notes, but not the other
/// chords, whose notes would have to pass one by one through vectors the RBM all but forbids.
///
/// `x = v W + bh` (at least `H` long) and `on_v` (sorted) are updated; `without` is work space
/// of `H`.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub(super) fn move_notes(
    m: &Model,
    beta: f32,
    bias: impl Fn(usize) -> f64,
    x: &mut [f32],
    on_v: &mut Vec<u32>,
    lane: &mut Lanes,
    without: &mut [f32],
    jumps: Option<&Jumps>,
) {
    let nh = m.nh;
    let row = |k: usize| &m.w[k * m.nh_pad..k * m.nh_pad + nh];
    let (x, without) = (&mut x[..nh], &mut without[..nh]);
    let mut hidden_now = softplus_sum(beta, x, &m.zeros);
    let mut u = [0f32; 8];
    for _ in 0..MOVE_TRIES {
        let n_on = on_v.len();
        if n_on == 0 {
            return;
        }
        lane.fill(&mut u);
        if let Some(jumps) = jumps {
            if u[5] < JUMP_SHARE {
                jumps.jump(u[6], x, on_v, &mut hidden_now);
                continue;
            }
        }
        let d = 1 + ((u[1] * MOVE_REACH as f32) as usize).min(MOVE_REACH - 1);
        if u[4] >= 0.5 {
            // A shift of all the notes (u[4] ≥ ¾) or of all but the highest, by d keys.
            let moved = if u[4] >= 0.75 { n_on } else { n_on - 1 };
            let Some(to) = chord_shift(on_v, moved, d, u[2] >= 0.5, m.nv) else {
                continue;
            };
            without.copy_from_slice(x);
            let mut bias_gap = 0f64;
            for &i in &on_v[..moved] {
                for (o, w) in without.iter_mut().zip(row(i as usize)) {
                    *o -= w;
                }
                for (o, w) in without.iter_mut().zip(row(to(i) as usize)) {
                    *o += w;
                }
                bias_gap += bias(to(i) as usize) - bias(i as usize);
            }
            let hidden_then = softplus_sum(beta, without, &m.zeros);
            if (u[3] as f64) < (bias_gap + hidden_then - hidden_now).exp() {
                x.copy_from_slice(without);
                hidden_now = hidden_then;
                for i in &mut on_v[..moved] {
                    *i = to(*i);
                }
            }
            continue;
        }
        let pick = ((u[0] * n_on as f32) as usize).min(n_on - 1);
        let i = on_v[pick] as usize;
        let j = if u[2] < 0.5 { i.wrapping_sub(d) } else { i + d };
        if j >= m.nv || on_v.binary_search(&(j as u32)).is_ok() {
            continue;
        }
        for ((o, x), w) in without.iter_mut().zip(x.iter()).zip(row(i)) {
            *o = x - w;
        }
        let hidden_then = softplus_sum(beta, without, row(j));
        if (u[3] as f64) < (bias(j) - bias(i) + hidden_then - hidden_now).exp() {
            for ((x, o), w) in x.iter_mut().zip(without.iter()).zip(row(j)) {
                *x = o + w;
            }
            hidden_now = hidden_then;
            on_v.remove(pick);
            let at = on_v.partition_point(|&o| (o as usize) < j);
            on_v.insert(at, j as u32);
        }
    }
}

/// Eight xorshift32 generators (Marsaglia 2003) advanced together, so that filling a vector of
/// uniforms vectorises.
pub(super) struct Lanes {
    s: [u32; 8],
}

impl Lanes {
    pub(super) fn new(seed: u64) -> Lanes {
        let mut s = [0u32; 8];
        for (l, s) in s.iter_mut().enumerate() {
            let x = (rng::mix(seed.wrapping_add(l as u64)) >> 32) as u32;
            *s = if x == 0 { 0x6A09_E667 } else { x };
        }
        Lanes { s }
    }

    /// Uniforms in `[0, 1)`, multiples of 2⁻²⁴.
    #[inline(always)]
    pub(super) fn fill(&mut self, out: &mut [f32]) {
        let mut chunks = out.chunks_exact_mut(8);
        for chunk in &mut chunks {
            // A copy of known length, stored in place rather than by a call to `memcpy` (the
            // profile showed those calls; removing them made no measurable difference).
            chunk.copy_from_slice(&self.next());
        }
        let tail = chunks.into_remainder();
        if !tail.is_empty() {
            let n = tail.len();
            tail.copy_from_slice(&self.next()[..n]);
        }
    }

    /// The next uniform of every lane.
    #[inline(always)]
    fn next(&mut self) -> [f32; 8] {
        let mut next = [0f32; 8];
        for l in 0..8 {
            let mut x = self.s[l];
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            self.s[l] = x;
            next[l] = (x >> 8) as f32 * (1.0 / 16_777_216.0);
        }
        next
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sampling_lists_exactly_the_units_below_their_probability_in_order() {
        for n in [1, 7, 8, 9, 88, 150, 301] {
            let p: Vec<f32> = (0..n).map(|i| ((i * 37) % 101) as f32 / 100.0).collect();
            let mut lane = Lanes::new(n as u64);
            let mut u = vec![0f32; n];
            let mut on = Vec::new();
            sample_on(&p, &mut lane, &mut u, &mut on);
            let want: Vec<u32> = (0..n as u32)
                .filter(|&i| u[i as usize] < p[i as usize])
                .collect();
            assert_eq!(on, want, "n = {n}");
        }
    }

    #[test]
    fn a_hidden_sample_is_the_units_below_their_probability_and_its_input_the_sum_of_their_rows() {
        for (nv, nh) in [(5, 3), (88, 150), (56, 301)] {
            let w = Tensor::randn([nv as i64, nh as i64], (Kind::Float, tch::Device::Cpu));
            let m = Model::new(&w);
            let wt = Vec::<f32>::try_from(w.tr().contiguous().view([-1])).unwrap();
            let mut sample = HiddenSample::new(&m);
            let (mut lane, mut u) = (Lanes::new(7), vec![0f32; nh]);
            // Sure units (few change: sums by changes), then unsure ones (sums from scratch),
            // then sure again for longer than MAX_UPDATES steps.
            for step in 0..(2 * MAX_UPDATES + 40) {
                let sure = !(20..40).contains(&step);
                let p: Vec<f32> = (0..nh)
                    .map(|j| match (sure, (j * 7 + step / 30) % 3) {
                        (false, _) => 0.5,
                        (true, 0) => 0.02,
                        (true, 1) => 0.97,
                        _ => 0.3,
                    })
                    .collect();
                sample.draw(&m, &p, &mut lane, &mut u);
                let pre = sample.input();
                for j in 0..nh {
                    assert_eq!(sample.is_on(j), u[j] < p[j], "unit {j} at step {step}");
                }
                for i in 0..nv {
                    let want: f64 = (0..nh)
                        .filter(|&j| sample.is_on(j))
                        .map(|j| wt[j * nv + i] as f64)
                        .sum();
                    assert!(
                        (pre[i] as f64 - want).abs() < 1e-4 * (1.0 + want.abs()),
                        "visible {i} at step {step}: {} against {want}",
                        pre[i]
                    );
                }
                assert!(pre[nv..].iter().all(|&x| x == 0.0), "padding stays zero");
            }
        }
    }

    #[test]
    fn exp_is_within_two_ulps_of_the_true_value_down_to_minus_87() {
        let mut worst = 0f64;
        for i in 0..=870_000 {
            let t = -(i as f32) * 1e-4;
            let got = exp_nonpositive(t) as f64;
            let want = (t as f64).exp();
            worst = worst.max((got - want).abs() / want);
        }
        assert!(worst < 2.5e-7, "relative error {worst}");
        assert_eq!(exp_nonpositive(0.0), 1.0);
        assert!(exp_nonpositive(-1000.0) < 1e-37);
    }

    #[test]
    fn lanes_give_uniforms_in_the_unit_interval_with_the_right_mean() {
        let mut lanes = Lanes::new(3);
        let mut u = vec![0f32; 100_003];
        lanes.fill(&mut u);
        assert!(u.iter().all(|&x| (0.0..1.0).contains(&x)));
        let mean = u.iter().map(|&x| x as f64).sum::<f64>() / u.len() as f64;
        assert!((mean - 0.5).abs() < 0.005, "mean {mean}");
    }
}

#[cfg(test)]
mod softplus_sum_tests {
    use super::{exp_nonpositive, softplus_sum, SOFTPLUS_BLOCK};

    /// [`softplus_sum`] as it was first written, each unit's terms summed lane by lane as they
    /// were computed (a loop the compiler left scalar).
    fn lane_by_lane(beta: f32, x: &[f32], w: &[f32]) -> f64 {
        let mut total = 0f64;
        for (bx, bw) in x.chunks(SOFTPLUS_BLOCK).zip(w.chunks(SOFTPLUS_BLOCK)) {
            let (mut prod, mut relu) = ([1f32; 8], [0f32; 8]);
            let (mut xc, mut wc) = (bx.chunks_exact(8), bw.chunks_exact(8));
            for (cx, cw) in (&mut xc).zip(&mut wc) {
                for l in 0..8 {
                    let t = beta * (cx[l] + cw[l]);
                    relu[l] += if t > 0.0 { t } else { 0.0 };
                    prod[l] *= 1.0 + exp_nonpositive(-t.abs());
                }
            }
            let mut tail = 1f64;
            for (&xv, &wv) in xc.remainder().iter().zip(wc.remainder()) {
                let t = beta * (xv + wv);
                total += if t > 0.0 { t as f64 } else { 0.0 };
                tail *= 1.0 + exp_nonpositive(-t.abs()) as f64;
            }
            total += relu.iter().map(|&r| r as f64).sum::<f64>();
            total += (prod.iter().map(|&p| p as f64).product::<f64>() * tail).ln();
        }
        total
    }

    #[test]
    fn the_softplus_sum_in_one_pass_gives_the_bits_of_the_sum_lane_by_lane_and_the_definition() {
        let sp = |z: f64| z.max(0.0) + (-z.abs()).exp().ln_1p();
        // Whole blocks, a tail, fewer units than a lane, more than a block.
        for n in [150usize, 256, 7, 301, 600] {
            let x: Vec<f32> = (0..n)
                .map(|j| ((j * 37 % 101) as f32 - 50.0) * 0.173)
                .collect();
            let w: Vec<f32> = (0..n)
                .map(|j| ((j * 53 % 97) as f32 - 48.0) * 0.071)
                .collect();
            for beta in [1.0f32, 0.37, 0.0] {
                let got = softplus_sum(beta, &x, &w);
                let want = lane_by_lane(beta, &x, &w);
                assert_eq!(
                    got.to_bits(),
                    want.to_bits(),
                    "n {n}, β {beta}: {got} vs {want}"
                );
                let exact: f64 = (0..n).map(|j| sp((beta * (x[j] + w[j])) as f64)).sum();
                assert!(
                    (got - exact).abs() < 1e-4 * (1.0 + exact.abs()),
                    "{got} vs {exact}"
                );
            }
        }
    }
}
