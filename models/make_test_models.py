#!/usr/bin/env python3
"""Small ONNX models for hypna's tests (not for shows). Reproducible; run from anywhere:

    python3 models/make_test_models.py

testdata/raises.onnx: input `n` float32 [1], output `y` float32 [4]. It reshapes four ones to
the shape [n]: it runs when n == 4 and raises inside ONNX Runtime otherwise, so tests can
prove that a model failing at run time never stops the frame loop.
"""
import os

import onnx
from onnx import TensorProto, helper

HERE = os.path.dirname(os.path.abspath(__file__))


def raises():
    ones = helper.make_node("Constant", [], ["ones"], value=helper.make_tensor("v", TensorProto.FLOAT, [4], [1.0] * 4))
    cast = helper.make_node("Cast", ["n"], ["shape"], to=TensorProto.INT64)
    reshape = helper.make_node("Reshape", ["ones", "shape"], ["y"])
    graph = helper.make_graph(
        [ones, cast, reshape],
        "raises",
        [helper.make_tensor_value_info("n", TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="hypna/models/make_test_models.py")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


if __name__ == "__main__":
    out = os.path.join(HERE, "testdata", "raises.onnx")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    onnx.save(raises(), out)
    print(f"wrote {out}")
