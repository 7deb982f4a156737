//! The process-wide ONNX Runtime environment: loading the library once, listing execution
//! providers, and building sessions with the requested provider (or the CPU, with a warning).

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::{Arc, Mutex, PoisonError};

use ort::environment::Environment;
use ort::ep::{ExecutionProvider, ExecutionProviderDispatch};
use ort::logging::LogLevel;
use ort::session::Session;
use ort::session::builder::SessionBuilder;
use serde::{Deserialize, Serialize};

use super::InferError;
use super::discover::{self, Found, LibSource, Probe, SystemProbe, Tried};

/// How to start ONNX Runtime.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InitOptions {
    /// The library file, or a folder holding it (the CLI's `--ort-lib`). Default: search
    /// (see [`crate::infer::discover`]).
    pub ort_lib: Option<PathBuf>,
}

/// What [`init`] loaded; `hypna devices` prints it (three lines, no trailing newline).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrtInfo {
    /// The ONNX Runtime version, e.g. `1.31.1`.
    pub version: String,
    /// The library loaded (a bare name when the dynamic loader found it).
    pub library: PathBuf,
    /// How the library was found.
    pub source: LibSource,
    /// Every place looked at, in order.
    pub tried: Vec<Tried>,
    /// Execution providers compiled into this library, by ONNX Runtime name
    /// (`CPUExecutionProvider`, `CUDAExecutionProvider`, ...).
    pub providers: Vec<String>,
    /// ONNX Runtime's build description (branch, commit, flags).
    pub build_info: String,
}

impl OrtInfo {
    /// Whether `ep` is compiled into the loaded library (it may still fail to start, e.g. without
    /// a driver).
    #[must_use]
    pub fn has(&self, ep: Ep) -> bool {
        self.providers.iter().any(|p| p == ep.ort_name())
    }
}

impl fmt::Display for OrtInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "ONNX Runtime {}", self.version)?;
        writeln!(f, "  library: {} ({})", self.library.display(), self.source)?;
        let usable: Vec<&str> = Ep::ALL
            .iter()
            .filter(|ep| self.has(**ep))
            .map(|ep| ep.name())
            .collect();
        write!(
            f,
            "  execution providers: {} (usable by hypna: {})",
            self.providers.join(", "),
            usable.join(", ")
        )
    }
}

/// An execution provider a model can ask for (`ep = "cuda"` in a scene).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Ep {
    /// The CPU (always available; the fallback).
    #[default]
    Cpu,
    /// NVIDIA CUDA.
    Cuda,
    /// NVIDIA `TensorRT`.
    TensorRt,
    /// `DirectML` (Windows, any DirectX 12 GPU).
    DirectMl,
    /// Core ML (macOS).
    CoreMl,
    /// AMD `ROCm`.
    Rocm,
    /// Intel `OpenVINO`.
    OpenVino,
}

impl Ep {
    /// Every provider, in documentation order.
    pub const ALL: [Ep; 7] = [
        Ep::Cpu,
        Ep::Cuda,
        Ep::TensorRt,
        Ep::DirectMl,
        Ep::CoreMl,
        Ep::Rocm,
        Ep::OpenVino,
    ];

    /// The name used in scenes and on the command line (`cuda`).
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Ep::Cpu => "cpu",
            Ep::Cuda => "cuda",
            Ep::TensorRt => "tensorrt",
            Ep::DirectMl => "directml",
            Ep::CoreMl => "coreml",
            Ep::Rocm => "rocm",
            Ep::OpenVino => "openvino",
        }
    }

    /// ONNX Runtime's name for it (`CUDAExecutionProvider`).
    #[must_use]
    pub fn ort_name(self) -> &'static str {
        match self {
            Ep::Cpu => <ort::ep::CPU as ExecutionProvider>::NAME,
            Ep::Cuda => <ort::ep::CUDA as ExecutionProvider>::NAME,
            Ep::TensorRt => <ort::ep::TensorRT as ExecutionProvider>::NAME,
            Ep::DirectMl => <ort::ep::DirectML as ExecutionProvider>::NAME,
            Ep::CoreMl => <ort::ep::CoreML as ExecutionProvider>::NAME,
            Ep::Rocm => <ort::ep::ROCm as ExecutionProvider>::NAME,
            Ep::OpenVino => <ort::ep::OpenVINO as ExecutionProvider>::NAME,
        }
    }

    fn dispatch(self) -> ExecutionProviderDispatch {
        match self {
            Ep::Cpu => ort::ep::CPU::default().build(),
            Ep::Cuda => ort::ep::CUDA::default().build(),
            Ep::TensorRt => ort::ep::TensorRT::default().build(),
            Ep::DirectMl => ort::ep::DirectML::default().build(),
            Ep::CoreMl => ort::ep::CoreML::default().build(),
            Ep::Rocm => ort::ep::ROCm::default().build(),
            Ep::OpenVino => ort::ep::OpenVINO::default().build(),
        }
    }
}

