//! `hypna fuzz`: the shipped scenes, shaders, playlists and a settings file, mutated the way
//! outsiders break files ([`mutate`]), each case run through the same code as `hypna check`
//! and, when that accepts it, a headless load and render of two frames, as `hypna render`
//! does. A case fails when it:
//!
//! - panics (in any thread, caught or not),
//! - aborts the process (a stack overflow, a segfault): cases run in a worker process, which
//!   the parent restarts after the case,
//! - hangs (no result within the case timeout: the parent kills the worker),
//! - takes memory without bound (the worker's resident memory above the limit),
//! - is rejected with an error that has no `file:line:col`,
//! - is accepted by `check` but rejected by the load or the render, or leaves GPU errors
//!   (`check` must catch what `render` rejects).
//!
//! Cases are a pure function of `(seed, case number)`: `hypna fuzz --seed S --case N --save`
//! writes one case's files again. The test suite runs a time budget of it (`tests/it/fuzz.rs`);
//! a release runs it for longer (`hypna fuzz --seconds 3600`, docs/fuzzing.md).

pub mod mutate;
mod worker;

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{RecvTimeoutError, channel};
use std::time::{Duration, Instant};

pub use worker::{Case, Verdict, run_worker};

/// Errors of the fuzzer itself (not of a case).
#[derive(Debug, thiserror::Error)]
pub enum FuzzError {
    /// The corpus or a work folder could not be read or written.
    #[error("fuzz: {0}")]
    Io(#[from] std::io::Error),
    /// The corpus has no files.
    #[error("fuzz: no files to mutate under {0}")]
    EmptyCorpus(PathBuf),
}

/// What to run.
#[derive(Debug, Clone)]
pub struct FuzzOptions {
    /// Seed of every case.
    pub seed: u64,
    /// First case number.
    pub first: u64,
    /// Stop after this much time.
    pub budget: Duration,
    /// Stop after this many cases (also bounded by `budget`).
    pub max_cases: u64,
    /// A case that takes longer hangs.
    pub case_timeout: Duration,
    /// A worker with more resident memory than this fails its case.
    pub memory_limit_bytes: u64,
    /// The project whose `scenes/`, `shaders/` and `models/` are the corpus.
    pub root: PathBuf,
    /// Where failing cases are written (one folder each).
    pub out: PathBuf,
}

/// A failing case.
#[derive(Debug, Clone)]
pub struct Failure {
    /// Its number.
    pub case: u64,
    /// What failed, in words (category first).
    pub what: String,
    /// The folder with its files.
    pub saved: PathBuf,
}

/// What a run found.
#[derive(Debug, Clone, Default)]
pub struct FuzzReport {
    /// Cases run.
    pub cases: u64,
    /// Cases `check` rejected with located errors.
    pub rejected: u64,
    /// Cases `check` accepted (and the load, where there was a GPU).
    pub accepted: u64,
    /// Of those, cases also loaded and rendered on the GPU.
    pub rendered: u64,
    /// Failing cases.
    pub failures: Vec<Failure>,
    /// Worker processes started.
    pub workers: u64,
}

impl std::fmt::Display for FuzzReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "fuzz: {} cases: {} rejected with located errors, {} accepted ({} rendered on the GPU), {} failures ({} worker processes)",
            self.cases,
            self.rejected,
            self.accepted,
            self.rendered,
            self.failures.len(),
            self.workers
        )?;
        for failure in &self.failures {
            writeln!(
                f,
                "  case {}: {} (files in {})",
                failure.case,
                failure.what,
                failure.saved.display()
            )?;
        }
        Ok(())
    }
}

