"""Publishing news items to ``news.raw`` from CSV or JSONL files, at once or replayed.

Rows are read and checked here: a line that cannot be read (malformed CSV or JSON) or
checked (no title, a bad time) becomes a ``BadLine`` naming its line, and the caller
decides whether bad lines stop the publication or are skipped. Rows are given the stable
id of DESIGN.md when they have none, and sent with kafka-python's producer (acks=all,
keyed by item id). Replay keeps the items' relative timing.
"""

from __future__ import annotations

import contextlib
import csv
import email.utils
import json
import logging
import re
import threading
import time
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from core.errors import ConfigFileError
from streams.exceptions import BrokerError, InvalidRecord
from streams.records import NewsItem, parse_news_item, parse_time

log = logging.getLogger(__name__)

CSV_TITLE_COLUMNS = ("title", "text", "headline")
#: The fields whose text times are read in every format of ``parse_time_text``.
TIME_FIELDS = ("published_at", "fetched_at")
TIME_FORMATS = (
    "ISO 8601, RFC 2822, dd/mm/yyyy or yyyy-mm-dd with optional HH:MM[:SS], "
    "yyyy年m月d日 [HH:MM[:SS]], or Unix epoch seconds"
)


@dataclass(frozen=True, slots=True)
class Row:
    """One record of a file: its (first) line, its fields, or why it could not be read."""

    line: int
    data: dict[str, Any]
    error: str | None = None


@dataclass(frozen=True, slots=True)
class BadLine:
    line: int
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


@dataclass
class Prepared:
    items: list[NewsItem] = field(default_factory=list)
    bad: list[BadLine] = field(default_factory=list)

    @property
    def errors(self) -> list[str]:
        return [str(b) for b in self.bad]


def read_rows(path: Path) -> Iterator[Row]:
    """Rows of a ``.csv`` (header row) or ``.jsonl`` file, with their line numbers.

    Raises ``ConfigFileError`` for a file that cannot be read at all (missing, not
    UTF-8, a CSV without a usable header); a bad line is a ``Row`` with an ``error``.
    """
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".jsonl", ".ndjson", ".json"):
        raise ConfigFileError(f"{path}: expected a .csv or .jsonl file")
    try:
        # utf-8-sig: spreadsheet exports often start with a byte-order mark
        with path.open(encoding="utf-8-sig", newline="") as handle:
            lines = list(handle)  # newline="": line ends kept, as the csv module wants
    except OSError as e:
        raise ConfigFileError(f"{path}: cannot read: {e.strerror or e}") from None
    except UnicodeDecodeError as e:
        raise ConfigFileError(f"{path}: not UTF-8 (byte {e.start})") from None
    try:
        yield from csv_rows(lines) if suffix == ".csv" else jsonl_rows(lines)
    except ConfigFileError as e:
        raise ConfigFileError(f"{path}: {e}") from None


def jsonl_rows(lines: Iterable[str]) -> Iterator[Row]:
    """One row per non-blank line, each a JSON object."""
    for number, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            yield Row(number, {}, f"not JSON: {e.msg}")
            continue
        if isinstance(data, dict):
            yield Row(number, data)
        else:
            yield Row(number, {}, "not an object")


def csv_rows(lines: Sequence[str]) -> Iterator[Row]:
    """Rows of a CSV whose first record is the header; ``title`` is taken from the first
    of the title columns present. Raises ``ConfigFileError`` for a missing or bad header.
    """
    records = csv_records(lines)
    header: list[str] | None = None
    for number, fields in records:
        if isinstance(fields, str):
            raise ConfigFileError(f"line {number}: malformed CSV header: {fields}")
        header = [name.strip() for name in fields]
        break
    if not header or not set(CSV_TITLE_COLUMNS) & set(header):
        raise ConfigFileError(f"a CSV needs a header with one of {', '.join(CSV_TITLE_COLUMNS)}")
    for number, fields in records:
        if isinstance(fields, str):
            yield Row(number, {}, fields)
            continue
        if len(fields) != len(header):
            hint = " (a comma in an unquoted field?)" if len(fields) > len(header) else ""
            yield Row(
                number,
                {},
                f"{len(fields)} field{'' if len(fields) == 1 else 's'} where the header has "
                f"{len(header)}{hint}",
            )
            continue
        data = {k: v for k, v in zip(header, fields, strict=True) if k and v != ""}
        for column in CSV_TITLE_COLUMNS:
            if column in data:
                data.setdefault("title", data[column])
        yield Row(number, data)


