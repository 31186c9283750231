"""ONNX Runtime serving: export once, fuse the graph, quantise to int8, cache on disk.

``prepare(...)`` returns the path of an ONNX file for a model and a variant, building
it the first time: ``model.onnx`` (the exported graph), ``model-opt.onnx`` (ONNX
Runtime's transformer fusions: attention, GELU, embeddings; then the layer norms
decomposed into faster plain operators, :mod:`classifier.ort_graph`),
``model-int8.onnx`` (the fused graph with dynamic per-channel int8 weights; the matrix
products a model's ``int8.json`` names stay fp32, :mod:`classifier.int8_plan`). The
cache sits in the model directory's ``onnx/`` folder when it is writable, otherwise
under ``~/.cache/finsent/onnx``; it is rebuilt when the checkpoint changes.

At serving time only onnxruntime, numpy and the tokenizer run: no torch.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import tempfile
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from classifier.exceptions import ModelLoadError
from classifier.ort_graph import FUSE_BACK_OPTIMIZERS, decompose_layer_norms

log = logging.getLogger(__name__)

OPSET = 17
#: Bumped whenever export, fusion or quantisation change, so cached files are rebuilt.
#: 2: the graph is exported with eager attention, which ONNX Runtime fuses (SDPA's is not).
#: 3: layer norms are decomposed after fusion (:mod:`classifier.ort_graph`).
BUILD = 3
FILES = {"export": "model.onnx", "onnx-fp32": "model-opt.onnx", "onnx-int8": "model-int8.onnx"}
#: Beside a model: the nodes of its fused graph that stay fp32 in int8 (``finsent train``
#: writes it, :mod:`classifier.int8_plan`).
PLAN_FILE = "int8.json"
#: In the cache, beside ``model-int8.onnx``: the nodes it was built keeping fp32.
BUILT_PLAN = "model-int8.json"


def read_plan(model_dir: Path | None) -> tuple[str, ...]:
    """The nodes ``model_dir``'s ``int8.json`` keeps in fp32 (none without one, or when it
    was planned on another build of the graph: its node names may not be this build's)."""
    if model_dir is None:
        return ()
    path = model_dir / PLAN_FILE
    try:
        plan = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return ()
    except (OSError, ValueError) as e:
        log.warning("%s unreadable (%s): every matrix product in int8", path, e)
        return ()
    nodes = plan.get("fp32_nodes") if isinstance(plan, dict) else None
    if not isinstance(nodes, list) or not all(isinstance(n, str) for n in nodes):
        log.warning("%s has no list of node names: every matrix product in int8", path)
        return ()
    if plan.get("build") != BUILD:
        log.warning(
            "%s was planned on ONNX build %s, this is %d: every matrix product in int8 "
            "(train the model again to plan it anew)",
            path,
            plan.get("build"),
            BUILD,
        )
        return ()
    return tuple(nodes)


def fingerprint(model_dir: Path | None, model_id: str) -> dict[str, Any]:
    """What the cached files were built from; a change means they are stale."""
    import onnxruntime

    weights: list[list[Any]] = []
    if model_dir is not None:
        for name in sorted(os.listdir(model_dir)):
            if name.endswith((".safetensors", ".bin")) or name == "config.json":
                st = (model_dir / name).stat()
                weights.append([name, st.st_size, int(st.st_mtime)])
    return {
        "model": model_id,
        "weights": weights,
        "opset": OPSET,
        "build": BUILD,
        "ort": onnxruntime.__version__,
    }


