//! CD-k's negative phase: the fused CPU kernel (`model::gibbs_cpu`) against exact distributions
//! of RBMs small enough to enumerate, against the tensor formulas, and inside a whole update.
use rnn_rbm::model::rbm::{free_energy, hidden_probs, NegativePhase};
use rnn_rbm::model::{gibbs_cpu, kernel, rng, RnnRbm};
use tch::{nn, Kind, Tensor};

fn rbm(seed: i64, v: i64, h: i64, rows: i64) -> (Tensor, Tensor, Tensor) {
    rng::manual_seed(seed);
    let w = Tensor::randn([v, h], (Kind::Float, tch::Device::Cpu)) * 0.8;
    let bv = Tensor::randn([rows, v], (Kind::Float, tch::Device::Cpu)) - 1.0;
    let bh = Tensor::randn([rows, h], (Kind::Float, tch::Device::Cpu)) * 0.5 - 0.5;
    (w, bv, bh)
}

fn binary(rows: i64, v: i64, p: f64, seed: i64) -> Tensor {
    rng::manual_seed(seed);
    Tensor::rand([rows, v], (Kind::Float, tch::Device::Cpu))
        .lt(p)
        .to_kind(Kind::Float)
}

/// Every binary vector of `n` units, `(2^n, n)` in double precision.
fn all_states(n: i64) -> Tensor {
    let codes = Tensor::arange(1i64 << n, (Kind::Int64, tch::Device::Cpu));
    let bits = Tensor::arange(n, (Kind::Int64, tch::Device::Cpu));
    codes
        .unsqueeze(1)
        .bitwise_right_shift(&bits.unsqueeze(0))
        .bitwise_and(1)
        .to_kind(Kind::Double)
}

fn max_abs(t: &Tensor) -> f64 {
    t.abs().max().double_value(&[])
}

#[test]
fn the_kernel_reports_the_hidden_probabilities_and_free_energy_gap_of_its_own_samples() {
    let (w, bv, bh) = rbm(1, 40, 37, 64);
    let v = binary(64, 40, 0.1, 2);
    let v0 = binary(64, 40, 0.3, 3);
    for start in [None, Some(&v0)] {
        let phase = gibbs_cpu::negative_phase(&w, &bv, &bh, &v, start, 5);
        let neg = &phase.neg;
        assert_eq!(neg.size(), [64, 40]);
        assert!(neg.eq(0.0).logical_or(&neg.eq(1.0)).all().int64_value(&[]) == 1);
        let d = |a: &Tensor, b: &Tensor| max_abs(&(a - b));
        assert!(d(&phase.data_hidden, &hidden_probs(&v, &w, &bh)) < 1e-6);
        assert!(d(&phase.neg_hidden, &hidden_probs(neg, &w, &bh)) < 1e-6);
        let gap = free_energy(&v, &w, &bv, &bh) - free_energy(neg, &w, &bv, &bh);
        assert!(
            d(&phase.gap, &gap) < 1e-4,
            "gap off by {}",
            d(&phase.gap, &gap)
        );
    }
}

/// `E[ṽ]` after one Gibbs step from `v`: `Σ_h p(h | v) σ(bv + W h)`, enumerating `h`.
fn one_step_mean(w: &Tensor, bv: &Tensor, bh: &Tensor, v: &Tensor) -> Tensor {
    let (w, bv, bh, v) = (
        w.to_kind(Kind::Double),
        bv.to_kind(Kind::Double),
        bh.to_kind(Kind::Double),
        v.to_kind(Kind::Double),
    );
    let h = all_states(w.size()[1]);
    let p_on = (v.matmul(&w) + &bh).sigmoid(); // (H)
    let (q_on, q_off): (Tensor, Tensor) = (p_on.log(), (-&p_on + 1.0).log());
    let p_h = (&h * q_on + (-&h + 1.0) * q_off)
        .sum_dim_intlist(1, false, Kind::Double)
        .exp(); // (2^H)
    (p_h.unsqueeze(1) * (h.matmul(&w.tr()) + &bv).sigmoid()).sum_dim_intlist(0, false, Kind::Double)
}

