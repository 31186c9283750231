"""The batched inference engine: ``predict(texts) -> list[Prediction]``.

Three steps, each its own method: ``tokenise`` (one tokenizer call for every text,
truncated to an explicit ``max_length``, no padding), ``forward`` (one padded batch
through a backend) and ``shape`` (softmax, reorder the model's outputs into the
canonical negative/neutral/positive order, build Predictions). ``predict`` sorts the
texts by token count and pads each batch only to its own longest text, then puts
the results back in the caller's order.

With an n-gram model (``classifier.ngram``, trained beside the transformer), the
probabilities are the two models' product of experts.

Backends run the forward pass: ``TorchBackend`` (fp32; fp16/bf16 on CUDA; dynamic
int8 on CPU) and ``OnnxBackend`` (ONNX Runtime, fp32 or int8; see ``classifier.onnx``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import numpy.typing as npt

from classifier.data import normalise
from classifier.exceptions import InputError, ModelLoadError
from classifier.labels import CANONICAL

if TYPE_CHECKING:
    import torch

    from classifier.ngram import NgramModel

log = logging.getLogger(__name__)

Array = npt.NDArray[np.int64]
Floats = npt.NDArray[np.float64]

#: Every variant an engine can run; ``auto`` picks one for the device (see loading).
VARIANTS = ("auto", "fp32", "fp16", "bf16", "int8", "onnx-fp32", "onnx-int8")
CPU_VARIANTS = ("fp32", "int8", "onnx-fp32", "onnx-int8")
CUDA_VARIANTS = ("fp32", "fp16", "bf16")


@dataclass(frozen=True, slots=True)
class Prediction:
    """One text's sentiment: the canonical label, its three probabilities, the polarity."""

    label: str
    negative: float
    neutral: float
    positive: float
    polarity: float

    @property
    def probabilities(self) -> dict[str, float]:
        return {"negative": self.negative, "neutral": self.neutral, "positive": self.positive}

    def as_dict(self) -> dict[str, Any]:
        return {"label": self.label, **self.probabilities, "polarity": self.polarity}


class Backend(Protocol):
    """Runs one padded batch; returns logits in the model's own output order."""

    name: str
    device: str
    input_names: tuple[str, ...]

    def forward(self, batch: dict[str, Array]) -> npt.NDArray[np.float32]: ...


@dataclass
class Encoded:
    """Token ids of every text (unpadded) and their lengths."""

    ids: list[list[int]]
    lengths: Array


