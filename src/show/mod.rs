//! The show: which scene plays, and when. A single scene, or a playlist ([`playlist`]) whose
//! entries follow their durations, OSC `/hypna/scene...` requests and keys, with crossfades;
//! plus the opening-hours [`schedule`] and hot [`reload`] of the files on screen. Loading
//! and preparing run as background [`job`]s; [`check`] validates scenes and playlists for
//! `hypna check`.
//!
//! - The next scene is prepared and built on a loader thread (parsing, shader validation,
//!   pipelines, model sessions), pre-warmed (every model runs once, one frame renders), and
//!   only then switched to: the frame thread never compiles or loads anything. Offline
//!   renders load in line instead, so a playlist renders the same frames every time.
//! - A scene that fails to load is reported once with its located errors and skipped; the
//!   scene on screen keeps playing. It is tried again when its turn comes back.
//! - Outside opening hours the output fades to black and models pause (or an idle scene
//!   plays); at opening it fades back in.

pub mod check;
pub mod job;
pub mod playlist;
pub mod reload;
pub mod schedule;
pub mod transition;

use std::path::{Path, PathBuf};

use crate::clock::FrameTime;
use crate::diag::Diagnostic;
use crate::osc::SceneRequest;
use crate::render::context::Gpu;
use crate::runtime::isf_transition::{IsfEffect, IsfTransitionSpec};
use crate::runtime::{Built, LoadError, Runtime, RuntimeOptions, build, read_and_prepare};
use job::{Job, Priority};
use playlist::{Cursor, Playlist, Switch, is_playlist};
use schedule::{Idle, Schedule};

/// Where the schedule's local time comes from (injected in tests).
pub type LocalClock = Box<dyn FnMut() -> jiff::civil::DateTime + Send>;

/// What the show plays.
enum Source {
    Scene(PathBuf),
    Playlist {
        playlist: Box<Playlist>,
        cursor: Cursor,
    },
}

/// A scene being loaded on the loader thread.
struct Loading {
    /// The scene, and the ISF transition into it when `fade` has one that built.
    job: Job<Result<(Built, Option<IsfEffect>), LoadError>>,
    /// The schedule's idle scene (not a playlist entry).
    idle: bool,
    path: PathBuf,
    fade: Fade,
    sets: Vec<(String, f32)>,
}

/// How the switch to a loading scene fades in.
#[derive(Debug, Clone)]
struct Fade {
    /// Seconds (0: a cut).
    secs: f32,
    /// An ISF transition drawing the fade (else a crossfade).
    isf: Option<std::sync::Arc<IsfTransitionSpec>>,
}

impl Fade {
    /// A crossfade of `secs` (0: a cut).
    fn crossfade(secs: f32) -> Self {
        Self { secs, isf: None }
    }
}

/// A load asked for while another one runs: started when that one ends (only the newest
/// waits, so a burst of requests builds at most two scenes, never one per request).
struct Queued {
    idle: bool,
    path: PathBuf,
    fade: Fade,
    sets: Vec<(String, f32)>,
}

/// At most one log line per [`LOG_EVERY`] for repeated events (a spammed `next`), with the
/// count of those left out.
#[derive(Debug, Default)]
struct LogLimit {
    last: Option<std::time::Instant>,
    suppressed: u64,
}

/// The interval of [`LogLimit`].
const LOG_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

impl LogLimit {
    /// True when a line may be logged now; `Some(n)`: `n` lines were left out since the last.
    fn allow(&mut self) -> Option<u64> {
        let now = std::time::Instant::now();
        if self.last.is_some_and(|l| now.duration_since(l) < LOG_EVERY) {
            self.suppressed += 1;
            return None;
        }
        self.last = Some(now);
        Some(std::mem::take(&mut self.suppressed))
    }
}

