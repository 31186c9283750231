"""Fine-tune a transformer into a three-way financial sentiment classifier.

AdamW with linear warm-up and decay, class-weighted cross-entropy against the
neutral-heavy imbalance, length-grouped batches with dynamic padding, evaluation
on the validation set after each epoch, the best epoch by macro-F1 kept on disk,
early stopping, mixed precision on CUDA, a tqdm bar with loss and throughput;
optionally R-Drop (each batch twice under different dropout, their outputs pulled
together). With ``teachers``, the student also learns the teachers' averaged probabilities
(knowledge distillation: an ensemble's accuracy at one model's inference cost); a
training CSV with soft-label columns (``p_negative,p_neutral,p_positive``, e.g.
from cross-fitted teachers that never saw those rows) is distilled from directly.
Before the transformer's epochs, an n-gram model (``classifier.ngram``) is fitted on
the same rows; the engine serves the two together, and the epoch kept is the one whose
pair scores the best macro-F1.

The output directory is a standard Hugging Face model directory (``config.json``
with canonical ``id2label``, weights, tokenizer) plus the n-gram model's two files,
``calibration.json`` (the temperatures), ``int8.json`` (the products int8 serving
keeps fp32, :mod:`classifier.int8_plan`), ``metrics.json`` (the served pair's scores;
the transformer's alone too) and a model card ``README.md`` written from the same facts.

:func:`train` reads top to bottom: prepare the rows and the output directory, load the
student, encode the rows, set up the optimisation, fit the n-gram model, then per epoch
one pass over the rows (:func:`train_epoch`) and an evaluation (:func:`evaluate`) that
keeps the best epoch on disk; last, the temperatures, the int8 plan, metrics.json and the
card (:func:`write_report`).
Each hyper-parameter is declared once, in :class:`TrainConfig` (:func:`hyperparameter`):
its help text, bounds and error serve both the checks before a run and the command line.
"""

from __future__ import annotations

import json
import logging
import math
import os
import platform
import random
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from classifier.bases import DEFAULT_BASE, NAMED_BASES, resolve_base
from classifier.data import SOFT_COLUMNS, LabelledData, load_csv, normalise
from classifier.exceptions import ClassifierError, ModelLoadError, TrainingError
from classifier.labels import (
    CANONICAL,
    DEFAULT_LABEL_MAP,
    canonical_id2label,
    canonical_label2id,
    parse_label_map,
)
from classifier.metrics import classification_metrics

if TYPE_CHECKING:
    import torch

    from classifier.calibration import Calibration
    from classifier.ngram import NgramModel

log = logging.getLogger(__name__)

CLASS_WEIGHTINGS = ("balanced", "sqrt", "none")

#: The key of a TrainConfig field's metadata that holds its :class:`Hyperparameter`.
HYPERPARAMETER = "hyperparameter"

T = TypeVar("T")


@dataclass(frozen=True)
class Hyperparameter:
    """A TrainConfig field's declaration beside its type and default: the help text of its
    command-line option (``{default}`` stands for the default), the option's flag when it
    is not ``--`` and the field's name, its metavar, and the values it admits (bounds,
    open or closed, or choices) with the error for any other (``{value}``, ``{choices}``)."""

    help: str
    flag: str | None = None
    metavar: str | None = None
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    choices: tuple[str, ...] = ()
    problem: str = ""

    def admits(self, value: Any) -> bool:
        """Whether ``value`` is within the bounds and among the choices (None: unset)."""
        if value is None:
            return True
        if self.choices and value not in self.choices:
            return False
        if self.low is not None and not (value > self.low if self.low_open else value >= self.low):
            return False
        return self.high is None or (value < self.high if self.high_open else value <= self.high)


def hyperparameter(default: T, help: str, **declared: Any) -> T:
    """A TrainConfig field: its default, and its :class:`Hyperparameter` declaration."""
    return field(default=default, metadata={HYPERPARAMETER: Hyperparameter(help, **declared)})


