"""Benchmark on a GPU: texts/s of the student and the teacher, served and in training, as one
prepared run for a GPU machine that reaches nothing (it has PyTorch and transformers, not
finsent's other dependencies, nor the base models' weights).

Here, where finsent is installed (no GPU needed):

    .venv/bin/python bench/gpu.py kit --out .gpu-kit --student MODEL_DIR

On the GPU machine, the repository copied there with ``.gpu-kit`` beside it:

    python3 bench/gpu.py run --kit .gpu-kit --out "$OUT"

The kit holds, per model, what its architecture needs besides weights (``config.json``,
the tokenizer's files): the student's base (all-MiniLM-L6-v2) and the teacher's
(all-mpnet-base-v2, when ``finsent[teacher]`` is installed here); with ``--student``, a
trained student's weights in fp16 (45 MiB: what travels to such a machine is capped at
64 MiB) and its n-gram model. The run builds each model there: the trained student from
its weights, the others as *twins*, the same architecture with random weights. A
transformer's speed does not depend on its weights' values, so a twin's texts/s is the
trained model's; its labels mean nothing and are not reported.

For each model it measures:

1. inference with finsent's engine (texts sorted by length, padded per batch) in fp32,
   fp16 and bf16 at engine batch sizes of 64 to 1024, on ``valid.csv``'s tweets repeated
   to ``--texts``; the trained student also with its n-gram model (what a GPU worker
   serves) and, per precision, its accuracy and macro-F1 on ``valid.csv`` and its
   agreement with fp32;
2. the naive way beside it: ``transformers.pipeline`` one text at a time on the GPU;
3. training: optimiser steps of finsent's own loop (``classifier.train``: length-grouped
   batches of the shipped full set, autocast, R-Drop where the profile has it) in the
   student's ``full`` profile and the teacher's ``gpu`` profile: texts/s and the epoch
   time it implies.

Prints a table and writes ``gpu.json`` to ``--out``. It never asserts a time.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.classifier import naive_pipeline  # noqa: E402
from bench.machine import header  # noqa: E402
from finsent.datasets import TFNS_DIR, distillation_csv  # noqa: E402

#: the kit's folders: the served student's base, the teacher's base, a trained student
STUDENT, TEACHER, TRAINED = "student", "teacher", "trained"
MODELS = (TRAINED, STUDENT, TEACHER)
#: training profiles measured per model (the student's default; the teacher's GPU one)
TRAIN_PROFILE = {STUDENT: "full", TEACHER: "gpu", TRAINED: "full"}
#: a transformer's weights (single or sharded, any framework): never copied into the kit,
#: except a trained student's (as fp16); an n-gram model's weights are small and go
TRANSFORMER_WEIGHTS = re.compile(
    r"^(model|pytorch_model|tf_model|flax_model)(-\d+-of-\d+)?"
    r"\.(safetensors|bin|h5|msgpack)(\.index\.json)?$|\.(onnx|ckpt|pt|pth)$"
)
MAX_KIT_FILE = 16 * 2**20
#: what the device tool carries to a GPU machine, the working tree included
CARRY_LIMIT_MIB = 64
PRECISIONS = ("fp32", "fp16", "bf16")
BATCHES = (64, 128, 256, 512, 1024)


# --- the kit (here) ---------------------------------------------------------------------


def small_files(folder: Path) -> list[Path]:
    """``folder``'s top-level files but the transformer's weights (config, tokenizer, n-gram
    model, calibration, model card), each under 16 MiB."""
    return sorted(
        p
        for p in folder.iterdir()
        if p.is_file()
        and not TRANSFORMER_WEIGHTS.search(p.name)
        and not p.name.startswith(".")
        and p.stat().st_size <= MAX_KIT_FILE
    )


def copy_architecture(source: Path, dest: Path) -> list[str]:
    """``source``'s files other than weights into ``dest``; their names."""
    dest.mkdir(parents=True, exist_ok=True)
    names = []
    for path in small_files(source):
        shutil.copy2(path, dest / path.name)
        names.append(path.name)
    if "config.json" not in names:
        raise SystemExit(f"{source}: no config.json, not a model directory")
    return names


def save_fp16(model_dir: Path, dest: Path) -> int:
    """The trained model's weights as fp16 safetensors in ``dest``; their bytes."""
    import torch
    from transformers import AutoModelForSequenceClassification

    model = AutoModelForSequenceClassification.from_pretrained(model_dir)
    model.to(torch.float16).save_pretrained(dest, safe_serialization=True)
    return sum(p.stat().st_size for p in dest.glob("*.safetensors"))


