"""Classification metrics over the canonical labels, as plain JSON-ready data."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from classifier.labels import CANONICAL


def classification_metrics(y_true: Sequence[int], y_pred: Sequence[int]) -> dict[str, Any]:
    """Accuracy, macro-F1, weighted F1 (each class's F1 weighted by its support, as public
    model cards quote it), per-class precision/recall/F1/support and the confusion matrix.

    Labels are canonical indices; the confusion matrix has true labels as rows and
    predicted labels as columns, both in ``CANONICAL`` order.
    """
    from sklearn.metrics import (  # type: ignore[import-untyped]
        confusion_matrix,
        precision_recall_fscore_support,
    )

    if len(y_true) != len(y_pred):
        raise ValueError(f"{len(y_true)} true labels but {len(y_pred)} predictions")
    if not y_true:
        raise ValueError("no labels to score")
    indices = list(range(len(CANONICAL)))
    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, y_pred, labels=indices, zero_division=0
    )
    matrix = confusion_matrix(y_true, y_pred, labels=indices)
    correct = sum(1 for t, p in zip(y_true, y_pred, strict=True) if t == p)
    return {
        "accuracy": correct / len(y_true),
        "macro_f1": float(sum(f1) / len(f1)),
        "weighted_f1": float(sum(f * n for f, n in zip(f1, support, strict=True)) / len(y_true)),
        "per_class": {
            name: {
                "precision": float(precision[i]),
                "recall": float(recall[i]),
                "f1": float(f1[i]),
                "support": int(support[i]),
            }
            for i, name in enumerate(CANONICAL)
        },
        "confusion_matrix": {
            "labels": list(CANONICAL),
            "rows": "true",
            "columns": "predicted",
            "matrix": [[int(v) for v in row] for row in matrix],
        },
    }


def format_report(metrics: dict[str, Any]) -> str:
    """A plain-text classification report and confusion matrix, for a terminal."""
    lines = [f"{'':>10} {'precision':>9} {'recall':>9} {'f1':>9} {'support':>9}"]
    total = 0
    for name in CANONICAL:
        c = metrics["per_class"][name]
        total += c["support"]
        lines.append(
            f"{name:>10} {c['precision']:>9.3f} {c['recall']:>9.3f} {c['f1']:>9.3f} "
            f"{c['support']:>9d}"
        )
    lines.append("")
    lines.append(f"{'accuracy':>10} {metrics['accuracy']:>9.3f}   ({total} texts)")
    lines.append(f"{'macro-F1':>10} {metrics['macro_f1']:>9.3f}")
    lines.append(f"{'weighted-F1':>10} {metrics['weighted_f1']:>9.3f}")
    lines.append("")
    lines.append("confusion matrix (rows: true, columns: predicted)")
    lines.append(f"{'':>10} " + " ".join(f"{n:>9}" for n in CANONICAL))
    for name, row in zip(CANONICAL, metrics["confusion_matrix"]["matrix"], strict=True):
        lines.append(f"{name:>10} " + " ".join(f"{v:>9d}" for v in row))
    return "\n".join(lines)
