"""The Streamlit dashboard; reads PostgreSQL through ``storage`` only."""
