"""The feed list: good files load, every mistake names the file and the line."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import ConfigFileError
from sources.feeds import EXAMPLE_FEEDS, Feed, load_feeds, parse_duration


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "feeds.yaml"
    path.write_text(text)
    return path


def test_the_shipped_example_loads() -> None:
    feeds = load_feeds(EXAMPLE_FEEDS)
    assert len(feeds) >= 3
    assert all(f.url.startswith(("http://", "https://")) for f in feeds)
    assert len({f.name for f in feeds}) == len(feeds)


def test_the_deployed_feed_list_loads() -> None:
    deployed = Path(__file__).resolve().parents[3] / "deploy" / "finsent" / "feeds.yaml"
    feeds = load_feeds(deployed)
    assert any(f.enabled for f in feeds) and not any(f.allow_private_network for f in feeds)


def test_a_full_entry(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
feeds:
  - name: wire one
    url: " https://wire.example/rss "
    interval: 5m
    enabled: false
    topics: [banks-credit, banks-credit, rates]
    allow_private_network: true
  - {name: two, url: "http://two.example/atom", interval: 90}
""",
    )
    assert load_feeds(path) == [
        Feed("wire one", "https://wire.example/rss", 300.0, False, ("banks-credit", "rates"), True),
        Feed("two", "http://two.example/atom", 90.0),
    ]


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (30, 30.0),
        (1.5, 1.5),
        ("45s", 45.0),
        ("2m", 120.0),
        ("1h", 3600.0),
        ("1d", 86400.0),
        ("10", 10.0),
    ],
)
def test_durations(value: object, seconds: float) -> None:
    assert parse_duration(value) == seconds


@pytest.mark.parametrize("value", [True, "soon", "5 minutes", None, [], "-5"])
def test_bad_durations(value: object) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(value)


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("{name: a, url: 'ftp://x.example/f', interval: 60}", "only http and https"),
        ("{name: a, url: 'file:///etc/passwd', interval: 60}", "only http and https"),
        ("{name: a, url: 'https://', interval: 60}", "no host"),
        ("{name: a, url: 'https://u:p@x.example/', interval: 60}", "credentials"),
        ("{name: a, url: 'https://x.example/a b', interval: 60}", "whitespace"),
        ("{name: a, url: 42, interval: 60}", "url must be text"),
        ("{name: a, url: 'https://x.example/'}", "no interval"),
        ("{name: a, url: 'https://x.example/', interval: 0.5}", "between 1 second and 7 days"),
        ("{name: a, url: 'https://x.example/', interval: 30d}", "between 1 second and 7 days"),
        (
            "{name: a, url: 'https://x.example/', interval: 60, enabled: 'yes'}",
            "enabled must be true or false",
        ),
        (
            "{name: a, url: 'https://x.example/', interval: 60, topics: Banks}",
            "topics must be a list",
        ),
        (
            "{name: a, url: 'https://x.example/', interval: 60, topics: [Banks]}",
            "topics must be a list",
        ),
        ("{name: a, url: 'https://x.example/', intervall: 60}", "unknown key"),
        ("{name: '', url: 'https://x.example/', interval: 60}", "name"),
        ("{name: 'a/b', url: 'https://x.example/', interval: 60}", "name"),
        ("just a string", "must be a mapping"),
        ("{name: a, url: 'https://x.example/', interval: 60, allow_ports: 8080}", "allow_ports"),
        ("{name: a, url: 'https://x.example/', interval: 60, allow_ports: []}", "allow_ports"),
        ("{name: a, url: 'https://x.example/', interval: 60, allow_ports: [0]}", "1-65535"),
        ("{name: a, url: 'https://x.example/', interval: 60, allow_ports: [65536]}", "1-65535"),
        ("{name: a, url: 'https://x.example/', interval: 60, allow_ports: ['80']}", "allow_ports"),
        ("{name: a, url: 'https://x.example/', interval: 60, allow_ports: [true]}", "allow_ports"),
        ("{name: a, url: 'https://x.example/', interval: 60, allow_port: [80]}", "unknown key"),
    ],
)
def test_a_bad_entry_names_the_file_and_its_line(tmp_path: Path, entry: str, message: str) -> None:
    path = write(
        tmp_path,
        f"feeds:\n  - {{name: ok, url: 'https://ok.example/', interval: 60}}\n  - {entry}\n",
    )
    with pytest.raises(ConfigFileError, match=message) as info:
        load_feeds(path)
    assert str(info.value).startswith(f"{path} line 3") or str(info.value).startswith(str(path))
    if entry.startswith("{"):
        assert f"{path} line 3:" in str(info.value)


def test_duplicate_names_are_refused(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "feeds:\n  - {name: a, url: 'https://a.example/', interval: 60}\n"
        "  - {name: a, url: 'https://b.example/', interval: 60}\n",
    )
    with pytest.raises(ConfigFileError, match=r"line 3: feed 'a' is listed twice"):
        load_feeds(path)


def test_a_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, "feeds:\n  - name: a\n    url: [unclosed\n    interval: 60\n")
    with pytest.raises(ConfigFileError, match=r"feeds.yaml line \d+"):
        load_feeds(path)


@pytest.mark.parametrize("text", ["- a\n- b\n", "feeds: nope\n", "feeds: []\nextra: 1\n"])
def test_the_top_level_shape(tmp_path: Path, text: str) -> None:
    with pytest.raises(ConfigFileError):
        load_feeds(write(tmp_path, text))


def test_an_empty_file_or_list_has_no_feeds(tmp_path: Path) -> None:
    assert load_feeds(write(tmp_path, "")) == []
    assert load_feeds(write(tmp_path, "feeds: []\n")) == []


def test_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigFileError, match="no such file"):
        load_feeds(tmp_path / "nope.yaml")


def test_allow_ports(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
feeds:
  - name: proxy
    url: http://10.0.0.5:8080/rss
    interval: 60
    allow_private_network: true
    allow_ports: [8443, 8080, 8443]
  - {name: plain, url: "http://two.example/atom", interval: 90}
""",
    )
    proxy, plain = load_feeds(path)
    assert proxy.allow_ports == (8080, 8443) and proxy.allow_private_network
    assert plain.allow_ports == ()


def test_a_feed_can_name_its_items_language(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
feeds:
  - {name: cn, url: "https://cn.example/rss", interval: 60, lang: zh-CN}
  - {name: en, url: "https://en.example/rss", interval: 60}
""",
    )
    assert [f.lang for f in load_feeds(path)] == ["zh", None]
    bad = write(tmp_path, 'feeds:\n  - {name: x, url: "https://x.example", interval: 9, lang: 7}')
    with pytest.raises(ConfigFileError, match="lang must be a language tag"):
        load_feeds(bad)
