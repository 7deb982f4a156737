//! A graph under construction: canonical nodes in order, constants, fresh names, and the
//! shapes of everything added so far (each node is inferred as it is pushed).

use std::collections::{HashMap, HashSet};

use indexmap::IndexMap;

use super::onnx::{AttributeProto, NodeProto, TensorProto};
use super::proto::{attr_tensor, make_f32, make_i64, tensor_f32};
use super::shape::{Dim, Shapes};

/// Nodes, constants and shapes of a graph being built.
#[derive(Debug, Default)]
pub struct Graph {
    /// Nodes in topological order.
    pub nodes: Vec<NodeProto>,
    /// Constant tensors by name (initializers).
    pub inits: IndexMap<String, TensorProto>,
    /// What is known of every value.
    pub shapes: Shapes,
    used: HashSet<String>,
    counter: u64,
    prefix: String,
    const_cache: HashMap<(i32, Vec<i64>, Vec<u8>), String>,
    shape_cache: HashMap<(String, i64, i64), String>,
}

impl Graph {
    /// An empty graph whose new names start with `prefix` and avoid every name in `taken`.
    #[must_use]
    pub fn new(prefix: &str, taken: HashSet<String>) -> Self {
        Self {
            used: taken,
            prefix: prefix.to_string(),
            ..Self::default()
        }
    }

    /// Marks `name` as used, so no fresh name takes it.
    pub fn reserve(&mut self, name: &str) {
        self.used.insert(name.to_string());
    }

    /// A name not used yet, built from `hint`.
    pub fn fresh(&mut self, hint: &str) -> String {
        loop {
            self.counter += 1;
            let name = format!("{}{hint}_{}", self.prefix, self.counter);
            if self.used.insert(name.clone()) {
                return name;
            }
        }
    }

    /// Appends a node (named if it has no name) and infers its outputs.
    pub fn push(&mut self, mut node: NodeProto) {
        if node.name().is_empty() {
            let hint = node.op_type().to_string();
            node.name = Some(self.fresh(&hint));
        }
        for o in &node.output {
            self.used.insert(o.clone());
        }
        self.shapes.infer(&node);
        self.nodes.push(node);
    }

    /// Appends a node as it is, without inferring its outputs (copies of nodes already
    /// checked, such as the unrolled steps of a dream).
    pub fn push_raw(&mut self, node: NodeProto) {
        for o in &node.output {
            self.used.insert(o.clone());
        }
        self.nodes.push(node);
    }

    /// Every name in use.
    #[must_use]
    pub fn used_names(&self) -> &HashSet<String> {
        &self.used
    }

    /// Adds a node with fresh outputs and returns them.
    pub fn op_n(
        &mut self,
        op: &str,
        inputs: &[&str],
        outputs: usize,
        attrs: Vec<AttributeProto>,
    ) -> Vec<String> {
        let out: Vec<String> = (0..outputs).map(|_| self.fresh(op)).collect();
        self.push(NodeProto {
            op_type: Some(op.into()),
            input: inputs.iter().map(|s| (*s).to_string()).collect(),
            output: out.clone(),
            attribute: attrs,
            ..NodeProto::default()
        });
        out
    }

    /// Adds a node with one fresh output and returns it.
    pub fn op(&mut self, op: &str, inputs: &[&str], attrs: Vec<AttributeProto>) -> String {
        self.op_n(op, inputs, 1, attrs).remove(0)
    }

    /// Adds a constant tensor under its own name.
    pub fn add_init(&mut self, t: TensorProto) {
        self.used.insert(t.name().to_string());
        self.shapes.add_const(&t);
        self.inits.insert(t.name().to_string(), t);
    }

    fn cached_const(&mut self, mut t: TensorProto, hint: &str) -> String {
        let key = (
            t.data_type(),
            t.dims.clone(),
            t.raw_data.clone().unwrap_or_default(),
        );
        if let Some(n) = self.const_cache.get(&key) {
            return n.clone();
        }
        let name = self.fresh(hint);
        t.name = Some(name.clone());
        self.add_init(t);
        self.const_cache.insert(key, name.clone());
        name
    }

    /// A 1-D int64 constant.
    pub fn ints(&mut self, v: &[i64]) -> String {
        self.cached_const(make_i64("", &[v.len() as i64], v), "i")
    }