@dataclass(frozen=True)
class TrainConfig:
    """Everything a training run depends on; recorded in metrics.json as given. Each
    hyper-parameter's help, bounds and error are declared with it (``hyperparameter``):
    the checks before a run and ``finsent train``'s options are built from them."""

    train_csv: str
    valid_csv: str
    out: str
    #: a model id, a local directory or a name of ``classifier.bases`` (None: the default)
    base: str | None = None
    #: where named bases published in pieces are assembled (``finsent``: <data dir>/bases)
    bases_dir: str | None = None
    labels: str = DEFAULT_LABEL_MAP
    #: labelled CSVs the kept model is also scored on, for metrics.json and the card (never
    #: used to choose anything); labelled like the shipped sets (DEFAULT_LABEL_MAP)
    checks: tuple[str, ...] = ()
    epochs: int = hyperparameter(
        6,
        "Epochs at most (default: profile's).",
        low=1,
        problem="epochs must be at least 1, not {value}",
    )
    learning_rate: float = hyperparameter(
        1e-4,
        "Peak learning rate of AdamW (default: profile's).",
        flag="--lr",
        low=0,
        low_open=True,
        problem="learning rate must be positive, not {value}",
    )
    batch_size: int = hyperparameter(
        32,
        "Training batch size (default: profile's). Not the inference batch size.",
        low=1,
        problem="batch size must be at least 1, not {value}",
    )
    max_length: int = hyperparameter(
        64,
        "Training tokens per text at most (default: profile's).",
        low=8,
        problem="max length must be at least 8, not {value}",
    )
    seed: int = hyperparameter(42, "Random seed (default {default}).")
    warmup_ratio: float = hyperparameter(
        0.06,
        "Share of the steps over which the learning rate rises linearly to its peak.",
        low=0,
        high=1,
        high_open=True,
        problem="warm-up ratio must be in [0, 1), not {value}",
    )
    weight_decay: float = hyperparameter(
        0.01, "AdamW's weight decay (biases and layer norms: none)."
    )
    class_weighting: str = hyperparameter(
        "sqrt",
        "Loss weights against the label imbalance (default {default}).",
        choices=CLASS_WEIGHTINGS,
        problem="class weighting {value!r} is not one of {choices}",
    )
    label_smoothing: float = hyperparameter(
        0.05,
        "Label smoothing of the cross-entropy.",
        low=0,
        high=1,
        high_open=True,
        problem="label smoothing must be in [0, 1)",
    )
    patience: int = hyperparameter(
        2,
        "Stop after this many epochs without a better macro-F1; 0 never stops early.",
        low=0,
        problem="patience must be 0 (no early stopping) or more",
    )
    layers: int | None = hyperparameter(
        None,
        "Keep only the base's first N transformer layers: a model N/L the compute of "
        "the whole base (default: every layer).",
        low=1,
        problem="layers must be at least 1, not {value}",
    )
    max_steps: int | None = hyperparameter(
        None,
        "Optimiser steps at most, all epochs together (None: every epoch's batches).",
        low=1,
        problem="max steps must be at least 1",
    )
    limit_train: int | None = hyperparameter(
        None, "Train on a seeded sample of this many rows (None: all of them)."
    )
    limit_valid: int | None = hyperparameter(
        None, "Validate on a seeded sample of this many rows (None: all of them)."
    )
    device: str = "auto"
    threads: int = 0
    normalise_text: bool = hyperparameter(
        True, "URLs, @handles and cashtags normalised, in training as in inference."
    )
    freeze_embeddings: bool = hyperparameter(
        False, "The word-embedding table stays as pre-training left it."
    )
    eval_batch_size: int = hyperparameter(128, "Batch size of the validation after each epoch.")
    teachers: tuple[str, ...] = hyperparameter(
        (),
        "Distil from this trained model (repeat for an ensemble): the student also "
        "learns the teachers' averaged probabilities.",
        flag="--teacher",
        metavar="MODEL",
    )
    distill_weight: float = hyperparameter(
        0.5,
        "Share of the loss that is the teachers' (default {default}; with --teacher, or when "
        "the training CSV has soft-label columns p_negative,p_neutral,p_positive).",
        low=0,
        high=1,
        problem="distillation weight must be in [0, 1]",
    )
    distill_temperature: float = hyperparameter(
        2.0,
        "Softmax temperature of the distillation term.",
        low=0,
        low_open=True,
        problem="distillation temperature must be positive",
    )
    ema_decay: float = hyperparameter(
        0.0,
        "Keep a moving average of the weights with this decay (e.g. 0.998) and evaluate "
        "and save the average; 0 turns it off (the profile's default). The decay ramps up "
        "as (1 + n) / (10 + n) at step n, so over the first ~900 steps every decay of 0.99 "
        "or more averages alike.",
        low=0,
        high=1,
        high_open=True,
        problem="EMA decay must be in [0, 1) (0: no moving average)",
    )
    rdrop: float = hyperparameter(
        0.0,
        "Weight of R-Drop's consistency term: each batch runs twice under different "
        "dropout and the two outputs are pulled together (twice the compute; 0: off).",
        low=0,
        high=100,
        problem="R-Drop weight must be in [0, 100] (0: none)",
    )
    ngram_weight: float = hyperparameter(
        1.0,
        "Also fit an n-gram model on the training texts and serve it beside the "
        "transformer at this weight (default {default}; 0: the transformer alone).",
        low=0,
        high=10,
        problem="n-gram weight must be in [0, 10] (0: no n-gram model)",
    )
    ngram_gate: str = hyperparameter(
        "tweets",
        "Which texts the n-gram model votes on: tweets (a URL, a cashtag, an @handle or a "
        "#tag: the surface it learned, where it helps) or all (default {default}; on news "
        "it costs accuracy: BENCHMARKS.md).",
        choices=("tweets", "all"),
        problem="n-gram gate {value!r} is not one of {choices}",
    )
    int8_fallback: int = hyperparameter(
        2,
        "Feed-forward outputs kept fp32 when the model is served in int8, at most: those "
        "that bring int8's probabilities on the validation texts closest to fp32's, each "
        "about a tenth of int8's speed (default {default}, the smoke profile 0; 0: every "
        "product in int8).",
        low=0,
        problem="int8 fallback must be 0 (every product in int8) or more, not {value}",
    )
    profile: str = "custom"


#: Named hyper-parameter sets. ``quick`` is for first runs (``finsent up`` with no
#: model): about 11 minutes on 2 CPU cores. ``full`` is the one the benchmark reports
#: (35-45 minutes there). ``smoke`` trains a few steps on a sample of the rows (well
#: under a minute there): it proves the whole path from a fresh clone in CI, not a model
#: to serve.
PROFILES: dict[str, dict[str, Any]] = {
    "smoke": {
        "epochs": 1,
        "learning_rate": 3e-4,
        "batch_size": 32,
        "max_length": 40,
        "patience": 0,
        "freeze_embeddings": True,
        "limit_train": 640,
        "limit_valid": 320,
        "int8_fallback": 0,
    },
    "quick": {
        "epochs": 2,
        "learning_rate": 1.5e-4,
        "batch_size": 32,
        "max_length": 64,
        "patience": 1,
        "freeze_embeddings": True,
    },
    "full": {
        # four epochs of the full distillation set (40,550 rows): seed 42's best is the third, and
        # three epochs end lower (0.8899 / 0.8549 against 0.8907 / 0.8590, BENCHMARKS.md,
        # "Variants of the tweets"); six were the schedule of the 9,543 tweets alone
        "epochs": 4,
        "learning_rate": 1e-4,
        "batch_size": 32,
        "max_length": 64,
        # seeds 7 and 13 peaked at the second epoch and never came back above it, seed 42 at
        # the third: stopping after one epoch without a better macro-F1 keeps the same model
        # for all three and spares the two a fourth epoch (~10 min on 2 cores; BENCHMARKS.md,
        # "The default recipe across seeds")
        "patience": 1,
        # R-Drop: +0.6 to +0.9 pt macro-F1 as served, three seeds (BENCHMARKS.md), at twice
        # the training time
        "rdrop": 2.0,
    },
    # the larger base on a GPU (bf16 autocast where the card has it, else fp16): the
    # teacher to distil the served student from, or a model a GPU worker serves in
    # fp16/bf16. Its learning rate, epochs and length were measured on the CPU with the
    # same base (BENCHMARKS.md, "A stronger teacher"); the batch is a GPU's
    "gpu": {
        "base": "all-mpnet-base-v2",
        "epochs": 3,
        "learning_rate": 3e-5,
        "batch_size": 64,
        "max_length": 128,
        "patience": 1,
        "eval_batch_size": 256,
    },
}


