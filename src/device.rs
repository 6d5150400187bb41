//! `--device` and `--threads`.
use anyhow::{bail, Result};
use tch::Device;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum DeviceArg {
    /// CUDA when available, else the CPU.
    Auto,
    Cpu,
    Cuda,
}

/// The device to run on; also sets libtorch's CPU thread count when `threads` is given.
pub fn select(arg: DeviceArg, threads: Option<i32>) -> Result<Device> {
    if let Some(n) = threads {
        if n < 1 {
            bail!("--threads must be at least 1");
        }
        tch::set_num_threads(n);
    }
    Ok(match arg {
        DeviceArg::Cpu => Device::Cpu,
        DeviceArg::Auto => Device::cuda_if_available(),
        DeviceArg::Cuda if tch::Cuda::is_available() => Device::Cuda(0),
        DeviceArg::Cuda => bail!("--device cuda: no CUDA device is available to libtorch"),
    })
}
