"""A real HTTP server on 127.0.0.1 serving feeds (and hostile answers) to the tests.

Each test sets the replies per path; the server records every request (path, headers,
time), so a test can prove what was - and was not - asked for.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

FEEDS = Path(__file__).parent / "feeds"


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds before the status line
    drip: float = 0.0  # seconds between body chunks (no Content-Length)
    chunk: int = 1024
    header_drip: float = 0.0  # seconds between single bytes of the status line and headers


@dataclass(frozen=True)
class Seen:
    path: str
    headers: dict[str, str]
    at: float


Route = Reply | Callable[[Seen], Reply]


class FeedServer:
    def __init__(self, host: str = "127.0.0.1") -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[Seen] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                seen = Seen(
                    self.path, {k.lower(): v for k, v in self.headers.items()}, time.monotonic()
                )
                server.requests.append(seen)
                route = server.routes.get(self.path)
                if route is None:
                    reply = Reply(404, b"not found", {"Content-Type": "text/plain"})
                else:
                    reply = route(seen) if callable(route) else route
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self._send(reply)

            def _send(self, reply: Reply) -> None:
                if reply.delay:
                    time.sleep(reply.delay)
                if reply.header_drip:
                    self._dribble(reply)
                    return
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                if reply.drip:
                    self.end_headers()
                    for start in range(0, len(reply.body), reply.chunk):
                        self.wfile.write(reply.body[start : start + reply.chunk])
                        self.wfile.flush()
                        time.sleep(reply.drip)
                    return
                if "content-length" not in {k.lower() for k in reply.headers}:
                    self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)

            def _dribble(self, reply: Reply) -> None:
                """Status line and headers one byte at a time (until the client hangs
                up), then the body."""
                head = [f"HTTP/1.1 {reply.status} Whatever"]
                head += [f"{k}: {v}" for k, v in reply.headers.items()]
                head += [f"Content-Length: {len(reply.body)}", "Connection: close", "", ""]
                for byte in "\r\n".join(head).encode():
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
                    time.sleep(reply.header_drip)
                self.wfile.write(reply.body)
                self.close_connection = True

            def log_message(self, format: str, *args: Any) -> None:
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request: Any, client_address: Any) -> None:
                pass  # a client that hangs up early is what several tests do

        self.host = host
        self.httpd = Server((host, 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @contextlib.contextmanager
    def running(self) -> Iterator[FeedServer]:
        """Serve until the block ends."""
        self.thread.start()
        try:
            yield self
        finally:
            self.httpd.shutdown()
            self.httpd.server_close()

    def url(self, path: str) -> str:
        return f"http://{self.host}:{self.port}{path}"

    def hits(self, path: str) -> list[Seen]:
        return [r for r in self.requests if r.path == path]

    def serve_file(self, path: str, name: str, content_type: str = "application/rss+xml") -> None:
        self.routes[path] = Reply(200, (FEEDS / name).read_bytes(), {"Content-Type": content_type})


def rss(items: list[dict[str, str]], title: str = "Test feed") -> bytes:
    """A small RSS 2.0 document; each item's keys become its elements (text escaped)."""
    from xml.sax.saxutils import escape

    parts = [
        f"<item>{''.join(f'<{k}>{escape(v)}</{k}>' for k, v in i.items())}</item>" for i in items
    ]
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>{escape(title)}</title><link>https://feeds.example/</link>"
        f"{''.join(parts)}</channel></rss>"
    ).encode()


def gzip_bomb(expanded: int, prefix: bytes = b"<rss>") -> bytes:
    """A gzip body that expands to ``expanded`` bytes, built without holding them."""
    import zlib

    z = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    zeros = b"\0" * (1 << 20)
    parts = [z.compress(prefix)]
    parts += [z.compress(zeros) for _ in range(expanded >> 20)]
    return b"".join([*parts, z.flush()])