def profile_config(profile: str, **given: Any) -> TrainConfig:
    """A TrainConfig from a profile's values, with ``given`` (non-None) values on top."""
    if profile not in PROFILES:
        raise TrainingError(f"profile {profile!r} is not one of {', '.join(PROFILES)}")
    values = {**PROFILES[profile], **{k: v for k, v in given.items() if v is not None}}
    return TrainConfig(profile=profile, **values)


@dataclass
class EpochRecord:
    """One epoch's validation scores: ``accuracy`` and ``macro_f1`` are what would be
    served (the transformer with its n-gram model, when there is one), the
    ``transformer_`` pair the transformer alone."""

    epoch: int
    train_loss: float
    accuracy: float
    macro_f1: float
    seconds: float
    steps: int
    transformer_accuracy: float
    transformer_macro_f1: float


@dataclass
class TrainResult:
    out: str
    metrics: dict[str, Any]
    history: list[EpochRecord] = field(default_factory=list)


def train(
    config: TrainConfig,
    *,
    progress: bool = True,
    on_epoch: Callable[[EpochRecord], None] | None = None,
) -> TrainResult:
    """Fine-tune ``config.base`` on ``config.train_csv``; write the model to ``config.out``.
    ``progress``: the epochs' bars, and transformers' own (loading, writing shards)."""
    import numpy as np
    import torch

    from classifier.engine import resolve_device
    from classifier.loading import library_progress

    with library_progress(progress):
        _check(config)  # every hyper-parameter within its bounds, before any work
        started = time.perf_counter()
        # the rows, the base model resolved, an output directory that takes files
        run = prepare(config, progress=progress)
        config = run.config
        # the device, threads and seeds; the student: the base with a fresh 3-way head
        device = resolve_device(config.device)
        if config.profile == "gpu" and not device.startswith("cuda"):
            log.warning(
                "profile gpu on %s: sized for a GPU (110M parameters, batch %d); on 2 CPU "
                "cores an epoch of the shipped set takes about 15 minutes",
                device,
                config.batch_size,
            )
        if config.threads:
            torch.set_num_threads(config.threads)
        random.seed(config.seed)
        np.random.seed(config.seed)
        torch.manual_seed(config.seed)
        rng = random.Random(config.seed)  # noqa: S311  (shuffling batches, not security)
        setup = set_up_learning(run.base, config, run.train_data, device)
        rows, weights, learner = setup.rows, setup.weights, setup.learner
        total_steps = setup.total_steps
        log.info(
            "training %s on %d texts (%s), validating on %d; device %s, %d steps, class weights %s",
            run.base,
            len(run.train_data),
            run.train_data.counts(),
            len(run.valid_data),
            device,
            total_steps,
            [round(w, 3) for w in weights],
        )
        # the n-gram model depends on the rows alone: fitted first, it takes part in
        # choosing the epoch to keep (by the macro-F1 of the pair that will be served)
        beside = (
            fit_ngram(config, run.train_data, weights, run.out) if config.ngram_weight else None
        )
        valid_log_p = beside.log_proba(run.valid_data.texts) if beside is not None else None
        check_log_p = {
            name: beside.log_proba(data.texts) if beside is not None else None
            for name, data in run.checks.items()
        }

        history: list[EpochRecord] = []
        best: KeptEpoch | None = None
        stale = step = 0
        for epoch in range(1, config.epochs + 1):
            # one pass over the rows in length-grouped batches, within the step budget
            epoch_start = time.perf_counter()
            plan = epoch_plan(rows, config, rng, steps_left=total_steps - step)
            desc = f"epoch {epoch}/{config.epochs}"
            train_loss, steps = train_epoch(learner, rows, plan, config, desc, progress)
            step += steps
            # score it on the validation rows; a better epoch replaces the model on disk
            with kept_weights(learner):
                scored = evaluate(learner, config, run.valid_data, beside, valid_log_p)
                scores, alone = scored.served, scored.alone
                better = best is None or scores["macro_f1"] > best.scores["macro_f1"]
                if better:
                    learner.model.save_pretrained(run.out)
                    learner.tokenizer.save_pretrained(run.out)
                    checked = {
                        name: evaluate(learner, config, data, beside, check_log_p[name])
                        for name, data in run.checks.items()
                    }
            record = epoch_record(epoch, train_loss, steps, scores, alone, epoch_start)
            history.append(record)
            if on_epoch is not None:
                on_epoch(record)
            # keep the best; stop at the step budget, or when patience runs out
            if better:
                best, stale = KeptEpoch(epoch, scored, checked), 0
            else:
                stale += 1
            if config.max_steps is not None and step >= total_steps:
                break
            if config.patience and stale >= config.patience:
                log.info("early stop: macro-F1 has not improved for %d epoch(s)", stale)
                break

        assert best is not None  # at least one epoch ran
        # probabilities that mean what they say: one temperature per way of serving
        fitted = calibrate(best.valid, beside, run.valid_data, run.out)
        # what the run measured, in metrics.json and the model card
        ngram_facts = ngram_summary(beside, valid_log_p, run.valid_data)
        metrics = run_metrics(run, best, history, weights, ngram_facts, device, started)
        metrics["calibration"] = asdict(fitted)
        # int8 serving as close to fp32 as a few fp32 products bring it (int8.json)
        if config.int8_fallback:
            metrics["int8"] = plan_serving(run.out, run.valid_data.texts, config)
        write_report(run.out, metrics)
    return TrainResult(out=str(run.out), metrics=metrics, history=history)


