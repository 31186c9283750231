"""Content decoding that stops at a size limit, counted on the decoded bytes.

A gzip bomb (a few kilobytes that expand to gigabytes) must not get past the cap, nor
even be expanded in memory beyond it: each network chunk is decompressed at most
``remaining + 1`` bytes at a time (zlib's ``max_length``), so memory stays bounded by
the cap however hostile the body.
"""

from __future__ import annotations

import zlib

#: What we ask servers for; any other Content-Encoding is refused.
ACCEPT_ENCODING = "gzip, deflate"


class BodyTooLarge(ValueError):
    """The (decoded) body is larger than the cap."""


class UnsupportedEncoding(ValueError):
    """A Content-Encoding we did not ask for."""


class BoundedDecoder:
    """Feed raw chunks, get decoded bytes; ``BodyTooLarge`` once more than ``limit``."""

    def __init__(self, content_encoding: str | None, limit: int) -> None:
        codings = [c.strip().lower() for c in (content_encoding or "").split(",") if c.strip()]
        codings = [c for c in codings if c != "identity"]
        if len(codings) > 1:
            raise UnsupportedEncoding(f"stacked content encodings {content_encoding!r}")
        self.coding = codings[0] if codings else None
        if self.coding in ("gzip", "x-gzip"):
            self._z: zlib._Decompress | None = zlib.decompressobj(zlib.MAX_WBITS | 16)
        elif self.coding == "deflate":
            self._z = None  # zlib-wrapped or raw: decided on the first bytes
        elif self.coding is None:
            self._z = None
        else:
            raise UnsupportedEncoding(f"content encoding {content_encoding!r} was not asked for")
        self.limit = limit
        self.size = 0
        self._head = b""

    def _take(self, data: bytes) -> bytes:
        self.size += len(data)
        if self.size > self.limit:
            raise BodyTooLarge(f"body is over {self.limit:,} bytes (decoded)")
        return data

    def feed(self, chunk: bytes) -> bytes:
        if self.coding is None:
            return self._take(chunk)
        if self._z is None:  # deflate: RFC says zlib-wrapped; some servers send raw
            self._head += chunk
            if len(self._head) < 2:
                return b""
            head, chunk, self._head = self._head, self._head, b""
            wrapped = (head[0] & 0x0F) == 8 and (head[0] << 8 | head[1]) % 31 == 0
            self._z = zlib.decompressobj(zlib.MAX_WBITS if wrapped else -zlib.MAX_WBITS)
        out = bytearray()
        data = chunk
        while data:
            room = self.limit - self.size - len(out) + 1
            try:
                piece = self._z.decompress(data, max(room, 1))
            except zlib.error as e:
                raise ValueError(f"corrupt {self.coding} body: {e}") from None
            out += piece
            if self.size + len(out) > self.limit:
                raise BodyTooLarge(f"body is over {self.limit:,} bytes (decoded)")
            data = self._z.unconsumed_tail
            if self._z.eof:
                break
        self.size += len(out)
        return bytes(out)

    def finish(self) -> bytes:
        if self._z is None:
            if self._head:  # a one-byte deflate body is not a deflate body
                raise ValueError(f"corrupt {self.coding} body: truncated")
            return b""
        try:
            rest = self._z.flush()
        except zlib.error as e:
            raise ValueError(f"corrupt {self.coding} body: {e}") from None
        return self._take(rest)
