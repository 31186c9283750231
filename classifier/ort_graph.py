"""Graph rewrites applied to the fused ONNX graph before it is served.

ONNX Runtime's CPU kernels for ``LayerNormalization`` and ``SkipLayerNormalization``
sum each row's mean and variance in a scalar loop, one dependent add after another. On
the 2-core machines finsent is measured on (BENCHMARKS.md, "Layer norm, decomposed")
that loop took a quarter of a fused int8 forward pass, as much as all the attention.
The same arithmetic written as ordinary operators (``ReduceMean``, ``Sub``, ``Mul``,
``Sqrt``, ``Div``, ``Add``) runs on vectorised kernels: the int8 graph answers about a
quarter faster, with the same results (a unit test compares them).

:func:`decompose_layer_norms` rewrites a graph in place. The variance is written as
``Mul(d, d)``, which ONNX Runtime 1.32's layer-norm fusion does not match (it looks for
``Pow``); the session also disables the optimisers that could fuse the pattern back in
another version (:data:`FUSE_BACK_OPTIMIZERS`). The embeddings' own layer norm stays
inside ``EmbedLayerNormalization`` (one node a forward pass, 1 % of its time).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

#: ONNX Runtime's session optimisers that would fuse a decomposed layer norm back into
#: the slow kernels; :class:`classifier.ort.OnnxBackend` disables them.
FUSE_BACK_OPTIMIZERS = ("LayerNormFusion", "SkipLayerNormFusion")

_DECOMPOSED = {"LayerNormalization", "SkipLayerNormalization"}


def decompose_layer_norms(model: Any) -> int:
    """Replace every (Skip)LayerNormalization over the last axis in ``model`` (an
    ``onnx.ModelProto``) by the equivalent plain operators; return how many were
    replaced. A node that normalises another axis, or whose statistics outputs are
    used, is left fused."""
    from onnx import helper, numpy_helper

    graph = model.graph
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 17)
    used = {name for node in graph.node for name in node.input} | {o.name for o in graph.output}
    nodes: list[Any] = []
    initializers: list[Any] = []
    replaced = 0
    for index, node in enumerate(graph.node):
        plan = _plan(node, used)
        if plan is None:
            nodes.append(node)
            continue
        prefix = f"{node.name or node.op_type}_{index}_ln"
        epsilon = float(next((a.f for a in node.attribute if a.name == "epsilon"), 1e-5))
        eps_name = f"{prefix}_eps"
        initializers.append(numpy_helper.from_array(_scalar(epsilon), eps_name))
        reduce = _reduce_mean(helper, opset)
        if opset >= 18:  # ReduceMean takes its axes as an input from opset 18 on
            initializers.append(numpy_helper.from_array(_last_axis(), f"{prefix}_axes"))
        nodes.extend(_decomposed(helper, prefix, plan, eps_name, reduce))
        replaced += 1
    if replaced:
        del graph.node[:]
        graph.node.extend(nodes)
        graph.initializer.extend(initializers)
    return replaced


def _scalar(value: float) -> Any:
    import numpy as np

    return np.asarray(value, dtype=np.float32)


def _last_axis() -> Any:
    import numpy as np

    return np.asarray([-1], dtype=np.int64)


def _reduce_mean(helper: Any, opset: int) -> Callable[[str, str, str], Any]:
    """A maker of ``ReduceMean(src) -> dst`` over the last axis for the graph's opset."""

    def make(prefix: str, src: str, dst: str) -> Any:
        if opset >= 18:
            return helper.make_node("ReduceMean", [src, f"{prefix}_axes"], [dst])
        return helper.make_node("ReduceMean", [src], [dst], axes=[-1])

    return make


def _plan(node: Any, used: set[str]) -> dict[str, str] | None:
    """The tensors a decomposition of ``node`` reads and writes, or None to keep it."""
    if node.domain not in ("", "ai.onnx", "com.microsoft") or node.op_type not in _DECOMPOSED:
        return None
    inputs = list(node.input) + [""] * 5
    outputs = list(node.output) + [""] * 4
    if node.op_type == "LayerNormalization":
        axis = next((a.i for a in node.attribute if a.name == "axis"), -1)
        if axis != -1 or any(o and o in used for o in outputs[1:3]):
            return None
        return {"x": inputs[0], "gamma": inputs[1], "beta": inputs[2], "out": outputs[0]}
    # SkipLayerNormalization: input, skip, gamma, beta?, bias?; output, mean?,
    # inv_std_var?, input_skip_bias_sum?
    if any(o and o in used for o in outputs[1:3]):
        return None
    return {
        "x": inputs[0],
        "skip": inputs[1],
        "gamma": inputs[2],
        "beta": inputs[3],
        "bias": inputs[4],
        "out": outputs[0],
        "sum": outputs[3] if outputs[3] in used else "",
    }


def _decomposed(
    helper: Any, p: str, plan: dict[str, str], eps: str, reduce: Callable[[str, str, str], Any]
) -> list[Any]:
    """``y = (s - mean(s)) / sqrt(var(s) + eps) * gamma + beta`` over the last axis, where
    ``s`` is the input (plus skip and bias for SkipLayerNormalization)."""
    made: list[Any] = []
    s = plan["x"]
    for extra in ("skip", "bias"):
        if plan.get(extra):
            total = f"{p}_{extra}"
            made.append(helper.make_node("Add", [s, plan[extra]], [total]))
            s = total
    if plan.get("sum"):
        made.append(helper.make_node("Identity", [s], [plan["sum"]]))
    scaled = f"{p}_scaled" if plan["beta"] else plan["out"]
    made += [
        reduce(p, s, f"{p}_mean"),
        helper.make_node("Sub", [s, f"{p}_mean"], [f"{p}_centred"]),
        helper.make_node("Mul", [f"{p}_centred", f"{p}_centred"], [f"{p}_squared"]),
        reduce(p, f"{p}_squared", f"{p}_var"),
        helper.make_node("Add", [f"{p}_var", eps], [f"{p}_var_eps"]),
        helper.make_node("Sqrt", [f"{p}_var_eps"], [f"{p}_std"]),
        helper.make_node("Div", [f"{p}_centred", f"{p}_std"], [f"{p}_normed"]),
        helper.make_node("Mul", [f"{p}_normed", plan["gamma"]], [scaled]),
    ]
    if plan["beta"]:
        made.append(helper.make_node("Add", [scaled, plan["beta"]], [plan["out"]]))
    return made
