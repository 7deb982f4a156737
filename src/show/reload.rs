//! Hot reload: the scene file, its shaders and includes, and its model files are watched
//! (notify, debounced). A change prepares the scene again on a background thread (parsing,
//! shader validation, model loading: nothing of it on the frame thread) and the frame loop
//! swaps it in when ready, keeping feedback buffers and the params that still exist.
//!
//! A bad change keeps the last good version running; its errors stay available (for the
//! overlay) until a good change clears them, and are logged once per distinct error set.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, TryRecvError, channel};
use std::time::Duration;

use super::job::{Job, Priority};
use crate::diag::Diagnostic;
use crate::render::context::Gpu;
use crate::runtime::{LoadError, Prepared, Runtime, RuntimeOptions, read_and_prepare};

/// How long the watcher waits for a burst of writes (editors save in several steps) to end.
pub const DEBOUNCE: Duration = Duration::from_millis(80);

/// How often the watcher checks that each watched folder is still the one it watches (a
/// folder replaced by another of the same name, or moved away and back, drops the watch).
pub const IDENTITY_CHECK: Duration = Duration::from_secs(1);

/// Watches a set of files by watching their folders (editors that save by rename replace
/// the file, which would end a watch on the file itself). Only writes, creations, renames
/// and removals count (reading a file is not a change), and a burst of events is reported
/// once, [`DEBOUNCE`] after it ends.
///
/// Folders come and go too (`mv scenes/flow x && mv x scenes/flow`, a sync tool replacing a
/// folder, a deleted and restored checkout). A watched folder that is renamed, deleted or
/// replaced is noticed (from its parent's events, and by checking every [`IDENTITY_CHECK`]
/// that the path still names the same folder), logged as lost, and watched again as soon as
/// it exists again, through a watch on its nearest existing ancestor. Its files then count as
/// changed, since they may differ from what was loaded.
pub struct FileWatcher {
    watcher: notify::RecommendedWatcher,
    events: Receiver<notify::Result<notify::Event>>,
    files: HashSet<PathBuf>,
    /// The folders of `files`, with the identity of the folder watched under each name
    /// (`None` while it is lost).
    dirs: HashMap<PathBuf, Option<DirId>>,
    /// Existing ancestors watched while a folder is lost, to see it come back.
    anchors: HashSet<PathBuf>,
    debounce: Duration,
    /// Changed files waiting for their burst to end, and the newest event's time.
    burst: Vec<PathBuf>,
    last_event: Option<std::time::Instant>,
    /// Folders to check again after the events of this call.
    recheck: HashSet<PathBuf>,
    /// Folders whose name was renamed, removed or created: watched again in any case (the
    /// platform may have dropped the watch even when the same folder is back).
    force: HashSet<PathBuf>,
    checked_at: std::time::Instant,
}

/// What identifies a folder beyond its name (a replaced folder has another).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct DirId {
    #[cfg(unix)]
    dev_ino: (u64, u64),
}

