//! Link-time glue for libtorch from PyPI's `torch` wheel.
//!
//! torch-sys finds the headers and libraries but does two things the binary crate must do itself:
//! 1. embed an rpath to `torch/lib`, so `rnn-rbm` runs without `LD_LIBRARY_PATH`;
//! 2. keep `libtorch_cuda` linked even though no symbol of it is referenced directly — otherwise
//!    the linker drops it (`--as-needed`) and CUDA is never available on a GPU machine.
use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-env-changed=DEP_TCH_LIBTORCH_LIB");
    let Ok(lib) = std::env::var("DEP_TCH_LIBTORCH_LIB") else {
        println!("cargo:warning=DEP_TCH_LIBTORCH_LIB not set; no rpath to libtorch added");
        return;
    };
    let lib = PathBuf::from(lib);
    let lib = lib.canonicalize().unwrap_or(lib);
    println!("cargo:rustc-link-arg=-Wl,-rpath,{}", lib.display());
    if lib.join("libtorch_cuda.so").exists() {
        println!("cargo:rustc-link-arg=-Wl,--no-as-needed");
        println!("cargo:rustc-link-arg=-ltorch_cuda");
        println!("cargo:rustc-link-arg=-Wl,--as-needed");
    }
}
