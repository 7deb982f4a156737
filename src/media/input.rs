//! What `ffmpeg` is asked to read for each kind of source: input arguments (files with a seek
//! position, sequences, cameras per OS, streams), the filter chain that fits the picture to
//! the texture (`fit`), and the cameras this machine has (`hypna devices`).

use std::ffi::OsString;
use std::path::Path;

use crate::scene::{CameraSelect, MediaDef, MediaFit, MediaInput};

/// What one `ffmpeg` run reads: input arguments (everything before the output) and the
/// filter chain. Live sources (cameras, streams) and files share it: tests put an FFmpeg
/// virtual source (`lavfi`) behind the same seam as a camera.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputArgs {
    /// Arguments up to and including `-i <input>`.
    pub input: Vec<OsString>,
    /// The filter chain (fit to the texture size, for files also the frame rate).
    pub filters: String,
}

impl InputArgs {
    /// A live FFmpeg input of `format` (`-f`, e.g. `"lavfi"`, `"v4l2"`) reading `input`,
    /// fitted to `size`: the seam cameras and tests share.
    #[must_use]
    pub fn live(format: Option<&str>, input: &str, size: [u32; 2], fit: MediaFit) -> Self {
        let mut args: Vec<OsString> = Vec::new();
        if let Some(f) = format {
            args.extend(["-f".into(), f.into()]);
        }
        args.extend(["-i".into(), input.into()]);
        Self {
            input: args,
            filters: fit_filter(size, fit),
        }
    }

    /// All arguments of the `ffmpeg` run: input, then raw RGBA frames on stdout.
    #[must_use]
    pub fn command(&self) -> Vec<OsString> {
        let mut args = self.input.clone();
        args.extend(super::process::raw_rgba_output(&self.filters));
        args
    }
}

/// The filter chain that fits any picture to `size` by `fit` (square pixels).
#[must_use]
pub fn fit_filter(size: [u32; 2], fit: MediaFit) -> String {
    let [w, h] = size;
    match fit {
        MediaFit::Crop => {
            format!("scale={w}:{h}:force_original_aspect_ratio=increase,crop={w}:{h},setsar=1")
        }
        MediaFit::Letterbox => format!(
            "scale={w}:{h}:force_original_aspect_ratio=decrease,pad={w}:{h}:(ow-iw)/2:(oh-ih)/2:black,setsar=1"
        ),
        MediaFit::Stretch => format!("scale={w}:{h},setsar=1"),
    }
}

/// The arguments that read a file source from frame `index` on (frames are sampled at the
/// source's `fps`, counted from its in point). `None` for live sources.
#[must_use]
pub fn file_args(def: &MediaDef, index: u64) -> Option<InputArgs> {
    let play = &def.play;
    #[allow(clippy::cast_precision_loss)] // frame counts far below 2^52
    let offset_secs = index as f64 / play.fps;
    let seek = play.start_secs + offset_secs;
    let mut input: Vec<OsString> = Vec::new();
    let seek_args = |input: &mut Vec<OsString>| {
        if seek > 0.0 {
            input.extend(["-ss".into(), format!("{seek:.6}").into()]);
        }
        if let Some(end) = play.end_secs {
            input.extend(["-t".into(), format!("{:.6}", (end - seek).max(0.0)).into()]);
        }
    };
    let path: &Path = match &def.input {
        MediaInput::Image(p) => {
            input.extend(["-i".into(), p.into()]);
            return Some(InputArgs {
                input,
                filters: fit_filter(def.size, def.fit),
            });
        }
        MediaInput::Video(p) => {
            seek_args(&mut input);
            p
        }
        MediaInput::Sequence(p) => {
            input.extend([
                "-framerate".into(),
                format!("{}", play.fps).into(),
                "-f".into(),
                "image2".into(),
            ]);
            seek_args(&mut input);
            p
        }
        MediaInput::Camera(_) | MediaInput::Url(_) => return None,
    };
    input.extend(["-i".into(), path.into()]);
    Some(InputArgs {
        input,
        filters: format!("fps={},{}", play.fps, fit_filter(def.size, def.fit)),
    })
}

