"""Topic: polarity and negative share over time with volume, alert periods shaded, and
the headlines behind a picked point. A company is a topic here too (``entity:<id>``,
shown by its name), and its series can keep only the articles mostly about it, or
only news about it."""

from __future__ import annotations

from datetime import UTC, timedelta
from typing import Any

import pandas as pd
import streamlit as st

from dashboard import charts, loaders
from dashboard.common import plain, require_data, signed, topic_label
from storage.buckets import entity_key, key_entity

RANGES = {
    "last hour": 3600,
    "last 6 hours": 6 * 3600,
    "last 24 hours": 86400,
    "last 7 days": 7 * 86400,
    "last 30 days": 30 * 86400,
}
RESOLUTIONS = {"1 min": 60, "5 min": 300, "1 hour": 3600, "1 day": 86400}
DEFAULT_RESOLUTION = {3600: "1 min", 6 * 3600: "5 min", 86400: "1 hour"}
#: Minimum relevance of an article to a company (``entities.relevance``).
RELEVANCE = {
    "any mention": 0,
    "in the first sentence or more": 50,
    "in the headline": 70,
    "the headline's subject": 95,
}

#: The language selector's first choice: articles in every language.
ALL_LANGUAGES = "all languages"

st.title("Topic")


def picked_from(event: Any) -> tuple[str, pd.Timestamp] | None:
    """The (topic, bucket start) of a point clicked on the chart, if any."""
    try:
        points = event.selection[charts.PICK]
    except (AttributeError, KeyError, TypeError):
        return None
    if not points:
        return None
    point = points[0]
    if "topic" not in point or "time" not in point:
        return None
    when = pd.Timestamp(point["time"], unit="ms", tz="UTC")
    return str(point["topic"]), when


if require_data():
    data = loaders.load()
    names = data.topic_names() + [entity_key(e) for e in data.entity_names()]
    linked = st.query_params.get_all("topic")  # alert webhooks link here with ?topic=
    default = [n for n in linked if n in names] or [n for n in ("market",) if n in names]
    default = default or names[:1]
    companies = loaders.company_names()
    chosen = st.multiselect(
        "Topics and companies",
        names,
        default=default,
        key="topics",
        format_func=lambda option: topic_label(option, companies),
    )
    min_relevance, novel_only = 0, False
    if any(key_entity(c) is not None for c in chosen):
        f1, f2 = st.columns(2)
        relevance_label = f1.selectbox(
            "Companies: count articles where the company is", list(RELEVANCE), key="relevance"
        )
        min_relevance = RELEVANCE[relevance_label]
        novel_only = f2.checkbox(
            "News only (the first story of its kind about the company within 24 h)",
            key="novel",
        )
    c1, c2, c3 = st.columns(3)
    range_label = c1.selectbox("Time range", list(RANGES), index=2, key="range")
    range_s = RANGES[range_label]
    resolution_label = c2.selectbox(
        "Resolution",
        list(RESOLUTIONS),
        index=list(RESOLUTIONS).index(DEFAULT_RESOLUTION.get(range_s, "1 day")),
        key="resolution",
    )
    resolution_s = RESOLUTIONS[resolution_label]
    lang_label = c3.selectbox("Language", [ALL_LANGUAGES, *data.languages()], key="lang")
    lang = None if lang_label == ALL_LANGUAGES else lang_label
    if range_s // resolution_s > loaders.MAX_POINTS:
        coarser = next(
            label for label, s in RESOLUTIONS.items() if range_s // s <= loaders.MAX_POINTS
        )
        st.caption(
            f"{resolution_label} over the {range_label} is more than {loaders.MAX_POINTS} "
            f"points per topic: showing {coarser}."
        )
        resolution_label, resolution_s = coarser, RESOLUTIONS[coarser]

    if not chosen:
        st.info("Pick one or more topics.")
        st.stop()

    points, periods = data.series(
        tuple(chosen), range_s, resolution_s, min_relevance, novel_only, lang
    )
    event = st.altair_chart(
        charts.polarity(points, periods),
        width="stretch",
        height=300,
        on_select="rerun",
        selection_mode=charts.PICK,
        key="series",
    )
    st.altair_chart(charts.negative_share(points, periods), width="stretch", height=200)
    st.altair_chart(charts.volume(points), width="stretch", height=170)
    if not periods.empty:
        st.caption(
            "Alert periods in range: "
            + "; ".join(
                f"{plain(r.topic)} {plain(r.rule)} {r.start:%m-%d %H:%M}–{r.end:%m-%d %H:%M}"
                for r in periods.itertuples()
            )
        )

    st.subheader("Headlines behind a point")
    busy = points[points["volume"] > 0].sort_values("time", ascending=False)
    if busy.empty:
        st.info("No articles on these topics in this range.")
        st.stop()
    rows = busy[["topic", "time", "volume", "mean polarity"]].itertuples(index=False, name=None)
    stats = {(str(t), pd.Timestamp(when)): (int(n), mean) for t, when, n, mean in rows}
    options = list(stats)

    def describe(option: tuple[str, pd.Timestamp]) -> str:
        n, mean = stats[option]
        mean_text = signed(None if pd.isna(mean) else float(mean))
        when, label = option[1], topic_label(option[0], companies)
        return f"{when:%Y-%m-%d %H:%M} · {label} · {n} articles · mean {mean_text}"

    picked = picked_from(event)
    if picked is not None and picked in stats and st.session_state.get("_last_pick") != picked:
        st.session_state["point"] = picked
    st.session_state["_last_pick"] = picked
    if st.session_state.get("point") not in stats:
        st.session_state.pop("point", None)
    point = st.selectbox(
        "Point (or click one on the chart)", options, format_func=describe, key="point"
    )
    topic, start = point
    start_dt = start.to_pydatetime().astimezone(UTC)
    headlines = data.headlines(
        topic, start_dt, start_dt + timedelta(seconds=resolution_s), min_relevance, novel_only, lang
    )
    st.caption(
        f"{plain(topic_label(topic, companies))}, {start_dt:%Y-%m-%d %H:%M}–"
        f"{start_dt + timedelta(seconds=resolution_s):%H:%M} UTC: most negative first, "
        "then most positive."
    )
    st.dataframe(
        headlines,
        hide_index=True,
        width="stretch",
        column_config={
            "published": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm:ss"),
            "link": st.column_config.LinkColumn(display_text="open"),
            "confidence": st.column_config.NumberColumn(format="percent"),
            "polarity": st.column_config.NumberColumn(format="%+.3f"),
            "also reported by": None,
        },
    )
