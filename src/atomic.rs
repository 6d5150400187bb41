//! Atomic file writes: the content goes to `PATH.tmp` in the same folder, is synced to disk, and
//! is renamed over `PATH`, so a crash leaves the old file or the new one, never half of one. A
//! failed write removes its temporary file.
use anyhow::{Context, Result};
use std::fs::{self, File};
use std::path::{Path, PathBuf};

/// `PATH.tmp`, beside `PATH`.
pub fn tmp_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".tmp");
    PathBuf::from(name)
}

/// Lets `write` fill the temporary file (given its path), then syncs it and renames it to `path`.
pub fn write_with(path: &Path, write: impl FnOnce(&Path) -> Result<()>) -> Result<()> {
    let tmp = tmp_path(path);
    let written = write(&tmp)
        .and_then(|()| {
            File::open(&tmp)
                .and_then(|f| f.sync_all())
                .with_context(|| format!("cannot sync {}", tmp.display()))
        })
        .and_then(|()| {
            fs::rename(&tmp, path)
                .with_context(|| format!("cannot rename {} to {}", tmp.display(), path.display()))
        });
    if written.is_err() {
        let _ = fs::remove_file(&tmp); // best effort: the error that matters is returned
    }
    written
}

/// Writes `bytes` to `path` atomically.
pub fn write_bytes(path: &Path, bytes: &[u8]) -> Result<()> {
    write_with(path, |tmp| {
        fs::write(tmp, bytes).with_context(|| format!("cannot write {}", tmp.display()))
    })
}
