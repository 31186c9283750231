"""Fetching a feed politely and safely: the I/O edge of the sources.

- http/https only; each redirect hop is followed by hand (at most ``max_redirects``,
  loops refused) and its address checked before anything is sent to it; the address
  is checked again at connect time, on the very address connected to, so a DNS answer
  that changes between the check and the connection (rebinding) gains nothing;
- robots.txt of each origin is read (cached) and obeyed;
- a feed's private-network grant (``addresses.feed_policy``) holds for its own requests
  and redirects only, on its URL's port and its ``allow_ports``;
- one request at a time per host, at least ``host_delay`` seconds apart;
- connect/read timeouts and one overall deadline over every wait of a fetch: the turn
  of the host, robots.txt, name lookups (``deadline_resolver``), connect, TLS
  handshake, status line and headers, body. The sockets are our own
  (``DeadlineStream``): each blocking call waits at most ``SLICE_S`` and checks the
  deadline and the stop event in between, so a server dribbling its headers a byte at
  a time gains nothing and a stop is obeyed within a fraction of a second; the body is
  streamed and its decoded size capped (``bounded.BoundedDecoder``), so a gzip bomb
  stops at the cap;
- conditional GET: the ETag / Last-Modified of the last 200 are sent back, a 304
  costs no body.
"""

from __future__ import annotations

import errno
import math
import os
import select
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterable
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from functools import partial
from typing import Any
from urllib.parse import urljoin, urlsplit

import certifi
import httpcore
import httpx

from sources.addresses import (
    AddressPolicy,
    AddressRefused,
    IPNetwork,
    Resolver,
    check_url,
    feed_policy,
    resolve_checked,
    system_resolver,
)
from sources.bounded import (
    ACCEPT_ENCODING,
    BodyTooLarge,
    BoundedDecoder,
    UnsupportedEncoding,
)
from sources.errors import FetchError, FetchStopped
from sources.robots import MAX_ROBOTS_BYTES, RobotsCache, RobotsRules, rules_from

REDIRECTS = frozenset({301, 302, 303, 307, 308})
#: The longest a blocking network call or wait lasts before the deadline and the stop
#: event are looked at again.
SLICE_S = 0.25
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


@dataclass(frozen=True, slots=True)
class Watch:
    """The deadline (``time.monotonic``) and the stop event of the fetch running in
    this thread: every blocking call of it waits in slices of at most ``SLICE_S``."""

    deadline: float
    stop: threading.Event

    def slice(self, until: float, timed_out: type[Exception], stopped: type[Exception]) -> float:
        """Seconds the next blocking call may wait; ``stopped`` once the stop event is
        set, ``timed_out`` once ``until`` or the deadline has passed."""
        if self.stop.is_set():
            raise stopped("stopping")
        left = min(until, self.deadline) - time.monotonic()
        if left <= 0:
            raise timed_out("timed out")
        return min(left, SLICE_S)


_WATCH: ContextVar[Watch | None] = ContextVar("finsent_fetch_watch", default=None)


def _until(timeout: float | None) -> float:
    return math.inf if timeout is None else time.monotonic() + timeout


