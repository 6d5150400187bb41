//! Generation with notes held fixed: clamped Gibbs sampling of every frame's RBM.
//!
//! Some visible units of a frame are *clamped* (held at given values) and the others are
//! sampled from the RBM's conditional given them. Block Gibbs sampling does exactly that when
//! the clamped units are reset after every visible update:
//!
//! ```text
//! h ~ p(h | v)                     (all visible units, clamped ones included)
//! v ~ p(v | h);  v ← free·v + fixed·value
//! ```
//!
//! because `p(v_free | v_fixed)` of an RBM is the stationary distribution of that chain. Frame by
//! frame, the RNN is fed the whole frame (clamped and sampled notes), so later frames hear the
//! harmony that was chosen. Shapes: `fixed`, `value` `(B, T, V)` with 0/1 entries (`value` only
//! matters where `fixed` is 1), RNN state `u (B, R)`, previous frame `v_prev (B, V)`.
use super::rbm::{bernoulli, hidden_probs, until_count, visible_probs};
use super::rnn_rbm::{GibbsStart, Voices};
use super::RnnRbm;
use tch::{Kind, Tensor};

/// Which notes of each frame are held, and at what.
pub struct Clamp {
    /// `(B, T, V)`: 1 where the note is held.
    pub fixed: Tensor,
    /// `(B, T, V)`: the held value (1 = sounding), where `fixed` is 1.
    pub value: Tensor,
}

impl Clamp {
    /// Nothing held, for `(B, T, V)`.
    pub fn none(batch: i64, steps: i64, n_visible: i64, device: tch::Device) -> Self {
        let zeros = Tensor::zeros([batch, steps, n_visible], (Kind::Float, device));
        Clamp {
            fixed: zeros.shallow_clone(),
            value: zeros,
        }
    }
}

/// Keeps, in every row of `v (N, V)`, at most `max_notes` sounding units: all those clamped on
/// (`fixed·value`), then the lowest free one (the bass: the free sounding unit of lowest index,
/// which is the lowest pitch when a vector is one frame), then the free ones with the highest
/// probability `p (N, V)`. Keeping the bass first gives a harmony its bass line: ranked by
/// probability alone, the bass was the note most often dropped.
pub fn limit_notes(
    v: &Tensor,
    p: &Tensor,
    fixed: &Tensor,
    value: &Tensor,
    max_notes: i64,
) -> Tensor {
    let held_on = fixed * value;
    let free_on = v * (fixed.ones_like() - fixed);
    let room =
        (held_on.sum_dim_intlist(-1, true, Kind::Float) * -1.0 + max_notes as f64).clamp_min(0.0);
    // The lowest free sounding unit of each row: the first 1 of `free_on` (argmax of
    // free_on · (V − index) picks it; a row with none gets a bonus on a unit that scores −1).
    let n_visible = free_on.size()[free_on.dim() - 1];
    let descending = Tensor::arange(n_visible, (Kind::Float, v.device())) * -1.0 + n_visible as f64;
    let lowest = (&free_on * &descending).argmax(-1, true);
    let bass = free_on.zeros_like().scatter_value(-1, &lowest, 2.0) * &free_on;
    // Rank the free sounding notes: the bass first, then by probability (the others score −1
    // and rank last).
    let score = &free_on * p - (free_on.ones_like() - &free_on) + bass;
    let order = score.argsort(-1, true);
    let rank = order.argsort(-1, false).to_kind(Kind::Float);
    let keep = rank.lt_tensor(&room).to_kind(v.kind()) * &free_on;
    held_on + keep
}

