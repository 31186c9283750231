"""A tiny real fine-tuning run: what it writes is what a user loads and reads."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from classifier.exceptions import DataError, TrainingError
from classifier.labels import CANONICAL
from classifier.train import (
    HYPERPARAMETER,
    PROFILES,
    TrainConfig,
    TrainResult,
    _check,
    class_weights,
    consistency_loss,
    distillation_loss,
    length_grouped_batches,
    profile_config,
    step_report,
    train,
)
from testkit.classifier_support import tiny_config


def test_the_directory_reloads_offline_with_canonical_labels(tiny_model: Path) -> None:
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    model = AutoModelForSequenceClassification.from_pretrained(tiny_model, local_files_only=True)
    tokenizer = AutoTokenizer.from_pretrained(tiny_model, local_files_only=True)
    assert model.config.id2label == {0: "negative", 1: "neutral", 2: "positive"}
    assert model.config.label2id == {"negative": 0, "neutral": 1, "positive": 2}
    assert model.config.num_labels == 3
    assert tokenizer("Stocks rise")["input_ids"][0] == tokenizer.cls_token_id


def test_metrics_json_is_complete(tiny_model: Path, tiny_run: TrainResult) -> None:
    metrics = json.loads((tiny_model / "metrics.json").read_text(encoding="utf-8"))
    assert metrics == json.loads(json.dumps(tiny_run.metrics))
    assert 0.0 <= metrics["accuracy"] <= 1.0
    assert 0.0 <= metrics["macro_f1"] <= 1.0
    assert set(metrics["per_class"]) == set(CANONICAL)
    for scores in metrics["per_class"].values():
        assert set(scores) == {"precision", "recall", "f1", "support"}
    matrix = metrics["confusion_matrix"]["matrix"]
    assert metrics["confusion_matrix"]["labels"] == list(CANONICAL)
    assert sum(map(sum, matrix)) == metrics["data"]["valid"]["rows"] == 90
    correct = sum(matrix[i][i] for i in range(3))
    assert correct / 90 == pytest.approx(metrics["accuracy"])
    assert [sum(row) for row in matrix] == [metrics["per_class"][n]["support"] for n in CANONICAL]
    assert metrics["data"]["train"]["rows"] == 300
    assert sum(metrics["data"]["train"][n] for n in CANONICAL) == 300
    assert metrics["wall_time_s"] > 0
    assert metrics["hardware"]["device"] == "cpu"
    assert metrics["hardware"]["cpu_cores"] >= 1
    assert metrics["hyperparameters"]["learning_rate"] == 2e-4
    assert metrics["label_map"] == {"0": "negative", "1": "positive", "2": "neutral"}
    assert 1 <= metrics["best_epoch"] <= metrics["epochs_run"] == len(metrics["history"]) == 2
    # the epoch kept is the one whose served pair (transformer + n-gram) scored best
    kept = metrics["history"][metrics["best_epoch"] - 1]
    assert kept == max(metrics["history"], key=lambda h: h["macro_f1"])
    assert kept["macro_f1"] == pytest.approx(metrics["macro_f1"])
    assert kept["accuracy"] == pytest.approx(metrics["accuracy"])
    assert kept["transformer_macro_f1"] == pytest.approx(metrics["transformer_alone"]["macro_f1"])
    assert kept["transformer_accuracy"] == pytest.approx(metrics["transformer_alone"]["accuracy"])
    assert metrics["ngram"]["weight"] == 1.0
    assert metrics["ngram"]["features"] > 100
    assert set(metrics["ngram"]["alone"]) == {"accuracy", "macro_f1", "weighted_f1"}


def test_the_card_states_the_same_facts(tiny_model: Path, tiny_run: TrainResult) -> None:
    card = (tiny_model / "README.md").read_text(encoding="utf-8")
    m = tiny_run.metrics
    assert card.startswith("---\n")
    assert f"accuracy {m['accuracy']:.4f}" in card
    assert f"macro-F1 {m['macro_f1']:.4f}" in card
    assert f"weighted F1 {m['weighted_f1']:.4f}" in card
    assert set(m["transformer_alone"]) == {"accuracy", "macro_f1", "weighted_f1"}
    for name in CANONICAL:
        scores = m["per_class"][name]
        assert f"| {name} | {scores['precision']:.4f} | {scores['recall']:.4f} |" in card
    assert m["base_model"] in card
    assert "learning_rate: 0.0002" in card
    assert f"Wall time {m['wall_time_s']:.0f} s" in card


def test_the_check_set_is_scored_as_the_kept_model_serves_it(
    data_dir: Path, tiny_model: Path, tiny_run: TrainResult
) -> None:
    from classifier.data import load_csv
    from classifier.labels import parse_label_map
    from classifier.loading import load_engine
    from classifier.metrics import classification_metrics

    check = tiny_run.metrics["checks"]["check"]
    assert check["rows"] == 60 and check["path"] == str(data_dir / "check.csv")
    data = load_csv(data_dir / "check.csv", parse_label_map("0=negative,1=positive,2=neutral"))
    expected = {}
    for weight in (None, 0):  # as served (with the n-gram model), the transformer alone
        engine = load_engine(str(tiny_model), variant="fp32", max_length=32, ngram_weight=weight)
        predicted = engine.predict_proba(data.texts).argmax(axis=1).tolist()
        expected[weight] = classification_metrics(data.labels, predicted)
    for scores, report in ((check, expected[None]), (check["transformer_alone"], expected[0])):
        assert scores["accuracy"] == pytest.approx(report["accuracy"])
        assert scores["macro_f1"] == pytest.approx(report["macro_f1"])
    served_recall = {n: expected[None]["per_class"][n]["recall"] for n in CANONICAL}
    assert check["recall"] == pytest.approx(served_recall)
    card = (tiny_model / "README.md").read_text(encoding="utf-8")
    assert (
        f"| check (`check.csv`) | 60 | {check['accuracy']:.4f} | {check['macro_f1']:.4f} |" in card
    )


def test_bad_settings_fail_before_any_work(data_dir: Path, tmp_path: Path) -> None:
    base = {"train_csv": str(data_dir / "train.csv"), "valid_csv": str(data_dir / "valid.csv")}
    with pytest.raises(TrainingError, match="epochs must be at least 1"):
        train(TrainConfig(**base, out=str(tmp_path / "m"), epochs=0))
    with pytest.raises(TrainingError, match="class weighting 'inverse'"):
        train(TrainConfig(**base, out=str(tmp_path / "m"), class_weighting="inverse"))
    with pytest.raises(DataError, match="no such file"):
        train(TrainConfig(train_csv=str(tmp_path / "x.csv"), valid_csv="y", out=str(tmp_path)))


def test_a_student_learns_from_teachers(
    data_dir: Path, tiny_model: Path, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    config = tiny_config(
        data_dir,
        tmp_path / "student",
        teachers=(str(tiny_model), str(tiny_model)),
        distill_weight=0.7,
    )
    result = train(config, progress=False)
    # --no-progress: no bar at all, transformers' own included (loading, writing shards)
    err = capfd.readouterr().err
    assert "Writing model shards" not in err and "Loading weights" not in err, err
    hp = json.loads((tmp_path / "student" / "metrics.json").read_text(encoding="utf-8"))[
        "hyperparameters"
    ]
    assert hp["teachers"] == [str(tiny_model)] * 2 and hp["distill_weight"] == 0.7
    card = (tmp_path / "student" / "README.md").read_text(encoding="utf-8")
    assert f"also learned from teachers {tiny_model}, {tiny_model}" in card
    assert result.history[0].train_loss > 0

    with pytest.raises(TrainingError, match=r"teacher .*nope"):
        train(replace(config, teachers=(str(tmp_path / "nope"),)), progress=False)
    with pytest.raises(TrainingError, match="distillation weight"):
        train(replace(config, distill_weight=1.5), progress=False)


def test_a_student_learns_from_soft_label_columns(
    data_dir: Path, tiny_model: Path, tmp_path: Path
) -> None:
    """Soft labels in the training CSV (e.g. from cross-fitted teachers) are distilled
    from: a student pulled hard towards "positive" for every row predicts it more."""
    import csv

    with (data_dir / "train.csv").open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    soft_csv = tmp_path / "soft.csv"
    with soft_csv.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["text", "label", "p_negative", "p_neutral", "p_positive"])
        writer.writerows([r["text"], r["label"], 0.0, 0.0, 1.0] for r in rows)
    config = tiny_config(
        data_dir,
        tmp_path / "student",
        train_csv=str(soft_csv),
        max_steps=12,
        learning_rate=5e-4,
        distill_weight=1.0,
        distill_temperature=1.0,
        ngram_weight=0,  # the n-gram model learns the hard labels: this is about the student
    )
    train(config, progress=False)
    metrics = json.loads((tmp_path / "student" / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["distilled_from"].startswith("soft labels (columns p_negative")
    card = (tmp_path / "student" / "README.md").read_text(encoding="utf-8")
    assert (
        f"also learned from soft labels (columns p_negative, p_neutral, p_positive) in {soft_csv}"
        in card
    )
    predicted_positive = [row[2] for row in metrics["confusion_matrix"]["matrix"]]
    assert sum(predicted_positive) > 0.8 * metrics["data"]["valid"]["rows"]

    with pytest.raises(TrainingError, match="soft labels and teachers"):
        train(replace(config, teachers=(str(tiny_model),)), progress=False)


def test_the_weight_average_follows_the_weights_and_swaps_in_and_out() -> None:
    import torch

    from classifier.train import WeightAverage

    weight = torch.nn.Parameter(torch.zeros(3))
    average = WeightAverage([weight], decay=0.5)
    expected = torch.zeros(3)
    for value in (1.0, 2.0, 4.0, 8.0, 8.0):
        with torch.no_grad():
            weight.fill_(value)
        average.update()
        # the decay ramps up: min(0.5, (1 + k) / (10 + k)) for update k
        decay = min(0.5, (1 + average.updates) / (10 + average.updates))
        expected = decay * expected + (1 - decay) * value
    assert torch.allclose(average.shadow[0], expected)
    assert 0 < float(expected[0]) < 8
    with average.applied():
        assert torch.allclose(weight, expected)
    assert torch.equal(weight.detach(), torch.full((3,), 8.0))


def test_with_a_weight_average_the_average_is_kept_and_evaluated(
    data_dir: Path, tmp_path: Path
) -> None:
    """The same seeded run with and without a moving average follows the same path, so
    the models kept differ only by the averaging; the metrics are the kept model's."""
    import torch

    from classifier.data import load_csv
    from classifier.labels import DEFAULT_LABEL_MAP, parse_label_map
    from classifier.loading import load_engine
    from classifier.metrics import classification_metrics

    config = tiny_config(data_dir, tmp_path / "ema", max_steps=8, learning_rate=3e-4, ema_decay=0.9)
    result = train(config, progress=False)
    train(replace(config, out=str(tmp_path / "raw"), ema_decay=0.0), progress=False)
    assert not torch.equal(_head(tmp_path / "ema"), _head(tmp_path / "raw"))

    assert result.metrics["hyperparameters"]["ema_decay"] == 0.9
    valid = load_csv(data_dir / "valid.csv", parse_label_map(DEFAULT_LABEL_MAP))
    engine = load_engine(str(tmp_path / "ema"), variant="fp32", max_length=32, threads=2)
    predicted = engine.predict_proba(valid.texts).argmax(axis=1).tolist()
    again = classification_metrics(valid.labels, predicted)
    assert again["confusion_matrix"] == result.metrics["confusion_matrix"]
    with pytest.raises(TrainingError, match="EMA decay"):
        train(replace(config, ema_decay=1.0), progress=False)


