//! Uniform random bits for Bernoulli sampling, from integer tensor operations.
//!
//! libtorch's CPU `rand` fills a tensor serially, on one thread, and sampling the RBM's units
//! dominates training. Here every element of a state tensor is its own xorshift32 generator
//! (Marsaglia 2003: `x ^= x << 13; x ^= x >> 17; x ^= x << 5`, the right shift made logical by a
//! mask), advanced in place by element-wise integer operations, which libtorch runs on all
//! threads. The state is drawn from libtorch's own generator the first time it is needed after
//! [`manual_seed`], so a seed still fixes every sample.
use std::cell::RefCell;
use tch::{Device, Kind, Tensor};

thread_local! {
    static STATE: RefCell<Option<Tensor>> = const { RefCell::new(None) };
}

/// Seeds libtorch's generator and restarts the bit generators from it.
pub fn manual_seed(seed: i64) {
    tch::manual_seed(seed);
    STATE.with(|s| *s.borrow_mut() = None);
}

/// `n` fresh 31-bit non-negative random integers (`Kind::Int`) on `device`, as a flat tensor.
pub fn random_bits(n: i64, device: Device) -> Tensor {
    STATE.with(|cell| {
        let mut slot = cell.borrow_mut();
        let stale = match slot.as_ref() {
            Some(s) => s.size()[0] < n || s.device() != device,
            None => true,
        };
        if stale {
            let len = n
                .max(slot.as_ref().map_or(0, |s| s.size()[0] * 2))
                .max(1 << 16);
            // Any non-zero state is a valid xorshift32 state.
            *slot = Some(Tensor::randint_low(
                1,
                i32::MAX as i64,
                [len],
                (Kind::Int, device),
            ));
        }
        let s = slot.as_ref().expect("state").narrow(0, 0, n);
        let mut s_ = s.shallow_clone();
        let _ = s_.bitwise_xor_tensor_(&s.bitwise_left_shift_tensor_scalar(13));
        let _ =
            s_.bitwise_xor_tensor_(&s.bitwise_right_shift_tensor_scalar(17).bitwise_and(0x7FFF));
        let _ = s_.bitwise_xor_tensor_(&s.bitwise_left_shift_tensor_scalar(5));
        s.bitwise_and(0x7FFF_FFFF)
    })
}

/// Binary samples with `P(1) = p`, same shape and kind as `p`.
pub fn bernoulli(p: &Tensor) -> Tensor {
    let bits = random_bits(p.numel() as i64, p.device()).view(p.size().as_slice());
    (bits.to_kind(p.kind()) * (1.0 / 2147483648.0))
        .lt_tensor(p)
        .to_kind(p.kind())
}