class _Feed:
    """Lines from ``start`` on, counting how many were taken."""

    def __init__(self, lines: Sequence[str], start: int) -> None:
        self.lines, self.next = lines, start

    def __iter__(self) -> _Feed:
        return self

    def __next__(self) -> str:
        if self.next >= len(self.lines):
            raise StopIteration
        self.next += 1
        return self.lines[self.next - 1]


def csv_records(lines: Sequence[str]) -> Iterator[tuple[int, list[str] | str]]:
    """``(first line, fields)`` for each non-blank CSV record, or ``(line, reason)`` for a
    malformed one (an unterminated quote, text after a closing quote). Reading goes on
    at the line after the one where the malformed record began, so an unterminated quote
    costs its own line, not the rest of the file."""
    start = 0
    while start < len(lines):
        feed = _Feed(lines, start)
        reader = csv.reader(feed, strict=True)
        first = start
        try:
            while True:
                first = feed.next
                fields = next(reader, None)
                if fields is None:
                    return
                if fields:
                    yield first + 1, fields
        except csv.Error as e:
            yield first + 1, _csv_reason(str(e), first + 1, feed.next)
            start = first + 1


def _csv_reason(error: str, line: int, last: int) -> str:
    if "unexpected end of data" in error or "field larger than field limit" in error:
        return "a quoted field opens on this line and is never closed (unterminated quote)"
    where = f" (on line {last})" if last != line else ""
    return f"malformed CSV: {error}{where}"


_EPOCH_RE = re.compile(r"[+-]?\d+(?:\.\d+)?")
_CLOCK = r"(?:[ T](\d{1,2}):(\d{2})(?::(\d{2}))?)?"
_DMY_RE = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})" + _CLOCK)
_YMD_RE = re.compile(r"(\d{4})[-/](\d{1,2})[-/](\d{1,2})" + _CLOCK)
#: Chinese dates: 2026年12月6日, with an optional 08:30[:15] or 8时30分[15秒], and an
#: optional zone: 北京时间 (UTC+8) or an offset, in brackets or not.
_ZH_RE = re.compile(
    r"(\d{4})年(\d{1,2})月(\d{1,2})日"
    r"\s*(?:(\d{1,2})(?::|时|時|点|點)(\d{1,2})分?(?::?(\d{1,2})秒?)?)?"
    r"\s*(?:[(（]?(北京时间|北京時間|[+-]\d{2}:?\d{2})[)）]?)?"
)
#: The zone a Chinese date may name.
_BEIJING = timezone(timedelta(hours=8))


