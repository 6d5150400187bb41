//! What the integration tests share: the device the model tests run on.
//!
//! `RNN_RBM_TEST_DEVICE=cuda cargo test` runs every device-aware test on the first CUDA device
//! (as `scripts/gpu-check.sh` does on a GPU machine); unset or `cpu`, they run on the CPU. Asking
//! for CUDA where libtorch sees none fails the test rather than quietly testing the CPU.
#![allow(dead_code)]
use tch::Device;

/// The device named by `RNN_RBM_TEST_DEVICE` (`cpu`, the default, or `cuda`).
pub fn dev() -> Device {
    match std::env::var("RNN_RBM_TEST_DEVICE").as_deref() {
        Err(_) | Ok("") | Ok("cpu") => Device::Cpu,
        Ok("cuda") => {
            assert!(
                tch::Cuda::is_available(),
                "RNN_RBM_TEST_DEVICE=cuda, but libtorch sees no CUDA device"
            );
            Device::Cuda(0)
        }
        Ok(other) => panic!("RNN_RBM_TEST_DEVICE={other}: expected cpu or cuda"),
    }
}
