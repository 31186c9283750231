"""`finsent dashboard` as a real process, asked over real HTTP and websockets: with
FINSENT_DASHBOARD_PASSWORD set no route answers without the session cookie but the
health probe; without it every route answers as before."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import streamlit
from streamlit.proto.BackMsg_pb2 import BackMsg
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect
from websockets.typing import Origin, Subprotocol

from dashboard.gate import COOKIE, LOGIN_PATH, LOGOUT_PATH, new_key, new_token
from streams.broker_process import free_port
from testkit.processes import FinsentProcess

PASSWORD = "correct horse"
HTML = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
#: One of the dashboard's own script files, as the page loads it.
ASSET = (
    "/static/js/"
    + next((Path(streamlit.__file__).parent / "static/static/js").glob("index.*.js")).name
)


@contextmanager
def serving(
    cli_env: dict[str, str], pg_url: str, tmp_path: Path, password: str | None
) -> Iterator[str]:
    """``finsent dashboard`` on a free port until the block ends; its base URL."""
    port = free_port()
    cli_env.update(FINSENT_DATABASE_URL=pg_url, FINSENT_DASHBOARD_PORT=str(port))
    if password is not None:
        cli_env["FINSENT_DASHBOARD_PASSWORD"] = password
    proc = FinsentProcess(["dashboard"], cli_env, tmp_path / "dashboard.log").start()
    base = f"http://127.0.0.1:{port}"
    try:
        proc.wait_for_log("You can now view your Streamlit app", timeout=90)
        deadline = time.monotonic() + 30
        while httpx.get(f"{base}/_stcore/health", timeout=10).status_code != 200:
            assert time.monotonic() < deadline, proc.log()[-3000:]
            time.sleep(0.2)
        yield base
    finally:
        proc.stop()
    assert "Traceback" not in proc.log(), proc.log()[-3000:]


def ask(
    base: str,
    path: str,
    token: str | None = None,
    *,
    method: str = "GET",
    headers: dict[str, str] | None = None,
    data: dict[str, str] | None = None,
) -> httpx.Response:
    """One request, carrying the session cookie only when ``token`` is given."""
    sent = dict(headers or {})
    if token is not None:
        sent["Cookie"] = f"{COOKIE}={token}"
    return httpx.request(method, f"{base}{path}", headers=sent, data=data, timeout=30)


def sign_in(base: str, password: str, next_path: str = "/") -> httpx.Response:
    return ask(base, LOGIN_PATH, method="POST", data={"password": password, "next": next_path})


def token_of(response: httpx.Response) -> str:
    return response.headers["set-cookie"].split(";")[0].removeprefix(f"{COOKIE}=")


def open_stream(base: str, token: str | None = None) -> ClientConnection:
    """Streamlit's websocket, as the page opens it (same origin, its subprotocol)."""
    return connect(
        base.replace("http://", "ws://") + "/_stcore/stream",
        origin=Origin(base),
        additional_headers={"Cookie": f"{COOKIE}={token}"} if token else {},
        subprotocols=[Subprotocol("streamlit")],
        open_timeout=15,
    )


def stream(base: str, token: str | None = None) -> int:
    """101 when the websocket opens, else the HTTP status it was refused with."""
    try:
        with open_stream(base, token):
            return 101
    except InvalidStatus as e:
        return e.response.status_code


def drain(ws: ClientConnection, quiet_s: float) -> None:
    """Read what the server sends until it is quiet for ``quiet_s`` (raises
    ``ConnectionClosed`` when it closes the websocket instead)."""
    while True:
        try:
            ws.recv(timeout=quiet_s)
        except TimeoutError:
            return


def test_without_a_password_every_route_answers(
    cli_env: dict[str, str], pg_url: str, tmp_path: Path
) -> None:
    with serving(cli_env, pg_url, tmp_path, password=None) as base:
        assert ask(base, "/", headers=HTML).status_code == 200
        assert "session_events" in ask(base, "/_stcore/metrics").text
        assert ask(base, "/_stcore/host-config").status_code == 200
        assert ask(base, ASSET).status_code == 200
        assert stream(base) == 101


