//! A periodic one-line health report for unattended runs.
//!
//! [`HealthLine`] prints as one stable, grep-friendly line of `key=value` tokens (no spaces
//! inside a value, the same keys in the same order every time), e.g.
//!
//! ```text
//! health uptime=3h12m fps=59.8 frame=123456 scene=dream models=dream:14.9Hz/0err audio=ok(-23dB) osc=rx1200/drop3 rss=182.4MB open=yes
//! ```
//!
//! so `grep health hypna.log | awk` (or a log shipper) can graph a week of memory or frame
//! rate. [`HealthTimer`] says when to log one, on injected time.

use std::fmt;

use crate::runtime::Status;

/// One model's throughput.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ModelHealth {
    /// The model's name in the scene.
    pub name: String,
    /// Completed runs per second, recently.
    pub rate_hz: f32,
    /// Failed runs since the scene started.
    pub errors: u64,
}

/// Audio input state.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AudioHealth {
    /// Short state word: `ok`, `lost`, `reconnecting`, `file`; empty means no audio (`off`).
    pub state: String,
    /// Input level in dBFS, when there is input.
    pub level_db: Option<f32>,
}

/// OSC traffic since start.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OscHealth {
    /// Messages received.
    pub received: u64,
    /// Messages dropped (queue full, unknown address, rejected sender).
    pub dropped: u64,
}

/// Everything one health line reports. Built from the runtime's [`Status`] with
/// [`HealthLine::of`]; print it with `{}`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HealthLine {
    /// Seconds since the process started.
    pub uptime_secs: f64,
    /// Frames per second, recently.
    pub fps: f32,
    /// Frames rendered since start.
    pub frame: u64,
    /// The scene showing (spaces become `_`).
    pub scene: String,
    /// Every model of the scene; empty prints `models=none`.
    pub models: Vec<ModelHealth>,
    /// Audio input.
    pub audio: AudioHealth,
    /// OSC counters; `None` prints `osc=off`.
    pub osc: Option<OscHealth>,
    /// Resident memory ([`resident_memory_bytes`]); `None` prints `rss=?`.
    pub rss_bytes: Option<u64>,
    /// Inside opening hours (true without a schedule).
    pub open: bool,
}

impl HealthLine {
    /// The health line of a runtime whose state is `status`, `uptime_secs` into the run;
    /// `open`: inside opening hours. Resident memory is read now.
    #[must_use]
    pub fn of(status: &Status, uptime_secs: f64, open: bool) -> Self {
        Self {
            uptime_secs,
            fps: status.fps,
            frame: status.frame,
            scene: status.scene.clone(),
            models: status
                .models
                .iter()
                .map(|m| ModelHealth {
                    name: m.name.clone(),
                    rate_hz: m.rate_hz,
                    errors: m.errors,
                })
                .collect(),
            audio: AudioHealth {
                state: status
                    .audio_state
                    .split_whitespace()
                    .next()
                    .unwrap_or("off")
                    .to_string(),
                level_db: status.audio_level_db,
            },
            osc: status.osc.as_ref().map(|(_, c)| OscHealth {
                received: c.get(crate::osc::Counter::Received),
                dropped: c.problems(),
            }),
            rss_bytes: resident_memory_bytes(),
            open,
        }
    }
}

/// `value` with characters that would break `key=value` tokens replaced by `_`; `-` if empty.
fn token(value: &str) -> String {
    if value.is_empty() {
        return "-".to_string();
    }
    value
        .chars()
        .map(|c| {
            if c.is_whitespace() || c.is_control() || c == '=' {
                '_'
            } else {
                c
            }
        })
        .collect()
}

/// `3h12m`, `2d4h0m`, `5m3s`, `42s`.
fn uptime(secs: f64) -> String {
    let total = if secs.is_finite() && secs > 0.0 {
        secs as u64
    } else {
        0
    };
    let (d, h, m, s) = (
        total / 86_400,
        total / 3600 % 24,
        total / 60 % 60,
        total % 60,
    );
    if d > 0 {
        format!("{d}d{h}h{m}m")
    } else if h > 0 {
        format!("{h}h{m}m")
    } else if m > 0 {
        format!("{m}m{s}s")
    } else {
        format!("{s}s")
    }
}

