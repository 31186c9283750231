"""Overview: firing alerts, the market's mood, the watched topics and their heatmap."""

from __future__ import annotations

import streamlit as st

from dashboard import charts, loaders
from dashboard.common import percent, plain, require_data, signed

# Alert webhooks link to the dashboard with ?topic=NAME: open that topic.
if st.query_params.get("topic"):
    st.switch_page("views/topic.py", query_params={"topic": st.query_params["topic"]})

st.title("Overview")

if require_data():
    data = loaders.load()

    @st.fragment(run_every=loaders.config().refresh_interval)
    def live() -> None:
        firing = data.firing()
        if firing:
            for alert in firing:
                st.error(
                    f"**{plain(alert.topic)}**: {plain(alert.rule)} firing since "
                    f"{alert.starts_at:%Y-%m-%d %H:%M} UTC (value {signed(alert.value)}, "
                    f"baseline {signed(alert.baseline)}, threshold {signed(alert.threshold)})",
                    icon=":material/notifications_active:",
                )
        else:
            st.success("No alert is firing.", icon=":material/check_circle:")

        mood = data.mood()
        st.subheader("Market mood: the last hour against the 24 hours before it")
        c1, c2, c3 = st.columns(3)
        c1.metric(
            "Mean polarity, last hour",
            signed(mood.last_hour.mean_polarity),
            delta=None if mood.polarity_change is None else signed(mood.polarity_change),
            help=f"previous 24 h: {signed(mood.previous_day.mean_polarity)}",
        )
        c2.metric(
            "Negative share, last hour",
            percent(mood.last_hour.negative_share),
            delta=(
                None
                if mood.negative_share_change is None
                else f"{100 * mood.negative_share_change:+.1f} pt"
            ),
            delta_color="inverse",
            help=f"previous 24 h: {percent(mood.previous_day.negative_share)}",
        )
        c3.metric(
            "Articles, last hour",
            f"{mood.last_hour.n:,}",
            help=f"previous 24 h: {mood.previous_day.n:,} (first reports only)",
        )
        st.caption(
            f"Previous 24 h: mean polarity {signed(mood.previous_day.mean_polarity)}, "
            f"negative share {percent(mood.previous_day.negative_share)}, "
            f"{mood.previous_day.n:,} articles. Polarity = p(positive) − p(negative)."
        )

        table, cells = data.topics()
        st.subheader("Watched topics, last 24 hours")
        if table.empty:
            st.info("No topic has news in the last 24 hours.")
            return
        # in percent with one decimal: Streamlit's "percent" format drops trailing zeros,
        # so one column would read "100%" above "36.36%"
        st.dataframe(
            table.assign(**{"negative share": table["negative share"] * 100}),
            hide_index=True,
            width="stretch",
            column_config={
                "negative share": st.column_config.NumberColumn(format="%.1f%%"),
                "mean polarity": st.column_config.NumberColumn(format="%+.3f"),
                "volume by hour": st.column_config.BarChartColumn(
                    "articles by hour (24 h)", y_min=0
                ),
            },
        )
        st.subheader("Polarity by topic and hour")
        if len(table) > loaders.HEATMAP_TOPICS:
            st.caption(
                f"The {loaders.HEATMAP_TOPICS} topics with alerts or the most news; "
                "the Topic page shows any of them."
            )
        st.altair_chart(charts.heatmap(cells), width="stretch", height=charts.heatmap_height(cells))

    live()