impl fmt::Display for Ep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Ep {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let wanted = s.trim();
        Ep::ALL
            .into_iter()
            .find(|ep| ep.name().eq_ignore_ascii_case(wanted))
            .ok_or_else(|| {
                let names: Vec<&str> = Ep::ALL.iter().map(|ep| ep.name()).collect();
                format!(
                    "unknown execution provider `{wanted}` (one of: {})",
                    names.join(", ")
                )
            })
    }
}

/// The provider a session got, and why it differs from the one asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EpChoice {
    /// What was asked for.
    pub requested: Ep,
    /// What the session runs on.
    pub used: Ep,
    /// Set when `used != requested`: one line for the caller to show once.
    pub warning: Option<String>,
}

/// How to build a session. Scenes can set these per model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SessionOptions {
    /// The execution provider to ask for; unavailable ones fall back to `cpu` with a warning.
    /// Default: `cpu`.
    pub ep: Ep,
    /// Threads inside one operator (a convolution split across cores). 0 lets ONNX Runtime
    /// choose (one per physical core). Default: 0.
    pub intra_threads: usize,
    /// Threads running independent branches of the graph at once. 0 lets ONNX Runtime choose.
    /// Default: 0.
    pub inter_threads: usize,
    /// Let ONNX Runtime's idle threads busy-wait for the next run. Faster back-to-back runs, but
    /// it burns the cores the frame loop and audio need. Default: false.
    pub spin: bool,
}

impl Default for SessionOptions {
    fn default() -> Self {
        Self {
            ep: Ep::Cpu,
            intra_threads: 0,
            inter_threads: 0,
            spin: false,
        }
    }
}

struct Global {
    env: Environment,
    info: OrtInfo,
}

// The loaded library and its environment live for the whole process: ort allows one
// environment per process, and sessions keep it alive anyway.
static GLOBAL: Mutex<Option<Global>> = Mutex::new(None);

/// Loads ONNX Runtime and creates the process-wide environment. Idempotent and thread-safe:
/// later calls return the first result (a different `ort_lib` is then ignored with a warning,
/// since a process can load the library only once). A failure is not remembered, so a retry
/// after installing works.
///
/// # Errors
/// [`InferError::LibraryNotFound`] (with every place looked at and how to install),
/// [`InferError::LibraryLoad`], [`InferError::Environment`].
pub fn init(opts: &InitOptions) -> Result<OrtInfo, InferError> {
    let mut global = GLOBAL.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(g) = global.as_ref() {
        if let Some(wanted) = &opts.ort_lib
            && !same_library(wanted, &g.info.library)
        {
            tracing::warn!(
                "ONNX Runtime is already loaded from {}; ignoring {}",
                g.info.library.display(),
                wanted.display()
            );
        }
        return Ok(g.info.clone());
    }
    let g = start(opts, &SystemProbe)?;
    let info = g.info.clone();
    *global = Some(g);
    Ok(info)
}

/// The environment, starting ONNX Runtime with default discovery if [`init`] was not called.
pub(crate) fn environment() -> Result<(Environment, OrtInfo), InferError> {
    let mut global = GLOBAL.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(g) = global.as_ref() {
        return Ok((g.env.clone(), g.info.clone()));
    }
    let g = start(&InitOptions::default(), &SystemProbe)?;
    let out = (g.env.clone(), g.info.clone());
    *global = Some(g);
    Ok(out)
}

fn same_library(a: &Path, b: &Path) -> bool {
    a == b
        || b.parent() == Some(a)
        || matches!((a.canonicalize(), b.canonicalize()), (Ok(x), Ok(y)) if x == y)
}

