//! One worker process of `hypna fuzz`: a copy of the corpus in a work folder, and cases run
//! one after the other, each reported on stdout (`case K` before, `done K <verdict>` after),
//! so the parent knows which case was running when the process died.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use super::FuzzError;
use super::mutate::{Rng, Syntax, mutate};
use crate::render::context::Gpu;
use crate::runtime::{RenderSettings, RuntimeOptions, render_frames_with};
use crate::show::check::{CheckLine, check};

/// A settings file as the docs show it (none is shipped), to mutate like the others.
const SETTINGS_SAMPLE: &str = "# hypna.toml, next to where hypna is started\n[osc]\nlisten = \"127.0.0.1:0\"\nallow = [\"192.168.1.0/24\", \"10.0.0.7\"]\nfeedback = [\"127.0.0.1:9001\"]\nfeedback_rate_hz = 30.0\nmax_packet_bytes = 8192\nqueue_capacity = 4096\nschedule_capacity = 1024\nmax_schedule_ahead_secs = 60.0\necho_audio = false\nreceive_buffer_bytes = 4194304\n";
/// The settings file's path in the work folder.
const SETTINGS_PATH: &str = "hypna.toml";
/// Scenes estimated to need more GPU memory than this are checked but not rendered (their
/// textures are legal, only too large for a fuzzing machine).
const RENDER_MEMORY_LIMIT_BYTES: u64 = 1 << 30;

/// What kind of file a corpus file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Scene,
    Playlist,
    Shader,
    Settings,
}

/// The files mutated, read once: (path relative to the root, kind, bytes).
#[derive(Debug)]
pub struct Corpus {
    files: Vec<(PathBuf, Kind, Vec<u8>)>,
    /// Model files scenes refer to (copied, never mutated).
    models: Vec<PathBuf>,
    root: PathBuf,
}

impl Corpus {
    /// The shipped files under `root`: `scenes/*.toml`, `scenes/playlists/*.toml`,
    /// `scenes/*/*.wgsl`, `shaders/lib/*.wgsl`, and a settings file.
    ///
    /// # Errors
    /// When a folder cannot be read, or there is nothing to mutate.
    pub fn read(root: &Path) -> Result<Self, FuzzError> {
        let mut files = Vec::new();
        let mut add = |dir: &Path, ext: &str, kind: Kind| -> Result<(), FuzzError> {
            let Ok(entries) = std::fs::read_dir(root.join(dir)) else {
                return Ok(());
            };
            let mut paths: Vec<PathBuf> = entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == ext))
                .collect();
            paths.sort();
            for p in paths {
                let bytes = std::fs::read(&p)?;
                let rel = p.strip_prefix(root).unwrap_or(&p).to_path_buf();
                files.push((rel, kind, bytes));
            }
            Ok(())
        };
        add(Path::new("scenes"), "toml", Kind::Scene)?;
        add(Path::new("scenes/playlists"), "toml", Kind::Playlist)?;
        let mut scene_dirs: Vec<PathBuf> = std::fs::read_dir(root.join("scenes"))
            .map(|d| {
                d.filter_map(Result::ok)
                    .map(|e| e.path())
                    .filter(|p| p.is_dir())
                    .collect()
            })
            .unwrap_or_default();
        scene_dirs.sort();
        for dir in scene_dirs {
            let rel = dir.strip_prefix(root).unwrap_or(&dir).to_path_buf();
            add(&rel, "wgsl", Kind::Shader)?;
        }
        add(Path::new("shaders/lib"), "wgsl", Kind::Shader)?;
        files.push((
            PathBuf::from(SETTINGS_PATH),
            Kind::Settings,
            SETTINGS_SAMPLE.as_bytes().to_vec(),
        ));
        if files.len() <= 1 {
            return Err(FuzzError::EmptyCorpus(root.to_path_buf()));
        }
        let mut models: Vec<PathBuf> = std::fs::read_dir(root.join("models"))
            .map(|d| {
                d.filter_map(Result::ok)
                    .map(|e| e.path())
                    .filter(|p| p.extension().is_some_and(|e| e == "onnx"))
                    .filter_map(|p| p.strip_prefix(root).ok().map(Path::to_path_buf))
                    .collect()
            })
            .unwrap_or_default();
        models.sort();
        Ok(Self {
            files,
            models,
            root: root.to_path_buf(),
        })
    }

    /// The file checked and loaded when `target` is mutated: a scene or playlist itself, the
    /// scene that uses a shader, the settings file.
    fn entry_for(&self, target: &Path, kind: Kind) -> PathBuf {
        match kind {
            Kind::Scene | Kind::Playlist | Kind::Settings => target.to_path_buf(),
            Kind::Shader => {
                // scenes/flow/advect.wgsl belongs to scenes/flow.toml.
                if let Some(dir) = target.parent()
                    && dir.starts_with("scenes")
                {
                    return dir.with_extension("toml");
                }
                let name = target.file_name().map(|n| n.to_string_lossy().into_owned());
                self.files
                    .iter()
                    .filter(|(_, k, _)| *k == Kind::Shader)
                    .find(|(p, _, bytes)| {
                        p.starts_with("scenes")
                            && name.as_ref().is_some_and(|n| {
                                String::from_utf8_lossy(bytes).contains(&format!("lib/{n}"))
                            })
                    })
                    .and_then(|(p, _, _)| p.parent().map(|d| d.with_extension("toml")))
                    .unwrap_or_else(|| PathBuf::from("scenes/flow.toml"))
            }
        }
    }
}

