#!/usr/bin/env bash
# Set-up from nothing, idempotent: safe to re-run, and quick when everything is in place.
#   1. a Python venv with PyPI's torch==2.11.0 (libtorch for tch 0.24) and music21, kept in a
#      cache outside the clone ($RNN_RBM_CACHE, default ~/.cache/rnn-rbm) so that every clone
#      shares the ~5 GB download;
#   2. `.libtorch` -> that venv's torch package (read by .cargo/config.toml);
#   3. the default corpus: the Bach chorales of music21, as MIDI files under data/bach/
#      (converted once into the cache, then copied);
#   4. the General MIDI SoundFont that `rnn-rbm render` plays notes with: Debian's
#      csound-soundfont package (/usr/share/sounds/sf2/sf_GMbank.sf2), installed with apt-get
#      when we are root, else a hint;
#   5. Debian's chromium, the headless browser of the studio's browser test (tests/browser.rs),
#      installed the same way.
set -euo pipefail
cd "$(dirname "$0")/.."

TORCH_VERSION=2.11.0
MUSIC21_VERSION=10.5.1
CACHE=${RNN_RBM_CACHE:-$HOME/.cache/rnn-rbm}
VENV=$CACHE/torch-$TORCH_VERSION
say() { echo "[setup] $*"; }

command -v cargo >/dev/null || { echo "[setup] cargo not found: install Rust (https://rustup.rs) first" >&2; exit 1; }
PY=${PYTHON:-python3}
command -v "$PY" >/dev/null || { echo "[setup] python3 not found: install Python 3.9+ first" >&2; exit 1; }

mkdir -p "$CACHE"
if "$VENV/bin/python" -c "import torch, music21, sys; sys.exit(0 if torch.__version__.split('+')[0] == '$TORCH_VERSION' else 1)" 2>/dev/null; then
  say "torch $TORCH_VERSION and music21 already in $VENV"
else
  say "creating $VENV with torch==$TORCH_VERSION and music21 from PyPI (about 5 GB, a few minutes the first time)"
  "$PY" -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --upgrade pip
  "$VENV/bin/pip" install --quiet "torch==$TORCH_VERSION" "music21==$MUSIC21_VERSION"
fi

TORCH_DIR=$("$VENV/bin/python" -c "import torch, os; print(os.path.dirname(torch.__file__))")
if [[ "$(readlink .libtorch 2>/dev/null)" != "$TORCH_DIR" ]]; then
  ln -sfn "$TORCH_DIR" .libtorch
  say "linked .libtorch -> $TORCH_DIR"
else
  say ".libtorch -> $TORCH_DIR"
fi

# The default corpus. Converted once per version of the conversion script, then copied.
CORPUS_KEY=$( (cat scripts/build_corpus.py; echo "$MUSIC21_VERSION") | sha256sum | cut -c1-12)
CORPUS_CACHE=$CACHE/bach-corpus-$CORPUS_KEY
if [[ ! -f "$CORPUS_CACHE/.complete" ]]; then
  say "converting music21's Bach chorales to MIDI (once; a few minutes)"
  rm -rf "$CORPUS_CACHE.partial"
  "$VENV/bin/python" scripts/build_corpus.py --out "$CORPUS_CACHE.partial"
  touch "$CORPUS_CACHE.partial/.complete"
  rm -rf "$CORPUS_CACHE"
  mv "$CORPUS_CACHE.partial" "$CORPUS_CACHE"
fi
if [[ -f data/bach/.complete ]] && cmp -s data/bach/.complete "$CORPUS_CACHE/.complete" && [[ "$(cat data/bach/.key 2>/dev/null)" == "$CORPUS_KEY" ]]; then
  say "corpus data/bach/ up to date ($(ls data/bach/*.mid | wc -l) MIDI files)"
else
  rm -rf data/bach
  cp -r "$CORPUS_CACHE" data/bach
  echo "$CORPUS_KEY" > data/bach/.key
  say "corpus data/bach/ ready ($(ls data/bach/*.mid | wc -l) MIDI files)"
fi
SOUNDFONT=/usr/share/sounds/sf2/sf_GMbank.sf2
soundfont_hint="install it with 'sudo apt-get install csound-soundfont' (Debian/Ubuntu), or give \`rnn-rbm render\` another SF2 file with --soundfont FILE.sf2 or RNN_RBM_SOUNDFONT=FILE.sf2; the render tests need it"
if [[ -f "$SOUNDFONT" ]]; then
  say "SoundFont $SOUNDFONT present"
elif [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
  say "installing Debian's csound-soundfont (the General MIDI SoundFont for rnn-rbm render)"
  apt_install() { DEBIAN_FRONTEND=noninteractive apt-get install -y -q csound-soundfont >/dev/null; }
  if { apt_install || { apt-get update -q >/dev/null && apt_install; }; } && [[ -f "$SOUNDFONT" ]]; then
    say "SoundFont $SOUNDFONT installed"
  else
    echo "[setup] warning: apt-get could not install csound-soundfont: $soundfont_hint" >&2
  fi
else
  echo "[setup] warning: the SoundFont $SOUNDFONT is missing: $soundfont_hint" >&2
fi
if command -v chromium >/dev/null || [[ -n "${CHROME:-}" && -x "${CHROME:-}" ]]; then
  say "chromium present (for the browser test of rnn-rbm serve)"
elif [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
  say "installing Debian's chromium (the headless browser of the studio's browser test)"
  chromium_install() { DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null; }
  if { chromium_install || { apt-get update -q >/dev/null && chromium_install; }; } && command -v chromium >/dev/null; then
    say "chromium installed"
  else
    echo "[setup] warning: apt-get could not install chromium: the browser test (tests/browser.rs) needs it" >&2
  fi
else
  echo "[setup] warning: chromium is missing: install it with 'sudo apt-get install chromium' (Debian/Ubuntu) or set CHROME=/path/to/chrome; the browser test (tests/browser.rs) needs it" >&2
fi
say "done. Next: cargo run --release -- train 500   (or: cargo test --release)"
