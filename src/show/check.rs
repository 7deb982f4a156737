//! `hypna check`: scenes and playlists validated without a GPU: every scene file, its shaders
//! (naga), references and model bindings (when ONNX Runtime is there); a playlist's entries
//! each, every param an entry sets, and each ISF transition it names (compiled like a pass).

use std::path::PathBuf;

use super::playlist::{Playlist, is_playlist};
use crate::runtime::{check_models, read_and_check};
use crate::scene::Scene;

/// One line of the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckLine {
    /// What passed (printed to stdout).
    Ok(String),
    /// A problem, located (printed to stderr).
    Problem(String),
}

/// What `hypna check` found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CheckReport {
    /// In the order found.
    pub lines: Vec<CheckLine>,
    /// Files (scenes, playlists) that failed.
    pub failed: usize,
    /// Scene files checked (a playlist counts its entries).
    pub files: usize,
}

/// Checks `paths` (scenes and playlists); `ort_lib`: the ONNX Runtime to check model bindings
/// with (default: searched).
#[must_use]
pub fn check(paths: &[PathBuf], ort_lib: Option<&PathBuf>) -> CheckReport {
    let mut report = CheckReport::default();
    let mut scenes = Vec::new();
    for path in paths {
        if !is_playlist(path) {
            scenes.push(path.clone());
            continue;
        }
        match Playlist::load(path) {
            Ok(playlist) => {
                report.lines.push(CheckLine::Ok(format!(
                    "ok: {} playlist \"{}\" ({} entries)",
                    path.display(),
                    playlist.name,
                    playlist.entries.len()
                )));
                for entry in &playlist.entries {
                    // Each entry's `set` must name a param of its scene.
                    if let Ok(scene) = Scene::read(&entry.scene) {
                        for (i, (name, _)) in entry.set.iter().enumerate() {
                            if scene.param(name).is_none() {
                                let (line, col) =
                                    entry.set_at.get(i).copied().unwrap_or((entry.line, 1));
                                report.failed += 1;
                                report.lines.push(CheckLine::Problem(format!(
                                    "{}:{line}:{col}: entry `{}` sets `{name}`, which {} does not have",
                                    path.display(),
                                    entry.name,
                                    entry.scene.display()
                                )));
                            }
                        }
                    }
                    scenes.push(entry.scene.clone());
                }
                check_transitions(&playlist, &mut report);
            }
            Err(e) => {
                report.failed += 1;
                report.lines.push(CheckLine::Problem(e.to_string()));
            }
        }
    }
    for path in &scenes {
        let result = read_and_check(path).and_then(|(scene, shaders)| {
            let note = check_models(&scene, ort_lib.cloned())?;
            Ok((scene, shaders, note))
        });
        match result {
            Ok((scene, shaders, note)) => {
                // Distinct files: the passes of one ISF file share it.
                let files = shaders
                    .iter()
                    .flat_map(|s| s.files.iter())
                    .collect::<std::collections::BTreeSet<_>>()
                    .len();
                report.lines.push(CheckLine::Ok(format!(
                    "ok: {} \"{}\" ({} passes, {} models, {} params, {} shader files)",
                    path.display(),
                    scene.name,
                    scene.passes.len(),
                    scene.models.len(),
                    scene.params.len(),
                    files
                )));
                if let Some(note) = note {
                    report.lines.push(CheckLine::Ok(format!("  {note}")));
                }
            }
            Err(e) => {
                report.failed += 1;
                report.lines.push(CheckLine::Problem(e.to_string()));
            }
        }
    }
    report.files = scenes.len();
    report
}

/// Compiles each distinct ISF transition of `playlist` (the playlist already read its header
/// and checked its `set` names).
fn check_transitions(playlist: &Playlist, report: &mut CheckReport) {
    let files: std::collections::BTreeSet<_> = playlist
        .entries
        .iter()
        .filter_map(|e| e.transition.isf.as_ref().map(|s| s.file.clone()))
        .collect();
    for file in files {
        let result = Scene::read_transition(&file, crate::scene::validate::DEFAULT_SIZE)
            .map_err(crate::runtime::LoadError::from)
            .and_then(|scene| {
                crate::runtime::load_shaders(&scene).map_err(crate::runtime::LoadError::Shader)
            });
        match result {
            Ok(_) => report.lines.push(CheckLine::Ok(format!(
                "ok: {} (ISF transition)",
                file.display()
            ))),
            Err(e) => {
                report.failed += 1;
                report
                    .lines
                    .push(CheckLine::Problem(e.located(&file).to_string()));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scenes_and_playlist_entries_are_checked_and_bad_sets_named() {
        let dir = tempfile::tempdir().unwrap();
        let shader = "@fragment\nfn main(in: VertexOutput) -> @location(0) vec4<f32> {\n    \
                      return vec4<f32>(in.uv, params.gain, 1.0);\n}\n";
        std::fs::write(dir.path().join("a.wgsl"), shader).unwrap();
        let scene = dir.path().join("a.toml");
        std::fs::write(
            &scene,
            "[scene]\nname = \"a\"\n\n[params.gain]\ndefault = 0.5\n\n[[pass]]\nname = \"a\"\n\
             shader = \"a.wgsl\"\n",
        )
        .unwrap();
        let playlist = dir.path().join("list.toml");
        std::fs::write(
            &playlist,
            "[playlist]\nname = \"list\"\n\n[[entry]]\nscene = \"a.toml\"\ncue = true\n\
             set = [\"gain=0.2\", \"hue=1.0\"]\n",
        )
        .unwrap();
        let broken = dir.path().join("broken.toml");
        std::fs::write(&broken, "[scene]\n").unwrap();
        let report = check(&[scene.clone(), playlist, broken], None);
        let problems: Vec<&str> = report
            .lines
            .iter()
            .filter_map(|l| match l {
                CheckLine::Problem(p) => Some(p.as_str()),
                CheckLine::Ok(_) => None,
            })
            .collect();
        assert_eq!(report.failed, 2, "{report:#?}");
        assert_eq!(
            report.files, 3,
            "the scene, the entry's scene and the broken one"
        );
        assert!(problems[0].contains("sets `hue`"), "{problems:?}");
        // At the assignment: line 7, column 20 (`"hue=1.0"` in `set = [...]`).
        assert!(
            problems[0].contains("list.toml:7:20: entry"),
            "{problems:?}"
        );
        assert!(problems[1].contains("broken.toml"), "{problems:?}");
        let oks = report
            .lines
            .iter()
            .filter(|l| matches!(l, CheckLine::Ok(t) if t.starts_with("ok: ")))
            .count();
        assert_eq!(oks, 3, "the playlist and the scene twice: {report:#?}");
    }
}
