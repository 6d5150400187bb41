//! The copy check: the longest stretch of a piece that occurs note for note in a reference.
//!
//! Both are compared on their common grid, step by step: two steps match when exactly the same
//! MIDI pitches sound in them (the 128-bit mask `S_t`; no transposition, and a held note and a
//! repeated one look alike; two silent steps match). A stretch of `L` steps of the piece *occurs
//! in the reference* when some reference piece has `L` consecutive steps matching it one for
//! one. The answer is the longest such stretch that begins and ends with a sounding step (in
//! steps; divided by the steps per quarter note it is quarters): a rest inside a copied passage
//! is part of the copy, but shared silence alone, or around a copy, counts for nothing.
//!
//! This is the longest common substring of the piece and the reference pieces, over the alphabet
//! of pitch sets. [`CopyIndex`] builds a suffix automaton of the reference once (every piece
//! followed by a separator token that a query never contains, so no match spans two pieces) and
//! then runs each query through it in time linear in the query's length; at each sounding step,
//! the match ending there, less its leading silent steps, is a candidate.
use std::collections::HashMap;

/// A stretch of the query found in the reference, in grid steps.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Match {
    pub steps: usize,
    /// First step of the stretch in the query.
    pub start: usize,
    /// Index of the reference piece holding it, and the first step there.
    pub reference: usize,
    pub reference_start: usize,
}

/// Separates the reference pieces.
const SEPARATOR: u32 = 0;
/// A silent step.
const SILENCE: u32 = 1;

/// A state of the suffix automaton: a class of reference substrings that end at the same places.
struct State {
    /// Length of the longest substring of the class.
    len: usize,
    /// The state of the longest proper suffix that ends at more places (none for the root).
    link: Option<usize>,
    next: HashMap<u32, usize>,
    /// Where the class's first occurrence ends (index of its last token in the text).
    end: usize,
}

/// A suffix automaton of the reference pieces' pitch-set sequences.
pub struct CopyIndex {
    states: Vec<State>,
    /// Token of every pitch set that sounds somewhere in the reference (from 2).
    tokens: HashMap<u128, u32>,
    /// Index in the text of every reference piece's first step.
    starts: Vec<usize>,
}

impl CopyIndex {
    /// Indexes the reference pieces, given as their sounding masks `S_t`.
    pub fn new<'a>(pieces: impl IntoIterator<Item = &'a [u128]>) -> CopyIndex {
        let mut index = CopyIndex {
            states: vec![State {
                len: 0,
                link: None,
                next: HashMap::new(),
                end: 0,
            }],
            tokens: HashMap::new(),
            starts: Vec::new(),
        };
        let (mut last, mut position) = (0, 0);
        for piece in pieces {
            index.starts.push(position);
            for &mask in piece {
                let next_token = index.tokens.len() as u32 + 2;
                let token = match mask {
                    0 => SILENCE,
                    _ => *index.tokens.entry(mask).or_insert(next_token),
                };
                last = index.extend(last, token, position);
                position += 1;
            }
            last = index.extend(last, SEPARATOR, position);
            position += 1;
        }
        index
    }

    /// Appends `token` (at text index `position`) to the automaton whose whole text ends in
    /// state `last`; returns the new state of the whole text (the textbook construction).
    fn extend(&mut self, last: usize, token: u32, position: usize) -> usize {
        let current = self.push(self.states[last].len + 1, None, HashMap::new(), position);
        let mut p = Some(last);
        while let Some(s) = p.filter(|&s| !self.states[s].next.contains_key(&token)) {
            self.states[s].next.insert(token, current);
            p = self.states[s].link;
        }
        let Some(p) = p else {
            self.states[current].link = Some(0);
            return current;
        };
        let q = self.states[p].next[&token];
        if self.states[p].len + 1 == self.states[q].len {
            self.states[current].link = Some(q);
            return current;
        }
        let (link, next, end) = (
            self.states[q].link,
            self.states[q].next.clone(),
            self.states[q].end,
        );
        let clone = self.push(self.states[p].len + 1, link, next, end);
        let mut p = Some(p);
        while let Some(s) = p.filter(|&s| self.states[s].next.get(&token) == Some(&q)) {
            self.states[s].next.insert(token, clone);
            p = self.states[s].link;
        }
        self.states[q].link = Some(clone);
        self.states[current].link = Some(clone);
        current
    }

    fn push(
        &mut self,
        len: usize,
        link: Option<usize>,
        next: HashMap<u32, usize>,
        end: usize,
    ) -> usize {
        self.states.push(State {
            len,
            link,
            next,
            end,
        });
        self.states.len() - 1
    }

    /// The longest stretch of `query` (sounding masks) that occurs in the reference and begins
    /// and ends with a sounding step, the first one when there are several; `None` when not even
    /// one sounding step does.
    pub fn longest(&self, query: &[u128]) -> Option<Match> {
        let next_sounding = next_sounding(query);
        let (mut state, mut len) = (0, 0);
        let mut best: Option<Match> = None;
        for (t, &mask) in query.iter().enumerate() {
            let token = if mask == 0 {
                Some(SILENCE)
            } else {
                self.tokens.get(&mask).copied()
            };
            (state, len) = match token {
                Some(token) => self.step(state, len, token),
                None => (0, 0),
            };
            if mask == 0 || len == 0 {
                continue;
            }
            // The match is query[t + 1 − len ..= t]; it starts at its first sounding step.
            let trim = next_sounding[t + 1 - len] - (t + 1 - len);
            if len - trim > best.as_ref().map_or(0, |b| b.steps) {
                best = Some(self.found(state, len, trim, t));
            }
        }
        best
    }

    /// Follows `token` from `state`, where the match so far is `len` long, shortening the match
    /// along suffix links until the token can follow.
    fn step(&self, mut state: usize, mut len: usize, token: u32) -> (usize, usize) {
        loop {
            if let Some(&next) = self.states[state].next.get(&token) {
                return (next, len + 1);
            }
            match self.states[state].link {
                Some(link) => (state, len) = (link, self.states[link].len),
                None => return (0, 0),
            }
        }
    }

    /// The match of length `len` ending at query step `t` in `state`, less its first `trim`
    /// steps.
    fn found(&self, state: usize, len: usize, trim: usize, t: usize) -> Match {
        let text_start = self.states[state].end + 1 - len + trim;
        let reference = self.starts.partition_point(|&s| s <= text_start) - 1;
        Match {
            steps: len - trim,
            start: t + 1 - len + trim,
            reference,
            reference_start: text_start - self.starts[reference],
        }
    }
}

/// For every step, the first sounding step at or after it (`query.len()` when there is none).
fn next_sounding(query: &[u128]) -> Vec<usize> {
    let mut next = vec![query.len(); query.len() + 1];
    for t in (0..query.len()).rev() {
        next[t] = if query[t] != 0 { t } else { next[t + 1] };
    }
    next
}