/// The arguments that read a live source (camera or stream), or why not (no such camera).
///
/// # Errors
/// A message naming the camera when none matches.
pub fn live_args(def: &MediaDef) -> Result<Option<InputArgs>, String> {
    match &def.input {
        MediaInput::Camera(select) => {
            let device = camera_device(select)?;
            let (format, input) = camera_input(&device);
            Ok(Some(InputArgs::live(
                Some(format),
                &input,
                def.size,
                def.fit,
            )))
        }
        MediaInput::Url(url) => {
            let mut args = InputArgs::live(None, url, def.size, def.fit);
            let mut pre: Vec<OsString> = vec!["-fflags".into(), "nobuffer".into()];
            if url.starts_with("rtsp://") || url.starts_with("rtsps://") {
                // TCP survives lossy networks; the socket timeout (µs) ends a dead stream,
                // so it is reconnected.
                pre.extend([
                    "-rtsp_transport".into(),
                    "tcp".into(),
                    "-timeout".into(),
                    "5000000".into(),
                ]);
            }
            pre.append(&mut args.input);
            args.input = pre;
            Ok(Some(args))
        }
        MediaInput::Image(_) | MediaInput::Video(_) | MediaInput::Sequence(_) => Ok(None),
    }
}

/// A camera this machine has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Camera {
    /// Index (`/dev/video<index>` on Linux).
    pub index: u32,
    /// What the driver calls it.
    pub name: String,
    /// The device to open.
    pub device: String,
}

/// The cameras of this machine (Linux: the V4L2 capture devices under
/// `/sys/class/video4linux`; elsewhere: none listed, `camera = <index>` still opens).
#[must_use]
pub fn list_cameras() -> Vec<Camera> {
    let mut cameras = Vec::new();
    let Ok(entries) = std::fs::read_dir("/sys/class/video4linux") else {
        return cameras;
    };
    for entry in entries.flatten() {
        let file = entry.file_name();
        let Some(index) = file
            .to_str()
            .and_then(|n| n.strip_prefix("video"))
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let name = crate::untrusted::read_text(&entry.path().join("name"), 4096)
            .map(|n| n.trim().to_string())
            .unwrap_or_default();
        cameras.push(Camera {
            index,
            name,
            device: format!("/dev/video{index}"),
        });
    }
    cameras.sort_by_key(|c| c.index);
    cameras
}

/// The modes a camera offers, as FFmpeg lists them (`-list_formats all`; Linux only).
#[must_use]
pub fn camera_modes(camera: &Camera) -> Vec<String> {
    if !cfg!(target_os = "linux") {
        return Vec::new();
    }
    let args: Vec<OsString> = [
        "-f",
        "v4l2",
        "-list_formats",
        "all",
        "-i",
        camera.device.as_str(),
    ]
    .iter()
    .map(OsString::from)
    .collect();
    let Ok(program) = super::process::program() else {
        return Vec::new();
    };
    let output = std::process::Command::new(program)
        .args(["-hide_banner", "-loglevel", "info"])
        .args(&args)
        .stdin(std::process::Stdio::null())
        .output();
    output
        .map(|o| {
            String::from_utf8_lossy(&o.stderr)
                .lines()
                .filter_map(|l| l.split_once("] ").map(|(_, m)| m.trim().to_string()))
                .filter(|m| m.contains(':') && !m.is_empty())
                .collect()
        })
        .unwrap_or_default()
}

/// The device a camera selection opens.
fn camera_device(select: &CameraSelect) -> Result<String, String> {
    if !cfg!(target_os = "linux") {
        return Ok(match select {
            CameraSelect::Default => "0".to_string(),
            CameraSelect::Index(i) => i.to_string(),
            CameraSelect::Name(n) => n.clone(),
        });
    }
    let cameras = list_cameras();
    let found = match select {
        CameraSelect::Default => cameras.first(),
        CameraSelect::Index(i) => cameras.iter().find(|c| c.index == *i),
        CameraSelect::Name(n) => {
            let n = n.to_lowercase();
            cameras.iter().find(|c| c.name.to_lowercase().contains(&n))
        }
    };
    found.map(|c| c.device.clone()).ok_or_else(|| {
        let known = if cameras.is_empty() {
            "this machine has none (`hypna devices` lists cameras)".to_string()
        } else {
            format!(
                "cameras: {}",
                cameras
                    .iter()
                    .map(|c| format!("[{}] {}", c.index, c.name))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        format!("no camera {select}: {known}")
    })
}

/// FFmpeg's input format and input for a camera device on this OS.
fn camera_input(device: &str) -> (&'static str, String) {
    if cfg!(target_os = "macos") {
        ("avfoundation", format!("{device}:none"))
    } else if cfg!(windows) {
        ("dshow", format!("video={device}"))
    } else {
        ("v4l2", device.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fit_filters_fill_pad_or_stretch_to_the_size() {
        let crop = fit_filter([64, 32], MediaFit::Crop);
        assert!(crop.contains("increase,crop=64:32"), "{crop}");
        let pad = fit_filter([64, 32], MediaFit::Letterbox);
        assert!(pad.contains("decrease,pad=64:32"), "{pad}");
        assert_eq!(fit_filter([8, 8], MediaFit::Stretch), "scale=8:8,setsar=1");
    }
}
