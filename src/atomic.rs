//! Atomic file writes: the content goes to `PATH.tmp` in the same folder, is synced to disk, and
//! is renamed over `PATH`, so a crash leaves the old file or the new one, never half of one. A
//! failed write removes its temporary file.
//!
//! For tests only: with [`TEST_SLOW_SAVE_ENV`] set to a number of milliseconds, every write says
//! `slow save: PATH.tmp written` on stderr once the temporary file is complete and synced, and
//! waits that long before renaming it, so that a test can kill the process in the middle of a
//! save and check what it leaves (tests/cli.rs). Nothing sets it outside the tests.
use anyhow::{Context, Result};
use std::fs::{self, File};
use std::path::{Path, PathBuf};

/// Test-only environment variable: milliseconds to wait between writing `PATH.tmp` and renaming
/// it (see the module documentation).
pub const TEST_SLOW_SAVE_ENV: &str = "RNN_RBM_TEST_SLOW_SAVE_MS";

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
            test_pause(&tmp);
            fs::rename(&tmp, path)
                .with_context(|| format!("cannot rename {} to {}", tmp.display(), path.display()))
        });
    if written.is_err() {
        let _ = fs::remove_file(&tmp); // best effort: the error that matters is returned
    }
    written
}

/// The pause of [`TEST_SLOW_SAVE_ENV`], if it is set.
fn test_pause(tmp: &Path) {
    let pause = std::env::var(TEST_SLOW_SAVE_ENV).ok();
    if let Some(ms) = pause.and_then(|ms| ms.parse::<u64>().ok()) {
        eprintln!("slow save: {} written", tmp.display());
        std::thread::sleep(std::time::Duration::from_millis(ms));
    }
}

/// Writes `bytes` to `path` atomically.
pub fn write_bytes(path: &Path, bytes: &[u8]) -> Result<()> {
    write_with(path, |tmp| {
        fs::write(tmp, bytes).with_context(|| format!("cannot write {}", tmp.display()))
    })
}
