"""The whole pipeline on each broker, side by side in one run: throughput and latency.

For each configuration (the embedded broker; Apache Kafka with the producers'
compression none, lz4 or zstd; a three-node Apache Kafka cluster with replicated topics)
a fresh database, broker and ``finsent worker``, then:

1. backlog: ``--items`` news items published while the worker is stopped (SIGSTOP),
   then drained; items/s from the first stored article to the last;
2. latency: items published at ``--rate`` per second for ``--seconds``; publish→stored
   latency (``stored_at - fetched_at``, stamped when the bench sends) p50/p95/p99;
3. for Apache Kafka, the bytes ``news.raw`` takes in the broker's log per item (what
   compression saves on disk and on the wire).

Configurations run in turn, ``--rounds`` times, interleaved (the machine is shared);
the table gives the median of the rounds. The model is by default the one-layer MiniLM
with a random head the tests use (so that the broker's share shows); ``--model`` takes a
trained one.

    python bench/throughput.py                        # 2 rounds, 3,000 items, 100/s for 30 s
    python bench/throughput.py --rounds 3 --model ~/.local/share/finsent/models/finsent-sentiment
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.database import fresh_database
from bench.machine import header
from bench.pipeline import headlines, percentiles, publish, stored, sustained_rate
from streams.embedded_broker import EmbeddedBroker
from streams.kafka_broker import KafkaBroker
from streams.kafka_cluster import KafkaCluster
from testkit.processes import FinsentProcess

REPO = Path(__file__).resolve().parent.parent
JARS = REPO / ".cache" / "kafka-jars"
#: (broker, producer compression) in the order they run each round.
CONFIGS = [
    ("embedded", "none"),
    ("kafka", "none"),
    ("kafka", "lz4"),
    ("kafka", "zstd"),
    ("kafka cluster of 3", "none"),
]


@contextlib.contextmanager
def running_broker(kind: str, work: Path) -> Iterator[tuple[str, Path | None]]:
    """The broker of ``kind``, started; its bootstrap servers and log directory."""
    if kind == "embedded":
        with EmbeddedBroker(port=0) as embedded:
            yield embedded.bootstrap_servers, None
    elif kind == "kafka":
        with KafkaBroker(data_dir=work / "kafka", jars_dir=JARS, progress=False) as kafka:
            yield kafka.bootstrap_servers, kafka.log_dir
    else:
        with KafkaCluster(size=3, data_dir=work / "cluster", jars_dir=JARS) as cluster:
            yield cluster.bootstrap_servers, cluster.node(1).log_dir


def topic_bytes(log_dir: Path | None, topic: str) -> int | None:
    """Bytes of ``topic``'s log segments under a Kafka log directory."""
    if log_dir is None:
        return None
    return sum(f.stat().st_size for f in log_dir.glob(f"{topic}-*/*.log"))


def run_config(
    kind: str, compression: str, model: Path, args: argparse.Namespace, work: Path
) -> dict[str, Any]:
    db, drop = fresh_database()
    url = db.url.render_as_string(hide_password=False)
    titles = headlines(args.items)
    try:
        with running_broker(kind, work) as (bootstrap, log_dir):
            env = {k: v for k, v in os.environ.items() if not k.startswith("FINSENT_")}
            env.update(
                FINSENT_DATA_DIR=str(work / "data"),
                FINSENT_DATABASE_URL=url,
                FINSENT_KAFKA_BOOTSTRAP_SERVERS=bootstrap,
                FINSENT_KAFKA_COMPRESSION=compression,
                FINSENT_MODEL_PATH=str(model),
                FINSENT_MODEL_VARIANT=args.variant,
                FINSENT_PIPELINE_BATCH_SIZE="256",
                FINSENT_METRICS_WORKER_PORT="0",
                FINSENT_LOG_LEVEL="WARNING",
            )
            if kind.startswith("kafka cluster"):
                env.update(
                    FINSENT_KAFKA_REPLICATION_FACTOR="3", FINSENT_KAFKA_MIN_INSYNC_REPLICAS="2"
                )
            worker = FinsentProcess(["worker"], env, work / "worker.log").start()
            try:
                # warm up: the worker is ready once it has stored these
                publish(bootstrap, "news.raw", titles[:64], None, compression)
                if len(stored(url, 0, 64, 300)) < 64:
                    raise SystemExit(f"the worker did not start:\n{worker.log()[-3000:]}")
                before = topic_bytes(log_dir, "news.raw") or 0
                assert worker.proc is not None
                os.killpg(worker.proc.pid, signal.SIGSTOP)
                try:
                    publish(bootstrap, "news.raw", titles, None, compression)
                finally:
                    os.killpg(worker.proc.pid, signal.SIGCONT)
                drained = sustained_rate(stored(url, 64, len(titles), 900))
                after = topic_bytes(log_dir, "news.raw")
                n_rate = int(args.rate * args.seconds)
                publish(bootstrap, "news.raw", headlines(n_rate), args.rate, compression)
                rows = stored(url, 64 + len(titles), n_rate, 600)
                latencies = [(s - f) / timedelta(seconds=1) for f, s in rows]
            finally:
                worker.stop()
    finally:
        drop()
    p50, p95, p99 = percentiles(latencies)
    per_item = None if after is None else (after - before) / len(titles)
    return {"drain": drained, "p50": p50, "p95": p95, "p99": p99, "bytes_per_item": per_item}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, help="model directory (default: random head)")
    parser.add_argument("--variant", default="fp32", help="FINSENT_MODEL_VARIANT")
    parser.add_argument("--items", type=int, default=3000, help="backlog items")
    parser.add_argument("--rate", type=float, default=100.0, help="items/s for the latency")
    parser.add_argument("--seconds", type=float, default=30.0, help="length of the latency run")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()

    results: dict[tuple[str, str], list[dict[str, Any]]] = {c: [] for c in CONFIGS}
    with tempfile.TemporaryDirectory(prefix="finsent-bench-throughput-") as tmp:
        model = args.model
        if model is None:
            from testkit.classifier_support import random_head_model

            model = random_head_model(Path(tmp) / "model")
        for round_no in range(1, args.rounds + 1):
            for kind, compression in CONFIGS:
                work = Path(tempfile.mkdtemp(dir=tmp))
                began = time.monotonic()
                got = run_config(kind, compression, model, args, work)
                results[(kind, compression)].append(got)
                print(
                    f"round {round_no}: {kind}, {compression}: {got['drain']:.0f} items/s, "
                    f"p95 {got['p95']:.2f} s ({time.monotonic() - began:.0f} s)",
                    file=sys.stderr,
                )

    print(header())
    print(
        f"- model: {args.model or 'one-layer MiniLM, random head (the tests)'}, "
        f"variant {args.variant}; backlog {args.items:,} items; latency at {args.rate:g}/s "
        f"for {args.seconds:g} s; median of {args.rounds} rounds\n"
    )
    print(
        "| broker | compression | backlog drain, items/s | latency p50 / p95 / p99, s "
        "| news.raw bytes/item |"
    )
    print("|---|---|---:|---:|---:|")
    for (kind, compression), runs in results.items():

        def med(key: str, runs: list[dict[str, Any]] = runs) -> float:
            return float(statistics.median(r[key] for r in runs))

        per_item = "" if runs[0]["bytes_per_item"] is None else f"{med('bytes_per_item'):.0f}"
        print(
            f"| {kind} | {compression} | {med('drain'):,.0f} | "
            f"{med('p50'):.2f} / {med('p95'):.2f} / {med('p99'):.2f} | {per_item} |"
        )


if __name__ == "__main__":
    main()