    /// A 0-D int64 constant.
    pub fn int_scalar(&mut self, v: i64) -> String {
        self.cached_const(make_i64("", &[], &[v]), "i")
    }

    /// A float32 constant of any shape.
    pub fn floats(&mut self, dims: &[i64], v: &[f32]) -> String {
        self.cached_const(make_f32("", dims, v), "f")
    }

    /// A 0-D float32 constant.
    pub fn float_scalar(&mut self, v: f32) -> String {
        self.floats(&[], &[v])
    }

    /// The known values of an integer tensor (a constant or folded shape arithmetic).
    #[must_use]
    pub fn const_ints(&self, name: &str) -> Option<Vec<i64>> {
        if name.is_empty() {
            return None;
        }
        self.shapes.get(name).ints
    }

    /// The values of a float constant.
    #[must_use]
    pub fn const_floats(&self, name: &str) -> Option<Vec<f32>> {
        self.inits.get(name).and_then(tensor_f32)
    }

    /// Whether `name` is a constant tensor.
    #[must_use]
    pub fn is_const(&self, name: &str) -> bool {
        self.inits.contains_key(name)
    }

    /// The known dimensions of `x`.
    #[must_use]
    pub fn dims(&self, x: &str) -> Option<Vec<Dim>> {
        self.shapes.get(x).dims
    }

    /// The rank of `x`, when known.
    #[must_use]
    pub fn rank(&self, x: &str) -> Option<usize> {
        self.shapes.get(x).rank()
    }

    /// `Shape(x)[start..end]` as an int64 vector: a constant when those sizes are known, else a
    /// `Shape` node (one per value and range).
    pub fn shape_range(&mut self, x: &str, start: i64, end: i64) -> String {
        let dims = self.dims(x);
        if let Some(d) = &dims {
            let r = d.len() as i64;
            let (s, e) = (norm(start, r), norm(end, r));
            let known: Option<Vec<i64>> = d[s as usize..e.max(s) as usize]
                .iter()
                .map(|d| d.known())
                .collect();
            if let Some(k) = known {
                return self.ints(&k);
            }
        }
        let key = (x.to_string(), start, end);
        if let Some(n) = self.shape_cache.get(&key) {
            return n.clone();
        }
        let mut attrs = Vec::new();
        if start != 0 {
            attrs.push(super::proto::attr_int("start", start));
        }
        if end != i64::MAX {
            attrs.push(super::proto::attr_int("end", end));
        }
        let n = self.op("Shape", &[x], attrs);
        self.shape_cache.insert(key, n.clone());
        n
    }

    /// `Shape(x)`.
    pub fn shape(&mut self, x: &str) -> String {
        self.shape_range(x, 0, i64::MAX)
    }

    /// Float zeros shaped like `x`.
    pub fn zeros_like(&mut self, x: &str) -> String {
        let s = self.shape(x);
        self.op(
            "ConstantOfShape",
            &[&s],
            vec![attr_tensor("value", make_f32("", &[1], &[0.0]))],
        )
    }

    /// `Reshape(v, Shape(like))`.
    pub fn reshape_like(&mut self, v: &str, like: &str) -> String {
        if self.dims(v).is_some() && self.dims(v) == self.dims(like) {
            return v.to_string();
        }
        let s = self.shape(like);
        self.op("Reshape", &[v, &s], vec![])
    }

    /// The number of elements of `x` as a float32 scalar.
    pub fn numel_f(&mut self, x: &str) -> String {
        if let Some(d) = self.shapes.get(x).known_dims() {
            let n: i64 = d.iter().product();
            return self.float_scalar(n as f32);
        }
        let n = self.op("Size", &[x], vec![]);
        self.op("Cast", &[&n], vec![super::proto::attr_int("to", 1)])
    }
}

/// A possibly negative axis or index within `0..=rank`.
#[must_use]
pub fn norm(v: i64, rank: i64) -> i64 {
    if v < 0 {
        (v + rank).max(0)
    } else {
        v.min(rank)
    }
}

/// The attributes of `node` except those called one of `drop`.
#[must_use]
pub fn attrs_without(node: &NodeProto, drop: &[&str]) -> Vec<AttributeProto> {
    node.attribute
        .iter()
        .filter(|a| !drop.contains(&a.name()))
        .cloned()
        .collect()
}
