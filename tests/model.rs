//! The model's mathematics against hand computations, enumeration and finite differences.
mod common;
use common::dev;
use rnn_rbm::config::Cell;
use rnn_rbm::model::rbm::{
    bernoulli, exact_log_partition, free_energy, gibbs_chain, hidden_probs, visible_probs,
};
use rnn_rbm::model::RnnRbm;
use tch::{nn, Kind, Tensor};

fn t2(rows: &[&[f64]]) -> Tensor {
    let flat: Vec<f64> = rows.iter().flat_map(|r| r.iter().copied()).collect();
    Tensor::from_slice(&flat)
        .to_device(dev())
        .view([rows.len() as i64, rows[0].len() as i64])
}

fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol * (1.0 + b.abs())
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

fn softplus(x: f64) -> f64 {
    (1.0 + x.exp()).ln()
}

#[test]
fn rbm_conditionals_match_a_hand_computation() {
    let w = t2(&[&[1.0, -1.0], &[0.5, 2.0], &[0.0, -0.5]]); // 3 visible × 2 hidden
    let bh = t2(&[&[0.1, -0.2]]);
    let bv = t2(&[&[0.3, 0.0, -0.4]]);
    let v = t2(&[&[1.0, 0.0, 1.0]]);
    let ph = hidden_probs(&v, &w, &bh);
    // v W + bh = [1 + 0 + 0 + 0.1, -1 + 0 - 0.5 - 0.2] = [1.1, -1.7]
    assert!(close(ph.double_value(&[0, 0]), sigmoid(1.1), 1e-12));
    assert!(close(ph.double_value(&[0, 1]), sigmoid(-1.7), 1e-12));
    let h = t2(&[&[1.0, 1.0]]);
    let pv = visible_probs(&h, &w, &bv);
    // h Wᵀ + bv = [1 - 1 + 0.3, 0.5 + 2 + 0, 0 - 0.5 - 0.4] = [0.3, 2.5, -0.9]
    for (i, x) in [0.3, 2.5, -0.9].into_iter().enumerate() {
        assert!(close(pv.double_value(&[0, i as i64]), sigmoid(x), 1e-12));
    }
}

#[test]
fn free_energy_matches_its_definition_per_row() {
    let w = t2(&[&[1.0, -1.0], &[0.5, 2.0], &[0.0, -0.5]]);
    let bh = t2(&[&[0.1, -0.2], &[0.0, 0.3]]); // one row of biases per frame
    let bv = t2(&[&[0.3, 0.0, -0.4], &[1.0, 1.0, 1.0]]);
    let v = t2(&[&[1.0, 0.0, 1.0], &[0.0, 1.0, 1.0]]);
    let f = free_energy(&v, &w, &bv, &bh);
    assert_eq!(f.size(), vec![2]);
    let f0 = -(0.3 - 0.4) - softplus(1.1) - softplus(-1.7);
    let f1 = -(1.0 + 1.0) - softplus(0.5 + 0.0) - softplus(2.0 - 0.5 + 0.3);
    assert!(close(f.double_value(&[0]), f0, 1e-12));
    assert!(close(f.double_value(&[1]), f1, 1e-12));
}

/// Every binary vector of `n` bits, as rows of an `(2^n, n)` double matrix.
fn all_states(n: usize) -> Tensor {
    let rows: Vec<f64> = (0..1usize << n)
        .flat_map(|c| (0..n).map(move |i| ((c >> i) & 1) as f64))
        .collect();
    Tensor::from_slice(&rows)
        .to_device(dev())
        .view([1 << n, n as i64])
}

