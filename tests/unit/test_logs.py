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
