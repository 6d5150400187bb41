//! The RNN-RBM (Boulanger-Lewandowski, Bengio & Vincent, ICML 2012).
//!
//! Parameters keep the TensorFlow original's names and shapes (row vectors):
//! `W (V, H)`, `bv (1, V)`, `bh (1, H)`, `Wuh (R, H)`, `Wuv (R, V)`, `Wvu (V, R)`,
//! `Wuu (R, R)`, `bu (1, R)`, `u0 (1, R)` — V visible, H hidden, R recurrent units.
//!
//! ```text
//! u_t  = tanh(bu + v_t Wvu + u_{t-1} Wuu)     RNN state after frame t (u_{-1} = u0)
//! bv_t = bv + u_{t-1} Wuv                     the RBM of frame t is conditioned on the
//! bh_t = bh + u_{t-1} Wuh                     state *before* frame t
//! ```
//!
//! Training is CD-k on every frame at once: the biases depend only on the true history, so the
//! Gibbs chains of all frames of a batch run in parallel; the negative samples `ṽ_t` are
//! constants and the loss `mean_t [F_t(v_t) − F_t(ṽ_t)]` backpropagates through `bv_t`, `bh_t`
//! into the RNN. Sequences are batched as `(B, T, V)` with a `(B, T)` mask of real frames.
use super::rbm::{chain_until_count, free_energy, gibbs_chain, NegativePhase};
use super::recurrence;
use tch::{nn, Tensor};

/// `Σ mask·[F(v) − F(neg)] / Σ mask` with per-frame biases.
fn masked_gap(
    v: &Tensor,
    neg: &Tensor,
    w: &Tensor,
    bv_t: &Tensor,
    bh_t: &Tensor,
    mask: &Tensor,
) -> Tensor {
    let gap = free_energy(v, w, bv_t, bh_t) - free_energy(neg, w, bv_t, bh_t);
    let kind = gap.kind();
    (gap * mask).sum(kind) / mask.sum(kind)
}

/// Where the negative Gibbs chains of CD-k start.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    serde::Serialize,
    serde::Deserialize,
    clap::ValueEnum,
    Default,
)]
#[serde(rename_all = "lowercase")]
pub enum ChainStart {
    /// At the data frame itself (standard CD).
    #[default]
    Data,
    /// At the previous data frame (silence before the first): where generation and the accuracy
    /// measure start their chains, so the negative phase sees the modes that sampling reaches
    /// rather than only the data frame's neighbourhood.
    Previous,
}

impl ChainStart {
    /// Where the chains of frames `v (B, T, V)` start, when not at `v` itself: `None` for
    /// [`ChainStart::Data`] (the negative phase then needs no second copy of the data).
    pub fn other_than_data(self, v: &Tensor) -> Option<Tensor> {
        match self {
            ChainStart::Data => None,
            ChainStart::Previous => Some(previous_frames(v)),
        }
    }
}

/// Where generation starts the Gibbs chain of each new vector.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, Default)]
pub enum GibbsStart {
    /// At the previous vector, as the TensorFlow original: the chain tends to stay where it is.
    #[default]
    Previous,
    /// At silence, as the Theano tutorial.
    Silence,
    /// At a sample of the frame's visible biases alone, `v ~ Bernoulli(σ(bv_t))`: what the RNN
    /// expects before the RBM's interactions are taken into account.
    Biases,
}

impl GibbsStart {
    /// Where the chain of a frame starts, given the previous vector `v_prev (B, V)` and the
    /// frame's visible biases `bv_t (B, V)`.
    pub fn initial(self, v_prev: &Tensor, bv_t: &Tensor) -> Tensor {
        match self {
            GibbsStart::Previous => v_prev.shallow_clone(),
            GibbsStart::Silence => v_prev.zeros_like(),
            GibbsStart::Biases => super::rbm::bernoulli(&bv_t.sigmoid()),
        }
    }
}

