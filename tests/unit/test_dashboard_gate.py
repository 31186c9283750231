"""The dashboard's password gate, its pure parts: tokens, cookies, where to go next."""

from __future__ import annotations

from http import HTTPStatus
from urllib.parse import parse_qs, urlsplit

import pytest

from dashboard.config import DashboardConfig
from dashboard.gate import (
    COOKIE,
    LOGIN_PATH,
    LOGOUT_PATH,
    PasswordGate,
    Step,
    cleared_cookie,
    cookie_value,
    gate_middleware,
    login_location,
    login_page,
    login_verdict,
    new_key,
    new_token,
    next_step,
    password_matches,
    read_form,
    safe_next,
    session_cookie,
    sign,
    verify,
)
from dashboard.throttle import Throttle

KEY = b"k" * 32
NOW = 1_800_000_000.0


# --- tokens ------------------------------------------------------------------------


def test_a_token_is_good_until_it_expires() -> None:
    token = new_token(KEY, NOW, ttl_s=3600)
    assert verify(KEY, token, NOW)
    assert verify(KEY, token, NOW + 3599)
    assert not verify(KEY, token, NOW + 3600)


def test_a_token_signed_with_another_key_is_refused() -> None:
    assert not verify(new_key(), new_token(KEY, NOW), NOW)
    assert new_key() != new_key()


def test_a_tampered_token_is_refused() -> None:
    token = sign(KEY, int(NOW) + 60, "nonce")
    stamp, nonce, mac = token.split(".")
    later = f"{int(stamp) + 86_400}.{nonce}.{mac}"  # a longer life, same signature
    other = f"{stamp}.nonce2.{mac}"
    flipped = f"{stamp}.{nonce}.{mac[:-1]}{'0' if mac[-1] != '0' else '1'}"
    for forged in (later, other, flipped, f"{token}.x", f"{stamp}.{mac}"):
        assert not verify(KEY, forged, NOW), forged


@pytest.mark.parametrize("junk", ["", ".", "..", "abc", "1.2", "x.y.z", "١٢٣.n.m", "-5.n.m"])
def test_junk_is_not_a_token(junk: str) -> None:
    assert not verify(KEY, junk, NOW)


def test_two_sign_ins_get_two_tokens() -> None:
    assert new_token(KEY, NOW) != new_token(KEY, NOW)


# --- the request -------------------------------------------------------------------


def test_the_session_cookie_is_found_among_others() -> None:
    assert cookie_value(f"a=1; {COOKIE}=tok.en.mac; b=2") == "tok.en.mac"
    assert cookie_value(f"{COOKIE}x=1; x{COOKIE}=2") is None
    assert cookie_value("") is None


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/", "/"),
        ("/topic?topic=oil", "/topic?topic=oil"),
        ("/feed#top", "/feed#top"),
        ("/topic?topic=%C3%B6l&x=a+b", "/topic?topic=%C3%B6l&x=a+b"),
        ("/topic?topic=€", "/topic?topic=%E2%82%AC"),
        (None, "/"),
        ("", "/"),
        ("//evil.example", "/"),
        ("//evil.example/path", "/"),
        ("/\\evil.example", "/"),
        ("\\\\evil.example", "/"),
        ("https://evil.example/", "/"),
        ("javascript:alert(1)", "/"),
        ("evil.example", "/"),
        ("/x\r\nSet-Cookie: a=b", "/"),
        ("/\tevil", "/"),
        (LOGIN_PATH, "/"),
        (f"{LOGOUT_PATH}?x=1", "/"),
    ],
)
def test_only_a_local_path_is_followed_after_signing_in(target: str | None, expected: str) -> None:
    assert safe_next(target) == expected


def test_the_login_address_remembers_the_page_asked_for() -> None:
    location = login_location("/topic", "topic=oil&range=24h")
    parts = urlsplit(location)
    assert parts.path == LOGIN_PATH
    assert parse_qs(parts.query) == {"next": ["/topic?topic=oil&range=24h"]}
    assert safe_next(parse_qs(parts.query)["next"][0]) == "/topic?topic=oil&range=24h"
    assert login_location("/", "") == f"{LOGIN_PATH}?next=%2F"


def test_passwords_are_compared_whole() -> None:
    assert password_matches("correct horse", "correct horse")
    assert not password_matches("correct hors", "correct horse")
    assert not password_matches("", "correct horse")
    assert password_matches("pässwörd", "pässwörd")


