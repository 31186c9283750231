"""Benchmark: several fine-tuned models alone, as ensembles, and as one weight soup.

    .venv/bin/python bench/ensemble.py /tmp/full-s42 /tmp/full-s7 /tmp/full-s13

On a labelled CSV (default: the shipped ``valid.csv``): each model's accuracy and
macro-F1; the ensemble of all of them by mean probability (what ``finsent train
--teacher`` distils) and by mean log-probability; a uniform average of their weights
(a "soup", one model); and, as an upper bound only, the best constant shift of the
negative and positive logits tuned on this same CSV (a re-thresholding cannot beat it).
Every model runs through the engine (onnx-fp32: the same outputs as fp32), its
transformer alone (no n-gram model).
"""

from __future__ import annotations

import argparse
import itertools
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
import numpy.typing as npt

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.machine import header  # noqa: E402
from classifier.data import load_csv  # noqa: E402
from classifier.labels import DEFAULT_LABEL_MAP, parse_label_map  # noqa: E402
from classifier.loading import load_engine  # noqa: E402
from classifier.metrics import classification_metrics  # noqa: E402
from finsent.datasets import TFNS_DIR  # noqa: E402

DATA = TFNS_DIR / "valid.csv"
Floats = npt.NDArray[np.float64]


def scores(gold: list[int], logits: Floats) -> tuple[float, float]:
    m = classification_metrics(gold, logits.argmax(axis=1).tolist())
    return float(m["accuracy"]), float(m["macro_f1"])


def best_shift(gold: list[int], logits: Floats, step: float = 0.1) -> tuple[float, float, float]:
    """The best macro-F1 over constant shifts of the negative and positive logits."""
    grid = np.arange(-1.0, 1.0 + step / 2, step)
    best = (0.0, 0.0, 0.0)
    for neg, pos in itertools.product(grid, repeat=2):
        _, f1 = scores(gold, logits + np.array([neg, 0.0, pos]))
        if f1 > best[0]:
            best = (f1, float(neg), float(pos))
    return best


def soup(models: list[str], out: Path) -> Path:
    """A model directory whose weights are the mean of the models' (same architecture)."""
    import torch
    from safetensors.torch import load_file, save_file

    states = [load_file(str(Path(m) / "model.safetensors")) for m in models]
    mean = {k: torch.stack([s[k].float() for s in states]).mean(dim=0) for k in states[0]}
    for f in Path(models[0]).iterdir():
        if f.is_file() and f.name != "model.safetensors":
            shutil.copy(f, out / f.name)
    save_file(mean, str(out / "model.safetensors"), metadata={"format": "pt"})
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("models", nargs="+", help="model directories (two or more)")
    parser.add_argument("--csv", default=str(DATA))
    parser.add_argument("--labels", default=DEFAULT_LABEL_MAP)
    parser.add_argument("--threads", type=int, default=0)
    args = parser.parse_args()
    if len(args.models) < 2:
        parser.error("give two or more models")

    data = load_csv(args.csv, parse_label_map(args.labels))
    gold = list(data.labels)

    def log_probs(model: str) -> Floats:
        engine = load_engine(model, variant="onnx-fp32", threads=args.threads, ngram_weight=0)
        return np.log(np.clip(engine.predict_proba(data.texts), 1e-12, None))

    each = [log_probs(m) for m in args.models]
    rows = [(m, "1x", *scores(gold, lp)) for m, lp in zip(args.models, each, strict=True)]
    k = f"{len(each)}x"
    mean_prob = np.log(np.mean([np.exp(lp) for lp in each], axis=0))
    mean_log = np.mean(each, axis=0)
    rows.append(("ensemble, mean probabilities", k, *scores(gold, mean_prob)))
    rows.append(("ensemble, mean log-probabilities", k, *scores(gold, mean_log)))
    with tempfile.TemporaryDirectory(prefix="finsent-soup-") as folder:
        rows.append(
            (
                "uniform weight soup",
                "1x",
                *scores(gold, log_probs(str(soup(args.models, Path(folder))))),
            )
        )

    print(header())
    print(f"- data: {args.csv} ({len(gold)} rows)\n")
    print("| model | inference cost | accuracy | macro-F1 |")
    print("|---|---:|---:|---:|")
    for name, cost, accuracy, f1 in rows:
        print(f"| {name} | {cost} | {accuracy:.4f} | {f1:.4f} |")
    print("\nUpper bounds (logit shifts tuned on this same CSV; not a method):")
    for name, logits in (("first model", each[0]), ("ensemble, mean log-probabilities", mean_log)):
        f1, neg, pos = best_shift(gold, logits)
        print(f"- {name}: macro-F1 {f1:.4f} (negative {neg:+.1f}, positive {pos:+.1f})")


if __name__ == "__main__":
    main()
