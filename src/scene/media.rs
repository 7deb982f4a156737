//! `[[media]]` tables: still images, video files, image sequences, cameras and network
//! streams, validated into [`MediaDef`]s. Each becomes a texture passes sample as
//! `tex_<name>` and models bind as `{ texture = "<name>" }` ([`super::TextureSource::Media`]).
//! Whether a file decodes is for the media service to find (`media/`); here every key is
//! checked and located.

use std::path::{Path, PathBuf};

use toml::Spanned;

use super::raw::{Filter, MediaFit, RawCamera, RawMedia, RawSpeed, Wrap};
use super::rules::{Ctx, MAX_SIDE_PX, check_identifier, location};
use super::{Location, ParamDef};

/// Largest `|speed|` of a video.
pub const MAX_SPEED: f64 = 64.0;
/// Most frames per second a video or sequence is sampled at.
pub const MAX_FPS: f64 = 240.0;
/// Frames per second a video or sequence is sampled at when `fps` is not given.
pub const DEFAULT_FPS: f64 = 30.0;
/// File extensions read as still images (everything else FFmpeg reads is a video).
pub const IMAGE_EXTENSIONS: [&str; 7] = ["png", "jpg", "jpeg", "webp", "bmp", "tif", "tiff"];

/// A validated `[[media]]` source.
#[derive(Debug, Clone, PartialEq)]
pub struct MediaDef {
    /// Unique name: the texture `tex_<name>`.
    pub name: String,
    /// Where the table's `name` stands in the scene file.
    pub at: Location,
    /// What it reads.
    pub input: MediaInput,
    /// Where the source key (`file`, `sequence`, `camera`, `url`) stands.
    pub input_at: Location,
    /// Texture size in pixels.
    pub size: [u32; 2],
    /// How the picture fits `size`.
    pub fit: MediaFit,
    /// How readers filter the texture.
    pub filter: Filter,
    /// How readers address the texture outside 0..1.
    pub wrap: Wrap,
    /// Timing of a video or sequence (ignored for stills and live sources).
    pub play: Playback,
    /// For a camera: the file shown when it is not there at start.
    pub fallback: Option<MediaInput>,
}

impl MediaDef {
    /// This source playing its fallback file instead (looping at the default timing).
    #[must_use]
    pub fn with_fallback(&self) -> Option<Self> {
        self.fallback.as_ref().map(|input| Self {
            input: input.clone(),
            play: Playback::default(),
            fallback: None,
            ..self.clone()
        })
    }
}

/// What a media source reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MediaInput {
    /// A still image file.
    Image(PathBuf),
    /// A video file.
    Video(PathBuf),
    /// An image sequence: a file pattern with a printf-style frame number.
    Sequence(PathBuf),
    /// A camera.
    Camera(CameraSelect),
    /// A network stream.
    Url(String),
}

impl MediaInput {
    /// True for cameras and streams: frames arrive in real time, there is no position.
    #[must_use]
    pub fn is_live(&self) -> bool {
        matches!(self, Self::Camera(_) | Self::Url(_))
    }

    /// The file a change of which reloads the scene (images and videos).
    #[must_use]
    pub fn file(&self) -> Option<&Path> {
        match self {
            Self::Image(p) | Self::Video(p) => Some(p),
            Self::Sequence(_) | Self::Camera(_) | Self::Url(_) => None,
        }
    }

    /// A short description for messages: the file, device or URL.
    #[must_use]
    pub fn describe(&self) -> String {
        match self {
            Self::Image(p) | Self::Video(p) | Self::Sequence(p) => p.display().to_string(),
            Self::Camera(c) => format!("camera {c}"),
            Self::Url(u) => u.clone(),
        }
    }
}

/// Which camera.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CameraSelect {
    /// The system's first camera.
    Default,
    /// By index.
    Index(u32),
    /// The first camera whose name contains this (case-insensitive).
    Name(String),
}