/// Runs cases in worker processes made by `worker` (given the first case number, it returns
/// the command of a worker that runs cases from there: `hypna fuzz --worker ...`), within
/// the budget, and collects the failures.
///
/// # Errors
/// When no worker can be started or a failing case cannot be saved.
pub fn run(
    options: &FuzzOptions,
    worker: impl Fn(u64) -> Command,
) -> Result<FuzzReport, FuzzError> {
    let corpus = worker::Corpus::read(&options.root)?;
    let started = Instant::now();
    let mut report = FuzzReport::default();
    let mut next = options.first;
    let end = options.first.saturating_add(options.max_cases);
    while next < end && started.elapsed() < options.budget {
        report.workers += 1;
        let mut child = worker(next)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()?;
        let Some(stdout) = child.stdout.take() else {
            drop(child.kill());
            drop(child.wait());
            return Err(FuzzError::Io(std::io::Error::other(
                "no stdout from the worker",
            )));
        };
        let (tx, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        // The case the worker is on, and since when.
        let mut current: Option<(u64, Instant)> = None;
        let ended = loop {
            if started.elapsed() >= options.budget || next >= end {
                break None;
            }
            match lines.recv_timeout(Duration::from_millis(100)) {
                Ok(line) => {
                    if let Some(k) = line.strip_prefix("case ").and_then(|r| r.parse().ok()) {
                        current = Some((k, Instant::now()));
                    } else if let Some(rest) = line.strip_prefix("done ") {
                        let Some((k, verdict)) = rest.split_once(' ') else {
                            continue;
                        };
                        let Ok(k) = k.parse::<u64>() else { continue };
                        report.cases += 1;
                        next = k + 1;
                        current = None;
                        match Verdict::parse(verdict) {
                            Verdict::Rejected => report.rejected += 1,
                            Verdict::Accepted { rendered } => {
                                report.accepted += 1;
                                report.rendered += u64::from(rendered);
                            }
                            Verdict::Failed(what) => {
                                let saved = save(&corpus, options, k)?;
                                report.failures.push(Failure {
                                    case: k,
                                    what,
                                    saved,
                                });
                            }
                        }
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    if let Some((k, since)) = current {
                        if since.elapsed() > options.case_timeout {
                            break Some((
                                k,
                                format!("hang: no result after {:?}", options.case_timeout),
                            ));
                        }
                        let rss = resident_bytes(&child);
                        if rss > options.memory_limit_bytes {
                            break Some((
                                k,
                                format!(
                                    "memory: the worker holds {} MiB (limit {} MiB)",
                                    rss >> 20,
                                    options.memory_limit_bytes >> 20
                                ),
                            ));
                        }
                    }
                }
                Err(RecvTimeoutError::Disconnected) => {
                    let status = child.wait().ok();
                    break current.map(|(k, _)| {
                        (
                            k,
                            format!("crash: the worker ended with {}", describe_exit(status)),
                        )
                    });
                }
            }
        };
        // The worker may have ended already; either way it is reaped here.
        drop(child.kill());
        drop(child.wait());
        let work = worker::work_dir_of(child.id());
        if work.exists()
            && let Err(e) = std::fs::remove_dir_all(&work)
        {
            tracing::debug!("fuzz: cannot remove {}: {e}", work.display());
        }
        if let Some((k, what)) = ended {
            report.cases += 1;
            let saved = save(&corpus, options, k)?;
            report.failures.push(Failure {
                case: k,
                what,
                saved,
            });
            next = k + 1;
        }
    }
    Ok(report)
}

/// Writes case `k`'s mutated file (and what it was made from) into its own folder.
fn save(corpus: &worker::Corpus, options: &FuzzOptions, k: u64) -> Result<PathBuf, FuzzError> {
    let case = Case::new(corpus, options.seed, k);
    let dir = options.out.join(format!("case-{}-{k}", options.seed));
    std::fs::create_dir_all(&dir)?;
    let name = case
        .target
        .file_name()
        .map_or_else(|| "file".into(), |n| n.to_string_lossy().into_owned());
    std::fs::write(dir.join(&name), &case.bytes)?;
    std::fs::write(
        dir.join("CASE.txt"),
        format!(
            "seed {} case {k}\nfile {}\nmutations {}\nreproduce: hypna fuzz --seed {} --first {k} --cases 1\n",
            options.seed,
            case.target.display(),
            case.mutation,
            options.seed
        ),
    )?;
    Ok(dir)
}

fn resident_bytes(child: &Child) -> u64 {
    std::fs::read_to_string(format!("/proc/{}/status", child.id()))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

fn describe_exit(status: Option<std::process::ExitStatus>) -> String {
    let Some(status) = status else {
        return "an unknown status".into();
    };
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt as _;
        if let Some(signal) = status.signal() {
            return format!("signal {signal}");
        }
    }
    status.to_string()
}

/// The corpus root a binary built from this project uses by default.
#[must_use]
pub fn default_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}