/// Non-finite numbers print as 0 so a bad measurement cannot make a token unparsable.
fn finite(v: f32) -> f32 {
    if v.is_finite() { v } else { 0.0 }
}

impl fmt::Display for HealthLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "health uptime={} fps={:.1} frame={} scene={} models=",
            uptime(self.uptime_secs),
            finite(self.fps),
            self.frame,
            token(&self.scene)
        )?;
        if self.models.is_empty() {
            f.write_str("none")?;
        }
        for (i, m) in self.models.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(
                f,
                "{}:{:.1}Hz/{}err",
                token(&m.name).replace([',', ':'], "_"),
                finite(m.rate_hz),
                m.errors
            )?;
        }
        if self.audio.state.is_empty() {
            f.write_str(" audio=off")?;
        } else {
            write!(f, " audio={}", token(&self.audio.state))?;
            match self.audio.level_db {
                Some(db) if db.is_finite() => write!(f, "({db:.0}dB)")?,
                // Digital silence is -inf dBFS.
                Some(_) => f.write_str("(-infdB)")?,
                None => {}
            }
        }
        match self.osc {
            Some(o) => write!(f, " osc=rx{}/drop{}", o.received, o.dropped)?,
            None => f.write_str(" osc=off")?,
        }
        match self.rss_bytes {
            Some(b) => write!(f, " rss={:.1}MB", b as f64 / 1e6)?,
            None => f.write_str(" rss=?")?,
        }
        write!(f, " open={}", if self.open { "yes" } else { "no" })
    }
}

/// Resident memory of this process in bytes (Linux: `VmRSS` of `/proc/self/status`); `None`
/// elsewhere or when it cannot be read.
#[must_use]
pub fn resident_memory_bytes() -> Option<u64> {
    #[cfg(target_os = "linux")]
    {
        std::fs::read_to_string("/proc/self/status")
            .ok()
            .and_then(|s| parse_vm_rss(&s))
    }
    #[cfg(not(target_os = "linux"))]
    {
        None
    }
}

/// The `VmRSS:   12345 kB` line of a `/proc/<pid>/status` text, in bytes.
#[must_use]
pub fn parse_vm_rss(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let mut fields = line["VmRSS:".len()..].split_whitespace();
    let kib: u64 = fields.next()?.parse().ok()?;
    match fields.next() {
        Some("kB") => kib.checked_mul(1024),
        _ => None,
    }
}

/// Says when the next health line is due, every `every_secs` of injected time.
#[derive(Debug, Clone)]
pub struct HealthTimer {
    every_secs: f64,
    next_secs: Option<f64>,
}

impl HealthTimer {
    /// A timer firing every `every_secs`; zero, negative or non-finite never fires (health
    /// logging off).
    #[must_use]
    pub fn new(every_secs: f64) -> Self {
        Self {
            every_secs,
            next_secs: None,
        }
    }

