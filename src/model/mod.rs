//! The model: tensors in, tensors out — no file formats here.
//!
//! - [`ais`]: Annealed Importance Sampling of the partition functions of many RBMs at once;
//! - [`ais_cpu`]: the same, fused into one pass per chain on the CPU (float32);
//! - [`kernel`]: the building blocks of the fused CPU kernels (sparse row sums, sampling, `exp`);
//! - [`gibbs_cpu`]: CD-k's negative phase fused into one pass per frame on the CPU (float32);
//! - [`clamped`]: generation with some notes held fixed (harmonising, continuing, infilling);
//! - [`recurrence`]: the tanh recurrence over a chunk, forward and backward by hand (CPU);
//! - [`likelihood`]: held-out NLL (AIS and RAISE) and accuracy, and the NLL of continuations;
//! - [`rng`]: fast uniform bits for Bernoulli sampling (integer tensor ops, all threads);
//! - [`rbm`]: conditionals, Gibbs sampling and free energy of a binary RBM;
//! - [`rnn_rbm`]: the RNN-RBM of Boulanger-Lewandowski et al. (2012): an RNN whose state sets
//!   the biases of the RBM of the next frame.
pub mod ais;
pub mod ais_cpu;
pub mod bound;
pub mod clamped;
pub mod gibbs_cpu;
pub mod kernel;
pub mod likelihood;
pub mod rbm;
pub mod recurrence;
pub mod rng;
pub mod rnn_rbm;

pub use rnn_rbm::RnnRbm;