#[test]
fn free_energy_and_exact_log_z_agree_with_brute_force_enumeration() {
    rnn_rbm::model::rng::manual_seed(7);
    let (nv, nh) = (5, 4);
    let w = Tensor::randn([nv, nh], (Kind::Double, dev()));
    let bv = Tensor::randn([1, nv], (Kind::Double, dev()));
    let bh = Tensor::randn([1, nh], (Kind::Double, dev()));
    let vs = all_states(nv as usize);
    let hs = all_states(nh as usize);
    // -E(v, h) = v·bv + h·bh + v W h for every pair.
    let neg_energy =
        vs.matmul(&bv.tr()) + hs.matmul(&bh.tr()).tr() + vs.matmul(&w).matmul(&hs.tr());
    let brute_f = -neg_energy.logsumexp(1, false); // F(v) = -log Σ_h exp(-E)
    let f = free_energy(&vs, &w, &bv, &bh);
    assert!(f64::try_from((&f - &brute_f).abs().max()).unwrap() < 1e-10);
    let brute_log_z = neg_energy
        .flatten(0, -1)
        .logsumexp(0, false)
        .double_value(&[]);
    let log_z = exact_log_partition(&w, &bv.squeeze_dim(0), &bh.squeeze_dim(0)).double_value(&[]);
    assert!(close(log_z, brute_log_z, 1e-10), "{log_z} vs {brute_log_z}");
}

#[test]
fn samples_of_probabilities_that_underflowed_to_zero_are_zero_even_when_the_uniform_rounds_to_one()
{
    // In float32 about 3 in 10⁸ uniforms round up to 1, and ceil(0 − 1) was −1 (a sharp
    // Nottingham model's chains met it). Half a billion draws of p = 0: about 15 such uniforms.
    rnn_rbm::model::rng::manual_seed(2);
    let p = Tensor::zeros([1 << 22], (Kind::Float, dev()));
    for _ in 0..128 {
        let s = bernoulli(&p);
        assert_eq!(s.min().double_value(&[]), 0.0);
    }
    let (w, bv, bh) = (
        Tensor::zeros([64, 64], (Kind::Float, dev())),
        Tensor::full([1, 64], -200.0, (Kind::Float, dev())),
        Tensor::full([1, 64], -200.0, (Kind::Float, dev())),
    );
    let mut v = Tensor::zeros([1 << 15, 64], (Kind::Float, dev()));
    for _ in 0..64 {
        v = gibbs_chain(&v, &w, &bv, &bh, 1);
        assert_eq!(v.min().double_value(&[]), 0.0);
    }
}

#[test]
fn bernoulli_samples_are_binary_with_the_given_probabilities() {
    rnn_rbm::model::rng::manual_seed(1);
    let p = Tensor::from_slice(&[0.0f32, 0.1, 0.5, 0.9, 1.0])
        .to_device(dev())
        .unsqueeze(0)
        .expand([40_000, 5], false)
        .contiguous();
    let s = bernoulli(&p);
    assert!(bool::try_from(s.eq(0.0).logical_or(&s.eq(1.0)).all()).unwrap());
    let mean = s.mean_dim(0, false, Kind::Double);
    for (i, expected) in [0.0, 0.1, 0.5, 0.9, 1.0].into_iter().enumerate() {
        let sd = (expected * (1.0 - expected) / 40_000.0f64).sqrt();
        let got = mean.double_value(&[i as i64]);
        assert!(
            (got - expected).abs() <= 5.0 * sd + 1e-12,
            "p={expected}: {got}"
        );
    }
}

#[test]
fn gibbs_chain_of_an_rbm_without_weights_samples_the_visible_biases() {
    // With W = 0 the visible units are independent with p = sigmoid(bv), whatever the start.
    rnn_rbm::model::rng::manual_seed(2);
    let n = 20_000;
    let w = Tensor::zeros([3, 4], (Kind::Float, dev()));
    let bv = Tensor::from_slice(&[-2.0f32, 0.0, 1.5])
        .to_device(dev())
        .unsqueeze(0);
    let bh = Tensor::zeros([1, 4], (Kind::Float, dev()));
    let v0 = Tensor::ones([n, 3], (Kind::Float, dev()));
    let v = gibbs_chain(&v0, &w, &bv, &bh, 3);
    let mean = v.mean_dim(0, false, Kind::Double);
    for (i, b) in [-2.0f64, 0.0, 1.5].into_iter().enumerate() {
        let p = sigmoid(b);
        let sd = (p * (1.0 - p) / n as f64).sqrt();
        assert!((mean.double_value(&[i as i64]) - p).abs() < 5.0 * sd);
    }
}

