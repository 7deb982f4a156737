//! Frame time: a real clock for live shows and a fixed-step clock for deterministic renders.

use std::time::Instant;

/// The time a frame is rendered for.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct FrameTime {
    /// Seconds since the scene started.
    pub time_secs: f64,
    /// Seconds since the previous frame.
    pub dt_secs: f32,
    /// Frame number from 0.
    pub frame: u64,
}

/// Longest step a real clock reports, so a stall (a debugger, a suspended laptop) does not
/// make every smoothed value jump.
pub const MAX_DT_SECS: f32 = 0.25;

/// Where frame times come from.
#[derive(Debug, Clone)]
pub enum Clock {
    /// Frame `n` is at `n / fps` seconds: identical on every run.
    Fixed {
        /// Frames per second.
        fps: f64,
        /// The next frame number.
        next: u64,
    },
    /// Wall-clock time.
    Real {
        /// When the first frame was taken.
        start: Option<Instant>,
        /// The previous frame's time.
        last: Option<Instant>,
        /// The next frame number.
        next: u64,
    },
}

impl Clock {
    /// A fixed-step clock at `fps` (clamped to at least 1e-3).
    #[must_use]
    pub fn fixed(fps: f64) -> Self {
        Self::Fixed {
            fps: fps.max(1e-3),
            next: 0,
        }
    }

    /// A wall clock starting at the first tick.
    #[must_use]
    pub fn real() -> Self {
        Self::Real {
            start: None,
            last: None,
            next: 0,
        }
    }

    /// The time of the next frame.
    pub fn tick(&mut self) -> FrameTime {
        match self {
            Self::Fixed { fps, next } => {
                let frame = *next;
                *next += 1;
                #[allow(clippy::cast_precision_loss, clippy::cast_possible_truncation)]
                FrameTime {
                    time_secs: frame as f64 / *fps,
                    dt_secs: (1.0 / *fps) as f32,
                    frame,
                }
            }
            Self::Real { start, last, next } => {
                let now = Instant::now();
                let start = *start.get_or_insert(now);
                let dt = last
                    .map_or(0.0, |l| now.duration_since(l).as_secs_f32())
                    .min(MAX_DT_SECS);
                *last = Some(now);
                let frame = *next;
                *next += 1;
                FrameTime {
                    time_secs: now.duration_since(start).as_secs_f64(),
                    dt_secs: dt,
                    frame,
                }
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::float_cmp)] // exact values are the point of these tests
mod tests {
    use super::*;

    #[test]
    fn fixed_clock_is_exact() {
        let mut c = Clock::fixed(30.0);
        let a = c.tick();
        let b = c.tick();
        assert_eq!(a.frame, 0);
        assert_eq!(a.time_secs, 0.0);
        assert_eq!(b.frame, 1);
        assert!((b.time_secs - 1.0 / 30.0).abs() < 1e-12);
        assert!((b.dt_secs - 1.0 / 30.0).abs() < 1e-7);
    }
}
