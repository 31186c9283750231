"""The API's row models read ``storage``'s views by attribute name: each field is one
the view carries, so a renamed view attribute fails here, not in a user's request."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest
from pydantic import BaseModel

from api.schemas import AlertOut, ArticleOut, SourceOut
from storage.alerts import AlertView
from storage.articles import ArticleView
from storage.feeds import SourceHealthView


def attributes(view: type) -> set[str]:
    """A view's fields and its properties."""
    fields = {f.name for f in dataclasses.fields(view)}
    return fields | {name for name, value in vars(view).items() if isinstance(value, property)}


@pytest.mark.parametrize(
    ("model", "view"),
    [(ArticleOut, ArticleView), (AlertOut, AlertView), (SourceOut, SourceHealthView)],
)
def test_every_field_of_a_row_model_is_an_attribute_of_its_view(
    model: type[BaseModel], view: type
) -> None:
    assert set(model.model_fields) <= attributes(view)


def test_an_article_reads_as_its_fields_with_lists_and_its_confidence() -> None:
    view = ArticleView(
        id="a1",
        source="wire",
        url="https://example.com/a1",
        title="Acme raises its outlook",
        published_at=datetime(2026, 12, 7, 9, 30, tzinfo=UTC),
        label="positive",
        p_negative=0.1,
        p_neutral=0.2,
        p_positive=0.7,
        polarity=0.6,
        model_name="finsent-sentiment",
        topics=("acme", "earnings"),
        tickers=("ACME",),
        duplicate_of=None,
    )
    row = ArticleOut.from_view(view).model_dump()
    assert row["topics"] == ["acme", "earnings"] and row["tickers"] == ["ACME"]
    assert row["confidence"] == view.confidence
    assert {k: v for k, v in row.items() if k not in ("topics", "tickers", "confidence")} == {
        k: v for k, v in dataclasses.asdict(view).items() if k not in ("topics", "tickers")
    }
