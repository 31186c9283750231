"""How a worker tells that its broker lost or re-created its topics."""

from __future__ import annotations

from streams.topics import TopicShape, topic_changes
from streams.worker import TopicWatch

BEFORE = {"news.raw": TopicShape("a1", 8), "news.scored": TopicShape("b2", 8)}


def test_the_same_topics_are_no_change() -> None:
    assert topic_changes(BEFORE, dict(BEFORE)) == []


def test_gone_re_created_and_repartitioned_topics_are_named() -> None:
    now = {"news.raw": TopicShape("c3", 4)}
    assert topic_changes(BEFORE, now) == [
        "news.raw was re-created (4 partitions)",
        "news.scored is gone",
    ]
    no_ids = {"news.raw": TopicShape(None, 8), "news.scored": TopicShape(None, 8)}
    assert topic_changes(no_ids, {**no_ids, "news.raw": TopicShape(None, 4)}) == [
        "news.raw has 4 partitions, not 8"
    ]


def test_a_broker_without_topic_ids_is_compared_by_partitions_only() -> None:
    assert topic_changes({"t": TopicShape(None, 2)}, {"t": TopicShape("x", 2)}) == []


def test_the_watch_stops_only_after_two_looks_in_a_row_saw_a_change() -> None:
    watch = TopicWatch(dict(BEFORE))
    assert watch.look({}) == []  # a broker still starting may not list them yet
    assert watch.look(BEFORE) == []
    assert watch.look({"news.raw": TopicShape("c3", 4)}) == []
    assert watch.look({"news.raw": TopicShape("c3", 4)}) == [
        "news.raw was re-created (4 partitions)",
        "news.scored is gone",
    ]
    assert watch.lost == ["news.raw was re-created (4 partitions)", "news.scored is gone"]


def test_gone_re_created_and_shrunk_topics_are_read_again_from_the_start() -> None:
    from streams.topics import recreated_topics

    now = {
        "news.raw": TopicShape("c3", 8),  # another id: a new log
        "news.scored": TopicShape("b2", 16),  # more partitions: the old ones are intact
    }
    assert recreated_topics(BEFORE, now) == ["news.raw"]
    assert recreated_topics(BEFORE, {"news.raw": TopicShape("a1", 8)}) == ["news.scored"]
    assert recreated_topics({"t": TopicShape(None, 8)}, {"t": TopicShape(None, 4)}) == ["t"]
    assert recreated_topics(BEFORE, dict(BEFORE)) == []
