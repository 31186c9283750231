"""Live feed: the latest scored headlines, newest first, duplicates folded under the
first report."""

from __future__ import annotations

import streamlit as st

from dashboard import loaders
from dashboard.common import require_data

WINDOWS = {"last hour": 3600, "last 24 hours": 86400, "last 7 days": 7 * 86400}
LABELS = ["negative", "neutral", "positive"]
ANY = "any"

st.title("Live feed")

if require_data():
    data = loaders.load()
    c1, c2, c3, c4, c5 = st.columns([2, 1, 2, 1, 1])
    topic = c1.selectbox("Topic", [ANY, *data.topic_names()], key="feed_topic")
    label = c2.selectbox("Label", [ANY, *LABELS], key="feed_label")
    source = c3.selectbox("Source", [ANY, *data.source_names()], key="feed_source")
    lang = c4.selectbox("Language", [ANY, *data.languages()], key="feed_lang")
    window = c5.selectbox("Published", list(WINDOWS), index=1, key="feed_window")
    text = st.text_input("Headline contains", key="feed_text").strip()
    limit = st.slider("Headlines", 10, 500, 100, step=10, key="feed_limit")

    @st.fragment(run_every=loaders.config().refresh_interval)
    def live() -> None:
        feed = data.feed(
            None if topic == ANY else topic,
            None if label == ANY else label,
            None if source == ANY else source,
            text or None,
            WINDOWS[window],
            limit,
            None if lang == ANY else lang,
        )
        if feed.empty:
            st.info("No headline matches these filters.")
            return
        folded = int((feed["also reported by"] != "").sum())
        st.caption(
            f"{len(feed)} first reports, newest first; {folded} of them also reported "
            "by other sources (their copies are folded into the last column)."
        )
        st.dataframe(
            feed,
            hide_index=True,
            width="stretch",
            column_config={
                "published": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm:ss"),
                "confidence": st.column_config.NumberColumn(format="percent"),
                "polarity": st.column_config.NumberColumn(format="%+.3f"),
                "title": st.column_config.TextColumn(width="large"),
                "link": st.column_config.LinkColumn(display_text="open"),
            },
        )

    live()
