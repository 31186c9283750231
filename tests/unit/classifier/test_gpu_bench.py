"""The prepared GPU benchmark (bench/gpu.py), run end to end on the CPU: the kit carries a
trained student in fp16 with its n-gram model and its base without weights, and the run
reports inference, the naive pipeline, accuracy and training; a base becomes a twin."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from safetensors import safe_open

from bench.gpu import build_model, copy_architecture
from classifier.bases import minilm_dir
from classifier.data import load_csv
from classifier.labels import DEFAULT_LABEL_MAP, parse_label_map
from classifier.loading import load_engine
from classifier.metrics import classification_metrics
from finsent.datasets import TFNS_DIR

REPO = Path(__file__).resolve().parents[3]
SCRIPT = REPO / "bench" / "gpu.py"


def bench(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=REPO,
    )


@pytest.fixture(scope="module")
def kit(tiny_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("gpu") / "kit"
    done = bench("kit", "--out", str(out), "--student", str(tiny_model), "--without-teacher")
    assert done.returncode == 0, done.stderr
    return out


def test_the_kit_carries_the_student_in_fp16_beside_its_n_gram_model(
    kit: Path, tiny_model: Path
) -> None:
    trained = kit / "trained"
    with safe_open(str(trained / "model.safetensors"), framework="pt") as f:
        dtypes = {str(f.get_slice(name).get_dtype()) for name in f.keys()}  # noqa: SIM118 (a safetensors handle)
    assert dtypes == {"F16"}
    original = (tiny_model / "model.safetensors").stat().st_size
    assert (trained / "model.safetensors").stat().st_size < original * 0.6
    for name in ("tokenizer.json", "ngram.json", "ngram.safetensors", "calibration.json"):
        assert (trained / name).read_bytes() == (tiny_model / name).read_bytes()
    assert (
        json.loads((trained / "config.json").read_text())["id2label"]
        == json.loads((tiny_model / "config.json").read_text())["id2label"]
    )
    # the trained student stands for its base; no teacher was asked for
    assert set(json.loads((kit / "kit.json").read_text())) == {"trained"}
    assert not (kit / "student").exists() and not (kit / "teacher").exists()


@pytest.fixture(scope="module")
def report(kit: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("gpu-out")
    done = bench(
        "run",
        *("--kit", str(kit), "--out", str(out), "--device", "cpu"),
        *("--texts", "48", "--naive-texts", "6", "--precisions", "fp32"),
        *("--batches", "16", "32", "--train-steps", "2", "--train-warm-up", "1"),
        *("--train-rows", "320", "--valid-texts", "40", "--models", "trained"),
    )
    assert done.returncode == 0, done.stderr
    assert "an epoch of the full set" in done.stdout
    return dict(json.loads((out / "gpu.json").read_text()))


def test_the_run_measures_the_trained_student_served_alone_and_in_training(
    report: dict[str, Any],
) -> None:
    assert report["device"] == "cpu" and report["gpu"] == "none"
    assert list(report["models"]) == ["trained"]
    entry = report["models"]["trained"]
    assert entry["weights"] == "trained"
    assert [(r["precision"], r["batch"], r["ngram"]) for r in entry["inference"]] == [
        ("fp32", 16, False),
        ("fp32", 32, False),
    ]
    assert [(r["batch"], r["ngram"]) for r in entry["served"]] == [(16, True), (32, True)]
    for row in (*entry["inference"], *entry["served"]):
        assert row["texts"] == 48 and row["texts_per_s"] > 0
    assert entry["naive_pipeline"]["texts"] == 6 and entry["naive_pipeline"]["texts_per_s"] > 0
    training = entry["training"]
    assert training["profile"] == "full" and training["steps"] == 2
    assert training["rdrop"] == 2.0  # the student's profile as it trains, R-Drop included
    assert training["full_set_rows"] > 40_000  # the epoch implied is the shipped set's
    assert training["epoch_s_full_set"] == pytest.approx(
        training["full_set_rows"] / training["texts_per_s"]
    )


def test_a_base_travels_without_weights_and_runs_as_a_twin(kit: Path, tmp_path: Path) -> None:
    """A base goes into the kit without its weights and is built there as a random-weight
    twin that finsent's engine loads like a trained model: same architecture, canonical
    labels."""
    base_dir = Path(minilm_dir())
    names = copy_architecture(base_dir, tmp_path / "kit" / "student")
    assert {"config.json", "tokenizer.json"} <= set(names)
    assert not [n for n in names if n.endswith(".safetensors")]
    twin = build_model(tmp_path / "kit", "student", tmp_path)
    config = json.loads((twin / "config.json").read_text())
    assert config["id2label"] == {"0": "negative", "1": "neutral", "2": "positive"}
    base = json.loads((base_dir / "config.json").read_text())
    for key in ("hidden_size", "num_hidden_layers", "num_attention_heads", "vocab_size"):
        assert config[key] == base[key]
    engine = load_engine(str(twin), device="cpu", variant="fp32", ngram_weight=0)
    assert engine.predict_proba(["Apple beats estimates", "Boeing cuts outlook"]).shape == (2, 3)
    assert build_model(kit, "trained", tmp_path) == kit / "trained"  # trained: as it is


def test_the_trained_student_is_scored_served_and_alone(report: dict[str, Any], kit: Path) -> None:
    """The scores are the kit's student's own on the first rows of valid.csv, as
    ``finsent evaluate`` would compute them, with and without its n-gram model."""
    scored = report["models"]["trained"]["accuracy"]
    assert [(r["precision"], r["ngram"]) for r in scored] == [("fp32", True), ("fp32", False)]
    data = load_csv(TFNS_DIR / "valid.csv", parse_label_map(DEFAULT_LABEL_MAP))
    for row in scored:
        engine = load_engine(
            str(kit / "trained"),
            device="cpu",
            variant="fp32",
            ngram_weight=None if row["ngram"] else 0,
        )
        labels = [int(p.argmax()) for p in engine.predict_proba(data.texts[:40])]
        expected = classification_metrics(data.labels[:40], labels)
        assert row["accuracy"] == pytest.approx(expected["accuracy"])
        assert row["macro_f1"] == pytest.approx(expected["macro_f1"])