def plan_serving(out: Path, texts: Sequence[str], config: TrainConfig) -> dict[str, Any] | None:
    """Choose and write the model's int8 plan (:mod:`classifier.int8_plan`); its facts for
    metrics.json. A plan that cannot be made leaves every product in int8, with a warning."""
    from classifier.int8_plan import plan_int8, write_plan

    try:
        plan = plan_int8(out, texts, max_nodes=config.int8_fallback, threads=config.threads)
    except Exception as e:  # onnx and onnxruntime's quantiser raise their own errors
        log.warning("no int8 plan (%s): int8 serving quantises every product", e)
        return None
    write_plan(out, plan)
    return asdict(plan)


# --- preparing: the config checked, the rows, the output directory -----------------------


def _check(config: TrainConfig) -> None:
    """Raise the first hyper-parameter's error (in field order) that is out of bounds."""
    for spec in fields(config):
        declared: Hyperparameter | None = spec.metadata.get(HYPERPARAMETER)
        value = getattr(config, spec.name)
        if declared is not None and not declared.admits(value):
            raise TrainingError(
                declared.problem.format(value=value, choices=", ".join(declared.choices))
            )


@dataclass(frozen=True)
class RunInputs:
    """A run's inputs: its configuration with the base model resolved (``base``), the
    label map, the training and validation rows (sampled when limited), the output
    directory."""

    config: TrainConfig
    base: str
    label_map: dict[str, str]
    train_data: LabelledData
    valid_data: LabelledData
    out: Path
    checks: dict[str, LabelledData] = field(default_factory=dict)


def prepare(config: TrainConfig, *, progress: bool = False) -> RunInputs:
    """Resolve the base model (assembling a named one the first time), load the rows and
    make the output directory."""
    base = resolve_base(
        config.base, Path(config.bases_dir) if config.bases_dir else None, progress=progress
    )
    named = config.base or DEFAULT_BASE
    config = replace(config, base=named.lower() if named.lower() in NAMED_BASES else named)
    label_map = parse_label_map(config.labels)
    train_data = load_csv(config.train_csv, label_map).sample(config.limit_train, config.seed)
    valid_data = load_csv(config.valid_csv, label_map).sample(config.limit_valid, config.seed)
    shipped_map = parse_label_map(DEFAULT_LABEL_MAP)
    checks = {Path(path).stem: load_csv(path, shipped_map) for path in config.checks}
    out = Path(config.out)
    make_output_dir(out)
    return RunInputs(config, base, label_map, train_data, valid_data, out, checks)


def make_output_dir(out: Path) -> None:
    """Create ``out``, prove it takes files, and clear a previous model's n-gram and
    calibration files."""
    from classifier import calibration, ngram

    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".finsent-write-test"
        probe.write_text("", encoding="utf-8")
        probe.unlink()
        # a previous model's
        for leftover in (ngram.CONFIG_FILE, ngram.WEIGHTS_FILE, calibration.CALIBRATION_FILE):
            (out / leftover).unlink(missing_ok=True)
    except OSError as e:
        raise TrainingError(f"output directory {out} is not writable ({e.strerror})") from e


# --- the student and its training rows --------------------------------------------------


def _load_base(base: str, offline: bool, layers: int | None = None) -> tuple[Any, Any]:
    """The base's tokenizer and model with a fresh three-way head; its first ``layers``
    transformer layers only, when given (the rest are never loaded)."""
    from transformers import AutoConfig, AutoModelForSequenceClassification, AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(base, local_files_only=offline)
        kept = {}
        if layers is not None:
            total = AutoConfig.from_pretrained(base, local_files_only=offline).num_hidden_layers
            if layers > total:
                raise TrainingError(f"layers {layers}: base {base!r} has {total}")
            kept = {"num_hidden_layers": layers}
        model = AutoModelForSequenceClassification.from_pretrained(
            base,
            num_labels=len(CANONICAL),
            id2label=canonical_id2label(),
            label2id=canonical_label2id(),
            ignore_mismatched_sizes=True,
            local_files_only=offline,
            **kept,
        )
    except (OSError, ValueError) as e:
        where = "local directory" if Path(base).exists() else "model id (offline: local cache only)"
        raise ModelLoadError(f"base model {base!r} ({where}) cannot be loaded: {e}") from e
    return tokenizer, model


def load_student(base: str, config: TrainConfig, device: str) -> tuple[Any, Any]:
    """The tokenizer and the model to train: ``base`` with a fresh three-way head, on
    ``device``, its word embeddings frozen when the config says so."""
    from classifier.loading import hub_offline

    tokenizer, model = _load_base(base, hub_offline(), config.layers)
    model.to(device)
    if config.freeze_embeddings:
        # the word-embedding table is half of MiniLM's weights: freezing it saves its dense
        # gradient and optimiser state each step, and keeps words unseen in training where
        # pre-training put them
        model.get_input_embeddings().weight.requires_grad_(False)
    return tokenizer, model


@dataclass(frozen=True)
class TrainingRows:
    """The training rows as batches are cut from them: token ids (unpadded, truncated),
    their lengths, the labels, the soft targets (a rows x classes tensor, or None), the pad
    id, and whether the model takes token types."""

    ids: list[list[int]]
    lengths: list[int]
    labels: list[int]
    soft: Any
    pad_id: int
    token_types: bool


def encode(tokenizer: Any, data: LabelledData, config: TrainConfig, soft: Any) -> TrainingRows:
    """Tokenise the (normalised) training texts once, for every epoch; ``soft``: what
    they are distilled from (``soft_targets``), or None."""
    texts = [normalise(t) for t in data.texts] if config.normalise_text else list(data.texts)
    ids = tokenizer(
        texts,
        truncation=True,
        max_length=config.max_length,
        padding=False,
        return_attention_mask=False,
        return_token_type_ids=False,
    )["input_ids"]
    return TrainingRows(
        ids=ids,
        lengths=[len(row) for row in ids],
        labels=data.labels,
        soft=soft,
        pad_id=tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0,
        token_types="token_type_ids" in tokenizer.model_input_names,
    )