/// A double-precision RNN-RBM with parameters large enough for every gradient to matter.
fn random_model(nv: i64, nh: i64, nr: i64, seed: i64) -> (nn::VarStore, RnnRbm) {
    random_model_with(Cell::Tanh, nv, nh, nr, seed)
}

fn random_model_with(cell: Cell, nv: i64, nh: i64, nr: i64, seed: i64) -> (nn::VarStore, RnnRbm) {
    rnn_rbm::model::rng::manual_seed(seed);
    let mut vs = nn::VarStore::new(dev());
    let model = RnnRbm::with_cell(cell, &vs.root(), nv, nh, nr);
    vs.double();
    tch::no_grad(|| {
        for (_, p) in model.named_parameters() {
            p.shallow_clone().copy_(&(p.randn_like() * 0.5));
        }
    });
    (vs, model)
}

fn binary(shape: &[i64], seed: i64) -> Tensor {
    rnn_rbm::model::rng::manual_seed(seed);
    Tensor::rand(shape, (Kind::Double, dev()))
        .lt(0.4)
        .to_kind(Kind::Double)
}

#[test]
fn rnn_states_condition_each_frame_on_the_state_before_it() {
    let (_vs, m) = random_model(4, 3, 2, 3);
    let v = binary(&[1, 3, 4], 4);
    let (before, last) = m.rnn_states(&v, None);
    assert_eq!(before.size(), vec![1, 3, 2]);
    // Frame 0 is conditioned on u0; frame 1 on tanh(bu + v_0 Wvu + u0 Wuu).
    assert!(before.get(0).get(0).allclose(&m.u0.get(0), 0.0, 0.0, false));
    let u1 = (v.get(0).get(0).unsqueeze(0).matmul(&m.wvu) + m.u0.matmul(&m.wuu) + &m.bu).tanh();
    assert!(before
        .get(0)
        .get(1)
        .allclose(&u1.get(0), 1e-12, 1e-12, false));
    let by_hand = |u: &Tensor, t: i64| {
        (v.get(0).get(t).unsqueeze(0).matmul(&m.wvu) + u.matmul(&m.wuu) + &m.bu).tanh()
    };
    let u2 = by_hand(&u1, 1);
    assert!(before
        .get(0)
        .get(2)
        .allclose(&u2.get(0), 1e-12, 1e-12, false));
    let u3 = by_hand(&u2, 2);
    assert!(last.allclose(&u3, 1e-12, 1e-12, false));
    // And the biases of frame t come from that state.
    let (bv_t, bh_t) = m.frame_biases(&before);
    let expected_bv1 = u1.matmul(&m.wuv) + &m.bv;
    let expected_bh1 = u1.matmul(&m.wuh) + &m.bh;
    assert!(bv_t
        .get(0)
        .get(1)
        .allclose(&expected_bv1.get(0), 1e-12, 1e-12, false));
    assert!(bh_t
        .get(0)
        .get(1)
        .allclose(&expected_bh1.get(0), 1e-12, 1e-12, false));
}

#[test]
fn loss_gradient_reaches_every_rnn_parameter_and_matches_finite_differences() {
    let (_vs, m) = random_model(6, 4, 3, 11);
    assert_eq!(check_gradients(&m), 27);
}

#[test]
fn with_a_gru_the_gradient_reaches_every_gate_and_matches_finite_differences() {
    let (_vs, m) = random_model_with(Cell::Gru, 6, 4, 3, 14);
    assert_eq!(check_gradients(&m), 45);
}

