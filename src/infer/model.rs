//! One ONNX model in a session: what it takes and gives ([`ModelInfo`]) and running it on
//! float32 tensors.
//!
//! Copies: inputs are handed to ONNX Runtime as borrowed views of the caller's slices (no copy;
//! CPU memory is used in place). Each output is copied once out of ONNX Runtime's buffer into a
//! [`Tensor`], because that buffer is freed when the run's outputs are dropped.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ort::session::{RunOptions, Session};
use ort::value::{TensorElementType, ValueType};

use super::env::{self, EpChoice, SessionOptions};
use super::{InferError, fmt_shape};

/// An owned float32 tensor, row-major (C order).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Tensor {
    /// The dimensions, e.g. `[1, 3, 216, 384]` for an NCHW image.
    pub shape: Vec<usize>,
    /// `shape.iter().product()` values.
    pub data: Vec<f32>,
}

impl Tensor {
    /// A tensor from its parts (the length is checked when it is run).
    #[must_use]
    pub fn new(shape: Vec<usize>, data: Vec<f32>) -> Self {
        Self { shape, data }
    }

    /// A tensor of `value` everywhere.
    #[must_use]
    pub fn filled(shape: &[usize], value: f32) -> Self {
        Self {
            shape: shape.to_vec(),
            data: vec![value; shape.iter().product()],
        }
    }

    /// A borrowed view for [`Model::run`].
    #[must_use]
    pub fn view(&self) -> TensorRef<'_> {
        TensorRef {
            shape: &self.shape,
            data: &self.data,
        }
    }
}

/// A borrowed float32 tensor: what [`Model::run`] takes, so callers keep their buffers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TensorRef<'a> {
    /// The dimensions.
    pub shape: &'a [usize],
    /// `shape.iter().product()` values, row-major.
    pub data: &'a [f32],
}

impl<'a> TensorRef<'a> {
    /// A view of `data` with `shape`.
    #[must_use]
    pub fn new(shape: &'a [usize], data: &'a [f32]) -> Self {
        Self { shape, data }
    }
}

/// One dimension of a declared input or output shape.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Dim {
    /// A fixed size.
    Fixed(usize),
    /// A named free size (`height`): every use of the name in a run must agree.
    Symbolic(String),
    /// An unnamed free size.
    Dynamic,
}

impl Dim {
    /// Whether a concrete size fits this dimension.
    #[must_use]
    pub fn accepts(&self, n: usize) -> bool {
        match self {
            Dim::Fixed(m) => *m == n,
            Dim::Symbolic(_) | Dim::Dynamic => true,
        }
    }
}

impl fmt::Display for Dim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Dim::Fixed(n) => write!(f, "{n}"),
            Dim::Symbolic(name) => f.write_str(name),
            Dim::Dynamic => f.write_str("?"),
        }
    }
}

/// A tensor element type, named as ONNX does (`float32`, `int64`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ElemType {
    /// 32-bit float.
    Float32,
    /// 16-bit float.
    Float16,
    /// bfloat16.
    BFloat16,
    /// 64-bit float.
    Float64,
    /// Signed 8-bit integer.
    Int8,
    /// Signed 16-bit integer.
    Int16,
    /// Signed 32-bit integer.
    Int32,
    /// Signed 64-bit integer.
    Int64,
    /// Unsigned 8-bit integer.
    Uint8,
    /// Unsigned 16-bit integer.
    Uint16,
    /// Unsigned 32-bit integer.
    Uint32,
    /// Unsigned 64-bit integer.
    Uint64,
    /// Boolean.
    Bool,
    /// String.
    String,
    /// Another tensor element type (8-bit floats, 4-bit integers, complex), by ort's name.
    Other(String),
    /// Not a tensor: a sequence, map or optional, described.
    NonTensor(String),
}

