//! A lower bound on each frame's `log Z` that needs no sampling, hence an NLL the true one
//! cannot be below.
//!
//! For any set `S` of distinct visible vectors,
//!
//! ```text
//! Z = Σ_v e^{−F(v)} ≥ Σ_{v∈S} e^{−F(v)},    −F(v) = v·bv + Σ_j softplus(x_j),  x = v W + bh
//! ```
//!
//! so `F(v_t) + log Σ_{v∈S} e^{−F(v)} ≤ −log p(v_t | v_<t)` for every frame, whatever `S` is.
//! Here `S` is the neighbourhood of a few anchors (the frame itself and the previous frame):
//! each anchor, every vector one unit away from it, every vector with one of its sounding notes
//! moved to another key, and every shift by up to an octave of all its notes, or of all but the
//! highest (a chord under a tune); then, twice, the neighbourhoods of the two heaviest vectors met
//! so far. Where a frame's conditional RBM is sharp, most of its mass lies
//! there, and the bound is close; where AIS's estimate of `log Z` falls below it, AIS has
//! certainly missed mass (docs/BENCHMARKS.md, "Nottingham").
//!
//! Shapes: `w (V, H)`, `bv (F, V)`, `bh (F, H)`, each anchor `(F, V)`; the result is `(F)`,
//! double. Float32 arithmetic on the CPU whatever the tensors' device, summed in double.
use super::kernel::{
    chord_shift, floats, hidden_input, notes_hash as hash, set_on, simd, softplus_sum, Model, Simd,
    MOVE_REACH,
};
use std::collections::HashSet;
use tch::{Kind, Tensor};

/// `log Σ_{v∈S} e^{−F(v)}` per frame, `S` the distinct vectors of the anchors' neighbourhoods.
pub fn log_mass_near(w: &Tensor, bv: &Tensor, bh: &Tensor, anchors: &[&Tensor]) -> Tensor {
    let m = Model::new(&w.to_device(tch::Device::Cpu));
    let frames = bv.size()[0] as usize;
    let (bv, bh) = (floats(bv), floats(bh));
    let anchors: Vec<Vec<f32>> = anchors.iter().map(|a| floats(a)).collect();
    let mut out = vec![0f64; frames];
    if frames > 0 {
        let threads = (tch::get_num_threads().max(1) as usize).min(frames);
        let (m, bv, bh, anchors) = (&m, &bv, &bh, &anchors);
        super::kernel::share_out(threads, out.iter_mut().enumerate(), |next| {
            let mut work = Work::new(m);
            while let Some((f, o)) = next() {
                let (nv, nh) = (m.nv, m.nh);
                let at: Vec<&[f32]> = anchors.iter().map(|a| &a[f * nv..(f + 1) * nv]).collect();
                *o = run_frame(
                    m,
                    &bv[f * nv..(f + 1) * nv],
                    &bh[f * nh..(f + 1) * nh],
                    &at,
                    &mut work,
                );
            }
        });
    }
    Tensor::from_slice(&out).to_kind(Kind::Double)
}

/// Rounds of expansion after the anchors'.
const ROUNDS: usize = 2;

/// Vectors expanded per round: the heaviest ones not expanded yet.
const PER_ROUND: usize = 2;

/// The heaviest vectors kept per round: room for those already expanded.
const KEEP: usize = PER_ROUND + 4;

/// Work space of [`heaviest`], reused across frames.
pub(super) struct Work {
    x: Vec<f32>,
    without: Vec<f32>,
    candidate: Vec<u32>,
    /// Hashes of the vectors counted so far. Two distinct vectors with one hash only leave
    /// one of them out, which keeps the sum a lower bound.
    counted: HashSet<u64>,
    expanded: HashSet<u64>,
    terms: Vec<f64>,
    /// The heaviest vectors met in this round: `(−F, sounding notes)`.
    best: Vec<(f64, Vec<u32>)>,
    /// The `top_k` heaviest vectors met in all rounds (none when 0).
    top: Vec<(f64, Vec<u32>)>,
    top_k: usize,
}

impl Work {
    pub(super) fn new(m: &Model) -> Work {
        Work {
            x: vec![0.0; m.nh_pad],
            without: vec![0.0; m.nh],
            candidate: Vec::new(),
            counted: HashSet::new(),
            expanded: HashSet::new(),
            terms: Vec::new(),
            best: Vec::new(),
            top: Vec::new(),
            top_k: 0,
        }
    }

    /// Counts `−F = term` of `self.candidate`, which has not been counted before.
    fn count(&mut self, term: f64) {
        self.terms.push(term);
        keep_heaviest(&mut self.best, KEEP, term, &self.candidate);
        if self.top_k > 0 {
            keep_heaviest(&mut self.top, self.top_k, term, &self.candidate);
        }
    }
}

