//! The `rnn-rbm` command line: a thin dispatcher over the library's commands.
use clap::{Parser, Subcommand};
use rnn_rbm::{evaluate, generate, harmonize, infill, parts, plot, render, serve, stats, train};

#[derive(Parser)]
#[command(
    name = "rnn-rbm",
    version,
    about = "Learn polyphonic music from MIDI files with an RNN-RBM and compose new pieces"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Pre-train the RBM alone (W, bv, bh) and write <out>/initialized.ot
    Init(train::InitArgs),
    /// Train the RNN-RBM with CD-k, writing <out>/epoch_<n>.ot checkpoints and metrics.jsonl
    Train(train::TrainArgs),
    /// Compose pieces with a trained checkpoint and write them as MIDI
    Generate(generate::GenerateArgs),
    /// Write the lower voices under a melody (the top voice of a MIDI file)
    Harmonize(harmonize::HarmonizeArgs),
    /// Compose bars FROM..TO of a MIDI file anew, given what comes before (and after) them
    Infill(infill::InfillArgs),
    /// Held-out negative log-likelihood (AIS) and expected frame accuracy, as one JSON object
    Evaluate(evaluate::EvaluateArgs),
    /// Add the reports of `evaluate --part K/N` up to the whole split's, as one JSON object
    Combine(parts::CombineArgs),
    /// Render MIDI files to WAV through a SoundFont synthesizer
    Render(render::RenderArgs),
    /// Draw a MIDI file's piano roll, or a training run's metrics, as a PNG image
    Plot(plot::PlotArgs),
    /// Compare MIDI files with a reference corpus: style features per window, and copying
    Stats(stats::StatsArgs),
    /// A studio in the browser: compose, harmonise and listen (http://127.0.0.1:8080/)
    Serve(serve::ServeArgs),
}

fn main() {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Init(args) => train::run_init(args),
        Command::Train(args) => train::run_train(args),
        Command::Generate(args) => generate::run(args),
        Command::Render(args) => render::run(args),
        Command::Plot(args) => plot::run(args),
        Command::Evaluate(args) => evaluate::run(args),
        Command::Combine(args) => parts::run(args),
        Command::Harmonize(args) => harmonize::run(args),
        Command::Infill(args) => infill::run(args),
        Command::Stats(args) => stats::run(args),
        Command::Serve(args) => serve::run(args),
    };
    if let Err(e) = result {
        if e.downcast_ref::<rnn_rbm::interrupt::Interrupted>()
            .is_some()
        {
            std::process::exit(130);
        }
        // One line, no backtrace: the chain of contexts says which file and what is wrong.
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}