#[test]
fn a_gru_step_matches_a_hand_computation() {
    let (_vs, m) = random_model_with(Cell::Gru, 4, 3, 2, 15);
    let g = m.gru.as_ref().unwrap();
    let u = binary(&[1, 2], 16) * 0.7 - 0.2;
    let v = binary(&[1, 4], 17);
    let z = (v.matmul(&g.wvz) + u.matmul(&g.wuz) + &g.bz).sigmoid();
    let r = (v.matmul(&g.wvr) + u.matmul(&g.wur) + &g.br).sigmoid();
    let candidate = (v.matmul(&m.wvu) + (&r * &u).matmul(&m.wuu) + &m.bu).tanh();
    let expected = (z.ones_like() - &z) * &u + &z * candidate;
    assert!(m.step(&u, &v).allclose(&expected, 1e-12, 1e-12, false));
    // rnn_states runs the same recurrence.
    let (_, last) = m.rnn_states(&v.unsqueeze(0), Some(&u));
    assert!(last.allclose(&expected, 1e-12, 1e-12, false));
}

/// Autograd of the free-energy gap against central differences at 3 entries of every
/// parameter; returns how many were checked.
fn check_gradients(m: &RnnRbm) -> usize {
    let v = binary(&[2, 5, 6], 12);
    let neg = binary(&[2, 5, 6], 13); // negative samples held fixed
    let mask = Tensor::from_slice(&[1.0f64, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.0, 0.0])
        .to_device(dev())
        .view([2, 5]);
    let loss = m.free_energy_gap(&v, &neg, &mask);
    loss.backward();
    let eps = 1e-6;
    let mut checked = 0;
    for (name, p) in m.named_parameters() {
        let grad = p.grad();
        assert!(grad.defined(), "{name} has no gradient");
        assert!(
            f64::try_from(grad.abs().max()).unwrap() > 1e-6,
            "{name}'s gradient is zero"
        );
        let flat = p.view(-1);
        let n = flat.size()[0];
        for idx in [0, n / 2, n - 1] {
            let original = flat.double_value(&[idx]);
            let at = |x: f64| {
                tch::no_grad(|| {
                    let _ = flat.shallow_clone().get(idx).fill_(x);
                    m.free_energy_gap(&v, &neg, &mask).double_value(&[])
                })
            };
            let numeric = (at(original + eps) - at(original - eps)) / (2.0 * eps);
            at(original);
            let analytic = grad.view(-1).double_value(&[idx]);
            assert!(
                close(analytic, numeric, 1e-6),
                "{name}[{idx}]: autograd {analytic} vs finite differences {numeric}"
            );
            checked += 1;
        }
    }
    checked
}

#[test]
fn padded_frames_do_not_change_the_loss() {
    let (_vs, m) = random_model(6, 4, 3, 21);
    let a = binary(&[1, 3, 6], 22);
    let b = binary(&[1, 5, 6], 23);
    let na = binary(&[1, 3, 6], 24);
    let nb = binary(&[1, 5, 6], 25);
    let gap_a = m
        .free_energy_gap(&a, &na, &Tensor::ones([1, 3], (Kind::Double, dev())))
        .double_value(&[]);
    let gap_b = m
        .free_energy_gap(&b, &nb, &Tensor::ones([1, 5], (Kind::Double, dev())))
        .double_value(&[]);
    // `a` padded with junk frames to length 5 and batched with `b`.
    let junk = Tensor::ones([1, 2, 6], (Kind::Double, dev()));
    let v = Tensor::cat(&[Tensor::cat(&[&a, &junk], 1), b], 0);
    let neg = Tensor::cat(&[Tensor::cat(&[&na, &junk], 1), nb], 0);
    let mask = Tensor::from_slice(&[1.0f64, 1.0, 1.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0, 1.0])
        .to_device(dev())
        .view([2, 5]);
    let batched = m.free_energy_gap(&v, &neg, &mask).double_value(&[]);
    assert!(close(batched, (3.0 * gap_a + 5.0 * gap_b) / 8.0, 1e-12));
}

