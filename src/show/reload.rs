//! Hot reload: the scene file, its shaders and includes, and its model files are watched
//! (notify, debounced). A change prepares the scene again on a background thread (parsing,
//! shader validation, model loading: nothing of it on the frame thread) and the frame loop
//! swaps it in when ready, keeping feedback buffers and the params that still exist.
//!
//! A bad change keeps the last good version running; its errors stay available (for the
//! overlay) until a good change clears them, and are logged once per distinct error set.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, TryRecvError, channel};
use std::time::Duration;

use super::job::{Job, Priority};
use crate::diag::Diagnostic;
use crate::render::context::Gpu;
use crate::runtime::{LoadError, Prepared, Runtime, RuntimeOptions, read_and_prepare};

/// How long the watcher waits for a burst of writes (editors save in several steps) to end.
pub const DEBOUNCE: Duration = Duration::from_millis(80);

/// Watches a set of files by watching their folders (editors that save by rename replace
/// the file, which would end a watch on the file itself). Only writes, creations, renames
/// and removals count (reading a file is not a change), and a burst of events is reported
/// once, [`DEBOUNCE`] after it ends.
pub struct FileWatcher {
    watcher: notify::RecommendedWatcher,
    events: Receiver<notify::Result<notify::Event>>,
    files: HashSet<PathBuf>,
    dirs: HashSet<PathBuf>,
    debounce: Duration,
    /// Changed files waiting for their burst to end, and the newest event's time.
    burst: Vec<PathBuf>,
    last_event: Option<std::time::Instant>,
}

impl FileWatcher {
    /// A watcher with nothing watched yet.
    ///
    /// # Errors
    /// When the platform's file notification cannot start (inotify limits).
    pub fn new(debounce: Duration) -> Result<Self, notify::Error> {
        let (tx, events) = channel();
        let watcher = notify::recommended_watcher(move |e| {
            // The receiver is gone only when the watcher is dropped with it.
            drop(tx.send(e));
        })?;
        Ok(Self {
            watcher,
            events,
            files: HashSet::new(),
            dirs: HashSet::new(),
            debounce,
            burst: Vec::new(),
            last_event: None,
        })
    }

    /// Watches exactly `files` from now on (folders no longer needed are unwatched).
    pub fn set_files(&mut self, files: impl IntoIterator<Item = PathBuf>) {
        use notify::Watcher as _;
        self.files = files.into_iter().map(|f| normalize(&f)).collect();
        let dirs: HashSet<PathBuf> = self
            .files
            .iter()
            .filter_map(|f| f.parent().map(Path::to_path_buf))
            .collect();
        for gone in self.dirs.difference(&dirs) {
            // A folder that vanished is no longer watched anyway.
            if let Err(e) = self.watcher.unwatch(gone) {
                tracing::debug!("unwatch {}: {e}", gone.display());
            }
        }
        for dir in dirs.difference(&self.dirs) {
            if let Err(e) = self.watcher.watch(dir, notify::RecursiveMode::NonRecursive) {
                tracing::warn!("cannot watch {}: {e}", dir.display());
            }
        }
        self.dirs = dirs;
    }

    /// The watched files whose changes settled since the last call (never waits).
    pub fn changed(&mut self) -> Vec<PathBuf> {
        use notify::EventKind;
        loop {
            match self.events.try_recv() {
                Ok(Ok(event)) => {
                    if matches!(event.kind, EventKind::Access(_) | EventKind::Other) {
                        continue;
                    }
                    for path in &event.paths {
                        let path = normalize(path);
                        if self.files.contains(&path) {
                            if !self.burst.contains(&path) {
                                self.burst.push(path);
                            }
                            self.last_event = Some(std::time::Instant::now());
                        }
                    }
                }
                Ok(Err(e)) => tracing::warn!("file watcher: {e}"),
                Err(TryRecvError::Empty | TryRecvError::Disconnected) => break,
            }
        }
        match self.last_event {
            Some(at) if at.elapsed() >= self.debounce => {
                self.last_event = None;
                std::mem::take(&mut self.burst)
            }
            _ => Vec::new(),
        }
    }
}

/// An absolute path with its folder resolved (the file itself may be missing mid-save).
fn normalize(path: &Path) -> PathBuf {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    match (absolute.parent(), absolute.file_name()) {
        (Some(dir), Some(name)) => dir
            .canonicalize()
            .map_or_else(|_| absolute.clone(), |d| d.join(name)),
        _ => absolute,
    }
}