/// The visible marginals `p(v_i = 1)` of an RBM, enumerating `v`.
fn marginals(w: &Tensor, bv: &Tensor, bh: &Tensor) -> Tensor {
    let (w, bv, bh) = (
        w.to_kind(Kind::Double),
        bv.to_kind(Kind::Double),
        bh.to_kind(Kind::Double),
    );
    let v = all_states(w.size()[0]);
    let p = (-free_energy(&v, &w, &bv, &bh)).softmax(0, Kind::Double);
    (p.unsqueeze(1) * v).sum_dim_intlist(0, false, Kind::Double)
}

/// Checks that the mean of `samples (N, V)` is within 4.5 standard errors of `p (V)`.
fn assert_mean(samples: &Tensor, p: &Tensor, what: &str) {
    let n = samples.size()[0] as f64;
    let mean = samples
        .to_kind(Kind::Double)
        .mean_dim(0, false, Kind::Double);
    let q: Tensor = -p + 1.0;
    let se = (p * q / n).sqrt() + 1e-9;
    let z = max_abs(&((mean - p) / se));
    assert!(
        z < 4.5,
        "{what}: a unit's mean is {z:.1} standard errors from exact"
    );
}

#[test]
fn one_fused_gibbs_step_has_the_exact_expected_sample() {
    let (w, bv, bh) = rbm(4, 6, 10, 1);
    let rows = 40_000;
    let v = binary(1, 6, 0.5, 5).repeat([rows, 1]);
    let (bv_r, bh_r) = (bv.repeat([rows, 1]), bh.repeat([rows, 1]));
    let phase = gibbs_cpu::negative_phase(&w, &bv_r, &bh_r, &v, None, 1);
    let exact = one_step_mean(&w, &bv.get(0), &bh.get(0), &v.get(0));
    assert_mean(&phase.neg, &exact, "one step");
}

#[test]
fn long_fused_chains_sample_the_rbms_marginals_from_any_start() {
    let (w, bv, bh) = rbm(6, 6, 10, 1);
    let rows = 20_000;
    let (bv_r, bh_r) = (bv.repeat([rows, 1]), bh.repeat([rows, 1]));
    let v = binary(rows, 6, 0.5, 7);
    let exact = marginals(&w, &bv.get(0), &bh.get(0));
    let silence = v.zeros_like();
    for (start, what) in [(None, "from data"), (Some(&silence), "from silence")] {
        let phase = gibbs_cpu::negative_phase(&w, &bv_r, &bh_r, &v, start, 60);
        assert_mean(&phase.neg, &exact, what);
    }
}

#[test]
fn the_kernels_samples_depend_on_the_seed_not_on_the_thread_count() {
    let (w, bv, bh) = rbm(8, 30, 20, 101);
    let v = binary(101, 30, 0.2, 9);
    let run = |threads: usize, seed: i64| {
        kernel::set_threads(threads);
        rng::manual_seed(seed);
        let neg = gibbs_cpu::negative_phase(&w, &bv, &bh, &v, None, 7).neg;
        kernel::set_threads(0);
        neg
    };
    let one = run(1, 11);
    assert!(one.equal(&run(3, 11)));
    assert!(!one.equal(&run(1, 12)));
}

#[test]
fn the_kernel_and_the_tensor_chain_sample_the_same_distribution() {
    let (w, bv, bh) = rbm(10, 6, 10, 1);
    let rows = 40_000;
    let (bv_r, bh_r) = (bv.repeat([rows, 1]), bh.repeat([rows, 1]));
    let v = binary(1, 6, 0.5, 12).repeat([rows, 1]);
    let fused = gibbs_cpu::negative_phase(&w, &bv_r, &bh_r, &v, None, 2).neg;
    let tensors = NegativePhase::by_tensors(&w, &bv_r, &bh_r, &v, None, 2, 0).neg;
    let p = tensors
        .to_kind(Kind::Double)
        .mean_dim(0, false, Kind::Double);
    // Two samples of the same size: the difference of means has twice the variance.
    let n = rows as f64;
    let q: Tensor = -&p + 1.0;
    let se = (&p * q * 2.0 / n).sqrt() + 1e-9;
    let mean = fused.to_kind(Kind::Double).mean_dim(0, false, Kind::Double);
    let z = max_abs(&((mean - &p) / se));
    assert!(z < 4.5, "{z:.1} standard errors apart");
}

