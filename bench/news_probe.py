"""Benchmark: trained models on news sentences, beside the tweets they learned from.

    .venv/bin/python bench/news_probe.py /tmp/full-s42 /tmp/full-rdrop

The shipped training data are finance tweets; finsent reads news headlines. ``bench/data/
news_probe.csv`` holds 180 news-style sentences written for this check (60 bearish,
60 bullish, 60 neutral; label map ``0=negative,1=positive,2=neutral``, as the shipped
data): wire-service headlines and report sentences, none taken from the training data.
For each model, the transformer alone and with its n-gram model (as served), on the
probe and on the shipped ``valid.csv``: accuracy, macro-F1 and the recall of each class
(the failure the issue names is bullish news read as neutral).

180 sentences are few: one sentence is 0.56 pt of accuracy and 1.7 pt of a class's
recall. Read differences of a few sentences as noise, and never tune on the probe.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.machine import header  # noqa: E402
from classifier.data import LabelledData, load_csv  # noqa: E402
from classifier.engine import Classifier  # noqa: E402
from classifier.labels import CANONICAL, DEFAULT_LABEL_MAP, parse_label_map  # noqa: E402
from classifier.loading import load_engine  # noqa: E402
from classifier.metrics import classification_metrics  # noqa: E402
from finsent.datasets import TFNS_DIR  # noqa: E402

PROBE = REPO / "bench" / "data" / "news_probe.csv"


def cells(engine: Classifier, data: LabelledData) -> str:
    """A model's scores on one data set, as markdown table cells."""
    predicted = engine.predict_proba(data.texts).argmax(axis=1).tolist()
    m = classification_metrics(data.labels, predicted)
    recalls = " | ".join(f"{m['per_class'][name]['recall']:.3f}" for name in CANONICAL)
    return f"{m['accuracy']:.4f} | {m['macro_f1']:.4f} | {m['weighted_f1']:.4f} | {recalls}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("models", nargs="+", metavar="MODEL")
    parser.add_argument("--probe", default=str(PROBE))
    parser.add_argument("--valid", default=str(TFNS_DIR / "valid.csv"))
    parser.add_argument("--labels", default=DEFAULT_LABEL_MAP)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    label_map = parse_label_map(args.labels)
    sets = {
        "news probe": load_csv(args.probe, label_map),
        "valid.csv": load_csv(args.valid, label_map),
    }
    print(header())
    for name, data in sets.items():
        print(f"- {name}: {data.path}, {len(data)} rows {data.counts()}")
    recall_heads = " | ".join(f"recall {name}" for name in CANONICAL)
    print(f"\n| model | as | data | accuracy | macro-F1 | weighted F1 | {recall_heads} |")
    print("|---|---|---|---:|---:|---:|" + "---:|" * len(CANONICAL))
    for model in args.models:
        for label, weight in (("transformer alone", 0.0), ("served (with n-gram)", None)):
            engine = load_engine(model, variant="fp32", threads=args.threads, ngram_weight=weight)
            for name, data in sets.items():
                print(f"| {model} | {label} | {name} | {cells(engine, data)} |")


if __name__ == "__main__":
    main()
