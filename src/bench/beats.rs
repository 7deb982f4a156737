//! `hypna bench --beats DIR`: beat tracking scored on an annotated set of clips, for the
//! neural tracker, the classic tracker and `aubio beat` (aubio-tools, run as a child
//! process), in one run.
//!
//! A clip is `NAME.wav` with `NAME.beats` (one beat a line: `time_secs [beat_in_bar]`, 1 = the
//! downbeat) and optionally `NAME.toml` (`tempo_change_secs = ...` for the re-lock time).
//! `scripts/beat-eval-set.py` writes such a set. hypna's trackers read each WAV through the
//! same [`Analyzer`] seam as live input, one hop at a time; a beat is the hop in which the
//! `beat` pulse fires (its end time), a downbeat the hop in which `downbeat` fires.
//!
//! Scores (see [`super::beat_metrics`]), all after a 5 s lock-in: beat F-measure (70 ms),
//! `CMLt` and `AMLt`, downbeat F-measure, tempo accuracy (share of hops within 4% of the annotated
//! tempo, and up to a factor 2 or 3), octave flips, the longest off-beat lock and the re-lock
//! time after a tempo change. For aubio the tempo is 60 over each inter-beat interval.

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::beat_metrics::{self as m, Continuity, TempoScore};
use crate::audio::{Analyzer, AudioConfig, AudioError, TrackerKind, decode_wav};

/// Lock-in time before scoring, seconds (`mir_eval.beat.trim_beats`).
pub const LOCK_IN_SECS: f64 = 5.0;
/// F-measure tolerance, seconds.
pub const WINDOW_SECS: f64 = 0.07;
/// Consecutive right beats that count as re-locked.
const RELOCK_RUN: usize = 4;

/// What to run.
#[derive(Debug, Clone)]
pub struct BeatEvalOptions {
    /// The folder of clips.
    pub dir: PathBuf,
    /// Also run `aubio beat` (when it is installed).
    pub aubio: bool,
    /// Write each tracker's beats as `NAME.TRACKER.beats` (downbeats as
    /// `NAME.TRACKER.downbeats`, tempo changes as `NAME.TRACKER.tempo`) here, with hypna's
    /// scores in `scores.tsv`, for
    /// `scripts/beat-eval-check.py` (which recomputes them with `mir_eval`).
    pub dump: Option<PathBuf>,
    /// The analysis configuration (its `tracker` is set per run).
    pub config: AudioConfig,
}

/// The scores of one tracker on one clip.
#[derive(Debug, Clone, PartialEq)]
pub struct ClipScore {
    /// Clip name.
    pub clip: String,
    /// `neural`, `classic` or `aubio`.
    pub tracker: String,
    /// Beat F-measure.
    pub f: f64,
    /// Continuity scores.
    pub continuity: Continuity,
    /// Downbeat F-measure (none for aubio).
    pub downbeat_f: Option<f64>,
    /// Tempo accuracy and flips.
    pub tempo: TempoScore,
    /// Longest off-beat lock, seconds.
    pub off_beat_secs: f64,
    /// Re-lock time after the clip's tempo change: `None` without a change, `Some(None)`
    /// when it never re-locked.
    pub relock_secs: Option<Option<f64>>,
    /// Signed timing error of each matched beat, seconds (pulse minus annotation; negative =
    /// early): for hypna's trackers the whole path from the sound to the `beat` pulse.
    pub offsets_secs: Vec<f64>,
}

/// All scores.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BeatEvalReport {
    /// Per clip and tracker, in clip order.
    pub scores: Vec<ClipScore>,
    /// Why aubio did not run, if it did not.
    pub aubio_missing: Option<String>,
    /// Why the neural tracker did not run, if it did not.
    pub neural_missing: Option<String>,
}

/// What a tracker produced on a clip.
#[derive(Debug, Clone, Default)]
struct Run {
    beats: Vec<f64>,
    downbeats: Option<Vec<f64>>,
    tempo: Vec<(f64, f64)>,
}

