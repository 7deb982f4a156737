//! What an encode asks ffmpeg for: the codec and encoder, the container from the output's
//! extension or URL scheme, quality, the audio track, low-latency settings for live use. A
//! pure function from settings to an argument list, so every choice is tested without
//! running ffmpeg.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use super::encoders::{EncoderInfo, is_hardware_name};

/// Errors in what an encode asks for, found before ffmpeg starts.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// The output's extension is not a video container.
    #[error(
        "{}: not a video file name (use .mp4, .mov, .mkv or .webm; a folder writes PNG frames)",
        .0.display()
    )]
    Container(PathBuf),
    /// The stream URL's scheme is not one hypna streams to.
    #[error("{0}: cannot stream there (use srt://, udp://, rtp://, rtmp:// or rtmps://)")]
    Scheme(String),
    /// An unknown `--codec`.
    #[error("unknown codec `{0}` (use h264, hevc, av1 or prores)")]
    Codec(String),
    /// The container cannot hold the codec.
    #[error("{container} cannot hold {codec} video ({hint})")]
    CodecContainer {
        /// The container or transport.
        container: &'static str,
        /// The codec.
        codec: &'static str,
        /// What can.
        hint: &'static str,
    },
    /// None of the software encoders of the codec is in this ffmpeg.
    #[error(
        "this ffmpeg has no {codec} encoder (looked for {tried}); `ffmpeg -encoders` lists what it has"
    )]
    NoEncoder {
        /// The codec.
        codec: &'static str,
        /// The encoders looked for.
        tried: String,
    },
    /// `--encoder` names an encoder this ffmpeg does not have, or not a video one.
    #[error(
        "this ffmpeg has no video encoder `{name}`; its hardware encoders of H.264, HEVC, AV1 and ProRes: {hardware}"
    )]
    UnknownEncoder {
        /// The name asked for.
        name: String,
        /// The hardware video encoders it has, or "none".
        hardware: String,
    },
    /// `--encoder` writes another codec than `--codec`.
    #[error("encoder `{name}` writes {writes}, not {codec}")]
    EncoderCodec {
        /// The encoder.
        name: String,
        /// What it writes.
        writes: String,
        /// What was asked for.
        codec: &'static str,
    },
    /// A quality setting the encoder does not take.
    #[error("{0}")]
    Quality(String),
    /// A size or rate ffmpeg cannot use.
    #[error("cannot encode {0}")]
    Format(String),
}

/// The video codecs hypna encodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    /// H.264 / AVC (libx264): plays everywhere.
    H264,
    /// H.265 / HEVC (libx265): half the size at the same quality, slower.
    Hevc,
    /// AV1 (libsvtav1, else libaom-av1): smallest files, slowest to encode.
    Av1,
    /// Apple `ProRes` 422 HQ (`prores_ks`): an intermediate for editing, huge files.
    Prores,
}

impl Codec {
    /// ffmpeg's name of the codec.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::H264 => "h264",
            Self::Hevc => "hevc",
            Self::Av1 => "av1",
            Self::Prores => "prores",
        }
    }

    /// Software encoders of the codec, preferred first.
    fn software(self) -> &'static [&'static str] {
        match self {
            Self::H264 => &["libx264"],
            Self::Hevc => &["libx265"],
            Self::Av1 => &["libsvtav1", "libaom-av1", "librav1e"],
            Self::Prores => &["prores_ks"],
        }
    }

    fn from_ffmpeg(name: &str) -> Option<Self> {
        match name {
            "h264" => Some(Self::H264),
            "hevc" => Some(Self::Hevc),
            "av1" => Some(Self::Av1),
            "prores" => Some(Self::Prores),
            _ => None,
        }
    }
}

impl std::str::FromStr for Codec {
    type Err = PlanError;

    fn from_str(s: &str) -> Result<Self, PlanError> {
        match s.to_ascii_lowercase().as_str() {
            "h264" | "avc" | "x264" => Ok(Self::H264),
            "hevc" | "h265" | "x265" => Ok(Self::Hevc),
            "av1" => Ok(Self::Av1),
            "prores" => Ok(Self::Prores),
            _ => Err(PlanError::Codec(s.to_string())),
        }
    }
}