    /// True when a line is due at `now_secs`: on the first call (a baseline at startup), then
    /// once every `every_secs`. After a stall it fires once, not once per missed period; if
    /// time jumps back it re-arms from `now_secs`.
    pub fn due(&mut self, now_secs: f64) -> bool {
        let enabled = self.every_secs.is_finite() && self.every_secs > 0.0;
        if !enabled || !now_secs.is_finite() {
            return false;
        }
        match self.next_secs {
            Some(next) if now_secs < next => {
                if next - now_secs > self.every_secs {
                    self.next_secs = Some(now_secs + self.every_secs);
                }
                false
            }
            _ => {
                self.next_secs = Some(now_secs + self.every_secs);
                true
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn full() -> HealthLine {
        HealthLine {
            uptime_secs: 3.0 * 3600.0 + 12.0 * 60.0 + 7.0,
            fps: 59.84,
            frame: 123_456,
            scene: "dream".into(),
            models: vec![ModelHealth {
                name: "dream".into(),
                rate_hz: 14.94,
                errors: 0,
            }],
            audio: AudioHealth {
                state: "ok".into(),
                level_db: Some(-23.2),
            },
            osc: Some(OscHealth {
                received: 1200,
                dropped: 3,
            }),
            rss_bytes: Some(182_400_000),
            open: true,
        }
    }

    #[test]
    fn prints_one_stable_line() {
        assert_eq!(
            full().to_string(),
            "health uptime=3h12m fps=59.8 frame=123456 scene=dream models=dream:14.9Hz/0err \
             audio=ok(-23dB) osc=rx1200/drop3 rss=182.4MB open=yes"
        );
    }

    #[test]
    fn empty_parts_keep_every_key() {
        let line = HealthLine::default().to_string();
        assert_eq!(
            line,
            "health uptime=0s fps=0.0 frame=0 scene=- models=none audio=off osc=off rss=? open=no"
        );
    }

    #[test]
    fn values_never_contain_spaces() {
        let mut h = full();
        h.scene = "Dream zoom=2".into();
        h.models.push(ModelHealth {
            name: "second model".into(),
            rate_hz: f32::NAN,
            errors: 7,
        });
        h.audio.level_db = Some(f32::NEG_INFINITY);
        h.fps = f32::INFINITY;
        let line = h.to_string();
        assert!(line.contains(" scene=Dream_zoom_2 "), "{line}");
        assert!(
            line.contains(" models=dream:14.9Hz/0err,second_model:0.0Hz/7err "),
            "{line}"
        );
        assert!(line.contains(" audio=ok(-infdB) "), "{line}");
        assert!(line.contains(" fps=0.0 "), "{line}");
        // Every token after the first is key=value.
        assert_eq!(line.split(' ').count(), 10, "{line}");
        assert!(line.split(' ').skip(1).all(|t| t.split('=').count() == 2));
    }

    #[test]
    fn uptime_units() {
        assert_eq!(uptime(42.9), "42s");
        assert_eq!(uptime(5.0 * 60.0 + 3.0), "5m3s");
        assert_eq!(uptime(3600.0), "1h0m");
        assert_eq!(uptime(2.0 * 86_400.0 + 4.0 * 3600.0 + 59.0), "2d4h0m");
        assert_eq!(uptime(-1.0), "0s");
        assert_eq!(uptime(f64::NAN), "0s");
    }

    #[test]
    fn reads_vm_rss() {
        let status = "Name:\thypna\nVmPeak:\t  999 kB\nVmRSS:\t  178124 kB\nThreads:\t12\n";
        assert_eq!(parse_vm_rss(status), Some(178_124 * 1024));
        assert_eq!(parse_vm_rss("VmRSS: lots kB\n"), None);
        assert_eq!(parse_vm_rss("VmRSS: 12 pages\n"), None);
        assert_eq!(parse_vm_rss("Name: x\n"), None);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn this_process_has_resident_memory() {
        let rss = resident_memory_bytes().unwrap();
        // A test binary with its libraries is more than 1 MB and less than 100 GB.
        assert!(rss > 1 << 20 && rss < 100 << 30, "{rss}");
    }

    #[test]
    fn timer_fires_at_start_then_every_period() {
        let mut t = HealthTimer::new(60.0);
        assert!(t.due(0.0));
        assert!(!t.due(1.0));
        assert!(!t.due(59.9));
        assert!(t.due(60.0));
        assert!(!t.due(60.1));
        // A long stall fires once, then the period restarts from there.
        assert!(t.due(1000.0));
        assert!(!t.due(1001.0));
        assert!(t.due(1060.0));
        // Time going back re-arms instead of going silent until it catches up.
        assert!(!t.due(10.0));
        assert!(!t.due(69.0));
        assert!(t.due(70.0));
    }

    #[test]
    fn disabled_timer_never_fires() {
        for every in [0.0, -5.0, f64::NAN, f64::INFINITY] {
            let mut t = HealthTimer::new(every);
            assert!(!t.due(0.0));
            assert!(!t.due(1e9));
        }
    }
}
