"""The classifier engine behind the pipeline's ``Scorer`` interface."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from classifier import ngram
from classifier.ort import PLAN_FILE
from streams.records import ModelRef
from streams.stages import PredictionLike

_WEIGHTS = ("model.safetensors", "pytorch_model.bin", "model.onnx")


def model_revision(model: str, ngram_weight: float | None = None) -> str:
    """A short content hash of a local model's weights and config (its n-gram model's
    too, and the weight it is served at when one is set; its int8 plan), or 'hub' for an
    id.

    Every stored article records the revision that scored it, so a model upgrade is
    visible in the data.
    """
    path = Path(model).expanduser()
    if not path.is_dir():
        return "hub"
    digest = hashlib.sha256()
    if ngram_weight is not None:
        digest.update(f"ngram weight {ngram_weight!r}".encode())
    for name in ("config.json", *_WEIGHTS, ngram.CONFIG_FILE, ngram.WEIGHTS_FILE, PLAN_FILE):
        file = path / name
        if file.is_file():
            with file.open("rb") as f:
                for chunk in iter(lambda: f.read(1 << 20), b""):
                    digest.update(chunk)
    return digest.hexdigest()[:12]


def model_name(model: str) -> str:
    path = Path(model).expanduser()
    return path.name if path.is_dir() else model


class EngineScorer:
    """``predict`` of a ``classifier`` engine plus the model's name and revision."""

    def __init__(self, engine: Any, model: ModelRef) -> None:
        self.engine = engine
        self.model = model

    def predict(self, texts: Sequence[str]) -> Sequence[PredictionLike]:
        predictions: Sequence[PredictionLike] = self.engine.predict(list(texts))
        return predictions
