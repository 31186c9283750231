"""``finsent train`` and ``finsent evaluate``: fine-tune the sentiment model, score it."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import fields
from pathlib import Path
from types import UnionType
from typing import Any, TypeVar, get_args, get_origin, get_type_hints

import click

from classifier.train import HYPERPARAMETER, Hyperparameter, TrainConfig
from finsent.cli.app import cli, setting_option, settings_from
from finsent.settings import ModelSettings

F = TypeVar("F", bound=Callable[..., Any])

#: The hyper-parameters `finsent train` offers, in its --help order. Each option is built
#: from the field's declaration in TrainConfig (flag, type, bounds, help); unset, the
#: profile's value holds, else the field's default.
TRAIN_OPTIONS = (
    "epochs",
    "learning_rate",
    "batch_size",
    "max_length",
    "seed",
    "class_weighting",
    "teachers",
    "distill_weight",
    "ema_decay",
    "rdrop",
    "ngram_weight",
    "ngram_gate",
    "patience",
    "layers",
    "int8_fallback",
)


def config_option(name: str) -> Callable[[F], F]:
    """The option for TrainConfig's field ``name``, from its declaration: ``--`` and the
    field's name (or the declared flag), the field's type within its bounds or choices
    (repeatable for a tuple), and its help with the default in place of ``{default}``.
    The command gets the value under the field's name; None (or ``()``) when not given."""
    spec = next(f for f in fields(TrainConfig) if f.name == name)
    declared: Hyperparameter = spec.metadata[HYPERPARAMETER]
    hint = get_type_hints(TrainConfig)[name]
    if isinstance(hint, UnionType):  # X | None: X
        hint = next(arg for arg in get_args(hint) if arg is not type(None))
    multiple = get_origin(hint) is tuple
    kind = get_args(hint)[0] if multiple else hint
    default = f"{spec.default:g}" if isinstance(spec.default, float) else spec.default
    return click.option(
        declared.flag or "--" + name.replace("_", "-"),
        name,
        type=_checked_type(kind, declared),
        multiple=multiple,
        metavar=declared.metavar,
        help=declared.help.format(default=default),
    )


def _checked_type(kind: Any, declared: Hyperparameter) -> Any:
    """A field's type as click checks it: one of its choices, a number within its bounds,
    or the type itself."""
    if declared.choices:
        return click.Choice(declared.choices)
    if kind not in (int, float) or (declared.low is None and declared.high is None):
        return kind
    within = click.IntRange if kind is int else click.FloatRange
    return within(
        min=declared.low,
        max=declared.high,
        min_open=declared.low_open,
        max_open=declared.high_open,
    )


def config_options(names: Sequence[str]) -> Callable[[F], F]:
    """The options of these TrainConfig fields, in this order (``config_option``)."""

    def decorate(command: F) -> F:
        for name in reversed(names):
            command = config_option(name)(command)
        return command

    return decorate


def config_values(options: dict[str, Any], names: Sequence[str]) -> dict[str, Any]:
    """The values of the TrainConfig options ``names``, taken out of a command's
    ``options``: None for one not given (a repeatable one given no times included)."""
    values = {name: options.pop(name) for name in names}
    return {name: None if value == () else value for name, value in values.items()}


def model_setting(flag: str, field: str, **kwargs: Any) -> Callable[[F], F]:
    """An option that overrides the model setting ``field`` (FINSENT_MODEL_...); the
    command gets its value under the field's name."""
    return setting_option(flag, field, concern="model", field=field, **kwargs)


