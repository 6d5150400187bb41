//! The optimizer and the learning-rate schedule against values worked out by hand.
use rnn_rbm::checkpoint::TrainParams;
use rnn_rbm::optim::{Optimizer, OptimizerKind};
use tch::{Kind, Tensor};

/// A parameter with the given values and a gradient set to `grad`.
fn param_with_grad(values: &[f64], grad: &[f64]) -> Tensor {
    let p = Tensor::from_slice(values).set_requires_grad(true);
    // ∂(p · g)/∂p = g, exactly.
    (&p * Tensor::from_slice(grad)).sum(Kind::Double).backward();
    p
}

fn values(t: &Tensor) -> Vec<f64> {
    Vec::<f64>::try_from(t.detach()).unwrap()
}

fn assert_close(got: &[f64], expected: &[f64]) {
    for (g, e) in got.iter().zip(expected) {
        assert!((g - e).abs() < 1e-12, "{got:?} vs {expected:?}");
    }
}

#[test]
fn sgd_steps_against_the_clipped_gradient_and_clears_it() {
    let p = param_with_grad(&[1.0, -2.0, 0.5], &[0.5, -30.0, 12.0]);
    let mut opt = Optimizer::new(
        OptimizerKind::Sgd,
        0.1,
        10.0,
        vec![("bv".into(), p.shallow_clone())],
    );
    opt.step();
    // g clipped to [−10, 10]: (0.5, −10, 10); θ − 0.1 g.
    assert_close(&values(&p), &[0.95, -1.0, -0.5]);
    assert_eq!(p.grad().abs().sum(Kind::Double).double_value(&[]), 0.0);
}

#[test]
fn adams_first_step_moves_every_weight_by_the_learning_rate_against_its_gradient() {
    // After one step m̂ = g and ŝ = g², so the step is lr · g / (|g| + ε) ≈ lr · sign(g).
    let p = param_with_grad(&[1.0, -2.0, 0.5], &[0.5, -3.0, 1e-3]);
    let mut opt = Optimizer::new(
        OptimizerKind::Adam,
        0.01,
        10.0,
        vec![("bh".into(), p.shallow_clone())],
    );
    opt.step();
    let step = |g: f64| 0.01 * g / (g.abs() + 1e-8);
    let once = [1.0 - step(0.5), -2.0 - step(-3.0), 0.5 - step(1e-3)];
    assert_close(&values(&p), &once);
    // A second step with the same gradient: m = 0.19 g and s = 0.001999 g², which the bias
    // corrections 1 − 0.9² and 1 − 0.999² turn back into g and g²: the same step again.
    (&p * Tensor::from_slice(&[0.5, -3.0, 1e-3]))
        .sum(Kind::Double)
        .backward();
    opt.step();
    assert_close(
        &values(&p),
        &[
            once[0] - step(0.5),
            once[1] - step(-3.0),
            once[2] - step(1e-3),
        ],
    );
}

#[test]
fn weight_decay_shrinks_the_weight_matrices_only() {
    let w = param_with_grad(&[2.0, -4.0], &[0.0, 0.0]);
    let b = param_with_grad(&[2.0, -4.0], &[0.0, 0.0]);
    let mut opt = Optimizer::new(
        OptimizerKind::Sgd,
        0.1,
        10.0,
        vec![
            ("W".into(), w.shallow_clone()),
            ("bv".into(), b.shallow_clone()),
        ],
    );
    opt.weight_decay = 0.5;
    opt.step();
    // θ ← (1 − lr·λ) θ = 0.95 θ for W; the bias has no decay and no gradient.
    assert_close(&values(&w), &[1.9, -3.8]);
    assert_close(&values(&b), &[2.0, -4.0]);
}

#[test]
fn the_learning_rate_halves_every_halflife_epochs_from_the_first() {
    let mut params = TrainParams::defaults();
    params.lr = 0.004;
    assert_eq!(params.lr_at(1), 0.004);
    assert_eq!(params.lr_at(300), 0.004, "no half-life: constant");
    params.lr_halflife = Some(50.0);
    assert_eq!(params.lr_at(1), 0.004);
    assert!((params.lr_at(51) - 0.002).abs() < 1e-15);
    assert!((params.lr_at(101) - 0.001).abs() < 1e-15);
    assert!((params.lr_at(26) - 0.004 * 0.5f64.sqrt()).abs() < 1e-15);
}

