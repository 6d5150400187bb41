//! Parts of a split, for an evaluation too long for one sitting: `evaluate --part K/N` scores
//! the pieces whose index is K modulo N, and `rnn-rbm combine` adds the N reports up to the
//! whole split's figures.
//!
//! The parts interleave (pieces K, K + N, K + 2N, …) rather than cut the split into runs, so
//! every part is itself a sample of the whole. Part K draws its random numbers from `--seed` + K.
//!
//! Combining, with `f_i` the frames of part `i` and `F = Σ f_i`:
//! - means over frames (`nll_per_frame`, `nll_conservative`, `nll_lower_bound`, `ess_mean`, …)
//!   are weighted by frames, `Σ f_i x_i / F`;
//! - standard errors add in quadrature, `sqrt(Σ (f_i s_i)²) / F`;
//! - counts (`frames`, `pieces`, refined and disputed frames, seconds) add up;
//! - the accuracies are recomputed from the summed counts, `ΣTP / Σ(TP + FP + FN)`;
//! - `ess_min` is the least of the parts'.
//!
//! Reports must agree on what was measured (checkpoint, data, split and estimator settings) and
//! name each part once; missing parts leave `"complete": false`, and a figure that only some
//! reports have is left out of the whole and named in `"left_out"`.
use anyhow::{bail, Context, Result};
use serde_json::{json, Map, Value};
use std::path::{Path, PathBuf};

/// Part `index` of `of`: the pieces whose index is `index` modulo `of`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Part {
    pub index: usize,
    pub of: usize,
}

impl std::str::FromStr for Part {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("{s:?}: expected K/N with 0 ≤ K < N, e.g. 0/4");
        let (k, n) = s.split_once('/').ok_or_else(bad)?;
        let (index, of) = (
            k.trim().parse::<usize>().map_err(|_| bad())?,
            n.trim().parse::<usize>().map_err(|_| bad())?,
        );
        if index >= of {
            return Err(bad());
        }
        Ok(Part { index, of })
    }
}

impl std::fmt::Display for Part {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.of)
    }
}

impl Part {
    /// Whether piece number `piece` (from 0) belongs to this part.
    pub fn holds(&self, piece: usize) -> bool {
        piece % self.of == self.index
    }
}

/// What every part must share: the thing measured and how.
const SAME: [&str; 8] = [
    "checkpoint",
    "data",
    "split",
    "frame_unit",
    "ais_chains",
    "ais_temperatures",
    "ais_moves",
    "ais_jumps",
];
/// Means over frames.
const MEANS: [&str; 8] = [
    "nll_per_frame",
    "nll_conservative",
    "nll_lower_bound",
    "nll_floored",
    "nll_conservative_floored",
    "ais_below_bound",
    "ess_mean",
    "ess_conservative_mean",
];
/// Standard errors of means over frames.
const STDERRS: [&str; 2] = ["nll_stderr", "nll_conservative_stderr"];
/// Totals.
const SUMS: [&str; 5] = [
    "frames",
    "pieces",
    "refined_frames",
    "disputed_frames",
    "seconds",
];

/// Reads the report of `evaluate --part` at `path`.
pub fn read_report(path: &Path) -> Result<Value> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("{}: cannot read", path.display()))?;
    let report: Value = serde_json::from_str(&text)
        .with_context(|| format!("{}: not a JSON report of `evaluate`", path.display()))?;
    if !report.is_object() {
        bail!("{}: not a JSON report of `evaluate`", path.display());
    }
    Ok(report)
}

fn part_of(path: &Path, report: &Value) -> Result<Part> {
    let text = report["part"].as_str().with_context(|| {
        format!(
            "{}: no \"part\": not a report of `evaluate --part K/N`",
            path.display()
        )
    })?;
    text.parse::<Part>()
        .map_err(|e| anyhow::anyhow!("{}: part {e}", path.display()))
}

fn number(path: &Path, report: &Value, key: &str) -> Result<f64> {
    report[key]
        .as_f64()
        .with_context(|| format!("{}: no number \"{key}\"", path.display()))
}

