"""Shared pieces of the scripts that convert installed weights (torch state dicts) to ONNX.

`efficientnet_lite0.py`, `omniart_eyes.py` and `beatnet.py` use them: a small graph builder that
names every value, BatchNorm folding, the model wrapper with our opset and metadata, file hashing,
the atomic write of the result and the command-line run with its error handling.
"""

import hashlib
import os
import sys
import time

import numpy as np
import onnx
from onnx import helper, numpy_helper

from torchload import TorchLoadError

OPSET = 17
IR_VERSION = 8  # opset 17 <-> IR 8; ONNX Runtime 1.31 loads it


class ConvertError(Exception):
    """A state dict that does not have the tensors or shapes the architecture needs."""


class Graph:
    """Nodes and initializers in insertion order, so a conversion is byte-reproducible."""

    def __init__(self):
        self.nodes = []
        self.inits = []
        self.names = set()

    def const(self, name, arr):
        if name in self.names:
            raise ValueError(f"value {name} defined twice")
        self.names.add(name)
        self.inits.append(numpy_helper.from_array(np.ascontiguousarray(arr), name))
        return name

    def op(self, op_type, inputs, out, **attrs):
        """Adds one node with one output named `out` (the name layer pickers see)."""
        if out in self.names:
            raise ValueError(f"value {out} defined twice")
        self.names.add(out)
        self.nodes.append(helper.make_node(op_type, list(inputs), [out], name=out, **attrs))
        return out


def tensor(state, key, shape=None):
    """state[key] as float32, checking the shape when given; a ConvertError names what is wrong."""
    if key not in state:
        raise ConvertError(f"the state dict has no tensor {key}")
    arr = np.asarray(state[key])
    if shape is not None and tuple(arr.shape) != tuple(shape):
        raise ConvertError(f"{key} has shape {list(arr.shape)}, the architecture needs {list(shape)}")
    return arr.astype(np.float32)


def fold_bn(state, prefix, channels, eps):
    """BatchNorm `prefix` (weight, bias, running_mean, running_var) as a per-channel scale and
    shift in float64: bn(y) = y * scale + shift."""
    gamma = tensor(state, f"{prefix}.weight", (channels,)).astype(np.float64)
    beta = tensor(state, f"{prefix}.bias", (channels,)).astype(np.float64)
    mean = tensor(state, f"{prefix}.running_mean", (channels,)).astype(np.float64)
    var = tensor(state, f"{prefix}.running_var", (channels,)).astype(np.float64)
    scale = gamma / np.sqrt(var + eps)
    return scale, beta - mean * scale


def make_model(graph, inputs, outputs, name, producer, doc, metadata):
    g = helper.make_graph(graph.nodes, name, inputs, outputs, initializer=graph.inits)
    m = helper.make_model(
        g,
        opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name=producer,
        producer_version="1",
        doc_string=doc,
    )
    m.ir_version = IR_VERSION
    for k, v in metadata.items():
        p = m.metadata_props.add()
        p.key, p.value = k, str(v)
    onnx.checker.check_model(m, full_check=True)
    return m


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def check_sha256(path, expected, name):
    """Refuses a state dict that is not the one the converter was written for."""
    digest = sha256(path)
    if digest != expected:
        raise ConvertError(f"{path} has sha256 {digest}, expected {expected} ({name})")


def write_model(model, out):
    """Writes `model` to `out` atomically (a temporary file renamed), making its folder."""
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    tmp = out + ".tmp"
    with open(tmp, "wb") as f:
        f.write(model.SerializeToString())
    os.replace(tmp, out)


def run_cli(script, out, work):
    """Runs `work()`, exits with `script: error: ...` on a conversion or file error, and says
    what it wrote and how long it took."""
    t0 = time.perf_counter()
    try:
        work()
    except (TorchLoadError, ConvertError, OSError) as e:
        sys.exit(f"{script}: error: {e}")
    print(f"wrote {out} ({os.path.getsize(out)} bytes, {time.perf_counter() - t0:.1f} s)")
