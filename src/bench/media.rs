//! `hypna bench --media`: what a playing video source costs the frame loop, against the same
//! scene with a still image of the same size, in interleaved rounds of the same run. The
//! video (a 1280x720 FFmpeg test pattern, H.264 when the encoder is there, else MJPEG) and
//! the still are made in a temporary folder; frames follow real time, so the video hands the
//! frame loop a new picture at its own rate (30 fps) and the frame never waits for it.

use std::path::Path;

use super::{BenchError, Stats, timed_frame};
use crate::clock::Clock;
use crate::render::context::Gpu;
use crate::runtime::{Runtime, RuntimeOptions};

/// What to measure.
#[derive(Debug, Clone, Copy)]
pub struct MediaBenchOptions {
    /// Render size (and the media size).
    pub size: [u32; 2],
    /// Frames per round and scene.
    pub frames: u32,
    /// Interleaved rounds.
    pub rounds: u32,
}

/// The result.
#[derive(Debug, Clone)]
pub struct MediaBenchReport {
    /// Render and media size.
    pub size: [u32; 2],
    /// The adapter measured on.
    pub adapter: String,
    /// Frames with a still image source.
    pub still: Stats,
    /// Frames with a playing video source.
    pub video: Stats,
    /// Video frames uploaded during the measured video frames.
    pub uploads: u64,
}

impl MediaBenchReport {
    /// The video scene's median frame over the still scene's.
    #[must_use]
    pub fn ratio(&self) -> f64 {
        if self.still.median_ms > 0.0 {
            self.video.median_ms / self.still.median_ms
        } else {
            f64::NAN
        }
    }
}

impl std::fmt::Display for MediaBenchReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "bench --media: {}x{} source at {}x{} on {}",
            self.size[0], self.size[1], self.size[0], self.size[1], self.adapter
        )?;
        writeln!(f, "  still image {}", self.still)?;
        writeln!(
            f,
            "  video       {}  ({} new video frames uploaded)",
            self.video, self.uploads
        )?;
        write!(
            f,
            "  ratio video/still (median): {:.3} (goal <= 1.10)",
            self.ratio()
        )
    }
}

const PASS: &str = "@fragment\nfn main(in: VertexOutput) -> @location(0) vec4<f32> {\n    \
                    let c = textureSample(tex_clip, samp_clip, in.uv);\n    \
                    return vec4<f32>(c.rgb * (0.8 + 0.2 * sin(globals.time)), 1.0);\n}\n";

/// Runs the benchmark.
///
/// # Errors
/// When FFmpeg cannot make the media, or a scene does not load.
pub fn run(gpu: &Gpu, options: &MediaBenchOptions) -> Result<MediaBenchReport, BenchError> {
    let dir = tempfile_dir()?;
    let result = measure(gpu, options, &dir);
    drop(std::fs::remove_dir_all(&dir));
    result
}

fn tempfile_dir() -> Result<std::path::PathBuf, BenchError> {
    let dir = std::env::temp_dir().join(format!("hypna-bench-media-{}", std::process::id()));
    std::fs::create_dir_all(&dir)
        .map_err(|e| BenchError::Setup(format!("{}: {e}", dir.display())))?;
    Ok(dir)
}

fn measure(
    gpu: &Gpu,
    options: &MediaBenchOptions,
    dir: &Path,
) -> Result<MediaBenchReport, BenchError> {
    let [w, h] = options.size;
    let source = format!("testsrc2=size={w}x{h}:rate=30");
    make(
        &["-f", "lavfi", "-i", &source, "-frames:v", "1"],
        &dir.join("still.png"),
    )?;
    let h264 = [
        "-f",
        "lavfi",
        "-i",
        &source,
        "-t",
        "20",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-pix_fmt",
        "yuv420p",
    ];
    let mjpeg = ["-f", "lavfi", "-i", &source, "-t", "20", "-c:v", "mjpeg"];
    let video = make(&h264, &dir.join("clip.mp4"))
        .map(|()| "clip.mp4")
        .or_else(|_| make(&mjpeg, &dir.join("clip.avi")).map(|()| "clip.avi"))?;
    std::fs::write(dir.join("pass.wgsl"), PASS).map_err(|e| BenchError::Setup(e.to_string()))?;
    let scene = |name: &str, file: &str| -> Result<std::path::PathBuf, BenchError> {
        let path = dir.join(format!("{name}.toml"));
        std::fs::write(
            &path,
            format!(
                "[scene]\nname = \"{name}\"\nsize = [{w}, {h}]\n\n[[media]]\nname = \"clip\"\nfile = \"{file}\"\n\n[[pass]]\nname = \"out\"\nshader = \"pass.wgsl\"\ninputs = [\"clip\"]\nformat = \"rgba8unorm\"\n"
            ),
        )
        .map_err(|e| BenchError::Setup(e.to_string()))?;
        Ok(path)
    };
    let runtime_options = RuntimeOptions {
        size: Some(options.size),
        ..RuntimeOptions::default()
    };
    let mut still = Runtime::load(gpu, &scene("still", "still.png")?, &runtime_options)?;
    let mut playing = Runtime::load(gpu, &scene("video", video)?, &runtime_options)?;
    let (mut still_clock, mut video_clock) = (Clock::real(), Clock::real());
    for _ in 0..5 {
        timed_frame(gpu, &mut still, &mut still_clock, "bench.still");
        timed_frame(gpu, &mut playing, &mut video_clock, "bench.video");
    }
    let published = |r: &Runtime| -> u64 {
        r.media_sources()
            .iter()
            .map(|s| {
                s.counters()
                    .published
                    .load(std::sync::atomic::Ordering::Relaxed)
            })
            .sum()
    };
    let (mut still_ms, mut video_ms) = (Vec::new(), Vec::new());
    let mut uploads = 0;
    for _ in 0..options.rounds {
        for _ in 0..options.frames {
            still_ms.push(timed_frame(
                gpu,
                &mut still,
                &mut still_clock,
                "bench.still",
            ));
        }
        let before = published(&playing);
        for _ in 0..options.frames {
            video_ms.push(timed_frame(
                gpu,
                &mut playing,
                &mut video_clock,
                "bench.video",
            ));
        }
        uploads += published(&playing) - before;
    }
    Ok(MediaBenchReport {
        size: options.size,
        adapter: gpu.describe(),
        still: Stats::of(&still_ms),
        video: Stats::of(&video_ms),
        uploads,
    })
}

/// Runs `ffmpeg` with `args` to make the test file `out`.
fn make(args: &[&str], out: &Path) -> Result<(), BenchError> {
    let mut args: Vec<std::ffi::OsString> = ["-y"]
        .iter()
        .chain(args)
        .map(std::ffi::OsString::from)
        .collect();
    args.push(out.into());
    let process = crate::media::Ffmpeg::spawn(&args, crate::media::process::Stdin::Null)
        .map_err(|e| BenchError::Setup(e.to_string()))?;
    process
        .finish()
        .map_err(|e| BenchError::Setup(format!("making the benchmark's media: {e}")))
}