#[test]
fn the_fused_float32_step_follows_the_tensor_version_in_double_precision() {
    // Float32 on the CPU takes the fused loop; double the tensor operations. Same gradients,
    // five steps, Adam and SGD, weight decay on `W` only, some gradients clipped.
    let init = [0.3, -1.2, 0.05, 2.0, -0.7, 0.0];
    let grads = |step: usize| -> Vec<f64> {
        (0..6)
            .map(|i| ((i * 7 + step * 3) % 11) as f64 - 5.0 + 0.01 * step as f64)
            .map(|g| g * 3.0)
            .collect()
    };
    for kind in [OptimizerKind::Adam, OptimizerKind::Sgd] {
        for name in ["W", "bv"] {
            let make = |k: Kind| Tensor::from_slice(&init).to_kind(k).set_requires_grad(true);
            let (p32, p64) = (make(Kind::Float), make(Kind::Double));
            let opt = |p: &Tensor| {
                let mut o =
                    Optimizer::new(kind, 0.01, 10.0, vec![(name.into(), p.shallow_clone())]);
                o.weight_decay = 0.5;
                o
            };
            let (mut o32, mut o64) = (opt(&p32), opt(&p64));
            for step in 0..5 {
                let g = Tensor::from_slice(&grads(step));
                (&p32 * g.to_kind(Kind::Float)).sum(Kind::Float).backward();
                (&p64 * &g).sum(Kind::Double).backward();
                o32.step();
                o64.step();
                assert_eq!(p32.grad().abs().sum(Kind::Double).double_value(&[]), 0.0);
            }
            let (a, b) = (values(&p32.to_kind(Kind::Double)), values(&p64));
            assert_ne!(a, init.to_vec(), "{kind:?} {name}: nothing moved");
            for (x, y) in a.iter().zip(&b) {
                assert!((x - y).abs() < 2e-6, "{kind:?} {name}: {a:?} vs {b:?}");
            }
        }
    }
}

/// Adam for one parameter, element by element in f64, in the order of the optimizer's tensor
/// operations: clip, decay, both moments, the bias corrections, the step.
#[allow(clippy::too_many_arguments)]
fn adam_by_hand(
    p: &mut [f64],
    m: &mut [f64],
    s: &mut [f64],
    g: &[f64],
    t: f64,
    lr: f64,
    clip: f64,
    decay: f64,
) {
    for j in 0..p.len() {
        let gj = g[j].clamp(-clip, clip);
        p[j] *= decay;
        m[j] = m[j] * 0.9 + gj * (1.0 - 0.9);
        s[j] = s[j] * 0.999 + gj * gj * (1.0 - 0.999);
        let (m_hat, s_hat) = (
            m[j] / (1.0 - 0.9f64.powf(t)),
            s[j] / (1.0 - 0.999f64.powf(t)),
        );
        p[j] += m_hat / (s_hat.sqrt() + 1e-8) * -lr;
    }
}

/// The same tensors (shared, not copied), for the optimizer.
fn shared(params: &[(String, Tensor)]) -> Vec<(String, Tensor)> {
    params
        .iter()
        .map(|(n, p)| (n.clone(), p.shallow_clone()))
        .collect()
}

/// Three double-precision parameters of different shapes, the first a weight matrix.
fn three_parameters() -> Vec<(String, Tensor)> {
    let make = |values: Vec<f64>, shape: &[i64]| {
        Tensor::from_slice(&values)
            .view(shape)
            .set_requires_grad(true)
    };
    vec![
        (
            "W".into(),
            make((0..6).map(|i| 0.1 * i as f64 - 0.2).collect(), &[2, 3]),
        ),
        ("bv".into(), make(vec![0.5, -0.25], &[1, 2])),
        ("bh".into(), make(vec![1.0, 0.0, -1.0], &[1, 3])),
    ]
}

/// A different gradient for every step and element, some beyond the clip of 10.
fn gradient(step: usize, parameter: usize, n: usize) -> Vec<f64> {
    (0..n)
        .map(|j| (((j * 5 + parameter * 3 + step * 7) % 13) as f64 - 6.0) * 2.5)
        .collect()
}