def teacher_probabilities(
    teachers: Sequence[str], texts: Sequence[str], config: TrainConfig, device: str
) -> Any:
    """The teachers' canonical-order probabilities on ``texts``, averaged (an ensemble).

    Each teacher is its transformer alone: the student gets its own n-gram model."""
    import numpy as np

    from classifier.loading import load_engine

    total = None
    for teacher in teachers:
        log.info("teacher %s: scoring %d training texts", teacher, len(texts))
        try:
            engine = load_engine(
                teacher,
                device=device,
                variant="fp32",
                batch_size=config.eval_batch_size,
                max_length=config.max_length,
                threads=config.threads,
                normalise_text=config.normalise_text,
                ngram_weight=0,
            )
        except ClassifierError as e:
            raise TrainingError(f"teacher {teacher}: {e}") from e
        probs = engine.predict_proba(texts)
        total = probs if total is None else total + probs
        del engine
    assert total is not None
    return np.asarray(total / len(teachers), dtype=np.float32)


def soft_targets(config: TrainConfig, data: LabelledData, device: str) -> Any:
    """What the student distils from, as a tensor (rows x canonical classes), or None:
    the training CSV's own soft-label columns, or the teachers' averaged probabilities."""
    import torch

    if data.soft is not None and config.teachers:
        raise TrainingError(
            f"{data.path} carries soft labels and teachers were given too: "
            "distil from one or the other"
        )
    if data.soft is not None:
        log.info("distilling from the soft labels in %s", data.path)
        return torch.tensor(data.soft, dtype=torch.float32)
    if config.teachers:
        return torch.from_numpy(teacher_probabilities(config.teachers, data.texts, config, device))
    return None


# --- the optimisation: loss, optimiser, schedule, mixed precision, moving average -------


def class_weights(counts: list[int], scheme: str) -> list[float]:
    """Loss weight per class: ``balanced`` n/(k*count), ``sqrt`` its square root, or 1s."""
    if scheme == "none":
        return [1.0] * len(counts)
    total, k = sum(counts), len(counts)
    weights = [total / (k * c) if c else 0.0 for c in counts]
    if scheme == "sqrt":
        weights = [math.sqrt(w) for w in weights]
    return weights


def step_budget(rows: int, config: TrainConfig) -> int:
    """Optimiser steps in the whole run: every epoch's batches, ``max_steps`` at most."""
    total = math.ceil(rows / config.batch_size) * config.epochs
    return total if config.max_steps is None else min(total, config.max_steps)


def lr_factor(step: int, warmup: int, total: int) -> float:
    """The learning rate's share of its peak at ``step``: a linear rise over ``warmup``
    steps, then a linear decay to 0 at ``total``."""
    if step < warmup:
        return (step + 1) / (warmup + 1)
    return max(0.0, (total - step) / max(1, total - warmup))


@dataclass
class Learner:
    """The model in training and what updates it: the loss, the trainable parameters
    (gradients clipped together), AdamW and its schedule, the mixed precision's type and
    gradient scaler, and the weights' moving average when there is one."""

    tokenizer: Any
    model: Any
    device: str
    loss_fn: Any
    params: list[Any]
    optimizer: Any
    scheduler: Any
    amp_dtype: Any
    scaler: Any
    average: WeightAverage | None

    @property
    def on_cuda(self) -> bool:
        return self.device.startswith("cuda")


def make_learner(
    tokenizer: Any,
    model: Any,
    device: str,
    config: TrainConfig,
    weights: list[float],
    total_steps: int,
) -> Learner:
    """Class-weighted, label-smoothed cross-entropy; AdamW (no decay on biases and layer
    norms) with linear warm-up and decay over ``total_steps``; bf16 or fp16 autocast on
    CUDA; a moving average of the weights when ``config.ema_decay``."""
    import torch

    loss_fn = torch.nn.CrossEntropyLoss(
        weight=torch.tensor(weights, dtype=torch.float32, device=device),
        label_smoothing=config.label_smoothing,
    )
    trainable = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    groups = param_groups(trainable, config.weight_decay)
    optimizer = torch.optim.AdamW(groups, lr=config.learning_rate)
    warmup = int(total_steps * config.warmup_ratio)
    schedule = partial(lr_factor, warmup=warmup, total=total_steps)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
    params = [p for _, p in trainable]
    average = WeightAverage(params, config.ema_decay) if config.ema_decay else None
    on_cuda = device.startswith("cuda")
    amp_dtype = torch.bfloat16 if on_cuda and torch.cuda.is_bf16_supported() else torch.float16
    scaler = torch.amp.GradScaler("cuda", enabled=on_cuda and amp_dtype == torch.float16)
    return Learner(
        tokenizer=tokenizer,
        model=model,
        device=device,
        loss_fn=loss_fn,
        params=params,
        optimizer=optimizer,
        scheduler=scheduler,
        amp_dtype=amp_dtype,
        scaler=scaler,
        average=average,
    )


@dataclass
class LearningSetup:
    """What an epoch loop needs: the training rows as token ids (with the targets they
    are distilled from), the class weights, the step budget, and the learner."""

    rows: TrainingRows
    weights: list[float]
    total_steps: int
    learner: Learner


def set_up_learning(
    base: str, config: TrainConfig, data: LabelledData, device: str
) -> LearningSetup:
    """The student (``base`` with a fresh 3-way head) on ``device``, ``data`` as token ids
    with what they are distilled from (if anything), the class-weighted loss, AdamW with
    warm-up and decay over the step budget, mixed precision and the weights' average."""
    tokenizer, model = load_student(base, config, device)
    rows = encode(tokenizer, data, config, soft_targets(config, data, device))
    weights = class_weights([data.counts()[name] for name in CANONICAL], config.class_weighting)
    total_steps = step_budget(len(data), config)
    learner = make_learner(tokenizer, model, device, config, weights, total_steps)
    return LearningSetup(rows, weights, total_steps, learner)


