//! Writes the ornament table the binary carries (`data/ornaments.json`) from the train split of
//! a folder of four-voice MIDI files (every file but each 10th by name):
//!
//! ```sh
//! cargo run --release --example learn_ornaments -- data/bach > data/ornaments.json
//! ```
//!
//! tests/ornament.rs checks that the committed table is what this prints for `data/bach`.
use anyhow::{Context, Result};
use rnn_rbm::ornament;
use std::path::PathBuf;

fn main() -> Result<()> {
    let folder = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "data/bach".into()),
    );
    let table = ornament::learn_folder(&folder)?;
    let json = serde_json::to_string(&table).context("cannot write the table as JSON")?;
    println!("{json}");
    eprintln!(
        "{} four-voice pieces of {}; {} contexts; repeated frames held whole: {:.3}",
        table.pieces,
        folder.display(),
        table.entries.len(),
        table.still()
    );
    Ok(())
}
