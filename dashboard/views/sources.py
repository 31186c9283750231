"""Sources and model: feed health, the model in use, the pipeline's counters."""

from __future__ import annotations

import streamlit as st

from dashboard import frames, loaders
from dashboard.common import plain, show_state

#: A worker whose counters are older than this is shown as not reporting.
STALE_S = 60.0

st.title("Sources and model")
config = loaders.config()
state = loaders.database_state()
show_state(state)  # feeds, workers and the model are worth showing before any article
data = loaders.load() if state.status in ("ready", "empty") else None


@st.fragment(run_every=config.refresh_interval)
def live() -> None:
    assert data is not None
    st.subheader("Feeds")
    health = data.health()
    if health.empty:
        st.caption("No feed has been polled yet (the feed scheduler reports here).")
    else:
        failing = int((health["state"] == "failing").sum())
        st.caption(f"{len(health)} feeds, {failing} failing.")
        st.dataframe(
            health,
            hide_index=True,
            width="stretch",
            column_config={"url": st.column_config.LinkColumn()},
        )

    st.subheader("Pipeline")
    counters = data.counters()
    fresh = data.freshness()
    m1, m2, m3, m4, m5 = st.columns(5)
    m1.metric("Processed", f"{int(counters['processed'].sum()):,}")
    m2.metric("Dead-lettered", f"{int(counters['dead-lettered'].sum()):,}")
    m3.metric("Retried", f"{int(counters['retried'].sum()):,}")
    lag = frames.group_lag(counters, STALE_S)
    m4.metric(
        "Consumer lag",
        "–" if lag is None else f"{lag:,}",
        help="Records the worker group has not committed yet: each partition's log end "
        "offset minus the group's committed offset, summed over the workers that reported "
        f"in the last {STALE_S:.0f} s. The embedded broker reports the end of a partition "
        "written in batches short (its last batch's start + 1): exact on Apache Kafka.",
    )
    m5.metric(
        "Fetch → stored (median)",
        "–" if fresh.median_delay_s is None else f"{fresh.median_delay_s:.1f} s",
        help=f"over the {fresh.sample} newest articles",
    )
    if fresh.newest_published_at is not None:
        st.caption(
            f"Newest article published {fresh.newest_published_at:%Y-%m-%d %H:%M:%S} UTC, "
            f"stored {fresh.newest_stored_at:%Y-%m-%d %H:%M:%S} UTC."
        )
    if counters.empty:
        st.caption("No worker has reported its counters yet.")
    else:
        reporting = int((counters["seconds since update"] <= STALE_S).sum())
        st.caption(
            f"{reporting} of {len(counters)} worker agents reported in the last "
            f"{STALE_S:.0f} s; counts are since each worker started."
        )
        st.dataframe(counters, hide_index=True, width="stretch")

    st.subheader("Model")
    models = data.models()
    if models.empty:
        st.caption("No article has been scored yet.")
    else:
        top = models.iloc[0]
        m1, m2 = st.columns(2)
        m1.metric("Model in use", str(top["model"]))
        m2.metric("Revision", str(top["revision"]))
        if len(models) > 1:
            st.caption("Several models scored the newest articles (an upgrade in progress?):")
            st.dataframe(models, hide_index=True, width="stretch")
    st.caption(
        f"Configured device: {plain(config.model_device)}; variant: "
        f"{plain(config.model_variant)}; path: {plain(config.model_path or '–')}"
    )
    card = loaders.model_card(config.model_path)
    if card is None:
        st.caption("No model card (metrics.json) readable at the configured model path.")
    else:
        figures = frames.card_metrics(card)
        cols = st.columns(4)
        for i, key in enumerate(k for k in ("accuracy", "macro_f1") if k in figures):
            cols[i].metric(
                "Accuracy" if key == "accuracy" else "Macro-F1", f"{float(figures[key]):.3f}"
            )
        st.dataframe(
            {"figure": list(figures), "value": [str(v) for v in figures.values()]},
            hide_index=True,
        )


if data is not None:
    live()