/// How many notes each composed frame sounds (`generate --voices`): a chorale is four voices, of
/// which two now and then meet on one note. Each frame's chain is run on after its Gibbs steps
/// ([`chain_until_count`], at most [`Voices::MAX_STEPS`] more) until it sounds `n` notes, or
/// `n − 1` in a share [`Voices::FEWER`] of the frames, drawn frame by frame.
///
/// Measured with `rnn-rbm stats` against valid chorales (docs/BENCHMARKS.md, "Four voices"): the
/// committed Bach model's frames sound four notes only 55 % of the time (Bach's train chorales:
/// 89 %, three 9 %); in four voices its pieces score 0.78 against 0.73, and the JSB model's
/// 0.86 against 0.79. `generate` imposes the parts of the model's corpus ([`Voices::of_parts`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Voices(pub i64);

impl Voices {
    /// The share of frames drawn to sound one note fewer. Chosen on the valid chorales: 0.05 and
    /// 0.07 did best on the Bach model (0.778, 0.779; 0 and 0.10: 0.746, 0.765), 0.07 and 0.10 on
    /// the JSB model (0.860, 0.862; 0.05: 0.851).
    pub const FEWER: f64 = 0.07;
    /// The most Gibbs steps a frame's chain is run on to reach its count.
    pub const MAX_STEPS: i64 = 200;

    /// The note count of each of `rows` frames: `n`, or `n − 1` with chance [`Voices::FEWER`].
    pub fn targets(self, rows: i64, kind: tch::Kind, device: tch::Device) -> Tensor {
        let fewer = super::rng::uniform(rows, kind, device)
            .lt(Self::FEWER)
            .to_kind(kind);
        fewer.neg() + self.0 as f64
    }

    /// The least share of a corpus's sounding frames that sound its most common number of notes
    /// for the corpus to count as written in that many parts: the chorales (JSB's train split
    /// 0.905, the Bach corpus 0.90) are; Nottingham (0.79: a tune over chords), MuseData and
    /// Piano-midi.de (0.22, 0.23) are not.
    pub const PARTS_SHARE: f64 = 0.85;

    /// The voices of a corpus whose frames sound `notes` notes in a share `share` of its
    /// sounding frames ([`crate::corpus::Corpus::parts`]): `notes`, when that share is at least
    /// [`Voices::PARTS_SHARE`].
    pub fn of_parts(notes: usize, share: f64) -> Option<Voices> {
        (share >= Self::PARTS_SHARE).then_some(Voices(notes as i64))
    }
}

/// The note count generation imposes, without `--voices`, when the model's corpus is not at hand
/// to say how many parts it is written in ([`Voices::of_parts`]): four for the chorale layout (one
/// frame of sounding notes per beat, read from the Bach chorales by default); none for the
/// others.
pub fn default_voices(config: &crate::config::ModelConfig) -> Option<Voices> {
    let chorale = config.layout == crate::config::Layout::Chorale;
    (config.vectors_are_frames() && chorale).then_some(Voices(4))
}

/// The sampler that generation uses unless told otherwise, measured with `rnn-rbm stats`
/// (docs/BENCHMARKS.md, "Generation" and "Ornaments"): for one frame per vector, chains from
/// silence, whose pieces are closer to the chorales than the original's 25 steps from the previous
/// vector (0.79 against 0.64 on the JSB model); 200 steps for the paper layout (1000 did no better
/// on the JSB model) and 1000 for the chorale layout, whose sharper model of 300 hidden units
/// needs them (0.73 against 0.69 on the committed Bach model, against the valid chorales); for the
/// seed layout the original's, which did better there (0.51 … 0.53 against 0.33 … 0.37 on a Bach
/// model of 60 epochs).
pub fn default_sampler(config: &crate::config::ModelConfig) -> (GibbsStart, i64) {
    match (config.steps_per_vector, config.layout) {
        (1, crate::config::Layout::Chorale) => (GibbsStart::Silence, 1000),
        (1, _) => (GibbsStart::Silence, 200),
        _ => (GibbsStart::Previous, 25),
    }
}

