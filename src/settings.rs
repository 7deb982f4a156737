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
    Ok(Settings { osc })
}

/// The file as written, with the place of each table for errors.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSettings {
    osc: Option<toml::Spanned<crate::scene::osc::OscConfig>>,
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
        let bad = dir.path().join("bad.toml");
        std::fs::write(&bad, "[osc]\nlisten = \"127.0.0.1:9100\"\nport = 3\n").unwrap();
        let e = load(&bad).unwrap_err().to_string();
        assert!(
            e.contains("bad.toml:3:1") && e.contains("unknown field `port`"),
            "{e}"
        );
    }
}
