"""The dashboard's password, checked before any request reaches Streamlit.

A password kept in Streamlit's session state guards the pages only: Streamlit's own
routes (``/_stcore/metrics``, ``/_stcore/host-config``, the ``/_stcore/stream``
websocket, uploads, media, components, static files) answer before any script runs.
So when ``FINSENT_DASHBOARD_PASSWORD`` is set, ``PasswordGate`` wraps the whole ASGI
app (``dashboard/server.py``) and lets a request through only with a session cookie it
signed itself. Without one, a browser asking for a page is sent to the gate's own
login form (plain HTML, no script), every other request gets 401 and a websocket is
refused before it is accepted. One exception: ``/_stcore/health`` stays open, as the
liveness probe of docker-compose.yml; it answers "ok" and nothing else.

The cookie is ``<expiry>.<nonce>.<HMAC-SHA256>``, keyed by random bytes drawn once per
server process: a restart signs everyone out, and nothing needs to be stored but the
tokens signed out before their expiry. Wrong passwords are throttled per client
address (``dashboard.throttle``). The pure functions below hold the logic; the class at
the end only reads the request and writes the answer.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
import string
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from html import escape
from http import HTTPStatus
from typing import Final
from urllib.parse import parse_qs, quote, urlsplit

from starlette.middleware import Middleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dashboard.config import from_environ
from dashboard.exceptions import DashboardError
from dashboard.throttle import Throttle

COOKIE: Final = "finsent_session"
LOGIN_PATH: Final = "/_finsent/login"
LOGOUT_PATH: Final = "/_finsent/logout"
#: Answered without the password: the liveness probe, which says "ok" and nothing else.
OPEN_PATHS: Final = frozenset({"/_stcore/health"})
#: How long a sign-in lasts (the cookie's Max-Age and the token's expiry).
TOKEN_TTL_S: Final = 12 * 3600
#: The login form is a password and a path: a larger body is not one.
MAX_FORM_BYTES: Final = 4096

_guarding = False


def guarding() -> bool:
    """Whether a ``PasswordGate`` serves this process (the app refuses a password it
    cannot see enforced, e.g. under a bare ``streamlit run dashboard/app.py``)."""
    return _guarding


# --- tokens ------------------------------------------------------------------------


def new_key() -> bytes:
    """The signing key of one server process."""
    return secrets.token_bytes(32)


def _mac(key: bytes, payload: str) -> str:
    return hmac.new(key, payload.encode(), hashlib.sha256).hexdigest()


def sign(key: bytes, expires_at: int, nonce: str) -> str:
    """A token valid until ``expires_at`` (Unix seconds); the nonce tells two apart."""
    payload = f"{expires_at}.{nonce}"
    return f"{payload}.{_mac(key, payload)}"


def new_token(key: bytes, now: float, ttl_s: int = TOKEN_TTL_S) -> str:
    return sign(key, int(now) + ttl_s, secrets.token_urlsafe(12))


def expires_at(token: str) -> int | None:
    """The expiry a token claims (unchecked), or None when it is not shaped like one."""
    stamp, _, _ = token.partition(".")
    return int(stamp) if stamp.isascii() and stamp.isdigit() and len(stamp) < 16 else None


def verify(key: bytes, token: str, now: float) -> bool:
    """True when ``key`` signed ``token`` and it has not expired."""
    payload, _, mac = token.rpartition(".")
    expiry = expires_at(token)
    if expiry is None or payload.count(".") != 1:
        return False
    return hmac.compare_digest(mac.encode(), _mac(key, payload).encode()) and now < expiry


# --- the request -------------------------------------------------------------------


def cookie_value(header: str, name: str = COOKIE) -> str | None:
    """The first value of cookie ``name`` in a ``Cookie`` header."""
    for part in header.split(";"):
        key, sep, value = part.strip().partition("=")
        if sep and key == name:
            return value
    return None


def is_page_request(method: str, accept: str) -> bool:
    """A browser navigating to a page (sent to the login form rather than refused)."""
    return method in ("GET", "HEAD") and "text/html" in accept


#: What ``quote`` keeps in a path and query: its delimiters and existing %-escapes.
_URL_SAFE: Final = "/?#[]@!$&'()*+,;=:%~"


def safe_next(target: str | None) -> str:
    """Where to go after signing in: ``target`` when it is a path on this server, else
    ``/``. ``//host``, ``/\\host``, schemes and control characters would leave it."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return "/"
    if any(c in target for c in "\\\r\n\t") or not target.isprintable():
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or parts.path.startswith((LOGIN_PATH, LOGOUT_PATH)):
        return "/"
    return quote(target, safe=_URL_SAFE)  # a Location header is ASCII


