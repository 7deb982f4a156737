//! Measures what share of a folder of ISF files (the reference collection Vidvox/ISF-Files,
//! or any other) hypna plays: each `.fs` loads as a bare scene exactly as `hypna run x.fs`
//! does (header, params, passes, compilation, pipelines; filters read test card A,
//! transitions cards A and B), renders headless, and is judged on its frames:
//!
//! - **loads**: what `hypna check` accepts (every failure listed with its reason);
//! - **non-flat**: the last frame is not one colour (some channel's standard deviation over
//!   the pixels above 2/255);
//! - **animated**: the last two frames differ (mean absolute difference above 0.05/255).
//!
//! ```text
//! cargo run --release --example isf_render -- /path/to/ISF-Files/ISF [--list] [--size 160x90]
//!     [--sheet contact.png --sheet-files "A.fs,B.fs,..."]
//! ```
//! `--sheet` writes a contact sheet of the last frames (the files named, else the first 24
//! that render non-flat) with each file's name under it. Exit status 0 always: it measures.

use std::path::{Path, PathBuf};
use std::time::Instant;

use hypna::render::context::Gpu;
use hypna::runtime::offline::{RenderSettings, render_frames};
use hypna::runtime::{Runtime, RuntimeOptions};

/// How one file fared.
enum Outcome {
    /// The scene did not load: the first error.
    Failed(String),
    /// It rendered: the last two frames, and the judgements.
    Rendered {
        last: Vec<u8>,
        non_flat: bool,
        animated: bool,
    },
}

fn channel_std_max(rgba: &[u8]) -> f64 {
    let n = (rgba.len() / 4).max(1) as f64;
    (0..3)
        .map(|c| {
            let values = rgba.chunks_exact(4).map(|p| f64::from(p[c]));
            let mean = values.clone().sum::<f64>() / n;
            (values.map(|v| (v - mean).powi(2)).sum::<f64>() / n).sqrt()
        })
        .fold(0.0, f64::max)
}

fn mean_abs_diff(a: &[u8], b: &[u8]) -> f64 {
    let total: u64 = a
        .iter()
        .zip(b)
        .map(|(x, y)| u64::from(x.abs_diff(*y)))
        .sum();
    total as f64 / a.len().max(1) as f64
}

fn measure(gpu: &Gpu, path: &Path, size: [u32; 2]) -> Outcome {
    let options = RuntimeOptions {
        size: Some(size),
        ..RuntimeOptions::default()
    };
    let mut runtime = match Runtime::load(gpu, path, &options) {
        Ok(r) => r,
        Err(e) => {
            let text = e.to_string();
            return Outcome::Failed(text.lines().next().unwrap_or("").to_string());
        }
    };
    // Ten frames at 10 fps: feedback generators have time to draw something.
    let settings = RenderSettings {
        frames: 10,
        fps: 10.0,
        readback_depth: 3,
    };
    let mut frames: Vec<Vec<u8>> = Vec::new();
    let rendered = render_frames(gpu, &mut runtime, &settings, |image| {
        frames.push(image.rgba);
        Ok::<(), ()>(())
    });
    let (Ok(()), Some(last)) = (rendered, frames.pop()) else {
        return Outcome::Failed("no frame came back".into());
    };
    let before = frames.pop().unwrap_or_default();
    Outcome::Rendered {
        non_flat: channel_std_max(&last) > 2.0,
        animated: mean_abs_diff(&last, &before) > 0.05,
        last,
    }
}

fn parse_size(text: &str) -> Option<[u32; 2]> {
    let (w, h) = text.split_once('x')?;
    Some([w.parse().ok()?, h.parse().ok()?])
}

