"""Headlines as sets of shingles: the pure part of telling the same story from another.

A title is normalised (case, accents, punctuation, an outlet suffix) and cut into hashed
character 5-grams; a title with CJK characters (Chinese, Japanese, Korean) is shingled
by character 3-grams of its CJK runs and by its other words: a Chinese headline is short
and each character a word, so one edit would change five of a few 5-grams. Two titles
are as alike as the Jaccard similarity of their shingles.

Here, below every package, because two layers use it: ``sources.neardup`` (syndicated
copies, before publishing) and ``storage.articles`` (novelty per company, at persist
time).
"""

from __future__ import annotations

import math
import re
import unicodedata
import zlib
from collections import Counter
from datetime import datetime, timedelta
from itertools import chain

#: CJK characters, as the inside of a regular expression's character class: Hangul
#: jamo and syllables, CJK radicals and punctuation, kana, bopomofo, Han (with its
#: extensions and compatibility forms), the half- and full-width forms.
CJK = (
    "\u1100-\u11ff\u2e80-\u2fff\u3001-\u9fff\ua960-\ua97f\uac00-\ud7ff"
    "\uf900-\ufaff\ufe30-\ufe4f\uff00-\uffef\U00020000-\U0003134f"
)
_SOURCE_SUFFIX = re.compile(r"\s+[-|–—:]\s+[^-|–—:]{2,40}$")
_NON_WORD = re.compile(r"[^\w\s]+")
_SPACES = re.compile(r"\s+")
_CJK_RUN = re.compile(f"[{CJK}]+")
_LATIN_WORD = re.compile(f"[^\\W{CJK}]+")
#: Kana voicing marks: combining, but they make another syllable (か, が), not an accent.
_KANA_MARKS = frozenset("\u3099\u309a")


def has_cjk(text: str) -> bool:
    return not text.isascii() and _CJK_RUN.search(text) is not None


def normalise_title(title: str) -> str:
    """Lower case, accents folded, punctuation and an outlet suffix (" - Reuters") gone;
    full-width forms as ASCII, Hangul and kana whole again (NFC) where there are CJK."""
    text = _SOURCE_SUFFIX.sub("", title.strip())
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if not unicodedata.combining(ch) or ch in _KANA_MARKS).lower()
    if has_cjk(text):
        text = unicodedata.normalize("NFC", text)
    text = _NON_WORD.sub(" ", text)
    return _SPACES.sub(" ", text).strip()


def shingles(text: str, k: int = 5) -> set[int]:
    """32-bit hashes of the character k-grams of ``text`` (the whole text if shorter)."""
    if len(text) <= k:
        return {zlib.crc32(text.encode())} if text else set()
    return {zlib.crc32(text[i : i + k].encode()) for i in range(len(text) - k + 1)}


def title_shingles(text: str) -> set[int]:
    """The shingles of a normalised title: its character 5-grams (``shingles``); for a
    title with CJK characters, the character 3-grams of its CJK characters run together
    (a colon or a space more or less, or a figure, breaks no 3-gram) and each of its
    other words (tickers, figures, Latin names)."""
    if not has_cjk(text):
        return shingles(text)
    hashes = shingles("".join(_CJK_RUN.findall(text)), 3)
    hashes.update(zlib.crc32(word.encode()) for word in _LATIN_WORD.findall(text))
    return hashes


def jaccard(a: set[int], b: set[int]) -> float:
    """The Jaccard similarity of two shingle sets (0 when both are empty)."""
    union = len(a | b)
    return len(a & b) / union if union else 0.0


class _Rank(dict[int, int]):
    """A shingle's place in the index's order; a shingle not counted comes first."""

    def __missing__(self, h: int) -> int:
        return h


class SimilarTitles:
    """Titles (their shingles and a time) that a new title can be looked up against: is
    any of them at least ``similarity``-alike and published within ``window`` of it?

    A prefix-filtered inverted index (AllPairs, Bayardo, Ma and Srikant 2007): with the
    shingles of every title in one fixed order, rarest first, two titles whose Jaccard
    similarity is at least ``t`` share a shingle among the first ``n - ceil(t * n) + 1``
    of each (``n`` its own count). Only those prefixes are indexed and probed, and only
    the titles found that way are compared in full. The answer is the one a comparison
    with every title gives; the work is no longer one set intersection per title held,
    since the rare shingles that lead each prefix are shared by few titles.

    The order is the titles' shingle counts when the index is made (a shingle seen
    after that counts as rarest), so that it stays one order while titles are added.

    Making the index costs about what ten to fifteen comparisons with every title held
    do, so for fewer lookups than ``INDEX_FROM`` (``bench/novelty.py``) ``indexed=False``
    keeps the titles in a list and compares with each: the same answers either way.
    """

    #: The lookups from which the index pays for itself (``bench/novelty.py``).
    INDEX_FROM = 20

    def __init__(
        self,
        titles: list[tuple[datetime, set[int]]],
        similarity: float,
        window: timedelta,
        *,
        indexed: bool = True,
    ) -> None:
        if not 0 < similarity <= 1:
            raise ValueError(f"similarity must be in (0, 1], not {similarity}")
        self.similarity = similarity
        self.window = window
        self._titles: list[tuple[datetime, set[int]]] = []
        self._postings: dict[int, list[int]] | None = None
        if not indexed:
            self._titles.extend(titles)
            return
        counts = Counter(chain.from_iterable(hashes for _, hashes in titles))
        # (count, hash) as one integer: the hashes are 32-bit; a hash not counted is its own
        self._rank = _Rank((h, n << 32 | h) for h, n in counts.items())
        self._postings = {}
        for at, hashes in titles:
            self.add(at, hashes)

    def __len__(self) -> int:
        return len(self._titles)

    def _prefix(self, hashes: set[int]) -> list[int]:
        # ceil(t * n) less a hair, so that a float's last bit cannot shorten the prefix
        overlap = max(math.ceil(self.similarity * len(hashes) - 1e-9), 1)
        ranked = sorted(hashes, key=self._rank.__getitem__)
        return ranked[: len(hashes) - overlap + 1]

    def add(self, at: datetime, hashes: set[int]) -> None:
        index = len(self._titles)
        self._titles.append((at, hashes))
        if self._postings is None:
            return
        for h in self._prefix(hashes):
            self._postings.setdefault(h, []).append(index)

    def has_similar(self, at: datetime, hashes: set[int]) -> bool:
        """Whether a title held is ``similarity``-alike to ``hashes`` and published
        within ``window`` of ``at``."""
        if self._postings is None:
            return any(self._alike(at, hashes, other) for other in self._titles)
        seen: set[int] = set()
        for h in self._prefix(hashes):
            for index in self._postings.get(h, ()):
                if index not in seen:
                    seen.add(index)
                    if self._alike(at, hashes, self._titles[index]):
                        return True
        return False

    def _alike(self, at: datetime, hashes: set[int], other: tuple[datetime, set[int]]) -> bool:
        return abs(other[0] - at) <= self.window and jaccard(hashes, other[1]) >= self.similarity