@cli.command("train")
@model_setting("--train", "train_csv", metavar="CSV")
@model_setting("--valid", "valid_csv", metavar="CSV")
@model_setting("--base", "base", metavar="MODEL")
@model_setting("--labels", "labels", metavar="MAP")
@model_setting(
    "--out",
    "path",
    metavar="DIR",
    help="Where the model goes. Unset: <data dir>/models/finsent-sentiment.",
)
@model_setting(
    "--profile",
    "train_profile",
    type=click.Choice(get_args(ModelSettings.model_fields["train_profile"].annotation)),
)
@config_options(TRAIN_OPTIONS)
@model_setting("--device", "device")
@model_setting("--threads", "threads", type=int)
@click.option("--no-progress", is_flag=True, help="No progress bar (for logs).")
@click.option(
    "--if-missing",
    is_flag=True,
    help="Do nothing when the output directory already holds a model (its config.json): "
    "for a one-shot service that trains only the first time.",
)
def train_command(no_progress: bool, if_missing: bool, **options: Any) -> None:
    """Fine-tune a sentiment classifier on labelled CSVs (columns text,label).

    Without --train and --valid it trains on the distillation set that ships with
    finsent (finsent/data/distil): the finance tweets of finsent/data/tfns, generated
    news-like texts and variants of the tweets, with a larger teacher's probabilities
    (the quick and smoke profiles 6,000 of the variants, the full and gpu profiles all
    19,007). It validates on the tweets' validation split.

    Writes a Hugging Face model directory with metrics.json and a model card
    (README.md). The best epoch by validation macro-F1 is kept. An n-gram model fitted
    on the same rows is saved beside it and served with it (--ngram-weight).
    """
    hyperparameters = config_values(options, TRAIN_OPTIONS)
    settings = settings_from({"model": options})  # what is left: the model settings
    model = settings.model
    existing = Path(settings.model_path).expanduser() / "config.json"
    if if_missing and existing.is_file():
        click.echo(f"a model is already at {existing.parent}: not training (--if-missing)")
        return
    from classifier.train import profile_config, train
    from finsent.datasets import NEWS_EVAL_CSV, ZH_EVAL_CSV
    from finsent.runtime import training_csvs

    train_path, valid_path = training_csvs(settings)
    config = profile_config(
        model.train_profile,
        train_csv=str(train_path),
        valid_csv=str(valid_path),
        out=settings.model_path,
        base=model.base,
        bases_dir=str(settings.general.data_dir / "bases"),
        checks=(str(NEWS_EVAL_CSV), str(ZH_EVAL_CSV)),
        labels=model.labels,
        device=model.device,
        threads=model.threads,
        **hyperparameters,
    )
    result = train(config, progress=not no_progress)
    m = result.metrics
    alone = m["transformer_alone"]
    click.echo(
        f"model written to {result.out}: validation accuracy {m['accuracy']:.4f}, "
        f"macro-F1 {m['macro_f1']:.4f}, weighted F1 {m['weighted_f1']:.4f}"
        + (
            f" with its n-gram model (transformer alone {alone['accuracy']:.4f}, "
            f"{alone['macro_f1']:.4f})"
            if m["ngram"]
            else ""
        )
        + f" (best epoch {m['best_epoch']} of {m['epochs_run']}, {m['wall_time_s']:.0f} s)"
        + "".join(
            f"; on {name} ({c['rows']} texts) accuracy {c['accuracy']:.4f}, "
            f"macro-F1 {c['macro_f1']:.4f}"
            for name, c in m["checks"].items()
        )
    )


@cli.command("evaluate")
@click.argument("model_path", metavar="MODEL")
@click.argument("csv_path", metavar="CSV", type=click.Path(dir_okay=False))
@setting_option("--labels", concern="model", field="labels", metavar="MAP")
@setting_option("--device", concern="model", field="device")
@setting_option(
    "--variant",
    concern="model",
    field="variant",
    type=click.Choice(["auto", "fp32", "fp16", "bf16", "int8", "onnx-fp32", "onnx-int8"]),
)
@setting_option("--batch-size", concern="model", field="batch_size", type=int)
@setting_option("--max-length", concern="model", field="max_length", type=int)
@setting_option("--threads", concern="model", field="threads", type=int)
@setting_option("--ngram-weight", concern="model", field="ngram_weight", type=float)
def evaluate_command(
    model_path: str,
    csv_path: str,
    labels: str | None,
    device: str | None,
    variant: str | None,
    batch_size: int | None,
    max_length: int | None,
    threads: int | None,
    ngram_weight: float | None,
) -> None:
    """Print the classification report and confusion matrix of MODEL on CSV.

    MODEL is a model directory or a Hugging Face model id; CSV has columns text,label,
    its labels mapped by --labels (the same map applies to models whose outputs are
    named LABEL_0..2).
    """
    settings = settings_from(
        {
            "model": {
                "path": model_path,
                "labels": labels,
                "device": device,
                "variant": variant,
                "batch_size": batch_size,
                "max_length": max_length,
                "threads": threads,
                "ngram_weight": ngram_weight,
            }
        }
    )
    model = settings.model
    from classifier.data import load_csv
    from classifier.labels import parse_label_map
    from classifier.metrics import classification_metrics, format_report
    from finsent.runtime import open_classifier

    data = load_csv(csv_path, parse_label_map(model.labels))
    engine = open_classifier(settings)
    started = time.perf_counter()
    predicted = engine.predict_proba(data.texts).argmax(axis=1).tolist()
    seconds = time.perf_counter() - started
    click.echo(
        f"model {model_path} ({engine.variant} on {engine.device}"
        + (f", n-gram model at weight {engine.ngram.weight}" if engine.ngram else "")
        + f") on {csv_path}: "
        f"{len(data)} texts in {seconds:.1f} s ({len(data) / max(seconds, 1e-9):.0f}/s)"
    )
    click.echo("")
    click.echo(format_report(classification_metrics(data.labels, predicted)))