/// Checks that `reports` are distinct parts of one evaluation; returns N, which of the N parts
/// are there, and each report's frames.
fn check_parts(reports: &[(PathBuf, Value)]) -> Result<(usize, Vec<bool>, Vec<f64>)> {
    let Some((first_path, first)) = reports.first() else {
        bail!("no reports to combine");
    };
    let of = part_of(first_path, first)?.of;
    let mut seen: Vec<Option<&Path>> = vec![None; of];
    let mut frames = Vec::with_capacity(reports.len());
    for (path, report) in reports {
        let part = part_of(path, report)?;
        if part.of != of {
            bail!(
                "{}: part {part}, where {} is a part of {of}",
                path.display(),
                first_path.display()
            );
        }
        if let Some(other) = seen[part.index] {
            bail!(
                "{}: part {part} is also {}",
                path.display(),
                other.display()
            );
        }
        seen[part.index] = Some(path);
        for key in SAME {
            if report[key] != first[key] {
                bail!(
                    "{}: {key} is {}, where {} has {}",
                    path.display(),
                    report[key],
                    first_path.display(),
                    first[key]
                );
            }
        }
        frames.push(number(path, report, "frames")?);
    }
    Ok((of, seen.iter().map(Option::is_some).collect(), frames))
}

/// The whole split's report from the reports of its parts (see the module's documentation).
pub fn combine(reports: &[(PathBuf, Value)]) -> Result<Value> {
    let (of, seen, frames) = check_parts(reports)?;
    let first = &reports[0].1;
    let total: f64 = frames.iter().sum();
    // A figure in some reports only (written by another version, or without RAISE) is left out
    // of the whole, and `left_out` says which and why.
    let mut left_out = Vec::new();
    let mut present = |key: &str| -> Result<bool> {
        let with = reports.iter().filter(|(_, r)| !r[key].is_null()).count();
        if with != 0 && with != reports.len() {
            let (path, _) = reports.iter().find(|(_, r)| r[key].is_null()).unwrap();
            left_out.push(format!("{key} (not in {})", path.display()));
            return Ok(false);
        }
        Ok(with > 0)
    };
    let mut out = Map::new();
    for key in SAME {
        out.insert(key.to_string(), first[key].clone());
    }
    for key in MEANS {
        if present(key)? {
            let mut sum = 0.0;
            for ((path, report), f) in reports.iter().zip(&frames) {
                sum += f * number(path, report, key)?;
            }
            out.insert(key.to_string(), json!(sum / total));
        }
    }
    for key in STDERRS {
        if present(key)? {
            let mut sum = 0.0;
            for ((path, report), f) in reports.iter().zip(&frames) {
                sum += (f * number(path, report, key)?).powi(2);
            }
            out.insert(key.to_string(), json!(sum.sqrt() / total));
        }
    }
    for key in SUMS {
        if present(key)? {
            let mut sum = 0.0;
            for (path, report) in reports {
                sum += number(path, report, key)?;
            }
            let value = if key == "seconds" {
                json!(sum)
            } else {
                json!(sum.round() as i64)
            };
            out.insert(key.to_string(), value);
        }
    }
    if present("ess_min")? {
        let mut least = f64::INFINITY;
        for (path, report) in reports {
            least = least.min(number(path, report, "ess_min")?);
        }
        out.insert("ess_min".into(), json!(least));
    }
    for (acc, counts) in [
        ("acc", "acc_counts"),
        ("acc_majority", "acc_majority_counts"),
        ("acc_mode", "acc_mode_counts"),
        ("acc_repeat", "acc_repeat_counts"),
    ] {
        // (acc_mode and acc_repeat came later than the others.)
        if matches!(acc, "acc_mode" | "acc_repeat") && !present(acc)? {
            continue;
        }
        let mut sum = [0.0; 3];
        for (path, report) in reports {
            for (s, key) in sum.iter_mut().zip(["tp", "fp", "fn"]) {
                *s += report[counts][key].as_f64().with_context(|| {
                    format!(
                        "{}: no \"{counts}\" (written before `combine` existed?)",
                        path.display()
                    )
                })?;
            }
        }
        let all: f64 = sum.iter().sum();
        let percent = if all > 0.0 { 100.0 * sum[0] / all } else { 0.0 };
        out.insert(acc.into(), json!(percent));
        out.insert(
            counts.into(),
            json!({"tp": sum[0], "fp": sum[1], "fn": sum[2]}),
        );
    }
    if !left_out.is_empty() {
        out.insert("left_out".into(), json!(left_out));
    }
    let parts: Vec<usize> = (0..of).filter(|&k| seen[k]).collect();
    out.insert("complete".into(), json!(parts.len() == of));
    out.insert("parts".into(), json!(parts));
    out.insert("of".into(), json!(of));
    Ok(Value::Object(out))
}