def login_location(path: str, query: str) -> str:
    """The login form's address, remembering the page that was asked for."""
    target = f"{path}?{query}" if query else path
    return f"{LOGIN_PATH}?next={quote(target, safe='')}"


def password_matches(given: str, expected: str) -> bool:
    """Constant-time comparison that does not leak the password's length either."""
    digest = hashlib.sha256
    return hmac.compare_digest(digest(given.encode()).digest(), digest(expected.encode()).digest())


@dataclass(frozen=True, slots=True)
class Verdict:
    status: HTTPStatus
    message: str = ""
    retry_after_s: int = 0


def login_verdict(
    given: str, expected: str, throttle: Throttle, client: str, now: float
) -> Verdict:
    """The answer to one sign-in: 303 (in), 401 (wrong) or 429 with the wait; while a
    client waits, not even the right password is tried."""
    wait = math.ceil(throttle.wait_s(client, now))
    if wait > 0:
        message = f"Too many wrong passwords: try again in {wait} s."
        return Verdict(HTTPStatus.TOO_MANY_REQUESTS, message, wait)
    if password_matches(given, expected):
        return Verdict(HTTPStatus.SEE_OTHER)
    throttle.failed(client, now)
    return Verdict(HTTPStatus.UNAUTHORIZED, "Wrong password.")


def read_form(body: bytes) -> dict[str, str] | None:
    """The fields of a url-encoded form (first value of each), None when it is not one."""
    try:
        fields = parse_qs(body.decode(), keep_blank_values=True, max_num_fields=8)
    except ValueError:  # not UTF-8, or too many fields
        return None
    return {name: values[0] for name, values in fields.items()}


class Step(Enum):
    THROUGH = "through"
    LOGIN = "login"
    LOGOUT = "logout"
    TO_LOGIN = "to_login"
    DENY = "deny"


def next_step(kind: str, path: str, method: str, accept: str, signed_in: bool) -> Step:
    """What the gate does with a request (``kind``: the ASGI scope type)."""
    if kind == "http" and path == LOGIN_PATH:
        return Step.LOGIN
    if kind == "http" and path == LOGOUT_PATH:
        return Step.LOGOUT
    if signed_in or (kind == "http" and path in OPEN_PATHS):
        return Step.THROUGH
    if kind == "http" and is_page_request(method, accept):
        return Step.TO_LOGIN
    return Step.DENY


# --- the answer --------------------------------------------------------------------


def session_cookie(token: str, *, secure: bool, max_age: int = TOKEN_TTL_S) -> str:
    """The ``Set-Cookie`` value that signs a browser in. ``Lax``, not ``Strict``: an
    alert's dashboard link opened from chat or mail is a cross-site navigation, and
    must keep the session; cross-site posts, frames and websockets still go without it."""
    flags = "; Secure" if secure else ""
    return f"{COOKIE}={token}; Max-Age={max_age}; Path=/; HttpOnly; SameSite=Lax{flags}"


def cleared_cookie(*, secure: bool) -> str:
    return session_cookie("", secure=secure, max_age=0)