#[test]
fn adam_over_all_parameters_at_once_gives_the_bits_of_adam_on_each() {
    // Double on the CPU with a gradient for every parameter takes the flat step (the one a GPU
    // runs): all parameters' gradients end to end in one vector.
    let params = three_parameters();
    let mut opt = Optimizer::new(OptimizerKind::Adam, 0.01, 10.0, shared(&params));
    opt.weight_decay = 0.5;
    let mut by_hand: Vec<(Vec<f64>, Vec<f64>, Vec<f64>)> = params
        .iter()
        .map(|(_, p)| {
            (
                values(&p.reshape([-1])),
                vec![0.0; p.numel()],
                vec![0.0; p.numel()],
            )
        })
        .collect();
    for step in 0..6 {
        for (i, (name, p)) in params.iter().enumerate() {
            let g = gradient(step, i, p.numel());
            (p * Tensor::from_slice(&g).view(p.size().as_slice()))
                .sum(Kind::Double)
                .backward();
            let decay = if name.starts_with('W') {
                1.0 - 0.01 * 0.5
            } else {
                1.0
            };
            let (v, m, s) = &mut by_hand[i];
            adam_by_hand(v, m, s, &g, (step + 1) as f64, 0.01, 10.0, decay);
        }
        opt.step();
        for (i, (name, p)) in params.iter().enumerate() {
            assert_eq!(
                values(&p.reshape([-1])),
                by_hand[i].0,
                "{name} after step {step}"
            );
            assert_eq!(p.grad().abs().sum(Kind::Double).double_value(&[]), 0.0);
        }
    }
}

#[test]
fn a_parameter_without_a_gradient_is_left_alone_and_the_others_still_step() {
    // Pre-training: only some parameters get gradients, so the step goes parameter by parameter.
    let params = three_parameters();
    let mut opt = Optimizer::new(OptimizerKind::Adam, 0.01, 10.0, shared(&params));
    let before: Vec<Vec<f64>> = params
        .iter()
        .map(|(_, p)| values(&p.reshape([-1])))
        .collect();
    let (_, bv) = &params[1];
    let g = gradient(0, 1, 2);
    (bv * Tensor::from_slice(&g).view([1, 2]))
        .sum(Kind::Double)
        .backward();
    opt.step();
    assert_eq!(values(&params[0].1.reshape([-1])), before[0]);
    assert_eq!(values(&params[2].1.reshape([-1])), before[2]);
    let (mut v, mut m, mut s) = (before[1].clone(), vec![0.0; 2], vec![0.0; 2]);
    adam_by_hand(&mut v, &mut m, &mut s, &g, 1.0, 0.01, 10.0, 1.0);
    assert_eq!(values(&bv.reshape([-1])), v);
}

#[test]
fn the_saved_moments_resume_adam_exactly_in_double_and_in_float32() {
    // Save the state after three steps, load it into a fresh optimizer over copies of the
    // parameters: the next steps give the same bits as the run that went on.
    for kind in [Kind::Double, Kind::Float] {
        let params: Vec<(String, Tensor)> = three_parameters()
            .into_iter()
            .map(|(n, p)| (n, p.detach().to_kind(kind).set_requires_grad(true)))
            .collect();
        let mut opt = Optimizer::new(OptimizerKind::Adam, 0.01, 10.0, shared(&params));
        let backward = |ps: &[(String, Tensor)], step: usize| {
            for (i, (_, p)) in ps.iter().enumerate() {
                let g = Tensor::from_slice(&gradient(step, i, p.numel())).to_kind(kind);
                (p * g.view(p.size().as_slice())).sum(kind).backward();
            }
        };
        for step in 0..3 {
            backward(&params, step);
            opt.step();
        }
        let state: std::collections::HashMap<String, Tensor> =
            opt.state_tensors().into_iter().collect();
        let copies: Vec<(String, Tensor)> = params
            .iter()
            .map(|(n, p)| (n.clone(), p.detach().copy().set_requires_grad(true)))
            .collect();
        let mut resumed = Optimizer::new(OptimizerKind::Adam, 0.01, 10.0, shared(&copies));
        resumed.load_state(&state).unwrap();
        for step in 3..6 {
            backward(&params, step);
            backward(&copies, step);
            opt.step();
            resumed.step();
        }
        for ((name, a), (_, b)) in params.iter().zip(&copies) {
            let (a, b) = (a.to_kind(Kind::Double), b.to_kind(Kind::Double));
            assert_eq!(
                values(&a.reshape([-1])),
                values(&b.reshape([-1])),
                "{kind:?} {name}"
            );
        }
    }
}
