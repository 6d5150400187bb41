//! `generate --voices`: each composed frame's chain runs on until the frame sounds its count of
//! notes (`rbm::chain_until_count`, `rnn_rbm::Voices`).
mod common;
use common::dev;
use rnn_rbm::model::rbm::{chain_until_count, free_energy};
use rnn_rbm::model::rnn_rbm::{GibbsStart, Voices};
use std::path::Path;
use tch::{Kind, Tensor};

fn random_rbm(nv: i64, nh: i64, seed: i64) -> (Tensor, Tensor, Tensor) {
    rnn_rbm::model::rng::manual_seed(seed);
    let opts = (Kind::Double, dev());
    (
        Tensor::randn([nv, nh], opts),
        Tensor::randn([nv], opts) * 0.5,
        Tensor::randn([nh], opts) * 0.5,
    )
}

fn counts(v: &Tensor) -> Vec<i64> {
    Vec::<i64>::try_from(
        v.sum_dim_intlist([-1i64].as_slice(), false, Kind::Int64)
            .flatten(0, -1),
    )
    .unwrap()
}

#[test]
fn chains_run_on_until_every_row_sounds_its_count_and_rows_already_there_stay() {
    let (w, bv, bh) = random_rbm(8, 5, 3);
    let rows = 64;
    rnn_rbm::model::rng::manual_seed(4);
    let v0 = Tensor::rand([rows, 8], (Kind::Double, dev()))
        .lt(0.4)
        .to_kind(Kind::Double);
    let target = Tensor::randint_low(1, 7, [rows], (Kind::Int64, dev())).to_kind(Kind::Double);
    let v = chain_until_count(&v0, &w, &bv, &bh, &target, 1000);
    let (got, want) = (counts(&v), counts(&target.unsqueeze(-1)));
    assert_eq!(got, want);
    let before = counts(&v0);
    let mut already = 0;
    for r in 0..rows as usize {
        if before[r] == want[r] {
            already += 1;
            assert!(
                v.get(r as i64).equal(&v0.get(r as i64)),
                "row {r} was moved"
            );
        }
    }
    assert!(
        already > 0,
        "no row had its count at the start: the test proves nothing"
    );
}

#[test]
fn a_kept_row_is_close_to_a_draw_of_the_rbm_given_its_count() {
    // Five visible units: every state enumerated, p(v) ∝ e^{−F(v)}, and chains started from
    // exact draws of p. The first state of a chain with two units on is a draw of p(v | |v| = 2)
    // up to the first-entrance bias (a state is kept in proportion to p(v) times the chain's
    // expected return time to the set from it), which stays small on a broad RBM.
    let (w, bv, bh) = random_rbm(5, 3, 11);
    let w = w * 0.7;
    let opts = (Kind::Double, dev());
    let states = Tensor::arange(32, (Kind::Int64, dev()));
    let bits: Vec<Tensor> = (0..5)
        .map(|i| states.bitwise_right_shift_tensor_scalar(i).bitwise_and(1))
        .collect();
    let all = Tensor::stack(&bits, 1).to_kind(Kind::Double);
    let p = (-free_energy(&all, &w, &bv, &bh)).softmax(0, Kind::Double);
    let rows = 40_000;
    rnn_rbm::model::rng::manual_seed(12);
    let start = all.index_select(0, &p.multinomial(rows, true));
    let target = Tensor::full([rows], 2.0, opts);
    let kept = chain_until_count(&start, &w, &bv, &bh, &target, 10_000);
    // Each kept row as its state number.
    let weights = Tensor::from_slice(&[1i64, 2, 4, 8, 16]).to_device(dev());
    let index = kept.to_kind(Kind::Int64).matmul(&weights);
    let seen = index.bincount::<Tensor>(None, 32).to_kind(Kind::Double) / rows as f64;
    let two = all
        .sum_dim_intlist([1i64].as_slice(), false, Kind::Double)
        .eq(2.0);
    let given = &p * two.to_kind(Kind::Double);
    let given = &given / given.sum(Kind::Double);
    let tv = f64::try_from((seen - given).abs().sum(Kind::Double)).unwrap() / 2.0;
    // Sampling noise alone is about 0.005 here.
    assert!(
        tv < 0.02,
        "total variation {tv:.3} from p(v | two units on)"
    );
}

#[test]
fn the_committed_bach_models_frames_sound_four_notes_or_now_and_then_three() {
    let loaded =
        rnn_rbm::checkpoint::load_model(Path::new("bach/best.ot"), dev()).expect("bach/best.ot");
    let m = &loaded.model;
    let pieces = 16;
    let u = m.initial_state(pieces);
    let silence = Tensor::zeros([pieces, m.n_visible()], (Kind::Float, dev()));
    let compose = |voices| {
        rnn_rbm::model::rng::manual_seed(7);
        let out = m.generate_with_progress(
            &u,
            &silence,
            40,
            200,
            GibbsStart::Silence,
            voices,
            &mut |_| {},
        );
        counts(&out)
    };
    let share = |c: &[i64], n: i64| c.iter().filter(|&&x| x == n).count() as f64 / c.len() as f64;
    // The model alone: four notes little more than half of the time.
    let free = compose(None);
    assert!(
        share(&free, 4) < 0.75,
        "four notes in {:.2} of frames",
        share(&free, 4)
    );
    // With four voices: four notes, or three in about 7 % of the 640 frames (binomial sd 1 %).
    let four = compose(Some(Voices(4)));
    assert_eq!(share(&four, 3) + share(&four, 4), 1.0, "{four:?}");
    let three = share(&four, 3);
    assert!(
        (0.035..0.11).contains(&three),
        "three notes in {three:.3} of frames"
    );
}
