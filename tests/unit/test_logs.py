"""What finsent's logging lets through to the terminal."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from finsent import logs


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    names = ("", *logs.KAFKA_CLIENTS, *logs.CHATTY, "kafka.net.manager")
    levels = {name: logging.getLogger(name).level for name in names}
    handlers = logging.getLogger().handlers[:]
    yield
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)
    logging.getLogger().handlers[:] = handlers


def test_kafka_client_errors_stay_out_of_the_terminal(
    capsys: pytest.CaptureFixture[str],
) -> None:
    logs.configure("INFO")
    logging.getLogger("kafka.net.manager").error("Connection failed: 111 ECONNREFUSED")
    logging.getLogger("aiokafka.conn").error("Unable connect to node")
    logging.getLogger("finsent.cli").warning("our own warning")
    err = capsys.readouterr().err
    assert "ECONNREFUSED" not in err and "Unable connect" not in err
    assert "our own warning" in err


def test_debug_lets_the_kafka_clients_speak(capsys: pytest.CaptureFixture[str]) -> None:
    logs.configure("DEBUG")
    logging.getLogger("kafka.net.manager").debug("connecting to bootstrap-0")
    logging.getLogger("aiokafka.conn").error("Unable connect to node")
    err = capsys.readouterr().err
    assert "connecting to bootstrap-0" in err and "Unable connect" in err


def test_chatty_libraries_keep_their_warnings(capsys: pytest.CaptureFixture[str]) -> None:
    logs.configure("INFO")
    logging.getLogger("httpx").info("HTTP Request: GET /")
    logging.getLogger("httpx").warning("slow answer")
    err = capsys.readouterr().err
    assert "GET /" not in err and "slow answer" in err


def test_json_lines_for_log_shippers(capsys: pytest.CaptureFixture[str]) -> None:
    import json

    logs.configure("INFO", prefix="worker", fmt="json")
    logging.getLogger("faust.worker").info("[^Worker]: Ready")
    try:
        raise ValueError("bad batch\nsecond line")
    except ValueError:
        logging.getLogger("streams.agents").exception("persist: unexpected error")
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 2  # one line per record, tracebacks included
    ready, error = (json.loads(line) for line in lines)
    assert ready["message"] == "[^Worker]: Ready" and ready["logger"] == "faust.worker"
    assert ready["level"] == "INFO" and ready["process"] == "worker"
    assert ready["time"].endswith("+00:00")
    assert error["level"] == "ERROR" and "ValueError: bad batch" in error["exception"]


def test_text_is_one_format_for_every_logger(capsys: pytest.CaptureFixture[str]) -> None:
    logs.configure("INFO")
    logging.getLogger("faust.worker").info("[^Worker]: Ready")
    logging.getLogger("streams.agents").warning("saving to the database failed")
    import re

    lines = capsys.readouterr().err.splitlines()
    shape = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (INFO|WARNING) +([\w.]+): (.*)"
    assert [re.fullmatch(shape, line).groups() for line in lines] == [  # type: ignore[union-attr]
        ("INFO", "faust.worker", "[^Worker]: Ready"),
        ("WARNING", "streams.agents", "saving to the database failed"),
    ]


def test_a_warning_that_repeats_is_held_back_and_then_counted() -> None:
    now = [0.0]
    repeats = logs.RepeatFilter(burst=3, window=60.0, clock=lambda: now[0])

    def record(partition: int, level: int = logging.ERROR) -> logging.LogRecord:
        message = "OffsetCommit failed for %s"
        return logging.LogRecord("aiokafka", level, __file__, 1, message, (partition,), None)

    passed = [repeats.filter(r) for r in [record(p) for p in range(58)]]
    assert passed == [True] * 3 + [False] * 55  # the same kind, whatever the arguments
    other = logging.LogRecord("finsent", logging.ERROR, __file__, 1, "another", None, None)
    assert repeats.filter(other)
    assert all(repeats.filter(record(p, logging.INFO)) for p in range(10))  # INFO passes
    now[0] = 61.0
    after = record(7)
    assert repeats.filter(after)
    assert after.getMessage() == (
        "OffsetCommit failed for 7 (and 55 more like it in the last 60s, not shown)"
    )
    assert repeats.filter(record(8))
    assert record(9).getMessage() == "OffsetCommit failed for 9"  # counted once only


def test_the_terminal_gets_a_few_lines_of_a_flood(capsys: pytest.CaptureFixture[str]) -> None:
    logs.configure("INFO")
    for partition in range(100):
        logging.getLogger("faust.transport.consumer").warning("commit failed on %d", partition)
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == logs.RepeatFilter().burst
    assert lines[0].endswith("commit failed on 0")
