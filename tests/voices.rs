//! `generate --voices`: each composed frame's chain runs on until the frame sounds its count of
//! notes (`rbm::chain_until_count`, `rnn_rbm::Voices`).
mod common;
use common::dev;
use rand::{rngs::StdRng, Rng, SeedableRng};
use rnn_rbm::model::rbm::{chain_until_count, free_energy};
use rnn_rbm::model::rnn_rbm::{GibbsStart, Voices};
use std::path::Path;
use tch::{Kind, Tensor};

/// The tests of this file draw from the generators that libtorch and the model share, so they
/// take turns: run at once, each would see the others' draws.
static TURN: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn turn() -> std::sync::MutexGuard<'static, ()> {
    TURN.lock().unwrap_or_else(|e| e.into_inner())
}

/// Uniform values in `[-scale, scale)` from a generator of this test's own.
fn values(shape: &[i64], scale: f64, rng: &mut StdRng) -> Tensor {
    let n: i64 = shape.iter().product();
    let v: Vec<f64> = (0..n).map(|_| rng.gen_range(-scale..scale)).collect();
    Tensor::from_slice(&v).reshape(shape).to_device(dev())
}

fn random_rbm(nv: i64, nh: i64, seed: u64) -> (Tensor, Tensor, Tensor) {
    let mut rng = StdRng::seed_from_u64(seed);
    (
        values(&[nv, nh], 1.5, &mut rng),
        values(&[nv], 0.8, &mut rng),
        values(&[nh], 0.8, &mut rng),
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
    let _turn = turn();
    let (w, bv, bh) = random_rbm(8, 5, 3);
    let rows = 64;
    let mut rng = StdRng::seed_from_u64(4);
    let v0 = values(&[rows, 8], 1.0, &mut rng)
        .gt(0.2)
        .to_kind(Kind::Double);
    let target: Vec<f64> = (0..rows).map(|_| f64::from(rng.gen_range(2..=5))).collect();
    let target = Tensor::from_slice(&target).to_device(dev());
    rnn_rbm::model::rng::manual_seed(5);
    let v = chain_until_count(&v0, &w, &bv, &bh, &target, 10_000);
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
    let _turn = turn();
    let (w, bv, bh) = random_rbm(5, 3, 11);
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
    // Sampling noise alone is about 0.006 here (0.009 measured).
    assert!(
        tv < 0.02,
        "total variation {tv:.3} from p(v | two units on)"
    );
}

#[test]
fn the_committed_bach_models_frames_sound_four_notes_or_now_and_then_three() {
    let _turn = turn();
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

#[test]
fn a_corpus_is_in_four_parts_when_most_of_its_frames_sound_four_notes() {
    use rnn_rbm::config::{Layout, ModelConfig};
    use rnn_rbm::corpus::Corpus;
    let paper = ModelConfig::for_layout(Layout::Paper, None);
    let parts = |path: &str| {
        Corpus::load(Path::new(path), Some("train"), &paper)
            .unwrap()
            .parts()
            .unwrap()
    };
    // Counted in Python from the same files: 90.5 % and 79.3 % of the sounding frames.
    let (notes, share) = parts("data/jsb-chorales-quarter.json");
    assert_eq!(notes, 4);
    assert!((share - 0.905).abs() < 0.001, "{share}");
    assert_eq!(Voices::of_parts(notes, share), Some(Voices(4)));
    let (notes, share) = parts("data/nottingham.json.gz");
    assert_eq!(notes, 4);
    assert!((share - 0.793).abs() < 0.001, "{share}");
    assert_eq!(Voices::of_parts(notes, share), None, "a tune over chords");
}

#[test]
fn generate_gives_the_jsb_model_four_voices_since_its_corpus_is_in_four_parts() {
    let dir = tempfile::tempdir().unwrap();
    let frames_of = |voices: Option<&str>| {
        let out = dir.path().join(voices.unwrap_or("default"));
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_rnn-rbm"));
        cmd.args(["generate", "jsb/best.ot", "--count", "4", "--length", "24"])
            .args(["--seed", "3", "--threads", "1", "--out"])
            .arg(&out);
        if let Some(v) = voices {
            cmd.args(["--voices", v]);
        }
        let status = cmd.output().unwrap();
        assert!(status.status.success(), "{status:?}");
        let mut counts = Vec::new();
        for i in 0..4 {
            let song = rnn_rbm::midi::read_file(&out.join(format!("best_seed3_{i}.mid"))).unwrap();
            let roll = rnn_rbm::roll::PianoRoll::from_song(&song, 1, 21, 88).unwrap();
            counts.extend((0..roll.steps()).map(|s| {
                (0..roll.n_notes)
                    .filter(|&c| roll.is_sounding(s, c))
                    .count()
            }));
        }
        counts
    };
    let four = frames_of(None);
    assert_eq!(four.len(), 96);
    assert!(four.iter().all(|&n| n == 3 || n == 4), "{four:?}");
    // Without the rule the model sounds other numbers of notes too.
    let free = frames_of(Some("0"));
    assert!(free.iter().any(|&n| n != 3 && n != 4), "{free:?}");
}
