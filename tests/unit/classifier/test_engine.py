"""The inference engine against transformers' own pipeline, and on awkward input."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from classifier.data import normalise
from classifier.engine import Classifier, Prediction
from classifier.exceptions import InputError
from classifier.loading import load_engine


@pytest.fixture(scope="module")
def engine(tiny_model: Path) -> Classifier:
    """The transformer alone (its n-gram partner and its calibration have tests of their
    own): the model's raw probabilities."""
    return load_engine(
        str(tiny_model),
        variant="fp32",
        batch_size=4,
        max_length=64,
        threads=2,
        ngram_weight=0,
        calibrated=False,
    )


def pipeline_scores(model_dir: Path, texts: list[str], max_length: int) -> list[dict[str, float]]:
    from transformers import pipeline

    classify = pipeline("text-classification", model=str(model_dir), device="cpu")
    out = classify(texts, top_k=None, truncation=True, max_length=max_length)
    return [{s["label"]: s["score"] for s in scores} for scores in out]


def test_probabilities_match_the_transformers_pipeline(
    engine: Classifier, tiny_model: Path, texts: list[str]
) -> None:
    prepared = [normalise(t) for t in texts]  # the pipeline does not normalise
    expected = pipeline_scores(tiny_model, prepared, max_length=64)
    got = engine.predict(texts)
    for want, have in zip(expected, got, strict=True):
        for label in ("negative", "neutral", "positive"):
            assert have.probabilities[label] == pytest.approx(want[label], abs=1e-3)


def test_every_awkward_text_gets_a_prediction(engine: Classifier, texts: list[str]) -> None:
    predictions = engine.predict(texts)
    assert len(predictions) == len(texts)
    for p in predictions:
        assert isinstance(p, Prediction)
        assert p.label in ("negative", "neutral", "positive")
        assert sum(p.probabilities.values()) == pytest.approx(1.0)
        assert p.polarity == pytest.approx(p.positive - p.negative)
        assert max(p.probabilities, key=p.probabilities.__getitem__) == p.label
        assert -1.0 <= p.polarity <= 1.0


def test_order_and_batching_do_not_change_results(engine: Classifier, texts: list[str]) -> None:
    together = engine.predict_proba(texts)
    one_by_one = np.vstack([engine.predict_proba([t]) for t in texts])
    np.testing.assert_allclose(together, one_by_one, atol=1e-5)
    reversed_ = engine.predict_proba(texts[::-1])[::-1]
    np.testing.assert_allclose(together, reversed_, atol=1e-5)
    by_three = engine.with_batch_size(3)
    assert (by_three.batch_size, by_three.backend) == (3, engine.backend)
    assert engine.batch_size != 3  # a copy: the engine it came from is unchanged
    np.testing.assert_allclose(by_three.predict_proba(texts), together, atol=1e-5)


def test_long_texts_are_truncated_to_max_length(engine: Classifier) -> None:
    encoded = engine.tokenise(["word " * 5000, "short"])
    assert encoded.lengths.tolist()[0] == 64
    assert encoded.lengths.tolist()[1] < 64


def test_empty_input_gives_empty_output(engine: Classifier) -> None:
    assert engine.predict([]) == []


@pytest.mark.parametrize("bad", [[None], ["fine", 3], [b"bytes"]])
def test_non_strings_are_refused_with_a_clear_error(engine: Classifier, bad: list[object]) -> None:
    with pytest.raises(InputError, match=r"text \d is \w+ .*not str"):
        engine.predict(bad)  # type: ignore[arg-type]


def test_a_bare_string_is_refused(engine: Classifier) -> None:
    with pytest.raises(InputError, match="not a single string"):
        engine.predict("Stocks rise")


def test_prediction_as_dict(engine: Classifier) -> None:
    d = engine.predict(["Stocks rise"])[0].as_dict()
    assert set(d) == {"label", "negative", "neutral", "positive", "polarity"}