impl ElemType {
    fn from_ort(ty: TensorElementType) -> Self {
        match ty {
            TensorElementType::Float32 => Self::Float32,
            TensorElementType::Float16 => Self::Float16,
            TensorElementType::Bfloat16 => Self::BFloat16,
            TensorElementType::Float64 => Self::Float64,
            TensorElementType::Int8 => Self::Int8,
            TensorElementType::Int16 => Self::Int16,
            TensorElementType::Int32 => Self::Int32,
            TensorElementType::Int64 => Self::Int64,
            TensorElementType::Uint8 => Self::Uint8,
            TensorElementType::Uint16 => Self::Uint16,
            TensorElementType::Uint32 => Self::Uint32,
            TensorElementType::Uint64 => Self::Uint64,
            TensorElementType::Bool => Self::Bool,
            TensorElementType::String => Self::String,
            other => Self::Other(other.to_string()),
        }
    }
}

impl fmt::Display for ElemType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Float32 => "float32",
            Self::Float16 => "float16",
            Self::BFloat16 => "bfloat16",
            Self::Float64 => "float64",
            Self::Int8 => "int8",
            Self::Int16 => "int16",
            Self::Int32 => "int32",
            Self::Int64 => "int64",
            Self::Uint8 => "uint8",
            Self::Uint16 => "uint16",
            Self::Uint32 => "uint32",
            Self::Uint64 => "uint64",
            Self::Bool => "bool",
            Self::String => "string",
            Self::Other(name) | Self::NonTensor(name) => name,
        })
    }
}

/// One input or output of a model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IoInfo {
    /// Its name in the graph.
    pub name: String,
    /// Its element type.
    pub elem: ElemType,
    /// Its declared shape (empty for scalars and non-tensors).
    pub shape: Vec<Dim>,
}

impl IoInfo {
    fn from_ort(name: &str, dtype: &ValueType) -> Self {
        match dtype {
            ValueType::Tensor {
                ty,
                shape,
                dimension_symbols,
            } => Self {
                name: name.to_string(),
                elem: ElemType::from_ort(*ty),
                shape: shape
                    .iter()
                    .enumerate()
                    .map(|(i, &d)| match usize::try_from(d) {
                        Ok(n) => Dim::Fixed(n),
                        Err(_) => match dimension_symbols.get(i) {
                            Some(sym) if !sym.is_empty() => Dim::Symbolic(sym.clone()),
                            _ => Dim::Dynamic,
                        },
                    })
                    .collect(),
            },
            other => Self {
                name: name.to_string(),
                elem: ElemType::NonTensor(other.to_string()),
                shape: Vec::new(),
            },
        }
    }

    /// Whether a concrete shape fits the declared one (rank and every fixed size).
    #[must_use]
    pub fn accepts(&self, shape: &[usize]) -> bool {
        self.shape.len() == shape.len() && self.shape.iter().zip(shape).all(|(d, &n)| d.accepts(n))
    }

    /// The declared shape, e.g. `[1, 3, height, width]`.
    #[must_use]
    pub fn shape_string(&self) -> String {
        let dims: Vec<String> = self.shape.iter().map(ToString::to_string).collect();
        format!("[{}]", dims.join(", "))
    }
}

impl fmt::Display for IoInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if matches!(self.elem, ElemType::NonTensor(_)) {
            write!(f, "{}: {}", self.name, self.elem)
        } else {
            write!(f, "{}: {} {}", self.name, self.elem, self.shape_string())
        }
    }
}

/// What a model takes and gives, and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelInfo {
    /// Inputs, in graph order.
    pub inputs: Vec<IoInfo>,
    /// Outputs, in graph order.
    pub outputs: Vec<IoInfo>,
    /// The tool that wrote the file (`pytorch`, `onnx.helper`), when recorded.
    pub producer: Option<String>,
    /// The graph's name, when recorded.
    pub graph_name: Option<String>,
    /// The model's description, when recorded.
    pub description: Option<String>,
    /// The default-domain (`ai.onnx`) opset, when ONNX Runtime can tell.
    pub opset: Option<u32>,
}

impl ModelInfo {
    /// The input called `name`.
    #[must_use]
    pub fn input(&self, name: &str) -> Option<&IoInfo> {
        self.inputs.iter().find(|i| i.name == name)
    }

    /// The output called `name`.
    #[must_use]
    pub fn output(&self, name: &str) -> Option<&IoInfo> {
        self.outputs.iter().find(|o| o.name == name)
    }

