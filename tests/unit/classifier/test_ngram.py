"""The n-gram model served beside the transformer: features, fit, files, the blend."""

from __future__ import annotations

import json
import logging
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from classifier import ngram
from classifier.data import load_csv, normalise
from classifier.exceptions import ModelLoadError, TrainingError
from classifier.labels import DEFAULT_LABEL_MAP, parse_label_map
from classifier.loading import load_engine
from classifier.metrics import classification_metrics
from classifier.train import train
from testkit.classifier_support import tiny_config

TRAIN = [
    ("Acme shares plunge after profit warning", 0),
    ("Acme stock plunges as outlook is cut", 0),
    ("Globex shares plunge on fraud probe", 0),
    ("Acme to present at investor conference", 1),
    ("Globex announces date of annual meeting", 1),
    ("Initech to present at annual conference", 1),
    ("Acme shares soar after record profit", 2),
    ("Globex stock soars as outlook is raised", 2),
    ("Initech shares soar on record orders", 2),
]


@pytest.fixture(scope="module")
def small() -> ngram.NgramModel:
    texts, labels = zip(*TRAIN, strict=True)
    return ngram.fit(list(texts), list(labels))


def test_features_are_word_grams_and_character_grams_of_the_normalised_text() -> None:
    words, tokens = ngram.analyse("Shares of $AAPL SOAR https://t.co/x a")
    assert words == [
        "shares",
        "of",
        "ticker",
        "soar",
        "http",
        "shares of",
        "of ticker",
        "ticker soar",
        "soar http",
    ]
    assert tokens == ["shares", "of", "$ticker", "soar", "http", "a"]
    assert ngram.token_char_features("of") == [" o", "of", "f ", " of", "of ", " of "]
    assert ngram.token_char_features("a") == [" a", "a ", " a "]  # short: once per size
    assert ngram.analyse("x" * 10_000)[1] == ["x" * ngram.MAX_CHARS]


def test_each_block_of_a_row_has_unit_length_and_idf_weights(small: ngram.NgramModel) -> None:
    row = small.matrix(["Acme shares plunge plunge"]).toarray()[0]
    words, chars = row[: small.n_word], row[small.n_word :]
    assert np.linalg.norm(words) == pytest.approx(1.0)
    assert np.linalg.norm(chars) == pytest.approx(1.0)
    # sublinear tf: a word seen twice weighs (1 + ln 2) times its idf, before scaling
    plunge, shares = small.columns.words["plunge"], small.columns.words["shares"]
    ratio = row[plunge] / row[shares]
    assert ratio == pytest.approx((1 + np.log(2)) * small.idf[plunge] / small.idf[shares])


def test_the_word_block_equals_scikit_learns_tfidf(small: ngram.NgramModel) -> None:
    from sklearn.feature_extraction.text import TfidfVectorizer

    def words(text: str) -> list[str]:
        return ngram.word_features(normalise(text).lower())

    reference = TfidfVectorizer(analyzer=words, sublinear_tf=True, min_df=ngram.MIN_DF)
    reference.fit([t for t, _ in TRAIN])
    assert sorted(reference.vocabulary_) == [f[2:] for f in small.features[: small.n_word]]
    new = ["Acme shares soar soar at record conference", "Nothing known here"]
    want = reference.transform(new).toarray()
    have = small.matrix(new).toarray()[:, : small.n_word]
    order = [reference.vocabulary_[f[2:]] for f in small.features[: small.n_word]]
    np.testing.assert_allclose(have, want[:, order], atol=1e-12)


def test_it_learns_and_scores_every_text(small: ngram.NgramModel) -> None:
    texts = ["Initech shares plunge", "Globex shares soar", "", "📈", "央行宣布降息", "a " * 5000]
    log_p = small.log_proba(texts)
    assert log_p.shape == (len(texts), 3)
    np.testing.assert_allclose(np.exp(log_p).sum(axis=1), 1.0)
    assert log_p[0].argmax() == 0 and log_p[1].argmax() == 2
    assert small.log_proba([]).shape == (0, 3)