def _relabelled(src: Path, dst: Path, order: list[int], names: list[str]) -> Path:
    """A copy of ``src`` whose output rows are permuted and renamed: the same model."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    model = AutoModelForSequenceClassification.from_pretrained(src, local_files_only=True)
    head = model.classifier
    head.weight.data = head.weight.data[order].clone()
    head.bias.data = head.bias.data[order].clone()
    model.config.id2label = dict(enumerate(names))
    model.config.label2id = {n: i for i, n in enumerate(names)}
    model.save_pretrained(dst)
    AutoTokenizer.from_pretrained(src, local_files_only=True).save_pretrained(dst)
    return dst


@pytest.mark.parametrize(
    ("order", "names", "labels"),
    [
        # FinBERT: positive, negative, neutral
        ([2, 0, 1], ["positive", "negative", "neutral"], None),
        # upper-case abbreviations, another order
        ([1, 2, 0], ["NEU", "POS", "NEG"], None),
        # generic names; the data's label map says what they mean
        ([0, 2, 1], ["LABEL_0", "LABEL_1", "LABEL_2"], "0=negative,1=positive,2=neutral"),
    ],
)
def test_models_with_other_label_conventions_predict_the_same(
    tiny_model: Path,
    tmp_path: Path,
    engine: Classifier,
    texts: list[str],
    order: list[int],
    names: list[str],
    labels: str | None,
) -> None:
    other = _relabelled(tiny_model, tmp_path / "other", order, names)
    relabelled = load_engine(
        str(other), variant="fp32", batch_size=4, max_length=64, labels=labels, calibrated=False
    )
    np.testing.assert_allclose(
        relabelled.predict_proba(texts), engine.predict_proba(texts), atol=1e-5
    )
    assert [p.label for p in relabelled.predict(texts)] == [p.label for p in engine.predict(texts)]


def test_torch_int8_stays_close_to_fp32(
    tiny_model: Path, engine: Classifier, texts: list[str]
) -> None:
    int8 = load_engine(
        str(tiny_model),
        variant="int8",
        batch_size=4,
        max_length=64,
        ngram_weight=0,
        calibrated=False,
    )
    assert int8.variant == "int8"
    np.testing.assert_allclose(int8.predict_proba(texts), engine.predict_proba(texts), atol=0.05)


def test_onnx_variants_are_built_once_and_match_fp32(
    tiny_model: Path, tmp_path: Path, engine: Classifier, texts: list[str]
) -> None:
    model_dir = tmp_path / "model"
    shutil.copytree(tiny_model, model_dir)
    raw = {"batch_size": 4, "max_length": 64, "ngram_weight": 0, "calibrated": False}
    fp32 = load_engine(str(model_dir), variant="onnx-fp32", **raw)
    np.testing.assert_allclose(fp32.predict_proba(texts), engine.predict_proba(texts), atol=1e-3)

    int8 = load_engine(str(model_dir), variant="onnx-int8", **raw)
    np.testing.assert_allclose(int8.predict_proba(texts), engine.predict_proba(texts), atol=0.05)
    built = model_dir / "onnx" / "model-int8.onnx"
    assert built.is_file()
    assert json.loads((model_dir / "onnx" / "source.json").read_text(encoding="utf-8"))["weights"]

    # attention is fused (and quantised): without it int8 runs about half as fast; the
    # layer norms are plain operators (ONNX Runtime's fused kernel is slower), in the
    # files and in the graph the serving session runs
    import onnx

    from classifier.ort import open_session

    def ops(path: Path) -> set[str]:
        return {node.op_type for node in onnx.load(str(path)).graph.node}

    norms = {"LayerNormalization", "SkipLayerNormalization"}
    assert "Attention" in ops(model_dir / "onnx" / "model-opt.onnx")
    assert "QAttention" in ops(built)
    assert "ReduceMean" in ops(built)
    served = tmp_path / "served.onnx"
    open_session(built, threads=1, save_optimised=served)
    assert not norms & (ops(model_dir / "onnx" / "model-opt.onnx") | ops(built) | ops(served))

    mtime = built.stat().st_mtime_ns
    again = load_engine(str(model_dir), variant="onnx-int8", **raw)
    assert built.stat().st_mtime_ns == mtime  # reused, not rebuilt
    np.testing.assert_allclose(again.predict_proba(texts), int8.predict_proba(texts), atol=1e-6)


def test_onnx_serving_loads_neither_torch_nor_transformers(
    tiny_model: Path, tmp_path: Path
) -> None:
    model_dir = tmp_path / "model"
    shutil.copytree(tiny_model, model_dir)
    load_engine(str(model_dir), variant="onnx-int8")  # builds the ONNX files (needs torch)
    script = (
        "import sys; from classifier.loading import load_engine;"
        f"e = load_engine({str(model_dir)!r}, variant='onnx-int8', device='cpu');"
        "p = e.predict(['Shares soar', '']);"
        "print(len(p), 'torch' in sys.modules, 'transformers' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.split() == ["2", "False", "False"]


def test_the_onnx_tokenizer_gives_transformers_token_ids(
    tiny_model: Path, texts: list[str]
) -> None:
    from transformers import AutoTokenizer

    from classifier.tokenizer import RustTokenizer

    ours = RustTokenizer(tiny_model)
    theirs = AutoTokenizer.from_pretrained(tiny_model, local_files_only=True)
    prepared = [normalise(t) for t in texts]
    for max_length in (16, 64):
        want = theirs(prepared, truncation=True, max_length=max_length)["input_ids"]
        assert ours(prepared, truncation=True, max_length=max_length)["input_ids"] == want
    assert ours.pad_token_id == theirs.pad_token_id
