"""A worker facing a backlog: how soon the first items are stored, and how far classify
runs ahead of persist, with fetches bounded (finsent's default) and unbounded (Faust's).

For each configuration, in interleaved rounds: N items are published to the embedded
broker, then a real ``finsent worker`` starts on them and PostgreSQL. Measured from the
moment its model has loaded (its ``finsent_worker_ready`` gauge):

- first stored: seconds until the first item is stored;
- most ahead: the most items classified but not yet handed to persist, sampled from
  the worker's metrics endpoint every 0.25 s;
- drain: N over the seconds until the last item is stored;
- publish -> stored p50 / p95 over the backlog (mostly the wait in the queue);
- then, at half the drain rate for ``--half-seconds``: publish -> stored p50 / p95.

    python bench/backlog.py --model PATH [--items 20000] [--rounds 2]
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.database import fresh_database
from bench.machine import header
from bench.pipeline import headlines, percentiles, publish, stored, worker_environ
from streams.broker_process import free_port
from streams.embedded_broker import EmbeddedBroker
from testkit.processes import FinsentProcess

#: name -> the worker's environment for it
CONFIGURATIONS: dict[str, dict[str, str]] = {
    "bounded (finsent's default)": {},
    "unbounded (Faust's 4,096 per agent)": {"FINSENT_PIPELINE_PREFETCH_BATCHES": "0"},
}
_SAMPLE = re.compile(r'^finsent_items_total\{stage="(\w+)",topic="([\w.]+)"\} ([0-9.e+]+)$', re.M)


@dataclass
class Run:
    first_stored_s: float
    most_ahead: int
    drain_rate: float
    backlog_latency: tuple[float, float, float]
    half_latency: tuple[float, float, float]
    half_rate: float
    ahead_samples: list[int] = field(default_factory=list)


def items_ahead(metrics_url: str) -> int | None:
    """Items the classify agent has scored that the persist agent has not yet handled."""
    try:
        with urllib.request.urlopen(metrics_url, timeout=2) as response:  # noqa: S310
            text = response.read().decode()
    except OSError:
        return None
    counts = {(topic, stage): float(v) for stage, topic, v in _SAMPLE.findall(text)}
    scored = counts.get(("news.raw", "scored"), 0.0)
    handled = counts.get(("news.scored", "consumed"), 0.0)
    return int(scored - handled)


def wait_ready(metrics_url: str, worker: FinsentProcess, timeout: float) -> datetime:
    """When the worker's model has loaded (its ``finsent_worker_ready`` gauge is 1)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(metrics_url, timeout=2) as response:  # noqa: S310
                if re.search(r"^finsent_worker_ready 1\.0$", response.read().decode(), re.M):
                    return datetime.now(UTC)
        except OSError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"the worker was not ready in {timeout:.0f} s:\n{worker.log()[-3000:]}")


def sample_ahead(metrics_url: str, stop: threading.Event, out: list[int]) -> None:
    while not stop.wait(0.25):
        n = items_ahead(metrics_url)
        if n is not None:
            out.append(n)


def one_run(args: argparse.Namespace, name: str, extra: dict[str, str]) -> Run:
    titles = headlines(args.items)
    db, drop = fresh_database()
    url = db.url.render_as_string(hide_password=False)
    workdir = Path(tempfile.mkdtemp(prefix="finsent-backlog-"))
    port = free_port()
    try:
        with EmbeddedBroker(port=0) as broker:
            env = worker_environ(
                workdir,
                url,
                broker.bootstrap_servers,
                args.model,
                args.variant,
                FINSENT_METRICS_WORKER_PORT=str(port),
                FINSENT_LOG_LEVEL="WARNING",
                **extra,
            )
            publish(broker.bootstrap_servers, "news.raw", titles, None)
            worker = FinsentProcess(["worker"], env, workdir / "worker.log").start()
            try:
                resumed = wait_ready(f"http://127.0.0.1:{port}/metrics", worker, 300)
                stop, ahead = threading.Event(), list[int]()
                sampler = threading.Thread(
                    target=sample_ahead,
                    args=(f"http://127.0.0.1:{port}/metrics", stop, ahead),
                    daemon=True,
                )
                sampler.start()
                try:
                    backlog = stored(url, 0, len(titles), 1800)
                finally:
                    stop.set()
                    sampler.join()
                if len(backlog) < len(titles):
                    raise SystemExit(f"{name}: {len(backlog)} of {len(titles)} stored")
                drain = len(backlog) / ((backlog[-1][1] - resumed) / timedelta(seconds=1))
                half_rate = drain / 2
                n_half = int(half_rate * args.half_seconds)
                publish(broker.bootstrap_servers, "news.raw", headlines(n_half), half_rate)
                half = stored(url, len(titles), n_half, 600)
            finally:
                worker.stop()
    finally:
        drop()

    def seconds(rows: list[tuple[datetime, datetime]]) -> list[float]:
        return [(s - f) / timedelta(seconds=1) for f, s in rows]

    return Run(
        first_stored_s=(backlog[0][1] - resumed) / timedelta(seconds=1),
        most_ahead=max(ahead, default=0),
        drain_rate=drain,
        backlog_latency=percentiles(seconds(backlog)),
        half_latency=percentiles(seconds(half)),
        half_rate=half_rate,
        ahead_samples=ahead,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="fine-tuned model directory")
    parser.add_argument("--variant", default="auto")
    parser.add_argument("--items", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--half-seconds", type=float, default=30.0)
    args = parser.parse_args()

    runs: dict[str, list[Run]] = {name: [] for name in CONFIGURATIONS}
    for round_no in range(1, args.rounds + 1):
        for name, extra in CONFIGURATIONS.items():
            run = one_run(args, name, extra)
            runs[name].append(run)
            print(
                f"round {round_no} {name}: first stored {run.first_stored_s:.1f} s, "
                f"most ahead {run.most_ahead:,}, drain {run.drain_rate:.0f}/s",
                file=sys.stderr,
                flush=True,
            )

    def median(values: list[float]) -> float:
        return statistics.median(values)

    print(header())
    print(f"- {args.items:,} items queued before the worker starts; {args.rounds} rounds")
    print(f"- model: {args.model} ({args.variant}); worker defaults otherwise\n")
    print(
        "| configuration | first stored, s | most ahead, items | drain, items/s "
        "| backlog p50 / p95, s | half load | half p50 / p95, s |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, rs in runs.items():
        print(
            f"| {name} | {median([r.first_stored_s for r in rs]):.1f} "
            f"| {median([float(r.most_ahead) for r in rs]):,.0f} "
            f"| {median([r.drain_rate for r in rs]):.0f} "
            f"| {median([r.backlog_latency[0] for r in rs]):.1f} / "
            f"{median([r.backlog_latency[1] for r in rs]):.1f} "
            f"| {median([r.half_rate for r in rs]):.0f}/s "
            f"| {median([r.half_latency[0] for r in rs]):.2f} / "
            f"{median([r.half_latency[1] for r in rs]):.2f} |"
        )
    print("\n(medians over the rounds; each round runs every configuration in turn)")


if __name__ == "__main__":
    main()