_PAGE = string.Template("""\
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>finsent: sign in</title>
<style>
body { font-family: system-ui, sans-serif; background: #f6f7f9; color: #222; }
main { max-width: 22rem; margin: 12vh auto; background: #fff; padding: 2rem;
       border-radius: 0.5rem; box-shadow: 0 1px 4px rgba(0, 0, 0, 0.1); }
label, input, button { display: block; width: 100%; box-sizing: border-box; }
input { margin: 0.4rem 0 1rem; padding: 0.5rem; font-size: 1rem; }
button { padding: 0.5rem; font-size: 1rem; background: #ff4b4b; color: #fff;
         border: 0; border-radius: 0.3rem; cursor: pointer; }
.message { color: #b00020; }
</style>
</head>
<body>
<main>
<h1>finsent</h1>
$message
<form method="post" action="$action">
<input type="hidden" name="next" value="$next">
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password"
       required autofocus>
<button type="submit">Enter</button>
</form>
</main>
</body>
</html>
""")


def login_page(next_path: str, message: str = "") -> str:
    """The login form; every value in it escaped."""
    shown = f'<p class="message" role="alert">{escape(message)}</p>' if message else ""
    return _PAGE.substitute(
        message=shown, action=escape(LOGIN_PATH), next=escape(next_path, quote=True)
    )


#: Headers of every answer the gate writes itself: not cached, not framed.
_OWN_HEADERS: Final = (
    ("cache-control", "no-store"),
    ("x-frame-options", "DENY"),
    ("x-content-type-options", "nosniff"),
    (
        "content-security-policy",
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'",
    ),
)


# --- the middleware ----------------------------------------------------------------