def cache_dir_for(model_dir: Path | None, model_id: str, cache_root: Path | None) -> Path:
    """``<model dir>/onnx`` when writable, else a folder under the cache root."""
    if model_dir is not None and cache_root is None:
        candidate = model_dir / "onnx"
        try:
            candidate.mkdir(exist_ok=True)
            # a probe of its own: workers starting together must not remove each other's
            with tempfile.TemporaryFile(dir=candidate):
                pass
            return candidate
        except OSError:
            pass
    root = (
        cache_root
        or Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "finsent" / "onnx"
    )
    key = hashlib.sha256(str(model_dir.resolve() if model_dir else model_id).encode()).hexdigest()[
        :16
    ]
    folder = root / key
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def export(model: Any, path: Path) -> None:
    """Export a transformers sequence classifier to ONNX with dynamic batch and length."""
    import inspect

    import torch
    from torch.jit._trace import TracerWarning

    takes = set(inspect.signature(model.forward).parameters)
    input_names = tuple(n for n in ("input_ids", "attention_mask", "token_type_ids") if n in takes)

    class Logits(torch.nn.Module):
        def __init__(self, inner: Any) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
            out: torch.Tensor = self.inner(**dict(zip(input_names, inputs, strict=True))).logits
            return out

    # The optimiser fuses attention only from the eager pattern: transformers' default
    # (scaled_dot_product_attention) exports with masking nodes that no fusion matches,
    # which leaves int8 without its quantised attention kernel (about 1.9x slower).
    set_eager = getattr(model, "set_attn_implementation", None)
    if callable(set_eager):
        try:
            set_eager("eager")
        except (ValueError, NotImplementedError) as e:
            log.warning("cannot switch %s to eager attention for export: %s", type(model), e)
    # torch.onnx.export restores the training flag of the module it is given: the
    # wrapper itself must be in eval mode or the exported graph runs dropout.
    wrapper = Logits(model.float().to("cpu").eval()).eval()
    dummy = tuple(torch.ones((2, 16), dtype=torch.long) for _ in input_names)
    axes: dict[str, dict[int, str]] = {n: {0: "batch", 1: "sequence"} for n in input_names}
    axes["logits"] = {0: "batch"}
    with warnings.catch_warnings():
        # the TorchScript-based exporter announces that the dynamo exporter replaces it
        warnings.filterwarnings(
            "ignore", category=DeprecationWarning, message=r"You are using the legacy TorchScript"
        )
        # ... deprecates pieces of itself that it still calls, and notes how it lowers
        # advanced indexing (our indices are never negative)
        warnings.filterwarnings("ignore", module=r"torch\.onnx\.")
        warnings.filterwarnings("ignore", category=TracerWarning)
        torch.onnx.export(
            wrapper,
            dummy,
            str(path),
            input_names=list(input_names),
            output_names=["logits"],
            dynamic_axes=axes,
            opset_version=OPSET,
            do_constant_folding=True,
            dynamo=False,
        )


def optimise(src: Path, dst: Path, num_heads: int, hidden_size: int, model_type: str) -> None:
    """Fuse attention, layer norm, GELU and bias adds (ONNX Runtime's transformer optimiser)."""
    from onnxruntime.transformers.optimizer import (
        optimize_model,
    )

    supported = {"bert", "roberta", "distilbert", "albert", "xlm-roberta", "electra", "deberta"}
    kind = model_type if model_type in supported else "bert"
    if kind in ("roberta", "xlm-roberta", "electra", "deberta"):
        kind = "bert"
    optimised = optimize_model(
        str(src), model_type=kind, num_heads=num_heads, hidden_size=hidden_size, opt_level=1
    )
    fused = {k: v for k, v in optimised.get_fused_operator_statistics().items() if v}
    log.info("ONNX fusions for %s: %s", src.name, fused)
    if not fused.get("Attention") and not fused.get("MultiHeadAttention"):
        log.warning(
            "ONNX Runtime fused no attention in %s (model type %r): the ONNX variants will "
            "run, but slower than they could",
            src,
            model_type,
        )
    decomposed = decompose_layer_norms(optimised.model)
    log.info("decomposed %d layer norms in %s (faster kernels)", decomposed, src.name)
    optimised.save_model_to_file(str(dst))


def quantise(src: Path, dst: Path, keep_fp32: tuple[str, ...] = ()) -> None:
    """Dynamic int8: int8 weights per output channel, activations quantised on the fly;
    the nodes named in ``keep_fp32`` stay fp32."""
    root = logging.getLogger()
    level = root.level
    # the quantiser logs every node (and advice that does not apply to a fused graph) on the
    # root logger
    root.setLevel(max(level, logging.ERROR))
    try:
        _quantize(src, dst, keep_fp32)
    finally:
        root.setLevel(level)


def _quantize(src: Path, dst: Path, keep_fp32: tuple[str, ...]) -> None:
    from onnx import TensorProto
    from onnxruntime.quantization import (
        QuantType,
        quantize_dynamic,
    )

    quantize_dynamic(
        str(src),
        str(dst),
        weight_type=QuantType.QInt8,
        per_channel=True,
        op_types_to_quantize=["MatMul", "Attention", "Gemm"],
        nodes_to_exclude=list(keep_fp32),
        # fused nodes (com.microsoft domain) defeat shape inference: their outputs are float
        extra_options={"DefaultTensorType": TensorProto.FLOAT},
    )


def prepare(
    variant: str,
    *,
    model_dir: Path | None,
    model_id: str,
    load_torch_model: Any,
    config: Any,
    cache_root: Path | None = None,
) -> Path:
    """The ONNX file for ``variant`` (onnx-fp32 or onnx-int8), built and cached if needed."""
    if variant not in ("onnx-fp32", "onnx-int8"):
        raise ModelLoadError(f"variant {variant!r} is not an ONNX Runtime variant")
    folder = cache_dir_for(model_dir, model_id, cache_root)
    # Several workers starting on one model build its files once: the first builds, the
    # others wait for the lock and find them ready.
    with build_lock(folder):
        return _prepare_locked(
            variant, folder, model_dir, model_id, load_torch_model=load_torch_model, config=config
        )