/// `v (B, T, V)` shifted one frame later: frame t holds frame t−1, frame 0 is silence.
pub fn previous_frames(v: &Tensor) -> Tensor {
    shifted(&v.select(1, 0).zeros_like(), v)
}

/// `seq (B, T, …)` shifted one step later: step t holds step t−1, and step 0 holds
/// `first (B, …)` (what came before `seq`). The last step of `seq` is dropped.
pub fn shifted(first: &Tensor, seq: &Tensor) -> Tensor {
    let steps = seq.size()[1];
    Tensor::cat(&[first.unsqueeze(1), seq.narrow(1, 0, steps - 1)], 1)
}

/// Parameter names, as in the original and in every checkpoint.
pub const PARAM_NAMES: [&str; 9] = ["W", "bv", "bh", "Wuh", "Wuv", "Wvu", "Wuu", "bu", "u0"];
/// The RBM's own parameters (what pre-training learns).
pub const RBM_PARAM_NAMES: [&str; 3] = ["W", "bv", "bh"];

/// The gates of the GRU option (`--cell gru`): update `z` and reset `r`.
///
/// ```text
/// z_t = σ(bz + v_t Wvz + u_{t-1} Wuz)        r_t = σ(br + v_t Wvr + u_{t-1} Wur)
/// ũ_t = tanh(bu + v_t Wvu + (r_t ⊙ u_{t-1}) Wuu)
/// u_t = (1 − z_t) ⊙ u_{t-1} + z_t ⊙ ũ_t
/// ```
#[derive(Debug)]
pub struct GruGates {
    pub wvz: Tensor,
    pub wuz: Tensor,
    pub bz: Tensor,
    pub wvr: Tensor,
    pub wur: Tensor,
    pub br: Tensor,
}

/// The GRU gates' checkpoint names, after [`PARAM_NAMES`].
pub const GRU_PARAM_NAMES: [&str; 6] = ["Wvz", "Wuz", "bz", "Wvr", "Wur", "br"];

#[derive(Debug)]
pub struct RnnRbm {
    pub w: Tensor,
    pub bv: Tensor,
    pub bh: Tensor,
    pub wuh: Tensor,
    pub wuv: Tensor,
    pub wvu: Tensor,
    pub wuu: Tensor,
    pub bu: Tensor,
    pub u0: Tensor,
    /// Present with `--cell gru`.
    pub gru: Option<GruGates>,
}

impl RnnRbm {
    /// New parameters under `p`: `W ~ N(0, 0.01)`, recurrent weights `~ N(0, 0.0001)`, biases and
    /// `u0` zero — the Theano tutorial's initialisation (the TensorFlow original passed 0.01 as the
    /// *mean* of a unit-variance normal, a bug not kept here).
    pub fn new(p: &nn::Path, n_visible: i64, n_hidden: i64, n_rnn: i64) -> Self {
        let normal = |stdev| nn::Init::Randn { mean: 0.0, stdev };
        let zero = nn::Init::Const(0.0);
        RnnRbm {
            w: p.var("W", &[n_visible, n_hidden], normal(0.01)),
            bv: p.var("bv", &[1, n_visible], zero),
            bh: p.var("bh", &[1, n_hidden], zero),
            wuh: p.var("Wuh", &[n_rnn, n_hidden], normal(1e-4)),
            wuv: p.var("Wuv", &[n_rnn, n_visible], normal(1e-4)),
            wvu: p.var("Wvu", &[n_visible, n_rnn], normal(1e-4)),
            wuu: p.var("Wuu", &[n_rnn, n_rnn], normal(1e-4)),
            bu: p.var("bu", &[1, n_rnn], zero),
            u0: p.var("u0", &[1, n_rnn], zero),
            gru: None,
        }
    }