fn start(opts: &InitOptions, probe: &dyn Probe) -> Result<Global, InferError> {
    let found = match discover::find_library(opts.ort_lib.as_deref(), probe) {
        Ok(found) => found,
        Err(InferError::LibraryNotFound { tried })
            if opts.ort_lib.is_none() && probe.env_var(discover::ENV_VAR).is_none() =>
        {
            load_by_bare_name(tried)?
        }
        Err(e) => return Err(e),
    };
    // A relative path would be resolved by ort against the executable's folder first; make
    // it absolute so the file loaded is the file found. Bare names stay for the loader.
    let mut found = found;
    if found
        .path
        .parent()
        .is_some_and(|p| !p.as_os_str().is_empty())
        && let Ok(abs) = std::path::absolute(&found.path)
    {
        found.path = abs;
    }
    // ort would panic on first use if it had to load the library itself; it never has to,
    // because this is the only way in and it only gets here with a file that exists.
    let builder = ort::init_from(&found.path).map_err(|e| InferError::LibraryLoad {
        path: found.path.clone(),
        source_kind: found.source,
        message: e.to_string(),
        tried: found.tried.clone(),
    })?;
    // ONNX Runtime narrates every session load at info level (dozens of lines per model);
    // an installation log wants its warnings only. HYPNA_ORT_LOG=info or verbose to debug.
    let level = ort_log_level(std::env::var(ORT_LOG_VAR).ok().as_deref());
    let env = builder
        .with_name("hypna")
        .with_telemetry(false)
        .with_logger(Arc::new(
            move |severity, _category, _id, location, message| {
                if severity >= level {
                    log_ort(severity, location, message);
                }
            },
        ))
        .build()
        .map_err(|e| InferError::Environment(e.to_string()))?;
    // The logger filters what is emitted while the environment starts; this stops ONNX
    // Runtime from even formatting the rest.
    env.set_log_level(level);
    let build_info = ort::info().to_string();
    let version = version_of(&build_info, &found.path);
    let providers = available_providers();
    tracing::info!(
        "ONNX Runtime {version} from {} ({}); providers: {}",
        found.path.display(),
        found.source,
        providers.join(", ")
    );
    Ok(Global {
        env,
        info: OrtInfo {
            version,
            library: found.path,
            source: found.source,
            tried: found.tried,
            providers,
            build_info,
        },
    })
}

/// The environment variable that sets ONNX Runtime's own log level.
pub const ORT_LOG_VAR: &str = "HYPNA_ORT_LOG";

/// `verbose`, `info`, `warning` (the default), `error` or `fatal`.
fn ort_log_level(value: Option<&str>) -> LogLevel {
    match value.map(|v| v.trim().to_ascii_lowercase()).as_deref() {
        Some("verbose" | "trace") => LogLevel::Verbose,
        Some("info" | "debug") => LogLevel::Info,
        Some("error") => LogLevel::Error,
        Some("fatal") => LogLevel::Fatal,
        _ => LogLevel::Warning,
    }
}

/// Forwards one ONNX Runtime message to `tracing` (target `ort`).
fn log_ort(severity: LogLevel, location: &str, message: &str) {
    match severity {
        LogLevel::Verbose => tracing::trace!(target: "ort", "{message} ({location})"),
        LogLevel::Info => tracing::info!(target: "ort", "{message}"),
        LogLevel::Warning => tracing::warn!(target: "ort", "{message}"),
        LogLevel::Error | LogLevel::Fatal => tracing::error!(target: "ort", "{message}"),
    }
}

/// The last resort: let the dynamic loader search its own paths (and cache) for the bare names.
fn load_by_bare_name(mut tried: Vec<Tried>) -> Result<Found, InferError> {
    for name in discover::SYSTEM_NAMES {
        // A failed load leaves ort without a library, so the next name (or a later init) can try.
        match ort::init_from(name) {
            Ok(_) => {
                tried.push(Tried {
                    source: LibSource::System,
                    place: PathBuf::from(name),
                    outcome: "found by the dynamic loader".to_string(),
                });
                return Ok(Found {
                    path: PathBuf::from(name),
                    source: LibSource::System,
                    tried,
                });
            }
            Err(e) => tried.push(Tried {
                source: LibSource::System,
                place: PathBuf::from(name),
                outcome: format!(
                    "not found by the dynamic loader ({})",
                    last_line(&e.to_string())
                ),
            }),
        }
    }
    Err(InferError::LibraryNotFound { tried })
}

fn last_line(s: &str) -> &str {
    s.rsplit(": ").next().unwrap_or(s)
}

