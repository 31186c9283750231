"""Fetching a feed politely and safely: the I/O edge of the sources.

- http/https only; each redirect hop is followed by hand (at most ``max_redirects``,
  loops refused) and its address checked before anything is sent to it; the address
  is checked again at connect time, on the very address connected to, so a DNS answer
  that changes between the check and the connection (rebinding) gains nothing;
- robots.txt of each origin is read (cached) and obeyed;
- one request at a time per host, at least ``host_delay`` seconds apart;
- connect/read timeouts and an overall deadline; the body is streamed and its decoded
  size capped (``bounded.BoundedDecoder``), so a gzip bomb stops at the cap;
- conditional GET: the ETag / Last-Modified of the last 200 are sent back, a 304
  costs no body.
"""

from __future__ import annotations

import ssl
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from functools import partial
from typing import Any
from urllib.parse import urljoin, urlsplit

import certifi
import httpcore
import httpx

from streams.sources.addresses import (
    AddressPolicy,
    AddressRefused,
    IPNetwork,
    Resolver,
    check_url,
    resolve_checked,
    system_resolver,
)
from streams.sources.bounded import (
    ACCEPT_ENCODING,
    BodyTooLarge,
    BoundedDecoder,
    UnsupportedEncoding,
)
from streams.sources.errors import FetchError
from streams.sources.robots import MAX_ROBOTS_BYTES, RobotsCache, RobotsRules, rules_from

REDIRECTS = frozenset({301, 302, 303, 307, 308})
ACCEPT = (
    "application/rss+xml, application/atom+xml, application/rdf+xml;q=0.9, "
    "application/xml;q=0.8, text/xml;q=0.8, */*;q=0.1"
)


@dataclass(frozen=True, slots=True)
class FetchLimits:
    user_agent: str
    connect_timeout: float = 10.0
    read_timeout: float = 20.0
    deadline: float = 60.0
    max_bytes: int = 10_000_000
    max_redirects: int = 5
    host_delay: float = 2.0
    robots_ttl: float = 3600.0
    allowed_networks: tuple[IPNetwork, ...] = ()


@dataclass(frozen=True, slots=True)
class Fetched:
    """A final answer: 200 with a body, or 304 (not modified, no body)."""

    url: str
    status: int
    body: bytes
    content_type: str | None
    etag: str | None
    last_modified: str | None

    @property
    def not_modified(self) -> bool:
        return self.status == 304