def parse_time_text(value: str, field: str) -> datetime:
    """An aware UTC datetime from the time formats of news exports (``TIME_FORMATS``).

    A time without a zone is UTC. ``dd/mm/yyyy`` is read day first, so 01/02/2026 is
    1 February; a date valid only month first (12/31/2026) is refused, not guessed.
    """
    # full-width digits and colons read as ASCII (NFKC)
    text = unicodedata.normalize("NFKC", value).strip()
    shown = f"{field}={value[:64]!r}"
    if _EPOCH_RE.fullmatch(text):
        return parse_time(float(text), field)
    if (chinese := _ZH_RE.fullmatch(text)) is not None:
        return _chinese_time(chinese, shown)
    for pattern, order in ((_DMY_RE, (2, 1, 0)), (_YMD_RE, (0, 1, 2))):
        match = pattern.fullmatch(text)
        if match is None:
            continue
        parts = match.groups()
        year, month, day = (int(parts[i]) for i in order)
        hour, minute, second = (int(p or 0) for p in parts[3:])
        try:
            return datetime(year, month, day, hour, minute, second, tzinfo=UTC)
        except ValueError as e:
            hint = ""
            if pattern is _DMY_RE and month > 12 >= day:
                hint = " (dates with slashes are read day first, dd/mm/yyyy)"
            raise InvalidRecord(f"{shown} is not a valid time: {e}{hint}") from None
    try:
        return parse_time(text, field)  # ISO 8601 (and Z)
    except InvalidRecord:
        pass
    try:
        parsed = email.utils.parsedate_to_datetime(text)  # RFC 2822
    except (TypeError, ValueError, IndexError, OverflowError):
        raise InvalidRecord(f"{shown} is not a time in {TIME_FORMATS}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _chinese_time(match: re.Match[str], shown: str) -> datetime:
    """The UTC time of a matched Chinese date (``_ZH_RE``); without a zone, UTC."""
    *numbers, zone = match.groups()
    year, month, day, hour, minute, second = (int(n or 0) for n in numbers)
    tz = UTC
    if zone in ("北京时间", "北京時間"):
        tz = _BEIJING
    elif zone:
        sign = -1 if zone[0] == "-" else 1
        digits = zone[1:].replace(":", "")
        tz = timezone(sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))
    try:
        return datetime(year, month, day, hour, minute, second, tzinfo=tz).astimezone(UTC)
    except ValueError as e:
        raise InvalidRecord(f"{shown} is not a valid time: {e}") from None


def normalise_times(data: dict[str, Any]) -> dict[str, Any]:
    """``data`` with its text times (``TIME_FIELDS``) in ISO 8601, as records read them."""
    out = dict(data)
    for name in TIME_FIELDS:
        value = out.get(name)
        if isinstance(value, str):
            out[name] = parse_time_text(value, name).isoformat()
    return out


def prepare(rows: Iterable[Row], default_source: str, now: datetime | None = None) -> Prepared:
    """Check each row as the worker will; bad rows become ``BadLine``s naming their line."""
    now = now or datetime.now(UTC)
    out = Prepared()
    for row in rows:
        if row.error is not None:
            out.bad.append(BadLine(row.line, row.error))
            continue
        data = dict(row.data)
        data.setdefault("source", default_source)
        data.setdefault("fetched_at", now.isoformat())
        try:
            data = normalise_times(data)
            out.items.append(parse_news_item(json.dumps(data, default=str).encode(), now=now))
        except InvalidRecord as e:
            out.bad.append(BadLine(row.line, str(e)))
    return out


def describe_bad_lines(bad: Sequence[BadLine], shown: int = 5) -> str:
    """``3 bad lines (lines 2, 4, 7)``, or with ``first`` when more than ``shown``."""
    noun = "bad line" if len(bad) == 1 else "bad lines"
    numbers = ", ".join(str(b.line) for b in bad[:shown])
    which = "line" if len(bad) == 1 else "lines"
    more = "first " if len(bad) > shown else ""
    return f"{len(bad)} {noun} ({more}{which} {numbers})"


def rebase(items: list[NewsItem], start: datetime, speed: float) -> list[NewsItem]:
    """Items in time order, their times moved so the first is ``start`` and gaps are
    divided by ``speed``."""
    ordered = sorted(items, key=lambda i: i.published_at)
    if not ordered:
        return []
    first = ordered[0].published_at
    out = []
    for item in ordered:
        at = start + (item.published_at - first) / speed
        out.append(item.model_copy(update={"published_at": at, "fetched_at": at}))
    return out


