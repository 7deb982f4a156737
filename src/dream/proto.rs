//! Small helpers over the generated ONNX messages: reading and writing tensors (raw, typed and
//! external data), attributes, value infos, and loading or saving a model file.

use std::collections::HashMap;
use std::path::Path;

use prost::Message;

use super::DreamError;
use super::onnx::{
    AttributeProto, ModelProto, NodeProto, TensorProto, TensorShapeProto, TypeProto,
    ValueInfoProto, attribute_proto::AttributeType, tensor_proto::DataLocation,
    tensor_shape_proto::Dimension, tensor_shape_proto::dimension::Value as DimValue,
    type_proto::Tensor as TensorType, type_proto::Value as TypeValue,
};

/// ONNX element type codes used here (`TensorProto.DataType`).
pub mod dtype {
    /// float32
    pub const FLOAT: i32 = 1;
    /// uint8
    pub const UINT8: i32 = 2;
    /// int8
    pub const INT8: i32 = 3;
    /// uint16
    pub const UINT16: i32 = 4;
    /// int16
    pub const INT16: i32 = 5;
    /// int32
    pub const INT32: i32 = 6;
    /// int64
    pub const INT64: i32 = 7;
    /// bool
    pub const BOOL: i32 = 9;
    /// float16
    pub const FLOAT16: i32 = 10;
    /// float64
    pub const DOUBLE: i32 = 11;
    /// uint32
    pub const UINT32: i32 = 12;
    /// uint64
    pub const UINT64: i32 = 13;

    /// The ONNX name of an element type, for messages.
    #[must_use]
    pub fn name(t: i32) -> &'static str {
        match t {
            FLOAT => "float32",
            UINT8 => "uint8",
            INT8 => "int8",
            UINT16 => "uint16",
            INT16 => "int16",
            INT32 => "int32",
            INT64 => "int64",
            BOOL => "bool",
            FLOAT16 => "float16",
            DOUBLE => "float64",
            UINT32 => "uint32",
            UINT64 => "uint64",
            8 => "string",
            16 => "bfloat16",
            _ => "other",
        }
    }

    /// Whether values of this type are integers or booleans (they carry no gradient).
    #[must_use]
    pub fn is_integer(t: i32) -> bool {
        matches!(
            t,
            UINT8 | INT8 | UINT16 | INT16 | INT32 | INT64 | BOOL | UINT32 | UINT64
        )
    }
}

/// Largest model file read (protobuf's own limit is 2 GiB).
pub const MAX_MODEL_BYTES: u64 = 2 << 30;

/// Reads a model file, and the external data files its tensors name (relative to the model's
/// folder), which are folded into the tensors so the result stands alone.
pub fn load_model(path: &Path) -> Result<ModelProto, DreamError> {
    let io = |source| DreamError::Read {
        path: path.to_path_buf(),
        source,
    };
    let len = std::fs::metadata(path).map_err(io)?.len();
    if len > MAX_MODEL_BYTES {
        return Err(DreamError::Decode {
            path: path.to_path_buf(),
            message: format!("{len} bytes is more than a protobuf model can hold (2 GiB)"),
        });
    }
    let bytes = std::fs::read(path).map_err(io)?;
    let mut model = decode_model(&bytes).map_err(|message| DreamError::Decode {
        path: path.to_path_buf(),
        message,
    })?;
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    if let Some(graph) = model.graph.as_mut() {
        let mut cache = HashMap::new();
        for t in &mut graph.initializer {
            resolve_external(t, dir, &mut cache)?;
        }
        for n in &mut graph.node {
            for a in &mut n.attribute {
                if let Some(t) = a.t.as_mut() {
                    resolve_external(t, dir, &mut cache)?;
                }
            }
        }
    }
    Ok(model)
}

/// Decodes model bytes (prost bounds the nesting depth of messages).
pub fn decode_model(bytes: &[u8]) -> Result<ModelProto, String> {
    let model = ModelProto::decode(bytes).map_err(|e| format!("not an ONNX model: {e}"))?;
    if model.graph.is_none() {
        return Err("not an ONNX model: it has no graph".into());
    }
    Ok(model)
}

