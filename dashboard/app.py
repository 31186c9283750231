"""The dashboard's Streamlit script, served by ``dashboard/server.py`` (``finsent
dashboard``), whose gate has checked the password, if one is set, before this runs.

Access control first (OIDC, when configured), then the pages. Every page reads
PostgreSQL through ``storage`` only, through the cached loaders of ``dashboard.loaders``.
"""

from __future__ import annotations

import streamlit as st

from dashboard import auth, loaders
from dashboard.common import favicon
from dashboard.exceptions import DashboardError

# A favicon drawn here: a material icon would be fetched from the internet.
st.set_page_config(page_title="finsent", page_icon=favicon(), layout="wide")

try:
    config = loaders.config()
except DashboardError as e:
    st.error(str(e))
    st.stop()

if not auth.gate(config):
    st.stop()

pages = [
    st.Page("views/overview.py", title="Overview", icon=":material/dashboard:", default=True),
    st.Page("views/topic.py", title="Topic", icon=":material/show_chart:"),
    st.Page("views/feed.py", title="Live feed", icon=":material/feed:"),
    st.Page("views/alerts.py", title="Alerts", icon=":material/notifications_active:"),
    st.Page(
        "views/sources.py", title="Sources and model", icon=":material/settings_input_antenna:"
    ),
]
st.navigation(pages).run()