    fn from_session(session: &Session) -> Self {
        let (producer, graph_name, description) = match session.metadata() {
            Ok(meta) => (
                meta.producer().filter(|s| !s.is_empty()),
                meta.name().filter(|s| !s.is_empty()),
                meta.description().filter(|s| !s.is_empty()),
            ),
            Err(_) => (None, None, None),
        };
        Self {
            inputs: session
                .inputs()
                .iter()
                .map(|o| IoInfo::from_ort(o.name(), o.dtype()))
                .collect(),
            outputs: session
                .outputs()
                .iter()
                .map(|o| IoInfo::from_ort(o.name(), o.dtype()))
                .collect(),
            producer,
            graph_name,
            description,
            opset: session.opset_for_domain(ort::editor::ONNX_DOMAIN),
        }
    }
}

impl fmt::Display for ModelInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(p) = &self.producer {
            writeln!(f, "producer: {p}")?;
        }
        if let Some(g) = &self.graph_name {
            writeln!(f, "graph: {g}")?;
        }
        if let Some(d) = &self.description {
            writeln!(f, "description: {d}")?;
        }
        if let Some(o) = self.opset {
            writeln!(f, "opset: {o}")?;
        }
        writeln!(f, "inputs:")?;
        for i in &self.inputs {
            writeln!(f, "  {i}")?;
        }
        writeln!(f, "outputs:")?;
        for o in &self.outputs {
            writeln!(f, "  {o}")?;
        }
        Ok(())
    }
}

/// A loaded model, ready to run.
pub struct Model {
    name: String,
    path: PathBuf,
    session: Session,
    info: ModelInfo,
    ep: EpChoice,
    opts: SessionOptions,
    /// Shared with [`RunStopper`]s: setting its terminate flag ends the run in progress.
    run_options: Arc<RunOptions>,
}

/// Stops a [`Model`]'s run in progress from another thread, through ONNX Runtime's run
/// termination flag (checked between graph nodes, so one huge node still runs to its end).
#[derive(Clone)]
pub struct RunStopper(Arc<RunOptions>);

impl fmt::Debug for RunStopper {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RunStopper")
    }
}

impl RunStopper {
    /// Asks the run in progress (and any run started before [`RunStopper::reset`]) to stop
    /// with an error. Returns at once.
    pub fn terminate(&self) {
        if let Err(e) = self.0.terminate() {
            tracing::debug!("cannot set ONNX Runtime's terminate flag: {e}");
        }
    }

    /// Clears the flag so the next run goes through.
    pub fn reset(&self) {
        if let Err(e) = self.0.unterminate() {
            tracing::debug!("cannot clear ONNX Runtime's terminate flag: {e}");
        }
    }
}

impl fmt::Debug for Model {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Model")
            .field("name", &self.name)
            .field("path", &self.path)
            .field("ep", &self.ep)
            .finish_non_exhaustive()
    }
}

impl Model {
    /// Loads `path` into a session. Starts ONNX Runtime with default discovery if
    /// [`crate::infer::init`] was not called first. An unavailable execution provider falls
    /// back to the CPU; see [`Model::ep`] for the warning.
    ///
    /// # Errors
    /// [`InferError::Load`] naming the file with ONNX Runtime's message, or the errors of
    /// [`crate::infer::init`].
    pub fn load(path: &Path, opts: &SessionOptions) -> Result<Model, InferError> {
        let (session, ep) = env::build_session(path, opts)?;
        if let Some(w) = &ep.warning {
            tracing::debug!("{}: {w}", path.display());
        }
        let info = ModelInfo::from_session(&session);
        let run_options = RunOptions::new().map_err(|e| InferError::Load {
            path: path.to_path_buf(),
            message: format!("cannot create run options: {e}"),
        })?;
        let name = path.file_stem().map_or_else(
            || path.display().to_string(),
            |s| s.to_string_lossy().into_owned(),
        );
        Ok(Model {
            name,
            path: path.to_path_buf(),
            session,
            info,
            ep,
            opts: opts.clone(),
            run_options: Arc::new(run_options),
        })
    }

    /// The options it was loaded with (to load it again).
    #[must_use]
    pub fn options(&self) -> &SessionOptions {
        &self.opts
    }

    /// A handle that stops this model's run in progress from another thread.
    #[must_use]
    pub fn stopper(&self) -> RunStopper {
        RunStopper(Arc::clone(&self.run_options))
    }