/// What [`Show::before_frame`] did.
#[derive(Debug, Clone, PartialEq)]
pub enum ShowEvent {
    /// Nothing changed.
    Idle,
    /// A new scene is on screen (fading in); its file is given (for hot reload).
    Switched(PathBuf),
    /// A scene failed to load; the current one keeps playing.
    Failed(PathBuf),
}

/// Plays a scene or a playlist on a [`Runtime`].
pub struct Show {
    source: Source,
    loading: Option<Loading>,
    /// The newest load asked for while `loading` runs.
    queued: Option<Queued>,
    /// Rate limit of the "next scene" log lines.
    switch_log: LogLimit,
    schedule: Option<Schedule>,
    local_clock: LocalClock,
    /// The schedule's state last frame.
    open: bool,
    /// An idle scene plays (closed hours).
    idle_active: bool,
    /// The scene file on screen.
    current_path: PathBuf,
    /// Problems of the newest failed switch (cleared by a good one), for the overlay.
    errors: Vec<Diagnostic>,
    /// Switches done.
    pub switches: u64,
    /// Scenes that failed to load.
    pub failures: u64,
}

impl Show {
    /// Opens `path` (a scene or a playlist) and loads the first scene that loads.
    ///
    /// # Errors
    /// A broken playlist, or no entry of it loads (each entry's errors are logged).
    pub fn open(
        gpu: &Gpu,
        path: &Path,
        options: &RuntimeOptions,
    ) -> Result<(Self, Runtime), LoadError> {
        if !is_playlist(path) {
            let runtime = Runtime::load(gpu, path, options)?;
            let show = Self::new(Source::Scene(path.to_path_buf()), None, path);
            return Ok((show, runtime));
        }
        let playlist = Playlist::load(path).map_err(LoadError::Playlist)?;
        let schedule = playlist.schedule.clone();
        let mut cursor = match playlist.seed {
            Some(seed) => Cursor::with_seed(&playlist, seed),
            None => Cursor::new(&playlist),
        };
        cursor.start(0.0);
        let mut last_error = None;
        for _ in 0..playlist.entries.len() {
            let entry = &playlist.entries[cursor.current()];
            match Runtime::load(gpu, &entry.scene, options) {
                Ok(mut runtime) => {
                    runtime.warm_transitions(gpu);
                    for (name, value) in &entry.set {
                        if let Err(e) = runtime.params_mut().set_now(name, *value) {
                            tracing::warn!("playlist entry `{}`: {e}", entry.name);
                        }
                    }
                    tracing::info!(
                        "playlist `{}`: {} entries, starting with `{}`",
                        playlist.name,
                        playlist.entries.len(),
                        entry.name
                    );
                    let scene = entry.scene.clone();
                    let show = Self::new(
                        Source::Playlist {
                            playlist: Box::new(playlist),
                            cursor,
                        },
                        schedule,
                        &scene,
                    );
                    return Ok((show, runtime));
                }
                Err(e) => {
                    tracing::error!(
                        "playlist entry `{}` does not load, skipped:\n{}",
                        entry.name,
                        e.located(&entry.scene)
                    );
                    last_error = Some(e);
                    cursor.next(0.0);
                }
            }
        }
        Err(last_error.unwrap_or_else(|| LoadError::Internal("the playlist is empty".into())))
    }

    fn new(source: Source, schedule: Option<Schedule>, current: &Path) -> Self {
        Self {
            source,
            loading: None,
            queued: None,
            switch_log: LogLimit::default(),
            schedule,
            local_clock: Box::new(schedule::now_local),
            open: true,
            idle_active: false,
            current_path: current.to_path_buf(),
            errors: Vec::new(),
            switches: 0,
            failures: 0,
        }
    }

    /// Replaces the schedule's clock (tests, simulations).
    pub fn set_local_clock(&mut self, clock: LocalClock) {
        self.local_clock = clock;
    }

    /// Replaces (or removes) the schedule; returns the one it had.
    pub fn set_schedule(&mut self, schedule: Option<Schedule>) -> Option<Schedule> {
        std::mem::replace(&mut self.schedule, schedule)
    }