/// One case: which file, mutated how, into what bytes.
#[derive(Debug, Clone)]
pub struct Case {
    /// The mutated file, relative to the root.
    pub target: PathBuf,
    /// The file checked and loaded.
    pub entry: PathBuf,
    /// The mutations applied, `+`-joined.
    pub mutation: String,
    /// The mutated bytes.
    pub bytes: Vec<u8>,
    kind: Kind,
}

impl Case {
    /// Case `k` of `seed`.
    #[must_use]
    pub fn new(corpus: &Corpus, seed: u64, k: u64) -> Self {
        let mut rng = Rng::new(seed ^ k.wrapping_mul(0xD6E8_FEB8_6659_FD93));
        let n = corpus.files.len();
        let (target, kind, bytes) = &corpus.files[rng.below(n)];
        let other = &corpus.files[rng.below(n)].2;
        let syntax = match kind {
            Kind::Shader => Syntax::Wgsl,
            _ => Syntax::Toml,
        };
        let (bytes, mutation) = mutate(&mut rng, bytes, syntax, other);
        Self {
            target: target.clone(),
            entry: corpus.entry_for(target, *kind),
            mutation,
            bytes,
            kind: *kind,
        }
    }
}

/// What happened to a case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Refused with located errors (the expected outcome of most cases).
    Rejected,
    /// Accepted by `check`, and loaded and rendered when `rendered`.
    Accepted {
        /// Loaded and rendered on the GPU.
        rendered: bool,
    },
    /// A failure (category first: panic, unlocated, mismatch).
    Failed(String),
}

impl Verdict {
    /// As written on the worker's stdout (one line).
    #[must_use]
    pub fn to_line(&self) -> String {
        match self {
            Self::Rejected => "rejected".into(),
            Self::Accepted { rendered: true } => "rendered".into(),
            Self::Accepted { rendered: false } => "accepted".into(),
            Self::Failed(what) => format!("failed {}", what.replace('\n', " | ")),
        }
    }

    /// Parses [`Self::to_line`].
    #[must_use]
    pub fn parse(line: &str) -> Self {
        match line {
            "rejected" => Self::Rejected,
            "rendered" => Self::Accepted { rendered: true },
            "accepted" => Self::Accepted { rendered: false },
            other => Self::Failed(other.strip_prefix("failed ").unwrap_or(other).to_string()),
        }
    }
}

/// The worker's copy of the corpus: `$TMPDIR/hypna-fuzz-<pid>`, removed when the worker
/// ends (and by the parent, [`work_dir_of`], when it had to kill the worker).
struct WorkDir(PathBuf);

