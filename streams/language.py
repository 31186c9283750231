"""An item's language: the one its record or feed names, else the script of its text.

finsent serves two kinds of text: Chinese (its multilingual model, where one is set)
and everything else (the English model). Telling them apart needs no language model:
Chinese is written in Han characters, which no Latin-script text has. Kana marks
Japanese and Hangul Korean (both also write Han characters). A text in Latin script is
taken as English unless its record or feed says otherwise: the English model is what
serves it either way, and a feed in another language can say so (``lang:``).

Languages are primary subtags, lower case (``zh``, ``en``): ``zh-CN``, ``zh-Hant`` and
``zh-TW`` are all ``zh``, so a filter on the language finds every Chinese item.
"""

from __future__ import annotations

import re

#: The language of a text without Han, kana or Hangul.
DEFAULT_LANGUAGE = "en"
#: A language tag as records and feeds give it (BCP 47's shape, loosely).
LANGUAGE_TAG_RE = re.compile(r"[A-Za-z]{2,8}(?:-[A-Za-z0-9]{1,8})*")

# CJK unified ideographs (with extension A and the compatibility block)
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_KANA = re.compile(r"[\u3040-\u30ff]")
_HANGUL = re.compile(r"[\uac00-\ud7af\u1100-\u11ff]")
_LATIN_WORD = re.compile(r"[A-Za-z\u00c0-\u024f]+")
#: Share of a text's letters that must be Han for it to count as Chinese: a Chinese
#: headline with an English company name or ticker in it is still Chinese, an English
#: one quoting one Chinese word is not.
HAN_SHARE = 0.3


def primary_language(tag: str | None) -> str | None:
    """``tag``'s primary subtag, lower case (``zh-CN`` -> ``zh``); None for no tag or
    one that is not a language tag."""
    if not tag or not LANGUAGE_TAG_RE.fullmatch(tag.strip()):
        return None
    return tag.strip().split("-", 1)[0].lower()


def detect_language(text: str) -> str:
    """``zh``, ``ja`` or ``ko`` from the text's script, else ``DEFAULT_LANGUAGE``.

    Kana or Hangul anywhere decide Japanese or Korean (a Chinese text has neither);
    otherwise Han characters making up ``HAN_SHARE`` of the letters decide Chinese,
    counting each Latin word as one letter, as a Han character is about a word."""
    if _KANA.search(text):
        return "ja"
    if _HANGUL.search(text):
        return "ko"
    han = len(_HAN.findall(text))
    if not han:
        return DEFAULT_LANGUAGE
    latin_words = len(_LATIN_WORD.findall(text))
    return "zh" if han >= HAN_SHARE * (han + latin_words) else DEFAULT_LANGUAGE


def item_language(declared: str | None, text: str) -> str:
    """The language of an item: the one declared (record, feed), else its text's."""
    return primary_language(declared) or detect_language(text)
