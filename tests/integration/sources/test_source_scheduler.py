"""``finsent scheduler`` as a real process: good and hostile feeds side by side, the
process never dies, each case shows in source health, only new items reach Kafka,
exactly once across a restart; the feed file is reloaded on change and on SIGHUP."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from storage import source_health
from storage.feeds import SourceHealthView
from testkit.processes import FINSENT, FinsentProcess, consume_all, unique_prefix, wait_until
from tests.integration.sources.feedserver import FEEDS, FeedServer, Reply, gzip_bomb

GOOD = ("rss2", "atom")
HOSTILE = {
    "broken": "HTTP 500",
    "html": "an HTML page",
    "slow": "timed out",
    "bomb": "(decoded)",
    "loop": "redirect loop",
    "sneaky": "127.0.0.1 is a loopback address",  # does not allow private networks
}


def feed_file(path: Path, server: FeedServer, names: list[str]) -> None:
    lines = ["feeds:"]
    for name in names:
        private = "false" if name == "sneaky" else "true"
        lines.append(
            f"  - {{name: {name}, url: '{server.url('/' + name)}', interval: 1, "
            f"allow_private_network: {private}}}"
        )
    path.write_text("\n".join(lines) + "\n")


def health(engine: Engine) -> dict[str, SourceHealthView]:
    return {v.feed: v for v in source_health(engine)}


@pytest.fixture
def env(cli_env: dict[str, str], broker: Any, pg_url: str, tmp_path: Path) -> dict[str, str]:
    cli_env.update(
        FINSENT_DATABASE_URL=pg_url,
        FINSENT_KAFKA_BOOTSTRAP_SERVERS=broker.bootstrap_servers,
        FINSENT_KAFKA_TOPIC_PREFIX=unique_prefix(),
        FINSENT_KAFKA_PARTITIONS="2",
        FINSENT_FEEDS_FILE=str(tmp_path / "feeds.yaml"),
        FINSENT_FEEDS_HOST_DELAY="0",
        FINSENT_FEEDS_JITTER="0",
        FINSENT_FEEDS_READ_TIMEOUT="1",
        FINSENT_FEEDS_FETCH_DEADLINE="3",
        FINSENT_FEEDS_MAX_BYTES="1000000",
        FINSENT_FEEDS_MAX_BACKOFF="2",
        FINSENT_FEEDS_WATCH_INTERVAL="0.5",
    )
    return cli_env


def serve_all(server: FeedServer) -> None:
    server.serve_file("/rss2", "rss2.xml")
    server.serve_file("/atom", "atom.xml", "application/atom+xml")
    server.serve_file("/rss1", "rss1.xml", "application/rdf+xml")
    server.routes["/broken"] = Reply(500, b"down")
    server.routes["/html"] = Reply(200, b"<!DOCTYPE html><html><body>hi</body></html>")
    server.routes["/slow"] = Reply(200, b"<rss/>", delay=2.5)
    server.routes["/bomb"] = Reply(200, gzip_bomb(30_000_000), {"Content-Encoding": "gzip"})
    server.routes["/loop"] = Reply(302, b"", {"Location": "/loop2"})
    server.routes["/loop2"] = Reply(302, b"", {"Location": "/loop"})
    server.serve_file("/sneaky", "rss2.xml")


def test_the_scheduler_process(
    feed_server: FeedServer, env: dict[str, str], db: Engine, broker: Any, tmp_path: Path
) -> None:
    started: list[FinsentProcess] = []

    def run() -> FinsentProcess:
        started.append(FinsentProcess(["scheduler"], env, log).start())
        return started[-1]

    log = tmp_path / "scheduler.log"
    try:
        serve_all(feed_server)
        feeds_path = Path(env["FINSENT_FEEDS_FILE"])
        feed_file(feeds_path, feed_server, [*GOOD, *HOSTILE])
        topic = env["FINSENT_KAFKA_TOPIC_PREFIX"] + "news.raw"

        # --- first run: every case polled at least twice, the process alive ------------
        proc = run()
        proc.wait_for_log("scheduler: 8 feeds", timeout=60)

        def polled_twice() -> bool:
            h = health(db)
            good = all(n in h and h[n].items_seen >= 2 * len_of(n) for n in GOOD)
            bad = all(n in h and h[n].last_fetch_at is not None for n in HOSTILE)
            return good and bad and all(h[n].consecutive_failures >= 2 for n in HOSTILE)

        wait_until(polled_twice, 60, "every feed polled twice")
        assert proc.alive
        h = health(db)
        for name, error in HOSTILE.items():
            assert error in (h[name].last_error or ""), (name, h[name].last_error)
            assert h[name].items_new == 0
        assert h["broken"].last_status == 500
        assert (h["rss2"].items_new, h["atom"].items_new) == (3, 2)
        assert feed_server.hits("/sneaky") == []  # refused before any request
        assert (
            len(consume_all(env["FINSENT_KAFKA_BOOTSTRAP_SERVERS"], topic, expect=5, timeout=30))
            == 5
        )

        # --- `finsent sources` shows it ------------------------------------------------
        table = subprocess.run(
            [FINSENT, "sources"], env=env, capture_output=True, text=True, timeout=60, check=True
        ).stdout
        lines = table.splitlines()
        assert lines[0].split()[:3] == ["feed", "state", "last"]
        rows = {line.split()[0]: line for line in lines[1:]}
        assert set(rows) == {*GOOD, *HOSTILE}
        assert " ok " in rows["rss2"] and " failing " in rows["broken"]
        as_json = json.loads(
            subprocess.run(
                [FINSENT, "sources", "--json"],
                env=env,
                capture_output=True,
                text=True,
                timeout=60,
                check=True,
            ).stdout
        )
        assert {r["feed"]: r["items_new"] for r in as_json}["rss2"] == 3

        # --- stop cleanly, add two entries, restart: exactly the two new ones are sent ---
        assert proc.stop(timeout=30) == 0
        assert "scheduler stopped" in proc.log()
        body = (
            (FEEDS / "rss2.xml")
            .read_bytes()
            .replace(
                b"</channel>",
                b"<item><title>Glass maker beats estimates</title><link>https://harbor.example/m/glass</link></item>"
                b"<item><title>Shipping rates fall for a fourth week</title><link>https://harbor.example/m/ship</link></item>"
                b"</channel>",
            )
        )
        feed_server.routes["/rss2"] = Reply(200, body, {"Content-Type": "application/rss+xml"})
        proc = run()
        wait_until(lambda: health(db)["rss2"].items_new == 5, 60, "the two new entries")
        wait_until(lambda: health(db)["rss2"].items_seen >= 3 * 3 + 2 * 5, 60, "two more polls")
        records = consume_all(env["FINSENT_KAFKA_BOOTSTRAP_SERVERS"], topic, idle=3, timeout=30)
        assert len(records) == 7 and len({k for k, _ in records}) == 7

        # --- an edit adds a feed; a broken edit is refused and the feeds kept ------------
        feed_file(feeds_path, feed_server, [*GOOD, *HOSTILE, "rss1"])
        wait_until(lambda: "rss1" in health(db) and health(db)["rss1"].items_new == 2, 30, "rss1")
        feeds_path.write_text(
            "feeds:\n  - {name: ok, url: 'https://a.example/', interval: 9}\n  - oops\n"
        )
        proc.wait_for_log("feed file not reloaded (file changed)", timeout=30)
        assert "feeds.yaml: feed 2: each feed must be a mapping" in proc.log()
        seen = health(db)["rss1"].items_seen
        wait_until(lambda: health(db)["rss1"].items_seen > seen, 30, "rss1 still polled")

        # --- SIGHUP reloads (here: the same, still broken file); an edit drops rss1 ------
        assert proc.proc is not None
        os.kill(proc.proc.pid, signal.SIGHUP)
        proc.wait_for_log("feed file not reloaded (SIGHUP)", timeout=30)
        feed_file(feeds_path, feed_server, [*GOOD])
        proc.wait_for_log("removed broken, html, slow, bomb, loop, sneaky, rss1", timeout=30)
        assert proc.alive
        records = consume_all(env["FINSENT_KAFKA_BOOTSTRAP_SERVERS"], topic, idle=3, timeout=30)
        assert len(records) == 9 and len({k for k, _ in records}) == 9
        assert proc.stop(timeout=30) == 0
        assert "Traceback" not in proc.log()
    finally:
        for p in started:
            p.kill()


def len_of(name: str) -> int:
    return {"rss2": 3, "atom": 2}[name]


def test_a_malformed_feed_file_stops_the_start_naming_the_line(
    env: dict[str, str], tmp_path: Path
) -> None:
    Path(env["FINSENT_FEEDS_FILE"]).write_text(
        "feeds:\n  - {name: a, url: 'https://a.example/', interval: 60}\n"
        "  - {name: b, url: 'gopher://b.example/', interval: 60}\n"
    )
    done = subprocess.run(
        [FINSENT, "scheduler"], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1] == (
        f"error: {env['FINSENT_FEEDS_FILE']} line 3: "
        "url 'gopher://b.example/': only http and https are polled"
    )


def test_no_feed_file_is_a_usage_error(env: dict[str, str]) -> None:
    del env["FINSENT_FEEDS_FILE"]
    done = subprocess.run(
        [FINSENT, "scheduler"], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2 and "FINSENT_FEEDS_FILE" in done.stderr


def test_feeds_dribbling_their_headers_neither_starve_the_others_nor_delay_sigterm(
    feed_server: FeedServer, env: dict[str, str], db: Engine, tmp_path: Path
) -> None:
    """As many feeds as polling threads (FINSENT_FEEDS_CONCURRENCY, 4), each on its own
    host, send their headers a byte every half second (a minute in all): each poll
    ends at the fetch deadline (3 s), a feed added meanwhile is polled, and SIGTERM
    stops the process at once, polls in flight or not."""
    import time

    slow: list[FeedServer] = []
    proc: FinsentProcess | None = None
    try:
        for n in range(2, 6):  # 127.0.0.2-5: four hosts, four host turns
            server = FeedServer(f"127.0.0.{n}")
            server.thread.start()
            server.routes["/feed"] = Reply(200, b"<rss/>", header_drip=0.5)
            slow.append(server)
        feeds_path = Path(env["FINSENT_FEEDS_FILE"])
        lines = ["feeds:"] + [
            f"  - {{name: slow{n}, url: '{s.url('/feed')}', interval: 1, "
            "allow_private_network: true}"
            for n, s in enumerate(slow)
        ]
        feeds_path.write_text("\n".join(lines) + "\n")
        env["FINSENT_FEEDS_CONCURRENCY"] = "4"
        proc = FinsentProcess(["scheduler"], env, tmp_path / "dribble.log").start()
        proc.wait_for_log("scheduler: 4 feeds", timeout=60)
        wait_until(lambda: all(s.hits("/feed") for s in slow), 30, "four polls in flight")

        feed_server.serve_file("/rss2", "rss2.xml")
        lines.append(
            f"  - {{name: rss2, url: '{feed_server.url('/rss2')}', interval: 60, "
            "allow_private_network: true}"
        )
        feeds_path.write_text("\n".join(lines) + "\n")  # reloaded, queued behind them
        wait_until(
            lambda: "rss2" in health(db) and health(db)["rss2"].items_new == 3,
            15,
            "the added feed polled while the slow ones dribble",
        )
        h = health(db)
        for n in range(4):
            assert "gave up after 3s" in (h[f"slow{n}"].last_error or ""), h[f"slow{n}"]

        wait_until(lambda: all(len(s.hits("/feed")) >= 2 for s in slow), 30, "polls in flight")
        started = time.monotonic()
        assert proc.stop(timeout=10) == 0
        assert time.monotonic() - started < 5
        assert "scheduler stopped" in proc.log() and "Traceback" not in proc.log()
    finally:
        if proc is not None:
            proc.kill()
        for s in slow:
            s.httpd.shutdown()
            s.httpd.server_close()
