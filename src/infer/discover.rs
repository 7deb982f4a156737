//! Finding the ONNX Runtime shared library.
//!
//! hypna loads ONNX Runtime at run time (ort's `load-dynamic`), so the binary builds and starts
//! without it and `hypna devices` can say what is missing. The search order, first hit wins:
//!
//! 1. an explicit path (the CLI's `--ort-lib`): authoritative, a wrong path is an error;
//! 2. `ORT_DYLIB_PATH`: authoritative too;
//! 3. the project-local install `.hypna/onnxruntime/` (made by `scripts/install-ort.sh`) under
//!    the current directory or one of its ancestors, the executable's ancestors, then the
//!    source tree hypna was built from;
//! 4. an installed Python `onnxruntime` package (`<package>/capi/`);
//! 5. the system library folders (the loader path variable, then the usual lib folders).
//!
//! When all of that finds nothing, [`crate::infer::init`] still lets the dynamic loader search
//! for the bare names in [`SYSTEM_NAMES`] (its cache knows folders this search does not).
//!
//! The search is a pure function over a [`Probe`], so tests run it on a fake file system.

use std::ffi::OsString;
use std::fmt;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::InferError;

/// The environment variable ort (and hypna) read for an explicit library path.
pub const ENV_VAR: &str = "ORT_DYLIB_PATH";

/// The project-local install folder, relative to a project root.
pub const PROJECT_DIR: &str = ".hypna/onnxruntime";

/// The library's unversioned file name on this platform.
#[cfg(target_os = "windows")]
pub const LIB_FILE_NAME: &str = "onnxruntime.dll";
/// The library's unversioned file name on this platform.
#[cfg(target_os = "macos")]
pub const LIB_FILE_NAME: &str = "libonnxruntime.dylib";
/// The library's unversioned file name on this platform.
#[cfg(not(any(target_os = "windows", target_os = "macos")))]
pub const LIB_FILE_NAME: &str = "libonnxruntime.so";

/// Names handed to the dynamic loader as the last resort.
#[cfg(target_os = "windows")]
pub const SYSTEM_NAMES: &[&str] = &["onnxruntime.dll"];
/// Names handed to the dynamic loader as the last resort.
#[cfg(target_os = "macos")]
pub const SYSTEM_NAMES: &[&str] = &["libonnxruntime.dylib", "libonnxruntime.1.dylib"];
/// Names handed to the dynamic loader as the last resort.
#[cfg(not(any(target_os = "windows", target_os = "macos")))]
pub const SYSTEM_NAMES: &[&str] = &["libonnxruntime.so", "libonnxruntime.so.1"];

/// How long the Python interpreter may take to say where `onnxruntime` is.
pub const PYTHON_TIMEOUT: Duration = Duration::from_secs(3);

/// Where a library candidate came from, in search order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LibSource {
    /// Given explicitly (`--ort-lib`).
    Explicit,
    /// The `ORT_DYLIB_PATH` environment variable.
    EnvVar,
    /// `.hypna/onnxruntime/` in a project root.
    ProjectLocal,
    /// An installed Python `onnxruntime` package.
    Python,
    /// A system library folder, or the dynamic loader's own search.
    System,
}

impl fmt::Display for LibSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Explicit => "--ort-lib",
            Self::EnvVar => ENV_VAR,
            Self::ProjectLocal => "project-local install",
            Self::Python => "Python onnxruntime package",
            Self::System => "system library path",
        })
    }
}

/// One place looked at, and what was there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tried {
    /// Which step of the search.
    pub source: LibSource,
    /// The file or folder looked at (a bare name for the dynamic loader's search).
    pub place: PathBuf,
    /// What happened: `found`, `no such file`, `no libonnxruntime.so* in it`, ...
    pub outcome: String,
}

impl Tried {
    fn new(source: LibSource, place: impl Into<PathBuf>, outcome: impl Into<String>) -> Self {
        Self {
            source,
            place: place.into(),
            outcome: outcome.into(),
        }
    }
}

impl fmt::Display for Tried {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {} ({})",
            self.source,
            self.place.display(),
            self.outcome
        )
    }
}

/// The library chosen by [`find_library`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// The library file.
    pub path: PathBuf,
    /// Which step found it.
    pub source: LibSource,
    /// Every place looked at, in order; the last one is the hit.
    pub tried: Vec<Tried>,
}

/// What the search needs from the outside world; [`SystemProbe`] is the real one.
pub trait Probe {
    /// An environment variable, if set and not empty.
    fn env_var(&self, name: &str) -> Option<OsString>;
    /// Whether `path` is an existing file (symlinks followed).
    fn is_file(&self, path: &Path) -> bool;
    /// Whether `path` is an existing folder.
    fn is_dir(&self, path: &Path) -> bool;
    /// The file names in folder `dir` (empty when it does not exist).
    fn file_names(&self, dir: &Path) -> Vec<String>;
    /// Folders that may hold `.hypna/onnxruntime/`, in order.
    fn project_roots(&self) -> Vec<PathBuf>;
    /// The installed Python `onnxruntime` package folder, or why there is none.
    /// Only asked when the earlier steps found nothing (it starts an interpreter).
    ///
    /// # Errors
    /// A one-line reason (`python3 not found`, `no onnxruntime package`, `timed out`).
    fn python_package_dir(&self) -> Result<PathBuf, String>;
    /// System library folders, in order.
    fn system_dirs(&self) -> Vec<PathBuf>;
}