def param_groups(trainable: list[tuple[str, Any]], weight_decay: float) -> list[dict[str, Any]]:
    """AdamW's parameter groups: weight decay on the weights, none on biases and norms."""
    no_decay = ("bias", "LayerNorm.weight", "layernorm", "layer_norm")
    return [
        {
            "params": [p for n, p in trainable if not any(k in n for k in no_decay)],
            "weight_decay": weight_decay,
        },
        {
            "params": [p for n, p in trainable if any(k in n for k in no_decay)],
            "weight_decay": 0.0,
        },
    ]


class WeightAverage:
    """An exponential moving average of some parameters (Polyak averaging), swapped into
    the model to evaluate and save it. The decay ramps up over the first updates, so
    the average does not hold on to the random head it started from."""

    def __init__(self, params: Sequence[Any], decay: float) -> None:
        self.params = list(params)
        self.decay = decay
        self.updates = 0
        self.shadow = [p.detach().clone() for p in self.params]

    def update(self) -> None:
        import torch

        self.updates += 1
        decay = min(self.decay, (1 + self.updates) / (10 + self.updates))
        with torch.no_grad():
            for avg, p in zip(self.shadow, self.params, strict=True):
                avg.lerp_(p.detach(), 1.0 - decay)

    @contextmanager
    def applied(self) -> Iterator[None]:
        """The model holds the averaged weights inside the block, its own after it."""
        import torch

        with torch.no_grad():
            own = [p.detach().clone() for p in self.params]
            for p, avg in zip(self.params, self.shadow, strict=True):
                p.copy_(avg)
        try:
            yield
        finally:
            with torch.no_grad():
                for p, mine in zip(self.params, own, strict=True):
                    p.copy_(mine)


def fit_ngram(
    config: TrainConfig, train_data: LabelledData, class_weight: list[float], out: Path
) -> NgramModel | None:
    """Fit and save the n-gram model that serves beside the transformer; None (logged)
    when the training rows cannot make one."""
    from classifier import ngram

    started = time.perf_counter()
    try:
        model = ngram.fit(
            train_data.texts,
            train_data.labels,
            class_weight=class_weight,
            weight=config.ngram_weight,
            gate=config.ngram_gate,
        )
    except TrainingError as e:
        log.warning("no n-gram model: %s; the transformer alone will serve", e)
        return None
    ngram.save(model, out)
    log.info(
        "n-gram model: %d features, fitted in %.0f s, weight %s",
        len(model.features),
        time.perf_counter() - started,
        model.weight,
    )
    return model


# --- one epoch: the step loop ------------------------------------------------------------


def length_grouped_batches(
    lengths: list[int], batch_size: int, rng: random.Random, group: int = 50
) -> list[list[int]]:
    """Shuffled batches of similar length: less padding, still a random order per epoch."""
    order = list(range(len(lengths)))
    rng.shuffle(order)
    chunk = batch_size * group
    batches: list[list[int]] = []
    for start in range(0, len(order), chunk):
        block = sorted(order[start : start + chunk], key=lambda i: lengths[i])
        batches.extend(block[i : i + batch_size] for i in range(0, len(block), batch_size))
    rng.shuffle(batches)
    return batches


def epoch_plan(
    rows: TrainingRows, config: TrainConfig, rng: random.Random, steps_left: int
) -> list[list[int]]:
    """An epoch's batches (row indices), length-grouped in a fresh random order; with
    ``max_steps``, no more of them than ``steps_left``."""
    plan = length_grouped_batches(rows.lengths, config.batch_size, rng)
    return plan if config.max_steps is None else plan[: max(0, steps_left)]


def train_epoch(
    learner: Learner,
    rows: TrainingRows,
    plan: list[list[int]],
    config: TrainConfig,
    desc: str,
    progress: bool,
) -> tuple[float, int]:
    """One optimiser step per batch of ``plan`` (row indices), under a progress bar
    ``desc`` with the running loss, the throughput and the learning rate; the mean
    loss and the number of steps."""
    from tqdm.auto import tqdm

    learner.model.train()
    started = time.perf_counter()
    reported = started
    running, seen, seen_texts = 0.0, 0, 0
    bar = tqdm(plan, desc=desc, unit="batch", disable=not progress)
    for indices in bar:
        batch = make_batch(rows, indices, learner.device)
        running += train_step(learner, batch, config)
        seen += 1
        seen_texts += len(indices)
        now = time.perf_counter()
        elapsed = now - started
        bar.set_postfix(
            loss=f"{running / seen:.4f}",
            texts_s=f"{seen_texts / max(elapsed, 1e-9):.0f}",
            lr=f"{learner.scheduler.get_last_lr()[0]:.2e}",
        )
        # without a bar, a line now and then: an epoch on 2 cores takes up to ten minutes
        if not progress and now - reported >= QUIET_REPORT_EVERY_S and seen < len(plan):
            log.info("%s", step_report(desc, seen, len(plan), running / seen, seen_texts, elapsed))
            reported = now
    bar.close()
    return running / max(seen, 1), seen


#: Seconds between the lines that say how far an epoch has come, when no bar shows it.
QUIET_REPORT_EVERY_S = 60.0


def step_report(desc: str, done: int, total: int, loss: float, texts: int, elapsed: float) -> str:
    """How far an epoch under way has come: steps, running loss, throughput and the
    time its remaining steps will take at the pace so far."""
    left = elapsed / done * (total - done) if done else 0.0
    minutes, seconds = divmod(round(left), 60)
    return (
        f"{desc}: step {done} of {total}, loss {loss:.4f}, {texts / max(elapsed, 1e-9):.0f} "
        f"texts/s, the epoch ends in about {minutes} min {seconds:02d} s"
    )