#[derive(clap::Args, Debug)]
pub struct CombineArgs {
    /// The JSON reports of `evaluate --part K/N`, one per part
    #[arg(required = true)]
    pub reports: Vec<PathBuf>,
}

/// `rnn-rbm combine`: prints the whole split's report, and on stderr the parts still missing.
pub fn run(args: CombineArgs) -> Result<()> {
    let reports = args
        .reports
        .iter()
        .map(|p| Ok((p.clone(), read_report(p)?)))
        .collect::<Result<Vec<_>>>()?;
    let whole = combine(&reports)?;
    if whole["complete"] == json!(false) {
        let of = whole["of"].as_u64().unwrap_or(0) as usize;
        let have: Vec<u64> = whole["parts"]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_u64).collect())
            .unwrap_or_default();
        let missing: Vec<String> = (0..of as u64)
            .filter(|k| !have.contains(k))
            .map(|k| format!("{k}/{of}"))
            .collect();
        eprintln!(
            "not the whole split: part(s) {} missing",
            missing.join(", ")
        );
    }
    println!("{whole}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(part: &str, frames: i64, nll: f64, stderr: f64, tp: f64) -> Value {
        json!({
            "part": part, "checkpoint": "m.ot", "data": "d.json", "split": "valid",
            "frame_unit": "one grid step", "ais_chains": 16, "ais_temperatures": 1000,
            "ais_moves": 1, "ais_jumps": 64, "frames": frames, "pieces": 2,
            "nll_per_frame": nll, "nll_stderr": stderr, "ess_mean": 0.5, "ess_min": nll / 10.0,
            "refined_frames": 1, "seconds": 1.5,
            "acc_counts": {"tp": tp, "fp": 1.0, "fn": 1.0},
            "acc_majority_counts": {"tp": 1.0, "fp": 0.0, "fn": 1.0},
            "acc_mode": 75.0, "acc_mode_counts": {"tp": 3.0, "fp": 1.0, "fn": 0.0},
            "acc_repeat": 0.0, "acc_repeat_counts": {"tp": 0.0, "fp": 1.0, "fn": 3.0},
        })
    }

    fn parts(reports: Vec<Value>) -> Vec<(PathBuf, Value)> {
        reports
            .into_iter()
            .enumerate()
            .map(|(i, r)| (PathBuf::from(format!("p{i}.json")), r))
            .collect()
    }

    #[test]
    fn parts_parse_from_k_slash_n_and_hold_every_nth_piece() {
        let p: Part = "1/3".parse().unwrap();
        assert_eq!(p, Part { index: 1, of: 3 });
        assert_eq!(p.to_string(), "1/3");
        let held: Vec<usize> = (0..8).filter(|&i| p.holds(i)).collect();
        assert_eq!(held, vec![1, 4, 7]);
        for bad in ["3/3", "1", "a/2", "1/0", "-1/2", ""] {
            assert!(bad.parse::<Part>().is_err(), "{bad}");
        }
    }

    #[test]
    fn combining_weights_means_by_frames_and_adds_errors_in_quadrature() {
        let whole = combine(&parts(vec![
            report("0/2", 100, 2.0, 0.1, 8.0),
            report("1/2", 300, 3.0, 0.2, 2.0),
        ]))
        .unwrap();
        assert_eq!(whole["frames"], 400);
        assert_eq!(whole["pieces"], 4);
        assert_eq!(whole["refined_frames"], 2);
        assert_eq!(whole["seconds"], 3.0);
        assert!((whole["nll_per_frame"].as_f64().unwrap() - 2.75).abs() < 1e-12);
        let se = ((100.0f64 * 0.1).powi(2) + (300.0f64 * 0.2).powi(2)).sqrt() / 400.0;
        assert!((whole["nll_stderr"].as_f64().unwrap() - se).abs() < 1e-12);
        assert_eq!(whole["ess_min"], 0.2);
        // ΣTP / Σ(TP + FP + FN) = 10 / 14, not the mean of 80 % and 50 %.
        assert!((whole["acc"].as_f64().unwrap() - 100.0 * 10.0 / 14.0).abs() < 1e-12);
        assert!((whole["acc_majority"].as_f64().unwrap() - 50.0).abs() < 1e-12);
        assert!((whole["acc_mode"].as_f64().unwrap() - 75.0).abs() < 1e-12);
        assert_eq!(
            whole["acc_mode_counts"],
            json!({"tp": 6.0, "fp": 2.0, "fn": 0.0})
        );
        assert_eq!(whole["acc_repeat"], 0.0);
        assert_eq!(whole["complete"], true);
        assert_eq!(whole["parts"], json!([0, 1]));
        assert!(whole.get("nll_conservative").is_none());
    }

    #[test]
    fn a_missing_part_leaves_the_combination_incomplete() {
        let whole = combine(&parts(vec![report("2/3", 10, 2.0, 0.1, 1.0)])).unwrap();
        assert_eq!(whole["complete"], false);
        assert_eq!(whole["parts"], json!([2]));
        assert_eq!(whole["of"], 3);
    }

    #[test]
    fn reports_that_disagree_or_repeat_a_part_are_refused_by_name_and_partial_figures_left_out() {
        let mut other = report("1/2", 10, 2.0, 0.1, 1.0);
        other["ais_temperatures"] = json!(4000);
        let e = combine(&parts(vec![report("0/2", 10, 2.0, 0.1, 1.0), other])).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("p1.json: ais_temperatures is 4000"),
            "{e}"
        );
        let e = combine(&parts(vec![
            report("0/2", 10, 2.0, 0.1, 1.0),
            report("0/2", 10, 2.0, 0.1, 1.0),
        ]))
        .unwrap_err();
        assert_eq!(e.to_string(), "p1.json: part 0/2 is also p0.json");
        let e = combine(&parts(vec![
            report("0/2", 10, 2.0, 0.1, 1.0),
            report("0/3", 10, 2.0, 0.1, 1.0),
        ]))
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "p1.json: part 0/3, where p0.json is a part of 2"
        );
        let mut older = report("1/2", 10, 2.0, 0.1, 1.0);
        for key in [
            "ess_mean",
            "acc_mode",
            "acc_mode_counts",
            "acc_repeat",
            "acc_repeat_counts",
        ] {
            older.as_object_mut().unwrap().remove(key);
        }
        let whole = combine(&parts(vec![report("0/2", 10, 2.0, 0.1, 1.0), older])).unwrap();
        assert!(whole.get("ess_mean").is_none());
        assert!(whole.get("acc_mode").is_none() && whole.get("acc_mode_counts").is_none());
        assert!(whole.get("acc_repeat").is_none());
        assert_eq!(
            whole["left_out"],
            json!([
                "ess_mean (not in p1.json)",
                "acc_mode (not in p1.json)",
                "acc_repeat (not in p1.json)"
            ])
        );
        let mut whole = report("0/2", 10, 2.0, 0.1, 1.0);
        whole.as_object_mut().unwrap().remove("part");
        let e = combine(&parts(vec![whole])).unwrap_err();
        assert!(
            e.to_string().contains("not a report of `evaluate --part"),
            "{e}"
        );
    }
}
