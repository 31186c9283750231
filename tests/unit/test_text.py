"""Text out of feed HTML: a real parser, nothing of the markup survives."""

from __future__ import annotations

import pytest

from streams.text import ELLIPSIS, cut, html_to_text


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        ("Bank <b>raises</b> dividend", "Bank raises dividend"),
        ("<script>alert(1)</script>Shares rise", "Shares rise"),
        ("<SCRIPT type='text/javascript'>var a = '<b>';</SCRIPT>Shares rise", "Shares rise"),
        ("<style>p { color: red }</style><p>One</p><p>Two</p>", "One Two"),
        ("&lt;script&gt;alert(1)&lt;/script&gt;Escaped once", "Escaped once"),
        ("AT&amp;amp;T beats", "AT&T beats"),
        ("Q&amp;A: S&amp;P 500 &#8212; &eacute;lan", "Q&A: S&P 500 — élan"),
        ("P/E < 10 while x > 3", "P/E < 10 while x > 3"),
        ("Line<br>break<br/>here", "Line break here"),
        ("<img src=x onerror=alert(1)>Caption", "Caption"),
        ("tab\tnew\nline\r\n  spaces", "tab new line spaces"),
        ("zero\u200bwidth and nul\x00byte", "zero width and nul byte"),
        ("<p>unclosed <b>bold", "unclosed bold"),
        ("<!-- a comment -->Visible", "Visible"),
        ("<![CDATA[cdata]]>text", "text"),
        # malformed declarations the standard library's parser asserts on (before 3.13):
        # read as a browser does, a bogus comment up to the next ">"
        ("<![0", ""),
        ("Shares <![0 rise <b>now</b>", "Shares now"),
        ("<!-- c -->A <![ x B", "A"),
        ("<noscript><img src=x></noscript><template><p>t</p></template>Kept", "Kept"),
        ("", ""),
    ],
)
def test_html_to_text(raw: str, text: str) -> None:
    assert html_to_text(raw) == text


@pytest.mark.parametrize(
    "raw",
    [
        "<script>alert(1)</script>x",
        "&lt;script&gt;alert(1)&lt;/script&gt;x",
        "&amp;lt;script&amp;gt;alert(1)&amp;lt;/script&amp;gt;x",
        "<scr<script>ipt>alert(1)</script>x",
        "<a href='javascript:alert(1)'>x</a>",
        "<svg onload=alert(1)><circle/></svg>x",
    ],
)
def test_no_markup_survives(raw: str) -> None:
    text = html_to_text(raw)
    assert "<script" not in text.lower() and "<svg" not in text.lower() and "<a " not in text
    assert text.endswith("x")
    assert html_to_text(text) == text  # cleaning again changes nothing more


def test_cut_keeps_short_text() -> None:
    assert cut("short", 10) == "short"


def test_cut_at_a_word_boundary() -> None:
    text = "word " * 300
    out = cut(text.strip(), 1000)
    assert len(out) <= 1000 and out.endswith(ELLIPSIS)
    assert out[:-1].endswith("word")


def test_cut_without_spaces() -> None:
    out = cut("x" * 5000, 1000)
    assert len(out) == 1000 and out.endswith(ELLIPSIS)