class PasswordGate:
    """ASGI middleware: the password in front of every route (see the module's doc)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        password: str,
        throttle: Throttle | None = None,
        ttl_s: int = TOKEN_TTL_S,
    ) -> None:
        global _guarding
        self.app, self.password, self.ttl_s = app, password, ttl_s
        self.throttle = throttle or Throttle()
        self.key = new_key()
        self._signed_out: dict[str, int] = {}  # token -> its expiry, until then
        self._lock = threading.Lock()
        _guarding = True

    def signed_in(self, token: str | None) -> bool:
        if token is None or not verify(self.key, token, time.time()):
            return False
        with self._lock:
            return token not in self._signed_out

    def sign_out(self, token: str | None) -> None:
        """Refuse ``token`` from now on, though it has not expired."""
        expiry = expires_at(token) if token is not None and self.signed_in(token) else None
        if token is None or expiry is None:  # nothing to refuse: unsigned, expired or out
            return
        now = time.time()
        with self._lock:
            for old in [t for t, until in self._signed_out.items() if until <= now]:
                del self._signed_out[old]
            self._signed_out[token] = expiry

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = _headers(scope)
        token = cookie_value(headers.get("cookie", ""))
        signed_in = self.signed_in(token)
        method = str(scope.get("method", "GET"))
        step = next_step(scope["type"], scope["path"], method, headers.get("accept", ""), signed_in)
        if step is Step.THROUGH and scope["type"] == "websocket" and signed_in:
            await self.app(scope, self._watch(receive, token), send)
        elif step is Step.THROUGH:
            await self.app(scope, receive, send)
        elif step is Step.DENY and scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})  # before accept: 403
        elif step is Step.DENY:
            await _respond(send, HTTPStatus.UNAUTHORIZED, f"Sign in at {LOGIN_PATH}".encode())
        elif step is Step.TO_LOGIN:
            query = scope.get("query_string", b"").decode("latin-1")
            location = login_location(_raw_path(scope), query)
            await _respond(send, HTTPStatus.SEE_OTHER, b"", [("location", location)])
        elif step is Step.LOGOUT:
            self.sign_out(token)
            await _page(send, HTTPStatus.OK, "/", "Signed out.", cleared_cookie(secure=_tls(scope)))
        else:
            await self._login(scope, receive, send, method, signed_in)

    async def _login(
        self, scope: Scope, receive: Receive, send: Send, method: str, signed_in: bool
    ) -> None:
        query = read_form(scope.get("query_string", b"")) or {}
        target = safe_next(query.get("next"))
        if method in ("GET", "HEAD"):
            if signed_in:
                await _respond(send, HTTPStatus.SEE_OTHER, b"", [("location", target)])
            else:
                await _page(send, HTTPStatus.OK, target)
            return
        if method != "POST":
            await _respond(send, HTTPStatus.METHOD_NOT_ALLOWED, b"", [("allow", "GET, POST")])
            return
        body = await _read_body(scope, receive, MAX_FORM_BYTES)
        if body is None:
            await _respond(send, HTTPStatus.REQUEST_ENTITY_TOO_LARGE, b"A login form is small.")
            return
        form = read_form(body)
        if form is None:
            await _respond(send, HTTPStatus.BAD_REQUEST, b"Not a login form.")
            return
        target = safe_next(form.get("next"))
        client = scope["client"][0] if scope.get("client") else "unknown"
        verdict = login_verdict(
            form.get("password", ""), self.password, self.throttle, client, time.monotonic()
        )
        if verdict.status is HTTPStatus.SEE_OTHER:
            token = new_token(self.key, time.time(), self.ttl_s)
            cookie = session_cookie(token, secure=_tls(scope), max_age=self.ttl_s)
            await _respond(
                send, verdict.status, b"", [("location", target), ("set-cookie", cookie)]
            )
            return
        wait = [("retry-after", str(verdict.retry_after_s))] if verdict.retry_after_s else []
        await _page(send, verdict.status, target, verdict.message, extra=wait)

    def _watch(self, receive: Receive, token: str | None) -> Receive:
        """``receive`` for a websocket that ends when its sign-in does (expiry or sign
        out): the next message from the browser is read as the browser leaving."""

        async def watched() -> Message:
            message = await receive()
            if message["type"] == "websocket.receive" and not self.signed_in(token):
                return {"type": "websocket.disconnect", "code": 1008}
            return message

        return watched


def gate_middleware(environ: Mapping[str, str]) -> list[Middleware]:
    """The gate when the configuration ``finsent dashboard`` handed over has a password;
    none otherwise (no configuration: the app shows that error and nothing else)."""
    try:
        password = from_environ(environ).password
    except DashboardError:
        return []
    return [Middleware(PasswordGate, password=password)] if password else []


# --- ASGI I/O ----------------------------------------------------------------------


def _headers(scope: Scope) -> dict[str, str]:
    """Request headers by lower-case name; repeated ones joined as HTTP allows."""
    out: dict[str, str] = {}
    for raw_name, raw_value in scope.get("headers", []):
        name, value = raw_name.decode("latin-1").lower(), raw_value.decode("latin-1")
        if name in out:
            value = f"{out[name]}{'; ' if name == 'cookie' else ', '}{value}"
        out[name] = value
    return out


def _raw_path(scope: Scope) -> str:
    raw = scope.get("raw_path")
    return raw.decode("latin-1") if isinstance(raw, bytes) else quote(scope["path"])


def _tls(scope: Scope) -> bool:
    return scope.get("scheme") in ("https", "wss")


async def _read_body(scope: Scope, receive: Receive, limit: int) -> bytes | None:
    """The request body, or None when it is (or says it is) over ``limit`` bytes."""
    length = _headers(scope).get("content-length", "0")
    if not length.isdigit() or int(length) > limit:
        return None
    body = b""
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return body
        body += bytes(message.get("body", b""))
        if len(body) > limit:
            return None
        if not message.get("more_body", False):
            return body


async def _respond(
    send: Send,
    status: HTTPStatus,
    body: bytes,
    headers: list[tuple[str, str]] | None = None,
    kind: str = "text/plain; charset=utf-8",
) -> None:
    pairs = [*(headers or []), *_OWN_HEADERS, ("content-type", kind)]
    pairs.append(("content-length", str(len(body))))
    await send(
        {
            "type": "http.response.start",
            "status": int(status),
            "headers": [(k.encode("latin-1"), v.encode("latin-1")) for k, v in pairs],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def _page(
    send: Send,
    status: HTTPStatus,
    next_path: str,
    message: str = "",
    cookie: str | None = None,
    extra: list[tuple[str, str]] | None = None,
) -> None:
    headers = [*(extra or []), *([("set-cookie", cookie)] if cookie else [])]
    body = login_page(next_path, message).encode()
    await _respond(send, status, body, headers, kind="text/html; charset=utf-8")