def test_a_password_closes_every_route_but_the_health_probe(
    cli_env: dict[str, str], pg_url: str, tmp_path: Path
) -> None:
    with serving(cli_env, pg_url, tmp_path, PASSWORD) as base:
        # without the cookie: nothing but the probe, which says "ok"
        for path in ("/_stcore/metrics", "/_stcore/host-config", ASSET, "/media/x.png"):
            assert ask(base, path).status_code == 401, path
        for path in ("/component/x/index.html", "/app/static/x.png", "/favicon.png"):
            assert ask(base, path).status_code == 401, path
        assert ask(base, "/_stcore/upload_file/s/f", method="PUT").status_code == 401
        assert stream(base) == 403
        health = ask(base, "/_stcore/health")
        assert (health.status_code, health.text) == (200, "ok")

        # a page is sent to the login form, which remembers it
        page = ask(base, "/topic?topic=oil", headers=HTML)
        assert page.status_code == 303
        assert page.headers["location"] == f"{LOGIN_PATH}?next=%2Ftopic%3Ftopic%3Doil"
        assert ask(base, "/", headers=HTML).headers["location"] == f"{LOGIN_PATH}?next=%2F"
        form = ask(base, page.headers["location"])
        assert form.status_code == 200 and form.headers["content-type"].startswith("text/html")
        assert 'name="next" value="/topic?topic=oil"' in form.text
        assert 'type="password"' in form.text and "<script" not in form.text

        # a wrong password: 401, no cookie
        wrong = sign_in(base, "correct hose")
        assert wrong.status_code == 401 and "Wrong password." in wrong.text
        assert "set-cookie" not in wrong.headers

        # the right one: a cookie, then the page asked for (never another site)
        right = sign_in(base, PASSWORD, "/topic?topic=oil")
        assert right.status_code == 303 and right.headers["location"] == "/topic?topic=oil"
        cookie = right.headers["set-cookie"]
        assert {"HttpOnly", "SameSite=Lax", "Path=/", "Max-Age=43200"} <= {
            part.strip() for part in cookie.split(";")
        }
        assert sign_in(base, PASSWORD, "//evil.example").headers["location"] == "/"
        assert sign_in(base, PASSWORD, "https://evil.example/").headers["location"] == "/"

        token = token_of(right)
        metrics = ask(base, "/_stcore/metrics", token)
        assert metrics.status_code == 200 and "session_events" in metrics.text
        assert ask(base, "/", token, headers=HTML).status_code == 200
        assert ask(base, "/topic", token, headers=HTML).status_code == 200
        assert ask(base, "/_stcore/host-config", token).status_code == 200
        assert ask(base, ASSET, token).status_code == 200
        assert stream(base, token) == 101
        signed_in = ask(base, LOGIN_PATH + "?next=%2Ffeed", token)
        assert (signed_in.status_code, signed_in.headers["location"]) == (303, "/feed")

        # forged cookies: a longer life on the same signature, another server's key
        stamp, nonce, mac = token.split(".")
        for forged in (f"{int(stamp) + 86_400}.{nonce}.{mac}", new_token(new_key(), time.time())):
            assert ask(base, "/_stcore/metrics", forged).status_code == 401
            assert ask(base, "/", forged, headers=HTML).status_code == 303
            assert stream(base, forged) == 403

        # a login form is small
        big = ask(base, LOGIN_PATH, method="POST", data={"password": "x" * 10_000})
        assert big.status_code == 413


def test_signing_out_ends_the_cookie_and_the_open_websocket(
    cli_env: dict[str, str], pg_url: str, tmp_path: Path
) -> None:
    with serving(cli_env, pg_url, tmp_path, PASSWORD) as base:
        token = token_of(sign_in(base, PASSWORD))
        heartbeat = BackMsg(app_heartbeat=True).SerializeToString()
        with open_stream(base, token) as ws:
            ws.send(heartbeat)
            drain(ws, 2)  # open, and it stays open
            out = ask(base, LOGOUT_PATH, token, headers=HTML)
            assert out.status_code == 200 and "Signed out." in out.text
            assert out.headers["set-cookie"].startswith(f"{COOKIE}=; Max-Age=0;")
            assert ask(base, "/_stcore/metrics", token).status_code == 401
            ws.send(heartbeat)  # the next message from the browser ends it
            with pytest.raises(ConnectionClosed):
                drain(ws, 15)
        assert stream(base, token) == 403


def test_the_sixth_try_from_one_address_waits_even_with_the_right_password(
    cli_env: dict[str, str], pg_url: str, tmp_path: Path
) -> None:
    with serving(cli_env, pg_url, tmp_path, PASSWORD) as base:
        for _ in range(5):
            assert sign_in(base, "guess").status_code == 401
        held = sign_in(base, PASSWORD)
        assert held.status_code == 429
        assert "Too many wrong passwords: try again in" in held.text
        assert 250 <= int(held.headers["retry-after"]) <= 300
        assert "set-cookie" not in held.headers
        assert ask(base, "/_stcore/metrics").status_code == 401