/// Whether `name` is an ONNX Runtime library file name on this platform
/// (`libonnxruntime.so`, `libonnxruntime.so.1.31.1`; not `libonnxruntime_providers_shared.so`).
#[must_use]
pub fn is_library_name(name: &str) -> bool {
    if cfg!(target_os = "windows") {
        name.eq_ignore_ascii_case("onnxruntime.dll")
    } else if cfg!(target_os = "macos") {
        name.starts_with("libonnxruntime.")
            && Path::new(name)
                .extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("dylib"))
    } else {
        name == "libonnxruntime.so" || name.starts_with("libonnxruntime.so.")
    }
}

/// The version numbers in a library file name, for picking the newest of several.
fn version_key(name: &str) -> Vec<u64> {
    name.split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .filter_map(|s| s.parse().ok())
        .collect()
}

/// The best library file in `dir`: the most specific version (`.so.1.31.1` over `.so`).
fn library_in(dir: &Path, probe: &dyn Probe) -> Option<PathBuf> {
    probe
        .file_names(dir)
        .into_iter()
        .filter(|n| is_library_name(n))
        .max_by(|a, b| version_key(a).cmp(&version_key(b)).then_with(|| a.cmp(b)))
        .map(|n| dir.join(n))
        .filter(|p| probe.is_file(p))
}

/// An explicit file, or a folder holding the library.
fn check_given(
    source: LibSource,
    path: &Path,
    probe: &dyn Probe,
    tried: &mut Vec<Tried>,
) -> Option<PathBuf> {
    if probe.is_file(path) {
        tried.push(Tried::new(source, path, "found"));
        return Some(path.to_path_buf());
    }
    if probe.is_dir(path) {
        if let Some(lib) = library_in(path, probe) {
            tried.push(Tried::new(source, &lib, "found"));
            return Some(lib);
        }
        tried.push(Tried::new(
            source,
            path,
            format!("a folder without {LIB_FILE_NAME}*"),
        ));
        return None;
    }
    tried.push(Tried::new(source, path, "no such file"));
    None
}

/// Searches for the library in the documented order.
///
/// # Errors
/// [`InferError::LibraryNotFound`] with every place looked at: at once when an explicit path
/// or `ORT_DYLIB_PATH` is wrong, otherwise after all steps.
pub fn find_library(explicit: Option<&Path>, probe: &dyn Probe) -> Result<Found, InferError> {
    let mut tried = Vec::new();
    let found = |path: PathBuf, source: LibSource, tried: Vec<Tried>| Found {
        path,
        source,
        tried,
    };

    // An explicit choice is never second-guessed: a wrong one is an error, not a fallback.
    if let Some(path) = explicit {
        return match check_given(LibSource::Explicit, path, probe, &mut tried) {
            Some(lib) => Ok(found(lib, LibSource::Explicit, tried)),
            None => Err(InferError::LibraryNotFound { tried }),
        };
    }
    if let Some(value) = probe.env_var(ENV_VAR) {
        let path = PathBuf::from(value);
        return match check_given(LibSource::EnvVar, &path, probe, &mut tried) {
            Some(lib) => Ok(found(lib, LibSource::EnvVar, tried)),
            None => Err(InferError::LibraryNotFound { tried }),
        };
    }

    let mut seen = Vec::new();
    for root in probe.project_roots() {
        let dir = root.join(PROJECT_DIR);
        if seen.contains(&dir) {
            continue;
        }
        seen.push(dir.clone());
        if let Some(lib) = library_in(&dir, probe) {
            tried.push(Tried::new(LibSource::ProjectLocal, &lib, "found"));
            return Ok(found(lib, LibSource::ProjectLocal, tried));
        }
        let outcome = if probe.is_dir(&dir) {
            format!("no {LIB_FILE_NAME}* in it")
        } else {
            "not installed".to_string()
        };
        tried.push(Tried::new(LibSource::ProjectLocal, dir, outcome));
    }

    match probe.python_package_dir() {
        Ok(package) => {
            let capi = package.join("capi");
            if let Some(lib) = library_in(&capi, probe) {
                tried.push(Tried::new(LibSource::Python, &lib, "found"));
                return Ok(found(lib, LibSource::Python, tried));
            }
            tried.push(Tried::new(
                LibSource::Python,
                capi,
                format!("no {LIB_FILE_NAME}* in it"),
            ));
        }
        Err(reason) => tried.push(Tried::new(LibSource::Python, "python3", reason)),
    }

    let mut seen = Vec::new();
    for dir in probe.system_dirs() {
        if seen.contains(&dir) {
            continue;
        }
        seen.push(dir.clone());
        if let Some(lib) = library_in(&dir, probe) {
            tried.push(Tried::new(LibSource::System, &lib, "found"));
            return Ok(found(lib, LibSource::System, tried));
        }
        tried.push(Tried::new(
            LibSource::System,
            dir,
            format!("no {LIB_FILE_NAME}*"),
        ));
    }
    Err(InferError::LibraryNotFound { tried })
}

