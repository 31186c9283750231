"""A TCP proxy on loopback that a test can cut and restore: a real network outage
between one process and a server, without stopping the server for everyone else. The
server may listen on TCP or on a Unix socket (the embedded PostgreSQL server does)."""

from __future__ import annotations

import contextlib
import socket
import threading
from pathlib import Path

from sqlalchemy.engine import URL, make_url


class CuttableProxy:
    def __init__(self, target_host: str, target_port: int) -> None:
        """Proxy to ``target_host:target_port``; a host that is a directory is a Unix
        socket directory, as in libpq (the socket ``.s.PGSQL.<port>`` in it)."""
        self.target = (target_host, target_port)
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.port = int(self.listener.getsockname()[1])
        self._open = threading.Event()
        self._open.set()
        self._closed = False
        self._lock = threading.Lock()
        self._sockets: set[socket.socket] = set()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if not self._open.is_set():
                client.close()  # refused while cut
                continue
            try:
                upstream = self._connect()
            except OSError:
                client.close()
                continue
            with self._lock:
                self._sockets |= {client, upstream}
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    def _connect(self) -> socket.socket:
        host, port = self.target
        if not Path(host).is_dir():
            return socket.create_connection(self.target, timeout=5)
        upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        upstream.settimeout(5)
        try:
            upstream.connect(str(Path(host) / f".s.PGSQL.{port}"))
        except OSError:
            upstream.close()
            raise
        upstream.settimeout(None)
        return upstream

    @classmethod
    def for_database(cls, url: str) -> tuple[CuttableProxy, str]:
        """A proxy to the PostgreSQL server of ``url`` and the URL that goes through it."""
        parsed = make_url(url)
        host = parsed.host or str(parsed.query.get("host") or "127.0.0.1")
        port = parsed.port or int(str(parsed.query.get("port") or 5432))
        proxy = cls(host, port)
        query = {k: v for k, v in parsed.query.items() if k not in ("host", "port")}
        through: URL = parsed.set(host="127.0.0.1", port=proxy.port, query=query)
        return proxy, through.render_as_string(hide_password=False)

    def _pipe(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                s.close()
            with self._lock:
                self._sockets -= {src, dst}

    def cut(self) -> None:
        """Drop every connection and refuse new ones until ``restore``."""
        self._open.clear()
        with self._lock:
            sockets = list(self._sockets)
        for s in sockets:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)

    def restore(self) -> None:
        self._open.set()

    def close(self) -> None:
        self._closed = True
        self.cut()
        self.listener.close()