impl WorkDir {
    fn create() -> std::io::Result<Self> {
        let dir = work_dir_of(std::process::id());
        if dir.exists() {
            std::fs::remove_dir_all(&dir)?;
        }
        std::fs::create_dir_all(&dir)?;
        Ok(Self(dir))
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        if let Err(e) = std::fs::remove_dir_all(&self.0) {
            tracing::debug!("fuzz: cannot remove {}: {e}", self.0.display());
        }
    }
}

/// The work folder of the worker process `pid`.
#[must_use]
pub fn work_dir_of(pid: u32) -> PathBuf {
    std::env::temp_dir().join(format!("hypna-fuzz-{pid}"))
}

/// Panics seen in this process (any thread), and the newest message.
static PANICS: AtomicU64 = AtomicU64::new(0);

fn panic_log() -> &'static Mutex<String> {
    static LAST: std::sync::OnceLock<Mutex<String>> = std::sync::OnceLock::new();
    LAST.get_or_init(|| Mutex::new(String::new()))
}

/// The worker: copies the corpus into a work folder, then runs cases `first`, `first + 1`,
/// ... of `seed` until killed (or `count` cases), writing `case K` and `done K <verdict>`
/// lines to stdout.
///
/// # Errors
/// When the corpus cannot be read or the work folder written.
pub fn run_worker(root: &Path, seed: u64, first: u64, count: u64) -> Result<(), FuzzError> {
    let corpus = Corpus::read(root)?;
    let work = WorkDir::create()?;
    for (rel, _, bytes) in &corpus.files {
        let path = work.path().join(rel);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(&path, bytes)?;
    }
    for rel in &corpus.models {
        let path = work.path().join(rel);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::copy(corpus.root.join(rel), &path)?;
    }
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        PANICS.fetch_add(1, Ordering::SeqCst);
        let at = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        *panic_log().lock().unwrap_or_else(PoisonError::into_inner) =
            format!("{}{at}", crate::restart::panic_message(info.payload()));
        previous(info);
    }));
    let gpu = Gpu::new_headless().ok().map(Arc::new);
    let stdout = std::io::stdout();
    for k in first..first.saturating_add(count) {
        let case = Case::new(&corpus, seed, k);
        writeln!(stdout.lock(), "case {k}")?;
        let path = work.path().join(&case.target);
        std::fs::write(&path, &case.bytes)?;
        let verdict = run_case(work.path(), &case, gpu.as_deref());
        let original = corpus
            .files
            .iter()
            .find(|(p, _, _)| *p == case.target)
            .map(|(_, _, b)| b.as_slice())
            .unwrap_or_default();
        std::fs::write(&path, original)?;
        writeln!(stdout.lock(), "done {k} {}", verdict.to_line())?;
    }
    Ok(())
}

fn run_case(work: &Path, case: &Case, gpu: Option<&Gpu>) -> Verdict {
    let panics = PANICS.load(Ordering::SeqCst);
    let entry = work.join(&case.entry);
    let verdict = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        evaluate(&entry, case.kind, gpu)
    }))
    .unwrap_or_else(|_| Verdict::Failed("panic".into()));
    if PANICS.load(Ordering::SeqCst) != panics {
        let message = panic_log()
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        return Verdict::Failed(format!("panic: {message}"));
    }
    verdict
}

/// True when the first line of a problem says `file:line:col: ` (or the file is too large:
/// a problem of the whole file).
fn located(problem: &str) -> bool {
    let first = problem.lines().next().unwrap_or_default();
    if first.contains("bytes accepted") {
        return true;
    }
    // `path:12:7: message`: find `:<digits>:<digits>: `.
    first.match_indices(':').any(|(i, _)| {
        let rest = &first[i + 1..];
        let Some((line, rest)) = rest.split_once(':') else {
            return false;
        };
        let Some((col, _)) = rest.split_once(": ") else {
            return false;
        };
        !line.is_empty()
            && !col.is_empty()
            && line.bytes().all(|b| b.is_ascii_digit())
            && col.bytes().all(|b| b.is_ascii_digit())
    })
}