/// Encodes a model.
#[must_use]
pub fn encode_model(model: &ModelProto) -> Vec<u8> {
    model.encode_to_vec()
}

fn resolve_external(
    t: &mut TensorProto,
    dir: &Path,
    cache: &mut HashMap<String, Vec<u8>>,
) -> Result<(), DreamError> {
    if t.data_location != Some(DataLocation::External as i32) {
        return Ok(());
    }
    let name = t.name().to_string();
    let mut location = None;
    let mut offset = 0u64;
    let mut length = None;
    for kv in &t.external_data {
        match kv.key() {
            "location" => location = Some(kv.value().to_string()),
            "offset" => offset = kv.value().parse().unwrap_or(0),
            "length" => length = kv.value().parse::<u64>().ok(),
            _ => {}
        }
    }
    let location = location.ok_or_else(|| DreamError::ExternalData {
        tensor: name.clone(),
        path: dir.to_path_buf(),
        message: "it names no `location`".into(),
    })?;
    let file = dir.join(&location);
    if !cache.contains_key(&location) {
        let bytes = std::fs::read(&file).map_err(|e| DreamError::ExternalData {
            tensor: name.clone(),
            path: file.clone(),
            message: e.to_string(),
        })?;
        cache.insert(location.clone(), bytes);
    }
    let bytes = &cache[&location];
    let start = usize::try_from(offset).unwrap_or(usize::MAX);
    let end = match length {
        Some(l) => start.saturating_add(usize::try_from(l).unwrap_or(usize::MAX)),
        None => bytes.len(),
    };
    let Some(slice) = bytes.get(start..end) else {
        return Err(DreamError::ExternalData {
            tensor: name,
            path: file,
            message: format!(
                "bytes {start}..{end} are outside the file ({} bytes)",
                bytes.len()
            ),
        });
    };
    let need = elem_bytes(t.data_type()).map(|b| b * numel(&t.dims));
    if let Some(need) = need
        && need != slice.len()
    {
        return Err(DreamError::ExternalData {
            tensor: name,
            path: file,
            message: format!(
                "bytes {start}..{end} are outside the file or the wrong size ({} bytes read, {need} needed)",
                slice.len()
            ),
        });
    }
    t.raw_data = Some(slice.to_vec());
    t.data_location = Some(DataLocation::Default as i32);
    t.external_data.clear();
    Ok(())
}

/// Bytes per element of a fixed-size element type.
#[must_use]
pub fn elem_bytes(t: i32) -> Option<usize> {
    Some(match t {
        dtype::UINT8 | dtype::INT8 | dtype::BOOL => 1,
        dtype::UINT16 | dtype::INT16 | dtype::FLOAT16 | 16 => 2,
        dtype::FLOAT | dtype::INT32 | dtype::UINT32 => 4,
        dtype::INT64 | dtype::DOUBLE | dtype::UINT64 => 8,
        _ => return None,
    })
}

/// The number of elements of a tensor with these dimensions.
#[must_use]
pub fn numel(dims: &[i64]) -> usize {
    dims.iter()
        .map(|&d| usize::try_from(d).unwrap_or(0))
        .product()
}

/// A tensor's values as float32, when it holds float32 or float64 data.
#[must_use]
pub fn tensor_f32(t: &TensorProto) -> Option<Vec<f32>> {
    let n = numel(&t.dims);
    let v: Vec<f32> = match t.data_type() {
        dtype::FLOAT => match &t.raw_data {
            Some(raw) if !raw.is_empty() || n == 0 => raw
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect(),
            _ => t.float_data.clone(),
        },
        dtype::DOUBLE => match &t.raw_data {
            Some(raw) if !raw.is_empty() || n == 0 => raw
                .chunks_exact(8)
                .map(|c| {
                    f64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]) as f32
                })
                .collect(),
            _ => t.double_data.iter().map(|&d| d as f32).collect(),
        },
        _ => return None,
    };
    (v.len() == n).then_some(v)
}