    /// The model's name in messages (the file stem, `dream`).
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The file it was loaded from.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Inputs, outputs and metadata.
    #[must_use]
    pub fn info(&self) -> &ModelInfo {
        &self.info
    }

    /// The execution provider in use, and the fallback warning if it is not the one asked for.
    #[must_use]
    pub fn ep(&self) -> &EpChoice {
        &self.ep
    }

    /// Checks inputs against the declared ones: names, element type, rank, fixed sizes, data
    /// length, and that nothing is missing.
    ///
    /// # Errors
    /// The first problem, naming the model, the input and (for shapes) both shapes.
    pub fn check_inputs(&self, inputs: &[(&str, TensorRef<'_>)]) -> Result<(), InferError> {
        for (name, t) in inputs {
            let Some(decl) = self.info.input(name) else {
                let known: Vec<&str> = self.info.inputs.iter().map(|i| i.name.as_str()).collect();
                return Err(InferError::UnknownInput {
                    model: self.name.clone(),
                    input: (*name).to_string(),
                    known: known.join(", "),
                });
            };
            if decl.elem != ElemType::Float32 {
                return Err(InferError::InputType {
                    model: self.name.clone(),
                    input: decl.name.clone(),
                    elem: decl.elem.clone(),
                });
            }
            if !decl.accepts(t.shape) {
                return Err(InferError::InputShape {
                    model: self.name.clone(),
                    input: decl.name.clone(),
                    expected: decl.shape_string(),
                    got: t.shape.to_vec(),
                });
            }
            if t.shape.iter().product::<usize>() != t.data.len() {
                return Err(InferError::DataLength {
                    model: self.name.clone(),
                    input: decl.name.clone(),
                    shape: t.shape.to_vec(),
                    len: t.data.len(),
                });
            }
        }
        if let Some(missing) = self
            .info
            .inputs
            .iter()
            .find(|decl| !inputs.iter().any(|(n, _)| *n == decl.name))
        {
            return Err(InferError::MissingInput {
                model: self.name.clone(),
                input: missing.name.clone(),
                expected: format!("{} {}", missing.elem, missing.shape_string()),
            });
        }
        Ok(())
    }

    /// Runs the model once. Inputs are borrowed (no copy); each output is copied once into a
    /// new [`Tensor`]. Outputs come back in graph order.
    ///
    /// # Errors
    /// A problem found by [`Model::check_inputs`], [`InferError::Run`] when ONNX Runtime
    /// rejects the run (with every input's shape), [`InferError::OutputType`] for a
    /// non-float32 output.
    pub fn run(
        &mut self,
        inputs: &[(&str, TensorRef<'_>)],
    ) -> Result<Vec<(String, Tensor)>, InferError> {
        self.check_inputs(inputs)?;
        let Self {
            name,
            session,
            info,
            run_options,
            ..
        } = self;
        let run_err = |message: String| InferError::Run {
            model: name.clone(),
            message,
            inputs: describe_inputs(inputs),
        };
        let mut values = Vec::with_capacity(inputs.len());
        for (input, t) in inputs {
            let view = ort::value::TensorRef::from_array_view((t.shape, t.data))
                .map_err(|e| run_err(format!("input `{input}`: {e}")))?;
            values.push((*input, view));
        }
        let outputs = session
            .run_with_options(values, &**run_options)
            .map_err(|e| run_err(e.to_string()))?;
        let mut out = Vec::with_capacity(info.outputs.len());
        for (output, value) in &outputs {
            let (shape, data) = value.try_extract_tensor::<f32>().map_err(|_| {
                let elem = info.output(output).map_or_else(
                    || ElemType::Other(value.dtype().to_string()),
                    |o| o.elem.clone(),
                );
                InferError::OutputType {
                    model: name.clone(),
                    output: output.to_string(),
                    elem,
                }
            })?;
            let shape = shape
                .iter()
                .map(|&d| usize::try_from(d).unwrap_or(0))
                .collect();
            out.push((output.to_string(), Tensor::new(shape, data.to_vec())));
        }
        Ok(out)
    }
}

/// ONNX Runtime alone: a session made with the same options as [`Model::load`] (threads,
/// spinning; always the CPU provider) and run directly, outputs dropped unread. No [`Model`]
/// around it (no input check, no output copy) and no worker thread: the baseline that
/// `hypna bench --models` compares hypna's own run time with.
pub struct RawSession {
    path: PathBuf,
    session: Session,
}

impl fmt::Debug for RawSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RawSession")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl RawSession {
    /// A session for the model at `path`.
    ///
    /// # Errors
    /// [`InferError::Load`] as [`Model::load`].
    pub fn load(path: &Path, opts: &SessionOptions) -> Result<Self, InferError> {
        let cpu = SessionOptions {
            ep: env::Ep::Cpu,
            ..opts.clone()
        };
        let (session, _) = env::build_session(path, &cpu)?;
        Ok(Self {
            path: path.to_path_buf(),
            session,
        })
    }

    /// Runs it once; returns the time of `Session::run` alone, in ms.
    ///
    /// # Errors
    /// [`InferError::Run`] when ONNX Runtime rejects the run.
    pub fn time_run(&mut self, inputs: &[(&str, TensorRef<'_>)]) -> Result<f64, InferError> {
        let run_err = |message: String| InferError::Run {
            model: self.path.display().to_string(),
            message,
            inputs: describe_inputs(inputs),
        };
        let mut values = Vec::with_capacity(inputs.len());
        for (input, t) in inputs {
            let view = ort::value::TensorRef::from_array_view((t.shape, t.data))
                .map_err(|e| run_err(format!("input `{input}`: {e}")))?;
            values.push((*input, view));
        }
        let start = std::time::Instant::now();
        let outputs = self
            .session
            .run(values)
            .map_err(|e| run_err(e.to_string()))?;
        let ms = start.elapsed().as_secs_f64() * 1000.0;
        drop(outputs);
        Ok(ms)
    }
}

fn describe_inputs(inputs: &[(&str, TensorRef<'_>)]) -> String {
    let parts: Vec<String> = inputs
        .iter()
        .map(|(n, t)| format!("{n} {}", fmt_shape(t.shape)))
        .collect();
    parts.join(", ")
}

/// A report of a model file for `hypna inspect`: the provider it would run on, metadata,
/// inputs and outputs with element types and shapes (symbolic dimensions by name).
///
/// # Errors
/// As [`Model::load`].
pub fn inspect(path: &Path, opts: &SessionOptions) -> Result<String, InferError> {
    let model = Model::load(path, opts)?;
    let warning = model
        .ep
        .warning
        .as_ref()
        .map(|w| format!("warning: {w}\n"))
        .unwrap_or_default();
    Ok(format!(
        "{}\nexecution provider: {}\n{warning}{}",
        path.display(),
        model.ep.used,
        model.info
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_display_uses_onnx_names_and_symbols() {
        let io = IoInfo {
            name: "image".into(),
            elem: ElemType::Float32,
            shape: vec![
                Dim::Fixed(1),
                Dim::Fixed(3),
                Dim::Symbolic("height".into()),
                Dim::Symbolic("width".into()),
            ],
        };
        assert_eq!(io.to_string(), "image: float32 [1, 3, height, width]");
        assert!(io.accepts(&[1, 3, 7, 9]));
        assert!(!io.accepts(&[1, 4, 7, 9]));
        assert!(!io.accepts(&[3, 7, 9]));
        let dynamic = IoInfo {
            name: "x".into(),
            elem: ElemType::Int64,
            shape: vec![Dim::Dynamic, Dim::Fixed(8)],
        };
        assert_eq!(dynamic.to_string(), "x: int64 [?, 8]");
    }

    #[test]
    fn dims_from_ort_types() {
        let ty = ValueType::Tensor {
            ty: TensorElementType::Float16,
            shape: ort::value::Shape::new([1, -1, -1]),
            dimension_symbols: ort::value::SymbolicDimensions::new([
                String::new(),
                "h".to_string(),
                String::new(),
            ]),
        };
        let io = IoInfo::from_ort("a", &ty);
        assert_eq!(io.elem, ElemType::Float16);
        assert_eq!(
            io.shape,
            vec![Dim::Fixed(1), Dim::Symbolic("h".into()), Dim::Dynamic]
        );
    }
}
