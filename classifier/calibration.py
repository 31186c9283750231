"""Temperature scaling: probabilities that mean what they say, whatever the model.

A fine-tuned classifier is usually over-confident, and by how much depends on the model,
its training and whether an n-gram model is multiplied in. finsent's polarity
(``positive - negative``) and every share the alert rules read are built from these
probabilities, so a model swap would change what a threshold means. ``finsent train``
fits one temperature ``T`` for the rows its n-gram model votes on and one for the
transformer alone (every other row), on the validation rows (minimum negative
log-likelihood of ``softmax(log p / T)``; the argmax, hence every label and accuracy
figure, is unchanged) and saves them in ``calibration.json`` beside the model; the
engine applies to each text the one that matches how it was scored.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from classifier.exceptions import ModelLoadError

Floats = npt.NDArray[np.float64]

CALIBRATION_FILE = "calibration.json"
#: The range searched for T (beyond it a model is broken, not mis-calibrated).
LOWEST, HIGHEST = 0.05, 20.0
BINS = 15


@dataclass(frozen=True)
class Calibration:
    """The temperatures fitted for a model: ``served`` for the texts its n-gram model (at
    ``ngram_weight``; None: it has none) votes on, ``transformer_alone`` for the others;
    with the validation figures as served before and after, for the card."""

    transformer_alone: float
    served: float | None
    ngram_weight: float | None
    fitted_on: str
    rows: int
    before: dict[str, float]
    after: dict[str, float]

    def temperature(self, ngram_weight: float) -> float | None:
        """The temperature for serving with the n-gram model at ``ngram_weight`` (0: the
        transformer alone); None when none was fitted for that weight."""
        if ngram_weight == 0:
            return self.transformer_alone
        if self.served is not None and self.ngram_weight == ngram_weight:
            return self.served
        return None


def scaled(probs: Floats, temperature: float | Floats) -> Floats:
    """``probs`` with their log-probabilities divided by ``temperature`` (one number, or
    one per row), renormalised."""
    t = np.asarray(temperature, dtype=np.float64)
    if t.ndim == 0 and float(t) == 1.0:
        return probs
    with np.errstate(divide="ignore"):
        logits = np.log(np.clip(probs, 1e-300, None)) / (t[:, None] if t.ndim else t)
    logits -= logits.max(axis=1, keepdims=True)
    out: Floats = np.exp(logits)
    out /= out.sum(axis=1, keepdims=True)
    return out


def negative_log_likelihood(probs: Floats, labels: Sequence[int]) -> float:
    """Mean ``-log p(true label)``."""
    picked = probs[np.arange(len(labels)), np.asarray(labels)]
    return float(-np.mean(np.log(np.clip(picked, 1e-12, None))))


def expected_calibration_error(probs: Floats, labels: Sequence[int], bins: int = BINS) -> float:
    """Top-label ECE: the rows binned by confidence into ``bins`` equal-width bins, the
    mean gap between confidence and accuracy weighted by each bin's share of rows."""
    confidence = probs.max(axis=1)
    correct = probs.argmax(axis=1) == np.asarray(labels)
    which = np.minimum((confidence * bins).astype(int), bins - 1)
    error = 0.0
    for b in range(bins):
        rows = which == b
        if rows.any():
            error += rows.mean() * abs(confidence[rows].mean() - correct[rows].mean())
    return float(error)


def fit_temperature(probs: Floats, labels: Sequence[int]) -> float:
    """The T in [LOWEST, HIGHEST] that minimises the negative log-likelihood of
    ``scaled(probs, T)`` (golden-section search on log T: the loss is unimodal there)."""
    if len(labels) == 0:
        raise ValueError("no rows to fit a temperature on")

    def loss(log_t: float) -> float:
        return negative_log_likelihood(scaled(probs, math.exp(log_t)), labels)

    low, high = math.log(LOWEST), math.log(HIGHEST)
    ratio = (math.sqrt(5) - 1) / 2
    a, b = high - ratio * (high - low), low + ratio * (high - low)
    fa, fb = loss(a), loss(b)
    while high - low > 1e-4:
        if fa <= fb:
            high, b, fb = b, a, fa
            a = high - ratio * (high - low)
            fa = loss(a)
        else:
            low, a, fa = a, b, fb
            b = low + ratio * (high - low)
            fb = loss(b)
    return round(math.exp((low + high) / 2), 4)


def summary(probs: Floats, labels: Sequence[int]) -> dict[str, float]:
    """Negative log-likelihood and ECE, rounded for reports."""
    return {
        "nll": round(negative_log_likelihood(probs, labels), 4),
        "ece": round(expected_calibration_error(probs, labels), 4),
    }


def fit(
    alone: Floats,
    served: Floats | None,
    labels: Sequence[int],
    *,
    voted: npt.NDArray[np.bool_] | None = None,
    ngram_weight: float | None,
    fitted_on: str,
) -> Calibration:
    """Both temperatures from the validation probabilities of the transformer ``alone``
    and as ``served`` (None: no n-gram model); ``voted`` marks the rows the n-gram model
    voted on (None: all), the rows ``served`` is fitted on. With the figures of what is
    served (``served`` where it voted, ``alone`` elsewhere) before and after."""
    t_alone = fit_temperature(alone, labels)
    if served is None:
        shown, per_row, t_served = alone, np.full(len(labels), t_alone), None
    else:
        mask = np.ones(len(labels), dtype=bool) if voted is None else np.asarray(voted)
        picked = [y for y, m in zip(labels, mask, strict=True) if m]
        t_served = fit_temperature(served[mask], picked) if picked else 1.0
        shown = np.where(mask[:, None], served, alone)
        per_row = np.where(mask, t_served, t_alone)
    return Calibration(
        transformer_alone=t_alone,
        served=t_served,
        ngram_weight=ngram_weight if served is not None else None,
        fitted_on=fitted_on,
        rows=len(labels),
        before=summary(shown, labels),
        after=summary(scaled(shown, per_row), labels),
    )


def save(model_dir: Path, calibration: Calibration) -> None:
    (model_dir / CALIBRATION_FILE).write_text(
        json.dumps(asdict(calibration), indent=2) + "\n", encoding="utf-8"
    )


def load(model_dir: Path | None) -> Calibration | None:
    """The model's calibration, or None when it has none (models not trained by finsent,
    or trained before calibration existed). A damaged file is an error, not ignored."""
    if model_dir is None or not (model_dir / CALIBRATION_FILE).is_file():
        return None
    path = model_dir / CALIBRATION_FILE
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        calibration = Calibration(**raw)
        for t in (calibration.transformer_alone, calibration.served):
            if t is not None and not LOWEST <= float(t) <= HIGHEST:
                raise ValueError(f"temperature {t} outside [{LOWEST}, {HIGHEST}]")
    except (OSError, ValueError, TypeError) as e:
        raise ModelLoadError(f"{path} is not a usable calibration: {e}") from e
    return calibration
