"""The dashboard's server: ``finsent dashboard`` runs ``streamlit run dashboard/server.py``.

Streamlit finds ``app`` below by reading this file (it does not run it as a page) and
serves it with uvicorn: the pages of ``app.py``, and every route, behind
``dashboard.gate``'s password when ``FINSENT_DASHBOARD_PASSWORD`` is set; as they are
when it is not. uvicorn imports this file as the module ``server`` (Streamlit puts this
folder first on ``sys.path``), hence the absolute imports and the absolute script path.
"""

from __future__ import annotations

import os
from pathlib import Path

import streamlit as st

from dashboard.gate import gate_middleware

app = st.App(Path(__file__).resolve().with_name("app.py"), middleware=gate_middleware(os.environ))