def make_kit(
    out: Path, student: Path | None, bases_dir: Path, *, teacher: bool = True
) -> dict[str, Any]:
    """Write the kit to ``out``; what it holds."""
    from classifier.bases import ALL_MPNET_BASE_V2, resolve_base
    from classifier.exceptions import ClassifierError

    if out.exists():
        shutil.rmtree(out)
    held: dict[str, Any] = {}
    if student is None:  # a trained student stands for its base's architecture itself
        held[STUDENT] = copy_architecture(Path(resolve_base(None, None)), out / STUDENT)
    try:
        if teacher:
            base = Path(resolve_base(ALL_MPNET_BASE_V2.name, bases_dir, progress=True))
            held[TEACHER] = copy_architecture(base, out / TEACHER)
    except ClassifierError as e:
        print(f"teacher left out: {e}", file=sys.stderr)
    if student is not None:
        names = copy_architecture(student, out / TRAINED)
        size = save_fp16(student, out / TRAINED)
        held[TRAINED] = {"from": str(student), "files": names, "weights_mib": size / 2**20}
    (out / "kit.json").write_text(json.dumps(held, indent=2), encoding="utf-8")
    held["kit_mib"] = folder_mib(out)
    held["with_the_tree_mib"] = held["kit_mib"] + tree_mib()
    if held["with_the_tree_mib"] > CARRY_LIMIT_MIB:
        print(
            f"the kit and the working tree make {held['with_the_tree_mib']:.1f} MiB: more "
            f"than the {CARRY_LIMIT_MIB} MiB a GPU machine takes",
            file=sys.stderr,
        )
    return held


