//! The overlapping area of two histograms on the same bins.
//!
//! For a feature's values `a` (generated) and `b` (reference), the bins are `bins` equal
//! intervals spanning the *reference's* range `[lo, hi]` (its smallest and largest value; the
//! last bin is closed), plus one bin below and one above it that only generated values can
//! fall in. The bins therefore depend on the reference alone, so the figures of different
//! generated sets against one reference use the same bins and can be compared with each other,
//! and a generated set that strays far from the reference does not widen them. With `p_k` and
//! `q_k` the shares of `a` and `b` in bin `k`,
//!
//! `overlap = Σ_k min(p_k, q_k)`,
//!
//! which is 1 for identical histograms and 0 when no bin holds values of both. When `hi = lo`
//! the reference is one value, and the overlap is the share of `a` equal to it.

/// See the module documentation; `None` when either sample is empty or `bins` is 0.
pub fn histogram_overlap(a: &[f64], b: &[f64], bins: usize) -> Option<f64> {
    if a.is_empty() || b.is_empty() || bins == 0 {
        return None;
    }
    let lo = b.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = b.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let (p, q) = (counts(a, lo, hi, bins), counts(b, lo, hi, bins));
    // Σ min(p_k / |a|, q_k / |b|) over the common denominator |a|·|b|: exactly 1 when the
    // histograms are the same.
    let (na, nb) = (a.len() as u64, b.len() as u64);
    let shared: u64 = p.iter().zip(&q).map(|(x, y)| (x * nb).min(y * na)).sum();
    Some(shared as f64 / (na * nb) as f64)
}

/// How many `values` fall in each bin of `[lo, hi]`; values outside are not counted.
fn counts(values: &[f64], lo: f64, hi: f64, bins: usize) -> Vec<u64> {
    let mut counts = vec![0; bins];
    for &x in values.iter().filter(|&&x| lo <= x && x <= hi) {
        let k = match hi > lo {
            true => ((x - lo) / (hi - lo) * bins as f64).floor() as usize,
            false => 0,
        };
        counts[k.min(bins - 1)] += 1;
    }
    counts
}
