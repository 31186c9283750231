"""Optional access control: Streamlit's OIDC login when ``[auth]`` is configured in
``.streamlit/secrets.toml``, else a shared password when one is set, else open."""

from __future__ import annotations

import hmac

import streamlit as st

from dashboard.config import DashboardConfig

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


def _password(expected: str) -> bool:
    if st.session_state.get(_PASSED):
        return True
    st.title("finsent")
    with st.form("login"):
        given = st.text_input("Password", type="password")
        submitted = st.form_submit_button("Enter", type="primary")
    if submitted:
        if hmac.compare_digest(given.encode(), expected.encode()):
            st.session_state[_PASSED] = True
            st.rerun()
        st.error("Wrong password.")
    return False
