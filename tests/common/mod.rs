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

/// The sidecar of a committed model, `parameter_checkpoints/<dir>/best.json`.
pub fn committed_sidecar(dir: &str) -> serde_json::Value {
    let path = format!("parameter_checkpoints/{dir}/best.json");
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

/// `rnn-rbm evaluate CHECKPOINT` (8 chains × 1000 temperatures, seed 1) on every `every`-th valid
/// piece of the gzipped piano-roll file `data_gz`, written as a JSON file of its own, which must
/// hold `pieces` pieces; returns what `evaluate` prints.
pub fn evaluate_valid_pieces(
    checkpoint: &str,
    data_gz: &str,
    every: usize,
    pieces: usize,
) -> serde_json::Value {
    evaluate_valid_pieces_with(checkpoint, data_gz, every, pieces, &[])
}

/// [`evaluate_valid_pieces`] with more flags for `evaluate` (Nottingham's `--moves 1`).
pub fn evaluate_valid_pieces_with(
    checkpoint: &str,
    data_gz: &str,
    every: usize,
    pieces: usize,
    extra: &[&str],
) -> serde_json::Value {
    use std::io::Read;
    let mut raw = Vec::new();
    flate2::read::MultiGzDecoder::new(std::fs::File::open(data_gz).unwrap())
        .read_to_end(&mut raw)
        .unwrap();
    let all: serde_json::Value = serde_json::from_slice(&raw).unwrap();
    let valid: Vec<_> = all["valid"]
        .as_array()
        .unwrap()
        .iter()
        .step_by(every)
        .cloned()
        .collect();
    assert_eq!(valid.len(), pieces);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("valid.json");
    std::fs::write(&path, serde_json::json!({ "valid": valid }).to_string()).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_rnn-rbm"))
        .args(["evaluate", checkpoint, "--data"])
        .arg(&path)
        .args([
            "--split",
            "valid",
            "--chains",
            "8",
            "--temperatures",
            "1000",
        ])
        .args(["--seed", "1"])
        .args(extra)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}