    /// The scene file on screen.
    #[must_use]
    pub fn current_path(&self) -> &Path {
        &self.current_path
    }

    /// The playlist entry on screen (or switching in), when playing a playlist.
    #[must_use]
    pub fn entry(&self) -> Option<(usize, &str)> {
        match &self.source {
            Source::Playlist { playlist, cursor } => {
                let i = cursor.current();
                playlist.entries.get(i).map(|e| (i, e.name.as_str()))
            }
            Source::Scene(_) => None,
        }
    }

    /// The names of the playlist's entries in file order (empty for a single scene).
    #[must_use]
    pub fn entry_names(&self) -> Vec<String> {
        match &self.source {
            Source::Playlist { playlist, .. } => {
                playlist.entries.iter().map(|e| e.name.clone()).collect()
            }
            Source::Scene(_) => Vec::new(),
        }
    }

    /// The schedule's next opening or closing (local time), if it has one that changes.
    #[must_use]
    pub fn next_change(&mut self) -> Option<jiff::civil::DateTime> {
        let now = (self.local_clock)();
        self.schedule.as_ref()?.next_change(now)
    }

    /// Problems of the newest switch that failed.
    #[must_use]
    pub fn errors(&self) -> &[Diagnostic] {
        &self.errors
    }

    /// Whether the schedule has the show closed with the output fully dark (the frame loop
    /// may idle).
    #[must_use]
    pub fn dark(&self, runtime: &Runtime) -> bool {
        !self.open && runtime.level() <= 0.0 && !runtime.in_transition()
    }

    /// Whether the schedule has the show open.
    #[must_use]
    pub fn is_open(&self) -> bool {
        self.open
    }

    /// Drops a scene being loaded (it was built on a GPU device that has since been lost);
    /// the scene on screen plays on until the next switch.
    pub fn cancel_loading(&mut self) {
        if let Some(loading) = self.loading.take() {
            tracing::warn!(
                "the load of {} was dropped: it was built on the lost GPU device",
                loading.path.display()
            );
        }
    }

    /// Moves to the next entry (a key, OSC).
    pub fn next(&mut self, gpu: &Gpu, runtime: &Runtime, now: f64) {
        if let Source::Playlist { cursor, .. } = &mut self.source
            && let Some(switch) = cursor.next(now)
        {
            self.switch_to(gpu, runtime, &switch);
        }
    }

    /// Moves to the previous entry.
    pub fn previous(&mut self, gpu: &Gpu, runtime: &Runtime, now: f64) {
        if let Source::Playlist { cursor, .. } = &mut self.source
            && let Some(switch) = cursor.previous(now)
        {
            self.switch_to(gpu, runtime, &switch);
        }
    }

    /// Call before each frame: follows OSC scene requests, entry durations, the schedule,
    /// and switches to a loaded scene. Never waits (except offline, see the module doc).
    pub fn before_frame(&mut self, gpu: &Gpu, runtime: &mut Runtime, t: FrameTime) -> ShowEvent {
        let now = t.time_secs;
        if let Some(request) = runtime.take_scene_request() {
            self.request(gpu, runtime, &request, now);
        }
        self.follow_schedule(gpu, runtime);
        // An entry's time counts from when it is on screen: no timed switch while a scene
        // is still loading (its timer starts when it lands, see `finish_loading`).
        if self.open
            && !self.idle_active
            && self.loading.is_none()
            && let Source::Playlist { cursor, .. } = &mut self.source
            && let Some(switch) = cursor.poll(now)
        {
            self.switch_to(gpu, runtime, &switch);
        }
        self.finish_loading(gpu, runtime, now)
    }

