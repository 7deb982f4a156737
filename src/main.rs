//! The `hypna` command line. Thin: parses arguments, calls the library, prints errors.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::mpsc;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand, ValueEnum};
use hypna::render::blit::Fit;
use hypna::render::context::{Gpu, describe_adapter, list_adapters};
use hypna::runtime::{RenderSettings, Runtime, check, render_frames};

/// hypna: realtime generative art from WGSL shaders and ONNX models.
#[derive(Parser)]
#[command(version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Open a window and play a scene (Esc quits).
    Run {
        /// The scene file (.toml).
        scene: PathBuf,
        /// Internal render size, e.g. 1280x720 (default: the scene's size).
        #[arg(long, value_parser = parse_size)]
        size: Option<[u32; 2]>,
        /// Set a param: name=value (repeatable).
        #[arg(long = "set", value_name = "NAME=VALUE")]
        sets: Vec<String>,
        /// Quit after this many frames.
        #[arg(long)]
        frames: Option<u64>,
        /// How the output fits the window.
        #[arg(long, value_enum, default_value_t = FitArg::Letterbox)]
        fit: FitArg,
    },
    /// Render frames to PNG files with a fixed-step clock (deterministic).
    Render {
        /// The scene file (.toml).
        scene: PathBuf,
        /// Number of frames.
        #[arg(long, default_value_t = 1)]
        frames: u64,
        /// Render size, e.g. 640x360 (default: the scene's size).
        #[arg(long, value_parser = parse_size)]
        size: Option<[u32; 2]>,
        /// Frames per second of the fixed clock.
        #[arg(long, default_value_t = 30.0)]
        fps: f64,
        /// Set a param: name=value (repeatable).
        #[arg(long = "set", value_name = "NAME=VALUE")]
        sets: Vec<String>,
        /// Output folder (created if missing); files are `frame_00000.png`, ...
        #[arg(long)]
        out: PathBuf,
        /// Write only the last frame (the others are rendered but not saved).
        #[arg(long)]
        last_only: bool,
    },
    /// Validate scenes, their shaders (naga) and references without a GPU.
    Check {
        /// Scene files.
        #[arg(required = true)]
        scenes: Vec<PathBuf>,
    },
    /// List GPU adapters.
    Devices,
    /// Frame time of a single-pass scene against a bare wgpu loop drawing the same shader.
    Bench {
        /// A single-pass scene without inputs.
        #[arg(long, default_value = "scenes/landscape.toml")]
        scene: PathBuf,
        /// Render size.
        #[arg(long, value_parser = parse_size, default_value = "1280x720")]
        size: [u32; 2],
        /// Frames per round and loop.
        #[arg(long, default_value_t = 20)]
        frames: u32,
        /// Interleaved rounds.
        #[arg(long, default_value_t = 5)]
        rounds: u32,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum FitArg {
    Letterbox,
    Fill,
}

fn parse_size(s: &str) -> Result<[u32; 2], String> {
    let (w, h) = s
        .split_once(['x', 'X'])
        .ok_or_else(|| format!("`{s}` is not WIDTHxHEIGHT (e.g. 1280x720)"))?;
    let side = |v: &str| match v.trim().parse::<u32>() {
        Ok(n) if (1..=16384).contains(&n) => Ok(n),
        _ => Err(format!(
            "`{s}`: each side must be a whole number from 1 to 16384"
        )),
    };
    Ok([side(w)?, side(h)?])
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
                tracing_subscriber::EnvFilter::new("info,wgpu_core=warn,wgpu_hal=warn,naga=warn")
            }),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    match dispatch(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn dispatch(command: Command) -> Result<()> {
    match command {
        Command::Run {
            scene,
            size,
            sets,
            frames,
            fit,
        } => {
            let fit = match fit {
                FitArg::Letterbox => Fit::Letterbox,
                FitArg::Fill => Fit::Fill,
            };
            hypna::app::run(hypna::app::RunOptions {
                scene,
                size,
                sets,
                frames,
                fit,
            })?;
            Ok(())
        }
        Command::Render {
            scene,
            frames,
            size,
            fps,
            sets,
            out,
            last_only,
        } => render(&scene, frames, size, fps, &sets, &out, last_only),
        Command::Check { scenes } => {
            let mut failed = 0;
            for path in &scenes {
                match check(path) {
                    Ok((scene, shaders)) => {
                        let files: usize = shaders.iter().map(|s| s.files.len()).sum();
                        println!(
                            "ok: {} \"{}\" ({} passes, {} params, {} WGSL files)",
                            path.display(),
                            scene.name,
                            scene.passes.len(),
                            scene.params.len(),
                            files
                        );
                    }
                    Err(e) => {
                        failed += 1;
                        eprintln!("{e}");
                    }
                }
            }
            if failed > 0 {
                bail!("{failed} of {} scenes failed the check", scenes.len());
            }
            Ok(())
        }
        Command::Devices => {
            let adapters = list_adapters();
            println!("GPU adapters:");
            if adapters.is_empty() {
                println!(
                    "  none found (on Linux without a GPU: apt-get install mesa-vulkan-drivers libvulkan1)"
                );
            }
            for (i, info) in adapters.iter().enumerate() {
                println!("  [{i}] {}", describe_adapter(info));
            }
            Ok(())
        }
        Command::Bench {
            scene,
            size,
            frames,
            rounds,
        } => {
            let gpu = Gpu::new_headless()?;
            let report = hypna::bench::run(
                &gpu,
                &hypna::bench::BenchOptions {
                    scene: scene.clone(),
                    size,
                    frames,
                    rounds,
                },
            )?;
            println!(
                "bench: {} at {}x{} on {}",
                scene.display(),
                size[0],
                size[1],
                report.adapter
            );
            for (name, s) in [("hypna", report.hypna), ("bare wgpu", report.bare)] {
                println!(
                    "  {name:<10} median {:8.2} ms  p90 {:8.2} ms  mean {:8.2} ms  ({} frames)",
                    s.median_ms, s.p90_ms, s.mean_ms, s.frames
                );
            }
            println!(
                "  ratio hypna/bare (median): {:.3} (goal <= 1.10)",
                report.ratio()
            );
            Ok(())
        }
    }
}

fn render(
    scene: &Path,
    frames: u64,
    size: Option<[u32; 2]>,
    fps: f64,
    sets: &[String],
    out: &Path,
    last_only: bool,
) -> Result<()> {
    if !(fps.is_finite() && fps > 0.0) {
        bail!("--fps must be a positive number");
    }
    let gpu = Gpu::new_headless()?;
    tracing::info!("GPU: {}", gpu.describe());
    let mut runtime = Runtime::load(&gpu, scene, size, sets)?;
    std::fs::create_dir_all(out)
        .with_context(|| format!("cannot create output folder {}", out.display()))?;
    // PNG encoding runs on its own thread; the bounded channel keeps memory flat.
    let (tx, rx) = mpsc::sync_channel::<hypna::render::readback::ReadImage>(4);
    let out_dir = out.to_path_buf();
    let writer = std::thread::spawn(move || -> Result<u64> {
        let mut written = 0;
        for image in rx {
            let path = out_dir.join(format!("frame_{:05}.png", image.frame));
            image::save_buffer(
                &path,
                &image.rgba,
                image.size[0],
                image.size[1],
                image::ColorType::Rgba8,
            )
            .with_context(|| format!("cannot write {}", path.display()))?;
            written += 1;
        }
        Ok(written)
    });
    let start = Instant::now();
    let settings = RenderSettings {
        frames,
        fps,
        ..RenderSettings::default()
    };
    let last = frames.saturating_sub(1);
    let sent = render_frames(&gpu, &mut runtime, &settings, |image| {
        if last_only && image.frame != last {
            return Ok(());
        }
        tx.send(image)
            .map_err(|_| anyhow::anyhow!("the PNG writer stopped"))
    });
    drop(tx);
    let written = writer
        .join()
        .map_err(|_| anyhow::anyhow!("the PNG writer panicked"))??;
    sent?;
    let elapsed_secs = start.elapsed().as_secs_f64();
    #[allow(clippy::cast_precision_loss)]
    let frames_per_sec = frames as f64 / elapsed_secs.max(1e-9);
    println!(
        "rendered {frames} frames ({written} written) to {} in {elapsed_secs:.2} s ({frames_per_sec:.1} frames/s)",
        out.display()
    );
    Ok(())
}
