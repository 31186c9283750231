"""Which matrix products of a model stay fp32 when finsent serves it in int8.

Dynamic int8 gives each activation tensor one scale, batch by batch. The input of a
transformer layer's feed-forward output projection (its GELU's output) carries outliers
(Bondarenko et al. 2021, "Understanding and Overcoming the Challenges of Efficient
Transformer Quantization"): in finsent's MiniLM student its largest values are 7-10x
its 99.9th percentile in the first layers, against 1-4x at every other product, so one
scale crushes the rest of the tensor. ``finsent train`` measures, on its validation
texts, how far the int8 model's probabilities are from fp32's (the mean KL divergence)
and keeps in fp32 the feed-forward outputs that bring it closest: greedily, one at a
time, each cutting the divergence by a fifth at least, at most ``max_nodes`` (each costs
about a tenth of int8's speed). The choice goes to ``int8.json`` beside the model, which
the ONNX build reads (:func:`classifier.ort.read_plan`). Labels are never looked at.
"""

from __future__ import annotations

import json
import logging
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from classifier.exceptions import ModelLoadError
from classifier.ort import BUILD, PLAN_FILE

if TYPE_CHECKING:
    from classifier.engine import Classifier

log = logging.getLogger(__name__)

#: ONNX Runtime's GELU operators, plain and fused: a product they feed is a feed-forward
#: output projection.
GELU_OPS = frozenset({"Gelu", "FastGelu", "BiasGelu", "QuickGelu"})
#: Each product kept in fp32 must cut the divergence by this share at least.
MIN_GAIN = 0.2
#: Validation texts measured at most: the divergence's mean is steady well before.
MAX_TEXTS = 1024


@dataclass(frozen=True, slots=True)
class Int8Plan:
    """What ``int8.json`` holds: the products kept fp32, and the mean KL divergence of the
    int8 probabilities from fp32's before and after, on ``texts`` validation texts."""

    fp32_nodes: tuple[str, ...]
    kl_all_int8: float
    kl_planned: float
    texts: int
    build: int = BUILD


def feed_forward_outputs(graph: Any) -> list[str]:
    """The MatMul nodes of an ONNX graph whose input a GELU produces, in graph order."""
    from_gelu = {out for node in graph.node if node.op_type in GELU_OPS for out in node.output}
    return [
        node.name
        for node in graph.node
        if node.op_type == "MatMul" and node.input and node.input[0] in from_gelu
    ]


def mean_kl(reference: npt.NDArray[np.floating], probs: npt.NDArray[np.floating]) -> float:
    """Mean over rows of KL(reference || probs), in nats."""
    p = np.clip(np.asarray(reference, dtype=np.float64), 1e-12, 1.0)
    q = np.clip(np.asarray(probs, dtype=np.float64), 1e-12, 1.0)
    return float(np.mean(np.sum(p * (np.log(p) - np.log(q)), axis=1)))


def greedy_fallback(
    candidates: Sequence[str],
    divergence: Callable[[tuple[str, ...]], float],
    *,
    max_nodes: int,
    min_gain: float = MIN_GAIN,
) -> tuple[tuple[str, ...], float, float]:
    """Nodes to keep in fp32, added one at a time while the best addition cuts
    ``divergence`` by ``min_gain`` of its value at least; with the divergence of every
    node in int8 and of the plan."""
    kept: tuple[str, ...] = ()
    start = current = divergence(kept)
    while len(kept) < max_nodes and current > 0:
        trials = {node: divergence((*kept, node)) for node in candidates if node not in kept}
        if not trials:
            break
        node, value = min(trials.items(), key=lambda item: item[1])
        if value > current * (1 - min_gain):
            break
        kept, current = (*kept, node), value
    return kept, start, current


def plan_int8(
    model_dir: Path, texts: Sequence[str], *, max_nodes: int = 2, threads: int = 0
) -> Int8Plan:
    """Measure and choose the products of ``model_dir`` kept fp32 in int8 (see the module's
    docstring); writes nothing."""
    import onnx

    from classifier.loading import load_engine
    from classifier.ort import OnnxBackend

    sample = list(texts[:MAX_TEXTS])
    fp32 = load_engine(
        str(model_dir), variant="onnx-fp32", threads=threads, ngram_weight=0, calibrated=False
    )
    if not isinstance(fp32.backend, OnnxBackend):
        raise ModelLoadError(f"{model_dir}: no ONNX Runtime session to plan int8 on")
    optimised = fp32.backend.path
    reference = fp32.predict_proba(sample)
    candidates = feed_forward_outputs(onnx.load(str(optimised)).graph)

    with tempfile.TemporaryDirectory(prefix="finsent-int8-") as scratch:

        def divergence(keep: tuple[str, ...]) -> float:
            int8 = int8_build(fp32, keep, Path(scratch) / "trial.onnx", threads=threads)
            return mean_kl(reference, int8.predict_proba(sample))

        kept, before, after = greedy_fallback(candidates, divergence, max_nodes=max_nodes)
    plan = Int8Plan(kept, round(before, 6), round(after, 6), len(sample))
    log.info(
        "int8 plan: %d of %d feed-forward outputs kept fp32; KL from fp32 %.5f -> %.5f",
        len(kept),
        len(candidates),
        before,
        after,
    )
    return plan


def int8_build(fp32: Classifier, keep: tuple[str, ...], path: Path, *, threads: int) -> Classifier:
    """``fp32`` (an onnx-fp32 engine) over an int8 build of its graph, written to ``path``,
    that keeps the products named in ``keep`` fp32."""
    from classifier.ort import OnnxBackend, quantise

    if not isinstance(fp32.backend, OnnxBackend):
        raise ModelLoadError(f"{fp32.model_name}: no ONNX graph to build int8 from")
    quantise(fp32.backend.path, path, keep)
    return fp32.with_backend(OnnxBackend(path, variant="onnx-int8", threads=threads))


def write_plan(model_dir: Path, plan: Int8Plan) -> None:
    """``int8.json`` beside the model."""
    text = json.dumps(asdict(plan), indent=2) + "\n"
    (model_dir / PLAN_FILE).write_text(text, encoding="utf-8")
