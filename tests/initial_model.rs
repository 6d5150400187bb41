//! A seed fixes the initial model whatever the device. The weights come from libtorch's global
//! generator, which tests running side by side in one process would disturb: this file holds one
//! test, so it runs alone in its process.
mod common;
use common::dev;
#[test]
fn a_seed_gives_the_same_initial_model_on_the_test_device_as_on_the_cpu() {
    let config = rnn_rbm::config::ModelConfig::for_layout(rnn_rbm::config::Layout::Paper, None);
    let (_a, here) = rnn_rbm::train::new_model(&config, dev(), 99);
    let (_b, cpu) = rnn_rbm::train::new_model(&config, tch::Device::Cpu, 99);
    for ((name, a), (_, b)) in here.named_parameters().iter().zip(cpu.named_parameters()) {
        assert_eq!(a.device(), dev(), "{name}");
        assert!(a.to_device(tch::Device::Cpu).equal(&b), "{name} differs");
    }
    let (_c, other) = rnn_rbm::train::new_model(&config, tch::Device::Cpu, 100);
    assert!(!other.w.equal(&cpu.w), "another seed, other weights");
}
