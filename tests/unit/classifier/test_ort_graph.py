"""Decomposed layer norms compute what ONNX Runtime's fused kernels compute."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from classifier.ort_graph import decompose_layer_norms  # noqa: E402

HIDDEN = 24
RNG = np.random.default_rng(7)


def _model(nodes: list[Any], inputs: list[str], outputs: list[str], opset: int) -> Any:
    initializers = [
        numpy_helper.from_array(RNG.normal(1, 0.2, HIDDEN).astype(np.float32), "gamma"),
        numpy_helper.from_array(RNG.normal(0, 0.2, HIDDEN).astype(np.float32), "beta"),
        numpy_helper.from_array(RNG.normal(0, 0.2, HIDDEN).astype(np.float32), "bias"),
    ]
    graph = helper.make_graph(
        nodes,
        "norms",
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, ["b", "s", HIDDEN]) for n in inputs],
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, None) for n in outputs],
        initializers,
    )
    opsets = [helper.make_opsetid("", opset), helper.make_opsetid("com.microsoft", 1)]
    return helper.make_model(graph, opset_imports=opsets)


def _run(model: Any, feed: dict[str, Any]) -> list[Any]:
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    session = ort.InferenceSession(
        model.SerializeToString(), options, providers=["CPUExecutionProvider"]
    )
    return list(session.run(None, feed))


def _ops(model: Any) -> set[str]:
    return {node.op_type for node in model.graph.node}


@pytest.mark.parametrize("opset", [17, 18])
def test_a_layer_norm_decomposes_to_the_same_values(opset: int) -> None:
    node = helper.make_node(
        "LayerNormalization", ["x", "gamma", "beta"], ["y"], axis=-1, epsilon=1e-5
    )
    model = _model([node], ["x"], ["y"], opset)
    feed = {"x": RNG.normal(3, 2, (2, 5, HIDDEN)).astype(np.float32)}
    (fused,) = _run(model, feed)

    assert decompose_layer_norms(model) == 1
    assert "LayerNormalization" not in _ops(model)
    (plain,) = _run(model, feed)
    np.testing.assert_allclose(plain, fused, atol=1e-5)


def test_a_skip_layer_norm_with_bias_keeps_its_sum_output() -> None:
    node = helper.make_node(
        "SkipLayerNormalization",
        ["x", "skip", "gamma", "beta", "bias"],
        ["y", "", "", "sum"],
        domain="com.microsoft",
        epsilon=1e-12,
    )
    model = _model([node], ["x", "skip"], ["y", "sum"], 17)
    feed = {
        "x": RNG.normal(0, 1, (3, 4, HIDDEN)).astype(np.float32),
        "skip": RNG.normal(0, 1, (3, 4, HIDDEN)).astype(np.float32),
    }
    fused = _run(model, feed)

    assert decompose_layer_norms(model) == 1
    assert "SkipLayerNormalization" not in _ops(model)
    plain = _run(model, feed)
    np.testing.assert_allclose(plain[0], fused[0], atol=1e-5)
    np.testing.assert_allclose(plain[1], fused[1], atol=1e-6)


def test_a_norm_over_another_axis_or_with_used_statistics_stays_fused() -> None:
    other_axis = helper.make_node(
        "LayerNormalization", ["x", "gamma", "beta"], ["y"], axis=1, epsilon=1e-5
    )
    stats = helper.make_node(
        "LayerNormalization", ["x", "gamma", "beta"], ["z", "mean"], axis=-1, epsilon=1e-5
    )
    model = _model([other_axis, stats], ["x"], ["y", "z", "mean"], 17)
    assert decompose_layer_norms(model) == 0
    assert [n.op_type for n in model.graph.node] == ["LayerNormalization"] * 2
