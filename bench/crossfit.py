"""Benchmark: cross-fitted teachers, and a student distilled from their soft labels.

    .venv/bin/python bench/crossfit.py --folds 5 --work /tmp/crossfit --threads 2

1. ``train.csv`` is split into K stratified folds (seeded).
2. For each fold a teacher is fine-tuned (profile ``full``) on the other K-1 folds,
   early-stopped on ``valid.csv`` like any run.
3. Each teacher scores only the fold it did not see, so every training row gets
   probabilities from a model that never saw that row: honest soft labels, not the
   overconfident ones a teacher gives the texts it was trained on.
4. Those rows go to ``WORK/train-soft.csv`` (``text,label,p_negative,p_neutral,
   p_positive``), a training CSV that ``finsent train`` distils from directly.
5. The student (profile ``full``, seed 42) trains on it; its validation figures are
   the result.

Every step is kept on disk and skipped when its output is already there, so a long
run resumes where it stopped.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import random
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.machine import header  # noqa: E402
from classifier.data import SOFT_COLUMNS, LabelledData, load_csv  # noqa: E402
from classifier.labels import CANONICAL, CANONICAL_INDEX, DEFAULT_LABEL_MAP, parse_label_map  # noqa: E402
from classifier.loading import load_engine  # noqa: E402
from classifier.metrics import classification_metrics  # noqa: E402
from classifier.train import PROFILES, profile_config, train  # noqa: E402
from finsent.datasets import TFNS_DIR  # noqa: E402

log = logging.getLogger("crossfit")


def stratified_folds(labels: list[int], k: int, seed: int) -> list[int]:
    """Fold index per row: each label's rows dealt round-robin after a seeded shuffle."""
    rng = random.Random(seed)
    fold = [0] * len(labels)
    for label in sorted(set(labels)):
        rows = [i for i, y in enumerate(labels) if y == label]
        rng.shuffle(rows)
        for n, i in enumerate(rows):
            fold[i] = n % k
    return fold


def write_rows(
    path: Path,
    data: LabelledData,
    rows: list[int],
    raw: dict[int, str],
    probs: np.ndarray | None,
) -> None:
    """Rows of ``data`` with their raw labels, and soft-label columns when given."""
    tmp = path.with_suffix(".tmp")
    with tmp.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["text", "label", *(SOFT_COLUMNS if probs is not None else [])])
        for n, i in enumerate(rows):
            extra = [f"{p:.6f}" for p in probs[n]] if probs is not None else []
            writer.writerow([data.texts[i], raw[data.labels[i]], *extra])
    tmp.replace(path)


def fit(args: argparse.Namespace, train_csv: Path, out: Path, seed: int, **extra: Any) -> None:
    """One fine-tuning run of the chosen profile (``extra``: its overrides; None: keep)."""
    config = profile_config(
        args.profile,
        train_csv=str(train_csv),
        valid_csv=args.valid,
        labels=args.labels,
        out=str(out),
        seed=seed,
        threads=args.threads,
        **extra,
    )
    train(config, progress=not args.no_progress)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--train", default=str(TFNS_DIR / "train.csv"))
    parser.add_argument("--valid", default=str(TFNS_DIR / "valid.csv"))
    parser.add_argument("--labels", default=DEFAULT_LABEL_MAP)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--work", default=str(Path(tempfile.gettempdir()) / "finsent-crossfit"))
    parser.add_argument("--profile", choices=sorted(PROFILES), default="full")
    parser.add_argument("--distill-weight", type=float)
    parser.add_argument("--distill-temperature", type=float)
    parser.add_argument(
        "--teacher-patience", type=int, help="the teachers' early stopping (0: none)"
    )
    parser.add_argument("--student-epochs", type=int)
    parser.add_argument("--ema-decay", type=float, help="the student's (default: the profile's)")
    parser.add_argument("--student-out", default=None, help="default WORK/student")
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args()
    if args.folds < 2:
        parser.error("--folds must be at least 2")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")

    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    label_map = parse_label_map(args.labels)
    data = load_csv(args.train, label_map)
    # the label each canonical class is written with, so the same --labels reads it back
    raw = {CANONICAL_INDEX[name]: value for value, name in label_map.items()} or dict(
        enumerate(CANONICAL)
    )
    fold = stratified_folds(data.labels, args.folds, args.seed)
    soft_csv = work / "train-soft.csv"
    max_length = int(PROFILES[args.profile]["max_length"])  # what the teachers trained at
    teachers: list[dict[str, float]] = []
    if not soft_csv.exists():
        probs = np.zeros((len(data), 3), dtype=np.float64)
        for k in range(args.folds):
            seen = [i for i in range(len(data)) if fold[i] != k]
            held = [i for i in range(len(data)) if fold[i] == k]
            fold_csv = work / f"fold{k}-train.csv"
            teacher = work / f"teacher{k}"
            if not (teacher / "metrics.json").is_file():
                write_rows(fold_csv, data, seen, raw, None)
                log.info("teacher %d: %d rows, fold %d held out", k, len(seen), k)
                # a teacher teaches alone: no n-gram model, its epoch kept by its own score
                fit(
                    args,
                    fold_csv,
                    teacher,
                    args.seed + k,
                    patience=args.teacher_patience,
                    ngram_weight=0,
                )
            engine = load_engine(
                str(teacher),
                variant="fp32",
                threads=args.threads,
                max_length=max_length,
                ngram_weight=0,  # the transformer teaches (as with --teacher)
            )
            probs[held] = engine.predict_proba([data.texts[i] for i in held])
        write_rows(soft_csv, data, list(range(len(data))), raw, probs)
    for k in range(args.folds):
        m = json.loads((work / f"teacher{k}" / "metrics.json").read_text(encoding="utf-8"))
        alone = m.get("transformer_alone", m)  # metrics.json before n-gram models: just m
        teachers.append({"accuracy": alone["accuracy"], "macro_f1": alone["macro_f1"]})

    soft = load_csv(soft_csv, label_map)
    assert soft.soft is not None
    held_out = classification_metrics(soft.labels, np.asarray(soft.soft).argmax(axis=1).tolist())

    student = Path(args.student_out or work / "student")
    if not (student / "metrics.json").is_file():
        fit(
            args,
            soft_csv,
            student,
            args.seed,
            epochs=args.student_epochs,
            distill_weight=args.distill_weight,
            distill_temperature=args.distill_temperature,
            ema_decay=args.ema_decay,
        )
    m = json.loads((student / "metrics.json").read_text(encoding="utf-8"))

    print(header())
    print(f"- {args.folds} folds of {args.train} ({len(data)} rows), seed {args.seed}")
    print(
        f"- the teachers on the rows they did not see: accuracy {held_out['accuracy']:.4f}, "
        f"macro-F1 {held_out['macro_f1']:.4f}\n"
    )
    print("| model | accuracy | macro-F1 |")
    print("|---|---:|---:|")
    for k, t in enumerate(teachers):
        print(f"| teacher {k} (fold {k} held out) | {t['accuracy']:.4f} | {t['macro_f1']:.4f} |")
    print(f"| **student** ({student}) | **{m['accuracy']:.4f}** | **{m['macro_f1']:.4f}** |")
    print("\nstudent per epoch:")
    for h in m["history"]:
        print(f"  epoch {h['epoch']}: accuracy {h['accuracy']:.4f}  macro-F1 {h['macro_f1']:.4f}")
    print("hyper-parameters:", json.dumps(m["hyperparameters"]))


if __name__ == "__main__":
    main()
