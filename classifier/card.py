"""The model card (``README.md``) written from the same facts as ``metrics.json``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from classifier.labels import CANONICAL


def render_card(metrics: dict[str, Any]) -> str:
    """A Hugging Face style model card: what it is, how it was trained, how well it does."""
    hp = metrics["hyperparameters"]
    data = metrics["data"]
    hw = metrics["hardware"]
    lines = [
        "---",
        "library_name: transformers",
        "pipeline_tag: text-classification",
        "tags: [sentiment-analysis, finance, finsent]",
        "metrics: [accuracy, f1]",
        "---",
        "",
        "# finsent financial sentiment classifier",
        "",
        f"A three-way sentiment classifier ({', '.join(CANONICAL)}) for financial news "
        f"headlines and posts, fine-tuned from `{metrics['base_model']}`.",
        "",
        "## Labels",
        "",
        "| id | label |",
        "|---:|---|",
        *[f"| {i} | {name} |" for i, name in enumerate(CANONICAL)],
        "",
        "Data labels were mapped with "
        + ", ".join(f"`{raw}` → {name}" for raw, name in metrics["label_map"].items())
        + "."
        if metrics["label_map"]
        else "Data labels were already canonical names.",
        "",
        f"Text normalisation (training and inference): {metrics['normalisation']}.",
        "",
        *(
            [f"Knowledge distillation: also learned from {metrics['distilled_from']}.", ""]
            if metrics.get("distilled_from")
            else []
        ),
        *_ngram_lines(metrics.get("ngram")),
        "## Results on the validation set",
        "",
        f"Best epoch {metrics['best_epoch']} of {metrics['epochs_run']} run "
        f"(kept by the macro-F1 of what is served): **accuracy {metrics['accuracy']:.4f}**, "
        f"**macro-F1 {metrics['macro_f1']:.4f}**, weighted F1 {metrics['weighted_f1']:.4f}"
        + (
            f" with the n-gram model; the transformer alone: accuracy "
            f"{metrics['transformer_alone']['accuracy']:.4f}, macro-F1 "
            f"{metrics['transformer_alone']['macro_f1']:.4f}; the n-gram model alone: "
            f"accuracy {metrics['ngram']['alone']['accuracy']:.4f}, macro-F1 "
            f"{metrics['ngram']['alone']['macro_f1']:.4f}."
            if metrics.get("ngram")
            else "."
        ),
        "",
        "| label | precision | recall | F1 | support |",
        "|---|---:|---:|---:|---:|",
    ]
    for name in CANONICAL:
        c = metrics["per_class"][name]
        lines.append(
            f"| {name} | {c['precision']:.4f} | {c['recall']:.4f} | {c['f1']:.4f} | "
            f"{c['support']} |"
        )
    matrix = metrics["confusion_matrix"]["matrix"]
    lines += [
        "",
        "Confusion matrix (rows: true label, columns: predicted label):",
        "",
        "| true \\ predicted | " + " | ".join(CANONICAL) + " |",
        "|---|" + "---:|" * len(CANONICAL),
        *[
            f"| {name} | " + " | ".join(str(v) for v in row) + " |"
            for name, row in zip(CANONICAL, matrix, strict=True)
        ],
        "",
        *_check_lines(metrics),
        *_calibration_lines(metrics.get("calibration")),
        *_int8_lines(metrics.get("int8")),
        "Per epoch:",
        "",
        "| epoch | train loss | accuracy | macro-F1 | transformer alone | seconds |",
        "|---:|---:|---:|---:|---:|---:|",
        *[
            f"| {h['epoch']} | {h['train_loss']:.4f} | {h['accuracy']:.4f} | "
            f"{h['macro_f1']:.4f} | {h['transformer_accuracy']:.4f} / "
            f"{h['transformer_macro_f1']:.4f} | {h['seconds']:.0f} |"
            for h in metrics["history"]
        ],
        "",
        "## Training",
        "",
        "| data | rows | " + " | ".join(CANONICAL) + " |",
        "|---|---:|" + "---:|" * len(CANONICAL),
        *[
            f"| {split} (`{data[split]['path']}`) | {data[split]['rows']} | "
            + " | ".join(str(data[split][n]) for n in CANONICAL)
            + " |"
            for split in ("train", "valid")
        ],
        "",
        "Hyper-parameters:",
        "",
        *[f"- {k}: {v}" for k, v in hp.items()],
        "- class weights: "
        + ", ".join(f"{k} {v:.3f}" for k, v in metrics["class_weights"].items()),
        "- optimiser: AdamW, linear warm-up then linear decay, gradient clipping at 1.0",
        "",
        f"Wall time {metrics['wall_time_s']:.0f} s on {hw['device']} "
        f"({hw['cpu']}, {hw['cpu_cores']} cores, {hw['torch_threads']} torch threads"
        + (f", GPU {hw['gpu']}" if "gpu" in hw else "")
        + f"), torch {hw['torch']}, created {metrics['created_at']}.",
        "",
        "## Use",
        "",
        "```python",
        "from transformers import pipeline",
        f"classify = pipeline('text-classification', model='{metrics['model_dir']}')",
        "```",
        "",
        "or `finsent evaluate MODEL CSV`, or set `FINSENT_MODEL_PATH` for the worker "
        "(finsent's engine adds the n-gram model; the pipeline runs the transformer alone).",
        "",
        "## Limitations",
        "",
        "Trained on finance tweets; news headlines differ in style. Watch per-class recall "
        "(above), not only accuracy: the data is mostly neutral.",
        "",
    ]
    return "\n".join(lines)


def _check_lines(metrics: dict[str, Any]) -> list[str]:
    """The validation set beside each check set (held apart: never used to choose)."""
    checks = metrics.get("checks") or {}
    if not checks:
        return []
    alone = metrics["transformer_alone"]
    valid = metrics["data"]["valid"]
    per_class = metrics["per_class"]
    rows = [
        (
            f"validation (`{Path(valid['path']).name}`)",
            valid["rows"],
            metrics,
            [per_class[name]["recall"] for name in CANONICAL],
            alone,
        ),
        *[
            (
                f"{name} (`{Path(c['path']).name}`)",
                c["rows"],
                c,
                [c["recall"][n] for n in CANONICAL],
                c["transformer_alone"],
            )
            for name, c in checks.items()
        ],
    ]
    return [
        "## Beside the validation set",
        "",
        "The kept model on labelled sets held apart from training and from choosing the "
        "epoch (the news set ships with finsent: `finsent/data/news_eval`). As served, and "
        "the transformer alone:",
        "",
        "| set | rows | accuracy | macro-F1 | weighted F1 | "
        + " | ".join(f"recall {n}" for n in CANONICAL)
        + " | transformer alone (acc. / macro-F1) |",
        "|---|---:|---:|---:|---:|" + "---:|" * len(CANONICAL) + "---:|",
        *[
            f"| {label} | {n} | {m['accuracy']:.4f} | {m['macro_f1']:.4f} | "
            f"{m['weighted_f1']:.4f} | "
            + " | ".join(f"{r:.3f}" for r in recalls)
            + f" | {a['accuracy']:.4f} / {a['macro_f1']:.4f} |"
            for label, n, m, recalls, a in rows
        ],
        "",
    ]


def _calibration_lines(fitted: dict[str, Any] | None) -> list[str]:
    if not fitted:
        return []
    served = (
        f"{fitted['served']} as served (with the n-gram model at weight "
        f"{fitted['ngram_weight']}), {fitted['transformer_alone']} for the transformer alone"
        if fitted["served"] is not None
        else f"{fitted['transformer_alone']}"
    )
    return [
        "## Calibration",
        "",
        f"Probabilities are temperature-scaled (`calibration.json`): T = {served}, fitted "
        f"on the {fitted['rows']} validation rows. There, as served: negative "
        f"log-likelihood {fitted['before']['nll']} → {fitted['after']['nll']}, expected "
        f"calibration error {fitted['before']['ece']} → {fitted['after']['ece']} "
        "(15 bins). Labels, hence accuracy and F1, are unchanged.",
        "",
    ]


def _int8_lines(plan: dict[str, Any] | None) -> list[str]:
    if not plan:
        return []
    kept = ", ".join(f"`{name}`" for name in plan["fp32_nodes"]) or "none"
    return [
        "## int8 serving",
        "",
        f"Served in onnx-int8, feed-forward outputs kept in fp32 (`int8.json`): {kept}. "
        f"Mean KL divergence of int8's probabilities from fp32's on {plan['texts']} "
        f"validation texts: {plan['kl_all_int8']} with every product in int8, "
        f"{plan['kl_planned']} as served.",
        "",
    ]


def _ngram_lines(ngram: dict[str, Any] | None) -> list[str]:
    if not ngram:
        return []
    return [
        "## The n-gram model beside it",
        "",
        f"`ngram.json` and `ngram.safetensors` hold a logistic regression on "
        f"{ngram['features']} word 1-2-gram and character 2-5-gram TF-IDF features, fitted "
        "on the same training rows. finsent serves the product of the two models' "
        f"probabilities, the n-gram model's log-probabilities at weight {ngram['weight']} "
        "(`FINSENT_MODEL_NGRAM_WEIGHT`; 0 serves the transformer alone)"
        + (
            ", on tweet-like texts only (a URL, a cashtag, an @handle or a #tag: on news it "
            "costs accuracy)."
            if ngram.get("gate") == "tweets"
            else "."
        ),
        "",
    ]


def write_card(out: str | Path, metrics: dict[str, Any]) -> Path:
    path = Path(out) / "README.md"
    path.write_text(render_card(metrics), encoding="utf-8")
    return path
