"""The int8 plan: which feed-forward outputs stay fp32, chosen by how close int8 stays to
fp32, written beside the model and obeyed by the ONNX build."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from classifier import ort
from classifier.int8_plan import (
    Int8Plan,
    feed_forward_outputs,
    greedy_fallback,
    mean_kl,
    write_plan,
)
from classifier.loading import load_engine
from classifier.train import train
from testkit.classifier_support import tiny_config


def test_the_divergence_is_zero_for_equal_probabilities_and_grows_with_the_gap() -> None:
    p = np.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]])
    near = np.array([[0.65, 0.25, 0.1], [0.1, 0.15, 0.75]])
    far = np.array([[0.2, 0.2, 0.6], [0.8, 0.1, 0.1]])
    assert mean_kl(p, p) == pytest.approx(0.0, abs=1e-12)
    assert 0 < mean_kl(p, near) < mean_kl(p, far)
    assert np.isfinite(mean_kl(p, np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])))


def divergences(table: dict[frozenset[str], float]) -> Any:
    calls: list[tuple[str, ...]] = []

    def divergence(keep: tuple[str, ...]) -> float:
        calls.append(keep)
        return table[frozenset(keep)]

    divergence.calls = calls  # type: ignore[attr-defined]
    return divergence


def test_the_greedy_keeps_the_best_node_while_it_cuts_a_fifth() -> None:
    d = divergences(
        {
            frozenset(): 1.0,
            frozenset({"a"}): 0.9,  # a tenth: not enough alone
            frozenset({"b"}): 0.5,
            frozenset({"c"}): 0.95,
            frozenset({"b", "a"}): 0.45,  # a tenth of 0.5: stop here
            frozenset({"b", "c"}): 0.48,
        }
    )
    kept, before, after = greedy_fallback(["a", "b", "c"], d, max_nodes=3)
    assert kept == ("b",) and (before, after) == (1.0, 0.5)


def test_the_greedy_stops_at_its_budget_and_does_nothing_when_nothing_helps() -> None:
    table = {
        frozenset(): 1.0,
        frozenset({"a"}): 0.5,
        frozenset({"b"}): 0.6,
        frozenset({"a", "b"}): 0.1,
    }
    assert greedy_fallback(["a", "b"], divergences(table), max_nodes=1)[0] == ("a",)
    assert greedy_fallback(["a", "b"], divergences(table), max_nodes=2)[0] == ("a", "b")
    flat = divergences({frozenset(): 1.0, frozenset({"a"}): 0.99, frozenset({"b"}): 1.01})
    assert greedy_fallback(["a", "b"], flat, max_nodes=2) == ((), 1.0, 1.0)
    assert greedy_fallback([], flat, max_nodes=2) == ((), 1.0, 1.0)


def test_the_candidates_are_the_products_a_gelu_feeds() -> None:
    def matmul(name: str, source: str, out: str) -> Any:
        return helper.make_node("MatMul", [source, f"{name}_w"], [out], name=name)

    nodes = [
        matmul("up", "x", "h"),
        helper.make_node("Gelu", ["h"], ["g"], name="gelu", domain="com.microsoft"),
        matmul("down", "g", "y"),
        helper.make_node("FastGelu", ["y"], ["g2"], name="fast", domain="com.microsoft"),
        matmul("down2", "g2", "z"),
        matmul("other", "z", "out"),
    ]
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, [1, 4])],
    )
    assert feed_forward_outputs(graph) == ["down", "down2"]


def test_a_plan_is_read_only_when_it_is_whole_and_of_this_build(tmp_path: Path) -> None:
    assert ort.read_plan(None) == () and ort.read_plan(tmp_path) == ()
    write_plan(tmp_path, Int8Plan(("n1", "n2"), 0.002, 0.001, 100))
    assert ort.read_plan(tmp_path) == ("n1", "n2")
    plan = tmp_path / ort.PLAN_FILE
    for broken in ("{", json.dumps({"fp32_nodes": "n1", "build": ort.BUILD}), "[]"):
        plan.write_text(broken, encoding="utf-8")
        assert ort.read_plan(tmp_path) == ()
    plan.write_text(json.dumps({"fp32_nodes": ["n1"], "build": ort.BUILD - 1}), encoding="utf-8")
    assert ort.read_plan(tmp_path) == ()  # node names of another graph build


def test_the_int8_file_is_rebuilt_when_the_plan_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text("{}")
    built: list[tuple[str, ...]] = []

    def fake_quantise(src: Path, dst: Path, keep: tuple[str, ...] = ()) -> None:
        built.append(keep)
        dst.write_text(",".join(keep))

    monkeypatch.setattr(ort, "export", lambda model, path: path.write_text("export"))
    monkeypatch.setattr(ort, "optimise", lambda src, dst, **_: dst.write_text("opt"))
    monkeypatch.setattr(ort, "quantise", fake_quantise)

    def int8() -> str:
        path = ort.prepare(
            "onnx-int8", model_dir=model, model_id="m", load_torch_model=lambda: None, config=None
        )
        return path.read_text()

    assert int8() == "" and int8() == ""  # no plan: every product in int8, built once
    write_plan(model, Int8Plan(("ffn0",), 0.002, 0.001, 10))
    assert int8() == "ffn0" and int8() == "ffn0"
    (model / ort.PLAN_FILE).unlink()
    assert int8() == ""
    assert built == [(), ("ffn0",), ()]


def test_a_trained_model_is_served_in_int8_as_planned(data_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "planned"
    result = train(tiny_config(data_dir, out, layers=2, int8_fallback=2), progress=False)
    facts = json.loads((out / ort.PLAN_FILE).read_text(encoding="utf-8"))
    assert facts == {**result.metrics["int8"], "fp32_nodes": facts["fp32_nodes"]}
    assert facts["texts"] == 90 and facts["build"] == ort.BUILD
    assert 0 <= facts["kl_planned"] <= facts["kl_all_int8"]
    assert len(facts["fp32_nodes"]) <= 2
    assert "## int8 serving" in (out / "README.md").read_text(encoding="utf-8")

    candidates = feed_forward_outputs(onnx.load(str(out / "onnx" / "model-opt.onnx")).graph)
    assert len(candidates) == 2  # one per layer
    for plan in (tuple(facts["fp32_nodes"]), tuple(candidates), ()):
        write_plan(out, Int8Plan(plan, 0.002, 0.001, 90))
        engine = load_engine(str(out), variant="onnx-int8", threads=2)
        graph = onnx.load(str(engine.backend.path)).graph  # type: ignore[attr-defined]
        ops = {node.name: node.op_type for node in graph.node}
        for name in candidates:  # kept: the plain fp32 node; else its int8 form instead
            assert (ops.get(name) == "MatMul") == (name in plan)
        assert "DynamicQuantizeMatMul" in ops.values() or "MatMulInteger" in ops.values()
        probs = engine.predict_proba(["Shares of Acme jump after record profit"])
        assert probs.shape == (1, 3) and np.isclose(probs.sum(), 1.0)