/// The `k` heaviest distinct vectors (sorted sounding notes, heaviest first) of the same
/// neighbourhoods as the bound's, around `anchors` (each `V`) of one frame's RBM `bv (V)`,
/// `bh (H)`: where a sharp RBM's modes are, for [`super::kernel::Jumps`].
#[inline(always)]
pub(super) fn heaviest(
    m: &Model,
    bv: &[f32],
    bh: &[f32],
    anchors: &[&[f32]],
    k: usize,
    s: &mut Work,
) -> Vec<Vec<u32>> {
    s.top.clear();
    s.top_k = k;
    explore(m, bv, bh, anchors, s);
    s.top_k = 0;
    s.top.sort_by(|a, b| b.0.total_cmp(&a.0));
    s.top.drain(..).map(|(_, on)| on).collect()
}

/// [`frame`] in the widest build the CPU runs: AVX-512, AVX2, or plain SSE2 (the same operations
/// in the same order in each, so the same bits).
fn run_frame(m: &Model, bv: &[f32], bh: &[f32], anchors: &[&[f32]], s: &mut Work) -> f64 {
    match simd() {
        // SAFETY: `simd` found AVX-512 F, VL, BW and DQ on this CPU.
        #[cfg(target_arch = "x86_64")]
        Simd::Avx512 => unsafe { frame_avx512(m, bv, bh, anchors, s) },
        // SAFETY: `simd` found AVX2 on this CPU.
        #[cfg(target_arch = "x86_64")]
        Simd::Avx2 => unsafe { frame_avx2(m, bv, bh, anchors, s) },
        _ => frame(m, bv, bh, anchors, s),
    }
}

/// [`frame`] compiled for AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn frame_avx2(m: &Model, bv: &[f32], bh: &[f32], anchors: &[&[f32]], s: &mut Work) -> f64 {
    frame(m, bv, bh, anchors, s)
}

/// [`frame`] compiled for AVX-512.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512vl,avx512bw,avx512dq")]
unsafe fn frame_avx512(m: &Model, bv: &[f32], bh: &[f32], anchors: &[&[f32]], s: &mut Work) -> f64 {
    frame(m, bv, bh, anchors, s)
}

/// One frame: `−F` of every vector of the neighbourhoods of the anchors, then of the heaviest
/// vectors found ([`ROUNDS`] × [`PER_ROUND`]), each counted once; log-summed.
#[inline(always)]
fn frame(m: &Model, bv: &[f32], bh: &[f32], anchors: &[&[f32]], s: &mut Work) -> f64 {
    explore(m, bv, bh, anchors, s);
    let top = s.terms.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    top + s.terms.iter().map(|t| (t - top).exp()).sum::<f64>().ln()
}

/// `s.terms`: `−F` of every vector of the neighbourhoods of the anchors and of the heaviest
/// vectors found ([`ROUNDS`] × [`PER_ROUND`]), each counted once.
#[inline(always)]
fn explore(m: &Model, bv: &[f32], bh: &[f32], anchors: &[&[f32]], s: &mut Work) {
    s.terms.clear();
    s.counted.clear();
    s.expanded.clear();
    let mut queue: Vec<Vec<u32>> = anchors
        .iter()
        .map(|a| {
            let mut on = Vec::new();
            set_on(a, &mut on);
            on
        })
        .collect();
    for round in 0..=ROUNDS {
        s.best.clear();
        for on in &queue {
            if s.expanded.insert(hash(on)) {
                expand(m, bv, bh, on, s);
            }
        }
        if round == ROUNDS {
            break;
        }
        let mut best = std::mem::take(&mut s.best);
        best.sort_by(|a, b| b.0.total_cmp(&a.0));
        queue = best
            .into_iter()
            .map(|(_, on)| on)
            .filter(|on| !s.expanded.contains(&hash(on)))
            .take(PER_ROUND)
            .collect();
    }
}