#[test]
fn generation_returns_binary_vectors_of_the_requested_shape() {
    let (_vs, m) = random_model(6, 4, 3, 31);
    let u = m.initial_state(2);
    let v0 = Tensor::zeros([2, 6], (Kind::Double, dev()));
    let out = m.generate(&u, &v0, 7, 5);
    assert_eq!(out.size(), vec![2, 7, 6]);
    assert!(bool::try_from(out.eq(0.0).logical_or(&out.eq(1.0)).all()).unwrap());
}

#[test]
fn the_fast_bit_generator_gives_uniform_independent_bits_and_repeats_after_reseeding() {
    use rnn_rbm::model::rng;
    rng::manual_seed(3);
    let a = rng::random_bits(200_000, dev());
    let b = rng::random_bits(200_000, dev());
    let u = a.to_kind(Kind::Double) / 2147483648.0;
    // Uniform on [0, 1): mean 1/2, variance 1/12, every tenth holds about a tenth.
    assert!((u.mean(Kind::Double).double_value(&[]) - 0.5).abs() < 0.003);
    assert!((u.var(false).double_value(&[]) - 1.0 / 12.0).abs() < 0.002);
    let hist = (u * 10.0)
        .floor()
        .to_kind(Kind::Int64)
        .bincount::<Tensor>(None, 10);
    for k in 0..10 {
        let share = hist.double_value(&[k]) / 200_000.0;
        assert!((share - 0.1).abs() < 0.004, "tenth {k}: {share}");
    }
    // Successive draws are uncorrelated, and the low bit is fair.
    let (x, y) = (a.to_kind(Kind::Double), b.to_kind(Kind::Double));
    let corr = ((&x - x.mean(Kind::Double)) * (&y - y.mean(Kind::Double))).mean(Kind::Double)
        / (x.std(false) * y.std(false));
    assert!(corr.double_value(&[]).abs() < 0.01);
    let low = a
        .bitwise_and(1)
        .to_kind(Kind::Double)
        .mean(Kind::Double)
        .double_value(&[]);
    assert!((low - 0.5).abs() < 0.005);
    // The same seed gives the same bits.
    rng::manual_seed(3);
    assert!(rng::random_bits(200_000, dev()).equal(&a));
}

#[test]
fn bernoulli_samples_are_binary_with_the_given_probabilities_and_exact_at_zero_and_one() {
    use rnn_rbm::model::rbm;
    rnn_rbm::model::rng::manual_seed(11);
    let probs = [0.0f32, 0.001, 0.1, 0.5, 0.9, 0.999, 1.0];
    let p = Tensor::from_slice(&probs)
        .to_device(dev())
        .unsqueeze(0)
        .expand([100_000, 7], false)
        .contiguous();
    let s = rbm::bernoulli(&p);
    assert_eq!(s.size(), p.size());
    assert!(bool::try_from(s.eq(0.0).logical_or(&s.eq(1.0)).all()).unwrap());
    let means = Vec::<f64>::try_from(s.mean_dim(0, false, Kind::Double)).unwrap();
    for (p, m) in probs.iter().zip(&means) {
        // Four standard errors of a mean of 100,000 draws (at most 0.0063).
        let tol = 4.0 * (*p as f64 * (1.0 - *p as f64) / 100_000.0).sqrt();
        assert!((m - *p as f64).abs() <= tol, "p {p}: mean {m}");
    }
    assert_eq!(means[0], 0.0);
    assert_eq!(means[6], 1.0);
}

#[test]
fn the_bit_generator_gives_the_same_bits_on_the_test_device_as_on_the_cpu() {
    use rnn_rbm::model::rng;
    let draws = |device| {
        rng::manual_seed(5);
        (0..3)
            .map(|_| rng::random_bits(70_001, device).to_device(tch::Device::Cpu))
            .collect::<Vec<_>>()
    };
    let (here, cpu) = (draws(dev()), draws(tch::Device::Cpu));
    for (a, b) in here.iter().zip(&cpu) {
        assert!(a.equal(b));
    }
    assert!(!here[0].equal(&here[1]), "successive draws must differ");
}