def make_batch(rows: TrainingRows, indices: list[int], device: str) -> dict[str, torch.Tensor]:
    """Rows ``indices`` padded to the longest of them, with their attention mask, labels
    and soft targets (when there are some), on ``device``."""
    import torch

    width = max(rows.lengths[i] for i in indices)
    ids = torch.full((len(indices), width), rows.pad_id, dtype=torch.long)
    mask = torch.zeros((len(indices), width), dtype=torch.long)
    for row, i in enumerate(indices):
        ids[row, : rows.lengths[i]] = torch.tensor(rows.ids[i])
        mask[row, : rows.lengths[i]] = 1
    batch = {"input_ids": ids, "attention_mask": mask}
    if rows.token_types:
        batch["token_type_ids"] = torch.zeros_like(ids)
    batch["labels"] = torch.tensor([rows.labels[i] for i in indices])
    if rows.soft is not None:
        batch["soft"] = rows.soft[indices]
    return {k: v.to(device) for k, v in batch.items()}


def train_step(learner: Learner, batch: dict[str, torch.Tensor], config: TrainConfig) -> float:
    """One optimiser step on ``batch`` (gradients scaled under fp16, clipped at 1.0); its
    loss."""
    import torch

    loss = batch_loss(learner, batch, config)
    learner.optimizer.zero_grad(set_to_none=True)
    learner.scaler.scale(loss).backward()
    learner.scaler.unscale_(learner.optimizer)
    torch.nn.utils.clip_grad_norm_(learner.params, 1.0)
    learner.scaler.step(learner.optimizer)
    learner.scaler.update()
    learner.scheduler.step()
    if learner.average is not None:
        learner.average.update()
    return float(loss.item())


def batch_loss(learner: Learner, batch: dict[str, torch.Tensor], config: TrainConfig) -> Any:
    """The forward pass and the loss of ``batch``. With R-Drop the batch runs twice (one
    forward, two dropout masks): the mean of the two losses plus the consistency term."""
    import torch

    labels = batch.pop("labels")
    teacher = batch.pop("soft", None)
    if config.rdrop:  # the batch twice: one forward, two dropout masks
        batch = {k: torch.cat([v, v]) for k, v in batch.items()}
    with torch.autocast(device_type="cuda", dtype=learner.amp_dtype, enabled=learner.on_cuda):
        logits = learner.model(**batch).logits.float()
    if not config.rdrop:
        return supervised_loss(learner.loss_fn, logits, labels, teacher, config)
    first, second = logits.chunk(2)
    loss = (
        supervised_loss(learner.loss_fn, first, labels, teacher, config)
        + supervised_loss(learner.loss_fn, second, labels, teacher, config)
    ) / 2
    return loss + config.rdrop * consistency_loss(first, second)


def supervised_loss(
    loss_fn: Any, logits: Any, labels: Any, teacher: Any, config: TrainConfig
) -> Any:
    """The labels' loss, mixed with the teachers' where there are some."""
    loss = loss_fn(logits, labels)
    if teacher is None:
        return loss
    kd = distillation_loss(logits, teacher, config.distill_temperature)
    return (1 - config.distill_weight) * loss + config.distill_weight * kd


def distillation_loss(logits: Any, teacher: Any, temperature: float) -> Any:
    """KL divergence from the teacher's to the student's temperature-softened outputs,
    scaled by T^2 (so its gradients keep their size whatever the temperature)."""
    import torch

    target = torch.softmax(torch.log(teacher.clamp_min(1e-8)) / temperature, dim=-1)
    student = torch.log_softmax(logits / temperature, dim=-1)
    kl = torch.nn.functional.kl_div(student, target, reduction="batchmean")
    return kl * temperature**2


def consistency_loss(first: Any, second: Any) -> Any:
    """R-Drop's term: the symmetric KL divergence between two outputs (logits) of the
    same batch under different dropout masks, averaged over the batch."""
    import torch

    a, b = torch.log_softmax(first, dim=-1), torch.log_softmax(second, dim=-1)
    kl = torch.nn.functional.kl_div
    return (
        kl(a, b, reduction="batchmean", log_target=True)
        + kl(b, a, reduction="batchmean", log_target=True)
    ) / 2


# --- evaluation: the epoch's scores, the best epoch kept --------------------------------


def kept_weights(learner: Learner) -> AbstractContextManager[None]:
    """The weights an epoch is evaluated and saved with, in the model inside the block:
    the moving average's when there is one, else the model's own."""
    return learner.average.applied() if learner.average is not None else nullcontext()


@dataclass(frozen=True)
class Scored:
    """A model's figures on labelled rows: as served (with the n-gram model) and the
    transformer alone, with the probabilities they came from (``served_probs`` None
    without an n-gram model)."""

    served: dict[str, Any]
    alone: dict[str, Any]
    alone_probs: Any
    served_probs: Any


def evaluate(
    learner: Learner,
    config: TrainConfig,
    valid: LabelledData,
    beside: NgramModel | None,
    valid_log_p: Any,
) -> Scored:
    """The scores on ``valid`` of what would be served (the transformer with the n-gram
    model ``beside``, whose log-probabilities on the rows are ``valid_log_p``) and of the
    transformer alone."""
    from classifier import ngram
    from classifier.engine import Classifier, TorchBackend

    engine = Classifier(
        learner.tokenizer,
        TorchBackend(learner.model, device=learner.device),
        order=(0, 1, 2),
        max_length=config.max_length,
        batch_size=config.eval_batch_size,
        normalise_text=config.normalise_text,
    )
    probs = engine.predict_proba(valid.texts)
    alone = classification_metrics(valid.labels, probs.argmax(axis=1).tolist())
    if beside is None or valid_log_p is None:
        return Scored(alone, alone, probs, None)
    served = ngram.blend(probs, valid_log_p, beside.row_weights(valid.texts))
    return Scored(
        classification_metrics(valid.labels, served.argmax(axis=1).tolist()), alone, probs, served
    )


