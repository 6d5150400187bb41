//! SoundFonts: which one to use (`--soundfont`, `$RNN_RBM_SOUNDFONT`, else Debian's
//! General MIDI bank) and loading it, with a one-line error that says what to do when it is
//! missing, not a SoundFont, or an SF3 file (Ogg-compressed samples, which rustysynth cannot
//! read).
use std::fs;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, ensure, Context, Result};
use rustysynth::{SoundFont, SoundFontError};

/// Where Debian's `csound-soundfont` package (installed by `scripts/setup.sh`) puts its bank.
pub const DEFAULT_SOUNDFONT: &str = "/usr/share/sounds/sf2/sf_GMbank.sf2";

/// Environment variable naming the SoundFont to use when `--soundfont` is not given.
pub const SOUNDFONT_ENV: &str = "RNN_RBM_SOUNDFONT";

/// What to tell someone whose SoundFont is missing or unreadable.
const SOUNDFONT_HINT: &str = "install Debian's csound-soundfont package (`apt-get install \
     csound-soundfont`, or run scripts/setup.sh) or pass --soundfont FILE.sf2";

/// The SoundFont to use: `explicit` (`--soundfont`), else `$RNN_RBM_SOUNDFONT`, else
/// [`DEFAULT_SOUNDFONT`].
pub fn resolve_soundfont(explicit: Option<&Path>) -> PathBuf {
    if let Some(path) = explicit {
        return path.to_path_buf();
    }
    match std::env::var_os(SOUNDFONT_ENV) {
        Some(path) if !path.is_empty() => PathBuf::from(path),
        _ => PathBuf::from(DEFAULT_SOUNDFONT),
    }
}

/// Loads an SF2 SoundFont, refusing missing files, non-SoundFonts and SF3 files with a one-line
/// error that says what to do.
pub fn load_soundfont(path: &Path) -> Result<Arc<SoundFont>> {
    let mut file = match fs::File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            bail!("SoundFont {} not found: {SOUNDFONT_HINT}", path.display())
        }
        Err(e) => {
            return Err(e).with_context(|| format!("cannot open SoundFont {}", path.display()))
        }
    };
    check_soundfont_header(&mut file, path)?;
    file.seek(SeekFrom::Start(0))
        .with_context(|| format!("cannot read SoundFont {}", path.display()))?;
    match SoundFont::new(&mut BufReader::new(file)) {
        Ok(font) => Ok(Arc::new(font)),
        Err(SoundFontError::UnsupportedSampleFormat) => bail!("{}", sf3_message(path)),
        Err(e) => bail!(
            "cannot read SoundFont {}: {e}; {SOUNDFONT_HINT}",
            path.display()
        ),
    }
}

fn sf3_message(path: &Path) -> String {
    format!(
        "{} is an SF3 SoundFont (compressed samples), which the synthesizer cannot read: {}",
        path.display(),
        SOUNDFONT_HINT.replace("FILE.sf2", "FILE.sf2 (an uncompressed SF2)")
    )
}

/// Checks the RIFF form (`sfbk`) and the version in the INFO list (`ifil`): major version 3 is
/// SF3, whose samples are Ogg Vorbis.
fn check_soundfont_header(file: &mut fs::File, path: &Path) -> Result<()> {
    let not_sf2 = || {
        format!(
            "{} is not a SoundFont 2 file (no RIFF 'sfbk' header): {SOUNDFONT_HINT}",
            path.display()
        )
    };
    let mut head = [0u8; 12];
    file.read_exact(&mut head)
        .map_err(|_| anyhow::anyhow!(not_sf2()))?;
    ensure!(&head[0..4] == b"RIFF" && &head[8..12] == b"sfbk", not_sf2());
    // The INFO list comes first; it is small (the spec caps its strings at 64 kB each).
    let mut list = [0u8; 12];
    if file.read_exact(&mut list).is_err() || &list[0..4] != b"LIST" || &list[8..12] != b"INFO" {
        return Ok(()); // malformed: rustysynth says what is wrong
    }
    let size = u32::from_le_bytes([list[4], list[5], list[6], list[7]]) as u64;
    let mut info = Vec::new();
    file.take(size.saturating_sub(4).min(1 << 20))
        .read_to_end(&mut info)
        .with_context(|| format!("cannot read SoundFont {}", path.display()))?;
    let mut offset = 0;
    while let Some(chunk) = info.get(offset..offset + 8) {
        let len = u32::from_le_bytes([chunk[4], chunk[5], chunk[6], chunk[7]]) as usize;
        if &chunk[0..4] == b"ifil" {
            if let Some(version) = info.get(offset + 8..offset + 10) {
                let major = u16::from_le_bytes([version[0], version[1]]);
                ensure!(major < 3, sf3_message(path));
            }
            break;
        }
        offset = offset.saturating_add(8).saturating_add(len + (len & 1));
    }
    Ok(())
}
