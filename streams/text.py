"""Plain text out of whatever HTML outside text carries: the one cleaner every entry
point uses (a feed's titles and summaries, and every record on ``news.raw`` whoever
wrote it: ``finsent publish``/``replay``, any Kafka client).

A real HTML parser (the standard library's tokenizer), not regular expressions: tags
are dropped, the contents of script/style/template/noscript are dropped, character
references are decoded (twice, for the feeds that escape their HTML twice), control
characters removed and whitespace collapsed. The result is text, never markup.
"""

from __future__ import annotations

import html
import re
import unicodedata
from html.parser import HTMLParser

#: Elements whose content is not text a reader sees.
_SKIP = frozenset({"script", "style", "template", "noscript", "iframe", "object", "svg", "math"})
#: Elements that separate words when their tags are removed.
_BREAKS = frozenset(
    {"br", "p", "div", "li", "ul", "ol", "tr", "td", "th", "h1", "h2", "h3", "h4", "h5", "h6"}
    | {"blockquote", "pre", "section", "article", "header", "footer", "table", "hr", "img"}
)
_SPACE_RE = re.compile(r"\s+")
_MARKUP_HINT = re.compile(r"<[A-Za-z/!?]|&(#\d+|#[xX][0-9A-Fa-f]+|[A-Za-z][A-Za-z0-9]{1,31});")
_TAG_LIKE = re.compile(r"<[A-Za-z/!?][^>]*>?")
_DECLARATION = re.compile(r"<!(?!--)[^>]*>?")
ELLIPSIS = "…"
MAX_ROUNDS = 4


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP:
            self._skipping += 1
        elif tag in _BREAKS:
            self.parts.append(" ")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _BREAKS:
            self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP:
            self._skipping = max(0, self._skipping - 1)
        elif tag in _BREAKS:
            self.parts.append(" ")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)


def _extract(markup: str) -> str:
    parser = _TextExtractor()
    try:
        parser.feed(markup)
        parser.close()
    except AssertionError:
        # CPython before 3.13 asserts on some malformed declarations ("<![0"). Drop every
        # declaration but comments up to its ">", as a browser reads a bogus comment.
        parser = _TextExtractor()
        try:
            parser.feed(_DECLARATION.sub("", markup))
            parser.close()
        except AssertionError:  # nothing left to assert on; should it still, no markup
            return _TAG_LIKE.sub(" ", html.unescape(markup))
    return "".join(parser.parts)


def html_to_text(value: str) -> str:
    """Plain text of an HTML fragment (or of text that merely contains ``&amp;``)."""
    text = _extract(value)
    # Escaped more than once ("&amp;lt;b&amp;gt;" arrives as "&lt;b&gt;" or "<b>" text):
    # parse again until no markup or reference is left (a few rounds at most).
    for _ in range(MAX_ROUNDS):
        if not _MARKUP_HINT.search(text):
            break
        text = _extract(text)
    else:
        text = _TAG_LIKE.sub(" ", html.unescape(text))
    text = "".join(" " if unicodedata.category(ch)[0] == "C" else ch for ch in text)
    return _SPACE_RE.sub(" ", text).strip()


def cut(text: str, limit: int) -> str:
    """``text`` if it fits in ``limit`` characters, else cut at a word boundary near the
    limit with an ellipsis."""
    if len(text) <= limit:
        return text
    head = text[: limit - 1]
    space = head.rfind(" ")
    if space >= limit * 3 // 4:
        head = head[:space]
    return head.rstrip() + ELLIPSIS