fn evaluate(entry: &Path, kind: Kind, gpu: Option<&Gpu>) -> Verdict {
    if kind == Kind::Settings {
        return match crate::settings::load(entry) {
            Ok(_) => Verdict::Accepted { rendered: false },
            Err(e) => {
                let text = e.to_string();
                if located(&text) {
                    Verdict::Rejected
                } else {
                    Verdict::Failed(format!("unlocated: {text}"))
                }
            }
        };
    }
    let report = check(&[entry.to_path_buf()], None);
    if report.failed > 0 {
        for line in &report.lines {
            if let CheckLine::Problem(p) = line
                && !located(p)
            {
                return Verdict::Failed(format!("unlocated: {p}"));
            }
        }
        return Verdict::Rejected;
    }
    let Some(gpu) = gpu else {
        return Verdict::Accepted { rendered: false };
    };
    if kind != Kind::Playlist
        && crate::scene::Scene::read(entry).is_ok_and(|s| {
            crate::render::limits::texture_bytes(&s, s.size) > RENDER_MEMORY_LIMIT_BYTES
        })
    {
        return Verdict::Accepted { rendered: false };
    }
    render_two_frames(entry, gpu)
}

/// Loads `entry` as `hypna render` does and renders two frames; any error is a mismatch,
/// since `check` accepted the files.
fn render_two_frames(entry: &Path, gpu: &Gpu) -> Verdict {
    let options = RuntimeOptions {
        sync_models: true,
        ..RuntimeOptions::default()
    };
    let errors_before = gpu.uncaptured_errors.load(Ordering::Relaxed);
    let (mut show, mut runtime) = match crate::show::Show::open(gpu, entry, &options) {
        Ok(r) => r,
        Err(e) => {
            return Verdict::Failed(format!(
                "mismatch: check accepted it, the load failed: {}",
                e.located(entry)
            ));
        }
    };
    let settings = RenderSettings {
        frames: 2,
        ..RenderSettings::default()
    };
    let mut written = 0u64;
    let rendered = render_frames_with(
        gpu,
        &mut runtime,
        &settings,
        |gpu, runtime, t| {
            show.before_frame(gpu, runtime, t);
        },
        |_| -> Result<(), std::convert::Infallible> {
            written += 1;
            Ok(())
        },
    );
    if let Err(never) = rendered {
        match never {}
    }
    let errors = gpu.uncaptured_errors.load(Ordering::Relaxed) - errors_before;
    if errors > 0 {
        return Verdict::Failed(format!(
            "mismatch: check accepted it, the GPU reported {errors} errors while loading or rendering"
        ));
    }
    if written < 2 {
        return Verdict::Failed(format!(
            "mismatch: check accepted it, the render wrote {written} of 2 frames"
        ));
    }
    Verdict::Accepted { rendered: true }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_are_recognised() {
        assert!(located("scenes/x.toml:3:8: bad\n  note: y"));
        assert!(located("/tmp/a b/x.wgsl:12:1: bad"));
        assert!(!located("scenes/x.toml: scene has no passes"));
        assert!(!located("scenes/x.toml:3: entry sets `x`"));
        assert!(!located("the GPU rejected pass `main`: x"));
    }

    #[test]
    fn the_corpus_has_every_kind_and_cases_name_their_entry() {
        let corpus = Corpus::read(super::super::default_root()).unwrap();
        for kind in [Kind::Scene, Kind::Playlist, Kind::Shader, Kind::Settings] {
            assert!(corpus.files.iter().any(|(_, k, _)| *k == kind), "{kind:?}");
        }
        for k in 0..200 {
            let case = Case::new(&corpus, 1, k);
            assert!(
                corpus.root.join(&case.entry).is_file() || case.entry == Path::new(SETTINGS_PATH),
                "case {k}: {} -> {}",
                case.target.display(),
                case.entry.display()
            );
        }
    }
}
