"""Optional access control inside the app: Streamlit's OIDC login when ``[auth]`` is
configured in ``.streamlit/secrets.toml``. The shared password is not checked here but
in front of every route, before Streamlit sees the request (``dashboard.gate``); the
app only refuses to show anything when a password is set and no gate serves it."""

from __future__ import annotations

import streamlit as st

from dashboard import gate as password_gate
from dashboard.config import DashboardConfig


def oidc_configured() -> bool:
    """Whether secrets.toml has an ``[auth]`` section (``st.login`` can be used)."""
    try:
        return "auth" in st.secrets
    except Exception:  # no or unreadable secrets file: no OIDC
        return False


def gate(config: DashboardConfig) -> bool:
    """True when the visitor may see the pages; otherwise shows why and stops."""
    if config.password and not _password_enforced():
        return False
    if oidc_configured():
        return _oidc()
    if config.password:
        with st.sidebar:
            st.link_button("Sign out", password_gate.LOGOUT_PATH, type="tertiary")
    return True


def _password_enforced() -> bool:
    """A password is set: it must be the gate's (``finsent dashboard`` serves it), or
    nothing is shown, e.g. under a bare ``streamlit run dashboard/app.py``."""
    if password_gate.guarding():
        return True
    st.error(
        "FINSENT_DASHBOARD_PASSWORD is set but this server does not check it: "
        "start the dashboard with `finsent dashboard`."
    )
    return False


def _oidc() -> bool:
    if st.user.is_logged_in:
        with st.sidebar:
            st.caption(f"signed in as {st.user.get('email') or st.user.get('name') or '?'}")
            st.button("Log out", on_click=st.logout)
        return True
    st.title("finsent")
    st.write("Sign in to see the dashboard.")
    st.button("Log in", on_click=st.login, type="primary")
    return False
