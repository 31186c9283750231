import socket
import struct

import pytest

from streams.broker_process import (
    answers_metadata,
    check_port_free,
    free_port,
    metadata_request,
)
from streams.exceptions import BrokerPortInUse


def test_metadata_request_is_a_framed_v0_request() -> None:
    frame = metadata_request(7, client_id="abc")
    size, api_key, version, correlation = struct.unpack(">ihhi", frame[:12])
    assert size == len(frame) - 4
    assert (api_key, version, correlation) == (3, 0, 7)
    assert frame.endswith(b"abc" + struct.pack(">i", 0))


def test_a_taken_port_is_reported() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        with pytest.raises(BrokerPortInUse, match=f"port {port} on 127.0.0.1 is already in use"):
            check_port_free("127.0.0.1", port)


def test_a_free_port_is_free() -> None:
    check_port_free("127.0.0.1", free_port())


def test_a_port_whose_connections_wait_in_time_wait_is_free() -> None:
    """What a stopped broker leaves: closed connections in TIME-WAIT, nothing listening."""
    with socket.socket() as server:
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the broker binds
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        client = socket.create_connection(("127.0.0.1", port))
        accepted, _ = server.accept()
        accepted.close()  # the server's side closes first: its end of it waits in TIME-WAIT
        client.close()
    check_port_free("127.0.0.1", port)


def test_nothing_listening_does_not_answer() -> None:
    assert not answers_metadata("127.0.0.1", free_port(), timeout=0.5)


def test_a_silent_listener_does_not_answer() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        assert not answers_metadata("127.0.0.1", s.getsockname()[1], timeout=0.3)
