//! The settings file (`hypna.toml` or `--settings FILE`): machine- and venue-specific
//! choices that do not belong in a scene, such as the OSC network setup. Every table is
//! optional; what it sets replaces the scene's.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::diag::Diagnostic;

/// The settings file.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// `[osc]`: replaces the scene's `[osc]` table (same keys, see docs/osc.md). Default: none.
    pub osc: Option<crate::scene::osc::OscConfig>,
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
    Ok(Settings { osc, http })
}

/// The file as written, with the place of each table for errors.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSettings {
    osc: Option<toml::Spanned<crate::scene::osc::OscConfig>>,
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
    }
}
