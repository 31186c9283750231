"""A linear n-gram model that votes beside the transformer.

Word 1-2-grams and character 2-5-grams (within words) of the normalised, lower-cased
text, each block TF-IDF weighted (sublinear term frequency, smoothed idf) and scaled to
unit length, feed a multinomial logistic regression. It sees the surface of a text, the
transformer its meaning; the two make different mistakes, so their product of experts
(``blend``: the transformer's log-probabilities plus ``weight`` times the n-gram
model's, renormalised) beats either alone. Scoring costs a dictionary lookup per n-gram
and one sparse product: a few percent of a forward pass.

On disk, beside the transformer's files: ``ngram.json`` (settings, the feature strings
in column order) and ``ngram.safetensors`` (idf, coefficients, intercepts). No pickle:
loading a model directory never runs code from it.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from classifier.data import normalise
from classifier.exceptions import ModelLoadError, TrainingError
from classifier.labels import CANONICAL

Floats = npt.NDArray[np.float64]

FORMAT = 1
CONFIG_FILE = "ngram.json"
WEIGHTS_FILE = "ngram.safetensors"
#: Characters of a text the n-gram model reads (the transformer reads a few hundred).
MAX_CHARS = 2000
WORD_NGRAMS = (1, 2)
CHAR_NGRAMS = (2, 5)
#: A feature must occur in this many training texts to get a column.
MIN_DF = 2
#: Inverse of the L2 penalty of the logistic regression (picked by 5-fold
#: cross-validation on the training set; see BENCHMARKS.md).
C = 10.0
#: The default weight of the n-gram model's log-probabilities in the blend.
DEFAULT_WEIGHT = 1.0
#: Which texts the n-gram model votes on: ``tweets`` (those with a URL, a cashtag, an
#: @handle or a #hashtag: the surface it learned from the shipped tweets, where it helps)
#: or ``all``. On news it makes the served pair worse than the transformer alone
#: (BENCHMARKS.md, "The served default on news"), so models trained now gate it.
GATES = ("tweets", "all")
DEFAULT_GATE = "tweets"
TWEET_MARKERS = re.compile(r"https?://|www\.|(?<![\w$])\$[A-Za-z]|(?<!\w)[@#]\w")
_WORD = re.compile(r"\b\w\w+\b")


def tweet_like(text: str) -> bool:
    """Whether ``text`` carries a tweet's marks: a URL, a cashtag, an @handle, a #tag."""
    return TWEET_MARKERS.search(text[:MAX_CHARS]) is not None


def word_features(text: str) -> list[str]:
    """Word unigrams and bigrams (words of two or more word characters)."""
    words = _WORD.findall(text)
    return words + [f"{a} {b}" for a, b in pairwise(words)]


def token_char_features(token: str) -> list[str]:
    """Character 2- to 5-grams of one space-padded token; a short token counts once."""
    low, high = CHAR_NGRAMS
    padded = f" {token} "
    grams: list[str] = []
    for n in range(low, high + 1):
        if len(padded) <= n:
            grams.append(padded)
            break
        grams.extend(padded[i : i + n] for i in range(len(padded) - n + 1))
    return grams


def analyse(text: str) -> tuple[list[str], list[str]]:
    """A text's word n-grams and its tokens (whose character n-grams are the other
    block), after the model's normalisation and lower-casing."""
    prepared = normalise(text[:MAX_CHARS]).lower()
    return word_features(prepared), prepared.split()