class DeadlineStream(httpcore.NetworkStream):
    """A socket for httpcore whose every wait is cut into slices (``Watch.slice``):
    the per-call timeout of httpcore still applies, and so do the fetch's overall
    deadline and the stop event, which httpcore's own streams know nothing of."""

    def __init__(self, sock: socket.socket, stop: threading.Event) -> None:
        self._sock, self._stop = sock, stop

    def _watch(self) -> Watch:
        return _WATCH.get() or Watch(math.inf, self._stop)

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        watch, until = self._watch(), _until(timeout)
        while True:
            self._sock.settimeout(watch.slice(until, httpcore.ReadTimeout, httpcore.ReadError))
            try:
                return self._sock.recv(max_bytes)
            except TimeoutError:
                continue
            except OSError as e:
                raise httpcore.ReadError(str(e) or type(e).__name__) from e

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        watch, until = self._watch(), _until(timeout)
        view = memoryview(buffer)
        while view:
            self._sock.settimeout(watch.slice(until, httpcore.WriteTimeout, httpcore.WriteError))
            try:
                sent = self._sock.send(view)
            except TimeoutError:
                continue  # nothing was sent: the same bytes again (TLS requires it)
            except OSError as e:
                raise httpcore.WriteError(str(e) or type(e).__name__) from e
            view = view[sent:]

    def close(self) -> None:
        self._sock.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        watch, until = self._watch(), _until(timeout)
        sock: socket.socket = self._sock
        try:
            tls = ssl_context.wrap_socket(
                sock, server_hostname=server_hostname, do_handshake_on_connect=False
            )
            sock = tls
            while True:
                tls.settimeout(watch.slice(until, httpcore.ConnectTimeout, httpcore.ConnectError))
                try:
                    tls.do_handshake()
                    break
                except TimeoutError:
                    continue
        except OSError as e:
            sock.close()
            raise httpcore.ConnectError(str(e) or type(e).__name__) from e
        except BaseException:
            sock.close()
            raise
        return DeadlineStream(tls, self._stop)

    def get_extra_info(self, info: str) -> Any:
        if info == "ssl_object":  # what httpcore asks for the ALPN protocol
            return self._sock if isinstance(self._sock, ssl.SSLSocket) else None
        if info == "client_addr":
            return self._sock.getsockname()
        if info == "server_addr":
            return self._sock.getpeername()
        if info == "socket":
            return self._sock
        if info == "is_readable":  # an idle pooled connection the server has closed
            if self._sock.fileno() < 0:
                return True
            poller = select.poll()
            poller.register(self._sock, select.POLLIN)
            return bool(poller.poll(0))
        return None


class ResolveTimeout(OSError):
    """A name resolution that did not end by the fetch's deadline."""


def deadline_resolver(resolver: Resolver) -> Resolver:
    """``resolver`` under the deadline and the stop event of the fetch running in this
    thread: the lookup runs in a daemon thread (``getaddrinfo`` cannot be interrupted),
    waited for in slices; a lookup still running at the deadline is abandoned
    (``ResolveTimeout``), at a stop ``FetchStopped``."""

    def resolve(host: str, port: int) -> list[str]:
        watch = _WATCH.get()
        if watch is None:
            return resolver(host, port)
        done = threading.Event()
        outcome: list[list[str] | BaseException] = []

        def run() -> None:
            try:
                outcome.append(resolver(host, port))
            except BaseException as e:
                outcome.append(e)
            finally:
                done.set()

        threading.Thread(target=run, name=f"resolve {host[:50]}", daemon=True).start()
        while not done.wait(watch.slice(math.inf, ResolveTimeout, FetchStopped)):
            pass
        (result,) = outcome
        if isinstance(result, BaseException):
            raise result
        return result

    return resolve


def connect_sliced(
    address: str,
    port: int,
    timeout: float | None,
    stop: threading.Event,
    socket_options: Iterable[Any] | None = None,
) -> DeadlineStream:
    """A TCP connection to an IP address, its wait cut into slices like a read's."""
    watch = _WATCH.get() or Watch(math.inf, stop)
    until = _until(timeout)
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        for option in socket_options or ():
            sock.setsockopt(*option)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setblocking(False)
        error = sock.connect_ex((address, port))
        if error in (errno.EINPROGRESS, errno.EAGAIN, errno.EALREADY):
            poller = select.poll()
            poller.register(sock, select.POLLOUT)
            while True:
                wait = watch.slice(until, httpcore.ConnectTimeout, httpcore.ConnectError)
                if poller.poll(wait * 1000):
                    error = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                    break
        if error:
            raise httpcore.ConnectError(f"{os.strerror(error)} ({address} port {port})")
        sock.setblocking(True)
    except BaseException:
        sock.close()
        raise
    return DeadlineStream(sock, stop)