/// Where the video goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A file (`.mp4`, `.mov`, `.mkv`, `.webm`).
    File(PathBuf),
    /// A network stream (`srt://`, `udp://`, `rtp://`, `rtmp://`, `rtmps://`).
    Stream(String),
}

impl Target {
    /// A URL (`scheme://...`) is a stream, anything else a file.
    #[must_use]
    pub fn parse(s: &str) -> Self {
        if s.contains("://") {
            Self::Stream(s.to_string())
        } else {
            Self::File(PathBuf::from(s))
        }
    }

    /// Whether `path` names a video file (by its extension) rather than a folder of PNGs.
    #[must_use]
    pub fn is_video_file(path: &Path) -> bool {
        file_format(path).is_some()
    }

    /// ffmpeg's output format (`-f`), and whether the target is live by nature (a stream).
    fn format(&self) -> Result<&'static str, PlanError> {
        match self {
            Self::File(path) => file_format(path).ok_or_else(|| PlanError::Container(path.clone())),
            Self::Stream(url) => {
                let scheme = url.split_once("://").map_or("", |(s, _)| s);
                match scheme.to_ascii_lowercase().as_str() {
                    "srt" | "udp" | "tcp" => Ok("mpegts"),
                    "rtp" => Ok("rtp_mpegts"),
                    "rtmp" | "rtmps" => Ok("flv"),
                    _ => Err(PlanError::Scheme(url.clone())),
                }
            }
        }
    }

    /// The target as ffmpeg's last argument (UDP gets MPEG-TS-sized packets).
    fn argument(&self) -> OsString {
        match self {
            Self::File(path) => path.as_os_str().to_owned(),
            Self::Stream(url) if url.starts_with("udp://") && !url.contains("pkt_size") => {
                let sep = if url.contains('?') { '&' } else { '?' };
                format!("{url}{sep}pkt_size=1316").into()
            }
            Self::Stream(url) => url.into(),
        }
    }
}

fn file_format(path: &Path) -> Option<&'static str> {
    let ext = path.extension()?.to_str()?.to_ascii_lowercase();
    match ext.as_str() {
        "mp4" | "m4v" => Some("mp4"),
        "mov" => Some("mov"),
        "mkv" => Some("matroska"),
        "webm" => Some("webm"),
        _ => None,
    }
}

/// The sound in the video.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum AudioTrack {
    /// None.
    #[default]
    None,
    /// This file (any format ffmpeg reads), from its start, cut to the video's length.
    File(PathBuf),
    /// Live mono f32 samples at this rate, handed to the encoder as they come.
    Live {
        /// Sample rate.
        rate_hz: u32,
    },
}

/// What to encode and how.
#[derive(Debug, Clone)]
pub struct EncodeSettings {
    /// File or stream.
    pub target: Target,
    /// Frame size in pixels (RGBA8 frames of this size are sent).
    pub size: [u32; 2],
    /// Frame rate of the video.
    pub fps: f64,
    /// The codec (default: AV1 for .webm, else H.264).
    pub codec: Option<Codec>,
    /// An ffmpeg encoder by name (a hardware one: `h264_nvenc`, `hevc_vaapi`, ...); default
    /// the codec's software encoder.
    pub encoder: Option<String>,
    /// Constant quality (lower is better; the encoder's own scale).
    pub crf: Option<u32>,
    /// Target bitrate in kbit/s instead of constant quality.
    pub bitrate_kbps: Option<u32>,
    /// The sound.
    pub audio: AudioTrack,
    /// The video's length, which cuts an audio file (offline renders).
    pub duration_secs: Option<f64>,
    /// Live use (`run --record`, `--stream`): fast presets, no B-frames, frequent keyframes.
    pub live: bool,
}