#[test]
fn a_float32_update_by_hand_gives_autograds_gradient_for_the_kernels_negative_samples() {
    let vs = nn::VarStore::new(tch::Device::Cpu);
    rng::manual_seed(21);
    let m = RnnRbm::new(&vs.root(), 12, 9, 5);
    // Weights large enough that the gradients are far from zero.
    tch::no_grad(|| {
        for (_, mut p) in m.named_parameters() {
            let _ = p.copy_(&(Tensor::randn_like(&p) * 0.3));
        }
    });
    rng::manual_seed(22);
    let v = Tensor::rand([3, 8, 12], (Kind::Float, tch::Device::Cpu))
        .lt(0.3)
        .to_kind(Kind::Float);
    let mask = Tensor::ones([3, 8], (Kind::Float, tch::Device::Cpu));
    let _ = mask.get(2).narrow(0, 6, 2).fill_(0.0);
    // The update by hand, from seed 77.
    rng::manual_seed(77);
    let loss = m
        .cd_backward(&v, &mask, 4, 0, Default::default())
        .double_value(&[]);
    let hand: Vec<Tensor> = m
        .named_parameters()
        .iter()
        .map(|(_, p)| {
            let g = p.grad().copy();
            let _ = p.grad().zero_();
            g
        })
        .collect();
    // The same negative samples (same seed, same call), then autograd on the free-energy gap.
    rng::manual_seed(77);
    let (bv_t, bh_t) = tch::no_grad(|| m.frame_biases(&m.rnn_states(&v, None).0));
    let rows = 3 * 8;
    let neg = gibbs_cpu::negative_phase(
        &m.w,
        &bv_t.reshape([rows, 12]),
        &bh_t.reshape([rows, 9]),
        &v.reshape([rows, 12]),
        None,
        4,
    )
    .neg
    .view([3, 8, 12]);
    let auto_loss = m.free_energy_gap(&v, &neg, &mask);
    auto_loss.backward();
    assert!((loss - auto_loss.double_value(&[])).abs() < 1e-4);
    for ((name, p), h) in m.named_parameters().iter().zip(&hand) {
        let a = p.grad();
        let scale = max_abs(&a);
        assert!(scale > 1e-4, "{name}: no gradient");
        let diff = max_abs(&(&a - h));
        assert!(
            diff < 1e-4 * (1.0 + scale),
            "{name}: differ by {diff} (scale {scale})"
        );
    }
}

#[test]
fn masked_rows_cost_nothing_and_leave_the_others_as_they_were() {
    let (w, bv, bh) = rbm(30, 20, 16, 9);
    let v = binary(9, 20, 0.2, 31);
    let mask = Tensor::from_slice(&[1.0f32, 0.0, 1.0, 1.0, 0.0, 0.0, 1.0, 1.0, 1.0]);
    rng::manual_seed(32);
    let all = gibbs_cpu::negative_phase(&w, &bv, &bh, &v, None, 3);
    rng::manual_seed(32);
    let some = gibbs_cpu::negative_phase_of(&w, &bv, &bh, &v, None, 3, 0, Some(&mask));
    let keep = mask.unsqueeze(1);
    for (a, b) in [
        (&all.neg, &some.neg),
        (&all.data_hidden, &some.data_hidden),
        (&all.neg_hidden, &some.neg_hidden),
    ] {
        assert!((a * &keep).equal(b));
    }
    assert!((&all.gap * &mask).equal(&some.gap));
}

#[test]
fn note_moves_keep_the_chains_on_the_rbms_marginals() {
    let (w, bv, bh) = rbm(12, 12, 8, 1);
    let rows = 20_000;
    let (bv_r, bh_r) = (bv.repeat([rows, 1]), bh.repeat([rows, 1]));
    let v = binary(rows, 12, 0.3, 13);
    let exact = marginals(&w, &bv.get(0), &bh.get(0));
    let fused = gibbs_cpu::negative_phase_of(&w, &bv_r, &bh_r, &v, None, 30, 1, None);
    assert_mean(&fused.neg, &exact, "the kernel, moves after every step");
    let dbl = |t: &Tensor| t.to_kind(Kind::Double);
    let tensors =
        NegativePhase::by_tensors(&dbl(&w), &dbl(&bv_r), &dbl(&bh_r), &dbl(&v), None, 30, 2);
    assert_mean(
        &tensors.neg,
        &exact,
        "the tensors, moves after every other step",
    );
}
