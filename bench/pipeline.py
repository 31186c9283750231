"""The whole pipeline against the model alone, in one run on one machine.

1. model only: the worker's engine (same model, variant, batch size) on N headlines;
2. full load: N items published at once to the embedded broker, a real ``finsent
   worker`` process classifies and stores them in PostgreSQL; sustained items/s from
   the first to the last stored article, and its ratio to (1);
3. backlog: N items published while the worker is stopped (SIGSTOP), then drained;
   the same measure without the bench's own producer sharing the CPU with the worker
   (on a small machine it does; in production the publishers run elsewhere);
4. latency from publish to stored (``stored_at - fetched_at``; the bench stamps
   ``fetched_at`` when it sends) at full load and at half the sustained rate.

    python bench/pipeline.py --model PATH [--items 4000] [--variant onnx-int8]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine, func, select

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.database import fresh_database
from bench.machine import header
from classifier.loading import load_engine
from finsent.datasets import TFNS_DIR
from storage.models import ArticleRow
from streams.embedded_broker import EmbeddedBroker
from testkit.processes import FinsentProcess

VALID = TFNS_DIR / "valid.csv"


def headlines(n: int) -> list[str]:
    import csv

    if VALID.is_file():
        with VALID.open(encoding="utf-8") as f:
            texts = [row["text"] for row in csv.DictReader(f)]
    else:
        texts = [f"Shares of company {i} move after results" for i in range(500)]
    return [f"{texts[i % len(texts)]} #{i}" for i in range(n)]


def percentiles(values: list[float]) -> tuple[float, float, float]:
    q = statistics.quantiles(values, n=100, method="inclusive")
    return q[49], q[94], q[98]


def publish(
    bootstrap: str, topic: str, titles: list[str], rate: float | None, compression: str = "none"
) -> None:
    """Send titles, stamping fetched_at at send time; ``rate`` items/s, or all at once;
    batches compressed with ``compression`` (none, gzip, lz4, zstd).

    The load generator is librdkafka (confluent-kafka): on a 2-core machine a pure-Python
    producer takes CPU the worker under test needs (the backlog run shows how much).
    """
    from confluent_kafka import Producer

    producer = Producer(
        {
            "bootstrap.servers": bootstrap,
            "acks": "all",
            "linger.ms": 2,
            "compression.type": compression,
        }
    )
    started = time.monotonic()
    for i, title in enumerate(titles):
        if rate:
            wait = started + i / rate - time.monotonic()
            if wait > 0:
                time.sleep(wait)
        now = datetime.now(UTC).isoformat()
        value = {
            "title": title,
            "source": "bench",
            "url": f"https://bench.example/{uuid.uuid4()}",
            "published_at": now,
            "fetched_at": now,
        }
        producer.produce(topic, value=json.dumps(value).encode())
        producer.poll(0)
    left = producer.flush(120)
    if left:
        raise SystemExit(f"{left} records were not acknowledged by the broker")


def stored(
    engine_url: str, since_n: int, total: int, timeout: float
) -> list[tuple[datetime, datetime]]:
    engine = create_engine(engine_url)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with engine.connect() as conn:
            n = conn.execute(select(func.count()).select_from(ArticleRow)).scalar_one()
        if n >= since_n + total:
            break
        time.sleep(0.5)
    with engine.connect() as conn:
        rows = conn.execute(
            select(ArticleRow.fetched_at, ArticleRow.stored_at).order_by(ArticleRow.stored_at)
        ).all()
    engine.dispose()
    return [(r[0], r[1]) for r in rows[since_n:]]


def worker_environ(
    workdir: Path, database_url: str, bootstrap: str, model: str, variant: str, **extra: str
) -> dict[str, str]:
    """This process's environment without its FINSENT_* settings, for a bench worker on
    this database, broker and model (``extra``: more settings)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FINSENT_")}
    env.update(
        FINSENT_DATA_DIR=str(workdir),
        FINSENT_DATABASE_URL=database_url,
        FINSENT_KAFKA_BOOTSTRAP_SERVERS=bootstrap,
        FINSENT_MODEL_PATH=model,
        FINSENT_MODEL_VARIANT=variant,
        **extra,
    )
    return env