/// The real file system, environment and Python.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemProbe;

/// Asks Python where the package is without importing it (no numpy start-up, no side effects).
const PYTHON_CODE: &str = "import importlib.util as u\n\
s = u.find_spec('onnxruntime')\n\
print(s.submodule_search_locations[0] if s and s.submodule_search_locations else '')";

impl Probe for SystemProbe {
    fn env_var(&self, name: &str) -> Option<OsString> {
        std::env::var_os(name).filter(|v| !v.is_empty())
    }

    fn is_file(&self, path: &Path) -> bool {
        path.is_file()
    }

    fn is_dir(&self, path: &Path) -> bool {
        path.is_dir()
    }

    fn file_names(&self, dir: &Path) -> Vec<String> {
        std::fs::read_dir(dir)
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .filter_map(|e| e.file_name().into_string().ok())
                    .collect()
            })
            .unwrap_or_default()
    }

    fn project_roots(&self) -> Vec<PathBuf> {
        let mut roots = Vec::new();
        if let Ok(cwd) = std::env::current_dir() {
            roots.extend(cwd.ancestors().map(Path::to_path_buf));
        }
        if let Ok(exe) = std::env::current_exe() {
            roots.extend(exe.ancestors().skip(1).map(Path::to_path_buf));
        }
        // The source tree this build came from: `cargo run` and the tests from anywhere.
        roots.push(PathBuf::from(env!("CARGO_MANIFEST_DIR")));
        roots
    }

    fn python_package_dir(&self) -> Result<PathBuf, String> {
        let python = if cfg!(target_os = "windows") {
            "python"
        } else {
            "python3"
        };
        let mut child = Command::new(python)
            .args(["-c", PYTHON_CODE])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot run {python}: {e}"))?;
        let deadline = Instant::now() + PYTHON_TIMEOUT;
        loop {
            match child.try_wait() {
                Ok(Some(_)) => break,
                Ok(None) if Instant::now() >= deadline => {
                    // Killing a child that just ended fails harmlessly; the wait reaps it.
                    if let Err(e) = child.kill().and_then(|()| child.wait().map(drop)) {
                        tracing::debug!("{python}: {e}");
                    }
                    return Err(format!(
                        "{python} did not answer within {} s",
                        PYTHON_TIMEOUT.as_secs()
                    ));
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(10)),
                Err(e) => return Err(format!("{python}: {e}")),
            }
        }
        let mut out = String::new();
        if let Some(mut stdout) = child.stdout.take()
            && let Err(e) = stdout.read_to_string(&mut out)
        {
            return Err(format!("{python}: {e}"));
        }
        let dir = out.trim();
        if dir.is_empty() {
            Err("no onnxruntime package installed".to_string())
        } else {
            Ok(PathBuf::from(dir))
        }
    }

    fn system_dirs(&self) -> Vec<PathBuf> {
        let var = if cfg!(target_os = "windows") {
            "PATH"
        } else if cfg!(target_os = "macos") {
            "DYLD_LIBRARY_PATH"
        } else {
            "LD_LIBRARY_PATH"
        };
        let mut dirs: Vec<PathBuf> = std::env::var_os(var)
            .map(|v| std::env::split_paths(&v).collect())
            .unwrap_or_default();
        if cfg!(target_os = "macos") {
            dirs.extend(["/opt/homebrew/lib", "/usr/local/lib", "/usr/lib"].map(PathBuf::from));
        } else if cfg!(unix) {
            let multiarch = format!("/usr/lib/{}-linux-gnu", std::env::consts::ARCH);
            dirs.extend(
                [
                    "/usr/local/lib",
                    multiarch.as_str(),
                    "/usr/lib64",
                    "/usr/lib",
                    "/lib",
                ]
                .map(PathBuf::from),
            );
        }
        dirs.retain(|d| !d.as_os_str().is_empty());
        dirs
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn library_names() {
        if cfg!(any(target_os = "windows", target_os = "macos")) {
            return;
        }
        assert!(is_library_name("libonnxruntime.so"));
        assert!(is_library_name("libonnxruntime.so.1"));
        assert!(is_library_name("libonnxruntime.so.1.31.1"));
        assert!(!is_library_name("libonnxruntime_providers_shared.so"));
        assert!(!is_library_name("libonnxruntime.sox"));
    }

    #[test]
    fn newest_version_wins() {
        let mut names = [
            "libonnxruntime.so",
            "libonnxruntime.so.1.9.0",
            "libonnxruntime.so.1.31.1",
            "libonnxruntime.so.1",
        ];
        names.sort_by_key(|n| version_key(n));
        assert_eq!(names.last(), Some(&"libonnxruntime.so.1.31.1"));
    }
}
