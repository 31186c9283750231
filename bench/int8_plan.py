"""Benchmark: int8 serving with and without the int8 plan (products kept fp32), in one run.

    .venv/bin/python bench/int8_plan.py /tmp/s42

For each model: the fp32 ONNX graph as the reference, then int8 builds of it: every
product in int8 (finsent before the plan), the model's own plan (``int8.json``, what
``finsent train`` chose; planned afresh on ``valid.csv`` when the model has none), each
feed-forward output alone in fp32, and all of them. For each build, as served (n-gram
model and temperatures): accuracy and macro-F1 on ``valid.csv`` and on finsent's news
set, the texts whose label differs from fp32's, the mean KL divergence of the
transformer's probabilities from fp32's on ``valid.csv``, and texts/s on ``valid.csv``
(batch 32, the median of --repeat passes). The plan is chosen by the divergence alone:
labels and the news set are never looked at to choose.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import onnx  # noqa: E402

from bench.machine import header  # noqa: E402
from classifier.data import load_csv  # noqa: E402
from classifier.engine import Classifier  # noqa: E402
from classifier.int8_plan import (  # noqa: E402
    feed_forward_outputs,
    int8_build,
    mean_kl,
    plan_int8,
)
from classifier.labels import DEFAULT_LABEL_MAP, parse_label_map  # noqa: E402
from classifier.loading import load_engine  # noqa: E402
from classifier.metrics import classification_metrics  # noqa: E402
from classifier.ort import OnnxBackend, read_plan  # noqa: E402
from finsent.datasets import NEWS_EVAL_CSV, TFNS_DIR  # noqa: E402


def layer_of(node: str) -> str:
    """``layer.3`` for a node of the fourth layer; the node's name when it names none."""
    found = re.search(r"layer\.\d+", node)
    return found.group(0) if found else node


def speed(engine: Classifier, texts: list[str], repeat: int) -> float:
    """Texts/s of ``engine`` on ``texts``: the median of ``repeat`` passes after a warm-up."""
    engine.predict_proba(texts[:64])
    rates = []
    for _ in range(repeat):
        started = time.perf_counter()
        engine.predict_proba(texts)
        rates.append(len(texts) / (time.perf_counter() - started))
    return statistics.median(rates)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("models", nargs="+", metavar="MODEL")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    labels = parse_label_map(DEFAULT_LABEL_MAP)
    sets = {"valid.csv": load_csv(str(TFNS_DIR / "valid.csv"), labels)}
    sets["news set"] = load_csv(str(NEWS_EVAL_CSV), labels)
    valid = sets["valid.csv"].texts
    print(header())
    print(
        "\n| model | int8 build | fp32 products | valid.csv | news set | labels unlike fp32 "
        "(valid / news) | KL from fp32 | texts/s |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for model in args.models:
        options = {"variant": "onnx-fp32", "threads": args.threads}
        served = load_engine(model, **options)
        alone = load_engine(model, **options, ngram_weight=0, calibrated=False)
        assert isinstance(alone.backend, OnnxBackend)
        optimised = alone.backend.path
        reference = {name: served.predict_proba(data.texts) for name, data in sets.items()}
        raw_reference = alone.predict_proba(valid)
        candidates = feed_forward_outputs(onnx.load(str(optimised)).graph)
        plan = (
            read_plan(Path(model)) or plan_int8(Path(model), valid, threads=args.threads).fp32_nodes
        )
        builds = {
            "fp32 (the reference)": None,
            "every product in int8 (before)": (),
            "the model's plan": plan,
            **{f"{layer_of(name)}'s alone fp32": (name,) for name in candidates},
            "every feed-forward output fp32": tuple(candidates),
        }
        with tempfile.TemporaryDirectory(prefix="finsent-int8-bench-") as scratch:
            for label, keep in builds.items():
                if keep is None:
                    engine, raw = served, raw_reference
                else:
                    path = Path(scratch) / f"{len(keep)}-{abs(hash(keep))}.onnx"
                    engine = int8_build(served, keep, path, threads=args.threads)
                    raw = alone.with_backend(engine.backend).predict_proba(valid)
                cells, unlike = [], []
                for name, data in sets.items():
                    probs = engine.predict_proba(data.texts)
                    m = classification_metrics(data.labels, probs.argmax(axis=1).tolist())
                    cells.append(f"{m['accuracy']:.4f} / {m['macro_f1']:.4f}")
                    unlike.append(int((probs.argmax(1) != reference[name].argmax(1)).sum()))
                kept = "-" if keep is None else str(len(keep))
                print(
                    f"| {model} | {label} | {kept} | {' | '.join(cells)} | "
                    f"{unlike[0]} / {unlike[1]} | {mean_kl(raw_reference, raw):.5f} | "
                    f"{speed(engine, valid, args.repeat):.0f} |",
                    flush=True,
                )
        print(f"\n{model}: the plan keeps {list(plan) or 'nothing'} in fp32")


if __name__ == "__main__":
    main()
