//! `render`: MIDI files → WAV files through a SoundFont synthesizer ([`crate::audio`], which
//! says what the audio holds). Each FOO.mid becomes FOO.wav beside it (or `-o` for one file);
//! with several files, one that cannot be rendered is skipped and named, and the command fails
//! at the end.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{ensure, Result};
use clap::Args;

use crate::audio::{check_sample_rate, load_soundfont, render_file, resolve_soundfont, write_wav};

#[derive(Args, Debug)]
pub struct RenderArgs {
    /// MIDI files to render; FOO.mid becomes FOO.wav beside it
    #[arg(required = true, value_name = "MIDI")]
    pub midi: Vec<PathBuf>,
    /// Output WAV file (only with a single MIDI file)
    #[arg(short, long, value_name = "OUT.wav")]
    pub out: Option<PathBuf>,
    /// SoundFont (SF2) to play the notes with [default: $RNN_RBM_SOUNDFONT, else
    /// /usr/share/sounds/sf2/sf_GMbank.sf2]
    #[arg(long, value_name = "FILE.sf2")]
    pub soundfont: Option<PathBuf>,
    /// Samples per second (16000 to 192000)
    #[arg(long, default_value_t = 44_100)]
    pub sample_rate: u32,
    /// One channel instead of two
    #[arg(long)]
    pub mono: bool,
}

/// The `render` command.
pub fn run(args: RenderArgs) -> Result<()> {
    ensure!(
        args.out.is_none() || args.midi.len() == 1,
        "-o/--out names one output file, but {} MIDI files were given; leave it out to write \
         each FOO.mid as FOO.wav beside it",
        args.midi.len()
    );
    check_sample_rate(args.sample_rate)?;
    let soundfont_path = resolve_soundfont(args.soundfont.as_deref());
    let soundfont = load_soundfont(&soundfont_path)?;
    let mut failed = 0;
    for input in &args.midi {
        let out = args
            .out
            .clone()
            .unwrap_or_else(|| input.with_extension("wav"));
        let started = Instant::now();
        let result = render_file(input, &soundfont, args.sample_rate, !args.mono)
            .and_then(|rendered| write_wav(&out, &rendered).map(|()| rendered));
        match result {
            Ok(rendered) => {
                let elapsed = started.elapsed().as_secs_f64();
                println!(
                    "{} -> {} ({:.1} s, {}; {:.0}x real time)",
                    input.display(),
                    out.display(),
                    rendered.seconds(),
                    if rendered.channels == 2 {
                        "stereo"
                    } else {
                        "mono"
                    },
                    rendered.seconds() / elapsed.max(1e-9)
                );
            }
            // With one file the error is the command's; with several, the others still render.
            Err(e) if args.midi.len() == 1 => return Err(e),
            Err(e) => {
                eprintln!("skipped: {e:#}");
                failed += 1;
            }
        }
    }
    ensure!(
        failed == 0,
        "{failed} of {} MIDI files could not be rendered",
        args.midi.len()
    );
    Ok(())
}
