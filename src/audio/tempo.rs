//! Tick → seconds over a song's tempo map (120 qpm until the first tempo event).
use crate::midi::{Song, DEFAULT_MICROS_PER_QUARTER};

/// Tick → seconds over a song's tempo map.
pub(super) struct TempoMap {
    /// `(tick, seconds at that tick, seconds per tick from there on)`, ascending ticks, the first
    /// at tick 0.
    points: Vec<(u64, f64, f64)>,
}

impl TempoMap {
    pub(super) fn new(song: &Song) -> TempoMap {
        let tpq = f64::from(song.ticks_per_quarter.max(1));
        let rate = |micros: u32| f64::from(micros) / 1e6 / tpq;
        let mut points = vec![(0u64, 0.0, rate(DEFAULT_MICROS_PER_QUARTER))];
        // Stable: at one tick, the file order is kept.
        let mut tempos: Vec<_> = song.tempos.iter().collect();
        tempos.sort_by_key(|t| t.tick);
        for tempo in tempos {
            let last = *points.last().expect("never empty");
            if tempo.tick == last.0 {
                // Several tempos at one tick: the last one counts.
                points.last_mut().expect("never empty").2 = rate(tempo.micros_per_quarter);
            } else {
                let seconds = last.1 + (tempo.tick - last.0) as f64 * last.2;
                points.push((tempo.tick, seconds, rate(tempo.micros_per_quarter)));
            }
        }
        TempoMap { points }
    }

    pub(super) fn seconds(&self, tick: u64) -> f64 {
        let index = self.points.partition_point(|p| p.0 <= tick) - 1;
        let (start, seconds, rate) = self.points[index];
        seconds + (tick - start) as f64 * rate
    }
}

/// Seconds from the start of the song to `tick`, over its tempo map (120 qpm until the first
/// tempo event).
pub fn tick_to_seconds(song: &Song, tick: u64) -> f64 {
    TempoMap::new(song).seconds(tick)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::midi::Tempo;

    fn song(tempos: Vec<Tempo>) -> Song {
        Song {
            ticks_per_quarter: 100,
            notes: Vec::new(),
            tempos,
            time_signatures: Vec::new(),
            name: None,
        }
    }

    #[test]
    fn ticks_should_become_seconds_over_the_tempo_map() {
        let plain = song(Vec::new());
        assert_eq!(tick_to_seconds(&plain, 0), 0.0);
        assert!((tick_to_seconds(&plain, 100) - 0.5).abs() < 1e-12);
        let changing = song(vec![
            Tempo {
                tick: 0,
                micros_per_quarter: 1_000_000,
            },
            Tempo {
                tick: 0,
                micros_per_quarter: 250_000,
            },
            Tempo {
                tick: 200,
                micros_per_quarter: 2_000_000,
            },
        ]);
        // Two quarters at 0.25 s, then 2 s per quarter.
        assert!((tick_to_seconds(&changing, 200) - 0.5).abs() < 1e-12);
        assert!((tick_to_seconds(&changing, 250) - 1.5).abs() < 1e-12);
    }
}
