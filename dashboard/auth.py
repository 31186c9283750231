"""Optional access control: Streamlit's OIDC login when ``[auth]`` is configured in
``.streamlit/secrets.toml``, else a shared password when one is set, else open. Wrong
passwords are throttled per client address (``dashboard.throttle``)."""

from __future__ import annotations

import hmac
import math
import time

import streamlit as st

from dashboard.config import DashboardConfig
from dashboard.throttle import Throttle

_PASSED = "finsent_password_ok"


def oidc_configured() -> bool:
    """Whether secrets.toml has an ``[auth]`` section (``st.login`` can be used)."""
    try:
        return "auth" in st.secrets
    except Exception:  # no or unreadable secrets file: no OIDC
        return False


def gate(config: DashboardConfig) -> bool:
    """True when the visitor may see the pages; otherwise shows the login and stops."""
    if oidc_configured():
        return _oidc()
    if config.password:
        return _password(config.password)
    return True


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


@st.cache_resource
def _throttle() -> Throttle:
    """One wrong-password throttle for the whole server (every session shares it)."""
    return Throttle()


def _client() -> str:
    """Who is trying: the client's address as Streamlit sees it."""
    try:
        address = st.context.ip_address
    except Exception:  # no request context (tests, older Streamlit)
        address = None
    return address if isinstance(address, str) and address else "unknown"


def _password(expected: str) -> bool:
    if st.session_state.get(_PASSED):
        return True
    st.title("finsent")
    with st.form("login"):
        given = st.text_input("Password", type="password")
        submitted = st.form_submit_button("Enter", type="primary")
    if submitted:
        throttle, client, now = _throttle(), _client(), time.monotonic()
        wait = throttle.wait_s(client, now)
        if wait > 0:
            st.error(f"Too many wrong passwords: try again in {math.ceil(wait)} s.")
            return False
        if hmac.compare_digest(given.encode(), expected.encode()):
            st.session_state[_PASSED] = True
            st.rerun()
        throttle.failed(client, now)
        st.error("Wrong password.")
    return False