def test_every_label_must_occur() -> None:
    with pytest.raises(TrainingError, match=r"none are \['neutral'\]"):
        ngram.fit(["Shares plunge", "Shares soar"] * 3, [0, 2] * 3)


def test_files_round_trip_and_a_missing_model_is_none(
    small: ngram.NgramModel, tmp_path: Path
) -> None:
    assert ngram.load(tmp_path) is None
    ngram.save(replace(small, weight=0.5), tmp_path)
    again = ngram.load(tmp_path)
    assert again is not None and again.weight == 0.5 and again.features == small.features
    texts = [t for t, _ in TRAIN]
    np.testing.assert_allclose(again.log_proba(texts), small.log_proba(texts), atol=1e-5)
    assert again.gate == small.gate == "tweets"
    # a model saved before the gate existed votes on every text, as it did then
    config = json.loads((tmp_path / ngram.CONFIG_FILE).read_text(encoding="utf-8"))
    del config["gate"]
    (tmp_path / ngram.CONFIG_FILE).write_text(json.dumps(config), encoding="utf-8")
    older = ngram.load(tmp_path)
    assert older is not None and older.gate == "all"
    np.testing.assert_array_equal(older.row_weights(["plain news", "$X up"]), [0.5, 0.5])
    config["gate"] = "news"
    (tmp_path / ngram.CONFIG_FILE).write_text(json.dumps(config), encoding="utf-8")
    with pytest.raises(ModelLoadError, match="gate 'news' is not one of tweets, all"):
        ngram.load(tmp_path)


def test_the_tweet_gate_reads_a_tweet_s_marks() -> None:
    tweets = ["$AAPL up 3%", "Fed holds https://t.co/x", "@Reuters: oil falls", "#earnings beat"]
    news = ["Apple shares rise 3%", "Profit rose to $5.2 million", "Email ir@acme.com", "No. 1"]
    assert all(ngram.tweet_like(t) for t in tweets)
    assert not any(ngram.tweet_like(t) for t in news)


@pytest.mark.parametrize(
    "damage",
    [
        lambda d: (d / ngram.WEIGHTS_FILE).unlink(),
        lambda d: (d / ngram.CONFIG_FILE).write_text("{not json", encoding="utf-8"),
        lambda d: (d / ngram.WEIGHTS_FILE).write_bytes(b"\x00" * 20),
        lambda d: _edit_config(d, n_word=10**9),
        lambda d: _edit_config(d, format=99),
        lambda d: _edit_config(d, features=["w:only"]),
        lambda d: _edit_config(d, n_word=0),
    ],
)
def test_damaged_files_give_an_error_naming_the_directory(
    small: ngram.NgramModel, tmp_path: Path, damage: object
) -> None:
    ngram.save(small, tmp_path)
    damage(tmp_path)  # type: ignore[operator]
    with pytest.raises(ModelLoadError, match=rf"n-gram model in {tmp_path} .*cannot be loaded"):
        ngram.load(tmp_path)


def _edit_config(directory: Path, **changes: object) -> None:
    path = directory / ngram.CONFIG_FILE
    config = json.loads(path.read_text(encoding="utf-8"))
    path.write_text(json.dumps({**config, **changes}), encoding="utf-8")


def test_the_blend_is_a_renormalised_product_of_experts() -> None:
    probs = np.array([[0.2, 0.5, 0.3], [1.0, 0.0, 0.0]])
    ngram_p = np.array([[0.6, 0.2, 0.2], [0.1, 0.1, 0.8]])
    mixed = ngram.blend(probs, np.log(ngram_p), 1.0)
    product = probs * ngram_p
    np.testing.assert_allclose(mixed, product / product.sum(axis=1, keepdims=True))
    np.testing.assert_allclose(ngram.blend(probs, np.log(ngram_p), 0.0), probs)


