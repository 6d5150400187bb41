//! Uniform random bits for Bernoulli sampling, from integer tensor operations.
//!
//! libtorch's CPU `rand` fills a tensor serially, on one thread, and sampling the RBM's units
//! dominates training. Here every element of a state tensor is its own xorshift32 generator
//! (Marsaglia 2003: `x ^= x << 13; x ^= x >> 17; x ^= x << 5`, the right shift made logical by a
//! mask), advanced in place by element-wise integer operations, which libtorch runs on all
//! threads. The states are a SplitMix64 hash of the seed given to [`manual_seed`], of how many
//! times the state tensor has been (re)built since, and of the element's index — so a seed fixes
//! every sample, whatever other threads do with libtorch's own generator.
//!
//! On a GPU, [`uniform`] and [`bernoulli`] draw from libtorch's CUDA generator instead (seeded by
//! [`manual_seed`] as well): one kernel launch a draw instead of ten, where launches bound the
//! small tensors of a training update. [`random_bits`] itself gives the same bits on every device.
use std::cell::RefCell;
use tch::{Device, Tensor};

struct Generators {
    seed: u64,
    /// How many state tensors were built since the seed: a rebuilt (larger) state must not
    /// replay the streams of the one it replaces.
    builds: u64,
    state: Option<Tensor>,
}

thread_local! {
    static GENERATORS: RefCell<Generators> =
        const { RefCell::new(Generators { seed: 0, builds: 0, state: None }) };
}

/// Seeds libtorch's generator (parameter initialisation and the like) and restarts this
/// thread's bit generators from the same seed.
pub fn manual_seed(seed: i64) {
    tch::manual_seed(seed);
    GENERATORS.with(|g| {
        *g.borrow_mut() = Generators {
            seed: seed as u64,
            builds: 0,
            state: None,
        }
    });
}

/// SplitMix64's output function (Steele, Lea & Flood 2014): a bijective 64-bit mix.
fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A fresh 64-bit seed for a generator outside libtorch (the fused AIS kernel,
/// [`super::ais_cpu`]): a hash of the seed given to [`manual_seed`] and of how many streams and
/// state tensors were taken since, so a seed fixes every draw and no two calls share a stream.
pub fn stream_seed() -> u64 {
    GENERATORS.with(|cell| {
        let mut g = cell.borrow_mut();
        g.builds += 1;
        splitmix64(g.seed ^ splitmix64(g.builds ^ 0x5EED_0F_A15))
    })
}

/// SplitMix64's whole step: the output of `z` (for seeding many generators from one seed).
pub fn mix(z: u64) -> u64 {
    splitmix64(z)
}

/// `len` non-zero xorshift32 states (as `i32`) for build number `build` of seed `seed`.
fn initial_states(seed: u64, build: u64, len: i64, device: Device) -> Tensor {
    let base = splitmix64(seed ^ splitmix64(build));
    let states: Vec<i32> = (0..len as u64)
        .map(|i| {
            let x = (splitmix64(base.wrapping_add(i)) >> 32) as u32;
            // Zero is xorshift's one fixed point.
            (if x == 0 { 0x6A09_E667 } else { x }) as i32
        })
        .collect();
    Tensor::from_slice(&states).to_device(device)
}

/// `n` fresh 31-bit non-negative random integers (`Kind::Int`) on `device`, as a flat tensor.
pub fn random_bits(n: i64, device: Device) -> Tensor {
    GENERATORS.with(|cell| {
        let mut g = cell.borrow_mut();
        let stale = match g.state.as_ref() {
            Some(s) => s.size()[0] < n || s.device() != device,
            None => true,
        };
        if stale {
            let len = n
                .max(g.state.as_ref().map_or(0, |s| s.size()[0] * 2))
                .max(1 << 16);
            let state = initial_states(g.seed, g.builds, len, device);
            g.builds += 1;
            g.state = Some(state);
        }
        let s = g.state.as_ref().expect("state").narrow(0, 0, n);
        let mut s_ = s.shallow_clone();
        let _ = s_.bitwise_xor_tensor_(&s.bitwise_left_shift_tensor_scalar(13));
        let _ =
            s_.bitwise_xor_tensor_(&s.bitwise_right_shift_tensor_scalar(17).bitwise_and(0x7FFF));
        let _ = s_.bitwise_xor_tensor_(&s.bitwise_left_shift_tensor_scalar(5));
        s.bitwise_and(0x7FFF_FFFF)
    })
}

/// `n` uniform numbers in `[0, 1)` of `kind` on `device` (multiples of 2⁻³¹), as a flat tensor.
///
/// On a GPU they come from libtorch's own generator (seeded by [`manual_seed`] too): one kernel
/// launch where the bit generator takes ten, and launches, not arithmetic, bound the small
/// tensors of a training update there. The CPU keeps the bit generator ([`random_bits`], whose
/// bits are the same on every device).
pub fn uniform(n: i64, kind: tch::Kind, device: Device) -> Tensor {
    if device.is_cuda() {
        return Tensor::rand([n], (kind, device));
    }
    random_bits(n, device).to_kind(kind) * (1.0 / 2147483648.0)
}

/// Binary samples with `P(1) = p`, same shape and kind as `p`.
///
/// `ceil(p − u)` is 1 where `u < p` and 0 (or −0) otherwise, for `u` uniform in `[0, 1)`: three
/// vectorised float passes, where comparing and converting the boolean back took twice as long.
/// In float32 the largest 31-bit draws round up to `u = 1`, and a probability that underflowed
/// to 0 would give −1: the sample is clamped at 0 (a sharp model's chains hit this).
pub fn bernoulli(p: &Tensor) -> Tensor {
    let u = if p.device().is_cuda() {
        p.rand_like()
    } else {
        let bits = random_bits(p.numel() as i64, p.device()).view(p.size().as_slice());
        // An integer tensor times a float scalar is a float tensor (libtorch's default kind).
        (bits * (1.0 / 2147483648.0)).to_kind(p.kind())
    };
    let mut sample = p - u;
    let _ = sample.ceil_().clamp_min_(0.0);
    sample
}
