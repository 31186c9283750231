"""Helpers for the classifier tests: a tiny training configuration."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from classifier.train import TrainConfig


def tiny_config(data_dir: Path, out: Path, **overrides: Any) -> TrainConfig:
    """A few steps on the synthetic CSVs in ``data_dir``: short texts, two threads."""
    values: dict[str, Any] = {
        "train_csv": str(data_dir / "train.csv"),
        "valid_csv": str(data_dir / "valid.csv"),
        "out": str(out),
        "epochs": 1,
        "max_steps": 4,
        "max_length": 32,
        "threads": 2,
    }
    return TrainConfig(**{**values, **overrides})