def test_the_engine_serves_the_pair_the_model_directory_holds(
    tiny_model: Path, tmp_path: Path, texts: list[str], caplog: pytest.LogCaptureFixture
) -> None:
    raw = {"variant": "fp32", "max_length": 64, "calibrated": False}
    alone = load_engine(str(tiny_model), **raw, ngram_weight=0)
    paired = load_engine(str(tiny_model), **raw)
    beside = ngram.load(tiny_model)
    assert beside is not None and paired.ngram is not None and alone.ngram is None
    assert "ngram=1.0" in paired.describe() and "ngram=off" in alone.describe()
    # trained with the default gate: the n-gram model votes on tweet-like texts only
    assert beside.gate == "tweets" and "(tweets only)" in paired.describe()
    marked = [ngram.tweet_like(t) for t in texts]
    assert marked == [False, True, True, False, False, False, False, False, False, False]
    weights = np.where(marked, 1.0, 0.0)
    np.testing.assert_array_equal(beside.row_weights(texts), weights)
    expected = ngram.blend(alone.predict_proba(texts), beside.log_proba(texts), weights)
    served = paired.predict_proba(texts)
    np.testing.assert_allclose(served, expected, atol=1e-9)
    plain = ~np.array(marked)
    np.testing.assert_allclose(served[plain], alone.predict_proba(texts)[plain], atol=1e-12)
    heavier = load_engine(str(tiny_model), **raw, ngram_weight=3)
    np.testing.assert_allclose(
        heavier.predict_proba(texts),
        ngram.blend(alone.predict_proba(texts), beside.log_proba(texts), 3.0 * weights),
        atol=1e-9,
    )

    bare = tmp_path / "bare"
    shutil.copytree(tiny_model, bare)
    for name in (ngram.CONFIG_FILE, ngram.WEIGHTS_FILE):
        (bare / name).unlink()
    with caplog.at_level(logging.WARNING):
        only = load_engine(str(bare), variant="fp32", max_length=64, ngram_weight=2)
    assert only.ngram is None and "has no n-gram model" in caplog.text
    with pytest.raises(ModelLoadError, match="n-gram weight"):
        load_engine(str(tiny_model), variant="fp32", ngram_weight=-1)


def test_training_writes_it_and_its_scores_are_what_the_engine_serves(
    data_dir: Path, tiny_model: Path, tmp_path: Path
) -> None:
    metrics = json.loads((tiny_model / "metrics.json").read_text(encoding="utf-8"))
    valid = load_csv(data_dir / "valid.csv", parse_label_map(DEFAULT_LABEL_MAP))
    for weight, key in ((None, None), (0, "transformer_alone")):
        engine = load_engine(str(tiny_model), variant="fp32", max_length=32, ngram_weight=weight)
        served = classification_metrics(
            valid.labels, engine.predict_proba(valid.texts).argmax(axis=1).tolist()
        )
        want = metrics if key is None else metrics[key]
        assert served["accuracy"] == pytest.approx(want["accuracy"])
        assert served["macro_f1"] == pytest.approx(want["macro_f1"])
    card = (tiny_model / "README.md").read_text(encoding="utf-8")
    assert f"{metrics['ngram']['features']} word 1-2-gram and character" in card


def test_without_it_training_leaves_no_stale_files(
    data_dir: Path, tiny_model: Path, tmp_path: Path
) -> None:
    out = tmp_path / "model"
    shutil.copytree(tiny_model, out)  # a previous model with an n-gram model
    result = train(tiny_config(data_dir, out, ngram_weight=0), progress=False)
    assert result.metrics["ngram"] is None
    assert not (out / ngram.CONFIG_FILE).exists() and not (out / ngram.WEIGHTS_FILE).exists()
    assert "n-gram" not in (out / "README.md").read_text(encoding="utf-8").split("## Use")[0]
    with pytest.raises(TrainingError, match="n-gram weight"):
        train(tiny_config(data_dir, out, ngram_weight=-0.5), progress=False)
