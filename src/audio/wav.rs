//! WAV files: rendered audio written as 16-bit PCM, atomically.
use std::fs;
use std::io::BufWriter;
use std::path::Path;

use anyhow::{ensure, Context, Result};

use super::Rendered;

/// Writes rendered audio as a 16-bit PCM WAV file, atomically: to `PATH.tmp` beside it, synced,
/// then renamed over `path`.
pub fn write_wav(path: &Path, rendered: &Rendered) -> Result<()> {
    crate::atomic::write_with(path, |tmp| write_wav_to(tmp, rendered))
        .with_context(|| format!("cannot write WAV file {}", path.display()))
}

fn write_wav_to(path: &Path, rendered: &Rendered) -> Result<()> {
    ensure!(
        rendered.channels == 1 || rendered.channels == 2,
        "{} channels: only mono and stereo are written",
        rendered.channels
    );
    let file =
        fs::File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    let spec = hound::WavSpec {
        channels: rendered.channels,
        sample_rate: rendered.sample_rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut writer = hound::WavWriter::new(BufWriter::new(file), spec)?;
    {
        let mut samples = writer.get_i16_writer(rendered.samples.len() as u32);
        for &sample in &rendered.samples {
            samples.write_sample(sample);
        }
        samples.flush()?;
    }
    writer.finalize()?;
    Ok(())
}