    fn request(&mut self, gpu: &Gpu, runtime: &Runtime, request: &SceneRequest, now: f64) {
        let Source::Playlist { cursor, playlist } = &mut self.source else {
            tracing::warn!("OSC scene request {request:?} ignored: not playing a playlist");
            return;
        };
        let switch = match request {
            SceneRequest::Next => cursor.next(now),
            SceneRequest::Prev => cursor.previous(now),
            SceneRequest::Index(i) if *i < playlist.entries.len() => cursor.goto_index(*i, now),
            SceneRequest::Index(i) => {
                tracing::warn!(
                    "OSC scene request: no entry {i} (the playlist has {})",
                    playlist.entries.len()
                );
                None
            }
            SceneRequest::Name(name) => {
                let s = cursor.goto_name(name, now);
                if s.is_none() && playlist.index_of(name).is_none() {
                    tracing::warn!("OSC scene request: no entry named `{name}`");
                }
                s
            }
        };
        if let Some(switch) = switch {
            self.switch_to(gpu, runtime, &switch);
        }
    }

    fn switch_to(&mut self, gpu: &Gpu, runtime: &Runtime, switch: &Switch) {
        let Source::Playlist { playlist, .. } = &self.source else {
            return;
        };
        let Some(entry) = playlist.entries.get(switch.index) else {
            return;
        };
        let path = entry.scene.clone();
        let sets = entry.set.clone();
        let fade = Fade {
            secs: switch.transition.fade_secs(),
            isf: switch.transition.isf.clone(),
        };
        if let Some(left_out) = self.switch_log.allow() {
            let also = if left_out > 0 {
                format!("; {left_out} more requests in the last second not logged")
            } else {
                String::new()
            };
            tracing::info!(
                "playlist: `{}` next ({}){also}",
                entry.name,
                match (&fade.isf, fade.secs > 0.0) {
                    (_, false) => "cut".to_string(),
                    (Some(isf), true) => {
                        format!("{} s ISF transition {}", fade.secs, isf.file.display())
                    }
                    (None, true) => format!("{} s crossfade", fade.secs),
                }
            );
        }
        self.start_loading(gpu, runtime, false, path, fade, sets);
    }

    fn start_loading(
        &mut self,
        gpu: &Gpu,
        runtime: &Runtime,
        idle: bool,
        path: PathBuf,
        fade: Fade,
        sets: Vec<(String, f32)>,
    ) {
        if self.loading.is_some() && !runtime.options().sync_models {
            // One loader at a time: the newest request waits for the running load.
            self.queued = Some(Queued {
                idle,
                path,
                fade,
                sets,
            });
            return;
        }
        let options = runtime.options().clone();
        let job_gpu = gpu.clone();
        let job_path = path.clone();
        let isf = fade.isf.clone().filter(|_| fade.secs > 0.0);
        let work = move || {
            let built = read_and_prepare(&job_path, &options, None)
                .and_then(|p| build(&job_gpu, p, &options))
                .map(|built| built.warm(&job_gpu))?;
            // The ISF transition into it, at its size. One that does not build is reported
            // with its located problems and the switch crossfades instead.
            let effect = isf.and_then(|spec| {
                let size = built.output_size()?;
                match IsfEffect::build(&job_gpu, &spec, size) {
                    Ok(mut effect) => {
                        effect.warm(&job_gpu);
                        Some(effect)
                    }
                    Err(e) => {
                        tracing::error!(
                            "ISF transition {} does not load; crossfading instead:\n{}",
                            spec.file.display(),
                            e.located(&spec.file)
                        );
                        None
                    }
                }
            });
            Ok((built, effect))
        };
        let job = if runtime.options().sync_models {
            // Offline: load in line so the switch lands on the same frame every run.
            Job::in_line(work)
        } else {
            match Job::spawn("hypna-loader", Priority::Lowest, work) {
                Ok(job) => job,
                Err(e) => {
                    tracing::error!("cannot start a loader thread: {e}");
                    return;
                }
            }
        };
        self.loading = Some(Loading {
            job,
            idle,
            path,
            fade,
            sets,
        });
    }