/// Annotations: beat times and the downbeats among them.
fn read_beats(path: &Path) -> Result<(Vec<f64>, Vec<f64>), AudioError> {
    let text = std::fs::read_to_string(path).map_err(|e| AudioError::File {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    let mut beats = Vec::new();
    let mut downbeats = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let mut parts = line.split_whitespace();
        let Some(t) = parts.next() else { continue };
        let t: f64 = t.parse().map_err(|_| AudioError::File {
            path: path.to_path_buf(),
            message: format!("line {}: `{t}` is not a time in seconds", i + 1),
        })?;
        beats.push(t);
        if parts.next().is_some_and(|b| b.trim() == "1") {
            downbeats.push(t);
        }
    }
    Ok((beats, downbeats))
}

/// `tempo_change_secs` from `NAME.toml`, if any.
fn tempo_change(path: &Path) -> Option<f64> {
    let text = std::fs::read_to_string(path).ok()?;
    let table: toml::Table = toml::from_str(&text).ok()?;
    table.get("tempo_change_secs")?.as_float()
}

fn run_hypna(
    samples: &[f32],
    rate: u32,
    config: &AudioConfig,
    kind: TrackerKind,
) -> Result<(Run, TrackerKind), AudioError> {
    let mut config = config.clone();
    config.tracker = Some(kind);
    let mut analyzer = Analyzer::new(&config, rate)?;
    let used = analyzer.tracker();
    let hop = analyzer.hop_len();
    let mut run = Run {
        downbeats: Some(Vec::new()),
        ..Run::default()
    };
    let (mut beats_seen, mut downbeats_seen) = (0u64, 0u64);
    for chunk in samples.chunks(hop) {
        analyzer.process_with(chunk, |f| {
            if f.beat_count > beats_seen {
                run.beats.push(f.time_secs);
            }
            if f.downbeat_count > downbeats_seen
                && let Some(d) = run.downbeats.as_mut()
            {
                d.push(f.time_secs);
            }
            beats_seen = f.beat_count;
            downbeats_seen = f.downbeat_count;
            run.tempo.push((f.time_secs, f64::from(f.bpm)));
        });
    }
    Ok((run, used))
}

/// `aubio beat -i FILE`: one beat time per line.
fn run_aubio(path: &Path) -> Result<Run, String> {
    let out = Command::new("aubio")
        .args(["beat", "-i"])
        .arg(path)
        .output()
        .map_err(|e| format!("cannot run aubio ({e}); apt-get install aubio-tools"))?;
    if !out.status.success() {
        return Err(format!(
            "aubio beat failed on {}: {}",
            path.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let beats: Vec<f64> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect();
    let tempo = beats
        .windows(2)
        .filter(|w| w[1] > w[0])
        .map(|w| (w[1], 60.0 / (w[1] - w[0])))
        .collect();
    Ok(Run {
        beats,
        downbeats: None,
        tempo,
    })
}

fn score(
    clip: &str,
    tracker: &str,
    run: &Run,
    refs: &(Vec<f64>, Vec<f64>),
    change: Option<f64>,
) -> ClipScore {
    let (beats, downbeats) = refs;
    let r = m::trim(beats, LOCK_IN_SECS);
    let e = m::trim(&run.beats, LOCK_IN_SECS);
    let downbeat_f = run.downbeats.as_ref().map(|d| {
        m::f_measure(
            &m::trim(downbeats, LOCK_IN_SECS),
            &m::trim(d, LOCK_IN_SECS),
            WINDOW_SECS,
        )
    });
    ClipScore {
        clip: clip.to_string(),
        tracker: tracker.to_string(),
        f: m::f_measure(&r, &e, WINDOW_SECS),
        continuity: m::continuity(&r, &e),
        downbeat_f,
        tempo: m::tempo_score(beats, &run.tempo, LOCK_IN_SECS),
        off_beat_secs: m::off_beat_lock_secs(beats, &run.beats, LOCK_IN_SECS),
        relock_secs: change.map(|c| m::relock_secs(beats, &run.beats, c, WINDOW_SECS, RELOCK_RUN)),
        offsets_secs: m::offsets(&r, &e, WINDOW_SECS),
    }
}

fn dump(dir: &Path, clip: &str, tracker: &str, run: &Run) -> Result<(), AudioError> {
    let write = |ext: &str, times: &[f64]| {
        let path = dir.join(format!("{clip}.{tracker}.{ext}"));
        let lines: Vec<String> = times.iter().map(|t| format!("{t:.5}\n")).collect();
        let s = lines.concat();
        std::fs::write(&path, s).map_err(|e| AudioError::File {
            path,
            message: e.to_string(),
        })
    };
    write("beats", &run.beats)?;
    if let Some(d) = &run.downbeats {
        write("downbeats", d)?;
    }
    // The tempo where it changes by more than 0.5%: `time_secs bpm`.
    let mut last = 0.0f64;
    let s = run
        .tempo
        .iter()
        .filter(|&&(_, bpm)| {
            let changed = (bpm / last - 1.0).abs() > 0.005;
            if changed {
                last = bpm;
            }
            changed
        })
        .map(|(t, bpm)| format!("{t:.3}\t{bpm:.2}\n"))
        .collect::<Vec<String>>()
        .concat();
    let path = dir.join(format!("{clip}.{tracker}.tempo"));
    std::fs::write(&path, s).map_err(|e| AudioError::File {
        path,
        message: e.to_string(),
    })
}

/// The clips in `dir`: every `NAME.wav` with a `NAME.beats`, sorted by name.
///
/// # Errors
/// [`AudioError::File`] when the folder cannot be read or holds no clip.
pub fn clips(dir: &Path) -> Result<Vec<PathBuf>, AudioError> {
    let entries = std::fs::read_dir(dir).map_err(|e| AudioError::File {
        path: dir.to_path_buf(),
        message: e.to_string(),
    })?;
    let mut wavs: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.extension().is_some_and(|x| x == "wav") && p.with_extension("beats").is_file()
        })
        .collect();
    wavs.sort();
    if wavs.is_empty() {
        return Err(AudioError::File {
            path: dir.to_path_buf(),
            message: "no NAME.wav with a NAME.beats here (scripts/beat-eval-set.py makes a set)"
                .to_string(),
        });
    }
    Ok(wavs)
}

/// Runs every tracker on every clip; `progress` is called after each clip.
///
/// # Errors
/// [`AudioError::File`] for an unreadable clip or annotation, [`AudioError::Config`] for a
/// bad configuration.
pub fn run(
    options: &BeatEvalOptions,
    mut progress: impl FnMut(&str),
) -> Result<BeatEvalReport, AudioError> {
    let mut report = BeatEvalReport::default();
    for wav in clips(&options.dir)? {
        let clip = wav
            .file_stem()
            .map_or_else(String::new, |s| s.to_string_lossy().into_owned());
        let refs = read_beats(&wav.with_extension("beats"))?;
        let change = tempo_change(&wav.with_extension("toml"));
        let (samples, rate) = decode_wav(&wav)?;
        for kind in [TrackerKind::Neural, TrackerKind::Classic] {
            let (run, used) = run_hypna(&samples, rate, &options.config, kind)?;
            if used != kind {
                report.neural_missing = Some(
                    "ONNX Runtime or the installed model is missing (see the log)".to_string(),
                );
                continue;
            }
            if let Some(d) = &options.dump {
                dump(d, &clip, &kind.to_string(), &run)?;
            }
            report
                .scores
                .push(score(&clip, &kind.to_string(), &run, &refs, change));
        }
        if options.aubio && report.aubio_missing.is_none() {
            match run_aubio(&wav) {
                Ok(run) => {
                    if let Some(d) = &options.dump {
                        dump(d, &clip, "aubio", &run)?;
                    }
                    report
                        .scores
                        .push(score(&clip, "aubio", &run, &refs, change));
                }
                Err(e) => report.aubio_missing = Some(e),
            }
        }
        progress(&clip);
    }
    if let Some(d) = &options.dump {
        let rows = report.scores.iter().map(|s| {
            format!(
                "{}\t{}\t{:.6}\t{:.6}\t{:.6}\t{}\n",
                s.clip,
                s.tracker,
                s.f,
                s.continuity.cml_t,
                s.continuity.aml_t,
                s.downbeat_f
                    .map_or_else(|| "-".to_string(), |v| format!("{v:.6}"))
            )
        });
        let tsv: String =
            std::iter::once("clip\ttracker\tf\tcml_t\taml_t\tdownbeat_f\n".to_string())
                .chain(rows)
                .collect();
        let path = d.join("scores.tsv");
        std::fs::write(&path, tsv).map_err(|e| AudioError::File {
            path,
            message: e.to_string(),
        })?;
    }
    Ok(report)
}

fn cell(v: Option<f64>, digits: usize) -> String {
    v.map_or_else(|| "-".to_string(), |v| format!("{v:.digits$}"))
}

impl fmt::Display for BeatEvalReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{:<22} {:<8} {:>5} {:>5} {:>5} {:>5} {:>6} {:>6} {:>4} {:>7} {:>7}",
            "clip",
            "tracker",
            "F",
            "CMLt",
            "AMLt",
            "dbF",
            "tempo",
            "t-oct",
            "flip",
            "offbeat",
            "relock"
        )?;
        for s in &self.scores {
            writeln!(
                f,
                "{:<22} {:<8} {:>5.3} {:>5.3} {:>5.3} {:>5} {:>6.3} {:>6.3} {:>4} {:>6.1}s {:>7}",
                s.clip,
                s.tracker,
                s.f,
                s.continuity.cml_t,
                s.continuity.aml_t,
                cell(s.downbeat_f, 3),
                s.tempo.accuracy,
                s.tempo.accuracy_octave,
                s.tempo.octave_flips,
                s.off_beat_secs,
                match s.relock_secs {
                    None => "-".to_string(),
                    Some(None) => "never".to_string(),
                    Some(Some(t)) => format!("{t:.2}s"),
                }
            )?;
        }
        writeln!(f)?;
        writeln!(
            f,
            "average over {} clips (after a {LOCK_IN_SECS} s lock-in; F and dbF at {} ms):",
            self.clip_count(),
            WINDOW_SECS * 1000.0
        )?;
        for tracker in ["neural", "classic", "aubio"] {
            let rows: Vec<&ClipScore> = self
                .scores
                .iter()
                .filter(|s| s.tracker == tracker)
                .collect();
            if rows.is_empty() {
                continue;
            }
            let n = rows.len() as f64;
            let mean = |g: &dyn Fn(&ClipScore) -> f64| rows.iter().map(|s| g(s)).sum::<f64>() / n;
            let db: Vec<f64> = rows.iter().filter_map(|s| s.downbeat_f).collect();
            let flips: usize = rows.iter().map(|s| s.tempo.octave_flips).sum();
            let flipping = rows.iter().filter(|s| s.tempo.octave_flips > 0).count();
            let worst_off = rows.iter().map(|s| s.off_beat_secs).fold(0.0, f64::max);
            let relocks: Vec<String> = rows
                .iter()
                .filter_map(|s| s.relock_secs)
                .map(|r| r.map_or_else(|| "never".to_string(), |t| format!("{t:.2}s")))
                .collect();
            let mut offsets: Vec<f64> = rows
                .iter()
                .flat_map(|s| s.offsets_secs.iter().copied())
                .collect();
            offsets.sort_by(f64::total_cmp);
            let mut late: Vec<f64> = offsets.iter().map(|o| o.abs()).collect();
            late.sort_by(f64::total_cmp);
            let pick = |v: &[f64], q: f64| -> f64 {
                v.get(((v.len() as f64 - 1.0) * q).round() as usize)
                    .copied()
                    .unwrap_or(0.0)
                    * 1e3
            };
            writeln!(
                f,
                "  {tracker:<8} F {:.3}  CMLt {:.3}  AMLt {:.3}  dbF {}  tempo {:.3} (any octave {:.3})  octave flips {flips} (in {flipping} clips)  longest off-beat {worst_off:.1} s  re-lock {}",
                mean(&|s| s.f),
                mean(&|s| s.continuity.cml_t),
                mean(&|s| s.continuity.aml_t),
                if db.is_empty() {
                    "-".to_string()
                } else {
                    format!("{:.3}", db.iter().sum::<f64>() / db.len() as f64)
                },
                mean(&|s| s.tempo.accuracy),
                mean(&|s| s.tempo.accuracy_octave),
                if relocks.is_empty() {
                    "-".to_string()
                } else {
                    relocks.join(", ")
                },
            )?;
            writeln!(
                f,
                "           beat timing (pulse - annotation, {} matched beats): median {:+.1} ms, p5 {:+.1} ms, p95 {:+.1} ms, p95 |error| {:.1} ms",
                offsets.len(),
                pick(&offsets, 0.5),
                pick(&offsets, 0.05),
                pick(&offsets, 0.95),
                pick(&late, 0.95)
            )?;
        }
        if let Some(why) = &self.neural_missing {
            writeln!(f, "  neural: not run ({why})")?;
        }
        if let Some(why) = &self.aubio_missing {
            writeln!(f, "  aubio: not run ({why})")?;
        }
        Ok(())
    }
}

impl BeatEvalReport {
    /// Number of clips scored.
    #[must_use]
    pub fn clip_count(&self) -> usize {
        let mut names: Vec<&str> = self.scores.iter().map(|s| s.clip.as_str()).collect();
        names.dedup();
        names.len()
    }
}
