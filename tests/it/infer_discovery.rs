//! Library discovery as a pure function over a fake file system: the search order, the
//! authority of explicit paths, and what a not-found error says. No ONNX Runtime needed.

use std::cell::Cell;
use std::collections::{HashMap, HashSet};
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use hypna::infer::InferError;
use hypna::infer::discover::{
    ENV_VAR, Found, LIB_FILE_NAME, LibSource, PROJECT_DIR, Probe, find_library,
};

#[derive(Default)]
struct FakeFs {
    files: HashSet<PathBuf>,
    env: HashMap<String, OsString>,
    roots: Vec<PathBuf>,
    python: Option<PathBuf>,
    system: Vec<PathBuf>,
    python_calls: Cell<usize>,
}

impl FakeFs {
    fn file(mut self, path: impl Into<PathBuf>) -> Self {
        self.files.insert(path.into());
        self
    }
    fn env(mut self, key: &str, value: impl Into<OsString>) -> Self {
        self.env.insert(key.to_string(), value.into());
        self
    }
    fn root(mut self, path: impl Into<PathBuf>) -> Self {
        self.roots.push(path.into());
        self
    }
    fn python(mut self, package: impl Into<PathBuf>) -> Self {
        self.python = Some(package.into());
        self
    }
    fn system(mut self, dir: impl Into<PathBuf>) -> Self {
        self.system.push(dir.into());
        self
    }
}

impl Probe for FakeFs {
    fn env_var(&self, name: &str) -> Option<OsString> {
        self.env.get(name).cloned()
    }
    fn is_file(&self, path: &Path) -> bool {
        self.files.contains(path)
    }
    fn is_dir(&self, path: &Path) -> bool {
        self.files.iter().any(|f| f.starts_with(path) && f != path)
    }
    fn file_names(&self, dir: &Path) -> Vec<String> {
        self.files
            .iter()
            .filter(|f| f.parent() == Some(dir))
            .filter_map(|f| f.file_name()?.to_str().map(str::to_string))
            .collect()
    }
    fn project_roots(&self) -> Vec<PathBuf> {
        self.roots.clone()
    }
    fn python_package_dir(&self) -> Result<PathBuf, String> {
        self.python_calls.set(self.python_calls.get() + 1);
        self.python
            .clone()
            .ok_or_else(|| "no onnxruntime package installed".to_string())
    }
    fn system_dirs(&self) -> Vec<PathBuf> {
        self.system.clone()
    }
}

fn project_lib(root: &str) -> PathBuf {
    Path::new(root).join(PROJECT_DIR).join(LIB_FILE_NAME)
}

fn python_lib(package: &str) -> PathBuf {
    Path::new(package).join("capi").join(LIB_FILE_NAME)
}

/// Every source installed: the fixture the order tests peel layers off.
fn everything() -> FakeFs {
    FakeFs::default()
        .file("/opt/explicit/libort.so")
        .file("/env/libort.so")
        .file(project_lib("/proj"))
        .file(python_lib("/py/onnxruntime"))
        .file(Path::new("/usr/lib").join(LIB_FILE_NAME))
        .root("/proj/scenes")
        .root("/proj")
        .python("/py/onnxruntime")
        .system("/usr/lib")
}

fn found(result: Result<Found, InferError>) -> Found {
    match result {
        Ok(found) => found,
        Err(e) => panic!("expected a library, got: {e}"),
    }
}

#[test]
fn explicit_path_wins_over_everything() {
    let fs = everything().env(ENV_VAR, "/env/libort.so");
    let f = found(find_library(
        Some(Path::new("/opt/explicit/libort.so")),
        &fs,
    ));
    assert_eq!(f.path, Path::new("/opt/explicit/libort.so"));
    assert_eq!(f.source, LibSource::Explicit);
    assert_eq!(f.tried.len(), 1);
    assert_eq!(fs.python_calls.get(), 0, "python must not be asked");
}

#[test]
fn ort_dylib_path_is_honoured_before_the_project_install() {
    let fs = everything().env(ENV_VAR, "/env/libort.so");
    let f = found(find_library(None, &fs));
    assert_eq!(f.path, Path::new("/env/libort.so"));
    assert_eq!(f.source, LibSource::EnvVar);
}

#[test]
fn an_explicit_folder_is_searched_for_the_library() {
    let fs = everything();
    let dir = Path::new("/proj").join(PROJECT_DIR);
    let f = found(find_library(Some(&dir), &fs));
    assert_eq!(f.path, project_lib("/proj"));
    assert_eq!(f.source, LibSource::Explicit);
}