/// The version from the build info (`git-branch=rel-1.31.1`), else from the file name
/// (`libonnxruntime.so.1.31.1`, symlinks resolved), else `1.x` (ort checked it is recent enough).
fn version_of(build_info: &str, library: &Path) -> String {
    let from_branch = build_info
        .split([',', ' '])
        .find_map(|part| part.trim().strip_prefix("git-branch=rel-"))
        .map(str::to_string);
    let from_file = || {
        let real = library
            .canonicalize()
            .unwrap_or_else(|_| library.to_path_buf());
        let name = real.file_name()?.to_str()?.to_string();
        let digits: Vec<&str> = name
            .split(|c: char| !c.is_ascii_digit())
            .filter(|s| !s.is_empty())
            .collect();
        (digits.len() >= 2).then(|| digits.join("."))
    };
    from_branch
        .or_else(from_file)
        .unwrap_or_else(|| format!("1.{}+", ort::MINOR_VERSION))
}

/// Declares a probe type per known provider name; `is_available` asks ONNX Runtime's
/// `GetAvailableProviders`, which ort exposes only through the `ExecutionProvider` trait.
macro_rules! provider_probes {
    ($($ty:ident = $name:literal),* $(,)?) => {
        $(
            struct $ty;
            impl ExecutionProvider for $ty {
                const NAME: &'static str = $name;
                fn register(&self, _: &mut SessionBuilder) -> ort::Result<()> {
                    Err(ort::Error::new("hypna only probes for this provider"))
                }
            }
        )*
        /// Providers compiled into the loaded library, by ONNX Runtime name.
        fn available_providers() -> Vec<String> {
            let mut out = Vec::new();
            $(
                if matches!($ty::is_available(), Ok(true)) {
                    out.push($name.to_string());
                }
            )*
            out
        }
    };
}

provider_probes! {
    ProbeCpu = "CPUExecutionProvider",
    ProbeCuda = "CUDAExecutionProvider",
    ProbeTensorRt = "TensorrtExecutionProvider",
    ProbeNvRtx = "NvTensorRTRTXExecutionProvider",
    ProbeDirectMl = "DmlExecutionProvider",
    ProbeCoreMl = "CoreMLExecutionProvider",
    ProbeRocm = "ROCMExecutionProvider",
    ProbeMiGraphX = "MIGraphXExecutionProvider",
    ProbeOpenVino = "OpenVINOExecutionProvider",
    ProbeDnnl = "DnnlExecutionProvider",
    ProbeWebGpu = "WebGpuExecutionProvider",
    ProbeXnnpack = "XnnpackExecutionProvider",
    ProbeQnn = "QNNExecutionProvider",
    ProbeVitis = "VitisAIExecutionProvider",
    ProbeAcl = "ACLExecutionProvider",
    ProbeArmNn = "ArmNNExecutionProvider",
    ProbeCann = "CANNExecutionProvider",
    ProbeNnapi = "NnapiExecutionProvider",
    ProbeRknpu = "RknpuExecutionProvider",
    ProbeAzure = "AzureExecutionProvider",
}

/// A session builder with threads and spinning set, on the CPU.
fn base_builder(env: &Environment, opts: &SessionOptions) -> Result<SessionBuilder, String> {
    let mut builder = Session::builder(env).map_err(|e| e.to_string())?;
    if opts.intra_threads > 0 {
        builder = builder
            .with_intra_threads(opts.intra_threads)
            .map_err(|e| e.to_string())?;
    }
    if opts.inter_threads > 0 {
        builder = builder
            .with_inter_threads(opts.inter_threads)
            .map_err(|e| e.to_string())?;
    }
    let spin = if opts.spin { "1" } else { "0" };
    builder = builder
        .with_config_entry("session.intra_op.allow_spinning", spin)
        .map_err(|e| e.to_string())?
        .with_config_entry("session.inter_op.allow_spinning", spin)
        .map_err(|e| e.to_string())?;
    Ok(builder)
}