class Classifier:
    """Batched sentiment inference over one backend. Thread-compatible, not thread-safe."""

    def __init__(
        self,
        tokenizer: Any,
        backend: Backend,
        *,
        order: tuple[int, int, int],
        max_length: int,
        batch_size: int,
        normalise_text: bool = True,
        model_name: str = "",
        ngram: NgramModel | None = None,
        temperature: float = 1.0,
        alone_temperature: float | None = None,
    ) -> None:
        if max_length < 2:
            raise ValueError(f"max_length must be at least 2, not {max_length}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, not {batch_size}")
        self.tokenizer = tokenizer
        self.backend = backend
        self.order = order
        self.max_length = max_length
        self.batch_size = batch_size
        self.normalise_text = normalise_text
        self.model_name = model_name
        self.ngram = ngram if ngram is not None and ngram.weight > 0 else None
        if not temperature > 0 or not (alone_temperature or 1.0) > 0:
            raise ValueError(f"temperatures must be positive, not {temperature}")
        # classifier.calibration: for the texts the n-gram model votes on (all texts
        # without one), and for the others; 1 leaves probabilities be
        self.temperature = temperature
        self.alone_temperature = temperature if alone_temperature is None else alone_temperature
        pad = tokenizer.pad_token_id
        self.pad_id = int(pad) if pad is not None else 0

    def with_backend(self, backend: Backend) -> Classifier:
        """The same classifier (tokenizer, labels, n-gram model, temperatures) over
        another backend: another build of the same model."""
        return self._copy(backend, self.batch_size)

    def with_batch_size(self, batch_size: int) -> Classifier:
        """The same classifier over the same backend (the weights loaded once), scoring
        ``batch_size`` texts per forward pass."""
        return self._copy(self.backend, batch_size)

    def _copy(self, backend: Backend, batch_size: int) -> Classifier:
        return Classifier(
            self.tokenizer,
            backend,
            order=self.order,
            max_length=self.max_length,
            batch_size=batch_size,
            normalise_text=self.normalise_text,
            model_name=self.model_name,
            ngram=self.ngram,
            temperature=self.temperature,
            alone_temperature=self.alone_temperature,
        )

    @property
    def variant(self) -> str:
        return self.backend.name

    @property
    def device(self) -> str:
        return self.backend.device

    def describe(self) -> str:
        return (
            f"model={self.model_name or '?'} variant={self.variant} device={self.device} "
            f"batch_size={self.batch_size} max_length={self.max_length} "
            f"ngram={self.ngram.weight if self.ngram is not None else 'off'}"
            f"{'' if self.ngram is None or self.ngram.gate == 'all' else ' (tweets only)'} "
            f"temperature={self.temperature:g}"
        )

    # --- the three steps ----------------------------------------------------------

    def tokenise(self, texts: Sequence[str]) -> Encoded:
        """Token ids of each text, truncated to ``max_length``; one tokenizer call."""
        prepared = [normalise(t) for t in texts] if self.normalise_text else list(texts)
        out = self.tokenizer(
            prepared,
            truncation=True,
            max_length=self.max_length,
            padding=False,
            return_attention_mask=False,
            return_token_type_ids=False,
        )
        ids: list[list[int]] = out["input_ids"]
        return Encoded(ids=ids, lengths=np.fromiter((len(i) for i in ids), np.int64, len(ids)))

    def pad(self, ids: Sequence[Sequence[int]]) -> dict[str, Array]:
        """One batch padded to its own longest text, with the inputs the backend takes."""
        width = max(len(i) for i in ids)
        input_ids = np.full((len(ids), width), self.pad_id, dtype=np.int64)
        mask = np.zeros((len(ids), width), dtype=np.int64)
        for row, seq in enumerate(ids):
            input_ids[row, : len(seq)] = seq
            mask[row, : len(seq)] = 1
        batch = {"input_ids": input_ids, "attention_mask": mask}
        if "token_type_ids" in self.backend.input_names:
            batch["token_type_ids"] = np.zeros_like(input_ids)
        return batch

    def forward(self, batch: dict[str, Array]) -> npt.NDArray[np.float32]:
        return self.backend.forward(batch)

    def shape(self, logits: npt.NDArray[np.floating[Any]]) -> Floats:
        """Softmax in float64, columns reordered to negative, neutral, positive."""
        z = logits.astype(np.float64)
        z = z - z.max(axis=1, keepdims=True)
        e = np.exp(z)
        probs = e / e.sum(axis=1, keepdims=True)
        canonical: Floats = probs[:, list(self.order)]
        return canonical

    # --- the interface ------------------------------------------------------------

    def predict_proba(self, texts: Sequence[str]) -> Floats:
        """Canonical-order probabilities, one row per text, in the caller's order."""
        _check_texts(texts)
        result = np.zeros((len(texts), len(CANONICAL)), dtype=np.float64)
        if not texts:
            return result
        encoded = self.tokenise(texts)
        order = np.argsort(encoded.lengths, kind="stable")
        for start in range(0, len(order), self.batch_size):
            rows = order[start : start + self.batch_size]
            batch = self.pad([encoded.ids[i] for i in rows])
            result[rows] = self.shape(self.forward(batch))
        temperatures: float | Floats = self.temperature
        if self.ngram is not None:
            from classifier.ngram import blend

            weights = self.ngram.row_weights(texts)
            result = blend(result, self.ngram.log_proba(texts), weights)
            temperatures = np.where(weights > 0, self.temperature, self.alone_temperature)
        if np.any(np.asarray(temperatures) != 1.0):
            from classifier.calibration import scaled

            result = scaled(result, temperatures)
        return result

    def predict(self, texts: Sequence[str]) -> list[Prediction]:
        """One Prediction per text, in order. Raises ``InputError`` for non-strings."""
        probs = self.predict_proba(texts)
        best = probs.argmax(axis=1)
        return [
            Prediction(
                label=CANONICAL[int(k)],
                negative=float(p[0]),
                neutral=float(p[1]),
                positive=float(p[2]),
                polarity=float(p[2] - p[0]),
            )
            for p, k in zip(probs, best, strict=True)
        ]


