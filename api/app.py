"""The read API: FastAPI routes over ``storage``'s reads, the same the dashboard runs.

Every route but ``/v1/health`` asks for a bearer token when tokens are configured. Query
parameters are checked before any query runs (times with a zone, known resolutions and
labels, limits 1..1000, cursors this API gave out): a bad one is a 422 naming it. Lists
are keyset pages, newest first in a total order, each with the ``next`` page's link.
Routes are plain functions: FastAPI runs them in its thread pool, beside the synchronous
database driver.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Annotated, Literal, Protocol, TypeVar, get_args

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request, Response
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import AwareDatetime
from sqlalchemy.exc import InterfaceError, OperationalError

from api.auth import token_accepted
from api.config import ApiConfig
from api.pages import BadCursor, decode_cursor, next_link
from api.schemas import (
    AlertOut,
    AlertPage,
    ArticleOut,
    ArticlePage,
    Health,
    Series,
    SeriesPointOut,
    SourceOut,
    TopicOut,
)
from core.errors import first_line
from storage.alerts import list_alerts
from storage.articles import (
    filtered_series,
    latest_articles,
    schema_ready,
    topic_series,
    topic_summaries,
)
from storage.buckets import RESOLUTIONS, floor_time
from storage.feeds import source_health
from storage.models import ALERT_STATUSES, LABELS

log = logging.getLogger(__name__)

Resolution = Literal["1min", "5min", "1h", "1d"]
Label = Literal["negative", "neutral", "positive"]
AlertStatus = Literal["firing", "resolved"]
# the vocabularies are storage's: a value added there must be offered here too
assert set(get_args(Resolution)) == set(RESOLUTIONS)
assert get_args(Label) == LABELS and get_args(AlertStatus) == ALERT_STATUSES

#: A series without ``start`` covers this much before ``end``.
DEFAULT_SPAN = timedelta(days=1)
MAX_KEYS = 20

Limit = Annotated[int, Query(ge=1, le=1000, description="Rows per page, 1..1000.")]
Cursor = Annotated[
    str | None, Query(description="Where the page starts: from the previous page's next link.")
]
Start = Annotated[
    AwareDatetime | None, Query(description="From this time on (ISO 8601 with a zone).")
]
End = Annotated[AwareDatetime | None, Query(description="Before this time (ISO 8601 with a zone).")]
LangQuery = Annotated[
    str | None,
    Query(
        pattern=r"^[a-z]{2,8}$",
        description="Only articles in this language (a primary subtag: en, zh).",
    ),
]

bearer = HTTPBearer(
    auto_error=False,
    description="One of the tokens in FINSENT_API_TOKEN (none set: no token is asked).",
)


def config(request: Request) -> ApiConfig:
    """This app's configuration (``create_app`` keeps it in the app's state)."""
    found: ApiConfig = request.app.state.config
    return found


Config = Annotated[ApiConfig, Depends(config)]


def authorize(
    settings: Config,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> None:
    """Let the request through with a configured token, or when none is configured."""
    if not settings.tokens:
        return
    if credentials is None or not token_accepted(credentials.credentials, settings.tokens):
        raise HTTPException(
            status_code=401,
            detail="a valid token is needed: Authorization: Bearer <token>",
            headers={"WWW-Authenticate": "Bearer"},
        )


public = APIRouter(prefix="/v1")
router = APIRouter(prefix="/v1", dependencies=[Depends(authorize)])


def create_app(settings: ApiConfig) -> FastAPI:
    """The API on ``settings``' database; OpenAPI at ``/openapi.json``, docs at ``/docs``."""
    app = FastAPI(
        title="finsent read API",
        version=settings.version,
        description="Sentiment series, articles, alerts and feed health, read from "
        "finsent's database. Send `Authorization: Bearer <token>` (FINSENT_API_TOKEN).",
        docs_url="/docs",
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    app.state.config = settings
    app.include_router(public)
    app.include_router(router)
    app.add_exception_handler(OperationalError, database_unavailable)
    app.add_exception_handler(InterfaceError, database_unavailable)
    app.add_exception_handler(OverflowError, time_out_of_range)
    return app


async def database_unavailable(_request: Request, error: Exception) -> JSONResponse:
    """A database that does not answer is the server's trouble, said plainly: 503."""
    log.warning("database unavailable: %s", first_line(error))
    return JSONResponse(
        status_code=503, content={"detail": "the database does not answer; try again later"}
    )


async def time_out_of_range(_request: Request, _error: Exception) -> JSONResponse:
    """A time at the edge of the calendar (year 1, year 9999) that a range or a time zone
    pushes past it: the parameter's fault, not the server's."""
    return JSONResponse(
        status_code=422, content={"detail": "a time is out of range (years 1 to 9999, UTC)"}
    )


def unprocessable(message: str) -> HTTPException:
    return HTTPException(status_code=422, detail=message)


def time_range(start: datetime | None, end: datetime | None) -> None:
    """Refuse a range that ends before it starts."""
    if start is not None and end is not None and end <= start:
        raise unprocessable(f"end {end.isoformat()} is not after start {start.isoformat()}")


def after(cursor: str | None) -> tuple[datetime, str] | None:
    try:
        return None if cursor is None else decode_cursor(cursor)
    except BadCursor as e:
        raise unprocessable(str(e)) from None


class Keyed(Protocol):
    """A listed row: where it stands in its list's order (``storage``'s views)."""

    @property
    def key(self) -> tuple[datetime, str]: ...


V = TypeVar("V", bound=Keyed)


def cut_page(views: Sequence[V], limit: int, request: Request) -> tuple[Sequence[V], str | None]:
    """The page of ``views`` (read with ``limit + 1`` rows) and the link to the next one:
    None when the extra row is not there, the list's end."""
    page = views[:limit]
    if len(views) <= limit:
        return page, None
    return page, next_link(request.url.path, request.query_params.multi_items(), page[-1].key)


# --- routes ----------------------------------------------------------------------------


@public.get("/health", response_model=Health, responses={503: {"model": Health}})
def health(settings: Config, response: Response) -> Health:
    """Whether the API can read its database (no token needed: a liveness probe)."""
    try:
        ready = schema_ready(settings.engine)
    except (OperationalError, InterfaceError) as e:
        log.warning("health: database unavailable: %s", first_line(e))
        response.status_code = 503
        return Health(status="unavailable", database="does not answer")
    if not ready:
        response.status_code = 503
        return Health(status="unavailable", database="unmigrated: run finsent db upgrade")
    return Health(status="ok", database="ok")


@router.get("/topics", response_model=list[TopicOut])
def topics(
    settings: Config,
    hours: Annotated[int, Query(ge=1, le=168, description="Hours back from now.")] = 24,
) -> list[TopicOut]:
    """Every topic with news in the last ``hours`` (or a firing alert): totals, one point
    per hour, firing alerts; those with firing alerts first, then the busiest."""
    summaries = topic_summaries(settings.engine, settings.clock(), hours)
    return [TopicOut.from_view(s) for s in summaries]


@router.get("/series", response_model=Series)
def series(
    settings: Config,
    key: Annotated[
        list[str],
        Query(
            min_length=1,
            max_length=MAX_KEYS,
            description=f"A series key (a topic name); repeat for up to {MAX_KEYS}.",
        ),
    ],
    resolution: Annotated[Resolution, Query(description="Bucket width.")] = "1h",
    start: Start = None,
    end: End = None,
    lang: LangQuery = None,
) -> Series:
    """Counts and mean polarity per bucket over [start, end), zero-filled, read from the
    stored buckets (from the articles when filtered by language). Defaults: the last
    day up to now."""
    end = end or settings.clock()
    start = start or end - DEFAULT_SPAN
    time_range(start, end)
    width = RESOLUTIONS[resolution]
    try:
        if lang is None:
            points = topic_series(settings.engine, key, start, end, width)
        else:
            points = [
                point
                for one in key
                for point in filtered_series(settings.engine, one, start, end, width, lang=lang)
            ]
    except ValueError as e:  # too many points for one answer
        raise unprocessable(str(e)) from None
    return Series(
        resolution=resolution,
        start=floor_time(start, width),
        end=end,
        points=[SeriesPointOut.from_view(p) for p in points],
    )


@router.get("/articles", response_model=ArticlePage)
def articles(
    settings: Config,
    request: Request,
    topic: str | None = None,
    source: str | None = None,
    label: Label | None = None,
    q: Annotated[
        str | None, Query(max_length=200, description="Text in the title (any case).")
    ] = None,
    start: Start = None,
    end: End = None,
    duplicates: Annotated[bool, Query(description="false: first reports only.")] = True,
    limit: Limit = 50,
    cursor: Cursor = None,
    lang: LangQuery = None,
) -> ArticlePage:
    """Articles newest first, with their sentiment and topics, by published time."""
    time_range(start, end)
    views = latest_articles(
        settings.engine,
        topic=topic,
        source=source,
        label=label,
        text=q,
        since=start,
        until=end,
        include_duplicates=duplicates,
        after=after(cursor),
        limit=limit + 1,
        lang=lang,
    )
    page, following = cut_page(views, limit, request)
    return ArticlePage(items=[ArticleOut.from_view(a) for a in page], next=following)


@router.get("/alerts", response_model=AlertPage)
def alerts(
    settings: Config,
    request: Request,
    status: AlertStatus | None = None,
    topic: str | None = None,
    start: Start = None,
    end: End = None,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> AlertPage:
    """Alerts newest first; ``start``/``end`` bound when they started."""
    time_range(start, end)
    views = list_alerts(
        settings.engine,
        status=status,
        topic=topic,
        since=start,
        until=end,
        after=after(cursor),
        limit=limit + 1,
    )
    page, following = cut_page(views, limit, request)
    return AlertPage(items=[AlertOut.from_view(a) for a in page], next=following)


@router.get("/sources", response_model=list[SourceOut])
def sources(settings: Config) -> list[SourceOut]:
    """Every feed's health, by name."""
    return [SourceOut.from_view(h) for h in source_health(settings.engine)]