    /// The model that `config` describes (sizes and recurrent cell), under `p`.
    pub fn for_config(p: &nn::Path, config: &crate::config::ModelConfig) -> Self {
        Self::with_cell(
            config.cell,
            p,
            config.n_visible(),
            config.n_hidden,
            config.n_rnn,
        )
    }

    /// [`new`](Self::new) with the given recurrent cell; the GRU's gate weights start like the
    /// other recurrent weights, `N(0, 0.0001)`, and their biases at zero (gates half open).
    pub fn with_cell(
        cell: crate::config::Cell,
        p: &nn::Path,
        n_visible: i64,
        n_hidden: i64,
        n_rnn: i64,
    ) -> Self {
        let mut model = Self::new(p, n_visible, n_hidden, n_rnn);
        if cell == crate::config::Cell::Gru {
            let normal = nn::Init::Randn {
                mean: 0.0,
                stdev: 1e-4,
            };
            let zero = nn::Init::Const(0.0);
            model.gru = Some(GruGates {
                wvz: p.var("Wvz", &[n_visible, n_rnn], normal),
                wuz: p.var("Wuz", &[n_rnn, n_rnn], normal),
                bz: p.var("bz", &[1, n_rnn], zero),
                wvr: p.var("Wvr", &[n_visible, n_rnn], normal),
                wur: p.var("Wur", &[n_rnn, n_rnn], normal),
                br: p.var("br", &[1, n_rnn], zero),
            });
        }
        model
    }

    pub fn n_visible(&self) -> i64 {
        self.w.size()[0]
    }

    /// `u0` repeated for a batch: `(B, R)`.
    pub fn initial_state(&self, batch: i64) -> Tensor {
        self.u0.expand([batch, self.u0.size()[1]], false)
    }

    /// One RNN step: `u_t = tanh(bu + v_t Wvu + u_{t-1} Wuu)` (or the GRU's); `u (B, R)`,
    /// `v (B, V)` → `(B, R)`.
    pub fn step(&self, u: &Tensor, v: &Tensor) -> Tensor {
        let inputs = self.input_projections(v);
        self.recur(&inputs, u, |x| x.shallow_clone())
    }

    /// The input side of every recurrence for frames `v (…, V)`: `v Wvu + bu`, then (GRU)
    /// `v Wvz + bz` and `v Wvr + br`.
    fn input_projections(&self, v: &Tensor) -> Vec<Tensor> {
        let mut out = vec![v.matmul(&self.wvu) + &self.bu];
        if let Some(g) = &self.gru {
            out.push(v.matmul(&g.wvz) + &g.bz);
            out.push(v.matmul(&g.wvr) + &g.br);
        }
        out
    }

    /// One recurrence from state `u (B, R)`, with the input projections picked by `at`.
    fn recur(&self, inputs: &[Tensor], u: &Tensor, at: impl Fn(&Tensor) -> Tensor) -> Tensor {
        match &self.gru {
            None => (at(&inputs[0]) + u.matmul(&self.wuu)).tanh(),
            Some(g) => {
                let z = (at(&inputs[1]) + u.matmul(&g.wuz)).sigmoid();
                let r = (at(&inputs[2]) + u.matmul(&g.wur)).sigmoid();
                let candidate = (at(&inputs[0]) + (r * u).matmul(&self.wuu)).tanh();
                u + z * (candidate - u)
            }
        }
    }

    /// Runs the RNN over `v (B, T, V)` from `u_init (B, R)` (`u0` when `None`). Returns the states
    /// *before* each frame, `(B, T, R)` — what conditions each frame's RBM — and the state after
    /// the last frame, `(B, R)`.
    pub fn rnn_states(&self, v: &Tensor, u_init: Option<&Tensor>) -> (Tensor, Tensor) {
        let (batch, steps) = (v.size()[0], v.size()[1]);
        // The input projections of every frame in one matrix product; only the recurrent
        // products are sequential.
        let inputs = self.input_projections(v);
        let mut u = match u_init {
            Some(u) => u.shallow_clone(),
            None => self.initial_state(batch),
        };
        let mut before = Vec::with_capacity(steps as usize);
        for t in 0..steps {
            before.push(u.shallow_clone());
            u = self.recur(&inputs, &u, |x| x.select(1, t));
        }
        (Tensor::stack(&before, 1), u)
    }