impl std::fmt::Display for CameraSelect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Default => f.write_str("\"default\""),
            Self::Index(i) => write!(f, "{i}"),
            Self::Name(n) => write!(f, "\"{n}\""),
        }
    }
}

/// How a video or sequence plays.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Playback {
    /// Start again at the in point after the out point.
    pub looped: bool,
    /// Playback speed.
    pub speed: Speed,
    /// A param (index) giving the position in seconds after `start_secs`.
    pub position: Option<usize>,
    /// The in point, seconds into the file.
    pub start_secs: f64,
    /// The out point, seconds into the file.
    pub end_secs: Option<f64>,
    /// Frames per second the file is sampled at.
    pub fps: f64,
}

impl Default for Playback {
    fn default() -> Self {
        Self {
            looped: true,
            speed: Speed::Fixed(1.0),
            position: None,
            start_secs: 0.0,
            end_secs: None,
            fps: DEFAULT_FPS,
        }
    }
}

/// A playback speed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Speed {
    /// A fixed factor: the position is exactly `time * speed`.
    Fixed(f64),
    /// A param's value (index), integrated over the frames.
    Param(usize),
}

/// Validates one `[[media]]` table. `taken` holds the names already used by passes, model
/// textures and earlier media.
pub(super) fn validate_media(
    ctx: &mut Ctx<'_>,
    dir: &Path,
    params: &[ParamDef],
    taken: &[String],
    scene_size: [u32; 2],
    raw: Spanned<RawMedia>,
) -> MediaDef {
    let raw = raw.into_inner();
    let name_span = raw.name.span();
    let name = raw.name.get_ref().clone();
    check_identifier(ctx, &name_span, "media", &name);
    if taken.contains(&name) {
        ctx.error(
            &name_span,
            format!("media name `{name}` is already a pass, model texture or media name"),
        );
    }
    let given: Vec<(&str, std::ops::Range<usize>)> = [
        ("file", raw.file.as_ref().map(Spanned::span)),
        ("sequence", raw.sequence.as_ref().map(Spanned::span)),
        ("camera", raw.camera.as_ref().map(Spanned::span)),
        ("url", raw.url.as_ref().map(Spanned::span)),
    ]
    .into_iter()
    .filter_map(|(k, s)| s.map(|s| (k, s)))
    .collect();
    let input_span = given.first().map_or(name_span.clone(), |(_, s)| s.clone());
    if given.len() != 1 {
        let what = if given.is_empty() {
            "none"
        } else {
            "more than one"
        };
        ctx.error(
            &name_span,
            format!(
                "media `{name}` has {what} of `file`, `sequence`, `camera` and `url`; give one"
            ),
        );
    }
    let input = media_input(ctx, dir, &name, &raw);
    let size = match &raw.size {
        Some(s) => {
            let v = *s.get_ref();
            if v.iter().any(|&side| side == 0 || side > MAX_SIDE_PX) {
                ctx.error(
                    &s.span(),
                    format!(
                        "media `{name}`: size {}x{} must be 1..={MAX_SIDE_PX} on each side",
                        v[0], v[1]
                    ),
                );
            }
            v
        }
        None => scene_size,
    };
    let play = playback(ctx, &name, &raw, params);
    let fallback = raw.fallback.as_ref().map(|f| {
        let path = dir.join(f.get_ref());
        check_file(ctx, dir, &name, &f.span(), &path, "fallback");
        if !matches!(input, MediaInput::Camera(_)) {
            ctx.error(
                &f.span(),
                format!("media `{name}`: `fallback` applies to cameras"),
            );
        }
        file_input(path)
    });
    if input.is_live() || matches!(input, MediaInput::Image(_)) {
        let timing = [
            ("loop", raw.looped.as_ref().map(Spanned::span)),
            ("speed", raw.speed.as_ref().map(Spanned::span)),
            ("position", raw.position.as_ref().map(Spanned::span)),
            ("start", raw.start.as_ref().map(Spanned::span)),
            ("end", raw.end.as_ref().map(Spanned::span)),
            ("fps", raw.fps.as_ref().map(Spanned::span)),
        ];
        for (key, span) in timing {
            if let Some(span) = span {
                ctx.error(
                    &span,
                    format!(
                        "media `{name}`: `{key}` applies to video files and sequences, not to {}",
                        if input.is_live() {
                            "cameras and streams"
                        } else {
                            "still images"
                        }
                    ),
                );
            }
        }
    }
    MediaDef {
        at: location(ctx, &name_span),
        input_at: location(ctx, &input_span),
        name,
        input,
        size,
        fit: raw.fit.unwrap_or(MediaFit::Crop),
        filter: raw.filter.unwrap_or(Filter::Linear),
        wrap: raw.wrap.unwrap_or(Wrap::Clamp),
        play,
        fallback,
    }
}

