//! Onset detection: peak picking on the spectral-flux curve with an adaptive threshold
//! (running median plus `k` median absolute deviations, plus an absolute floor).
//!
//! The detector fires on the first hop whose flux crosses the threshold (no look-ahead, so no
//! added latency), then stays disarmed until the flux falls back below it, which keeps one
//! drum hit (whose flux is spread over the few hops the window needs to slide over it) from
//! counting twice.

/// Length of the running statistics window, seconds: long enough to span a few beats of
/// sparse material, short enough to follow a change of loudness within a bar.
const WINDOW_SECS: f64 = 0.35;

/// The onset detector; one flux value in per hop.
#[derive(Debug, Clone)]
pub(crate) struct OnsetDetector {
    history: Vec<f32>,
    head: usize,
    len: usize,
    scratch: Vec<f32>,
    k: f32,
    floor: f32,
    min_gap_hops: u32,
    since_last: u32,
    armed: bool,
}

impl OnsetDetector {
    /// `k` deviations above the median plus `floor`, at most one onset per `min_gap_secs`.
    pub(crate) fn new(hop_secs: f64, k: f32, floor: f32, min_gap_secs: f32) -> Self {
        let window = ((WINDOW_SECS / hop_secs).round() as usize).max(4);
        Self {
            history: vec![0.0; window],
            head: 0,
            len: 0,
            scratch: Vec::with_capacity(window),
            k,
            floor,
            min_gap_hops: (f64::from(min_gap_secs) / hop_secs).round() as u32,
            since_last: u32::MAX,
            armed: true,
        }
    }

    /// The threshold the next flux value is compared with.
    fn threshold(&mut self) -> f32 {
        if self.len == 0 {
            return self.floor;
        }
        self.scratch.clear();
        self.scratch.extend_from_slice(&self.history[..self.len]);
        let median = median_in_place(&mut self.scratch);
        for v in &mut self.scratch {
            *v = (*v - median).abs();
        }
        let mad = median_in_place(&mut self.scratch);
        median + self.k * mad + self.floor
    }

    /// Feeds one hop's flux; true when this hop is an onset.
    pub(crate) fn step(&mut self, flux: f32) -> bool {
        let threshold = self.threshold();
        let fire = self.armed && self.since_last >= self.min_gap_hops && flux > threshold;
        if fire {
            self.armed = false;
            self.since_last = 0;
        } else {
            self.since_last = self.since_last.saturating_add(1);
            if flux <= threshold {
                self.armed = true;
            }
        }
        if let Some(slot) = self.history.get_mut(self.head) {
            *slot = flux;
        }
        self.head = (self.head + 1) % self.history.len();
        self.len = (self.len + 1).min(self.history.len());
        fire
    }
}

/// Median of `v` (reordered); 0 for an empty slice.
fn median_in_place(v: &mut [f32]) -> f32 {
    if v.is_empty() {
        return 0.0;
    }
    let mid = v.len() / 2;
    let (_, m, _) = v.select_nth_unstable_by(mid, f32::total_cmp);
    *m
}

#[cfg(test)]
#[allow(clippy::float_cmp)] // exact values are the point of these tests
mod tests {
    use super::*;

    #[test]
    fn fires_once_per_spike_and_respects_the_floor() {
        let mut d = OnsetDetector::new(0.005, 4.0, 0.05, 0.03);
        let mut fired = Vec::new();
        for i in 0..200 {
            let flux = match i % 50 {
                10 => 0.5,
                11 => 0.4,
                12 => 0.2,
                _ => 0.01,
            };
            if d.step(flux) {
                fired.push(i);
            }
        }
        assert_eq!(fired, vec![10, 60, 110, 160]);
        // Below the floor nothing fires.
        let mut d = OnsetDetector::new(0.005, 0.0, 0.05, 0.03);
        assert!((0..100).all(|i| !d.step(if i % 10 == 0 { 0.04 } else { 0.0 })));
    }

    #[test]
    fn median_of_even_and_odd() {
        assert_eq!(median_in_place(&mut [3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median_in_place(&mut []), 0.0);
    }
}