def test_a_login_form_is_read_and_anything_else_is_not() -> None:
    assert read_form(b"password=a%26b&next=%2Ftopic") == {"password": "a&b", "next": "/topic"}
    assert read_form(b"password=") == {"password": ""}
    assert read_form(b"\xff\xfe") is None
    assert read_form(b"&".join(b"f%d=1" % i for i in range(20))) is None


# --- what the gate does ------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "path", "method", "accept", "signed_in", "step"),
    [
        ("http", "/", "GET", "text/html,application/xhtml+xml", False, Step.TO_LOGIN),
        ("http", "/topic", "GET", "text/html", False, Step.TO_LOGIN),
        ("http", "/", "GET", "text/html", True, Step.THROUGH),
        ("http", "/_stcore/metrics", "GET", "*/*", False, Step.DENY),
        ("http", "/_stcore/metrics", "GET", "text/html", False, Step.TO_LOGIN),
        ("http", "/_stcore/metrics", "GET", "*/*", True, Step.THROUGH),
        ("http", "/_stcore/host-config", "GET", "application/json", False, Step.DENY),
        ("http", "/_stcore/upload_file/s/f", "PUT", "*/*", False, Step.DENY),
        ("http", "/static/js/index.js", "GET", "*/*", False, Step.DENY),
        ("http", "/", "POST", "text/html", False, Step.DENY),
        ("http", "/_stcore/health", "GET", "*/*", False, Step.THROUGH),
        ("http", "/_stcore/health/", "GET", "*/*", False, Step.DENY),
        ("websocket", "/_stcore/health", "GET", "", False, Step.DENY),
        ("websocket", "/_stcore/stream", "GET", "", False, Step.DENY),
        ("websocket", "/_stcore/stream", "GET", "", True, Step.THROUGH),
        ("http", LOGIN_PATH, "GET", "text/html", False, Step.LOGIN),
        ("http", LOGIN_PATH, "POST", "text/html", True, Step.LOGIN),
        ("http", LOGOUT_PATH, "GET", "text/html", True, Step.LOGOUT),
        ("websocket", LOGIN_PATH, "GET", "", False, Step.DENY),
    ],
)
def test_every_route_needs_the_cookie_but_the_health_probe(
    kind: str, path: str, method: str, accept: str, signed_in: bool, step: Step
) -> None:
    assert next_step(kind, path, method, accept, signed_in) is step


def test_wrong_passwords_are_throttled_and_then_even_the_right_one_waits() -> None:
    throttle = Throttle(max_failures=5, window_s=300)
    for second in range(5):
        verdict = login_verdict("guess", "right", throttle, "10.0.0.1", second)
        assert (verdict.status, verdict.message) == (HTTPStatus.UNAUTHORIZED, "Wrong password.")
    verdict = login_verdict("right", "right", throttle, "10.0.0.1", 10.5)
    assert verdict.status is HTTPStatus.TOO_MANY_REQUESTS
    assert verdict.message == "Too many wrong passwords: try again in 290 s."
    assert verdict.retry_after_s == 290
    assert login_verdict("right", "right", throttle, "10.0.0.2", 11).status is HTTPStatus.SEE_OTHER
    assert (
        login_verdict("right", "right", throttle, "10.0.0.1", 300.5).status is HTTPStatus.SEE_OTHER
    )


# --- the answer --------------------------------------------------------------------


def test_the_session_cookie_is_http_only_strict_and_site_wide() -> None:
    cookie = session_cookie("tok", secure=False, max_age=60)
    assert cookie == f"{COOKIE}=tok; Max-Age=60; Path=/; HttpOnly; SameSite=Lax"
    assert session_cookie("tok", secure=True).endswith("; Secure")
    assert cleared_cookie(secure=False).startswith(f"{COOKIE}=; Max-Age=0; Path=/;")


def test_the_login_page_escapes_what_it_shows() -> None:
    page = login_page('/x"><script>alert(1)</script>', "<b>no</b>")
    assert "<script>" not in page and "<b>" not in page
    assert 'value="/x&quot;&gt;&lt;script&gt;' in page
    assert "&lt;b&gt;no&lt;/b&gt;" in page
    assert f'action="{LOGIN_PATH}"' in page and 'method="post"' in page
    assert "<script" not in login_page("/")


def test_the_gate_is_there_only_when_a_password_is_set() -> None:
    assert gate_middleware({}) == []  # no configuration: the app says so, and shows nothing
    assert gate_middleware(DashboardConfig(database_url="postgresql://x/y").to_environ()) == []
    environ = DashboardConfig(database_url="postgresql://x/y", password="s3cret").to_environ()
    [middleware] = gate_middleware(environ)
    assert middleware.cls is PasswordGate
    assert middleware.kwargs == {"password": "s3cret"}