    /// [`rnn_states`](Self::rnn_states) through libtorch's fused `rnn_tanh` (cuDNN on CUDA: one
    /// call for the whole chunk instead of a few kernel launches per frame). Tanh cell only.
    pub fn rnn_states_fused(&self, v: &Tensor, u_init: Option<&Tensor>) -> (Tensor, Tensor) {
        assert!(self.gru.is_none(), "rnn_tanh is the tanh cell");
        let batch = v.size()[0];
        let u = match u_init {
            Some(u) => u.shallow_clone(),
            None => self.initial_state(batch),
        };
        let bu = self.bu.squeeze_dim(0);
        let params = [
            self.wvu.tr(),
            self.wuu.tr(),
            bu.shallow_clone(),
            bu.zeros_like(),
        ];
        let (out, last) = Tensor::rnn_tanh(
            &v.to_kind(self.wvu.kind()),
            &u.unsqueeze(0).contiguous(),
            &params,
            true,
            1,
            0.0,
            true,
            false,
            true,
        );
        let before = shifted(&u, &out);
        (before, last.squeeze_dim(0))
    }

    /// The RBM biases of each frame from the state before it: `bv_t = bv + u Wuv`,
    /// `bh_t = bh + u Wuh`, for `u (…, R)`.
    pub fn frame_biases(&self, u_before: &Tensor) -> (Tensor, Tensor) {
        (
            u_before.matmul(&self.wuv) + &self.bv,
            u_before.matmul(&self.wuh) + &self.bh,
        )
    }

    /// Mean over the frames where `mask (B, T)` is 1 of `F_t(v_t) − F_t(neg_t)`, for data
    /// `v (B, T, V)` and fixed negative samples `neg (B, T, V)`. Its gradient is the CD-k update.
    pub fn free_energy_gap(&self, v: &Tensor, neg: &Tensor, mask: &Tensor) -> Tensor {
        let (bv_t, bh_t) = self.frame_biases(&self.rnn_states(v, None).0);
        masked_gap(v, neg, &self.w, &bv_t, &bh_t, mask)
    }

    /// The CD-k loss of a batch: Gibbs chains of `k` steps start at every data frame (all frames
    /// in parallel), and the free-energy gap to their final samples is returned, with gradient.
    pub fn cd_loss(&self, v: &Tensor, mask: &Tensor, k: i64) -> Tensor {
        self.cd_loss_from(v, mask, k, 0, ChainStart::Data)
    }

    /// [`cd_loss`](Self::cd_loss) with the negative chains started at `start`, with note moves
    /// after every `moves`-th Gibbs step (0: none; [`super::rbm::gibbs_chain_moving`]).
    pub fn cd_loss_from(
        &self,
        v: &Tensor,
        mask: &Tensor,
        k: i64,
        moves: usize,
        start: ChainStart,
    ) -> Tensor {
        let (bv_t, bh_t) = self.frame_biases(&self.rnn_states(v, None).0);
        self.cd_gap(v, mask, k, moves, start, &bv_t, &bh_t)
    }

    /// Whether [`cd_backward`](Self::cd_backward) runs by hand (the tanh cell on the CPU) rather
    /// than through autograd; with float32 its negative phase is then the fused kernel
    /// ([`super::gibbs_cpu`]).
    pub fn updates_by_hand(&self) -> bool {
        self.gru.is_none()
            && self.w.device() == tch::Device::Cpu
            && matches!(self.w.kind(), tch::Kind::Float | tch::Kind::Double)
    }