/// What [`HotReload::poll`] did this frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReloadEvent {
    /// Nothing new.
    Idle,
    /// The changed scene is running now.
    Applied,
    /// The change did not load; the last good version keeps running.
    Failed,
}

/// Watches a runtime's files and reloads it on change.
pub struct HotReload {
    path: PathBuf,
    watcher: Option<FileWatcher>,
    options: RuntimeOptions,
    /// The preparation running on its thread.
    pending: Option<Job<Result<Prepared, LoadError>>>,
    /// A change arrived while preparing: prepare again when that one is done.
    dirty: bool,
    errors: Vec<Diagnostic>,
    /// Reloads applied so far.
    pub applied: u64,
    /// Reloads that failed so far.
    pub failed: u64,
}

impl HotReload {
    /// Watches the files of `runtime`, loaded from `path`. Without file notifications
    /// (logged), only [`Self::request`] reloads.
    #[must_use]
    pub fn new(path: &Path, runtime: &Runtime) -> Self {
        let watcher = match FileWatcher::new(DEBOUNCE) {
            Ok(mut w) => {
                w.set_files(runtime.watched_files());
                Some(w)
            }
            Err(e) => {
                tracing::warn!("hot reload off: cannot watch files: {e}");
                None
            }
        };
        Self {
            path: path.to_path_buf(),
            watcher,
            options: runtime.options().clone(),
            pending: None,
            dirty: false,
            errors: Vec::new(),
            applied: 0,
            failed: 0,
        }
    }

    /// The problems of the newest change that did not load (empty once a good change loads).
    #[must_use]
    pub fn errors(&self) -> &[Diagnostic] {
        &self.errors
    }

    /// The scene file being watched.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Watches another scene file from now on (a playlist switched scenes).
    pub fn retarget(&mut self, path: &Path, runtime: &Runtime) {
        self.path = path.to_path_buf();
        self.pending = None;
        self.dirty = false;
        self.errors.clear();
        if let Some(w) = &mut self.watcher {
            w.set_files(runtime.watched_files());
        }
    }

    /// Reloads now, as if every file had changed (the R key).
    pub fn request(&mut self, runtime: &Runtime) {
        if self.pending.is_some() {
            self.dirty = true;
        } else {
            self.start(runtime);
        }
    }

    /// Call once per frame: notices changes, starts preparing, and applies a finished
    /// preparation to `runtime`. Never waits.
    pub fn poll(&mut self, gpu: &Gpu, runtime: &mut Runtime) -> ReloadEvent {
        if let Some(w) = &mut self.watcher {
            let changed = w.changed();
            if !changed.is_empty() {
                tracing::info!(
                    "changed: {}",
                    changed
                        .iter()
                        .map(|p| p.display().to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                );
                self.request(runtime);
            }
        }
        let Some(job) = &self.pending else {
            return ReloadEvent::Idle;
        };
        let result = match job.try_take() {
            None => return ReloadEvent::Idle,
            Some(Ok(result)) => result,
            Some(Err(e)) => Err(LoadError::Internal(format!(
                "preparing the scene failed: {e}"
            ))),
        };
        self.pending = None;
        let result = result.and_then(|prepared| runtime.reload(gpu, prepared));
        let event = match result {
            Ok(()) => {
                if self.errors.is_empty() {
                    tracing::info!("reloaded {}", self.path.display());
                } else {
                    tracing::info!("reloaded {}: errors cleared", self.path.display());
                }
                self.errors.clear();
                self.applied += 1;
                ReloadEvent::Applied
            }
            Err(e) => {
                let errors = e.located(&self.path);
                // The errors on show are the set last logged: a repeat is not logged again.
                if errors.0 != self.errors {
                    tracing::error!(
                        "reload failed, the last good version keeps running:\n{errors}"
                    );
                }
                self.errors = errors.0;
                self.failed += 1;
                ReloadEvent::Failed
            }
        };
        if let Some(w) = &mut self.watcher {
            // A new include or model file is watched from now on; a failed change keeps
            // the scene file and the old set (plus the scene file).
            w.set_files(runtime.watched_files());
        }
        if self.dirty {
            self.dirty = false;
            self.start(runtime);
        }
        event
    }

    fn start(&mut self, runtime: &Runtime) {
        let path = self.path.clone();
        let options = self.options.clone();
        let reuse = runtime.reusable();
        let job = Job::spawn("hypna-reload", Priority::Normal, move || {
            read_and_prepare(&path, &options, Some(&reuse))
        });
        match job {
            Ok(job) => self.pending = Some(job),
            Err(e) => tracing::error!("cannot start a reload thread: {e}"),
        }
    }
}
