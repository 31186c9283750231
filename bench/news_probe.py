"""Benchmark: trained models on news (finsent's own news set), beside the tweets they learned from.

    .venv/bin/python bench/news_probe.py /tmp/full-s42 /tmp/teacher-mpnet

The shipped training data are finance tweets; finsent reads news headlines.
``finsent/data/news_eval/news_eval.csv`` holds 614 news headlines and report sentences
written for finsent (182 negative, 183 positive, 249 neutral; provenance and labelling
rule in its README), never trained or tuned on; ``finsent train`` reports it in every
model card. For each model, the transformer alone and with its n-gram model (as served),
on the news set, on its headlines and its sentences apart, and on the shipped
``valid.csv``: accuracy, macro-F1, weighted F1, each class's recall (the failure the
issue names is bullish news read as neutral), the temperature the model was calibrated
with and the expected calibration error of its probabilities as served and raw.

One item is 0.16 pt of accuracy on the whole set, 0.33 pt on a kind: read differences
of two or three items as noise, and never tune on it.
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.machine import header  # noqa: E402
from classifier.calibration import expected_calibration_error  # noqa: E402
from classifier.data import LabelledData, load_csv  # noqa: E402
from classifier.engine import Classifier  # noqa: E402
from classifier.labels import CANONICAL, DEFAULT_LABEL_MAP, parse_label_map  # noqa: E402
from classifier.loading import load_engine  # noqa: E402
from classifier.metrics import classification_metrics  # noqa: E402
from finsent.datasets import NEWS_EVAL_CSV, TFNS_DIR  # noqa: E402


def by_kind(path: str, data: LabelledData) -> dict[str, LabelledData]:
    """The rows of each ``kind`` (the CSV's column; headline or sentence), in file order."""
    with open(path, encoding="utf-8", newline="") as f:
        kinds = [row["kind"] for row in csv.DictReader(f)]
    if len(kinds) != len(data):
        raise SystemExit(f"{path}: {len(kinds)} kinds for {len(data)} rows")
    return {
        kind: LabelledData(
            path=f"{path} ({kind})",
            texts=[t for t, k in zip(data.texts, kinds, strict=True) if k == kind],
            labels=[y for y, k in zip(data.labels, kinds, strict=True) if k == kind],
        )
        for kind in sorted(set(kinds))
    }


def cells(engine: Classifier, raw_engine: Classifier, data: LabelledData) -> str:
    """A model's scores on one data set, as markdown table cells: accuracy, macro-F1,
    weighted F1, each class's recall, its temperatures (texts the n-gram model votes
    on / the others) and the expected calibration error of its probabilities as served
    (calibrated, when the model has ``calibration.json``) and raw (``raw_engine``)."""
    probs = engine.predict_proba(data.texts)
    m = classification_metrics(data.labels, probs.argmax(axis=1).tolist())
    recalls = " | ".join(f"{m['per_class'][name]['recall']:.3f}" for name in CANONICAL)
    raw = raw_engine.predict_proba(data.texts)
    ece = (
        f"{expected_calibration_error(probs, data.labels):.3f} / "
        f"{expected_calibration_error(raw, data.labels):.3f}"
    )
    temperatures = f"{engine.temperature:g} / {engine.alone_temperature:g}"
    return (
        f"{m['accuracy']:.4f} | {m['macro_f1']:.4f} | {m['weighted_f1']:.4f} | {recalls} | "
        f"{temperatures} | {ece}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("models", nargs="+", metavar="MODEL")
    parser.add_argument("--news", default=str(NEWS_EVAL_CSV))
    parser.add_argument("--valid", default=str(TFNS_DIR / "valid.csv"))
    parser.add_argument("--labels", default=DEFAULT_LABEL_MAP)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    label_map = parse_label_map(args.labels)
    news = load_csv(args.news, label_map)
    sets = {
        "news set": news,
        **{f"news {kind}s": rows for kind, rows in by_kind(args.news, news).items()},
        "valid.csv": load_csv(args.valid, label_map),
    }
    print(header())
    for name, data in sets.items():
        print(f"- {name}: {data.path}, {len(data)} rows {data.counts()}")
    recall_heads = " | ".join(f"recall {name}" for name in CANONICAL)
    print(
        f"\n| model | as | data | accuracy | macro-F1 | weighted F1 | {recall_heads} | "
        "T n-gram / alone | ECE calibrated / raw |"
    )
    print("|---|---|---|---:|---:|---:|" + "---:|" * len(CANONICAL) + "---:|---:|")
    for model in args.models:
        for label, weight in (("transformer alone", 0.0), ("served (with n-gram)", None)):
            options = {"variant": "fp32", "threads": args.threads, "ngram_weight": weight}
            engine = load_engine(model, **options)
            raw_engine = load_engine(model, **options, calibrated=False)
            for name, data in sets.items():
                print(f"| {model} | {label} | {name} | {cells(engine, raw_engine, data)} |")


if __name__ == "__main__":
    main()
