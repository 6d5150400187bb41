//! The tanh recurrence over a whole chunk, forward and backward by hand, for the CPU.
//!
//! ```text
//! forward    s_0 = u_init,   s_{t+1} = tanh(x_t + s_t Wuu)              t = 0 … T−1
//! backward   given G_t = ∂L/∂s_t for t = 0 … T−1 (s_T does not reach the loss):
//!            c = 0;  for t = T−1 … 0:  a'_t = (c + G_{t+1}) ⊙ (1 − s_{t+1}²)   (G_T = 0)
//!                                      c    = a'_t Wuuᵀ
//!            ∂L/∂u_init = c + G_0,   ∂L/∂x_t = a'_t,   ∂L/∂Wuu = Σ_t s_tᵀ a'_t
//! ```
//!
//! Shapes, all time-major and contiguous: `x (T, B, R)`, `u_init (B, R)`, `Wuu (R, R)`,
//! states `s (T+1, B, R)`, `G (T, B, R)`, `a' (T, B, R)`. `x` holds the input projections
//! `v_t Wvu + bu`, computed for every frame at once outside.
//!
//! With one chunk per update the recurrence is 100 tiny products in a row, and libtorch spends
//! far longer dispatching them and recording them for autograd than computing them: here each
//! step is one call to a small matrix-product kernel (the `matrixmultiply` crate) and a loop.
//! Only the sequential part is done here; the sums over time (`Σ s_tᵀ a'_t`, the gradients of
//! `Wvu` and `bu`) are single large products left to libtorch.

/// The element types the recurrence runs in: `f32` (training) and `f64` (gradient checks).
pub trait Real: Copy + Default + Send + Sync + 'static {
    /// `C ← A B + β C` for row-major `A (m, k)`, `B (k, n)` (or `Bᵀ` when `b_transposed`, `B`
    /// then stored as `(n, k)`), `C (m, n)`.
    fn gemm(
        m: usize,
        k: usize,
        n: usize,
        a: &[Self],
        b: &[Self],
        b_transposed: bool,
        c: &mut [Self],
    );
    fn tanh(self) -> Self;
    /// `(g + c)·(1 − s²)`.
    fn tanh_grad(g: Self, c: Self, s: Self) -> Self;
    fn add(self, other: Self) -> Self;
}

/// Up to this many rows, [`Real::gemm`] runs as plain loops rather than through `matrixmultiply`.
const SMALL_BATCH: usize = 4;

macro_rules! real {
    ($t:ty, $gemm:path) => {
        impl Real for $t {
            fn gemm(
                m: usize,
                k: usize,
                n: usize,
                a: &[Self],
                b: &[Self],
                b_transposed: bool,
                c: &mut [Self],
            ) {
                assert!(a.len() >= m * k && b.len() >= k * n && c.len() >= m * n);
                if m <= SMALL_BATCH {
                    // A few rows: matrixmultiply would pack `B` on every call, which costs more
                    // than the product itself. Row updates (axpy) or dot products instead.
                    for (a, c) in a.chunks_exact(k).zip(c.chunks_exact_mut(n)).take(m) {
                        if b_transposed {
                            for (c, b) in c.iter_mut().zip(b.chunks_exact(k)) {
                                let mut lanes = [0.0 as $t; 8];
                                let (ac, bc) = (a.chunks_exact(8), b.chunks_exact(8));
                                let tail: $t = ac
                                    .remainder()
                                    .iter()
                                    .zip(bc.remainder())
                                    .map(|(x, y)| x * y)
                                    .sum();
                                for (x, y) in ac.zip(bc) {
                                    for l in 0..8 {
                                        lanes[l] += x[l] * y[l];
                                    }
                                }
                                *c += lanes.iter().sum::<$t>() + tail;
                            }
                        } else {
                            for (&x, b) in a.iter().zip(b.chunks_exact(n)) {
                                for (c, y) in c.iter_mut().zip(b) {
                                    *c += x * y;
                                }
                            }
                        }
                    }
                    return;
                }
                let (rsb, csb) = if b_transposed {
                    (1, k as isize)
                } else {
                    (n as isize, 1)
                };
                // SAFETY: the slices hold at least the elements the strides address (asserted
                // above); `c` does not alias `a` or `b` (distinct borrows).
                unsafe {
                    $gemm(
                        m,
                        k,
                        n,
                        1.0,
                        a.as_ptr(),
                        k as isize,
                        1,
                        b.as_ptr(),
                        rsb,
                        csb,
                        1.0,
                        c.as_mut_ptr(),
                        n as isize,
                        1,
                    )
                }
            }
            fn tanh(self) -> Self {
                <$t>::tanh(self)
            }
            fn tanh_grad(g: Self, c: Self, s: Self) -> Self {
                (g + c) * (1.0 - s * s)
            }
            fn add(self, other: Self) -> Self {
                self + other
            }
        }
    };
}
real!(f32, matrixmultiply::sgemm);
real!(f64, matrixmultiply::dgemm);

