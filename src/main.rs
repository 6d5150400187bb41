fn main() {
    let t = tch::Tensor::from_slice(&[1.0f32, 2.0, 3.0]);
    t.print();
    println!("cuda: {}", tch::Cuda::is_available());
}