def folder_mib(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 2**20


def tree_mib() -> float:
    """The repository's tracked files (what travels with the kit), in MiB."""
    git = shutil.which("git")
    if git is None:
        raise SystemExit("git not found: the kit is made in a clone of finsent")
    listed = subprocess.run([git, "ls-files", "-z"], cwd=REPO, capture_output=True, check=True)
    files = [REPO / n.decode() for n in listed.stdout.split(b"\0") if n]
    return sum(p.stat().st_size for p in files if p.is_file()) / 2**20


# --- the run (there) --------------------------------------------------------------------


def build_model(kit: Path, name: str, work: Path) -> Path:
    """A loadable model directory for kit folder ``name``: the trained student as it is,
    a base as its twin (its architecture with a fresh three-way head, random weights)."""
    source = kit / name
    if name == TRAINED:
        return source
    import torch
    from transformers import AutoConfig, AutoModelForSequenceClassification

    from classifier.labels import canonical_id2label, canonical_label2id

    torch.manual_seed(0)
    config = AutoConfig.from_pretrained(
        source,
        num_labels=3,
        id2label=canonical_id2label(),
        label2id=canonical_label2id(),
    )
    twin = work / name
    shutil.copytree(source, twin, dirs_exist_ok=True)
    model: Any = AutoModelForSequenceClassification.from_config(config)  # type: ignore[no-untyped-call]
    model.save_pretrained(twin)
    return twin


def timed(run: Callable[[], object], device: str) -> float:
    """Seconds ``run`` takes, the device's queue drained before and after."""
    synchronise(device)
    start = time.perf_counter()
    run()
    synchronise(device)
    return time.perf_counter() - start


def synchronise(device: str) -> None:
    if device.startswith("cuda"):
        import torch

        torch.cuda.synchronize()


def inference(
    model_dir: Path,
    device: str,
    corpus: Sequence[str],
    precisions: Sequence[str],
    batches: Sequence[int],
    with_ngram: bool,
) -> list[dict[str, Any]]:
    """Engine texts/s per precision and batch size (best of two passes)."""
    from classifier.loading import load_engine

    rows = []
    for precision in precisions:
        engine = load_engine(
            str(model_dir),
            device=device,
            variant=precision,
            ngram_weight=None if with_ngram else 0,
        )
        for batch in batches:
            batched = engine.with_batch_size(batch)  # the same weights on the device
            batched.predict_proba(corpus[: batch * 2])  # warm-up: kernels, allocator
            seconds = min(timed(partial(batched.predict_proba, corpus), device) for _ in "ab")
            rows.append(
                {
                    "precision": precision,
                    "batch": batch,
                    "ngram": with_ngram,
                    "texts": len(corpus),
                    "texts_per_s": len(corpus) / seconds,
                }
            )
            print(
                f"  {precision:>5} batch {batch:>5}{' +ngram' if with_ngram else '':7} "
                f"{rows[-1]['texts_per_s']:>10,.0f} texts/s",
                flush=True,
            )
            del batched
        del engine  # and with it the weights on the device, before the next precision
    return rows


def naive(model_dir: Path, device: str, texts: Sequence[str]) -> dict[str, Any]:
    """The naive way (``bench.classifier.naive_pipeline``: one text at a time, fp32) on
    the same device."""
    one = naive_pipeline(str(model_dir), device)
    seconds = timed(lambda: [one(text) for text in texts], device)
    return {"texts": len(texts), "texts_per_s": len(texts) / seconds}


def accuracy(
    model_dir: Path,
    device: str,
    precisions: Sequence[str],
    batch: int,
    texts: Sequence[str],
    gold: Sequence[int],
) -> list[dict[str, Any]]:
    """The trained student on labelled ``texts`` (``valid.csv``'s) per precision, served
    (with its n-gram model) and alone: accuracy, macro-F1, and the share of labels equal
    to the first precision's (fp32's, by default)."""
    from classifier.loading import load_engine
    from classifier.metrics import classification_metrics

    report: list[dict[str, Any]] = []
    for served in (True, False):
        reference: list[int] | None = None
        for precision in precisions:
            engine = load_engine(
                str(model_dir),
                device=device,
                variant=precision,
                batch_size=batch,
                ngram_weight=None if served else 0,
            )
            labels = [int(row.argmax()) for row in engine.predict_proba(texts)]
            reference = labels if reference is None else reference
            m = classification_metrics(gold, labels)
            report.append(
                {
                    "precision": precision,
                    "ngram": served,
                    "accuracy": m["accuracy"],
                    "macro_f1": m["macro_f1"],
                    "agreement_with_first": statistics.fmean(
                        a == b for a, b in zip(labels, reference, strict=True)
                    ),
                }
            )
            del engine
    return report


def training(
    model_dir: Path,
    profile: str,
    device: str,
    steps: int,
    warm_up: int,
    rows_limit: int | None,
) -> dict[str, Any]:
    """Texts/s of finsent's training loop in ``profile`` on its shipped set: ``steps``
    random batches of one epoch's length-grouped plan, after ``warm_up`` others."""
    from classifier import train as t
    from classifier.data import load_csv
    from classifier.labels import parse_label_map

    config = t.profile_config(
        profile,
        base=str(model_dir),
        train_csv=str(distillation_csv(profile)),
        valid_csv=str(TFNS_DIR / "valid.csv"),
        out=str(model_dir / "unused"),
        device=device,
    )
    data = load_csv(config.train_csv, parse_label_map(config.labels))
    full_rows = len(data)
    data = data.sample(rows_limit, config.seed)
    setup = t.set_up_learning(str(model_dir), config, data, device)
    rows, learner = setup.rows, setup.learner
    plan = t.epoch_plan(rows, config, random.Random(config.seed), steps_left=warm_up + steps)
    warm, measured = plan[:warm_up], plan[warm_up : warm_up + steps]
    if not measured:
        raise SystemExit(f"{len(data)} training rows make {len(plan)} batches: none to time")
    learner.model.train()

    def run(batches: list[list[int]]) -> None:
        for indices in batches:
            t.train_step(learner, t.make_batch(rows, indices, device), config)

    run(warm)
    seconds = timed(lambda: run(measured), device)
    texts = sum(len(b) for b in measured)
    speed = texts / seconds
    return {
        "profile": profile,
        "batch_size": config.batch_size,
        "max_length": config.max_length,
        "rdrop": config.rdrop,
        "amp": str(learner.amp_dtype).removeprefix("torch.") if learner.on_cuda else "none",
        "steps": len(measured),
        "texts_per_s": speed,
        "epoch_s_full_set": full_rows / speed,
        "full_set_rows": full_rows,
    }


def run_all(args: argparse.Namespace) -> dict[str, Any]:
    import torch

    from classifier.data import load_csv
    from classifier.labels import DEFAULT_LABEL_MAP, parse_label_map

    device = args.device
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise SystemExit("no CUDA device: run this on the GPU machine (or pass --device cpu)")
    kit = Path(args.kit)
    if not (kit / "kit.json").is_file():
        raise SystemExit(f"{kit}: no kit.json; make the kit first (bench/gpu.py kit)")
    names = [n for n in args.models if (kit / n).is_dir()]
    valid = load_csv(TFNS_DIR / "valid.csv", parse_label_map(DEFAULT_LABEL_MAP))
    corpus = (valid.texts * (args.texts // len(valid.texts) + 1))[: args.texts]
    gpu = torch.cuda.get_device_name(0) if device.startswith("cuda") else "none"
    report: dict[str, Any] = {
        "machine": header(),
        "gpu": gpu,
        "torch": torch.__version__,
        "device": device,
        "models": {},
    }
    print(report["machine"], f"\nGPU: {gpu}; torch {torch.__version__}", flush=True)
    with tempfile.TemporaryDirectory() as work:
        for name in names:
            model_dir = build_model(kit, name, Path(work))
            print(f"{name} ({'trained' if name == TRAINED else 'random-weight twin'}):")
            entry: dict[str, Any] = {
                "weights": "trained" if name == TRAINED else "random (twin)",
                "inference": inference(
                    model_dir, device, corpus, args.precisions, args.batches, with_ngram=False
                ),
                "naive_pipeline": naive(model_dir, device, corpus[: args.naive_texts]),
            }
            print(f"  naive pipeline {entry['naive_pipeline']['texts_per_s']:>10,.0f} texts/s")
            if name == TRAINED:
                largest = sorted(args.batches)[-2:]
                entry["served"] = inference(
                    model_dir, device, corpus, args.precisions, largest, with_ngram=True
                )
                rows = args.valid_texts
                entry["accuracy"] = accuracy(
                    model_dir,
                    device,
                    args.precisions,
                    largest[-1],
                    valid.texts[:rows],
                    valid.labels[:rows],
                )
                for row in entry["accuracy"]:
                    print(
                        f"  valid.csv {row['precision']:>5}{' +ngram' if row['ngram'] else '':7}"
                        f" {row['accuracy']:.4f} / {row['macro_f1']:.4f}, labels equal to "
                        f"{args.precisions[0]}'s {row['agreement_with_first']:.4f}"
                    )
            if args.train_steps:
                entry["training"] = training(
                    model_dir,
                    TRAIN_PROFILE[name],
                    device,
                    args.train_steps,
                    args.train_warm_up,
                    args.train_rows,
                )
                tr = entry["training"]
                print(
                    f"  training ({tr['profile']} profile, batch {tr['batch_size']}, "
                    f"{tr['amp']}): {tr['texts_per_s']:,.0f} texts/s, an epoch of the full "
                    f"set {tr['epoch_s_full_set']:.0f} s",
                    flush=True,
                )
            report["models"][name] = entry
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    sub = parser.add_subparsers(dest="command", required=True)
    kit = sub.add_parser("kit", help="write the kit (here, where finsent is installed)")
    kit.add_argument("--out", default=".gpu-kit")
    kit.add_argument("--student", help="a trained student to measure (weights go as fp16)")
    kit.add_argument("--bases-dir", help="where named bases are assembled (default: finsent's)")
    kit.add_argument("--without-teacher", action="store_true", help="the student's bases only")
    run = sub.add_parser("run", help="measure (on the GPU machine)")
    run.add_argument("--kit", default=".gpu-kit")
    run.add_argument("--out", default=".", help="folder for gpu.json")
    run.add_argument("--device", default="cuda")
    run.add_argument("--texts", type=int, default=30_000, help="texts per inference pass")
    run.add_argument("--naive-texts", type=int, default=2_000)
    run.add_argument("--precisions", nargs="+", choices=PRECISIONS, default=list(PRECISIONS))
    run.add_argument("--batches", nargs="+", type=int, default=list(BATCHES))
    run.add_argument("--train-steps", type=int, default=200, help="0: no training measure")
    run.add_argument("--train-warm-up", type=int, default=5, help="steps before the timed ones")
    run.add_argument("--train-rows", type=int, help="training rows to encode (default all)")
    run.add_argument("--valid-texts", type=int, help="valid.csv rows to score (default all)")
    run.add_argument("--models", nargs="+", choices=MODELS, default=list(MODELS))
    args = parser.parse_args()

    if args.command == "kit":
        bases = Path(args.bases_dir) if args.bases_dir else None
        if bases is None:
            from finsent.settings import default_data_dir

            bases = default_data_dir() / "bases"
        student = Path(args.student) if args.student else None
        held = make_kit(Path(args.out), student, bases, teacher=not args.without_teacher)
        print(json.dumps(held, indent=2))
        return
    report = run_all(args)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "gpu.json").write_text(json.dumps(report, indent=2), encoding="utf-8")
    print(f"written: {out / 'gpu.json'}")


if __name__ == "__main__":
    main()