class GuardedBackend(httpcore.SyncBackend):
    """Connects only to addresses the policy allows, resolving host names itself."""

    def __init__(self, policy: AddressPolicy, resolver: Resolver) -> None:
        self.policy, self.resolver = policy, resolver

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        last: Exception | None = None
        for address in resolve_checked(host, port, self.policy, self.resolver):
            try:
                return super().connect_tcp(address, port, timeout, local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as e:
                last = e
        assert last is not None
        raise last


class GuardedTransport(httpx.HTTPTransport):
    """httpx's transport with a connection pool on the ``GuardedBackend``; no proxies
    from the environment (they would bypass the address checks)."""

    def __init__(self, backend: GuardedBackend, ssl_context: ssl.SSLContext) -> None:
        super().__init__(trust_env=False, retries=0)
        self._pool = httpcore.ConnectionPool(
            ssl_context=ssl_context,
            max_connections=20,
            max_keepalive_connections=10,
            keepalive_expiry=30.0,
            network_backend=backend,
        )


class HostGates:
    """One request at a time per host, at least ``delay`` seconds apart."""

    def __init__(self, delay: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.delay, self._clock = delay, clock
        self._locks: dict[str, threading.Lock] = {}
        self._last: dict[str, float] = {}
        self._guard = threading.Lock()

    def turn(self, host: str, stop: threading.Event) -> _Turn:
        with self._guard:
            lock = self._locks.setdefault(host.lower(), threading.Lock())
        return _Turn(self, host.lower(), lock, stop)


class _Turn:
    def __init__(self, gates: HostGates, host: str, lock: threading.Lock, stop: threading.Event):
        self.gates, self.host, self.lock, self.stop = gates, host, lock, stop

    def __enter__(self) -> None:
        self.lock.acquire()
        last = self.gates._last.get(self.host)
        if last is not None:
            wait = last + self.gates.delay - self.gates._clock()
            if wait > 0 and self.stop.wait(wait):
                self.lock.release()
                raise FetchError("stopping")

    def __exit__(self, *exc: object) -> None:
        self.gates._last[self.host] = self.gates._clock()
        self.lock.release()


class Fetcher:
    """Fetches feeds (and their robots.txt) under the limits; thread-safe."""

    def __init__(
        self,
        limits: FetchLimits,
        *,
        resolver: Resolver = system_resolver,
        stop: threading.Event | None = None,
    ) -> None:
        self.limits = limits
        self.resolver = resolver
        self.stop = stop or threading.Event()
        self.gates = HostGates(limits.host_delay)
        self._ssl = ssl.create_default_context(cafile=certifi.where())
        self._clients: dict[bool, httpx.Client] = {}
        self._lock = threading.Lock()
        self._robots = {
            private: RobotsCache(
                partial(self._fetch_robots, allow_private=private), limits.robots_ttl
            )
            for private in (False, True)
        }

    def policy(self, allow_private: bool) -> AddressPolicy:
        return AddressPolicy(allow_private, self.limits.allowed_networks)

    def _client(self, allow_private: bool) -> httpx.Client:
        with self._lock:
            client = self._clients.get(allow_private)
            if client is None:
                backend = GuardedBackend(self.policy(allow_private), self.resolver)
                client = httpx.Client(
                    transport=GuardedTransport(backend, self._ssl),
                    follow_redirects=False,
                    trust_env=False,
                    headers={"User-Agent": self.limits.user_agent},
                )
                self._clients[allow_private] = client
            return client

    def close(self) -> None:
        with self._lock:
            for client in self._clients.values():
                client.close()
            self._clients.clear()

    def fetch(
        self,
        url: str,
        *,
        allow_private: bool = False,
        etag: str | None = None,
        last_modified: str | None = None,
    ) -> Fetched:
        """The feed at ``url`` (following redirects), or ``FetchError`` saying why."""
        headers = {"Accept": ACCEPT, "Accept-Encoding": ACCEPT_ENCODING}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        return self._follow(url, allow_private, headers, self.limits.max_bytes, check_robots=True)

    def _fetch_robots(self, url: str, allow_private: bool) -> RobotsRules:
        headers = {"Accept": "text/plain, */*;q=0.1", "Accept-Encoding": ACCEPT_ENCODING}
        try:
            got = self._follow(url, allow_private, headers, MAX_ROBOTS_BYTES, check_robots=False)
        except FetchError as e:
            return rules_from(e.status, None, str(e))
        return rules_from(got.status, got.body)

    def _follow(
        self,
        url: str,
        allow_private: bool,
        headers: dict[str, str],
        max_bytes: int,
        *,
        check_robots: bool,
    ) -> Fetched:
        deadline = time.monotonic() + self.limits.deadline
        policy = self.policy(allow_private)
        visited: list[str] = []
        current = url
        for _ in range(self.limits.max_redirects + 1):
            if current in visited:
                raise FetchError(f"redirect loop: {' -> '.join([*visited, current])[:300]}")
            visited.append(current)
            try:
                _, host, port = check_url(current)
                resolve_checked(host, port, policy, self.resolver)
            except AddressRefused as e:
                hop = f" (redirect hop {len(visited) - 1})" if len(visited) > 1 else ""
                raise FetchError(f"refused{hop}: {e}") from None
            except OSError as e:  # name resolution failed
                raise FetchError(f"cannot resolve {host}: {e.strerror or e}") from None
            if check_robots:
                rules = self._robots[allow_private].rules(current)
                if not rules.allows(current, self.limits.user_agent):
                    raise FetchError(f"disallowed by {rules.reason} of {host}")
            with self.gates.turn(host, self.stop):
                answer = self._get(current, allow_private, headers, max_bytes, deadline)
            if isinstance(answer, Fetched):
                return answer
            current = answer
        raise FetchError(f"more than {self.limits.max_redirects} redirects from {url[:200]}")

    def _get(
        self,
        url: str,
        allow_private: bool,
        headers: dict[str, str],
        max_bytes: int,
        deadline: float,
    ) -> Fetched | str:
        """One request: a final answer, or the next URL of a redirect."""
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise FetchError(f"gave up after {self.limits.deadline:g}s")
        timeout = httpx.Timeout(
            connect=min(self.limits.connect_timeout, remaining),
            read=min(self.limits.read_timeout, remaining),
            write=min(self.limits.read_timeout, remaining),
            pool=min(self.limits.connect_timeout, remaining),
        )
        try:
            with self._client(allow_private).stream(
                "GET", url, headers=headers, timeout=timeout
            ) as response:
                status = response.status_code
                if status in REDIRECTS:
                    location = response.headers.get("location")
                    if not isinstance(location, str) or not location.strip():
                        raise FetchError(f"HTTP {status} without a Location", status)
                    return str(urljoin(url, location.strip()))
                if status == 304:
                    return self._answer(url, response, b"")
                if not 200 <= status < 300:
                    raise FetchError(
                        f"HTTP {status} {response.reason_phrase}".strip(),
                        status,
                        retry_after_s(response.headers.get("retry-after")),
                    )
                return self._answer(url, response, self._read(response, max_bytes, deadline))
        except AddressRefused as e:  # at connect time: the name changed since the check
            raise FetchError(f"refused: {e}") from None
        except httpx.TimeoutException as e:
            raise FetchError(f"timed out ({type(e).__name__}) fetching {_where(url)}") from None
        except httpx.TransportError as e:
            raise FetchError(f"{type(e).__name__} fetching {_where(url)}: {e}") from None
        except httpx.InvalidURL as e:
            raise FetchError(f"invalid URL {url[:200]!r}: {e}") from None

    def _read(self, response: httpx.Response, max_bytes: int, deadline: float) -> bytes:
        declared = response.headers.get("content-length", "")
        encoding = response.headers.get("content-encoding")
        if declared.isdigit() and not encoding and int(declared) > max_bytes:
            raise FetchError(f"body of {int(declared):,} bytes is over the {max_bytes:,} cap")
        try:
            decoder = BoundedDecoder(encoding, max_bytes)
            parts = []
            for chunk in response.iter_raw():
                parts.append(decoder.feed(chunk))
                if time.monotonic() > deadline:
                    raise FetchError(f"gave up after {self.limits.deadline:g}s (body still coming)")
                if self.stop.is_set():
                    raise FetchError("stopping")
            parts.append(decoder.finish())
        except BodyTooLarge as e:
            raise FetchError(f"{e}: refused") from None
        except UnsupportedEncoding as e:
            raise FetchError(str(e)) from None
        except ValueError as e:
            raise FetchError(str(e)) from None
        return b"".join(parts)

    @staticmethod
    def _answer(url: str, response: httpx.Response, body: bytes) -> Fetched:
        return Fetched(
            url=url,
            status=response.status_code,
            body=body,
            content_type=response.headers.get("content-type"),
            etag=_header(response, "etag"),
            last_modified=_header(response, "last-modified"),
        )


def retry_after_s(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds of a Retry-After header (delta-seconds or an HTTP date), at most a day."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return min(float(value), 86_400.0)
    try:
        at = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if at.tzinfo is None:
        return None
    seconds = (at - (now or datetime.now(UTC))).total_seconds()
    return min(max(seconds, 0.0), 86_400.0)


def _header(response: httpx.Response, name: str) -> str | None:
    value = response.headers.get(name)
    return value[:1024] if value and value.isprintable() else None


def _where(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"