    /// One CD-k update's gradients: accumulates `∂L/∂θ` of [`cd_loss_from`](Self::cd_loss_from)
    /// into every parameter's `grad()` and returns the loss (detached).
    ///
    /// On the CPU, with the tanh cell, the whole update runs by hand, without autograd: the
    /// recurrence forward ([`super::recurrence`]), the negative phase (the fused kernel
    /// [`super::gibbs_cpu`] in float32), the RBM's gradients and `G = ∂L/∂u_before` in closed form
    /// ([`rbm_backward`](Self::rbm_backward)), and the recurrence backward, which carries `G` into
    /// `Wvu`, `Wuu`, `bu` and `u0`. Elsewhere (the GRU, CUDA) autograd does it all, with the
    /// recurrence as one fused `rnn_tanh` on CUDA. Both give the same gradients for the same
    /// negative samples (tests/model.rs, tests/negative_phase.rs).
    pub fn cd_backward(
        &self,
        v: &Tensor,
        mask: &Tensor,
        k: i64,
        moves: usize,
        start: ChainStart,
    ) -> Tensor {
        if !self.updates_by_hand() {
            let loss = if v.device().is_cuda() && self.gru.is_none() {
                let (bv_t, bh_t) = self.frame_biases(&self.rnn_states_fused(v, None).0);
                self.cd_gap(v, mask, k, moves, start, &bv_t, &bh_t)
            } else {
                self.cd_loss_from(v, mask, k, moves, start)
            };
            loss.backward();
            return loss.detach();
        }
        match self.w.kind() {
            tch::Kind::Double => self.cd_backward_by_hand::<f64>(v, mask, k, moves, start),
            _ => self.cd_backward_by_hand::<f32>(v, mask, k, moves, start),
        }
    }

    /// The free-energy gap to CD-k's negative samples, given the frames' biases.
    #[allow(clippy::too_many_arguments)]
    fn cd_gap(
        &self,
        v: &Tensor,
        mask: &Tensor,
        k: i64,
        moves: usize,
        start: ChainStart,
        bv_t: &Tensor,
        bh_t: &Tensor,
    ) -> Tensor {
        let v0 = start
            .other_than_data(v)
            .unwrap_or_else(|| v.shallow_clone());
        let neg = super::rbm::gibbs_chain_moving(&v0, &self.w, bv_t, bh_t, k, moves);
        masked_gap(v, &neg, &self.w, bv_t, bh_t, mask)
    }

    fn cd_backward_by_hand<F: recurrence::Real + tch::kind::Element>(
        &self,
        v: &Tensor,
        mask: &Tensor,
        k: i64,
        moves: usize,
        start: ChainStart,
    ) -> Tensor {
        let (batch, steps, r) = (v.size()[0], v.size()[1], self.wuu.size()[0]);
        let (b_, t_, r_) = (batch as usize, steps as usize, r as usize);
        let flat = |t: &Tensor| Vec::<F>::try_from(t.contiguous().view(-1)).expect("tensor data");
        tch::no_grad(|| {
            // Forward: input projections in one product, the recurrence by hand.
            let v = v.to_kind(self.w.kind());
            let x = (v.matmul(&self.wvu) + &self.bu).transpose(0, 1);
            let wuu = flat(&self.wuu);
            let s = recurrence::forward(
                &flat(&x),
                &flat(&self.initial_state(batch)),
                &wuu,
                t_,
                b_,
                r_,
            );
            let states = Tensor::from_slice(&s).view([steps + 1, batch, r]);
            // The states before each frame, one row per frame (batch-major).
            let u_before = states
                .narrow(0, 0, steps)
                .transpose(0, 1)
                .reshape([batch * steps, r]);
            let (d_u_before, loss) = self.rbm_backward(&v, mask, k, moves, start, &u_before);
            // Backward through the recurrence by hand; the sums over time as single products.
            let g = flat(&d_u_before.view([batch, steps, r]).transpose(0, 1));
            let (da, du_init) = recurrence::backward(&s, &g, &wuu, t_, b_, r_);
            let da = Tensor::from_slice(&da).view([steps * batch, r]);
            let s_prev = states.narrow(0, 0, steps).reshape([steps * batch, r]);
            let v_tm = v.transpose(0, 1).reshape([steps * batch, -1]);
            accumulate_grad(&self.wvu, &v_tm.tr().matmul(&da));
            accumulate_grad(&self.wuu, &s_prev.tr().matmul(&da));
            accumulate_grad(&self.bu, &da.sum_dim_intlist(0, true, da.kind()));
            let du0 = Tensor::from_slice(&du_init).view([batch, r]);
            accumulate_grad(&self.u0, &du0.sum_dim_intlist(0, true, da.kind()));
            loss
        })
    }

