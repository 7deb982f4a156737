//! `hypna bench --transition`: every frame around a pre-warmed playlist switch, the show's
//! own work included (the switch itself happens inside a frame).

use std::path::Path;
use std::time::Instant;

use super::{BenchError, Stats};
use crate::clock::Clock;
use crate::render::context::Gpu;
use crate::runtime::{RuntimeOptions, Submit};
use crate::show::Show;

/// `hypna bench --transition`: frame times around a pre-warmed playlist switch.
#[derive(Debug, Clone)]
pub struct TransitionReport {
    /// The adapter.
    pub adapter: String,
    /// From and to.
    pub scenes: (String, String),
    /// Every frame of the run.
    pub all: Stats,
    /// Frames of the scene switched from, before the request.
    pub before: Stats,
    /// Frames of the scene switched to, after the crossfade.
    pub after: Stats,
    /// Frames from the switch request to the end of the crossfade.
    pub transition: Stats,
    /// The slowest transition frame.
    pub worst_ms: f64,
    /// The largest ratio of a transition frame to the median of the scene it rendered
    /// (the outgoing scene while the next one loads, the incoming one while fading).
    pub worst_ratio: f64,
    /// Frames from the request to the first crossfaded frame (loading off-thread).
    pub load_frames: usize,
}

impl std::fmt::Display for TransitionReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "adapter:    {}", self.adapter)?;
        writeln!(f, "switch:     {} -> {}", self.scenes.0, self.scenes.1)?;
        writeln!(
            f,
            "all frames: median {:.2} ms, p90 {:.2} ms ({} frames)",
            self.all.median_ms, self.all.p90_ms, self.all.frames
        )?;
        writeln!(
            f,
            "before:     median {:.2} ms ({} frames of {})",
            self.before.median_ms, self.before.frames, self.scenes.0
        )?;
        writeln!(
            f,
            "after:      median {:.2} ms ({} frames of {})",
            self.after.median_ms, self.after.frames, self.scenes.1
        )?;
        writeln!(
            f,
            "transition: median {:.2} ms, worst {:.2} ms ({} frames, {} of them while the next scene loaded off-thread)",
            self.transition.median_ms, self.worst_ms, self.transition.frames, self.load_frames
        )?;
        writeln!(
            f,
            "worst transition frame / median frame of the whole run: {:.3}",
            self.worst_ms / self.all.median_ms
        )?;
        write!(
            f,
            "worst transition frame / median frame of its scene: {:.3} (goal <= 2.0)",
            self.worst_ratio
        )
    }
}

/// Plays `from`, asks for `to` after `before` frames (loaded and pre-warmed on a thread),
/// crossfades over `fade_secs` of a fixed 30 fps clock, and times every frame including the
/// show's work (the switch itself happens inside a frame).
///
/// # Errors
/// When a scene does not load.
pub fn run(
    gpu: &Gpu,
    from: &Path,
    to: &Path,
    size: [u32; 2],
    before: usize,
    fade_secs: f64,
) -> Result<TransitionReport, BenchError> {
    let dir = std::env::temp_dir().join(format!("hypna-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| BenchError::Setup(e.to_string()))?;
    let playlist = dir.join("transition.toml");
    let absolute = |p: &Path| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    let text = format!(
        "[playlist]\nname = \"bench\"\ntransition = {{ kind = \"crossfade\", secs = {fade_secs} }}\n\n[[entry]]\nscene = {:?}\ncue = true\n\n[[entry]]\nscene = {:?}\ncue = true\n",
        absolute(from).display().to_string(),
        absolute(to).display().to_string(),
    );
    std::fs::write(&playlist, text).map_err(|e| BenchError::Setup(e.to_string()))?;
    let options = RuntimeOptions {
        size: Some(size),
        ..RuntimeOptions::default()
    };
    let (mut show, mut runtime) = Show::open(gpu, &playlist, &options)?;
    if let Err(e) = std::fs::remove_dir_all(&dir) {
        tracing::debug!("{}: {e}", dir.display());
    }
    let from_name = runtime.scene().name.clone();
    let mut clock = Clock::fixed(30.0);
    let mut all = Vec::new();
    let mut before_ms = Vec::new();
    let mut after_ms = Vec::new();
    // (ms, rendered the incoming scene)
    let mut transition: Vec<(f64, bool)> = Vec::new();
    let mut load_frames = 0;
    let mut requested = false;
    let mut faded = false;
    // Warm-up frames are not measured.
    for _ in 0..3 {
        let t = clock.tick();
        show.before_frame(gpu, &mut runtime, t);
        runtime.frame(gpu, t, "bench.transition", Submit::WaitForGpu, |_, _| {});
    }
    loop {
        let t = clock.tick();
        if all.len() == before && !requested {
            show.next(gpu, &runtime, t.time_secs);
            requested = true;
        }
        let start = Instant::now();
        show.before_frame(gpu, &mut runtime, t);
        let show_ms = start.elapsed().as_secs_f64() * 1e3;
        runtime.frame(gpu, t, "bench.transition", Submit::WaitForGpu, |_, _| {});
        let ms = start.elapsed().as_secs_f64() * 1e3;
        tracing::debug!(
            "frame {}: {} {ms:.1} ms (show {show_ms:.1} ms, transition {})",
            all.len(),
            runtime.scene().name,
            runtime.in_transition()
        );
        all.push(ms);
        let incoming = show.switches > 0;
        if !requested {
            before_ms.push(ms);
        } else if !faded {
            transition.push((ms, incoming));
            if runtime.in_transition() {
                faded = true;
            } else if !incoming {
                load_frames += 1;
            }
        } else if runtime.in_transition() {
            transition.push((ms, true));
        } else {
            after_ms.push(ms);
            if after_ms.len() >= before {
                break;
            }
        }
        if all.len() > before + 10_000 {
            return Err(BenchError::Setup("the switch never happened".into()));
        }
    }
    let before_stats = Stats::of(&before_ms);
    let after_stats = Stats::of(&after_ms);
    let worst_ms = transition.iter().map(|t| t.0).fold(0.0, f64::max);
    let worst_ratio = transition
        .iter()
        .map(|&(ms, incoming)| {
            ms / if incoming {
                after_stats.median_ms
            } else {
                before_stats.median_ms
            }
        })
        .fold(0.0, f64::max);
    let transition_ms: Vec<f64> = transition.iter().map(|t| t.0).collect();
    Ok(TransitionReport {
        adapter: gpu.describe(),
        scenes: (from_name, runtime.scene().name.clone()),
        all: Stats::of(&all),
        before: before_stats,
        after: after_stats,
        transition: Stats::of(&transition_ms),
        worst_ms,
        worst_ratio,
        load_frames,
    })
}