impl EncodeSettings {
    /// H.264 (or the container's default) at `fps`, no sound, offline.
    #[must_use]
    pub fn new(target: Target, size: [u32; 2], fps: f64) -> Self {
        Self {
            target,
            size,
            fps,
            codec: None,
            encoder: None,
            crf: None,
            bitrate_kbps: None,
            audio: AudioTrack::None,
            duration_secs: None,
            live: false,
        }
    }
}

/// The ffmpeg command an encode runs.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The arguments after the program name.
    pub args: Vec<OsString>,
    /// The video encoder chosen.
    pub encoder: String,
    /// Its codec.
    pub codec: Codec,
}

/// The ffmpeg command for `settings`, with the encoders this ffmpeg has (`available`) and,
/// for a live audio track, the loopback TCP port its samples arrive on.
///
/// # Errors
/// A container, codec, encoder or quality setting that does not fit (see [`PlanError`]).
#[allow(clippy::too_many_lines)] // one argument list, in ffmpeg's order
pub fn plan(
    settings: &EncodeSettings,
    available: &[EncoderInfo],
    audio_port: Option<u16>,
) -> Result<Plan, PlanError> {
    let [width, height] = settings.size;
    if width == 0 || height == 0 {
        return Err(PlanError::Format(format!("{width}x{height} frames")));
    }
    if !(settings.fps.is_finite() && settings.fps > 0.0) {
        return Err(PlanError::Format(format!("at {} frames/s", settings.fps)));
    }
    let format = settings.target.format()?;
    let (encoder, codec) = choose_encoder(settings, format, available)?;
    check_container(format, codec)?;
    let live = settings.live || matches!(settings.target, Target::Stream(_));
    let mut a: Vec<OsString> = Vec::new();
    // (`process::Ffmpeg` puts -hide_banner -nostats -loglevel error first.)
    put(&mut a, &["-y"]);
    let vaapi = encoder.ends_with("_vaapi");
    if vaapi {
        put(&mut a, &["-vaapi_device", "/dev/dri/renderD128"]);
    }
    let size = format!("{width}x{height}");
    let fps = format!("{}", settings.fps);
    // Raw frames need no probing: ffmpeg opens the next input (live sound) at once.
    put(&mut a, &["-probesize", "32", "-analyzeduration", "0"]);
    put(
        &mut a,
        &["-f", "rawvideo", "-pix_fmt", "rgba", "-video_size", &size],
    );
    put(&mut a, &["-framerate", &fps, "-i", "pipe:0"]);
    let audio = match &settings.audio {
        AudioTrack::None => false,
        AudioTrack::File(path) => {
            if let Some(d) = settings.duration_secs {
                put(&mut a, &["-t", &format!("{d:.6}")]);
            }
            a.push("-i".into());
            a.push(path.as_os_str().to_owned());
            true
        }
        AudioTrack::Live { rate_hz } => {
            let port = audio_port.unwrap_or(0);
            put(&mut a, &["-probesize", "32", "-analyzeduration", "0"]);
            put(
                &mut a,
                &["-f", "f32le", "-ar", &rate_hz.to_string(), "-ac", "1"],
            );
            put(&mut a, &["-i", &format!("tcp://127.0.0.1:{port}")]);
            true
        }
    };
    a.push("-map".into());
    a.push("0:v:0".into());
    if audio {
        a.push("-map".into());
        a.push("1:a:0".into());
    }
    // Shaders write display-referred (sRGB) values: convert with the BT.709 matrix and say
    // so, or players guess BT.601 and shift the colours. 4:2:0 wants even sides: pad.
    let pixel_format = match (codec, encoder.as_str()) {
        (Codec::Prores, _) => "yuv422p10le",
        (_, e) if e.ends_with("_qsv") || vaapi => "nv12",
        _ => "yuv420p",
    };
    let mut filter = String::new();
    if width % 2 == 1 || height % 2 == 1 {
        filter.push_str("pad=ceil(iw/2)*2:ceil(ih/2)*2,");
    }
    filter.push_str("scale=out_color_matrix=bt709:out_range=tv,format=");
    filter.push_str(pixel_format);
    if vaapi {
        filter.push_str(",hwupload");
    }
    put(&mut a, &["-vf", &filter, "-c:v", &encoder]);
    a.extend(
        quality_args(&encoder, codec, settings, live)?
            .into_iter()
            .map(OsString::from),
    );
    if !vaapi {
        put(&mut a, &["-pix_fmt", pixel_format]);
    }
    put(
        &mut a,
        &[
            "-color_primaries",
            "bt709",
            "-color_trc",
            "bt709",
            "-colorspace",
            "bt709",
        ],
    );
    if live {
        // A keyframe every second: a receiver joining a stream, or a cut file, starts soon.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let gop = (settings.fps.round().max(1.0) as u64).to_string();
        put(&mut a, &["-g", &gop]);
        if codec != Codec::Prores {
            put(&mut a, &["-bf", "0"]);
        }
    }
    if codec == Codec::Hevc && matches!(format, "mp4" | "mov") {
        // Apple's players want the hvc1 tag.
        put(&mut a, &["-tag:v", "hvc1"]);
    }
    if audio {
        match (format, codec) {
            ("webm", _) => put(&mut a, &["-c:a", "libopus", "-b:a", "160k"]),
            (_, Codec::Prores) => put(&mut a, &["-c:a", "pcm_s16le"]),
            _ => put(&mut a, &["-c:a", "aac", "-b:a", "192k"]),
        }
    }
    match (&settings.target, format) {
        (Target::File(_), "mp4" | "mov") if !live => put(&mut a, &["-movflags", "+faststart"]),
        // Live: fragments, so a recording cut short (power, kill) still plays.
        (Target::File(_), "mp4" | "mov") => {
            put(
                &mut a,
                &["-movflags", "+frag_keyframe+empty_moov+default_base_moof"],
            );
        }
        (Target::Stream(_), "mpegts" | "rtp_mpegts") => {
            put(
                &mut a,
                &["-flush_packets", "1", "-muxdelay", "0", "-muxpreload", "0"],
            );
        }
        _ => {}
    }
    put(&mut a, &["-f", format]);
    a.push(settings.target.argument());
    Ok(Plan {
        args: a,
        encoder,
        codec,
    })
}