/// The states `s (T+1, B, R)`: `u_init`, then the state after each of the `T` frames.
pub fn forward<F: Real>(
    x: &[F],
    u_init: &[F],
    wuu: &[F],
    steps: usize,
    batch: usize,
    r: usize,
) -> Vec<F> {
    let n = batch * r;
    assert_eq!(x.len(), steps * n, "x must be (T, B, R)");
    assert_eq!(u_init.len(), n, "u_init must be (B, R)");
    assert_eq!(wuu.len(), r * r, "Wuu must be (R, R)");
    let mut s = vec![F::default(); (steps + 1) * n];
    s[..n].copy_from_slice(u_init);
    for t in 0..steps {
        let (done, rest) = s.split_at_mut((t + 1) * n);
        let (prev, next) = (&done[t * n..], &mut rest[..n]);
        next.copy_from_slice(&x[t * n..(t + 1) * n]);
        F::gemm(batch, r, r, prev, wuu, false, next);
        for e in next.iter_mut() {
            *e = e.tanh();
        }
    }
    s
}

/// `(a', ∂L/∂u_init)`: `a' (T, B, R)` is `∂L/∂x`, from the states of [`forward`] and
/// `G (T, B, R)`, the loss's gradient with respect to the states before each frame.
pub fn backward<F: Real>(
    s: &[F],
    g: &[F],
    wuu: &[F],
    steps: usize,
    batch: usize,
    r: usize,
) -> (Vec<F>, Vec<F>) {
    let n = batch * r;
    assert_eq!(s.len(), (steps + 1) * n, "states must be (T+1, B, R)");
    assert_eq!(g.len(), steps * n, "G must be (T, B, R)");
    let mut da = vec![F::default(); steps * n];
    let mut carry = vec![F::default(); n];
    let zeros = vec![F::default(); n];
    for t in (0..steps).rev() {
        let g_next = if t + 1 < steps {
            &g[(t + 1) * n..(t + 2) * n]
        } else {
            &zeros[..]
        };
        let s_next = &s[(t + 1) * n..(t + 2) * n];
        let a = &mut da[t * n..(t + 1) * n];
        for i in 0..n {
            a[i] = F::tanh_grad(g_next[i], carry[i], s_next[i]);
        }
        carry.fill(F::default());
        F::gemm(batch, r, r, a, wuu, true, &mut carry);
    }
    let du_init = carry.iter().zip(&g[..n]).map(|(c, g)| c.add(*g)).collect();
    (da, du_init)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_and_large_products_agree_with_the_definition() {
        let (k, n) = (13, 11);
        for m in [1, 3, SMALL_BATCH, SMALL_BATCH + 1, 9] {
            for transposed in [false, true] {
                let a: Vec<f64> = (0..m * k).map(|i| ((i * 7) % 5) as f64 - 2.0).collect();
                let b: Vec<f64> = (0..k * n)
                    .map(|i| ((i * 3) % 7) as f64 * 0.5 - 1.0)
                    .collect();
                let mut c: Vec<f64> = (0..m * n).map(|i| i as f64).collect();
                let mut want = c.clone();
                for r in 0..m {
                    for col in 0..n {
                        for i in 0..k {
                            let bv = if transposed {
                                b[col * k + i]
                            } else {
                                b[i * n + col]
                            };
                            want[r * n + col] += a[r * k + i] * bv;
                        }
                    }
                }
                f64::gemm(m, k, n, &a, &b, transposed, &mut c);
                assert_eq!(c, want, "m = {m}, transposed = {transposed}");
            }
        }
    }
}