def sustained_rate(rows: list[tuple[datetime, datetime]]) -> float:
    """Items per second from the first stored to the last."""
    span = (rows[-1][1] - rows[0][1]) / timedelta(seconds=1)
    return (len(rows) - 1) / span if span > 0 else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="fine-tuned model directory")
    parser.add_argument("--variant", default="auto")
    parser.add_argument("--items", type=int, default=4000)
    parser.add_argument("--batch-size", type=int, default=32, help="model batch size")
    parser.add_argument("--take", type=int, default=256, help="records per agent batch")
    parser.add_argument(
        "--max-wait", type=float, default=0.1, help="seconds an agent waits to fill a batch"
    )
    parser.add_argument("--concurrency", type=int, default=1, help="instances of each agent")
    parser.add_argument(
        "--half-seconds", type=float, default=30.0, help="length of the half-load run"
    )
    args = parser.parse_args()

    titles = headlines(args.items)
    engine = load_engine(args.model, variant=args.variant, batch_size=args.batch_size)
    engine.predict(titles[:64])  # warm up
    started = time.perf_counter()
    engine.predict(titles)
    model_rate = len(titles) / (time.perf_counter() - started)
    started = time.perf_counter()
    for i in range(0, len(titles), args.take):
        engine.predict(titles[i : i + args.take])
    model_take_rate = len(titles) / (time.perf_counter() - started)
    variant = engine.variant
    del engine

    db, drop = fresh_database()
    url = db.url.render_as_string(hide_password=False)
    workdir = Path(tempfile.mkdtemp(prefix="finsent-bench-"))
    try:
        with EmbeddedBroker(port=0) as broker:
            env = worker_environ(
                workdir,
                url,
                broker.bootstrap_servers,
                args.model,
                variant,
                FINSENT_MODEL_BATCH_SIZE=str(args.batch_size),
                FINSENT_PIPELINE_BATCH_SIZE=str(args.take),
                FINSENT_PIPELINE_MAX_WAIT=str(args.max_wait),
                FINSENT_PIPELINE_CONCURRENCY=str(args.concurrency),
                FINSENT_METRICS_WORKER_PORT="0",
                FINSENT_LOG_LEVEL="WARNING",
            )
            worker = FinsentProcess(["worker"], env, workdir / "worker.log").start()
            try:
                # warm up: the worker is ready once it has stored these
                publish(broker.bootstrap_servers, "news.raw", titles[:64], None)
                if len(stored(url, 0, 64, 300)) < 64:
                    raise SystemExit(f"the worker did not start:\n{worker.log()[-3000:]}")
                publish(broker.bootstrap_servers, "news.raw", titles, None)
                full = stored(url, 64, len(titles), 900)
                sustained = sustained_rate(full)
                full_lat = [(s - f) / timedelta(seconds=1) for f, s in full]
                done = 64 + len(titles)

                assert worker.proc is not None
                os.killpg(worker.proc.pid, signal.SIGSTOP)
                try:
                    publish(broker.bootstrap_servers, "news.raw", titles, None)
                finally:
                    os.killpg(worker.proc.pid, signal.SIGCONT)
                drained = sustained_rate(stored(url, done, len(titles), 900))
                done += len(titles)

                half_rate = sustained / 2
                n_half = int(half_rate * args.half_seconds)
                publish(broker.bootstrap_servers, "news.raw", headlines(n_half), half_rate)
                half = stored(url, done, n_half, 600)
                half_lat = [(s - f) / timedelta(seconds=1) for f, s in half]
            finally:
                worker.stop()
    finally:
        drop()

    print(header())
    print(
        f"- model: {args.model} variant {variant}, model batch {args.batch_size}, "
        f"agent batch {args.take}, max wait {args.max_wait:g} s, "
        f"concurrency {args.concurrency}"
    )
    print(f"- items: {len(titles):,} at full load; {n_half:,} at half load ({half_rate:.0f}/s)")
    print("- latency: stored_at (transaction start) minus fetched_at (stamped at send)\n")
    print("| measure | value |")
    print("|---|---:|")
    print(f"| model alone, all {len(titles):,} texts in one call, texts/s | {model_rate:,.0f} |")
    print(f"| model alone, in agent batches of {args.take}, texts/s | {model_take_rate:,.0f} |")
    print(f"| pipeline sustained while publishing, items/s | {sustained:,.0f} |")
    print(f"| ratio pipeline / model (one call) | {sustained / model_rate:.2f} |")
    print(f"| ratio pipeline / model (agent batches) | {sustained / model_take_rate:.2f} |")
    print(f"| pipeline draining a backlog, items/s | {drained:,.0f} |")
    print(f"| ratio backlog / model (one call) | {drained / model_rate:.2f} |")
    print(f"| ratio backlog / model (agent batches) | {drained / model_take_rate:.2f} |")
    for label, lat in (("full load", full_lat), ("half load", half_lat)):
        p50, p95, p99 = percentiles(lat)
        print(f"| {label} latency p50 / p95 / p99, s | {p50:.2f} / {p95:.2f} / {p99:.2f} |")


if __name__ == "__main__":
    main()