impl RnnRbm {
    /// Runs the clamped chains of one frame on, one step at a time and at most
    /// [`Voices::MAX_STEPS`], until each frame `v (B, V)` sounds the count [`Voices::targets`]
    /// draws for it (`n` notes, or `n − 1` now and then), with the loop of free generation
    /// ([`until_count`]); a frame that has its count, or has no free note (its target is then the
    /// count it has), is kept from then on. Returns the frames and their last visible
    /// probabilities `p`.
    fn run_on_to_count(
        &self,
        v: Tensor,
        mut p: Tensor,
        (free, held): (&Tensor, &Tensor),
        (bv, bh): (&Tensor, &Tensor),
        voices: Voices,
    ) -> (Tensor, Tensor) {
        let kind = v.kind();
        let target = voices.targets(v.size()[0], kind, v.device());
        let frozen = free.sum_dim_intlist(-1, false, kind).eq(0.0);
        let target = v
            .sum_dim_intlist(-1, false, kind)
            .where_self(&frozen, &target);
        let v = until_count(v, &target, Voices::MAX_STEPS, |v, done| {
            let h = bernoulli(&hidden_probs(v, &self.w, bh));
            let p_next = visible_probs(&h, &self.w, bv);
            p = p.where_self(done, &p_next);
            bernoulli(&p_next) * free + held
        });
        (v, p)
    }

    /// Composes `T` frames for a batch of RNN states `u (B, R)`, holding the notes that `clamp`
    /// fixes. Each frame is the last sample of a `sampler.1`-step clamped chain started where
    /// `sampler.0` says (the previous frame, `v_prev (B, V)` for the first, or silence, or the
    /// biases), with the held notes set; with `max_notes`, only that many notes sound per frame
    /// (after running each chain on until the frame sounds `max_notes`, or one fewer now and then:
    /// [`RnnRbm::run_on_to_count`]; then held ones first, the bass, the likeliest free ones).
    /// Returns `(B, T, V)` binary frames, in
    /// which every clamped unit equals its held value.
    pub fn generate_clamped(
        &self,
        u: &Tensor,
        v_prev: &Tensor,
        clamp: &Clamp,
        sampler: (GibbsStart, i64),
        max_notes: Option<i64>,
    ) -> Tensor {
        self.generate_clamped_with_progress(u, v_prev, clamp, sampler, max_notes, &mut |_| {})
    }

    /// [`generate_clamped`](Self::generate_clamped), calling `progress(frames_done)` after
    /// every frame.
    pub fn generate_clamped_with_progress(
        &self,
        u: &Tensor,
        v_prev: &Tensor,
        clamp: &Clamp,
        sampler: (GibbsStart, i64),
        max_notes: Option<i64>,
        progress: &mut dyn FnMut(i64),
    ) -> Tensor {
        let (start, gibbs) = sampler;
        tch::no_grad(|| {
            let kind = self.w.kind();
            let fixed = clamp.fixed.to_kind(kind);
            let held = clamp.value.to_kind(kind) * &fixed;
            let free = fixed.ones_like() - &fixed;
            let steps = fixed.size()[1];
            let mut u = u.shallow_clone();
            let mut v = v_prev.to_kind(kind);
            let mut out = Vec::with_capacity(steps as usize);
            for t in 0..steps {
                let (fixed_t, held_t, free_t) =
                    (fixed.select(1, t), held.select(1, t), free.select(1, t));
                let (bv_t, bh_t) = self.frame_biases(&u);
                v = start.initial(&v, &bv_t) * &free_t + &held_t;
                let mut p = v.shallow_clone();
                for _ in 0..gibbs.max(1) {
                    let h = bernoulli(&hidden_probs(&v, &self.w, &bh_t));
                    p = visible_probs(&h, &self.w, &bv_t);
                    v = bernoulli(&p) * &free_t + &held_t;
                }
                if let Some(max) = max_notes {
                    let clamp_t = (&free_t, &held_t);
                    (v, p) = self.run_on_to_count(v, p, clamp_t, (&bv_t, &bh_t), Voices(max));
                    v = limit_notes(&v, &p, &fixed_t, &held_t, max);
                }
                u = self.step(&u, &v);
                out.push(v.shallow_clone());
                progress(t + 1);
            }
            if out.is_empty() {
                Tensor::zeros([u.size()[0], 0, self.n_visible()], (kind, u.device()))
            } else {
                Tensor::stack(&out, 1)
            }
        })
    }
}