def test_without_a_bar_the_epoch_says_how_far_it_has_come(
    data_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """`finsent train --no-progress` (a log, a container) tells how an epoch goes while it
    runs, not only when it ends; here a line after every step but the last."""
    monkeypatch.setattr("classifier.train.QUIET_REPORT_EVERY_S", 0.0)
    caplog.set_level("INFO", logger="classifier.train")
    train(tiny_config(data_dir, tmp_path / "m", max_steps=4), progress=False)
    lines = [r.getMessage() for r in caplog.records if ": step " in r.getMessage()]
    assert [line.split(",")[0] for line in lines] == [
        f"epoch 1/1: step {n} of 4" for n in (1, 2, 3)
    ]
    assert all("texts/s, the epoch ends in about " in line for line in lines)


def test_a_step_report_reads_as_a_sentence() -> None:
    assert step_report("epoch 2/4", 300, 1200, 0.51234, 9600, 60.0) == (
        "epoch 2/4: step 300 of 1200, loss 0.5123, 160 texts/s, the epoch ends in about 3 min 00 s"
    )
    assert step_report("epoch 1/1", 7, 8, 1.0, 224, 70.0).endswith("ends in about 0 min 10 s")


def test_the_distillation_loss_is_zero_only_when_the_student_agrees() -> None:
    import torch

    teacher = torch.tensor([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]])
    for temperature in (1.0, 2.0, 4.0):
        agreeing = distillation_loss(torch.log(teacher), teacher, temperature)
        assert abs(float(agreeing)) < 1e-6
        disagreeing = distillation_loss(torch.log(teacher.flip(1)), teacher, temperature)
        assert float(disagreeing) > 0.1


