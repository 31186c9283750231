"""``finsent train`` and ``finsent evaluate`` as a user runs them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from classifier.data import load_csv
from classifier.labels import DEFAULT_LABEL_MAP, parse_label_map
from finsent.cli import cli


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> CliRunner:
    for var in ("FINSENT_MODEL_PATH", "FINSENT_MODEL_TRAIN_CSV", "FINSENT_MODEL_VALID_CSV"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    return CliRunner()


def test_train_help_names_every_setting(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["train", "--help"])
    assert result.exit_code == 0
    text = re.sub(r"\s+", " ", result.output)
    for var in (
        "FINSENT_MODEL_TRAIN_CSV",
        "FINSENT_MODEL_VALID_CSV",
        "FINSENT_MODEL_BASE",
        "FINSENT_MODEL_LABELS",
        "FINSENT_MODEL_PATH",
        "FINSENT_MODEL_TRAIN_PROFILE",
        "FINSENT_MODEL_DEVICE",
        "FINSENT_MODEL_THREADS",
    ):
        assert var in text
    assert "--epochs" in text and "--lr" in text and "--seed" in text
    assert "--ema-decay" in text and "p_negative,p_neutral,p_positive" in text
    assert "--ngram-weight" in text and "--rdrop" in text


def test_train_refuses_a_decay_of_one(runner: CliRunner, data_dir: Path, tmp_path: Path) -> None:
    args = ["train", "--train", str(data_dir / "train.csv"), "--valid", str(data_dir / "valid.csv")]
    result = runner.invoke(cli, [*args, "--out", str(tmp_path / "m"), "--ema-decay", "1"])
    assert result.exit_code == 2 and "--ema-decay" in result.output
    result = runner.invoke(cli, [*args, "--out", str(tmp_path / "m"), "--rdrop", "-1"])
    assert result.exit_code == 2 and "--rdrop" in result.output
    assert not (tmp_path / "m").exists()


def test_train_options_reach_the_training_config(
    runner: CliRunner, data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import classifier.train
    from classifier.train import PROFILES, TrainConfig, TrainResult

    configs: list[tuple[TrainConfig, bool]] = []

    def fake_train(config: TrainConfig, *, progress: bool = True) -> TrainResult:
        configs.append((config, progress))
        scores = {"accuracy": 0.5, "macro_f1": 0.5, "weighted_f1": 0.5}
        metrics = {**scores, "transformer_alone": scores, "ngram": None, "best_epoch": 1}
        metrics["checks"] = {"news_eval": {"rows": 614, "accuracy": 0.75, "macro_f1": 0.7}}
        return TrainResult(out=config.out, metrics={**metrics, "epochs_run": 1, "wall_time_s": 1})

    monkeypatch.setattr(classifier.train, "train", fake_train)
    data = ["--train", str(data_dir / "train.csv"), "--valid", str(data_dir / "valid.csv")]
    given = [
        *("--out", str(tmp_path / "m"), "--profile", "quick", "--no-progress"),
        *("--epochs", "3", "--lr", "2e-4", "--batch-size", "16", "--max-length", "20"),
        *("--seed", "7", "--class-weighting", "none", "--teacher", "a", "--teacher", "b"),
        *("--distill-weight", "0.3", "--ema-decay", "0.99", "--rdrop", "1.5"),
        *("--ngram-weight", "0", "--patience", "0", "--device", "cpu", "--threads", "1"),
    ]
    result = runner.invoke(cli, ["train", *data, *given])
    assert result.exit_code == 0, result.output
    config, progress = configs.pop()
    assert not progress and config.profile == "quick" and config.out == str(tmp_path / "m")
    want = {
        **{"epochs": 3, "learning_rate": 2e-4, "batch_size": 16, "max_length": 20, "seed": 7},
        **{"class_weighting": "none", "teachers": ("a", "b"), "distill_weight": 0.3},
        **{"ema_decay": 0.99, "rdrop": 1.5, "ngram_weight": 0, "patience": 0},
        **{"device": "cpu", "threads": 1},
    }
    assert {k: getattr(config, k) for k in want} == want
    # every model is checked on the news sets that ship with finsent, and says so
    from finsent.datasets import NEWS_EVAL_CSV, ZH_EVAL_CSV

    assert config.checks == (str(NEWS_EVAL_CSV), str(ZH_EVAL_CSV))
    assert NEWS_EVAL_CSV.is_file() and ZH_EVAL_CSV.is_file()
    assert "on news_eval (614 texts) accuracy 0.7500, macro-F1 0.7000" in result.output

    # none given: the profile's values, then the fields' defaults
    result = runner.invoke(
        cli, ["train", *data, "--out", str(tmp_path / "m"), "--profile", "smoke"]
    )
    assert result.exit_code == 0, result.output
    config, progress = configs.pop()
    assert progress and config.teachers == () and config.seed == 42
    assert {k: getattr(config, k) for k in PROFILES["smoke"]} == PROFILES["smoke"]


def test_evaluate_help_names_every_setting(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["evaluate", "--help"])
    assert result.exit_code == 0
    for var in ("FINSENT_MODEL_VARIANT", "FINSENT_MODEL_BATCH_SIZE", "FINSENT_MODEL_MAX_LENGTH"):
        assert var in result.output


def test_evaluate_prints_report_and_confusion_matrix(
    runner: CliRunner, tiny_model: Path, data_dir: Path
) -> None:
    csv = data_dir / "valid.csv"
    result = runner.invoke(cli, ["evaluate", str(tiny_model), str(csv), "--variant", "fp32"])
    assert result.exit_code == 0, result.output
    assert "90 texts" in result.output
    for fragment in ("precision", "recall", "accuracy", "macro-F1", "confusion matrix"):
        assert fragment in result.output
    matrix = result.output.split("confusion matrix")[1].splitlines()[2:5]
    assert [row.split()[0] for row in matrix] == ["negative", "neutral", "positive"]
    assert sum(int(v) for row in matrix for v in row.split()[1:]) == 90


def test_evaluate_reports_what_training_measured_with_and_without_the_ngram_model(
    runner: CliRunner, tiny_model: Path, data_dir: Path
) -> None:
    import json

    metrics = json.loads((tiny_model / "metrics.json").read_text(encoding="utf-8"))
    csv = data_dir / "valid.csv"
    args = ["evaluate", str(tiny_model), str(csv), "--variant", "fp32", "--max-length", "32"]
    paired = runner.invoke(cli, args)
    alone = runner.invoke(cli, [*args, "--ngram-weight", "0"])
    assert paired.exit_code == alone.exit_code == 0, paired.output + alone.output
    assert "n-gram model at weight 1.0" in paired.output
    assert "n-gram" not in alone.output
    for result, want in ((paired, metrics), (alone, metrics["transformer_alone"])):
        line = next(x for x in result.output.splitlines() if x.strip().startswith("macro-F1"))
        assert float(line.split()[-1]) == pytest.approx(want["macro_f1"], abs=6e-4)

    refused = runner.invoke(cli, [*args, "--ngram-weight", "-1"])
    assert refused.exit_code == 2 and "FINSENT_MODEL_NGRAM_WEIGHT" in refused.output


def test_evaluate_a_missing_model_is_one_clear_line(
    runner: CliRunner, data_dir: Path, tmp_path: Path
) -> None:
    missing = tmp_path / "nothing-here"
    result = runner.invoke(cli, ["evaluate", str(missing), str(data_dir / "valid.csv")])
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert f"no model at {missing}" in result.output
    assert "finsent train" in result.output


def test_evaluate_with_a_bad_csv(runner: CliRunner, tiny_model: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("headline,label\nx,1\n", encoding="utf-8")
    result = runner.invoke(cli, ["evaluate", str(tiny_model), str(bad)])
    assert result.exit_code == 1
    assert "missing column 'text'" in result.output


def test_train_with_half_the_data_says_which_option(runner: CliRunner, data_dir: Path) -> None:
    result = runner.invoke(cli, ["train", "--train", str(data_dir / "train.csv")])
    assert result.exit_code == 2
    assert "no valid CSV (--valid / FINSENT_MODEL_VALID_CSV)" in result.output


@pytest.mark.parametrize(
    ("profile", "generated"),
    [
        ("quick", 12000 + 6000),
        ("smoke", 12000 + 6000),
        ("full", 12000 + 19007),
        ("gpu", 12000 + 19007),
    ],
)
def test_train_without_data_trains_on_the_shipped_set(
    monkeypatch: pytest.MonkeyPatch, profile: str, generated: int
) -> None:
    """The quick profile (``finsent up``'s first model) learns from the tweets, 12,000
    generated texts (6,000 of them of wider shapes) and 6,000 variants of the tweets; the
    longer profiles from the same tweets and texts and all 19,007 variants."""
    from finsent.runtime import training_csvs
    from finsent.settings import load_settings

    monkeypatch.delenv("FINSENT_MODEL_TRAIN_CSV", raising=False)
    monkeypatch.delenv("FINSENT_MODEL_VALID_CSV", raising=False)
    monkeypatch.setenv("FINSENT_MODEL_TRAIN_PROFILE", profile)
    train, valid = training_csvs(load_settings())
    for path, rows in ((train, 9543 + generated), (valid, 2388)):
        data = load_csv(str(path), parse_label_map(DEFAULT_LABEL_MAP))
        assert len(data.texts) == rows and set(data.labels) == {0, 1, 2}
    assert (valid.parent / "LICENSE").read_text().startswith("MIT License")
    # the tweets with their own labels, then the generated texts, all with the teacher's
    # probabilities to distil from; none of the news set anyone checks on
    from finsent.datasets import NEWS_EVAL_CSV, ZH_EVAL_CSV, tfns_csv

    shipped = load_csv(str(train), parse_label_map(DEFAULT_LABEL_MAP))
    tweets = load_csv(str(tfns_csv("train")), parse_label_map(DEFAULT_LABEL_MAP))
    assert shipped.texts[:9543] == tweets.texts and shipped.labels[:9543] == tweets.labels
    assert shipped.soft is not None and len(shipped.soft) == len(shipped.texts)
    for held_out_csv in (NEWS_EVAL_CSV, ZH_EVAL_CSV):
        held_out = set(load_csv(str(held_out_csv), parse_label_map(DEFAULT_LABEL_MAP)).texts)
        assert not held_out & set(shipped.texts)
    assert "teacher" in (train.parent / "README.md").read_text()


def test_every_training_profile_has_a_shipped_set_and_an_unknown_one_is_named() -> None:
    """The profiles the settings offer are the trainer's, and each learns from a shipped
    set by default; a name that is not a profile is refused, naming the profiles."""
    from typing import get_args

    from classifier.train import PROFILES
    from finsent.datasets import DISTILLATION_SETS, distillation_csv
    from finsent.settings import ModelSettings

    offered = set(get_args(ModelSettings.model_fields["train_profile"].annotation))
    assert offered == set(PROFILES) == set(DISTILLATION_SETS)
    assert all(distillation_csv(profile).is_file() for profile in PROFILES)
    with pytest.raises(ValueError, match=r"'fast'.*smoke, quick, full, gpu"):
        distillation_csv("fast")


def test_train_with_an_unknown_label(runner: CliRunner, data_dir: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("text,label\nfine,1\nodd,bullish\n", encoding="utf-8")
    result = runner.invoke(
        cli,
        [
            "train",
            "--train",
            str(bad),
            "--valid",
            str(data_dir / "valid.csv"),
            "--out",
            str(tmp_path / "m"),
        ],
    )
    assert result.exit_code == 1
    assert "line 3: unknown label 'bullish'" in result.output


def test_train_with_a_bad_label_map(runner: CliRunner, data_dir: Path, tmp_path: Path) -> None:
    result = runner.invoke(
        cli,
        [
            "train",
            "--train",
            str(data_dir / "train.csv"),
            "--valid",
            str(data_dir / "valid.csv"),
            "--out",
            str(tmp_path / "m"),
            "--labels",
            "0=negative,1=positive",
        ],
    )
    assert result.exit_code == 1
    assert "missing neutral" in result.output
