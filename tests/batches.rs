//! How `train` groups chunks into updates.
use rand::{rngs::StdRng, seq::SliceRandom, SeedableRng};
use rnn_rbm::train::batches;

/// 240 chunk lengths of 25–100 frames, like the JSB train split cut into chunks of 100, and the
/// chunks in a shuffled order.
fn jsb_like_chunks() -> (Vec<i64>, Vec<usize>) {
    let lengths: Vec<i64> = (0..240).map(|i| 25 + (i * 37 % 76) as i64).collect();
    let mut order: Vec<usize> = (0..lengths.len()).collect();
    order.shuffle(&mut StdRng::seed_from_u64(1));
    (lengths, order)
}

#[test]
fn one_chunk_per_update_keeps_the_shuffled_order() {
    let (lengths, order) = jsb_like_chunks();
    let updates = batches(&order, &lengths, 1, &mut StdRng::seed_from_u64(2));
    assert_eq!(updates.concat(), order);
}

#[test]
fn every_chunk_is_used_once_and_similar_lengths_go_together() {
    let (lengths, order) = jsb_like_chunks();
    let updates = batches(&order, &lengths, 16, &mut StdRng::seed_from_u64(2));
    assert!(updates.iter().all(|b| !b.is_empty() && b.len() <= 16));
    let mut seen = updates.concat();
    seen.sort_unstable();
    assert_eq!(seen, (0..lengths.len()).collect::<Vec<_>>());
    // Padded frames: each update costs its longest chunk times its size.
    let padded = |ups: &[Vec<usize>]| -> i64 {
        ups.iter()
            .map(|b| b.iter().map(|&i| lengths[i]).max().unwrap() * b.len() as i64)
            .sum()
    };
    let real: i64 = lengths.iter().sum();
    let plain: Vec<Vec<usize>> = order.chunks(16).map(|c| c.to_vec()).collect();
    let (bucketed, unbucketed) = (padded(&updates), padded(&plain));
    assert!(
        (bucketed - real) * 3 < unbucketed - real,
        "padding: bucketed {bucketed}, plain {unbucketed}, real {real}"
    );
    // The same seed gives the same updates; another seed another order.
    assert_eq!(
        updates,
        batches(&order, &lengths, 16, &mut StdRng::seed_from_u64(2))
    );
    assert_ne!(
        updates,
        batches(&order, &lengths, 16, &mut StdRng::seed_from_u64(3))
    );
}