#[test]
fn a_bogus_explicit_path_is_an_error_listing_what_was_tried() {
    let fs = everything();
    let err = find_library(Some(Path::new("/nope/libonnxruntime.so")), &fs).unwrap_err();
    let InferError::LibraryNotFound { tried } = &err else {
        panic!("wrong error: {err}");
    };
    assert_eq!(tried.len(), 1, "an explicit path is never second-guessed");
    assert_eq!(tried[0].source, LibSource::Explicit);
    assert_eq!(tried[0].place, Path::new("/nope/libonnxruntime.so"));
    let msg = err.to_string();
    assert!(
        msg.contains("--ort-lib: /nope/libonnxruntime.so (no such file)"),
        "{msg}"
    );
    for hint in [
        "make run",
        "scripts/install-ort.sh",
        "pip install onnxruntime==1.31.1",
        "--ort-lib",
    ] {
        assert!(msg.contains(hint), "missing hint `{hint}` in:\n{msg}");
    }
    assert_eq!(fs.python_calls.get(), 0);
}

#[test]
fn a_bogus_ort_dylib_path_is_an_error_too() {
    let fs = everything().env(ENV_VAR, "/gone/libonnxruntime.so");
    let err = find_library(None, &fs).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("ORT_DYLIB_PATH: /gone/libonnxruntime.so (no such file)"),
        "{msg}"
    );
}

#[test]
fn project_install_comes_before_python_and_python_is_not_asked() {
    let fs = everything();
    let f = found(find_library(None, &fs));
    assert_eq!(f.path, project_lib("/proj"));
    assert_eq!(f.source, LibSource::ProjectLocal);
    // /proj/scenes/.hypna/onnxruntime was looked at first (run from a subfolder).
    assert_eq!(f.tried.len(), 2, "{:?}", f.tried);
    assert_eq!(
        f.tried[0].place,
        Path::new("/proj/scenes").join(PROJECT_DIR)
    );
    assert_eq!(
        fs.python_calls.get(),
        0,
        "python is slow; only asked when needed"
    );
}

#[test]
fn python_package_comes_before_the_system_path() {
    let mut fs = everything();
    fs.files.remove(&project_lib("/proj"));
    let f = found(find_library(None, &fs));
    assert_eq!(f.path, python_lib("/py/onnxruntime"));
    assert_eq!(f.source, LibSource::Python);
    assert_eq!(fs.python_calls.get(), 1);
}

#[test]
fn system_folders_are_last() {
    let mut fs = everything();
    fs.files.remove(&project_lib("/proj"));
    fs.python = None;
    let f = found(find_library(None, &fs));
    assert_eq!(f.path, Path::new("/usr/lib").join(LIB_FILE_NAME));
    assert_eq!(f.source, LibSource::System);
    let sources: Vec<LibSource> = f.tried.iter().map(|t| t.source).collect();
    assert_eq!(
        sources,
        [
            LibSource::ProjectLocal,
            LibSource::ProjectLocal,
            LibSource::Python,
            LibSource::System
        ]
    );
}

#[test]
fn nothing_anywhere_lists_every_place_and_how_to_install() {
    let fs = FakeFs::default()
        .root("/proj")
        .system("/usr/lib")
        .system("/usr/local/lib");
    let err = find_library(None, &fs).unwrap_err();
    let InferError::LibraryNotFound { tried } = &err else {
        panic!("wrong error: {err}");
    };
    assert_eq!(tried.len(), 4, "{tried:?}");
    let msg = err.to_string();
    assert!(
        msg.contains(&Path::new("/proj").join(PROJECT_DIR).display().to_string()),
        "{msg}"
    );
    assert!(msg.contains("Python onnxruntime package"), "{msg}");
    assert!(msg.contains("no onnxruntime package installed"), "{msg}");
    assert!(msg.contains("/usr/local/lib"), "{msg}");
    assert!(msg.contains("scripts/install-ort.sh"), "{msg}");
}

#[cfg(target_os = "linux")]
#[test]
fn the_most_specific_version_is_chosen_and_provider_libraries_are_ignored() {
    let dir = Path::new("/proj").join(PROJECT_DIR);
    let fs = FakeFs::default()
        .file(dir.join("libonnxruntime_providers_shared.so"))
        .file(dir.join("libonnxruntime.so"))
        .file(dir.join("libonnxruntime.so.1.9.0"))
        .file(dir.join("libonnxruntime.so.1.31.1"))
        .root("/proj");
    let f = found(find_library(None, &fs));
    assert_eq!(f.path, dir.join("libonnxruntime.so.1.31.1"));
}
