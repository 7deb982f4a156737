#!/usr/bin/env python3
"""Small ONNX models for hypna's tests (not for shows). Reproducible; run from anywhere:

    python3 models/make_test_models.py

testdata/raises.onnx: input `n` float32 [1], output `y` float32 [4]. It reshapes four ones to
the shape [n]: it runs when n == 4 and raises inside ONNX Runtime otherwise, so tests can
prove that a model failing at run time never stops the frame loop.

testdata/spin.onnx: input `n` float32 [1], output `y` float32 [64]. A Loop of n iterations of
y = y * 0.5 + 0.5 (so y is 1 when n >= 24): small n returns at once, n = 1e9 runs for minutes,
so tests can prove that a hung run is stopped by ONNX Runtime's run termination.
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


def spin():
    body = helper.make_graph(
        [
            helper.make_node("Identity", ["cond_in"], ["cond_out"]),
            helper.make_node("Constant", [], ["half"], value=helper.make_tensor("h", TensorProto.FLOAT, [], [0.5])),
            helper.make_node("Mul", ["y_in", "half"], ["scaled"]),
            helper.make_node("Add", ["scaled", "half"], ["y_out"]),
        ],
        "spin_body",
        [
            helper.make_tensor_value_info("i", TensorProto.INT64, []),
            helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []),
            helper.make_tensor_value_info("y_in", TensorProto.FLOAT, [64]),
        ],
        [
            helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []),
            helper.make_tensor_value_info("y_out", TensorProto.FLOAT, [64]),
        ],
    )
    nodes = [
        helper.make_node("Cast", ["n"], ["n64"], to=TensorProto.INT64),
        helper.make_node("Constant", [], ["axes"], value=helper.make_tensor("a", TensorProto.INT64, [1], [0])),
        helper.make_node("Squeeze", ["n64", "axes"], ["trips"]),
        helper.make_node("Constant", [], ["cond"], value=helper.make_tensor("c", TensorProto.BOOL, [], [True])),
        helper.make_node("Constant", [], ["y0"], value=helper.make_tensor("z", TensorProto.FLOAT, [64], [0.0] * 64)),
        helper.make_node("Loop", ["trips", "cond", "y0"], ["y"], body=body),
    ]
    graph = helper.make_graph(
        nodes,
        "spin",
        [helper.make_tensor_value_info("n", TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [64])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="hypna/models/make_test_models.py")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


if __name__ == "__main__":
    for name, make in [("raises", raises), ("spin", spin)]:
        out = os.path.join(HERE, "testdata", f"{name}.onnx")
        os.makedirs(os.path.dirname(out), exist_ok=True)
        onnx.save(make(), out)
        print(f"wrote {out}")