/// Adds the requested provider, or says why the session stays on the CPU.
fn with_provider(builder: SessionBuilder, ep: Ep, info: &OrtInfo) -> (SessionBuilder, EpChoice) {
    let cpu = |builder, warning: String| {
        (
            builder,
            EpChoice {
                requested: ep,
                used: Ep::Cpu,
                warning: Some(warning),
            },
        )
    };
    if ep == Ep::Cpu {
        let choice = EpChoice {
            requested: ep,
            used: ep,
            warning: None,
        };
        return (builder, choice);
    }
    if !info.has(ep) {
        return cpu(
            builder,
            format!(
                "execution provider {ep} ({}) is not in this ONNX Runtime build (it has: {}); running on cpu",
                ep.ort_name(),
                info.providers.join(", ")
            ),
        );
    }
    match builder.with_execution_providers([ep.dispatch().error_on_failure()]) {
        Ok(builder) => {
            let choice = EpChoice {
                requested: ep,
                used: ep,
                warning: None,
            };
            (builder, choice)
        }
        Err(e) => {
            let message = format!("execution provider {ep} failed to start ({e}); running on cpu");
            cpu(e.recover(), message)
        }
    }
}

/// Builds a session for `path` with `opts`, falling back to the CPU when the requested provider
/// is missing, fails to start, or fails to take the model.
pub(crate) fn build_session(
    path: &Path,
    opts: &SessionOptions,
) -> Result<(Session, EpChoice), InferError> {
    let load_err = |message: String| InferError::Load {
        path: path.to_path_buf(),
        message,
    };
    // A clear message before ORT's "File at ... does not exist".
    if !path.is_file() {
        return Err(load_err("no such file".to_string()));
    }
    let (env, info) = environment()?;
    let builder = base_builder(&env, opts).map_err(load_err)?;
    let (mut builder, choice) = with_provider(builder, opts.ep, &info);
    match builder.commit_from_file(path) {
        Ok(session) => Ok((session, choice)),
        Err(e) if choice.used != Ep::Cpu => {
            let warning = format!(
                "execution provider {} could not load the model ({e}); running on cpu",
                choice.used
            );
            let mut builder = base_builder(&env, opts).map_err(load_err)?;
            let session = builder
                .commit_from_file(path)
                .map_err(|e| load_err(e.to_string()))?;
            Ok((
                session,
                EpChoice {
                    requested: opts.ep,
                    used: Ep::Cpu,
                    warning: Some(warning),
                },
            ))
        }
        Err(e) => Err(load_err(e.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_provider_a_scene_may_name_is_one_of_ours() {
        let names: Vec<&str> = Ep::ALL.iter().map(|ep| ep.name()).collect();
        assert_eq!(names, crate::scene::PROVIDER_NAMES);
    }

    #[test]
    fn ep_parses_case_insensitively_and_lists_names_on_error() {
        assert_eq!("cuda".parse::<Ep>(), Ok(Ep::Cuda));
        assert_eq!("TensorRT".parse::<Ep>(), Ok(Ep::TensorRt));
        assert_eq!(" openvino ".parse::<Ep>(), Ok(Ep::OpenVino));
        let err = "vulkan".parse::<Ep>().unwrap_err();
        assert!(err.contains("vulkan") && err.contains("directml"), "{err}");
        for ep in Ep::ALL {
            assert_eq!(ep.name().parse::<Ep>(), Ok(ep));
        }
    }

    #[test]
    fn ep_serde_uses_the_cli_names() {
        #[derive(Deserialize)]
        struct Doc {
            ep: Ep,
        }
        for ep in Ep::ALL {
            let doc: Doc = toml::from_str(&format!("ep = \"{}\"", ep.name())).unwrap();
            assert_eq!(doc.ep, ep);
        }
        let opts: SessionOptions = toml::from_str("ep = \"coreml\"\nintra_threads = 2").unwrap();
        assert_eq!(opts.ep, Ep::CoreMl);
        assert_eq!(opts.intra_threads, 2);
        assert!(toml::from_str::<SessionOptions>("threads = 2").is_err());
    }

    #[test]
    fn ort_log_level_defaults_to_warnings() {
        assert_eq!(ort_log_level(None), LogLevel::Warning);
        assert_eq!(ort_log_level(Some("bogus")), LogLevel::Warning);
        assert_eq!(ort_log_level(Some(" Verbose")), LogLevel::Verbose);
        assert_eq!(ort_log_level(Some("info")), LogLevel::Info);
        assert_eq!(ort_log_level(Some("error")), LogLevel::Error);
    }

    #[test]
    fn version_from_build_info_or_file_name() {
        assert_eq!(
            version_of(
                "ORT Build Info: git-branch=rel-1.31.1, git-commit-id=abc, build type=Release",
                Path::new("x")
            ),
            "1.31.1"
        );
        assert_eq!(
            version_of("", Path::new("/nowhere/libonnxruntime.so.1.31.1")),
            "1.31.1"
        );
    }
}
