"""In-memory stand-ins for the scheduler's store and sink, shared by the sources tests."""

from __future__ import annotations

from typing import Any

from storage.feeds import SourcePoll


class Memory:
    """The published-items store and the poll log, in memory."""

    def __init__(self) -> None:
        self.published: set[str] = set()
        self.polls: list[SourcePoll] = []

    def already_published(self, ids: list[str]) -> set[str]:
        return self.published & set(ids)

    def remember(self, records: list[Any]) -> None:
        self.published |= {r.id for r in records}

    def record_poll(self, poll: SourcePoll) -> None:
        self.polls.append(poll)


class Sink:
    """A broker that acknowledges everything it is sent."""

    def __init__(self) -> None:
        self.sent: list[str] = []

    def send_batch(self, items: list[Any]) -> list[str]:
        self.sent += [i.id for i in items]
        return [i.id for i in items]
