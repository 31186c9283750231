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

import re
import unicodedata
import zlib

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