class GuardedBackend(httpcore.SyncBackend):
    """Connects only to addresses the policy allows, resolving host names itself, on
    sockets that obey the fetch's deadline and the stop event (``DeadlineStream``)."""

    def __init__(
        self, policy: AddressPolicy, resolver: Resolver, stop: threading.Event | None = None
    ) -> None:
        self.policy, self.resolver = policy, resolver
        self.stop = stop or threading.Event()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        last: Exception | None = None
        try:
            addresses = resolve_checked(host, port, self.policy, self.resolver)
        except OSError as e:  # AddressRefused is no OSError: it goes up as it is
            raise httpcore.ConnectError(f"cannot resolve {host}: {e.strerror or e}") from e
        for address in addresses:
            try:
                return connect_sliced(address, port, timeout, self.stop, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as e:
                last = e
                if self.stop.is_set():
                    break
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


def acquire_within(lock: threading.Lock, watch: Watch, what: str) -> None:
    """Take ``lock`` before the fetch's deadline, or ``FetchError`` (transient: the
    poll fails and is retried like any fetch failure); "stopping" once stop is set."""
    while True:
        if watch.stop.is_set():
            raise FetchStopped("stopping")
        left = watch.deadline - time.monotonic()
        if left <= 0:
            raise FetchError(f"gave up waiting for {what} (fetch deadline)")
        if lock.acquire(timeout=min(left, SLICE_S)):
            return


class HostGates:
    """One request at a time per host, at least ``delay`` seconds apart."""

    def __init__(self, delay: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.delay, self._clock = delay, clock
        self._locks: dict[str, threading.Lock] = {}
        self._last: dict[str, float] = {}
        self._guard = threading.Lock()

    def turn(self, host: str, stop: threading.Event, deadline: float = math.inf) -> _Turn:
        """The host's turn, waited for until ``deadline`` (``time.monotonic``) at most."""
        with self._guard:
            lock = self._locks.setdefault(host.lower(), threading.Lock())
        return _Turn(self, host.lower(), lock, Watch(deadline, stop))


class _Turn:
    def __init__(self, gates: HostGates, host: str, lock: threading.Lock, watch: Watch):
        self.gates, self.host, self.lock, self.watch = gates, host, lock, watch

    def __enter__(self) -> None:
        acquire_within(self.lock, self.watch, f"the turn of host {self.host}")
        last = self.gates._last.get(self.host)
        if last is None:
            return
        wait = last + self.gates.delay - self.gates._clock()
        if wait <= 0:
            return
        if time.monotonic() + wait > self.watch.deadline:
            self.lock.release()
            raise FetchError(f"gave up waiting for the turn of host {self.host} (fetch deadline)")
        if self.watch.stop.wait(wait):
            self.lock.release()
            raise FetchStopped("stopping")

    def __exit__(self, *exc: object) -> None:
        self.gates._last[self.host] = self.gates._clock()
        self.lock.release()


class Fetcher:
    """Fetches feeds (and their robots.txt) under the limits; thread-safe.

    Each feed's fetch runs under its own ``AddressPolicy`` (``addresses.feed_policy``):
    its own connection pool and robots.txt cache, so no connection or decision made
    under one feed's grant is ever used by another feed.
    """

    def __init__(
        self,
        limits: FetchLimits,
        *,
        resolver: Resolver = system_resolver,
        stop: threading.Event | None = None,
    ) -> None:
        self.limits = limits
        self.resolver = deadline_resolver(resolver)
        self.stop = stop or threading.Event()
        self.gates = HostGates(limits.host_delay)
        self._ssl = ssl.create_default_context(cafile=certifi.where())
        self._clients: dict[AddressPolicy, httpx.Client] = {}
        self._robots: dict[AddressPolicy, RobotsCache] = {}
        self._lock = threading.Lock()

    def policy(
        self, url: str, allow_private: bool, allow_ports: tuple[int, ...] = ()
    ) -> AddressPolicy:
        """The address policy of a fetch of the feed at ``url`` (``FetchError`` when
        its URL is refused or its host cannot be resolved)."""
        try:
            return feed_policy(
                url,
                allow_private=allow_private,
                allow_ports=allow_ports,
                allowed_networks=self.limits.allowed_networks,
                resolver=self.resolver,
            )
        except AddressRefused as e:
            raise FetchError(f"refused: {e}") from None
        except OSError as e:
            raise FetchError(
                f"cannot resolve {urlsplit(url).hostname}: {e.strerror or e}"
            ) from None

    def _client(self, policy: AddressPolicy) -> httpx.Client:
        with self._lock:
            client = self._clients.get(policy)
            if client is None:
                backend = GuardedBackend(policy, self.resolver, self.stop)
                client = httpx.Client(
                    transport=GuardedTransport(backend, self._ssl),
                    follow_redirects=False,
                    trust_env=False,
                    headers={"User-Agent": self.limits.user_agent},
                )
                self._clients[policy] = client
            return client

    def _robots_cache(self, policy: AddressPolicy) -> RobotsCache:
        with self._lock:
            cache = self._robots.get(policy)
            if cache is None:

                def fetch(url: str) -> RobotsRules:
                    return self._fetch_robots(url, policy)

                cache = self._robots[policy] = RobotsCache(fetch, self.limits.robots_ttl)
            return cache

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
        allow_ports: tuple[int, ...] = (),
        etag: str | None = None,
        last_modified: str | None = None,
    ) -> Fetched:
        """The feed at ``url`` (following redirects), or ``FetchError`` saying why.

        Everything the fetch waits for - the host's turn, robots.txt, connecting, the
        status line, the headers and the body of every hop - ends by one deadline
        (``limits.deadline`` from now), and at once when the stop event is set.
        """
        headers = {"Accept": ACCEPT, "Accept-Encoding": ACCEPT_ENCODING}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        token = _WATCH.set(Watch(time.monotonic() + self.limits.deadline, self.stop))
        try:
            if self.stop.is_set():
                raise FetchStopped("stopping")
            policy = self.policy(url, allow_private, allow_ports)
            return self._follow(url, policy, headers, self.limits.max_bytes, check_robots=True)
        finally:
            _WATCH.reset(token)

    def _fetch_robots(self, url: str, policy: AddressPolicy) -> RobotsRules:
        headers = {"Accept": "text/plain, */*;q=0.1", "Accept-Encoding": ACCEPT_ENCODING}
        token = None
        if _WATCH.get() is None:  # asked outside a fetch (a fetch's own runs under its)
            token = _WATCH.set(Watch(time.monotonic() + self.limits.deadline, self.stop))
        try:
            got = self._follow(url, policy, headers, MAX_ROBOTS_BYTES, check_robots=False)
        except FetchStopped:
            raise  # no decision: nothing is cached
        except FetchError as e:
            return rules_from(e.status, None, str(e))
        finally:
            if token is not None:
                _WATCH.reset(token)
        return rules_from(got.status, got.body)

    def _follow(
        self,
        url: str,
        policy: AddressPolicy,
        headers: dict[str, str],
        max_bytes: int,
        *,
        check_robots: bool,
    ) -> Fetched:
        watch = _WATCH.get()
        assert watch is not None
        visited: list[str] = []
        current = url
        for _ in range(self.limits.max_redirects + 1):
            if current in visited:
                raise FetchError(f"redirect loop: {' -> '.join([*visited, current])[:300]}")
            visited.append(current)
            if self.stop.is_set():
                raise FetchStopped("stopping")
            try:
                _, host, port = check_url(current)
                resolve_checked(host, port, policy, self.resolver)
            except AddressRefused as e:
                hop = f" (redirect hop {len(visited) - 1})" if len(visited) > 1 else ""
                raise FetchError(f"refused{hop}: {e}") from None
            except OSError as e:  # name resolution failed
                raise FetchError(f"cannot resolve {host}: {e.strerror or e}") from None
            if check_robots:
                waiting = partial(acquire_within, watch=watch, what=f"the robots.txt of {host}")
                rules = self._robots_cache(policy).rules(current, waiting)
                if not rules.allows(current, self.limits.user_agent):
                    raise FetchError(f"disallowed by {rules.reason} of {host}")
            with self.gates.turn(host, self.stop, watch.deadline):
                answer = self._get(current, policy, headers, max_bytes, watch.deadline)
            if isinstance(answer, Fetched):
                return answer
            current = answer
        raise FetchError(f"more than {self.limits.max_redirects} redirects from {url[:200]}")

    def _get(
        self,
        url: str,
        policy: AddressPolicy,
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
            with self._client(policy).stream(
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
            if self.stop.is_set():
                raise FetchStopped("stopping") from None
            if time.monotonic() >= deadline:
                raise FetchError(
                    f"gave up after {self.limits.deadline:g}s ({type(e).__name__}) "
                    f"fetching {_where(url)}"
                ) from None
            raise FetchError(f"timed out ({type(e).__name__}) fetching {_where(url)}") from None
        except httpx.TransportError as e:
            if self.stop.is_set():
                raise FetchStopped("stopping") from None
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
                    raise FetchStopped("stopping")
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
