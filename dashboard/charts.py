"""Altair charts: pure functions of the DataFrames in ``dashboard.frames``."""

from __future__ import annotations

import altair as alt
import pandas as pd

#: Name of the point selection on the series chart (read back by the Topic page).
PICK = "pick"

POLARITY_SCALE = alt.Scale(domain=[-1, 1], scheme="redyellowgreen")
#: Times are drawn in UTC whatever the browser's time zone (the stored buckets are UTC).
UTC = alt.Scale(type="utc")


def heatmap_height(cells: pd.DataFrame) -> int:
    """Pixels for the heatmap: a readable row per topic."""
    return 26 * max(1, int(cells.loc[cells["volume"] > 0, "topic"].nunique())) + 70


def heatmap(cells: pd.DataFrame) -> alt.Chart:
    """Topic x hour, coloured by mean polarity (red negative, green positive); empty
    hours are blank. Expects the columns of ``frames.series_frame``."""
    data = cells[cells["volume"] > 0]
    chart: alt.Chart = (
        alt.Chart(data)
        .mark_rect()
        .encode(
            x=alt.X(
                "time:T",
                timeUnit="utcyearmonthdatehours",
                title="hour (UTC)",
                axis=alt.Axis(format="%d %H:%M"),
            ),
            y=alt.Y("topic:N", title=None, sort=None, axis=alt.Axis(labelOverlap=False)),
            color=alt.Color("mean polarity:Q", scale=POLARITY_SCALE, title="polarity"),
            tooltip=[
                alt.Tooltip("topic:N"),
                alt.Tooltip("time:T", format="%Y-%m-%d %H:%M", title="hour (UTC)"),
                alt.Tooltip("volume:Q"),
                alt.Tooltip("mean polarity:Q", format="+.3f"),
                alt.Tooltip("negative share:Q", format=".1%"),
            ],
        )
        .properties(height=heatmap_height(data))
    )
    return chart


def _base(points: pd.DataFrame) -> alt.Chart:
    return alt.Chart(points).encode(
        x=alt.X("time:T", title="time (UTC)", scale=UTC),
        color=alt.Color("topic:N", title="topic"),
    )


def _tooltip() -> list[alt.Tooltip]:
    return [
        alt.Tooltip("topic:N"),
        alt.Tooltip("time:T", format="%Y-%m-%d %H:%M", title="bucket start (UTC)"),
        alt.Tooltip("volume:Q"),
        alt.Tooltip("mean polarity:Q", format="+.3f"),
        alt.Tooltip("negative share:Q", format=".1%"),
    ]


def _shade(periods: pd.DataFrame) -> list[alt.Chart]:
    """Alert periods as translucent red spans (no layer when there are none)."""
    if periods.empty:
        return []
    shade: alt.Chart = (
        alt.Chart(periods)
        .mark_rect(opacity=0.15, color="#d62728")
        .encode(
            x=alt.X("start:T", scale=UTC),
            x2="end:T",
            tooltip=[alt.Tooltip("topic:N"), alt.Tooltip("rule:N"), alt.Tooltip("status:N")],
        )
    )
    return [shade]


def polarity(points: pd.DataFrame, periods: pd.DataFrame) -> alt.LayerChart:
    """Mean polarity over time, one line per topic, alert periods shaded. Clicking
    selects the nearest point (the selection named ``PICK``: its topic and time)."""
    pick = alt.selection_point(name=PICK, fields=["topic", "time"], on="click", nearest=True)
    y = alt.Y("mean polarity:Q", scale=alt.Scale(domain=[-1, 1]), title="mean polarity")
    line = _base(points).mark_line().encode(y=y)
    # the selection sits on the points: Vega-Lite's "nearest" works on point marks only
    dots = (
        _base(points)
        .mark_circle(size=40, opacity=1)
        .encode(y=y, tooltip=_tooltip())
        .add_params(pick)
    )
    return alt.LayerChart(
        layer=[*_shade(periods), line, dots],
        height=240,
        title="mean polarity (alert periods shaded; click a point)",
    )


def negative_share(points: pd.DataFrame, periods: pd.DataFrame) -> alt.LayerChart:
    """Share of negative articles over time, alert periods shaded."""
    line = (
        _base(points)
        .mark_line(point=True, strokeDash=[4, 3])
        .encode(
            y=alt.Y("negative share:Q", scale=alt.Scale(domain=[0, 1]), title="negative share"),
            tooltip=_tooltip(),
        )
    )
    return alt.LayerChart(layer=[*_shade(periods), line], height=160, title="negative share")


def volume(points: pd.DataFrame) -> alt.Chart:
    """Articles per bucket, stacked by topic."""
    chart: alt.Chart = (
        _base(points)
        .mark_bar()
        .encode(y=alt.Y("volume:Q", title="articles"), tooltip=_tooltip())
        .properties(height=120, title="volume")
    )
    return chart
