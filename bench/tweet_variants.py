"""Variants of the training tweets, for a teacher to label (distillation with augmentation).

A student distilled on the very texts its teacher was trained on learns little beyond
the labels: the teacher is sure of them. Texts *near* the training tweets are where the
teacher's reading carries information (TinyBERT's data augmentation, Jiao et al. 2020).
Each variant here changes a tweet a little: a few words swapped for their nearest
neighbours in the teacher's own word-embedding table ("rise" -> "rose", "decline",
"increase"), a word or two dropped, a cashtag swapped for another company's, a figure
redrawn. A swap may turn the meaning around ("rise" -> "decline"); that is wanted, as
the teacher labels every variant afresh and nothing keeps the tweet's label.

Plain functions of plain data: the neighbour table comes from a vocabulary and a matrix,
so it can be built from any model's input embeddings (``neighbour_table``) and tested
without one.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence

import numpy as np

#: a word the table may hold: letters only, two or more of them
WORD = re.compile(r"[a-z]{2,}")
#: a whitespace-separated token: leading punctuation, a core, trailing punctuation
TOKEN = re.compile(r"^(\W*)(.*?)(\W*)$", re.DOTALL)
NUMBER = re.compile(r"\d+(?:[.,]\d+)?")
CASHTAG = re.compile(r"^\$[A-Za-z][A-Za-z.]{0,5}$")


def whole_words(vocab: Sequence[str]) -> list[tuple[int, str]]:
    """The entries of a tokenizer's vocabulary that are whole lower-case words, with their
    row: WordPiece's pieces without ``##``, or SentencePiece's with the ``▁`` word mark
    when the vocabulary uses it."""
    marked = any(piece.startswith("\u2581") for piece in vocab)
    words: list[tuple[int, str]] = []
    for row, piece in enumerate(vocab):
        if marked:
            if not piece.startswith("\u2581"):
                continue
            piece = piece[1:]
        if WORD.fullmatch(piece):
            words.append((row, piece))
    return words


def neighbour_table(
    vocab: Sequence[str], vectors: np.ndarray, *, k: int = 8, chunk: int = 2048
) -> dict[str, tuple[str, ...]]:
    """Each whole word of ``vocab`` -> its ``k`` nearest whole words by the cosine of their
    rows in ``vectors`` (an input-embedding matrix, one row per vocabulary entry)."""
    if vectors.shape[0] < len(vocab):
        raise ValueError(f"{vectors.shape[0]} embedding rows for a vocabulary of {len(vocab)}")
    entries = whole_words(vocab)
    if len(entries) <= k:
        raise ValueError(f"{len(entries)} whole words in the vocabulary; need more than k={k}")
    words = [w for _, w in entries]
    matrix = vectors[[row for row, _ in entries]].astype(np.float32)
    matrix /= np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-12)
    table: dict[str, tuple[str, ...]] = {}
    for start in range(0, len(words), chunk):
        scores = matrix[start : start + chunk] @ matrix.T
        for offset, row in enumerate(scores):
            row[start + offset] = -np.inf
            top = np.argpartition(-row, k)[:k]
            top = top[np.argsort(-row[top])]
            table[words[start + offset]] = tuple(words[j] for j in top)
    return table


def match_case(word: str, like: str) -> str:
    """``word`` written in the case of ``like``: ALL CAPS, Title or as it is."""
    if like.isupper() and len(like) > 1:
        return word.upper()
    if like[:1].isupper():
        return word[:1].upper() + word[1:]
    return word


def redraw_number(number: str, rng: random.Random, *, tries: int = 8) -> str:
    """Another figure of about the same size (0.5x to 2x), with as many decimals; the
    figure as it was only when no draw differs from it (a zero)."""
    decimals = len(re.split(r"[.,]", number)[1]) if re.search(r"[.,]", number) else 0
    for _ in range(tries):
        value = float(number.replace(",", ".")) * rng.uniform(0.5, 2.0)
        text = f"{value:.{decimals}f}"
        text = text.replace(".", ",") if "," in number else text
        if text != number:
            return text
    return number


def variant(
    text: str,
    rng: random.Random,
    neighbours: dict[str, tuple[str, ...]],
    tickers: Sequence[str],
    *,
    p_swap: float = 0.15,
    p_drop: float = 0.08,
    p_other: float = 0.5,
) -> str:
    """One changed copy of ``text`` (it may come out equal; ``variants`` retries)."""
    tokens = text.split()
    out: list[str] = []
    for token in tokens:
        if token.startswith(("http://", "https://", "@", "#")):
            out.append(token)
            continue
        if CASHTAG.match(token):
            swap = tickers and rng.random() < p_other
            out.append("$" + rng.choice(tickers) if swap else token)
            continue
        lead, core, trail = TOKEN.match(token).groups()  # type: ignore[union-attr]
        if NUMBER.fullmatch(core) and rng.random() < p_other:
            out.append(lead + redraw_number(core, rng) + trail)
            continue
        lower = core.lower()
        if lower in neighbours and rng.random() < p_swap:
            out.append(lead + match_case(rng.choice(neighbours[lower]), core) + trail)
            continue
        if core and len(tokens) > 4 and rng.random() < p_drop:
            continue
        out.append(token)
    return " ".join(out)


def variants(
    texts: Sequence[str],
    per_text: int,
    seed: int,
    neighbours: dict[str, tuple[str, ...]],
    tickers: Sequence[str],
    *,
    tries: int = 8,
) -> list[str]:
    """Up to ``per_text`` distinct variants of each text, none equal to any text given or to
    another variant, in the order of ``texts``; the same seed gives the same list."""
    rng = random.Random(seed)
    seen = set(texts)
    made: list[str] = []
    for text in texts:
        for _ in range(per_text):
            for _ in range(tries):
                candidate = variant(text, rng, neighbours, tickers)
                if candidate and candidate not in seen:
                    seen.add(candidate)
                    made.append(candidate)
                    break
    return made