    fn finish_loading(&mut self, gpu: &Gpu, runtime: &mut Runtime, now_secs: f64) -> ShowEvent {
        let Some(loading) = &self.loading else {
            return ShowEvent::Idle;
        };
        let result = match loading.job.try_take() {
            None => return ShowEvent::Idle,
            Some(Ok(result)) => result,
            Some(Err(e)) => Err(LoadError::Internal(format!(
                "loading the scene failed: {e}"
            ))),
        };
        let Some(loading) = self.loading.take() else {
            return ShowEvent::Idle;
        };
        if let Some(next) = self.queued.take() {
            // A newer request came in meanwhile: this scene is dropped unseen (and freed
            // here), the newest one loads.
            drop(result);
            self.start_loading(gpu, runtime, next.idle, next.path, next.fade, next.sets);
            return ShowEvent::Idle;
        }
        match result {
            Ok((built, effect)) => {
                runtime.switch(gpu, built, loading.fade.secs, effect, &loading.sets);
                if !loading.idle
                    && let Source::Playlist { cursor, .. } = &mut self.source
                {
                    cursor.start(now_secs);
                }
                self.idle_active = loading.idle;
                self.current_path.clone_from(&loading.path);
                self.errors.clear();
                self.switches += 1;
                ShowEvent::Switched(loading.path)
            }
            Err(e) => {
                let errors = e.located(&loading.path);
                tracing::error!(
                    "{} does not load; {} keeps playing:\n{errors}",
                    loading.path.display(),
                    runtime.scene().name,
                );
                self.errors = errors.0;
                // Counted: what the failed load built was freed (the memory janitor watches).
                self.failures += 1;
                ShowEvent::Failed(loading.path)
            }
        }
    }

    fn follow_schedule(&mut self, gpu: &Gpu, runtime: &mut Runtime) {
        let Some(schedule) = &self.schedule else {
            return;
        };
        let at = (self.local_clock)();
        let (open, level) = (schedule.is_open(at), schedule.level(at));
        let black = matches!(schedule.idle, Idle::Black);
        let fade = schedule.fade_secs as f32;
        if open != self.open {
            tracing::info!("schedule: {}", if open { "opening" } else { "closing" });
            self.open = open;
            let idle_scene = match &schedule.idle {
                Idle::Scene(path) => Some(path.clone()),
                Idle::Black => None,
            };
            match (idle_scene, open) {
                (Some(path), false) => {
                    self.start_loading(gpu, runtime, true, path, Fade::crossfade(fade), Vec::new());
                }
                (Some(_), true) => {
                    if let Source::Playlist { playlist, cursor } = &self.source {
                        let entry = &playlist.entries[cursor.current()];
                        let (path, sets) = (entry.scene.clone(), entry.set.clone());
                        self.start_loading(gpu, runtime, false, path, Fade::crossfade(fade), sets);
                    } else if let Source::Scene(path) = &self.source {
                        let path = path.clone();
                        self.start_loading(
                            gpu,
                            runtime,
                            false,
                            path,
                            Fade::crossfade(fade),
                            Vec::new(),
                        );
                    }
                }
                (None, _) => {}
            }
        }
        if black {
            runtime.set_level(level);
            // Closed and dark: no model work.
            runtime.set_models_paused(level <= 0.0);
        } else {
            runtime.set_level(1.0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_log_lines_are_limited_and_counted() {
        let mut limit = LogLimit::default();
        assert_eq!(limit.allow(), Some(0), "the first line is logged");
        for _ in 0..1000 {
            assert_eq!(limit.allow(), None, "within a second: left out");
        }
        // A second later the next line says how many were left out.
        limit.last = limit
            .last
            .and_then(|l| l.checked_sub(LOG_EVERY + std::time::Duration::from_millis(1)));
        assert_eq!(limit.allow(), Some(1000));
        assert_eq!(limit.allow(), None);
    }
}
