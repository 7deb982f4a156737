//! Monitors: listing them (`hypna devices`), choosing one by index or name (`--monitor`), and
//! the remembered window placement (`--remember-window`).

use std::path::PathBuf;

use winit::application::ApplicationHandler;
use winit::event::WindowEvent;
use winit::event_loop::{ActiveEventLoop, EventLoop};
use winit::monitor::MonitorHandle;
use winit::window::WindowId;

use super::WindowError;

/// A monitor as `hypna devices` lists it.
#[derive(Debug, Clone)]
pub struct MonitorInfo {
    /// Position in the platform's list (what `--monitor N` picks).
    pub index: usize,
    /// The platform's name for it.
    pub name: String,
    /// Size in physical pixels.
    pub size: [u32; 2],
    /// Top-left corner on the desktop.
    pub position: [i32; 2],
    /// Refresh rate in Hz, when known.
    pub refresh_hz: Option<f32>,
    /// Whether it is the primary monitor.
    pub primary: bool,
}

impl std::fmt::Display for MonitorInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "[{}] {}{}: {}x{} at {},{}",
            self.index,
            self.name,
            if self.primary { " (primary)" } else { "" },
            self.size[0],
            self.size[1],
            self.position[0],
            self.position[1]
        )?;
        match self.refresh_hz {
            Some(hz) => write!(f, ", {hz:.2} Hz"),
            None => write!(f, ", refresh rate unknown"),
        }
    }
}

pub(super) fn monitor_info(
    index: usize,
    m: &MonitorHandle,
    primary: Option<&MonitorHandle>,
) -> MonitorInfo {
    let size = m.size();
    let position = m.position();
    MonitorInfo {
        index,
        name: m.name().unwrap_or_else(|| format!("monitor {index}")),
        size: [size.width, size.height],
        position: [position.x, position.y],
        refresh_hz: m.refresh_rate_millihertz().map(|mhz| mhz as f32 / 1000.0),
        primary: primary.is_some_and(|p| p == m),
    }
}

/// Picks a monitor by index or by a case-insensitive name substring.
#[must_use]
pub fn choose_monitor(monitors: &[MonitorInfo], choice: &str) -> Option<usize> {
    if let Ok(i) = choice.trim().parse::<usize>() {
        return monitors.iter().position(|m| m.index == i);
    }
    let needle = choice.to_lowercase();
    monitors
        .iter()
        .position(|m| m.name.to_lowercase().contains(&needle))
}

/// Lists the monitors (opens a connection to the display server, no window).
///
/// # Errors
/// When there is no display server.
pub fn list_monitors() -> Result<Vec<MonitorInfo>, WindowError> {
    struct Lister(Vec<MonitorInfo>);
    impl ApplicationHandler for Lister {
        fn resumed(&mut self, event_loop: &ActiveEventLoop) {
            let primary = event_loop.primary_monitor();
            self.0 = event_loop
                .available_monitors()
                .enumerate()
                .map(|(i, m)| monitor_info(i, &m, primary.as_ref()))
                .collect();
            event_loop.exit();
        }
        fn window_event(&mut self, _: &ActiveEventLoop, _: WindowId, _: WindowEvent) {}
    }
    let event_loop = EventLoop::new().map_err(|e| WindowError::EventLoop(e.to_string()))?;
    let mut lister = Lister(Vec::new());
    event_loop
        .run_app(&mut lister)
        .map_err(|e| WindowError::EventLoop(e.to_string()))?;
    Ok(lister.0)
}

/// Where a remembered window goes (`$XDG_CONFIG_HOME/hypna/window.toml`).
fn memory_path() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))?;
    Some(base.join("hypna").join("window.toml"))
}

/// A remembered window.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub(super) struct WindowMemory {
    pub(super) x: i32,
    pub(super) y: i32,
    pub(super) width: u32,
    pub(super) height: u32,
    pub(super) fullscreen: bool,
}

impl WindowMemory {
    pub(super) fn load() -> Option<Self> {
        let text = std::fs::read_to_string(memory_path()?).ok()?;
        toml::from_str(&text).ok()
    }

    pub(super) fn save(&self) {
        let Some(path) = memory_path() else { return };
        let result = path
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| {
                let text = toml::to_string(self).map_err(std::io::Error::other)?;
                std::fs::write(&path, text.as_bytes())
            });
        if let Err(e) = result {
            tracing::warn!("cannot remember the window in {}: {e}", path.display());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn monitor(index: usize, name: &str) -> MonitorInfo {
        MonitorInfo {
            index,
            name: name.into(),
            size: [1920, 1080],
            position: [0, 0],
            refresh_hz: Some(60.0),
            primary: index == 0,
        }
    }

    #[test]
    fn monitors_are_chosen_by_index_or_name() {
        let monitors = [
            monitor(0, "eDP-1"),
            monitor(1, "HDMI-A-1 (Gallery projector)"),
        ];
        assert_eq!(choose_monitor(&monitors, "1"), Some(1));
        assert_eq!(choose_monitor(&monitors, "0"), Some(0));
        assert_eq!(choose_monitor(&monitors, "hdmi"), Some(1));
        assert_eq!(choose_monitor(&monitors, "projector"), Some(1));
        assert_eq!(choose_monitor(&monitors, "DP-2"), None);
        assert_eq!(choose_monitor(&monitors, "7"), None);
        assert_eq!(
            monitors[1].to_string(),
            "[1] HDMI-A-1 (Gallery projector): 1920x1080 at 0,0, 60.00 Hz"
        );
    }
}
