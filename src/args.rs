//! Flags that several commands share, declared once and flattened into each command's flags.
use crate::config::ModelConfig;
use crate::device::{self, DeviceArg};
use crate::model::rnn_rbm::{default_sampler, GibbsStart};
use crate::threads::Threads;

/// How every visible vector is sampled: `generate`, `harmonize` and `infill`.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct SamplerArgs {
    /// Gibbs steps per visible vector [default: 200 for one frame per vector (the paper and
    /// eighths layouts), 25 for the seed layout, as the original]
    #[arg(long)]
    pub gibbs: Option<i64>,
    /// Where each vector's Gibbs chain starts: at silence, at a sample of the frame's visible
    /// biases, or at the previous vector [default: silence for one frame per vector, previous
    /// for the seed layout, as the original]
    #[arg(long, value_enum)]
    pub chain_start: Option<GibbsStart>,
}

impl SamplerArgs {
    /// Refuses fewer than one Gibbs step, before anything is loaded.
    pub fn check(&self) -> anyhow::Result<()> {
        if self.gibbs.is_some_and(|g| g < 1) {
            anyhow::bail!("--gibbs must be at least 1");
        }
        Ok(())
    }

    /// The chain start and Gibbs steps for a model of `config`: the flags, else
    /// [`default_sampler`]. Fewer than one Gibbs step is refused.
    pub fn resolve(&self, config: &ModelConfig) -> anyhow::Result<(GibbsStart, i64)> {
        self.check()?;
        let (start, gibbs) = default_sampler(config);
        Ok((
            self.chain_start.unwrap_or(start),
            self.gibbs.unwrap_or(gibbs),
        ))
    }
}

/// Where to compute: every command that runs the model.
#[derive(clap::Args, Debug, Clone)]
pub struct ComputeArgs {
    /// Where to compute: CUDA when available (auto), the CPU, or CUDA
    #[arg(long, value_enum, default_value = "auto")]
    pub device: DeviceArg,
    /// CPU threads for libtorch [default: every core, fewer while other processes keep cores
    /// busy, looked at again every epoch; give a number for a bit-for-bit repeatable run]
    #[arg(long)]
    pub threads: Option<i32>,
}

impl ComputeArgs {
    /// The device ([`device::select`]) and libtorch's thread count ([`Threads`]: `--threads`,
    /// else chosen by the load and adapted with [`Threads::adapt`]).
    pub fn select(&self) -> anyhow::Result<(tch::Device, Threads)> {
        let threads = Threads::new(self.threads)?;
        Ok((device::select(self.device)?, threads))
    }
}
