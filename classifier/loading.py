"""One function from plain values to a ready inference engine.

``load_engine(model, device=..., variant=..., batch_size=..., max_length=..., threads=...)``
checks the model (a local directory or a Hugging Face model id), maps its labels,
picks the device and the variant, builds the engine, logs what it chose, and raises
``ModelLoadError`` naming the path and saying how to train a model when it cannot.

The hub is offline unless ``HF_HUB_OFFLINE=0`` is set: a model id must then already be
in the local Hugging Face cache.
"""

from __future__ import annotations

import logging
import math
import os
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from classifier import ngram
from classifier.engine import CPU_VARIANTS, CUDA_VARIANTS, VARIANTS, Classifier, resolve_device
from classifier.exceptions import ClassifierError, LabelMapError, ModelLoadError
from classifier.labels import model_order, parse_label_map

log = logging.getLogger(__name__)

#: The CPU variant ``auto`` picks: the fastest one that kept accuracy within 0.5 points
#: of fp32 in bench/classifier.py (see BENCHMARKS.md).
DEFAULT_CPU_VARIANT = "onnx-int8"
#: The CUDA variant ``auto`` picks.
DEFAULT_CUDA_VARIANT = "fp16"

WEIGHT_FILES = (
    "model.safetensors",
    "model.safetensors.index.json",
    "pytorch_model.bin",
    "pytorch_model.bin.index.json",
)
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")


def train_hint(path: str) -> str:
    return f"train one with `finsent train --out {path}` (or point FINSENT_MODEL_PATH at one)"