class Publisher:
    """kafka-python producer: acks=all, idempotent, keyed by item id, bounded waits."""

    def __init__(
        self,
        bootstrap_servers: str,
        topic: str,
        *,
        timeout: float = 30.0,
        connect_timeout: float = 30.0,
        compression: str = "zstd",
        client_id: str = "finsent-publish",
    ) -> None:
        """``timeout`` bounds waiting for acknowledgements (and each blocked send);
        ``connect_timeout`` bounds reaching the broker at the start; ``compression`` is
        none, gzip, lz4 or zstd."""
        from kafka import KafkaProducer
        from kafka.errors import KafkaError

        self.topic = topic
        self.timeout = timeout
        self._config: dict[str, Any] = {
            "bootstrap_servers": bootstrap_servers.split(","),
            "acks": "all",
            "enable_idempotence": True,  # a send retried after a leader move is kept once
            "compression_type": None if compression == "none" else compression,
            "linger_ms": 5,
            "max_block_ms": int(timeout * 1000),
            "bootstrap_timeout_ms": int(connect_timeout * 1000),
            "client_id": client_id,
        }
        try:
            self._producer = KafkaProducer(**self._config)
        except KafkaError as e:
            raise BrokerError(f"cannot reach Kafka at {bootstrap_servers}: {e}") from None
        self._reopen_lock = threading.Lock()
        self._futures: list[tuple[str, Any]] = []
        #: Ids the broker did not acknowledge (or that could not even be sent), in order.
        self.unacknowledged: list[str] = []
        self._broken: str | None = None

    def send(self, item: NewsItem) -> None:
        """Queue ``item``; once a send cannot be queued (the broker is gone), the rest are
        not tried but counted as unacknowledged at once, instead of each waiting."""
        from kafka.errors import KafkaError

        if self._broken is not None:
            self.unacknowledged.append(item.id)
            return
        try:
            future = self._producer.send(self.topic, key=item.id.encode(), value=item.to_json())
        except KafkaError as e:
            self._broken = str(e) or type(e).__name__
            log.error("cannot send to %s: %s; not sending the rest", self.topic, self._broken)
            self.unacknowledged.append(item.id)
            return
        self._futures.append((item.id, future))

    def flush(self) -> int:
        """Wait (``timeout`` in all) for every send; return how many the broker
        acknowledged. The others are added to ``unacknowledged``; nothing is raised."""
        from kafka.errors import KafkaError

        deadline = time.monotonic() + self.timeout
        try:
            self._producer.flush(timeout=self.timeout)
        except KafkaError as e:
            log.error("not every record was sent within %gs: %s", self.timeout, e)
        sent = 0
        for item_id, future in self._futures:
            try:
                future.get(timeout=max(0.001, deadline - time.monotonic()))
                sent += 1
            except KafkaError:
                self.unacknowledged.append(item_id)
        self._futures.clear()
        return sent

    def send_batch(self, items: list[NewsItem]) -> list[str]:
        """Send ``items`` and wait for them (``timeout`` for the whole batch); return the
        ids the broker acknowledged. Safe to call from several threads at once (each
        waits for its own sends). When a send cannot even be queued (no broker), the
        rest of the batch is not tried: the caller sends it again later."""
        return self.send_records([(item.id, item.to_json()) for item in items])

    def send_records(self, records: list[tuple[str, bytes]]) -> list[str]:
        """``send_batch`` for records already serialised: (id, value), keyed by the id.

        A producer that a broker restart left in a fatal state (a broker that lost its
        memory does not know the producer id: every later send fails) is replaced by a
        new one, and the records it failed are sent once more with it."""
        producer = self._producer
        acked, lost_state = self._send_with(producer, records)
        if len(acked) < len(records) and (lost_state or self._unusable(producer)):
            self._reopen(producer)
            done = set(acked)
            retry = [r for r in records if r[0] not in done]
            acked += self._send_with(self._producer, retry)[0]
        return acked

    def _send_with(self, producer: Any, records: list[tuple[str, bytes]]) -> tuple[list[str], bool]:
        """The ids acknowledged, and whether a send failed because the broker does not
        know the producer's idempotence state (a broker that lost its memory)."""
        from kafka.errors import (
            InvalidProducerEpochError,
            InvalidProducerIdMappingError,
            KafkaError,
            OutOfOrderSequenceNumberError,
            UnknownProducerIdError,
        )

        state_errors = (
            UnknownProducerIdError,
            OutOfOrderSequenceNumberError,
            InvalidProducerEpochError,
            InvalidProducerIdMappingError,
        )
        lost_state = False

        deadline = time.monotonic() + self.timeout
        pending: list[tuple[str, Any]] = []
        for item_id, value in records:
            try:
                future = producer.send(self.topic, key=item_id.encode(), value=value)
            except KafkaError as e:
                log.error(
                    "could not send %s (and %d after it): %s",
                    item_id,
                    len(records) - len(pending) - 1,
                    e,
                )
                break
            pending.append((item_id, future))
        acked: list[str] = []
        failed: list[str] = []
        first_error = ""
        for item_id, future in pending:
            try:
                future.get(timeout=max(0.001, deadline - time.monotonic()))
                acked.append(item_id)
            except KafkaError as e:
                failed.append(item_id)
                first_error = first_error or (str(e) or type(e).__name__)
                lost_state = lost_state or isinstance(e, state_errors)
        if failed:  # one line per batch, not one per record
            shown = ", ".join(failed[:3]) + (
                f" and {len(failed) - 3} more" if len(failed) > 3 else ""
            )
            log.error(
                "the broker acknowledged %d of %d records; not %s: %s",
                len(acked),
                len(records),
                shown,
                first_error,
            )
        return acked, lost_state

    @staticmethod
    def _unusable(producer: Any) -> bool:
        """Whether ``producer`` can never send again (its idempotence state is fatal)."""
        manager = getattr(producer, "_transaction_manager", None)
        try:
            return bool(manager is not None and manager.has_fatal_error())
        except Exception:  # a kafka-python without it: keep the producer
            return False

    def _reopen(self, broken: Any) -> None:
        """Replace ``broken`` with a new producer (once, however many threads ask)."""
        from kafka import KafkaProducer
        from kafka.errors import KafkaError

        with self._reopen_lock:
            if self._producer is not broken:
                return  # another thread replaced it already
            log.warning("the broker no longer knows this producer (a restart?): opening a new one")
            try:
                fresh = KafkaProducer(**self._config)
            except KafkaError as e:
                log.error("cannot open a new producer: %s", e)
                return
            self._producer = fresh
        self._discard(broken)

    @staticmethod
    def _discard(producer: Any) -> None:
        """Close ``producer`` without waiting for what it can no longer send."""
        with contextlib.suppress(Exception):
            producer._sender.force_close()
            producer._sender.join(5)
        with contextlib.suppress(Exception):
            producer.close(timeout=0)
        producer._closed = True

    def close(self) -> None:
        from kafka.errors import KafkaError

        try:
            self._producer.close(timeout=self.timeout)
        except KafkaError as e:  # what was not sent is in unacknowledged already
            log.error("closing the producer with records the broker never took: %s", e)
            # kafka-python's close() flushes first and raises while records are pending,
            # leaving the producer open (its __del__ would raise again): drop them.
            with contextlib.suppress(Exception):
                self._producer._sender.force_close()
                self._producer._sender.join(5)  # its thread closes the connections
            self._producer._closed = True


def replay(
    items: list[NewsItem],
    send: Callable[[NewsItem], None],
    *,
    speed: float = 1.0,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    on_sent: Callable[[int], object] | None = None,
) -> int:
    """Send ``items`` (in time order) at the pace of their publication times / speed."""
    if not items:
        return 0
    started, first = clock(), items[0].published_at
    for n, item in enumerate(items, start=1):
        due = (item.published_at - first) / timedelta(seconds=1) / speed
        wait = due - (clock() - started)
        if wait > 0:
            sleep(wait)
        send(item)
        if on_sent is not None:
            on_sent(n)
    return len(items)
