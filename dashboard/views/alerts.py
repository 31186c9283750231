"""Alerts: firing and resolved, with their numbers, the headlines that drove them, and
the webhook deliveries per receiver."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import streamlit as st

from dashboard import frames, loaders
from dashboard.common import plain, require_data, signed
from storage.alerts import match_deliveries

DAYS = {"last 24 hours": 1, "last 7 days": 7, "last 30 days": 30}
SHOWN = 30  # alerts with their details expanded below the table
MINUTE = timedelta(minutes=1)

st.title("Alerts")

if require_data():
    data = loaders.load()
    c1, c2 = st.columns(2)
    status = c1.selectbox("Status", ["firing and resolved", "firing", "resolved"], key="status")
    window = c2.selectbox("Started", list(DAYS), index=1, key="alerts_window")

    @st.fragment(run_every=loaders.config().refresh_interval)
    def live() -> None:
        now = datetime.now(UTC)
        wanted = None if status == "firing and resolved" else status
        alerts = data.alerts(wanted, DAYS[window], 500)
        firing = [a for a in alerts if a.status == "firing"]
        resolved = [a for a in alerts if a.status != "firing"]
        evaluator = data.evaluator()
        m1, m2, m3 = st.columns(3)
        m1.metric("Firing", len(firing))
        m2.metric("Resolved", len(resolved))
        m3.metric(
            "Late items",
            evaluator.late_items if evaluator else 0,
            help="Items stored after the rules had evaluated their minute (later than "
            "FINSENT_ALERTS_SETTLE, the allowed lateness): windows that ended before they "
            "came did not see them.",
        )
        if evaluator is None:
            st.caption("The rules have not been evaluated yet.")
        else:
            upto = f"{evaluator.as_of:%Y-%m-%d %H:%M} UTC" if evaluator.as_of else "-"
            st.caption(
                f"Rules last evaluated {evaluator.last_run_at:%Y-%m-%d %H:%M:%S} UTC by "
                f"{plain(evaluator.holder)}, up to the minute ending {upto}."
            )

        st.subheader("Webhook receivers")
        receivers = data.receivers()
        if receivers.empty:
            st.caption("No webhook delivery yet.")
        else:
            st.dataframe(receivers, hide_index=True, width="stretch")

        if not alerts:
            st.info("No alert started in this window.")
            return
        ordered = firing + resolved
        st.subheader("Alerts")
        st.dataframe(
            frames.alerts_frame(ordered, now),
            hide_index=True,
            width="stretch",
            column_config={
                "value": st.column_config.NumberColumn(format="%.3f"),
                "baseline": st.column_config.NumberColumn(format="%.3f"),
                "threshold": st.column_config.NumberColumn(format="%.3f"),
            },
        )
        since = min(a.starts_at for a in ordered) - timedelta(minutes=5)
        deliveries = match_deliveries(ordered, data.deliveries(since))
        for alert in ordered[:SHOWN]:
            title = (
                f"{'🔴' if alert.status == 'firing' else '✅'} {plain(alert.topic)} · "
                f"{plain(alert.rule)} · {alert.starts_at:%Y-%m-%d %H:%M} UTC · {alert.status}"
            )
            with st.expander(title, expanded=alert.status == "firing"):
                st.markdown(
                    f"value **{signed(alert.value)}** against baseline "
                    f"**{signed(alert.baseline)}** (threshold {signed(alert.threshold)}); "
                    f"severity {plain(alert.severity)}"
                    + (f"; ended {alert.ends_at:%Y-%m-%d %H:%M} UTC" if alert.ends_at else "")
                )
                summary = frames.alert_summary(alert.details)
                if summary:
                    st.text(summary)
                samples = frames.sample_headlines(alert.details)
                if samples is None:
                    # while firing, up to the next whole minute (a stable cache key)
                    end = alert.ends_at or now.replace(second=0, microsecond=0) + MINUTE
                    found = data.headlines(alert.topic, alert.starts_at, end, 0, False, None)
                    samples = found.head(5)
                    st.caption("Most negative headlines on the topic while it fired:")
                else:
                    st.caption("Headlines that drove the alert:")
                st.dataframe(
                    samples,
                    hide_index=True,
                    width="stretch",
                    column_config={"link": st.column_config.LinkColumn(display_text="open")},
                )
                sent = deliveries.get(alert.id, [])
                if sent:
                    st.caption("Webhook deliveries:")
                    st.dataframe(frames.deliveries_frame(sent), hide_index=True, width="stretch")
                else:
                    st.caption("No webhook delivery recorded for this alert.")
        if len(ordered) > SHOWN:
            st.caption(f"Details shown for the {SHOWN} most recent; the table lists all.")

    live()