def hub_offline() -> bool:
    """Offline unless the user explicitly allows the hub with HF_HUB_OFFLINE=0."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    return os.environ["HF_HUB_OFFLINE"].strip().lower() not in ("0", "false", "no", "off")


def locate(model: str) -> Path | None:
    """The local directory of ``model``, None for a hub id; a clear error when missing."""
    path = Path(model).expanduser()
    if path.exists():
        if not path.is_dir():
            raise ModelLoadError(
                f"model path {path} is a file, not a model directory; " + train_hint(str(path))
            )
        if not (path / "config.json").is_file():
            raise ModelLoadError(
                f"model directory {path} has no config.json: it is not a Hugging Face model "
                "directory (or it is incomplete); " + train_hint(str(path))
            )
        if not any((path / w).is_file() for w in WEIGHT_FILES):
            raise ModelLoadError(
                f"model directory {path} has no weights ({' or '.join(WEIGHT_FILES[::2])}); "
                + train_hint(str(path))
            )
        return path
    if path.is_absolute() or model.startswith((".", "~")) or not _HUB_ID.match(model):
        raise ModelLoadError(f"no model at {path}: " + train_hint(str(path)))
    return None


def choose_variant(variant: str, device: str) -> str:
    if variant not in VARIANTS:
        raise ModelLoadError(f"variant {variant!r} is not one of {', '.join(VARIANTS)}")
    on_cuda = device.startswith("cuda")
    if variant == "auto":
        return DEFAULT_CUDA_VARIANT if on_cuda else DEFAULT_CPU_VARIANT
    allowed = CUDA_VARIANTS if on_cuda else CPU_VARIANTS
    if variant not in allowed:
        raise ModelLoadError(
            f"variant {variant!r} does not run on {device}; choose one of {', '.join(allowed)}"
        )
    return variant


@contextmanager
def library_progress(enabled: bool) -> Iterator[None]:
    """transformers' and the hub's own progress bars ("Loading weights", "Writing model
    shards", downloads) on or off within the block, restored after it."""
    from transformers.utils import logging as hf_logging

    was = hf_logging.is_progress_bar_enabled()

    def switch(on: bool) -> None:
        (hf_logging.enable_progress_bar if on else hf_logging.disable_progress_bar)()  # type: ignore[no-untyped-call]

    switch(enabled)
    try:
        yield
    finally:
        switch(was)


def load_engine(
    model: str,
    *,
    device: str = "auto",
    variant: str = "auto",
    batch_size: int = 32,
    max_length: int = 128,
    threads: int = 0,
    labels: str | None = None,
    normalise_text: bool = True,
    onnx_cache: str | None = None,
    ngram_weight: float | None = None,
    calibrated: bool = True,
) -> Classifier:
    """A ready engine for ``model`` (local directory or hub id); logs what it chose.

    ``labels`` is a label map (``"0=negative,1=positive,2=neutral"``) for models whose
    ``id2label`` is generic (``LABEL_0``...); models with named labels need none.
    ``threads`` = 0 uses every core. ``onnx_cache`` overrides where ONNX files go.
    ``ngram_weight``: the weight of the n-gram model that ``finsent train`` saves beside
    the transformer (None: the weight saved with it; 0: the transformer alone).
    ``calibrated``: apply the temperature ``finsent train`` fitted for that way of serving
    (``calibration.json``); False gives the model's raw probabilities.
    """
    started = time.perf_counter()
    local = locate(model)
    offline = hub_offline()
    source = str(local) if local is not None else model
    beside = load_ngram(local, source, ngram_weight)  # before the slow part: fail fast
    temperature, alone_temperature = (
        served_temperatures(local, source, beside) if calibrated else (1.0, 1.0)
    )
    resolved = resolve_device(device)
    chosen = choose_variant(variant, resolved)

    config: Any
    tokenizer: Any
    if chosen.startswith("onnx") and local is not None and (local / "tokenizer.json").is_file():
        # ONNX Runtime serving: the tokenizer and config without transformers (or torch)
        from classifier.tokenizer import RustTokenizer, read_config

        try:
            config = read_config(local)
        except ModelLoadError as e:
            raise ModelLoadError(f"{e}; " + train_hint(str(local))) from e
        tokenizer = RustTokenizer(local)
    else:
        from transformers import AutoConfig, AutoTokenizer

        try:
            config = AutoConfig.from_pretrained(source, local_files_only=offline)
            tokenizer = AutoTokenizer.from_pretrained(source, local_files_only=offline)
        except Exception as e:  # transformers raises OSError, ValueError, JSON and key errors
            raise _load_error(model, local, offline, e) from e
    try:
        order = model_order(config.id2label, parse_label_map(labels))
    except LabelMapError as e:
        raise ModelLoadError(f"model {source}: {e}") from e

    limit = getattr(config, "max_position_embeddings", None)
    if isinstance(limit, int) and max_length > limit:
        log.info(
            "max length %d is above the model's %d positions: using %d", max_length, limit, limit
        )
        max_length = limit

    def load_torch_model() -> Any:
        from transformers import AutoModelForSequenceClassification

        try:
            with library_progress(False):  # a service's log is no place for a bar
                return AutoModelForSequenceClassification.from_pretrained(
                    source, local_files_only=offline
                )
        except Exception as e:  # safetensors, torch and transformers each raise their own
            raise _load_error(model, local, offline, e) from e

    backend: Any
    if chosen.startswith("onnx"):
        from classifier.ort import OnnxBackend, prepare

        try:
            path = prepare(
                chosen,
                model_dir=local,
                model_id=model,
                load_torch_model=load_torch_model,
                config=config,
                cache_root=Path(onnx_cache) if onnx_cache else None,
            )
        except ClassifierError:
            raise
        except Exception as e:  # export, fusion and quantisation raise their own errors
            raise ModelLoadError(
                f"model {source}: building the {chosen} ONNX file failed: {e}"
            ) from e
        backend = OnnxBackend(path, variant=chosen, threads=threads)
    else:
        import torch

        from classifier.engine import TorchBackend

        if threads:
            torch.set_num_threads(threads)
        backend = TorchBackend(load_torch_model(), device=resolved, variant=chosen)

    engine = Classifier(
        tokenizer,
        backend,
        order=order,
        max_length=max_length,
        batch_size=batch_size,
        normalise_text=normalise_text,
        model_name=source,
        ngram=beside,
        temperature=temperature,
        alone_temperature=alone_temperature,
    )
    log.info(
        "classifier ready in %.1f s: %s threads=%s labels=%s",
        time.perf_counter() - started,
        engine.describe(),
        threads or os.cpu_count(),
        {
            name: int(index)
            for name, index in zip(("negative", "neutral", "positive"), order, strict=True)
        },
    )
    return engine


def load_ngram(local: Path | None, source: str, weight: float | None) -> ngram.NgramModel | None:
    """The n-gram model saved beside the transformer, at ``weight`` (None: its own)."""
    if weight is not None and (weight < 0 or not math.isfinite(weight)):
        raise ModelLoadError(f"n-gram weight must be a number >= 0, not {weight}")
    if weight == 0:
        return None
    found = ngram.load(local, weight) if local is not None else None
    if found is None and weight is not None:
        log.warning("model %s has no n-gram model: the transformer alone serves", source)
    return found


def served_temperatures(
    local: Path | None, source: str, beside: ngram.NgramModel | None
) -> tuple[float, float]:
    """The temperatures ``finsent train`` fitted, for the texts the n-gram model ``beside``
    votes on (at its weight) and for the others (the transformer alone); 1 where none
    fits (logged), (1, 1) for a model without ``calibration.json``."""
    from classifier import calibration

    fitted = calibration.load(local)
    if fitted is None:
        return 1.0, 1.0
    alone = fitted.transformer_alone
    if beside is None:
        return alone, alone
    temperature = fitted.temperature(beside.weight)
    if temperature is None:
        log.info(
            "model %s was calibrated for its n-gram model at weight %s, not %s: "
            "the texts it votes on are served uncalibrated",
            source,
            fitted.ngram_weight,
            beside.weight,
        )
        return 1.0, alone
    return temperature, alone


def _load_error(model: str, local: Path | None, offline: bool, error: Exception) -> ModelLoadError:
    reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    if local is not None:
        return ModelLoadError(
            f"model directory {local} cannot be loaded (corrupt or incomplete: {reason}); "
            + train_hint(str(local))
        )
    if offline:
        return ModelLoadError(
            f"model {model!r} is not a local directory and is not in the Hugging Face cache "
            f"(the hub is offline; set HF_HUB_OFFLINE=0 to download): {reason}; "
            + train_hint(model)
        )
    return ModelLoadError(f"model {model!r} cannot be loaded: {reason}")