    /// The RBM side of a CD-k update by hand, given the states before each frame
    /// `u_before (B·T, R)` (batch-major rows): accumulates the gradients of `W`, `bv`, `bh`, `Wuv`
    /// and `Wuh`, and returns `∂L/∂u_before (B·T, R)` and the loss. With `c_n = mask_n / Σ mask`,
    ///
    /// ```text
    /// ∂L/∂bv_n = c_n (ṽ_n − v_n)            ∂L/∂bh_n = c_n (σ(ṽ_n W + bh_n) − σ(v_n W + bh_n))
    /// ∂L/∂W    = Σ_n ṽ_nᵀ c_n σ(ṽ_n W + bh_n) − v_nᵀ c_n σ(v_n W + bh_n)
    /// ∂L/∂Wuv  = u_beforeᵀ ∂L/∂bv_·          ∂L/∂u_before = ∂L/∂bv_· Wuvᵀ + ∂L/∂bh_· Wuhᵀ
    /// ```
    fn rbm_backward(
        &self,
        v: &Tensor,
        mask: &Tensor,
        k: i64,
        moves: usize,
        start: ChainStart,
        u_before: &Tensor,
    ) -> (Tensor, Tensor) {
        let n_visible = self.n_visible();
        let rows = u_before.size()[0];
        let (bv_t, bh_t) = self.frame_biases(u_before);
        let v_rows = v.reshape([rows, n_visible]);
        let v0 = start
            .other_than_data(v)
            .map(|v0| v0.reshape([rows, n_visible]));
        let kind = self.w.kind();
        let mask = mask.reshape([rows, 1]).to_kind(kind);
        let phase = if super::gibbs_cpu::applicable(&self.w) {
            let (w, v0) = (&self.w, v0.as_ref());
            let active = mask.view([rows]);
            super::gibbs_cpu::negative_phase_of(
                w,
                &bv_t,
                &bh_t,
                &v_rows,
                v0,
                k,
                moves,
                Some(&active),
            )
        } else {
            NegativePhase::by_tensors(&self.w, &bv_t, &bh_t, &v_rows, v0.as_ref(), k, moves)
        };
        let c = &mask / mask.sum(kind);
        let loss = (phase.gap.to_kind(kind) * c.view([rows])).sum(kind);
        let d_bv = (&phase.neg - &v_rows) * &c;
        let neg_hidden = &phase.neg_hidden * &c;
        let data_hidden = &phase.data_hidden * &c;
        let d_bh = &neg_hidden - &data_hidden;
        let d_w = phase.neg.tr().matmul(&neg_hidden) - v_rows.tr().matmul(&data_hidden);
        accumulate_grad(&self.w, &d_w);
        accumulate_grad(&self.bv, &d_bv.sum_dim_intlist(0, true, kind));
        accumulate_grad(&self.bh, &d_bh.sum_dim_intlist(0, true, kind));
        let u_t = u_before.tr();
        accumulate_grad(&self.wuv, &u_t.matmul(&d_bv));
        accumulate_grad(&self.wuh, &u_t.matmul(&d_bh));
        let d_u = d_bv.matmul(&self.wuv.tr()) + d_bh.matmul(&self.wuh.tr());
        (d_u, loss)
    }