fn put(a: &mut Vec<OsString>, items: &[&str]) {
    a.extend(items.iter().map(OsString::from));
}

fn choose_encoder(
    settings: &EncodeSettings,
    format: &str,
    available: &[EncoderInfo],
) -> Result<(String, Codec), PlanError> {
    let has = |name: &str| available.iter().find(|e| e.video && e.name == name);
    if let Some(name) = &settings.encoder {
        let Some(info) = has(name) else {
            let hardware: Vec<&str> = available
                .iter()
                .filter(|e| e.video && e.is_hardware() && Codec::from_ffmpeg(&e.codec).is_some())
                .map(|e| e.name.as_str())
                .collect();
            return Err(PlanError::UnknownEncoder {
                name: name.clone(),
                hardware: if hardware.is_empty() {
                    "none".into()
                } else {
                    hardware.join(", ")
                },
            });
        };
        let writes = Codec::from_ffmpeg(&info.codec);
        return match (settings.codec, writes) {
            (Some(want), Some(w)) if want != w => Err(PlanError::EncoderCodec {
                name: name.clone(),
                writes: info.codec.clone(),
                codec: want.name(),
            }),
            (_, Some(w)) => Ok((name.clone(), w)),
            (want, None) => Err(PlanError::EncoderCodec {
                name: name.clone(),
                writes: info.codec.clone(),
                codec: want.map_or("h264, hevc, av1 or prores", Codec::name),
            }),
        };
    }
    let codec = settings.codec.unwrap_or(if format == "webm" {
        Codec::Av1
    } else {
        Codec::H264
    });
    codec
        .software()
        .iter()
        .find(|n| has(n).is_some())
        .map(|n| ((*n).to_string(), codec))
        .ok_or_else(|| PlanError::NoEncoder {
            codec: codec.name(),
            tried: codec.software().join(", "),
        })
}