#[test]
fn the_loss_and_its_gradient_on_the_test_device_match_the_cpu() {
    // The same double-precision model on the CPU and on the test device.
    let (vs, m) = random_model(6, 4, 3, 41);
    let mut cpu_vs = nn::VarStore::new(tch::Device::Cpu);
    let cpu_model = RnnRbm::with_cell(Cell::Tanh, &cpu_vs.root(), 6, 4, 3);
    cpu_vs.double();
    cpu_vs.copy(&vs).unwrap();
    let v = binary(&[2, 5, 6], 42);
    let neg = binary(&[2, 5, 6], 43);
    let mask = v.ones_like().narrow(2, 0, 1).squeeze_dim(2);
    let cpu = |t: &Tensor| t.to_device(tch::Device::Cpu);
    let loss_here = m.free_energy_gap(&v, &neg, &mask);
    let loss_cpu = cpu_model.free_energy_gap(&cpu(&v), &cpu(&neg), &cpu(&mask));
    assert!(close(
        loss_here.double_value(&[]),
        loss_cpu.double_value(&[]),
        1e-12
    ));
    loss_here.backward();
    loss_cpu.backward();
    for ((name, a), (_, b)) in m
        .named_parameters()
        .iter()
        .zip(cpu_model.named_parameters())
    {
        let diff = (cpu(&a.grad()) - b.grad()).abs().max().double_value(&[]);
        assert!(diff < 1e-10, "{name}: gradients differ by {diff}");
    }
}

/// The gradients of every parameter after one CD-k update, from the same random bits.
fn cd_gradients(m: &RnnRbm, update: impl Fn(&RnnRbm) -> f64) -> (f64, Vec<(String, Tensor)>) {
    for (_, p) in m.named_parameters() {
        let mut g = p.grad();
        if g.defined() {
            let _ = g.zero_();
        }
    }
    rnn_rbm::model::rng::manual_seed(77);
    let loss = update(m);
    let grads = m
        .named_parameters()
        .into_iter()
        .map(|(n, p)| (n, p.grad().copy()))
        .collect();
    (loss, grads)
}

#[test]
fn the_hand_written_recurrence_gives_autograds_cd_gradients() {
    use rnn_rbm::model::rnn_rbm::ChainStart;
    let (_vs, m) = random_model(6, 4, 3, 51);
    let v = binary(&[2, 7, 6], 52);
    let mask = Tensor::from_slice(&[1.0f64; 7])
        .to_device(dev())
        .view([1, 7])
        .repeat([2, 1]);
    let _ = mask.get(1).narrow(0, 5, 2).fill_(0.0); // the second chunk is 5 frames, padded
    for start in [ChainStart::Data, ChainStart::Previous] {
        let (loss_auto, auto) = cd_gradients(&m, |m| {
            let loss = m.cd_loss_from(&v, &mask, 3, 0, start);
            loss.backward();
            loss.double_value(&[])
        });
        let (loss_hand, hand) = cd_gradients(&m, |m| {
            m.cd_backward(&v, &mask, 3, 0, start).double_value(&[])
        });
        assert!(
            close(loss_hand, loss_auto, 1e-12),
            "{loss_hand} vs {loss_auto}"
        );
        for ((name, a), (_, h)) in auto.iter().zip(&hand) {
            let scale = a.abs().max().double_value(&[]);
            assert!(scale > 1e-8, "{name}: no gradient");
            let diff = (a - h).abs().max().double_value(&[]);
            assert!(
                diff <= 1e-10 * (1.0 + scale),
                "{name}: autograd and by hand differ by {diff}"
            );
        }
    }
}