def calibrate(
    scored: Scored, beside: NgramModel | None, valid: LabelledData, out: Path
) -> Calibration:
    """Fit the kept epoch's temperatures on the validation rows and save them in ``out``."""
    from classifier import calibration

    fitted = calibration.fit(
        scored.alone_probs,
        scored.served_probs,
        valid.labels,
        voted=beside.row_weights(valid.texts) > 0 if beside is not None else None,
        ngram_weight=beside.weight if beside is not None else None,
        fitted_on=valid.path,
    )
    calibration.save(out, fitted)
    log.info(
        "calibrated: temperature %s as served (transformer alone %s); validation NLL %s -> %s, "
        "ECE %s -> %s",
        fitted.served,
        fitted.transformer_alone,
        fitted.before["nll"],
        fitted.after["nll"],
        fitted.before["ece"],
        fitted.after["ece"],
    )
    return fitted


@dataclass(frozen=True)
class KeptEpoch:
    """The epoch kept so far: its number, the served scores and the transformer's alone,
    and both on each check set (by name)."""

    epoch: int
    valid: Scored
    checks: dict[str, Scored] = field(default_factory=dict)

    @property
    def scores(self) -> dict[str, Any]:
        return self.valid.served

    @property
    def alone(self) -> dict[str, Any]:
        return self.valid.alone


def epoch_record(
    epoch: int,
    train_loss: float,
    steps: int,
    scores: dict[str, Any],
    alone: dict[str, Any],
    started: float,
) -> EpochRecord:
    """The epoch's figures (``started``: its start on the perf_counter clock), logged."""
    record = EpochRecord(
        epoch=epoch,
        train_loss=train_loss,
        accuracy=scores["accuracy"],
        macro_f1=scores["macro_f1"],
        seconds=time.perf_counter() - started,
        steps=steps,
        transformer_accuracy=alone["accuracy"],
        transformer_macro_f1=alone["macro_f1"],
    )
    log.info(
        "epoch %d: loss %.4f, valid accuracy %.4f, macro-F1 %.4f "
        "(transformer alone %.4f, %.4f; %.0f s)",
        record.epoch,
        record.train_loss,
        record.accuracy,
        record.macro_f1,
        record.transformer_accuracy,
        record.transformer_macro_f1,
        record.seconds,
    )
    return record


# --- the report: metrics.json and the model card -----------------------------------------


def ngram_summary(
    beside: NgramModel | None, valid_log_p: Any, valid: LabelledData
) -> dict[str, Any] | None:
    """The n-gram model's facts for metrics.json (its weight, features, and its scores
    alone on the validation rows, logged); None without one."""
    if beside is None or valid_log_p is None:
        return None
    facts = {
        "weight": beside.weight,
        "gate": beside.gate,
        "features": len(beside.features),
        "alone": _headline(
            classification_metrics(valid.labels, valid_log_p.argmax(axis=1).tolist())
        ),
    }
    log.info("n-gram model alone on the validation set: %s", facts["alone"])
    return facts


def run_metrics(
    run: RunInputs,
    best: KeptEpoch,
    history: list[EpochRecord],
    weights: list[float],
    ngram_facts: dict[str, Any] | None,
    device: str,
    started: float,
) -> dict[str, Any]:
    """What metrics.json holds: the kept epoch's full report, every epoch's figures, the
    data, the base model, the hyper-parameters, the hardware and the wall time (since
    ``started``, on the perf_counter clock)."""
    config, train_data, valid_data = run.config, run.train_data, run.valid_data
    return {
        **best.scores,
        "best_epoch": best.epoch,
        "epochs_run": len(history),
        "history": [asdict(h) for h in history],
        "data": {
            "train": {"path": train_data.path, "rows": len(train_data), **train_data.counts()},
            "valid": {"path": valid_data.path, "rows": len(valid_data), **valid_data.counts()},
        },
        "base_model": config.base if config.base in NAMED_BASES else run.base,
        "label_map": run.label_map,
        "class_weights": dict(zip(CANONICAL, weights, strict=True)),
        "hyperparameters": {
            k: v
            for k, v in asdict(config).items()
            if k not in ("train_csv", "valid_csv", "out", "base", "bases_dir", "labels", "checks")
        },
        "transformer_alone": _headline(best.alone),
        "checks": {
            name: check_report(run.checks[name], scored.served, scored.alone)
            for name, scored in best.checks.items()
        },
        "ngram": ngram_facts,
        "distilled_from": (
            f"soft labels (columns {', '.join(SOFT_COLUMNS)}) in {train_data.path}"
            if train_data.soft is not None
            else "teachers " + ", ".join(config.teachers)
            if config.teachers
            else None
        ),
        "normalisation": "URLs -> 'http', @handles -> '@user', cashtags -> '$ticker'"
        if config.normalise_text
        else "none",
        "wall_time_s": round(time.perf_counter() - started, 1),
        "hardware": hardware(device),
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "model_dir": str(run.out),
    }


def check_report(
    data: LabelledData, served: dict[str, Any], alone: dict[str, Any]
) -> dict[str, Any]:
    """One check set's entry in metrics.json: where, how many rows, the served scores with
    each class's recall, and the transformer's alone."""
    return {
        "path": data.path,
        "rows": len(data),
        **_headline(served),
        "recall": {name: served["per_class"][name]["recall"] for name in CANONICAL},
        "transformer_alone": _headline(alone),
    }


def hardware(device: str) -> dict[str, Any]:
    """What the run ran on, for metrics.json and the card."""
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    info: dict[str, Any] = {
        "device": device,
        "cpu": cpu,
        "cpu_cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "python": platform.python_version(),
    }
    if device.startswith("cuda"):
        info["gpu"] = torch.cuda.get_device_name(torch.device(device))
    try:
        import transformers

        info["transformers"] = transformers.__version__
    except ImportError:  # pragma: no cover - transformers is a dependency
        pass
    return info


def write_report(out: Path, metrics: dict[str, Any]) -> None:
    """metrics.json and the model card (README.md) beside the model in ``out``."""
    from classifier.card import write_card

    (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")
    write_card(out, metrics)


def _headline(metrics: dict[str, Any]) -> dict[str, float]:
    """Accuracy, macro-F1 and weighted F1 of a classification report."""
    return {k: metrics[k] for k in ("accuracy", "macro_f1", "weighted_f1")}
