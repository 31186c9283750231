"""Temperature scaling: fitted where the model is over- or under-confident, applied as saved."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from classifier import calibration
from classifier.calibration import (
    Calibration,
    expected_calibration_error,
    fit_temperature,
    negative_log_likelihood,
    scaled,
)
from classifier.exceptions import ModelLoadError
from classifier.train import TrainResult


def sharpened(rng: np.random.Generator, rows: int, power: float) -> tuple[np.ndarray, list[int]]:
    """Labels drawn from calibrated probabilities, then the probabilities raised to
    ``power`` and renormalised: > 1 over-confident, < 1 under-confident."""
    logits = rng.normal(0, 1.5, size=(rows, 3))
    true = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    labels = [int(rng.choice(3, p=p)) for p in true]
    skewed = true**power
    return skewed / skewed.sum(axis=1, keepdims=True), labels


@pytest.mark.parametrize("power", [3.0, 0.5])
def test_the_fitted_temperature_undoes_the_distortion(power: float) -> None:
    probs, labels = sharpened(np.random.default_rng(1), 4000, power)

    t = fit_temperature(probs, labels)

    assert t == pytest.approx(power, rel=0.15)
    fixed = scaled(probs, t)
    assert negative_log_likelihood(fixed, labels) < negative_log_likelihood(probs, labels)
    assert expected_calibration_error(fixed, labels) < expected_calibration_error(probs, labels)
    assert (fixed.argmax(axis=1) == probs.argmax(axis=1)).all()  # labels never change
    assert np.allclose(fixed.sum(axis=1), 1.0)


def test_scaling_is_exact_and_keeps_certain_rows_finite() -> None:
    probs = np.array([[0.2, 0.3, 0.5], [1.0, 0.0, 0.0]])
    out = scaled(probs, 2.0)
    root = np.sqrt(probs[0])
    assert out[0] == pytest.approx(root / root.sum())
    assert np.isfinite(out).all() and out[1].argmax() == 0
    assert scaled(probs, 1.0) is probs


def test_ece_of_a_perfectly_calibrated_bin_is_zero() -> None:
    probs = np.array([[0.8, 0.1, 0.1]] * 5)
    assert expected_calibration_error(probs, [0, 0, 0, 0, 1]) == pytest.approx(0.0)
    assert expected_calibration_error(probs, [1] * 5) == pytest.approx(0.8)


def test_the_temperature_that_matches_how_the_model_serves() -> None:
    fitted = Calibration(1.4, 1.9, 1.0, "valid.csv", 90, {}, {})
    assert fitted.temperature(1.0) == 1.9
    assert fitted.temperature(0) == 1.4
    assert fitted.temperature(0.5) is None  # fitted for another weight: none


def test_a_damaged_calibration_file_is_an_error(tmp_path: Path) -> None:
    assert calibration.load(tmp_path) is None
    (tmp_path / calibration.CALIBRATION_FILE).write_text('{"served": 2}', encoding="utf-8")
    with pytest.raises(ModelLoadError, match="not a usable calibration"):
        calibration.load(tmp_path)
    fitted = Calibration(100.0, None, None, "v", 1, {}, {})
    calibration.save(tmp_path, fitted)
    with pytest.raises(ModelLoadError, match="outside"):
        calibration.load(tmp_path)


def test_training_saves_the_temperatures_the_engine_then_serves(
    tiny_model: Path, tiny_run: TrainResult, data_dir: Path
) -> None:
    from classifier.data import load_csv
    from classifier.labels import parse_label_map
    from classifier.loading import load_engine

    saved = json.loads((tiny_model / calibration.CALIBRATION_FILE).read_text(encoding="utf-8"))
    assert saved == tiny_run.metrics["calibration"]
    assert saved["rows"] == 90 and saved["ngram_weight"] == 1.0
    assert saved["after"]["nll"] <= saved["before"]["nll"]
    card = (tiny_model / "README.md").read_text(encoding="utf-8")
    assert f"T = {saved['served']} as served" in card

    valid = load_csv(data_dir / "valid.csv", parse_label_map("0=negative,1=positive,2=neutral"))
    served = load_engine(str(tiny_model), variant="fp32", max_length=32)
    alone = load_engine(str(tiny_model), variant="fp32", max_length=32, ngram_weight=0)
    other = load_engine(str(tiny_model), variant="fp32", max_length=32, ngram_weight=0.5)
    assert served.temperature == saved["served"]
    assert alone.temperature == saved["transformer_alone"]
    assert other.temperature == 1.0
    probs = served.predict_proba(valid.texts)
    # the validation NLL the card reports is what the served engine gives
    assert negative_log_likelihood(probs, valid.labels) == pytest.approx(
        saved["after"]["nll"], abs=1e-3
    )