def test_the_consistency_loss_is_symmetric_and_zero_only_for_equal_outputs() -> None:
    import torch

    first = torch.tensor([[2.0, 0.0, -1.0], [0.0, 0.5, 3.0]])
    second = torch.tensor([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
    assert abs(float(consistency_loss(first, first))) < 1e-7
    assert abs(float(consistency_loss(first, first + 5.0))) < 1e-6  # the same softmax
    apart = float(consistency_loss(first, second))
    assert apart > 0.1
    assert float(consistency_loss(second, first)) == pytest.approx(apart)


def test_an_rdrop_run_trains_a_different_model_and_records_its_weight(
    data_dir: Path, tmp_path: Path
) -> None:
    import torch

    config = tiny_config(data_dir, tmp_path / "rdrop", rdrop=2.0, ngram_weight=0)
    result = train(config, progress=False)
    train(replace(config, out=str(tmp_path / "plain"), rdrop=0.0), progress=False)
    assert not torch.equal(_head(tmp_path / "rdrop"), _head(tmp_path / "plain"))
    assert result.metrics["hyperparameters"]["rdrop"] == 2.0
    assert result.history[0].train_loss > 0
    with pytest.raises(TrainingError, match="R-Drop weight"):
        train(replace(config, rdrop=-1.0), progress=False)


def test_every_bounded_hyperparameter_admits_its_default_and_names_its_error() -> None:
    from dataclasses import fields

    for spec in fields(TrainConfig):
        declared = spec.metadata.get(HYPERPARAMETER)
        if declared is None:
            continue
        assert declared.help and declared.admits(spec.default), spec.name
        bounded = declared.low is not None or declared.high is not None or declared.choices
        assert bool(declared.problem) == bool(bounded), spec.name


def test_the_config_loads_without_numpy_or_torch() -> None:
    """`finsent train`'s options come from TrainConfig when the command line loads: the
    module stays light (numpy, torch and the n-gram model load when a run starts)."""
    script = "import sys, classifier.train; print('numpy' in sys.modules, 'torch' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.split() == ["False", "False"]


def test_profiles() -> None:
    quick = profile_config("quick", train_csv="t", valid_csv="v", out="o")
    assert quick.profile == "quick" and quick.epochs == PROFILES["quick"]["epochs"]
    full = profile_config("full", train_csv="t", valid_csv="v", out="o", epochs=3)
    assert full.epochs == 3 and full.rdrop == PROFILES["full"]["rdrop"] > 0
    assert quick.rdrop == 0  # the first-run profile keeps to its 10 minutes
    gpu = profile_config("gpu", train_csv="t", valid_csv="v", out="o", base=None)
    assert gpu.base == "all-mpnet-base-v2" and gpu.batch_size > quick.batch_size
    own = profile_config("gpu", train_csv="t", valid_csv="v", out="o", base="ProsusAI/finbert")
    assert own.base == "ProsusAI/finbert"  # --base wins over the profile's
    for name in PROFILES:  # every profile within the declared bounds
        _check(profile_config(name, train_csv="t", valid_csv="v", out="o"))
    with pytest.raises(TrainingError, match="profile 'slow'"):
        profile_config("slow", train_csv="t", valid_csv="v", out="o")


def test_class_weights_favour_the_rare_classes() -> None:
    counts = [100, 650, 250]
    balanced = class_weights(counts, "balanced")
    assert balanced[0] > balanced[2] > balanced[1]
    assert sum(w * c for w, c in zip(balanced, counts, strict=True)) == pytest.approx(1000)
    assert class_weights(counts, "sqrt") == pytest.approx([w**0.5 for w in balanced])
    assert class_weights(counts, "none") == [1.0, 1.0, 1.0]


def test_length_grouped_batches_cover_every_row_once() -> None:
    rng = random.Random(0)
    lengths = [rng.randint(3, 60) for _ in range(1000)]
    batches = length_grouped_batches(lengths, 32, random.Random(1))
    flat = [i for b in batches for i in b]
    assert sorted(flat) == list(range(1000))
    assert all(len(b) <= 32 for b in batches)
    spread = [max(lengths[i] for i in b) - min(lengths[i] for i in b) for b in batches]
    assert sum(spread) / len(spread) < 10  # similar lengths share a batch


def _head(model_dir: Path) -> Any:
    """The classification head's weights a training run saved."""
    from safetensors.torch import load_file

    return load_file(str(model_dir / "model.safetensors"))["classifier.weight"]


def test_a_model_can_keep_the_first_layers_of_its_base(data_dir: Path, tmp_path: Path) -> None:
    """``--layers N``: a smaller, faster model from the base's first N layers (issue 26:
    the Chinese path's speed); more layers than the base has is one clear error."""
    from transformers import AutoConfig

    config = tiny_config(data_dir, tmp_path / "two", layers=2)
    train(config, progress=False)
    assert AutoConfig.from_pretrained(tmp_path / "two").num_hidden_layers == 2
    hp = json.loads((tmp_path / "two" / "metrics.json").read_text(encoding="utf-8"))
    assert hp["hyperparameters"]["layers"] == 2
    with pytest.raises(TrainingError, match=r"layers 7: base .* has 6"):
        train(replace(config, layers=7, out=str(tmp_path / "seven")), progress=False)
