//! Bar lines: where a song's bars start, following its time signatures.
//!
//! The one rule that `plot` (the numbered bar lines of a piano roll) and `infill` (`--from` and
//! `--to`) share: bars count from 1 at tick 0, in 4/4 until the first time signature; a time
//! signature takes effect at the first bar line at or after its tick, so a change written in
//! the middle of a bar lets that bar finish in the old metre. A bar lasts
//! `4 × numerator / denominator` quarter notes, in whole ticks (rounded down, at least one).
use crate::midi::Song;

/// The ticks at which a song's bars start, in order, without end (see the module documentation).
#[derive(Debug, Clone)]
pub struct BarStarts<'a> {
    song: &'a Song,
    /// The start of the next bar, and the index of the next signature to take effect.
    tick: u64,
    next_signature: usize,
    length: u64,
}

impl<'a> BarStarts<'a> {
    pub fn new(song: &'a Song) -> BarStarts<'a> {
        BarStarts {
            song,
            tick: 0,
            next_signature: 0,
            length: bar_length(song, 4, 4),
        }
    }
}

impl Iterator for BarStarts<'_> {
    type Item = u64;

    fn next(&mut self) -> Option<u64> {
        let start = self.tick;
        // The signatures at or before this bar line set its length (the last of them counts).
        let signatures = &self.song.time_signatures;
        while let Some(ts) = signatures
            .get(self.next_signature)
            .filter(|ts| ts.tick <= start)
        {
            self.length = bar_length(self.song, ts.numerator, ts.denominator);
            self.next_signature += 1;
        }
        self.tick = start.saturating_add(self.length);
        Some(start)
    }
}

/// Ticks in a bar of `numerator/denominator`.
fn bar_length(song: &Song, numerator: u8, denominator: u8) -> u64 {
    let tpq = u64::from(song.ticks_per_quarter.max(1));
    (tpq * 4 * u64::from(numerator.max(1)) / u64::from(denominator.max(1))).max(1)
}

/// The tick at which bar `bar` starts (bars count from 1; bar 0 is taken as bar 1).
pub fn bar_start_tick(song: &Song, bar: usize) -> u64 {
    BarStarts::new(song)
        .nth(bar.saturating_sub(1))
        .expect("bars never end")
}

/// The starts of the bars before `end` (at least one bar, at most `max_bars`), and the start of
/// the bar after them: the first bar line at or after `end`.
pub fn bars_until(song: &Song, end: u64, max_bars: usize) -> (Vec<u64>, u64) {
    let mut bars = BarStarts::new(song);
    let mut starts = vec![bars.next().expect("bars never end")];
    for start in bars.by_ref() {
        if start >= end || starts.len() >= max_bars.max(1) {
            return (starts, start.max(end));
        }
        starts.push(start);
    }
    unreachable!("bars never end")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::midi::TimeSignature;

    fn song(signatures: &[(u64, u8, u8)]) -> Song {
        Song {
            ticks_per_quarter: 10,
            notes: Vec::new(),
            tempos: Vec::new(),
            time_signatures: signatures
                .iter()
                .map(|&(tick, numerator, denominator)| TimeSignature {
                    tick,
                    numerator,
                    denominator,
                })
                .collect(),
            name: None,
        }
    }

    #[test]
    fn a_signature_in_mid_bar_should_take_effect_at_the_next_bar_line() {
        // 4/4 (40 ticks), then 3/4 (30 ticks) written 20 ticks into bar 1.
        let mid_bar = song(&[(0, 4, 4), (20, 3, 4)]);
        let starts: Vec<u64> = BarStarts::new(&mid_bar).take(4).collect();
        assert_eq!(starts, vec![0, 40, 70, 100]);
        assert_eq!(bar_start_tick(&mid_bar, 3), 70);
        // No signature: 4/4. Several at one tick: the last counts.
        assert_eq!(bar_start_tick(&song(&[]), 3), 80);
        assert_eq!(bar_start_tick(&song(&[(0, 2, 4), (0, 6, 8)]), 2), 30);
    }

    #[test]
    fn bars_until_should_stop_at_the_first_bar_line_at_or_after_the_end() {
        let plain = song(&[]);
        assert_eq!(bars_until(&plain, 41, 100), (vec![0, 40], 80));
        assert_eq!(bars_until(&plain, 40, 100), (vec![0], 40));
        // An empty song still has one bar; the guard caps the count.
        assert_eq!(bars_until(&plain, 0, 100), (vec![0], 40));
        assert_eq!(bars_until(&plain, 1000, 2), (vec![0, 40], 1000));
    }
}
