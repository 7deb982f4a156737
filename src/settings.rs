//! The settings file (`hypna.toml` or `--settings FILE`): machine- and venue-specific
//! choices that do not belong in a scene, such as the OSC network setup. Every table is
//! optional; what it sets replaces the scene's. MIDI learn writes its bindings back into
//! the `[midi]` table ([`save_midi_binding`]), keeping everything else in the file as it was.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::diag::Diagnostic;

/// The settings file.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// `[osc]`: replaces the scene's `[osc]` table (same keys, see docs/osc.md). Default: none.
    pub osc: Option<crate::scene::osc::OscConfig>,
    /// `[midi]`: ports, feedback, program change, the beat source and the bindings of each
    /// controller (docs/midi.md). Default: none (MIDI with its defaults).
    pub midi: Option<crate::scene::midi::MidiConfig>,
    /// `[http]`: the OSCQuery server and browser remote (see docs/remote.md). Default: on,
    /// on `127.0.0.1:9080`, with a generated token.
    pub http: HttpSettings,
}

/// The `[http]` table: where the OSCQuery server and browser remote listen and who may use
/// them.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpSettings {
    /// Serve at all. Default true (`--no-http` turns it off).
    pub enabled: bool,
    /// Where to listen. Default `127.0.0.1:9080` (this machine only).
    pub listen: std::net::SocketAddr,
    /// The control token (set params, change scenes). Default: a random one, printed at start.
    pub token: Option<String>,
    /// Clients allowed to connect (addresses or CIDR subnets). Default: the OSC server's
    /// `allow` list.
    pub allow: Option<Vec<crate::scene::osc::IpNet>>,
    /// Advertise `_oscjson._tcp` and `_osc._udp` over mDNS. Default true (`--no-mdns`).
    pub mdns: bool,
    /// Requests and WebSocket messages per second per client, sustained (bursts of twice
    /// that). Default 50.
    pub requests_per_sec: f32,
    /// Thumbnails per second while someone watches. Default 4.
    pub thumbnail_fps: f32,
    /// Thumbnail width in pixels. Default 320.
    pub thumbnail_width: u32,
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            listen: std::net::SocketAddr::from(([127, 0, 0, 1], 9080)),
            token: None,
            allow: None,
            mdns: true,
            requests_per_sec: 50.0,
            thumbnail_fps: 4.0,
            thumbnail_width: 320,
        }
    }
}

/// Errors from reading settings.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// Not readable.
    #[error("{}: cannot read settings: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: crate::untrusted::SourceError,
    },
    /// Not valid.
    #[error("{0}")]
    Invalid(Diagnostic),
    /// Could not be written (MIDI learn).
    #[error("{}: cannot save settings: {message}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        message: String,
    },
}

/// Reads and checks the settings file at `path`.
///
/// # Errors
/// When it cannot be read, is not valid TOML of the settings schema, or its `[osc]` table is
/// inconsistent; errors name the file, line and column.
pub fn load(path: &Path) -> Result<Settings, SettingsError> {
    let source = crate::untrusted::read_toml(path, "settings").map_err(|e| match e {
        crate::untrusted::TomlTextError::Read(source) => SettingsError::Io {
            path: path.to_path_buf(),
            source,
        },
        crate::untrusted::TomlTextError::Located(d) => SettingsError::Invalid(d),
    })?;
    let raw: RawSettings = crate::diag::from_toml(path, &source).map_err(SettingsError::Invalid)?;
    let osc = match raw.osc {
        Some(osc) => {
            let span = osc.span();
            let osc = osc.into_inner();
            osc.check().map_err(|e| {
                SettingsError::Invalid(Diagnostic::at_offset(
                    path,
                    &source,
                    span.start,
                    format!("[osc]: {e}"),
                ))
            })?;
            Some(osc)
        }
        None => None,
    };
    let midi = match raw.midi {
        Some(midi) => {
            let span = midi.span();
            let config = crate::scene::midi::MidiConfig::from_raw(midi.get_ref()).map_err(|e| {
                SettingsError::Invalid(Diagnostic::at_offset(
                    path,
                    &source,
                    span.start,
                    format!("[midi]: {e}"),
                ))
            })?;
            Some(config)
        }
        None => None,
    };
    let http = raw.http.unwrap_or_default();
    if !(http.requests_per_sec >= 1.0 && http.thumbnail_fps > 0.0 && http.thumbnail_width >= 16)
        || http
            .token
            .as_ref()
            .is_some_and(|t| t.len() < 8 || t.contains(char::is_whitespace))
    {
        return Err(SettingsError::Invalid(Diagnostic::at_offset(
            path,
            &source,
            source.find("[http]").unwrap_or(0),
            "[http]: requests_per_sec must be at least 1, thumbnail_fps above 0, \
             thumbnail_width at least 16, and a token at least 8 characters without spaces"
                .to_string(),
        )));
    }
    Ok(Settings { osc, midi, http })
}

