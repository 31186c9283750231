"""Benchmark: a full fine-tuning run on the shipped data (finsent/data/tfns), with accuracy,
macro-F1 and wall time.

    .venv/bin/python bench/train.py                       # the `full` profile
    .venv/bin/python bench/train.py --profile quick       # the first-run profile
    .venv/bin/python bench/train.py --epochs 3 --lr 1e-4  # override any hyper-parameter

Prints the hyper-parameters, per-epoch figures (the transformer), the transformer and
its n-gram model alone, and the report of the pair as served; the model goes to --out
(default: a folder under /tmp) with its metrics.json and model card.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.machine import header  # noqa: E402
from classifier.metrics import format_report  # noqa: E402
from classifier.train import PROFILES, profile_config, train  # noqa: E402
from finsent.datasets import NEWS_EVAL_CSV, TFNS_DIR  # noqa: E402
from finsent.settings import default_data_dir  # noqa: E402

DATA = TFNS_DIR


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--profile", choices=sorted(PROFILES), default="full")
    parser.add_argument("--train", default=str(DATA / "train.csv"))
    parser.add_argument("--valid", default=str(DATA / "valid.csv"))
    parser.add_argument(
        "--out", default=None, help="model directory (default /tmp/finsent-bench-<profile>)"
    )
    parser.add_argument("--base", default=None, help="model id, directory or named base")
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--lr", type=float, dest="learning_rate")
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--max-length", type=int)
    parser.add_argument("--class-weighting", choices=["balanced", "sqrt", "none"])
    parser.add_argument("--label-smoothing", type=float)
    parser.add_argument("--seed", type=int)
    parser.add_argument(
        "--teacher", action="append", dest="teachers", help="distil from this model (repeatable)"
    )
    parser.add_argument("--distill-weight", type=float)
    parser.add_argument("--distill-temperature", type=float)
    parser.add_argument("--ema-decay", type=float)
    parser.add_argument("--rdrop", type=float, help="R-Drop consistency weight (0: none)")
    parser.add_argument("--ngram-weight", type=float, help="0: no n-gram model beside it")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")

    config = profile_config(
        args.profile,
        train_csv=args.train,
        valid_csv=args.valid,
        out=args.out or str(Path(tempfile.gettempdir()) / f"finsent-bench-{args.profile}"),
        base=args.base,
        bases_dir=str(default_data_dir() / "bases"),
        checks=(str(NEWS_EVAL_CSV),),
        epochs=args.epochs,
        learning_rate=args.learning_rate,
        batch_size=args.batch_size,
        max_length=args.max_length,
        class_weighting=args.class_weighting,
        label_smoothing=args.label_smoothing,
        seed=args.seed,
        teachers=tuple(args.teachers) if args.teachers else None,
        distill_weight=args.distill_weight,
        distill_temperature=args.distill_temperature,
        ema_decay=args.ema_decay,
        rdrop=args.rdrop,
        ngram_weight=args.ngram_weight,
        device=args.device,
        threads=args.threads,
    )
    result = train(config, progress=not args.no_progress)
    m = result.metrics
    print()
    print(header())
    print(f"profile {args.profile}; model in {result.out}")
    print("hyper-parameters:", json.dumps(m["hyperparameters"]))
    for h in m["history"]:
        print(
            f"  epoch {h['epoch']}: loss {h['train_loss']:.4f}  accuracy {h['accuracy']:.4f}  "
            f"macro-F1 {h['macro_f1']:.4f}  (transformer alone {h['transformer_accuracy']:.4f} / "
            f"{h['transformer_macro_f1']:.4f})  {h['seconds']:.0f} s"
        )
    print(f"best epoch {m['best_epoch']}; wall time {m['wall_time_s']:.0f} s on {m['hardware']}")
    alone = m["transformer_alone"]
    print(f"transformer alone: accuracy {alone['accuracy']:.4f}, macro-F1 {alone['macro_f1']:.4f}")
    if m["ngram"]:
        ng = m["ngram"]
        print(
            f"n-gram model alone ({ng['features']} features): accuracy "
            f"{ng['alone']['accuracy']:.4f}, macro-F1 {ng['alone']['macro_f1']:.4f}; "
            f"the pair (weight {ng['weight']}), as served:"
        )
    print(format_report(m))


if __name__ == "__main__":
    main()
