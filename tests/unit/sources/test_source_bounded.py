"""Decoding bodies under a cap: a gzip bomb stops at the cap, without expanding."""

from __future__ import annotations

import gzip
import tracemalloc
import zlib

import pytest

from sources.bounded import BodyTooLarge, BoundedDecoder, UnsupportedEncoding

DATA = b"<rss><channel><item><title>x</title></item></channel></rss>" * 2000


def decode(encoding: str | None, body: bytes, limit: int, chunk: int = 4096) -> bytes:
    decoder = BoundedDecoder(encoding, limit)
    out = b"".join(decoder.feed(body[i : i + chunk]) for i in range(0, len(body), chunk))
    return out + decoder.finish()


@pytest.mark.parametrize("chunk", [1, 7, 4096, 1 << 20])
def test_round_trips(chunk: int) -> None:
    assert decode(None, DATA, len(DATA), chunk) == DATA
    assert decode("gzip", gzip.compress(DATA), len(DATA), chunk) == DATA
    assert decode("x-gzip", gzip.compress(DATA), len(DATA), chunk) == DATA
    assert decode("deflate", zlib.compress(DATA), len(DATA), chunk) == DATA
    raw = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    assert decode("deflate", raw.compress(DATA) + raw.flush(), len(DATA), chunk) == DATA
    assert decode("identity", DATA, len(DATA), chunk) == DATA


def test_the_cap_counts_decoded_bytes() -> None:
    with pytest.raises(BodyTooLarge):
        decode(None, DATA, len(DATA) - 1)
    with pytest.raises(BodyTooLarge):
        decode("gzip", gzip.compress(DATA), len(DATA) - 1)


def test_a_gzip_bomb_stops_at_the_cap_without_expanding() -> None:
    z = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    zeros = b"\0" * (1 << 20)
    bomb = b"".join([*(z.compress(zeros) for _ in range(500)), z.flush()])  # 500 MiB
    assert len(bomb) < 1_000_000
    tracemalloc.start()
    try:
        with pytest.raises(BodyTooLarge, match="1,000,000 bytes"):
            decode("gzip", bomb, 1_000_000, chunk=65536)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8_000_000


@pytest.mark.parametrize("encoding", ["br", "zstd", "compress", "gzip, gzip"])
def test_unasked_encodings_are_refused(encoding: str) -> None:
    with pytest.raises(UnsupportedEncoding):
        BoundedDecoder(encoding, 100)


def test_corrupt_body() -> None:
    with pytest.raises(ValueError, match="corrupt gzip"):
        decode("gzip", b"\x1f\x8b\x08\x00garbage-garbage-garbage", 1000)