#[test]
fn the_fused_recurrence_gives_the_loops_states_and_gradients() {
    let (_vs, m) = random_model(6, 4, 3, 61);
    let v = binary(&[2, 5, 6], 62);
    let u = binary(&[2, 3], 63) * 0.8 - 0.4;
    let params = |m: &RnnRbm| {
        [
            m.wvu.shallow_clone(),
            m.wuu.shallow_clone(),
            m.bu.shallow_clone(),
            m.u0.shallow_clone(),
        ]
    };
    let run = |fused: bool, u_init: Option<&Tensor>| {
        for p in params(&m) {
            let mut g = p.grad();
            if g.defined() {
                let _ = g.zero_();
            }
        }
        let (before, last) = if fused {
            m.rnn_states_fused(&v, u_init)
        } else {
            m.rnn_states(&v, u_init)
        };
        ((&before * &before).sum(Kind::Double) + last.sum(Kind::Double)).backward();
        let grads: Vec<Tensor> = params(&m).iter().map(|p| p.grad().copy()).collect();
        (before.detach(), last.detach(), grads)
    };
    for u_init in [None, Some(&u)] {
        let (b1, l1, g1) = run(false, u_init);
        let (b2, l2, g2) = run(true, u_init);
        assert!(b1.allclose(&b2, 1e-12, 1e-12, false));
        assert!(l1.allclose(&l2, 1e-12, 1e-12, false));
        for (name, (a, b)) in ["Wvu", "Wuu", "bu", "u0"].iter().zip(g1.iter().zip(&g2)) {
            if u_init.is_some() && *name == "u0" {
                continue; // u0 is not used when a state is given
            }
            assert!(a.allclose(b, 1e-10, 1e-10, false), "{name}");
        }
    }
}

#[test]
fn chains_started_at_silence_or_at_the_biases_forget_the_previous_vector() {
    use rnn_rbm::model::rnn_rbm::GibbsStart;
    let (_vs, m) = random_model(6, 4, 3, 71);
    let u = m.initial_state(3);
    let zeros = Tensor::zeros([3, 6], (Kind::Double, dev()));
    let ones = zeros.ones_like();
    let compose = |v_prev: &Tensor, gibbs: i64, start: GibbsStart| {
        rnn_rbm::model::rng::manual_seed(5);
        m.generate_with_progress(&u, v_prev, 4, gibbs, start, None, &mut |_| {})
    };
    for start in [GibbsStart::Silence, GibbsStart::Biases] {
        assert!(
            compose(&zeros, 2, start).equal(&compose(&ones, 2, start)),
            "{start:?}"
        );
    }
    // The original's chain starts at the previous vector: with no Gibbs step it stays there.
    assert!(
        compose(&ones, 0, GibbsStart::Previous)
            .eq(1.0)
            .all()
            .int64_value(&[])
            == 1
    );
    // …and from silence it is silence.
    assert!(
        compose(&ones, 0, GibbsStart::Silence)
            .eq(0.0)
            .all()
            .int64_value(&[])
            == 1
    );
}

#[test]
fn generation_defaults_to_long_chains_from_silence_for_frames_and_the_originals_sampler_for_the_seed_layout(
) {
    use rnn_rbm::config::{Layout, ModelConfig};
    use rnn_rbm::generate::default_sampler;
    use rnn_rbm::model::rnn_rbm::GibbsStart;
    let paper = ModelConfig::for_layout(Layout::Paper, None);
    let seed = ModelConfig::for_layout(Layout::Seed, None);
    let chorale = ModelConfig::for_layout(Layout::Chorale, None);
    assert_eq!(default_sampler(&paper), (GibbsStart::Silence, 200));
    assert_eq!(default_sampler(&chorale), (GibbsStart::Silence, 1000));
    assert_eq!(default_sampler(&seed), (GibbsStart::Previous, 25));
    // Four voices for the chorale layout only: other corpora of frames need not be four-part.
    use rnn_rbm::generate::{default_voices, Voices};
    assert_eq!(default_voices(&chorale), Some(Voices(4)));
    assert_eq!(default_voices(&paper), None);
    assert_eq!(default_voices(&seed), None);
}
