//! `data::pad_batch`: chunks of unequal length as one zero-padded batch with a mask of the real
//! frames, checked against batches written out by hand.
use rnn_rbm::data::pad_batch;
use tch::Tensor;

/// A `(T, 2)` chunk whose frame t is `[base + t, -(base + t)]`.
fn chunk(base: f32, frames: i64) -> Tensor {
    let values: Vec<f32> = (0..frames)
        .flat_map(|t| [base + t as f32, -(base + t as f32)])
        .collect();
    Tensor::from_slice(&values).view([frames, 2])
}

fn values(t: &Tensor) -> Vec<f32> {
    Vec::<f32>::try_from(t.flatten(0, -1)).unwrap()
}

#[test]
fn chunks_should_be_padded_to_the_longest_in_the_order_asked_with_a_mask_of_real_frames() {
    let chunks = [chunk(10.0, 3), chunk(20.0, 1), chunk(30.0, 2)];
    let (v, mask) = pad_batch(&chunks, &[2, 0, 1]);
    assert_eq!(v.size(), vec![3, 3, 2]);
    assert_eq!(mask.size(), vec![3, 3]);
    #[rustfmt::skip]
    let expected = [
        30.0, -30.0, 31.0, -31.0, 0.0, 0.0,
        10.0, -10.0, 11.0, -11.0, 12.0, -12.0,
        20.0, -20.0, 0.0, 0.0, 0.0, 0.0,
    ];
    assert_eq!(values(&v), expected);
    assert_eq!(values(&mask), [1.0, 1.0, 0.0, 1.0, 1.0, 1.0, 1.0, 0.0, 0.0]);
    assert_eq!(v.kind(), chunks[0].kind());
    assert_eq!(mask.kind(), chunks[0].kind());
}

#[test]
fn chunks_of_one_length_should_need_no_padding() {
    let chunks = [chunk(1.0, 2), chunk(5.0, 2)];
    let (v, mask) = pad_batch(&chunks, &[1]);
    assert_eq!(v.size(), vec![1, 2, 2]);
    assert_eq!(values(&v), [5.0, -5.0, 6.0, -6.0]);
    assert_eq!(values(&mask), [1.0, 1.0]);
}