/// A file as a still image or a video, by its extension.
fn file_input(path: PathBuf) -> MediaInput {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    if IMAGE_EXTENSIONS.contains(&ext.as_str()) {
        MediaInput::Image(path)
    } else {
        MediaInput::Video(path)
    }
}

fn media_input(ctx: &mut Ctx<'_>, dir: &Path, name: &str, raw: &RawMedia) -> MediaInput {
    if let Some(file) = &raw.file {
        let path = dir.join(file.get_ref());
        check_file(ctx, dir, name, &file.span(), &path, "file");
        return file_input(path);
    }
    if let Some(pattern) = &raw.sequence {
        let path = dir.join(pattern.get_ref());
        if !has_frame_number(pattern.get_ref()) {
            ctx.error(
                &pattern.span(),
                format!(
                    "media `{name}`: sequence `{}` has no frame number",
                    pattern.get_ref()
                ),
            )
            .notes
            .push(
                "write the number as `%d` or `%04d` (four digits), e.g. `frames/%04d.png`".into(),
            );
        }
        let folder = path.parent().unwrap_or(dir);
        if !folder.is_dir() {
            ctx.error(
                &pattern.span(),
                format!(
                    "media `{name}`: the folder `{}` of the sequence does not exist",
                    folder.display()
                ),
            );
        }
        return MediaInput::Sequence(path);
    }
    if let Some(camera) = &raw.camera {
        let select = match camera.get_ref() {
            RawCamera::Index(i) => match u32::try_from(*i) {
                Ok(i) if i < 64 => CameraSelect::Index(i),
                _ => {
                    ctx.error(
                        &camera.span(),
                        format!("media `{name}`: camera index {i} must be 0..=63"),
                    );
                    CameraSelect::Default
                }
            },
            RawCamera::Name(n) if n == "default" => CameraSelect::Default,
            RawCamera::Name(n) if n.trim().is_empty() => {
                ctx.error(
                    &camera.span(),
                    format!("media `{name}`: camera name is empty"),
                )
                .notes
                .push("`camera = \"default\"`, a name from `hypna devices`, or an index".into());
                CameraSelect::Default
            }
            RawCamera::Name(n) => CameraSelect::Name(n.clone()),
        };
        return MediaInput::Camera(select);
    }
    if let Some(url) = &raw.url {
        let u = url.get_ref();
        let scheme_ok = u
            .split_once("://")
            .is_some_and(|(s, rest)| !s.is_empty() && !rest.is_empty());
        if !scheme_ok || u.chars().any(char::is_control) {
            ctx.error(
                &url.span(),
                format!(
                    "media `{name}`: `{u}` is not a URL (`rtsp://host/path`, `srt://host:port`...)"
                ),
            );
        }
        return MediaInput::Url(u.clone());
    }
    MediaInput::Image(PathBuf::new())
}

