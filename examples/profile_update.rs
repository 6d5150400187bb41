//! Where the time of one training update goes (paper layout, 150 hidden, 100 recurrent, CD-15,
//! one chunk of 100 frames): `cargo run --release --example profile_update -- [threads] [batch] [cuda]`
//! (each line is the mean of 50 calls after 3 warm-ups; on a shared machine compare lines of one run).
use rnn_rbm::model::rbm::gibbs_chain;
use rnn_rbm::model::RnnRbm;
use std::time::Instant;
use tch::{nn, Device, Kind, Tensor};

fn time(label: &str, n: usize, mut f: impl FnMut()) {
    for _ in 0..3 {
        f();
    }
    let t0 = Instant::now();
    for _ in 0..n {
        f();
    }
    println!(
        "{label:40} {:8.3} ms",
        t0.elapsed().as_secs_f64() * 1e3 / n as f64
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let threads: i32 = args.get(1).map_or(2, |s| s.parse().unwrap());
    let batch: i64 = args.get(2).map_or(1, |s| s.parse().unwrap());
    let device = if args.get(3).map(|s| s.as_str()) == Some("cuda") {
        Device::Cuda(0)
    } else {
        Device::Cpu
    };
    tch::set_num_threads(threads);
    rnn_rbm::model::rng::manual_seed(1);
    let vs = nn::VarStore::new(device);
    let m = RnnRbm::new(&vs.root(), 88, 150, 100);
    let v = Tensor::rand([batch, 100, 88], (Kind::Float, device))
        .lt(0.05)
        .to_kind(Kind::Float);
    let mask = Tensor::ones([batch, 100], (Kind::Float, device));
    let n = 50;
    time("rnn_states forward (no grad)", n, || {
        tch::no_grad(|| {
            let _ = m.rnn_states(&v, None);
        })
    });
    time("rnn_states forward + backward", n, || {
        let (u, _) = m.rnn_states(&v, None);
        u.sum(Kind::Float).backward();
    });
    let params = [
        m.wvu.tr(),
        m.wuu.tr(),
        m.bu.squeeze_dim(0),
        m.bu.squeeze_dim(0).zeros_like(),
    ];
    time("rnn_tanh forward (no grad)", n, || {
        tch::no_grad(|| {
            let _ = Tensor::rnn_tanh(
                &v,
                &m.initial_state(batch).unsqueeze(0).contiguous(),
                &params,
                true,
                1,
                0.0,
                true,
                false,
                true,
            );
        })
    });
    time("rnn_tanh forward + backward", n, || {
        let (out, _) = Tensor::rnn_tanh(
            &v,
            &m.initial_state(batch).unsqueeze(0).contiguous(),
            &params,
            true,
            1,
            0.0,
            true,
            false,
            true,
        );
        out.sum(Kind::Float).backward();
    });
    let (bv_t, bh_t) = tch::no_grad(|| m.frame_biases(&m.rnn_states(&v, None).0));
    time("gibbs chain k=15", n, || {
        let _ = gibbs_chain(&v, &m.w, &bv_t, &bh_t, 15);
    });
    if rnn_rbm::model::gibbs_cpu::applicable(&m.w) {
        let rows = batch * 100;
        let (bv_r, bh_r, v_r) = (
            bv_t.view([rows, 88]),
            bh_t.view([rows, 150]),
            v.view([rows, 88]),
        );
        time("negative phase, fused kernel, k=15", n, || {
            let _ = rnn_rbm::model::gibbs_cpu::negative_phase(&m.w, &bv_r, &bh_r, &v_r, None, 15);
        });
        // Sparse visible samples, as a trained model's: visible biases of -3.
        let bv_sparse = &bv_r - 3.0;
        tch::set_num_threads(1);
        for kt in [1, 2] {
            rnn_rbm::model::kernel::set_threads(kt);
            time(
                &format!("  sparse, libtorch 1 thread, kernel {kt}"),
                n,
                || {
                    let _ = rnn_rbm::model::gibbs_cpu::negative_phase(
                        &m.w, &bv_sparse, &bh_r, &v_r, None, 15,
                    );
                },
            );
        }
        time("  sparse, k=0 (fixed costs)", n, || {
            let _ =
                rnn_rbm::model::gibbs_cpu::negative_phase(&m.w, &bv_sparse, &bh_r, &v_r, None, 0);
        });
        rnn_rbm::model::kernel::set_threads(0);
        tch::set_num_threads(threads);
    }
    time("random bits for one half-step (hidden)", n, || {
        let _ = rnn_rbm::model::rng::random_bits(batch * 100 * 150, device);
    });
    time("free_energy_gap fwd+bwd (fixed neg)", n, || {
        let neg = v.shallow_clone();
        m.free_energy_gap(&v, &neg, &mask).backward();
    });
    time("cd_loss fwd + backward", n, || {
        m.cd_loss(&v, &mask, 15).backward();
    });
    let mut opt = rnn_rbm::optim::Optimizer::new(
        rnn_rbm::optim::OptimizerKind::Adam,
        0.001,
        10.0,
        m.named_parameters(),
    );
    time("whole update (cd_loss, backward, Adam)", n, || {
        m.cd_loss(&v, &mask, 15).backward();
        opt.step();
    });
    time("cd_backward (recurrence by hand)", n, || {
        let _ = m.cd_backward(&v, &mask, 15, 0, Default::default());
    });
    time("whole update with cd_backward + Adam", n, || {
        let _ = m.cd_backward(&v, &mask, 15, 0, Default::default());
        opt.step();
    });
}