fn check_container(format: &'static str, codec: Codec) -> Result<(), PlanError> {
    let fits = match format {
        "mp4" => codec != Codec::Prores,
        "mov" => codec != Codec::Av1,
        "webm" => codec == Codec::Av1,
        "mpegts" | "rtp_mpegts" => matches!(codec, Codec::H264 | Codec::Hevc),
        "flv" => codec == Codec::H264,
        _ => true,
    };
    if fits {
        return Ok(());
    }
    let (container, hint) = match format {
        "mp4" => ("MP4", "ProRes goes in .mov or .mkv"),
        "mov" => ("QuickTime (.mov)", "AV1 goes in .mp4, .mkv or .webm"),
        "webm" => (
            "WebM",
            "WebM holds AV1 here; H.264 and HEVC go in .mp4 or .mkv",
        ),
        "flv" => ("RTMP (FLV)", "RTMP carries H.264"),
        _ => ("an MPEG-TS stream", "streams carry H.264 or HEVC"),
    };
    Err(PlanError::CodecContainer {
        container,
        codec: codec.name(),
        hint,
    })
}

/// Quality, speed and latency options of `encoder`.
fn quality_args(
    encoder: &str,
    codec: Codec,
    settings: &EncodeSettings,
    live: bool,
) -> Result<Vec<String>, PlanError> {
    let mut v: Vec<String> = Vec::new();
    let mut push = |items: &[&str]| v.extend(items.iter().map(|s| (*s).to_string()));
    let crf = settings.crf;
    if codec == Codec::Prores {
        if crf.is_some() || settings.bitrate_kbps.is_some() {
            return Err(PlanError::Quality(
                "ProRes has a fixed quality (422 HQ): --crf and --bitrate do not apply".into(),
            ));
        }
        push(&["-profile:v", "3", "-vendor", "apl0"]);
        return Ok(v);
    }
    let max_crf = match encoder {
        "libsvtav1" | "libaom-av1" => 63,
        "librav1e" => 255,
        _ => 51,
    };
    if let Some(q) = crf
        && q > max_crf
    {
        return Err(PlanError::Quality(format!(
            "--crf {q} is out of range for {encoder} (0 to {max_crf}, lower is better)"
        )));
    }
    let rate = settings.bitrate_kbps.map(|k| format!("{k}k"));
    match encoder {
        "libx264" | "libx265" => {
            let preset = if live { "ultrafast" } else { "medium" };
            push(&["-preset", preset]);
            if live {
                push(&["-tune", "zerolatency"]);
            }
            if encoder == "libx265" {
                push(&["-x265-params", "log-level=error"]);
            }
            match (&rate, crf) {
                (Some(r), _) => push(&["-b:v", r]),
                (None, q) => {
                    let q = q.unwrap_or(if encoder == "libx264" { 18 } else { 22 });
                    push(&["-crf", &q.to_string()]);
                }
            }
        }
        "libsvtav1" => {
            push(&["-preset", if live { "12" } else { "8" }]);
            match (&rate, crf) {
                (Some(r), _) => push(&["-b:v", r]),
                (None, q) => push(&["-crf", &q.unwrap_or(32).to_string()]),
            }
        }
        "libaom-av1" => {
            push(&["-cpu-used", if live { "8" } else { "6" }, "-row-mt", "1"]);
            match (&rate, crf) {
                (Some(r), _) => push(&["-b:v", r]),
                (None, q) => push(&["-crf", &q.unwrap_or(32).to_string(), "-b:v", "0"]),
            }
        }
        e if e.ends_with("_nvenc") => {
            push(&["-preset", if live { "p1" } else { "p5" }]);
            if live {
                push(&["-tune", "ll"]);
            }
            match (&rate, crf) {
                (Some(r), _) => push(&["-b:v", r]),
                (None, Some(q)) => push(&["-rc", "vbr", "-cq", &q.to_string(), "-b:v", "0"]),
                (None, None) => {}
            }
        }
        e if e.ends_with("_vaapi") => match (&rate, crf) {
            (Some(r), _) => push(&["-b:v", r]),
            (None, Some(q)) => push(&["-qp", &q.to_string()]),
            (None, None) => {}
        },
        e if e.ends_with("_qsv") => match (&rate, crf) {
            (Some(r), _) => push(&["-b:v", r]),
            (None, Some(q)) => push(&["-global_quality", &q.to_string()]),
            (None, None) => {}
        },
        e => match (&rate, crf) {
            (Some(r), _) => push(&["-b:v", r]),
            (None, Some(_)) => {
                return Err(PlanError::Quality(format!(
                    "--crf is not supported with {e}: use --bitrate"
                )));
            }
            (None, None) if is_hardware_name(e) => push(&["-b:v", "8M"]),
            (None, None) => {}
        },
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn debian() -> Vec<EncoderInfo> {
        super::super::encoders::parse_encoders(
            " ------\n V....D libx264 libx264 H.264 (codec h264)\n V....D libx265 libx265 H.265 / HEVC (codec hevc)\n V..... libsvtav1 SVT-AV1 (codec av1)\n V....D libaom-av1 libaom AV1 (codec av1)\n VFS... prores_ks Apple ProRes (iCodec Pro) (codec prores)\n V....D h264_nvenc NVIDIA NVENC H.264 encoder (codec h264)\n V....D hevc_vaapi H.265/HEVC (VAAPI) (codec hevc)\n A..... aac AAC (Advanced Audio Coding)\n",
        )
    }

    fn args(p: &Plan) -> String {
        p.args
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join(" ")
    }

    fn settings(target: &str) -> EncodeSettings {
        EncodeSettings::new(Target::parse(target), [640, 360], 30.0)
    }

    #[test]
    fn an_mp4_with_a_song_is_h264_with_aac_cut_to_the_video() {
        let mut s = settings("film.mp4");
        s.audio = AudioTrack::File("song.wav".into());
        s.duration_secs = Some(2.0);
        let p = plan(&s, &debian(), None).unwrap();
        assert_eq!((p.encoder.as_str(), p.codec), ("libx264", Codec::H264));
        let a = args(&p);
        assert!(a.contains("-analyzeduration 0 -f rawvideo -pix_fmt rgba -video_size 640x360 -framerate 30 -i pipe:0"), "{a}");
        assert!(
            a.contains("-t 2.000000 -i song.wav -map 0:v:0 -map 1:a:0"),
            "{a}"
        );
        assert!(
            a.contains("-c:v libx264 -preset medium -crf 18 -pix_fmt yuv420p"),
            "{a}"
        );
        assert!(a.contains("-c:a aac"), "{a}");
        assert!(a.ends_with("-movflags +faststart -f mp4 film.mp4"), "{a}");
    }

    #[test]
    fn codecs_map_to_debians_encoders_and_containers_are_checked() {
        let enc = |target: &str, codec: Codec| {
            let mut s = settings(target);
            s.codec = Some(codec);
            plan(&s, &debian(), None).map(|p| p.encoder)
        };
        assert_eq!(enc("a.mkv", Codec::Hevc).unwrap(), "libx265");
        assert_eq!(enc("a.mp4", Codec::Av1).unwrap(), "libsvtav1");
        assert_eq!(enc("a.mov", Codec::Prores).unwrap(), "prores_ks");
        assert!(matches!(
            enc("a.mp4", Codec::Prores),
            Err(PlanError::CodecContainer { .. })
        ));
        assert!(matches!(
            enc("a.webm", Codec::H264),
            Err(PlanError::CodecContainer { .. })
        ));
        let p = plan(&settings("a.webm"), &debian(), None).unwrap();
        assert_eq!(p.codec, Codec::Av1, "webm defaults to AV1");
        assert!(matches!(
            plan(&settings("a.avi"), &debian(), None),
            Err(PlanError::Container(_))
        ));
        let only_aom: Vec<EncoderInfo> = debian()
            .into_iter()
            .filter(|e| e.name != "libsvtav1")
            .collect();
        let mut s = settings("a.mkv");
        s.codec = Some(Codec::Av1);
        assert_eq!(plan(&s, &only_aom, None).unwrap().encoder, "libaom-av1");
    }

    #[test]
    fn quality_is_crf_or_bitrate_and_checked_per_encoder() {
        let mut s = settings("a.mp4");
        s.crf = Some(23);
        assert!(args(&plan(&s, &debian(), None).unwrap()).contains("-crf 23"));
        s.crf = Some(60);
        assert!(matches!(
            plan(&s, &debian(), None),
            Err(PlanError::Quality(_))
        ));
        s.crf = None;
        s.bitrate_kbps = Some(4000);
        let a = args(&plan(&s, &debian(), None).unwrap());
        assert!(a.contains("-b:v 4000k") && !a.contains("-crf"), "{a}");
        let mut s = settings("a.mov");
        s.codec = Some(Codec::Prores);
        s.crf = Some(10);
        assert!(matches!(
            plan(&s, &debian(), None),
            Err(PlanError::Quality(_))
        ));
    }

    #[test]
    fn hardware_encoders_are_named_and_unknown_ones_listed() {
        let mut s = settings("a.mp4");
        s.encoder = Some("h264_nvenc".into());
        s.crf = Some(20);
        let p = plan(&s, &debian(), None).unwrap();
        assert_eq!(p.codec, Codec::H264);
        assert!(args(&p).contains("-c:v h264_nvenc -preset p5 -rc vbr -cq 20"));
        s.encoder = Some("hevc_vaapi".into());
        let a = args(&plan(&s, &debian(), None).unwrap());
        assert!(a.starts_with("-y -vaapi_device"), "{a}");
        assert!(
            a.contains("format=nv12,hwupload") && a.contains("-qp 20"),
            "{a}"
        );
        s.encoder = Some("h264_amf".into());
        let e = plan(&s, &debian(), None).unwrap_err().to_string();
        assert!(
            e.contains("h264_amf") && e.contains("h264_nvenc, hevc_vaapi"),
            "{e}"
        );
        s.encoder = Some("h264_nvenc".into());
        s.codec = Some(Codec::Hevc);
        assert!(matches!(
            plan(&s, &debian(), None),
            Err(PlanError::EncoderCodec { .. })
        ));
    }

    #[test]
    fn streams_are_low_latency_mpegts_or_flv() {
        let p = plan(&settings("udp://127.0.0.1:5000"), &debian(), None).unwrap();
        let a = args(&p);
        assert!(a.contains("-preset ultrafast -tune zerolatency"), "{a}");
        assert!(a.contains("-g 30 -bf 0"), "{a}");
        assert!(
            a.ends_with("-f mpegts udp://127.0.0.1:5000?pkt_size=1316"),
            "{a}"
        );
        let a = args(&plan(&settings("rtmp://host/live/key"), &debian(), None).unwrap());
        assert!(a.ends_with("-f flv rtmp://host/live/key"), "{a}");
        assert!(
            args(&plan(&settings("srt://host:9000"), &debian(), None).unwrap())
                .ends_with("-f mpegts srt://host:9000")
        );
        assert!(matches!(
            plan(&settings("http://host/x"), &debian(), None),
            Err(PlanError::Scheme(_))
        ));
    }

    #[test]
    fn live_audio_arrives_on_a_loopback_port_and_odd_sizes_are_padded() {
        let mut s = EncodeSettings::new(Target::parse("show.mkv"), [641, 361], 60.0);
        s.audio = AudioTrack::Live { rate_hz: 48_000 };
        s.live = true;
        let a = args(&plan(&s, &debian(), Some(4321)).unwrap());
        assert!(
            a.contains("-f f32le -ar 48000 -ac 1 -i tcp://127.0.0.1:4321"),
            "{a}"
        );
        assert!(
            a.contains("-vf pad=ceil(iw/2)*2:ceil(ih/2)*2,scale="),
            "{a}"
        );
        assert!(a.ends_with("-f matroska show.mkv"), "{a}");
    }
}
