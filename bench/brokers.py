"""The two local brokers side by side: start time, memory, first-run download, and what a
restart keeps. The figures behind the default of FINSENT_BROKER_KIND (README).

For each kind, in one run: a cold first start on an empty directory (for Apache Kafka:
downloading and checking its jars into an empty cache, then formatting its log), then
``--starts`` warm starts (median), the broker's resident memory once ready and after
``--records`` records went through it, and a restart on the same directory: how many of
the records and of a consumer group's committed offsets are still there.

    python bench/brokers.py                   # 5 warm starts, 20,000 records of ~400 B
    python bench/brokers.py --starts 3 --records 5000
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.machine import header
from streams.broker_process import BrokerProcess
from streams.embedded_broker import EmbeddedBroker
from streams.kafka_broker import KafkaBroker

if TYPE_CHECKING:
    from aiokafka import AIOKafkaConsumer

TOPIC = "bench.brokers"
GROUP = "bench-brokers"


def make(kind: str, work: Path, jars: Path) -> BrokerProcess:
    if kind == "kafka":
        return KafkaBroker(data_dir=work / "kafka", jars_dir=jars, progress=False)
    return EmbeddedBroker()


def rss_mib(broker: BrokerProcess) -> float:
    """Resident memory of the broker process and its children, MiB."""
    assert broker.pid is not None
    proc = psutil.Process(broker.pid)
    total = proc.memory_info().rss + sum(c.memory_info().rss for c in proc.children(True))
    return float(total) / 2**20


def timed_start(broker: BrokerProcess) -> float:
    t0 = time.perf_counter()
    broker.start()
    return time.perf_counter() - t0


async def started_consumer(bootstrap: str, group: str | None) -> AIOKafkaConsumer:
    """A consumer of the bench topic from its start, committing only when told."""
    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(
        TOPIC,
        bootstrap_servers=bootstrap,
        group_id=group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    return consumer


async def fill(bootstrap: str, records: int) -> None:
    """``records`` records into the topic, then a group reads half and commits."""
    from aiokafka import AIOKafkaProducer
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    await admin.create_topics([NewTopic(TOPIC, 4, 1)])
    await admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    await producer.start()
    value = b"x" * 400
    await asyncio.gather(*[producer.send(TOPIC, value, key=b"%d" % i) for i in range(records)])
    await producer.flush()
    await producer.stop()
    consumer = await started_consumer(bootstrap, GROUP)
    seen = 0
    while seen < records // 2:
        batch = await consumer.getmany(timeout_ms=1000, max_records=records // 2 - seen)
        seen += sum(len(m) for m in batch.values())
    await consumer.commit()
    await consumer.stop()


async def what_is_left(bootstrap: str) -> tuple[int, int]:
    """(records still in the topic, records the group has yet to read)."""

    async def count(group: str | None) -> int:
        consumer = await started_consumer(bootstrap, group)
        n, idle = 0, time.monotonic()
        while time.monotonic() - idle < 4:
            batch = await consumer.getmany(timeout_ms=500)
            got = sum(len(m) for m in batch.values())
            if got:
                n, idle = n + got, time.monotonic()
        await consumer.stop()
        return n

    return await count(None), await count(GROUP)


def measure(kind: str, starts: int, records: int) -> dict[str, str]:
    with tempfile.TemporaryDirectory(prefix=f"bench-{kind}-") as tmp:
        work, jars = Path(tmp), Path(tmp) / "jars"
        broker = make(kind, work, jars)
        cold = timed_start(broker)
        download = sum(f.stat().st_size for f in jars.rglob("*.jar")) / 2**20
        idle_rss = rss_mib(broker)
        broker.stop()
        warm = []
        for _ in range(starts):
            broker = make(kind, work, jars)
            warm.append(timed_start(broker))
            broker.stop()
        broker = make(kind, work, jars)
        broker.start()
        asyncio.run(fill(broker.bootstrap_servers, records))
        busy_rss = rss_mib(broker)
        broker.stop()
        broker = make(kind, work, jars)
        broker.start()
        try:
            kept, unread = asyncio.run(what_is_left(broker.bootstrap_servers))
        except Exception as e:  # the topic itself is gone
            kept, unread = 0, 0
            print(f"{kind}: after the restart: {type(e).__name__}: {e}", file=sys.stderr)
        broker.stop()
    offsets = "kept" if kept == records and unread == records - records // 2 else "lost"
    return {
        "kind": kind,
        "first start (s)": f"{cold:.1f}",
        f"warm start, median of {starts} (s)": f"{statistics.median(warm):.1f}",
        "download (MiB)": f"{download:.0f}",
        "memory ready (MiB)": f"{idle_rss:.0f}",
        f"memory after {records:,} records (MiB)": f"{busy_rss:.0f}",
        "records after a restart": f"{kept:,} of {records:,}",
        "committed offsets after a restart": offsets,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--starts", type=int, default=5, help="warm starts per kind")
    parser.add_argument("--records", type=int, default=20_000, help="records put through")
    args = parser.parse_args()
    rows = [measure(kind, args.starts, args.records) for kind in ("embedded", "kafka")]
    print(header())
    print()
    keys = list(rows[0])
    print("| | " + " | ".join(r["kind"] for r in rows) + " |")
    print("|---" * (len(rows) + 1) + "|")
    for key in keys[1:]:
        print(f"| {key} | " + " | ".join(r[key] for r in rows) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