/// Counts the vector `on` (sorted sounding notes), the vectors one unit away, those with one
/// note moved and the shifts of its chord, where not counted yet; keeps the heaviest in `s.best`.
#[inline(always)]
fn expand(m: &Model, bv: &[f32], bh: &[f32], on: &[u32], s: &mut Work) {
    let (nv, nh) = (m.nv, m.nh);
    let row = |k: usize| &m.w[k * m.nh_pad..k * m.nh_pad + nh];
    let bias_on: f64 = on.iter().map(|&i| bv[i as usize] as f64).sum();
    hidden_input(m, bh, on, &mut s.x);
    // Note `remove` silenced, or none.
    for remove in std::iter::once(None).chain(on.iter().map(|&i| Some(i as usize))) {
        match remove {
            Some(i) => {
                for ((o, x), w) in s.without.iter_mut().zip(&s.x[..nh]).zip(row(i)) {
                    *o = x - w;
                }
            }
            None => s.without.copy_from_slice(&s.x[..nh]),
        }
        let removed = remove.map_or(0.0, |i| bv[i] as f64);
        // Plus note `add`, or none.
        for add in std::iter::once(None).chain((0..nv).map(Some)) {
            if add.is_some_and(|j| on.binary_search(&(j as u32)).is_ok()) {
                continue;
            }
            s.candidate.clear();
            s.candidate
                .extend(on.iter().copied().filter(|&i| Some(i as usize) != remove));
            if let Some(j) = add {
                let at = s.candidate.partition_point(|&o| (o as usize) < j);
                s.candidate.insert(at, j as u32);
            }
            if !s.counted.insert(hash(&s.candidate)) {
                continue;
            }
            let (added, w_add) = match add {
                None => (0.0, &m.zeros[..]),
                Some(j) => (bv[j] as f64, row(j)),
            };
            let term = bias_on - removed + added + softplus_sum(1.0, &s.without, w_add);
            s.count(term);
        }
    }
    // All the notes, or all but the highest (staying below it), shifted by up to MOVE_REACH keys:
    // the chord to another of the same shape, as the note moves propose.
    for moved in [on.len(), on.len().saturating_sub(1)] {
        for d in 1..=MOVE_REACH {
            for up in [false, true] {
                let Some(to) = chord_shift(on, moved, d, up, nv) else {
                    continue;
                };
                s.candidate.clear();
                s.candidate.extend(on[..moved].iter().map(|&i| to(i)));
                s.candidate.extend_from_slice(&on[moved..]);
                if !s.counted.insert(hash(&s.candidate)) {
                    continue;
                }
                hidden_input(m, bh, &s.candidate, &mut s.x);
                let bias: f64 = s.candidate.iter().map(|&i| bv[i as usize] as f64).sum();
                let term = bias + softplus_sum(1.0, &s.x[..nh], &m.zeros);
                s.count(term);
            }
        }
    }
}

/// Keeps `(term, on)` among the `limit` heaviest of `best`.
fn keep_heaviest(best: &mut Vec<(f64, Vec<u32>)>, limit: usize, term: f64, on: &[u32]) {
    if best.len() < limit {
        best.push((term, on.to_vec()));
        return;
    }
    let lightest = (0..best.len())
        .min_by(|&a, &b| best[a].0.total_cmp(&best[b].0))
        .expect("limit > 0");
    if term > best[lightest].0 {
        best[lightest] = (term, on.to_vec());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `−F(v)` of sorted sounding notes `on`, summed directly in double precision.
    fn minus_free_energy(w: &[f32], nh: usize, bv: &[f32], bh: &[f32], on: &[u32]) -> f64 {
        let bias: f64 = on.iter().map(|&i| bv[i as usize] as f64).sum();
        let hidden: f64 = (0..nh)
            .map(|j| {
                let x = bh[j] as f64
                    + on.iter()
                        .map(|&i| w[i as usize * nh + j] as f64)
                        .sum::<f64>();
                x.max(0.0) + (-x.abs()).exp().ln_1p()
            })
            .sum();
        bias + hidden
    }

    #[test]
    fn the_heaviest_vectors_are_distinct_heaviest_first_and_heavier_than_the_anchor_s_neighbours() {
        let (nv, nh) = (12usize, 6usize);
        let w: Vec<f32> = (0..nv * nh)
            .map(|k| ((k * 37 % 23) as f32 - 11.0) / 3.0)
            .collect();
        let bv: Vec<f32> = (0..nv).map(|i| -1.0 - (i % 3) as f32).collect();
        let bh: Vec<f32> = (0..nh).map(|j| (j % 2) as f32 - 1.0).collect();
        let model = Model::new(&Tensor::from_slice(&w).view([nv as i64, nh as i64]));
        let mut anchor = vec![0f32; nv];
        anchor[2] = 1.0;
        anchor[7] = 1.0;
        let top = heaviest(&model, &bv, &bh, &[&anchor], 10, &mut Work::new(&model));
        assert_eq!(top.len(), 10);
        let weights: Vec<f64> = top
            .iter()
            .map(|on| minus_free_energy(&w, nh, &bv, &bh, on))
            .collect();
        for pair in weights.windows(2) {
            assert!(pair[0] >= pair[1] - 1e-4, "not heaviest first: {weights:?}");
        }
        let distinct: HashSet<&Vec<u32>> = top.iter().collect();
        assert_eq!(distinct.len(), top.len(), "{top:?}");
        for on in &top {
            assert!(on.windows(2).all(|p| p[0] < p[1]), "not sorted: {on:?}");
        }
        // Every vector one note away from the anchor that is left out is no heavier than the
        // lightest kept.
        let lightest = weights[weights.len() - 1];
        for i in 0..nv as u32 {
            let mut on: Vec<u32> = vec![2, 7];
            match on.binary_search(&i) {
                Ok(at) => {
                    on.remove(at);
                }
                Err(at) => on.insert(at, i),
            }
            if !top.contains(&on) {
                assert!(
                    minus_free_energy(&w, nh, &bv, &bh, &on) <= lightest + 1e-4,
                    "{on:?} left out"
                );
            }
        }
    }
}