@contextlib.contextmanager
def build_lock(folder: Path) -> Iterator[None]:
    """An exclusive lock on ``folder``'s builds, across processes (POSIX ``flock``; where
    there is none, the files are still written whole or not at all)."""
    try:
        import fcntl
    except ImportError:  # Windows
        yield
        return
    with open(folder / ".build.lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def write_whole(dst: Path, make: Callable[[Path], object]) -> None:
    """``make(path)`` into a temporary file beside ``dst``, then rename it to ``dst``: a
    reader (or a crash) never sees half a file under the real name."""
    part = dst.with_name(f".{dst.stem}.{os.getpid()}.part{dst.suffix}")
    try:
        make(part)
        part.replace(dst)
    finally:
        part.unlink(missing_ok=True)


def _prepare_locked(
    variant: str,
    folder: Path,
    model_dir: Path | None,
    model_id: str,
    *,
    load_torch_model: Any,
    config: Any,
) -> Path:
    stamp = folder / "source.json"
    want = fingerprint(model_dir, model_id)
    target = folder / FILES[variant]
    fresh = _cached_json(stamp) == want
    keep = read_plan(model_dir) if variant == "onnx-int8" else ()
    planned = folder / BUILT_PLAN
    if variant == "onnx-int8" and fresh and _built_with(planned) != keep:
        target.unlink(missing_ok=True)
    if fresh and target.is_file():
        return target
    if not fresh:
        for name in (*FILES.values(), BUILT_PLAN):
            (folder / name).unlink(missing_ok=True)
    exported, optimised = folder / FILES["export"], folder / FILES["onnx-fp32"]
    if not exported.is_file():
        log.info("exporting %s to ONNX in %s (once)", model_id, folder)
        write_whole(exported, lambda path: export(load_torch_model(), path))
    if not optimised.is_file():
        write_whole(
            optimised,
            lambda path: optimise(
                exported,
                path,
                num_heads=int(getattr(config, "num_attention_heads", 0) or 0),
                hidden_size=int(getattr(config, "hidden_size", 0) or 0),
                model_type=str(getattr(config, "model_type", "bert")),
            ),
        )
    if variant == "onnx-int8" and not target.is_file():
        log.info("quantising %s to int8 (once; %d products kept fp32)", optimised, len(keep))
        write_whole(target, lambda path: quantise(optimised, path, keep))
        write_whole(planned, lambda path: path.write_text(json.dumps(keep), encoding="utf-8"))
    write_whole(stamp, lambda path: path.write_text(json.dumps(want), encoding="utf-8"))
    return target


def _cached_json(path: Path) -> Any:
    """A record the cache wrote itself, or None when it is missing or unreadable (then
    the files it describes are rebuilt)."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _built_with(planned: Path) -> tuple[str, ...]:
    """The products a cached int8 file keeps fp32 (none for a file older than plans)."""
    nodes = _cached_json(planned)
    return tuple(nodes) if isinstance(nodes, list) else ()


def open_session(path: Path, *, threads: int = 0, save_optimised: Path | None = None) -> Any:
    """An ONNX Runtime CPU session over ``path`` as finsent serves it; ``save_optimised``
    writes the graph the session actually runs (after its own optimisers) there."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = threads or (os.cpu_count() or 1)
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    # Within a batch the pool's threads spin for the next op (a forward pass is hundreds
    # of short ops: waking a sleeping thread for each cost 13 % of int8's speed); when a
    # batch returns they stop at once, leaving the cores to the worker's event loop, its
    # database thread and the broker between batches.
    options.add_session_config_entry("session.intra_op.allow_spinning", "1")
    options.add_session_config_entry("session.force_spinning_stop", "1")
    if save_optimised is not None:
        options.optimized_model_filepath = str(save_optimised)
    try:
        return ort.InferenceSession(
            str(path),
            sess_options=options,
            providers=["CPUExecutionProvider"],
            # the graph's layer norms were decomposed on purpose: not fused back
            disabled_optimizers=list(FUSE_BACK_OPTIMIZERS),
        )
    except Exception as e:  # onnxruntime raises its own untyped errors
        raise ModelLoadError(f"ONNX model {path} cannot be loaded: {e}") from e


class OnnxBackend:
    """An ONNX Runtime session on the CPU with a fixed thread count."""

    device = "cpu"

    def __init__(self, path: Path, *, variant: str, threads: int = 0) -> None:
        self.session = open_session(path, threads=threads)
        self.name = variant
        self.path = path
        self.input_names = tuple(i.name for i in self.session.get_inputs())

    def forward(self, batch: dict[str, npt.NDArray[np.int64]]) -> npt.NDArray[np.float32]:
        feed = {k: batch[k] for k in self.input_names}
        (logits,) = self.session.run(["logits"], feed)
        out: npt.NDArray[np.float32] = np.asarray(logits, dtype=np.float32)
        return out