/// Writes `param = "<binding>"` into `[midi.controllers."<port>"]` of the settings file at
/// `path` (created when missing), replacing the param's old binding for that port. Comments
/// and the rest of the file stay as they were; the file is replaced atomically (a temporary
/// file beside it, then a rename), so a crash never leaves half a settings file.
///
/// # Errors
/// The file cannot be read, is not TOML, its `[midi]` is not a table, or it cannot be
/// written.
pub fn save_midi_binding(
    path: &Path,
    port: &str,
    param: &str,
    binding: &crate::scene::midi::MidiBinding,
) -> Result<(), SettingsError> {
    let write_err = |message: String| SettingsError::Write {
        path: path.to_path_buf(),
        message,
    };
    let text = if path.exists() {
        crate::untrusted::read_toml(path, "settings").map_err(|e| match e {
            crate::untrusted::TomlTextError::Read(source) => SettingsError::Io {
                path: path.to_path_buf(),
                source,
            },
            crate::untrusted::TomlTextError::Located(d) => SettingsError::Invalid(d),
        })?
    } else {
        String::new()
    };
    let mut doc: toml_edit::DocumentMut = text
        .parse()
        .map_err(|e: toml_edit::TomlError| write_err(e.to_string()))?;
    let midi = doc
        .entry("midi")
        .or_insert_with(|| toml_edit::Item::Table(toml_edit::Table::new()))
        .as_table_mut()
        .ok_or_else(|| write_err("`midi` is not a table".into()))?;
    let controllers = midi
        .entry("controllers")
        .or_insert_with(|| {
            let mut t = toml_edit::Table::new();
            t.set_implicit(true);
            toml_edit::Item::Table(t)
        })
        .as_table_mut()
        .ok_or_else(|| write_err("`midi.controllers` is not a table".into()))?;
    let table = controllers
        .entry(port)
        .or_insert_with(|| toml_edit::Item::Table(toml_edit::Table::new()))
        .as_table_like_mut()
        .ok_or_else(|| write_err(format!("`midi.controllers.\"{port}\"` is not a table")))?;
    table.insert(param, toml_edit::value(binding.to_string()));
    let tmp = path.with_extension("toml.tmp");
    std::fs::write(&tmp, doc.to_string())
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(|e| write_err(e.to_string()))
}

/// The file as written, with the place of each table for errors.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSettings {
    osc: Option<toml::Spanned<crate::scene::osc::OscConfig>>,
    midi: Option<toml::Spanned<crate::scene::midi::RawMidiConfig>>,
    http: Option<HttpSettings>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_parse_and_errors_are_located() {
        let dir = tempfile::tempdir().unwrap();
        let good = dir.path().join("good.toml");
        std::fs::write(&good, "[osc]\nlisten = \"127.0.0.1:9100\"\n").unwrap();
        let s = load(&good).unwrap();
        assert_eq!(s.osc.unwrap().listen.port(), 9100);
        assert_eq!(s.http, HttpSettings::default());
        let http = dir.path().join("http.toml");
        std::fs::write(
            &http,
            "[http]\nlisten = \"0.0.0.0:8000\"\ntoken = \"s3cret-token\"\nmdns = false\nallow = [\"10.0.0.0/8\"]\n",
        )
        .unwrap();
        let h = load(&http).unwrap().http;
        assert_eq!(h.listen.port(), 8000);
        assert_eq!(h.token.as_deref(), Some("s3cret-token"));
        assert!(!h.mdns && h.enabled);
        let short = dir.path().join("short.toml");
        std::fs::write(&short, "[http]\ntoken = \"abc\"\n").unwrap();
        assert!(
            load(&short)
                .unwrap_err()
                .to_string()
                .contains("short.toml:1:1")
        );
        let bad = dir.path().join("bad.toml");
        std::fs::write(&bad, "[osc]\nlisten = \"127.0.0.1:9100\"\nport = 3\n").unwrap();
        let e = load(&bad).unwrap_err().to_string();
        assert!(
            e.contains("bad.toml:3:1") && e.contains("unknown field `port`"),
            "{e}"
        );
        let bad = dir.path().join("midi.toml");
        std::fs::write(&bad, "# venue\n\n[midi]\nbeat_source = \"vibes\"\n").unwrap();
        let e = load(&bad).unwrap_err().to_string();
        assert!(e.contains("midi.toml:3:1") && e.contains("vibes"), "{e}");
    }

    #[test]
    fn learned_midi_bindings_are_saved_and_read_back() {
        use crate::scene::midi::MidiBinding;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hypna.toml");
        // A new file, then an existing one whose comments and tables survive.
        save_midi_binding(
            &path,
            "nanoKONTROL2",
            "speed",
            &MidiBinding::parse("cc 1 0").unwrap(),
        )
        .unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(
            &path,
            format!("# the venue's settings\n[osc]\nlisten = \"127.0.0.1:9100\"\n\n{text}"),
        )
        .unwrap();
        save_midi_binding(
            &path,
            "nanoKONTROL2",
            "speed",
            &MidiBinding::parse("cc 2 7").unwrap(),
        )
        .unwrap();
        save_midi_binding(
            &path,
            "Launch Control",
            "hue",
            &MidiBinding::parse("note 1 60").unwrap(),
        )
        .unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("# the venue's settings\n[osc]"), "{text}");
        let s = load(&path).unwrap();
        assert_eq!(s.osc.unwrap().listen.port(), 9100);
        let midi = s.midi.unwrap();
        let got: Vec<(String, String, String)> = midi
            .controllers
            .iter()
            .flat_map(|c| {
                c.bindings
                    .iter()
                    .map(|(p, b)| (c.port.clone(), p.clone(), b.to_string()))
            })
            .collect();
        assert_eq!(
            got,
            [
                ("nanoKONTROL2".into(), "speed".into(), "cc 2 7".into()),
                ("Launch Control".into(), "hue".into(), "note 1 60".into()),
            ]
        );
    }
}