/// A tensor's values as int64, when it holds integer or boolean data.
#[must_use]
pub fn tensor_i64(t: &TensorProto) -> Option<Vec<i64>> {
    let n = numel(&t.dims);
    let raw = t.raw_data.as_deref().filter(|r| !r.is_empty() || n == 0);
    let v: Vec<i64> = match (t.data_type(), raw) {
        (dtype::INT64, Some(r)) => r
            .chunks_exact(8)
            .map(|c| i64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
            .collect(),
        (dtype::INT64, None) => t.int64_data.clone(),
        (dtype::INT32, Some(r)) => r
            .chunks_exact(4)
            .map(|c| i64::from(i32::from_le_bytes([c[0], c[1], c[2], c[3]])))
            .collect(),
        (dtype::INT16, Some(r)) => r
            .chunks_exact(2)
            .map(|c| i64::from(i16::from_le_bytes([c[0], c[1]])))
            .collect(),
        (dtype::UINT16, Some(r)) => r
            .chunks_exact(2)
            .map(|c| i64::from(u16::from_le_bytes([c[0], c[1]])))
            .collect(),
        (dtype::INT8, Some(r)) => r.iter().map(|&b| i64::from(b as i8)).collect(),
        (dtype::UINT8 | dtype::BOOL, Some(r)) => r.iter().map(|&b| i64::from(b)).collect(),
        (dtype::UINT32, Some(r)) => r
            .chunks_exact(4)
            .map(|c| i64::from(u32::from_le_bytes([c[0], c[1], c[2], c[3]])))
            .collect(),
        (
            dtype::INT32 | dtype::INT16 | dtype::UINT16 | dtype::INT8 | dtype::UINT8 | dtype::BOOL,
            None,
        ) => t.int32_data.iter().map(|&d| i64::from(d)).collect(),
        (dtype::UINT32, None) => t.uint64_data.iter().map(|&d| d as i64).collect(),
        _ => return None,
    };
    (v.len() == n).then_some(v)
}

/// A float32 tensor with these dimensions and values (stored as raw little-endian bytes).
#[must_use]
pub fn make_f32(name: &str, dims: &[i64], values: &[f32]) -> TensorProto {
    TensorProto {
        name: Some(name.to_string()),
        dims: dims.to_vec(),
        data_type: Some(dtype::FLOAT),
        raw_data: Some(values.iter().flat_map(|v| v.to_le_bytes()).collect()),
        ..TensorProto::default()
    }
}

/// An int64 tensor with these dimensions and values.
#[must_use]
pub fn make_i64(name: &str, dims: &[i64], values: &[i64]) -> TensorProto {
    TensorProto {
        name: Some(name.to_string()),
        dims: dims.to_vec(),
        data_type: Some(dtype::INT64),
        raw_data: Some(values.iter().flat_map(|v| v.to_le_bytes()).collect()),
        ..TensorProto::default()
    }
}

/// An integer attribute.
#[must_use]
pub fn attr_int(name: &str, v: i64) -> AttributeProto {
    AttributeProto {
        name: Some(name.into()),
        r#type: Some(AttributeType::Int as i32),
        i: Some(v),
        ..AttributeProto::default()
    }
}

/// An integer-list attribute.
#[must_use]
pub fn attr_ints(name: &str, v: &[i64]) -> AttributeProto {
    AttributeProto {
        name: Some(name.into()),
        r#type: Some(AttributeType::Ints as i32),
        ints: v.to_vec(),
        ..AttributeProto::default()
    }
}

/// A float attribute.
#[must_use]
pub fn attr_float(name: &str, v: f32) -> AttributeProto {
    AttributeProto {
        name: Some(name.into()),
        r#type: Some(AttributeType::Float as i32),
        f: Some(v),
        ..AttributeProto::default()
    }
}

/// A string attribute.
#[must_use]
pub fn attr_str(name: &str, v: &str) -> AttributeProto {
    AttributeProto {
        name: Some(name.into()),
        r#type: Some(AttributeType::String as i32),
        s: Some(v.as_bytes().to_vec()),
        ..AttributeProto::default()
    }
}

/// A tensor attribute.
#[must_use]
pub fn attr_tensor(name: &str, t: TensorProto) -> AttributeProto {
    AttributeProto {
        name: Some(name.into()),
        r#type: Some(AttributeType::Tensor as i32),
        t: Some(t),
        ..AttributeProto::default()
    }
}

/// Typed access to a node's attributes.
pub trait NodeExt {
    /// The attribute called `name`.
    fn attr(&self, name: &str) -> Option<&AttributeProto>;
    /// An integer attribute, or `default`.
    fn int(&self, name: &str, default: i64) -> i64 {
        self.attr(name).and_then(|a| a.i).unwrap_or(default)
    }
    /// A float attribute, or `default`.
    fn float(&self, name: &str, default: f32) -> f32 {
        self.attr(name).and_then(|a| a.f).unwrap_or(default)
    }
    /// An integer-list attribute, when present.
    fn ints(&self, name: &str) -> Option<Vec<i64>> {
        self.attr(name).map(|a| a.ints.clone())
    }
    /// A float-list attribute, when present.
    fn floats(&self, name: &str) -> Option<Vec<f32>> {
        self.attr(name).map(|a| a.floats.clone())
    }
    /// A string attribute, or `default`.
    fn string(&self, name: &str, default: &str) -> String {
        self.attr(name).and_then(|a| a.s.as_ref()).map_or_else(
            || default.to_string(),
            |s| String::from_utf8_lossy(s).into_owned(),
        )
    }
    /// The `i`th input's name, "" when absent.
    fn input(&self, i: usize) -> &str;
    /// The node's name for messages: its name, else its first output.
    fn label(&self) -> String;
}

impl NodeExt for NodeProto {
    fn attr(&self, name: &str) -> Option<&AttributeProto> {
        self.attribute.iter().find(|a| a.name() == name)
    }

    fn input(&self, i: usize) -> &str {
        self.input.get(i).map_or("", String::as_str)
    }

    fn label(&self) -> String {
        if self.name().is_empty() {
            format!(
                "(output `{}`)",
                self.output.first().map_or("", String::as_str)
            )
        } else {
            self.name().to_string()
        }
    }
}

/// A value info for a tensor of `elem` type; dimensions are numbers or symbolic names.
#[must_use]
pub fn value_info(name: &str, elem: i32, dims: &[DimSpec]) -> ValueInfoProto {
    let dim = dims
        .iter()
        .map(|d| Dimension {
            value: Some(match d {
                DimSpec::Fixed(n) => DimValue::DimValue(*n),
                DimSpec::Named(s) => DimValue::DimParam(s.clone()),
            }),
            ..Dimension::default()
        })
        .collect();
    ValueInfoProto {
        name: Some(name.into()),
        r#type: Some(TypeProto {
            value: Some(TypeValue::TensorType(TensorType {
                elem_type: Some(elem),
                shape: Some(TensorShapeProto { dim }),
            })),
            ..TypeProto::default()
        }),
        ..ValueInfoProto::default()
    }
}

/// One declared dimension of a graph input or output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DimSpec {
    /// A fixed size.
    Fixed(i64),
    /// A symbolic size (any size; equal names must agree).
    Named(String),
}

impl std::fmt::Display for DimSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Fixed(n) => write!(f, "{n}"),
            Self::Named(s) => write!(f, "{s}"),
        }
    }
}

/// The element type and dimensions a value info declares (`None` dims: rank unknown).
#[must_use]
pub fn declared(vi: &ValueInfoProto) -> (i32, Option<Vec<DimSpec>>) {
    let Some(TypeValue::TensorType(t)) = vi.r#type.as_ref().and_then(|t| t.value.as_ref()) else {
        return (0, None);
    };
    let dims = t.shape.as_ref().map(|s| {
        s.dim
            .iter()
            .enumerate()
            .map(|(i, d)| match &d.value {
                Some(DimValue::DimValue(n)) if *n > 0 => DimSpec::Fixed(*n),
                Some(DimValue::DimParam(p)) if !p.is_empty() => DimSpec::Named(p.clone()),
                _ => DimSpec::Named(format!("{}_{i}", vi.name())),
            })
            .collect()
    });
    (t.elem_type(), dims)
}