def _check_texts(texts: Sequence[str]) -> None:
    if isinstance(texts, str | bytes):
        raise InputError("predict takes a list of texts, not a single string: wrap it in [...]")
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise InputError(
                f"text {i} is {type(text).__name__} ({text!r:.40}), not str: "
                "every text must be a string (use '' for an empty one)"
            )


# --- torch ------------------------------------------------------------------------


def resolve_device(device: str) -> str:
    """``auto`` -> ``cuda`` when a GPU is visible, else ``cpu``; check ``cuda:N`` exists.

    Without a GPU driver on the machine, ``auto`` and ``cpu`` resolve without importing
    torch, so an ONNX Runtime engine never loads it.
    """
    device = device.strip().lower()
    if device == "cpu" or (device == "auto" and not _gpu_driver_present()):
        return "cpu"
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ModelLoadError(f"device {device!r} asked for, but no CUDA GPU is visible")
        _, _, index = device.partition(":")
        if index and int(index) >= torch.cuda.device_count():
            raise ModelLoadError(
                f"device {device!r} asked for, but only {torch.cuda.device_count()} GPU(s) exist"
            )
        return device
    raise ModelLoadError(f"device {device!r} is not auto, cpu, cuda or cuda:N")


def _gpu_driver_present() -> bool:
    from pathlib import Path

    return (
        Path("/proc/driver/nvidia").exists()
        or Path("/dev/kfd").exists()
        or any(Path("/dev").glob("nvidia[0-9]*"))
    )


class TorchBackend:
    """A transformers model in PyTorch: fp32, fp16/bf16 (CUDA) or dynamic int8 (CPU)."""

    def __init__(self, model: torch.nn.Module, *, device: str, variant: str = "fp32") -> None:
        import torch

        if variant not in ("fp32", "fp16", "bf16", "int8"):
            raise ModelLoadError(f"variant {variant!r} is not a PyTorch variant")
        on_cuda = device.startswith("cuda")
        if variant in ("fp16", "bf16") and not on_cuda:
            raise ModelLoadError(f"variant {variant!r} needs a CUDA device, not {device!r}")
        if variant == "int8" and on_cuda:
            raise ModelLoadError("variant 'int8' (dynamic quantisation) runs on the CPU only")
        model = model.eval()
        if variant == "int8":
            model = quantize_dynamic_int8(model)
        elif variant == "fp16":
            model = model.to(device=device, dtype=torch.float16)
        elif variant == "bf16":
            model = model.to(device=device, dtype=torch.bfloat16)
        else:
            model = model.to(device=device, dtype=torch.float32)
        self.model = model
        self.name = variant
        self.device = device
        forward_args = _forward_arguments(model)
        self.input_names: tuple[str, ...] = tuple(
            n for n in ("input_ids", "attention_mask", "token_type_ids") if n in forward_args
        )

    def forward(self, batch: dict[str, Array]) -> npt.NDArray[np.float32]:
        import torch

        with torch.inference_mode():
            inputs = {
                k: torch.from_numpy(v).to(self.device, non_blocking=True)
                for k, v in batch.items()
                if k in self.input_names
            }
            logits = self.model(**inputs).logits
            out: npt.NDArray[np.float32] = logits.float().cpu().numpy()
        return out


def _forward_arguments(model: Any) -> set[str]:
    import inspect

    return set(inspect.signature(model.forward).parameters)


def quantize_dynamic_int8(model: torch.nn.Module) -> torch.nn.Module:
    """Dynamic int8 quantisation of every Linear layer (weights int8, activations on the fly)."""
    import warnings

    import torch

    with warnings.catch_warnings():
        # torch.ao.quantization announces its move to torchao; the API still works in 2.x
        warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"torch\.ao\..*")
        warnings.filterwarnings("ignore", message=r".*torch\.ao\.quantization.*")
        # torch 2.13 deprecates the quantised tensor dtypes this path builds on
        warnings.filterwarnings(
            "ignore", category=UserWarning, message=r"torch\.quantize_per_tensor.*deprecated"
        )
        from torch.ao.quantization import quantize_dynamic

        quantized: torch.nn.Module = quantize_dynamic(  # type: ignore[no-untyped-call]
            model.to("cpu"), {torch.nn.Linear}, dtype=torch.qint8
        )
    return quantized