fn check_file(
    ctx: &mut Ctx<'_>,
    dir: &Path,
    name: &str,
    span: &std::ops::Range<usize>,
    path: &Path,
    key: &str,
) {
    match crate::untrusted::regular_file(path) {
        Ok(0) => {
            ctx.error(
                span,
                format!("media `{name}`: {key} `{}` is empty", path.display()),
            );
        }
        Ok(_) => {}
        Err(crate::untrusted::SourceError::NotFound) => {
            ctx.error(
                span,
                format!("media `{name}`: {key} `{}` not found", path.display()),
            )
            .notes
            .push(format!(
                "paths are relative to the scene file's folder `{}`",
                crate::untrusted::shown_dir(dir).display()
            ));
        }
        Err(e) => {
            ctx.error(
                span,
                format!("media `{name}`: {key} `{}` {e}", path.display()),
            );
        }
    }
}

/// True when `pattern` holds a printf frame number FFmpeg's image reader expands (`%d`,
/// `%4d`, `%04d`).
fn has_frame_number(pattern: &str) -> bool {
    let bytes = pattern.as_bytes();
    bytes.iter().enumerate().any(|(i, &b)| {
        b == b'%' && {
            let rest = &bytes[i + 1..];
            let digits = rest.iter().take_while(|c| c.is_ascii_digit()).count();
            rest.get(digits) == Some(&b'd')
        }
    })
}

fn param_index(
    ctx: &mut Ctx<'_>,
    name: &str,
    key: &str,
    param: &Spanned<String>,
    params: &[ParamDef],
) -> Option<usize> {
    let found = params.iter().position(|p| p.name == *param.get_ref());
    if found.is_none() {
        ctx.error(
            &param.span(),
            format!(
                "media `{name}`: `{key}` names param `{}`, which the scene does not declare",
                param.get_ref()
            ),
        );
    }
    found
}

fn playback(ctx: &mut Ctx<'_>, name: &str, raw: &RawMedia, params: &[ParamDef]) -> Playback {
    let mut play = Playback::default();
    if let Some(l) = &raw.looped {
        play.looped = *l.get_ref();
    }
    if let Some(speed) = &raw.speed {
        play.speed = match speed.get_ref() {
            RawSpeed::Value(v) => {
                if !(v.is_finite() && v.abs() <= MAX_SPEED) {
                    ctx.error(
                        &speed.span(),
                        format!("media `{name}`: speed {v} must be within ±{MAX_SPEED}"),
                    );
                }
                Speed::Fixed(*v)
            }
            RawSpeed::Param(p) => {
                let spanned = Spanned::new(speed.span(), p.clone());
                param_index(ctx, name, "speed", &spanned, params)
                    .map_or(Speed::Fixed(1.0), Speed::Param)
            }
        };
    }
    if let Some(p) = &raw.position {
        play.position = param_index(ctx, name, "position", p, params);
    }
    if let Some(s) = &raw.start {
        let v = *s.get_ref();
        if !v.is_finite() || v < 0.0 {
            ctx.error(
                &s.span(),
                format!("media `{name}`: start {v} must be 0 or more seconds"),
            );
        } else {
            play.start_secs = v;
        }
    }
    if let Some(e) = &raw.end {
        let v = *e.get_ref();
        if !v.is_finite() || v <= play.start_secs {
            ctx.error(
                &e.span(),
                format!(
                    "media `{name}`: end {v} must be after start ({} s)",
                    play.start_secs
                ),
            );
        } else {
            play.end_secs = Some(v);
        }
    }
    if let Some(f) = &raw.fps {
        let v = *f.get_ref();
        if !v.is_finite() || v <= 0.0 || v > MAX_FPS {
            ctx.error(
                &f.span(),
                format!("media `{name}`: fps {v} must be above 0 and at most {MAX_FPS}"),
            );
        } else {
            play.fps = v;
        }
    }
    play
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_numbers_are_recognised_in_patterns() {
        assert!(has_frame_number("f/%04d.png"));
        assert!(has_frame_number("%d.jpg"));
        assert!(!has_frame_number("f/0001.png"));
        assert!(!has_frame_number("f/%s.png"));
        assert!(!has_frame_number("f/100%"));
    }
}