    /// Pre-training loss of the RBM alone (`W`, `bv`, `bh`, no RNN) on frames `v (N, V)`.
    pub fn rbm_cd_loss(&self, v: &Tensor, k: i64) -> Tensor {
        let neg = gibbs_chain(v, &self.w, &self.bv, &self.bh, k);
        (free_energy(v, &self.w, &self.bv, &self.bh)
            - free_energy(&neg, &self.w, &self.bv, &self.bh))
        .mean(v.kind())
    }

    /// Composes `n` vectors for each of a batch of RNN states `u (B, R)`: each vector is the last
    /// sample of a `gibbs`-step chain of its frame's RBM, started from the previous vector
    /// (`v_prev (B, V)`), and is then fed to the RNN. Returns `(B, n, V)` binary vectors.
    pub fn generate(&self, u: &Tensor, v_prev: &Tensor, n: i64, gibbs: i64) -> Tensor {
        self.generate_with_progress(u, v_prev, n, gibbs, GibbsStart::Previous, None, &mut |_| {})
    }

    /// [`generate`](Self::generate) with each chain started at `start`, then run on until the
    /// vector sounds as many notes as `voices` asks (when given; the vectors must be frames of
    /// sounding notes), calling `progress(vectors_done)` after every vector.
    #[allow(clippy::too_many_arguments)]
    pub fn generate_with_progress(
        &self,
        u: &Tensor,
        v_prev: &Tensor,
        n: i64,
        gibbs: i64,
        start: GibbsStart,
        voices: Option<Voices>,
        progress: &mut dyn FnMut(i64),
    ) -> Tensor {
        tch::no_grad(|| {
            let mut u = u.shallow_clone();
            let mut v = v_prev.to_kind(self.w.kind());
            let mut out = Vec::with_capacity(n as usize);
            for _ in 0..n {
                let (bv_t, bh_t) = self.frame_biases(&u);
                let v0 = start.initial(&v, &bv_t);
                v = gibbs_chain(&v0, &self.w, &bv_t, &bh_t, gibbs);
                if let Some(voices) = voices {
                    let target = voices.targets(v.size()[0], v.kind(), v.device());
                    v = chain_until_count(&v, &self.w, &bv_t, &bh_t, &target, Voices::MAX_STEPS);
                }
                u = self.step(&u, &v);
                out.push(v.shallow_clone());
                progress(out.len() as i64);
            }
            if out.is_empty() {
                Tensor::zeros(
                    [v.size()[0], 0, self.n_visible()],
                    (self.w.kind(), v.device()),
                )
            } else {
                Tensor::stack(&out, 1)
            }
        })
    }
}

impl RnnRbm {
    /// The parameters with their checkpoint names, in [`PARAM_NAMES`] order (then
    /// [`GRU_PARAM_NAMES`] with a GRU).
    pub fn named_parameters(&self) -> Vec<(String, Tensor)> {
        let all = [
            &self.w, &self.bv, &self.bh, &self.wuh, &self.wuv, &self.wvu, &self.wuu, &self.bu,
            &self.u0,
        ];
        let mut named: Vec<(String, Tensor)> = PARAM_NAMES
            .iter()
            .zip(all)
            .map(|(n, t)| (n.to_string(), t.shallow_clone()))
            .collect();
        if let Some(g) = &self.gru {
            let gates = [&g.wvz, &g.wuz, &g.bz, &g.wvr, &g.wur, &g.br];
            named.extend(
                GRU_PARAM_NAMES
                    .iter()
                    .zip(gates)
                    .map(|(n, t)| (n.to_string(), t.shallow_clone())),
            );
        }
        named
    }
}

/// `∂L/∂θ += g`: in place where `θ` already has a gradient (every update after the first, since
/// the optimizer zeroes gradients in place), else through autograd once, which creates it.
fn accumulate_grad(param: &Tensor, g: &Tensor) {
    let mut grad = param.grad();
    if grad.defined() {
        let _ = grad.g_add_(g);
    } else {
        tch::with_grad(|| (param * g.detach()).sum(g.kind()).backward());
    }
}
