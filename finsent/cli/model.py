"""``finsent train`` and ``finsent evaluate``: fine-tune the sentiment model, score it."""

from __future__ import annotations

import time
from pathlib import Path

import click

from finsent.cli.app import cli, setting_option, settings_from


@cli.command("train")
@setting_option("--train", "train_csv", concern="model", field="train_csv", metavar="CSV")
@setting_option("--valid", "valid_csv", concern="model", field="valid_csv", metavar="CSV")
@setting_option(
    "--base",
    concern="model",
    field="base",
    metavar="MODEL",
)
@setting_option("--labels", concern="model", field="labels", metavar="MAP")
@setting_option(
    "--out",
    concern="model",
    field="path",
    metavar="DIR",
    help="Where the model goes. Unset: <data dir>/models/finsent-sentiment.",
)
@setting_option(
    "--profile",
    concern="model",
    field="train_profile",
    type=click.Choice(["quick", "full", "smoke"]),
)
@click.option("--epochs", type=click.IntRange(min=1), help="Epochs at most (default: profile's).")
@click.option(
    "--lr",
    "learning_rate",
    type=click.FloatRange(min=0, min_open=True),
    help="Peak learning rate of AdamW (default: profile's).",
)
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    help="Training batch size (default: profile's). Not the inference batch size.",
)
@click.option(
    "--max-length",
    type=click.IntRange(min=8),
    help="Training tokens per text at most (default: profile's).",
)
@click.option("--seed", type=int, help="Random seed (default 42).")
@click.option(
    "--class-weighting",
    type=click.Choice(["balanced", "sqrt", "none"]),
    help="Loss weights against the label imbalance (default sqrt).",
)
@click.option(
    "--teacher",
    "teachers",
    multiple=True,
    metavar="MODEL",
    help="Distil from this trained model (repeat for an ensemble): the student also "
    "learns the teachers' averaged probabilities.",
)
@click.option(
    "--distill-weight",
    type=click.FloatRange(min=0, max=1),
    help="Share of the loss that is the teachers' (default 0.5; with --teacher, or when "
    "the training CSV has soft-label columns p_negative,p_neutral,p_positive).",
)
@click.option(
    "--ema-decay",
    type=click.FloatRange(min=0, max=1, max_open=True),
    help="Keep a moving average of the weights with this decay (e.g. 0.998) and evaluate "
    "and save the average; 0 turns it off (the profile's default).",
)
@click.option(
    "--rdrop",
    type=click.FloatRange(min=0, max=100),
    help="Weight of R-Drop's consistency term: each batch runs twice under different "
    "dropout and the two outputs are pulled together (twice the compute; 0: off).",
)
@click.option(
    "--ngram-weight",
    type=click.FloatRange(min=0, max=10),
    help="Also fit an n-gram model on the training texts and serve it beside the "
    "transformer at this weight (default 1; 0: the transformer alone).",
)
@click.option(
    "--patience",
    type=click.IntRange(min=0),
    help="Stop after this many epochs without a better macro-F1; 0 never stops early.",
)
@setting_option("--device", concern="model", field="device")
@setting_option("--threads", concern="model", field="threads", type=int)
@click.option("--no-progress", is_flag=True, help="No progress bar (for logs).")
@click.option(
    "--if-missing",
    is_flag=True,
    help="Do nothing when the output directory already holds a model (its config.json): "
    "for a one-shot service that trains only the first time.",
)
def train_command(
    train_csv: str | None,
    valid_csv: str | None,
    base: str | None,
    labels: str | None,
    out: str | None,
    profile: str | None,
    epochs: int | None,
    learning_rate: float | None,
    batch_size: int | None,
    max_length: int | None,
    seed: int | None,
    class_weighting: str | None,
    teachers: tuple[str, ...],
    distill_weight: float | None,
    ema_decay: float | None,
    rdrop: float | None,
    ngram_weight: float | None,
    patience: int | None,
    device: str | None,
    threads: int | None,
    no_progress: bool,
    if_missing: bool,
) -> None:
    """Fine-tune a sentiment classifier on labelled CSVs (columns text,label).

    Without --train and --valid it trains on the Twitter Financial News Sentiment set
    that ships with finsent (finsent/data/tfns).

    Writes a Hugging Face model directory with metrics.json and a model card
    (README.md). The best epoch by validation macro-F1 is kept. An n-gram model fitted
    on the same rows is saved beside it and served with it (--ngram-weight).
    """
    settings = settings_from(
        {
            "model": {
                "train_csv": train_csv,
                "valid_csv": valid_csv,
                "base": base,
                "labels": labels,
                "path": out,
                "train_profile": profile,
                "device": device,
                "threads": threads,
            }
        }
    )
    model = settings.model
    existing = Path(settings.model_path).expanduser() / "config.json"
    if if_missing and existing.is_file():
        click.echo(f"a model is already at {existing.parent}: not training (--if-missing)")
        return
    from classifier.train import profile_config, train
    from finsent.runtime import training_csvs

    train_path, valid_path = training_csvs(settings)
    config = profile_config(
        model.train_profile,
        train_csv=str(train_path),
        valid_csv=str(valid_path),
        out=settings.model_path,
        base=model.base,
        labels=model.labels,
        epochs=epochs,
        learning_rate=learning_rate,
        batch_size=batch_size,
        max_length=max_length,
        seed=seed,
        class_weighting=class_weighting,
        teachers=teachers or None,
        distill_weight=distill_weight,
        ema_decay=ema_decay,
        rdrop=rdrop,
        ngram_weight=ngram_weight,
        patience=patience,
        device=model.device,
        threads=model.threads,
    )
    result = train(config, progress=not no_progress)
    m = result.metrics
    alone = m["transformer_alone"]
    click.echo(
        f"model written to {result.out}: validation accuracy {m['accuracy']:.4f}, "
        f"macro-F1 {m['macro_f1']:.4f}"
        + (
            f" with its n-gram model (transformer alone {alone['accuracy']:.4f}, "
            f"{alone['macro_f1']:.4f})"
            if m["ngram"]
            else ""
        )
        + f" (best epoch {m['best_epoch']} of {m['epochs_run']}, {m['wall_time_s']:.0f} s)"
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