@dataclass(frozen=True)
class NgramModel:
    """Columns ``[0, n_word)`` are word features, the rest character features."""

    features: tuple[str, ...]
    n_word: int
    idf: Floats
    coef: Floats  # (3, columns), canonical label order
    intercept: Floats  # (3,)
    weight: float = DEFAULT_WEIGHT
    gate: str = "all"
    columns: _Columns = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "columns", _Columns(self.features, self.n_word))
        columns = len(self.features)
        if not 0 <= self.n_word <= columns:
            raise ValueError(f"n_word {self.n_word} outside 0..{columns}")
        if not all(f.startswith("w:") for f in self.features[: self.n_word]) or not all(
            f.startswith("c:") for f in self.features[self.n_word :]
        ):
            raise ValueError("features must be the word ('w:') then the character ('c:') ones")
        if self.idf.shape != (columns,) or self.coef.shape != (len(CANONICAL), columns):
            raise ValueError(
                f"idf {self.idf.shape} and coef {self.coef.shape} do not fit {columns} features"
            )
        if self.intercept.shape != (len(CANONICAL),):
            raise ValueError(f"intercept has shape {self.intercept.shape}, not (3,)")
        if self.weight < 0 or not math.isfinite(self.weight):
            raise ValueError(f"weight must be a finite number >= 0, not {self.weight}")
        if self.gate not in GATES:
            raise ValueError(f"gate {self.gate!r} is not one of {', '.join(GATES)}")

    def row_weights(self, texts: Sequence[str]) -> Floats:
        """The weight of this model's vote on each text: ``weight``, or 0 where the gate
        keeps it out (a text without a tweet's marks, for the ``tweets`` gate)."""
        if self.gate == "all":
            return np.full(len(texts), self.weight)
        return np.array([self.weight if tweet_like(t) else 0.0 for t in texts])

    def matrix(self, texts: Sequence[str]) -> Any:
        """The TF-IDF rows of ``texts`` (a scipy CSR matrix), each block unit length."""
        return tfidf_matrix(texts, self.columns, self.idf)

    def log_proba(self, texts: Sequence[str]) -> Floats:
        """Canonical-order log-probabilities, one row per text."""
        if not texts:
            return np.zeros((0, len(CANONICAL)), dtype=np.float64)
        scores = np.asarray(self.matrix(texts) @ self.coef.T) + self.intercept
        return log_softmax(scores)


class _Columns:
    """N-gram -> column lookups; a token's character columns are cached (tokens repeat)."""

    def __init__(self, features: Sequence[str], n_word: int) -> None:
        self.words = {f[2:]: i for i, f in enumerate(features[:n_word])}
        self.chars = {f[2:]: i for i, f in enumerate(features[n_word:], start=n_word)}
        self.tokens: dict[str, list[int]] = {}

    def of_words(self, grams: list[str]) -> list[int]:
        index = self.words
        return [index[g] for g in grams if g in index]

    def of_token(self, token: str) -> list[int]:
        found = self.tokens.get(token)
        if found is None:
            index = self.chars
            found = [index[g] for g in token_char_features(token) if g in index]
            if len(self.tokens) >= _TOKEN_CACHE:
                self.tokens.clear()
            self.tokens[token] = found
        return found


_TOKEN_CACHE = 100_000


def tfidf_matrix(texts: Sequence[str], columns: _Columns, idf: Floats) -> Any:
    """Sublinear-tf times idf per feature, each block (word, char) scaled to unit length.

    Plain Python only finds each text's columns; counting, weighting and scaling are
    array operations over all rows at once.
    """
    from scipy.sparse import csr_matrix  # type: ignore[import-untyped]

    groups: list[int] = []  # 2 * row + block
    found: list[int] = []
    for row, text in enumerate(texts):
        grams, tokens = analyse(text)
        words = columns.of_words(grams)
        chars = [c for token in tokens for c in columns.of_token(token)]
        groups.extend([2 * row] * len(words) + [2 * row + 1] * len(chars))
        found.extend(words)
        found.extend(chars)
    width = len(idf)
    keys, counts = np.unique(
        np.asarray(groups, dtype=np.int64) * width + np.asarray(found, dtype=np.int64),
        return_counts=True,
    )
    group, cols = np.divmod(keys, width)
    values = (1.0 + np.log(counts)) * idf[cols]
    norms = np.sqrt(np.bincount(group, weights=values * values, minlength=2 * len(texts)))
    if len(values):
        values /= norms[group]
    indptr = np.searchsorted(group, 2 * np.arange(len(texts) + 1))
    return csr_matrix((values, cols, indptr), shape=(len(texts), width))


def log_softmax(scores: Floats) -> Floats:
    z = scores - scores.max(axis=1, keepdims=True)
    out: Floats = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    return out


def blend(probs: Floats, ngram_log_proba: Floats, weight: float | Floats) -> Floats:
    """The product of experts: ``log probs + weight * ngram``, renormalised per row;
    ``weight`` one number, or one per row (``NgramModel.row_weights``)."""
    w = np.asarray(weight, dtype=np.float64)
    with np.errstate(divide="ignore"):
        joint = np.log(probs) + (w[:, None] if w.ndim else w) * ngram_log_proba
    out: Floats = np.exp(log_softmax(joint))
    return out


