"""The model revision every stored article records changes whenever what scores it does."""

from __future__ import annotations

from pathlib import Path

from streams.scoring import model_revision


def _model(root: Path) -> Path:
    root.mkdir()
    (root / "config.json").write_text('{"model_type": "bert"}', encoding="utf-8")
    (root / "model.safetensors").write_bytes(b"weights")
    return root


def test_the_revision_follows_the_weights_and_the_ngram_model(tmp_path: Path) -> None:
    model = _model(tmp_path / "m")
    first = model_revision(str(model))
    assert first == model_revision(str(model)) and len(first) == 12

    (model / "ngram.safetensors").write_bytes(b"ngram weights")
    (model / "ngram.json").write_text('{"weight": 1.0}', encoding="utf-8")
    with_ngram = model_revision(str(model))
    assert with_ngram != first

    assert model_revision(str(model), ngram_weight=0.0) not in (first, with_ngram)
    assert model_revision(str(model), ngram_weight=2.0) != model_revision(str(model), 0.0)

    (model / "int8.json").write_text('{"fp32_nodes": ["n"], "build": 3}', encoding="utf-8")
    planned = model_revision(str(model))  # the int8 plan changes what int8 serving says
    assert planned != with_ngram

    (model / "model.safetensors").write_bytes(b"retrained")
    assert model_revision(str(model)) not in (with_ngram, planned)


def test_a_hub_id_has_no_content_to_hash() -> None:
    assert model_revision("ProsusAI/finbert") == "hub"
