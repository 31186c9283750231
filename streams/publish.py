"""Publishing news items to ``news.raw`` from CSV or JSONL files, at once or replayed.

Rows are read and checked here (a bad row is reported with its line and skipped), given
the stable id of DESIGN.md when they have none, and sent with kafka-python's producer
(acks=all, keyed by item id). Replay keeps the items' relative timing.
"""

from __future__ import annotations

import csv
import json
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from streams.exceptions import BrokerError, ConfigFileError, InvalidRecord
from streams.records import NewsItem, parse_news_item

log = logging.getLogger(__name__)

CSV_TITLE_COLUMNS = ("title", "text", "headline")


@dataclass(frozen=True, slots=True)
class Row:
    line: int
    data: dict[str, Any]


@dataclass
class Prepared:
    items: list[NewsItem] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def read_rows(path: Path) -> Iterator[Row]:
    """Rows of a ``.csv`` (header row) or ``.jsonl`` file, with their line numbers."""
    suffix = path.suffix.lower()
    try:
        handle = path.open(encoding="utf-8", newline="")
    except OSError as e:
        raise ConfigFileError(f"{path}: cannot read: {e.strerror or e}") from None
    with handle:
        try:
            if suffix == ".csv":
                reader = csv.DictReader(handle)
                if not reader.fieldnames or not set(CSV_TITLE_COLUMNS) & set(reader.fieldnames):
                    raise ConfigFileError(
                        f"{path}: a CSV needs a header with one of {', '.join(CSV_TITLE_COLUMNS)}"
                    )
                for row in reader:
                    data = {k: v for k, v in row.items() if k is not None and v not in (None, "")}
                    for column in CSV_TITLE_COLUMNS:
                        if column in data:
                            data.setdefault("title", data[column])
                    yield Row(reader.line_num, data)
            elif suffix in (".jsonl", ".ndjson", ".json"):
                for number, text in enumerate(handle, start=1):
                    if not text.strip():
                        continue
                    try:
                        data = json.loads(text)
                    except json.JSONDecodeError as e:
                        yield Row(number, {"__error__": f"not JSON: {e.msg}"})
                        continue
                    yield Row(
                        number, data if isinstance(data, dict) else {"__error__": "not an object"}
                    )
            else:
                raise ConfigFileError(f"{path}: expected a .csv or .jsonl file")
        except UnicodeDecodeError as e:
            raise ConfigFileError(f"{path}: not UTF-8 (byte {e.start})") from None
        except csv.Error as e:
            raise ConfigFileError(f"{path}: malformed CSV: {e}") from None


def prepare(rows: Iterator[Row], default_source: str, now: datetime | None = None) -> Prepared:
    """Check each row as the worker will; bad rows become errors naming their line."""
    now = now or datetime.now(UTC)
    out = Prepared()
    for row in rows:
        if "__error__" in row.data:
            out.errors.append(f"line {row.line}: {row.data['__error__']}")
            continue
        data = dict(row.data)
        data.setdefault("source", default_source)
        data.setdefault("fetched_at", now.isoformat())
        try:
            out.items.append(parse_news_item(json.dumps(data, default=str).encode(), now=now))
        except InvalidRecord as e:
            out.errors.append(f"line {row.line}: {e}")
    return out


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
    """kafka-python producer: acks=all, keyed by item id, bounded waits."""

    def __init__(
        self,
        bootstrap_servers: str,
        topic: str,
        *,
        timeout: float = 30.0,
        client_id: str = "finsent-publish",
    ) -> None:
        from kafka import KafkaProducer
        from kafka.errors import KafkaError

        self.topic = topic
        self.timeout = timeout
        try:
            self._producer = KafkaProducer(
                bootstrap_servers=bootstrap_servers.split(","),
                acks="all",
                linger_ms=5,
                max_block_ms=int(timeout * 1000),
                client_id=client_id,
            )
        except KafkaError as e:
            raise BrokerError(f"cannot reach Kafka at {bootstrap_servers}: {e}") from None
        self._futures: list[Any] = []

    def send(self, item: NewsItem) -> None:
        self._futures.append(
            self._producer.send(self.topic, key=item.id.encode(), value=item.to_json())
        )

    def flush(self) -> int:
        """Wait for every send; return how many the broker acknowledged."""
        from kafka.errors import KafkaError

        self._producer.flush(timeout=self.timeout)
        sent = 0
        for future in self._futures:
            try:
                future.get(timeout=self.timeout)
                sent += 1
            except KafkaError as e:
                log.error("a record was not acknowledged: %s", e)
        self._futures.clear()
        return sent

    def send_batch(self, items: list[NewsItem]) -> list[str]:
        """Send ``items`` and wait for them (``timeout`` for the whole batch); return the
        ids the broker acknowledged. Safe to call from several threads at once (each
        waits for its own sends). When a send cannot even be queued (no broker), the
        rest of the batch is not tried: the caller sends it again later."""
        from kafka.errors import KafkaError

        deadline = time.monotonic() + self.timeout
        pending: list[tuple[str, Any]] = []
        for item in items:
            try:
                future = self._producer.send(self.topic, key=item.id.encode(), value=item.to_json())
            except KafkaError as e:
                log.error(
                    "could not send %s (and %d after it): %s",
                    item.id,
                    len(items) - len(pending) - 1,
                    e,
                )
                break
            pending.append((item.id, future))
        acked = []
        for item_id, future in pending:
            try:
                future.get(timeout=max(0.001, deadline - time.monotonic()))
                acked.append(item_id)
            except KafkaError as e:
                log.error("%s was not acknowledged: %s", item_id, e)
        return acked

    def close(self) -> None:
        self._producer.close(timeout=self.timeout)


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