impl DirId {
    fn of(dir: &Path) -> Option<Self> {
        let meta = std::fs::metadata(dir)
            .ok()
            .filter(std::fs::Metadata::is_dir)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt as _;
            Some(Self {
                dev_ino: (meta.dev(), meta.ino()),
            })
        }
        #[cfg(not(unix))]
        {
            let _ = meta;
            Some(Self {})
        }
    }
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
            dirs: HashMap::new(),
            anchors: HashSet::new(),
            debounce,
            burst: Vec::new(),
            last_event: None,
            recheck: HashSet::new(),
            force: HashSet::new(),
            checked_at: std::time::Instant::now(),
        })
    }

    /// Watches exactly `files` from now on (folders no longer needed are unwatched).
    pub fn set_files(&mut self, files: impl IntoIterator<Item = PathBuf>) {
        use notify::Watcher as _;
        self.files = files.into_iter().map(|f| normalize(&f)).collect();
        let wanted: HashSet<PathBuf> = self
            .files
            .iter()
            .filter_map(|f| f.parent().map(Path::to_path_buf))
            .collect();
        let gone: Vec<PathBuf> = self
            .dirs
            .keys()
            .filter(|d| !wanted.contains(*d))
            .cloned()
            .collect();
        for dir in gone {
            if self.dirs.remove(&dir).flatten().is_some()
                && let Err(e) = self.watcher.unwatch(&dir)
            {
                tracing::debug!("unwatch {}: {e}", dir.display());
            }
        }
        for dir in wanted {
            if !self.dirs.contains_key(&dir) {
                self.dirs.insert(dir.clone(), None);
                self.attach(&dir, false);
            }
        }
        self.refresh_anchors();
    }

    /// Watches `dir` (again); when it does not exist, logs it once as lost. `was_lost`: it
    /// was missing or replaced before, so its files count as changed when it is back.
    fn attach(&mut self, dir: &Path, was_lost: bool) {
        use notify::Watcher as _;
        let id = DirId::of(dir);
        let watched = id.is_some()
            && match self.watcher.watch(dir, notify::RecursiveMode::NonRecursive) {
                Ok(()) => true,
                Err(e) => {
                    tracing::warn!("hot reload: cannot watch {}: {e}", dir.display());
                    false
                }
            };
        self.dirs
            .insert(dir.to_path_buf(), if watched { id } else { None });
        if watched {
            if was_lost {
                tracing::info!("hot reload: {} is back; watching it again", dir.display());
                self.mark_changed_in(dir);
            }
        } else if !was_lost {
            log_lost(dir);
        }
    }

    /// Every watched file in `dir` counts as changed.
    fn mark_changed_in(&mut self, dir: &Path) {
        let files: Vec<PathBuf> = self
            .files
            .iter()
            .filter(|f| f.parent() == Some(dir))
            .cloned()
            .collect();
        for f in files {
            if !self.burst.contains(&f) {
                self.burst.push(f);
            }
        }
        self.last_event = Some(std::time::Instant::now());
    }

    /// Watches the nearest existing ancestor of each lost folder (and no other).
    fn refresh_anchors(&mut self) {
        use notify::Watcher as _;
        let wanted: HashSet<PathBuf> = self
            .dirs
            .iter()
            .filter(|(_, id)| id.is_none())
            .filter_map(|(dir, _)| dir.ancestors().skip(1).find(|a| a.is_dir()))
            .map(Path::to_path_buf)
            .filter(|a| !matches!(self.dirs.get(a), Some(Some(_))))
            .collect();
        for old in self.anchors.difference(&wanted) {
            if let Err(e) = self.watcher.unwatch(old) {
                tracing::debug!("unwatch {}: {e}", old.display());
            }
        }
        for new in wanted.difference(&self.anchors) {
            if let Err(e) = self.watcher.watch(new, notify::RecursiveMode::NonRecursive) {
                tracing::warn!("hot reload: cannot watch {}: {e}", new.display());
            }
        }
        self.anchors = wanted;
    }

    /// Checks the folders in `recheck` (and, every [`IDENTITY_CHECK`], all of them): a
    /// folder that is gone or is another folder now is watched again.
    fn check_dirs(&mut self) {
        use notify::Watcher as _;
        if self.checked_at.elapsed() >= IDENTITY_CHECK {
            self.checked_at = std::time::Instant::now();
            self.recheck.extend(self.dirs.keys().cloned());
        }
        if self.recheck.is_empty() && self.force.is_empty() {
            return;
        }
        let mut changed = false;
        let force = std::mem::take(&mut self.force);
        for dir in std::mem::take(&mut self.recheck)
            .into_iter()
            .chain(force.iter().cloned())
        {
            let Some(&known) = self.dirs.get(&dir) else {
                continue;
            };
            let now = DirId::of(&dir);
            if known.is_some() && known == now && !force.contains(&dir) {
                continue;
            }
            if known.is_some() {
                log_lost(&dir);
                if let Err(e) = self.watcher.unwatch(&dir) {
                    tracing::debug!("unwatch {}: {e}", dir.display());
                }
            } else if now.is_none() {
                continue;
            }
            self.attach(&dir, true);
            changed = true;
        }
        if changed {
            self.refresh_anchors();
        }
    }

    /// The watched files whose changes settled since the last call (never waits).
    pub fn changed(&mut self) -> Vec<PathBuf> {
        use notify::EventKind;
        loop {
            match self.events.try_recv() {
                Ok(Ok(event)) => {
                    if event.need_rescan() {
                        // The kernel's event queue overflowed: anything may have changed.
                        tracing::warn!("hot reload: file events were lost; checking everything");
                        self.recheck.extend(self.dirs.keys().cloned());
                        let files: Vec<PathBuf> = self.files.iter().cloned().collect();
                        self.burst.extend(files);
                        self.last_event = Some(std::time::Instant::now());
                    }
                    if matches!(event.kind, EventKind::Access(_) | EventKind::Other) {
                        continue;
                    }
                    let moved = matches!(
                        event.kind,
                        EventKind::Create(_)
                            | EventKind::Remove(_)
                            | EventKind::Modify(notify::event::ModifyKind::Name(_))
                    );
                    for path in &event.paths {
                        let path = normalize(path);
                        // A watched folder, or one above it, renamed, removed or created.
                        if moved {
                            for dir in self.dirs.keys() {
                                if dir.starts_with(&path) {
                                    self.force.insert(dir.clone());
                                }
                            }
                        }
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
        self.check_dirs();
        match self.last_event {
            Some(at) if at.elapsed() >= self.debounce => {
                self.last_event = None;
                std::mem::take(&mut self.burst)
            }
            _ => Vec::new(),
        }
    }
}

fn log_lost(dir: &Path) {
    tracing::warn!(
        "hot reload: lost {} (moved, renamed or deleted); its files reload when it is back",
        dir.display()
    );
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    /// Polls the watcher until `file` is reported changed, or fails after 10 s.
    fn wait_changed(w: &mut FileWatcher, file: &Path, what: &str) {
        let file = normalize(file);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if w.changed().contains(&file) {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!("{what}: no change of {} reported", file.display());
    }

    /// Lets pending events settle and forgets them.
    fn settle(w: &mut FileWatcher) {
        let until = Instant::now() + DEBOUNCE * 3;
        while Instant::now() < until {
            let _ = w.changed();
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    #[test]
    fn files_are_followed_through_folder_moves_and_replacements() {
        let root = tempfile::tempdir().unwrap();
        let scenes = root.path().join("scenes");
        let flow = scenes.join("flow");
        std::fs::create_dir_all(&flow).unwrap();
        let scene = scenes.join("flow.toml");
        let shader = flow.join("grade.wgsl");
        std::fs::write(&scene, "a").unwrap();
        std::fs::write(&shader, "a").unwrap();
        let mut w = FileWatcher::new(DEBOUNCE).unwrap();
        w.set_files([scene.clone(), shader.clone()]);

        std::fs::write(&shader, "b").unwrap();
        wait_changed(&mut w, &shader, "an edit");

        // Moved away and back (the watch on the folder is dropped by the move).
        let away = root.path().join("x");
        std::fs::rename(&flow, &away).unwrap();
        std::fs::rename(&away, &flow).unwrap();
        settle(&mut w);
        std::fs::write(&shader, "broken(").unwrap();
        wait_changed(
            &mut w,
            &shader,
            "an edit after the folder moved away and back",
        );

        // Deleted, then re-created later by a sync tool: the new files count as changed.
        std::fs::remove_dir_all(&flow).unwrap();
        settle(&mut w);
        std::fs::create_dir(&flow).unwrap();
        std::fs::write(&shader, "c").unwrap();
        wait_changed(&mut w, &shader, "a re-created folder");
        settle(&mut w);
        std::fs::write(&shader, "d").unwrap();
        wait_changed(&mut w, &shader, "an edit in the re-created folder");

        // The scene's own folder replaced by another under the same name.
        let fresh = root.path().join("fresh");
        std::fs::create_dir_all(fresh.join("flow")).unwrap();
        std::fs::write(fresh.join("flow.toml"), "e").unwrap();
        std::fs::write(fresh.join("flow").join("grade.wgsl"), "e").unwrap();
        let old = root.path().join("old");
        std::fs::rename(&scenes, &old).unwrap();
        std::fs::rename(&fresh, &scenes).unwrap();
        settle(&mut w);
        std::fs::write(&scene, "f").unwrap();
        wait_changed(&mut w, &scene, "an edit in a replaced scene folder");
        std::fs::write(&shader, "g").unwrap();
        wait_changed(&mut w, &shader, "an edit below a replaced scene folder");
    }
}
