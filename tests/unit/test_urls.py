from __future__ import annotations

import pytest

from streams.records import stable_id
from streams.urls import canonical_url


@pytest.mark.parametrize(
    ("url", "canonical"),
    [
        (
            "HTTPS://News.Example.com:443/a/b?utm_source=rss&id=7#comments",
            "https://news.example.com/a/b?id=7",
        ),
        ("http://news.example.com:80//markets//oil", "http://news.example.com/markets/oil"),
        (
            "https://news.example.com/x?b=2&a=1&fbclid=abc&gclid=z",
            "https://news.example.com/x?a=1&b=2",
        ),
        ("https://news.example.com:8443/x", "https://news.example.com:8443/x"),
        ("https://news.example.com", "https://news.example.com/"),
        ("https://news.example.com/x?UTM_MEDIUM=social&q=", "https://news.example.com/x?q="),
    ],
)
def test_canonical_url(url: str, canonical: str) -> None:
    assert canonical_url(url) == canonical


def test_tracking_does_not_change_the_id() -> None:
    a = stable_id("https://news.example.com/story?utm_campaign=x#top", "s", "t")
    b = stable_id("https://NEWS.example.com/story", "other source", "other title")
    assert a == b
