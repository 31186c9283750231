"""``finsent webhook-echo``: a tiny receiver that verifies Standard Webhooks signatures
and prints each event as one JSON line. An example of a receiver, and a test tool.

Answers 204 to a verified request, 401 to a bad or missing signature (the sender treats
that as a permanent failure), 400 to a body that is not JSON, 404 to other paths.
"""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TextIO

from standardwebhooks import Webhook

MAX_BODY = 1 << 20


def make_server(
    host: str,
    port: int,
    secret: str,
    out: TextIO = sys.stdout,
    err: TextIO = sys.stderr,
    path: str = "/",
) -> ThreadingHTTPServer:
    """A server that verifies with ``secret`` and prints verified events to ``out``."""
    verifier = Webhook(secret)
    lock = threading.Lock()

    def emit(stream: TextIO, line: str) -> None:
        with lock:
            stream.write(line + "\n")
            stream.flush()

    class Handler(BaseHTTPRequestHandler):
        server_version = "finsent-webhook-echo"

        def log_message(self, format: str, *args: Any) -> None:  # the stdlib names it so
            return  # one line per event on stdout is the whole output

        def _answer(self, status: int, note: str | None = None) -> None:
            if note:  # before the answer: whoever got the answer can read the note
                emit(err, note)
            self.send_response(status)
            self.send_header("content-length", "0")
            self.end_headers()

        def do_POST(self) -> None:  # the stdlib names it so
            if path != "/" and self.path.split("?", 1)[0] != path:
                return self._answer(404, f"404 {self.path}: not the webhook path {path}")
            length = int(self.headers.get("content-length") or 0)
            if length > MAX_BODY:
                return self._answer(413, f"413: body of {length} bytes refused")
            body = self.rfile.read(length)
            msg_id = self.headers.get("webhook-id", "?")
            try:
                payload = verifier.verify(body, dict(self.headers.items()))
            except json.JSONDecodeError:
                return self._answer(400, f"400 {msg_id}: signed, but the body is not JSON")
            except Exception as e:  # any verification failure is a 401
                return self._answer(401, f"401 {msg_id}: signature not verified ({e or 'bad'})")
            emit(out, json.dumps({"webhook_id": msg_id, "event": payload}, ensure_ascii=False))
            self._answer(204)

    return ThreadingHTTPServer((host, port), Handler)


def serve(server: ThreadingHTTPServer, stop: Callable[[], bool]) -> None:
    """Serve until ``stop()`` says so (checked twice a second)."""
    server.timeout = 0.5
    try:
        while not stop():
            server.handle_request()
    finally:
        server.server_close()
