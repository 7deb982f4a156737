//! Operations plugged into a show from above: the window's [`FrameHook`] for `hypna run`
//! (param log, health line, memory janitor), and the janitor's nudges for any frame loop.

use std::path::PathBuf;
use std::time::Instant;

use super::health::{HealthLine, HealthTimer};
use super::memory;
use super::paramlog::ParamLog;
use super::remote::RemoteOps;
use crate::runtime::Runtime;
use crate::show::Show;
use crate::window::{Flow, FrameHook, Live, WindowError};

/// Nudges the memory janitor after scenes are let go: the runtime counts switches, reloads
/// and recoveries, the show counts loads that failed; either moving means a scene's worth of
/// memory was freed.
#[derive(Debug, Default)]
pub struct Janitor {
    released: u64,
    failures: u64,
}

impl Janitor {
    /// Fixes the allocator's thresholds and starts the janitor thread (freed memory given
    /// back every minute of a long show, not only after switches and reloads).
    #[must_use]
    pub fn start() -> Self {
        memory::start_janitor();
        Self::default()
    }

    /// Call after each frame: asks for a trim soon when a scene was let go since the last
    /// call. Never waits.
    pub fn after_frame(&mut self, runtime: &Runtime, show: &Show) {
        let (released, failures) = (runtime.released(), show.failures);
        if (released, failures) != (self.released, self.failures) {
            self.released = released;
            self.failures = failures;
            memory::release_soon();
        }
    }
}

/// What `hypna run` does beside the show, as the window's frame hook.
pub struct Housekeeping {
    health: HealthTimer,
    started: Instant,
    janitor: Janitor,
    /// Where to log live param changes (`--record-params`), and the scene they belong to.
    param_log: Option<(PathBuf, PathBuf)>,
    /// The browser remote and OSCQuery server, started with the window.
    remote: Option<RemoteOps>,
}

impl Housekeeping {
    /// A health line every `health_secs` (0: none); live param changes logged to
    /// `param_log` (with the `scene` named in its header). Starts the memory janitor.
    #[must_use]
    pub fn new(health_secs: f64, param_log: Option<PathBuf>, scene: PathBuf) -> Self {
        Self {
            health: HealthTimer::new(health_secs),
            started: Instant::now(),
            janitor: Janitor::start(),
            param_log: param_log.map(|path| (path, scene)),
            remote: None,
        }
    }

    /// Serves the browser remote and OSCQuery beside the show (started with the window).
    pub fn set_remote(&mut self, remote: RemoteOps) {
        self.remote = Some(remote);
    }

    /// The browser remote, if it was set.
    #[must_use]
    pub fn remote(&self) -> Option<&RemoteOps> {
        self.remote.as_ref()
    }
}

impl FrameHook for Housekeeping {
    fn started(&mut self, live: &mut Live) -> Result<(), WindowError> {
        if let Some((path, scene)) = &self.param_log {
            match ParamLog::create(path, scene) {
                Ok(log) => {
                    tracing::info!("recording param changes to {}", path.display());
                    live.runtime_mut().set_param_sink(Some(Box::new(log)));
                }
                Err(e) => tracing::error!("cannot record param changes: {e}"),
            }
        }
        if let Some(remote) = &mut self.remote {
            remote.start(live);
        }
        Ok(())
    }

    fn redraw(&mut self, live: &mut Live) -> Result<Flow, WindowError> {
        live.draw();
        self.janitor.after_frame(live.runtime(), live.show());
        let uptime = self.started.elapsed().as_secs_f64();
        if let Some(remote) = &mut self.remote {
            remote.after_frame(live, uptime);
        }
        if self.health.due(uptime) {
            let health = HealthLine::of(&live.runtime().status(), uptime, live.show().is_open());
            tracing::info!("{health}");
        }
        Ok(Flow::Continue)
    }
}
