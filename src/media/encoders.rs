//! The encoders an `ffmpeg` program offers (`ffmpeg -encoders`): which codec each writes,
//! which are hardware encoders. `--encoder` is checked against this list, and a missing one
//! is answered with the hardware encoders there are.

/// One encoder `ffmpeg -encoders` lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncoderInfo {
    /// Its name for `-c:v` (`libx264`, `h264_nvenc`, ...).
    pub name: String,
    /// The codec it writes (`h264`, `hevc`, `av1`, `prores`, ...).
    pub codec: String,
    /// Video (not audio or subtitles).
    pub video: bool,
    /// The description ffmpeg gives.
    pub description: String,
}

impl EncoderInfo {
    /// A hardware encoder (NVENC, VA-API, Quick Sync, V4L2 mem2mem, AMF, `VideoToolbox`,
    /// `OpenMAX`, Media Foundation), by the suffix ffmpeg names them with.
    #[must_use]
    pub fn is_hardware(&self) -> bool {
        is_hardware_name(&self.name)
    }
}

/// Whether an encoder name is one of ffmpeg's hardware encoders (see
/// [`EncoderInfo::is_hardware`]).
#[must_use]
pub fn is_hardware_name(name: &str) -> bool {
    [
        "_nvenc",
        "_vaapi",
        "_qsv",
        "_v4l2m2m",
        "_amf",
        "_videotoolbox",
        "_omx",
        "_mf",
        "_vulkan",
    ]
    .iter()
    .any(|s| name.ends_with(s))
}

/// The encoders `program -encoders` lists.
///
/// # Errors
/// When the program cannot be run or fails.
pub fn encoders(program: &std::path::Path) -> std::io::Result<Vec<EncoderInfo>> {
    let out = std::process::Command::new(program)
        .args(["-hide_banner", "-encoders"])
        .stdin(std::process::Stdio::null())
        .output()?;
    if !out.status.success() {
        return Err(std::io::Error::other(format!(
            "`{} -encoders` failed ({})",
            program.display(),
            out.status
        )));
    }
    Ok(parse_encoders(&String::from_utf8_lossy(&out.stdout)))
}

/// Parses the listing of `ffmpeg -encoders` (after its ` ------` line).
#[must_use]
pub fn parse_encoders(listing: &str) -> Vec<EncoderInfo> {
    listing
        .lines()
        .skip_while(|l| !l.trim_start().starts_with("---"))
        .skip(1)
        .filter_map(|line| {
            let mut parts = line.split_whitespace();
            let flags = parts.next()?;
            let name = parts.next()?.to_string();
            let description = parts.collect::<Vec<_>>().join(" ");
            // "... (codec h264)" unless the encoder is named after its codec.
            let codec = description
                .rsplit_once("(codec ")
                .and_then(|(_, c)| c.strip_suffix(')'))
                .map_or_else(|| name.clone(), str::to_string);
            Some(EncoderInfo {
                video: flags.starts_with('V'),
                name,
                codec,
                description,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_encoder_listing_is_parsed_with_codecs_and_kinds() {
        let listing = "Encoders:\n V..... = Video\n ------\n V....D libx264              libx264 H.264 / AVC / MPEG-4 AVC / MPEG-4 part 10 (codec h264)\n V....D h264_nvenc           NVIDIA NVENC H.264 encoder (codec h264)\n VFS... prores_ks            Apple ProRes (iCodec Pro) (codec prores)\n VF.... prores               Apple ProRes\n A..... aac                  AAC (Advanced Audio Coding)\n";
        let e = parse_encoders(listing);
        let names: Vec<&str> = e.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(
            names,
            ["libx264", "h264_nvenc", "prores_ks", "prores", "aac"]
        );
        assert_eq!(e[0].codec, "h264");
        assert_eq!(e[2].codec, "prores");
        assert_eq!(e[3].codec, "prores");
        assert!(e[0].video && !e[4].video);
        assert!(e[1].is_hardware() && !e[0].is_hardware());
    }
}