def fit(
    texts: Sequence[str],
    labels: Sequence[int],
    *,
    class_weight: Sequence[float] | None = None,
    c: float = C,
    weight: float = DEFAULT_WEIGHT,
    gate: str = DEFAULT_GATE,
) -> NgramModel:
    """Learn the vocabulary, idf and a multinomial logistic regression from labelled texts.

    ``labels`` are canonical indices; every class must occur. ``class_weight`` (one per
    canonical label) weights the loss like the transformer's.
    """
    from sklearn.linear_model import LogisticRegression  # type: ignore[import-untyped]

    present = set(labels)
    if present != set(range(len(CANONICAL))):
        missing = [CANONICAL[i] for i in range(len(CANONICAL)) if i not in present]
        raise TrainingError(f"the n-gram model needs rows of every label; none are {missing}")
    frequency: list[Counter[str]] = [Counter(), Counter()]
    for text in texts:
        grams, tokens = analyse(text)
        frequency[0].update(set(grams))
        frequency[1].update({g for token in set(tokens) for g in token_char_features(token)})
    words = sorted(f for f, df in frequency[0].items() if df >= MIN_DF)
    chars = sorted(f for f, df in frequency[1].items() if df >= MIN_DF)
    features = tuple([f"w:{f}" for f in words] + [f"c:{f}" for f in chars])
    if not features:
        raise TrainingError(f"no word or character n-gram occurs in {MIN_DF} training texts")
    df = np.array(
        [frequency[0][f] for f in words] + [frequency[1][f] for f in chars], dtype=np.float64
    )
    idf = np.log((1.0 + len(texts)) / (1.0 + df)) + 1.0
    x = tfidf_matrix(texts, _Columns(features, len(words)), idf)
    weights = dict(enumerate(class_weight)) if class_weight is not None else None
    regression = LogisticRegression(C=c, max_iter=3000, class_weight=weights)
    regression.fit(x, list(labels))
    return NgramModel(
        features=features,
        n_word=len(words),
        idf=idf,
        coef=regression.coef_.astype(np.float64),
        intercept=regression.intercept_.astype(np.float64),
        weight=weight,
        gate=gate,
    )


def save(model: NgramModel, directory: str | Path) -> None:
    """Write ``ngram.json`` and ``ngram.safetensors`` into ``directory``."""
    from safetensors.numpy import save_file

    out = Path(directory)
    save_file(
        {
            "idf": np.ascontiguousarray(model.idf, dtype=np.float32),
            "coef": np.ascontiguousarray(model.coef, dtype=np.float32),
            "intercept": np.ascontiguousarray(model.intercept, dtype=np.float32),
        },
        str(out / WEIGHTS_FILE),
    )
    config = {
        "format": FORMAT,
        "labels": list(CANONICAL),
        "weight": model.weight,
        "gate": model.gate,
        "word_ngrams": list(WORD_NGRAMS),
        "char_ngrams": list(CHAR_NGRAMS),
        "max_chars": MAX_CHARS,
        "n_word": model.n_word,
        "features": list(model.features),
    }
    (out / CONFIG_FILE).write_text(json.dumps(config, ensure_ascii=False), encoding="utf-8")


def load(directory: str | Path, weight: float | None = None) -> NgramModel | None:
    """The n-gram model saved in ``directory`` at ``weight`` (None: the weight saved with
    it); None when the directory has none."""
    from safetensors import SafetensorError
    from safetensors.numpy import load_file

    root = Path(directory)
    config_path, weights_path = root / CONFIG_FILE, root / WEIGHTS_FILE
    if not config_path.exists() and not weights_path.exists():
        return None
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
        arrays = load_file(str(weights_path))
        if config.get("format") != FORMAT or config.get("labels") != list(CANONICAL):
            raise ValueError(f"format {config.get('format')!r} is not {FORMAT}")
        if (
            tuple(config.get("word_ngrams", ())) != WORD_NGRAMS
            or tuple(config.get("char_ngrams", ())) != CHAR_NGRAMS
        ):
            raise ValueError("its n-gram ranges are not the ones this version computes")
        features = tuple(str(f) for f in config["features"])
        model = NgramModel(
            features=features,
            n_word=int(config["n_word"]),
            idf=arrays["idf"].astype(np.float64),
            coef=arrays["coef"].astype(np.float64),
            intercept=arrays["intercept"].astype(np.float64),
            weight=float(config.get("weight", DEFAULT_WEIGHT)) if weight is None else weight,
            gate=str(config.get("gate", "all")),  # models from before the gate: all texts
        )
        if not all(np.isfinite(a).all() for a in (model.idf, model.coef, model.intercept)):
            raise ValueError("it holds non-finite numbers")
    except (OSError, ValueError, KeyError, TypeError, SafetensorError) as e:
        reason = e.strerror if isinstance(e, OSError) and e.strerror else e
        raise ModelLoadError(
            f"the n-gram model in {root} ({CONFIG_FILE}, {WEIGHTS_FILE}) cannot be loaded: "
            f"{reason}; retrain the model, or delete both files to serve the transformer alone"
        ) from e
    return model