/// A grid of thumbnails with each name under its image (a 5x7 pixel font would be a
/// dependency; names go into the printed legend instead, in grid order).
fn write_sheet(path: &Path, tiles: &[(String, Vec<u8>)], size: [u32; 2]) {
    let columns = 6u32;
    let rows = u32::try_from(tiles.len()).unwrap_or(0).div_ceil(columns);
    let gap = 4u32;
    let width = columns * (size[0] + gap) + gap;
    let height = rows * (size[1] + gap) + gap;
    let mut sheet = image::RgbaImage::from_pixel(width, height, image::Rgba([24, 24, 24, 255]));
    for (i, (_, rgba)) in tiles.iter().enumerate() {
        let i = u32::try_from(i).unwrap_or(0);
        let (x0, y0) = (
            gap + (i % columns) * (size[0] + gap),
            gap + (i / columns) * (size[1] + gap),
        );
        for y in 0..size[1] {
            for x in 0..size[0] {
                let k = ((y * size[0] + x) * 4) as usize;
                if let Some(p) = rgba.get(k..k + 4) {
                    sheet.put_pixel(x0 + x, y0 + y, image::Rgba([p[0], p[1], p[2], 255]));
                }
            }
        }
    }
    match sheet.save(path) {
        Ok(()) => {
            println!(
                "contact sheet {} ({columns} columns), in order:",
                path.display()
            );
            for (row, chunk) in tiles.chunks(columns as usize).enumerate() {
                let names: Vec<&str> = chunk.iter().map(|(n, _)| n.as_str()).collect();
                println!("  row {}: {}", row + 1, names.join(" | "));
            }
        }
        Err(e) => eprintln!("{}: {e}", path.display()),
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(dir) = args.first() else {
        eprintln!(
            "usage: isf_render <folder of .fs files> [--list] [--size WxH] [--sheet out.png]"
        );
        std::process::exit(2);
    };
    let value = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1))
    };
    let list = args.iter().any(|a| a == "--list");
    let size = value("--size")
        .and_then(|s| parse_size(s))
        .unwrap_or([160, 90]);
    let sheet = value("--sheet").map(PathBuf::from);
    let sheet_files: Vec<&str> = value("--sheet-files")
        .map(|s| s.split(',').collect())
        .unwrap_or_default();
    let mut files: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(entries) => entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "fs"))
            .collect(),
        Err(e) => {
            eprintln!("{dir}: {e}");
            std::process::exit(2);
        }
    };
    files.sort();
    let gpu = match Gpu::new_headless() {
        Ok(g) => g,
        Err(e) => {
            eprintln!("no GPU adapter: {e}");
            std::process::exit(2);
        }
    };
    let start = Instant::now();
    let (mut loaded, mut non_flat, mut animated) = (0usize, 0usize, 0usize);
    let mut failures = Vec::new();
    let mut flat = Vec::new();
    let mut still = Vec::new();
    let mut tiles = Vec::new();
    for path in &files {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        match measure(&gpu, path, size) {
            Outcome::Failed(reason) => failures.push((name, reason)),
            Outcome::Rendered {
                last,
                non_flat: nf,
                animated: an,
            } => {
                loaded += 1;
                non_flat += usize::from(nf);
                animated += usize::from(an);
                if !nf {
                    flat.push(name.clone());
                } else if !an {
                    still.push(name.clone());
                }
                let wanted = if sheet_files.is_empty() {
                    nf && tiles.len() < 24
                } else {
                    sheet_files.contains(&name.as_str())
                };
                if sheet.is_some() && wanted {
                    tiles.push((name, last));
                }
            }
        }
    }
    let total = files.len();
    let pct = |n: usize, of: usize| 100.0 * n as f64 / of.max(1) as f64;
    println!(
        "{total} .fs files in {dir}, rendered at {}x{} ({:.0} s)",
        size[0],
        size[1],
        start.elapsed().as_secs_f64()
    );
    println!(
        "load (hypna check): {loaded}/{total} ({:.1}%)",
        pct(loaded, total)
    );
    println!(
        "non-flat: {non_flat}/{loaded} of those that load ({:.1}%), {non_flat}/{total} of all ({:.1}%)",
        pct(non_flat, loaded),
        pct(non_flat, total)
    );
    println!(
        "animated: {animated}/{loaded} of those that load ({:.1}%)",
        pct(animated, loaded)
    );
    if list {
        for (name, reason) in &failures {
            println!("  fails  {name}: {reason}");
        }
        for name in &flat {
            println!("  flat   {name}");
        }
        for name in &still {
            println!("  still  {name}");
        }
    }
    if let Some(path) = sheet {
        write_sheet(&path, &tiles, size);
    }
}
